"""samr on a real server (``python -m nullsmb serve --config``) driven by Samba's rpcclient and
impacket's SAMR library, as enum4linux-ng and samrdump.py drive Windows.

Two servers: ``open_sam`` lets null sessions read the SAM (NullSessionPipes has samr,
RestrictAnonymousSAM = 0); ``closed_sam`` keeps the default RestrictAnonymousSAM = 1, so the
pipe opens but every SAMR call of a null session is refused with STATUS_ACCESS_DENIED, while
alice (Administrators) and bob still read it. Outputs are checked for content: names, RIDs,
account flags, memberships; RIDs are looked up, never assumed.
"""

from __future__ import annotations

import re
import time
from typing import Any, Iterator

import pytest
from impacket.dcerpc.v5 import samr, transport
from impacket.dcerpc.v5.dtypes import MAXIMUM_ALLOWED, RPC_SID
from impacket.dcerpc.v5.samr import DCERPCSessionError

from .conftest import HOST, PASSWORD, ServerInfo, free_port, running_server, rpcclient as run_rpcclient

BOB_PASSWORD = "B0b-secret"
STATUS_ACCESS_DENIED = 0xC0000022

CONFIG = """\
[server]
listen = ["{host}:{port}"]
[admin]
enabled = false
[audit]
file = "audit.jsonl"
[users.alice]
password = "{password}"
groups = ["Administrators"]
[users.bob]
password = "{bob}"
groups = ["Staff"]
[shares.public]
path = "./share"
[policy]
NullSessionPipes = ["srvsvc", "samr", "lsarpc"]
{policy}
"""


def _server(tmp_path_factory: pytest.TempPathFactory, name: str, policy: str) -> Iterator[ServerInfo]:
    workdir = tmp_path_factory.mktemp(name)
    (workdir / "share").mkdir()
    port = free_port()
    config = workdir / "server.toml"
    config.write_text(CONFIG.format(host=HOST, port=port, password=PASSWORD, bob=BOB_PASSWORD, policy=policy))
    with running_server(workdir, config=config, port=port) as info:
        yield info


@pytest.fixture(scope="module")
def open_sam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    yield from _server(tmp_path_factory, "samr-open", "RestrictAnonymousSAM = 0")


@pytest.fixture(scope="module")
def closed_sam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    yield from _server(tmp_path_factory, "samr-closed", "")  # the default RestrictAnonymousSAM = 1


NULL = ["-U%", "-N"]
ALICE = ["-U", f"alice%{PASSWORD}"]
BOB = ["-U", f"bob%{BOB_PASSWORD}"]


def rpcclient(server: ServerInfo, command: str, auth: list[str] = NULL) -> str:
    return run_rpcclient(server.port, command, auth, host=server.host)


def users_of(output: str) -> dict[str, int]:
    """enumdomusers: ``user:[alice] rid:[0x3e8]`` lines."""
    return {name: int(rid, 16) for name, rid in re.findall(r"user:\[([^\]]+)\] rid:\[(0x[0-9a-f]+)\]", output)}


def groups_of(output: str) -> dict[str, int]:
    return {name: int(rid, 16) for name, rid in re.findall(r"group:\[([^\]]+)\] rid:\[(0x[0-9a-f]+)\]", output)}


def rid_of(server: ServerInfo, name: str, auth: list[str] = NULL) -> int:
    out = rpcclient(server, f"samlookupnames domain {name}", auth)
    match = re.search(rf"name {name}: (0x[0-9a-f]+) \(1\)", out)
    assert match, out
    return int(match.group(1), 16)


def domain_sid(server: ServerInfo, auth: list[str] = NULL) -> str:
    """The account domain's SID, from the members of BUILTIN\\Administrators (Administrator, 500)."""
    out = rpcclient(server, "queryaliasmem builtin 544", auth)
    sids = re.findall(r"sid:\[(S-1-5-21-[0-9-]+)\]", out)
    admin = [s for s in sids if s.endswith("-500")]
    assert admin, out
    return admin[0][: -len("-500")]


# -- rpcclient, null session, SAM open ---------------------------------------------------------------

def test_enumdomusers_and_querydispinfo(open_sam: ServerInfo) -> None:
    users = users_of(rpcclient(open_sam, "enumdomusers"))
    assert set(users) == {"Administrator", "Guest", "alice", "bob"}
    assert (users["Administrator"], users["Guest"]) == (0x1F4, 0x1F5)
    assert users["alice"] == rid_of(open_sam, "alice") and users["bob"] == rid_of(open_sam, "bob")
    assert users["alice"] >= 1000 and users["bob"] >= 1000 and users["alice"] != users["bob"]
    out = rpcclient(open_sam, "querydispinfo")
    rows = re.findall(r"index: (0x[0-9a-f]+) RID: (0x[0-9a-f]+) acb: (0x[0-9a-f]+) Account: (\S+)", out)
    assert [(name, int(rid, 16), int(acb, 16)) for _i, rid, acb, name in rows] == [
        ("Administrator", 0x1F4, 0x211), ("alice", users["alice"], 0x10), ("bob", users["bob"], 0x10),
        ("Guest", 0x1F5, 0x215)]  # name order; Administrator and Guest disabled (0x1), normal (0x10)
    assert [int(i, 16) for i, *_ in rows] == [1, 2, 3, 4]
    assert "Built-in account for administering the computer/domain" in out


