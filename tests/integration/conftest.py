"""Real nullsmb servers for the integration tests.

Each server is a subprocess started the way a user starts one,
``python -m nullsmb serve [--config FILE | --listen HOST:PORT]``, in a directory of its own, on
a free loopback port. The fixtures are session-scoped so the whole suite starts only a handful
of servers. A fixture yields a ``ServerInfo``: a 4-tuple ``(host, port, share_dir, config_path)``
with a few extra attributes (``proc``, ``workdir``, ``stdout()``, ``stderr()``).

At teardown the server gets SIGTERM (that PID only) and must exit 0 within 15 s with no
Python traceback in its log; otherwise the teardown fails and shows the server's stderr. When a
test fails, the tail of the stderr of every server it used is attached to the report.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

HOST = "127.0.0.1"
PASSWORD = "Passw0rd!"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0

KNOWN_NAME = "known.bin"
KNOWN_DATA = random.Random(4602).randbytes(300_000)  # > 64 KiB: several reads at 2.0.2
KNOWN_SHA256 = hashlib.sha256(KNOWN_DATA).hexdigest()

SMBCLIENT = shutil.which("smbclient")

USER_CONFIG = """\
[server]
listen = ["{host}:{port}"]
map_to_guest = "bad_user"
{extra}
[admin]
enabled = false          # the SMB tests need no admin UI (and must not fight over its port)

[users.alice]
password = "{password}"
groups = ["Administrators"]

[shares.public]
path = "./share"
access = {{ "Everyone" = "read", "ANONYMOUS LOGON" = "read", "alice" = "full" }}

[policy]
NullSessionShares = ["public"]
NullSessionPipes = ["srvsvc"]
"""


class ServerInfo(tuple):
    """``(host, port, share_dir, config_path)`` plus the process and its logs."""

    host: str
    port: int
    share_dir: Path
    config_path: Path | None

    def __new__(cls, host: str, port: int, share_dir: Path, config_path: Path | None,
                proc: subprocess.Popen[bytes], workdir: Path) -> "ServerInfo":
        self = super().__new__(cls, (host, port, share_dir, config_path))
        self.host, self.port, self.share_dir, self.config_path = host, port, share_dir, config_path
        self.proc, self.workdir = proc, workdir
        return self

    @property
    def unc(self) -> str:
        return f"//{self.host}/public"

    def stdout(self) -> str:
        return _read(self.workdir / "server.stdout")

    def stderr(self) -> str:
        return _read(self.workdir / "server.stderr")

    def wait_stdout(self, text: str, timeout: float = 10.0) -> str:
        """stdout once it contains ``text`` (the banner is printed just after the port opens)."""
        deadline = time.monotonic() + timeout
        while text not in (out := self.stdout()) and time.monotonic() < deadline:
            time.sleep(0.02)
        return out


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def write_user_config(workdir: Path, port: int, extra: str = "") -> Path:
    """The config of design.md §2 used by the user/signing/encrypt servers, with a seeded share."""
    share = workdir / "share"
    share.mkdir(parents=True, exist_ok=True)
    (share / KNOWN_NAME).write_bytes(KNOWN_DATA)
    config = workdir / "server.toml"
    config.write_text(USER_CONFIG.format(host=HOST, port=port, password=PASSWORD, extra=extra))
    return config


def launch(workdir: Path, args: list[str]) -> subprocess.Popen[bytes]:
    """Start ``python -m nullsmb ARGS`` in ``workdir``; logs go to server.stdout/.stderr there."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(workdir / "server.stdout", "wb") as out, open(workdir / "server.stderr", "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "nullsmb", *args], cwd=workdir,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)


def wait_ready(info: ServerInfo, *, banner: bool = True) -> None:
    """Until the port accepts and (``banner``) the banner shows the address: it is printed once
    the signal handlers are in place, so from then on SIGTERM means a graceful stop."""
    deadline = time.monotonic() + START_TIMEOUT
    port_open = False
    shown = f":{info.port}"
    while time.monotonic() < deadline:
        if info.proc.poll() is not None:
            pytest.fail(f"server exited with {info.proc.returncode} before it was ready\n"
                        f"--- stdout ---\n{info.stdout()}\n--- stderr ---\n{info.stderr()}")
        port_open = port_open or port_accepts(info.host, info.port)
        if port_open and (not banner or shown in info.stdout()):
            return
        time.sleep(0.05)
    stop(info)
    pytest.fail(f"server not ready on {info.host}:{info.port} within {START_TIMEOUT} s "
                f"(port open: {port_open})\n--- stdout ---\n{info.stdout()}\n"
                f"--- stderr ---\n{info.stderr()}")


