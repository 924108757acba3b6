"""lsarpc client calls (MS-LSAD, MS-LSAT): the policy handle, domain information, SID/name
translation, account enumeration, the caller's name, and RID cycling.

Rules:
1. Every call returns an NTSTATUS. A failing one raises ``RpcStatusError(status, "ntstatus",
   operation)``; the translations also accept the partial statuses, which come with data and
   are returned in the result: STATUS_SOME_NOT_MAPPED (0x107) and STATUS_NONE_MAPPED
   (0xC0000073), MS-LSAT 3.1.4.8 / 3.1.4.11.
2. Lookups are sent at LsapLookupWksta (1) unless told otherwise, and at most
   ``MAX_LOOKUP`` SIDs or names per call (MS-LSAT allows 20480, Samba's IDL 1000);
   ``rid_cycle`` batches.
3. A translated SID is built from the referenced domain's SID and the RID (LsarLookupNames
   returns RIDs, MS-LSAT 2.2.14); a domain entry (SidTypeDomain) is the domain SID itself.
4. Enumerations stop at STATUS_NO_MORE_ENTRIES and need progress on every round (client.srvsvc
   rule 2).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..rpc.directory import SidType
from ..rpc.ndr import NdrReader, NdrWriter, Sid
from ..rpc.pdu import FaultStatus, SyntaxId
from ..status import MalformedMessage, NtStatus
from ._ndr import MAX_ROUNDS, Thunk, check, counted, put_ustr, sid_ptr, struct_of, top_ustr, ustr
from .rpc import NTSTATUS, RpcConnection, RpcFaultError, RpcProtocolError, status_name

__all__ = [
    "LookupNamesResult", "LookupSidsResult", "MAXIMUM_ALLOWED", "PIPE", "POLICY_LOOKUP_NAMES",
    "POLICY_VIEW_LOCAL_INFORMATION", "PolicyDomainInfo", "ReferencedDomain", "SYNTAX", "SidType",
    "TranslatedName", "TranslatedSid", "close", "enumerate_accounts", "get_user_name", "lookup_names",
    "lookup_sids", "open_policy2", "query_info_policy", "rid_cycle",
]

SYNTAX = SyntaxId.of("12345778-1234-abcd-ef00-0123456789ab", 0, 0)
PIPE = "lsarpc"

OP_CLOSE = 0
OP_QUERY_INFORMATION_POLICY = 7
OP_ENUMERATE_ACCOUNTS = 11
OP_LOOKUP_NAMES = 14
OP_LOOKUP_SIDS = 15
OP_OPEN_POLICY2 = 44
OP_GET_USER_NAME = 45
OP_QUERY_INFORMATION_POLICY2 = 46
OP_LOOKUP_SIDS2 = 57

POLICY_VIEW_LOCAL_INFORMATION = 0x00000001  # MS-LSAD 2.2.1.1.2
POLICY_LOOKUP_NAMES = 0x00000800
MAXIMUM_ALLOWED = 0x02000000

POLICY_PRIMARY_DOMAIN = 3  # POLICY_INFORMATION_CLASS, MS-LSAD 2.2.4.1
POLICY_ACCOUNT_DOMAIN = 5
POLICY_DNS_DOMAIN = 12

LOOKUP_WKSTA = 1  # LSAP_LOOKUP_LEVEL, MS-LSAT 2.2.16
MAX_LOOKUP = 1000
MAX_DOMAINS = 1000
MAX_ACCOUNTS = 0x10000
STATUS_SOME_NOT_MAPPED = NtStatus.STATUS_SOME_NOT_MAPPED
STATUS_MORE_ENTRIES = NtStatus.STATUS_MORE_ENTRIES
STATUS_NO_MORE_ENTRIES = NtStatus.STATUS_NO_MORE_ENTRIES
_TRANSLATED = (0, STATUS_SOME_NOT_MAPPED, int(NtStatus.STATUS_NONE_MAPPED))


def _use_name(use: int) -> str:
    try:
        return SidType(use).name
    except ValueError:
        return str(use)


# -- the policy handle (MS-LSAD 3.1.4.4.1, 3.1.4.9.4) ------------------------------------------------

def _handle_reply(r: NdrReader) -> tuple[bytes, int]:
    return r.handle(), r.u32()


async def open_policy2(rpc: RpcConnection, access: int = MAXIMUM_ALLOWED, *,
                       system_name: str | None = None) -> bytes:
    """LsarOpenPolicy2 (opnum 44): the policy handle. ObjectAttributes is all zero/NULL
    (MS-LSAD 3.1.4.4.1 ignores it)."""
    w = NdrWriter()
    w.unique(system_name, NdrWriter.wstr)
    with w.struct():  # LSAPR_OBJECT_ATTRIBUTES (MS-LSAD 2.2.9)
        w.u32(24)
        for _ in range(2):  # RootDirectory, ObjectName
            w.unique(None, NdrWriter.u32)
        w.u32(0)  # Attributes
        for _ in range(2):  # SecurityDescriptor, SecurityQualityOfService
            w.unique(None, NdrWriter.u32)
    w.u32(access)
    handle, status = await rpc.request(OP_OPEN_POLICY2, w.getvalue(), _handle_reply, operation="LsarOpenPolicy2")
    check(status, "LsarOpenPolicy2")
    return handle


async def close(rpc: RpcConnection, handle: bytes) -> None:
    """LsarClose (opnum 0)."""
    w = NdrWriter()
    w.handle(handle)
    _, status = await rpc.request(OP_CLOSE, w.getvalue(), _handle_reply, operation="LsarClose")
    check(status, "LsarClose")


# -- domain information (MS-LSAD 2.2.4.2, 3.1.4.4.4) --------------------------------------------------

@dataclass(frozen=True, slots=True)
class PolicyDomainInfo:
    """LSAPR_POLICY_PRIMARY_DOM_INFO (3), _ACCOUNT_DOM_INFO (5) or _DNS_DOMAIN_INFO (12)."""

    level: int
    name: str | None
    sid: Sid | None
    dns_domain: str | None = None
    dns_forest: str | None = None
    domain_guid: uuid.UUID | None = None


def _domain_elem(level: int):  # type: ignore[no-untyped-def]
    def elem(r: NdrReader) -> Thunk[PolicyDomainInfo]:
        name = ustr(r)
        if level == POLICY_DNS_DOMAIN:
            dns, forest, guid, sid = ustr(r), ustr(r), r.guid(), sid_ptr(r)
            return lambda: PolicyDomainInfo(level, name.value, sid.value, dns.value, forest.value, guid)
        sid = sid_ptr(r)
        return lambda: PolicyDomainInfo(level, name.value, sid.value)
    return elem


async def query_info_policy(rpc: RpcConnection, handle: bytes, level: int = POLICY_ACCOUNT_DOMAIN, *,
                            version: int | None = None) -> PolicyDomainInfo:
    """LsarQueryInformationPolicy2 (opnum 46, ``version=2``) or LsarQueryInformationPolicy
    (opnum 7, ``version=1``) for the primary (3), account (5) or DNS (12) domain. By default
    the first, then the second if the server faults nca_s_op_rng_error (Samba's standalone
    server has no opnum 46)."""
    if level not in (POLICY_PRIMARY_DOMAIN, POLICY_ACCOUNT_DOMAIN, POLICY_DNS_DOMAIN):
        raise ValueError(f"policy information class {level} is not one of 3, 5, 12")
    if version is None:
        try:
            return await query_info_policy(rpc, handle, level, version=2)
        except RpcFaultError as exc:
            if exc.status != FaultStatus.NCA_S_OP_RNG_ERROR:
                raise
        version = 1
    name = "LsarQueryInformationPolicy2" if version == 2 else "LsarQueryInformationPolicy"
    w = NdrWriter()
    w.handle(handle)
    w.enum16(level)

    def union(r: NdrReader) -> PolicyDomainInfo:
        arm = r.enum16()
        if arm != level:
            raise MalformedMessage(f"{name}: union arm {arm} for class {level}")
        return struct_of(_domain_elem(level))(r)

    def decode(r: NdrReader) -> tuple[PolicyDomainInfo | None, int]:
        return r.unique(union), r.u32()

    info, status = await rpc.request(OP_QUERY_INFORMATION_POLICY2 if version == 2 else OP_QUERY_INFORMATION_POLICY,
                                     w.getvalue(), decode, operation=name)
    check(status, name)
    if info is None:
        raise RpcProtocolError(f"{name}: success without the information")
    return info


# -- translation (MS-LSAT 3.1.4.8 - 3.1.4.11) ---------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReferencedDomain:
    """LSAPR_TRUST_INFORMATION: a domain the translated names/SIDs point into."""

    name: str | None
    sid: Sid | None


def _trust_elem(r: NdrReader) -> Thunk[ReferencedDomain]:
    name, sid = ustr(r), sid_ptr(r)
    return lambda: ReferencedDomain(name.value, sid.value)


def _domain_list(r: NdrReader) -> tuple[ReferencedDomain, ...]:
    """LSAPR_REFERENCED_DOMAIN_LIST {Entries; [size_is(Entries)] Domains*; MaxEntries}."""
    with r.struct():
        domains = counted(r, _trust_elem, limit=MAX_DOMAINS, min_size=12)
        r.u32()  # MaxEntries
    return tuple(domains())


def _domain_at(domains: Sequence[ReferencedDomain], index: int) -> ReferencedDomain | None:
    return domains[index] if 0 <= index < len(domains) else None


@dataclass(frozen=True, slots=True)
class TranslatedName:
    """One SID's translation (LSAPR_TRANSLATED_NAME[_EX]): ``use`` a SidType value."""

    sid: Sid
    use: int
    name: str | None
    domain: str | None  # the referenced domain's name (None: no domain)
    domain_index: int
    flags: int = 0  # LSAPR_TRANSLATED_NAME_EX.Flags (LsarLookupSids2)

    @property
    def use_name(self) -> str:
        return _use_name(self.use)

    @property
    def mapped(self) -> bool:
        return self.use not in (SidType.INVALID, SidType.UNKNOWN)

    @property
    def full_name(self) -> str | None:
        """"DOMAIN\\name" (just "name" without a domain)."""
        if self.name is None:
            return None
        return f"{self.domain}\\{self.name}" if self.domain else self.name


