"""Which RPC operations a caller may use: one row per operation (and information level).

Rules (design.md §4, null-sessions.md §2-§3; the sources are named at each class below):
1. Every operation the RPC layer serves has a row in ``OPERATIONS``; a call without a row is
   refused for every caller (rule ``no rule``): a new operation is closed until someone decides.
2. A row names a *class* per information level; the class is the rule chain. Unknown levels of a
   levelled operation need Administrators. No level (``None``) means "the operation at any level":
   the most open level decides, so the RPC layer may ask before it has read the level and must
   ask again with it (rpc.pipe's ``call.authorize(level=...)``).
3. Anonymous callers (null sessions) go through, in order and stopping at the first failure:
   RestrictAnonymous = 2 (they get nothing on IPC$, as Windows 2000 and Samba), the optional
   NullSessionOperations allow-list, then the class's own rules. Handle closes are exempt from
   both: closing frees server state and reveals nothing.
4. Guests and users meet only the Administrators-only and Everyone/Authenticated-Users rules:
   RestrictAnonymous and friends concern null sessions (rule ``authenticated``, as for pipes).
5. srvsvc and wkssvc return NET_API_STATUS (WERROR: ERROR_ACCESS_DENIED = 5); lsarpc and samr
   return NTSTATUS (STATUS_ACCESS_DENIED). The Decision carries the family in ``kind``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from .model import NTSTATUS, WERROR, Decision, Principal, PrincipalKind, RpcCall, Step, allow, deny

__all__ = ["INTERFACES", "OPERATIONS", "Op", "OpClass", "find_operation", "operation_problem",
           "rpc_chain", "rpc_decision"]


class OpClass(Enum):
    """The rule chain an operation (at a level) follows; values are the words ``explain`` uses."""

    SRVSVC_INFO = "share/server information: RestrictAnonymous = 0 for null sessions"
    ADMIN = "Administrators only, for every caller"
    ANY = "any caller"
    EVERYONE = "Everyone: null sessions only with EveryoneIncludesAnonymous = 1"
    SAMR = "SAM: RestrictAnonymous = 0 and RestrictAnonymousSAM = 0 for null sessions"
    LSA_OPEN = "LSA policy handle: TurnOffAnonymousBlock = 1 and RestrictAnonymous < 2"
    LSA_QUERY = "LSA domain information: as LSA open, and RestrictAnonymous = 0"
    LSA_LOOKUP = "LSA SID/name translation: as LSA open, and LSAAnonymousNameLookup = 1"
    LSA_ENUM = "LSA account enumeration: as LSA open, and EveryoneIncludesAnonymous = 1"
    CLOSE = "handle close: always"


@dataclass(frozen=True, slots=True)
class Op:
    interface: str
    name: str
    cls: OpClass | None = None  # the class when levels is empty
    levels: Mapping[int, OpClass] = field(default_factory=dict)

    def classes_at(self, level: int | None) -> tuple[list[OpClass], str]:
        """The class(es) to try at ``level``, most open first, and a note for the reason.

        No level given for a levelled operation means "the operation at any level" (the RPC layer
        asks before it has read the level, then again with it): every distinct class is tried and
        the first that allows decides. A level the table does not know needs Administrators.
        """
        if not self.levels:
            assert self.cls is not None
            return [self.cls], ""
        if level is None:
            return list(dict.fromkeys(self.levels.values())), (
                "no level given: the operation at its most open level; ask again with the level")
        if level in self.levels:
            return [self.levels[level]], ""
        known = ", ".join(str(n) for n in self.levels)
        return [OpClass.ADMIN], f"level {level} is not one of {known}: only Administrators pass"

    @property
    def key(self) -> str:
        return f"{self.interface}:{self.name}"


# NET_API_STATUS interfaces answer with WERROR, the others with NTSTATUS (rule 5).
INTERFACES: Mapping[str, str] = MappingProxyType(
    {"srvsvc": WERROR, "wkssvc": WERROR, "lsarpc": NTSTATUS, "samr": NTSTATUS}
)

_I, _A = OpClass.SRVSVC_INFO, OpClass.ADMIN
_SHARE_ENUM_LEVELS = {0: _I, 1: _I, 501: _I, 2: _A, 502: _A, 503: _A}  # NetShareEnum: 2/502/503 admin


def _ops() -> dict[str, Op]:
    rows = [
        # srvsvc (MS-SRVS). NetShareEnum/NetShareGetInfo/NetServerGetInfo (Learn, Security
        # Requirements): levels 2, 502, 503 (and server level 102) need Administrators or Server
        # Operators; 0, 1 (501, 1005, server 100/101) need nothing special, and follow
        # RestrictAnonymous for null sessions (Q143474, Q246261; Samba's pipe_access_check).
        Op("srvsvc", "NetrShareEnum", levels=_SHARE_ENUM_LEVELS),
        Op("srvsvc", "NetrShareEnumSticky", levels=_SHARE_ENUM_LEVELS),
        Op("srvsvc", "NetrShareGetInfo", levels={**_SHARE_ENUM_LEVELS, 1005: _I}),
        Op("srvsvc", "NetrServerGetInfo", levels={100: _I, 101: _I, 102: _A, 502: _A, 503: _A}),
        # Server Manager calls: Administrators only (Samba serves NetSessEnum to
        # BUILTIN\Administrators only; modern Windows' SrvsvcSessionInfo SD is admin-only).
        Op("srvsvc", "NetrSessionEnum", _A),
        Op("srvsvc", "NetrSessionDel", _A),
        Op("srvsvc", "NetrConnectionEnum", _A),
        Op("srvsvc", "NetrFileEnum", _A),
        # NetRemoteTOD: "No special group membership is required" (Learn).
        Op("srvsvc", "NetrRemoteTOD", OpClass.ANY),
        # wkssvc (MS-WKST 3.2.4.1; NetWkstaGetInfo remarks): level 100 always allows anonymous
        # access; 101 authenticated users, anonymous when EveryoneIncludesAnonymous allows it;
        # 102 and 502 Administrators. NetWkstaUserEnum (logged-on users): Administrators.
        Op("wkssvc", "NetrWkstaGetInfo",
           levels={100: OpClass.ANY, 101: OpClass.EVERYONE, 102: _A, 502: _A}),
        Op("wkssvc", "NetrWkstaUserEnum", _A),
        # lsarpc (MS-LSAD 3.1.4.4.1: anonymous LsarOpenPolicy2 refused while LsaRestrictAnonymous,
        # i.e. TurnOffAnonymousBlock = 0; MS-GPSB 3.2.5.3: LSAAnonymousNameLookup grants ANONYMOUS
        # LOGON POLICY_LOOKUP_NAMES on the policy object).
        Op("lsarpc", "LsarOpenPolicy", OpClass.LSA_OPEN),
        Op("lsarpc", "LsarOpenPolicy2", OpClass.LSA_OPEN),
        Op("lsarpc", "LsarClose", OpClass.CLOSE),
        Op("lsarpc", "LsarQueryInformationPolicy", OpClass.LSA_QUERY),
        Op("lsarpc", "LsarQueryInformationPolicy2", OpClass.LSA_QUERY),
        *(Op("lsarpc", name, OpClass.LSA_LOOKUP) for name in (
            "LsarLookupSids", "LsarLookupSids2", "LsarLookupSids3",
            "LsarLookupNames", "LsarLookupNames2", "LsarLookupNames3", "LsarLookupNames4")),
        Op("lsarpc", "LsarGetUserName", OpClass.ANY),
        # LsarEnumerateAccounts needs POLICY_VIEW_LOCAL_INFORMATION (MS-LSAD 3.1.4.5.1), which the
        # policy object grants to Everyone, not to ANONYMOUS LOGON.
        Op("lsarpc", "LsarEnumerateAccounts", OpClass.LSA_ENUM),
        # samr (null-sessions.md §3: SamrConnect* and GetDomPwInfo refused below RestrictAnonymous
        # = 0, and RestrictAnonymousSAM = 1 blocks SAM for null sessions). Checked on every
        # operation, not just the connect, so a reload applies to handles already open.
        Op("samr", "SamrCloseHandle", OpClass.CLOSE),
        *(Op("samr", name, OpClass.SAMR) for name in (
            "SamrConnect", "SamrConnect2", "SamrConnect4", "SamrConnect5",
            "SamrEnumerateDomainsInSamServer", "SamrLookupDomainInSamServer", "SamrOpenDomain",
            "SamrQueryInformationDomain", "SamrQueryInformationDomain2",
            "SamrEnumerateUsersInDomain", "SamrEnumerateGroupsInDomain",
            "SamrEnumerateAliasesInDomain", "SamrQueryDisplayInformation",
            "SamrQueryDisplayInformation2", "SamrQueryDisplayInformation3",
            "SamrLookupNamesInDomain", "SamrLookupIdsInDomain", "SamrOpenUser",
            "SamrQueryInformationUser", "SamrQueryInformationUser2", "SamrGetGroupsForUser",
            "SamrGetAliasMembership", "SamrGetDomainPasswordInformation", "SamrOpenGroup",
            "SamrOpenAlias", "SamrGetMembersInAlias",
            # what an open group/alias handle is for: rpcclient querygroup/querygroupmem/
            # queryaliasinfo and `net rpc group members` (enum4linux-ng) read them; the same
            # SAM data as the enumerations above, so the same class
            "SamrQueryInformationGroup", "SamrGetMembersInGroup", "SamrQueryInformationAlias")),
    ]
    return {op.key.casefold(): op for op in rows}


OPERATIONS: Mapping[str, Op] = MappingProxyType(_ops())  # "interface:operation" case-folded → Op


def find_operation(interface: str, operation: str) -> Op | None:
    return OPERATIONS.get(f"{interface}:{operation}".casefold())


def operation_problem(entry: str) -> str | None:
    """Why ``entry`` is not a NullSessionOperations item ("srvsvc:NetrShareEnum"), or None."""
    interface, colon, operation = entry.partition(":")
    if not (colon and interface and operation):
        return 'must be "INTERFACE:Operation", e.g. "srvsvc:NetrShareEnum"'
    if interface.casefold() not in INTERFACES:
        return f"names an unknown interface (expected one of: {', '.join(INTERFACES)})"
    if find_operation(interface, operation) is None:
        names = [op.name for op in OPERATIONS.values() if op.interface == interface.casefold()]
        close = difflib.get_close_matches(operation.casefold(), [n.casefold() for n in names], n=1,
                                          cutoff=0.6)
        hint = next((f'; did you mean "{interface.casefold()}:{n}"?' for n in names
                     if close and n.casefold() == close[0]), "")
        return f"is not an operation of {interface.casefold()} that nullsmb knows{hint}"
    return None


# --- the chains ---------------------------------------------------------------------------------


def _anonymous_steps(cls: OpClass, policy: object) -> list[Step]:
    """The class's own rules for a null session, stopping at the first failure."""
    ra = policy.RestrictAnonymous  # type: ignore[attr-defined]

    def restrict_anonymous_0(what: str) -> Step:
        if ra == 0:
            return Step("RestrictAnonymous", True, f"RestrictAnonymous = 0: null sessions may read {what}")
        return Step("RestrictAnonymous", False,
                    f"RestrictAnonymous = {ra}: null sessions may not read {what} (needs 0)")

    def everyone(what: str) -> Step:
        eia = policy.EveryoneIncludesAnonymous  # type: ignore[attr-defined]
        if eia:
            return Step("EveryoneIncludesAnonymous", True,
                        f"EveryoneIncludesAnonymous = 1: null sessions get Everyone's right to {what}")
        return Step("EveryoneIncludesAnonymous", False,
                    f"EveryoneIncludesAnonymous = 0: {what} is granted to Everyone, which excludes "
                    "ANONYMOUS LOGON")

    def lsa_open() -> list[Step]:
        toab = policy.TurnOffAnonymousBlock  # type: ignore[attr-defined]
        if not toab:
            return [Step("TurnOffAnonymousBlock", False,
                         "TurnOffAnonymousBlock = 0 (LsaRestrictAnonymous): null sessions may not open "
                         "the LSA policy")]
        steps = [Step("TurnOffAnonymousBlock", True,
                      "TurnOffAnonymousBlock = 1: null sessions may open the LSA policy")]
        if ra >= 2:
            return [*steps, Step("RestrictAnonymous", False,
                                 f"RestrictAnonymous = {ra}: no LSA policy handle for null sessions")]
        return [*steps, Step("RestrictAnonymous", True,
                             f"RestrictAnonymous = {ra} < 2: the LSA policy may be opened")]

    match cls:
        case OpClass.CLOSE | OpClass.ANY:
            return [Step("any caller", True, f"{cls.value}: no rule restricts it")]
        case OpClass.ADMIN:
            return [Step("Administrators only", False, "a null session is never an Administrator")]
        case OpClass.SRVSVC_INFO:
            return [restrict_anonymous_0("share and server information")]
        case OpClass.EVERYONE:
            return [everyone("this information level")]
        case OpClass.SAMR:
            first = restrict_anonymous_0("the SAM")
            if not first.passed:
                return [first]
            rsam = policy.RestrictAnonymousSAM  # type: ignore[attr-defined]
            if rsam:
                return [first, Step("RestrictAnonymousSAM", False,
                                    f"RestrictAnonymousSAM = {rsam}: SAM accounts hidden from null sessions")]
            return [first, Step("RestrictAnonymousSAM", True,
                                "RestrictAnonymousSAM = 0: SAM open to null sessions")]
        case _:  # the LSA classes
            steps = lsa_open()
            if not steps[-1].passed:
                return steps
            if cls is OpClass.LSA_OPEN:
                return steps
            if cls is OpClass.LSA_QUERY:
                return [*steps, restrict_anonymous_0("domain information")]
            if cls is OpClass.LSA_ENUM:
                return [*steps, everyone("enumerate LSA accounts (POLICY_VIEW_LOCAL_INFORMATION)")]
            lookup = policy.LSAAnonymousNameLookup  # type: ignore[attr-defined]
            if lookup:
                return [*steps, Step("LSAAnonymousNameLookup", True,
                                     "LSAAnonymousNameLookup = 1: anonymous SID/name translation allowed")]
            return [*steps, Step("LSAAnonymousNameLookup", False,
                                 "LSAAnonymousNameLookup = 0: anonymous SID/name translation refused")]


