"""Reading the audit log back: rotated files in time order, filters, ``--since``, follow, summary.

Rules:
1. ``audit.jsonl.N`` (and ``audit.jsonl.N.gz``, as logrotate's ``compress`` leaves them) are read
   oldest first (highest N first), then ``audit.jsonl`` itself.
2. Lines in Samba's ``auth_json_audit`` envelope (``format = "samba"``) are read back into our
   field names, so every filter works on both formats. Lines that are not JSON objects are
   skipped and counted, never fatal.
3. Naive times given to ``--since`` are local time (as ``journalctl --since``); the log is UTC.
"""

from __future__ import annotations

import gzip
import io
import ipaddress
import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

from .events import ANONYMOUS_SID, EVENT_NAMES, parse_time

__all__ = [
    "ClientSummary", "Filter", "follow", "log_files", "normalize", "parse_since", "read_events",
    "summarize",
]

_ROTATED = re.compile(r"^(?P<base>.+)\.(?P<n>\d+)(?P<gz>\.gz)?$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hour|hours|d|day|days|w|week|weeks)\s*$",
                       re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "hours": 3600,
                 "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800,
                 "weeks": 604800}


# -- files --------------------------------------------------------------------------------------------

def log_files(path: str | os.PathLike[str]) -> list[Path]:
    """The log and its rotated copies that exist, oldest first (rule 1)."""
    base = Path(path)
    rotated: list[tuple[int, int, Path]] = []
    parent = base.parent if str(base.parent) else Path(".")
    try:
        names = os.listdir(parent)
    except OSError:
        names = []
    for name in names:
        m = _ROTATED.match(name)
        if m and m.group("base") == base.name:
            rotated.append((int(m.group("n")), 0 if m.group("gz") else 1, parent / name))
    files = [p for _n, _gz, p in sorted(rotated, key=lambda t: (-t[0], t[1]))]
    if base.exists():
        files.append(base)
    return files


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _samba_address(text: Any) -> tuple[str, int]:
    # "ipv4:127.0.0.1:51234" or "ipv6:::1:51234"
    if not isinstance(text, str) or ":" not in text:
        return "", 0
    _family, _, rest = text.partition(":")
    host, _, port = rest.rpartition(":")
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        return rest, 0


def normalize(obj: Any) -> dict[str, Any] | None:
    """A log line's object in our field names (rule 2); None when it is not an event."""
    if not isinstance(obj, dict):
        return None
    if obj.get("type") == "Authentication" and isinstance(obj.get("Authentication"), dict):
        auth = obj["Authentication"]
        event_id = int(auth.get("eventId") or 0)
        ok = event_id == 4624
        ip, port = _samba_address(auth.get("remoteAddress"))
        sid = auth.get("becameSid") or ""
        status = str(auth.get("status") or "")
        timestamp = parse_time(str(obj.get("timestamp", "")))
        return {
            "time": timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if timestamp else "",
            "event_id": event_id,
            "event": EVENT_NAMES.get(event_id, "authentication"),
            "outcome": "success" if ok else "failure",
            "server": "",
            "session_id": "0x" + str(auth.get("logonId") or "0"),
            "user": (auth.get("becameAccount") if ok else auth.get("clientAccount")) or "",
            "domain": (auth.get("becameDomain") if ok else auth.get("clientDomain")) or "",
            "sid": sid,
            "anonymous": sid == ANONYMOUS_SID,
            "guest": False,
            "client_ip": ip,
            "client_port": port,
            "workstation": auth.get("workstation") or "",
            "status": status[3:] if status.startswith("NT_STATUS_") else status,
            "format": "samba",
        }
    if "event_id" not in obj and "event" not in obj:
        return None
    return obj


