"""Shared pieces of the benchmarks in bench/: process hygiene, free ports, a nullsmb launcher, tables.

Rules:
1. Stop exactly what we started: a server is stopped by its own PID (SIGTERM, then SIGKILL after a
   grace period), never by a process name.
2. Servers listen on 127.0.0.1 only, on ports the kernel hands out as free.
3. Progress and diagnostics go to stderr (``log``); a benchmark's results go to stdout.
4. Figures are summarised by median, p95 (nearest rank) and max: the median says what is usual, the
   tail what a user waits for at worst; no mean, which one stall on a busy machine would skew.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SRC = REPO / "src"
MiB = 1 << 20

__all__ = [
    "BenchError", "MiB", "NullsmbProcess", "REPO", "SRC", "cmdline", "descendants", "free_port",
    "human", "load_note", "log", "parse_size", "pid_alive", "port_open", "print_table", "run_main",
    "summarize", "tail",
]


def log(msg: str = "") -> None:
    print(msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    """An operational failure that ends the benchmark (message is shown to the user)."""


# --- small helpers ------------------------------------------------------------------------------

def parse_size(text: str) -> int:
    """``1G``, ``512M``, ``64K``, ``1GiB``, ``1048576`` -> bytes (binary units)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text, re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (use e.g. 1G, 512M, 64K)")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    value = int(float(m.group(1)) * mult)
    if value <= 0:
        raise argparse.ArgumentTypeError("size must be positive")
    return value


def human(n: int) -> str:
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            return f"{n // div} {unit}" if n % div == 0 else f"{n / div:.1f} {unit}"
    return f"{n} B"


def free_port(taken: set[int]) -> int:
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port
    raise BenchError("no free port found")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as e:
        return f"(cannot read {path}: {e})"
    return "\n".join(text[-lines:])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    """All descendant PIDs of ``pid`` (from /proc), children before grandchildren."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(0), []):
            out.append(c)
            todo.append(c)
    return out


def load_note() -> float:
    """The 1-minute load average; says so on stderr when other work makes the figures noisy."""
    load = os.getloadavg()[0]
    if load > 0.5:
        log(f"note: load average {load:.2f} before starting: other work on this machine "
            f"({os.cpu_count()} CPUs) makes the numbers noisy")
    return load


# --- statistics and tables ------------------------------------------------------------------------

def summarize(samples: Sequence[float]) -> dict[str, float | int | None]:
    """median, p95 (nearest rank), min and max of ``samples``; None values when there are none."""
    if not samples:
        return {"n": 0, "median": None, "p95": None, "min": None, "max": None}
    ordered = sorted(samples)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"n": len(ordered), "median": statistics.median(ordered), "p95": p95,
            "min": ordered[0], "max": ordered[-1]}


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] | None = None) -> None:
    """A Markdown-style table on stdout; ``right[i]`` right-aligns column i (numbers)."""
    right = right or [i > 0 for i in range(len(header))]
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).rjust(w) if r else str(c).ljust(w)
                                 for c, w, r in zip(cells, widths, right)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


# --- a nullsmb server process -----------------------------------------------------------------------

class NullsmbProcess:
    """``python -m nullsmb serve --config CONF`` from this checkout, in its own process session.

    ``start()`` returns once every port in ``ports`` accepts TCP connections (the SMB port and, if
    the config enables it, the admin API's); ``stop()`` sends SIGTERM to our PID (the server drains
    and flushes its audit trail), SIGKILL after ``grace`` seconds, and returns the exit code.
    """

    def __init__(self, name: str, conf: Path, ports: Sequence[int], log_path: Path, *,
                 python: str = sys.executable, cwd: Path | None = None) -> None:
        self.name, self.conf, self.ports, self.log_path = name, conf, tuple(ports), log_path
        self.python = python
        self.cwd = cwd or conf.parent
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = 30) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(SRC) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.setdefault("PYTHONUNBUFFERED", "1")
        cmd = [self.python, "-m", "nullsmb", "serve", "--config", str(self.conf)]
        with open(self.log_path, "ab") as logf:
            logf.write(f"\n===== bench start: {' '.join(cmd)}\n".encode())
            logf.flush()
            # own session: a Ctrl-C in the terminal reaches only us; we stop the server ourselves
            self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name}: nullsmb exited with code {self.proc.returncode} while "
                                 f"starting; log {self.log_path}:\n{tail(self.log_path)}")
            if all(port_open(p) for p in self.ports):
                return
            time.sleep(0.1)
        raise BenchError(f"{self.name}: nullsmb did not listen on 127.0.0.1:{self.ports} within "
                         f"{timeout:.0f} s; log {self.log_path}:\n{tail(self.log_path)}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_mib(self) -> float | None:
        """Resident memory of the server process (VmRSS), in MiB."""
        if self.pid is None:
            return None
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            pass
        return None

    def stop(self, grace: float = 15) -> int | None:
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                log(f"{self.name}: nullsmb pid {proc.pid} ignored SIGTERM for {grace:.0f} s: SIGKILL")
                proc.kill()
                proc.wait(10)
        return proc.returncode


def run_main(body: Callable[[], int], cleanup: Callable[[], None]) -> int:
    """Run ``body`` with Ctrl-C and SIGTERM turned into a clean stop; ``cleanup`` always runs once.

    Returns ``body``'s exit code, 130 when interrupted, 1 on a ``BenchError``."""

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored (&)
    code = 0
    try:
        code = body()
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
        cleanup()
    return code
