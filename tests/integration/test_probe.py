"""``nullsmb probe`` against real servers, checked against what Samba's own tools see.

Servers: nullsmb under three policies (Windows' defaults; RestrictAnonymous 0 with srvsvc,
samr and lsarpc open to null sessions, RestrictAnonymousSAM 0, TurnOffAnonymousBlock 1,
LSAAnonymousNameLookup 1; RestrictAnonymous 2), the reference Samba with ``restrict
anonymous`` 0, 1 and 2 (tests/support/refsamba.py) and impacket's smbserver, which offers SMB1
(tests/support/impacketsmb.py).

Each probe runs as a user runs it (``python -m nullsmb probe ADDRESS --json``); its output is
validated against docs/probe-schema.json. Then the same questions go to ``rpcclient -U% -N``
and ``smbclient -U% -N``, and the answers must agree status for status: a command that
succeeds is an "ok" in the probe, a command that fails names the same NTSTATUS/WERROR, whether
it failed at IPC$ ("Cannot connect to server"), at the pipe ("Could not initialise samr") or
in the call. The findings must follow from those answers.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from support.impacketsmb import ImpacketServer, running_impacket
from support.refsamba import SambaServer, running_samba

from .conftest import HOST, PASSWORD, ServerInfo, free_port, running_server

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "probe-schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
HOST_VALIDATOR = jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": "#/$defs/host"})
RPCCLIENT = shutil.which("rpcclient")
SMBCLIENT = shutil.which("smbclient")
STATUS_RE = re.compile(r"\b(NT_STATUS_[A-Z0-9_]+|WERR_[A-Z0-9_]+)\b")

CONFIG = """\
[server]
listen = ["{host}:{port}"]
map_to_guest = "{map_to_guest}"

[admin]
enabled = false

[users.alice]
password = "{password}"
groups = ["Administrators"]

[shares.public]
path = "./share"
access = {{ "Everyone" = "read", "ANONYMOUS LOGON" = "read", "alice" = "full" }}

[shares.drop]
path = "./drop"
access = {{ "ANONYMOUS LOGON" = "change", "alice" = "full" }}
{policy}"""

DEFAULT_POLICY = ""  # no [policy] table: Windows' modern defaults
OPEN_POLICY = """
[policy]
RestrictAnonymous = 0
RestrictAnonymousSAM = 0
TurnOffAnonymousBlock = 1
LSAAnonymousNameLookup = 1
NullSessionPipes = ["srvsvc", "samr", "lsarpc"]
NullSessionShares = ["public", "drop"]
"""
RA2_POLICY = """
[policy]
RestrictAnonymous = 2
NullSessionPipes = ["srvsvc", "samr", "lsarpc"]
NullSessionShares = ["public"]
"""

# rpcclient command → the probe operation that asks the same question (interface, operation, level).
COMMANDS: list[tuple[str, str, str, int | None]] = [
    ("srvinfo", "srvsvc", "NetrServerGetInfo", 101),
    ("netshareenumall 1", "srvsvc", "NetrShareEnum", 1),
    ("netshareenumall 2", "srvsvc", "NetrShareEnum", 2),
    ("wkssvc_wkstagetinfo", "wkssvc", "NetrWkstaGetInfo", 100),
    ("getusername", "lsarpc", "LsarGetUserName", None),
    ("lsaquery", "lsarpc", "LsarQueryInformationPolicy", 3),
    ("lookupsids S-1-5-32-544", "lsarpc", "LsarLookupSids", None),
    ("lsaenumsid", "lsarpc", "LsarEnumerateAccounts", None),
    ("enumdomusers", "samr", "SamrEnumerateUsersInDomain", None),
    ("querydispinfo", "samr", "SamrQueryDisplayInformation2", 1),
    ("enumdomgroups", "samr", "SamrEnumerateGroupsInDomain", None),
    ("enumalsgroups builtin", "samr", "SamrEnumerateAliasesInDomain:builtin", None),
    ("getdompwinfo", "samr", "SamrGetDomainPasswordInformation", None),
]
# impacket's server answers NetrShareEnum at level 1 whatever level is asked: rpcclient prints
# that as a level 2 listing, the probe reports level 2 as not served ("answered at level 1").
IMPACKET_COMMANDS = [c for c in COMMANDS if c[0] not in ("netshareenumall 2",)]


# -- running things ------------------------------------------------------------------------------

def probe(address: str, *extra: str, fmt: str = "--json") -> tuple[int, Any, str]:
    """``nullsmb probe ADDRESS --json``: (exit code, the document validated, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "nullsmb", "probe", address, fmt, "--timeout", "10", *extra],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), f"exit {proc.returncode}\n{proc.stderr}"
    if fmt == "--jsonl":
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        for line in lines:
            HOST_VALIDATOR.validate(line)
        return proc.returncode, lines, proc.stderr
    doc = json.loads(proc.stdout)
    VALIDATOR.validate(doc)
    return proc.returncode, doc, proc.stderr


