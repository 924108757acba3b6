"""samr (MS-SAMR) building blocks: statuses, access rights, handle objects, the operation
wrapper, and the [out] structures several operations share.

Rules:
1. An operation is ``parse`` (every [in] parameter, in IDL order, bounded by the IDL's
   ``range``), ``run`` (the work; returns the marshalled [out] parameters and status) and
   ``empty`` (the [out] parameters with NULL pointers and zero counts). ``operation()`` turns
   them into an ``rpc.pipe.Operation``: a ``SamrError`` raised by ``run`` (invalid handle, no
   such user, ...) and a policy denial both answer ``empty`` + the status, so a refused or
   failed call is still a well-formed stub, as Windows' and Samba's are. The [in] parameters
   are unmarshalled in full before anything is decided: a malformed stub is a fault
   (nca_s_fault_ndr) whoever sends it.
2. Handles (MS-SAMR 3.1.1.10, 3.1.2.1): a server handle, then domain, user, group and alias
   handles, each an object in the pipe's handle table recording the access granted at open.
   A handle of the wrong kind, one from another interface on the same pipe (lsarpc shares the
   lsass endpoint) or a closed one is STATUS_INVALID_HANDLE; an operation needing a right the
   handle lacks is STATUS_ACCESS_DENIED (MS-SAMR 3.1.2.2).
3. Access at open (MS-SAMR 3.1.5.1.1 and the Open* methods, with the default security
   descriptors of 3.1.1.6): Administrators are granted the object's ALL_ACCESS; everyone else,
   a null session included once the policy table let it call at all, gets READ | EXECUTE.
   Generic rights are mapped (MS-SAMR 2.2.1.*); MAXIMUM_ALLOWED adds all that is allowed; a
   specific right beyond what is allowed refuses the open with STATUS_ACCESS_DENIED.
4. Nothing here returns password material: no structure in this package carries a hash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ...status import MalformedMessage, NtStatus
from ..directory import SamObject, SidType
from ..ndr import NULL_HANDLE, NdrReader, NdrWriter, Sid
from ..pdu import FaultStatus, RpcFault
from ..pipe import CallContext, Operation

__all__ = [
    "ALIAS", "DOMAIN", "GROUP", "SERVER", "USER", "AliasHandle", "DomainHandle", "GroupHandle",
    "ObjectRights", "SamrError", "SamrOp", "ServerHandle", "UserHandle", "finish", "handle_of",
    "operation", "read_count", "write_enumeration", "write_sid_array", "write_ulong_array",
]

A = TypeVar("A")

# NTSTATUS values SAMR returns (MS-ERREF 2.3.1); status.NtStatus is the SMB core's table.
STATUS_SUCCESS = 0x00000000
STATUS_MORE_ENTRIES = NtStatus.STATUS_MORE_ENTRIES
STATUS_SOME_NOT_MAPPED = NtStatus.STATUS_SOME_NOT_MAPPED
STATUS_INVALID_INFO_CLASS = 0xC0000003
STATUS_INVALID_HANDLE = 0xC0000008
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_NO_SUCH_USER = 0xC0000064
STATUS_NO_SUCH_GROUP = 0xC0000066
STATUS_NONE_MAPPED = 0xC0000073
STATUS_NOT_SUPPORTED = 0xC00000BB
STATUS_NO_SUCH_DOMAIN = 0xC00000DF
STATUS_NO_SUCH_ALIAS = 0xC0000151

# Access masks (MS-DTYP 2.4.3; MS-SAMR 2.2.1.1-2.2.1.7)
DELETE, READ_CONTROL, WRITE_DAC, WRITE_OWNER = 0x00010000, 0x00020000, 0x00040000, 0x00080000
MAXIMUM_ALLOWED = 0x02000000
GENERIC_ALL, GENERIC_EXECUTE, GENERIC_WRITE, GENERIC_READ = 0x10000000, 0x20000000, 0x40000000, 0x80000000

SAM_SERVER_CONNECT, SAM_SERVER_ENUMERATE_DOMAINS, SAM_SERVER_LOOKUP_DOMAIN = 0x01, 0x10, 0x20
DOMAIN_READ_PASSWORD_PARAMETERS, DOMAIN_READ_OTHER_PARAMETERS = 0x001, 0x004
DOMAIN_GET_ALIAS_MEMBERSHIP, DOMAIN_LIST_ACCOUNTS, DOMAIN_LOOKUP = 0x080, 0x100, 0x200
USER_READ_GENERAL, USER_READ_PREFERENCES, USER_READ_LOGON, USER_READ_ACCOUNT = 0x001, 0x002, 0x008, 0x010
USER_LIST_GROUPS, USER_READ_GROUP_INFORMATION = 0x100, 0x200
GROUP_READ_INFORMATION, GROUP_LIST_MEMBERS = 0x01, 0x10
ALIAS_LIST_MEMBERS, ALIAS_READ_INFORMATION = 0x04, 0x08

# SE_GROUP_MANDATORY | SE_GROUP_ENABLED_BY_DEFAULT | SE_GROUP_ENABLED (MS-SAMR 2.2.1.10)
GROUP_ATTRIBUTES = 0x00000007


@dataclass(frozen=True, slots=True)
class ObjectRights:
    """One SAM object type's access rights: the generic mapping and what everyone gets."""

    read: int
    write: int
    execute: int
    all: int

    @property
    def everyone(self) -> int:
        return self.read | self.execute

    def grant(self, desired: int, *, admin: bool) -> int | None:
        """The access granted for ``desired`` (rule 3), or None when it must be refused."""
        allowed = self.all if admin else self.everyone
        mapped = desired & 0x00FFFFFF & ~MAXIMUM_ALLOWED
        for bit, rights in ((GENERIC_READ, self.read), (GENERIC_WRITE, self.write),
                            (GENERIC_EXECUTE, self.execute), (GENERIC_ALL, self.all)):
            if desired & bit:
                mapped |= rights
        if desired & 0x01000000 or mapped & ~allowed:  # ACCESS_SYSTEM_SECURITY: never
            return None
        return mapped | (allowed if desired & MAXIMUM_ALLOWED else 0)


