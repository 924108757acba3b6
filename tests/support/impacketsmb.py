"""impacket's SimpleSMBServer on a free loopback port, in a subprocess (it is the server
users run from pentest kits; it speaks SMB1 and SMB 2.0.2, and serves srvsvc and wkssvc).

Rules:
1. The server runs as ``python -c SCRIPT PORT SHARE_DIR`` in a child process; teardown
   terminates that PID only.
2. It listens on 127.0.0.1 only and shares one directory as PUBLIC; it accepts every user
   name as a guest (that is impacket's behaviour, not a setting).
3. If impacket cannot be imported the fixture fails with one clear message.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HOST = "127.0.0.1"
START_TIMEOUT = 20.0

_SCRIPT = """
import sys
from impacket import smbserver
server = smbserver.SimpleSMBServer(listenAddress="127.0.0.1", listenPort=int(sys.argv[1]))
server.addShare("PUBLIC", sys.argv[2], "public files")
server.setSMB2Support(sys.argv[3] == "smb2")
server.start()
"""


@dataclass
class ImpacketServer:
    host: str
    port: int
    share_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def running_impacket(workdir: Path, *, smb2: bool = True) -> Iterator[ImpacketServer]:
    """The server with SMB 2.0.2 as well as SMB1 (its usual set-up), or SMB1 only."""
    try:
        import impacket.smbserver  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"impacket is not installed ({exc}); pip install -e '.[test]'", pytrace=False)
    share = workdir / "share"
    share.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log_path = workdir / "impacket.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, str(port), str(share), "smb2" if smb2 else "smb1"],
                                stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT)
    server = ImpacketServer(HOST, port, share, proc, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _accepts(port):
            if proc.poll() is not None:
                pytest.fail(f"impacket's smbserver exited with {proc.returncode}\n{server.log()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"impacket's smbserver did not listen within {START_TIMEOUT} s\n{server.log()}",
                            pytrace=False)
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
