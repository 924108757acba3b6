#!/usr/bin/env python3
"""Server Manager under load: the admin API and dashboard with 1,000 open sessions (issue 5).

    python bench/sessions.py              # 1,000 sessions, each with a tree connect and an open file
    python bench/sessions.py --quick      # 100 sessions, fewer requests
    python bench/sessions.py --sessions 2000 --json

One nullsmb from this checkout with the admin API on a free loopback port (token file in the temp
dir). This process opens ``--sessions`` SMB sessions with nullsmb's async client, one TCP connection
each (logon, tree connect ``public``, one file opened and kept open): mostly null sessions, with
``--guests`` and ``--users`` fractions of guest and NTLMv2 user sessions. Then it measures, from
this process with aiohttp's client:

- ``GET /api/sessions``: back to back (the API's shared snapshot is reused for 0.5 s), spaced
  further apart than that (every answer builds a new snapshot), and again with 5 dashboards
  subscribed to ``/api/events``;
- ``GET /api/sessions?anonymous=1`` (the filtered list is encoded for each request);
- ``GET /api/sessions/{id}`` of random sessions, ``GET /`` (the dashboard page), and a dashboard
  load (page, its CSS and JS, ``/api/servers``, the first snapshot from ``/api/events``);
- how long a new session takes to appear in ``/api/events`` with 5 subscribers connected;
- SMB ECHO round trips on one of the open sessions: with no API traffic, with the 5 dashboards
  open, and with the API also hammered by a separate process (``--hammer`` concurrent loops of
  ``GET /api/sessions``), to show SMB traffic is not stalled.

Rules:
1. The figures are only shown if the API really lists the sessions: the count, the principal kind of
   every session we opened and its tree and open file are checked first (exit code 1 if not).
2. Latency is the time to the last byte of the answer (body read, not parsed); samples are
   summarised as median, p95 and max; the 100 ms target is judged on the p95.
3. Only what we started is stopped, by PID; everything stays on 127.0.0.1 (see _common.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    SRC, BenchError, NullsmbProcess, free_port, load_note, log, print_table, run_main, summarize, tail,
)

SHARE = "public"
USER, PASSWORD = "alice", "Passw0rd!"
TARGET_MS = 100.0
SUBSCRIBERS = 5
FILES = 16
ECHO_INTERVAL_S = 0.02
CACHE_TTL_S = 0.5  # admin/snapshot.py SnapshotCache's default: spaced requests wait longer than this


def ms(seconds: float) -> float:
    return seconds * 1000.0


@dataclass
class Figure:
    name: str
    samples_ms: list[float]
    target: bool = False  # judged against TARGET_MS (p95)
    note: str = ""

    def summary(self) -> dict:
        return {"name": self.name, **summarize(self.samples_ms), "target_ms": TARGET_MS if self.target else None,
                "met": self.met(), "note": self.note}

    def met(self) -> bool | None:
        s = summarize(self.samples_ms)
        return None if not self.target or s["p95"] is None else s["p95"] < TARGET_MS


@dataclass
class Held:
    """One open SMB session of the load: its client, id, kind, tree and file."""
    client: object
    session_id: str
    kind: str
    tid: int
    fid: bytes


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def write_config(path: Path, *, port: int, admin_port: int, token_file: Path, share: Path, state: Path,
                 audit_file: Path, sessions: int) -> None:
    path.write_text(
        "# written by bench/sessions.py\n"
        "[server]\n"
        f'listen = ["127.0.0.1:{port}"]\n'
        f'state_dir = "{state}"\n'
        'map_to_guest = "bad_user"\n'
        f"max_connections = {max(10000, sessions + 100)}\n"
        "[admin]\n"
        f'listen = "127.0.0.1:{admin_port}"\n'
        f'token_file = "{token_file}"\n'
        "[audit]\n"
        f'file = "{audit_file}"\n'
        f"[users.{USER}]\n"
        f'password = "{PASSWORD}"\n'
        f"[shares.{SHARE}]\n"
        f'path = "{share}"\n'
        f'access = {{ "Everyone" = "read", "ANONYMOUS LOGON" = "read", "{USER}" = "full" }}\n'
        "[policy]\n"
        f'NullSessionShares = ["{SHARE}"]\n'
    )


def kinds_for(n: int, guests: float, users: float) -> list[str]:
    g, u = round(n * guests), round(n * users)
    kinds = ["guest"] * g + ["user"] * u + ["anonymous"] * (n - g - u)
    random.Random(5).shuffle(kinds)  # the same mix, in the same order, on every run
    return kinds


# --- server-sent events ------------------------------------------------------------------------------

class SseSubscriber:
    """One dashboard's ``/api/events`` stream; notes when a wanted session first appears, logged on."""

    def __init__(self, http, url: str) -> None:
        self.http, self.url = http, url
        self.waiting: dict[bytes, asyncio.Future[float]] = {}
        self.snapshots = 0
        self.first = asyncio.get_running_loop().create_future()
        self.task = asyncio.get_running_loop().create_task(self._run())

    def expect(self, session_id: str) -> asyncio.Future[float]:
        # a logged-on anonymous row starts {"id":"0x...","user":"ANONYMOUS LOGON",...,"kind":"anonymous"
        fut = asyncio.get_running_loop().create_future()
        self.waiting[f'"id":"{session_id}"'.encode()] = fut
        return fut

    async def _run(self) -> None:
        try:
            async with self.http.get(self.url) as r:
                if r.status != 200:
                    raise BenchError(f"GET /api/events answered {r.status}")
                buf = bytearray()
                async for chunk in r.content.iter_any():
                    buf += chunk
                    while (end := buf.find(b"\n\n")) >= 0:
                        event, buf = bytes(buf[:end]), buf[end + 2:]
                        self._event(event, time.perf_counter())
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - reported through the futures
            for fut in [self.first, *self.waiting.values()]:
                if not fut.done():
                    fut.set_exception(e)

    def _event(self, event: bytes, now: float) -> None:
        if not event.startswith(b"event: snapshot\n"):
            return
        self.snapshots += 1
        if not self.first.done():
            self.first.set_result(now)
        for key, fut in list(self.waiting.items()):
            at = event.find(key)
            if at >= 0 and b'"kind":"anonymous"' in event[at:at + 200]:
                del self.waiting[key]
                if not fut.done():
                    fut.set_result(now)

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001
            pass


