"""samr (MS-SAMR): the Security Account Manager as rpcclient, impacket's samrdump and
enum4linux-ng read it, served from the server's Directory (rpc.directory).

Rules:
1. The operations served, by opnum (MS-SAMR 3.1.5): Connect 0, CloseHandle 1,
   LookupDomainInSamServer 5, EnumerateDomainsInSamServer 6, OpenDomain 7,
   QueryInformationDomain 8 and 46, EnumerateGroupsInDomain 11, EnumerateUsersInDomain 13,
   EnumerateAliasesInDomain 15, GetAliasMembership 16, LookupNamesInDomain 17,
   LookupIdsInDomain 18, OpenGroup 19, QueryInformationGroup 20, GetMembersInGroup 25,
   OpenAlias 27, QueryInformationAlias 28, GetMembersInAlias 33, OpenUser 34,
   QueryInformationUser 36 and 47, GetGroupsForUser 39, QueryDisplayInformation 40, 48 and 51,
   GetDomainPasswordInformation 56, Connect2 57, Connect4 62, Connect5 64. Nothing that
   writes: any other opnum faults nca_s_op_rng_error.
2. The policy table (policy/rpc_rules.py, class SAMR) decides every call before it runs:
   null sessions need RestrictAnonymous = 0 and RestrictAnonymousSAM = 0. A refused call
   answers STATUS_ACCESS_DENIED with its [out] parameters NULL or zero (a zero handle for the
   Connect* and Open* calls), never a fault.
3. Handles, access and the shared structures: _samr_common. Domain-handle operations:
   _samr_domain. User/group/alias operations: _samr_account. Information levels: _samr_info.
4. No password material ever leaves: there is none in the Directory, and the levels that would
   carry it are refused (_samr_info rule 3).
"""

from __future__ import annotations

from typing import Any

from ..ndr import NdrReader, NdrWriter, Sid
from ..pdu import FaultStatus, RpcFault
from ..pipe import CallContext, Interface, Operation
from ._samr_account import ACCOUNT_OPS
from ._samr_common import (
    ANY_HANDLE,
    DOMAIN,
    SAM_SERVER_ENUMERATE_DOMAINS,
    SAM_SERVER_LOOKUP_DOMAIN,
    SERVER,
    STATUS_ACCESS_DENIED,
    STATUS_INVALID_HANDLE,
    STATUS_NO_SUCH_DOMAIN,
    DomainHandle,
    SamrError,
    SamrOp,
    ServerHandle,
    finish,
    handle_of,
    is_admin,
    null_handle,
    operation,
    write_enumeration,
)
from ._samr_domain import DOMAIN_OPS

__all__ = ["INTERFACE", "OPERATIONS"]

SERVER_NAME_LIMIT = 1024  # UTF-16 units of a ServerName; Windows ignores it, so do we
SAM_REVISION_3 = 3  # SAMPR_REVISION_INFO_V1.Revision (MS-SAMR 3.1.5.1.1)


# -- SamrConnect (0), SamrConnect2 (57), SamrConnect4 (62), SamrConnect5 (64): MS-SAMR 3.1.5.1.1-4 -----

def _server_name(r: NdrReader) -> None:
    r.unique(lambda r: r.wstr(limit=SERVER_NAME_LIMIT))


def _parse_connect(r: NdrReader) -> int:
    r.unique(NdrReader.u16)  # PSAMPR_SERVER_NAME2: a pointer to one wchar_t, ignored
    return r.u32()


def _parse_connect2(r: NdrReader) -> int:
    _server_name(r)
    return r.u32()


def _parse_connect4(r: NdrReader) -> int:
    _server_name(r)
    r.u32()  # ClientRevision
    return r.u32()


def _open_server(call: CallContext, desired: int) -> bytes:
    granted = SERVER.grant(desired, admin=is_admin(call))
    if granted is None:
        raise SamrError(STATUS_ACCESS_DENIED)
    return call.new_handle(ServerHandle(granted))


def _connect(call: CallContext, desired: int) -> bytes:
    w = NdrWriter()
    w.handle(_open_server(call, desired))
    return finish(call, w)


def _parse_connect5(r: NdrReader) -> int:
    _server_name(r)
    desired, version = r.u32(), r.u32()
    tag = r.u32()  # SAMPR_REVISION_INFO: a union with a 32-bit discriminant, V1 its only arm
    if tag != version:
        raise RpcFault(FaultStatus.NCA_S_FAULT_NDR, "InVersion differs from the union's discriminant")
    if tag != 1:
        raise RpcFault(FaultStatus.RPC_S_INVALID_TAG, f"SAMPR_REVISION_INFO {tag}")
    r.u32()  # Revision
    r.u32()  # SupportedFeatures
    return desired


def _write_revision(w: NdrWriter, revision: int) -> None:
    """OutVersion 1 and SAMPR_REVISION_INFO_V1 {Revision, SupportedFeatures 0 (not a DC)}."""
    w.u32(1)
    w.u32(1)
    w.u32(revision)
    w.u32(0)


def _connect5(call: CallContext, desired: int) -> bytes:
    handle = _open_server(call, desired)
    w = NdrWriter()
    _write_revision(w, SAM_REVISION_3)
    w.handle(handle)
    return finish(call, w)


def _empty_connect5(w: NdrWriter, _args: Any) -> None:
    _write_revision(w, 0)
    null_handle(w)


# -- SamrCloseHandle (1), MS-SAMR 3.1.5.13.1 -------------------------------------------------------------

