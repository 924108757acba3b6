"""samr client calls (MS-SAMR): connect, domains, users, groups, aliases, display information,
password policy.

Rules:
1. Every call returns an NTSTATUS; a failing one raises ``RpcStatusError(status, "ntstatus",
   operation)``. SamrLookupNamesInDomain also returns STATUS_SOME_NOT_MAPPED and
   STATUS_NONE_MAPPED with its result (MS-SAMR 3.1.5.11.2).
2. ``connect`` tries SamrConnect5 (opnum 64) and falls back to SamrConnect2 (opnum 57) when
   the server faults (an old server without opnum 64); a status (ACCESS_DENIED ...) is not a
   reason to fall back and is raised as it is.
3. The enumerations (domains, users, groups, aliases, display information) follow
   STATUS_MORE_ENTRIES (0x105, MS-SAMR 3.1.5.2.5): each round must return entries and move the
   enumeration context (or index), rounds and entries are bounded, else ``RpcProtocolError``.
4. Times are the raw OLD_LARGE_INTEGER/LARGE_INTEGER values (100 ns units; FILETIME for
   dates, negative durations for ages), as the server sent them. Password hashes in
   USER_ALL_INFORMATION are read and dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..rpc.ndr import NdrReader, NdrWriter, Sid
from ..rpc.pdu import SyntaxId
from ..status import MalformedMessage, NtStatus
from ._ndr import MAX_ROUNDS, Thunk, check, counted, put_ustr, sid_ptr, struct_of, u32_array, ustr
from .rpc import NTSTATUS, RpcConnection, RpcFaultError, RpcProtocolError, status_name

__all__ = [
    "DisplayEntry", "DomainGeneralInfo", "DomainLockoutInfo", "DomainPasswordInfo", "MAXIMUM_ALLOWED", "PIPE",
    "RidName", "SYNTAX", "SamrConnection", "UserAllInfo", "UserGeneralInfo", "close_handle", "connect",
    "enumerate_aliases", "enumerate_domains", "enumerate_groups", "enumerate_users", "get_alias_membership",
    "get_domain_password_information", "get_groups_for_user", "get_members_in_alias", "lookup_domain",
    "lookup_names_in_domain", "open_alias", "open_domain", "open_user", "query_display_information",
    "query_information_domain", "query_information_user",
]

SYNTAX = SyntaxId.of("12345778-1234-abcd-ef00-0123456789ac", 1, 0)
PIPE = "samr"

OP_CLOSE_HANDLE = 1
OP_LOOKUP_DOMAIN = 5
OP_ENUMERATE_DOMAINS = 6
OP_OPEN_DOMAIN = 7
OP_QUERY_INFORMATION_DOMAIN = 8
OP_ENUMERATE_GROUPS = 11
OP_ENUMERATE_USERS = 13
OP_ENUMERATE_ALIASES = 15
OP_GET_ALIAS_MEMBERSHIP = 16
OP_LOOKUP_NAMES = 17
OP_OPEN_ALIAS = 27
OP_GET_MEMBERS_IN_ALIAS = 33
OP_OPEN_USER = 34
OP_GET_GROUPS_FOR_USER = 39
OP_QUERY_INFORMATION_USER2 = 47
OP_QUERY_DISPLAY_INFORMATION2 = 48
OP_GET_DOMAIN_PASSWORD_INFORMATION = 56
OP_CONNECT2 = 57
OP_CONNECT5 = 64

MAXIMUM_ALLOWED = 0x02000000
STATUS_MORE_ENTRIES = NtStatus.STATUS_MORE_ENTRIES
STATUS_SOME_NOT_MAPPED = NtStatus.STATUS_SOME_NOT_MAPPED
MAX_ENTRIES = 0x10000
MAX_NAMES = 1000  # SamrLookupNamesInDomain [range(0,1000)]
MAX_SIDS = 1024  # SAMPR_PSID_ARRAY [range(0,1024)]
SD_LIMIT = 256 * 1024  # SAMPR_SR_SECURITY_DESCRIPTOR [range(0, 256 * 1024)]
LOGON_HOURS_LIMIT = 1260  # SAMPR_LOGON_HOURS [size_is(1260)]

DOMAIN_PASSWORD_INFORMATION = 1  # DOMAIN_INFORMATION_CLASS, MS-SAMR 2.2.3.16
DOMAIN_GENERAL_INFORMATION = 2
DOMAIN_LOCKOUT_INFORMATION = 12
USER_GENERAL_INFORMATION = 1  # USER_INFORMATION_CLASS, MS-SAMR 2.2.6.28
USER_ALL_INFORMATION = 21
DISPLAY_USER, DISPLAY_MACHINE, DISPLAY_GROUP = 1, 2, 3  # DOMAIN_DISPLAY_INFORMATION


def _handle_reply(r: NdrReader) -> tuple[bytes, int]:
    return r.handle(), r.u32()


async def _handle_call(rpc: RpcConnection, opnum: int, stub: bytes, name: str) -> bytes:
    handle, status = await rpc.request(opnum, stub, _handle_reply, operation=name)
    check(status, name)
    return handle


# -- the server handle (MS-SAMR 3.1.5.1) --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SamrConnection:
    """A server handle and how it was obtained."""

    handle: bytes
    opnum: int  # 64 (SamrConnect5) or 57 (SamrConnect2)
    revision: int | None = None  # SAMPR_REVISION_INFO_V1.Revision (SamrConnect5)
    supported_features: int | None = None
    fallback_fault: int | None = None  # the fault SamrConnect5 got, when it fell back

    @property
    def operation(self) -> str:
        return "SamrConnect5" if self.opnum == OP_CONNECT5 else "SamrConnect2"


async def connect(rpc: RpcConnection, access: int = MAXIMUM_ALLOWED, *, server_name: str | None = None,
                  fallback: bool = True) -> SamrConnection:
    """SamrConnect5 (MS-SAMR 3.1.5.1.1), or SamrConnect2 (3.1.5.1.4) after a fault (rule 2)."""
    w = NdrWriter()
    w.unique(server_name, NdrWriter.wstr)
    w.u32(access)
    w.u32(1)  # InVersion
    w.u32(1)  # the union's discriminant
    w.u32(3)  # SAMPR_REVISION_INFO_V1.Revision
    w.u32(0)  # SupportedFeatures

    def decode(r: NdrReader) -> tuple[int | None, int | None, bytes, int]:
        version, arm = r.u32(), r.u32()
        if version != arm:
            raise MalformedMessage(f"SamrConnect5: OutVersion {version}, union arm {arm}")
        revision = features = None
        if arm == 1:
            revision, features = r.u32(), r.u32()
        handle, status = _handle_reply(r)
        return revision, features, handle, status

    try:
        revision, features, handle, status = await rpc.request(OP_CONNECT5, w.getvalue(), decode,
                                                              operation="SamrConnect5")
    except RpcFaultError as exc:
        if not fallback:
            raise
        w = NdrWriter()
        w.unique(server_name, NdrWriter.wstr)
        w.u32(access)
        return SamrConnection(await _handle_call(rpc, OP_CONNECT2, w.getvalue(), "SamrConnect2"), OP_CONNECT2,
                              fallback_fault=exc.status)
    check(status, "SamrConnect5")
    return SamrConnection(handle, OP_CONNECT5, revision, features)


async def close_handle(rpc: RpcConnection, handle: bytes) -> None:
    """SamrCloseHandle (opnum 1)."""
    w = NdrWriter()
    w.handle(handle)
    await _handle_call(rpc, OP_CLOSE_HANDLE, w.getvalue(), "SamrCloseHandle")


# -- enumerations (SAMPR_ENUMERATION_BUFFER, MS-SAMR 2.2.3.10) ----------------------------------------

@dataclass(frozen=True, slots=True)
class RidName:
    """SAMPR_RID_ENUMERATION: a RID (0 for domains) and a name."""

    rid: int
    name: str | None


def _rid_name(r: NdrReader) -> Thunk[RidName]:
    rid, name = r.u32(), ustr(r)
    return lambda: RidName(rid, name.value)


def _enumeration_buffer(r: NdrReader) -> list[RidName]:
    with r.struct():
        items = counted(r, _rid_name, limit=MAX_ENTRIES, min_size=12)
    return items()


async def _enumerate(rpc: RpcConnection, opnum: int, name: str, handle: bytes, *, extra: int | None = None,
                     preferred: int, max_rounds: int) -> tuple[RidName, ...]:
    out: list[RidName] = []
    context = 0

    def decode(r: NdrReader) -> tuple[int, list[RidName], int, int]:
        new_context = r.u32()
        items = r.unique(_enumeration_buffer) or []
        return new_context, items, r.u32(), r.u32()

    for _ in range(max_rounds):
        w = NdrWriter()
        w.handle(handle)
        w.u32(context)
        if extra is not None:
            w.u32(extra)  # UserAccountControl (SamrEnumerateUsersInDomain)
        w.u32(preferred)
        new_context, items, count, status = await rpc.request(opnum, w.getvalue(), decode, operation=name)
        check(status, name, NTSTATUS, (0, STATUS_MORE_ENTRIES))
        if count != len(items):
            raise RpcProtocolError(f"{name}: CountReturned {count} for {len(items)} entries")
        out += items
        if len(out) > MAX_ENTRIES:
            raise RpcProtocolError(f"{name}: more than {MAX_ENTRIES} entries")
        if status == 0:
            return tuple(out)
        if not items or new_context == context:
            raise RpcProtocolError(f"{name}: STATUS_MORE_ENTRIES without progress (context {new_context})")
        context = new_context
    raise RpcProtocolError(f"{name}: still STATUS_MORE_ENTRIES after {max_rounds} calls")


async def enumerate_domains(rpc: RpcConnection, server_handle: bytes, *, preferred: int = 0xFFFFFFFF,
                            max_rounds: int = MAX_ROUNDS) -> tuple[RidName, ...]:
    """SamrEnumerateDomainsInSamServer (opnum 6): the account domain and Builtin."""
    return await _enumerate(rpc, OP_ENUMERATE_DOMAINS, "SamrEnumerateDomainsInSamServer", server_handle,
                            preferred=preferred, max_rounds=max_rounds)


async def enumerate_users(rpc: RpcConnection, domain_handle: bytes, account_control: int = 0, *,
                          preferred: int = 0xFFFFFFFF, max_rounds: int = MAX_ROUNDS) -> tuple[RidName, ...]:
    """SamrEnumerateUsersInDomain (opnum 13); ``account_control`` filters by UF_ bits (0: all)."""
    return await _enumerate(rpc, OP_ENUMERATE_USERS, "SamrEnumerateUsersInDomain", domain_handle,
                            extra=account_control, preferred=preferred, max_rounds=max_rounds)


async def enumerate_groups(rpc: RpcConnection, domain_handle: bytes, *, preferred: int = 0xFFFFFFFF,
                           max_rounds: int = MAX_ROUNDS) -> tuple[RidName, ...]:
    """SamrEnumerateGroupsInDomain (opnum 11)."""
    return await _enumerate(rpc, OP_ENUMERATE_GROUPS, "SamrEnumerateGroupsInDomain", domain_handle,
                            preferred=preferred, max_rounds=max_rounds)


async def enumerate_aliases(rpc: RpcConnection, domain_handle: bytes, *, preferred: int = 0xFFFFFFFF,
                            max_rounds: int = MAX_ROUNDS) -> tuple[RidName, ...]:
    """SamrEnumerateAliasesInDomain (opnum 15)."""
    return await _enumerate(rpc, OP_ENUMERATE_ALIASES, "SamrEnumerateAliasesInDomain", domain_handle,
                            preferred=preferred, max_rounds=max_rounds)


# -- domains ------------------------------------------------------------------------------------------

async def lookup_domain(rpc: RpcConnection, server_handle: bytes, name: str) -> Sid:
    """SamrLookupDomainInSamServer (opnum 5): the SID of domain ``name`` ("Builtin" too)."""
    w = NdrWriter()
    w.handle(server_handle)
    put_ustr(w, name)

    def decode(r: NdrReader) -> tuple[Sid | None, int]:
        return r.unique(NdrReader.sid), r.u32()

    sid, status = await rpc.request(OP_LOOKUP_DOMAIN, w.getvalue(), decode, operation="SamrLookupDomainInSamServer")
    check(status, "SamrLookupDomainInSamServer")
    if sid is None:
        raise RpcProtocolError("SamrLookupDomainInSamServer: success without a SID")
    return sid


async def open_domain(rpc: RpcConnection, server_handle: bytes, domain_sid: Sid | str,
                      access: int = MAXIMUM_ALLOWED) -> bytes:
    """SamrOpenDomain (opnum 7)."""
    w = NdrWriter()
    w.handle(server_handle)
    w.u32(access)
    w.sid(domain_sid)
    return await _handle_call(rpc, OP_OPEN_DOMAIN, w.getvalue(), "SamrOpenDomain")


@dataclass(frozen=True, slots=True)
class DomainPasswordInfo:
    """DOMAIN_PASSWORD_INFORMATION (MS-SAMR 2.2.3.5): ages are negative 100 ns intervals."""

    min_password_length: int
    password_history_length: int
    password_properties: int  # DOMAIN_PASSWORD_COMPLEX 0x1 ... (2.2.1.8)
    max_password_age: int
    min_password_age: int


@dataclass(frozen=True, slots=True)
class DomainGeneralInfo:
    """SAMPR_DOMAIN_GENERAL_INFORMATION (MS-SAMR 2.2.3.6)."""

    force_logoff: int
    oem_information: str | None
    domain_name: str | None
    replica_source_node_name: str | None
    domain_modified_count: int
    domain_server_state: int
    domain_server_role: int
    uas_compatibility_required: int
    user_count: int
    group_count: int
    alias_count: int


@dataclass(frozen=True, slots=True)
class DomainLockoutInfo:
    """SAMPR_DOMAIN_LOCKOUT_INFORMATION (MS-SAMR 2.2.3.15): negative 100 ns durations."""

    lockout_duration: int
    lockout_observation_window: int
    lockout_threshold: int


DomainInfo = DomainPasswordInfo | DomainGeneralInfo | DomainLockoutInfo


def _domain_arm(level: int) -> Callable[[NdrReader], DomainInfo]:
    def password(r: NdrReader) -> DomainPasswordInfo:
        r.align(4)
        return DomainPasswordInfo(r.u16(), r.u16(), r.u32(), r.old_large_integer(), r.old_large_integer())

    def general(r: NdrReader) -> Thunk[DomainGeneralInfo]:
        force = r.old_large_integer()
        oem, name, replica = ustr(r), ustr(r), ustr(r)
        modified, state, role, uas = r.old_large_integer(), r.u32(), r.u32(), r.u8()
        users, groups, aliases = r.u32(), r.u32(), r.u32()
        return lambda: DomainGeneralInfo(force, oem.value, name.value, replica.value, modified, state, role, uas,
                                         users, groups, aliases)

    def lockout(r: NdrReader) -> DomainLockoutInfo:
        return DomainLockoutInfo(r.i64(), r.i64(), r.u16())

    if level == DOMAIN_GENERAL_INFORMATION:
        return struct_of(general)
    return password if level == DOMAIN_PASSWORD_INFORMATION else lockout


async def query_information_domain(rpc: RpcConnection, domain_handle: bytes,
                                   level: int = DOMAIN_PASSWORD_INFORMATION, *, version: int = 1) -> DomainInfo:
    """SamrQueryInformationDomain (opnum 8; ``version=2``: SamrQueryInformationDomain2, opnum
    46) for the password (1), general (2) or lockout (12) information."""
    if level not in (DOMAIN_PASSWORD_INFORMATION, DOMAIN_GENERAL_INFORMATION, DOMAIN_LOCKOUT_INFORMATION):
        raise ValueError(f"domain information class {level} is not one of 1, 2, 12")
    name = "SamrQueryInformationDomain2" if version == 2 else "SamrQueryInformationDomain"
    w = NdrWriter()
    w.handle(domain_handle)
    w.enum16(level)
    arm_reader = _domain_arm(level)

    def union(r: NdrReader) -> DomainInfo:
        arm = r.enum16()
        if arm != level:
            raise MalformedMessage(f"{name}: union arm {arm} for class {level}")
        return arm_reader(r)

    def decode(r: NdrReader) -> tuple[DomainInfo | None, int]:
        return r.unique(union), r.u32()

    info, status = await rpc.request(46 if version == 2 else OP_QUERY_INFORMATION_DOMAIN, w.getvalue(), decode,
                                     operation=name)
    check(status, name)
    if info is None:
        raise RpcProtocolError(f"{name}: success without the information")
    return info


# -- display information (MS-SAMR 3.1.5.3.3) ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DisplayEntry:
    """SAMPR_DOMAIN_DISPLAY_USER (1), _MACHINE (2) or _GROUP (3): ``flags`` is
    AccountControl for users and machines, Attributes for groups."""

    level: int
    index: int
    rid: int
    flags: int
    account_name: str | None
    admin_comment: str | None
    full_name: str | None = None


def _display_elem(level: int) -> Callable[[NdrReader], Thunk[DisplayEntry]]:
    def elem(r: NdrReader) -> Thunk[DisplayEntry]:
        index, rid, flags, account, comment = r.u32(), r.u32(), r.u32(), ustr(r), ustr(r)
        full = ustr(r) if level == DISPLAY_USER else None
        return lambda: DisplayEntry(level, index, rid, flags, account.value, comment.value,
                                    None if full is None else full.value)
    return elem


async def query_display_information(rpc: RpcConnection, domain_handle: bytes, level: int = DISPLAY_USER, *,
                                    entry_count: int = 512, preferred: int = 0xFFFF,
                                    max_rounds: int = MAX_ROUNDS) -> tuple[DisplayEntry, ...]:
    """SamrQueryDisplayInformation2 (opnum 48) from index 0 until the server has no more
    (STATUS_MORE_ENTRIES moves the index by the entries returned)."""
    if level not in (DISPLAY_USER, DISPLAY_MACHINE, DISPLAY_GROUP):
        raise ValueError(f"display information class {level} is not one of 1, 2, 3")
    elem = _display_elem(level)
    min_size = 36 if level == DISPLAY_USER else 28

    def decode(r: NdrReader) -> tuple[int, int, list[DisplayEntry], int]:
        total, returned = r.u32(), r.u32()
        with r.struct():  # SAMPR_DISPLAY_INFO_BUFFER: a union in place
            arm = r.enum16()
            if arm != level:
                raise MalformedMessage(f"SamrQueryDisplayInformation2: union arm {arm} for class {level}")
            r.align(4)
            items = counted(r, elem, limit=MAX_ENTRIES, min_size=min_size)
        return total, returned, items(), r.u32()

    out: list[DisplayEntry] = []
    index = 0
    for _ in range(max_rounds):
        w = NdrWriter()
        w.handle(domain_handle)
        w.enum16(level)
        w.u32(index)
        w.u32(entry_count)
        w.u32(preferred)
        _total, _returned, items, status = await rpc.request(OP_QUERY_DISPLAY_INFORMATION2, w.getvalue(), decode,
                                                             operation="SamrQueryDisplayInformation2")
        check(status, "SamrQueryDisplayInformation2", NTSTATUS, (0, STATUS_MORE_ENTRIES))
        out += items
        if len(out) > MAX_ENTRIES:
            raise RpcProtocolError(f"SamrQueryDisplayInformation2: more than {MAX_ENTRIES} entries")
        if status == 0:
            return tuple(out)
        if not items:
            raise RpcProtocolError("SamrQueryDisplayInformation2: STATUS_MORE_ENTRIES without entries")
        index += len(items)
    raise RpcProtocolError(f"SamrQueryDisplayInformation2: still STATUS_MORE_ENTRIES after {max_rounds} calls")


# -- users --------------------------------------------------------------------------------------------

async def open_user(rpc: RpcConnection, domain_handle: bytes, rid: int, access: int = MAXIMUM_ALLOWED) -> bytes:
    """SamrOpenUser (opnum 34)."""
    w = NdrWriter()
    w.handle(domain_handle)
    w.u32(access)
    w.u32(rid)
    return await _handle_call(rpc, OP_OPEN_USER, w.getvalue(), "SamrOpenUser")


@dataclass(frozen=True, slots=True)
class UserGeneralInfo:
    """SAMPR_USER_GENERAL_INFORMATION (level 1, MS-SAMR 2.2.6.7)."""

    user_name: str | None
    full_name: str | None
    primary_group_id: int
    admin_comment: str | None
    user_comment: str | None


@dataclass(frozen=True, slots=True)
class UserAllInfo:
    """SAMPR_USER_ALL_INFORMATION (level 21, MS-SAMR 2.2.6.6), without the password hashes."""

    last_logon: int
    last_logoff: int
    password_last_set: int
    account_expires: int
    password_can_change: int
    password_must_change: int
    user_name: str | None
    full_name: str | None
    home_directory: str | None
    home_directory_drive: str | None
    script_path: str | None
    profile_path: str | None
    admin_comment: str | None
    workstations: str | None
    user_comment: str | None
    parameters: str | None
    user_id: int
    primary_group_id: int
    user_account_control: int
    which_fields: int
    units_per_week: int
    logon_hours: bytes
    bad_password_count: int
    logon_count: int
    country_code: int
    code_page: int
    lm_password_present: int
    nt_password_present: int
    password_expired: int
    private_data_sensitive: int
    security_descriptor: bytes | None


def _short_blob(r: NdrReader) -> None:
    """RPC_SHORT_BLOB (MS-DTYP 2.3.7) read and dropped: Length, MaximumLength, a unique pointer
    to a conformant varying array of u16 (the LM/NT OWF hashes of level 21)."""
    r.align(4)
    r.u16(), r.u16()
    r.embedded_unique(lambda r: r.conformant_varying_array(NdrReader.u16, limit=0x8000, min_size=2))


def _user_all(r: NdrReader) -> Thunk[UserAllInfo]:
    times = [r.old_large_integer() for _ in range(6)]
    strings = [ustr(r) for _ in range(10)]
    _short_blob(r)  # LmOwfPassword
    _short_blob(r)  # NtOwfPassword
    ustr(r)  # PrivateData
    sd_size = r.u32()
    sd = r.embedded_unique(lambda r: r.conformant_bytes(limit=SD_LIMIT))
    user_id, group_id, uac, which = r.u32(), r.u32(), r.u32(), r.u32()
    r.align(4)
    units = r.u16()
    hours = r.embedded_unique(lambda r: bytes(r.conformant_varying_array(NdrReader.u8, limit=LOGON_HOURS_LIMIT)))
    bad, logons, country, codepage = r.u16(), r.u16(), r.u16(), r.u16()
    flags = [r.u8() for _ in range(4)]

    def value() -> UserAllInfo:
        descriptor = sd.value
        if descriptor is not None and len(descriptor) != sd_size:
            raise MalformedMessage(f"NDR: security descriptor of {len(descriptor)} bytes, Length {sd_size}")
        return UserAllInfo(*times, *(s.value for s in strings), user_id, group_id, uac, which, units,
                           hours.value or b"", bad, logons, country, codepage, *flags, descriptor)
    return value


def _user_general(r: NdrReader) -> Thunk[UserGeneralInfo]:
    name, full = ustr(r), ustr(r)
    group = r.u32()
    admin, user = ustr(r), ustr(r)
    return lambda: UserGeneralInfo(name.value, full.value, group, admin.value, user.value)


async def query_information_user(rpc: RpcConnection, user_handle: bytes,
                                 level: int = USER_ALL_INFORMATION) -> UserAllInfo | UserGeneralInfo:
    """SamrQueryInformationUser2 (opnum 47) at level 21 (all) or 1 (general: the cheap one)."""
    if level not in (USER_GENERAL_INFORMATION, USER_ALL_INFORMATION):
        raise ValueError(f"user information class {level} is not 1 or 21")
    w = NdrWriter()
    w.handle(user_handle)
    w.enum16(level)
    arm_reader = struct_of(_user_all if level == USER_ALL_INFORMATION else _user_general)

    def union(r: NdrReader) -> UserAllInfo | UserGeneralInfo:
        arm = r.enum16()
        if arm != level:
            raise MalformedMessage(f"SamrQueryInformationUser2: union arm {arm} for class {level}")
        return arm_reader(r)

    def decode(r: NdrReader) -> tuple[UserAllInfo | UserGeneralInfo | None, int]:
        return r.unique(union), r.u32()

    info, status = await rpc.request(OP_QUERY_INFORMATION_USER2, w.getvalue(), decode,
                                     operation="SamrQueryInformationUser2")
    check(status, "SamrQueryInformationUser2")
    if info is None:
        raise RpcProtocolError("SamrQueryInformationUser2: success without the information")
    return info


async def get_groups_for_user(rpc: RpcConnection, user_handle: bytes) -> tuple[tuple[int, int], ...]:
    """SamrGetGroupsForUser (opnum 39): (RID, attributes) of the user's groups."""
    w = NdrWriter()
    w.handle(user_handle)

    def membership(r: NdrReader) -> Thunk[tuple[int, int]]:
        rid, attributes = r.u32(), r.u32()
        return lambda: (rid, attributes)

    def groups(r: NdrReader) -> list[tuple[int, int]]:
        with r.struct():
            items = counted(r, membership, limit=MAX_ENTRIES, min_size=8)
        return items()

    def decode(r: NdrReader) -> tuple[list[tuple[int, int]] | None, int]:
        return r.unique(groups), r.u32()

    items, status = await rpc.request(OP_GET_GROUPS_FOR_USER, w.getvalue(), decode, operation="SamrGetGroupsForUser")
    check(status, "SamrGetGroupsForUser")
    return tuple(items or ())


