"""SMB2/3 client: ``SmbClient`` (asyncio) over the sans-I/O ``ClientConnection``, and DCE/RPC
over its named pipes (``RpcSession``; typed calls in ``client.srvsvc``, ``client.wkssvc``,
``client.lsa``, ``client.samr``; one-shot helpers in ``client.remote``).

The probe and Server Manager build on this; import from here (and the call modules), not
from the other submodules.
"""

from .aio import SessionInfo, SmbClient
from .connection import ClientConnection, ClientProtocolError, Outgoing, Response, SmbClientError
from .remote import ipc_connection, list_sessions, list_shares, open_rpc, server_info
from .rpc import (
    BindResult,
    RpcBindError,
    RpcConnection,
    RpcError,
    RpcFaultError,
    RpcProtocolError,
    RpcSession,
    RpcStatusError,
    SmbPipe,
    status_name,
)

__all__ = [
    "BindResult",
    "ClientConnection",
    "ClientProtocolError",
    "Outgoing",
    "Response",
    "RpcBindError",
    "RpcConnection",
    "RpcError",
    "RpcFaultError",
    "RpcProtocolError",
    "RpcSession",
    "RpcStatusError",
    "SessionInfo",
    "SmbClient",
    "SmbClientError",
    "SmbPipe",
    "ipc_connection",
    "list_sessions",
    "list_shares",
    "open_rpc",
    "server_info",
    "status_name",
]
