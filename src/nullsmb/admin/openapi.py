"""The admin API's OpenAPI 3.1 document, written by hand (tests/admin/test_app.py checks that it
lists exactly the routes the application serves)."""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]

_ERROR = {"$ref": "#/components/schemas/Error"}


def _ok(description: str, schema: dict | None = None, media: str = "application/json") -> dict:
    return {"description": description,
            "content": {media: {"schema": schema or {"type": "object"}}}}


def _errors(*codes: int) -> dict:
    words = {400: "bad request", 401: "missing or wrong bearer token", 404: "not found",
             409: "conflict", 502: "a managed server could not be reached",
             503: "not configured"}
    return {str(c): {"description": words[c], "content": {"application/json": {"schema": _ERROR}}}
            for c in (401, *codes)}


def _op(summary: str, responses: dict, *, params: list | None = None, body: dict | None = None,
        op_id: str, tags: tuple[str, ...] = ("server manager",)) -> dict:
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": list(tags),
                          "responses": responses}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    return op


_SESSION_ID = {"name": "id", "in": "path", "required": True,
               "description": "session id in hex, as listed (0x0000040000000001); 0x optional",
               "schema": {"type": "string"}}
_SSE = {"text/event-stream": {"schema": {"type": "string"}}}


def openapi_document() -> dict:
    session = {
        "type": "object",
        "required": ["id", "user", "kind", "anonymous", "guest", "client_ip", "dialect"],
        "properties": {
            "id": {"type": "string", "examples": ["0x0000040000000001"]},
            "user": {"type": "string", "description": "ANONYMOUS LOGON, Guest or DOMAIN\\name"},
            "account": {"type": "string", "description": "the name a guest logged on with"},
            "kind": {"type": ["string", "null"], "enum": ["anonymous", "guest", "user", None],
                     "description": "null while the session is still authenticating"},
            "anonymous": {"type": "boolean"}, "guest": {"type": "boolean"},
            "admin": {"type": "boolean"},
            "state": {"type": "string", "enum": ["in_progress", "valid", "expired"]},
            "client_ip": {"type": "string"}, "client_port": {"type": "integer"},
            "workstation": {"type": "string"}, "dialect": {"type": "string"},
            "signing": {"type": "boolean", "description": "signing required"},
            "encryption": {"type": "boolean"},
            "shares": {"type": "array", "items": {"type": "string"}},
            "trees": {"type": "integer"}, "opens": {"type": "integer"}, "pipes": {"type": "integer"},
            "bytes_read": {"type": "integer"}, "bytes_written": {"type": "integer"},
            "requests": {"type": "integer"}, "denials": {"type": "integer"},
            "connected_s": {"type": "number"}, "idle_s": {"type": "number"},
        },
    }
    detail = {"allOf": [{"$ref": "#/components/schemas/Session"}, {
        "type": "object",
        "properties": {
            "tree_connects": {"type": "array", "items": {"type": "object"}},
            "files": {"type": "array", "items": {"type": "object"}},
            "named_pipes": {"type": "array", "items": {"type": "object"}},
        }}]}
    snapshot = {
        "type": "object",
        "properties": {
            "time": {"type": "string", "format": "date-time"},
            "server": {"$ref": "#/components/schemas/Server"},
            "sessions": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}},
            "blocks": {"type": "array", "items": {"$ref": "#/components/schemas/Block"}},
            "policy": {"$ref": "#/components/schemas/Policy"},
        },
    }
    block = {"type": "object", "properties": {
        "id": {"type": "string", "examples": ["anonymous@127.0.0.1", "user:alice@10.0.0.7"]},
        "kind": {"type": "string"}, "name": {"type": "string"}, "client_ip": {"type": "string"},
        "until": {"type": "string", "format": "date-time"}, "remaining_s": {"type": "number"}}}
    policy = {"type": "object", "description": "design.md §2 [policy]: Windows names and values",
              "properties": {
                  "RestrictNullSessAccess": {"type": "integer", "enum": [0, 1]},
                  "NullSessionShares": {"type": "array", "items": {"type": "string"}},
                  "NullSessionPipes": {"type": "array", "items": {"type": "string"}},
                  "RestrictAnonymous": {"type": "integer", "enum": [0, 1, 2]},
                  "RestrictAnonymousSAM": {"type": "integer", "enum": [0, 1]},
                  "EveryoneIncludesAnonymous": {"type": "integer", "enum": [0, 1]},
                  "LSAAnonymousNameLookup": {"type": "integer", "enum": [0, 1]},
                  "TurnOffAnonymousBlock": {"type": "integer", "enum": [0, 1]},
                  "NullSessionOperations": {"type": ["array", "null"], "items": {"type": "string"}},
              }}
    server = {"type": "object", "properties": {
        "name": {"type": "string"}, "workgroup": {"type": "string"}, "version": {"type": "string"},
        "listen": {"type": "array", "items": {"type": "string"}},
        "dialects": {"type": "array", "items": {"type": "string"}},
        "connections": {"type": "integer"}, "sessions": {"type": "integer"},
        "anonymous_sessions": {"type": "integer"}, "guest_sessions": {"type": "integer"},
        "user_sessions": {"type": "integer"}, "uptime_s": {"type": ["number", "null"]}}}
    managed = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
                "description": "a [[manager.servers]] name"},
               {"name": "path", "in": "path", "required": True, "schema": {"type": "string"},
                "description": "the managed server's API path after /api/ (may contain '/'), "
                               "e.g. sessions or sessions/0x3c"}]
    proxied = _ok("the managed server's answer, passed through")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "nullsmb Server Manager API",
            "version": "1",
            "description": "Sessions of a nullsmb SMB server, anonymous (null) sessions flagged; "
                           "close, block, shares, policy. Every path but this document needs "
                           "`Authorization: Bearer TOKEN` (the token file is printed at start-up); "
                           "the two event streams also accept `?access_token=TOKEN` (EventSource "
                           "cannot send headers).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": "server manager"}, {"name": "audit"}, {"name": "several servers"}],
        "paths": {
            "/api/openapi.json": {"get": {**_op("This document", {"200": _ok("OpenAPI 3.1")},
                                                op_id="openapi"), "security": []}},
            "/api/server": {"get": _op("Server name, version, listen addresses, session counts",
                                       {"200": _ok("server", {"$ref": "#/components/schemas/Server"}),
                                        **_errors()}, op_id="getServer")},
            "/api/sessions": {"get": _op(
                "Every session (a snapshot at most 0.5 s old)",
                {"200": _ok("snapshot", {"$ref": "#/components/schemas/Snapshot"}), **_errors()},
                params=[{"name": "anonymous", "in": "query", "required": False,
                         "description": "1: null sessions only", "schema": {"type": "string",
                                                                            "enum": ["0", "1"]}}],
                op_id="listSessions")},
            "/api/sessions/{id}": {
                "get": _op("One session and what it holds open (tree connects, files, pipes)",
                           {"200": _ok("session", detail), **_errors(400, 404)},
                           params=[_SESSION_ID], op_id="getSession"),
                "delete": _op(
                    "Close the session's connection (every session on it: opens closed, logoff "
                    "audited with reason admin_close); with block, refuse the same principal from "
                    "the same address at session setup until the block expires",
                    {"200": _ok("closed", {"type": "object", "properties": {
                        "closed": {"type": "array", "items": {"type": "string"}},
                        "client": {"type": "string"},
                        "block": {"oneOf": [{"$ref": "#/components/schemas/Block"}, {"type": "null"}]}}}),
                     **_errors(400, 404, 409)},
                    params=[_SESSION_ID, {"name": "block", "in": "query", "required": False,
                                          "description": "seconds to refuse the reconnect",
                                          "schema": {"type": "number", "exclusiveMinimum": 0}}],
                    op_id="closeSession"),
            },
            "/api/blocks": {"get": _op("Active blocks", {"200": _ok("blocks", {
                "type": "object", "properties": {"blocks": {"type": "array", "items": {
                    "$ref": "#/components/schemas/Block"}}}}), **_errors()}, op_id="listBlocks")},
            "/api/blocks/{key}": {"delete": _op(
                "Lift a block", {"200": _ok("lifted"), **_errors(404)},
                params=[{"name": "key", "in": "path", "required": True, "schema": {"type": "string"},
                         "description": "a block id, e.g. anonymous@127.0.0.1"}],
                op_id="liftBlock")},
            "/api/shares": {"get": _op("Shares, access lists, and whether null sessions may connect",
                                       {"200": _ok("shares"), **_errors()}, op_id="listShares")},
            "/api/policy": {
                "get": _op("The null-session policy in force",
                           {"200": _ok("policy", {"type": "object", "properties": {
                               "policy": {"$ref": "#/components/schemas/Policy"}}}), **_errors()},
                           op_id="getPolicy"),
                "put": _op("Change policy settings (keys not given keep their value); validated like "
                           "the config file; audited as event 4657 per changed setting; open "
                           "sessions see it on their next request",
                           {"200": _ok("the new policy and the changed names"), **_errors(400)},
                           body={"required": True, "content": {"application/json": {
                               "schema": {"$ref": "#/components/schemas/Policy"}}}},
                           op_id="putPolicy"),
            },
            "/api/audit": {"get": _op(
                "The last `limit` audit events (default 100) of the audit log and its rotated "
                "copies that match: user (NAME or DOMAIN\\NAME), event_id (4624,4625), since (1h, "
                "30m, 2026-11-25T10:00), anonymous=1, client (address or network); 503 when the "
                "log goes to standard output only",
                {"200": _ok("events", {"type": "object", "properties": {
                    "events": {"type": "array", "items": {"type": "object"}},
                    "count": {"type": "integer"}, "limit": {"type": "integer"}}}),
                 **_errors(400, 503)},
                params=[{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                        for n in ("user", "event_id", "since", "limit", "anonymous", "client")],
                op_id="queryAudit", tags=("audit",))},
            "/api/audit/stream": {"get": _op(
                "New audit events as server-sent events (`event: audit`, one JSON event each; "
                "`event: lost` when a slow reader missed some); the same filters as /api/audit",
                {"200": {"description": "event stream", "content": _SSE}, **_errors(400, 503)},
                params=[{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                        for n in ("access_token", "user", "event_id", "since", "anonymous", "client")],
                op_id="streamAudit", tags=("audit",))},
            "/api/events": {"get": _op(
                "Server-sent events: `event: snapshot` with the /api/sessions document, at once, "
                "on every change and at least once a second",
                {"200": {"description": "event stream", "content": _SSE}, **_errors()},
                params=[{"name": "access_token", "in": "query", "required": False,
                         "schema": {"type": "string"}}],
                op_id="events")},
            "/api/servers": {"get": _op(
                "This server and the [[manager.servers]] of its config, with reachability",
                {"200": _ok("servers"), **_errors()}, op_id="listServers", tags=("several servers",))},
            "/api/servers/{name}/{path}": {
                method: _op(f"{method.upper()} /api/PATH on a managed server (its token is added)",
                            {"200": proxied, **_errors(400, 404, 502)}, params=managed,
                            op_id=f"proxy{method.capitalize()}", tags=("several servers",))
                for method in ("get", "put", "delete")
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": {"type": "string"}}},
                "Session": session, "Snapshot": snapshot, "Block": block, "Policy": policy,
                "Server": server,
            },
        },
    }