def _close(call: CallContext, handle: bytes) -> bytes:
    if call.lookup(handle, ANY_HANDLE) is None:
        raise SamrError(STATUS_INVALID_HANDLE)
    call.close_handle(handle)
    w = NdrWriter()
    null_handle(w)
    return finish(call, w)


def _echo_handle(w: NdrWriter, handle: bytes) -> None:
    w.handle(handle)  # [in, out]: an unknown handle comes back as it was


# -- SamrEnumerateDomainsInSamServer (6), SamrLookupDomainInSamServer (5), SamrOpenDomain (7) ------------

def _parse_enum_domains(r: NdrReader) -> tuple[bytes, int, int]:
    return r.handle(), r.u32(), r.u32()  # ServerHandle, EnumerationContext, PreferedMaximumLength


def _enum_domains(call: CallContext, args: tuple[bytes, int, int]) -> bytes:
    """MS-SAMR 3.1.5.2.1: the account domain and Builtin fit any buffer; one page."""
    handle, context, _max = args
    handle_of(call, handle, ServerHandle, SAM_SERVER_ENUMERATE_DOMAINS)
    domains = call.server.directory.domains()
    page = [(i, name) for i, (name, _sid) in enumerate(domains)][context:]
    w = NdrWriter()
    w.u32(len(domains))
    write_enumeration(w, page)
    w.u32(len(page))
    return finish(call, w, returned=len(page))


def _empty_enum(w: NdrWriter, _args: Any) -> None:
    w.u32(0)
    write_enumeration(w, None)
    w.u32(0)


def _parse_lookup_domain(r: NdrReader) -> tuple[bytes, str | None]:
    return r.handle(), r.unicode_string()


def _lookup_domain(call: CallContext, args: tuple[bytes, str | None]) -> bytes:
    """MS-SAMR 3.1.5.1.8: the domain's SID by name, case-insensitively."""
    handle, name = args
    handle_of(call, handle, ServerHandle, SAM_SERVER_LOOKUP_DOMAIN)
    sid = call.server.directory.domain_sid_of(name) if name else None
    if sid is None:
        raise SamrError(STATUS_NO_SUCH_DOMAIN)
    w = NdrWriter()
    w.unique(sid, NdrWriter.sid)
    return finish(call, w, returned=1)


def _null_pointer(w: NdrWriter, _args: Any) -> None:
    w.unique(None, NdrWriter.u32)


def _parse_open_domain(r: NdrReader) -> tuple[bytes, int, Sid]:
    return r.handle(), r.u32(), r.sid()


def _open_domain(call: CallContext, args: tuple[bytes, int, Sid]) -> bytes:
    """MS-SAMR 3.1.5.1.5: one of the two domains this SAM holds."""
    handle, desired, sid = args
    handle_of(call, handle, ServerHandle, SAM_SERVER_LOOKUP_DOMAIN)
    if call.server.directory.domain_name_of(sid) is None:
        raise SamrError(STATUS_NO_SUCH_DOMAIN)
    granted = DOMAIN.grant(desired, admin=is_admin(call))
    if granted is None:
        raise SamrError(STATUS_ACCESS_DENIED)
    w = NdrWriter()
    w.handle(call.new_handle(DomainHandle(granted, sid)))
    return finish(call, w)


# -- SamrGetDomainPasswordInformation (56), MS-SAMR 3.1.5.13.3 ----------------------------------------------

def _parse_get_pw_info(r: NdrReader) -> None:
    r.unique(lambda r: r.unicode_string())  # Unused


def _write_pw_info(w: NdrWriter, min_length: int, properties: int) -> None:
    """USER_DOMAIN_PASSWORD_INFORMATION {MinPasswordLength, PasswordProperties}."""
    w.u16(min_length)
    w.u32(properties)


def _get_pw_info(call: CallContext, _args: None) -> bytes:
    pp = call.server.directory.password_policy
    w = NdrWriter()
    _write_pw_info(w, pp.min_length, pp.properties)
    return finish(call, w)


# -- the interface ------------------------------------------------------------------------------------------

def _parse_handle(r: NdrReader) -> bytes:
    return r.handle()


SERVER_OPS: dict[int, SamrOp[Any]] = {
    0: SamrOp("SamrConnect", _parse_connect, _connect, null_handle),
    1: SamrOp("SamrCloseHandle", _parse_handle, _close, _echo_handle),
    5: SamrOp("SamrLookupDomainInSamServer", _parse_lookup_domain, _lookup_domain, _null_pointer),
    6: SamrOp("SamrEnumerateDomainsInSamServer", _parse_enum_domains, _enum_domains, _empty_enum),
    7: SamrOp("SamrOpenDomain", _parse_open_domain, _open_domain, null_handle),
    56: SamrOp("SamrGetDomainPasswordInformation", _parse_get_pw_info, _get_pw_info,
               lambda w, _a: _write_pw_info(w, 0, 0)),
    57: SamrOp("SamrConnect2", _parse_connect2, _connect, null_handle),
    62: SamrOp("SamrConnect4", _parse_connect4, _connect, null_handle),
    64: SamrOp("SamrConnect5", _parse_connect5, _connect5, _empty_connect5),
}

OPERATIONS: dict[int, Operation] = {
    opnum: operation(op) for opnum, op in sorted({**SERVER_OPS, **DOMAIN_OPS, **ACCOUNT_OPS}.items())
}

INTERFACE = Interface("samr", "12345778-1234-abcd-ef00-0123456789ac", (1, 0), OPERATIONS)
