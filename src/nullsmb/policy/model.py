"""The vocabulary of the null-session policy: who asks, what for, on what, and the answer.

Rules:
1. Everything here is a frozen value; nothing performs I/O or reads a clock.
2. ``Decision.status`` is a number in the family named by ``Decision.kind``: ``"ntstatus"`` for
   SMB2 (tree connect, CREATE) and for the NTSTATUS-returning RPC interfaces (lsarpc, samr),
   ``"werror"`` for the NET_API_STATUS ones (srvsvc, wkssvc: ERROR_ACCESS_DENIED = 5, which
   Samba calls WERR_ACCESS_DENIED). The caller puts ``status`` where its protocol expects it.
3. ``Decision.rule`` is a Windows setting name (``RestrictAnonymous``, ``NullSessionPipes`` ...) or
   one of the few built-in rules (``Administrators only``, ``any caller``, ``authenticated``,
   ``share access list``, ``IPC$``, ``no rule``), for allow and deny alike; ``reason`` says why in
   words, with the setting's value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from ..status import NtStatus, ntstatus_name, werror_name

__all__ = [
    "ANONYMOUS_SID",
    "Action",
    "Decision",
    "NTSTATUS",
    "Principal",
    "PrincipalKind",
    "Right",
    "RpcCall",
    "ShareRef",
    "Step",
    "WERROR",
    "WERR_ACCESS_DENIED",
    "WERR_OK",
    "status_name",
]

ANONYMOUS_SID = "S-1-5-7"
NTSTATUS = "ntstatus"
WERROR = "werror"
WERR_OK = 0  # NERR_Success
WERR_ACCESS_DENIED = 5  # ERROR_ACCESS_DENIED (MS-ERREF 2.2), Samba's WERR_ACCESS_DENIED


class PrincipalKind(Enum):
    ANONYMOUS = "anonymous"
    GUEST = "guest"
    USER = "user"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    name: str = ""
    groups: tuple[str, ...] = ()

    def memberships(self, everyone_includes_anonymous: bool) -> frozenset[str]:
        """The principal names an access list entry may match (case-folded)."""
        if self.kind is PrincipalKind.ANONYMOUS:
            names = {"anonymous logon"}
            if everyone_includes_anonymous:
                names.add("everyone")
        elif self.kind is PrincipalKind.GUEST:
            names = {"guest", "guests", "everyone"}
        else:
            names = {self.name.casefold(), "everyone", "authenticated users", "users"}
            names.update(g.casefold() for g in self.groups)
        return frozenset(names)

    @property
    def is_admin(self) -> bool:
        return self.kind is PrincipalKind.USER and any(g.casefold() == "administrators" for g in self.groups)

    def describe(self) -> str:
        """``ANONYMOUS LOGON``, ``Guest``, ``user alice (Administrators)``."""
        if self.kind is PrincipalKind.ANONYMOUS:
            return "ANONYMOUS LOGON"
        if self.kind is PrincipalKind.GUEST:
            return self.name or "Guest"
        groups = f" ({', '.join(self.groups)})" if self.groups else ""
        return f"user {self.name}{groups}"


class Right(Enum):
    NONE = 0
    READ = 1
    CHANGE = 2
    FULL = 3


class Action(Enum):
    """What the principal asks for; ``obj`` of ``decide`` depends on it (see ``ShareRef``,
    ``RpcCall``)."""

    TREE_CONNECT = "tree_connect"  # obj: share name (str), ShareRef, or anything with .name/.access
    PIPE_OPEN = "pipe_open"  # obj: pipe name, with or without \PIPE\ (str)
    RPC_CALL = "rpc_call"  # obj: RpcCall, (interface, operation[, level]) or "interface:Operation"


DEFAULT_SHARE_ACCESS: tuple[tuple[str, str], ...] = (("Everyone", "read"),)  # ShareConfig's default


class ShareRef(NamedTuple):
    """A share as the policy sees it. ``is_ipc`` None: decided by the name (``IPC$``)."""

    name: str
    access: tuple[tuple[str, str], ...] = DEFAULT_SHARE_ACCESS
    is_ipc: bool | None = None


class RpcCall(NamedTuple):
    """One RPC operation: interface and operation by their MS-SRVS/-WKST/-LSAD/-LSAT/-SAMR names
    (``"srvsvc"``, ``"NetrShareEnum"``; any case), and the information level where the
    operation has one (``None`` otherwise)."""

    interface: str
    operation: str
    level: int | None = None

    def __str__(self) -> str:
        text = f"{self.interface}:{self.operation}"
        return text if self.level is None else f"{text} level {self.level}"


@dataclass(frozen=True, slots=True)
class Step:
    """One rule consulted: its name, whether the request passed it, and why (with values)."""

    rule: str
    passed: bool
    why: str

    def as_tuple(self) -> tuple[str, bool, str]:
        return (self.rule, self.passed, self.why)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    status: int
    rule: str
    right: Right = Right.NONE
    kind: str = NTSTATUS  # "ntstatus" | "werror": the family of ``status`` (rule 2)
    reason: str = ""

    @property
    def status_name(self) -> str:
        return status_name(self.status, self.kind)


def status_name(status: int, kind: str = NTSTATUS) -> str:
    return werror_name(status) if kind == WERROR else ntstatus_name(status)


def allow(step: Step, kind: str = NTSTATUS, right: Right = Right.NONE) -> Decision:
    ok = WERR_OK if kind == WERROR else NtStatus.STATUS_SUCCESS
    return Decision(True, int(ok), step.rule, right, kind, step.why)


def deny(step: Step, kind: str = NTSTATUS) -> Decision:
    status = WERR_ACCESS_DENIED if kind == WERROR else NtStatus.STATUS_ACCESS_DENIED
    return Decision(False, int(status), step.rule, Right.NONE, kind, step.why)


def share_of(obj: object) -> ShareRef:
    """``decide``'s TREE_CONNECT object as a ShareRef (a str, a ShareRef, or a config/core share)."""
    if isinstance(obj, ShareRef):
        return obj
    if isinstance(obj, str):
        return ShareRef(obj)
    name = getattr(obj, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"a tree connect needs a share name or a share, not {type(obj).__name__}")
    access: Sequence[tuple[str, str]] = getattr(obj, "access", DEFAULT_SHARE_ACCESS)
    return ShareRef(name, tuple(access), getattr(obj, "is_ipc", None))


def rpc_call_of(obj: object) -> RpcCall:
    """``decide``'s RPC_CALL object as an RpcCall: an RpcCall, a 2- or 3-tuple, "iface:Op", or
    the RPC layer's call context (anything with ``op_name`` "iface:Op" and ``level``)."""
    if isinstance(obj, RpcCall):
        return obj
    op_name, level = getattr(obj, "op_name", None), getattr(obj, "level", None)
    if isinstance(op_name, str) and (level is None or (isinstance(level, int) and not isinstance(level, bool))):
        return RpcCall(*rpc_call_of(op_name)[:2], level)
    if isinstance(obj, str):
        interface, colon, operation = obj.partition(":")
        if colon and interface and operation:
            return RpcCall(interface.strip(), operation.strip())
    elif isinstance(obj, tuple) and len(obj) in (2, 3) and all(isinstance(p, str) for p in obj[:2]):
        level = obj[2] if len(obj) == 3 else None
        if level is None or (isinstance(level, int) and not isinstance(level, bool)):
            return RpcCall(obj[0], obj[1], level)
    raise TypeError(f"an RPC call is (interface, operation, level) or 'interface:Operation', not {obj!r}")
