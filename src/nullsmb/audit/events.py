"""Typed audit events (design.md §5): Windows event IDs, one flat JSON object per event.

Rules:
1. Every event has the envelope ``time`` (RFC 3339 UTC with µs, from the injected clock at emit
   time), ``event_id``, ``event``, ``outcome`` (``success``|``failure``) and ``server`` (the
   NetBIOS name), then the common session fields, then the fields of its type (``SCHEMA``).
2. No secret ever appears: a field whose name suggests a hash, password, key, response, token,
   challenge or secret is dropped wherever it is (nested too), and so is every ``bytes`` value.
3. Building an event never raises in production: a missing field gets its type's empty value and
   a field of the wrong type is coerced; ``problems()`` lists what was wrong, for tests and strict
   mode.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import PurePath
from typing import Any, Iterable, Mapping

__all__ = [
    "ANONYMOUS_SID", "COMMON_FIELDS", "ENVELOPE", "EVENT_IDS", "EVENT_NAMES", "EventType", "LOST_EVENT",
    "SCHEMA", "build_event", "format_time", "is_secret_name", "lost_event", "parse_event_ids",
    "parse_time", "problems", "sanitize",
]

#: The common fields of design.md §5 and their types, in output order.
COMMON_FIELDS: tuple[tuple[str, type], ...] = (
    ("session_id", str),
    ("user", str),
    ("domain", str),
    ("sid", str),
    ("anonymous", bool),
    ("guest", bool),
    ("client_ip", str),
    ("client_port", int),
    ("workstation", str),
    ("dialect", str),
)
ANONYMOUS_SID = "S-1-5-7"
ENVELOPE = ("time", "event_id", "event", "outcome", "server")
OUTCOMES = ("success", "failure")
REASONS = ("client", "admin_close", "idle", "disconnect")


@dataclass(frozen=True, slots=True)
class EventType:
    """One kind of event: its Windows ID, name and the fields of its own (name → type)."""

    event_id: int
    name: str
    fields: tuple[tuple[str, type], ...]
    session: bool = True  # carries the common session fields (policy changes need not)
    required: tuple[str, ...] = ()  # fields that must be given (the others default to empty)


_STR, _INT, _BOOL, _NUM = str, int, bool, float
_OPT = object  # any JSON value, null when not given (an information level: 0 is a level of its own)

SCHEMA: dict[str, EventType] = {
    t.name: t
    for t in (
        EventType(4624, "logon", (("logon_type", _INT), ("auth_package", _STR), ("lm_package", _STR),
                                  ("signing", _BOOL), ("encryption", _BOOL)),
                  required=("user",)),
        EventType(4625, "logon_failed", (("status", _STR), ("sub_status", _STR),
                                         ("failure_reason", _STR)),
                  required=("status",)),
        EventType(4634, "logoff", (("duration_s", _NUM), ("reason", _STR)), required=("reason",)),
        EventType(5140, "share_access", (("share", _STR), ("share_path", _STR), ("access_mask", _STR),
                                         ("status", _STR), ("rule", _STR)),
                  required=("share",)),
        EventType(5145, "object_access", (("share", _STR), ("target", _STR), ("access_mask", _STR),
                                          ("status", _STR), ("rule", _STR)),
                  required=("target",)),
        EventType(5712, "rpc_call", (("interface", _STR), ("opnum", _INT), ("operation", _STR),
                                     ("status", _STR), ("rule", _STR), ("level", _OPT), ("returned", _INT)),
                  required=("interface", "operation")),
        EventType(4657, "policy_change", (("setting", _STR), ("old", object), ("new", object),
                                          ("by", _STR)),
                  session=False, required=("setting",)),
        # Windows 1101: "Audit events have been dropped by the transport."
        EventType(1101, "audit_events_lost", (("lost", _INT), ("since", _STR), ("until", _STR),
                                              ("sink", _STR)),
                  session=False, required=("lost",)),
    )
}
EVENT_IDS: dict[str, int] = {name: t.event_id for name, t in SCHEMA.items()}
EVENT_NAMES: dict[int, str] = {t.event_id: name for name, t in SCHEMA.items()}
LOST_EVENT = "audit_events_lost"

# -- secrets ------------------------------------------------------------------------------------------

_SECRET_RE = re.compile(
    r"hash|passw|pwd|secret|key|response|token|challenge|credential|nonce|signature|ticket|cookie",
    re.IGNORECASE,
)
_ALLOWED_NAMES = frozenset(
    name for t in SCHEMA.values() for name, _ in t.fields
) | {name for name, _ in COMMON_FIELDS} | set(ENVELOPE)
_MAX_STRING = 4096
_MAX_DEPTH = 4


def is_secret_name(name: str) -> bool:
    """True when a field called ``name`` might hold a secret (and so is never written)."""
    return name not in _ALLOWED_NAMES and bool(_SECRET_RE.search(name))


def _clean_value(value: Any, depth: int) -> tuple[bool, Any]:
    """(keep, JSON-safe value): bytes are dropped, enums and paths become plain values."""
    if value is None or isinstance(value, bool):
        return True, value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return False, None
    if isinstance(value, enum.Enum):
        value = value.name if not isinstance(value, int) else int(value)
        return True, value
    if isinstance(value, int):
        return True, int(value)
    if isinstance(value, float):
        return True, value if math.isfinite(value) else None
    if isinstance(value, str):
        return True, value if len(value) <= _MAX_STRING else value[:_MAX_STRING] + "…"
    if isinstance(value, PurePath):
        return True, str(value)
    if isinstance(value, datetime):
        return True, format_time(value.timestamp())
    if depth >= _MAX_DEPTH:
        return True, str(value)[:_MAX_STRING]
    if isinstance(value, Mapping):
        return True, sanitize(value, _depth=depth + 1)
    if isinstance(value, (list, tuple, set, frozenset)):
        out = []
        for item in value:
            keep, clean = _clean_value(item, depth + 1)
            if keep:
                out.append(clean)
        return True, out
    return True, str(value)[:_MAX_STRING]


_PLAIN = frozenset({str, int, bool, float, type(None)})
_secret_cache: dict[str, bool] = {}


def _is_secret_cached(name: str) -> bool:
    secret = _secret_cache.get(name)
    if secret is None:
        secret = is_secret_name(name)
        if len(_secret_cache) < 4096:
            _secret_cache[name] = secret
    return secret


def sanitize(fields: Mapping[str, Any], *, _depth: int = 0) -> dict[str, Any]:
    """A JSON-safe copy of ``fields`` without anything that might be a secret (rule 2)."""
    out: dict[str, Any] = {}
    cached = _secret_cache.get
    for name, value in fields.items():
        if type(name) is not str:
            name = str(name)
        secret = cached(name)
        if secret is None:
            secret = _is_secret_cached(name)
        if secret:
            continue
        kind = type(value)
        if kind in _PLAIN and (kind is not str or len(value) <= _MAX_STRING) \
                and (kind is not float or math.isfinite(value)):
            out[name] = value  # the common case, kept cheap: emit runs on the event loop
            continue
        keep, clean = _clean_value(value, _depth)
        if keep:
            out[name] = clean
    return out


# -- time ---------------------------------------------------------------------------------------------

_second_cache: list[Any] = [None, ""]


def format_time(t: float) -> str:
    """Unix seconds → RFC 3339 UTC with microseconds: ``2026-11-25T10:00:00.123456Z``."""
    micros = round(t * 1_000_000)
    second, micro = divmod(micros, 1_000_000)
    cache = _second_cache
    if cache[0] != second:  # strftime once per second, not once per event
        cache[1] = datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        cache[0] = second
    return f"{cache[1]}.{micro:06d}Z"


def parse_time(text: str) -> datetime | None:
    """RFC 3339 (``Z`` or an offset; Samba's ``+0000`` too) → aware datetime; None if unreadable."""
    try:
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        elif len(text) > 5 and text[-5] in "+-" and text[-3] != ":" and text[-4:].isdigit():
            text = text[:-2] + ":" + text[-2:]
        value = datetime.fromisoformat(text)
    except (ValueError, TypeError, AttributeError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# -- building -----------------------------------------------------------------------------------------

_MISSING: Any = object()


def _empty(kind: type) -> Any:
    if kind is object:
        return None
    return kind()


def _coerce(value: Any, kind: type) -> Any:
    if kind is object or value is None:
        return value
    if kind is bool:
        return bool(value)
    if kind is float:
        if isinstance(value, bool):
            return float(value)
        return float(value) if isinstance(value, (int, float)) else value
    if kind is int:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str):
            try:
                return int(value, 0)
            except ValueError:
                return value
        return int(value) if isinstance(value, (int, float)) else value
    if kind is str:
        if isinstance(value, int) and not isinstance(value, bool):
            return f"0x{value & 0xFFFFFFFF:08X}"  # a raw NTSTATUS/WERROR, as NtStatus.name_of shows it
        return value if isinstance(value, str) else str(value)
    return value


def _outcome(fields: Mapping[str, Any]) -> str:
    outcome = fields.get("outcome")
    if outcome in OUTCOMES:
        return str(outcome)
    status = fields.get("status")
    if status in (None, "", "STATUS_SUCCESS", "NT_STATUS_OK", "WERR_OK", "ERROR_SUCCESS", 0):
        return "success"
    return "failure"


def build_event(event: str, fields: Mapping[str, Any], *, time: float, server: str) -> dict[str, Any]:
    """The event as written: envelope, common fields, the type's fields, then any others given.

    Never raises for bad input (rule 3); unknown event names are kept with ``event_id`` 0 unless
    the caller gave one.
    """
    clean = sanitize(fields)
    kind = SCHEMA.get(event)
    record: dict[str, Any] = {
        "time": format_time(time),
        "event_id": kind.event_id if kind else _coerce(clean.get("event_id", 0), int),
        "event": event,
        "outcome": _outcome(clean),
        "server": server,
    }
    get = clean.get
    if kind is None or kind.session:
        for name, typ in COMMON_FIELDS:
            value = get(name, _MISSING)
            record[name] = _empty(typ) if value is _MISSING else (
                value if type(value) is typ else _coerce(value, typ))
    if kind is not None:
        for name, typ in kind.fields:
            value = get(name, _MISSING)
            record[name] = _empty(typ) if value is _MISSING else (
                value if type(value) is typ else _coerce(value, typ))
    for name, value in clean.items():
        if name not in record and name not in ENVELOPE:
            record[name] = value
    return record


def problems(event: str, fields: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``fields`` for ``event`` (empty when it matches the schema)."""
    kind = SCHEMA.get(event)
    if kind is None:
        return [f"unknown event {event!r}"]
    found: list[str] = []
    if "event_id" in fields and fields["event_id"] != kind.event_id:
        found.append(f"{event}: event_id {fields['event_id']!r} is not {kind.event_id}")
    if "outcome" in fields and fields["outcome"] not in OUTCOMES:
        found.append(f"{event}: outcome {fields['outcome']!r} is not success|failure")
    common = dict(COMMON_FIELDS) if kind.session else {}
    expected = list(kind.fields) + list(common.items())
    for name, typ in expected:
        if name not in fields:
            if name in kind.required or name in common:
                found.append(f"{event}: missing {name}")
            continue
        value = fields[name]
        if typ is object or (value is None and name not in common):  # None: not applicable
            continue
        if name in ("status", "sub_status") and isinstance(value, int) and not isinstance(value, bool):
            continue  # a raw NTSTATUS/WERROR is written as 0xXXXXXXXX
        ok = isinstance(value, typ) if typ is not int else (isinstance(value, int)
                                                           and not isinstance(value, bool))
        if typ is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            found.append(f"{event}: {name} must be {typ.__name__}, not {type(value).__name__}")
    if event == "logoff" and fields.get("reason") not in REASONS:
        found.append(f"logoff: reason {fields.get('reason')!r} is not one of {', '.join(REASONS)}")
    for name, value in fields.items():
        if is_secret_name(str(name)):
            found.append(f"{event}: {name} looks like a secret and is never written")
        elif isinstance(value, (bytes, bytearray, memoryview)):
            found.append(f"{event}: {name} is bytes, which is never written")
    return found


def lost_event(lost: int, since: float | None, until: float | None, *, time: float, server: str,
               sink: str = "") -> dict[str, Any]:
    """The one event written when a sink recovers: how many events it lost, and when."""
    return build_event(LOST_EVENT, {
        "outcome": "failure", "lost": lost,
        "since": format_time(since) if since is not None else "",
        "until": format_time(until) if until is not None else "",
        "sink": sink,
    }, time=time, server=server)


def parse_event_ids(spec: Iterable[str]) -> set[int]:
    """``["4624", "share_access"]`` → {4624, 5140}; raises ValueError naming a bad item."""
    out: set[int] = set()
    for item in spec:
        item = item.strip()
        if not item:
            continue
        if item.isdigit():
            out.add(int(item))
        elif item in EVENT_IDS:
            out.add(EVENT_IDS[item])
        else:
            raise ValueError(f"unknown event {item!r} (use IDs such as 4624 or names such as "
                             f"{', '.join(sorted(EVENT_IDS))})")
    return out
