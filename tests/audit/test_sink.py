"""AuditLog: JSON Lines, flushing, rotation under load, failure handling, syslog, Samba format."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from nullsmb.audit.events import ANONYMOUS_SID
from nullsmb.audit.query import log_files, read_events
from nullsmb.audit.sink import AuditLog, FileSink, parse_syslog_url, rfc5424, to_samba

ANON = {
    "session_id": "0x0000040000000001", "user": "ANONYMOUS LOGON", "domain": "NT AUTHORITY",
    "sid": ANONYMOUS_SID, "anonymous": True, "guest": False, "client_ip": "127.0.0.1",
    "client_port": 51234, "workstation": "WS1", "dialect": "3.1.1",
}


def share_event(seq: int, **extra: Any) -> dict[str, Any]:
    fields = dict(event_id=5140, outcome="success", **ANON, share="\\\\*\\public",
                  share_path="/srv/public", access_mask="0x1200a9", status="STATUS_SUCCESS",
                  rule="share access list", seq=seq)
    fields.update(extra)
    return fields


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def all_events(path: Path) -> list[dict[str, Any]]:
    return list(read_events(path))


async def wait_for(predicate: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


# -- the file -----------------------------------------------------------------------------------------

async def test_events_are_written_in_order_and_close_drains(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.jsonl"  # the directory is created
    log = AuditLog(file=str(path), server_name="NULLSMB", clock=lambda: 1_795_600_800.5)
    await log.start()
    for i in range(50_000):
        log.emit("share_access", share_event(i))
    await log.close()  # at once: nothing may be left behind
    got = lines(path)
    assert [r["seq"] for r in got] == list(range(50_000))
    assert got[0]["time"] == "2026-11-25T10:00:00.500000Z" and got[0]["server"] == "NULLSMB"
    assert log.emitted == 50_000 and log.dropped == 0 and log.healthy
    assert log.stats()["sinks"][0]["written"] == 50_000


async def test_flushed_within_a_second_without_being_asked(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(file=str(path))
    await log.start()
    try:
        log.emit("share_access", share_event(1))
        emitted = time.monotonic()
        while not (path.exists() and path.read_text().endswith("\n")):
            assert time.monotonic() - emitted < 1.0, "not on disk within a second"
            await asyncio.sleep(0.01)
        assert lines(path)[0]["seq"] == 1
    finally:
        await log.close()


async def test_emit_is_cheap_and_never_waits_for_the_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(file=str(path), stall_after=0.2)
    await log.start()
    release = False
    real_write = FileSink.write

    def slow_write(self: FileSink, records: Any, texts: Any) -> int:
        while not release:
            time.sleep(0.01)
        return real_write(self, records, texts)

    monkeypatch.setattr(FileSink, "write", slow_write)
    log.emit("share_access", share_event(0))
    await log.flush(timeout=0.1)  # the writer is now stuck in the thread
    started = time.perf_counter()
    for i in range(1, 10_001):
        log.emit("share_access", share_event(i))
    assert time.perf_counter() - started < 2.0  # the loop went on (≈ tens of µs per event)
    await asyncio.sleep(0.3)
    assert not log.healthy  # a write stuck for longer than stall_after
    release = True
    await log.close()
    assert [r["seq"] for r in lines(path)] == list(range(10_001))


async def test_rotation_under_load_keeps_every_event(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(file=str(path), rotate_bytes=64 * 1024, keep=1000, batch_size=512)
    await log.start()
    for burst in range(40):  # 20,000 events in bursts while the writer rotates
        for i in range(500):
            log.emit("share_access", share_event(burst * 500 + i))
        await asyncio.sleep(0)
    await log.close()
    files = log_files(path)
    assert len(files) > 100  # ~11 MB in 64 KiB files
    for f in files:
        data = f.read_bytes()
        assert len(data) <= 64 * 1024 and data.endswith(b"\n")  # whole lines, never too big
    seqs = [r["seq"] for r in all_events(path)]
    assert seqs == list(range(20_000))  # every event once, in order, across files
    assert log.sinks[0].rotations == len(files) - 1  # type: ignore[attr-defined]


async def test_rotation_numbering_keeps_n(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(file=str(path), rotate_bytes=2000, keep=3)
    await log.start()
    for i in range(100):
        log.emit("share_access", share_event(i))
    await log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]
    seqs = [r["seq"] for r in all_events(path)]
    assert seqs == sorted(seqs) and seqs[-1] == 99  # the newest kept, oldest first
    assert lines(tmp_path / "audit.jsonl.3")[0]["seq"] < lines(tmp_path / "audit.jsonl.1")[0]["seq"]


async def test_keep_zero_rotates_by_removing(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(file=str(path), rotate_bytes=2000, keep=0)
    await log.start()
    for i in range(100):
        log.emit("share_access", share_event(i))
    await log.close()
    assert [p.name for p in tmp_path.iterdir()] == ["audit.jsonl"]
    assert lines(path)[-1]["seq"] == 99


async def test_a_file_moved_away_is_recreated(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(file=str(path))
    await log.start()
    log.emit("share_access", share_event(1))
    assert await log.flush(timeout=2)
    os.rename(path, tmp_path / "moved.jsonl")  # an external logrotate without copytruncate
    log.emit("share_access", share_event(2))
    await log.close()
    assert [r["seq"] for r in lines(tmp_path / "moved.jsonl")] == [1]
    assert [r["seq"] for r in lines(path)] == [2]


async def test_unwritable_file_at_start_raises(tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").mkdir()  # root ignores permissions; a directory cannot be opened
    log = AuditLog(file=str(tmp_path / "audit.jsonl"))
    with pytest.raises(OSError):
        await log.start()


async def test_stdout_sink(tmp_path: Path) -> None:
    out = io.BytesIO()
    log = AuditLog(file="-", stdout=out)
    await log.start()
    log.emit("share_access", share_event(7))
    await log.close()
    [line] = out.getvalue().decode().splitlines()
    assert json.loads(line)["seq"] == 7


async def test_emit_after_close_is_written_at_once(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(file=str(path))
    await log.start()
    await log.close()
    log.emit("share_access", share_event(3))
    assert lines(path)[0]["seq"] == 3


async def test_strict_mode_rejects_bad_events(tmp_path: Path) -> None:
    log = AuditLog(file=str(tmp_path / "a.jsonl"), strict=True)
    with pytest.raises(ValueError, match="missing user"):
        log.emit("share_access", {"share": "x"})
    with pytest.raises(ValueError, match="looks like a secret"):
        log.emit("logon", dict(event_id=4624, **ANON, nt_hash="00" * 16))


async def test_no_secret_reaches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(file=str(path))
    await log.start()
    log.emit("logon", dict(event_id=4624, outcome="success", **ANON, password="Passw0rd!",
                           session_key=b"\x01" * 16, nt_response="abcdef", token=b"tok"))
    await log.close()
    text = path.read_text()
    assert "Passw0rd" not in text and "abcdef" not in text
    assert set(json.loads(text)) >= {"user", "sid"} and "password" not in json.loads(text)


# -- failures -----------------------------------------------------------------------------------------

class FullDisk:
    """Makes FileSink writes fail with ENOSPC after writing half of what they were given."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = False
        real = FileSink._write_chunk

        def write_chunk(sink: FileSink, data: bytes) -> None:
            if self.full:
                assert sink.fd is not None
                os.write(sink.fd, data[: len(data) // 2])  # a torn write...
                try:
                    os.ftruncate(sink.fd, sink.size)  # ...which the sink cuts back (as it does)
                finally:
                    sink._close_fd()
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(sink, data)

        monkeypatch.setattr(FileSink, "_write_chunk", write_chunk)


async def test_continue_counts_drops_and_reports_them_once_recovered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    disk = FullDisk(monkeypatch)
    log = AuditLog(file=str(path), max_buffer=100, retry_interval=0.05)
    await log.start()
    log.emit("share_access", share_event(0))
    assert await log.flush(timeout=2)
    disk.full = True
    for i in range(1, 51):
        log.emit("share_access", share_event(i))
    await wait_for(lambda: not log.healthy)
    assert not log.refusing  # "continue": sessions go on
    assert log.stats()["sinks"][0]["error"] == os.strerror(errno.ENOSPC)
    for i in range(51, 301):  # 50 more fit the buffer of 100, 200 are dropped
        log.emit("share_access", share_event(i))
    assert log.dropped == 200 and log.stats()["sinks"][0]["lost_unreported"] == 200
    assert lines(path) == [lines(path)[0]]  # nothing torn, nothing new
    disk.full = False
    await wait_for(lambda: log.healthy)
    log.emit("share_access", share_event(301))
    await log.close()
    got = lines(path)
    seqs = [r.get("seq") for r in got]
    assert seqs == list(range(0, 101)) + [None, 301]  # backlog, then the gap, then new events
    lost = got[101]
    assert lost["event"] == "audit_events_lost" and lost["event_id"] == 1101
    assert lost["lost"] == 200 and lost["outcome"] == "failure"
    assert lost["since"] and lost["until"] and lost["since"] <= lost["until"]
    assert log.stats()["sinks"][0]["lost_total"] == 200
    assert log.stats()["sinks"][0]["lost_unreported"] == 0


async def test_real_failure_path_replaced_by_a_directory(tmp_path: Path) -> None:
    """No mock: the log file is replaced by a directory (EISDIR), then the directory goes."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(file=str(path), max_buffer=10, retry_interval=0.05)
    await log.start()
    log.emit("share_access", share_event(0))
    assert await log.flush(timeout=2)
    path.unlink()
    path.mkdir()
    for i in range(1, 31):
        log.emit("share_access", share_event(i))
    await wait_for(lambda: not log.healthy)
    path.rmdir()
    await wait_for(lambda: log.healthy)
    await log.close()
    got = lines(path)
    assert [r.get("seq") for r in got] == list(range(1, 11)) + [None]
    assert got[-1]["lost"] == 20


async def test_refuse_sessions_flips_refusing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    disk = FullDisk(monkeypatch)
    log = AuditLog(file=str(tmp_path / "audit.jsonl"), on_failure="refuse_sessions", retry_interval=0.05)
    await log.start()
    assert not log.refusing
    disk.full = True
    log.emit("share_access", share_event(1))
    await wait_for(lambda: log.refusing)
    assert log.stats()["refusing"] is True
    disk.full = False
    await wait_for(lambda: not log.refusing)
    await log.close()
    assert [r["seq"] for r in lines(tmp_path / "audit.jsonl")] == [1]  # buffered, not lost


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        AuditLog(on_failure="stop")
    with pytest.raises(ValueError):
        AuditLog(format="cef")


# -- syslog -------------------------------------------------------------------------------------------

SYSLOG_RE = re.compile(
    r'^<(?P<pri>\d+)>1 (?P<ts>\S+) (?P<host>\S+) nullsmb - (?P<msgid>\d+) '
    r'\[nullsmb@32473(?P<sd>(?: [A-Za-z]+="(?:[^"\\\]]|\\.)*")*)\] (?P<msg>\{.*\})$')


def parse_syslog(datagram: bytes) -> tuple[int, str, dict[str, str], dict[str, Any]]:
    m = SYSLOG_RE.match(datagram.decode())
    assert m, datagram
    params = dict(re.findall(r'([A-Za-z]+)="((?:[^"\\\]]|\\.)*)"', m.group("sd")))
    return int(m.group("pri")), m.group("msgid"), params, json.loads(m.group("msg"))


def receive(sock: socket.socket, n: int) -> list[bytes]:
    sock.settimeout(3)
    return [sock.recv(65535) for _ in range(n)]


async def test_syslog_udp_gets_the_same_events(tmp_path: Path) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    port = receiver.getsockname()[1]
    path = tmp_path / "audit.jsonl"
    log = AuditLog(file=str(path), syslog=f"udp://127.0.0.1:{port}", hostname="host1")
    await log.start()
    log.emit("logon", dict(event_id=4624, outcome="success", **ANON, logon_type=3))
    log.emit("share_access", share_event(1, outcome="failure", status="STATUS_ACCESS_DENIED",
                                         rule='Null"Session]Shares'))
    await log.close()
    got = [parse_syslog(d) for d in receive(receiver, 2)]
    receiver.close()
    assert [msg for *_, msg in got] == lines(path)
    (pri1, id1, sd1, _), (pri2, id2, sd2, _) = got
    assert (pri1, id1) == (86, "4624") and (pri2, id2) == (85, "5140")  # authpriv.info / .notice
    assert sd1["user"] == "ANONYMOUS LOGON" and sd1["anonymous"] == "true" and sd1["client"] == "127.0.0.1"
    assert sd2["outcome"] == "failure"


async def test_syslog_unix_socket_down_then_up(tmp_path: Path) -> None:
    sock_path = tmp_path / "log.sock"
    log = AuditLog(file="", syslog=f"unix://{sock_path}", retry_interval=0.05)
    await log.start()  # syslog down at start: queued, not fatal
    assert not log.healthy
    log.emit("share_access", share_event(1))
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(sock_path))
    try:
        await wait_for(lambda: log.healthy)
        log.emit("share_access", share_event(2))
        await log.close()
        got = [parse_syslog(d)[3]["seq"] for d in receive(receiver, 2)]
        assert got == [1, 2]
    finally:
        receiver.close()


def test_rfc5424_escapes_structured_data() -> None:
    record = {"time": "2026-11-25T10:00:00.000000Z", "event_id": 5145, "event": "object_access",
              "outcome": "success", "user": 'a"b]c\\d'}
    line = rfc5424(record, "{}", "h").decode()
    assert 'user="a\\"b\\]c\\\\d"' in line
    assert line.startswith("<86>1 2026-11-25T10:00:00.000000Z h nullsmb - 5145 [nullsmb@32473 ")


def test_parse_syslog_url() -> None:
    assert parse_syslog_url("udp://127.0.0.1") == ("udp", ("127.0.0.1", 514))
    assert parse_syslog_url("udp://[::1]:5514") == ("udp", ("::1", 5514))
    assert parse_syslog_url("unix:///dev/log") == ("unix", "/dev/log")
    with pytest.raises(ValueError):
        parse_syslog_url("tcp://x")


# -- Samba's envelope ---------------------------------------------------------------------------------

async def test_samba_format(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(file=str(path), format="samba", clock=lambda: 1_795_600_800.25)
    await log.start()
    log.emit("logon", dict(event_id=4624, outcome="success", **ANON, logon_type=3, auth_package="NTLM"))
    log.emit("logon_failed", dict(event_id=4625, outcome="failure", **dict(ANON, user="alice", domain="WG",
                                                                           sid="", anonymous=False),
                                  status="STATUS_LOGON_FAILURE", sub_status="STATUS_WRONG_PASSWORD"))
    log.emit("share_access", share_event(1))
    await log.close()
    anon, failed, share = lines(path)
    assert anon["type"] == "Authentication" and anon["timestamp"] == "2026-11-25T10:00:00.250000+0000"
    a = anon["Authentication"]
    assert a["version"] == {"major": 1, "minor": 2}
    assert (a["eventId"], a["logonType"], a["status"]) == (4624, 3, "NT_STATUS_OK")
    assert a["remoteAddress"] == "ipv4:127.0.0.1:51234"
    assert a["serviceDescription"] == "SMB2" and a["authDescription"] == "NTLMSSP"
    assert (a["clientAccount"], a["clientDomain"], a["workstation"]) == ("", "", "WS1")
    assert (a["becameAccount"], a["becameDomain"], a["becameSid"]) == (
        "ANONYMOUS LOGON", "NT AUTHORITY", "S-1-5-7")
    assert a["passwordType"] == "No-Password"
    f = failed["Authentication"]
    assert (f["eventId"], f["status"], f["clientAccount"], f["passwordType"]) == (
        4625, "NT_STATUS_LOGON_FAILURE", "alice", "NTLMv2")
    assert f["becameSid"] is None
    assert share["event_id"] == 5140 and share["seq"] == 1  # everything else in our format
    # read back into our field names, so the query filters work on both formats
    back = all_events(path)
    assert back[0]["event_id"] == 4624 and back[0]["anonymous"] and back[0]["user"] == "ANONYMOUS LOGON"
    assert back[0]["client_ip"] == "127.0.0.1" and back[0]["client_port"] == 51234
    assert back[1]["outcome"] == "failure" and back[1]["user"] == "alice"


def test_to_samba_ignores_other_events() -> None:
    assert to_samba({"event_id": 5140}) is None
    assert to_samba({"event_id": 4624, "client_ip": "::1", "client_port": 5, "time": "x"})[
        "Authentication"]["remoteAddress"] == "ipv6:::1:5"


# -- the core's hook --------------------------------------------------------------------------------

async def test_server_context_hooks(tmp_path: Path) -> None:
    from nullsmb.core.context import ServerContext

    path = tmp_path / "audit.jsonl"
    log = AuditLog(file=str(path), on_failure="refuse_sessions")
    ctx = ServerContext(config=None, policy=None, server_guid=b"", accounts=None, shares={},  # type: ignore[arg-type]
                        clock=time.time, random_bytes=os.urandom)
    assert ctx.audit_refusing() is False  # the default
    await log.start()
    ctx.audit, ctx.audit_refusing = log.emit, lambda: log.refusing
    ctx.emit("share_access", **share_event(5))
    assert ctx.audit_refusing() is False
    await log.close()
    assert lines(path)[0]["seq"] == 5