@dataclass(frozen=True, slots=True)
class LookupSidsResult:
    status: int  # STATUS_SUCCESS, STATUS_SOME_NOT_MAPPED or STATUS_NONE_MAPPED
    names: tuple[TranslatedName, ...]
    domains: tuple[ReferencedDomain, ...]
    mapped_count: int

    @property
    def status_name(self) -> str:
        return status_name(self.status, NTSTATUS)


def _sid_enum_buffer(w: NdrWriter, sids: Sequence[Sid]) -> None:
    """LSAPR_SID_ENUM_BUFFER {Entries; [size_is(Entries)] PLSAPR_SID_INFORMATION SidInfo}."""
    with w.struct():
        w.u32(len(sids))
        w.unique(list(sids), lambda w, items: w.conformant_array(items, lambda w, s: w.unique(s, NdrWriter.sid)))


def _as_sid(sid: Sid | str) -> Sid:
    return sid if isinstance(sid, Sid) else Sid.parse(sid)


async def lookup_sids(rpc: RpcConnection, handle: bytes, sids: Sequence[Sid | str], *, level: int = LOOKUP_WKSTA,
                      version: int = 1) -> LookupSidsResult:
    """LsarLookupSids (opnum 15; ``version=2``: LsarLookupSids2, opnum 57): at most
    ``MAX_LOOKUP`` SIDs. Partial results are returned with their status (rule 1)."""
    if not 0 < len(sids) <= MAX_LOOKUP:
        raise ValueError(f"{len(sids)} SIDs: between 1 and {MAX_LOOKUP} per call")
    parsed = [_as_sid(s) for s in sids]
    name = "LsarLookupSids2" if version == 2 else "LsarLookupSids"
    w = NdrWriter()
    w.handle(handle)
    _sid_enum_buffer(w, parsed)
    with w.struct():  # [in] TranslatedNames: none
        w.u32(0)
        w.unique(None, NdrWriter.u32)
    w.enum16(level)
    w.u32(0)  # MappedCount
    if version == 2:
        w.u32(0)  # LookupOptions
        w.u32(2)  # ClientRevision: LSA_CLIENT_REVISION_2

    def name_elem(r: NdrReader) -> Thunk[tuple[int, str | None, int, int]]:
        r.align(4)
        use, text, index = r.enum16(), ustr(r), r.i32()
        flags = r.u32() if version == 2 else 0
        return lambda: (use, text.value, index, flags)

    def decode(r: NdrReader) -> tuple[tuple[ReferencedDomain, ...], list, int, int]:
        domains = r.unique(_domain_list) or ()
        with r.struct():
            names = counted(r, name_elem, limit=MAX_LOOKUP, min_size=20 if version == 2 else 16)
        return domains, names(), r.u32(), r.u32()

    domains, names, mapped, status = await rpc.request(OP_LOOKUP_SIDS2 if version == 2 else OP_LOOKUP_SIDS,
                                                      w.getvalue(), decode, operation=name)
    check(status, name, NTSTATUS, _TRANSLATED)
    if names and len(names) != len(parsed):
        raise RpcProtocolError(f"{name}: {len(names)} names for {len(parsed)} SIDs")
    out = []
    for sid, (use, text, index, flags) in zip(parsed, names):
        domain = _domain_at(domains, index)
        out.append(TranslatedName(sid, use, text, domain.name if domain else None, index, flags))
    return LookupSidsResult(status, tuple(out), domains, mapped)


