"""lsarpc (MS-LSAD + MS-LSAT), server side: the LSA policy handle, the domain information and the
SID/name translation a standalone Windows server gives, behind the null-session policy.

Rules:
1. Operations (opnums of MS-LSAD 3.1.4 and MS-LSAT 3.1.4): LsarClose 0, LsarOpenPolicy 6,
   LsarQueryInformationPolicy 7, LsarEnumerateAccounts 11, LsarLookupNames 14, LsarLookupSids 15,
   LsarOpenPolicy2 44, LsarGetUserName 45, LsarQueryInformationPolicy2 46, LsarLookupSids2 57,
   LsarLookupNames2 58, LsarLookupNames3 68, LsarLookupSids3 76, LsarLookupNames4 77. Any other
   opnum faults nca_s_op_rng_error (rpc.pipe).
2. The policy decides first: the pipe asks the table of policy/rpc_rules.py (lsarpc block) before
   every call, and QueryInformationPolicy asks again with its information class. A denial is
   STATUS_ACCESS_DENIED in a well-formed stub: [out] pointers NULL, handles zero, counts 0.
3. Policy handles (MS-LSAD 3.1.4.1, 3.1.4.2). LsarOpenPolicy(2) grants access by the check of
   3.1.4.2.1 against the policy object's default security descriptor on Windows Vista and later
   (MS-LSAD <46>: O:BAG:SYD:(A;;GA;;;BA)(A;;GX;;;WD)(A;;0x801;;;AN)(...LS, NS, S-1-5-17: 0x1000)),
   generic rights mapped as in 2.2.1.1.1: Administrators get POLICY_ALL_ACCESS, Everyone (users,
   guests, and null sessions when EveryoneIncludesAnonymous = 1) GENERIC_EXECUTE =
   POLICY_VIEW_LOCAL_INFORMATION | POLICY_LOOKUP_NAMES | READ_CONTROL, ANONYMOUS LOGON
   POLICY_VIEW_LOCAL_INFORMATION | POLICY_LOOKUP_NAMES. MAXIMUM_ALLOWED grants all of that; an
   explicit bit beyond it is STATUS_ACCESS_DENIED with a zero handle; a zero DesiredAccess or a
   RootDirectory is STATUS_INVALID_PARAMETER (3.1.4.4.1). The granted mask is kept on the handle
   and each later call checks its RequiredAccess (3.1.4.2.2: ACCESS_DENIED without it). Whether a
   null session may translate names at all is the table's LSAAnonymousNameLookup rule, asked on
   every call, so a policy reload applies to handles already open.
4. A handle that is unknown, closed, or not an LSA policy handle (samr's share the pipe) is
   STATUS_INVALID_HANDLE with NULL outputs (MS-LSAD 3.1.4.1); LsarClose zeroes a valid one
   (3.1.4.9.4) and echoes an invalid one.
5. QueryInformationPolicy(2) (MS-LSAD 3.1.4.4.3) with a standalone server's values (<41>):
   PolicyPrimaryDomainInformation (3) = the workgroup without SID; PolicyAccountDomainInformation
   (5) and PolicyLocalAccountDomainInformation (14) = the NetBIOS name and the machine SID;
   PolicyDnsDomainInformation (12) and ...Int (13) = the workgroup, empty (NULL) DNS domain and
   forest names, a zero GUID, no SID; all need POLICY_VIEW_LOCAL_INFORMATION. Every other class is
   STATUS_INVALID_PARAMETER: 8-11 and anything outside 1..15 as the specification says, the audit,
   role, replica and machine-account classes because nullsmb does not serve them.
6. Translation is _lsa_lookup's (MS-LSAT 3.1.4.5, 3.1.4.9) and needs POLICY_LOOKUP_NAMES on the
   handle. LsarLookupSids3 and LsarLookupNames4 need a Netlogon secure channel over TCP; on a
   named pipe Windows Vista and later fault ERROR_ACCESS_DENIED (MS-LSAT <3>), as Samba does:
   fault 5, whatever the policy says.
7. LsarGetUserName (MS-LSAT 3.1.4.4): the caller's name and domain; a null session is
   "ANONYMOUS LOGON" in "NT AUTHORITY", a guest "Guest" in the account domain.
8. LsarEnumerateAccounts (MS-LSAD 3.1.4.5.2): the SIDs a standalone Windows server's LSA database
   holds rights for (``PRIVILEGED_ACCOUNTS``), resumable by index, STATUS_MORE_ENTRIES while some
   remain beyond PreferedMaximumLength, STATUS_NO_MORE_ENTRIES from an index past the end.
9. ``call.returned`` counts what the caller learnt: names or SIDs translated, the domain record
   (1), the account SIDs enumerated.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...policy.model import Principal, PrincipalKind
from ...status import MalformedMessage, NtStatus
from ..directory import GUEST_RID, Directory
from ..ndr import NULL_HANDLE, NdrReader, NdrWriter, Sid
from ..pdu import FaultStatus, RpcFault
from ..pipe import Interface, Operation, deny_with_fault
from . import _lsa_lookup as lookup
from ._lsa_ndr import (
    MAX_LOOKUP_NAMES,
    read_names,
    read_object_attributes,
    read_sid_enum_buffer,
    skip_translated_names,
    skip_translated_sids,
    write_account_sids,
    write_ref_domains,
    write_translated_names,
    write_translated_sids,
    write_unicode_string,
)

if TYPE_CHECKING:
    from ..pipe import CallContext

__all__ = ["INTERFACE", "OPERATIONS", "PRIVILEGED_ACCOUNTS", "PolicyHandle", "granted_access"]

STATUS_MORE_ENTRIES = NtStatus.STATUS_MORE_ENTRIES
STATUS_NO_MORE_ENTRIES = NtStatus.STATUS_NO_MORE_ENTRIES

# ACCESS_MASK (MS-LSAD 2.2.1.1.1, 2.2.1.1.2)
POLICY_VIEW_LOCAL_INFORMATION = 0x00000001
POLICY_VIEW_AUDIT_INFORMATION = 0x00000002
POLICY_GET_PRIVATE_INFORMATION = 0x00000004
POLICY_LOOKUP_NAMES = 0x00000800
POLICY_ALL_ACCESS = 0x000F0FFF  # what GENERIC_ALL maps to
ACCESS_SYSTEM_SECURITY = 0x01000000
MAXIMUM_ALLOWED = 0x02000000
GENERIC_MAPPING = ((0x80000000, 0x00020006), (0x40000000, 0x000207F8),
                   (0x20000000, 0x00020801), (0x10000000, POLICY_ALL_ACCESS))
GENERIC_EXECUTE_MAPPED = 0x00020801
ANONYMOUS_ACE = POLICY_VIEW_LOCAL_INFORMATION | POLICY_LOOKUP_NAMES  # (A;;0x801;;;AN)
LOOKUP_OPTIONS_NO_ISOLATED = 0x80000000  # MS-LSAT 3.1.4.5 LookupOptions

# POLICY_INFORMATION_CLASS (MS-LSAD 2.2.4.1) served, each needing POLICY_VIEW_LOCAL_INFORMATION
POLICY_PRIMARY_DOMAIN = 3
POLICY_ACCOUNT_DOMAIN = 5
POLICY_DNS_DOMAIN = 12
POLICY_DNS_DOMAIN_INT = 13
POLICY_LOCAL_ACCOUNT_DOMAIN = 14

# The accounts a standalone Windows Server's LSA database holds rights or privileges for (its
# default User Rights Assignment), as (SID or RID in the account domain, rights).
PRIVILEGED_ACCOUNTS: tuple[tuple[str | int, tuple[str, ...]], ...] = (
    ("S-1-5-32-544", ("SeNetworkLogonRight", "SeInteractiveLogonRight", "SeRemoteInteractiveLogonRight",
                      "SeBatchLogonRight", "SeBackupPrivilege", "SeRestorePrivilege", "SeSecurityPrivilege",
                      "SeTakeOwnershipPrivilege", "SeDebugPrivilege", "SeShutdownPrivilege",
                      "SeRemoteShutdownPrivilege", "SeSystemtimePrivilege", "SeLoadDriverPrivilege",
                      "SeImpersonatePrivilege", "SeCreateGlobalPrivilege", "SeChangeNotifyPrivilege")),
    ("S-1-5-32-545", ("SeNetworkLogonRight", "SeInteractiveLogonRight", "SeChangeNotifyPrivilege",
                      "SeIncreaseWorkingSetPrivilege")),
    ("S-1-5-32-551", ("SeNetworkLogonRight", "SeInteractiveLogonRight", "SeBatchLogonRight",
                      "SeBackupPrivilege", "SeRestorePrivilege", "SeShutdownPrivilege",
                      "SeChangeNotifyPrivilege")),
    ("S-1-5-32-555", ("SeRemoteInteractiveLogonRight",)),
    ("S-1-1-0", ("SeNetworkLogonRight", "SeChangeNotifyPrivilege")),
    ("S-1-5-6", ("SeImpersonatePrivilege", "SeCreateGlobalPrivilege")),
    ("S-1-5-19", ("SeAssignPrimaryTokenPrivilege", "SeAuditPrivilege", "SeChangeNotifyPrivilege",
                  "SeIncreaseQuotaPrivilege", "SeSystemtimePrivilege", "SeTimeZonePrivilege",
                  "SeImpersonatePrivilege", "SeCreateGlobalPrivilege")),
    ("S-1-5-20", ("SeAssignPrimaryTokenPrivilege", "SeAuditPrivilege", "SeChangeNotifyPrivilege",
                  "SeIncreaseQuotaPrivilege", "SeImpersonatePrivilege", "SeCreateGlobalPrivilege")),
    (GUEST_RID, ("SeDenyNetworkLogonRight", "SeDenyInteractiveLogonRight")),
)


@dataclass(frozen=True, slots=True)
class PolicyHandle:
    """An open LSA policy object (MS-LSAD 3.1.1.7 LsaContextHandle): its GrantedAccess."""

    granted: int

    def allows(self, required: int) -> bool:
        return self.granted & required == required


# -- access (rule 3) ----------------------------------------------------------------------------------

def map_generic(mask: int) -> int:
    for generic, specific in GENERIC_MAPPING:
        if mask & generic:
            mask = (mask & ~generic) | specific
    return mask


def _allowed(principal: Principal, policy: object) -> int:
    """What the policy object's DACL grants ``principal`` (rule 3)."""
    if principal.kind is PrincipalKind.ANONYMOUS:
        allowed = ANONYMOUS_ACE
        if getattr(policy, "EveryoneIncludesAnonymous", 0):
            allowed |= GENERIC_EXECUTE_MAPPED
        return allowed
    return GENERIC_EXECUTE_MAPPED | (POLICY_ALL_ACCESS if principal.is_admin else 0)


