"""Typed audit events: envelope, schema, time format, secrets never written."""

from __future__ import annotations

import enum
import json
from pathlib import PurePosixPath

import pytest

from nullsmb.audit.events import (
    ANONYMOUS_SID, COMMON_FIELDS, EVENT_IDS, SCHEMA, build_event, format_time, is_secret_name,
    lost_event, parse_event_ids, parse_time, problems, sanitize,
)

T = 1_795_600_800.123456  # 2026-11-25T10:00:00.123456Z

ANON = {
    "session_id": "0x0000040000000001", "user": "ANONYMOUS LOGON", "domain": "NT AUTHORITY",
    "sid": ANONYMOUS_SID, "anonymous": True, "guest": False, "client_ip": "127.0.0.1",
    "client_port": 51234, "workstation": "WS1", "dialect": "3.1.1",
}

EXAMPLES = {
    "logon": dict(event_id=4624, outcome="success", **ANON, logon_type=3, auth_package="NTLM",
                  lm_package="-", signing=False, encryption=False),
    "logon_failed": dict(event_id=4625, outcome="failure", **ANON, status="STATUS_LOGON_FAILURE",
                         sub_status="STATUS_WRONG_PASSWORD", failure_reason="bad password"),
    "logoff": dict(event_id=4634, outcome="success", **ANON, duration_s=1.5, reason="client"),
    "share_access": dict(event_id=5140, outcome="failure", **ANON, share="\\\\*\\data",
                         share_path="/srv/data", access_mask="0x0", status="STATUS_ACCESS_DENIED",
                         rule="NullSessionShares"),
    "object_access": dict(event_id=5145, outcome="success", **ANON, share="\\\\*\\IPC$",
                          target="srvsvc", access_mask="0x12019f", status="STATUS_SUCCESS",
                          rule="NullSessionPipes"),
    "rpc_call": dict(event_id=5712, outcome="success", **ANON, interface="srvsvc", opnum=15,
                     operation="NetrShareEnum", status="WERR_OK", rule="RestrictAnonymous",
                     returned=3),
    "policy_change": dict(event_id=4657, outcome="success", setting="RestrictAnonymous", old=0,
                          new=1, by="SIGHUP reload"),
}


def test_every_windows_event_has_a_schema() -> None:
    assert EVENT_IDS == {"logon": 4624, "logon_failed": 4625, "logoff": 4634, "share_access": 5140,
                         "object_access": 5145, "rpc_call": 5712, "policy_change": 4657,
                         "audit_events_lost": 1101}
    assert set(EXAMPLES) | {"audit_events_lost"} == set(SCHEMA)


@pytest.mark.parametrize("event", sorted(EXAMPLES))
def test_examples_match_the_schema(event: str) -> None:
    assert problems(event, EXAMPLES[event]) == []


@pytest.mark.parametrize("event", sorted(EXAMPLES))
def test_envelope_then_common_then_own_fields(event: str) -> None:
    record = build_event(event, EXAMPLES[event], time=T, server="NULLSMB")
    keys = list(record)
    assert keys[:5] == ["time", "event_id", "event", "outcome", "server"]
    assert record["time"] == "2026-11-25T10:00:00.123456Z"
    assert record["event_id"] == EVENT_IDS[event]
    assert record["event"] == event
    assert record["server"] == "NULLSMB"
    if SCHEMA[event].session:
        assert keys[5:15] == [name for name, _ in COMMON_FIELDS]
    assert [k for k in keys if k in dict(SCHEMA[event].fields)] == [n for n, _ in SCHEMA[event].fields]
    json.dumps(record)  # JSON-safe


def test_anonymous_fields_survive() -> None:
    record = build_event("logon", EXAMPLES["logon"], time=T, server="S")
    assert (record["user"], record["domain"], record["sid"], record["anonymous"], record["guest"]) == (
        "ANONYMOUS LOGON", "NT AUTHORITY", "S-1-5-7", True, False)


def test_time_is_rfc3339_utc_microseconds() -> None:
    assert format_time(0) == "1970-01-01T00:00:00.000000Z"
    assert format_time(T) == "2026-11-25T10:00:00.123456Z"
    assert parse_time("2026-11-25T10:00:00.123456Z").timestamp() == pytest.approx(T)
    assert parse_time("2026-11-25T10:00:00.123456+0000").timestamp() == pytest.approx(T)  # Samba's
    assert parse_time("garbage") is None


def test_missing_fields_get_empty_values_and_are_reported() -> None:
    record = build_event("share_access", {"share": "x"}, time=T, server="S")
    assert record["user"] == "" and record["anonymous"] is False and record["client_port"] == 0
    assert record["outcome"] == "success"
    found = problems("share_access", {"share": "x"})
    assert "share_access: missing user" in found


