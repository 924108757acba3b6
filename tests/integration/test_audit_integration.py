"""The audit trail of a real server (``python -m nullsmb serve --config``) driven by real clients.

A null session from Samba's smbclient must leave exactly 4624 → 5140 → 5145 → 4634 with the
Anonymous identity; a share outside NullSessionShares a 5140 failure naming the rule;
``nullsmb audit --summary`` must say what the anonymous client reached; a syslog receiver on
loopback must get the same events as the file; SIGTERM must lose nothing.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from nullsmb.client import SmbClient, SmbClientError

from .conftest import HOST, ServerInfo, free_port, launch, rpcclient, running_server, smbclient, stop, wait_ready

CONFIG = """\
[server]
listen = ["{host}:{port}"]
[admin]
enabled = false
[audit]
file = "logs/audit.jsonl"
syslog = "udp://127.0.0.1:{syslog_port}"
rotate_bytes = {rotate_bytes}
keep = 1000
[shares.public]
path = "./share"
access = {{ "Everyone" = "read", "ANONYMOUS LOGON" = "read" }}
[shares.secret]
path = "./secret"
access = {{ "Everyone" = "read", "ANONYMOUS LOGON" = "read" }}
[policy]
NullSessionShares = ["public"]
NullSessionPipes = ["srvsvc"]
"""


class AuditedServer:
    def __init__(self, info: ServerInfo, receiver: socket.socket) -> None:
        self.info = info
        self.receiver = receiver
        self.log = info.workdir / "logs" / "audit.jsonl"
        self.datagrams: list[bytes] = []

    def events(self) -> list[dict[str, Any]]:
        from nullsmb.audit.query import read_events

        return list(read_events(self.log))

    def session_events(self, session_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events() if e.get("session_id") == session_id]

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if predicate(events):
                return events
            if time.monotonic() > deadline:
                pytest.fail("audit log never satisfied the condition; it has:\n"
                            + "\n".join(json.dumps(e) for e in events[-20:]))
            time.sleep(0.05)

    def syslog_messages(self) -> list[dict[str, Any]]:
        """The JSON payloads received so far, in order."""
        self.receiver.setblocking(False)
        while True:
            try:
                self.datagrams.append(self.receiver.recv(65535))
            except BlockingIOError:
                break
        return [json.loads(d.decode().split("] ", 1)[1]) for d in self.datagrams]


def write_config(workdir: Path, port: int, syslog_port: int, rotate_bytes: int = 104857600) -> Path:
    (workdir / "share").mkdir(parents=True, exist_ok=True)
    (workdir / "secret").mkdir(exist_ok=True)
    (workdir / "share" / "hello.txt").write_text("hello, null session\n")
    config = workdir / "server.toml"
    config.write_text(CONFIG.format(host=HOST, port=port, syslog_port=syslog_port,
                                    rotate_bytes=rotate_bytes))
    return config


def udp_receiver() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditedServer]:
    workdir = tmp_path_factory.mktemp("audit")
    receiver = udp_receiver()
    port = free_port()
    config = write_config(workdir, port, receiver.getsockname()[1])
    try:
        with running_server(workdir, config=config, port=port) as info:
            yield AuditedServer(info, receiver)
    finally:
        receiver.close()


def new_session(server: AuditedServer, before: int) -> str:
    """The session id of the first logon after event number ``before``."""
    events = server.wait_for(lambda ev: any(e["event_id"] == 4624 for e in ev[before:]))
    return next(e["session_id"] for e in events[before:] if e["event_id"] == 4624)


ANONYMOUS = {"user": "ANONYMOUS LOGON", "domain": "NT AUTHORITY", "sid": "S-1-5-7",
             "anonymous": True, "guest": False}


def test_null_session_get_leaves_the_expected_sequence(audited: AuditedServer) -> None:
    before = len(audited.events())
    result = smbclient(audited.info, cmd="get hello.txt /dev/null")
    assert result.returncode == 0, result.stdout
    sid = new_session(audited, before)
    audited.wait_for(lambda ev: any(e["event_id"] == 4634 and e["session_id"] == sid for e in ev))
    events = audited.session_events(sid)
    assert [e["event_id"] for e in events] == [4624, 5140, 5145, 4634]
    for e in events:
        assert {k: e[k] for k in ANONYMOUS} == ANONYMOUS
        assert e["outcome"] == "success" and e["server"] == "NULLSMB"
        assert e["client_ip"] == "127.0.0.1" and e["client_port"] > 0 and e["dialect"] == "3.1.1"
        assert e["time"].endswith("Z") and len(e["time"]) == len("2026-11-25T10:00:00.000000Z")
    logon, share, obj, logoff = events
    assert (logon["logon_type"], logon["auth_package"]) == (3, "NTLM")
    assert share["share"] == "\\\\*\\public" and share["share_path"].endswith("share")
    assert obj["share"] == "\\\\*\\public" and obj["target"] == "hello.txt"
    assert obj["status"] == "STATUS_SUCCESS" and obj["access_mask"].startswith("0x")
    # smbclient ends with TREE_DISCONNECT and closes the socket without a LOGOFF (seen on the
    # wire), so the reason is "disconnect"; a LOGOFF gives "client" (the SIGTERM test below)
    assert logoff["reason"] == "disconnect" and logoff["duration_s"] >= 0
    text = audited.log.read_text()
    assert "password" not in text.lower() and "hash" not in text.lower()


def test_denied_share_names_the_rule(audited: AuditedServer) -> None:
    before = len(audited.events())
    result = smbclient(audited.info, cmd="ls", share="secret")
    assert "NT_STATUS_ACCESS_DENIED" in result.stdout
    sid = new_session(audited, before)
    events = audited.wait_for(lambda ev: any(e["session_id"] == sid and e["event_id"] == 4634 for e in ev))
    [denied] = [e for e in events if e["session_id"] == sid and e["event_id"] == 5140]
    assert denied["outcome"] == "failure" and denied["anonymous"] is True
    assert denied["share"] == "\\\\*\\secret"
    assert denied["status"] == "STATUS_ACCESS_DENIED" and denied["rule"] == "NullSessionShares"


def test_rpcclient_session_leaves_pipe_and_rpc_events(audited: AuditedServer) -> None:
    """rpcclient -U% -N: IPC$, the srvsvc pipe per command, one 5712 per call with its level and
    how many items it returned, and a refused pipe (lsarpc is not in NullSessionPipes) naming
    the rule."""
    before = len(audited.events())
    out = rpcclient(audited.info.port, "srvinfo;netshareenumall 1;lsaquery")
    assert "platform_id" in out and "netname: public" in out
    assert "Could not initialise lsarpc. Error was NT_STATUS_ACCESS_DENIED" in out
    sid = new_session(audited, before)
    audited.wait_for(lambda ev: any(e["event_id"] == 4634 and e["session_id"] == sid for e in ev))
    events = audited.session_events(sid)
    assert [e["event_id"] for e in events] == [4624, 5140, 5145, 5712, 5145, 5712, 5145, 4634]
    assert all({k: e[k] for k in ANONYMOUS} == ANONYMOUS for e in events)
    ipc, srvsvc, info, _, enum, lsarpc = events[1:7]
    assert ipc["share"] == "\\\\*\\IPC$" and ipc["outcome"] == "success"
    assert (srvsvc["target"], srvsvc["outcome"], srvsvc["rule"]) == ("srvsvc", "success", "NullSessionPipes")
    assert (info["interface"], info["operation"], info["opnum"], info["level"]) == ("srvsvc", "NetrServerGetInfo", 21, 101)
    assert (info["status"], info["rule"], info["outcome"]) == ("WERR_OK", "RestrictAnonymous", "success")
    assert (enum["operation"], enum["opnum"], enum["level"], enum["returned"]) == ("NetrShareEnum", 15, 1, 3)  # public, secret, IPC$
    assert (lsarpc["target"], lsarpc["outcome"]) == ("lsarpc", "failure")
    assert (lsarpc["status"], lsarpc["rule"]) == ("STATUS_ACCESS_DENIED", "NullSessionPipes")
    denied = rpcclient(audited.info.port, "netshareenumall 2")  # Administrators only
    assert "WERR_ACCESS_DENIED" in denied
    events = audited.wait_for(lambda ev: any(e["event_id"] == 5712 and e.get("level") == 2 for e in ev))
    [refused] = [e for e in events if e["event_id"] == 5712 and e.get("level") == 2]
    assert (refused["outcome"], refused["status"], refused["rule"]) == ("failure", "WERR_ACCESS_DENIED",
                                                                         "Administrators only")


def test_audit_summary_reports_what_the_anonymous_client_reached(audited: AuditedServer) -> None:
    smbclient(audited.info, cmd="get hello.txt /dev/null")
    smbclient(audited.info, cmd="ls", share="secret")
    audited.wait_for(lambda ev: sum(e["event_id"] == 4634 for e in ev) >= 2)
    cli = [sys.executable, "-m", "nullsmb", "audit", "--file", str(audited.log)]
    out = subprocess.run([*cli, "--summary"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "What null sessions (ANONYMOUS LOGON) reached" in out.stdout
    [row] = [line for line in out.stdout.splitlines() if line.startswith("127.0.0.1 ")
             and "denied" not in line]
    assert "public" in row and "public\\hello.txt" in row
    [denied] = [line for line in out.stdout.splitlines() if line.startswith("127.0.0.1 was denied: ")]
    assert "share secret (NullSessionShares)" in denied  # other tests of this module add their denials
    assert "null sessions reached resources from 1 client(s)" in out.stdout
    as_json = subprocess.run([*cli, "--summary", "--json"], capture_output=True, text=True, timeout=60)
    [client] = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert "public" in client["shares"] and client["files"] == ["public\\hello.txt"]
    assert client["denied"] >= 1 and client["sessions"] >= 2
    assert client["pipes"] == ["srvsvc"] and client["rpc"]["srvsvc.NetrShareEnum"] >= 1
    assert client["returned"] >= 2 and client["denials"]["pipe lsarpc (NullSessionPipes)"] >= 1
    failures = subprocess.run([*cli, "--anonymous", "--outcome", "failure", "--event", "5140", "--json"],
                              capture_output=True, text=True, timeout=60)
    rows = [json.loads(line) for line in failures.stdout.splitlines()]
    assert rows and all(r["rule"] == "NullSessionShares" for r in rows)


def test_syslog_receiver_gets_the_same_events(audited: AuditedServer) -> None:
    smbclient(audited.info, cmd="get hello.txt /dev/null")
    deadline = time.monotonic() + 5
    while True:
        events = audited.events()
        messages = audited.syslog_messages()
        if messages == events and events:
            break
        if time.monotonic() > deadline:
            assert messages == events  # shows the difference
        time.sleep(0.05)
    first = audited.datagrams[0].decode()
    assert first.startswith("<86>1 ") and " nullsmb - 4624 [nullsmb@32473 " in first


# -- SIGTERM under load ------------------------------------------------------------------------------

SESSIONS, OPENS = 200, 3  # the load: 200 concurrent sessions, each a fixed script


async def _load(port: int) -> tuple[int, list[SmbClient]]:
    """SESSIONS concurrent anonymous sessions, each: logon, tree connect, OPENS open+close, a
    tree connect the policy refuses; half log off, half stay connected (the server's shutdown
    ends them). Returns (operations, open clients)."""
    clients = await asyncio.gather(*(SmbClient.connect(HOST, port, timeout=60) for _ in range(SESSIONS)))

    async def script(i: int, client: SmbClient) -> int:
        await client.login()
        tid = await client.tree_connect("public")
        for _ in range(OPENS):
            fid = await client.create(tid, "hello.txt")
            await client.close(tid, fid)
        with pytest.raises(SmbClientError):
            await client.tree_connect("secret")  # not in NullSessionShares
        if i % 2 == 0:
            await client.logoff()
        return 1 + 1 + OPENS + 1 + 1  # logon, share, opens, refused share, logoff (or the shutdown's)

    ops = sum(await asyncio.gather(*(script(i, c) for i, c in enumerate(clients))))
    return ops, clients


def test_sigterm_loses_nothing_under_load(tmp_path: Path) -> None:
    receiver = udp_receiver()
    port = free_port()
    config = write_config(tmp_path, port, receiver.getsockname()[1], rotate_bytes=16 * 1024)
    info = ServerInfo(HOST, port, tmp_path / "share", config,
                      launch(tmp_path, ["serve", "--config", str(config)]), tmp_path)
    wait_ready(info)
    loop = asyncio.new_event_loop()
    try:
        ops, clients = loop.run_until_complete(_load(port))
        assert stop(info) == 0, info.stderr()  # SIGTERM at once, with 20 sessions still open
        for client in clients:
            loop.run_until_complete(client.disconnect())
    finally:
        loop.close()
        if info.proc.poll() is None:
            stop(info)
    assert "Traceback" not in info.stderr()
    server = AuditedServer(info, receiver)
    events = server.events()
    assert len(events) == ops == SESSIONS * (4 + OPENS)
    assert len(list((tmp_path / "logs").iterdir())) > 3  # rotated on the way
    reasons = sorted(e["reason"] for e in events if e["event_id"] == 4634)
    assert reasons == ["client"] * (SESSIONS // 2) + ["disconnect"] * (SESSIONS // 2)
    by_session: dict[str, list[int]] = {}
    for e in events:
        by_session.setdefault(e["session_id"], []).append(e["event_id"])
    assert len(by_session) == SESSIONS
    assert all(ids == [4624, 5140] + [5145] * OPENS + [5140, 4634] for ids in by_session.values())
    refused = [e for e in events if e["event_id"] == 5140 and e["outcome"] == "failure"]
    assert len(refused) == SESSIONS and all(e["rule"] == "NullSessionShares" for e in refused)
    receiver.settimeout(2)
    got = 0
    try:
        while got < ops:
            receiver.recv(65535)
            got += 1
    except socket.timeout:
        pass
    receiver.close()
    assert got == ops  # syslog got every event too


def test_audit_can_be_turned_off(tmp_path: Path) -> None:
    """``[audit] enabled = false``: the server serves, and writes no audit file at all."""
    port = free_port()
    config = write_config(tmp_path, port, 9)
    config.write_text(config.read_text().replace("[audit]\n", "[audit]\nenabled = false\n"))
    with running_server(tmp_path, config=config, port=port) as info:
        listed = smbclient(info, cmd="ls")
        assert listed.returncode == 0 and "hello.txt" in listed.stdout, listed.stdout
    assert not (tmp_path / "logs").exists()
