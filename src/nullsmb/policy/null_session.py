"""The null-session policy for tree connects and pipe opens, as a pure function.

Rules (design.md §4; Windows' LanmanServer and Lsa values, KB3034016, Q246261):
1. Every decision returns the rule that made it; allow or deny, the rule is named.
2. Anonymous (S-1-5-7) is in Everyone only when EveryoneIncludesAnonymous = 1 (KB278259).
3. IPC$ is open to anonymous sessions unless RestrictAnonymous = 2 (Windows 2000's "no access
   without explicit anonymous permissions", which is also Samba's behaviour).
4. A disk share admits anonymous only when (RestrictNullSessAccess = 0 or the share is in
   NullSessionShares) and its access list admits ANONYMOUS LOGON (or Everyone with rule 2).
5. A pipe admits anonymous when RestrictNullSessAccess = 0 or the pipe is in NullSessionPipes
   (case-insensitive, ``\\PIPE\\`` stripped: MS-SRVS 3.1.6.17).
6. Access lists: a matching "deny" wins; otherwise the strongest matching right.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..status import NtStatus

__all__ = [
    "Decision",
    "Principal",
    "PrincipalKind",
    "Right",
    "share_right",
    "may_connect_ipc",
    "may_connect_share",
    "may_open_pipe",
    "ANONYMOUS_SID",
]

ANONYMOUS_SID = "S-1-5-7"


class PrincipalKind(Enum):
    ANONYMOUS = "anonymous"
    GUEST = "guest"
    USER = "user"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    name: str = ""
    groups: tuple[str, ...] = ()

    def memberships(self, everyone_includes_anonymous: bool) -> frozenset[str]:
        """The principal names an access list entry may match (case-folded)."""
        if self.kind is PrincipalKind.ANONYMOUS:
            names = {"anonymous logon"}
            if everyone_includes_anonymous:
                names.add("everyone")
        elif self.kind is PrincipalKind.GUEST:
            names = {"guest", "guests", "everyone"}
        else:
            names = {self.name.casefold(), "everyone", "authenticated users", "users"}
            names.update(g.casefold() for g in self.groups)
        return frozenset(names)

    @property
    def is_admin(self) -> bool:
        return self.kind is PrincipalKind.USER and any(g.casefold() == "administrators" for g in self.groups)


class Right(Enum):
    NONE = 0
    READ = 1
    CHANGE = 2
    FULL = 3


_RIGHTS = {"read": Right.READ, "change": Right.CHANGE, "full": Right.FULL}


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    status: int
    rule: str
    right: Right = Right.NONE


def _allow(rule: str, right: Right = Right.NONE) -> Decision:
    return Decision(True, NtStatus.STATUS_SUCCESS, rule, right)


def _deny(rule: str) -> Decision:
    return Decision(False, NtStatus.STATUS_ACCESS_DENIED, rule)


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


def may_connect_ipc(principal: Principal, policy) -> Decision:
    if principal.kind is PrincipalKind.ANONYMOUS and policy.RestrictAnonymous >= 2:
        return _deny("RestrictAnonymous")
    return _allow("IPC$")


def may_connect_share(principal: Principal, share_name: str, access: tuple[tuple[str, str], ...],
                      policy) -> Decision:
    eia = bool(policy.EveryoneIncludesAnonymous)
    if principal.kind is PrincipalKind.ANONYMOUS and policy.RestrictNullSessAccess:
        listed = {s.casefold() for s in policy.NullSessionShares}
        if share_name.casefold() not in listed:
            return _deny("NullSessionShares")
    right = share_right(access, principal.memberships(eia))
    if right is Right.NONE:
        return _deny("share access list")
    return _allow("share access list", right)


def normalize_pipe(name: str) -> str:
    name = name.replace("/", "\\").lstrip("\\")
    if name.casefold().startswith("pipe\\"):
        name = name[5:]
    return name.casefold()


def may_open_pipe(principal: Principal, pipe: str, policy) -> Decision:
    if principal.kind is not PrincipalKind.ANONYMOUS:
        return _allow("authenticated")
    if not policy.RestrictNullSessAccess:
        return _allow("RestrictNullSessAccess")
    if normalize_pipe(pipe) in {normalize_pipe(p) for p in policy.NullSessionPipes}:
        return _allow("NullSessionPipes")
    return _deny("NullSessionPipes")
