"""What Server Manager shows: the server's sessions as plain JSON-ready data (design.md §6).

Rules:
1. ``snapshot()`` and the other builders are pure: they read the ServerContext (and the SmbServer
   for its bound addresses) and return dicts of str/int/float/bool/list/None; they never await,
   never change server state and never hold a reference into it.
2. One snapshot per update is shared by every reader (``SnapshotCache``): the dashboard's
   subscribers, ``GET /api/sessions`` and the CLI all get the same object and the same encoded
   bytes, rebuilt at most every ``ttl`` seconds, so many viewers cost no more than one. For
   1,000 sessions a build takes about 10 ms and its encoding 7 ms on the 2-core CI machine
   (printed by tests/admin/test_snapshot.py).
3. A session still authenticating has no principal yet: its kind is ``null`` and it is never
   counted or filtered as anonymous.
4. Session ids are shown as ``0x`` and 16 hex digits, as in the audit log; ``parse_session_id``
   takes that form or bare hex.
"""

from __future__ import annotations

import json
import time
from dataclasses import fields
from datetime import datetime, timezone
from importlib import metadata
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..policy.null_session import Principal, PrincipalKind, may_connect_ipc, may_connect_share
from ..core.state import SessionState
from ..wire.negotiate import DIALECT_NAMES

if TYPE_CHECKING:
    from ..aio.server import SmbServer
    from ..core.connection import ServerConnection
    from ..core.context import ServerContext
    from ..core.state import Session

__all__ = [
    "SnapshotCache", "block_id", "blocks", "change_key", "dumps", "parse_block_id",
    "parse_session_id", "policy_dict", "server_info", "session_detail", "session_row",
    "shares", "snapshot",
]

ANONYMOUS_USER = "ANONYMOUS LOGON"
GUEST_USER = "Guest"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _secs(x: float) -> float:
    return round(max(0.0, x), 1)


def format_session_id(session_id: int) -> str:
    return f"0x{session_id:016x}"


def parse_session_id(text: str) -> int | None:
    """``0x0000040000000001``, ``0x400000001`` or ``400000001`` (hex) → int; None if not one."""
    text = text.strip().lower().removeprefix("0x")
    if not text or len(text) > 16 or any(c not in "0123456789abcdef" for c in text):
        return None
    return int(text, 16)


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _version() -> str:
    try:
        return metadata.version("nullsmb")
    except metadata.PackageNotFoundError:
        return "0+unknown"


_VERSION = _version()


# --- sessions -----------------------------------------------------------------------------------


def _kind(session: "Session") -> PrincipalKind | None:
    return session.principal.kind if session.state is SessionState.VALID else None


def _user(session: "Session", netbios: str) -> str:
    kind = _kind(session)
    if kind is None:
        return "(authenticating)"
    if kind is PrincipalKind.ANONYMOUS:
        return ANONYMOUS_USER
    if kind is PrincipalKind.GUEST:
        return GUEST_USER
    result = session.result
    name = result.user if result is not None and result.user else session.principal.name
    domain = result.domain if result is not None and result.domain else netbios
    return f"{domain}\\{name}"


def _guest_account(session: "Session") -> str:
    """The name a guest logged on with, when the auth layer kept it (else "")."""
    name = session.result.user if session.result is not None else ""
    return "" if name.casefold() == GUEST_USER.casefold() else name