def granted_access(desired: int, principal: Principal, policy: object) -> int | None:
    """The GrantedAccess of a new policy handle (MS-LSAD 3.1.4.2.1), or None: access denied.
    ACCESS_SYSTEM_SECURITY needs SeSecurityPrivilege, which Administrators hold."""
    mask = map_generic(desired)
    want = mask & ~MAXIMUM_ALLOWED
    allowed = _allowed(principal, policy)
    grantable = allowed | (ACCESS_SYSTEM_SECURITY if principal.is_admin else 0)
    if want & ~grantable:
        return None
    return allowed | want if mask & MAXIMUM_ALLOWED else want


# -- helpers ------------------------------------------------------------------------------------------

def _principal(call: "CallContext") -> Principal:
    return call.principal if call.principal is not None else Principal(PrincipalKind.ANONYMOUS)


def _directory(call: "CallContext") -> Directory:
    """The server's SAM (rpc/directory.py); a server built without one faults the call."""
    directory = getattr(call.server, "directory", None)
    if directory is None:
        raise RpcFault(FaultStatus.NCA_S_FAULT_UNSPEC, "no account database")
    return directory  # type: ignore[no-any-return]


def _finish(call: "CallContext", w: NdrWriter, status: int) -> bytes:
    w.u32(status)
    call.status = status
    return w.getvalue()


