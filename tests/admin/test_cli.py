"""``nullsmb sessions`` against a running server, and its one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import HOST, PASSWORD, AdminServer, free_port

pytest.importorskip("impacket")
from impacket.smbconnection import SessionError, SMBConnection  # noqa: E402


def nullsmb(*args: str, cwd: Path | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "nullsmb", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def login(server: AdminServer, user: str = "", password: str = "") -> SMBConnection:
    conn = SMBConnection(HOST, HOST, sess_port=server.smb_port, timeout=10)
    conn.login(user, password)
    return conn


def test_json_lists_sessions_with_the_kind(admin_server: AdminServer) -> None:
    anon, alice = login(admin_server), login(admin_server, "alice", PASSWORD)
    try:
        admin_server.wait_for(lambda rows: len(rows) == 2)
        r = nullsmb("sessions", "--json", "--config", str(admin_server.config))
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        assert sorted(s["kind"] for s in data["sessions"]) == ["anonymous", "user"]
        r = nullsmb("sessions", "--json", "--anonymous", "--admin", admin_server.url,
                    "--token-file", str(admin_server.token_file))
        assert [s["user"] for s in json.loads(r.stdout)["sessions"]] == ["ANONYMOUS LOGON"]
        r = nullsmb("sessions", "--config", str(admin_server.config))
        assert r.returncode == 0 and r.stderr == ""
        assert "ANONYMOUS LOGON ANONYMOUS" in r.stdout and "\\alice" in r.stdout
        assert "2 sessions (1 anonymous, 0 guest)" in r.stdout
    finally:
        anon.close()
        alice.close()
    admin_server.wait_for(lambda rows: not rows)


def test_demo_defaults_are_found_from_the_working_directory(admin_server: AdminServer,
                                                           tmp_path: Path) -> None:
    (tmp_path / ".nullsmb").mkdir()
    (tmp_path / ".nullsmb" / "admin.token").write_text(admin_server.token)
    r = nullsmb("sessions", "--admin", admin_server.url + "/", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["server"]["name"] == "NULLSMB"


def test_close_with_block_and_unblock(admin_server: AdminServer) -> None:
    conn = login(admin_server)
    rows = admin_server.wait_for(lambda rows: len(rows) == 1)
    short = "0x" + rows[0]["id"][2:].lstrip("0")
    where = ("--config", str(admin_server.config))
    r = nullsmb("sessions", "close", short, "--block", "600", *where)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"closed {short} (connection from {HOST}:")
    assert f"anonymous@{HOST} blocked for 10m00s" in r.stdout or f"anonymous@{HOST} blocked for 9m59s" in r.stdout
    conn.close()
    with pytest.raises(SessionError):
        login(admin_server)
    r = nullsmb("sessions", "blocks", *where)
    assert r.returncode == 0 and r.stdout.startswith(f"anonymous@{HOST}  until ")
    r = nullsmb("sessions", *where, "unblock", f"anonymous@{HOST}")  # options before the action too
    assert r.returncode == 0 and r.stdout == f"lifted anonymous@{HOST}\n"
    login(admin_server).close()
    r = nullsmb("sessions", "close", short, *where)  # gone now
    assert r.returncode == 1 and r.stderr.startswith("error: no session 0x") and r.stderr.count("\n") == 1


def test_watch_json_prints_a_line_per_refresh(admin_server: AdminServer) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "nullsmb", "sessions", "--watch", "--json",
                             "--interval", "0.2", "--config", str(admin_server.config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert all("sessions" in json.loads(line) for line in lines)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err


def test_errors_are_one_line(tmp_path: Path, admin_server: AdminServer) -> None:
    token = tmp_path / "t"
    token.write_text("x\n")
    port = free_port()  # nothing listens there
    r = nullsmb("sessions", "--admin", f"http://{HOST}:{port}", "--token-file", str(token))
    assert r.returncode == 1
    assert r.stderr == (f"error: no admin API at http://{HOST}:{port} (connection refused): is "
                        "`nullsmb serve` running with [admin] enabled?\n")
    r = nullsmb("sessions", "--admin", admin_server.url, "--token-file", str(token))
    assert r.returncode == 1
    assert r.stderr == f"error: the admin API at {admin_server.url} refused the token in {token}\n"
    r = nullsmb("sessions", "--token-file", str(tmp_path / "missing"), "--admin", admin_server.url)
    assert r.returncode == 1 and r.stderr.startswith(f"error: cannot read the admin token {tmp_path}/missing")
    r = nullsmb("sessions", "close", "zz", "--admin", admin_server.url)
    assert r.returncode == 2 and r.stderr == "error: 'zz' is not a session id (hex as listed, e.g. 0x400000001)\n"
    r = nullsmb("sessions", "--admin", "ftp://x")
    assert r.returncode == 2 and r.stderr.startswith("error: --admin must be an http://")
    bad = tmp_path / "bad.toml"
    bad.write_text("[admin]\nlisten = 5\n")
    r = nullsmb("sessions", "--config", str(bad))
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "admin.listen (line 2)" in r.stderr
    r = nullsmb("sessions", "close", "0x1", "--block", "0")
    assert r.returncode == 2 and "--block" in r.stderr
    assert "Traceback" not in r.stderr
    r = nullsmb("sessions", "--help")
    assert r.returncode == 0 and "examples:" in r.stdout
