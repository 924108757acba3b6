"""admin/app.py: the admin API in-process (aiohttp's test client over fake state) and against a
real server with real clients (impacket, smbclient, smbprotocol)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import stat
import subprocess
import time
import uuid
from pathlib import Path
from typing import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from nullsmb.admin.app import ROUTES, AdminApi, build_app, ensure_token
from nullsmb.admin.openapi import openapi_document
from nullsmb.config import ManagedServer
from nullsmb.policy.null_session import PrincipalKind

from .conftest import HOST, PASSWORD, AdminServer, add_open, add_session, add_tree, make_context

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


# -- in-process ------------------------------------------------------------------------------------


async def _client(api: AdminApi) -> TestClient:
    client = TestClient(TestServer(build_app(api)))
    await client.start_server()
    return client


@pytest.fixture
async def api_client(tmp_path: Path) -> AsyncIterator[tuple[AdminApi, TestClient]]:
    context = make_context(tmp_path)
    api = AdminApi(context, None, TOKEN)
    client = await _client(api)
    try:
        yield api, client
    finally:
        await client.close()


async def test_every_api_route_needs_the_token(api_client) -> None:
    api, client = api_client
    for method, path, _attr in ROUTES:
        if not path.startswith("/api/") or path == "/api/openapi.json":
            continue
        url = path.replace("{id}", "0x1").replace("{key}", "a@b").replace("{name}", "x") \
                  .replace("{path:.+}", "sessions")
        r = await client.request(method, url)
        assert r.status == 401, (method, url)
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="nullsmb admin"'
        r = await client.request(method, url, headers={"Authorization": "Bearer wrong"})
        assert r.status == 401, (method, url)
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    r = await client.get("/api/server", headers={"Authorization": f"Basic {TOKEN}"})
    assert r.status == 401
    r = await client.get("/api/server?access_token=" + TOKEN)  # only the event streams take it
    assert r.status == 401
    r = await client.get("/api/server", headers=AUTH)
    assert r.status == 200 and (await r.json())["name"] == "NULLSMB"
    assert r.headers["Cache-Control"] == "no-store"


async def test_openapi_lists_exactly_the_routes(api_client) -> None:
    _api, client = api_client
    r = await client.get("/api/openapi.json")  # no token needed
    assert r.status == 200
    doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = set()
    for resource in client.app.router.resources():
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", resource.canonical)
        for route in resource:
            if route.method != "HEAD" and path.startswith("/api/"):
                served.add((route.method, path))
    assert documented == served
    assert doc == openapi_document()
    # every $ref resolves
    refs = set(re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(doc)))
    assert refs <= set(doc["components"]["schemas"])


async def test_dashboard_files_need_no_token_and_are_locked_down(api_client) -> None:
    _api, client = api_client
    r = await client.get("/")
    assert r.status == 200 and r.content_type == "text/html"
    text = await r.text()
    assert "/static/app.js" in text and "http" not in text.split("<body>")[0].replace("http-equiv", "")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        r = await client.get(f"/static/{name}")
        assert r.status == 200 and r.content_type == kind
    for bad in ("/static/..%2fapp.py", "/static/nope.js", "/static/.hidden"):
        assert (await client.get(bad)).status == 404


async def test_sessions_list_filter_and_detail(api_client) -> None:
    api, client = api_client
    conn, anon = add_session(api.context, PrincipalKind.ANONYMOUS)
    add_session(api.context, PrincipalKind.USER, user="alice")
    add_open(anon, add_tree(api.context, anon, "IPC$"), "srvsvc")
    body = await (await client.get("/api/sessions", headers=AUTH)).json()
    assert sorted(r["kind"] for r in body["sessions"]) == ["anonymous", "user"]
    body = await (await client.get("/api/sessions?anonymous=1", headers=AUTH)).json()
    assert [r["user"] for r in body["sessions"]] == ["ANONYMOUS LOGON"]
    sid = f"0x{anon.session_id:x}"
    detail = await (await client.get(f"/api/sessions/{sid}", headers=AUTH)).json()
    assert detail["named_pipes"][0]["pipe"] == "srvsvc" and detail["anonymous"]
    r = await client.get("/api/sessions/0xdead", headers=AUTH)
    assert r.status == 404 and "no session" in (await r.json())["error"]
    r = await client.get("/api/sessions/nothex", headers=AUTH)
    assert r.status == 400 and "not a session id" in (await r.json())["error"]


async def test_close_and_block_without_a_transport(api_client) -> None:
    api, client = api_client
    ctx = api.context
    conn, anon = add_session(ctx, PrincipalKind.ANONYMOUS, ip="10.1.2.3")
    _conn, other = add_session(ctx, PrincipalKind.USER, user="alice", conn=conn)  # same connection
    add_open(anon, add_tree(ctx, anon, "IPC$"), "srvsvc")
    for bad in ("0", "-5", "x", "nan", "inf", "99999999999"):
        r = await client.delete(f"/api/sessions/0x{anon.session_id:x}?block={bad}", headers=AUTH)
        assert r.status == 400, bad
    r = await client.delete(f"/api/sessions/0x{anon.session_id:x}?block=60", headers=AUTH)
    assert r.status == 200
    result = await r.json()
    assert sorted(result["closed"]) == sorted(f"0x{s.session_id:016x}" for s in (anon, other))
    assert result["block"]["id"] == "anonymous@10.1.2.3" and result["block"]["remaining_s"] == 60.0
    assert not conn.sessions and anon.session_id not in ctx.sessions
    logoffs = [f for e, f in ctx.events if e == "logoff"]
    assert {f["reason"] for f in logoffs} == {"admin_close"} and len(logoffs) == 2
    assert not anon.open_table._items  # its opens were closed
    blocks = await (await client.get("/api/blocks", headers=AUTH)).json()
    assert [b["id"] for b in blocks["blocks"]] == ["anonymous@10.1.2.3"]
    r = await client.delete("/api/blocks/anonymous%4010.1.2.3", headers=AUTH)
    assert r.status == 200 and not ctx.blocked
    assert (await client.delete("/api/blocks/anonymous%4010.1.2.3", headers=AUTH)).status == 404
    _c, pending = add_session(ctx, None)
    r = await client.delete(f"/api/sessions/0x{pending.session_id:x}?block=5", headers=AUTH)
    assert r.status == 409


async def test_put_policy_validates_merges_and_audits(api_client) -> None:
    api, client = api_client
    ctx = api.context
    before = ctx.policy
    r = await client.put("/api/policy", json={"RestrictAnonymous": 7}, headers=AUTH)
    assert r.status == 400
    assert (await r.json())["error"] == "policy.RestrictAnonymous must be 0, 1 or 2 (got 7)"
    r = await client.put("/api/policy", json={"RestrictAnonymos": 1}, headers=AUTH)
    assert r.status == 400 and 'did you mean "RestrictAnonymous"' in (await r.json())["error"]
    r = await client.put("/api/policy", data=b"[1", headers=AUTH)
    assert r.status == 400
    assert ctx.policy is before and not ctx.events
    r = await client.put("/api/policy", json={"NullSessionShares": [], "RestrictAnonymous": 1},
                         headers=AUTH)
    assert r.status == 200
    body = await r.json()
    assert body["changed"] == ["NullSessionShares", "RestrictAnonymous"]
    assert ctx.policy.NullSessionShares == () and ctx.policy.RestrictAnonymous == 1
    assert ctx.policy.NullSessionPipes == ("srvsvc",)  # not given: kept
    changes = [f for e, f in ctx.events if e == "policy_change"]
    assert changes == [
        {"event_id": 4657, "outcome": "success", "setting": "NullSessionShares", "old": ["public"],
         "new": [], "by": "admin-api"},
        {"event_id": 4657, "outcome": "success", "setting": "RestrictAnonymous", "old": 0, "new": 1,
         "by": "admin-api"},
    ]
    # what GET returns can be PUT back unchanged: no change, no event
    current = await (await client.get("/api/policy", headers=AUTH)).json()
    r = await client.put("/api/policy", json=current, headers=AUTH)
    assert (await r.json())["changed"] == [] and len(ctx.events) == 2


async def test_audit_without_an_audit_log_is_503(api_client) -> None:
    _api, client = api_client
    for path in ("/api/audit", "/api/audit/stream"):
        r = await client.get(path, headers=AUTH)
        assert r.status == 503 and "audit not configured" in (await r.json())["error"]


async def _read_event(response, name: str = "snapshot", timeout: float = 5.0) -> dict:
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = await asyncio.wait_for(response.content.readany(), timeout)
        buf += chunk
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            lines = block.decode().splitlines()
            if f"event: {name}" in lines:
                return json.loads("".join(l[6:] for l in lines if l.startswith("data: ")))
    raise AssertionError("no event")


async def test_events_stream_pushes_changes(api_client) -> None:
    api, client = api_client
    r = await client.get(f"/api/events?access_token={TOKEN}")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    first = await _read_event(r)
    assert first["sessions"] == []
    add_session(api.context, PrincipalKind.ANONYMOUS)
    t0 = time.monotonic()
    second = await _read_event(r)
    assert [s["user"] for s in second["sessions"]] == ["ANONYMOUS LOGON"]
    assert time.monotonic() - t0 < 1.0  # a change is pushed at once, not on the next second
    # a second subscriber shares the broadcaster's snapshot
    r2 = await client.get("/api/events", headers=AUTH)
    assert len((await _read_event(r2))["sessions"]) == 1
    assert len(api.broadcaster.queues) == 2
    r.close()
    r2.close()


async def test_several_servers_through_one_token(tmp_path: Path) -> None:
    remote_ctx = make_context(tmp_path / "r")
    add_session(remote_ctx, PrincipalKind.ANONYMOUS, ip="192.0.2.1")
    remote = await _client(AdminApi(remote_ctx, None, "remote-token"))
    (tmp_path / "remote.token").write_text("remote-token\n")
    (tmp_path / "wrong.token").write_text("nope\n")
    base = str(remote.make_url("")).rstrip("/")
    managed = (ManagedServer("branch", base, tmp_path / "remote.token"),
               ManagedServer("stale", base, tmp_path / "wrong.token"),
               ManagedServer("gone", "http://127.0.0.1:9", tmp_path / "remote.token"),
               ManagedServer("nofile", base, tmp_path / "missing.token"))
    local = await _client(AdminApi(make_context(tmp_path / "l"), None, TOKEN, managed=managed))
    try:
        servers = (await (await local.get("/api/servers", headers=AUTH)).json())["servers"]
        by_name = {s["name"]: s for s in servers}
        assert by_name["NULLSMB"]["local"] and by_name["branch"]["reachable"]
        assert by_name["branch"]["server"]["anonymous_sessions"] == 1
        assert not by_name["stale"]["reachable"] and "refused the token" in by_name["stale"]["error"]
        assert not by_name["gone"]["reachable"] and "unreachable" in by_name["gone"]["error"]
        assert "cannot read token file" in by_name["nofile"]["error"]
        r = await local.get("/api/servers/branch/sessions?anonymous=1", headers=AUTH)
        assert r.status == 200
        assert [s["client_ip"] for s in (await r.json())["sessions"]] == ["192.0.2.1"]
        r = await local.put("/api/servers/branch/policy", json={"RestrictAnonymous": 2}, headers=AUTH)
        assert r.status == 200 and remote_ctx.policy.RestrictAnonymous == 2
        r = await local.get(f"/api/servers/branch/events?access_token={TOKEN}")
        assert (await _read_event(r))["sessions"][0]["client_ip"] == "192.0.2.1"
        r.close()
        assert (await local.get("/api/servers/stale/sessions", headers=AUTH)).status == 502
        assert (await local.get("/api/servers/gone/sessions", headers=AUTH)).status == 502
        assert (await local.get("/api/servers/nope/sessions", headers=AUTH)).status == 404
        assert (await local.get("/api/servers/branch/servers", headers=AUTH)).status == 400
        # the browser's token is not the remote's: the proxy never passes it on
        r = await local.get("/api/servers/branch/server", headers={"Authorization": "Bearer remote-token"})
        assert r.status == 401
    finally:
        await local.close()
        await remote.close()


def test_token_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "admin.token"
    token = ensure_token(path)
    assert len(token) >= 43 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_token(path) == token
    path.write_text("")
    fresh = ensure_token(path)
    assert fresh and fresh != token and stat.S_IMODE(path.stat().st_mode) == 0o600


# -- against a real server ------------------------------------------------------------------------

impacket = pytest.importorskip("impacket")
from impacket.smbconnection import SessionError, SMBConnection  # noqa: E402

STATUS_ACCESS_DENIED = 0xC0000022


def impacket_login(server: AdminServer, user: str = "", password: str = "") -> SMBConnection:
    conn = SMBConnection(HOST, HOST, sess_port=server.smb_port, timeout=10)
    conn.login(user, password)
    return conn


def test_start_up_names_the_token_file_never_the_token(admin_server: AdminServer) -> None:
    out = admin_server.stdout()
    assert f"admin: http://{HOST}:{admin_server.admin_port}/ (token in {admin_server.token_file})" in out
    assert stat.S_IMODE(admin_server.token_file.stat().st_mode) == 0o600
    assert admin_server.token not in out + admin_server.stderr()
    status, body, headers = admin_server.request("GET", "/api/sessions", token=None)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert admin_server.request("GET", "/api/sessions", token="wrong")[0] == 401


def test_principal_kinds_of_real_clients(admin_server: AdminServer) -> None:
    anon = impacket_login(admin_server)
    alice = impacket_login(admin_server, "alice", PASSWORD)
    guest = impacket_login(admin_server, "nobody", "whatever")  # map_to_guest = "bad_user"
    try:
        t0 = time.monotonic()
        rows = admin_server.wait_for(lambda rows: len(rows) >= 3)
        assert time.monotonic() - t0 < 1.0
        by_kind = {r["kind"]: r for r in rows}
        assert by_kind["anonymous"]["user"] == "ANONYMOUS LOGON" and by_kind["anonymous"]["anonymous"]
        assert by_kind["user"]["user"].endswith("\\alice") and by_kind["user"]["admin"]
        assert by_kind["guest"]["user"] == "Guest" and by_kind["guest"]["guest"]
        assert {r["dialect"] for r in rows} == {"3.1.1"}
        only = admin_server.sessions(anonymous="1")
        assert [r["kind"] for r in only] == ["anonymous"]
        anon.connectTree("public")
        anon.listPath("public", "*")
        sid = by_kind["anonymous"]["id"]
        detail = admin_server.get(f"/api/sessions/{sid}")
        assert "public" in [t["share"] for t in detail["tree_connects"]]
        assert detail["requests"] > 3
    finally:
        for c in (anon, alice, guest):
            c.close()
    admin_server.wait_for(lambda rows: not rows)


def test_smbclient_and_smbprotocol_sessions_appear(admin_server: AdminServer) -> None:
    if shutil.which("smbclient") is None:
        pytest.skip("smbclient is not installed")
    from smbprotocol.connection import Connection
    from smbprotocol.session import Session

    proc = subprocess.Popen(["smbclient", "-U%", "-N", f"//{HOST}/public", "-p", str(admin_server.smb_port)],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn = Connection(uuid.uuid4(), HOST, admin_server.smb_port, require_signing=False)
    conn.connect(timeout=10)
    session = Session(conn, username="alice", password=PASSWORD, require_encryption=False)
    session.connect()
    try:
        rows = admin_server.wait_for(lambda rows: {r["kind"] for r in rows} >= {"anonymous", "user"})
        anon = next(r for r in rows if r["anonymous"])
        assert "public" in anon["shares"]  # smbclient connected the share
    finally:
        session.disconnect()
        conn.disconnect()
        proc.stdin.close()
        proc.wait(10)
    admin_server.wait_for(lambda rows: not rows)


def test_close_drops_the_client_and_audits_the_logoff(admin_server: AdminServer) -> None:
    conn = impacket_login(admin_server)
    try:
        conn.connectTree("public")
        rows = admin_server.wait_for(lambda rows: len(rows) == 1)
        status, body, _ = admin_server.request("DELETE", f"/api/sessions/{rows[0]['id']}")
        assert status == 200 and body["closed"] == [rows[0]["id"]] and body["block"] is None
        with pytest.raises(Exception):
            conn.listPath("public", "*")  # the next request from it fails
        assert admin_server.sessions() == []
        events = admin_server.get("/api/audit?event_id=4634&limit=10")["events"]
        mine = [e for e in events if e["session_id"] == rows[0]["id"]]
        assert mine and mine[-1]["reason"] == "admin_close" and mine[-1]["anonymous"]
    finally:
        conn.close()


def test_block_refuses_the_reconnect_until_it_expires(admin_server: AdminServer) -> None:
    conn = impacket_login(admin_server)
    rows = admin_server.wait_for(lambda rows: len(rows) == 1)
    status, body, _ = admin_server.request("DELETE", f"/api/sessions/{rows[0]['id']}?block=2")
    assert status == 200 and body["block"]["id"] == f"anonymous@{HOST}"
    conn.close()
    with pytest.raises(SessionError) as info:
        impacket_login(admin_server)
    assert info.value.getErrorCode() == STATUS_ACCESS_DENIED
    alice = impacket_login(admin_server, "alice", PASSWORD)  # another principal is not blocked
    alice.close()
    assert [b["id"] for b in admin_server.get("/api/blocks")["blocks"]] == [f"anonymous@{HOST}"]
    time.sleep(2.2)
    again = impacket_login(admin_server)  # expired
    again.close()
    assert admin_server.get("/api/blocks")["blocks"] == []
    failed = admin_server.get("/api/audit?event_id=4625&limit=20")["events"]
    assert any(e.get("failure_reason") == "blocked by administrator" for e in failed)


def test_a_lifted_block_lets_the_client_back(admin_server: AdminServer) -> None:
    conn = impacket_login(admin_server)
    rows = admin_server.wait_for(lambda rows: len(rows) == 1)
    admin_server.request("DELETE", f"/api/sessions/{rows[0]['id']}?block=600")
    conn.close()
    with pytest.raises(SessionError):
        impacket_login(admin_server)
    status, body, _ = admin_server.request("DELETE", f"/api/blocks/anonymous%40{HOST}")
    assert status == 200
    impacket_login(admin_server).close()


def test_policy_change_reaches_an_open_session(admin_server: AdminServer) -> None:
    conn = impacket_login(admin_server)
    try:
        tid = conn.connectTree("public")
        conn.disconnectTree(tid)
        status, body, _ = admin_server.request("PUT", "/api/policy", {"NullSessionShares": []})
        assert status == 200 and body["changed"] == ["NullSessionShares"]
        with pytest.raises(SessionError) as info:
            conn.connectTree("public")  # the same session, its next request
        assert info.value.getErrorCode() == STATUS_ACCESS_DENIED
        events = admin_server.get("/api/audit?event_id=4657&limit=5")["events"]
        assert events[-1]["setting"] == "NullSessionShares" and events[-1]["by"] == "admin-api"
    finally:
        admin_server.request("PUT", "/api/policy", {"NullSessionShares": ["public"]})
        conn.close()
    conn = impacket_login(admin_server)
    conn.connectTree("public")
    conn.close()


def test_shares_and_server_info(admin_server: AdminServer) -> None:
    shares = {s["name"]: s for s in admin_server.get("/api/shares")["shares"]}
    assert shares["public"]["anonymous"]["allowed"] and shares["IPC$"]["ipc"]
    info = admin_server.get("/api/server")
    assert info["listen"] == [f"{HOST}:{admin_server.smb_port}"]
    assert info["config"] == str(admin_server.config)
