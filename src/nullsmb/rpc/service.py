"""The RPC service the server runs on IPC$: which interfaces answer on which pipes, the policy
asked before every call, and the audit event after it.

Rules:
1. Interfaces per endpoint (rpc.registry): srvsvc, wkssvc, and lsass (lsarpc and samr, which
   Windows serves from one process, so either pipe name binds either interface).
2. Every call asks the null-session policy (``policy.null_session.decide``) with the call's
   interface, operation and, once the handler has read it, the information level. The policy
   is read from ``ServerContext.policy`` at each call, so a reload (SIGHUP, the admin API)
   applies to pipes already open.
3. Every dispatched call, allowed, denied or faulted, is one audit event 5712 (``rpc_call``)
   naming the rule that decided it and how many items it returned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..policy.model import NTSTATUS, WERROR, status_name
from ..policy.null_session import Action, Decision, decide
from ..policy.rpc_rules import INTERFACES
from ..status import NtStatus
from .interfaces import lsarpc, samr, srvsvc, wkssvc
from .pipe import CallContext, Interface
from .registry import PipeFactory, make_pipe_factory

if TYPE_CHECKING:
    from ..core.context import ServerContext

__all__ = ["INTERFACES_BY_PIPE", "make_server_pipes", "policy_check", "audit_call"]

INTERFACES_BY_PIPE: dict[str, tuple[Interface, ...]] = {
    "srvsvc": (srvsvc.INTERFACE,),
    "wkssvc": (wkssvc.INTERFACE,),
    "lsarpc": (lsarpc.INTERFACE,),
    "samr": (samr.INTERFACE,),
}


def policy_check(call: CallContext) -> Decision:
    """Rule 2: the decision for this call (at ``call.level`` when the handler gave one)."""
    principal = call.principal
    if principal is None:  # a pipe is always opened within a session; be safe anyway
        from ..policy.model import Principal, PrincipalKind
        principal = Principal(PrincipalKind.ANONYMOUS)
    return decide(principal, Action.RPC_CALL, call, call.server.policy)


def _status_text(call: CallContext, status: int) -> str:
    if call.fault is not None:
        return f"fault 0x{call.fault:08x}"
    kind = INTERFACES.get(call.interface.name, NTSTATUS)
    return status_name(status, kind)


def _succeeded(call: CallContext, status: int) -> bool:
    if call.fault is not None:
        return False
    if INTERFACES.get(call.interface.name, NTSTATUS) == WERROR:
        return status in (0, 234)  # NERR_Success, ERROR_MORE_DATA
    return status in (NtStatus.STATUS_SUCCESS, NtStatus.STATUS_MORE_ENTRIES, NtStatus.STATUS_SOME_NOT_MAPPED,
                      NtStatus.STATUS_NO_MORE_ENTRIES)


def audit_call(call: CallContext, status: int) -> None:
    """Rule 3: the rpc_call event (5712) for one dispatched call."""
    server = call.server
    if server.audit is None or call.session is None:
        return
    from ..core.handlers.session import identity_fields  # the core's identity fields, lazily (import cycle)
    decision = call.decision
    fields = dict(
        event_id=5712,
        outcome="success" if _succeeded(call, status) else "failure",
        **identity_fields(call.smb.conn, call.session),
        interface=call.interface.name,
        opnum=call.opnum,
        operation=call.operation.name if call.operation else f"opnum{call.opnum}",
        status=_status_text(call, status),
        rule=decision.rule if decision is not None else "",
    )
    if call.level is not None:
        fields["level"] = call.level
    if call.returned is not None:
        fields["returned"] = call.returned
    server.emit("rpc_call", **fields)


def make_server_pipes(server: "ServerContext | None" = None) -> PipeFactory:
    """``ServerContext.pipe_factory`` for the interfaces above (``server`` is unused: each pipe
    reaches its server through the CREATE's request context)."""
    return make_pipe_factory(INTERFACES_BY_PIPE, policy_check=policy_check, on_call=audit_call)
