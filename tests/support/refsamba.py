"""A reference Samba (smbd) on a free loopback port, for tests that compare with it.

The configuration follows the team's ../shared/reference/start-samba.sh (standalone server,
``map to guest = Bad User``, one ``guest ok`` share "public", user alice / Passw0rd! in
BUILTIN\\Administrators), written into a temporary directory of the test's own, so that a clean
clone needs nothing outside the repository.

Rules:
1. ``smbd --foreground --no-process-group -s CONF`` runs as a child of the test, in a session
   of its own (smbd signals its process group when it stops); teardown sends SIGTERM to that
   PID only (SIGKILL after a grace period) and never looks for other smbd.
2. Missing pieces fail the test with one clear message: no smbd (install the "samba" package;
   .ci/run does), or not root (useradd/smbpasswd need it; CI runs as root).
3. Listens on 127.0.0.1 only (``interfaces = lo``, ``bind interfaces only``), NetBIOS off.
4. Every setting of the reference stays stock apart from what the caller asks for
   (``restrict_anonymous``, extra [global] lines, extra shares).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HOST = "127.0.0.1"
USER = "alice"
PASSWORD = "Passw0rd!"
ADMIN_GROUP = "smbadmins"  # unix group mapped to BUILTIN\Administrators (S-1-5-32-544)
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

_CONF = """\
[global]
   workgroup = WORKGROUP
   netbios name = {netbios}
   server role = standalone server
   smb ports = {port}
   interfaces = lo
   bind interfaces only = yes
   disable netbios = yes
   lock directory = {root}/lock
   state directory = {root}/state
   cache directory = {root}/cache
   pid directory = {root}/pid
   private dir = {root}/private
   ncalrpc dir = {root}/ncalrpc
   binddns dir = {root}/bind-dns
   log file = {root}/log/log.%m
   max log size = 10000
   log level = 1
   passdb backend = tdbsam:{root}/private/passdb.tdb
   map to guest = Bad User
   guest account = nobody
   restrict anonymous = {restrict_anonymous}
   load printers = no
   printing = bsd
   printcap name = /dev/null
   disable spoolss = yes
{extra_global}
[public]
   path = {share}
   guest ok = yes
   read only = no
   browseable = yes
{extra_shares}"""


@dataclass
class SambaServer:
    host: str
    port: int
    root: Path
    share_dir: Path
    conf: Path
    proc: subprocess.Popen[bytes]
    restrict_anonymous: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def log(self) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            try:
                parts.append(f"--- {path.name} ---\n{path.read_text(errors='replace')[-4000:]}")
            except OSError:
                pass
        return "\n".join(parts)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _run(argv: list[str], *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=60)


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool) or next((p for p in (f"/usr/sbin/{tool}", f"/usr/bin/{tool}")
                                       if os.access(p, os.X_OK)), None)
    if path is None:
        pytest.fail(f"{tool} is not installed: the reference Samba tests need it "
                    f"(apt-get install {package}; .ci/run installs it)", pytrace=False)
    return path


def _ensure_user(conf: Path) -> None:
    """alice as a unix user, a Samba user of this passdb, and in BUILTIN\\Administrators."""
    if os.geteuid() != 0:
        pytest.fail("the reference Samba fixture must run as root (useradd, smbpasswd); CI runs as root",
                    pytrace=False)
    if _run(["id", USER]).returncode != 0:
        out = _run(["useradd", "-M", "-s", "/usr/sbin/nologin", USER])
        if out.returncode != 0 and _run(["id", USER]).returncode != 0:  # a parallel test may have won
            pytest.fail(f"useradd {USER} failed: {out.stdout}", pytrace=False)
    smbpasswd = _need("smbpasswd", "samba-common-bin")
    out = _run([smbpasswd, "-s", "-a", "-c", str(conf), USER], stdin=f"{PASSWORD}\n{PASSWORD}\n")
    if out.returncode != 0:
        pytest.fail(f"smbpasswd -a {USER} failed: {out.stdout}", pytrace=False)
    if _run(["getent", "group", ADMIN_GROUP]).returncode != 0:
        _run(["groupadd", ADMIN_GROUP])
    if ADMIN_GROUP not in _run(["id", "-nG", USER]).stdout.split():
        _run(["usermod", "-aG", ADMIN_GROUP, USER])
    net = shutil.which("net") or "/usr/bin/net"
    listing = _run([net, "-s", str(conf), "groupmap", "list"]).stdout
    if "S-1-5-32-544" not in listing:
        _run([net, "-s", str(conf), "groupmap", "add", "sid=S-1-5-32-544", f"unixgroup={ADMIN_GROUP}",
              "type=builtin"])


def share_directory() -> Path:
    """A world-writable directory the guest account (nobody) can reach: pytest's temporary
    directories sit below a 0700 directory of root's, where nobody could not even list."""
    share = Path(tempfile.mkdtemp(prefix="refsamba-share-"))
    share.chmod(0o1777)
    return share


def write_conf(root: Path, port: int, *, restrict_anonymous: int = 0, extra_global: str = "",
               extra_shares: str = "", netbios: str = "REFSAMBA", share: Path | None = None) -> tuple[Path, Path]:
    """The smb.conf of the reference (rule 4) under ``root``, and the share's directory."""
    for sub in ("lock", "state", "cache", "pid", "private", "ncalrpc", "log", "bind-dns"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    share = share or share_directory()
    conf = root / "smb.conf"
    conf.write_text(_CONF.format(root=root, port=port, share=share, restrict_anonymous=restrict_anonymous,
                                 extra_global=extra_global, extra_shares=extra_shares, netbios=netbios))
    return conf, share


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def stop(server: SambaServer) -> None:
    """Rule 1: SIGTERM to our smbd's PID, SIGKILL if it lingers; then the share is removed."""
    proc = server.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if server.share_dir.name.startswith("refsamba-share-"):
        shutil.rmtree(server.share_dir, ignore_errors=True)


def start(root: Path, *, restrict_anonymous: int = 0, extra_global: str = "", extra_shares: str = "",
          port: int | None = None, netbios: str = "REFSAMBA", share: Path | None = None) -> SambaServer:
    """Write the configuration, make alice, start smbd and wait until it accepts connections."""
    smbd = _need("smbd", "samba")
    port = port or _free_port()
    conf, share = write_conf(root, port, restrict_anonymous=restrict_anonymous, extra_global=extra_global,
                             extra_shares=extra_shares, netbios=netbios, share=share)
    _ensure_user(conf)
    with open(root / "log" / "smbd.stdout", "wb") as out:
        # A session of its own (as start-samba.sh's setsid): when smbd stops it signals its
        # process group, which must not be the test's.
        proc = subprocess.Popen([smbd, "--foreground", "--no-process-group", "-s", str(conf)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = SambaServer(HOST, port, root, share, conf, proc, restrict_anonymous)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"smbd exited with {proc.returncode} before listening\n{server.log()}", pytrace=False)
        if _accepts(port):
            return server
        time.sleep(0.1)
    stop(server)
    pytest.fail(f"smbd did not listen on {HOST}:{port} within {START_TIMEOUT} s\n{server.log()}", pytrace=False)


@contextlib.contextmanager
def running_samba(root: Path, **kwargs: object) -> Iterator[SambaServer]:
    """``start`` for the duration of the block, ``stop`` after it."""
    server = start(root, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        stop(server)
