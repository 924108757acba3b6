"""The evidence a probe collects: one ``Outcome`` per operation, grouped per step and per host.

Rules:
1. Frozen values only; nothing here performs I/O. The verdict (``findings.assess``) is a pure
   function of a ``HostEvidence``, and the JSON output (``jsonout``) is a plain walk over it.
2. Every operation the probe tries has an ``Outcome``: ``result`` says what it means for the
   question asked (ok, denied, unavailable, failed, timeout, disconnected, skipped), ``status``
   and ``code`` give the exact value the server answered: an NTSTATUS (MS-ERREF 2.3, e.g.
   ``STATUS_ACCESS_DENIED``), a WERROR (MS-ERREF 2.2, Samba's ``WERR_`` names), an RPC fault
   (C706 appendix E) or bind rejection, or for transport failures an errno name.
3. "denied" is reserved for answers that refuse this principal (ACCESS_DENIED, LOGON_FAILURE,
   ...). "unavailable" means the thing is not there (no such share, pipe, dialect or RPC
   interface). Everything else that failed is "failed", with its status.
4. Principals are kept apart: ``null`` (the anonymous logon), ``guest`` (a random, non-existent
   user name: a guest session if the server maps it), ``user`` (--user). Guest is never null.
5. Bounded: lists of names taken from a server are capped (``MAX_NAMES``), with the full count
   kept beside them.
"""

from __future__ import annotations

import enum
import errno
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..status import NtStatus, ntstatus_name, werror_name

__all__ = [
    "DIALECT_NAMES",
    "GUEST",
    "MAX_NAMES",
    "NULL",
    "PRINCIPALS",
    "USER",
    "DialectProbe",
    "HostEvidence",
    "NtlmInfo",
    "Outcome",
    "PipeProbe",
    "PrincipalAccess",
    "Result",
    "RpcProbe",
    "SessionProbe",
    "ShareProbe",
    "Smb1Probe",
    "Transport",
    "ntstatus_name",
    "werror_name",
]

NULL, GUEST, USER = "null", "guest", "user"
PRINCIPALS = (NULL, GUEST, USER)
MAX_NAMES = 1000
DIALECT_NAMES = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1"}

class Result(str, enum.Enum):
    """What an operation's answer means (rule 3)."""

    OK = "ok"
    DENIED = "denied"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"
    TIMEOUT = "timeout"
    DISCONNECTED = "disconnected"
    SKIPPED = "skipped"


_DENIED_NT = frozenset({
    NtStatus.STATUS_ACCESS_DENIED, NtStatus.STATUS_NETWORK_ACCESS_DENIED, NtStatus.STATUS_LOGON_FAILURE,
    NtStatus.STATUS_ACCOUNT_RESTRICTION, NtStatus.STATUS_ACCOUNT_DISABLED, NtStatus.STATUS_WRONG_PASSWORD,
    NtStatus.STATUS_PRIVILEGE_NOT_HELD, NtStatus.STATUS_NO_SUCH_USER, 0xC000015B, 0xC0000234,
    0xC0000193, 0xC0000071, 0xC000006F, 0xC0000070,
})
_UNAVAILABLE_NT = frozenset({
    NtStatus.STATUS_BAD_NETWORK_NAME, NtStatus.STATUS_OBJECT_NAME_NOT_FOUND,
    NtStatus.STATUS_OBJECT_PATH_NOT_FOUND, NtStatus.STATUS_NO_SUCH_FILE, NtStatus.STATUS_PIPE_NOT_AVAILABLE,
    NtStatus.STATUS_NOT_FOUND, NtStatus.STATUS_NOT_SUPPORTED, NtStatus.STATUS_NOT_IMPLEMENTED,
    NtStatus.STATUS_OBJECT_NAME_INVALID, 0xC002002E,
})
_DENIED_WERR = frozenset({5})
_UNAVAILABLE_WERR = frozenset({50, 124, 2310})