# -- aliases ------------------------------------------------------------------------------------------

def _psid_array(w: NdrWriter, sids: Sequence[Sid]) -> None:
    """SAMPR_PSID_ARRAY {Count; [size_is(Count)] PSAMPR_SID_INFORMATION Sids}."""
    with w.struct():
        w.u32(len(sids))
        w.unique(list(sids), lambda w, items: w.conformant_array(items, lambda w, s: w.unique(s, NdrWriter.sid)))


async def get_alias_membership(rpc: RpcConnection, domain_handle: bytes, sids: Sequence[Sid | str]) -> tuple[int, ...]:
    """SamrGetAliasMembership (opnum 16): the RIDs of this domain's aliases any of ``sids`` is in."""
    if len(sids) > MAX_SIDS:
        raise ValueError(f"{len(sids)} SIDs: at most {MAX_SIDS}")
    w = NdrWriter()
    w.handle(domain_handle)
    _psid_array(w, [s if isinstance(s, Sid) else Sid.parse(s) for s in sids])

    def decode(r: NdrReader) -> tuple[list[int], int]:
        with r.struct():
            rids = u32_array(r, limit=MAX_ENTRIES)
        return rids(), r.u32()

    rids, status = await rpc.request(OP_GET_ALIAS_MEMBERSHIP, w.getvalue(), decode, operation="SamrGetAliasMembership")
    check(status, "SamrGetAliasMembership")
    return tuple(rids)


