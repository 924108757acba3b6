"""samr operations on user, group and alias handles (MS-SAMR 3.1.5.1.7-3.1.5.1.9 Open*,
3.1.5.5.3-3.1.5.5.5 QueryInformation*, 3.1.5.8.1 GetMembersInGroup, 3.1.5.8.2
GetMembersInAlias, 3.1.5.9.1 GetGroupsForUser).

Rules:
1. Open* needs DOMAIN_LOOKUP on the domain handle; the RID must name an account of that kind
   in that domain (STATUS_NO_SUCH_USER / STATUS_NO_SUCH_GROUP / STATUS_NO_SUCH_ALIAS); the
   access granted follows _samr_common rule 3.
2. SamrQueryInformationUser (36) and SamrQueryInformationUser2 (47) behave alike; the levels,
   the access each needs and what they hold are _samr_info.USER_LEVELS. Any other level,
   UserInternal1Information (18, the OWF hashes) included, is STATUS_INVALID_INFO_CLASS.
3. Membership lists name the account domain's members by RID (groups) and by SID (aliases,
   whose members may come from any domain). ``call.returned`` counts what was disclosed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..directory import SamObject, SidType
from ..ndr import NdrReader, NdrWriter
from ..pipe import CallContext
from ._samr_common import (
    ALIAS,
    ALIAS_LIST_MEMBERS,
    DOMAIN_LOOKUP,
    GROUP,
    GROUP_ATTRIBUTES,
    GROUP_LIST_MEMBERS,
    STATUS_ACCESS_DENIED,
    STATUS_INVALID_INFO_CLASS,
    STATUS_NO_SUCH_ALIAS,
    STATUS_NO_SUCH_GROUP,
    STATUS_NO_SUCH_USER,
    USER,
    USER_LIST_GROUPS,
    AliasHandle,
    DomainHandle,
    GroupHandle,
    ObjectRights,
    SamrError,
    SamrOp,
    UserHandle,
    account_of,
    finish,
    handle_of,
    is_admin,
    null_handle,
    write_sid_array,
)
from ._samr_info import (
    ALIAS_LEVELS,
    GROUP_KINDS,
    GROUP_LEVELS,
    USER_KINDS,
    USER_LEVELS,
    Level,
    group_values,
    user_values,
    write_info,
)

__all__ = ["ACCOUNT_OPS"]

_NO_SUCH = {SidType.USER: STATUS_NO_SUCH_USER, SidType.GROUP: STATUS_NO_SUCH_GROUP, SidType.ALIAS: STATUS_NO_SUCH_ALIAS}


# -- SamrOpenUser (34), SamrOpenGroup (19), SamrOpenAlias (27) ------------------------------------------

def _parse_open(r: NdrReader) -> tuple[bytes, int, int]:
    return r.handle(), r.u32(), r.u32()  # DomainHandle, DesiredAccess, RelativeId


def _open(kind: SidType, rights: ObjectRights, handle_type: type) -> Callable[[CallContext, tuple[bytes, int, int]], bytes]:
    def run(call: CallContext, args: tuple[bytes, int, int]) -> bytes:
        handle, desired, rid = args
        dh = handle_of(call, handle, DomainHandle, DOMAIN_LOOKUP)
        obj = call.server.directory.by_rid(dh.domain_sid, rid)
        if obj is None or obj.kind is not kind:
            raise SamrError(_NO_SUCH[kind])
        granted = rights.grant(desired, admin=is_admin(call))
        if granted is None:
            raise SamrError(STATUS_ACCESS_DENIED)
        w = NdrWriter()
        w.handle(call.new_handle(handle_type(granted, dh.domain_sid, rid)))
        return finish(call, w)
    return run


# -- SamrQueryInformationUser/Group/Alias ----------------------------------------------------------------

def _parse_query(r: NdrReader) -> tuple[bytes, int]:
    return r.handle(), r.enum16()  # the *_INFORMATION_CLASS enums are 16-bit on the wire


def _query(handle_type: type, kind: SidType, levels: Mapping[int, Level], kinds: Mapping[str, str],
           values: Callable[[SamObject], Mapping[str, Any]]) -> Callable[[CallContext, tuple[bytes, int]], bytes]:
    def run(call: CallContext, args: tuple[bytes, int]) -> bytes:
        handle, level = args
        spec = levels.get(level)
        h = handle_of(call, handle, handle_type, spec.need if spec else 0)
        if spec is None:
            raise SamrError(STATUS_INVALID_INFO_CLASS)
        obj = account_of(call, h, kind)
        fields = values(obj)
        w = NdrWriter()
        w.unique(level, lambda w, lv: write_info(w, lv, spec, kinds, fields))
        return finish(call, w, returned=1)
    return run


def _null_pointer(w: NdrWriter, _args: Any) -> None:
    w.unique(None, NdrWriter.u32)


def _query_op(name: str, run: Callable[[CallContext, tuple[bytes, int]], bytes]) -> SamrOp[Any]:
    return SamrOp(name, _parse_query, run, _null_pointer, level=lambda a: a[1])


_query_user = _query(UserHandle, SidType.USER, USER_LEVELS, USER_KINDS, user_values)
_query_group = _query(GroupHandle, SidType.GROUP, GROUP_LEVELS, GROUP_KINDS, group_values)
_query_alias = _query(AliasHandle, SidType.ALIAS, ALIAS_LEVELS, GROUP_KINDS, group_values)


# -- memberships ----------------------------------------------------------------------------------------------

def _parse_handle(r: NdrReader) -> bytes:
    return r.handle()


def _groups_for_user(call: CallContext, handle: bytes) -> bytes:
    """MS-SAMR 3.1.5.9.1: PSAMPR_GET_GROUPS_BUFFER {MembershipCount, GROUP_MEMBERSHIP*}."""
    user = account_of(call, handle_of(call, handle, UserHandle, USER_LIST_GROUPS), SidType.USER)
    groups = call.server.directory.groups_of(user)

    def membership(w: NdrWriter, g: SamObject) -> None:
        w.u32(g.rid)
        w.u32(GROUP_ATTRIBUTES)

    def buffer(w: NdrWriter, items: list[SamObject]) -> None:
        with w.struct():
            w.u32(len(items))
            w.unique(items or None, lambda w, items: w.conformant_array(items, membership))

    w = NdrWriter()
    w.unique(groups, buffer)
    return finish(call, w, returned=len(groups))


def _members_in_group(call: CallContext, handle: bytes) -> bytes:
    """MS-SAMR 3.1.5.8.1: PSAMPR_GET_MEMBERS_BUFFER {MemberCount, Members*, Attributes*}."""
    gh = handle_of(call, handle, GroupHandle, GROUP_LIST_MEMBERS)
    group = account_of(call, gh, SidType.GROUP)
    rids = [sid.rid for sid in group.members if sid.parent() == gh.domain_sid]

    def buffer(w: NdrWriter, items: list[int]) -> None:
        with w.struct():
            w.u32(len(items))
            w.unique(items or None, lambda w, v: w.conformant_array(v, NdrWriter.u32))
            w.unique([GROUP_ATTRIBUTES] * len(items) or None, lambda w, v: w.conformant_array(v, NdrWriter.u32))

    w = NdrWriter()
    w.unique(rids, buffer)
    return finish(call, w, returned=len(rids))


def _members_in_alias(call: CallContext, handle: bytes) -> bytes:
    """MS-SAMR 3.1.5.8.2: SAMPR_PSID_ARRAY_OUT of the alias's member SIDs."""
    alias = account_of(call, handle_of(call, handle, AliasHandle, ALIAS_LIST_MEMBERS), SidType.ALIAS)
    w = NdrWriter()
    write_sid_array(w, alias.members)
    return finish(call, w, returned=len(alias.members))


def _empty_sid_array(w: NdrWriter, _args: Any) -> None:
    write_sid_array(w, [])


ACCOUNT_OPS: dict[int, SamrOp[Any]] = {
    19: SamrOp("SamrOpenGroup", _parse_open, _open(SidType.GROUP, GROUP, GroupHandle), null_handle),
    20: _query_op("SamrQueryInformationGroup", _query_group),
    25: SamrOp("SamrGetMembersInGroup", _parse_handle, _members_in_group, _null_pointer),
    27: SamrOp("SamrOpenAlias", _parse_open, _open(SidType.ALIAS, ALIAS, AliasHandle), null_handle),
    28: _query_op("SamrQueryInformationAlias", _query_alias),
    33: SamrOp("SamrGetMembersInAlias", _parse_handle, _members_in_alias, _empty_sid_array),
    34: SamrOp("SamrOpenUser", _parse_open, _open(SidType.USER, USER, UserHandle), null_handle),
    36: _query_op("SamrQueryInformationUser", _query_user),
    39: SamrOp("SamrGetGroupsForUser", _parse_handle, _groups_for_user, _null_pointer),
    47: _query_op("SamrQueryInformationUser2", _query_user),
}
