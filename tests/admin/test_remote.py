"""``nullsmb sessions --remote``: the sessions of any SMB server over srvsvc, and closing them.

Against a real nullsmb (the admin API's server: both views must agree) and the reference Samba
(which serves NetrSessionEnum at levels 0 and 1 only, to BUILTIN\\Administrators).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from impacket.nmb import NetBIOSError
from impacket.smbconnection import SessionError, SMBConnection

from nullsmb.admin.remote import Credentials, RemoteError, parse_credentials, parse_target
from support.refsamba import SambaServer, running_samba

from .conftest import HOST, PASSWORD, AdminServer


def nullsmb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nullsmb", "sessions", *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, env=dict(os.environ, COLUMNS="200", **(env or {})))


def login(port: int, user: str = "", password: str = "") -> SMBConnection:
    conn = SMBConnection(HOST, HOST, sess_port=port, timeout=10)
    conn.login(user, password)
    return conn


def test_lists_the_same_sessions_as_the_admin_api(admin_server: AdminServer) -> None:
    anon = login(admin_server.smb_port)
    try:
        admin_server.wait_for(lambda rows: any(r["anonymous"] for r in rows))
        r = nullsmb("--remote", f"{HOST}:{admin_server.smb_port}", "-U", f"alice%{PASSWORD}", "--json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["level"] == 502 and doc["attempts"] == [{"level": 502, "status": "WERR_OK"}]
        kinds = sorted(s["kind"] for s in doc["sessions"])
        assert kinds == ["anonymous", "user"]  # the null session and alice's own
        anonymous = next(s for s in doc["sessions"] if s["kind"] == "anonymous")
        assert anonymous["client"] == f"\\\\{HOST}" and anonymous["user"] == ""
        assert anonymous["transport"] == "\\Device\\NetbiosSmb"
        api = admin_server.sessions()  # alice's srvsvc session has ended by now: only the null one
        assert [(r["anonymous"], r["client_ip"]) for r in api] == [(True, HOST)]
        table = nullsmb("--remote", f"{HOST}:{admin_server.smb_port}", "-U", f"alice%{PASSWORD}", "--anonymous")
        assert table.returncode == 0, table.stderr
        assert "ANONYMOUS" in table.stdout and "NetrSessionEnum level 502 as alice" in table.stdout
        assert "alice " not in table.stdout.split("\n", 2)[2]  # --anonymous shows only the null session
    finally:
        anon.close()


def test_close_ends_the_clients_sessions(admin_server: AdminServer) -> None:
    victim = login(admin_server.smb_port)
    victim.connectTree("public")
    admin_server.wait_for(lambda rows: any(r["anonymous"] for r in rows))
    r = nullsmb("--remote", f"{HOST}:{admin_server.smb_port}", "-U", f"alice%{PASSWORD}", "close",
                "--client", HOST, "--user", "")
    assert r.returncode == 0, r.stderr
    assert f"closed the sessions of client \\\\{HOST}" in r.stdout
    with pytest.raises((SessionError, NetBIOSError, OSError)):  # the connection is gone
        victim.listPath("public", "*")
    admin_server.wait_for(lambda rows: not rows)


def test_refusals_are_one_line_with_the_exact_status(admin_server: AdminServer) -> None:
    port = admin_server.smb_port
    cases = [
        (["-U%"], "refused NetrSessionEnum to a null session at every level (502: WERR_ACCESS_DENIED"),
        (["-U", "alice%wrong"], "refused the logon of alice: STATUS_LOGON_FAILURE"),
    ]
    for extra, message in cases:
        r = nullsmb("--remote", f"{HOST}:{port}", *extra)
        assert r.returncode == 1 and r.stdout == ""
        assert r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
        assert "wrong" not in r.stderr and "Traceback" not in r.stderr
    from .conftest import free_port

    closed = free_port()
    r = nullsmb("--remote", f"{HOST}:{closed}", "-U", f"alice%{PASSWORD}")
    assert r.returncode == 1 and f"cannot connect to {HOST}:{closed}: connection refused" in r.stderr
    r = nullsmb("--remote", f"{HOST}:{port}", "-U", "alice")  # no password, no terminal, no variable
    assert r.returncode == 2 and "no password for alice" in r.stderr
    r = nullsmb("--remote", f"{HOST}:{port}", "-U", "alice", env={"NULLSMB_PASSWORD": PASSWORD})
    assert r.returncode == 0, r.stderr
    r = nullsmb("--remote", f"{HOST}:99999", "-U%")
    assert r.returncode == 2 and "port must be a number" in r.stderr
    r = nullsmb("-U", "alice%x")
    assert r.returncode == 2 and "-U goes with --remote" in r.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("10.0.0.5", ("10.0.0.5", 445)), ("10.0.0.5:4445", ("10.0.0.5", 4445)), ("[::1]:4445", ("::1", 4445)),
    ("::1", ("::1", 445)), ("files.example.com", ("files.example.com", 445)),
])
def test_parse_target(text: str, expected: tuple[str, int]) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["", "host:0", "host:x", "[::1", "[::1]x", ":445"])
def test_parse_target_refuses(text: str) -> None:
    with pytest.raises(RemoteError) as err:
        parse_target(text)
    assert err.value.code == 2


def test_parse_credentials() -> None:
    assert parse_credentials("%") == Credentials("", "")
    assert parse_credentials(None) == Credentials("", "")
    assert parse_credentials("alice%pw") == Credentials("alice", "pw")
    assert parse_credentials("CORP\\alice%p%w") == Credentials("alice", "p%w", "CORP")
    assert parse_credentials("CORP/alice", environ={"NULLSMB_PASSWORD": "pw"}) == Credentials("alice", "pw", "CORP")
    assert parse_credentials("alice", environ={}, ask=lambda prompt: "typed") == Credentials("alice", "typed")
    assert "pw" not in repr(parse_credentials("alice%pw"))
    with pytest.raises(RemoteError):
        parse_credentials("%pw")


# -- the reference Samba -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def samba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    with running_samba(tmp_path_factory.mktemp("samba-remote")) as server:
        yield server


def test_lists_the_sessions_of_samba(samba: SambaServer) -> None:
    """Samba answers levels 0 and 1 only: 502, 10 and 2 are refused first, level 1 lists alice's
    own session and a null session, which Samba shows as its guest account."""
    anon = login(samba.port)
    try:
        r = nullsmb("--remote", f"{HOST}:{samba.port}", "-U", f"alice%{PASSWORD}", "--json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["level"] == 1
        assert [a["level"] for a in doc["attempts"]] == [502, 10, 2, 1]
        assert all(a["status"] != "WERR_OK" for a in doc["attempts"][:3])
        users = {s["user"]: s for s in doc["sessions"]}
        assert "alice" in users and users["alice"]["kind"] == "user"
        assert any(s["kind"] == "guest" for s in doc["sessions"]), doc["sessions"]
        table = nullsmb("--remote", f"{HOST}:{samba.port}", "-U", f"alice%{PASSWORD}")
        assert "levels refused first: 502" in table.stdout and "GUEST" in table.stdout
    finally:
        anon.close()


def test_samba_refuses_a_null_session_at_every_level(samba: SambaServer, tmp_path: Path) -> None:
    r = nullsmb("--remote", f"{HOST}:{samba.port}", "-U%")
    assert r.returncode == 1 and "at every level" in r.stderr and "WERR_ACCESS_DENIED" in r.stderr
