"""The null-session policy as a pure function: ``decide(principal, action, obj, policy)``.

Rules (design.md §4; Windows' LanmanServer and Lsa values, KB3034016, Q246261):
1. Every decision returns the rule that made it; allow or deny, the rule is named. ``explain``
   returns the chain of rules consulted (name, passed, why); the decision is its last step.
2. Anonymous (S-1-5-7) is in Everyone only when EveryoneIncludesAnonymous = 1 (KB278259).
3. IPC$ is open to anonymous sessions unless RestrictAnonymous = 2 (Windows 2000's "no access
   without explicit anonymous permissions", which is also Samba's behaviour); at 2 null sessions
   also open no pipe and make no RPC call, so a reload to 2 closes what they already hold.
4. A disk share admits anonymous only when (RestrictNullSessAccess = 0 or the share is in
   NullSessionShares) and its access list admits ANONYMOUS LOGON (or Everyone with rule 2).
5. A pipe admits anonymous when RestrictNullSessAccess = 0 or the pipe is in NullSessionPipes
   (case-insensitive, ``\\PIPE\\`` stripped: MS-SRVS 3.1.6.17).
6. Access lists: a matching "deny" wins; otherwise the strongest matching right.
7. RPC operations: see ``rpc_rules`` (one row per operation and level; srvsvc/wkssvc denials are
   WERROR ERROR_ACCESS_DENIED = 5, lsarpc/samr ones STATUS_ACCESS_DENIED; ``Decision.kind``).
8. ``policy`` is anything with the PolicySettings attribute names (config.PolicySettings in the
   server); it is read, never kept, so a reloaded policy applies from the next request on.
"""

from __future__ import annotations

from .model import (
    ANONYMOUS_SID,
    Action,
    Decision,
    Principal,
    PrincipalKind,
    Right,
    RpcCall,
    ShareRef,
    Step,
    allow,
    deny,
    rpc_call_of,
    share_of,
)
from .rpc_rules import rpc_decision

__all__ = [
    "ANONYMOUS_SID",
    "Action",
    "Decision",
    "Principal",
    "PrincipalKind",
    "Right",
    "RpcCall",
    "ShareRef",
    "decide",
    "evaluate",
    "explain",
    "may_connect_ipc",
    "may_connect_share",
    "may_open_pipe",
    "normalize_pipe",
    "share_right",
]

_RIGHTS = {"read": Right.READ, "change": Right.CHANGE, "full": Right.FULL}


def decide(principal: Principal, action: Action | str, obj: object, policy: object) -> Decision:
    """Whether ``principal`` may do ``action`` on ``obj`` under ``policy``, and by which rule.

    ``obj``: TREE_CONNECT a share name, a ``ShareRef(name, access)`` or a share object with
    ``.name``/``.access`` (``.is_ipc``); PIPE_OPEN a pipe name; RPC_CALL an
    ``RpcCall(interface, operation, level)``, an equivalent tuple, or ``"interface:Operation"``.
    """
    return evaluate(principal, action, obj, policy)[0]


def explain(principal: Principal, action: Action | str, obj: object,
            policy: object) -> list[tuple[str, bool, str]]:
    """The rules ``decide`` consulted, in order: (rule, passed, why); the last one decided."""
    return [step.as_tuple() for step in evaluate(principal, action, obj, policy)[1]]


def evaluate(principal: Principal, action: Action | str, obj: object,
             policy: object) -> tuple[Decision, list[Step]]:
    """``decide`` and ``explain`` in one call."""
    action = Action(action)
    if action is Action.TREE_CONNECT:
        share = share_of(obj)
        is_ipc = share.is_ipc if share.is_ipc is not None else share.name.casefold() == "ipc$"
        return _ipc(principal, policy) if is_ipc else _share(principal, share, policy)
    if action is Action.PIPE_OPEN:
        if not isinstance(obj, str):
            raise TypeError(f"a pipe open needs a pipe name, not {type(obj).__name__}")
        return _pipe(principal, obj, policy)
    return rpc_decision(principal, rpc_call_of(obj), policy)


# --- the SMB gates (kept for the SMB core's tree connect and CREATE handlers) -------------------


def may_connect_ipc(principal: Principal, policy: object) -> Decision:
    return decide(principal, Action.TREE_CONNECT, ShareRef("IPC$", (), True), policy)


def may_connect_share(principal: Principal, share_name: str, access: tuple[tuple[str, str], ...],
                      policy: object) -> Decision:
    return decide(principal, Action.TREE_CONNECT, ShareRef(share_name, tuple(access), False), policy)


