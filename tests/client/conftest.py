"""The reference Samba for the RPC client tests: real ``smbd`` processes on free loopback ports.

Each fixture runs /work/shared/reference/start-samba.sh (``NULLSMB_SAMBA_REFERENCE`` names
another directory) with its own ``SAMBA_PORT``, ``SAMBA_ROOT`` and ``SHARE_DIR`` in a temp
dir, and stop-samba.sh (which kills that smbd by its recorded PID) at teardown. A missing
``smbd`` or script FAILS the tests: CI installs the ``samba`` package, and a skipped
interoperability test must never pass for a tested one.

Three servers, session-scoped: ``restrict anonymous`` = 0 (alice and null sessions), 1 and 2
(the denials Samba answers to null sessions).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HOST = "127.0.0.1"
ALICE, PASSWORD = "alice", "Passw0rd!"
REFERENCE = Path(os.environ.get("NULLSMB_SAMBA_REFERENCE", "/work/shared/reference"))


@dataclass(frozen=True)
class SambaServer:
    host: str
    port: int
    root: Path
    share: Path
    restrict_anonymous: int

    def log(self) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            if path.is_file():
                parts.append(f"--- {path.name} ---\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _samba(tmp_path_factory: pytest.TempPathFactory, restrict_anonymous: int) -> Iterator[SambaServer]:
    if shutil.which("smbd") is None:
        pytest.fail("smbd is not installed (apt-get install samba; .ci/run installs it)")
    start, stop = REFERENCE / "start-samba.sh", REFERENCE / "stop-samba.sh"
    if not start.is_file() or not stop.is_file():
        pytest.fail(f"the reference Samba scripts are missing in {REFERENCE} (set NULLSMB_SAMBA_REFERENCE)")
    base = tmp_path_factory.mktemp(f"samba-ra{restrict_anonymous}")
    server = SambaServer(HOST, _free_port(), base / "root", base / "share", restrict_anonymous)
    env = dict(os.environ, SAMBA_PORT=str(server.port), SAMBA_ROOT=str(server.root), SHARE_DIR=str(server.share),
               RESTRICT_ANON=str(restrict_anonymous))
    started = subprocess.run(["bash", str(start)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=60)
    try:
        if started.returncode != 0:
            pytest.fail(f"start-samba.sh failed ({started.returncode}):\n{started.stdout}\n{server.log()}")
        yield server
    finally:
        subprocess.run(["bash", str(stop)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)


@pytest.fixture(scope="session")
def samba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    """restrict anonymous = 0: null sessions may enumerate."""
    yield from _samba(tmp_path_factory, 0)


@pytest.fixture(scope="session")
def samba_ra1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    """restrict anonymous = 1: no share list, server info or SAM for null sessions."""
    yield from _samba(tmp_path_factory, 1)


@pytest.fixture(scope="session")
def samba_ra2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    """restrict anonymous = 2: null sessions do not even reach IPC$."""
    yield from _samba(tmp_path_factory, 2)