def _policy_handle(call: "CallContext", handle: bytes) -> PolicyHandle | None:
    return call.lookup(handle, PolicyHandle)  # type: ignore[no-any-return]


# -- LsarOpenPolicy (6), LsarOpenPolicy2 (44), LsarClose (0) ---------------------------------------------

def _open(call: "CallContext", r: NdrReader, *, wide: bool) -> bytes:
    """MS-LSAD 3.1.4.4.1 / 3.1.4.4.2; SystemName is ignored: one wchar in OpenPolicy, a string in
    OpenPolicy2."""
    r.unique(NdrReader.wstr if wide else NdrReader.u16)
    root_directory = read_object_attributes(r)
    desired = r.u32()
    w = NdrWriter()
    if root_directory or desired == 0:
        w.handle(NULL_HANDLE)
        return _finish(call, w, NtStatus.STATUS_INVALID_PARAMETER)
    granted = granted_access(desired, _principal(call), call.server.policy)
    if granted is None:
        w.handle(NULL_HANDLE)
        return _finish(call, w, NtStatus.STATUS_ACCESS_DENIED)
    w.handle(call.new_handle(PolicyHandle(granted)))
    return _finish(call, w, NtStatus.STATUS_SUCCESS)


def open_policy(call: "CallContext", r: NdrReader) -> bytes:
    return _open(call, r, wide=False)