def test_queryuser_and_its_groups(open_sam: ServerInfo) -> None:
    rid = rid_of(open_sam, "alice")
    out = rpcclient(open_sam, f"queryuser {rid}")
    assert re.search(r"User Name\s+:\s+alice\n", out), out
    assert re.search(rf"user_rid :\s+0x{rid:x}\n", out) and re.search(r"group_rid:\s+0x201\n", out)
    assert re.search(r"acb_info :\s+0x00000010\n", out)
    assert re.search(r"fields_present:\s+0x00ffffff\n", out)  # no password bits
    out = rpcclient(open_sam, f"queryusergroups {rid}")
    assert re.findall(r"group rid:\[(0x[0-9a-f]+)\] attr:\[(0x[0-9a-f]+)\]", out) == [("0x201", "0x7")]
    sid = f"{domain_sid(open_sam)}-{rid}"
    out = rpcclient(open_sam, f"queryuseraliases builtin {sid}")
    assert re.findall(r"group rid:\[(0x[0-9a-f]+)\]", out) == ["0x220", "0x221"]  # Administrators, Users
    bob = f"{domain_sid(open_sam)}-{rid_of(open_sam, 'bob')}"
    out = rpcclient(open_sam, f"queryuseraliases domain {bob}")
    staff = groups_of(rpcclient(open_sam, "enumalsgroups domain"))["Staff"]
    assert re.findall(r"group rid:\[(0x[0-9a-f]+)\]", out) == [hex(staff)]


def test_groups_and_aliases(open_sam: ServerInfo) -> None:
    assert groups_of(rpcclient(open_sam, "enumdomgroups")) == {"None": 0x201}
    assert groups_of(rpcclient(open_sam, "enumalsgroups builtin")) == {
        "Administrators": 0x220, "Users": 0x221, "Guests": 0x222, "Power Users": 0x223,
        "Backup Operators": 0x227, "Remote Desktop Users": 0x22B}
    domain_aliases = groups_of(rpcclient(open_sam, "enumalsgroups domain"))
    assert list(domain_aliases) == ["Staff"] and domain_aliases["Staff"] >= 1000
    out = rpcclient(open_sam, "queryaliasmem builtin 544")
    sid = domain_sid(open_sam)
    assert re.findall(r"sid:\[(S-[0-9-]+)\]", out) == [f"{sid}-500", f"{sid}-{rid_of(open_sam, 'alice')}"]
    out = rpcclient(open_sam, "querygroupmem 513")
    assert len(re.findall(r"rid:\[0x[0-9a-f]+\] attr:\[0x7\]", out)) == 4


def test_domain_information(open_sam: ServerInfo) -> None:
    out = rpcclient(open_sam, "getdompwinfo")
    assert "min_password_length: 0" in out and "password_properties: 0x00000000" in out
    out = rpcclient(open_sam, "querydominfo")
    assert re.search(r"Domain:\s+NULLSMB\n", out) and re.search(r"Total Users:\s+4\n", out), out
    assert re.search(r"Total Groups:\s+1\n", out) and re.search(r"Total Aliases:\s+1\n", out)
    assert re.search(r"Server Role:\s+ROLE_DOMAIN_PDC", out)  # DomainServerRolePrimary: its own SAM
    out = rpcclient(open_sam, "querydominfo 12")
    assert re.search(r"Lockout after bad attempts:\s+0\n", out), out
    out = rpcclient(open_sam, "samlookupnames domain alice bob")
    assert f"name alice: {hex(rid_of(open_sam, 'alice'))} (1)" in out and "name bob: " in out
    assert "result was STATUS_SOME_UNMAPPED" in rpcclient(open_sam, "samlookupnames domain alice nobody")
    assert "result was NT_STATUS_NONE_MAPPED" in rpcclient(open_sam, "samlookupnames builtin alice")
    out = rpcclient(open_sam, "samlookuprids domain 500 501 4242")
    assert "rid 0x1f4: Administrator (1)" in out and "rid 0x1f5: Guest (1)" in out and "rid 0x1092: (null) (8)" in out


# -- the SAM closed to null sessions (RestrictAnonymousSAM = 1) --------------------------------------------

