#!/usr/bin/env python3
"""Throughput benchmark: nullsmb against a reference Samba, both driven by Samba's ``smbclient``.

    python bench/run.py                 # 1 GiB read, 512 MiB write, 3 alternated runs each
    python bench/run.py --quick         # 256 MiB read, 128 MiB write
    python bench/run.py --json          # machine-readable results on stdout

Four scenarios (read = ``get FILE /dev/null``, write = ``put LOCALFILE NAME``), each as a null session
(``-U% -N``) and as a signed user session (``-U alice%Passw0rd! --client-protection=sign``). For every
scenario the runs alternate nullsmb, Samba, nullsmb, Samba, ... (after one untimed warm-up run each);
throughput is the known byte count divided by the wall-clock time of the whole smbclient command; the
table shows the median per server.

The script starts both servers itself on free loopback ports (nullsmb from this checkout's src/, Samba
through the team's reference script /work/shared/reference/start-samba.sh, or, where that is absent,
through tests/support/refsamba.py, which writes the same configuration), keeps everything in one temp
dir under /tmp, and stops
exactly the processes it started, by PID, also on Ctrl-C, SIGTERM and errors. See bench/README.md.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import (  # generic helpers shared by the benchmarks in bench/
    BenchError, cmdline, descendants, free_port, human, log, parse_size, pid_alive, port_open, tail,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SRC = REPO / "src"
REFERENCE = Path(os.environ.get("NULLSMB_BENCH_REFERENCE", "/work/shared/reference"))
USER, PASSWORD = "alice", "Passw0rd!"


def reference_scripts() -> bool:
    return all((REFERENCE / s).is_file() for s in ("start-samba.sh", "stop-samba.sh"))


SHARE = "public"
MiB = 1 << 20

SESSIONS = {
    # name: (smbclient auth arguments, human label)
    "null": (["-U%", "-N"], "null session"),
    "signed": ([f"-U{USER}%{PASSWORD}", "--client-protection=sign"], "signed user"),
}
SCENARIOS = [  # (key, operation, session)
    ("read-null", "read", "null"),
    ("read-signed", "read", "signed"),
    ("write-null", "write", "null"),
    ("write-signed", "write", "signed"),
]

# nullsmb launchers. "cli" is the documented entry point (it uses uvloop when installed);
# "asyncio" runs serve_forever on the stock asyncio loop; "cli-O" is the CLI under python -O.
_ASYNCIO_LAUNCH = ("import asyncio,sys; from nullsmb.config import load_config; "
                   "from nullsmb.aio.lifecycle import serve_forever; "
                   "sys.exit(asyncio.run(serve_forever(load_config(sys.argv[1]))))")
LAUNCHERS = {
    "cli": lambda py, conf: [py, "-m", "nullsmb", "serve", "--config", str(conf)],
    "cli-O": lambda py, conf: [py, "-O", "-m", "nullsmb", "serve", "--config", str(conf)],
    "asyncio": lambda py, conf: [py, "-c", _ASYNCIO_LAUNCH, str(conf)],
}


# --- small helpers ------------------------------------------------------------------------------

def fill_random(path: Path, size: int) -> None:
    chunk = os.urandom(4 * MiB)  # incompressible; one chunk repeated is plenty for a throughput test
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, len(chunk))
            f.write(chunk[:n] if n < len(chunk) else chunk)
            left -= n
        f.flush()
        os.fsync(f.fileno())


# --- servers ------------------------------------------------------------------------------------

@dataclass
class NullsmbServer:
    name = "nullsmb"
    root: Path
    share_dir: Path
    port: int
    python: str
    launcher: str
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)
    starts: int = 0

    def __post_init__(self) -> None:
        self.conf_dir = self.root / "nullsmb"
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.conf_dir / "bench.toml"
        self.log_path = self.conf_dir / "server.log"
        self.conf.write_text(
            "# written by bench/run.py\n"
            "[server]\n"
            f'listen = ["127.0.0.1:{self.port}"]\n'
            f'state_dir = "{self.conf_dir / "state"}"\n'
            "[admin]\nenabled = false\n"
            f'[audit]\nfile = "{self.conf_dir / "audit.jsonl"}"\n'
            f"[users.{USER}]\n"
            f'password = "{PASSWORD}"\n'
            f"[shares.{SHARE}]\n"
            f'path = "{self.share_dir}"\n'
            f'access = {{ "Everyone" = "read", "ANONYMOUS LOGON" = "full", "{USER}" = "full" }}\n'
            "[policy]\n"
            f'NullSessionShares = ["{SHARE}"]\n'
        )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        self.starts += 1
        env = dict(os.environ)
        env["PYTHONPATH"] = str(SRC) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.setdefault("PYTHONUNBUFFERED", "1")
        cmd = LAUNCHERS[self.launcher](self.python, self.conf)
        logf = open(self.log_path, "ab")
        logf.write(f"\n===== bench start #{self.starts}: {' '.join(cmd)}\n".encode())
        logf.flush()
        # own session: a Ctrl-C in the terminal reaches only us; we stop the server ourselves
        self.proc = subprocess.Popen(cmd, cwd=self.conf_dir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"nullsmb exited with code {self.proc.returncode} while starting; "
                                 f"log {self.log_path}:\n{tail(self.log_path)}")
            if port_open(self.port):
                return
            time.sleep(0.1)
        raise BenchError(f"nullsmb did not listen on 127.0.0.1:{self.port} within 30 s; "
                         f"log {self.log_path}:\n{tail(self.log_path)}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                log(f"nullsmb pid {proc.pid} ignored SIGTERM for 15 s: SIGKILL")
                proc.kill()
                proc.wait(10)


@dataclass
class SambaServer:
    name = "Samba"
    root: Path
    share_dir: Path
    port: int
    pid: int | None = None
    kids: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.samba_root = self.root / "samba"
        self.env = dict(os.environ, SAMBA_PORT=str(self.port), SAMBA_ROOT=str(self.samba_root),
                        SHARE_DIR=str(self.share_dir))
        for k in ("RESTRICT_ANON", "SAMBA_VFS"):  # the stock reference configuration
            self.env.pop(k, None)
        self.log_path = self.samba_root / "log" / "smbd.stdout"

    @property
    def conf(self) -> Path:
        return self.samba_root / "smb.conf"

    def _read_pid(self) -> int | None:
        try:
            pid = int((self.samba_root / "smbd.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        # guard against a recycled PID: it must be an smbd with our config
        return pid if str(self.conf) in cmdline(pid) else None

    def start(self) -> None:
        if not reference_scripts():
            self._start_refsamba()
            return
        script = REFERENCE / "start-samba.sh"
        try:
            r = subprocess.run(["bash", str(script)], env=self.env, capture_output=True, text=True,
                               timeout=60)
        finally:
            self.pid = self._read_pid()  # recorded even if we are interrupted half-way
        if r.returncode != 0 or self.pid is None:
            raise BenchError(f"{script} failed (rc {r.returncode}):\n{r.stdout}{r.stderr}\n"
                             f"log {self.log_path}:\n{tail(self.log_path)}")
        if "already running" in r.stdout:
            raise BenchError(f"an smbd already runs with SAMBA_ROOT={self.samba_root}; not ours")

    def _start_refsamba(self) -> None:
        """The repository's own reference fixture (tests/support/refsamba.py: the same stock
        configuration as the reference script) when the team's scripts are not on this machine."""
        sys.path.insert(0, str(REPO / "tests" / "support"))
        import refsamba  # noqa: PLC0415 (only needed without the reference scripts)
        self.samba_root.mkdir(parents=True, exist_ok=True)
        try:
            server = refsamba.start(self.samba_root, port=self.port, share=self.share_dir)
        except BaseException as exc:  # refsamba reports through pytest.fail (an OutcomeException)
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise BenchError(f"reference Samba (tests/support/refsamba.py): {exc}") from None
        self._refsamba = (refsamba, server)
        self.pid = server.proc.pid

    def alive(self) -> bool:
        return self.pid is not None and pid_alive(self.pid)

    def note_children(self) -> None:
        if self.pid is not None:
            self.kids.update(descendants(self.pid))

    def stop(self) -> None:
        if self.pid is None:
            self.pid = self._read_pid()
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        self.kids.update(descendants(pid))
        if getattr(self, "_refsamba", None):
            refsamba, server = self._refsamba
            refsamba.stop(server)  # SIGTERM to that PID, SIGKILL after a grace period
        else:
            self._stop_with_script(pid)
        # smbd's own children (per-connection smbd, notifyd, cleanupd) exit with their parent; kills exactly the recorded PID (TERM, then KILL after 5 s)
        subprocess.run(["bash", str(REFERENCE / "stop-samba.sh")], env=self.env,
                       capture_output=True, timeout=30)
        if pid_alive(pid) and str(self.conf) in cmdline(pid):
            os.kill(pid, signal.SIGKILL)
        # smbd's own children (per-connection smbd, notifyd, cleanupd) exit with their parent;
        # any that linger are killed by the PIDs we saw, if they still are our smbd
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(pid_alive(k) for k in self.kids):
            time.sleep(0.1)
        for k in self.kids:
            if pid_alive(k) and "smbd" in cmdline(k):
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _stop_with_script(self, pid: int) -> None:
        # the reference stop script kills exactly the recorded PID (TERM, then KILL after 5 s)
        subprocess.run(["bash", str(REFERENCE / "stop-samba.sh")], env=self.env,
                       capture_output=True, timeout=30)
        if pid_alive(pid) and str(self.conf) in cmdline(pid):
            os.kill(pid, signal.SIGKILL)