def open_policy2(call: "CallContext", r: NdrReader) -> bytes:
    return _open(call, r, wide=True)


def _deny_open(call: "CallContext", r: NdrReader, status: int) -> bytes:
    w = NdrWriter()
    w.handle(NULL_HANDLE)
    return _finish(call, w, status)


def close(call: "CallContext", r: NdrReader) -> bytes:
    """MS-LSAD 3.1.4.9.4: the handle is freed and returned zeroed."""
    handle = r.handle()
    w = NdrWriter()
    if _policy_handle(call, handle) is None:
        w.handle(handle)
        return _finish(call, w, NtStatus.STATUS_INVALID_HANDLE)
    call.close_handle(handle)
    w.handle(NULL_HANDLE)
    return _finish(call, w, NtStatus.STATUS_SUCCESS)


def _deny_close(call: "CallContext", r: NdrReader, status: int) -> bytes:
    w = NdrWriter()
    w.handle(r.handle())
    return _finish(call, w, status)


# -- LsarQueryInformationPolicy (7), LsarQueryInformationPolicy2 (46) ----------------------------------

def _account_domain(w: NdrWriter, call: "CallContext") -> None:
    """LSAPR_POLICY_ACCOUNT_DOM_INFO (MS-LSAD 2.2.4.6)."""
    directory = _directory(call)
    with w.struct():
        write_unicode_string(w, directory.domain_name, large=True)
        w.unique(directory.machine_sid, NdrWriter.sid)


def _primary_domain(w: NdrWriter, call: "CallContext") -> None:
    """LSAPR_POLICY_PRIMARY_DOM_INFO (MS-LSAD 2.2.4.5): the workgroup, no SID (<41>)."""
    with w.struct():
        write_unicode_string(w, call.server.config.server.workgroup, large=True)
        w.unique(None, NdrWriter.sid)


def _dns_domain(w: NdrWriter, call: "CallContext") -> None:
    """LSAPR_POLICY_DNS_DOMAIN_INFO (MS-LSAD 2.2.4.14) of a workgroup member (<41>)."""
    with w.struct():
        write_unicode_string(w, call.server.config.server.workgroup, large=True)
        write_unicode_string(w, None)  # DnsDomainName: empty
        write_unicode_string(w, None)  # DnsForestName: empty
        w.guid(uuid.UUID(int=0))  # DomainGuid
        w.unique(None, NdrWriter.sid)


_POLICY_INFO: dict[int, Callable[[NdrWriter, "CallContext"], None]] = {
    POLICY_PRIMARY_DOMAIN: _primary_domain,
    POLICY_ACCOUNT_DOMAIN: _account_domain,
    POLICY_DNS_DOMAIN: _dns_domain,
    POLICY_DNS_DOMAIN_INT: _dns_domain,
    POLICY_LOCAL_ACCOUNT_DOMAIN: _account_domain,
}