@pytest.mark.parametrize("command", ["enumdomusers", "querydispinfo", "enumdomgroups", "enumalsgroups builtin",
                                     "getdompwinfo", "querydominfo", "samlookupnames domain alice",
                                     "queryuser 500"])
def test_null_sessions_are_refused(closed_sam: ServerInfo, command: str) -> None:
    out = rpcclient(closed_sam, command)
    assert "NT_STATUS_ACCESS_DENIED" in out, out
    assert "alice" not in out.replace("samlookupnames domain alice", "") and "rid:[" not in out


def test_users_still_read_a_closed_sam(closed_sam: ServerInfo) -> None:
    for auth in (ALICE, BOB):
        users = users_of(rpcclient(closed_sam, "enumdomusers", auth))
        assert set(users) == {"Administrator", "Guest", "alice", "bob"}
        rid = rid_of(closed_sam, "alice", auth)
        out = rpcclient(closed_sam, f"queryuser {rid}", auth)
        assert re.search(r"User Name\s+:\s+alice\n", out) and re.search(rf"user_rid :\s+0x{rid:x}\n", out)
        assert "min_password_length: 0" in rpcclient(closed_sam, "getdompwinfo", auth)
        assert "Administrators" in groups_of(rpcclient(closed_sam, "enumalsgroups builtin", auth))