def stop(info: ServerInfo, timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM to this server's PID only; the exit code, or None if it had to be killed."""
    if info.proc.poll() is None:
        info.proc.send_signal(signal.SIGTERM)
        try:
            info.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            info.proc.kill()
            info.proc.wait()
            return None
    return info.proc.returncode


@contextlib.contextmanager
def running_server(workdir: Path, *, config: Path | None = None, port: int | None = None,
                   share_dir: Path | None = None, check_exit: bool = True) -> Iterator[ServerInfo]:
    """A server for the duration of the block; ``config=None`` runs the demo with ``--listen``."""
    port = port or free_port()
    if config is None:
        args = ["serve", "--listen", f"{HOST}:{port}"]
        share_dir = share_dir or workdir / "nullsmb-share"
    else:
        args = ["serve", "--config", str(config)]
        share_dir = share_dir or workdir / "share"
    info = ServerInfo(HOST, port, share_dir, config, launch(workdir, args), workdir)
    wait_ready(info)
    try:
        yield info
    finally:
        code = stop(info)
        if check_exit:
            log = info.stderr()
            problems = []
            if code is None:
                problems.append(f"did not exit within {STOP_TIMEOUT} s of SIGTERM (killed)")
            elif code != 0:
                problems.append(f"exited with {code} after SIGTERM")
            if "Traceback" in log:
                problems.append("logged a Python traceback")
            if problems:
                pytest.fail(f"server {HOST}:{port} " + "; ".join(problems)
                            + f"\n--- stderr ---\n{log}", pytrace=False)


def _user_server(tmp_path_factory: pytest.TempPathFactory, name: str,
                 extra: str = "") -> Iterator[ServerInfo]:
    workdir = tmp_path_factory.mktemp(name)
    port = free_port()
    config = write_user_config(workdir, port, extra)
    with running_server(workdir, config=config, port=port) as info:
        yield info


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    """``nullsmb serve --listen 127.0.0.1:PORT`` in an empty directory, as a new user runs it."""
    workdir = tmp_path_factory.mktemp("demo")
    with running_server(workdir) as info:
        yield info


@pytest.fixture(scope="session")
def user_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    """alice (Administrators), guest mapping for bad users, share "public" with KNOWN_NAME."""
    yield from _user_server(tmp_path_factory, "user")


@pytest.fixture(scope="session")
def signing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    yield from _user_server(tmp_path_factory, "signing", 'signing = "required"')


@pytest.fixture(scope="session")
def encrypt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    yield from _user_server(tmp_path_factory, "encrypt", 'encryption = "required"')


# -- smbclient -------------------------------------------------------------------------------------

NULL = ["-U%", "-N"]  # a null session; plain -N logs on as the local user with no password
ALICE = ["-U", f"alice%{PASSWORD}"]


def smbclient(server: ServerInfo, *options: str, cmd: str | None = None, share: str = "public",
              auth: list[str] | tuple[str, ...] = NULL, timeout: float = 60,
              cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run Samba's smbclient against ``//HOST/share -p PORT``; stdout and stderr joined."""
    if SMBCLIENT is None:
        pytest.fail("smbclient is not installed (apt-get install smbclient; .ci/run does it)")
    argv = [SMBCLIENT, *auth, f"//{server.host}/{share}", "-p", str(server.port), *options]
    if cmd is not None:
        argv += ["-c", cmd]
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout, cwd=cwd)


RPCCLIENT = shutil.which("rpcclient")


def rpcclient(port: int, command: str, auth: list[str] | tuple[str, ...] = NULL, *, host: str = HOST,
              debug: bool = False, timeout: float = 60) -> str:
    """Samba's ``rpcclient AUTH -p PORT HOST -c COMMAND`` (``-d10`` with ``debug``: the decoded
    NDR); stdout and stderr joined."""
    if RPCCLIENT is None:
        pytest.fail("rpcclient is not installed (apt-get install smbclient; .ci/run does it)")
    argv = [RPCCLIENT, *auth, "-p", str(port), *(["-d10"] if debug else []), host, "-c", command]
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout).stdout


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- failure reports show the server's log ---------------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, ServerInfo):
                tail = "\n".join(value.stderr().splitlines()[-60:])
                report.sections.append((f"server stderr ({name}, port {value.port})", tail))
