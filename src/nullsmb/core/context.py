"""What a handler sees: the server-wide context, the per-request context and its reply.

Rules:
1. Clock, randomness and storage are injected through ``ServerContext``; nothing here imports
   asyncio, socket or time.
2. A handler returns a ``Reply`` (a status with a normal body: SUCCESS, BUFFER_OVERFLOW,
   MORE_PROCESSING_REQUIRED) or raises ``SmbError`` for an ERROR response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..status import NtStatus
from ..wire.header import Smb2Header

if TYPE_CHECKING:
    from ..auth.accounts import AccountDb
    from ..config import Config, PolicySettings
    from .connection import ServerConnection
    from .state import Open, Session, Share, TreeConnect

__all__ = ["MemoryBudget", "Reply", "RequestContext", "ServerContext"]

AuditHook = Callable[[str, dict[str, Any]], None]


class MemoryBudget:
    """A global cap on bytes held in request and response buffers (MS-SMB2 3.3.5.2.5's
    large-MTU requests make one client able to ask for 8 MiB per credit)."""

    __slots__ = ("limit", "used", "waiters")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.waiters: list[Callable[[], None]] = []  # called once when memory is given back

    def try_take(self, n: int) -> bool:
        if self.used + n > self.limit:
            return False
        self.used += n
        return True

    def give(self, n: int) -> None:
        self.used = max(0, self.used - n)
        if self.waiters:
            waiters, self.waiters = self.waiters, []
            for wake in waiters:
                wake()

    def allocate(self, n: int) -> bytearray | None:
        """A receive buffer of ``n`` bytes charged to the budget, or None when it is spent."""
        return bytearray(n) if self.try_take(n) else None


@dataclass(eq=False)
class ServerContext:
    """State shared by every connection of one server."""

    config: "Config"
    policy: "PolicySettings"
    server_guid: bytes
    accounts: "AccountDb"
    shares: dict[str, "Share"]  # case-folded name → share (IPC$ included)
    clock: Callable[[], float]  # Unix time, seconds
    random_bytes: Callable[[int], bytes]
    start_time: float = 0.0
    memory: MemoryBudget = field(default_factory=lambda: MemoryBudget(512 * 1024 * 1024))
    sessions: dict[int, "Session"] = field(default_factory=dict)
    connections: set["ServerConnection"] = field(default_factory=set)
    audit: AuditHook | None = None
    audit_refusing: Callable[[], bool] = lambda: False  # audit sink down, on_failure = "refuse_sessions"
    pipe_factory: Callable[[str, "RequestContext"], Any] | None = None  # name → rpc pipe (rpc.service)
    directory: Any = None  # rpc.directory.Directory: the SAM that lsarpc and samr show
    next_session_id: int = 0x0000_0400_0000_0001
    blocked: dict[tuple[str, str], float] = field(default_factory=dict)
    open_files: Any = None  # core.files.FileTable (share modes, oplocks, locks), made on first use
    # Set by the asyncio glue (aio.server.SmbServer): close(conn, reason) tears ``conn`` down from
    # synchronous code (srvsvc NetrSessionDel) as Server Manager's close does: its sessions leave
    # it at once, the transport closes once the reply in progress is written, each logoff is
    # audited with ``reason``. None where no event loop runs (unit tests of the core).
    close_connection: Callable[["ServerConnection", str], None] | None = None

    def new_session_id(self) -> int:
        sid = self.next_session_id
        self.next_session_id += 1
        return sid

    def emit(self, event: str, **fields: Any) -> None:
        if self.audit is not None:
            self.audit(event, fields)

    def set_policy(self, new: "PolicySettings", by: str) -> list[str]:
        """Replace the null-session policy (admin API, SIGHUP); one audit event 4657 per changed
        setting. Open sessions, trees and pipes read ``self.policy`` on every request, so they
        see the new policy from their next request on. Returns the changed setting names."""
        from dataclasses import fields as _fields

        old, changed = self.policy, []
        self.policy = new
        for f in _fields(new):
            before, after = getattr(old, f.name), getattr(new, f.name)
            if before != after:
                changed.append(f.name)
                self.emit("policy_change", event_id=4657, outcome="success", setting=f.name,
                          old=list(before) if isinstance(before, tuple) else before,
                          new=list(after) if isinstance(after, tuple) else after, by=by)
        return changed


@dataclass(eq=False, slots=True)
class RequestContext:
    """One message of a (possibly compound) request."""

    conn: "ServerConnection"
    header: Smb2Header
    message: memoryview  # the whole message, header included (body offsets are from its start)
    session: "Session | None" = None
    tree: "TreeConnect | None" = None
    related_file_id: bytes | None = None  # MS-SMB2 3.3.5.2.7.2
    encrypted: bool = False
    sign_response: bool | None = None  # a handler's override (final SESSION_SETUP response)
    on_response: Callable[[bytes], None] | None = None  # sees the final bytes (preauth hash)

    @property
    def server(self) -> ServerContext:
        return self.conn.server

    def open_for(self, file_id: bytes) -> "Open":
        """Look up an open, honouring the compound FileId carry-over (0xFF..FF)."""
        return self.conn.lookup_open(self, file_id)


@dataclass(slots=True)
class Reply:
    """A response body; ``parts`` are sent back to back, never joined."""

    parts: list[bytes | memoryview]
    status: int = NtStatus.STATUS_SUCCESS
    release: Callable[[bool], None] | None = None  # after sending; True: buffers may be reused

    @classmethod
    def of(cls, body: bytes, status: int = NtStatus.STATUS_SUCCESS) -> "Reply":
        return cls([body], status)