async def open_alias(rpc: RpcConnection, domain_handle: bytes, rid: int, access: int = MAXIMUM_ALLOWED) -> bytes:
    """SamrOpenAlias (opnum 27)."""
    w = NdrWriter()
    w.handle(domain_handle)
    w.u32(access)
    w.u32(rid)
    return await _handle_call(rpc, OP_OPEN_ALIAS, w.getvalue(), "SamrOpenAlias")


async def get_members_in_alias(rpc: RpcConnection, alias_handle: bytes) -> tuple[Sid, ...]:
    """SamrGetMembersInAlias (opnum 33)."""
    w = NdrWriter()
    w.handle(alias_handle)

    def member(r: NdrReader) -> Thunk[Sid | None]:
        sid = sid_ptr(r)
        return lambda: sid.value

    def decode(r: NdrReader) -> tuple[list[Sid | None], int]:
        with r.struct():
            sids = counted(r, member, limit=MAX_ENTRIES, min_size=4)
        return sids(), r.u32()

    sids, status = await rpc.request(OP_GET_MEMBERS_IN_ALIAS, w.getvalue(), decode, operation="SamrGetMembersInAlias")
    check(status, "SamrGetMembersInAlias")
    return tuple(s for s in sids if s is not None)


# -- names --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LookupNamesResult:
    """SamrLookupNamesInDomain: (name, RID, SID_NAME_USE) per name, and the status (rule 1)."""

    status: int
    entries: tuple[tuple[str, int, int], ...]

    @property
    def status_name(self) -> str:
        return status_name(self.status, NTSTATUS)


