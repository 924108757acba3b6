"""Server Manager's admin API and dashboard: an aiohttp application in the server's own loop.

Rules (design.md §6, issue 5):
1. It runs inside the SMB server's event loop (``AppRunner`` + ``TCPSite``): it installs no signal
   handlers, configures no logging and writes no access log (a token must never be logged).
2. Every ``/api/`` route but the OpenAPI document needs ``Authorization: Bearer TOKEN``; a
   missing or wrong token is 401 with ``WWW-Authenticate`` (RFC 6750 §3), compared in constant
   time. EventSource cannot send headers, so the two event streams also take ``?access_token=``
   (RFC 6750 §2.3). The dashboard's files need no token: the page asks for it.
3. The token file is created 0600 on first start with ``secrets.token_urlsafe(32)``.
4. The API reads snapshots (``snapshot.py``) and acts only through core APIs: ``destroy_session``
   for a close, ``ServerContext.blocked`` for a block, ``ServerContext.policy`` for a policy
   change (handlers read it on every request, so open sessions see a change at once).
5. One ``SnapshotCache`` and one broadcaster serve every subscriber of ``/api/events``.
6. ``[[manager.servers]]``: ``/api/servers/NAME/...`` forwards to that server's API with its
   token, so the browser needs this server's token only.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import secrets
import stat
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from ..config import ConfigError, ManagedServer, parse_policy
from ..core.handlers.session import block_key, destroy_session
from ..core.state import SessionState
from . import snapshot as snap
from .openapi import openapi_document

if TYPE_CHECKING:
    from ..aio.server import SmbServer
    from ..config import Config
    from ..core.context import ServerContext

__all__ = ["AdminApi", "AdminHandle", "build_app", "ensure_token", "read_token", "start_admin"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
MAX_BLOCK_SECONDS = 366 * 24 * 3600
HEARTBEAT_S = 15.0
TICK_S = 0.25  # how often the broadcaster looks for a change
PUSH_S = 1.0  # a snapshot at least this often while someone listens
STREAM_PATHS = ("/events", "/audit/stream")
_STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                 ".svg": "image/svg+xml"}
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


# --- the token ------------------------------------------------------------------------------------


def read_token(path: Path) -> str:
    """The token in ``path``; OSError if unreadable, ValueError if empty."""
    token = Path(path).read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"{path} is empty")
    return token


def ensure_token(path: Path) -> str:
    """Read the token file, or create it (0600, parents 0700) with a new random token."""
    path = Path(path)
    try:
        token = read_token(path)
    except FileNotFoundError:
        pass
    except ValueError:  # an empty file: fill it, private
        token = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(token + "\n")
        return token
    else:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("admin token file %s is readable by others (mode %o): chmod 600 it",
                        path, stat.S_IMODE(mode))
        return token
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return token


# --- helpers --------------------------------------------------------------------------------------


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=snap.dumps(data), status=status, content_type="application/json",
                        headers=headers)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json({"error": message}, status, headers)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true", "yes", "on")


class _Broadcaster:
    """One task builds snapshots while anyone listens; each subscriber gets the newest one."""

    def __init__(self, cache: snap.SnapshotCache) -> None:
        self.cache = cache
        self.queues: set[asyncio.Queue[bytes | None]] = set()
        self.task: asyncio.Task[None] | None = None
        self.closed = False

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
        if self.closed:
            queue.put_nowait(None)
            return queue
        self.queues.add(queue)
        queue.put_nowait(self.cache.body())  # the current state at once
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes | None]) -> None:
        self.queues.discard(queue)

    @staticmethod
    def _offer(queue: asyncio.Queue[bytes | None], item: bytes | None) -> None:
        if queue.full():  # a slow reader skips to the newest snapshot
            queue.get_nowait()
        queue.put_nowait(item)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_key = snap.change_key(self.cache.context)
        last_push = loop.time()
        while self.queues and not self.closed:
            await asyncio.sleep(TICK_S)
            key = snap.change_key(self.cache.context)
            changed = key != last_key
            if not changed and loop.time() - last_push < PUSH_S:
                continue
            body = self.cache.body(max_age=0 if changed else None)
            last_key, last_push = key, loop.time()
            for queue in list(self.queues):
                self._offer(queue, body)

    async def close(self) -> None:
        self.closed = True
        for queue in list(self.queues):
            self._offer(queue, None)
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass


# --- the API ---------------------------------------------------------------------------------------


class AdminApi:
    """The handlers, bound to one server."""

    def __init__(self, context: "ServerContext", server: "SmbServer | None", token: str, *,
                 managed: tuple[ManagedServer, ...] = (), url: str = "",
                 audit_log: Any = None) -> None:
        self.context = context
        self.server = server
        self._token = token.encode()
        self.managed = {m.name.casefold(): m for m in managed}
        self.url = url
        self.cache = snap.SnapshotCache(context, server)
        self.broadcaster = _Broadcaster(self.cache)
        self.closing = asyncio.Event()
        self._client: ClientSession | None = None
        self.audit_log = audit_log  # nullsmb.audit.AuditLog: flush(), listeners
        self._audit_queues: set[asyncio.Queue[dict | None]] = set()

    # -- authentication (rule 2) --------------------------------------------------------------------
    def token_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._token)

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        path = request.path
        response = self._refuse(request)
        if response is None:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                if exc.status < 400 or not path.startswith("/api/"):
                    raise
                response = _error(exc.status, exc.reason)
        if not response.prepared:
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "no-referrer")
            if path.startswith("/api/"):
                response.headers.setdefault("Cache-Control", "no-store")
            else:
                response.headers.setdefault("Content-Security-Policy", _CSP)
        return response

    def _refuse(self, request: web.Request) -> web.Response | None:
        """The 401 for an API request without the right token (RFC 6750 §3), else None."""
        path = request.path
        if not path.startswith("/api/") or path == "/api/openapi.json":
            return None
        given = None
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            given = value.strip()
        elif request.method == "GET" and path.endswith(STREAM_PATHS) and "access_token" in request.query:
            given = request.query["access_token"]
        realm = 'Bearer realm="nullsmb admin"'
        if given is None:
            return _error(401, "a bearer token is required (Authorization: Bearer TOKEN)",
                          {"WWW-Authenticate": realm})
        if not self.token_ok(given):
            return _error(401, "invalid token", {"WWW-Authenticate": realm + ', error="invalid_token"'})
        return None

    # -- dashboard files --------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.StreamResponse:
        return self._static("index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        return self._static(request.match_info["file"])

    def _static(self, name: str) -> web.StreamResponse:
        path = STATIC / name
        kind = _STATIC_TYPES.get(path.suffix)
        if kind is None or "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound()
        return web.Response(body=path.read_bytes(), content_type=kind, charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    # -- read-only views ----------------------------------------------------------------------------
    async def get_openapi(self, request: web.Request) -> web.StreamResponse:
        return _json(openapi_document())

    async def get_server(self, request: web.Request) -> web.StreamResponse:
        info = snap.server_info(self.context, self.server)
        info["managed_servers"] = [m.name for m in self.managed.values()]
        return _json(info)

    async def get_sessions(self, request: web.Request) -> web.StreamResponse:
        if not _flag(request, "anonymous"):
            body = self.cache.body()
            return web.Response(body=body, content_type="application/json")
        data = self.cache.get()
        rows = [row for row in data["sessions"] if row["anonymous"]]
        return _json({**data, "sessions": rows})

    def _lookup(self, request: web.Request):
        text = request.match_info["id"]
        session_id = snap.parse_session_id(text)
        if session_id is None:
            raise web.HTTPBadRequest(reason=f"{text!r} is not a session id (hex, e.g. 0x3c)")
        found = snap.find_session(self.context, session_id)
        if found is None:
            raise web.HTTPNotFound(reason=f"no session {snap.format_session_id(session_id)}")
        return found

    async def get_session(self, request: web.Request) -> web.StreamResponse:
        conn, session = self._lookup(request)
        netbios = self.context.config.server.netbios_name
        return _json(snap.session_detail(conn, session, self.context.clock(), netbios))

    async def get_shares(self, request: web.Request) -> web.StreamResponse:
        return _json({"shares": snap.shares(self.context)})

    async def get_blocks(self, request: web.Request) -> web.StreamResponse:
        return _json({"blocks": snap.blocks(self.context, self.context.clock())})

    # -- close and block ----------------------------------------------------------------------------
    async def delete_session(self, request: web.Request) -> web.StreamResponse:
        block = None
        if "block" in request.query:
            text = request.query["block"]
            try:
                block = float(text)
            except ValueError:
                block = -1.0
            if not 0 < block <= MAX_BLOCK_SECONDS or block != block:
                raise web.HTTPBadRequest(
                    reason=f"block must be a number of seconds from 1 to {MAX_BLOCK_SECONDS} (got {text!r})")
        conn, session = self._lookup(request)
        blocked = None
        if block is not None:
            if session.state is not SessionState.VALID:
                raise web.HTTPConflict(reason="the session has not finished logging on: nothing to block")
            key = block_key(session.principal, conn.peer[0])
            until = self.context.clock() + block
            self.context.blocked[key] = max(until, self.context.blocked.get(key, 0.0))
            blocked = next((b for b in snap.blocks(self.context, self.context.clock())
                            if b["id"] == snap.block_id(key)), None)
        closed = await self.close_connection(conn)
        self.cache.invalidate()
        return _json({"closed": closed, "client": f"{conn.peer[0]}:{conn.peer[1]}", "block": blocked})

    async def close_connection(self, conn) -> list[str]:
        """Tear down ``conn`` as SmbServer.close_connection does (its logoffs audited with reason
        ``admin_close``); without a transport (tests of the API alone) the sessions just end."""
        if self.server is not None:
            sessions = await self.server.close_connection(conn, "admin_close")
        else:
            sessions = list(conn.sessions.values())
            conn.sessions.clear()
            for session in sessions:
                await destroy_session(conn, session, "admin_close")
        return [snap.format_session_id(s.session_id) for s in sessions]

    async def delete_block(self, request: web.Request) -> web.StreamResponse:
        key = snap.parse_block_id(request.match_info["key"])
        if key is None or key not in self.context.blocked:
            raise web.HTTPNotFound(reason=f"no block {request.match_info['key']!r}")
        del self.context.blocked[key]
        self.cache.invalidate()
        return _json({"lifted": snap.block_id(key)})

    # -- policy -------------------------------------------------------------------------------------
    async def get_policy(self, request: web.Request) -> web.StreamResponse:
        return _json({"policy": snap.policy_dict(self.context.policy)})

    async def put_policy(self, request: web.Request) -> web.StreamResponse:
        try:
            given = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise web.HTTPBadRequest(reason="the body must be a JSON object of policy settings")
        if isinstance(given, dict) and isinstance(given.get("policy"), dict) and len(given) == 1:
            given = given["policy"]  # what GET returns may be PUT back
        if not isinstance(given, dict):
            raise web.HTTPBadRequest(reason="the body must be a JSON object of policy settings")
        old = self.context.policy
        merged = {k: v for k, v in snap.policy_dict(old).items() if v is not None}
        merged.update(given)
        if merged.get("NullSessionOperations", 0) is None:
            del merged["NullSessionOperations"]
        try:
            new = parse_policy(merged)
        except ConfigError as exc:
            raise web.HTTPBadRequest(reason=str(exc))
        if given.get("NullSessionOperations", 0) is None:
            new = replace(new, NullSessionOperations=None)
        changed = self.context.set_policy(new, by="admin-api")
        self.cache.invalidate()
        return _json({"policy": snap.policy_dict(new), "changed": changed})

    # -- audit --------------------------------------------------------------------------------------
    def _audit_filter(self, request: web.Request):
        from ..audit.query import Filter, parse_since

        q = request.query
        events = None
        if q.get("event_id"):
            try:
                events = {int(x) for x in q["event_id"].split(",") if x.strip()}
            except ValueError:
                raise web.HTTPBadRequest(reason="event_id must be numbers such as 4624,4625")
        since = None
        if q.get("since"):
            try:
                since = parse_since(q["since"])
            except ValueError as exc:
                raise web.HTTPBadRequest(reason=str(exc).replace("--since ", "since "))
        return Filter(anonymous=_flag(request, "anonymous"), user=q.get("user") or None,
                      client=q.get("client") or None, events=events, since=since)

    def _audit_file(self) -> str | None:
        file = self.context.config.audit.file
        return None if not file or file == "-" else file

    async def get_audit(self, request: web.Request) -> web.StreamResponse:
        file = self._audit_file()
        if file is None or self.audit_log is None:
            return _error(503, "audit not configured (no audit file to read)")
        match = self._audit_filter(request)
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 10000:
            raise web.HTTPBadRequest(reason="limit must be a number from 1 to 10000")
        await self.audit_log.flush(timeout=1.0)  # what happened until now is in the file

        def read() -> list[dict]:
            from collections import deque

            from ..audit.query import read_events

            return list(deque((r for r in read_events(file, since=match.since) if match(r)), maxlen=limit))

        events = await asyncio.get_running_loop().run_in_executor(None, read)
        return _json({"events": events, "count": len(events), "limit": limit})

    async def get_audit_stream(self, request: web.Request) -> web.StreamResponse:
        if self.audit_log is None or not hasattr(self.audit_log, "listeners"):
            return _error(503, "audit not configured")
        match = self._audit_filter(request)
        queue: asyncio.Queue[dict | None] = asyncio.Queue(maxsize=1000)
        lost = 0

        def listener(record: dict) -> None:
            nonlocal lost
            if match(record):
                if queue.full():
                    lost += 1
                else:
                    queue.put_nowait(record)

        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"})
        await response.prepare(request)
        self.audit_log.listeners.append(listener)
        self._audit_queues.add(queue)
        try:
            await response.write(b"retry: 2000\n\n")
            while True:
                try:
                    record = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except asyncio.TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if record is None:
                    break
                if lost:
                    await response.write(b"event: lost\ndata: " + snap.dumps({"lost": lost}) + b"\n\n")
                    lost = 0
                await response.write(b"event: audit\ndata: " + snap.dumps(record) + b"\n\n")
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self._audit_queues.discard(queue)
            try:
                self.audit_log.listeners.remove(listener)
            except ValueError:
                pass
        return response

    # -- live snapshots (rule 5) ----------------------------------------------------------------------
    async def get_events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"})
        await response.prepare(request)
        queue = self.broadcaster.subscribe()
        try:
            await response.write(b"retry: 2000\n\n")
            while True:
                try:
                    body = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except asyncio.TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if body is None:
                    break
                await response.write(b"event: snapshot\ndata: " + body + b"\n\n")
        except (ConnectionError, RuntimeError):
            pass  # the browser went away
        finally:
            self.broadcaster.unsubscribe(queue)
        return response

    # -- several servers (rule 6) -------------------------------------------------------------------
    def _http(self) -> ClientSession:
        if self._client is None or self._client.closed:
            self._client = ClientSession(auto_decompress=True)
        return self._client

    async def _probe(self, managed: ManagedServer) -> dict:
        entry: dict[str, Any] = {"name": managed.name, "local": False, "url": managed.url,
                                 "reachable": False, "error": None, "server": None}
        try:
            token = read_token(managed.token_file)
        except (OSError, ValueError) as exc:
            entry["error"] = f"cannot read token file {managed.token_file}: {getattr(exc, 'strerror', None) or exc}"
            return entry
        try:
            async with self._http().get(f"{managed.url}/api/server", timeout=ClientTimeout(total=3),
                                        headers={"Authorization": f"Bearer {token}"}) as r:
                if r.status == 401:
                    entry["error"] = f"refused the token in {managed.token_file}"
                elif r.status != 200:
                    entry["error"] = f"answered HTTP {r.status}"
                else:
                    entry["server"] = await r.json()
                    entry["reachable"] = True
        except (ClientError, asyncio.TimeoutError, ValueError) as exc:
            entry["error"] = f"unreachable: {exc.__class__.__name__} {exc}".strip()
        return entry

    async def get_servers(self, request: web.Request) -> web.StreamResponse:
        local = {"name": self.context.config.server.netbios_name, "local": True, "url": self.url,
                 "reachable": True, "error": None,
                 "server": snap.server_info(self.context, self.server)}
        others = await asyncio.gather(*(self._probe(m) for m in self.managed.values()))
        return _json({"servers": [local, *others]})

    async def proxy(self, request: web.Request) -> web.StreamResponse:
        managed = self.managed.get(request.match_info["name"].casefold())
        if managed is None:
            raise web.HTTPNotFound(reason=f"no managed server {request.match_info['name']!r}")
        tail = request.match_info["path"]
        if tail.startswith("servers"):
            raise web.HTTPBadRequest(reason="a managed server's own managed servers are not proxied")
        try:
            token = read_token(managed.token_file)
        except (OSError, ValueError) as exc:
            return _error(502, f"{managed.name}: cannot read token file {managed.token_file}: "
                               f"{getattr(exc, 'strerror', None) or exc}")
        query = [(k, v) for k, v in request.query.items() if k != "access_token"]
        streaming = ("/" + tail).endswith(STREAM_PATHS)
        timeout = ClientTimeout(total=None, connect=5) if streaming else ClientTimeout(total=15)
        headers = {"Authorization": f"Bearer {token}"}
        body = None
        if request.can_read_body:
            body = await request.read()
            headers["Content-Type"] = request.headers.get("Content-Type", "application/json")
        try:
            async with self._http().request(request.method, f"{managed.url}/api/{tail}", params=query,
                                            data=body, headers=headers, timeout=timeout) as r:
                if r.status == 401:
                    return _error(502, f"{managed.name} refused the token in {managed.token_file}")
                if not streaming or r.content_type != "text/event-stream":
                    return web.Response(body=await r.read(), status=r.status,
                                        content_type=r.content_type or "application/json")
                return await self._relay(request, r)
        except (ClientError, asyncio.TimeoutError) as exc:
            return _error(502, f"{managed.name} is unreachable at {managed.url}: "
                               f"{exc.__class__.__name__} {exc}".strip())

    async def _relay(self, request: web.Request, upstream) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no"})
        await response.prepare(request)
        closing = asyncio.ensure_future(self.closing.wait())
        try:
            while True:
                read = asyncio.ensure_future(upstream.content.readany())
                done, _ = await asyncio.wait({read, closing}, return_when=asyncio.FIRST_COMPLETED)
                if read not in done:
                    read.cancel()
                    break
                chunk = read.result()
                if not chunk:
                    break
                await response.write(chunk)
        except (ConnectionError, RuntimeError, ClientError):
            pass
        finally:
            closing.cancel()
        return response

    # -- lifecycle ----------------------------------------------------------------------------------
    async def on_shutdown(self, app: web.Application) -> None:
        self.closing.set()
        for queue in list(self._audit_queues):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)
        await self.broadcaster.close()

    async def on_cleanup(self, app: web.Application) -> None:
        if self._client is not None:
            await self._client.close()


ROUTES: tuple[tuple[str, str, str], ...] = (
    # method, path, AdminApi attribute
    ("GET", "/", "index"),
    ("GET", "/static/{file}", "static"),
    ("GET", "/api/openapi.json", "get_openapi"),
    ("GET", "/api/server", "get_server"),
    ("GET", "/api/servers", "get_servers"),
    ("GET", "/api/servers/{name}/{path:.+}", "proxy"),
    ("PUT", "/api/servers/{name}/{path:.+}", "proxy"),
    ("DELETE", "/api/servers/{name}/{path:.+}", "proxy"),
    ("GET", "/api/sessions", "get_sessions"),
    ("GET", "/api/sessions/{id}", "get_session"),
    ("DELETE", "/api/sessions/{id}", "delete_session"),
    ("GET", "/api/blocks", "get_blocks"),
    ("DELETE", "/api/blocks/{key}", "delete_block"),
    ("GET", "/api/shares", "get_shares"),
    ("GET", "/api/policy", "get_policy"),
    ("PUT", "/api/policy", "put_policy"),
    ("GET", "/api/audit", "get_audit"),
    ("GET", "/api/audit/stream", "get_audit_stream"),
    ("GET", "/api/events", "get_events"),
)


def build_app(api: AdminApi) -> web.Application:
    app = web.Application(middlewares=[api.middleware], client_max_size=1024 * 1024)
    for method, path, attr in ROUTES:
        app.router.add_route(method, path, getattr(api, attr))
    app.on_shutdown.append(api.on_shutdown)
    app.on_cleanup.append(api.on_cleanup)
    return app


class AdminHandle:
    """A started admin API: ``url``, ``token_file``, ``api``; ``await stop()``."""

    def __init__(self, runner: web.AppRunner, api: AdminApi, url: str, token_file: Path) -> None:
        self.runner, self.api, self.url, self.token_file = runner, api, url, token_file

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_admin(context: "ServerContext", server: "SmbServer | None",
                      config: "Config | None" = None, *, audit_log: Any = None) -> AdminHandle:
    """Create the token file if needed and listen on ``[admin] listen``; OSError if it cannot."""
    config = config or context.config
    settings = config.admin
    token = ensure_token(settings.token_file)
    host, port = settings.listen.host, settings.listen.port
    api = AdminApi(context, server, token, managed=config.manager.servers, audit_log=audit_log)
    runner = web.AppRunner(build_app(api), handle_signals=False, access_log=None,
                           shutdown_timeout=3.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = port
    server_obj = getattr(site, "_server", None)
    if server_obj is not None and server_obj.sockets:
        bound_port = server_obj.sockets[0].getsockname()[1]
    shown = "127.0.0.1" if host == "0.0.0.0" else ("::1" if host == "::" else host)
    url = f"http://[{shown}]:{bound_port}/" if ":" in shown else f"http://{shown}:{bound_port}/"
    api.url = url
    return AdminHandle(runner, api, url, Path(settings.token_file))