def session_row(conn: "ServerConnection", session: "Session", now: float, netbios: str) -> dict:
    """One row of the sessions table (what Get-SmbSession and smbstatus show, and the kind)."""
    kind = _kind(session)
    trees = session.tree_connect_table
    opens = session.open_table
    pipes = files = 0
    for op in opens:
        if op.tree.share.is_ipc:
            pipes += 1
        else:
            files += 1
    result = session.result
    return {
        "id": format_session_id(session.session_id),
        "user": _user(session, netbios),
        "account": _guest_account(session) if kind is PrincipalKind.GUEST else "",
        "kind": kind.value if kind is not None else None,
        "anonymous": kind is PrincipalKind.ANONYMOUS,
        "guest": kind is PrincipalKind.GUEST,
        "admin": session.principal.is_admin if kind is not None else False,
        "state": session.state.value,
        "client_ip": conn.peer[0],
        "client_port": conn.peer[1],
        "workstation": (result.workstation if result is not None and result.workstation
                        else conn.workstation),
        "dialect": DIALECT_NAMES.get(conn.neg.dialect, ""),
        "signing": bool(session.signing_required),
        "encryption": bool(session.encrypt_data),
        "shares": [tree.share.name for tree in trees],
        "trees": len(trees),
        "opens": files,
        "pipes": pipes,
        "bytes_read": session.bytes_read,
        "bytes_written": session.bytes_written,
        "requests": session.requests,
        "denials": session.denials,
        "connected_s": _secs(now - session.created_at),
        "idle_s": _secs(now - (session.last_activity or session.created_at)),
    }


def session_detail(conn: "ServerConnection", session: "Session", now: float, netbios: str) -> dict:
    """A row plus what the session holds open: tree connects, files and pipes."""
    row = session_row(conn, session, now, netbios)
    row["tree_connects"] = [
        {"tree_id": tid, "share": tree.share.name, "ipc": tree.share.is_ipc,
         "right": tree.right.name.lower(), "connected_s": _secs(now - tree.connected_at)
         if tree.connected_at else None}
        for tid, tree in session.tree_connect_table.items()
    ]
    files, pipes = [], []
    for vid, op in session.open_table.items():
        item = {"file_id": f"0x{vid:x}", "share": op.tree.share.name, "path": op.path,
                "access": f"0x{op.granted_access:08x}"}
        if op.tree.share.is_ipc:
            pipes.append({**item, "pipe": op.path.lstrip("\\")})
        else:
            files.append({**item, "directory": op.is_dir})
    row["files"] = files
    row["named_pipes"] = pipes
    return row


def _pairs(context: "ServerContext") -> Iterable[tuple["ServerConnection", "Session"]]:
    for conn in list(context.connections):
        for session in list(conn.sessions.values()):
            yield conn, session


def find_session(context: "ServerContext", session_id: int
                 ) -> tuple["ServerConnection", "Session"] | None:
    for conn in list(context.connections):
        session = conn.sessions.get(session_id)
        if session is not None:
            return conn, session
    return None


def change_key(context: "ServerContext") -> tuple:
    """Cheap: changes when a session appears, goes, finishes logon, or its trees, opens or
    denials change (the dashboard is pushed at once then, otherwise once a second)."""
    return tuple(
        (s.session_id, s.state is SessionState.VALID, len(s.tree_connect_table), len(s.open_table),
         s.denials)
        for _conn, s in _pairs(context)
    ) + (len(context.blocked), id(context.policy))


# --- server, shares, policy, blocks ---------------------------------------------------------------


