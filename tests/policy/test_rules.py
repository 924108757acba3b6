"""decide() and explain(): the decision table of design.md §4, one row per rule, then every
setting at every value for anonymous, guest, user and admin against the table as written there."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from nullsmb.config import PolicySettings
from nullsmb.policy import rpc_rules
from nullsmb.policy.model import WERR_ACCESS_DENIED
from nullsmb.policy.null_session import (
    Action,
    Principal,
    PrincipalKind,
    RpcCall,
    ShareRef,
    decide,
    evaluate,
    explain,
    may_connect_ipc,
    may_connect_share,
    may_open_pipe,
)
from nullsmb.policy.settings import SETTINGS
from nullsmb.status import NtStatus

ANON = Principal(PrincipalKind.ANONYMOUS)
GUEST = Principal(PrincipalKind.GUEST, "Guest")
BOB = Principal(PrincipalKind.USER, "bob", ("Backup",))
ALICE = Principal(PrincipalKind.USER, "alice", ("Administrators",))
WHO = {"anonymous": ANON, "guest": GUEST, "user": BOB, "admin": ALICE}

TREE, PIPE, RPC = Action.TREE_CONNECT, Action.PIPE_OPEN, Action.RPC_CALL
OPEN_ACL = (("ANONYMOUS LOGON", "read"), ("Everyone", "read"))
EVERYONE_ACL = (("Everyone", "read"),)
DENIED, OK = "STATUS_ACCESS_DENIED", "STATUS_SUCCESS"
WDENIED, WOK = "WERR_ACCESS_DENIED", "WERR_OK"


def P(**settings: object) -> PolicySettings:
    return PolicySettings(**settings)  # type: ignore[arg-type]


def call(text: str, level: int | None = None) -> RpcCall:
    interface, _, operation = text.partition(":")
    return RpcCall(interface, operation, level)


# --- one row per rule (design.md §4, null-sessions.md §3) -----------------------------------------
# (who, action, object, policy) → allowed, deciding rule, status

ROWS = [
    # tree connect IPC$: RestrictAnonymous < 2 (Windows 2000's level 2 and Samba close it)
    pytest.param(ANON, TREE, "IPC$", P(RestrictAnonymous=0), True, "IPC$", OK, id="ipc-ra0"),
    pytest.param(ANON, TREE, "ipc$", P(RestrictAnonymous=1), True, "IPC$", OK, id="ipc-ra1"),
    pytest.param(ANON, TREE, "IPC$", P(RestrictAnonymous=2), False, "RestrictAnonymous", DENIED, id="ipc-ra2"),
    pytest.param(GUEST, TREE, "IPC$", P(RestrictAnonymous=2), True, "IPC$", OK, id="ipc-ra2-guest"),
    # tree connect disk share: NullSessionShares (RestrictNullSessAccess = 1) and the access list
    pytest.param(ANON, TREE, ShareRef("data", OPEN_ACL), P(NullSessionShares=("DATA",)),
                 True, "share access list", OK, id="share-listed"),
    pytest.param(ANON, TREE, ShareRef("data", OPEN_ACL), P(), False, "NullSessionShares", DENIED,
                 id="share-not-listed"),
    pytest.param(ANON, TREE, ShareRef("data", OPEN_ACL), P(RestrictNullSessAccess=0),
                 True, "share access list", OK, id="share-restrictnullsessaccess-0"),
    pytest.param(ANON, TREE, ShareRef("data", EVERYONE_ACL), P(NullSessionShares=("data",)),
                 False, "share access list", DENIED, id="share-everyone-excludes-anonymous"),
    pytest.param(ANON, TREE, ShareRef("data", EVERYONE_ACL),
                 P(NullSessionShares=("data",), EveryoneIncludesAnonymous=1),
                 True, "share access list", OK, id="share-everyone-includes-anonymous"),
    pytest.param(BOB, TREE, "data", P(), True, "share access list", OK, id="share-user-default-acl"),
    # open pipe P: RestrictNullSessAccess = 0 or P in NullSessionPipes; nothing at RestrictAnonymous 2
    pytest.param(ANON, PIPE, "\\PIPE\\SAMR", P(NullSessionPipes=("samr",)), True, "NullSessionPipes", OK,
                 id="pipe-listed"),
    pytest.param(ANON, PIPE, "samr", P(NullSessionPipes=("lsarpc",)), False, "NullSessionPipes", DENIED,
                 id="pipe-not-listed"),
    pytest.param(ANON, PIPE, "samr", P(RestrictNullSessAccess=0), True, "RestrictNullSessAccess", OK,
                 id="pipe-restrictnullsessaccess-0"),
    pytest.param(ANON, PIPE, "samr", P(NullSessionPipes=("samr",), RestrictAnonymous=2),
                 False, "RestrictAnonymous", DENIED, id="pipe-ra2"),
    pytest.param(GUEST, PIPE, "samr", P(RestrictAnonymous=2), True, "authenticated", OK, id="pipe-guest"),
    # srvsvc share enumeration levels 0, 1 and server info: RestrictAnonymous = 0 (WERROR)
    pytest.param(ANON, RPC, call("srvsvc:NetrShareEnum", 1), P(), True, "RestrictAnonymous", WOK,
                 id="shareenum-1-ra0"),
    pytest.param(ANON, RPC, call("srvsvc:NetrShareEnum", 0), P(RestrictAnonymous=1),
                 False, "RestrictAnonymous", WDENIED, id="shareenum-0-ra1"),
    pytest.param(ANON, RPC, call("srvsvc:NetrServerGetInfo", 101), P(RestrictAnonymous=1),
                 False, "RestrictAnonymous", WDENIED, id="servergetinfo-101-ra1"),
    pytest.param(ANON, RPC, call("srvsvc:NetrShareGetInfo", 1), P(), True, "RestrictAnonymous", WOK,
                 id="sharegetinfo-1-ra0"),
    pytest.param(BOB, RPC, call("srvsvc:NetrShareEnum", 1), P(RestrictAnonymous=1), True, "authenticated",
                 WOK, id="shareenum-1-user"),
    # levels 2, 502, 503 and NetrShareGetInfo 502: Administrators only, for every caller
    pytest.param(ANON, RPC, call("srvsvc:NetrShareEnum", 2), P(), False, "Administrators only", WDENIED,
                 id="shareenum-2-anonymous"),
    pytest.param(GUEST, RPC, call("srvsvc:NetrShareEnum", 502), P(), False, "Administrators only", WDENIED,
                 id="shareenum-502-guest"),
    pytest.param(BOB, RPC, call("srvsvc:NetrShareEnum", 503), P(), False, "Administrators only", WDENIED,
                 id="shareenum-503-user"),
    pytest.param(ALICE, RPC, call("srvsvc:NetrShareEnum", 2), P(), True, "Administrators only", WOK,
                 id="shareenum-2-admin"),
    pytest.param(BOB, RPC, call("srvsvc:NetrShareGetInfo", 502), P(), False, "Administrators only", WDENIED,
                 id="sharegetinfo-502-user"),
    pytest.param(BOB, RPC, call("srvsvc:NetrServerGetInfo", 102), P(), False, "Administrators only", WDENIED,
                 id="servergetinfo-102-user"),
    # session/connection/file enumeration and delete: Administrators only
    pytest.param(BOB, RPC, call("srvsvc:NetrSessionEnum", 10), P(), False, "Administrators only", WDENIED,
                 id="sessionenum-user"),
    pytest.param(ALICE, RPC, call("srvsvc:NetrSessionEnum", 502), P(), True, "Administrators only", WOK,
                 id="sessionenum-admin"),
    pytest.param(GUEST, RPC, call("srvsvc:NetrConnectionEnum"), P(), False, "Administrators only", WDENIED,
                 id="connectionenum-guest"),
    pytest.param(ANON, RPC, call("srvsvc:NetrFileEnum"), P(), False, "Administrators only", WDENIED,
                 id="fileenum-anonymous"),
    pytest.param(ALICE, RPC, call("srvsvc:NetrSessionDel"), P(), True, "Administrators only", WOK,
                 id="sessiondel-admin"),
    # NetrRemoteTOD and NetrWkstaGetInfo 100: any caller; 101 Everyone; 102 and user enum: admins
    pytest.param(ANON, RPC, call("srvsvc:NetrRemoteTOD"), P(RestrictAnonymous=1), True, "any caller", WOK,
                 id="remotetod"),
    pytest.param(ANON, RPC, call("wkssvc:NetrWkstaGetInfo", 100), P(), True, "any caller", WOK,
                 id="wkstagetinfo-100"),
    pytest.param(ANON, RPC, call("wkssvc:NetrWkstaGetInfo", 101), P(), False, "EveryoneIncludesAnonymous",
                 WDENIED, id="wkstagetinfo-101-eia0"),
    pytest.param(ANON, RPC, call("wkssvc:NetrWkstaGetInfo", 101), P(EveryoneIncludesAnonymous=1),
                 True, "EveryoneIncludesAnonymous", WOK, id="wkstagetinfo-101-eia1"),
    pytest.param(GUEST, RPC, call("wkssvc:NetrWkstaGetInfo", 101), P(), True, "authenticated", WOK,
                 id="wkstagetinfo-101-guest"),
    pytest.param(BOB, RPC, call("wkssvc:NetrWkstaGetInfo", 102), P(), False, "Administrators only", WDENIED,
                 id="wkstagetinfo-102-user"),
    pytest.param(BOB, RPC, call("wkssvc:NetrWkstaUserEnum"), P(), False, "Administrators only", WDENIED,
                 id="wkstauserenum-user"),
    # samr connect (users, groups, password policy): RestrictAnonymous = 0 and RestrictAnonymousSAM = 0
    pytest.param(ANON, RPC, call("samr:SamrConnect5"), P(RestrictAnonymousSAM=0), True,
                 "RestrictAnonymousSAM", OK, id="samr-open"),
    pytest.param(ANON, RPC, call("samr:SamrConnect2"), P(), False, "RestrictAnonymousSAM", DENIED,
                 id="samr-default"),
    pytest.param(ANON, RPC, call("samr:SamrEnumerateUsersInDomain"), P(RestrictAnonymous=1,
                 RestrictAnonymousSAM=0), False, "RestrictAnonymous", DENIED, id="samr-ra1"),
    pytest.param(ANON, RPC, call("samr:SamrGetDomainPasswordInformation"), P(), False,
                 "RestrictAnonymousSAM", DENIED, id="samr-getdompwinfo"),
    pytest.param(GUEST, RPC, call("samr:SamrQueryDisplayInformation"), P(), True, "authenticated", OK,
                 id="samr-guest"),
    pytest.param(ANON, RPC, call("samr:SamrCloseHandle"), P(RestrictAnonymous=2), True, "any caller", OK,
                 id="samr-close"),
    # lsarpc open policy: TurnOffAnonymousBlock = 1 and RestrictAnonymous < 2
    pytest.param(ANON, RPC, call("lsarpc:LsarOpenPolicy2"), P(), False, "TurnOffAnonymousBlock", DENIED,
                 id="lsa-open-blocked"),
    pytest.param(ANON, RPC, call("lsarpc:LsarOpenPolicy"), P(TurnOffAnonymousBlock=1, RestrictAnonymous=1),
                 True, "RestrictAnonymous", OK, id="lsa-open-ra1"),
    pytest.param(ANON, RPC, call("lsarpc:LsarOpenPolicy2"), P(TurnOffAnonymousBlock=1, RestrictAnonymous=2),
                 False, "RestrictAnonymous", DENIED, id="lsa-open-ra2"),
    # lsarpc query domain info: as open policy, and RestrictAnonymous = 0
    pytest.param(ANON, RPC, call("lsarpc:LsarQueryInformationPolicy2"), P(TurnOffAnonymousBlock=1),
                 True, "RestrictAnonymous", OK, id="lsa-query"),
    pytest.param(ANON, RPC, call("lsarpc:LsarQueryInformationPolicy"),
                 P(TurnOffAnonymousBlock=1, RestrictAnonymous=1), False, "RestrictAnonymous", DENIED,
                 id="lsa-query-ra1"),
    # lsarpc SID↔name lookups: as open policy, and LSAAnonymousNameLookup = 1
    pytest.param(ANON, RPC, call("lsarpc:LsarLookupSids2"), P(TurnOffAnonymousBlock=1),
                 False, "LSAAnonymousNameLookup", DENIED, id="lsa-lookup-off"),
    pytest.param(ANON, RPC, call("lsarpc:LsarLookupNames3"),
                 P(TurnOffAnonymousBlock=1, LSAAnonymousNameLookup=1, RestrictAnonymous=1),
                 True, "LSAAnonymousNameLookup", OK, id="lsa-lookup-on-ra1"),
    pytest.param(BOB, RPC, call("lsarpc:LsarLookupSids"), P(), True, "authenticated", OK, id="lsa-lookup-user"),
    # LsarGetUserName: any caller; LsarEnumerateAccounts: Everyone (POLICY_VIEW_LOCAL_INFORMATION)
    pytest.param(ANON, RPC, call("lsarpc:LsarGetUserName"), P(), True, "any caller", OK, id="lsa-getusername"),
    pytest.param(ANON, RPC, call("lsarpc:LsarEnumerateAccounts"), P(TurnOffAnonymousBlock=1),
                 False, "EveryoneIncludesAnonymous", DENIED, id="lsa-enumaccounts"),
    pytest.param(GUEST, RPC, call("lsarpc:LsarEnumerateAccounts"), P(), True, "authenticated", OK,
                 id="lsa-enumaccounts-guest"),
    # NullSessionOperations narrows what an allowed pipe may do, for null sessions only
    pytest.param(ANON, RPC, call("srvsvc:NetrRemoteTOD"), P(NullSessionOperations=("srvsvc:NetrShareEnum",)),
                 False, "NullSessionOperations", WDENIED, id="operations-not-listed"),
    pytest.param(ANON, RPC, call("srvsvc:NetrShareEnum", 1),
                 P(NullSessionOperations=("SRVSVC:netrshareenum",)), True, "RestrictAnonymous", WOK,
                 id="operations-listed-any-case"),
    pytest.param(ANON, RPC, call("srvsvc:NetrShareEnum", 1),
                 P(NullSessionOperations=("srvsvc:NetrShareEnum",), RestrictAnonymous=1),
                 False, "RestrictAnonymous", WDENIED, id="operations-listed-still-windows-rules"),
    pytest.param(ANON, RPC, call("lsarpc:LsarGetUserName"), P(NullSessionOperations=()),
                 False, "NullSessionOperations", DENIED, id="operations-empty"),
    pytest.param(ANON, RPC, call("lsarpc:LsarClose"), P(NullSessionOperations=()), True, "any caller", OK,
                 id="operations-close-exempt"),
    pytest.param(BOB, RPC, call("srvsvc:NetrRemoteTOD"), P(NullSessionOperations=()), True, "any caller", WOK,
                 id="operations-not-for-users"),
    # RestrictAnonymous = 2: nothing on IPC$ for null sessions, whatever the operation
    pytest.param(ANON, RPC, call("wkssvc:NetrWkstaGetInfo", 100), P(RestrictAnonymous=2),
                 False, "RestrictAnonymous", WDENIED, id="rpc-ra2"),
    # an operation without a row is refused to everyone; an unknown level needs Administrators
    pytest.param(ALICE, RPC, call("samr:SamrSetInformationUser"), P(), False, "no rule", DENIED,
                 id="no-row"),
    pytest.param(ALICE, RPC, call("winreg:OpenHKLM"), P(), False, "no rule", DENIED, id="no-interface"),
    pytest.param(ANON, RPC, call("srvsvc:NetrShareEnum", 7), P(), False, "Administrators only", WDENIED,
                 id="unknown-level"),
    # no level yet (the RPC layer asks before reading it, then again with it): the most open level
    pytest.param(ANON, RPC, call("srvsvc:NetrShareEnum"), P(), True, "RestrictAnonymous", WOK,
                 id="no-level-yet-ra0"),
    pytest.param(ANON, RPC, call("srvsvc:NetrShareEnum"), P(RestrictAnonymous=1), False, "RestrictAnonymous",
                 WDENIED, id="no-level-yet-ra1"),
    pytest.param(BOB, RPC, call("wkssvc:NetrWkstaGetInfo"), P(), True, "any caller", WOK, id="no-level-yet-user"),
]


@pytest.mark.parametrize("who,action,obj,policy,allowed,rule,status", ROWS)
def test_rule(who, action, obj, policy, allowed, rule, status):
    decision = decide(who, action, obj, policy)
    assert (decision.allowed, decision.rule, decision.status_name) == (allowed, rule, status)
    assert decision.reason  # every decision says why, allow or deny


# --- every setting at every value, against design.md §4 as written ---------------------------------

LISTED_OPS = ("srvsvc:NetrShareEnum", "lsarpc:LsarOpenPolicy2", "lsarpc:LsarLookupSids2", "samr:SamrConnect5",
              "wkssvc:NetrWkstaGetInfo")
PIPES = ("srvsvc", "wkssvc", "lsarpc", "samr")
POLICIES = [
    P(RestrictNullSessAccess=rnsa, RestrictAnonymous=ra, RestrictAnonymousSAM=rsam, LSAAnonymousNameLookup=lookup,
      TurnOffAnonymousBlock=toab, EveryoneIncludesAnonymous=eia, NullSessionPipes=pipes, NullSessionShares=shares,
      NullSessionOperations=ops)
    for rnsa, ra, rsam, lookup, toab, eia, (pipes, shares), ops in itertools.product(
        (0, 1), (0, 1, 2), (0, 1), (0, 1), (0, 1), (0, 1), ((PIPES, ("data",)), ((), ())), (None, LISTED_OPS))
]


def _policy_id(p: PolicySettings) -> str:
    return (f"RNSA{p.RestrictNullSessAccess}-RA{p.RestrictAnonymous}-RASAM{p.RestrictAnonymousSAM}"
            f"-LOOKUP{p.LSAAnonymousNameLookup}-TOAB{p.TurnOffAnonymousBlock}-EIA{p.EveryoneIncludesAnonymous}"
            f"-{'listed' if p.NullSessionPipes else 'unlisted'}-{'ops' if p.NullSessionOperations else 'noops'}")


# What an anonymous call needs, row by row of design.md §4: True, or the rule that refuses it.
def ra0(p):  # srvsvc share enumeration levels 0, 1; server info
    return p.RestrictAnonymous == 0 or "RestrictAnonymous"


def anyone(p):
    return True


def everyone(p):  # granted to Everyone, which holds anonymous only with EveryoneIncludesAnonymous = 1
    return p.EveryoneIncludesAnonymous == 1 or "EveryoneIncludesAnonymous"


def lsa_open(p):  # TurnOffAnonymousBlock = 1 and RestrictAnonymous < 2 (2 is refused before)
    return p.TurnOffAnonymousBlock == 1 or "TurnOffAnonymousBlock"


def then(first, second):
    return lambda p: second(p) if first(p) is True else first(p)


samr = then(ra0, lambda p: p.RestrictAnonymousSAM == 0 or "RestrictAnonymousSAM")
lsa_query = then(lsa_open, ra0)
lsa_lookup = then(lsa_open, lambda p: p.LSAAnonymousNameLookup == 1 or "LSAAnonymousNameLookup")
lsa_enum = then(lsa_open, everyone)

ANONYMOUS_NEEDS = {
    ("srvsvc:NetrShareEnum", 0): ra0,
    ("srvsvc:NetrShareEnum", 1): ra0,
    ("srvsvc:NetrShareEnum", 501): ra0,
    ("srvsvc:NetrShareGetInfo", 1): ra0,
    ("srvsvc:NetrServerGetInfo", 100): ra0,
    ("srvsvc:NetrServerGetInfo", 101): ra0,
    ("srvsvc:NetrRemoteTOD", None): anyone,
    ("wkssvc:NetrWkstaGetInfo", 100): anyone,
    ("wkssvc:NetrWkstaGetInfo", 101): everyone,
    ("samr:SamrConnect5", None): samr,
    ("samr:SamrEnumerateUsersInDomain", None): samr,
    ("samr:SamrQueryDisplayInformation", None): samr,
    ("samr:SamrGetDomainPasswordInformation", None): samr,
    ("samr:SamrQueryInformationUser2", None): samr,
    ("lsarpc:LsarOpenPolicy2", None): lsa_open,
    ("lsarpc:LsarQueryInformationPolicy2", None): lsa_query,
    ("lsarpc:LsarLookupSids2", None): lsa_lookup,
    ("lsarpc:LsarLookupNames3", None): lsa_lookup,
    ("lsarpc:LsarEnumerateAccounts", None): lsa_enum,
    ("lsarpc:LsarGetUserName", None): anyone,
}

ADMINS_ONLY = [("srvsvc:NetrShareEnum", 2), ("srvsvc:NetrShareEnum", 502), ("srvsvc:NetrShareEnum", 503),
               ("srvsvc:NetrShareGetInfo", 502), ("srvsvc:NetrServerGetInfo", 102),
               ("srvsvc:NetrSessionEnum", 10), ("srvsvc:NetrSessionEnum", 1), ("srvsvc:NetrSessionDel", None),
               ("srvsvc:NetrConnectionEnum", None), ("srvsvc:NetrFileEnum", None),
               ("wkssvc:NetrWkstaGetInfo", 102), ("wkssvc:NetrWkstaUserEnum", None)]
CLOSES = [("lsarpc:LsarClose", None), ("samr:SamrCloseHandle", None)]


def expected(who: str, action: Action, obj: object, p: PolicySettings) -> bool | str:
    """design.md §4 for ``who``: True when allowed, else the rule that refuses."""
    anonymous = who == "anonymous"
    if action is TREE:
        if obj == "IPC$":
            return not anonymous or p.RestrictAnonymous < 2 or "RestrictAnonymous"
        name, acl = obj
        if anonymous and p.RestrictNullSessAccess == 1 and name not in p.NullSessionShares:
            return "NullSessionShares"
        admitted = not anonymous or "ANONYMOUS LOGON" in dict(acl) or p.EveryoneIncludesAnonymous == 1
        return admitted or "share access list"
    if action is PIPE:
        if not anonymous:
            return True
        if p.RestrictAnonymous == 2:
            return "RestrictAnonymous"
        return p.RestrictNullSessAccess == 0 or obj in p.NullSessionPipes or "NullSessionPipes"
    key = (f"{obj.interface}:{obj.operation}", obj.level)
    if key in CLOSES:
        return True
    if not anonymous:
        return key not in ADMINS_ONLY or who == "admin" or "Administrators only"
    if p.RestrictAnonymous == 2:  # no IPC$, so nothing on it
        return "RestrictAnonymous"
    if p.NullSessionOperations is not None and key[0] not in p.NullSessionOperations:
        return "NullSessionOperations"  # "any anonymous RPC call not listed is denied"
    if key in ADMINS_ONLY:
        return "Administrators only"
    return ANONYMOUS_NEEDS[key](p)


TARGETS = [
    (TREE, "IPC$"), (TREE, ("data", OPEN_ACL)), (TREE, ("data", EVERYONE_ACL)),
    *((PIPE, pipe) for pipe in PIPES),
    *((RPC, RpcCall(*key.split(":"), level)) for key, level in (*ANONYMOUS_NEEDS, *ADMINS_ONLY, *CLOSES)),
]


@pytest.mark.parametrize("policy", POLICIES, ids=_policy_id)
def test_every_setting_at_every_value(policy: PolicySettings) -> None:
    for (who, principal), (action, obj) in itertools.product(WHO.items(), TARGETS):
        target = ShareRef(*obj) if action is TREE and isinstance(obj, tuple) else obj
        decision = decide(principal, action, target, policy)
        want = expected(who, action, obj, policy)
        got = True if decision.allowed else decision.rule
        assert got == want, f"{who} {action.value} {obj}: got {got!r}, design.md §4 says {want!r}"


def test_the_matrix_covers_every_setting_at_every_value() -> None:
    values = {f.name: {getattr(p, f.name) for p in POLICIES} for f in dataclasses.fields(PolicySettings)}
    assert values["RestrictAnonymous"] == {0, 1, 2}
    for name in ("RestrictNullSessAccess", "RestrictAnonymousSAM", "LSAAnonymousNameLookup",
                 "TurnOffAnonymousBlock", "EveryoneIncludesAnonymous"):
        assert values[name] == {0, 1}, name
    assert values["NullSessionPipes"] == {PIPES, ()}
    assert values["NullSessionOperations"] == {None, LISTED_OPS}


# --- status families, explain chains --------------------------------------------------------------


@pytest.mark.parametrize("interface,kind", [("srvsvc", "werror"), ("wkssvc", "werror"),
                                            ("lsarpc", "ntstatus"), ("samr", "ntstatus")])
def test_denials_carry_the_interfaces_status_family(interface: str, kind: str) -> None:
    op = next(op for op in rpc_rules.OPERATIONS.values()
              if op.interface == interface and op.cls is not rpc_rules.OpClass.CLOSE)
    decision = decide(ANON, RPC, RpcCall(interface, op.name, next(iter(op.levels), None)),
                      P(RestrictAnonymous=2))
    assert (decision.allowed, decision.kind) == (False, kind)
    assert decision.status == (WERR_ACCESS_DENIED if kind == "werror" else NtStatus.STATUS_ACCESS_DENIED)


def test_explain_lookup_chain() -> None:
    policy = P(TurnOffAnonymousBlock=1, RestrictAnonymous=1, LSAAnonymousNameLookup=0,
               NullSessionOperations=("lsarpc:LsarLookupSids2",))
    assert explain(ANON, RPC, "lsarpc:LsarLookupSids2", policy) == [
        ("NullSessionOperations", True, "lsarpc:LsarLookupSids2 is in NullSessionOperations"),
        ("TurnOffAnonymousBlock", True, "TurnOffAnonymousBlock = 1: null sessions may open the LSA policy"),
        ("RestrictAnonymous", True, "RestrictAnonymous = 1 < 2: the LSA policy may be opened"),
        ("LSAAnonymousNameLookup", False, "LSAAnonymousNameLookup = 0: anonymous SID/name translation refused"),
    ]


def test_explain_stops_at_the_first_failure() -> None:
    chain = explain(ANON, RPC, ("samr", "SamrConnect5"), P(RestrictAnonymous=1))
    assert [(rule, passed) for rule, passed, _ in chain] == [("RestrictAnonymous", False)]
    chain = explain(ANON, RPC, ("samr", "SamrConnect5"), P())
    assert [(rule, passed) for rule, passed, _ in chain] == [("RestrictAnonymous", True),
                                                             ("RestrictAnonymousSAM", False)]


def test_explain_share_chain() -> None:
    chain = explain(ANON, TREE, ShareRef("data", EVERYONE_ACL), P(NullSessionShares=("data",)))
    assert chain == [
        ("NullSessionShares", True, "data is in NullSessionShares"),
        ("EveryoneIncludesAnonymous", True,
         "EveryoneIncludesAnonymous = 0: only ANONYMOUS LOGON entries apply to null sessions"),
        ("share access list", False, "the access list of data grants ANONYMOUS LOGON nothing"),
    ]


def test_explain_admin_only_names_the_caller() -> None:
    assert explain(BOB, RPC, RpcCall("srvsvc", "NetrSessionEnum", 10), P()) == [
        ("Administrators only", False,
         "srvsvc:NetrSessionEnum needs Administrators; user bob (Backup) is not a member"),
    ]


@pytest.mark.parametrize("policy", POLICIES[::7], ids=_policy_id)
def test_decision_is_the_last_step_of_its_chain(policy: PolicySettings) -> None:
    for principal, (action, obj) in itertools.product(WHO.values(), TARGETS):
        target = ShareRef(*obj) if action is TREE and isinstance(obj, tuple) else obj
        decision, steps = evaluate(principal, action, target, policy)
        assert (decision.allowed, decision.rule, decision.reason) == (steps[-1].passed, steps[-1].rule,
                                                                      steps[-1].why)
        assert all(step.passed for step in steps[:-1])  # the chain stops at the first failure
        assert explain(principal, action, target, policy) == [s.as_tuple() for s in steps]


# --- the object forms the callers pass ----------------------------------------------------------


def test_the_rpc_layers_two_questions() -> None:
    """rpc.pipe asks before the handler reads the level, and the handler asks again with it."""
    policy = P()
    first = decide(ANON, RPC, call("srvsvc:NetrShareEnum"), policy)
    assert first.allowed and first.reason.endswith("(no level given: the operation at its most open level; "
                                                   "ask again with the level)")
    assert decide(ANON, RPC, call("srvsvc:NetrShareEnum", 1), policy).allowed
    assert not decide(ANON, RPC, call("srvsvc:NetrShareEnum", 2), policy).allowed


def test_the_rpc_layers_call_context_is_accepted() -> None:
    @dataclasses.dataclass
    class CallContext:  # the shape of nullsmb.rpc.pipe.CallContext
        op_name: str
        level: int | None = None

    policy = P()
    assert decide(ANON, RPC, CallContext("srvsvc:NetrShareEnum", 2), policy) == decide(
        ANON, RPC, RpcCall("srvsvc", "NetrShareEnum", 2), policy)
    assert decide(ANON, RPC, CallContext("samr:opnum99"), policy).rule == "no rule"


def test_rpc_object_forms_agree() -> None:
    policy = P()
    forms = [RpcCall("srvsvc", "NetrShareEnum", 1), ("srvsvc", "NetrShareEnum", 1), ("SRVSVC", "netrshareenum", 1)]
    assert len({decide(ANON, RPC, form, policy) for form in forms}) == 1
    assert decide(ANON, "rpc_call", "lsarpc:LsarGetUserName", policy).allowed


@pytest.mark.parametrize("action,obj", [(RPC, 42), (RPC, ("srvsvc",)), (RPC, "NetrShareEnum"), (PIPE, 3),
                                        (TREE, 5)])
def test_bad_objects_are_type_errors(action: Action, obj: object) -> None:
    with pytest.raises(TypeError):
        decide(ANON, action, obj, P())


def test_share_objects_from_config_and_core_are_accepted() -> None:
    @dataclasses.dataclass
    class CoreShare:  # the shape of nullsmb.core.state.Share
        name: str
        access: tuple[tuple[str, str], ...]
        is_ipc: bool = False

    policy = P(NullSessionShares=("data",))
    assert decide(ANON, TREE, CoreShare("data", OPEN_ACL), policy).allowed
    assert decide(ANON, TREE, CoreShare("IPC$", (), True), P(RestrictAnonymous=2)).rule == "RestrictAnonymous"


def test_the_smb_gates_are_decide() -> None:
    policy = P(NullSessionShares=("data",), NullSessionPipes=("srvsvc",), RestrictAnonymous=1)
    assert may_connect_ipc(ANON, policy) == decide(ANON, TREE, "IPC$", policy)
    assert may_connect_share(ANON, "data", OPEN_ACL, policy) == decide(ANON, TREE, ShareRef("data", OPEN_ACL),
                                                                        policy)
    assert may_open_pipe(ANON, "\\pipe\\srvsvc", policy) == decide(ANON, PIPE, "srvsvc", policy)


# --- the tables themselves ------------------------------------------------------------------------

ISSUE_OPERATIONS = """
srvsvc: NetrShareEnum NetrShareGetInfo NetrServerGetInfo NetrSessionEnum NetrSessionDel NetrConnectionEnum
        NetrFileEnum NetrRemoteTOD