def query_information_policy(call: "CallContext", r: NdrReader) -> bytes:
    """MS-LSAD 3.1.4.4.3 / 3.1.4.4.4: ``[out] PLSAPR_POLICY_INFORMATION*``, a unique pointer to the
    union (its discriminant first, as a 2-byte enum)."""
    handle = r.handle()
    level = r.enum16()
    call.authorize(level=level)
    w = NdrWriter()
    policy = _policy_handle(call, handle)
    writer = _POLICY_INFO.get(level)
    if policy is None or writer is None or not policy.allows(POLICY_VIEW_LOCAL_INFORMATION):
        w.unique(None, NdrWriter.u32)
        status = (NtStatus.STATUS_INVALID_HANDLE if policy is None else
                  NtStatus.STATUS_INVALID_PARAMETER if writer is None else NtStatus.STATUS_ACCESS_DENIED)
        return _finish(call, w, status)

    def union(w: NdrWriter, level: int) -> None:
        w.enum16(level)
        writer(w, call)

    w.unique(level, union)
    call.returned = 1
    return _finish(call, w, NtStatus.STATUS_SUCCESS)


def _deny_query(call: "CallContext", r: NdrReader, status: int) -> bytes:
    w = NdrWriter()
    w.unique(None, NdrWriter.u32)
    return _finish(call, w, status)


# -- LsarLookupSids (15), LsarLookupSids2 (57), LsarLookupSids3 (76) ------------------------------------

def _write_sids_failure(call: "CallContext", w: NdrWriter, status: int, *, ex: bool) -> bytes:
    """An error other than NONE_MAPPED: no ReferencedDomains, no names (MS-LSAT 3.1.4.9)."""
    write_ref_domains(w, None)
    write_translated_names(w, [], ex=ex)
    w.u32(0)
    call.returned = 0
    return _finish(call, w, status)


def _lookup_sids(call: "CallContext", r: NdrReader, *, ex: bool) -> bytes:
    handle = r.handle()
    sids = read_sid_enum_buffer(r)
    skip_translated_names(r, ex=ex)
    level = r.enum16()
    r.u32()  # MappedCount: ignored on input
    if ex:
        r.u32()  # LookupOptions: reserved, ignored (MS-LSAT 3.1.4.10)
        r.u32()  # ClientRevision
    w = NdrWriter()
    policy = _policy_handle(call, handle)
    if policy is None:
        return _write_sids_failure(call, w, NtStatus.STATUS_INVALID_HANDLE, ex=ex)
    if not policy.allows(POLICY_LOOKUP_NAMES):
        return _write_sids_failure(call, w, NtStatus.STATUS_ACCESS_DENIED, ex=ex)
    if sids is None or any(s is None or s.revision != 1 for s in sids) or level != lookup.LOOKUP_WKSTA:
        return _write_sids_failure(call, w, NtStatus.STATUS_INVALID_PARAMETER, ex=ex)
    domains, results, mapped = lookup.translate_sids(_directory(call), sids)  # type: ignore[arg-type]
    write_ref_domains(w, domains.entries)
    write_translated_names(w, [(x.use, x.name, x.domain_index) for x in results], ex=ex)
    w.u32(mapped)
    call.returned = mapped
    return _finish(call, w, lookup.lookup_status(mapped, len(results)))


def lookup_sids(call: "CallContext", r: NdrReader) -> bytes:
    """MS-LSAT 3.1.4.11."""
    return _lookup_sids(call, r, ex=False)


def lookup_sids2(call: "CallContext", r: NdrReader) -> bytes:
    """MS-LSAT 3.1.4.10."""
    return _lookup_sids(call, r, ex=True)


def _deny_sids(ex: bool) -> Callable[["CallContext", NdrReader, int], bytes]:
    def deny(call: "CallContext", r: NdrReader, status: int) -> bytes:
        return _write_sids_failure(call, NdrWriter(), status, ex=ex)
    return deny


def secure_channel_only(call: "CallContext", r: NdrReader) -> bytes:
    """LsarLookupSids3 / LsarLookupNames4 (MS-LSAT 3.1.4.9, 3.1.4.5) on a named pipe (rule 6)."""
    raise RpcFault(FaultStatus.ACCESS_DENIED, "needs a Netlogon secure channel over TCP",
                   did_not_execute=True)


# -- LsarLookupNames (14), LsarLookupNames2 (58), LsarLookupNames3 (68) ---------------------------------