@dataclass(frozen=True, slots=True)
class TranslatedSid:
    """One name's translation (LSA_TRANSLATED_SID): ``sid`` built per rule 3 (None if unmapped)."""

    name: str
    use: int
    rid: int
    domain_index: int
    sid: Sid | None
    domain: str | None

    @property
    def use_name(self) -> str:
        return _use_name(self.use)

    @property
    def mapped(self) -> bool:
        return self.sid is not None and self.use not in (SidType.INVALID, SidType.UNKNOWN)


@dataclass(frozen=True, slots=True)
class LookupNamesResult:
    status: int
    sids: tuple[TranslatedSid, ...]
    domains: tuple[ReferencedDomain, ...]
    mapped_count: int

    @property
    def status_name(self) -> str:
        return status_name(self.status, NTSTATUS)


async def lookup_names(rpc: RpcConnection, handle: bytes, names: Sequence[str], *,
                       level: int = LOOKUP_WKSTA) -> LookupNamesResult:
    """LsarLookupNames (opnum 14, MS-LSAT 3.1.4.8): at most ``MAX_LOOKUP`` names ("name" or
    "DOMAIN\\name")."""
    if not 0 < len(names) <= MAX_LOOKUP:
        raise ValueError(f"{len(names)} names: between 1 and {MAX_LOOKUP} per call")
    w = NdrWriter()
    w.handle(handle)
    w.u32(len(names))
    w.conformant_array(list(names), put_ustr)
    with w.struct():  # [in] TranslatedSids: none
        w.u32(0)
        w.unique(None, NdrWriter.u32)
    w.enum16(level)
    w.u32(0)

    def sid_elem(r: NdrReader) -> Thunk[tuple[int, int, int]]:
        r.align(4)
        use, rid, index = r.enum16(), r.u32(), r.i32()
        return lambda: (use, rid, index)

    def decode(r: NdrReader) -> tuple[tuple[ReferencedDomain, ...], list, int, int]:
        domains = r.unique(_domain_list) or ()
        with r.struct():
            sids = counted(r, sid_elem, limit=MAX_LOOKUP, min_size=12)
        return domains, sids(), r.u32(), r.u32()

    domains, sids, mapped, status = await rpc.request(OP_LOOKUP_NAMES, w.getvalue(), decode,
                                                     operation="LsarLookupNames")
    check(status, "LsarLookupNames", NTSTATUS, _TRANSLATED)
    if sids and len(sids) != len(names):
        raise RpcProtocolError(f"LsarLookupNames: {len(sids)} SIDs for {len(names)} names")
    out = []
    for text, (use, rid, index) in zip(names, sids):
        domain = _domain_at(domains, index)
        sid = None
        if domain is not None and domain.sid is not None and use not in (SidType.INVALID, SidType.UNKNOWN):
            sid = domain.sid if use == SidType.DOMAIN else domain.sid.child(rid)
        out.append(TranslatedSid(text, use, rid, index, sid, domain.name if domain else None))
    return LookupNamesResult(status, tuple(out), domains, mapped)


