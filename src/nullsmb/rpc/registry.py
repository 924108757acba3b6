"""Which interfaces each named pipe offers, and the pipe factory the SMB core calls.

Rules:
1. On Windows a pipe name is an *endpoint* of a process, and every interface that process
   registered answers on every one of its endpoints: \\PIPE\\lsarpc, \\PIPE\\samr,
   \\PIPE\\netlogon and \\PIPE\\lsass all reach lsass.exe, so SAMR binds on \\PIPE\\lsarpc and
   LSA on \\PIPE\\samr, and the bind_ack names the endpoint ("\\PIPE\\lsass"). ``PIPE_ENDPOINTS``
   is that alias table; interfaces are registered per endpoint.
2. The factory returns None for a pipe with no interfaces: the core answers
   STATUS_OBJECT_NAME_NOT_FOUND. Which pipes a principal may open at all (NullSessionPipes) is
   decided by the core before the factory is called; which operations it may call, by
   ``policy_check`` on every call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .pipe import Interface, OnCall, PolicyCheck, RpcPipe

if TYPE_CHECKING:
    from ..core.context import RequestContext

__all__ = ["PIPE_ENDPOINTS", "PipeFactory", "endpoint_of", "make_pipe_factory"]

PIPE_ENDPOINTS: Mapping[str, str] = {
    "srvsvc": "srvsvc",
    "wkssvc": "wkssvc",
    "lsarpc": "lsass",
    "lsass": "lsass",
    "samr": "lsass",
    "netlogon": "lsass",
}

PipeFactory = Callable[[str, "RequestContext"], "RpcPipe | None"]


def endpoint_of(name: str, aliases: Mapping[str, str] = PIPE_ENDPOINTS) -> str:
    """The endpoint a pipe name (lower case, without \\PIPE\\) reaches."""
    name = name.lower()
    return aliases.get(name, name)


def make_pipe_factory(interfaces_by_pipe: Mapping[str, Sequence[Interface]], *,
                      aliases: Mapping[str, str] = PIPE_ENDPOINTS, policy_check: PolicyCheck | None = None,
                      on_call: OnCall | None = None, **options: Any) -> PipeFactory:
    """``ServerContext.pipe_factory``: pipe name → a fresh ``RpcPipe`` offering the interfaces
    registered for its endpoint (keys may be endpoints or any of their aliases); ``options``
    go to ``RpcPipe`` (max_frag, max_stub, ...)."""
    table: dict[str, tuple[Interface, ...]] = {}
    for key, interfaces in interfaces_by_pipe.items():
        endpoint = endpoint_of(key, aliases)
        table[endpoint] = table.get(endpoint, ()) + tuple(i for i in interfaces if i not in table.get(endpoint, ()))

    def factory(name: str, ctx: "RequestContext") -> RpcPipe | None:
        endpoint = endpoint_of(name, aliases)
        interfaces = table.get(endpoint)
        if not interfaces:
            return None
        return RpcPipe(name.lower(), ctx, interfaces, endpoint=endpoint, policy_check=policy_check,
                       on_call=on_call, **options)

    return factory