def _write_names_failure(call: "CallContext", w: NdrWriter, status: int, *, form: str) -> bytes:
    write_ref_domains(w, None)
    write_translated_sids(w, [], form=form)
    w.u32(0)
    call.returned = 0
    return _finish(call, w, status)


def _lookup_names(call: "CallContext", r: NdrReader, *, form: str, extended: bool) -> bytes:
    """``form``: "sid" (LsarLookupNames), "ex" (2), "ex2" (3); ``extended``: LookupOptions and
    ClientRevision follow."""
    handle = r.handle()
    count = r.u32()
    if count > MAX_LOOKUP_NAMES:  # [in, range(0,1000)] Count: an NDR error
        raise MalformedMessage(f"NDR: Count {count} beyond [range(0,{MAX_LOOKUP_NAMES})]")
    names = read_names(r, count)
    skip_translated_sids(r, form=form)
    level = r.enum16()
    r.u32()  # MappedCount: ignored on input
    options = r.u32() if extended else 0
    if extended:
        r.u32()  # ClientRevision
    w = NdrWriter()
    policy = _policy_handle(call, handle)
    if policy is None:
        return _write_names_failure(call, w, NtStatus.STATUS_INVALID_HANDLE, form=form)
    if not policy.allows(POLICY_LOOKUP_NAMES):
        return _write_names_failure(call, w, NtStatus.STATUS_ACCESS_DENIED, form=form)
    if (not all(n.valid for n in names) or level not in lookup.LOOKUP_LEVELS
            or (form == "ex2" and options & LOOKUP_OPTIONS_NO_ISOLATED and level != lookup.LOOKUP_WKSTA)):
        return _write_names_failure(call, w, NtStatus.STATUS_INVALID_PARAMETER, form=form)
    domains, results, mapped = lookup.translate_names(_directory(call), [n.text or "" for n in names], level)
    write_ref_domains(w, domains.entries)
    write_translated_sids(w, [(x.use, x.sid, x.domain_index, x.relative_id) for x in results], form=form)
    w.u32(mapped)
    call.returned = mapped
    return _finish(call, w, lookup.lookup_status(mapped, len(results)))


def lookup_names(call: "CallContext", r: NdrReader) -> bytes:
    """MS-LSAT 3.1.4.8."""
    return _lookup_names(call, r, form="sid", extended=False)


def lookup_names2(call: "CallContext", r: NdrReader) -> bytes:
    """MS-LSAT 3.1.4.7 (LookupOptions and ClientRevision are ignored)."""
    return _lookup_names(call, r, form="ex", extended=True)


def lookup_names3(call: "CallContext", r: NdrReader) -> bytes:
    """MS-LSAT 3.1.4.6."""
    return _lookup_names(call, r, form="ex2", extended=True)


def _deny_names(form: str) -> Callable[["CallContext", NdrReader, int], bytes]:
    def deny(call: "CallContext", r: NdrReader, status: int) -> bytes:
        return _write_names_failure(call, NdrWriter(), status, form=form)
    return deny


# -- LsarGetUserName (45) ---------------------------------------------------------------------------

def _read_get_user_name(r: NdrReader) -> bool:
    """The [in] parameters (all ignored, MS-LSAT 3.1.4.4); True when DomainName is non-NULL."""
    r.unique(NdrReader.wstr)  # SystemName
    r.unique(NdrReader.unicode_string)  # *UserName
    wants_domain = r.ptr() != 0
    if wants_domain:
        r.unique(NdrReader.unicode_string)  # *DomainName
    return wants_domain


def _who(call: "CallContext") -> tuple[str, str]:
    principal = _principal(call)
    if principal.kind is PrincipalKind.ANONYMOUS:
        return "ANONYMOUS LOGON", lookup.NT_AUTHORITY
    directory = _directory(call)
    if principal.kind is PrincipalKind.GUEST:
        guest = directory.by_rid(directory.machine_sid, GUEST_RID)
        return (guest.name if guest else "Guest"), directory.domain_name
    account = directory.user(principal.name)
    return (account.name if account else principal.name), directory.domain_name


