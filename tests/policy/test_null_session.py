"""The tree-connect and pipe-open gates, as a table that reads like design.md §4."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from nullsmb.policy.null_session import (
    Principal,
    PrincipalKind,
    Right,
    may_connect_ipc,
    may_connect_share,
    may_open_pipe,
)
from nullsmb.status import NtStatus


@dataclass(frozen=True)
class Policy:
    RestrictNullSessAccess: int = 1
    NullSessionShares: tuple[str, ...] = ()
    NullSessionPipes: tuple[str, ...] = ()
    RestrictAnonymous: int = 0
    EveryoneIncludesAnonymous: int = 0


ANON = Principal(PrincipalKind.ANONYMOUS)
GUEST = Principal(PrincipalKind.GUEST, "Guest")
ALICE = Principal(PrincipalKind.USER, "alice", ("Administrators",))
BOB = Principal(PrincipalKind.USER, "bob")
OPEN_ACL = (("Everyone", "read"), ("ANONYMOUS LOGON", "read"))
EVERYONE_ACL = (("Everyone", "read"),)
DENIED = NtStatus.STATUS_ACCESS_DENIED

# who, share, access list, policy → allowed, rule, right
SHARE_TABLE = [
    # anonymous: listed in NullSessionShares and admitted by the access list
    (ANON, "public", OPEN_ACL, Policy(NullSessionShares=("public",)), True, "share access list", Right.READ),
    # share names compare case-insensitively
    (ANON, "PUBLIC", OPEN_ACL, Policy(NullSessionShares=("public",)), True, "share access list", Right.READ),
    # RestrictNullSessAccess = 1 and not listed: refused before the access list is read
    (ANON, "public", OPEN_ACL, Policy(), False, "NullSessionShares", Right.NONE),
    # RestrictNullSessAccess = 0: only the access list counts
    (ANON, "public", OPEN_ACL, Policy(RestrictNullSessAccess=0), True, "share access list", Right.READ),
    # Everyone does not include anonymous (EveryoneIncludesAnonymous = 0, KB278259)
    (ANON, "public", EVERYONE_ACL, Policy(NullSessionShares=("public",)), False, "share access list", Right.NONE),
    # ... unless EveryoneIncludesAnonymous = 1
    (ANON, "public", EVERYONE_ACL, Policy(NullSessionShares=("public",), EveryoneIncludesAnonymous=1),
     True, "share access list", Right.READ),
    # a matching deny wins over any allow
    (ANON, "public", OPEN_ACL + (("ANONYMOUS LOGON", "deny"),), Policy(NullSessionShares=("public",)),
     False, "share access list", Right.NONE),
    # guests are in Everyone and Guests; NullSessionShares does not concern them
    (GUEST, "public", EVERYONE_ACL, Policy(), True, "share access list", Right.READ),
    (GUEST, "public", (("Guests", "change"),), Policy(), True, "share access list", Right.CHANGE),
    (GUEST, "public", (("alice", "full"),), Policy(), False, "share access list", Right.NONE),
    # users: the strongest matching right, by name or group
    (ALICE, "public", (("Everyone", "read"), ("alice", "full")), Policy(), True, "share access list", Right.FULL),
    (ALICE, "public", (("Administrators", "change"),), Policy(), True, "share access list", Right.CHANGE),
    (BOB, "public", (("Authenticated Users", "read"),), Policy(), True, "share access list", Right.READ),
    (BOB, "public", (("Everyone", "read"), ("bob", "deny")), Policy(), False, "share access list", Right.NONE),
]


@pytest.mark.parametrize("who,share,acl,policy,allowed,rule,right", SHARE_TABLE)
def test_tree_connect_disk_share(who, share, acl, policy, allowed, rule, right):
    decision = may_connect_share(who, share, acl, policy)
    assert (decision.allowed, decision.rule, decision.right) == (allowed, rule, right)
    assert decision.status == (NtStatus.STATUS_SUCCESS if allowed else DENIED)


@pytest.mark.parametrize("who,level,allowed", [
    (ANON, 0, True), (ANON, 1, True), (ANON, 2, False),  # RestrictAnonymous = 2 closes IPC$
    (GUEST, 2, True), (ALICE, 2, True),
])
def test_tree_connect_ipc(who, level, allowed):
    decision = may_connect_ipc(who, Policy(RestrictAnonymous=level))
    assert decision.allowed is allowed
    assert decision.rule == ("IPC$" if allowed else "RestrictAnonymous")


PIPE_TABLE = [
    (ANON, "srvsvc", Policy(NullSessionPipes=("srvsvc",)), True, "NullSessionPipes"),
    # \PIPE\ prefix stripped, case-insensitive (MS-SRVS 3.1.6.17)
    (ANON, "\\PIPE\\SrvSvc", Policy(NullSessionPipes=("srvsvc",)), True, "NullSessionPipes"),
    (ANON, "samr", Policy(NullSessionPipes=("srvsvc",)), False, "NullSessionPipes"),
    (ANON, "samr", Policy(), False, "NullSessionPipes"),
    (ANON, "samr", Policy(RestrictNullSessAccess=0), True, "RestrictNullSessAccess"),
    (GUEST, "samr", Policy(), True, "authenticated"),
    (ALICE, "lsarpc", Policy(), True, "authenticated"),
]


@pytest.mark.parametrize("who,pipe,policy,allowed,rule", PIPE_TABLE)
def test_pipe_open(who, pipe, policy, allowed, rule):
    decision = may_open_pipe(who, pipe, policy)
    assert (decision.allowed, decision.rule) == (allowed, rule)