def read_events(path: str | os.PathLike[str], *, since: datetime | None = None,
                bad_lines: Counter[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every event of the log and its rotated copies, oldest first. With ``since``, rotated files
    last written before it are skipped unread."""
    for file in log_files(path):
        if since is not None and file != Path(path):
            try:
                if os.stat(file).st_mtime < since.timestamp() - 1:
                    continue
            except OSError:
                continue
        try:
            handle = _open_text(file)
        except OSError:
            continue
        with handle:
            try:
                for line in handle:
                    record = _parse_line(line)
                    if record is not None:
                        yield record
                    elif line.strip() and bad_lines is not None:
                        bad_lines[str(file)] += 1
            except (OSError, EOFError, gzip.BadGzipFile):  # a truncated .gz: what was read stands
                if bad_lines is not None:
                    bad_lines[str(file)] += 1


def _parse_line(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line:
        return None
    try:
        return normalize(json.loads(line))
    except ValueError:
        return None


# -- filters ------------------------------------------------------------------------------------------

def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``1h``, ``30m``, ``2d``, ``90s``, ``1w`` ago, or a date/time (``2026-11-25``,
    ``2026-11-25T10:00``, ``2026-11-25 10:00:00``, with ``Z`` or an offset, else local time).
    Raises ValueError with a message for the user."""
    now = now or datetime.now(timezone.utc)
    m = _DURATION.match(text)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()])
    candidate = text.strip().replace(" ", "T", 1)
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(candidate)
    except ValueError:
        raise ValueError(f"--since {text!r}: use a duration such as 30m, 1h, 2d or a time such as "
                         "2026-11-25T10:00") from None
    if value.tzinfo is None:
        value = value.astimezone()  # naive: local time (rule 3)
    return value.astimezone(timezone.utc)


def _ip_matcher(spec: str) -> Callable[[str], bool]:
    spec = spec.strip()
    try:
        net = ipaddress.ip_network(spec, strict=False)
    except ValueError:
        return lambda ip: ip == spec

    def match(ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip.split("%")[0]) in net
        except ValueError:
            return False

    return match


@dataclass
class Filter:
    """Which events to show; every given condition must hold."""

    anonymous: bool = False
    guest: bool = False
    user: str | None = None
    client: str | None = None  # an address or a network (10.0.0.0/8)
    events: set[int] | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    _client_match: Callable[[str], bool] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.client:
            self._client_match = _ip_matcher(self.client)

    def __call__(self, record: dict[str, Any]) -> bool:
        if self.anonymous and not record.get("anonymous"):
            return False
        if self.guest and not record.get("guest"):
            return False
        if self.user is not None:
            want = self.user.casefold()
            user = str(record.get("user") or "").casefold()
            qualified = f"{record.get('domain') or ''}\\{record.get('user') or ''}".casefold()
            if want not in (user, qualified):
                return False
        if self._client_match is not None and not self._client_match(str(record.get("client_ip") or "")):
            return False
        if self.events is not None and record.get("event_id") not in self.events:
            return False
        if self.outcome is not None and record.get("outcome") != self.outcome:
            return False
        if self.since is not None or self.until is not None:
            when = parse_time(str(record.get("time") or ""))
            if when is None:
                return False
            if self.since is not None and when < self.since:
                return False
            if self.until is not None and when > self.until:
                return False
        return True


# -- follow -------------------------------------------------------------------------------------------