def rpcclient(port: int, command: str, *auth: str, options: tuple[str, ...] = ()) -> tuple[int, str]:
    if RPCCLIENT is None:
        pytest.fail("rpcclient is not installed (apt-get install smbclient; .ci/run does it)")
    argv = [RPCCLIENT, *(auth or ("-U%", "-N")), *options, "-p", str(port), HOST, "-c", command]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def smbclient(port: int, *args: str) -> tuple[int, str]:
    if SMBCLIENT is None:
        pytest.fail("smbclient is not installed (apt-get install smbclient; .ci/run does it)")
    proc = subprocess.run([SMBCLIENT, "-U%", "-N", "-p", str(port), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def tool_status(rc: int, output: str) -> str:
    """What rpcclient/smbclient answered, in the probe's spelling: "ok" or the status name
    (NT_STATUS_X → STATUS_X; WERR_X as it is)."""
    m = STATUS_RE.search(output)
    if m is None:
        assert rc == 0, f"failed without a status:\n{output}"
        return "ok"
    name = m.group(1)
    return name[3:] if name.startswith("NT_STATUS_") else name


def probe_status(op: dict[str, Any]) -> str:
    """The probe's answer to one operation: "ok", its status, or for a skipped operation the
    status of what it needed (the pipe, IPC$, a handle), which the skip reason names."""
    o = op["outcome"]
    if o["result"] == "ok":
        return "ok"
    if o["result"] == "skipped":
        m = re.search(r"\b(STATUS_[A-Z0-9_]+|WERR_[A-Z0-9_]+)\b", o["detail"])
        assert m is not None, f"a skip without a cause: {op}"
        return m.group(1)
    assert o["status"], f"a failure without a status: {op}"
    return o["status"]


# -- reading the probe's document ----------------------------------------------------------------

def troubles(host: dict[str, Any]) -> str:
    """For assertion messages: every step that timed out, broke or was skipped, and the shares."""
    lines = [f"host incomplete: {host['incomplete']}"]
    for acc in host["access"]:
        for r in acc["rpc"]:
            if r["outcome"]["result"] in ("timeout", "disconnected", "skipped", "failed"):
                lines.append(f"{acc['principal']} {r['interface']} {r['operation']}: {r['outcome']}")
        for sh in acc["shares"]:
            lines.append(f"{acc['principal']} share {sh['name']}: {sh['access']} connect={sh['connect']} "
                         f"listing={sh['listing']}")
    return "\n".join(lines)


def host_of(doc: Any) -> dict[str, Any]:
    [host] = doc["hosts"]
    return host


def access(host: dict[str, Any], principal: str = "null") -> dict[str, Any]:
    return next(a for a in host["access"] if a["principal"] == principal)


def session(host: dict[str, Any], principal: str) -> dict[str, Any]:
    return next(s for s in host["sessions"] if s["principal"] == principal)


def rpc_op(acc: dict[str, Any], interface: str, operation: str, level: int | None) -> dict[str, Any]:
    found = [r for r in acc["rpc"] if r["interface"] == interface and r["operation"] == operation
             and (level is None or r["level"] == level)]
    assert found, f"the probe did not try {interface} {operation} {level}"
    return found[0]


def share(acc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in acc["shares"] if s["name"].casefold() == name.casefold())


def finding_ids(host: dict[str, Any]) -> set[str]:
    return {f["id"] for f in host["verdict"]["findings"]}


def setting(host: dict[str, Any], name: str) -> Any:
    return next(s["value"] for s in host["verdict"]["settings"] if s["name"] == name)


# -- the comparisons -------------------------------------------------------------------------------

def compare_rpcclient(host: dict[str, Any], port: int, commands: list[tuple[str, str, str, int | None]] = COMMANDS,
                      options: tuple[str, ...] = ()) -> dict[str, str]:
    """Every rpcclient command agrees with the probe's null session; returns command → status."""
    acc = access(host)
    seen, mismatches = {}, []
    for command, interface, operation, level in commands:
        rc, out = rpcclient(port, command, options=options)
        want = tool_status(rc, out)
        got = probe_status(rpc_op(acc, interface, operation, level))
        seen[command] = want
        if want != got:
            mismatches.append(f"{command}: rpcclient {want}, probe {got}\n{out.strip()[:400]}")
    assert not mismatches, "\n".join(mismatches)
    return seen


def compare_smbclient(host: dict[str, Any], port: int) -> None:
    """``smbclient -L`` lists what the probe's NetrShareEnum listed (or fails the same way), and
    ``smbclient //host/SHARE -c ls`` succeeds exactly where the probe read the share."""
    acc = access(host)
    rc, out = smbclient(port, "-L", f"//{HOST}")
    want = tool_status(rc, out.replace("SMB1 disabled -- no workgroup available", ""))
    enum = rpc_op(acc, "srvsvc", "NetrShareEnum", 1)
    if want == "ok":
        listed = set(re.findall(r"^\s+(\S+)\s+(?:Disk|IPC|Printer)\b", out, re.M))
        if not listed:  # smbclient prints an empty list when the srvsvc pipe is refused
            assert probe_status(enum) != "ok" or not enum["data"]["shares"], out
        else:
            assert probe_status(enum) == "ok", out
            assert listed == {s["name"] for s in enum["data"]["shares"]}, out
    elif "tree connect failed" in out:
        assert acc["ipc"]["status"] == want, out
    else:
        assert probe_status(enum) == want, out
    for s in acc["shares"]:
        if s["source"] == "well-known" and s["access"] == "absent":
            continue
        rc, out = smbclient(port, f"//{HOST}/{s['name']}", "-c", "ls")
        if s["share_type"] == "pipe" or s["name"] == "IPC$":
            continue  # smbclient cannot list IPC$; its tree connect is compared through the pipes
        want = tool_status(rc, out)
        if want == "ok":
            assert s["access"] in ("readable", "writable"), (s, out)
        elif "tree connect failed" in out:
            assert s["connect"]["status"] == want, (s, out)
        else:
            assert s["listing"] is not None and s["listing"]["status"] == want, (s, out)


def check_findings_follow(host: dict[str, Any], seen: dict[str, str]) -> None:
    """The verdict says what rpcclient showed: exposure findings exactly where the commands
    behind them succeeded, and the inferred settings accordingly."""
    ids = finding_ids(host)
    users_ok = seen["enumdomusers"] == "ok" or seen["querydispinfo"] == "ok"
    assert ("anon-user-enum" in ids) == users_ok, ids
    assert ("anon-share-enum" in ids) == (seen["netshareenumall 1"] == "ok"), ids
    assert ("anon-server-info" in ids) == (seen["srvinfo"] == "ok"), ids
    assert ("anon-name-lookup" in ids) == (seen["lookupsids S-1-5-32-544"] == "ok"), ids
    assert ("anon-lsa-accounts" in ids) == (seen["lsaenumsid"] == "ok"), ids
    if users_ok:
        assert setting(host, "RestrictAnonymousSAM") == 0
    if seen["netshareenumall 1"] == "ok":
        assert setting(host, "RestrictAnonymous") == 0
    elif seen["netshareenumall 1"] == "WERR_ACCESS_DENIED":
        assert setting(host, "RestrictAnonymous") == 1
    if seen["lookupsids S-1-5-32-544"] == "ok":
        assert setting(host, "LSAAnonymousNameLookup") == 1
    high = any(f["severity"] == "high" for f in host["verdict"]["findings"])
    assert host["verdict"]["highest_severity"] == ("high" if high else host["verdict"]["highest_severity"])


# -- servers ---------------------------------------------------------------------------------------

def _nullsmb(tmp_path_factory: pytest.TempPathFactory, name: str, policy: str,
             map_to_guest: str = "never") -> Iterator[ServerInfo]:
    workdir = tmp_path_factory.mktemp(name)
    (workdir / "share").mkdir()
    (workdir / "share" / "hello.txt").write_text("hello\n")
    (workdir / "drop").mkdir()
    port = free_port()
    config = workdir / "server.toml"
    config.write_text(CONFIG.format(host=HOST, port=port, password=PASSWORD, map_to_guest=map_to_guest,
                                    policy=policy))
    with running_server(workdir, config=config, port=port) as info:
        yield info


@pytest.fixture(scope="module")
def nullsmb_default(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    yield from _nullsmb(tmp_path_factory, "probe-default", DEFAULT_POLICY)


@pytest.fixture(scope="module")
def nullsmb_open(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    yield from _nullsmb(tmp_path_factory, "probe-open", OPEN_POLICY, map_to_guest="bad_user")


@pytest.fixture(scope="module")
def nullsmb_ra2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    yield from _nullsmb(tmp_path_factory, "probe-ra2", RA2_POLICY)


@pytest.fixture(scope="module")
def samba_ra0(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    with running_samba(tmp_path_factory.mktemp("samba-ra0"), restrict_anonymous=0) as server:
        yield server


@pytest.fixture(scope="module")
def samba_ra1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    with running_samba(tmp_path_factory.mktemp("samba-ra1"), restrict_anonymous=1) as server:
        yield server


@pytest.fixture(scope="module")
def samba_ra2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    with running_samba(tmp_path_factory.mktemp("samba-ra2"), restrict_anonymous=2) as server:
        yield server


@pytest.fixture(scope="module")
def samba_smb1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    with running_samba(tmp_path_factory.mktemp("samba-smb1"), restrict_anonymous=0,
                       extra_global="   server min protocol = NT1\n   server max protocol = NT1\n") as server:
        yield server


@pytest.fixture(scope="module")
def impacket_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImpacketServer]:
    with running_impacket(tmp_path_factory.mktemp("impacket")) as server:
        yield server


# -- nullsmb ---------------------------------------------------------------------------------------

def test_nullsmb_default_policy(nullsmb_default: ServerInfo) -> None:
    """Windows' modern defaults: the null session logs on and reaches IPC$, and nothing else."""
    rc, doc, _ = probe(f"{HOST}:{nullsmb_default.port}")
    host = host_of(doc)
    acc = access(host)
    assert rc == 0 and doc["summary"]["exit_code"] == 0
    assert host["reachable"] and host["verdict"]["status"] == "assessed"
    assert session(host, "null")["established"]
    assert session(host, "guest")["outcome"]["status"] == "STATUS_LOGON_FAILURE"  # map_to_guest = "never"
    assert acc["ipc"]["result"] == "ok"
    assert {p["name"]: p["outcome"]["status"] for p in acc["pipes"]} == {
        name: "STATUS_ACCESS_DENIED" for name in ("srvsvc", "wkssvc", "lsarpc", "samr", "netlogon", "spoolss",
                                                  "winreg", "eventlog", "epmapper", "browser")}
    assert share(acc, "public")["connect"]["status"] == "STATUS_ACCESS_DENIED"  # not in NullSessionShares
    assert setting(host, "NullSessionPipes") == [] and setting(host, "NullSessionShares") == []
    assert setting(host, "RestrictAnonymous") is None  # srvsvc closed: it cannot be told
    assert not any(f["severity"] in ("high", "medium") for f in host["verdict"]["findings"])
    seen = compare_rpcclient(host, nullsmb_default.port)
    assert seen["srvinfo"] == "STATUS_ACCESS_DENIED"  # "Could not initialise srvsvc"
    compare_smbclient(host, nullsmb_default.port)
    check_findings_follow(host, seen)


def test_nullsmb_open_policy(nullsmb_open: ServerInfo) -> None:
    """RestrictAnonymous 0, samr/lsarpc/srvsvc in NullSessionPipes, RestrictAnonymousSAM 0,
    TurnOffAnonymousBlock 1, LSAAnonymousNameLookup 1: what the pipes allow is exposed."""
    rc, doc, _ = probe(f"{HOST}:{nullsmb_open.port}", "--user", "alice", "--password", PASSWORD)
    host = host_of(doc)
    acc = access(host)
    pipes = {p["name"]: p["outcome"]["result"] for p in acc["pipes"]}
    assert {n for n, r in pipes.items() if r == "ok"} == {"srvsvc", "samr", "lsarpc"}
    assert setting(host, "NullSessionPipes") == ["srvsvc", "lsarpc", "samr"]
    assert set(setting(host, "NullSessionShares")) == {"public", "drop"}
    assert share(acc, "public")["access"] == "readable" and share(acc, "public")["entries"] == 1
    assert share(acc, "drop")["write_test"] is None  # nothing written without --write-tests
    assert not any(nullsmb_open.workdir.joinpath("drop").iterdir())
    assert session(host, "guest")["is_guest"] and "guest-logon" in finding_ids(host)
    assert session(host, "user")["established"] and not session(host, "user")["is_guest"]
    assert setting(host, "RestrictAnonymous") == 0 and "anon-share-enum" in finding_ids(host)
    seen = compare_rpcclient(host, nullsmb_open.port)
    assert seen["enumdomusers"] == seen["lookupsids S-1-5-32-544"] == "ok"
    compare_smbclient(host, nullsmb_open.port)
    check_findings_follow(host, seen)
    users = {u["name"] for u in rpc_op(acc, "samr", "SamrEnumerateUsersInDomain", None)["data"]["users"]}
    assert "alice" in users
    assert {"anon-user-enum", "anon-rid-cycling"} <= finding_ids(host)
    assert setting(host, "RestrictAnonymousSAM") == 0 and setting(host, "LSAAnonymousNameLookup") == 1
    assert setting(host, "TurnOffAnonymousBlock") == 1
    assert rc == 1 and doc["summary"]["exit_code"] == 1


def test_nullsmb_write_test_creates_and_deletes_one_file(nullsmb_open: ServerInfo) -> None:
    rc, doc, _ = probe(f"{HOST}:{nullsmb_open.port}", "--write-tests")
    host = host_of(doc)
    drop, public = share(access(host), "drop"), share(access(host), "public")
    assert drop["access"] == "writable" and drop["write_test"]["result"] == "ok"
    assert "created and deleted" in drop["write_test"]["detail"]
    assert public["write_test"]["status"] == "STATUS_ACCESS_DENIED"  # ANONYMOUS LOGON = read
    assert not any(nullsmb_open.workdir.joinpath("drop").iterdir())  # deleted again
    assert "anon-share-write" in finding_ids(host) and rc == 1


def test_nullsmb_restrict_anonymous_2(nullsmb_ra2: ServerInfo) -> None:
    rc, doc, _ = probe(f"{HOST}:{nullsmb_ra2.port}")
    host = host_of(doc)
    acc = access(host)
    assert session(host, "null")["established"]
    assert acc["ipc"]["status"] == "STATUS_ACCESS_DENIED"
    assert setting(host, "RestrictAnonymous") == 2
    assert all(p["outcome"]["result"] == "skipped" for p in acc["pipes"])
    rc_tool, out = rpcclient(nullsmb_ra2.port, "srvinfo")
    assert "Cannot connect to server" in out and tool_status(rc_tool, out) == "STATUS_ACCESS_DENIED"
    seen = compare_rpcclient(host, nullsmb_ra2.port)
    compare_smbclient(host, nullsmb_ra2.port)
    check_findings_follow(host, seen)
    assert rc == 0


def test_nullsmb_signing_and_encryption_required(tmp_path: Path) -> None:
    """A server that requires signing and encryption: no null or guest session at all, and
    the transport step says why."""
    (tmp_path / "share").mkdir()
    (tmp_path / "drop").mkdir()
    port = free_port()
    config = tmp_path / "server.toml"
    config.write_text(CONFIG.format(host=HOST, port=port, password=PASSWORD, map_to_guest="bad_user",
                                    policy=OPEN_POLICY).replace(
        'map_to_guest = "bad_user"', 'map_to_guest = "bad_user"\nsigning = "required"\nencryption = "required"'))
    with running_server(tmp_path, config=config, port=port):
        rc, doc, _ = probe(f"{HOST}:{port}", "--user", "alice", "--password", PASSWORD)
    host = host_of(doc)
    t = host["transport"]
    assert t["signing_required"] is True and setting(host, "RequireSecuritySignature") == 1
    assert all(d["signing_required"] for d in t["dialects"] if d["offered"])
    assert {d["dialect"]: d["encryption"] for d in t["dialects"]}["3.1.1"] is True
    null, guest = session(host, "null"), session(host, "guest")
    assert not null["established"] and null["outcome"]["status"] == "STATUS_ACCESS_DENIED"
    assert not guest["established"] and guest["outcome"]["status"] == "STATUS_ACCESS_DENIED"
    user = session(host, "user")
    assert user["established"] and user["encrypted"]
    assert [a["principal"] for a in host["access"]] == ["user"]
    ids = finding_ids(host)
    assert "signing-not-required" not in ids and "null-session" not in ids and rc == 0


# -- the reference Samba ---------------------------------------------------------------------------

def test_samba_restrict_anonymous_0(samba_ra0: SambaServer) -> None:
    rc, doc, _ = probe(samba_ra0.address)
    host = host_of(doc)
    acc = access(host)
    t = host["transport"]
    assert t["smb1"]["offered"] is False and "3.1.1" in t["offered_dialects"]
    assert t["ntlm"]["netbios_computer"] == "REFSAMBA"
    seen = compare_rpcclient(host, samba_ra0.port)
    assert seen["enumdomusers"] == "ok"
    users = rpc_op(acc, "samr", "SamrEnumerateUsersInDomain", None)["data"]["users"]
    assert "alice" in {u["name"] for u in users}
    cycled = rpc_op(acc, "lsarpc", "LsarLookupSids:rid-cycling", None)
    assert any(a["name"].endswith("\\alice") for a in cycled["data"]["accounts"])
    assert {"anon-user-enum", "anon-rid-cycling", "guest-logon", "anon-share-read"} <= finding_ids(host), troubles(host)
    assert setting(host, "RestrictAnonymous") == 0 and setting(host, "RestrictAnonymousSAM") == 0
    assert setting(host, "GuestFallback") is True
    compare_smbclient(host, samba_ra0.port)
    check_findings_follow(host, seen)
    assert rc == 1 and doc["summary"]["exit_code"] == 1


def test_samba_restrict_anonymous_1(samba_ra1: SambaServer) -> None:
    """RestrictAnonymous 1's well-known gap, on Samba as on Windows: the enumerations are refused,
    SID/name translation is not, so RID cycling still lists the accounts."""
    rc, doc, _ = probe(samba_ra1.address)
    host = host_of(doc)
    acc = access(host)
    seen = compare_rpcclient(host, samba_ra1.port)
    assert seen["netshareenumall 1"] == "WERR_ACCESS_DENIED" and seen["enumdomusers"] == "STATUS_ACCESS_DENIED"
    assert seen["lookupsids S-1-5-32-544"] == "ok"
    assert setting(host, "RestrictAnonymous") == 1 and setting(host, "LSAAnonymousNameLookup") == 1
    cycled = rpc_op(acc, "lsarpc", "LsarLookupSids:rid-cycling", None)
    assert any(a["name"].endswith("\\alice") for a in cycled["data"]["accounts"])
    ids = finding_ids(host)
    assert "anon-rid-cycling" in ids and not {"anon-user-enum", "anon-share-enum"} & ids
    compare_smbclient(host, samba_ra1.port)
    check_findings_follow(host, seen)
    assert rc == 1


def test_samba_restrict_anonymous_2(samba_ra2: SambaServer) -> None:
    rc, doc, _ = probe(samba_ra2.address)
    host = host_of(doc)
    assert access(host)["ipc"]["status"] == "STATUS_ACCESS_DENIED"
    assert setting(host, "RestrictAnonymous") == 2
    seen = compare_rpcclient(host, samba_ra2.port)
    assert set(seen.values()) == {"STATUS_ACCESS_DENIED"}  # every command: "Cannot connect to server"
    compare_smbclient(host, samba_ra2.port)
    check_findings_follow(host, seen)
    # restrict anonymous = 2 takes IPC$ away; the guest-ok share stays open to null sessions
    assert {f["kind"] for f in host["verdict"]["findings"] if f["principal"] == "null"} <= {
        "share-read", "share-connect", "share-write-permitted"}
    assert rc == (1 if host["verdict"]["highest_severity"] == "high" else 0)


# -- SMB1-only servers ------------------------------------------------------------------------------

SMB1_OPTIONS = ("--option=client min protocol=NT1",)


def test_samba_smb1_only(samba_smb1: SambaServer) -> None:
    """``server max protocol = NT1``: the same steps over SMB1 (sessions, IPC$, pipes, RPC through
    TransactNmPipe, share connects), and the findings follow rpcclient over NT1."""
    rc, doc, _ = probe(samba_smb1.address)
    host = host_of(doc)
    t = host["transport"]
    assert t["smb1"]["offered"] is True and t["offered_dialects"] == []
    assert t["ntlm"]["netbios_computer"] == "REFSAMBA"  # the CHALLENGE of the SMB1 session setup
    null, guest = session(host, "null"), session(host, "guest")
    assert null["established"] and null["dialect"] == "NT LM 0.12"
    assert guest["established"] and guest["is_guest"]  # SMB_SETUP_GUEST (map to guest = Bad User)
    seen = compare_rpcclient(host, samba_smb1.port, options=SMB1_OPTIONS)
    assert seen["enumdomusers"] == "ok" and seen["netshareenumall 1"] == "ok"
    acc = access(host)
    assert "alice" in {u["name"] for u in rpc_op(acc, "samr", "SamrEnumerateUsersInDomain", None)["data"]["users"]}
    assert {p["name"]: p["outcome"]["result"] for p in acc["pipes"]}["samr"] == "ok"
    public = share(acc, "public")
    assert public["source"] == "listed" and public["connect"]["result"] == "ok"
    assert public["listing"]["result"] == "ok" and public["access"] == "readable", troubles(host)  # FIND_FIRST2
    assert {"smb1-enabled", "null-session", "anon-user-enum", "anon-rid-cycling", "anon-share-read"} <= finding_ids(host)
    rc_ls, out = smbclient(samba_smb1.port, "//127.0.0.1/public", *SMB1_OPTIONS, "-m", "NT1", "-c", "ls")
    assert rc_ls == 0, out  # smbclient over NT1 reads it too
    check_findings_follow(host, seen)
    assert rc == 1


def test_impacket_smb1_only(tmp_path: Path) -> None:
    with running_impacket(tmp_path, smb2=False) as server:
        (server.share_dir / "seen.txt").write_text("x")
        rc, doc, _ = probe(server.address)
        host = host_of(doc)
        assert host["transport"]["offered_dialects"] == [] and host["transport"]["smb1"]["offered"] is True
        assert session(host, "null")["established"] and session(host, "null")["dialect"] == "NT LM 0.12"
        acc = access(host)
        assert rpc_op(acc, "srvsvc", "NetrShareEnum", 1)["data"]["shares"]  # srvsvc over TransactNmPipe
        public = share(acc, "PUBLIC")
        assert public["connect"]["result"] == "ok" and public["share_type"] == "disk"  # impacket: service "PUBLIC"
        assert public["access"] == "readable" and public["entries"] == 1 and public["sample"] == ["seen.txt"]
        assert rpc_op(acc, "lsarpc", "bind", None)["outcome"]["status"] == "STATUS_NO_SUCH_FILE"  # no lsarpc
        assert "smb1-enabled" in finding_ids(host)
        assert rc == (1 if host["verdict"]["highest_severity"] == "high" else 0)


# -- impacket ----------------------------------------------------------------------------------------

def test_impacket_smbserver(impacket_server: ImpacketServer) -> None:
    rc, doc, _ = probe(impacket_server.address)
    host = host_of(doc)
    t = host["transport"]
    assert t["smb1"]["offered"] is True and "smb1-enabled" in finding_ids(host)
    assert t["offered_dialects"] == ["2.0.2"]
    assert session(host, "null")["is_null_flag"]  # impacket sets IS_NULL; Windows does not
    seen = compare_rpcclient(host, impacket_server.port, IMPACKET_COMMANDS)
    assert seen["netshareenumall 1"] == "ok"
    assert seen["enumdomusers"] == "STATUS_NO_SUCH_FILE"  # impacket has no samr pipe
    level2 = rpc_op(access(host), "srvsvc", "NetrShareEnum", 2)["outcome"]
    assert (level2["result"], level2["detail"]) == ("unavailable", "answered at level 1"), level2
    sessions = rpc_op(access(host), "srvsvc", "NetrSessionEnum", 10)["outcome"]
    assert sessions["status"] == "RPC_S_CANNOT_SUPPORT", sessions  # impacket serves no NetrSessionEnum
    compare_smbclient(host, impacket_server.port)
    check_findings_follow(host, seen)
    assert rc == (1 if host["verdict"]["highest_severity"] == "high" else 0)


# -- many targets, one run ---------------------------------------------------------------------------

def test_jsonl_several_targets_and_an_unreachable_one(nullsmb_default: ServerInfo, nullsmb_ra2: ServerInfo) -> None:
    closed = free_port()  # nothing listens there
    targets = [f"{HOST}:{nullsmb_default.port}", f"{HOST}:{nullsmb_ra2.port}", f"{HOST}:{closed}"]
    proc = subprocess.run([sys.executable, "-m", "nullsmb", "probe", *targets, "--jsonl", "--timeout", "10"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    for line in lines:
        HOST_VALIDATOR.validate(line)
    by_port = {line["port"]: line for line in lines}
    assert set(by_port) == {nullsmb_default.port, nullsmb_ra2.port, closed}
    gone = by_port[closed]
    assert not gone["reachable"] and gone["connect"]["status"] == "ECONNREFUSED"
    assert gone["verdict"] == {"status": "unreachable", "highest_severity": None, "settings": [], "findings": []}


def test_report_is_readable_text(nullsmb_open: ServerInfo) -> None:
    """Without --json: the rich report, statuses as the server sent them, the fixes."""
    proc = subprocess.run([sys.executable, "-m", "nullsmb", "probe", f"{HOST}:{nullsmb_open.port}"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr
    out = proc.stdout
    for text in ("STATUS_ACCESS_DENIED", "WERR_OK", "Inferred settings", "RestrictAnonymous", "How to fix",
                 "Windows:", "Samba:", "nullsmb:", "[policy]", "exit code"):
        assert text in out, text


# -- hosts that misbehave: timeouts and hang-ups are results ---------------------------------------

@contextlib.contextmanager
def loopback_server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A port on 127.0.0.1 whose every connection is given to ``handle`` in a thread of its own;
    connections still open at the end are closed."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind((HOST, 0))
    srv.listen(64)
    srv.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        srv.close()


def tcp_listener(mode: str) -> contextlib.AbstractContextManager[int]:
    """A loopback port that accepts connections and then stays silent ("silent") or hangs up
    at once ("close")."""
    return loopback_server(lambda conn: conn.close() if mode == "close" else None)


def test_silent_host_times_out_into_results() -> None:
    with tcp_listener("silent") as port:
        rc, doc, _ = probe(f"{HOST}:{port}", "--timeout", "0.5", "--host-timeout", "30")
    host = host_of(doc)
    assert rc == 0 and host["reachable"]
    t = host["transport"]
    assert t["smb1"]["offered"] is None and t["smb1"]["outcome"]["result"] == "timeout"
    assert all(d["offered"] is None and d["outcome"]["result"] == "timeout" for d in t["dialects"])
    assert {s["principal"]: s["outcome"]["result"] for s in host["sessions"]} == {"null": "timeout",
                                                                                 "guest": "timeout"}
    assert host["verdict"]["findings"] == []


def test_host_deadline_keeps_what_was_answered() -> None:
    with tcp_listener("silent") as port:
        rc, doc, _ = probe(f"{HOST}:{port}", "--timeout", "1", "--host-timeout", "1.5")
    host = host_of(doc)
    assert host["incomplete"] and "--host-timeout" in host["incomplete"]
    assert host["reachable"] and host["verdict"]["status"] == "assessed" and rc == 0


def test_host_that_hangs_up() -> None:
    with tcp_listener("close") as port:
        rc, doc, _ = probe(f"{HOST}:{port}")
    host = host_of(doc)
    assert rc == 0 and host["reachable"]
    assert host["transport"]["smb1"]["offered"] is False  # closed without an answer
    assert all(d["offered"] is False for d in host["transport"]["dialects"])
    assert all(s["outcome"]["result"] == "disconnected" for s in host["sessions"])


def test_bench_probe_runs() -> None:
    """bench/probe.py at its smallest: it starts its servers on 127.0.0.x, probes them, checks
    the output (its rule 1) and prints the table. Its figures are never asserted."""
    bench = Path(__file__).resolve().parents[2] / "bench" / "probe.py"
    proc = subprocess.run([sys.executable, str(bench), "--targets", "8", "--servers", "2", "--compare", "4",
                           "--concurrency", "4"], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| 8 | 4 |" in proc.stdout and "| 4 | 4 |" in proc.stdout and "peak RSS" in proc.stdout
    assert "windows-default:" in proc.stdout and "open:" in proc.stdout


def test_progress_bar_on_a_terminal_only() -> None:
    """With stderr on a terminal, several hosts get a progress bar there (cleared at the end);
    stdout (here --jsonl into a pipe) carries only the results."""
    import os
    import pty
    master, slave = pty.openpty()
    try:
        with tcp_listener("silent") as a, tcp_listener("silent") as b:
            proc = subprocess.Popen([sys.executable, "-m", "nullsmb", "probe", f"{HOST}:{a}", f"{HOST}:{b}", "--jsonl",
                                     "--timeout", "0.5", "--concurrency", "1"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                                    env=dict(os.environ, TERM="xterm", COLUMNS="100"))
            os.close(slave)
            slave = -1
            chunks = []
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            out, _ = proc.communicate(timeout=120)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    terminal = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "probing" in terminal and re.search(r"[01]/2", terminal), terminal
    assert "Traceback" not in terminal
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert sorted(line["target"] for line in lines) == sorted([f"{HOST}:{a}", f"{HOST}:{b}"])
    # and into a pipe (the other tests), no bar at all
    _rc, _doc, err = probe(f"{HOST}:{a}", f"{HOST}:{b}", "--timeout", "0.2")
    assert "probing" not in err


# -- a hostile SMB1-only server ------------------------------------------------------------------------

def _smb1_negotiate_response() -> bytes:
    """NT LM 0.12 with extended security (MS-SMB 2.2.4.5.2.1), what an SMB1-only server answers."""
    header = struct.pack("<4sBIBHH8sHHHHH", b"\xffSMB", 0x72, 0, 0x98, 0xC801, 0, bytes(8), 0, 0, 0xFEFF, 0, 0)
    words = struct.pack("<HBHHIIIIQhB", 0, 3, 50, 1, 16644, 65536, 0, 0x800000FD, 0, 0, 0)
    data = bytes(16)  # ServerGUID, no security blob
    return header + bytes([len(words) // 2]) + words + struct.pack("<H", len(data)) + data


def _smb1_answer(request: bytes, variant: str) -> bytes | None:
    command, mid = request[4], struct.unpack_from("<H", request, 30)[0]
    if variant == "garbage":
        return b"\x00\x01\x02not smb at all" * 3
    if variant == "drop-first-list":
        return _flaky_share_server(request, command, mid)
    if variant == "wrong-command":
        return _smb1_header(0xA2 if command != 0xA2 else 0x75, 0, mid) + b"\x00\x00\x00"
    if variant == "truncated":
        return _smb1_header(command, 0, mid) + b"\x0c\x01\x02"
    # "logon-then-junk": every SESSION_SETUP succeeds at once; everything else is answered by
    # a response whose offsets and counts point outside the message ("stall": not answered)
    if command == 0x73:
        return _smb1_header(command, 0, mid, uid=0x800) + b"\x04\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    if variant == "stall":
        return None  # logged on, then never another answer
    if command == 0x75:
        return _smb1_header(command, 0, mid, tid=1) + b"\x03\xff\x00\x00\x00\x01\x00" + b"\x04\x00IPC\x00"
    if command == 0xA2:
        return _smb1_header(command, 0, mid) + b"\x22" + b"\xff\x00\x00\x00\x00\x01\x40" + bytes(61) + b"\x00\x00"
    return _smb1_header(command, 0, mid) + b"\x0a" + b"\xff\xff" * 10 + b"\x00\x00"


_LISTINGS: list[int] = []  # FIND_FIRST2 requests seen by the "drop-first-list" server


class _Hangup(Exception):
    """The fake server closes the connection instead of answering."""


def _flaky_share_server(request: bytes, command: int, mid: int) -> bytes:
    """A server that works, except that its first FIND_FIRST2 ever crashes the connection (as
    Samba 4.17's smbd does when two sessions open a share root at once)."""
    if command == 0x73:  # SESSION_SETUP_ANDX: logged on
        return _smb1_header(command, 0, mid, uid=0x800) + b"\x04\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    if command == 0x75:  # TREE_CONNECT_ANDX: IPC$ and Public exist
        path = request.upper()  # the UTF-16 path, ASCII letters upper-cased
        if "\\IPC$".encode("utf-16-le") in path:
            return _smb1_header(command, 0, mid, tid=1) + b"\x03\xff\x00\x00\x00\x01\x00" + b"\x04\x00IPC\x00"
        if "\\PUBLIC".encode("utf-16-le") in path:
            return _smb1_header(command, 0, mid, tid=2) + b"\x03\xff\x00\x00\x00\x01\x00" + b"\x03\x00A:\x00"
        return _smb1_header(command, 0xC00000CC, mid) + b"\x00\x00\x00"  # STATUS_BAD_NETWORK_NAME
    if command == 0x32:  # TRANSACTION2 FIND_FIRST2
        _LISTINGS.append(mid)
        if len(_LISTINGS) == 1:
            raise _Hangup()
        name = "a.txt".encode("utf-16-le")
        entry = struct.pack("<III", 0, 0, len(name)) + name
        params = struct.pack("<HHHHH", 1, 1, 1, 0, 0)
        p_off = 32 + 1 + 20 + 2 + 1
        d_off = p_off + len(params) + 2
        words = struct.pack("<HHHHHHHHHBB", len(params), len(entry), 0, len(params), p_off, 0, len(entry), d_off,
                            0, 0, 0)
        data = b"\0" + params + b"\0\0" + entry
        return _smb1_header(command, 0, mid) + bytes([len(words) // 2]) + words + struct.pack("<H", len(data)) + data
    return _smb1_header(command, 0xC0000034, mid) + b"\x00\x00\x00"  # OBJECT_NAME_NOT_FOUND: no pipes


def _smb1_header(command: int, status: int, mid: int, *, uid: int = 0, tid: int = 0) -> bytes:
    return struct.pack("<4sBIBHH8sHHHHH", b"\xffSMB", command, status, 0x98, 0xC801, 0, bytes(8), 0, tid, 0xFEFF,
                       uid, mid)


def hostile_smb1_server(variant: str) -> contextlib.AbstractContextManager[int]:
    """Loopback SMB1-only server: a proper NEGOTIATE answer (SMB2 NEGOTIATEs are hung up on),
    then broken answers of the kind ``variant`` names."""

    def serve(conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            while True:
                head = conn.recv(4, socket.MSG_WAITALL)
                if len(head) < 4:
                    return
                request = conn.recv(int.from_bytes(head[1:], "big"), socket.MSG_WAITALL)
                if request[:4] != b"\xffSMB":
                    return  # SMB2: not spoken
                try:
                    answer = _smb1_negotiate_response() if request[4] == 0x72 else _smb1_answer(request, variant)
                except _Hangup:
                    return
                if answer is not None:
                    conn.sendall(len(answer).to_bytes(4, "big") + answer)
        except OSError:
            pass
        finally:
            conn.close()

    return loopback_server(serve)


def test_a_listing_that_loses_the_connection_is_tried_again() -> None:
    _LISTINGS.clear()
    with hostile_smb1_server("drop-first-list") as port:
        _rc, doc, _err = probe(f"{HOST}:{port}", "--timeout", "2")
    host = host_of(doc)
    public = [share(acc, "Public") for acc in host["access"]]
    assert len(_LISTINGS) == 1 + len(public)  # one dropped, then one per principal
    retried = [p for p in public if "first attempt lost the connection" in p["listing"]["detail"]]
    assert len(retried) == 1 and all(p["access"] == "readable" and p["sample"] == ["a.txt"] for p in public), public


@pytest.mark.parametrize("variant", ["garbage", "wrong-command", "truncated", "logon-then-junk", "stall"])
def test_hostile_smb1_server_gives_results_not_errors(variant: str) -> None:
    with hostile_smb1_server(variant) as port:
        rc, doc, err = probe(f"{HOST}:{port}", "--timeout", "1" if variant == "stall" else "2")
    host = host_of(doc)
    assert host["transport"]["smb1"]["offered"] is True and host["transport"]["offered_dialects"] == []
    assert "internal" not in json.dumps(host), host  # no probe error: every answer became evidence
    null = session(host, "null")
    if variant == "stall":
        assert null["established"] and access(host)["ipc"]["result"] == "timeout"
        assert host["incomplete"] is None  # every step gave up in time, the host deadline was not needed
    elif variant == "logon-then-junk":
        assert null["established"]
        ipc = access(host)["ipc"]
        assert ipc["result"] == "ok"
        bind = rpc_op(access(host), "srvsvc", "bind", None)["outcome"]  # the junk TransactNmPipe answer
        assert bind["result"] in ("failed", "disconnected") and bind["kind"] in ("protocol", "rpc_protocol"), bind
    else:
        assert not null["established"] and null["outcome"]["result"] in ("failed", "disconnected"), null
