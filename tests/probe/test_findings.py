"""The verdict as a table: evidence in, findings and inferred settings out (findings rule 1).

Each row reads as the security statement it checks: "a null session that enumerates SAMR
users is a high finding and means RestrictAnonymousSAM = 0".
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from nullsmb.probe.evidence import GUEST, NULL, Outcome, Result
from nullsmb.probe.findings import RULES, Severity, assess
from nullsmb.probe.fixes import FIXES

from .builders import (
    BAD_NAME,
    DENIED,
    OK,
    REFUSED,
    access,
    disk,
    host,
    lsa_blocked,
    lsa_no_lookup,
    lsa_open,
    rpc,
    samr_denied,
    samr_open,
    sessions,
    skipped,
    srvsvc_closed,
    srvsvc_open,
    srvsvc_ra1,
    transport,
)

WRITE_OK = Outcome(Result.OK, "STATUS_SUCCESS", 0, "ntstatus", "created and deleted x.tmp")
BASE = {"signing-not-required", "ntlm-info", "null-session"}  # any reachable SMB2 host with a null session

CASES = [
    pytest.param(
        host(accesses=(access(rpcs=srvsvc_closed() + lsa_blocked() + samr_denied()),)),
        BASE,
        {"RestrictAnonymous": None, "NullSessionPipes": [], "NullSessionShares": [], "TurnOffAnonymousBlock": 0,
         "LSAAnonymousNameLookup": None, "RestrictAnonymousSAM": 1, "GuestFallback": False, "SMB1": False},
        id="windows-defaults: IPC$ only, every pipe closed",
    ),
    pytest.param(
        host(accesses=(access(open_pipes=("srvsvc", "lsarpc", "samr"),
                              rpcs=srvsvc_open() + lsa_open() + samr_open(),
                              shares=(disk("public"),)),)),
        BASE | {"anon-pipes", "anon-user-enum", "anon-rid-cycling", "anon-name-lookup", "anon-group-enum",
                "anon-password-policy", "anon-share-enum", "anon-server-info", "anon-domain-info", "anon-share-read"},
        {"RestrictAnonymous": 0, "RestrictAnonymousSAM": 0, "LSAAnonymousNameLookup": 1, "TurnOffAnonymousBlock": 1,
         "NullSessionPipes": ["srvsvc", "lsarpc", "samr"], "NullSessionShares": ["public"]},
        id="restrict-anonymous-0: everything open",
    ),
    pytest.param(
        host(accesses=(access(open_pipes=("srvsvc", "lsarpc", "samr"),
                              rpcs=srvsvc_ra1() + lsa_open(accounts=2) + samr_denied()),)),
        BASE | {"anon-pipes", "anon-rid-cycling", "anon-name-lookup", "anon-domain-info"},
        {"RestrictAnonymous": 1, "RestrictAnonymousSAM": 1, "LSAAnonymousNameLookup": 1},
        id="restrict-anonymous-1 (Samba): srvsvc and SAMR refused, LSA lookups still work",
    ),
    pytest.param(
        host(accesses=(access(ipc_outcome=DENIED, rpcs=srvsvc_closed(DENIED)),)),
        BASE,
        {"RestrictAnonymous": 2, "NullSessionPipes": []},
        id="restrict-anonymous-2: no IPC$",
    ),
    pytest.param(
        host(accesses=(access(open_pipes=("lsarpc",), rpcs=lsa_no_lookup()),)),
        BASE | {"anon-pipes"},
        {"LSAAnonymousNameLookup": 0, "TurnOffAnonymousBlock": 1},
        id="LSA open but translation refused",
    ),
    pytest.param(
        host(accesses=(access(open_pipes=("lsarpc",), rpcs=lsa_open(accounts=0)),)),
        BASE | {"anon-pipes", "anon-name-lookup", "anon-domain-info"},
        {"LSAAnonymousNameLookup": 1},
        id="RID cycling finds nothing in range: a lookup finding, not an exposure",
    ),
    pytest.param(
        host(sessions_=sessions(guest="guest"),
             accesses=(access(), access("guest", shares=(disk("public"),)))),
        BASE | {"guest-logon", "guest-share-read"},
        {"GuestFallback": True},
        id="unknown users become Guest and read a share",
    ),
    pytest.param(
        host(sessions_=sessions(guest="user"), accesses=(access(), access("guest"))),
        BASE | {"any-credentials"},
        {"GuestFallback": False},
        id="a random user and password accepted as a user",
    ),
    pytest.param(
        host(transport_=transport(smb1=True, signing_required=True, dialects=("2.0.2",)),
             accesses=(access(),)),
        {"ntlm-info", "null-session", "smb1-enabled"},
        {"SMB1": True, "RequireSecuritySignature": 1},
        id="SMB1 offered, signing required",
    ),
    pytest.param(
        host(accesses=(access(shares=(disk("drop", write=WRITE_OK), disk("C$", source="well-known"),
                                      disk("data", listing=DENIED), disk("big", maximal=0x001F01FF),
                                      disk("NETLOGON", connect=BAD_NAME, source="well-known"))),)),
        BASE | {"anon-share-write", "anon-admin-share", "anon-share-read", "anon-share-connect",
                "anon-share-write-permitted"},
        {"NullSessionShares": ["drop", "C$", "data", "big"]},
        id="shares: writable, administrative, connect-only, write permitted but untested",
    ),
    pytest.param(
        host(accesses=(access(open_pipes=("samr",), rpcs=(
            rpc("samr", "SamrGetDomainPasswordInformation", OK, min_password_length=5),
            rpc("samr", "SamrConnect5", DENIED))),)),
        BASE | {"anon-pipes"},
        {"RestrictAnonymousSAM": 1},
        id="getdompwinfo alone is not the password policy",
    ),
    pytest.param(
        host(sessions_=sessions(user=True), accesses=(access(), access("user", open_pipes=("samr",),
                                                                        rpcs=samr_open()))),
        BASE,
        {"RestrictAnonymousSAM": None},
        id="the authenticated baseline never makes findings",
    ),
    pytest.param(
        host(sessions_=sessions(null=False), accesses=()),
        {"signing-not-required", "ntlm-info"},
        {"RestrictAnonymous": None, "NullSessionPipes": None},
        id="null sessions refused at logon",
    ),
]


@pytest.mark.parametrize(("evidence", "ids", "settings"), CASES)
def test_verdict_table(evidence, ids, settings) -> None:  # type: ignore[no-untyped-def]
    verdict = assess(evidence)
    assert verdict.status == "assessed"
    assert {f.id for f in verdict.findings} == ids
    got = {s.name: s.value for s in verdict.settings}
    for name, value in settings.items():
        assert got[name] == value, (name, got[name])
    for f in verdict.findings:
        assert f.evidence, f  # every finding names what shows it
        assert f.fix.windows and f.fix.samba and f.fix.nullsmb


def test_counts_and_titles_name_the_exposure() -> None:
    v = assess(host(accesses=(access(open_pipes=("lsarpc", "samr"), rpcs=lsa_open(accounts=4) + samr_open(12)),)))
    by_id = {f.id: f for f in v.findings}
    assert by_id["anon-user-enum"].title == "null sessions enumerate users: 12 accounts exposed"
    assert by_id["anon-user-enum"].severity is Severity.HIGH
    assert by_id["anon-rid-cycling"].title.endswith("4 accounts exposed")
    assert "minimum length 7" in by_id["anon-password-policy"].title
    assert "samr SamrEnumerateUsersInDomain: STATUS_SUCCESS (12 returned)" in by_id["anon-user-enum"].evidence
    assert v.has_high and v.highest is Severity.HIGH
    assert [f.severity.rank for f in v.findings] == sorted((f.severity.rank for f in v.findings), reverse=True)


def test_guest_findings_carry_the_guest_fix() -> None:
    v = assess(host(sessions_=sessions(guest="guest"),
                    accesses=(access(), access("guest", open_pipes=("samr",), rpcs=samr_open()))))
    guest_enum = next(f for f in v.findings if f.id == "guest-user-enum")
    assert guest_enum.principal == GUEST and guest_enum.kind == "user-enum"
    assert "map to guest = Never" in guest_enum.fix.samba
    assert guest_enum.title.startswith("guest sessions (any unknown user name)")


def test_severity_is_not_raised_by_medium_findings_alone() -> None:
    v = assess(host(accesses=(access(open_pipes=("srvsvc",), rpcs=srvsvc_open(), shares=(disk("public"),)),)))
    assert not v.has_high and v.highest is Severity.MEDIUM


def test_unreachable_host_has_no_verdict() -> None:
    v = assess(host(connect=REFUSED))
    assert v.status == "unreachable" and v.findings == () and v.settings == ()


def test_internal_error_is_its_own_status() -> None:
    ev = host(connect=REFUSED)
    ev = replace(ev, connect=Outcome(Result.FAILED, None, None, "internal", "probe error: boom"))
    assert assess(ev).status == "error"


def test_incomplete_host_is_assessed_on_what_it_answered() -> None:
    ev = host(accesses=(access(open_pipes=("samr",), rpcs=samr_open()),), incomplete="deadline")
    assert "anon-user-enum" in {f.id for f in assess(ev).findings}


def test_skipped_operations_are_never_exposure() -> None:
    skip = skipped("needs a server handle (SamrConnect: STATUS_ACCESS_DENIED)")
    ev = host(accesses=(access(rpcs=(rpc("samr", "SamrEnumerateUsersInDomain", skip),)),))
    assert "anon-user-enum" not in {f.id for f in assess(ev).findings}


def test_every_rule_has_a_fix_and_every_fix_a_rule() -> None:
    kinds = {r.kind for r in RULES}
    assert kinds == set(FIXES)
    assert all(r.principals in ((), (NULL,), (NULL, GUEST)) for r in RULES)