# --- the benchmark ------------------------------------------------------------------------------

@dataclass
class Result:
    server: str
    scenario: str
    run: int
    seconds: float | None
    mbps: float | None
    error: str | None = None


def smbclient(port: int, session: str, command: str, timeout: float) -> tuple[float, subprocess.CompletedProcess[str]]:
    args = ["smbclient", f"//127.0.0.1/{SHARE}", "-p", str(port), *SESSIONS[session][0], "-c", command]
    t0 = time.perf_counter()
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0, r


def smb_failure(r: subprocess.CompletedProcess[str]) -> str | None:
    out = (r.stdout + r.stderr).strip()
    if r.returncode != 0:
        return f"smbclient rc {r.returncode}: {out[-500:]}"
    if "NT_STATUS_" in out or "does not exist" in out:
        return f"smbclient: {out[-500:]}"
    return None


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp: Path | None = None
        self.servers: list[NullsmbServer | SambaServer] = []
        self.results: list[Result] = []
        self.warmups: list[Result] = []  # not part of the medians
        self.events: list[str] = []  # crashes, timeouts, launcher fallbacks
        self.overhead: dict[str, dict[str, float]] = {}
        self.load: dict[str, float] = {}  # 1-minute load average before and after the runs

    # -- setup -------------------------------------------------------------------------------------
    def check_tools(self) -> None:
        for tool in ("smbclient", "smbd", "ss"):
            if shutil.which(tool) is None:
                raise BenchError(f"{tool} not found (apt-get install samba smbclient samba-testsuite)")
        if not reference_scripts():
            log(f"no reference scripts in {REFERENCE}; Samba starts through tests/support/refsamba.py")

    def prepare_files(self) -> None:
        a = self.args
        base = Path(a.tmp_base)
        # on disk: the read file (one inode, linked into both shares) and one written file at a time;
        # in /dev/shm if it has room, else on disk: the write source and the read-check copy
        need = a.size_read + a.size_write + 256 * MiB
        local = a.size_write + (a.size_read if a.verify else 0)
        shm = Path("/dev/shm")
        use_shm = shm.is_dir() and os.access(shm, os.W_OK) and \
            shutil.disk_usage(shm).free > local + 256 * MiB
        if not use_shm:
            need += local
        free = shutil.disk_usage(base).free
        if free < need:
            raise BenchError(f"not enough free space in {base}: {human(free)} free, "
                             f"{free / MiB:.0f} MiB < {need / MiB:.0f} MiB needed (try --quick)")
        self.tmp = Path(tempfile.mkdtemp(prefix="nullsmb-bench-", dir=base))
        self.tmp.chmod(0o755)  # Samba serves guests as "nobody": the share dirs must be reachable
        self.n_share = self.tmp / "nullsmb-share"
        self.s_share = self.tmp / "samba-share"
        self.n_share.mkdir()
        self.s_share.mkdir()
        self.s_share.chmod(0o1777)
        log(f"temp dir {self.tmp} ({human(free)} free)")
        self.read_name = "read.bin"
        t0 = time.perf_counter()
        fill_random(self.n_share / self.read_name, a.size_read)
        os.chmod(self.n_share / self.read_name, 0o644)
        # the same inode in both shares: same bytes, same page cache
        os.link(self.n_share / self.read_name, self.s_share / self.read_name)
        if use_shm:
            self.src_dir = Path(tempfile.mkdtemp(prefix="nullsmb-bench-", dir=shm))
        else:
            self.src_dir = self.tmp / "src"
            self.src_dir.mkdir()
        self.write_src = self.src_dir / "write.bin"
        fill_random(self.write_src, a.size_write)
        log(f"made {human(a.size_read)} read file and {human(a.size_write)} write source "
            f"({self.write_src}) in {time.perf_counter() - t0:.1f} s")

    def start_servers(self) -> None:
        a = self.args
        taken: set[int] = set()
        self.nullsmb = NullsmbServer(self.tmp, self.n_share, free_port(taken), a.python, a.launcher)
        self.samba = SambaServer(self.tmp, self.s_share, free_port(taken))
        self.servers = [self.nullsmb, self.samba]
        self.samba.start()
        log(f"Samba   pid {self.samba.pid} on 127.0.0.1:{self.samba.port} (conf {self.samba.conf})")
        self.start_nullsmb()

    def start_nullsmb(self) -> None:
        n = self.nullsmb
        n.start()
        problem = self.preflight(n)
        if problem and n.launcher == "cli" and self.args.fallback:
            msg = (f"nullsmb via `python -m nullsmb serve` accepts TCP but smbclient fails: {problem}\n"
                   f"server log {n.log_path}:\n{tail(n.log_path, 30)}")
            log("WARNING: " + msg)
            log("falling back to the asyncio launcher (serve_forever on the stock asyncio loop); "
                "use --launcher cli --no-fallback to fail instead")
            self.events.append("launcher fallback cli -> asyncio: " + msg)
            n.stop()
            n.launcher = "asyncio"
            n.start()
            problem = self.preflight(n)
        if problem:
            raise BenchError(f"nullsmb ({n.launcher}) fails a simple `ls`: {problem}\n"
                             f"server log {n.log_path}:\n{tail(n.log_path)}")
        log(f"nullsmb pid {n.pid} on 127.0.0.1:{n.port} (launcher {n.launcher}, conf {n.conf})")
        self.samba.note_children()

    def preflight(self, server: NullsmbServer | SambaServer) -> str | None:
        """``ls`` as both session types; returns a problem or None."""
        for session in SESSIONS:
            try:
                _, r = smbclient(server.port, session, "ls", timeout=30)
            except subprocess.TimeoutExpired:
                return f"{session} session: `ls` timed out after 30 s"
            problem = smb_failure(r)
            if problem:
                return f"{session} session: {problem}"
        return None

    # -- measuring ---------------------------------------------------------------------------------
    def measure(self, server: NullsmbServer | SambaServer, scenario: str, op: str, session: str,
                run: int) -> Result:
        a = self.args
        size = a.size_read if op == "read" else a.size_write
        share_dir = self.n_share if server is self.nullsmb else self.s_share
        target = share_dir / "written.bin"
        if op == "read":
            command = f"get {self.read_name} /dev/null"
        else:
            target.unlink(missing_ok=True)
            command = f'put "{self.write_src}" written.bin'
        os.sync()  # no dirty pages from the previous run are flushed during this one
        timeout = a.timeout
        error = None
        try:
            seconds, r = smbclient(server.port, session, command, timeout)
            error = smb_failure(r)
        except subprocess.TimeoutExpired:
            seconds, error = None, f"timed out after {timeout:.0f} s"
        if error is None and op == "write":
            try:
                got = target.stat().st_size
            except OSError as e:
                got = -1
                error = f"written file missing: {e}"
            if error is None and got != size:
                error = f"written file has {got} bytes, expected {size}"
            if error is None and run == 1 and self.args.verify \
                    and not filecmp.cmp(target, self.write_src, shallow=False):
                error = "written file differs from the source"
        if op == "write":
            target.unlink(missing_ok=True)
        dead = not server.alive()
        if dead:
            code = server.proc.returncode if isinstance(server, NullsmbServer) and server.proc else "?"
            error = (error or "") + f" [{server.name} process died, exit code {code}]"
        if error:
            seconds = None
            msg = f"{server.name} {scenario} run {run}: {error.strip()}"
            log("FAILED: " + msg)
            log(f"--- {server.name} log {server.log_path} (tail) ---\n{tail(server.log_path)}\n---")
            self.events.append(msg + f"\nlog tail ({server.log_path}):\n{tail(server.log_path)}")
        if dead:  # restart so the remaining scenarios still get numbers
            server.stop()
            log(f"restarting {server.name}")
            if isinstance(server, NullsmbServer):
                self.start_nullsmb()
            else:
                server.start()
        mbps = size / seconds / 1e6 if seconds else None
        res = Result(server.name, scenario, run, seconds, mbps, error)
        shown = f"{mbps:8.1f} MB/s ({seconds:.3f} s)" if mbps else "   FAILED"
        which = f"run {run}" if run >= 1 else "warm-up"
        log(f"  {scenario:<13} {which:<7}  {server.name:<8} {shown}")
        return res

    def verify_reads(self) -> None:
        """Untimed: `get` the read file from each server in both session types and compare bytes."""
        copy = self.src_dir / "verify.bin"
        for server in self.servers:
            for session in SESSIONS:
                try:
                    _, r = smbclient(server.port, session, f'get {self.read_name} "{copy}"', self.args.timeout)
                    problem = smb_failure(r)
                except subprocess.TimeoutExpired:
                    problem = f"timed out after {self.args.timeout:.0f} s"
                if problem is None and not filecmp.cmp(copy, self.n_share / self.read_name, shallow=False):
                    problem = "the bytes read differ from the file"
                copy.unlink(missing_ok=True)
                if problem:
                    raise BenchError(f"{server.name} read check ({session} session) failed: {problem}\n"
                                     f"log {server.log_path}:\n{tail(server.log_path)}")
        log("read check: both servers return the exact bytes in both session types")

    def connect_overhead(self) -> None:
        """Median wall time of an smbclient that only connects, logs on and runs `pwd`."""
        for server in self.servers:
            d = self.overhead.setdefault(server.name, {})
            for session in SESSIONS:
                times = []
                for _ in range(5):
                    t, r = smbclient(server.port, session, "pwd", timeout=30)
                    if smb_failure(r) is None:
                        times.append(t)
                if times:
                    d[session] = statistics.median(times)

    def run(self) -> None:
        a = self.args
        self.load["start"] = os.getloadavg()[0]
        if self.load["start"] > 0.5:
            log(f"note: load average {self.load['start']:.2f} before starting: other work on this "
                f"machine ({os.cpu_count()} CPUs) makes the numbers noisy")
        self.check_tools()
        self.prepare_files()
        self.start_servers()
        # warm the page cache with the read file (it was just written, this is belt and braces)
        with open(self.n_share / self.read_name, "rb") as f:
            while f.read(16 * MiB):
                pass
        if a.verify:
            self.verify_reads()
        self.connect_overhead()
        wanted = [s for s in SCENARIOS if not a.only or s[0] in a.only]
        for scenario, op, session in wanted:
            log(f"{scenario}: {op} {human(a.size_read if op == 'read' else a.size_write)}, "
                f"{SESSIONS[session][1]}")
            for run in range(1 - a.warmup, a.runs + 1):  # runs < 1 are untimed warm-ups
                for server in self.servers:  # nullsmb, Samba, nullsmb, Samba, ...
                    res = self.measure(server, scenario, op, session, run)
                    (self.results if run >= 1 else self.warmups).append(res)
        self.load["end"] = os.getloadavg()[0]

    # -- reporting ---------------------------------------------------------------------------------
    def summary(self) -> list[dict]:
        rows = []
        for scenario, op, session in SCENARIOS:
            mine = [r for r in self.results if r.scenario == scenario]
            if not mine:
                continue
            row: dict = {"scenario": scenario, "operation": op, "session": session,
                         "bytes": self.args.size_read if op == "read" else self.args.size_write}
            for name in ("nullsmb", "Samba"):
                ok = [r.mbps for r in mine if r.server == name and r.mbps]
                row[name] = {
                    "median_mbps": statistics.median(ok) if ok else None,
                    "runs_mbps": [r.mbps for r in mine if r.server == name],
                    "runs_seconds": [r.seconds for r in mine if r.server == name],
                    "failures": [r.error for r in mine if r.server == name and r.error],
                    "warmup_mbps": [r.mbps for r in self.warmups if r.scenario == scenario and r.server == name],
                }
            n, s = row["nullsmb"]["median_mbps"], row["Samba"]["median_mbps"]
            row["ratio"] = n / s if n and s else None
            rows.append(row)
        return rows

    def report(self) -> None:
        rows = self.summary()
        a = self.args
        if a.json:
            out = {
                "units": {"throughput": "MB/s (10^6 bytes per second)", "ratio": "nullsmb / Samba"},
                "method": "median of alternated runs; bytes / wall-clock time of the smbclient command",
                "size_read": a.size_read, "size_write": a.size_write, "runs": a.runs, "warmup": a.warmup,
                "nullsmb_launcher": self.nullsmb.launcher if self.servers else None,
                "connect_overhead_seconds": self.overhead,
                "load_average_1min": self.load,
                "scenarios": rows,
                "events": self.events,
                "saved_logs": str(getattr(self, "saved_logs", "")) or None,
                "host": {"python": platform.python_version(), "cpus": os.cpu_count(),
                         "kernel": platform.release(), "smbclient": _version(["smbclient", "-V"]),
                         "smbd": _version(["smbd", "-V"])},
            }
            print(json.dumps(out, indent=2))
            return
        print()
        print(f"read {human(a.size_read)}, write {human(a.size_write)}, median of {a.runs} alternated runs "
              f"after {a.warmup} warm-up each "
              f"(nullsmb launcher: {self.nullsmb.launcher}); MB/s = 10^6 bytes/s; ratio = nullsmb/Samba")
        header = f"| {'scenario':<28} | {'nullsmb MB/s':>12} | {'Samba MB/s':>10} | {'ratio':>6} |"
        print(header)
        print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
        for row in rows:
            n, s = row["nullsmb"]["median_mbps"], row["Samba"]["median_mbps"]
            label = f"{row['operation']} {human(row['bytes'])}, {SESSIONS[row['session']][1]}"
            fmt = lambda v: f"{v:.1f}" if v else "FAILED"  # noqa: E731
            ratio = f"{row['ratio']:.2f}" if row["ratio"] else "-"
            print(f"| {label:<28} | {fmt(n):>12} | {fmt(s):>10} | {ratio:>6} |")
        print()
        print("all runs (MB/s):")
        for row in rows:
            for name in ("nullsmb", "Samba"):
                runs = ", ".join(f"{v:.1f}" if v else "FAIL" for v in row[name]["runs_mbps"])
                print(f"  {row['scenario']:<13} {name:<8} {runs}")
        if self.overhead:
            parts = [f"{srv} " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in d.items())
                     for srv, d in self.overhead.items()]
            print("connect+logon+disconnect overhead included in each time (median of 5): " + "; ".join(parts))
        if self.load:
            print("load average (1 min) before/after: "
                  + "/".join(f"{v:.2f}" for v in self.load.values()) + f" on {os.cpu_count()} CPUs")
        if self.events:
            print()
            where = getattr(self, "saved_logs", None) or (self.tmp if self.args.keep else None)
            print(f"{len(self.events)} problem(s) (details on stderr; server logs in {where}):")
            for e in self.events:
                print("  - " + e.splitlines()[0])

    # -- teardown ----------------------------------------------------------------------------------
    def cleanup(self) -> None:
        for server in reversed(self.servers):
            try:
                server.stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping {server.name} failed: {e}")
        src_dir = getattr(self, "src_dir", None)
        if src_dir is not None and str(src_dir).startswith("/dev/shm/"):
            shutil.rmtree(src_dir, ignore_errors=True)
        if self.tmp is not None and self.events and not self.args.keep:
            # something failed: keep the server logs (small) even though the temp dir goes
            saved = Path(tempfile.mkdtemp(prefix="nullsmb-bench-logs-", dir=self.args.tmp_base))
            for src in (self.tmp / "nullsmb" / "server.log", self.tmp / "samba" / "log"):
                if src.is_dir():
                    shutil.copytree(src, saved / "samba-log", dirs_exist_ok=True)
                elif src.exists():
                    shutil.copy2(src, saved / "nullsmb-server.log")
            self.saved_logs = saved
            log(f"server logs saved in {saved}")
        if self.tmp is not None:
            if self.args.keep:
                log(f"kept {self.tmp} (logs: nullsmb/server.log, samba/log/)")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