def may_open_pipe(principal: Principal, pipe: str, policy: object) -> Decision:
    return decide(principal, Action.PIPE_OPEN, pipe, policy)


def share_right(access: tuple[tuple[str, str], ...], member_of: frozenset[str]) -> Right:
    best = Right.NONE
    for principal, right in access:
        if principal.casefold() not in member_of:
            continue
        if right == "deny":
            return Right.NONE
        candidate = _RIGHTS.get(right, Right.NONE)
        if candidate.value > best.value:
            best = candidate
    return best


def normalize_pipe(name: str) -> str:
    name = name.replace("/", "\\").lstrip("\\")
    if name.casefold().startswith("pipe\\"):
        name = name[5:]
    return name.casefold()


def _finish(steps: list[Step], right: Right = Right.NONE) -> tuple[Decision, list[Step]]:
    last = steps[-1]
    return (allow(last, right=right) if last.passed else deny(last)), steps


def _ipc(principal: Principal, policy: object) -> tuple[Decision, list[Step]]:
    steps: list[Step] = []
    if principal.kind is PrincipalKind.ANONYMOUS:
        ra = policy.RestrictAnonymous  # type: ignore[attr-defined]
        if ra >= 2:
            return _finish([Step("RestrictAnonymous", False,
                                 f"RestrictAnonymous = {ra}: IPC$ refused to null sessions")])
        steps.append(Step("RestrictAnonymous", True, f"RestrictAnonymous = {ra} < 2: IPC$ open to null sessions"))
    steps.append(Step("IPC$", True, "IPC$ admits every session; pipes are gated one by one"))
    return _finish(steps)


def _share(principal: Principal, share: ShareRef, policy: object) -> tuple[Decision, list[Step]]:
    steps: list[Step] = []
    eia = bool(policy.EveryoneIncludesAnonymous)  # type: ignore[attr-defined]
    if principal.kind is PrincipalKind.ANONYMOUS:
        if not policy.RestrictNullSessAccess:  # type: ignore[attr-defined]
            steps.append(Step("RestrictNullSessAccess", True,
                              "RestrictNullSessAccess = 0: NullSessionShares is not consulted"))
        else:
            listed = {s.casefold() for s in policy.NullSessionShares}  # type: ignore[attr-defined]
            if share.name.casefold() not in listed:
                return _finish([Step("NullSessionShares", False,
                                     f"RestrictNullSessAccess = 1 and {share.name} is not in NullSessionShares")])
            steps.append(Step("NullSessionShares", True, f"{share.name} is in NullSessionShares"))
        steps.append(Step("EveryoneIncludesAnonymous", True,
                          "EveryoneIncludesAnonymous = 1: entries for Everyone apply to null sessions"
                          if eia else
                          "EveryoneIncludesAnonymous = 0: only ANONYMOUS LOGON entries apply to null sessions"))
    right = share_right(share.access, principal.memberships(eia))
    who = principal.describe()
    if right is Right.NONE:
        steps.append(Step("share access list", False, f"the access list of {share.name} grants {who} nothing"))
    else:
        steps.append(Step("share access list", True,
                          f"the access list of {share.name} grants {who} {right.name.lower()}"))
    return _finish(steps, right)


def _pipe(principal: Principal, pipe: str, policy: object) -> tuple[Decision, list[Step]]:
    name = normalize_pipe(pipe)
    if principal.kind is not PrincipalKind.ANONYMOUS:
        return _finish([Step("authenticated", True,
                             f"NullSessionPipes concerns null sessions only; {principal.describe()} may open pipes")])
    ra = policy.RestrictAnonymous  # type: ignore[attr-defined]
    if ra >= 2:
        return _finish([Step("RestrictAnonymous", False,
                             f"RestrictAnonymous = {ra}: null sessions get nothing on IPC$")])
    if not policy.RestrictNullSessAccess:  # type: ignore[attr-defined]
        return _finish([Step("RestrictNullSessAccess", True,
                             "RestrictNullSessAccess = 0: every pipe is open to null sessions")])
    if name in {normalize_pipe(p) for p in policy.NullSessionPipes}:  # type: ignore[attr-defined]
        return _finish([Step("NullSessionPipes", True, f"{name} is in NullSessionPipes")])
    return _finish([Step("NullSessionPipes", False,
                         f"RestrictNullSessAccess = 1 and {name} is not in NullSessionPipes")])
