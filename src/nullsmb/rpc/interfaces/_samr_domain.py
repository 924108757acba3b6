"""samr operations on a domain handle: domain information, account enumeration, display
information, name/RID lookups and alias membership (MS-SAMR 3.1.5.2, 3.1.5.3, 3.1.5.5.1-2,
3.1.5.9.2, 3.1.5.11).

Rules:
1. Enumerations (SamrEnumerateUsers/Groups/AliasesInDomain, MS-SAMR 3.1.5.2.2-3.1.5.2.5) list
   one domain's accounts in RID order. EnumerationContext is the position to resume from.
   PreferedMaximumLength is counted in bytes of SAMPR_RID_ENUMERATION (12) plus the name; at
   least one entry is returned when any remain, so a client always progresses; entries left
   over answer STATUS_MORE_ENTRIES with the context to resume at. A context past the end is an
   empty, successful page.
2. Display information (MS-SAMR 3.1.5.3.1; opnums 40, 48 and 51 behave alike) lists accounts in
   ascending name order (case-insensitive): class 1 and 4 normal user accounts, 2 machine
   (trust) accounts, 3 and 5 groups. Index is the 0-based cursor; each entry's Index is its
   1-based position. EntryCount caps the entries, PreferredMaximumLength the bytes (at least
   one entry when EntryCount allows any); TotalAvailable/TotalReturned are the byte sizes of
   the whole listing and of this page. A class outside 1-5 cannot be marshalled in the [ref]
   union: fault RPC_S_INVALID_TAG.
3. Lookups (MS-SAMR 3.1.5.11.1, 3.1.5.11.2) take at most 1000 names or RIDs ([range(0,1000)]);
   each unknown one is RID 0 / a NULL name with SidTypeUnknown. All found: STATUS_SUCCESS; some:
   STATUS_SOME_NOT_MAPPED; none of a non-empty request: STATUS_NONE_MAPPED.
4. ``call.returned`` counts the accounts a call disclosed: entries enumerated, names or RIDs
   translated, aliases found.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..directory import AcctFlags, SamObject, SidType
from ..ndr import Deferred, NdrReader, NdrWriter, Sid
from ..pdu import FaultStatus, RpcFault
from ..pipe import CallContext
from ._samr_common import (
    DOMAIN_GET_ALIAS_MEMBERSHIP,
    DOMAIN_LIST_ACCOUNTS,
    DOMAIN_LOOKUP,
    GROUP_ATTRIBUTES,
    STATUS_INVALID_INFO_CLASS,
    STATUS_INVALID_PARAMETER,
    STATUS_MORE_ENTRIES,
    STATUS_NONE_MAPPED,
    STATUS_SOME_NOT_MAPPED,
    STATUS_SUCCESS,
    DomainHandle,
    SamrError,
    SamrOp,
    check,
    finish,
    handle_of,
    read_count,
    write_enumeration,
    write_ulong_array,
)
from ._samr_info import DOMAIN_KINDS, DOMAIN_LEVELS, domain_values, write_info

__all__ = ["DOMAIN_OPS"]

MAX_LOOKUP = 1000  # MS-SAMR 3.1.5.11: [range(0,1000)]
MAX_SIDS = 1024  # SAMPR_PSID_ARRAY.Count [range(0,1024)]
RID_ENUMERATION_SIZE = 12  # SAMPR_RID_ENUMERATION: RelativeId + RPC_UNICODE_STRING header


def _domain(call: CallContext, handle: bytes, need: int) -> DomainHandle:
    return handle_of(call, handle, DomainHandle, need)


def _page(items: Sequence[Any], start: int, limit: int, max_bytes: int, size: Callable[[Any], int]) -> list[Any]:
    """``items[start:]`` cut at ``limit`` entries and ``max_bytes`` (at least one entry)."""
    out: list[Any] = []
    used = 0
    for item in items[start : start + limit]:
        used += size(item)
        if out and used > max_bytes:
            break
        out.append(item)
    return out


# -- SamrQueryInformationDomain (8) and SamrQueryInformationDomain2 (46), MS-SAMR 3.1.5.5.1-2 -----

def _parse_query_domain(r: NdrReader) -> tuple[bytes, int]:
    return r.handle(), r.enum16()


def _query_domain(call: CallContext, args: tuple[bytes, int]) -> bytes:
    handle, level = args
    spec = DOMAIN_LEVELS.get(level)
    if spec is None:
        _domain(call, handle, 0)
        raise SamrError(STATUS_INVALID_INFO_CLASS)
    dh = _domain(call, handle, spec.need)
    directory = call.server.directory
    values = domain_values(directory, dh.domain_sid, directory.domain_name)
    w = NdrWriter()
    w.unique(level, lambda w, lv: write_info(w, lv, spec, DOMAIN_KINDS, values))
    return finish(call, w)


def _null_pointer(w: NdrWriter, _args: Any) -> None:
    w.unique(None, NdrWriter.u32)


def _query_domain_op(name: str) -> SamrOp[Any]:
    return SamrOp(name, _parse_query_domain, _query_domain, _null_pointer, level=lambda a: a[1])


# -- enumerations (MS-SAMR 3.1.5.2.2-3.1.5.2.5) -----------------------------------------------------

@dataclass(frozen=True, slots=True)
class _EnumArgs:
    handle: bytes
    context: int
    max_bytes: int
    account_control: int = 0


def _parse_enum(r: NdrReader) -> _EnumArgs:
    handle, context = r.handle(), r.u32()
    return _EnumArgs(handle, context, r.u32())


def _parse_enum_users(r: NdrReader) -> _EnumArgs:
    handle, context, uac = r.handle(), r.u32(), r.u32()
    return _EnumArgs(handle, context, r.u32(), uac)


def _enumerate(call: CallContext, args: _EnumArgs, accounts: Callable[[Any, Sid], list[SamObject]]) -> bytes:
    dh = _domain(call, args.handle, DOMAIN_LIST_ACCOUNTS)
    items = [(a.rid, a.name) for a in accounts(call.server.directory, dh.domain_sid)]
    page = _page(items, args.context, len(items), args.max_bytes,
                 lambda e: RID_ENUMERATION_SIZE + 2 * len(e[1]))
    after = min(args.context, len(items)) + len(page)
    w = NdrWriter()
    w.u32(after)
    write_enumeration(w, page)
    w.u32(len(page))
    return finish(call, w, STATUS_MORE_ENTRIES if after < len(items) else STATUS_SUCCESS, len(page))


def _users(args: _EnumArgs) -> Callable[[Any, Sid], list[SamObject]]:
    """MS-SAMR 3.1.5.2.5: accounts whose UserAccountControl shares a bit with the filter (0: all)."""
    def users(directory: Any, domain_sid: Sid) -> list[SamObject]:
        return [a for a in directory.in_domain(domain_sid) if a.kind is SidType.USER
                and (not args.account_control or int(a.flags) & args.account_control)]
    return users


def _of_kind(kind: SidType) -> Callable[[Any, Sid], list[SamObject]]:
    return lambda directory, sid: [a for a in directory.in_domain(sid) if a.kind is kind]


def _empty_enum(w: NdrWriter, _args: Any) -> None:
    w.u32(0)
    write_enumeration(w, None)
    w.u32(0)


# -- display information (MS-SAMR 3.1.5.3.1) ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _DisplayArgs:
    handle: bytes
    cls: int
    index: int
    count: int
    max_bytes: int


def _parse_display(r: NdrReader) -> _DisplayArgs:
    handle, cls = r.handle(), r.enum16()
    args = _DisplayArgs(handle, cls, r.u32(), r.u32(), r.u32())
    if not 1 <= cls <= 5:
        raise RpcFault(FaultStatus.RPC_S_INVALID_TAG, f"DOMAIN_DISPLAY_INFORMATION {cls}")
    return args


def _display_accounts(directory: Any, domain_sid: Sid, cls: int) -> list[SamObject]:
    machine = AcctFlags.WORKSTATION_TRUST_ACCOUNT | AcctFlags.SERVER_TRUST_ACCOUNT
    accounts = directory.in_domain(domain_sid)
    if cls in (1, 4):
        chosen = [a for a in accounts if a.kind is SidType.USER and a.flags & AcctFlags.NORMAL_ACCOUNT]
    elif cls == 2:
        chosen = [a for a in accounts if a.kind is SidType.USER and a.flags & machine]
    else:
        chosen = [a for a in accounts if a.kind is SidType.GROUP]
    return sorted(chosen, key=lambda a: (a.name.casefold(), a.rid))


def _oem(name: str) -> bytes:
    return name.encode("ascii", "replace")


def _display_size(cls: int, a: SamObject) -> int:
    """Bytes of one SAMPR_DOMAIN_DISPLAY_* element with its strings (MS-SAMR 2.2.8.2-2.2.8.6)."""
    if cls in (4, 5):
        return 4 + 8 + len(_oem(a.name))
    strings = 2 * (len(a.name) + len(a.description) + (len(a.full_name) if cls == 1 else 0))
    return (36 if cls == 1 else 28) + strings


def _write_display_entry(cls: int) -> Callable[[NdrWriter, tuple[int, SamObject]], None]:
    def entry(w: NdrWriter, item: tuple[int, SamObject]) -> None:
        index, a = item
        w.u32(index)
        if cls in (4, 5):  # SAMPR_DOMAIN_DISPLAY_OEM_USER/GROUP: RPC_STRING OemAccountName
            data = _oem(a.name)
            w.u16(len(data))
            w.u16(len(data))
            w.unique(data, lambda w, d: (w.u32(len(d)), w.u32(0), w.u32(len(d)), w.raw(d)))
            return
        w.u32(a.rid)
        w.u32(GROUP_ATTRIBUTES if cls == 3 else int(a.flags))
        w.unicode_string(a.name)
        w.unicode_string(a.description)
        if cls == 1:
            w.unicode_string(a.full_name)
    return entry


def _write_display_buffer(w: NdrWriter, cls: int, items: list[tuple[int, SamObject]]) -> None:
    """SAMPR_DISPLAY_INFO_BUFFER: the union (16-bit discriminant) of {EntriesRead, Buffer}."""
    with w.struct():
        w.u16(cls)
        w.align(4)
        w.u32(len(items))
        w.unique(items or None, lambda w, items: w.conformant_array(items, _write_display_entry(cls)))


def _display(call: CallContext, args: _DisplayArgs) -> bytes:
    dh = _domain(call, args.handle, DOMAIN_LIST_ACCOUNTS)
    accounts = _display_accounts(call.server.directory, dh.domain_sid, args.cls)
    size = lambda a: _display_size(args.cls, a)  # noqa: E731
    page = _page(accounts, args.index, args.count, args.max_bytes, size)
    start = min(args.index, len(accounts))
    w = NdrWriter()
    w.u32(sum(map(size, accounts)))
    w.u32(sum(map(size, page)))
    _write_display_buffer(w, args.cls, [(start + i + 1, a) for i, a in enumerate(page)])
    more = start + len(page) < len(accounts)
    return finish(call, w, STATUS_MORE_ENTRIES if more else STATUS_SUCCESS, len(page))


def _empty_display(w: NdrWriter, args: _DisplayArgs) -> None:
    w.u32(0)
    w.u32(0)
    _write_display_buffer(w, args.cls, [])


def _display_op(name: str) -> SamrOp[Any]:
    return SamrOp(name, _parse_display, _display, _empty_display, level=lambda a: a.cls)


# -- SamrLookupNamesInDomain (17) and SamrLookupIdsInDomain (18), MS-SAMR 3.1.5.11 ---------------------

def _parse_lookup_names(r: NdrReader) -> tuple[bytes, list[str | None]]:
    handle, count = r.handle(), read_count(r, MAX_LOOKUP)
    cells: list[Deferred[str | None]] = r.conformant_varying_array(
        lambda r: r.embedded_unicode_string(), limit=MAX_LOOKUP, min_size=8)
    check(len(cells) == count, "LookupNames: length_is differs from Count")
    return handle, [c.value for c in cells]


def _lookup_status(found: int, asked: int) -> int:
    if found == asked:
        return STATUS_SUCCESS
    return STATUS_SOME_NOT_MAPPED if found else STATUS_NONE_MAPPED


def _lookup_names(call: CallContext, args: tuple[bytes, list[str | None]]) -> bytes:
    handle, names = args
    dh = _domain(call, handle, DOMAIN_LOOKUP)
    directory = call.server.directory
    accounts = [None if n is None else directory.by_name(dh.domain_sid, n) for n in names]
    w = NdrWriter()
    write_ulong_array(w, [a.rid if a else 0 for a in accounts])
    write_ulong_array(w, [int(a.kind) if a else int(SidType.UNKNOWN) for a in accounts])
    found = sum(1 for a in accounts if a)
    return finish(call, w, _lookup_status(found, len(names)), found)


def _parse_lookup_ids(r: NdrReader) -> tuple[bytes, list[int]]:
    handle, count = r.handle(), read_count(r, MAX_LOOKUP)
    rids = r.conformant_varying_array(NdrReader.u32, limit=MAX_LOOKUP, min_size=4)
    check(len(rids) == count, "LookupIds: length_is differs from Count")
    return handle, rids


def _lookup_ids(call: CallContext, args: tuple[bytes, list[int]]) -> bytes:
    handle, rids = args
    dh = _domain(call, handle, DOMAIN_LOOKUP)
    directory = call.server.directory
    accounts = [directory.by_rid(dh.domain_sid, rid) for rid in rids]
    w = NdrWriter()
    with w.struct():  # SAMPR_RETURNED_USTRING_ARRAY
        w.u32(len(accounts))
        w.unique(accounts or None,
                 lambda w, v: w.conformant_array(v, lambda w, a: w.unicode_string(a.name if a else None)))
    write_ulong_array(w, [int(a.kind) if a else int(SidType.UNKNOWN) for a in accounts])
    found = sum(1 for a in accounts if a)
    return finish(call, w, _lookup_status(found, len(rids)), found)


def _empty_two_arrays(w: NdrWriter, _args: Any) -> None:
    write_ulong_array(w, [])
    write_ulong_array(w, [])


# -- SamrGetAliasMembership (16), MS-SAMR 3.1.5.9.2 -------------------------------------------------------

def _parse_alias_membership(r: NdrReader) -> tuple[bytes, list[Sid] | None]:
    handle = r.handle()
    with r.struct():  # SAMPR_PSID_ARRAY
        count = read_count(r, MAX_SIDS)
        array = r.embedded_unique(lambda r: r.conformant_array(
            lambda r: r.embedded_unique(NdrReader.sid), limit=MAX_SIDS, min_size=4))
    if array.value is None:
        return handle, [] if count == 0 else None
    check(len(array.value) == count, "SAMPR_PSID_ARRAY: size_is differs from Count")
    return handle, [c.value for c in array.value if c.value is not None]


def _alias_membership(call: CallContext, args: tuple[bytes, list[Sid] | None]) -> bytes:
    handle, sids = args
    dh = _domain(call, handle, DOMAIN_GET_ALIAS_MEMBERSHIP)
    if sids is None:
        raise SamrError(STATUS_INVALID_PARAMETER)
    rids = call.server.directory.alias_membership(dh.domain_sid, sids)
    w = NdrWriter()
    write_ulong_array(w, rids)
    return finish(call, w, returned=len(rids))


def _empty_ulong_array(w: NdrWriter, _args: Any) -> None:
    write_ulong_array(w, [])


DOMAIN_OPS: dict[int, SamrOp[Any]] = {
    8: _query_domain_op("SamrQueryInformationDomain"),
    11: SamrOp("SamrEnumerateGroupsInDomain", _parse_enum,
               lambda call, a: _enumerate(call, a, _of_kind(SidType.GROUP)), _empty_enum),
    13: SamrOp("SamrEnumerateUsersInDomain", _parse_enum_users,
               lambda call, a: _enumerate(call, a, _users(a)), _empty_enum),
    15: SamrOp("SamrEnumerateAliasesInDomain", _parse_enum,
               lambda call, a: _enumerate(call, a, _of_kind(SidType.ALIAS)), _empty_enum),
    16: SamrOp("SamrGetAliasMembership", _parse_alias_membership, _alias_membership, _empty_ulong_array),
    17: SamrOp("SamrLookupNamesInDomain", _parse_lookup_names, _lookup_names, _empty_two_arrays),
    18: SamrOp("SamrLookupIdsInDomain", _parse_lookup_ids, _lookup_ids, _empty_two_arrays),
    40: _display_op("SamrQueryDisplayInformation"),
    46: _query_domain_op("SamrQueryInformationDomain2"),
    48: _display_op("SamrQueryDisplayInformation2"),
    51: _display_op("SamrQueryDisplayInformation3"),
}