@dataclass(frozen=True, slots=True)
class Outcome:
    """One operation's answer (rule 2). ``kind``: ntstatus, werror, rpc_fault, rpc_bind,
    socket, protocol, probe (a decision of the probe itself, e.g. skipped) or None for success."""

    result: Result
    status: str | None = None
    code: int | None = None
    kind: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.result is Result.OK

    @property
    def denied(self) -> bool:
        return self.result is Result.DENIED

    def evidence(self) -> str:
        """The status as a report shows it: ``STATUS_ACCESS_DENIED``, ``ok``, ``timeout``..."""
        if self.status:
            return self.status
        return "STATUS_SUCCESS" if self.result is Result.OK and self.kind == "ntstatus" else self.result.value

    # -- constructors ----------------------------------------------------------------------------
    @classmethod
    def success(cls, kind: str | None = None, detail: str = "") -> "Outcome":
        if kind == "ntstatus":
            return cls(Result.OK, "STATUS_SUCCESS", 0, kind, detail)
        if kind == "werror":
            return cls(Result.OK, "WERR_OK", 0, kind, detail)
        return cls(Result.OK, None, None, kind, detail)

    @classmethod
    def ntstatus(cls, code: int, detail: str = "") -> "Outcome":
        code = int(code) & 0xFFFFFFFF
        if code in (0, 0x105, 0x107):  # SUCCESS, MORE_ENTRIES, SOME_NOT_MAPPED: answers with data
            result = Result.OK
        elif code in _DENIED_NT:
            result = Result.DENIED
        elif code in _UNAVAILABLE_NT:
            result = Result.UNAVAILABLE
        else:
            result = Result.FAILED
        return cls(result, ntstatus_name(code), code, "ntstatus", detail)

    @classmethod
    def werror(cls, code: int, detail: str = "") -> "Outcome":
        code = int(code) & 0xFFFFFFFF
        if code in (0, 234):
            result = Result.OK
        elif code in _DENIED_WERR:
            result = Result.DENIED
        elif code in _UNAVAILABLE_WERR:
            result = Result.UNAVAILABLE
        else:
            result = Result.FAILED
        return cls(result, werror_name(code), code, "werror", detail)

    @classmethod
    def skipped(cls, why: str) -> "Outcome":
        return cls(Result.SKIPPED, None, None, "probe", why)

    @classmethod
    def timeout(cls, detail: str = "") -> "Outcome":
        return cls(Result.TIMEOUT, None, None, "socket", detail or "no answer in time")

    @classmethod
    def disconnected(cls, detail: str, *, kind: str = "socket", code: int | None = None,
                     status: str | None = None) -> "Outcome":
        return cls(Result.DISCONNECTED, status, code, kind, detail)

    @classmethod
    def from_oserror(cls, exc: OSError) -> "Outcome":
        """A socket-level failure (refused, unreachable, reset) with its errno name."""
        code = exc.errno
        name = errno.errorcode.get(code) if code is not None else None
        text = exc.strerror or str(exc) or type(exc).__name__
        return cls(Result.DISCONNECTED, name, code, "socket", text)


# -- step 1: transport and negotiation -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Smb1Probe:
    """An SMB1-only NEGOTIATE ("NT LM 0.12" alone, MS-CIFS 2.2.4.52)."""

    outcome: Outcome
    offered: bool | None = None  # None: the question could not be answered (timeout ...)
    signing_enabled: bool | None = None
    signing_required: bool | None = None
    extended_security: bool | None = None
    capabilities: int | None = None


@dataclass(frozen=True, slots=True)
class DialectProbe:
    """An SMB2 NEGOTIATE offering exactly one dialect (MS-SMB2 2.2.3, 2.2.4)."""

    dialect: str
    outcome: Outcome
    offered: bool | None = None
    signing_required: bool | None = None
    capabilities: int | None = None
    encryption: bool | None = None  # 3.0/3.0.2: the ENCRYPTION capability; 3.1.1: a cipher chosen
    cipher: str | None = None
    server_guid: str | None = None


@dataclass(frozen=True, slots=True)
class NtlmInfo:
    """The NTLM CHALLENGE_MESSAGE of an SPNEGO SESSION_SETUP (MS-NLMP 2.2.1.2, 2.2.2.1)."""

    outcome: Outcome
    target_name: str | None = None
    netbios_computer: str | None = None
    netbios_domain: str | None = None
    dns_computer: str | None = None
    dns_domain: str | None = None
    dns_tree: str | None = None
    os_version: str | None = None  # "10.0 build 20348" from the VERSION field (MS-NLMP 2.2.2.10)


