"""The command dispatch table (MS-SMB2 3.3.5): command → (request decoder, handler).

Rules:
1. Dispatch is data: ``HANDLERS[Command]``; no if/elif ladder over command codes.
2. The body is decoded before the handler runs, so a handler only sees a valid request.
3. Unknown command codes are answered STATUS_INVALID_PARAMETER, as Windows and Samba do.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from ..status import NtStatus, SmbError
from ..wire.buffer import Reader
from ..wire.create import CloseRequest, CreateRequest
from ..wire.header import HEADER_SIZE, Command
from ..wire.info import QueryDirectoryRequest, QueryInfoRequest, SetInfoRequest
from ..wire.io import FlushRequest, ReadRequest, WriteRequest
from ..wire.ioctl import IoctlRequest
from ..wire.negotiate import NegotiateRequest
from ..wire.session_setup import SessionSetupRequest
from ..wire.tree import TreeConnectRequest
from .context import Reply, RequestContext
from ..wire.lock import LockRequest
from ..wire.notify import ChangeNotifyRequest
from .handlers import create, directory, info, io, ioctl, lock, misc, negotiate, notify, session, tree

__all__ = ["HANDLERS", "run_message"]

Decoder = Callable[[Reader, int], Any]
Handler = Callable[[RequestContext, Any], Awaitable[Reply]]


def _size4(r: Reader, body: int) -> None:
    """LOGOFF, TREE_DISCONNECT, ECHO: StructureSize 4 and nothing else."""
    if r.u16(body) != 4:
        from ..status import MalformedMessage

        raise MalformedMessage("StructureSize of a 4-byte body")
    return None


HANDLERS: dict[int, tuple[Decoder, Handler]] = {
    Command.NEGOTIATE: (NegotiateRequest.decode, negotiate.handle_negotiate),
    Command.SESSION_SETUP: (SessionSetupRequest.decode, session.handle_session_setup),
    Command.LOGOFF: (_size4, session.handle_logoff),
    Command.TREE_CONNECT: (TreeConnectRequest.decode, tree.handle_tree_connect),
    Command.TREE_DISCONNECT: (_size4, tree.handle_tree_disconnect),
    Command.CREATE: (CreateRequest.decode, create.handle_create),
    Command.CLOSE: (CloseRequest.decode, create.handle_close),
    Command.FLUSH: (FlushRequest.decode, io.handle_flush),
    Command.READ: (ReadRequest.decode, io.handle_read),
    Command.WRITE: (WriteRequest.decode, io.handle_write),
    Command.LOCK: (LockRequest.decode, lock.handle_lock),
    Command.IOCTL: (IoctlRequest.decode, ioctl.handle_ioctl),
    Command.ECHO: (_size4, misc.handle_echo),
    Command.QUERY_DIRECTORY: (QueryDirectoryRequest.decode, directory.handle_query_directory),
    Command.CHANGE_NOTIFY: (ChangeNotifyRequest.decode, notify.handle_change_notify),
    Command.QUERY_INFO: (QueryInfoRequest.decode, info.handle_query_info),
    Command.SET_INFO: (SetInfoRequest.decode, info.handle_set_info),
    Command.OPLOCK_BREAK: (notify.decode_oplock_break, notify.handle_oplock_break),
}


async def run_message(ctx: RequestContext) -> Reply:
    entry = HANDLERS.get(ctx.header.command)
    if entry is None:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "unknown command")
    decode, handler = entry
    request = decode(Reader(ctx.message), HEADER_SIZE)
    return await handler(ctx, request)