# MS-SAMR 2.2.1.3 (server), 2.2.1.4 (domain), 2.2.1.5 (group), 2.2.1.6 (alias), 2.2.1.7 (user)
SERVER = ObjectRights(read=0x00020010, write=0x0002000E, execute=0x00020021, all=0x000F003F)
DOMAIN = ObjectRights(read=0x00020084, write=0x0002047A, execute=0x00020301, all=0x000F07FF)
GROUP = ObjectRights(read=0x00020010, write=0x0002000E, execute=0x00020001, all=0x000F001F)
ALIAS = ObjectRights(read=0x00020004, write=0x00020013, execute=0x00020008, all=0x000F001F)
USER = ObjectRights(read=0x0002031A, write=0x00020044, execute=0x00020041, all=0x000F07FF)


# -- handles (MS-SAMR 3.1.1.10) ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _SamrHandle:
    granted: int


@dataclass(frozen=True, slots=True)
class ServerHandle(_SamrHandle):
    pass


@dataclass(frozen=True, slots=True)
class DomainHandle(_SamrHandle):
    domain_sid: Sid


@dataclass(frozen=True, slots=True)
class _AccountHandle(_SamrHandle):
    domain_sid: Sid
    rid: int


class UserHandle(_AccountHandle):
    __slots__ = ()


class GroupHandle(_AccountHandle):
    __slots__ = ()


class AliasHandle(_AccountHandle):
    __slots__ = ()


ANY_HANDLE = _SamrHandle
H = TypeVar("H", bound=_SamrHandle)