def test_the_audit_trail_names_the_rule_and_the_count(open_sam: ServerInfo, closed_sam: ServerInfo) -> None:
    from nullsmb.audit.query import read_events

    rpcclient(open_sam, "enumdomusers")
    rpcclient(closed_sam, "enumdomusers")

    def wait_for(server: ServerInfo, predicate: Any) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 10
        while True:
            found = [e for e in read_events(server.workdir / "audit.jsonl") if predicate(e)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    listed = wait_for(open_sam, lambda e: e.get("operation") == "SamrEnumerateUsersInDomain" and e["anonymous"])
    assert listed and listed[-1]["returned"] == 4 and listed[-1]["outcome"] == "success"
    assert listed[-1]["interface"] == "samr" and listed[-1]["rule"] == "RestrictAnonymousSAM"
    refused = wait_for(closed_sam, lambda e: e.get("interface") == "samr" and e["anonymous"]
                       and e["outcome"] == "failure")
    assert refused and refused[0]["rule"] == "RestrictAnonymousSAM"
    assert refused[0]["operation"].startswith("SamrConnect")


# -- impacket: samrdump.py's sequence through its library -----------------------------------------------

def samrdump(server: ServerInfo, user: str = "", password: str = "") -> list[tuple[str, int, Any]]:
    """What samrdump.py does: Connect, EnumerateDomains, LookupDomain, OpenDomain, then pages of
    EnumerateUsersInDomain, and OpenUser + QueryInformationUser2(UserAllInformation) per user."""
    rpc = transport.SMBTransport(server.host, server.port, filename=r"\samr")
    rpc.set_credentials(user, password)
    dce = rpc.get_dce_rpc()
    dce.connect()
    try:
        dce.bind(samr.MSRPC_UUID_SAMR)
        handle = samr.hSamrConnect(dce)["ServerHandle"]
        domains = samr.hSamrEnumerateDomainsInSamServer(dce, handle)["Buffer"]["Buffer"]
        assert [d["Name"] for d in domains] == ["NULLSMB", "Builtin"]
        sid = samr.hSamrLookupDomainInSamServer(dce, handle, domains[0]["Name"])["DomainId"]
        domain = samr.hSamrOpenDomain(dce, serverHandle=handle, domainId=sid)["DomainHandle"]
        entries, context, status = [], 0, 0x105
        while status == 0x105:  # STATUS_MORE_ENTRIES
            try:
                rsp = samr.hSamrEnumerateUsersInDomain(dce, domain, enumerationContext=context,
                                                       preferedMaximumLength=40)
            except DCERPCSessionError as exc:
                if exc.get_error_code() != 0x105:
                    raise
                rsp = exc.get_packet()
            for user_entry in rsp["Buffer"]["Buffer"]:
                opened = samr.hSamrOpenUser(dce, domain, MAXIMUM_ALLOWED, user_entry["RelativeId"])
                info = samr.hSamrQueryInformationUser2(dce, opened["UserHandle"],
                                                       samr.USER_INFORMATION_CLASS.UserAllInformation)
                entries.append((user_entry["Name"], user_entry["RelativeId"], info["Buffer"]["All"]))
                samr.hSamrCloseHandle(dce, opened["UserHandle"])
            context, status = rsp["EnumerationContext"], rsp["ErrorCode"]
        return entries
    finally:
        dce.disconnect()


def test_samrdump_anonymously_when_allowed(open_sam: ServerInfo) -> None:
    entries = samrdump(open_sam)
    assert [(name, rid) for name, rid, _ in entries][:2] == [("Administrator", 500), ("Guest", 501)]
    assert {name for name, _, _ in entries} == {"Administrator", "Guest", "alice", "bob"}
    for name, rid, info in entries:
        assert (info["UserName"], info["UserId"], info["PrimaryGroupId"]) == (name, rid, 513)
        assert info["NtPasswordPresent"] == info["LmPasswordPresent"] == 0
        assert info["NtOwfPassword"]["Length"] == info["LmOwfPassword"]["Length"] == 0
        assert info["WhichFields"] & 0x3F000000 == 0
    flags = {name: info["UserAccountControl"] for name, _, info in entries}
    assert flags == {"Administrator": 0x211, "Guest": 0x215, "alice": 0x10, "bob": 0x10}


def test_samrdump_refused_anonymously_by_default(closed_sam: ServerInfo) -> None:
    with pytest.raises(DCERPCSessionError) as exc:
        samrdump(closed_sam)
    assert exc.value.get_error_code() == STATUS_ACCESS_DENIED
    assert {name for name, _, _ in samrdump(closed_sam, "alice", PASSWORD)} == {"Administrator", "Guest", "alice", "bob"}


def test_password_policy_as_enum4linux_ng_reads_it(closed_sam: ServerInfo) -> None:
    """SamrConnect2, EnumerateDomains, LookupDomain, OpenDomain, QueryInformationDomain2 1/12/3."""
    rpc = transport.SMBTransport(closed_sam.host, closed_sam.port, filename=r"\samr")
    rpc.set_credentials("bob", BOB_PASSWORD)
    dce = rpc.get_dce_rpc()
    dce.connect()
    try:
        dce.bind(samr.MSRPC_UUID_SAMR)
        handle = samr.hSamrConnect2(dce)["ServerHandle"]
        name = samr.hSamrEnumerateDomainsInSamServer(dce, handle)["Buffer"]["Buffer"][0]["Name"]
        sid = samr.hSamrLookupDomainInSamServer(dce, handle, name)["DomainId"]
        domain = samr.hSamrOpenDomain(dce, serverHandle=handle, domainId=sid)["DomainHandle"]
        pw = samr.hSamrQueryInformationDomain2(dce, domain, 1)["Buffer"]["Password"]
        assert (pw["MinPasswordLength"], pw["PasswordHistoryLength"]) == (0, 0)
        max_age = (pw["MaxPasswordAge"]["HighPart"] << 32) | pw["MaxPasswordAge"]["LowPart"]
        assert max_age == -42 * 86400 * 10**7  # Windows' default, 42 days
        lockout = samr.hSamrQueryInformationDomain2(dce, domain, 12)["Buffer"]["Lockout"]
        assert lockout["LockoutThreshold"] == 0 and lockout["LockoutDuration"] == -30 * 60 * 10**7
        logoff = samr.hSamrQueryInformationDomain2(dce, domain, 3)["Buffer"]["Logoff"]["ForceLogoff"]
        assert (logoff["HighPart"], logoff["LowPart"]) == (-(1 << 31), 0)  # never
    finally:
        dce.disconnect()


def test_impacket_alias_membership_of_the_guest_account(open_sam: ServerInfo) -> None:
    """impacket's own hSamrGetAliasMembership (SIDs behind an array of pointers, as MS-SAMR's
    SAMPR_PSID_ARRAY): Guest (RID 501) is in BUILTIN\\Guests (546), nothing else."""
    rpc = transport.SMBTransport(open_sam.host, open_sam.port, filename=r"\samr")
    rpc.set_credentials("", "")
    dce = rpc.get_dce_rpc()
    dce.connect()
    try:
        dce.bind(samr.MSRPC_UUID_SAMR)
        handle = samr.hSamrConnect(dce)["ServerHandle"]
        machine = samr.hSamrLookupDomainInSamServer(dce, handle, "NULLSMB")["DomainId"].formatCanonical()
        builtin = samr.hSamrLookupDomainInSamServer(dce, handle, "Builtin")["DomainId"]
        domain = samr.hSamrOpenDomain(dce, handle, domainId=builtin)["DomainHandle"]
        sids = samr.SAMPR_PSID_ARRAY()
        for text in (f"{machine}-501", "S-1-5-32-545"):
            entry = samr.PSAMPR_SID_INFORMATION()
            entry["SidPointer"] = RPC_SID()
            entry["SidPointer"].fromCanonical(text)
            sids["Sids"].append(entry)
        sids["Count"] = 2
        reply = samr.hSamrGetAliasMembership(dce, domain, sids)
        assert (reply["ErrorCode"], reply["Membership"]["Count"], [e["Data"] for e in reply["Membership"]["Element"]]) == (0, 1, [546])
    finally:
        dce.disconnect()
