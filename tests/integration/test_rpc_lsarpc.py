"""lsarpc on real servers (``python -m nullsmb serve --config``) with real clients: Samba's
rpcclient (lsaquery, lookupnames, lookupsids, lsaenumsid, getusername, lookupsids3) and impacket's
DCE/RPC library doing what impacket's lookupsid.py does (the script itself only connects to ports
139 and 445).

Three servers: ``open_server`` opens lsarpc to null sessions (TurnOffAnonymousBlock = 1,
LSAAnonymousNameLookup = 1, EveryoneIncludesAnonymous = 1); ``closed_server`` has the Windows
defaults for them (0, 0, 0) with lsarpc still in NullSessionPipes, so that the LSA policy and not
the pipe refuses; ``nolookup_server`` lets null sessions open the policy but not translate.
The machine SID is read from the server's state directory, where the server keeps it.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable, Iterator

import pytest

pytest.importorskip("impacket")
from impacket.dcerpc.v5 import lsad, lsat, transport  # noqa: E402
from impacket.dcerpc.v5.dtypes import MAXIMUM_ALLOWED  # noqa: E402
from impacket.dcerpc.v5.rpcrt import DCERPCException  # noqa: E402
from impacket.dcerpc.v5.samr import SID_NAME_USE  # noqa: E402

from .conftest import HOST, PASSWORD, ServerInfo, free_port, running_server, rpcclient as run_rpcclient  # noqa: E402


CONFIG = """\
[server]
listen = ["{host}:{port}"]
netbios_name = "LSATEST"
workgroup = "TESTGROUP"
map_to_guest = "bad_user"

[admin]
enabled = false

[audit]
file = "audit.jsonl"

[users.alice]
password = "{password}"
groups = ["Administrators"]

[users.bob]
password = "{password}"
groups = ["Backup Operators"]

[shares.public]
path = "./share"
access = {{ "Everyone" = "read" }}

