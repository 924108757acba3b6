"""SMB2/3 client: ``SmbClient`` (asyncio) over the sans-I/O ``ClientConnection``.

The probe and Server Manager build on this; import from here, not from the submodules.
"""

from .aio import SessionInfo, SmbClient
from .connection import ClientConnection, ClientProtocolError, Outgoing, Response, SmbClientError

__all__ = [
    "ClientConnection",
    "ClientProtocolError",
    "Outgoing",
    "Response",
    "SessionInfo",
    "SmbClient",
    "SmbClientError",
]
