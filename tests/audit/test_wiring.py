"""The audit log inside a real server (in process, on loopback): lifecycle wiring, the core's
events against the schema, and ``on_failure = "refuse_sessions"`` refusing new sessions."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from nullsmb.audit.events import problems
from nullsmb.audit.sink import AuditLog
from nullsmb.client import SmbClient, SmbClientError
from nullsmb.config import load_config
from nullsmb.status import NtStatus

CONFIG = """\
[server]
listen = ["127.0.0.1:{port}"]
state_dir = "./state"
[admin]
enabled = false
[audit]
file = "logs/audit.jsonl"
on_failure = "{on_failure}"
[users.alice]
password = "Passw0rd!"
[shares.public]
path = "./public"
access = {{ "Everyone" = "read", "ANONYMOUS LOGON" = "read", "alice" = "full" }}
[shares.private]
path = "./private"
access = {{ "Everyone" = "read", "ANONYMOUS LOGON" = "read" }}
[policy]
NullSessionShares = ["public"]
NullSessionPipes = ["srvsvc"]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir, self.port = workdir, port
        self.log = workdir / "logs" / "audit.jsonl"

    def events(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    async def client(self) -> SmbClient:
        return await SmbClient.connect("127.0.0.1", self.port, timeout=5)


async def start_server(tmp_path: Path, on_failure: str = "continue") -> AsyncIterator[Server]:
    from nullsmb.aio.lifecycle import serve_forever

    (tmp_path / "public").mkdir()
    (tmp_path / "private").mkdir()
    (tmp_path / "public" / "hello.txt").write_text("hello\n")
    port = free_port()
    (tmp_path / "server.toml").write_text(CONFIG.format(port=port, on_failure=on_failure))
    config = load_config(tmp_path / "server.toml")
    ready = asyncio.Event()
    stop = asyncio.Event()
    task = asyncio.create_task(serve_forever(config, ready=lambda bound: ready.set(), stop=stop))
    await asyncio.wait_for(ready.wait(), 10)
    server = Server(tmp_path, port)
    try:
        yield server
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 15) == 0


@pytest.fixture
def schema_problems(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every event the core emits is checked against the schema (as AuditLog's strict mode would,
    without raising inside a request)."""
    found: list[str] = []
    real_emit = AuditLog.emit

    def checked_emit(self: AuditLog, event: str, fields: dict[str, Any]) -> None:
        found.extend(problems(event, fields))
        real_emit(self, event, fields)

    monkeypatch.setattr(AuditLog, "emit", checked_emit)
    return found


async def test_core_events_in_a_real_server(tmp_path: Path, schema_problems: list[str]) -> None:
    async for server in start_server(tmp_path):
        client = await server.client()
        await client.login()  # anonymous
        tid = await client.tree_connect("public")
        fid = await client.create(tid, "hello.txt")
        await client.close(tid, fid)
        with pytest.raises(SmbClientError) as denied:
            await client.tree_connect("private")
        assert denied.value.status == NtStatus.STATUS_ACCESS_DENIED
        ipc = await client.tree_connect("IPC$")
        with pytest.raises(SmbClientError):
            await client.create(ipc, "samr")  # not in NullSessionPipes
        await client.logoff()
        await client.disconnect()
        bad = await server.client()
        with pytest.raises(SmbClientError):
            await bad.login("alice", "wrong")
        await bad.disconnect()
        started = time.monotonic()
        while len(server.events()) < 8 and time.monotonic() - started < 2:
            await asyncio.sleep(0.05)  # flushed within a second, without a shutdown
        assert len(server.events()) >= 8
    assert schema_problems == []
    events = server.events()
    summary = [(e["event_id"], e["outcome"], e.get("target") or e.get("share", "").rsplit("\\", 1)[-1]
                or e.get("reason") or e.get("status") or None) for e in events]
    assert summary == [
        (4624, "success", None),
        (5140, "success", "public"),
        (5145, "success", "hello.txt"),
        (5140, "failure", "private"),
        (5140, "success", "IPC$"),
        (5145, "failure", "samr"),
        (4634, "success", "client"),
        (4625, "failure", "STATUS_LOGON_FAILURE"),
    ]
    assert events[3]["rule"] == "NullSessionShares" and events[5]["rule"] == "NullSessionPipes"
    assert events[5]["target"] == "samr"
    assert all(e["server"] == "NULLSMB" and e["time"].endswith("Z") for e in events)
    assert {e["session_id"] for e in events[:7]} == {events[0]["session_id"]}


async def test_refuse_sessions_while_the_log_cannot_be_written(tmp_path: Path) -> None:
    async for server in start_server(tmp_path, on_failure="refuse_sessions"):
        first = await server.client()
        await first.login()
        while not server.events():
            await asyncio.sleep(0.05)
        server.log.unlink()
        server.log.mkdir()  # the log file cannot be opened any more (EISDIR, even for root)
        await first.tree_connect("public")  # an event the sink fails to write

        async def login_status() -> int:
            client = await server.client()
            try:
                await client.login()
                return NtStatus.STATUS_SUCCESS
            except SmbClientError as exc:
                return exc.status
            finally:
                await client.disconnect()

        deadline = time.monotonic() + 5
        while (status := await login_status()) == NtStatus.STATUS_SUCCESS:
            assert time.monotonic() < deadline, "new sessions were never refused"
            await asyncio.sleep(0.1)
        assert status == NtStatus.STATUS_ACCESS_DENIED
        await first.echo()  # the existing session goes on
        server.log.rmdir()  # auditing works again
        deadline = time.monotonic() + 5
        while (status := await login_status()) != NtStatus.STATUS_SUCCESS:
            assert time.monotonic() < deadline, "sessions still refused after the log recovered"
            await asyncio.sleep(0.1)
        await first.disconnect()
    events = server.events()
    # nothing was dropped: the events buffered while the file failed reached the new file (the
    # tree connect first), and there is no loss marker; the refused logons left no event
    assert events[0]["event_id"] == 5140 and events[0]["share"].endswith("public")
    assert "audit_events_lost" not in {e["event"] for e in events}
    assert events[-1]["event_id"] == 4634 and events[-1]["session_id"] == events[0]["session_id"]
