"""One-shot RPC helpers for the probe and Server Manager's remote view: connect, log on, reach
IPC$, open and bind a pipe, make the call(s), disconnect.

Rules:
1. Empty user and password is a null session (client.aio); anything else NTLMv2.
2. Every SMB step can fail with its own NTSTATUS: the logon (STATUS_LOGON_FAILURE), the IPC$
   tree connect (STATUS_ACCESS_DENIED with Samba's restrict anonymous = 2), the pipe open
   (STATUS_ACCESS_DENIED for a pipe outside NullSessionPipes): they raise ``SmbClientError``
   with that status. RPC failures raise the client.rpc exceptions. Nothing is swallowed.
3. ``timeout`` bounds each SMB request (SmbClient); wrap the call in ``asyncio.wait_for`` or
   ``asyncio.timeout`` to bound the whole.
4. The connection is closed on every path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from ..rpc.pdu import SyntaxId
from . import srvsvc
from .aio import SmbClient
from .rpc import RpcSession

__all__ = ["ipc_connection", "list_sessions", "list_shares", "open_rpc", "server_info"]


@asynccontextmanager
async def ipc_connection(host: str, port: int = 445, user: str = "", password: str = "", domain: str = "", *,
                         timeout: float = 10.0) -> AsyncIterator[tuple[SmbClient, int]]:
    """(client, IPC$ tree id) of a logged-on connection, closed at the end."""
    client = await SmbClient.connect(host, port, timeout=timeout)
    try:
        await client.login(user, password, domain)
        tree_id = await client.tree_connect("IPC$")
        yield client, tree_id
    finally:
        await client.disconnect()


@asynccontextmanager
async def open_rpc(host: str, port: int, pipe: str, syntax: SyntaxId, user: str = "", password: str = "",
                   domain: str = "", *, timeout: float = 10.0) -> AsyncIterator[RpcSession]:
    """A bound ``RpcSession`` on ``pipe`` of ``host``'s IPC$."""
    async with ipc_connection(host, port, user, password, domain, timeout=timeout) as (client, tree_id):
        async with RpcSession.open(client, tree_id, pipe, syntax) as rpc:
            yield rpc


async def list_shares(host: str, port: int = 445, user: str = "", password: str = "", domain: str = "", *,
                      level: int = 1, timeout: float = 10.0) -> srvsvc.ShareEnumResult:
    """NetrShareEnum at ``level`` (1: name, type, remark)."""
    async with open_rpc(host, port, srvsvc.PIPE, srvsvc.SYNTAX, user, password, domain, timeout=timeout) as rpc:
        return await srvsvc.share_enum(rpc, level)


async def server_info(host: str, port: int = 445, user: str = "", password: str = "", domain: str = "", *,
                      level: int = 101, timeout: float = 10.0) -> srvsvc.ServerInfo:
    """NetrServerGetInfo at ``level``."""
    async with open_rpc(host, port, srvsvc.PIPE, srvsvc.SYNTAX, user, password, domain, timeout=timeout) as rpc:
        return await srvsvc.server_get_info(rpc, level)


async def list_sessions(host: str, port: int = 445, user: str = "", password: str = "", domain: str = "", *,
                        levels: Sequence[int] = (502, 10, 2, 1, 0),
                        timeout: float = 10.0) -> srvsvc.SessionEnumOutcome:
    """NetrSessionEnum at the richest level granted (``srvsvc.session_enum_any``); check
    ``.level`` (None: every level refused, see ``.attempts``) or call ``.raise_for_status()``."""
    async with open_rpc(host, port, srvsvc.PIPE, srvsvc.SYNTAX, user, password, domain, timeout=timeout) as rpc:
        return await srvsvc.session_enum_any(rpc, levels)
