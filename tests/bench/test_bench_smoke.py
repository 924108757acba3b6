"""The benchmarks in bench/ still run: each once at its smallest settings (seconds, not minutes).

They are commands of their own (bench/README.md) and their figures are never asserted here; these
tests only check that a run completes, prints its table and passes its own correctness checks
(audit events = operations, the API lists every session), so the benchmarks cannot silently rot.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def test_audit_bench_runs() -> None:
    if shutil.which("smbclient") is None:
        pytest.skip("smbclient is not installed")
    r = run_bench("audit.py", "--quick", "--runs", "1", "--warmup", "0", "--files", "5", "--procs", "1",
                  "--sessions", "2", "--ops", "3", "--syslog")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "| workload" in out and "audit off" in out and "overhead" in out
    assert "smbclient x1, mget * (files/s)" in out and "SmbClient 2 sessions" in out
    # 1 smbclient: logon, share, directory, 5 files, logoff (9); 2 sessions x (logon, share, 3 opens, logoff) (12)
    assert "audit on (file): 21 audit events written for 21 operations" in out
    assert "audit on (file+syslog): 21 syslog datagrams received for 21 operations: match" in out
    assert "audit off: no audit file written" in out
    assert "problem(s)" not in out


def test_sessions_bench_runs() -> None:
    r = run_bench("sessions.py", "--quick", "--sessions", "10", "--requests", "3", "--cold", "1", "--loads", "1",
                  "--trials", "1", "--echoes", "3", "--hammer", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "| measurement" in out and "GET /api/sessions, back to back" in out
    assert "new session -> /api/events" in out and "SMB ECHO, 5 dashboards + 1 GET /api/sessions loops" in out
    assert "GET /api/sessions lists 10 sessions = 10 opened" in out
    assert "problem(s)" not in out
