"""Fixtures for Server Manager's tests: fake server state for the unit tests, and a real
``nullsmb serve --config`` subprocess with the admin API on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from nullsmb.auth.ntlmssp import AuthResult, PrincipalKind as AuthKind
from nullsmb.config import default_config
from nullsmb.core.connection import ServerConnection
from nullsmb.core.context import ServerContext
from nullsmb.core.state import Open, Session, SessionState, TreeConnect
from nullsmb.policy.null_session import Principal, PrincipalKind, Right

HOST = "127.0.0.1"
PASSWORD = "Passw0rd!"


# -- fake state for unit tests ---------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_context(tmp_path: Path, clock: FakeClock | None = None) -> ServerContext:
    from nullsmb.aio.lifecycle import build_context

    config = default_config(tmp_path)
    context = build_context(config, create_missing_shares=True)
    context.clock = clock or FakeClock()
    context.start_time = context.clock() - 3600
    events: list[tuple[str, dict]] = []
    context.audit = lambda event, fields: events.append((event, fields))
    context.events = events  # type: ignore[attr-defined]  # for assertions
    return context


_KINDS = {PrincipalKind.ANONYMOUS: AuthKind.ANONYMOUS, PrincipalKind.GUEST: AuthKind.GUEST,
          PrincipalKind.USER: AuthKind.USER}


def add_session(context: ServerContext, kind: PrincipalKind | None, *, user: str = "",
                ip: str = "10.0.0.7", port: int = 50000, groups: tuple[str, ...] = (),
                dialect: int = 0x0311, conn: ServerConnection | None = None,
                workstation: str = "WS1") -> tuple[ServerConnection, Session]:
    """A session on a new (or the given) connection; kind None: still authenticating."""
    if conn is None:
        conn = ServerConnection(context, (ip, port))
        conn.neg.dialect = dialect
        context.connections.add(conn)
    session = Session(context.new_session_id(), created_at=context.clock() - 120)
    session.last_activity = context.clock() - 5
    if kind is not None:
        session.state = SessionState.VALID
        session.principal = Principal(kind, user, groups)
        session.result = AuthResult(_KINDS[kind], user, "" if kind is PrincipalKind.ANONYMOUS else "NULLSMB",
                                    workstation, b"k" * 16, None, 0, "NTLMv2")
    conn.sessions[session.session_id] = session
    context.sessions[session.session_id] = session
    return conn, session


def add_tree(context: ServerContext, session: Session, share: str) -> TreeConnect:
    tree = TreeConnect(0, context.shares[share.casefold()], Right.READ, 0x1F01FF,
                       connected_at=context.clock() - 60)
    tree.tree_id = session.tree_connect_table.add(tree)
    return tree


def add_open(session: Session, tree: TreeConnect, path: str, *, is_dir: bool = False) -> Open:
    op = Open(1, 0, tree, None, object() if tree.share.is_ipc else None, path, 0x120089, is_dir)
    op.volatile_id = session.open_table.add(op)
    return op


# -- a real server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


CONFIG = """\
[server]
listen = ["{host}:{smb_port}"]
map_to_guest = "bad_user"

[admin]
listen = "{host}:{admin_port}"
token_file = "admin.token"

[audit]
file = "audit.jsonl"

[users.alice]
password = "{password}"
groups = ["Administrators"]

[shares.public]
path = "./share"
access = {{ "Everyone" = "read", "ANONYMOUS LOGON" = "read", "Guests" = "read", "alice" = "full" }}

[policy]
NullSessionShares = ["public"]
NullSessionPipes = ["srvsvc"]
"""


@dataclass
class AdminServer:
    smb_port: int
    admin_port: int
    workdir: Path
    config: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.admin_port}"

    @property
    def token_file(self) -> Path:
        return self.workdir / "admin.token"

    @property
    def token(self) -> str:
        return self.token_file.read_text().strip()

    def stdout(self) -> str:
        return (self.workdir / "server.stdout").read_text(errors="replace")

    def stderr(self) -> str:
        return (self.workdir / "server.stderr").read_text(errors="replace")

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = "",
                timeout: float = 10) -> tuple[int, Any, dict[str, str]]:
        """(status, decoded JSON body, headers); token "" = the server's, None = none."""
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token or self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw, status, hdrs = r.read(), r.status, dict(r.headers)
        except urllib.error.HTTPError as e:
            raw, status, hdrs = e.read(), e.code, dict(e.headers)
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode(errors="replace")
        return status, decoded, hdrs

    def get(self, path: str, **kw: Any) -> Any:
        status, body, _ = self.request("GET", path, **kw)
        assert status == 200, (status, body)
        return body

    def sessions(self, **query: str) -> list[dict]:
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return self.get("/api/sessions" + (f"?{q}" if q else ""))["sessions"]

    def wait_for(self, predicate, timeout: float = 5.0) -> list[dict]:
        """Poll /api/sessions until ``predicate(sessions)`` holds; returns the sessions."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.sessions()
            if predicate(rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; sessions: {json.dumps(rows, indent=1)}")
            time.sleep(0.05)


def start_admin_server(workdir: Path) -> AdminServer:
    (workdir / "share").mkdir(parents=True, exist_ok=True)
    (workdir / "share" / "hello.txt").write_text("hello\n")
    smb_port, admin_port = free_port(), free_port()
    config = workdir / "server.toml"
    config.write_text(CONFIG.format(host=HOST, smb_port=smb_port, admin_port=admin_port,
                                    password=PASSWORD))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(workdir / "server.stdout", "wb") as out, open(workdir / "server.stderr", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "nullsmb", "serve", "--config", str(config)],
                                cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
    server = AdminServer(smb_port, admin_port, workdir, config, proc)
    deadline = time.monotonic() + 15
    # Listening comes before the start-up banner; wait for both so tests read a whole banner.
    while not (port_accepts(smb_port) and port_accepts(admin_port) and "admin: http" in server.stdout()):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_admin_server(server)
            pytest.fail(f"server did not start\n{server.stdout()}\n{server.stderr()}")
        time.sleep(0.05)
    return server


def stop_admin_server(server: AdminServer) -> int | None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)  # this PID only
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
            return None
    return server.proc.returncode


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    server = start_admin_server(tmp_path_factory.mktemp("admin"))
    try:
        yield server
    finally:
        code = stop_admin_server(server)
        log = server.stderr()
        assert code == 0, f"server exited with {code}\n{log}"
        assert "Traceback" not in log, log
