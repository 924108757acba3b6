"""Reading the audit log back: files in order, filters, --since, summary, follow, the CLI."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from nullsmb.audit.events import build_event
from nullsmb.audit.query import Filter, follow, log_files, parse_since, read_events, summarize
from nullsmb.cli import main

T0 = 1_795_600_800.0  # 2026-11-25T10:00:00Z
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def ident(ip: str = "10.0.0.5", *, anonymous: bool = True, guest: bool = False, user: str = "") -> dict[str, Any]:
    if anonymous:
        names = ("ANONYMOUS LOGON", "NT AUTHORITY", "S-1-5-7")
    else:
        names = (user or ("Guest" if guest else "alice"), "NULLSMB", "")
    return {"session_id": "0x1", "user": names[0], "domain": names[1], "sid": names[2],
            "anonymous": anonymous, "guest": guest, "client_ip": ip, "client_port": 50000,
            "workstation": "KALI", "dialect": "3.1.1"}


def ev(event: str, t: float, **fields: Any) -> dict[str, Any]:
    return build_event(event, fields, time=t, server="NULLSMB")


def anonymous_story(ip: str = "10.0.0.5", t: float = T0) -> list[dict[str, Any]]:
    i = ident(ip)
    return [
        ev("logon", t, outcome="success", **i, logon_type=3),
        ev("share_access", t + 1, outcome="success", **i, share="\\\\*\\IPC$", rule="RestrictAnonymous"),
        ev("object_access", t + 2, outcome="success", **i, share="\\\\*\\IPC$", target="srvsvc",
           access_mask="0x12019f", status="STATUS_SUCCESS", rule="NullSessionPipes"),
        ev("rpc_call", t + 3, outcome="success", **i, interface="srvsvc", opnum=15,
           operation="NetrShareEnum", status="WERR_OK", rule="RestrictAnonymous", returned=4),
        ev("rpc_call", t + 3.5, outcome="success", **i, interface="srvsvc", opnum=15,
           operation="NetrShareEnum", status="WERR_OK", rule="RestrictAnonymous", returned=4),
        ev("object_access", t + 4, outcome="failure", **i, share="\\\\*\\IPC$", target="samr",
           access_mask="0x12019f", status="STATUS_ACCESS_DENIED", rule="NullSessionPipes"),
        ev("share_access", t + 5, outcome="success", **i, share="\\\\*\\public", rule="share access list"),
        ev("object_access", t + 6, outcome="success", **i, share="\\\\*\\public", target="hello.txt",
           access_mask="0x120089", status="STATUS_SUCCESS", rule="share access list"),
        ev("share_access", t + 7, outcome="failure", **i, share="\\\\*\\data", status="STATUS_ACCESS_DENIED",
           rule="NullSessionShares"),
        ev("logoff", t + 8, outcome="success", **i, duration_s=8.0, reason="client"),
    ]


def others(t: float = T0) -> list[dict[str, Any]]:
    return [
        ev("logon", t + 10, outcome="success", **ident("10.0.0.9", anonymous=False), logon_type=3),
        ev("share_access", t + 11, outcome="success", **ident("10.0.0.9", anonymous=False), share="\\\\*\\data"),
        ev("logon", t + 12, outcome="success", **ident("192.168.1.7", anonymous=False, guest=True)),
        ev("logon_failed", t + 13, outcome="failure", **ident("192.168.1.8", anonymous=False, user="bob"),
           status="STATUS_LOGON_FAILURE"),
        ev("policy_change", t + 14, setting="RestrictAnonymous", old=0, new=1, by="SIGHUP"),
    ]


def write_log(path: Path, records: list[dict[str, Any]]) -> None:
    with open(path, "a") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """audit.jsonl.2.gz (oldest), audit.jsonl.1, audit.jsonl (newest) and a broken line."""
    path = tmp_path / "audit.jsonl"
    story = anonymous_story()
    with gzip.open(tmp_path / "audit.jsonl.2.gz", "wt") as f:
        for r in story[:4]:
            f.write(json.dumps(r) + "\n")
    write_log(tmp_path / "audit.jsonl.1", story[4:])
    (tmp_path / "audit.jsonl.1").open("a").write("not json\n")
    write_log(path, others())
    (tmp_path / "audit.jsonl.txt").write_text("unrelated\n")
    return path


# -- files --------------------------------------------------------------------------------------------

def test_log_files_oldest_first(log_path: Path) -> None:
    names = [p.name for p in log_files(log_path)]
    assert names == ["audit.jsonl.2.gz", "audit.jsonl.1", "audit.jsonl"]


def test_log_files_numeric_order(tmp_path: Path) -> None:
    for name in ("a.jsonl", "a.jsonl.1", "a.jsonl.2", "a.jsonl.10", "a.jsonl.9.gz"):
        (tmp_path / name).write_text("")
    assert [p.name for p in log_files(tmp_path / "a.jsonl")] == [
        "a.jsonl.10", "a.jsonl.9.gz", "a.jsonl.2", "a.jsonl.1", "a.jsonl"]


def test_read_events_across_rotated_and_gzip_files(log_path: Path) -> None:
    from collections import Counter

    bad: Counter[str] = Counter()
    times = [r["time"] for r in read_events(log_path, bad_lines=bad)]
    assert len(times) == 15 and times == sorted(times)
    assert sum(bad.values()) == 1


# -- filters ------------------------------------------------------------------------------------------

def select(path: Path, **kw: Any) -> list[dict[str, Any]]:
    flt = Filter(**kw)
    return [r for r in read_events(path) if flt(r)]


def test_filters(log_path: Path) -> None:
    assert len(select(log_path, anonymous=True)) == 10
    assert [r["client_ip"] for r in select(log_path, guest=True)] == ["192.168.1.7"]
    assert len(select(log_path, user="alice")) == 2
    assert len(select(log_path, user="NULLSMB\\alice")) == 2
    assert len(select(log_path, user="anonymous logon")) == 10
    assert len(select(log_path, client="10.0.0.5")) == 10
    assert len(select(log_path, client="192.168.0.0/16")) == 2
    assert [r["event_id"] for r in select(log_path, events={4624})] == [4624, 4624, 4624]
    failures = select(log_path, outcome="failure")
    assert [(r["event_id"], r.get("rule")) for r in failures] == [
        (5145, "NullSessionPipes"), (5140, "NullSessionShares"), (4625, None)]
    combined = select(log_path, anonymous=True, events={5140}, outcome="failure")
    assert [r["share"] for r in combined] == ["\\\\*\\data"]


def test_since_filter(log_path: Path) -> None:
    since = datetime.fromtimestamp(T0 + 10, timezone.utc)
    assert len(select(log_path, since=since)) == 5


@pytest.mark.parametrize(("text", "expected"), [
    ("1h", NOW - timedelta(hours=1)),
    ("30m", NOW - timedelta(minutes=30)),
    ("2d", NOW - timedelta(days=2)),
    ("90s", NOW - timedelta(seconds=90)),
    ("1w", NOW - timedelta(weeks=1)),
    ("1.5h", NOW - timedelta(minutes=90)),
    ("2026-11-25T10:00Z", datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)),
    ("2026-11-25T10:00:00+02:00", datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)),
])
def test_parse_since(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


def test_parse_since_naive_is_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert parse_since("2026-11-25T10:00") == datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
        assert parse_since("2026-11-25") == datetime(2026, 11, 24, 23, 0, tzinfo=timezone.utc)
        assert parse_since("2026-11-25 10:00") == datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_parse_since_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="--since 'yesterday'"):
        parse_since("yesterday")


# -- summary ------------------------------------------------------------------------------------------

def test_summary_of_what_null_sessions_reached(log_path: Path) -> None:
    records = list(read_events(log_path)) + anonymous_story("10.0.0.6", T0 + 100)[:3]
    clients = summarize(records)
    assert [c.client_ip for c in clients] == ["10.0.0.5", "10.0.0.6"]
    c = clients[0]
    assert c.sessions == 1 and c.workstations == {"KALI"}
    assert c.shares == {"IPC$", "public"}
    assert c.files == {"public\\hello.txt"}
    assert c.pipes == {"srvsvc"}
    assert dict(c.rpc) == {"srvsvc.NetrShareEnum": 2}
    assert c.returned == 8
    assert dict(c.denials) == {"pipe samr (NullSessionPipes)": 1, "share data (NullSessionShares)": 1}
    assert c.first == "2026-11-25T10:00:00.000000Z" and c.last == "2026-11-25T10:00:08.000000Z"
    assert c.reached_anything
    d = clients[1].as_dict()
    assert d["pipes"] == ["srvsvc"] and d["denied"] == 0 and d["rpc"] == {}


def test_summary_ignores_users_and_guests(log_path: Path) -> None:
    assert summarize(r for r in read_events(log_path) if not r.get("anonymous")) == []


# -- follow -------------------------------------------------------------------------------------------

def test_follow_sees_appends_and_survives_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, anonymous_story()[:2])  # already there: not shown (we start at the end)
    got: list[dict[str, Any]] = []
    done = threading.Event()

    def reader() -> None:
        for r in follow(path, poll=0.02, stop=done.is_set):
            got.append(r)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        time.sleep(0.1)
        story = anonymous_story()
        write_log(path, story[2:4])
        time.sleep(0.1)
        with open(path, "a") as f:  # a line written in two parts is read once, whole
            line = json.dumps(story[4])
            f.write(line[:10])
            f.flush()
            time.sleep(0.1)
            f.write(line[10:] + "\n")
        time.sleep(0.1)
        with open(path, "a") as f:  # written just before the rotation...
            f.write(json.dumps(story[5]) + "\n")
        os.rename(path, tmp_path / "audit.jsonl.1")  # ...then rotated away
        write_log(path, story[6:8])
        deadline = time.monotonic() + 3
        while len(got) < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        done.set()
        thread.join(5)
    assert [r["time"] for r in got] == [r["time"] for r in anonymous_story()[2:8]]


def test_follow_from_start_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, anonymous_story()[:2])
    stop_after = iter(range(1000))
    got = []
    for r in follow(path, from_start=True, poll=0.01, stop=lambda: next(stop_after) > 3):
        got.append(r["event_id"])
        if len(got) == 2:
            path.write_text("")  # truncated (copytruncate)
            write_log(path, anonymous_story()[9:])
    assert got == [4624, 5140, 4634]


# -- the CLI ------------------------------------------------------------------------------------------

def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_table(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--file", str(log_path), "--anonymous", "--outcome", "failure")
    assert code == 0 and err == ""
    rows = out.splitlines()
    assert rows[0].split() == ["TIME", "ID", "EVENT", "RESULT", "USER", "CLIENT", "OBJECT", "DETAIL"]
    assert len(rows) == 4 and rows[-1].startswith("* ANONYMOUS LOGON")
    assert "IPC$:samr" in rows[1] and "rule NullSessionPipes" in rows[1]
    assert "\\\\*\\data" in rows[2] and "STATUS_ACCESS_DENIED" in rows[2] and "rule NullSessionShares" in rows[2]
    assert "NT AUTHORITY\\ANONYMOUS LOGON *" in rows[1]


def test_cli_json_and_event_names(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--file", str(log_path), "--event", "logon,4634", "--json")
    assert code == 0
    assert [json.loads(line)["event_id"] for line in out.splitlines()] == [4624, 4634, 4624, 4624]


def test_cli_limit_and_since(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--file", str(log_path), "--json", "--limit", "2",
                           "--since", "2026-11-25T10:00:09Z")
    assert code == 0
    assert [json.loads(line)["event_id"] for line in out.splitlines()] == [4625, 4657]


def test_cli_summary(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--file", str(log_path), "--summary")
    assert code == 0
    assert "What null sessions (ANONYMOUS LOGON) reached, per client" in out
    [row] = [line for line in out.splitlines() if line.startswith("10.0.0.5 ") and "denied" not in line]
    for part in ("IPC$, public", "public\\hello.txt", "srvsvc", "srvsvc.NetrShareEnum×2", " 8 ", " 2"):
        assert part in row
    assert ("10.0.0.5 was denied: pipe samr (NullSessionPipes); share data (NullSessionShares)"
            in out)
    assert "null sessions reached resources from 1 client(s)" in out
    code, out, _ = run_cli(capsys, "--file", str(log_path), "--summary", "--json")
    assert json.loads(out)["shares"] == ["IPC$", "public"]


def test_cli_summary_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, others())
    code, out, _ = run_cli(capsys, "--file", str(path), "--summary")
    assert code == 0 and "no null-session activity" in out


def test_cli_config_and_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "logs").mkdir()
    write_log(tmp_path / "logs" / "a.jsonl", others())
    (tmp_path / "server.toml").write_text('[audit]\nfile = "logs/a.jsonl"\n')
    code, out, _ = run_cli(capsys, "--config", str(tmp_path / "server.toml"), "--json")
    assert code == 0 and len(out.splitlines()) == 5
    monkeypatch.chdir(tmp_path)
    write_log(tmp_path / "audit.jsonl", others()[:1])
    code, out, _ = run_cli(capsys, "--json")
    assert code == 0 and len(out.splitlines()) == 1


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["--since", "yesterday"], 2, "error: --since 'yesterday': use a duration"),
    (["--event", "4624,bogus"], 2, "error: unknown event 'bogus'"),
    (["--file", "/nonexistent/audit.jsonl"], 1, "error: /nonexistent/audit.jsonl: no audit log there"),
    (["--config", "/nonexistent/server.toml"], 2, "error: "),
])
def test_cli_errors_are_one_line(argv: list[str], code: int, message: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    got, out, err = run_cli(capsys, *argv)
    assert got == code and err.startswith(message) and len(err.splitlines()) == 1 and out == ""


def test_cli_stdout_config_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "server.toml").write_text('[audit]\nfile = "-"\n')
    code, _, err = run_cli(capsys, "--config", str(tmp_path / "server.toml"))
    assert code == 2 and "standard output" in err


def test_cli_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["audit", "--outcome", "maybe"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["audit", "--summary", "--follow"])
    assert info.value.code == 2


def test_cli_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["audit", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "nullsmb audit --anonymous --since 1h" in out and "--summary" in out


def test_cli_follow(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "audit.jsonl"
    story = anonymous_story()
    write_log(path, story[:3])
    proc = subprocess.Popen([sys.executable, "-m", "nullsmb", "audit", "--file", str(path), "--follow",
                             "--json", "--limit", "1", "--event", "5140,5145"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # the last matching event already there
        assert first["target"] == "srvsvc"
        time.sleep(0.3)
        write_log(path, story[3:8])
        got = [json.loads(proc.stdout.readline())["event_id"] for _ in range(3)]
        assert got == [5145, 5140, 5145]  # filtered, in order, as they come
    finally:
        proc.terminate()
        proc.wait(10)