[policy]
NullSessionPipes = ["srvsvc", "lsarpc"]
RestrictAnonymous = 0
TurnOffAnonymousBlock = {toab}
LSAAnonymousNameLookup = {lookup}
EveryoneIncludesAnonymous = {eia}
"""

NULL_SESSION = ["-U%", "-N"]
ALICE = ["-U", f"alice%{PASSWORD}"]
BOB = ["-U", f"bob%{PASSWORD}"]
DOMAIN = "LSATEST"
PRIVILEGED = ["S-1-5-32-544", "S-1-5-32-545", "S-1-5-32-551", "S-1-5-32-555", "S-1-1-0", "S-1-5-6",
              "S-1-5-19", "S-1-5-20"]


def _server(tmp_path_factory: pytest.TempPathFactory, name: str, toab: int, lookup: int,
            eia: int) -> Iterator[ServerInfo]:
    workdir = tmp_path_factory.mktemp(name)
    (workdir / "share").mkdir()
    port = free_port()
    config = workdir / "server.toml"
    config.write_text(CONFIG.format(host=HOST, port=port, password=PASSWORD, toab=toab, lookup=lookup, eia=eia))
    with running_server(workdir, config=config, port=port) as info:
        yield info


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    yield from _server(tmp_path_factory, "lsa-open", 1, 1, 1)


@pytest.fixture(scope="module")
def closed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    yield from _server(tmp_path_factory, "lsa-closed", 0, 0, 0)


@pytest.fixture(scope="module")
def nolookup_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    yield from _server(tmp_path_factory, "lsa-nolookup", 1, 0, 0)


def machine_sid(server: ServerInfo) -> str:
    """The SID the server keeps in its state directory (rpc/directory.py), read from the file."""
    return (server.workdir / ".nullsmb" / "machine_sid").read_text().strip()


def rpcclient(server: ServerInfo, command: str, auth: list[str] = NULL_SESSION) -> str:
    return run_rpcclient(server.port, command, auth, host=server.host)


def lsa(server: ServerInfo, user: str = "", password: str = "") -> Any:
    t = transport.SMBTransport(server.host, server.port, filename=r"\lsarpc")
    t.set_credentials(user, password)
    d = t.get_dce_rpc()
    d.connect()
    d.bind(lsat.MSRPC_UUID_LSAT)
    return d


def audit_events(server: ServerInfo) -> list[dict]:
    path = server.workdir / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(what: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.1)
    return what()


# -- rpcclient, null session ------------------------------------------------------------------------

def test_lsaquery(open_server: ServerInfo) -> None:
    out = rpcclient(open_server, "lsaquery")  # LsarOpenPolicy + LsarQueryInformationPolicy level 3
    assert "Domain Name: TESTGROUP" in out and "Domain Sid: (NULL SID)" in out, out
    out = rpcclient(open_server, "lsaquery 5")
    assert f"Domain Name: {DOMAIN}\nDomain Sid: {machine_sid(open_server)}" in out, out
    out = rpcclient(open_server, "lsaquery 12")  # LsarOpenPolicy2 + LsarQueryInformationPolicy2
    assert "Domain NetBios Name: TESTGROUP" in out and "Domain Sid: (NULL SID)" in out, out


def test_lookupnames(open_server: ServerInfo) -> None:
    sid = machine_sid(open_server)
    out = rpcclient(open_server, "lookupnames alice bob Administrators Everyone nosuch")
    assert f"alice {sid}-1000 (User: 1)" in out, out
    assert f"bob {sid}-1001 (User: 1)" in out, out
    assert "Administrators S-1-5-32-544 (Local Group: 4)" in out, out
    assert "Everyone S-1-1-0 (Well-known Group: 5)" in out, out
    assert "nosuch S-0-0 (UNKNOWN: 8)" in out, out


def test_lookupsids(open_server: ServerInfo) -> None:
    sid = machine_sid(open_server)
    out = rpcclient(open_server, "lookupsids S-1-5-32-544")
    assert out.strip() == "S-1-5-32-544 BUILTIN\\Administrators (4)", out
    out = rpcclient(open_server, f"lookupsids {sid}-1000 {sid}-500 S-1-5-7 {sid}-4321 {sid}")
    assert f"{sid}-1000 {DOMAIN}\\alice (1)" in out, out
    assert f"{sid}-500 {DOMAIN}\\Administrator (1)" in out, out
    assert "S-1-5-7 NT AUTHORITY\\ANONYMOUS LOGON (5)" in out, out
    assert f"{sid}-4321 *unknown*\\*unknown* (8)" in out, out  # DomainIndex -1, as Windows
    assert f"{sid} {DOMAIN} (3)" in out, out  # rpcclient prints a domain without "\\name"


def test_lsaenumsid(open_server: ServerInfo) -> None:
    out = rpcclient(open_server, "lsaenumsid")
    sids = re.findall(r"^S-1-[\d-]+$", out, re.M)
    assert "found 9 SIDs" in out and sids == [*PRIVILEGED, f"{machine_sid(open_server)}-501"], out


def test_getusername(open_server: ServerInfo) -> None:
    out = rpcclient(open_server, "getusername")
    assert "Account Name: ANONYMOUS LOGON, Authority Name: NT AUTHORITY" in out, out


def test_lookupsids3_and_lookupnames4_need_a_secure_channel(open_server: ServerInfo) -> None:
    out = rpcclient(open_server, "lookupsids3 S-1-5-32-544")
    assert "NT_STATUS_ACCESS_DENIED" in out and "Administrators" not in out, out
    out = rpcclient(open_server, "lookupnames4 alice")
    assert "NT_STATUS_ACCESS_DENIED" in out and "S-1-5-21" not in out, out


# -- rpcclient, alice (Administrators) and bob ------------------------------------------------------

def test_alice(closed_server: ServerInfo) -> None:
    """The anonymous settings do not concern users: everything works on the closed server."""
    sid = machine_sid(closed_server)
    out = rpcclient(closed_server, "getusername; lsaquery 5; lookupnames alice; lookupsids S-1-5-32-544; "
                                   f"lookupsids {sid}-1001; lsaenumsid", ALICE)
    assert "Account Name: alice, Authority Name: LSATEST" in out, out
    assert f"Domain Name: {DOMAIN}\nDomain Sid: {sid}" in out, out
    assert f"alice {sid}-1000 (User: 1)" in out, out
    assert "S-1-5-32-544 BUILTIN\\Administrators (4)" in out, out
    assert f"{sid}-1001 {DOMAIN}\\bob (1)" in out, out
    assert "found 9 SIDs" in out, out


def test_bob(closed_server: ServerInfo) -> None:
    out = rpcclient(closed_server, "getusername; lookupnames 'Backup Operators'", BOB)
    assert "Account Name: bob, Authority Name: LSATEST" in out, out
    assert "Backup Operators S-1-5-32-551 (Local Group: 4)" in out, out


# -- denials ----------------------------------------------------------------------------------------

def test_turn_off_anonymous_block_0_refuses_the_policy_handle(closed_server: ServerInfo) -> None:
    for command in ("lsaquery", "lsaquery 12", "lookupnames alice", "lookupsids S-1-5-32-544", "lsaenumsid"):
        out = rpcclient(closed_server, command)
        assert "NT_STATUS_ACCESS_DENIED" in out and "S-1-5" not in out and "Domain Name" not in out, (command, out)
    assert "Account Name: ANONYMOUS LOGON" in rpcclient(closed_server, "getusername")  # no handle needed


def test_lsa_anonymous_name_lookup_0_refuses_translation(nolookup_server: ServerInfo) -> None:
    out = rpcclient(nolookup_server, "lsaquery 5")
    assert f"Domain Sid: {machine_sid(nolookup_server)}" in out, out
    for command in ("lookupnames alice", "lookupsids S-1-5-32-544"):
        out = rpcclient(nolookup_server, command)
        assert "NT_STATUS_ACCESS_DENIED" in out and "alice S-1" not in out and "Administrators" not in out, out
    out = rpcclient(nolookup_server, "lsaenumsid")  # EveryoneIncludesAnonymous = 0
    assert "NT_STATUS_ACCESS_DENIED" in out and "found" not in out, out


# -- impacket: what lookupsid.py does -----------------------------------------------------------------

def rid_cycle(server: ServerInfo, user: str = "", password: str = "", rids: range = range(500, 1011)
              ) -> tuple[str, dict[int, tuple[str, str, str]]]:
    """OpenPolicy2(MAXIMUM_ALLOWED | POLICY_LOOKUP_NAMES), the account domain's SID, then
    LsarLookupSids over ``rids`` at LsapLookupWksta; SOME_NOT_MAPPED is a partial answer."""
    dce = lsa(server, user, password)
    try:
        handle = lsad.hLsarOpenPolicy2(dce, MAXIMUM_ALLOWED | lsat.POLICY_LOOKUP_NAMES)["PolicyHandle"]
        resp = lsad.hLsarQueryInformationPolicy2(dce, handle,
                                                 lsad.POLICY_INFORMATION_CLASS.PolicyAccountDomainInformation)
        domain_sid = resp["PolicyInformation"]["PolicyAccountDomainInfo"]["DomainSid"].formatCanonical()
        try:
            resp = lsat.hLsarLookupSids(dce, handle, [f"{domain_sid}-{rid}" for rid in rids],
                                        lsat.LSAP_LOOKUP_LEVEL.LsapLookupWksta)
        except DCERPCException as e:
            if "STATUS_SOME_NOT_MAPPED" not in str(e):
                raise
            resp = e.get_packet()
        found = {}
        for rid, item in zip(rids, resp["TranslatedNames"]["Names"]):
            if item["Use"] != SID_NAME_USE.SidTypeUnknown:
                domain = resp["ReferencedDomains"]["Domains"][item["DomainIndex"]]["Name"]
                found[rid] = (domain, item["Name"], SID_NAME_USE.enumItems(item["Use"]).name)
        lsad.hLsarClose(dce, handle)
        return domain_sid, found
    finally:
        dce.disconnect()


EXPECTED_RIDS = {500: (DOMAIN, "Administrator", "SidTypeUser"), 501: (DOMAIN, "Guest", "SidTypeUser"),
                 513: (DOMAIN, "None", "SidTypeGroup"), 1000: (DOMAIN, "alice", "SidTypeUser"),
                 1001: (DOMAIN, "bob", "SidTypeUser")}


def test_impacket_rid_cycling_anonymously(open_server: ServerInfo) -> None:
    domain_sid, found = rid_cycle(open_server)
    assert domain_sid == machine_sid(open_server)
    assert found == EXPECTED_RIDS


def test_impacket_rid_cycling_as_alice_on_the_closed_server(closed_server: ServerInfo) -> None:
    domain_sid, found = rid_cycle(closed_server, "alice", PASSWORD)
    assert domain_sid == machine_sid(closed_server) and found == EXPECTED_RIDS


def test_impacket_rid_cycling_refused(closed_server: ServerInfo, nolookup_server: ServerInfo) -> None:
    with pytest.raises(DCERPCException, match="STATUS_ACCESS_DENIED"):
        rid_cycle(closed_server)  # LsarOpenPolicy2 refused: TurnOffAnonymousBlock = 0
    with pytest.raises(DCERPCException, match="STATUS_ACCESS_DENIED"):
        rid_cycle(nolookup_server)  # LsarLookupSids refused: LSAAnonymousNameLookup = 0


def test_impacket_lookup_sids3_faults(open_server: ServerInfo) -> None:
    dce = lsa(open_server)
    try:
        with pytest.raises(DCERPCException, match="rpc_s_access_denied"):
            lsat.hLsarLookupNames4(dce, ["alice"])
        # the pipe is still usable afterwards
        handle = lsad.hLsarOpenPolicy2(dce, MAXIMUM_ALLOWED | lsat.POLICY_LOOKUP_NAMES)["PolicyHandle"]
        resp = lsat.hLsarLookupNames3(dce, handle, ["alice"])
        assert resp["TranslatedSids"]["Sids"][0]["Sid"].formatCanonical() == f"{machine_sid(open_server)}-1000"
    finally:
        dce.disconnect()


# -- the audit counts what a null session learnt -------------------------------------------------------

def test_audit_counts_translations(open_server: ServerInfo) -> None:
    """Seven SIDs translated and one not: the event says 7 (no other test here translates 7)."""
    sids = ["S-1-5-32-544", "S-1-5-32-545", "S-1-5-32-546", "S-1-5-32-547", "S-1-5-32-551", "S-1-5-32-555",
            "S-1-1-0", f"{machine_sid(open_server)}-7777"]
    out = rpcclient(open_server, "lookupsids " + " ".join(sids))
    assert "BUILTIN\\Remote Desktop Users (4)" in out, out

    def found() -> list[dict]:
        return [e for e in audit_events(open_server)
                if e.get("event_id") == 5712 and e.get("operation") == "LsarLookupSids" and e.get("returned") == 7]

    events = wait_for(found)
    assert len(events) == 1, events
    event = events[0]
    assert (event["anonymous"], event["user"], event["interface"], event["outcome"], event["rule"]) \
        == (True, "ANONYMOUS LOGON", "lsarpc", "success", "LSAAnonymousNameLookup"), event
