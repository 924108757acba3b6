#!/usr/bin/env python3
"""What the audit trail costs: small-file throughput of nullsmb with ``[audit]`` on and off (issue 6).

    python bench/audit.py               # 500 files of 4 KiB; 3 alternated runs per server and workload
    python bench/audit.py --quick       # 100 files, smaller workloads, 1 run
    python bench/audit.py --syslog      # a third server: JSON Lines file plus a UDP syslog sink
    python bench/audit.py --json        # machine-readable results on stdout

Two servers from this checkout serve the same share of small files: one with the audit trail on (its
default: a JSON Lines file in the temp dir), one with ``[audit] enabled = false`` (the baseline).
With ``--syslog`` a third one also sends every event to a UDP syslog receiver in this process.
Two workloads, each run on every server, alternating and in a rotating order:

- ``smbclient``: ``--procs`` Samba smbclient processes at once, each a null session running
  ``prompt off; mget *`` into its own directory: files per second over all processes.
- ``client``: nullsmb's own async client in a separate process: ``--sessions`` anonymous sessions at
  once, each ``--ops`` times CREATE + READ + CLOSE of one file: operations per second.

Rules:
1. Nothing counts that did not happen: every file fetched is compared with the original, every
   client READ with the file's bytes; a failed run has no figure.
2. The audit trail must be complete: after each run the events it wrote are counted by kind and
   compared with the operations the workload made (logons, tree connects, directory and file
   opens, logoffs); any difference fails the benchmark (exit code 1). The same for the syslog
   datagrams with ``--syslog``. The audit-off server must write no audit file at all.
3. Throughput is the client's view (wall-clock time of the workload). The writer thread may still
   be serialising the last half second of events when a run ends, so the table also shows the
   server's CPU time per operation, read from /proc after the run's events are all written: that
   figure includes every bit of audit work.
4. Only what we started is stopped, by PID (see _common.py); everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import filecmp
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    SRC, BenchError, NullsmbProcess, free_port, human, load_note, log, parse_size,
    print_table, run_main, tail,
)

SHARE = "public"
TARGET_PCT = 10.0
WORKLOADS = ("smbclient", "client")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def file_name(i: int) -> str:
    return f"f{i:05d}.bin"


# --- the syslog receiver (in this process) ----------------------------------------------------------

class SyslogReceiver:
    """Counts the datagrams arriving on a loopback UDP port, in a thread of this process."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if opt is None:
                continue
            try:  # room for a whole flush of events while this thread waits for a CPU
                self.sock.setsockopt(socket.SOL_SOCKET, opt, 32 * 1024 * 1024)
                break
            except OSError:
                continue
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.sample = b""
        self._stop = False
        self.thread = threading.Thread(target=self._run, name="syslog-receiver", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        buf = bytearray(65536)
        while not self._stop:
            try:
                n = self.sock.recv_into(buf)
            except socket.timeout:
                continue
            except OSError:
                return
            if not self.sample:
                self.sample = bytes(buf[:n])
            self.count += 1

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.sock.close()


# --- the audit file, read as it grows ----------------------------------------------------------------

class AuditReader:
    """Reads the complete lines added to an audit file since the last call, tallied by kind."""

    def __init__(self, path: Path, names: frozenset[str]) -> None:
        self.path, self.names = path, names
        self.offset = 0
        self.total = 0
        self.rest = b""

    def read_new(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self.rest + data
        lines = data.split(b"\n")
        self.rest = lines.pop()  # an incomplete last line waits for the next call
        events = [json.loads(line) for line in lines if line.strip()]
        self.total += len(events)
        return events

    def kind(self, event: dict) -> str:
        eid = event.get("event_id")
        if eid == 5145:
            target = str(event.get("target", "")).lstrip("\\")
            what = "file open" if target in self.names else "directory open"
            return f"5145 {what}"
        return f"{eid} {event.get('event', '')}"


def tally(events: list[dict], reader: AuditReader) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in events:
        key = reader.kind(e)
        if e.get("outcome") != "success":
            key += f" ({e.get('outcome')}: {e.get('status', '')})"
        out[key] = out.get(key, 0) + 1
    return out


# --- servers --------------------------------------------------------------------------------------

@dataclass
class Variant:
    name: str  # "off", "file", "file+syslog"
    label: str
    audit_file: Path | None
    syslog: bool
    server: NullsmbProcess
    port: int
    reader: AuditReader | None = None
    expected_total: int = 0  # operations made against it so far (warm-ups included)
    syslog_seen: int = 0


def write_config(path: Path, *, port: int, share: Path, state: Path, audit_file: Path | None,
                 syslog_port: int | None) -> None:
    if audit_file is None:
        audit = "[audit]\nenabled = false\n"
    else:
        audit = f'[audit]\nfile = "{audit_file}"\n'
        if syslog_port is not None:
            audit += f'syslog = "udp://127.0.0.1:{syslog_port}"\n'
    path.write_text(
        "# written by bench/audit.py\n"
        "[server]\n"
        f'listen = ["127.0.0.1:{port}"]\n'
        f'state_dir = "{state}"\n'
        "[admin]\nenabled = false\n"
        f"{audit}"
        f"[shares.{SHARE}]\n"
        f'path = "{share}"\n'
        'access = { "Everyone" = "read", "ANONYMOUS LOGON" = "read" }\n'
        "[policy]\n"
        f'NullSessionShares = ["{SHARE}"]\n'
    )


def server_cpu(pid: int | None) -> float:
    """User + system CPU seconds of the whole server process (all its threads)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --- the benchmark --------------------------------------------------------------------------------

@dataclass
class Run:
    variant: str
    workload: str
    run: int  # < 1: warm-up
    seconds: float | None = None
    units: int = 0  # files or operations
    cpu_s: float | None = None
    error: str | None = None
    events: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return self.units / self.seconds if self.seconds and not self.error else None


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp: Path | None = None
        self.out_base: Path | None = None
        self.variants: list[Variant] = []
        self.receiver: SyslogReceiver | None = None
        self.runs: list[Run] = []
        self.problems: list[str] = []
        self.load: dict[str, float] = {}
        self.checks: list[str] = []

    # -- setup -------------------------------------------------------------------------------------
    def prepare(self) -> None:
        a = self.args
        if "smbclient" in a.workloads and shutil.which("smbclient") is None:
            raise BenchError("smbclient not found (apt-get install smbclient)")
        self.tmp = Path(tempfile.mkdtemp(prefix="nullsmb-bench-audit-", dir=a.tmp_base))
        shm = Path("/dev/shm")
        out_parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else self.tmp
        self.out_base = Path(tempfile.mkdtemp(prefix="nullsmb-bench-audit-out-", dir=out_parent))
        self.share = self.tmp / "share"
        self.share.mkdir()
        for i in range(a.files):
            (self.share / file_name(i)).write_bytes(os.urandom(a.size))
        self.names = frozenset(file_name(i) for i in range(a.files))
        log(f"temp dir {self.tmp}: {a.files} files of {human(a.size)} in {self.share}; "
            f"smbclient downloads go to {self.out_base}")

    def start_servers(self) -> None:
        a = self.args
        taken: set[int] = set()
        specs = [("off", "audit off", False, False), ("file", "audit on (file)", True, False)]
        if a.syslog:
            self.receiver = SyslogReceiver()
            specs.append(("file+syslog", "audit on (file+syslog)", True, True))
        for name, label, audited, syslog in specs:
            d = self.tmp / name.replace("+", "-")
            d.mkdir()
            port = free_port(taken)
            audit_file = d / "audit.jsonl" if audited else None
            conf = d / "server.toml"
            write_config(conf, port=port, share=self.share, state=d / "state", audit_file=audit_file,
                         syslog_port=self.receiver.port if syslog and self.receiver else None)
            server = NullsmbProcess(name, conf, [port], d / "server.log", python=a.python)
            v = Variant(name, label, audit_file, syslog, server, port,
                        AuditReader(audit_file, self.names) if audit_file else None)
            self.variants.append(v)
            server.start()
            log(f"nullsmb {label:<24} pid {server.pid} on 127.0.0.1:{port}")

    # -- workloads -----------------------------------------------------------------------------------
    def run_smbclient(self, v: Variant, run: Run) -> dict[str, int]:
        """--procs smbclient processes at once, each fetching every file; returns expected events."""
        a = self.args
        assert self.out_base is not None
        base = self.out_base / f"{v.name.replace('+', '-')}-{run.workload}-{run.run}"
        dirs = [base / f"p{i}" for i in range(a.procs)]
        for d in dirs:
            d.mkdir(parents=True)
        procs: list[subprocess.Popen[bytes]] = []
        t0 = time.perf_counter()
        try:
            for d in dirs:
                cmd = ["smbclient", f"//127.0.0.1/{SHARE}", "-p", str(v.port), "-U%", "-N",
                       "-c", f'lcd "{d}"; prompt off; mget *']
                with open(d.with_suffix(".out"), "wb") as out:
                    procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                                  stdin=subprocess.DEVNULL))
            deadline = t0 + a.timeout
            for p in procs:
                try:
                    p.wait(max(0.1, deadline - time.perf_counter()))
                except subprocess.TimeoutExpired:
                    run.error = f"smbclient timed out after {a.timeout:.0f} s"
                    break
            run.seconds = time.perf_counter() - t0
        finally:  # a timeout or Ctrl-C: stop the smbclients we started, by PID
            for q in procs:
                if q.poll() is None:
                    q.kill()
                    q.wait()
        run.units = a.procs * a.files
        # untimed: exit codes, messages, and every file byte for byte
        for p, d in zip(procs, dirs):
            text = d.with_suffix(".out").read_text(errors="replace")
            if run.error is None and (p.returncode != 0 or "NT_STATUS_" in text):
                run.error = f"smbclient rc {p.returncode}: {text.strip()[-400:]}"
            if run.error is None:
                got = sorted(os.listdir(d))
                if got != sorted(self.names):
                    run.error = f"{d.name}: fetched {len(got)} files, expected {len(self.names)}"
                else:
                    bad = [n for n in got if not filecmp.cmp(d / n, self.share / n, shallow=False)]
                    if bad:
                        run.error = f"{d.name}: {len(bad)} fetched files differ, e.g. {bad[0]}"
        shutil.rmtree(base, ignore_errors=True)
        for d in dirs:
            d.with_suffix(".out").unlink(missing_ok=True)
        n = a.procs
        # each smbclient: logon, tree connect, one directory open for the listing, the files, logoff
        return {"4624 logon": n, "5140 share_access": n, "5145 directory open": n,
                "5145 file open": n * a.files, "4634 logoff": n}

    def run_client(self, v: Variant, run: Run) -> dict[str, int]:
        """nullsmb's async client in a separate process; returns the expected events."""
        a = self.args
        cmd = [a.python, str(Path(__file__).resolve()), "_client", "--port", str(v.port),
               "--sessions", str(a.sessions), "--ops", str(a.ops), "--files", str(a.files),
               "--share-dir", str(self.share)]
        env = dict(os.environ, PYTHONPATH=str(SRC) + (os.pathsep + os.environ["PYTHONPATH"]
                                                      if os.environ.get("PYTHONPATH") else ""))
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, env=env,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            run.error = f"client worker timed out after {a.timeout:.0f} s"
            r = None
        if r is not None:
            try:
                out = json.loads(r.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                out = {"error": f"client worker rc {r.returncode}: {(r.stdout + r.stderr).strip()[-600:]}"}
            if out.get("error"):
                run.error = out["error"]
            else:
                run.seconds, run.units = out["seconds"], out["ops"]
                self.client_loop = out.get("loop", "?")
        s = a.sessions
        return {"4624 logon": s, "5140 share_access": s, "5145 file open": s * a.ops, "4634 logoff": s}

    # -- one run ---------------------------------------------------------------------------------------
    def measure(self, v: Variant, workload: str, number: int) -> Run:
        run = Run(v.name, workload, number)
        cpu0 = server_cpu(v.server.pid)
        syslog0 = self.receiver.count if self.receiver else 0
        expected = (self.run_smbclient if workload == "smbclient" else self.run_client)(v, run)
        want = sum(expected.values())
        v.expected_total += want
        if not v.server.alive():
            run.error = (run.error or "") + f" [server {v.name} died: log {v.server.log_path}]"
        elif v.reader is not None:
            self.check_events(v, run, expected)
        else:
            time.sleep(0.2)  # the same short settle as an audited run's last poll
        if v.server.alive():
            run.cpu_s = server_cpu(v.server.pid) - cpu0
        if v.syslog and self.receiver is not None:
            deadline = time.monotonic() + 5
            while self.receiver.count - syslog0 < want and time.monotonic() < deadline:
                time.sleep(0.05)
            got = self.receiver.count - syslog0
            v.syslog_seen += got
            if got != want:
                msg = (f"{v.name} {workload} run {number}: syslog receiver got {got} datagrams for "
                       f"{want} operations")
                self.problems.append(msg)
                run.error = run.error or msg
        if run.error:
            msg = f"{v.name} {workload} run {number}: {run.error}"
            log("FAILED: " + msg)
            log(f"--- {v.name} server log (tail) ---\n{tail(v.server.log_path)}\n---")
            if msg not in self.problems:
                self.problems.append(msg)
        which = f"run {number}" if number >= 1 else "warm-up"
        unit = "files/s" if workload == "smbclient" else "ops/s"
        shown = f"{run.rate:9.1f} {unit} ({run.seconds:.2f} s)" if run.rate else "   FAILED"
        cpu = f", server CPU {run.cpu_s:.2f} s" if run.cpu_s is not None else ""
        log(f"  {workload:<9} {which:<7} {v.label:<24} {shown}{cpu}")
        return run

    def check_events(self, v: Variant, run: Run, expected: dict[str, int]) -> None:
        """Wait for the run's events in the audit file; compare them by kind with the operations."""
        assert v.reader is not None
        want = sum(expected.values())
        seen: list[dict] = []
        deadline = time.monotonic() + 20
        while len(seen) < want and time.monotonic() < deadline:
            seen += v.reader.read_new()
            if len(seen) < want:
                time.sleep(0.05)
        time.sleep(0.6)  # longer than the writer's flush interval (0.5 s): nothing more may come
        seen += v.reader.read_new()
        got = tally(seen, v.reader)
        run.events = got
        if got != expected:
            msg = (f"{v.name} {run.workload} run {run.run}: audit events {sum(got.values())} != "
                   f"operations {want}; events by kind {got}, operations by kind {expected}")
            self.problems.append(msg)
            run.error = run.error or "audit events do not match the operations"

    # -- the whole thing -------------------------------------------------------------------------------
    def run(self) -> None:
        a = self.args
        self.load["start"] = load_note()
        self.client_loop = "?"
        self.prepare()
        self.start_servers()
        for workload in a.workloads:
            log(f"{workload}: " + (f"{a.procs} smbclient processes, each mget * of {a.files} files"
                                   if workload == "smbclient" else
                                   f"{a.sessions} sessions x {a.ops} open/read/close"))
            for number in range(1 - a.warmup, a.runs + 1):
                k = (number - 1) % len(self.variants)  # rotate the order from run to run
                for v in self.variants[k:] + self.variants[:k]:
                    self.runs.append(self.measure(v, workload, number))
        self.load["end"] = os.getloadavg()[0]
        self.final_checks()

    def final_checks(self) -> None:
        """Stop each server (it drains its trail), then compare whole files with all operations."""
        for v in self.variants:
            code = v.server.stop()
            if code not in (0, None):
                self.problems.append(f"{v.name}: server exited with code {code}; log {v.server.log_path}")
            if v.reader is None:
                leftovers = sorted(p.name for p in v.server.conf.parent.glob("*.jsonl*"))
                if leftovers:
                    self.problems.append(f"audit off wrote an audit file anyway: {leftovers}")
                else:
                    self.checks.append(f"{v.label}: no audit file written (as configured)")
                continue
            v.reader.read_new()
            total, want = v.reader.total, v.expected_total
            ok = total == want
            self.checks.append(f"{v.label}: {total} audit events written for {want} operations "
                               f"(all runs, warm-ups included): {'match' if ok else 'MISMATCH'}")
            if not ok:
                self.problems.append(f"{v.name}: {total} audit events in the file, {want} operations")
            if v.syslog:
                ok = v.syslog_seen == want
                self.checks.append(f"{v.label}: {v.syslog_seen} syslog datagrams received for {want} "
                                   f"operations: {'match' if ok else 'MISMATCH'}")
            text = v.server.log_path.read_text(errors="replace")
            if "Traceback" in text:
                self.problems.append(f"{v.name}: a traceback in the server log {v.server.log_path}")

    # -- reporting ---------------------------------------------------------------------------------------
    def summary(self) -> list[dict]:
        rows = []
        base = self.variants[0].name if self.variants else "off"
        for workload in self.args.workloads:
            row: dict = {"workload": workload, "unit": "files/s" if workload == "smbclient" else "ops/s",
                         "variants": {}}
            for v in self.variants:
                mine = [r for r in self.runs if r.workload == workload and r.variant == v.name and r.run >= 1]
                ok = [r.rate for r in mine if r.rate]
                cpu = [r.cpu_s / r.units * 1000 for r in mine if r.rate and r.cpu_s is not None and r.units]
                row["variants"][v.name] = {
                    "median": statistics.median(ok) if ok and len(ok) == len(mine) else None,
                    "runs": [r.rate for r in mine],
                    "runs_seconds": [r.seconds for r in mine],
                    "server_cpu_ms_per_unit": statistics.median(cpu) if cpu else None,
                    "warmup": [r.rate for r in self.runs if r.workload == workload
                               and r.variant == v.name and r.run < 1],
                    "events_per_run": next((r.events for r in mine if r.events), None),
                }
            off = row["variants"].get(base, {}).get("median")
            for name, d in row["variants"].items():
                if name != base:
                    d["overhead_pct"] = (off - d["median"]) / off * 100 if off and d["median"] else None
                    c0 = row["variants"][base]["server_cpu_ms_per_unit"]
                    d["cpu_overhead_pct"] = ((d["server_cpu_ms_per_unit"] - c0) / c0 * 100
                                             if c0 and d["server_cpu_ms_per_unit"] else None)
            rows.append(row)
        return rows

    def report(self) -> None:
        a = self.args
        rows = self.summary()
        if a.json:
            print(json.dumps({
                "files": a.files, "file_size": a.size, "procs": a.procs, "sessions": a.sessions,
                "ops_per_session": a.ops, "runs": a.runs, "warmup": a.warmup,
                "method": "median of alternated runs (rotating order); overhead = (off - on) / off",
                "target_pct": TARGET_PCT, "workloads": rows, "checks": self.checks,
                "problems": self.problems, "load_average_1min": self.load, "client_loop": self.client_loop,
                "host": {"python": platform.python_version(), "cpus": os.cpu_count(),
                         "kernel": platform.release()},
            }, indent=2))
            return
        others = self.variants[1:]
        print()
        print(f"audit overhead on small files: {a.files} files of {human(a.size)}; median of {a.runs} "
              f"alternated runs after {a.warmup} warm-up each; overhead = (off - on) / off")
        header = ["workload", "audit off"]
        for v in others:
            header += [v.label.replace("audit ", ""), "overhead"]
        header.append(f"target < {TARGET_PCT:.0f} %")
        table = []
        labels = {"smbclient": f"smbclient x{a.procs}, mget * (files/s)",
                  "client": f"SmbClient {a.sessions} sessions, open/read/close (ops/s)"}
        fmt = lambda x: f"{x:.1f}" if x else "FAILED"  # noqa: E731
        pct = lambda x: f"{x:+.1f} %" if x is not None else "-"  # noqa: E731
        for row in rows:
            vs = row["variants"]
            cells = [labels[row["workload"]], fmt(vs["off"]["median"])]
            worst = None
            for v in others:
                d = vs[v.name]
                cells += [fmt(d["median"]), pct(d["overhead_pct"])]
                if d["overhead_pct"] is not None and not v.syslog:
                    worst = d["overhead_pct"]
            cells.append("-" if worst is None else ("met" if worst < TARGET_PCT else "NOT MET"))
            table.append(cells)
        print_table(header, table)
        for row in rows:  # say when the run-to-run spread is larger than what is being measured
            vs = row["variants"]
            spreads = [(max(d["runs"]) - min(d["runs"])) / d["median"] * 100 for d in vs.values()
                       if d["median"] and all(d["runs"])]
            gaps = [abs(d["overhead_pct"]) for d in vs.values() if d.get("overhead_pct") is not None]
            if spreads and gaps and max(spreads) > min(gaps):
                print(f"note: {row['workload']} runs of one server spread by up to {max(spreads):.0f} % "
                      f"(max - min over median), more than the overhead measured: that overhead is noise "
                      f"(run more, --runs 7, on a quieter machine); the CPU figures below are steadier")
        print()
        print("server CPU per operation (ms; /proc utime+stime, all threads, after the run's events "
              "are written):")
        for row in rows:
            vs = row["variants"]
            parts = []
            for v in self.variants:
                d = vs[v.name]
                c = d["server_cpu_ms_per_unit"]
                s = f"{v.label} {c:.3f}" if c is not None else f"{v.label} -"
                if "cpu_overhead_pct" in d:
                    s += f" ({pct(d['cpu_overhead_pct'])})"
                parts.append(s)
            print(f"  {row['workload']:<9} " + "; ".join(parts))
        print()
        print(f"all runs ({', '.join(r['unit'] for r in rows)}):")
        for row in rows:
            for v in self.variants:
                runs = ", ".join(f"{x:.1f}" if x else "FAIL" for x in row["variants"][v.name]["runs"])
                print(f"  {row['workload']:<9} {v.label:<24} {runs}")
        print()
        print("audit events vs operations (checked after every run; one run shown):")
        for row in rows:
            for v in others:
                ev = row["variants"][v.name]["events_per_run"]
                if ev:
                    print(f"  {row['workload']:<9} {v.label:<24} "
                          + ", ".join(f"{k} {n}" for k, n in ev.items()) + f" = {sum(ev.values())}")
        for c in self.checks:
            print("  " + c)
        print(f"client process event loop: {self.client_loop}; load average (1 min) before/after: "
              + "/".join(f"{x:.2f}" for x in self.load.values()) + f" on {os.cpu_count()} CPUs")
        if self.problems:
            print()
            print(f"{len(self.problems)} problem(s):")
            for p in self.problems:
                print("  - " + p)

    # -- teardown ----------------------------------------------------------------------------------------
    def cleanup(self) -> None:
        for v in self.variants:
            try:
                v.server.stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping {v.name} failed: {e}")
        if self.receiver is not None:
            self.receiver.close()
        if self.out_base is not None:
            shutil.rmtree(self.out_base, ignore_errors=True)
        if self.tmp is not None:
            if self.args.keep or self.problems:
                log(f"kept {self.tmp} (server logs and audit files)")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


# --- the client worker (a separate process) -----------------------------------------------------------

async def client_worker(port: int, sessions: int, ops: int, files: int, share_dir: Path) -> dict:
    from nullsmb.client import SmbClient

    names = [file_name(i) for i in range(files)]
    content = {n: (share_dir / n).read_bytes() for n in names}
    clients = await asyncio.gather(*(SmbClient.connect("127.0.0.1", port, timeout=60)
                                     for _ in range(sessions)))
    try:
        await asyncio.gather(*(c.login() for c in clients))
        tids = await asyncio.gather(*(c.tree_connect(SHARE) for c in clients))
        bad: list[str] = []

        async def loop(i: int, c: SmbClient, tid: int) -> None:
            for j in range(ops):
                name = names[(i * ops + j) % files]
                fid = await c.create(tid, name)
                data = await c.read(tid, fid, 0, 65536)
                await c.close(tid, fid)
                if data != content[name]:
                    bad.append(name)

        t0 = time.perf_counter()
        await asyncio.gather(*(loop(i, c, t) for i, (c, t) in enumerate(zip(clients, tids))))
        seconds = time.perf_counter() - t0
        await asyncio.gather(*(c.logoff() for c in clients))
    finally:
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
    if bad:
        return {"error": f"{len(bad)} READs returned other bytes than the file, e.g. {bad[0]}"}
    return {"seconds": seconds, "ops": sessions * ops}


def worker_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="audit.py _client")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--ops", type=int, required=True)
    p.add_argument("--files", type=int, required=True)
    p.add_argument("--share-dir", type=Path, required=True)
    a = p.parse_args(argv)
    coro = client_worker(a.port, a.sessions, a.ops, a.files, a.share_dir)
    try:
        try:
            import uvloop  # the same loop the server's CLI uses when it is installed
            out = uvloop.run(coro) if hasattr(uvloop, "run") else asyncio.run(coro)
            out["loop"] = "uvloop"
        except ImportError:
            out = asyncio.run(coro)
            out["loop"] = "asyncio"
    except Exception as e:  # reported to the bench process as the run's error
        out = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out), flush=True)
    return 0 if "error" not in out else 1