def get_user_name(call: "CallContext", r: NdrReader) -> bytes:
    wants_domain = _read_get_user_name(r)
    user, domain = _who(call)
    w = NdrWriter()
    w.unique(user, NdrWriter.unicode_string)
    w.unique(domain if wants_domain else None, lambda w, d: w.unique(d, NdrWriter.unicode_string))
    return _finish(call, w, NtStatus.STATUS_SUCCESS)


def _deny_get_user_name(call: "CallContext", r: NdrReader, status: int) -> bytes:
    wants_domain = _read_get_user_name(r)
    w = NdrWriter()
    w.unique(None, NdrWriter.unicode_string)
    # DomainName: as given (NULL stays NULL), pointing to a NULL PRPC_UNICODE_STRING
    w.unique(0 if wants_domain else None, lambda w, _: w.unique(None, NdrWriter.unicode_string))
    return _finish(call, w, status)


# -- LsarEnumerateAccounts (11) -------------------------------------------------------------------------

def privileged_sids(directory: Directory) -> list[Sid]:
    """Rule 8, in the order the enumeration returns them."""
    return [directory.machine_sid.child(s) if isinstance(s, int) else Sid.parse(s)
            for s, _ in PRIVILEGED_ACCOUNTS]


def _sid_size(sid: Sid) -> int:
    """An account's share of PreferedMaximumLength: its pointer and its RPC_SID."""
    return 4 + 4 + 8 + 4 * len(sid.sub_authorities)


def enumerate_accounts(call: "CallContext", r: NdrReader) -> bytes:
    handle = r.handle()
    context = r.u32()
    preferred = r.u32()
    w = NdrWriter()
    policy = _policy_handle(call, handle)
    if policy is None or not policy.allows(POLICY_VIEW_LOCAL_INFORMATION):
        w.u32(context)
        write_account_sids(w, [])
        call.returned = 0
        return _finish(call, w, NtStatus.STATUS_INVALID_HANDLE if policy is None else NtStatus.STATUS_ACCESS_DENIED)
    sids = privileged_sids(_directory(call))
    if context >= len(sids):
        w.u32(context)
        write_account_sids(w, [])
        call.returned = 0
        return _finish(call, w, STATUS_NO_MORE_ENTRIES)
    end, size = context, 0
    while end < len(sids) and (end == context or size < preferred):
        size += _sid_size(sids[end])
        end += 1
    w.u32(end)
    write_account_sids(w, sids[context:end])
    call.returned = end - context
    return _finish(call, w, STATUS_MORE_ENTRIES if end < len(sids) else NtStatus.STATUS_SUCCESS)


def _deny_enumerate_accounts(call: "CallContext", r: NdrReader, status: int) -> bytes:
    r.handle()
    context = r.u32()
    w = NdrWriter()
    w.u32(context)
    write_account_sids(w, [])
    return _finish(call, w, status)


OPERATIONS: dict[int, Operation] = {
    0: Operation("LsarClose", close, _deny_close),
    6: Operation("LsarOpenPolicy", open_policy, _deny_open),
    7: Operation("LsarQueryInformationPolicy", query_information_policy, _deny_query),
    11: Operation("LsarEnumerateAccounts", enumerate_accounts, _deny_enumerate_accounts),
    14: Operation("LsarLookupNames", lookup_names, _deny_names("sid")),
    15: Operation("LsarLookupSids", lookup_sids, _deny_sids(False)),
    44: Operation("LsarOpenPolicy2", open_policy2, _deny_open),
    45: Operation("LsarGetUserName", get_user_name, _deny_get_user_name),
    46: Operation("LsarQueryInformationPolicy2", query_information_policy, _deny_query),
    57: Operation("LsarLookupSids2", lookup_sids2, _deny_sids(True)),
    58: Operation("LsarLookupNames2", lookup_names2, _deny_names("ex")),
    68: Operation("LsarLookupNames3", lookup_names3, _deny_names("ex2")),
    76: Operation("LsarLookupSids3", secure_channel_only, deny_with_fault),
    77: Operation("LsarLookupNames4", secure_channel_only, deny_with_fault),
}

INTERFACE = Interface("lsarpc", "12345778-1234-abcd-ef00-0123456789ab", (0, 0), OPERATIONS)