def test_outcome_follows_status_when_not_given() -> None:
    record = build_event("object_access", {"target": "a", "status": "STATUS_ACCESS_DENIED"}, time=T, server="S")
    assert record["outcome"] == "failure"


def test_wrong_types_are_coerced_and_reported() -> None:
    fields = dict(EXAMPLES["rpc_call"], returned="7", opnum=True)
    record = build_event("rpc_call", fields, time=T, server="S")
    assert record["returned"] == 7 and record["opnum"] == 1
    assert any("returned must be int" in p for p in problems("rpc_call", fields))


def test_bad_logoff_reason_is_reported() -> None:
    assert problems("logoff", dict(EXAMPLES["logoff"], reason="bored")) == [
        "logoff: reason 'bored' is not one of client, admin_close, idle, disconnect"]


def test_unknown_event_is_kept_but_reported() -> None:
    record = build_event("something_new", {"event_id": 9999, "x": 1}, time=T, server="S")
    assert record["event_id"] == 9999 and record["x"] == 1
    assert problems("something_new", {}) == ["unknown event 'something_new'"]


@pytest.mark.parametrize("name", [
    "nt_hash", "password", "Password", "session_key", "exported_session_key", "nt_response",
    "lm_response", "token", "security_token", "server_challenge", "secret", "signing_key",
    "credentials", "client_nonce",
])
def test_secret_names_are_dropped(name: str) -> None:
    assert is_secret_name(name)
    record = build_event("logon", dict(EXAMPLES["logon"], **{name: "c2VjcmV0"}), time=T, server="S")
    assert name not in record
    assert any("looks like a secret" in p for p in problems("logon", {**EXAMPLES["logon"], name: "x"}))


def test_schema_fields_are_never_mistaken_for_secrets() -> None:
    for kind in SCHEMA.values():
        for name, _ in kind.fields:
            assert not is_secret_name(name)
    for name, _ in COMMON_FIELDS:
        assert not is_secret_name(name)


def test_bytes_values_are_never_written_nested_secrets_neither() -> None:
    fields = dict(EXAMPLES["logon"], blob=b"\x00secret", view=memoryview(b"x"),
                  extra={"ok": 1, "password": "p", "inner": {"nt_hash": "h", "raw": bytearray(b"x"), "n": [1, b"y"]}})
    record = build_event("logon", fields, time=T, server="S")
    assert "blob" not in record and "view" not in record
    assert record["extra"] == {"ok": 1, "inner": {"n": [1]}}
    line = json.dumps(record)
    assert "secret" not in line and "password" not in line


def test_sanitize_makes_values_json_safe() -> None:
    class Colour(enum.Enum):
        RED = "r"

    class Level(enum.IntEnum):
        TWO = 2

    clean = sanitize({"c": Colour.RED, "l": Level.TWO, "p": PurePosixPath("/a"), "f": float("nan"),
                      "s": {1, 2} and (1, 2), "o": object(), "long": "x" * 10_000})
    assert clean["c"] == "RED" and clean["l"] == 2 and type(clean["l"]) is int
    assert clean["p"] == "/a" and clean["f"] is None and clean["s"] == [1, 2]
    assert isinstance(clean["o"], str) and len(clean["long"]) <= 4097
    json.dumps(clean)


def test_lost_event() -> None:
    record = lost_event(42, T - 10, T - 1, time=T, server="S", sink="file:/x")
    assert record["event_id"] == 1101 and record["event"] == "audit_events_lost"
    assert record["outcome"] == "failure" and record["lost"] == 42
    assert record["since"] == "2026-11-25T09:59:50.123456Z"
    assert record["until"] == "2026-11-25T09:59:59.123456Z"
    assert "user" not in record  # not a session event


def test_parse_event_ids() -> None:
    assert parse_event_ids(["4624", " share_access", ""]) == {4624, 5140}
    with pytest.raises(ValueError, match="unknown event 'nope'"):
        parse_event_ids(["nope"])


def test_rpc_call_in_the_shape_the_rpc_layer_sends() -> None:
    fields = dict(event_id=5712, **ANON, interface="samr", opnum=64, operation="SamrConnect5",
                  status=0xC0000022, rule="RestrictAnonymousSAM", returned=None)
    assert problems("rpc_call", fields) == []  # returned None: not applicable
    record = build_event("rpc_call", fields, time=T, server="S")
    assert record["status"] == "0xC0000022" and record["outcome"] == "failure"
    assert record["returned"] is None


def test_rpc_level_is_null_when_the_call_has_none_and_kept_when_zero() -> None:
    base = dict(EXAMPLES["rpc_call"])
    assert build_event("rpc_call", base, time=T, server="S")["level"] is None  # LsarOpenPolicy2: no level
    assert build_event("rpc_call", dict(base, level=0), time=T, server="S")["level"] == 0  # NetrShareEnum level 0
    assert problems("rpc_call", dict(base, level=2)) == []