@dataclass(frozen=True, slots=True)
class Transport:
    smb1: Smb1Probe
    dialects: tuple[DialectProbe, ...]
    ntlm: NtlmInfo

    @property
    def offered_dialects(self) -> tuple[str, ...]:
        return tuple(d.dialect for d in self.dialects if d.offered)

    @property
    def signing_required(self) -> bool | None:
        seen = [d.signing_required for d in self.dialects if d.offered and d.signing_required is not None]
        return any(seen) if seen else None

    @property
    def encryption(self) -> bool | None:
        seen = [d.encryption for d in self.dialects if d.offered and d.encryption is not None]
        return any(seen) if seen else None

    @property
    def server_guid(self) -> str | None:
        return next((d.server_guid for d in self.dialects if d.server_guid), None)


# -- step 2: sessions --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SessionProbe:
    """One SESSION_SETUP (MS-SMB2 2.2.5/2.2.6): a null session, a random user, or --user."""

    principal: str
    user: str
    outcome: Outcome
    established: bool = False
    is_guest: bool = False  # SMB2_SESSION_FLAG_IS_GUEST
    is_null_flag: bool = False  # SMB2_SESSION_FLAG_IS_NULL (Windows never sets it)
    session_flags: int = 0
    dialect: str | None = None
    encrypted: bool = False


# -- steps 3-5, per principal ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ShareProbe:
    """A tree connect (MS-SMB2 2.2.9/2.2.10) and, for a disk share, a root listing and, with
    --write-tests only, the create-and-delete of one temporary file."""

    name: str
    source: str  # "listed" (srvsvc), "ipc", "well-known"
    connect: Outcome
    listed_type: int | None = None  # STYPE_* from srvsvc (MS-SRVS 2.2.2.4)
    remark: str | None = None
    share_type: str | None = None  # "disk", "pipe", "print" from the TREE_CONNECT response
    share_flags: int | None = None
    maximal_access: int | None = None
    listing: Outcome | None = None
    entries: int | None = None
    sample: tuple[str, ...] = ()
    write_test: Outcome | None = None

    @property
    def access(self) -> str:
        """writable / readable / connected / denied / absent / error."""
        if self.connect.result is Result.DENIED:
            return "denied"
        if self.connect.result is Result.UNAVAILABLE:
            return "absent"
        if not self.connect.ok:
            return "error"
        if self.write_test is not None and self.write_test.ok:
            return "writable"
        if self.listing is not None and self.listing.ok:
            return "readable"
        return "connected"


@dataclass(frozen=True, slots=True)
class PipeProbe:
    """CREATE of a named pipe on IPC$ (MS-SMB2 2.2.13; MS-SRVS 3.1.6.17 for null sessions)."""

    name: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class RpcProbe:
    """One RPC operation: its interface, MS-* operation name, information level, the exact answer
    and what it returned (``count`` items, a few of them in ``data``)."""

    interface: str
    operation: str
    outcome: Outcome
    level: int | None = None
    count: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PrincipalAccess:
    principal: str
    ipc: Outcome  # the IPC$ tree connect the pipes and RPC ran on
    pipes: tuple[PipeProbe, ...] = ()
    rpc: tuple[RpcProbe, ...] = ()
    shares: tuple[ShareProbe, ...] = ()

    def pipe(self, name: str) -> PipeProbe | None:
        return next((p for p in self.pipes if p.name.casefold() == name.casefold()), None)

    def rpc_op(self, interface: str, operation: str, level: int | None = None) -> RpcProbe | None:
        for r in self.rpc:
            if r.interface == interface and r.operation == operation and (level is None or r.level == level):
                return r
        return None

    def share(self, name: str) -> ShareProbe | None:
        return next((s for s in self.shares if s.name.casefold() == name.casefold()), None)


@dataclass(frozen=True, slots=True)
class HostEvidence:
    """Everything one host answered. ``transport`` is None when the host was not reachable."""

    target: str
    host: str
    port: int
    connect: Outcome
    started: str = ""  # RFC 3339 UTC
    duration_s: float = 0.0
    transport: Transport | None = None
    sessions: tuple[SessionProbe, ...] = ()
    access: tuple[PrincipalAccess, ...] = ()
    incomplete: str | None = None  # why some steps did not run (the host deadline)

    @property
    def reachable(self) -> bool:
        return self.connect.ok

    def session(self, principal: str) -> SessionProbe | None:
        return next((s for s in self.sessions if s.principal == principal), None)

    def access_for(self, principal: str) -> PrincipalAccess | None:
        return next((a for a in self.access if a.principal == principal), None)