async def lookup_names_in_domain(rpc: RpcConnection, domain_handle: bytes, names: Sequence[str]) -> LookupNamesResult:
    """SamrLookupNamesInDomain (opnum 17): at most 1000 names."""
    if not 0 < len(names) <= MAX_NAMES:
        raise ValueError(f"{len(names)} names: between 1 and {MAX_NAMES}")
    w = NdrWriter()
    w.handle(domain_handle)
    w.u32(len(names))
    w.conformant_varying_array(list(names), put_ustr, max_count=MAX_NAMES)

    def decode(r: NdrReader) -> tuple[list[int], list[int], int]:
        with r.struct():
            rids = u32_array(r, limit=MAX_NAMES)
        with r.struct():
            uses = u32_array(r, limit=MAX_NAMES)
        return rids(), uses(), r.u32()

    rids, uses, status = await rpc.request(OP_LOOKUP_NAMES, w.getvalue(), decode, operation="SamrLookupNamesInDomain")
    check(status, "SamrLookupNamesInDomain", NTSTATUS, (0, STATUS_SOME_NOT_MAPPED, int(NtStatus.STATUS_NONE_MAPPED)))
    if len(rids) != len(uses) or (rids and len(rids) != len(names)):
        raise RpcProtocolError(f"SamrLookupNamesInDomain: {len(rids)} RIDs and {len(uses)} uses for {len(names)} names")
    return LookupNamesResult(status, tuple(zip(names, rids, uses)))


async def get_domain_password_information(rpc: RpcConnection) -> tuple[int, int]:
    """SamrGetDomainPasswordInformation (opnum 56): (MinPasswordLength, PasswordProperties),
    without a handle (what ``rpcclient getdompwinfo`` calls)."""
    w = NdrWriter()
    w.unique(None, NdrWriter.u32)  # Unused: a NULL PRPC_UNICODE_STRING

    def decode(r: NdrReader) -> tuple[int, int, int]:
        r.align(4)
        return r.u16(), r.u32(), r.u32()

    length, properties, status = await rpc.request(OP_GET_DOMAIN_PASSWORD_INFORMATION, w.getvalue(), decode,
                                                   operation="SamrGetDomainPasswordInformation")
    check(status, "SamrGetDomainPasswordInformation")
    return length, properties