# -- accounts and the caller (MS-LSAD 3.1.4.5.1; MS-LSAT 3.1.4.4) -------------------------------------

async def enumerate_accounts(rpc: RpcConnection, handle: bytes, *, preferred: int = 8192,
                             max_rounds: int = MAX_ROUNDS) -> tuple[Sid, ...]:
    """LsarEnumerateAccounts (opnum 11): the SIDs of the accounts with privileges or rights.
    ``preferred`` stays within Samba's [range(0,8192)]."""
    out: list[Sid] = []
    context = 0

    def sid_elem(r: NdrReader) -> Thunk[Sid | None]:
        sid = sid_ptr(r)
        return lambda: sid.value

    def decode(r: NdrReader) -> tuple[int, list, int]:
        new_context = r.u32()
        with r.struct():
            sids = counted(r, sid_elem, limit=MAX_ACCOUNTS, min_size=4)
        return new_context, sids(), r.u32()

    for _ in range(max_rounds):
        w = NdrWriter()
        w.handle(handle)
        w.u32(context)
        w.u32(preferred)
        new_context, sids, status = await rpc.request(OP_ENUMERATE_ACCOUNTS, w.getvalue(), decode,
                                                      operation="LsarEnumerateAccounts")
        if status == STATUS_NO_MORE_ENTRIES:
            return tuple(out)
        check(status, "LsarEnumerateAccounts", NTSTATUS, (0, STATUS_MORE_ENTRIES))
        out += [s for s in sids if s is not None]
        if len(out) > MAX_ACCOUNTS:
            raise RpcProtocolError(f"LsarEnumerateAccounts: more than {MAX_ACCOUNTS} accounts")
        if not sids or new_context == context:
            return tuple(out)
        context = new_context
    raise RpcProtocolError(f"LsarEnumerateAccounts: more than {max_rounds} calls")