def policy_dict(policy: Any) -> dict:
    out: dict[str, Any] = {}
    for f in fields(policy):
        value = getattr(policy, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def block_id(key: tuple[str, str]) -> str:
    """``anonymous@127.0.0.1``, ``guest@10.0.0.7``, ``user:alice@::1``."""
    return f"{key[0]}@{key[1]}"


def parse_block_id(text: str) -> tuple[str, str] | None:
    who, at, ip = text.rpartition("@")
    return (who, ip) if at and who and ip else None


def blocks(context: "ServerContext", now: float) -> list[dict]:
    out = []
    for key, until in sorted(context.blocked.items(), key=lambda kv: kv[1]):
        if until <= now:
            continue
        who = key[0]
        kind, _, name = who.partition(":")
        out.append({"id": block_id(key), "kind": kind, "name": name, "client_ip": key[1],
                    "until": _iso(until), "remaining_s": _secs(until - now)})
    return out


_ANONYMOUS = Principal(PrincipalKind.ANONYMOUS)


def shares(context: "ServerContext", now: float | None = None) -> list[dict]:
    """The shares, with what null sessions may do there under the current policy."""
    counts: dict[str, int] = {}
    for _conn, session in _pairs(context):
        for tree in session.tree_connect_table:
            counts[tree.share.name.casefold()] = counts.get(tree.share.name.casefold(), 0) + 1
    out = []
    for share in context.shares.values():
        if share.is_ipc:
            decision = may_connect_ipc(_ANONYMOUS, context.policy)
        else:
            decision = may_connect_share(_ANONYMOUS, share.name, share.access, context.policy)
        out.append({
            "name": share.name, "path": share.path, "comment": share.comment,
            "read_only": share.read_only, "ipc": share.is_ipc,
            "access": [{"principal": p, "right": r} for p, r in share.access],
            "anonymous": {"allowed": decision.allowed, "rule": decision.rule},
            "tree_connects": counts.get(share.name.casefold(), 0),
        })
    return out


def server_info(context: "ServerContext", server: "SmbServer | None" = None,
                now: float | None = None) -> dict:
    now = context.clock() if now is None else now
    cfg = context.config
    kinds = {"anonymous": 0, "guest": 0, "user": 0, "authenticating": 0}
    for _conn, session in _pairs(context):
        kind = _kind(session)
        kinds[kind.value if kind is not None else "authenticating"] += 1
    listen: list[str] = []
    if server is not None:
        for srv in server.listeners:
            for sock in srv.sockets or ():
                host, port = sock.getsockname()[:2]
                listen.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    if not listen:
        listen = [str(addr) for addr in cfg.server.listen]
    return {
        "name": cfg.server.netbios_name,
        "workgroup": cfg.server.workgroup,
        "version": _VERSION,
        "listen": listen,
        "dialects": [DIALECT_NAMES.get(d, hex(d)) for d in cfg.server.dialects],
        "signing": cfg.server.signing,
        "encryption": cfg.server.encryption,
        "map_to_guest": cfg.server.map_to_guest,
        "started": _iso(context.start_time) if context.start_time else None,
        "uptime_s": _secs(now - context.start_time) if context.start_time else None,
        "connections": len(context.connections),
        "sessions": sum(kinds.values()),
        "anonymous_sessions": kinds["anonymous"],
        "guest_sessions": kinds["guest"],
        "user_sessions": kinds["user"],
        "authenticating_sessions": kinds["authenticating"],
        "shares": len(context.shares),
        "blocks": sum(1 for until in context.blocked.values() if until > now),
        "config": str(cfg.source) if cfg.source else None,
    }


def snapshot(context: "ServerContext", server: "SmbServer | None" = None,
             now: float | None = None) -> dict:
    """Everything the dashboard's live view shows, at one instant."""
    now = context.clock() if now is None else now
    netbios = context.config.server.netbios_name
    rows = [session_row(conn, session, now, netbios) for conn, session in _pairs(context)]
    rows.sort(key=lambda r: r["id"])
    return {
        "time": _iso(now),
        "server": server_info(context, server, now),
        "sessions": rows,
        "blocks": blocks(context, now),
        "policy": policy_dict(context.policy),
    }


class SnapshotCache:
    """The shared snapshot: rebuilt at most every ``ttl`` seconds, encoded once (rule 2)."""

    def __init__(self, context: "ServerContext", server: "SmbServer | None" = None, *,
                 ttl: float = 0.5, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.context, self.server, self.ttl, self.monotonic = context, server, ttl, monotonic
        self._data: dict | None = None
        self._body: bytes | None = None
        self._built = float("-inf")
        self.builds = 0
        self.last_build_ms = 0.0

    def get(self, max_age: float | None = None) -> dict:
        max_age = self.ttl if max_age is None else max_age
        if self._data is None or max_age <= 0 or self.monotonic() - self._built > max_age:
            t0 = time.perf_counter()
            self._data = snapshot(self.context, self.server)
            self._body = None
            self._built = self.monotonic()
            self.builds += 1
            self.last_build_ms = (time.perf_counter() - t0) * 1000
        return self._data

    def body(self, max_age: float | None = None) -> bytes:
        """The snapshot as JSON bytes, encoded once per build."""
        data = self.get(max_age)
        if self._body is None:
            self._body = dumps(data)
        return self._body

    def invalidate(self) -> None:
        self._data = self._body = None