def follow(path: str | os.PathLike[str], *, from_start: bool = False, offset: int | None = None,
           poll: float = 0.25,
           stop: Callable[[], bool] | None = None,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[dict[str, Any]]:
    """New events as they are appended, like ``tail -F``: survives rotation (the rest of the old
    file is read before the new one is opened) and truncation. Ends when ``stop()`` is true.
    Starts at the end of the file, at its beginning (``from_start``), or at ``offset`` (the size
    it had when the caller read it, so nothing written since is missed)."""
    path = Path(path)
    handle: IO[bytes] | None = None
    inode: tuple[int, int] | None = None
    pending = b""

    def lines() -> Iterator[dict[str, Any]]:
        nonlocal pending
        assert handle is not None
        data = handle.read()
        if not data:
            return
        pending += data
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            record = _parse_line(raw.decode("utf-8", "replace"))
            if record is not None:
                yield record

    first = True
    while True:
        if handle is None:
            try:
                handle = open(path, "rb")
                st = os.fstat(handle.fileno())
                inode = (st.st_dev, st.st_ino)
                if first and offset is not None and offset <= st.st_size:
                    handle.seek(offset)
                elif first and not from_start:
                    handle.seek(0, os.SEEK_END)
                pending = b""
            except FileNotFoundError:
                handle = None
            first = False
        if handle is not None:
            got = False
            for record in lines():
                got = True
                yield record
            if not got:
                try:
                    st = os.stat(path)
                    now_inode: tuple[int, int] | None = (st.st_dev, st.st_ino)
                except FileNotFoundError:
                    st, now_inode = None, None
                if now_inode != inode:  # rotated: finish the old file, then start the new one
                    yield from lines()
                    handle.close()
                    handle = None
                    continue
                if st is not None and st.st_size < handle.tell():  # truncated
                    handle.seek(0)
                    pending = b""
                    continue
        if stop is not None and stop():
            if handle is not None:
                handle.close()
            return
        sleep(poll)


# -- summary ------------------------------------------------------------------------------------------

def _share_name(value: Any) -> str:
    text = str(value or "")
    return text.rsplit("\\", 1)[-1] if "\\" in text else text


@dataclass
class ClientSummary:
    """What one anonymous client reached."""

    client_ip: str
    first: str = ""
    last: str = ""
    sessions: int = 0
    workstations: set[str] = field(default_factory=set)
    shares: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)  # "share\\path"
    pipes: set[str] = field(default_factory=set)
    rpc: Counter[str] = field(default_factory=Counter)  # "interface.operation" → calls
    returned: int = 0
    denials: Counter[str] = field(default_factory=Counter)  # "what (rule)" → count

    @property
    def denied(self) -> int:
        return sum(self.denials.values())

    @property
    def reached_anything(self) -> bool:
        return bool(self.shares or self.files or self.pipes or self.rpc)

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_ip": self.client_ip, "first": self.first, "last": self.last,
            "sessions": self.sessions, "workstations": sorted(self.workstations),
            "shares": sorted(self.shares), "files": sorted(self.files), "pipes": sorted(self.pipes),
            "rpc": dict(sorted(self.rpc.items())), "returned": self.returned,
            "denied": self.denied, "denials": dict(sorted(self.denials.items())),
        }


def summarize(records: Iterable[dict[str, Any]]) -> list[ClientSummary]:
    """Per anonymous client: sessions, shares, files, pipes, RPC operations, items returned,
    denials. Clients in order of first appearance."""
    clients: dict[str, ClientSummary] = {}
    for r in records:
        if not r.get("anonymous"):
            continue
        ip = str(r.get("client_ip") or "?")
        c = clients.get(ip)
        if c is None:
            c = clients[ip] = ClientSummary(ip)
        when = str(r.get("time") or "")
        if when:
            c.first = c.first or when
            c.last = when
        if r.get("workstation"):
            c.workstations.add(str(r["workstation"]))
        event_id = r.get("event_id")
        ok = r.get("outcome") == "success"
        share = _share_name(r.get("share"))
        rule = r.get("rule") or r.get("status") or ""
        if event_id == 4624 and ok:
            c.sessions += 1
        elif event_id == 5140:
            if ok:
                c.shares.add(share)
            else:
                c.denials[f"share {share} ({rule})"] += 1
        elif event_id == 5145:
            target = str(r.get("target") or "")
            is_pipe = share.upper() == "IPC$"
            if ok:
                if is_pipe:
                    c.pipes.add(target)
                else:
                    c.files.add(f"{share}\\{target.lstrip(chr(92))}")
            else:
                what = f"pipe {target}" if is_pipe else f"file {share}\\{target.lstrip(chr(92))}"
                c.denials[f"{what} ({rule})"] += 1
        elif event_id == 5712:
            op = f"{r.get('interface') or '?'}.{r.get('operation') or r.get('opnum') or '?'}"
            if ok:
                c.rpc[op] += 1
                try:
                    c.returned += int(r.get("returned") or 0)
                except (TypeError, ValueError):
                    pass
            else:
                c.denials[f"rpc {op} ({rule})"] += 1
    return list(clients.values())