def _listed(op: Op, entries: tuple[str, ...]) -> bool:
    wanted = op.key.casefold()
    return any(e.casefold() == wanted for e in entries)


def rpc_chain(principal: Principal, call: RpcCall, policy: object) -> tuple[str, list[Step]]:
    """The status family of ``call`` and the rules consulted, the last one deciding."""
    kind = INTERFACES.get(call.interface.casefold(), NTSTATUS)
    op = find_operation(call.interface, call.operation)
    if op is None:
        return kind, [Step("no rule", False,
                           f"{call.interface}:{call.operation} has no row in the policy table: "
                           "refused to every caller")]
    classes, note = op.classes_at(call.level)
    chains = [_class_chain(principal, op, cls, policy) for cls in classes]
    steps = next((chain for chain in chains if chain[-1].passed), chains[0])
    if note:
        last = steps[-1]
        steps = [*steps[:-1], Step(last.rule, last.passed, f"{last.why} ({note})")]
    return kind, steps


def _class_chain(principal: Principal, op: Op, cls: OpClass, policy: object) -> list[Step]:
    if principal.kind is not PrincipalKind.ANONYMOUS:
        who = principal.describe()
        if cls is OpClass.ADMIN:
            member = principal.is_admin
            verb = "is" if member else "is not"
            return [Step("Administrators only", member, f"{op.key} needs Administrators; {who} {verb} a member")]
        if cls in (OpClass.ANY, OpClass.CLOSE):
            return [Step("any caller", True, f"{cls.value}: no rule restricts it")]
        return [Step("authenticated", True, f"{cls.value}; the null-session rules do not apply to {who}")]
    steps: list[Step] = []
    if cls is not OpClass.CLOSE:
        if policy.RestrictAnonymous >= 2:  # type: ignore[attr-defined]
            return [Step("RestrictAnonymous", False, "RestrictAnonymous = 2: null sessions get nothing on IPC$")]
        entries = getattr(policy, "NullSessionOperations", None)
        if entries is not None:
            if not _listed(op, tuple(entries)):
                return [Step("NullSessionOperations", False, f"{op.key} is not in NullSessionOperations")]
            steps.append(Step("NullSessionOperations", True, f"{op.key} is in NullSessionOperations"))
    return steps + _anonymous_steps(cls, policy)


def rpc_decision(principal: Principal, call: RpcCall, policy: object) -> tuple[Decision, list[Step]]:
    kind, steps = rpc_chain(principal, call, policy)
    last = steps[-1]
    return (allow(last, kind) if last.passed else deny(last, kind)), steps