class SamrError(Exception):
    """Raised by an operation's ``run``: the call answers ``empty`` with ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(f"0x{status:08X}")
        self.status = status


def handle_of(call: CallContext, handle: bytes, kind: type[H], need: int = 0) -> H:
    """The open handle of ``kind`` with at least the rights ``need`` (rule 2)."""
    obj = call.lookup(handle, kind)
    if obj is None:
        raise SamrError(STATUS_INVALID_HANDLE)
    if obj.granted & need != need:
        raise SamrError(STATUS_ACCESS_DENIED)
    return obj  # type: ignore[no-any-return]


def account_of(call: CallContext, h: _AccountHandle, kind: SidType) -> SamObject:
    """The account behind an open user/group/alias handle (gone after a reload: no such ...)."""
    obj = call.server.directory.by_rid(h.domain_sid, h.rid)
    if obj is None or obj.kind is not kind:
        raise SamrError({SidType.USER: STATUS_NO_SUCH_USER, SidType.GROUP: STATUS_NO_SUCH_GROUP}
                        .get(kind, STATUS_NO_SUCH_ALIAS))
    return obj  # type: ignore[no-any-return]


def is_admin(call: CallContext) -> bool:
    principal = call.principal
    return principal is not None and principal.is_admin


# -- the operation wrapper (rule 1) -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SamrOp(Generic[A]):
    name: str
    parse: Callable[[NdrReader], A]
    run: Callable[[CallContext, A], bytes]
    empty: Callable[[NdrWriter, A], None]
    level: Callable[[A], int] | None = None  # the information level the policy is asked again with


def _failure(op: SamrOp[Any], args: Any, status: int) -> bytes:
    w = NdrWriter()
    op.empty(w, args)
    w.u32(status)
    return w.getvalue()


def operation(op: SamrOp[Any]) -> Operation:
    def handler(call: CallContext, r: NdrReader) -> bytes:
        args = op.parse(r)
        if op.level is not None:
            call.authorize(level=op.level(args))
        try:
            return op.run(call, args)
        except SamrError as exc:
            call.status, call.returned = exc.status, None
            return _failure(op, args, exc.status)

    def deny(call: CallContext, r: NdrReader, status: int) -> bytes:
        return _failure(op, op.parse(r), status)

    handler.__name__ = deny.__name__ = op.name
    return Operation(op.name, handler, deny)


def finish(call: CallContext, w: NdrWriter, status: int = STATUS_SUCCESS, returned: int | None = None) -> bytes:
    """The return value after the [out] parameters; records status and count for the audit."""
    w.u32(status)
    call.status = status
    if returned is not None:
        call.returned = returned
    return w.getvalue()


def read_count(r: NdrReader, upper: int) -> int:
    """A ``[range(0, upper)]`` count: beyond it is a fault, as the RPC runtime raises it."""
    n = r.u32()
    if n > upper:
        raise RpcFault(FaultStatus.NCA_S_FAULT_INVALID_BOUND, f"count {n} above the IDL's range {upper}")
    return n


def read_handle(r: NdrReader) -> bytes:
    return r.handle()


def null_handle(w: NdrWriter, _args: Any = None) -> None:
    w.handle(NULL_HANDLE)


def check(condition: bool, what: str) -> None:
    """Stub consistency the IDL implies (a conformance that must match a count, ...)."""
    if not condition:
        raise MalformedMessage(f"samr: {what}")


# -- shared [out] structures ----------------------------------------------------------------------------

def write_enumeration(w: NdrWriter, entries: Sequence[tuple[int, str]] | None) -> None:
    """``[out] PSAMPR_ENUMERATION_BUFFER* Buffer`` (MS-SAMR 2.2, SamrEnumerate*): a unique pointer to
    {EntriesRead, [size_is] SAMPR_RID_ENUMERATION*}; None writes the NULL pointer."""

    def entry(w: NdrWriter, e: tuple[int, str]) -> None:
        w.u32(e[0])
        w.unicode_string(e[1])

    def buffer(w: NdrWriter, items: Sequence[tuple[int, str]]) -> None:
        with w.struct():
            w.u32(len(items))
            w.unique(items or None, lambda w, items: w.conformant_array(items, entry))

    w.unique(entries, buffer)


def write_ulong_array(w: NdrWriter, values: Sequence[int]) -> None:
    """SAMPR_ULONG_ARRAY (MS-SAMR 2.2): {Count, [size_is(Count)] unsigned long*}."""
    with w.struct():
        w.u32(len(values))
        w.unique(list(values) or None, lambda w, v: w.conformant_array(v, NdrWriter.u32))


def write_sid_array(w: NdrWriter, sids: Sequence[Sid]) -> None:
    """SAMPR_PSID_ARRAY_OUT (MS-SAMR 2.2): {Count, [size_is(Count)] PSAMPR_SID_INFORMATION}."""
    with w.struct():
        w.u32(len(sids))
        w.unique(list(sids) or None,
                 lambda w, v: w.conformant_array(v, lambda w, sid: w.unique(sid, NdrWriter.sid)))
