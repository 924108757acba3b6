"""SIGHUP reloads the config file's [policy] without dropping sessions; each change is audited.

A session that is already open sees the new policy on its next request (design.md §2,
null-sessions.md: a policy is read, never cached).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from impacket.smbconnection import SessionError, SMBConnection

from .conftest import HOST, running_server, smbclient, write_user_config

OPEN_POLICY = 'NullSessionShares = ["public"]'
CLOSED_POLICY = 'NullSessionShares = []'


def _config(tmp_path: Path, port: int) -> Path:
    config = write_user_config(tmp_path, port, extra='[audit]\nfile = "audit.jsonl"\n')
    return config


def _set_policy_line(config: Path, line: str) -> None:
    text = config.read_text()
    before = next(ln for ln in text.splitlines() if ln.startswith("NullSessionShares"))
    config.write_text(text.replace(before, line))


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _events(workdir: Path) -> list[dict]:
    path = workdir / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_sighup_applies_the_new_policy_to_open_and_new_sessions(tmp_path: Path) -> None:
    from .conftest import free_port

    port = free_port()
    config = _config(tmp_path, port)
    with running_server(tmp_path, config=config, port=port) as server:
        ok = smbclient(server, cmd="ls")
        assert ok.returncode == 0, ok.stdout

        held = SMBConnection(HOST, HOST, sess_port=port)
        held.login("", "")  # a null session opened under the old policy

        _set_policy_line(config, CLOSED_POLICY)
        server.proc.send_signal(signal.SIGHUP)
        assert _wait_for(lambda: any(e["event"] == "policy_change" for e in _events(tmp_path))), \
            server.stderr()

        refused = smbclient(server, cmd="ls")
        assert refused.returncode != 0
        assert "NT_STATUS_ACCESS_DENIED" in refused.stdout

        # the session opened before the reload is still there, and meets the new policy
        held.connectTree("IPC$")
        try:
            held.connectTree("public")
            raise AssertionError("tree connect allowed after NullSessionShares was emptied")
        except SessionError as exc:
            assert exc.getErrorCode() == 0xC0000022
        held.logoff()

        change = next(e for e in _events(tmp_path) if e["event"] == "policy_change")
        assert change["event_id"] == 4657
        assert change["setting"] == "NullSessionShares"
        assert change["old"] == ["public"] and change["new"] == []
        assert change["by"].startswith("SIGHUP")


def test_a_broken_file_keeps_the_running_policy(tmp_path: Path) -> None:
    from .conftest import free_port

    port = free_port()
    config = _config(tmp_path, port)
    with running_server(tmp_path, config=config, port=port) as server:
        _set_policy_line(config, 'NullSessionShares = "public"')  # a string, not a list
        server.proc.send_signal(signal.SIGHUP)
        assert _wait_for(lambda: "policy not reloaded" in server.stderr()), server.stderr()
        line = next(ln for ln in server.stderr().splitlines() if "policy not reloaded" in ln)
        assert "policy.NullSessionShares" in line and "server.toml" in line
        ok = smbclient(server, cmd="ls")
        assert ok.returncode == 0, ok.stdout
        assert not any(e["event"] == "policy_change" for e in _events(tmp_path))
        assert server.proc.poll() is None
