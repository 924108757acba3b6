"""A nullsmb server for smbtorture: user alice with full access to the share "public".

The server runs the way a user starts it (``python -m nullsmb serve --config FILE``) on a free
loopback port, in a directory of its own, for the whole session; at the end it gets SIGTERM
(that PID only) and must exit 0.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

HOST = "127.0.0.1"
USER = "alice%Passw0rd!"
CONFIG = """\
[server]
listen = ["{host}:{port}"]
map_to_guest = "bad_user"
[admin]
enabled = false
[audit]
file = "audit.jsonl"
[users.alice]
password = "Passw0rd!"
groups = ["Administrators"]
[shares.public]
path = "./share"
access = {{ "Everyone" = "read", "alice" = "full" }}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def torture_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    """(host, port, work dir) of a running nullsmb."""
    work = tmp_path_factory.mktemp("torture")
    (work / "share").mkdir()
    port = _free_port()
    (work / "server.toml").write_text(CONFIG.format(host=HOST, port=port))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(work / "server.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "nullsmb", "serve", "--config", "server.toml"],
                                cwd=work, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 15
    while not _accepts(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"nullsmb did not start:\n{(work / 'server.log').read_text()}")
        time.sleep(0.05)
    try:
        yield HOST, port, work
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
        log_text = (work / "server.log").read_text(errors="replace")
        assert code == 0, f"nullsmb exited with {code} after SIGTERM:\n{log_text[-4000:]}"
        assert "Traceback" not in log_text, log_text[-4000:]