# --- command line ---------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="small-file throughput of nullsmb with the audit trail on and off (see bench/README.md)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python bench/audit.py --quick\n  python bench/audit.py\n"
               "  python bench/audit.py --syslog --runs 5\n  python bench/audit.py --only client --json")
    p.add_argument("--quick", action="store_true",
                   help="100 files, 2 smbclients, 8 sessions x 50 operations, 1 run")
    p.add_argument("--files", type=int, default=None, help="files in the share (default 500; --quick 100)")
    p.add_argument("--size", type=parse_size, default=4096, help="size of each file (default 4K)")
    p.add_argument("--procs", type=int, default=None, help="smbclient processes at once (default 4; --quick 2)")
    p.add_argument("--sessions", type=int, default=None,
                   help="client sessions at once (default 32; --quick 8)")
    p.add_argument("--ops", type=int, default=None,
                   help="open/read/close per client session and run (default 200; --quick 50)")
    p.add_argument("--runs", type=int, default=None, help="timed runs per server and workload (default 3; --quick 1)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs first (default 1)")
    p.add_argument("--only", dest="workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS),
                   help="run only these workloads")
    p.add_argument("--syslog", action="store_true",
                   help="add a server auditing to its file and to a UDP syslog receiver in this process")
    p.add_argument("--json", action="store_true", help="print JSON results on stdout instead of the table")
    p.add_argument("--python", default=sys.executable, help="interpreter that runs nullsmb and the client")
    p.add_argument("--timeout", type=float, default=300, help="seconds before one run counts as failed")
    p.add_argument("--tmp-base", default="/tmp", help="where the temp dir goes (default /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs, audit files)")
    a = p.parse_args(argv)
    quick = a.quick
    for name, full, small in (("files", 500, 100), ("procs", 4, 2), ("sessions", 32, 8), ("ops", 200, 50),
                              ("runs", 3, 1)):
        if getattr(a, name) is None:
            setattr(a, name, small if quick else full)
        if getattr(a, name) < 1:
            p.error(f"--{name} must be at least 1")
    if a.warmup < 0:
        p.error("--warmup must be 0 or more")
    return a


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_client"]:
        return worker_main(argv[1:])
    args = parse_args(argv)
    bench = Bench(args)

    def body() -> int:
        bench.run()
        return 0

    code = run_main(body, bench.cleanup)
    if bench.runs:
        bench.report()
    if code == 0 and (bench.problems or any(r.error for r in bench.runs)):
        code = 1
    return code


if __name__ == "__main__":
    sys.path.insert(0, str(SRC))  # the client worker and --python default use this checkout
    sys.exit(main())