# --- the benchmark -------------------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp: Path | None = None
        self.server: NullsmbProcess | None = None
        self.res = Results()
        self.load: dict[str, float] = {}

    def prepare(self) -> None:
        a = self.args
        self.tmp = Path(tempfile.mkdtemp(prefix="nullsmb-bench-sessions-", dir=a.tmp_base))
        share = self.tmp / "share"
        share.mkdir()
        for i in range(FILES):
            (share / f"f{i:02d}.bin").write_bytes(os.urandom(4096))
        taken: set[int] = set()
        self.port, self.admin_port = free_port(taken), free_port(taken)
        self.token_file = self.tmp / "admin" / "admin.token"
        conf = self.tmp / "server.toml"
        write_config(conf, port=self.port, admin_port=self.admin_port, token_file=self.token_file,
                     share=share, state=self.tmp / "state", audit_file=self.tmp / "audit.jsonl",
                     sessions=a.sessions)
        self.server = NullsmbProcess("nullsmb", conf, [self.port, self.admin_port], self.tmp / "server.log",
                                     python=a.python)
        self.server.start()
        self.token = self.token_file.read_text().strip()
        self.base = f"http://127.0.0.1:{self.admin_port}"
        log(f"nullsmb pid {self.server.pid}: SMB 127.0.0.1:{self.port}, admin {self.base} "
            f"(token file {self.token_file}); temp dir {self.tmp}")

    def run(self) -> None:
        self.load["start"] = load_note()
        self.prepare()
        # the stock loop: under uvloop a SIGTERM killed this process outright, skipping the
        # teardown that stops the server (seen with uvloop 0.23); the server itself uses uvloop
        self.loop_name = "asyncio"
        asyncio.run(self.measure())
        self.load["end"] = os.getloadavg()[0]
        assert self.server is not None
        self.res.facts["server_rss_mib_end"] = self.server.rss_mib()
        code = self.server.stop()
        if code not in (0, None):
            self.res.problems.append(f"server exited with code {code}")
        if "Traceback" in self.server.log_path.read_text(errors="replace"):
            self.res.problems.append(f"a traceback in the server log {self.server.log_path}")

    # -- the measurements --------------------------------------------------------------------------------
    async def measure(self) -> None:
        import aiohttp

        a, res = self.args, self.res
        held: list[Held] = []
        subs: list[SseSubscriber] = []
        headers = {"Authorization": f"Bearer {self.token}"}
        http = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=60))
        try:
            res.facts["server_rss_mib_start"] = self.server.rss_mib() if self.server else None
            held = await self.open_sessions(a.sessions)
            res.facts["server_rss_mib_loaded"] = self.server.rss_mib() if self.server else None
            await self.check_listing(http, held)
            probe = next((h for h in held if h.kind == "anonymous"), held[0])  # ECHO on a null session
            res.figures.append(await self.echoes(probe, "SMB ECHO on an open session, no API traffic"))
            await self.api_figures(http, held)

            # five dashboards open: subscribers to the live snapshot stream
            url = f"{self.base}/api/events?access_token={self.token}"
            subs = [SseSubscriber(http, url) for _ in range(SUBSCRIBERS)]
            await asyncio.wait_for(asyncio.gather(*(s.first for s in subs)), 30)
            res.figures.append(await self.new_session_delay(subs))
            res.figures.append(await self.timed_gets(
                http, "/api/sessions", a.requests, f"GET /api/sessions, {SUBSCRIBERS} dashboards open",
                target=True))
            res.figures.append(await self.echoes(probe, f"SMB ECHO, {SUBSCRIBERS} dashboards open"))
            await self.hammered(http, probe)
            res.facts["snapshots_per_subscriber"] = [s.snapshots for s in subs]
        finally:
            for s in subs:
                await s.close()
            await http.close()
            await asyncio.gather(*(h.client.disconnect() for h in held), return_exceptions=True)

    async def open_sessions(self, n: int) -> list[Held]:
        from nullsmb.client import SmbClient

        kinds = kinds_for(n, self.args.guests, self.args.users)
        gate = asyncio.Semaphore(self.args.parallel)

        async def one(i: int, kind: str) -> Held:
            async with gate:
                client = await SmbClient.connect("127.0.0.1", self.port, timeout=60)
                try:
                    if kind == "anonymous":
                        info = await client.login()
                    elif kind == "guest":
                        info = await client.login(f"visitor{i}", "not-a-password")  # unknown: mapped to guest
                    else:
                        info = await client.login(USER, PASSWORD)
                    tid = await client.tree_connect(SHARE)
                    fid = await client.create(tid, f"f{i % FILES:02d}.bin")
                except BaseException:
                    await client.disconnect()
                    raise
                return Held(client, f"0x{info.session_id:016x}", kind, tid, fid)

        t0 = time.perf_counter()
        results = await asyncio.gather(*(one(i, k) for i, k in enumerate(kinds)), return_exceptions=True)
        seconds = time.perf_counter() - t0
        held = [r for r in results if isinstance(r, Held)]
        errors = [r for r in results if not isinstance(r, Held)]
        if errors:
            await asyncio.gather(*(h.client.disconnect() for h in held), return_exceptions=True)
            raise BenchError(f"{len(errors)} of {n} sessions failed to open, e.g. {errors[0]!r}; "
                             f"server log {self.server.log_path if self.server else ''}")
        counts = {k: kinds.count(k) for k in ("anonymous", "guest", "user")}
        self.res.facts.update(sessions=n, kinds=counts, open_seconds=seconds)
        log(f"opened {n} sessions ({counts}) in {seconds:.1f} s ({n / seconds:.0f}/s)")
        return held

    async def check_listing(self, http, held: list[Held]) -> None:
        """Rule 1: the API lists exactly our sessions, each with its kind, tree and open file."""
        want = {h.session_id: h.kind for h in held}
        deadline = time.monotonic() + 10
        problem = "no answer"
        while time.monotonic() < deadline:
            async with http.get(f"{self.base}/api/sessions") as r:
                body = await r.read()
                if r.status != 200:
                    raise BenchError(f"GET /api/sessions answered {r.status}: {body[:200]!r}")
            rows = json.loads(body)["sessions"]
            got = {row["id"]: row for row in rows}
            wrong = [sid for sid, kind in want.items()
                     if sid not in got or got[sid]["kind"] != kind or got[sid]["trees"] != 1
                     or got[sid]["opens"] != 1]
            if len(rows) == len(want) and not wrong:
                self.res.facts["listing_bytes"] = len(body)
                self.res.checks.append(
                    f"GET /api/sessions lists {len(rows)} sessions = {len(want)} opened; every one with "
                    f"its kind ({self.res.facts['kinds']}), 1 tree connect and 1 open file")
                return
            problem = (f"{len(rows)} sessions listed, {len(want)} opened; {len(wrong)} missing or "
                       f"wrong, e.g. {wrong[:1]}")
            await asyncio.sleep(0.2)
        self.res.problems.append("the API does not list the sessions: " + problem)
        raise BenchError("the API does not list the sessions: " + problem)

    async def get_ms(self, http, path: str) -> tuple[float, bytes]:
        t0 = time.perf_counter()
        async with http.get(self.base + path) as r:
            body = await r.read()
            status = r.status
        t = time.perf_counter() - t0
        if status != 200:
            raise BenchError(f"GET {path} answered {status}: {body[:200]!r}")
        return ms(t), body

    async def timed_gets(self, http, path: str | list[str], n: int, name: str, *, spaced: float = 0.0,
                         target: bool = False, note: str = "") -> Figure:
        paths = path if isinstance(path, list) else [path] * n
        samples = []
        for p in paths[:n]:
            if spaced:
                await asyncio.sleep(spaced)
            t, _ = await self.get_ms(http, p)
            samples.append(t)
        return Figure(name, samples, target, note)

    async def api_figures(self, http, held: list[Held]) -> None:
        a, res = self.args, self.res
        await self.get_ms(http, "/api/sessions")  # warm the connection
        res.figures.append(await self.timed_gets(
            http, "/api/sessions", a.requests, "GET /api/sessions, back to back", target=True,
            note=f"snapshot shared for {CACHE_TTL_S} s"))
        res.figures.append(await self.timed_gets(
            http, "/api/sessions", a.cold, f"GET /api/sessions, {CACHE_TTL_S + 0.1:.1f} s apart",
            spaced=CACHE_TTL_S + 0.1, target=True, note="a new snapshot each time"))
        res.figures.append(await self.timed_gets(
            http, "/api/sessions?anonymous=1", a.requests, "GET /api/sessions?anonymous=1, back to back",
            target=True, note="filtered rows: encoded per request"))
        pick = random.Random(7)
        ids = [f"/api/sessions/{pick.choice(held).session_id}" for _ in range(a.requests)]
        res.figures.append(await self.timed_gets(http, ids, a.requests, "GET /api/sessions/{id}"))
        res.figures.append(await self.timed_gets(http, "/", a.requests, "GET / (dashboard page)"))
        res.figures.append(await self.dashboard_loads(http))

    async def dashboard_loads(self, http) -> Figure:
        """What a browser does to show the dashboard: page, CSS, JS, servers, first live snapshot."""
        samples = []
        url = f"{self.base}/api/events?access_token={self.token}"
        for _ in range(self.args.loads):
            t0 = time.perf_counter()
            for p in ("/", "/static/app.css", "/static/app.js", "/api/servers"):
                await self.get_ms(http, p)
            sub = SseSubscriber(http, url)
            try:
                first = await asyncio.wait_for(sub.first, 30)
            finally:
                await sub.close()
            samples.append(ms(first - t0))
            await asyncio.sleep(0.2)
        return Figure("dashboard load: page, CSS, JS, /api/servers, first snapshot", samples)

    async def new_session_delay(self, subs: list[SseSubscriber]) -> Figure:
        """From a new null session's logon to its row in the stream, for each subscriber."""
        from nullsmb.client import SmbClient

        samples = []
        jitter = random.Random(11)
        for _ in range(self.args.trials):
            client = await SmbClient.connect("127.0.0.1", self.port, timeout=60)
            try:
                info = await client.login()
                t0 = time.perf_counter()
                sid = f"0x{info.session_id:016x}"
                futs = [s.expect(sid) for s in subs]
                try:
                    arrived = await asyncio.wait_for(asyncio.gather(*futs), 10)
                except asyncio.TimeoutError:
                    self.res.problems.append(f"new session {sid} did not appear in /api/events within 10 s")
                    raise BenchError(f"new session {sid} did not appear in /api/events within 10 s")
                samples += [ms(t - t0) for t in arrived]
            finally:
                await client.disconnect()
            await asyncio.sleep(jitter.uniform(0.3, 0.8))  # sample every phase of the 0.25 s tick
        return Figure(f"new session -> /api/events, {SUBSCRIBERS} subscribers", samples,
                      note="the broadcaster looks for changes every 0.25 s")

    async def echoes(self, h: Held, name: str, note: str = "") -> Figure:
        samples = []
        for _ in range(self.args.echoes):
            t0 = time.perf_counter()
            await h.client.echo()
            samples.append(ms(time.perf_counter() - t0))
            await asyncio.sleep(ECHO_INTERVAL_S)
        return Figure(name, samples, note=note or f"one every {ECHO_INTERVAL_S * 1000:.0f} ms")

    async def hammered(self, http, h: Held) -> None:
        """ECHO while another process keeps ``--hammer`` GET /api/sessions in flight."""
        a = self.args
        cmd = [a.python, str(Path(__file__).resolve()), "_hammer", "--url", self.base + "/api/sessions",
               "--token-file", str(self.token_file), "--concurrency", str(a.hammer)]
        proc = await asyncio.create_subprocess_exec(*cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                    stderr=subprocess.PIPE)
        try:
            assert proc.stdout is not None and proc.stdin is not None
            ready = await asyncio.wait_for(proc.stdout.readline(), 60)
            if ready.strip() != b"ready":
                err = await proc.stderr.read() if proc.stderr else b""
                raise BenchError(f"hammer process did not start: {ready!r} {err.decode(errors='replace')[-500:]}")
            self.res.figures.append(await self.echoes(
                h, f"SMB ECHO, {SUBSCRIBERS} dashboards + {a.hammer} GET /api/sessions loops"))
            proc.stdin.close()
            out, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:  # our own child, by PID
                proc.kill()
                await proc.wait()
        try:
            stats = json.loads(out.decode().strip().splitlines()[-1])
        except (IndexError, ValueError):
            raise BenchError(f"hammer process failed: {err.decode(errors='replace')[-500:]}") from None
        if stats["errors"]:
            self.res.problems.append(f"hammer: {stats['errors']} failed requests, e.g. {stats['first_error']}")
        self.res.figures.append(Figure(f"GET /api/sessions from the {a.hammer} hammer loops",
                                       stats["samples_ms"], True,
                                       note=f"{stats['count'] / stats['seconds']:.0f} requests/s"))
        self.res.facts["hammer"] = {k: v for k, v in stats.items() if k != "samples_ms"}

    # -- reporting ---------------------------------------------------------------------------------------
    def report(self) -> None:
        a, res = self.args, self.res
        if a.json:
            print(json.dumps({
                "sessions": a.sessions, "target_ms": TARGET_MS, "figures": [f.summary() for f in res.figures],
                "facts": res.facts, "checks": res.checks, "problems": res.problems,
                "load_average_1min": self.load, "bench_loop": getattr(self, "loop_name", None),
                "host": {"python": platform.python_version(), "cpus": os.cpu_count(),
                         "kernel": platform.release()},
            }, indent=2))
            return
        f = res.facts
        print()
        kinds = f.get("kinds", {})
        print(f"{f.get('sessions', a.sessions)} open sessions ({', '.join(f'{v} {k}' for k, v in kinds.items())}), "
              f"each with a tree connect and an open file; latency in ms to the last byte; "
              f"target: p95 < {TARGET_MS:.0f} ms")
        rows = []
        for fig in res.figures:
            s = summarize(fig.samples_ms)
            num = lambda x: f"{x:.1f}" if x is not None else "-"  # noqa: E731
            met = fig.met()
            rows.append([fig.name, str(s["n"]), num(s["median"]), num(s["p95"]), num(s["max"]),
                         "-" if met is None else ("met" if met else "NOT MET"), fig.note])
        print_table(["measurement", "n", "median", "p95", "max", f"< {TARGET_MS:.0f} ms", "note"], rows,
                    right=[False, True, True, True, True, True, False])
        print()
        if "open_seconds" in f:
            print(f"sessions opened in {f['open_seconds']:.1f} s ({f['sessions'] / f['open_seconds']:.0f}/s, "
                  f"{a.parallel} at a time); GET /api/sessions body {f.get('listing_bytes', 0) / 1024:.0f} KiB")
        rss = [f.get(k) for k in ("server_rss_mib_start", "server_rss_mib_loaded", "server_rss_mib_end")]
        if all(x is not None for x in rss):
            print(f"server resident memory: {rss[0]:.0f} MiB idle, {rss[1]:.0f} MiB with the sessions, "
                  f"{rss[2]:.0f} MiB at the end")
        if "hammer" in f:
            h = f["hammer"]
            print(f"hammer: {h['count']} requests in {h['seconds']:.1f} s, {h['errors']} failed")
        if "snapshots_per_subscriber" in f:
            print(f"snapshots received per dashboard: {f['snapshots_per_subscriber']}")
        for c in res.checks:
            print("check: " + c)
        print(f"bench event loop: {getattr(self, 'loop_name', '?')}; load average (1 min) before/after: "
              + "/".join(f"{x:.2f}" for x in self.load.values()) + f" on {os.cpu_count()} CPUs")
        if res.problems:
            print()
            print(f"{len(res.problems)} problem(s):")
            for p in res.problems:
                print("  - " + p)

    def cleanup(self) -> None:
        if self.server is not None:
            try:
                self.server.stop()
            except Exception as e:  # noqa: BLE001
                log(f"stopping nullsmb failed: {e}")
        if self.tmp is not None:
            if self.args.keep or self.res.problems:
                log(f"kept {self.tmp} (config, server log, audit file)")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


