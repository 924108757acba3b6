"""Requests answered later: interim responses, final responses, CANCEL (MS-SMB2 3.3.4.2,
3.3.4.3, 3.3.5.16), and messages the server sends on its own (oplock and lease breaks,
3.3.4.6, 3.3.4.7).

Rules:
1. A handler that must wait calls ``go_async(ctx, cleanup)`` and returns the ``Pending`` it
   gets: the connection answers STATUS_PENDING at once (ASYNC flag, the new AsyncId, the
   credits of the request, never signed) and the request lives in
   ``conn.async_requests`` (Connection.AsyncCommandList) until ``finish`` answers it.
2. The final response carries the same MessageId and AsyncId, CreditResponse 0, and is signed
   or encrypted as the request's session requires (3.3.4.1.1, 3.3.4.3).
3. ``cleanup`` is synchronous: it only unlinks the request from whatever it waits on. CANCEL
   runs it and answers STATUS_CANCELLED; a lost connection runs it and answers nothing.
4. Nothing here blocks, sleeps or touches a socket: finished messages go to the
   connection's outbox and the glue is told through ``conn.on_output``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..status import NtStatus
from .context import Reply, RequestContext

if TYPE_CHECKING:
    from .connection import ServerConnection
    from .state import Session

__all__ = ["AsyncRequest", "Pending", "go_async"]


@dataclass(eq=False, slots=True)
class AsyncRequest:
    """MS-SMB2 3.3.1.13 Request, once it has an AsyncId."""

    conn: "ServerConnection"
    async_id: int
    message_id: int
    command: int
    credit_charge: int
    session: "Session | None"
    tree_id: int
    sign: bool  # the final response is signed (the request was, or the session requires it)
    encrypt: bool  # the final response is encrypted
    cleanup: Callable[[], None] | None = None
    done: bool = False
    data: dict = field(default_factory=dict)  # what the waiting handler needs to resume

    def finish(self, reply: Reply) -> None:
        """Send the final response (rule 2); later calls do nothing."""
        if self.done:
            return
        self.done = True
        self.conn.finish_async(self, reply)

    def fail(self, status: int) -> None:
        self.finish(error_reply(status))

    def cancel(self, status: int = NtStatus.STATUS_CANCELLED) -> None:
        """CANCEL (3.3.5.16): unlink, then answer ``status``."""
        if self.done:
            return
        if self.cleanup is not None:
            self.cleanup()
        self.fail(status)

    def abandon(self) -> None:
        """The connection is gone: unlink and forget, answering nothing."""
        if self.done:
            return
        self.done = True
        if self.cleanup is not None:
            self.cleanup()
        self.conn.async_requests.pop(self.async_id, None)


@dataclass(slots=True)
class Pending(Reply):
    """What a handler returns to have its request answered later (rule 1)."""

    request: AsyncRequest | None = None


def error_reply(status: int) -> Reply:
    """MS-SMB2 2.2.2 ERROR Response body."""
    return Reply([b"\x09\x00\x00\x00\x00\x00\x00\x00\x00"], status)


def go_async(ctx: RequestContext, cleanup: Callable[[], None] | None = None) -> Pending:
    """Give the request an AsyncId and return the ``Pending`` its handler must return."""
    areq = ctx.conn.new_async(ctx, cleanup)
    return Pending([], NtStatus.STATUS_PENDING, None, areq)