async def get_user_name(rpc: RpcConnection, *, system_name: str | None = None) -> tuple[str | None, str | None]:
    """LsarGetUserName (opnum 45): (user, domain) of the caller, e.g. ("ANONYMOUS LOGON",
    "NT AUTHORITY") for a null session."""
    w = NdrWriter()
    w.unique(system_name, NdrWriter.wstr)
    w.u32(0)  # UserName: [in,out] ref to a NULL unique pointer
    w.unique(0, lambda w, _: w.u32(0))  # DomainName: a unique pointer to a NULL unique pointer

    def decode(r: NdrReader) -> tuple[str | None, str | None, int]:
        user = r.unique(top_ustr)
        domain = r.unique(lambda r: r.unique(top_ustr))
        return user, domain, r.u32()

    user, domain, status = await rpc.request(OP_GET_USER_NAME, w.getvalue(), decode, operation="LsarGetUserName")
    check(status, "LsarGetUserName")
    return user, domain


# -- RID cycling ------------------------------------------------------------------------------------

def _rids(ranges: Iterable[range | tuple[int, int]]) -> list[int]:
    rids: list[int] = []
    for item in ranges:
        span = item if isinstance(item, range) else range(item[0], item[1] + 1)
        if len(rids) + len(span) > 1 << 20:
            raise ValueError("more than 2**20 RIDs")
        rids.extend(span)
    return rids


async def rid_cycle(rpc: RpcConnection, handle: bytes, domain_sid: Sid | str,
                    ranges: Iterable[range | tuple[int, int]] = ((500, 550), (1000, 1050)), *,
                    batch: int = 500, level: int = LOOKUP_WKSTA, version: int = 1) -> tuple[TranslatedName, ...]:
    """Translate ``domain_sid``-RID for every RID in ``ranges`` ((first, last) inclusive, or
    ``range``s), ``batch`` SIDs per LsarLookupSids, and return the mapped ones (the way
    enum4linux-ng and impacket's lookupsid enumerate accounts). A batch answered
    STATUS_NONE_MAPPED contributes nothing; any failing status raises."""
    if not 0 < batch <= MAX_LOOKUP:
        raise ValueError(f"batch {batch} is not between 1 and {MAX_LOOKUP}")
    base = _as_sid(domain_sid)
    rids = _rids(ranges)
    found: list[TranslatedName] = []
    for start in range(0, len(rids), batch):
        result = await lookup_sids(rpc, handle, [base.child(rid) for rid in rids[start : start + batch]],
                                   level=level, version=version)
        found += [n for n in result.names if n.mapped]
    return tuple(found)