# --- the hammer (a separate process) -------------------------------------------------------------------

async def hammer(url: str, token: str, concurrency: int) -> dict:
    import aiohttp

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    samples: list[float] = []
    errors: list[str] = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"},
                                     timeout=aiohttp.ClientTimeout(total=60)) as http:
        async def worker() -> None:
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    async with http.get(url) as r:
                        await r.read()
                        if r.status != 200:
                            errors.append(f"status {r.status}")
                            continue
                except aiohttp.ClientError as e:
                    errors.append(repr(e))
                    continue
                samples.append(ms(time.perf_counter() - t0))

        async with http.get(url) as r:  # one answer before we say we are ready
            await r.read()
        tasks = [loop.create_task(worker()) for _ in range(concurrency)]
        t0 = time.perf_counter()
        print("ready", flush=True)
        await loop.run_in_executor(None, sys.stdin.read)  # until the bench closes our stdin
        stop.set()
        await asyncio.gather(*tasks)
        seconds = time.perf_counter() - t0
    return {"count": len(samples), "seconds": seconds, "errors": len(errors),
            "first_error": errors[0] if errors else None, "samples_ms": samples}


def hammer_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="sessions.py _hammer")
    p.add_argument("--url", required=True)
    p.add_argument("--token-file", type=Path, required=True)
    p.add_argument("--concurrency", type=int, default=4)
    a = p.parse_args(argv)
    out = asyncio.run(hammer(a.url, a.token_file.read_text().strip(), a.concurrency))
    print(json.dumps(out), flush=True)
    return 0