wkssvc: NetrWkstaGetInfo NetrWkstaUserEnum
lsarpc: LsarOpenPolicy LsarOpenPolicy2 LsarClose LsarQueryInformationPolicy LsarQueryInformationPolicy2
        LsarLookupSids LsarLookupSids2 LsarLookupNames LsarLookupNames2 LsarLookupNames3 LsarGetUserName
        LsarEnumerateAccounts
samr:   SamrConnect SamrConnect2 SamrConnect4 SamrConnect5 SamrCloseHandle SamrEnumerateDomainsInSamServer
        SamrLookupDomainInSamServer SamrOpenDomain SamrQueryInformationDomain SamrQueryInformationDomain2
        SamrEnumerateUsersInDomain SamrEnumerateGroupsInDomain SamrEnumerateAliasesInDomain
        SamrQueryDisplayInformation SamrQueryDisplayInformation2 SamrQueryDisplayInformation3
        SamrLookupNamesInDomain SamrLookupIdsInDomain SamrOpenUser SamrQueryInformationUser
        SamrQueryInformationUser2 SamrGetGroupsForUser SamrGetAliasMembership
        SamrGetDomainPasswordInformation SamrOpenGroup SamrOpenAlias SamrGetMembersInAlias
"""


def test_every_operation_of_issue_4_has_a_row() -> None:
    interface = ""
    for word in ISSUE_OPERATIONS.split():
        if word.endswith(":"):
            interface = word[:-1]
            continue
        assert rpc_rules.find_operation(interface, word) is not None, f"{interface}:{word}"


def test_issue_4_levels_have_rows() -> None:
    levels = {"srvsvc:NetrShareEnum": (0, 1, 2, 501, 502), "srvsvc:NetrServerGetInfo": (100, 101, 102),
              "wkssvc:NetrWkstaGetInfo": (100, 101, 102)}
    for key, wanted in levels.items():
        assert set(wanted) <= set(rpc_rules.OPERATIONS[key.casefold()].levels), key


def test_settings_follow_policy_settings() -> None:
    assert [s.name for s in SETTINGS] == [f.name for f in dataclasses.fields(PolicySettings)]