def _version(cmd: list[str]) -> str | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except OSError:
        return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="smbclient throughput of nullsmb against the reference Samba (see bench/README.md)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python bench/run.py --quick\n  python bench/run.py\n"
               "  python bench/run.py --size-read 2G --runs 5 --json > results.json\n"
               "  python bench/run.py --quick --only read-signed write-signed --keep")
    p.add_argument("--size-read", type=parse_size, default=None, help="read size (default 1G; --quick 256M)")
    p.add_argument("--size-write", type=parse_size, default=None, help="write size (default 512M; --quick 128M)")
    p.add_argument("--runs", type=int, default=3, help="runs per server and scenario (default 3)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed warm-up runs per server and scenario before the timed ones (default 1)")
    p.add_argument("--quick", action="store_true", help="256 MiB read / 128 MiB write")
    p.add_argument("--json", action="store_true", help="print JSON results on stdout instead of the table")
    p.add_argument("--only", nargs="+", choices=[s[0] for s in SCENARIOS], help="run only these scenarios")
    p.add_argument("--launcher", choices=sorted(LAUNCHERS), default="cli",
                   help="how to start nullsmb: cli = python -m nullsmb serve (default; uses uvloop if "
                        "installed), asyncio = serve_forever on the stock asyncio loop, cli-O = cli under "
                        "python -O")
    p.add_argument("--no-fallback", dest="fallback", action="store_false",
                   help="if the cli launcher fails a simple ls, stop instead of falling back to asyncio")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip the untimed byte-for-byte checks of what is read and written")
    p.add_argument("--python", default=sys.executable, help="interpreter that runs nullsmb")
    p.add_argument("--timeout", type=float, default=600, help="seconds before one smbclient run counts as failed")
    p.add_argument("--tmp-base", default="/tmp", help="where the temp dir goes (default /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (configs, server logs)")
    a = p.parse_args(argv)
    if a.size_read is None:
        a.size_read = 256 * MiB if a.quick else 1 << 30
    if a.size_write is None:
        a.size_write = 128 * MiB if a.quick else 512 * MiB
    if a.runs < 1:
        p.error("--runs must be at least 1")
    if a.warmup < 0:
        p.error("--warmup must be 0 or more")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored (&)
    code = 0
    try:
        bench.run()
    except KeyboardInterrupt:
        log("\ninterrupted: stopping the servers")
        code = 130
    except BenchError as e:
        log(f"error: {e}")
        code = 1
    finally:
        # no second Ctrl-C may cut the teardown short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.cleanup()
    if bench.results:
        bench.report()
        if code == 0 and (bench.events or any(r.error for r in bench.results)):
            code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
