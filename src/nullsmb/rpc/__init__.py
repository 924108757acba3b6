"""DCE/RPC over named pipes: NDR20 codec, connection-oriented PDUs, the pipe state machine.

Interface modules (``rpc.interfaces.srvsvc`` ...) build ``Interface`` tables of ``Operation``
handlers on top of ``NdrReader``/``NdrWriter``; ``make_pipe_factory`` plugs them into the
SMB core as ``ServerContext.pipe_factory``.
"""

from .ndr import Deferred, NdrReader, NdrUsageError, NdrWriter, Sid, sid_from_str, sid_to_str
from .pdu import FaultStatus, RpcFault, SyntaxId
from .pipe import (
    CallContext,
    CallDenied,
    Interface,
    Operation,
    RpcPipe,
    deny_with_fault,
    deny_with_status,
)
from .registry import PIPE_ENDPOINTS, endpoint_of, make_pipe_factory

__all__ = [
    "CallContext", "CallDenied", "Deferred", "FaultStatus", "Interface", "NdrReader", "NdrUsageError",
    "NdrWriter", "Operation", "PIPE_ENDPOINTS", "RpcFault", "RpcPipe", "Sid", "SyntaxId", "deny_with_fault",
    "deny_with_status", "endpoint_of", "make_pipe_factory", "sid_from_str", "sid_to_str",
]