# --- command line ----------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="admin API and dashboard latency with many open sessions (see bench/README.md)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python bench/sessions.py --quick\n  python bench/sessions.py\n"
               "  python bench/sessions.py --sessions 2000 --json")
    p.add_argument("--quick", action="store_true", help="100 sessions and fewer requests")
    p.add_argument("--sessions", type=int, default=None, help="open sessions (default 1000; --quick 100)")
    p.add_argument("--guests", type=float, default=0.05, help="fraction of guest sessions (default 0.05)")
    p.add_argument("--users", type=float, default=0.05, help="fraction of NTLMv2 user sessions (default 0.05)")
    p.add_argument("--parallel", type=int, default=50, help="sessions being opened at a time (default 50)")
    p.add_argument("--requests", type=int, default=None,
                   help="requests per back-to-back latency figure (default 50; --quick 20)")
    p.add_argument("--cold", type=int, default=None,
                   help="spaced GET /api/sessions, each building a new snapshot (default 10; --quick 3)")
    p.add_argument("--loads", type=int, default=None, help="dashboard loads (default 5; --quick 2)")
    p.add_argument("--trials", type=int, default=None,
                   help="new sessions watched through /api/events (default 10; --quick 3)")
    p.add_argument("--echoes", type=int, default=None, help="ECHOes per ECHO figure (default 200; --quick 50)")
    p.add_argument("--hammer", type=int, default=4, help="concurrent GET /api/sessions loops of the hammer (default 4)")
    p.add_argument("--json", action="store_true", help="print JSON results on stdout instead of the table")
    p.add_argument("--python", default=sys.executable, help="interpreter that runs nullsmb and the hammer")
    p.add_argument("--tmp-base", default="/tmp", help="where the temp dir goes (default /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (config, server log, audit file)")
    a = p.parse_args(argv)
    for name, full, small in (("sessions", 1000, 100), ("requests", 50, 20), ("cold", 10, 3), ("loads", 5, 2),
                              ("trials", 10, 3), ("echoes", 200, 50)):
        if getattr(a, name) is None:
            setattr(a, name, small if a.quick else full)
        if getattr(a, name) < 1:
            p.error(f"--{name} must be at least 1")
    if not (0 <= a.guests <= 1 and 0 <= a.users <= 1 and a.guests + a.users < 1):
        p.error("--guests and --users are fractions whose sum is below 1 (one session stays anonymous)")
    if a.parallel < 1 or a.hammer < 1:
        p.error("--parallel and --hammer must be at least 1")
    return a


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_hammer"]:
        return hammer_main(argv[1:])
    args = parse_args(argv)
    bench = Bench(args)

    def body() -> int:
        bench.run()
        return 0

    code = run_main(body, bench.cleanup)
    if bench.res.figures or bench.res.problems:
        bench.report()
    if code == 0 and bench.res.problems:
        code = 1
    return code


if __name__ == "__main__":
    sys.path.insert(0, str(SRC))  # nullsmb's client from this checkout
    sys.exit(main())
