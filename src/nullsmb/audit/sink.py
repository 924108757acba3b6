"""Where audit events go: a JSON Lines file rotated by size (or stdout) and RFC 5424 syslog.

Rules:
1. ``AuditLog.emit`` runs on the event loop and is cheap: it builds the event dict (the time comes
   from the injected clock) and appends it to each sink's bounded queue. It never blocks and
   never raises (but in ``strict`` mode, for tests, on a schema problem).
2. One writer task wakes at least every ``flush_interval`` (≤ 1 s) and whenever a queue grows
   past ``high_water``; it serialises and writes in one dedicated thread
   (``loop.run_in_executor``), so the event loop never waits for a disk or a socket. Writes are
   unbuffered ``os.write`` calls: once written, a line is in the file for every reader.
3. Nothing is lost while a sink works: ``await close()`` drains every queue before it returns.
4. Rotation by size, like logrotate's numbering: ``audit.jsonl`` → ``audit.jsonl.1`` → … →
   ``audit.jsonl.KEEP``; the oldest goes. A line never straddles two files.
5. When a sink fails (full disk, unwritable directory, syslog down), its events stay queued and
   the write is retried every ``retry_interval``; a full queue drops new events and counts them.
   A failed file write is cut back to the last whole line (``ftruncate``). Once the sink works
   again it writes its backlog and, where the gap is (after the events queued before the first
   drop), one ``audit_events_lost`` event (Windows 1101) saying how many events it lost and
   between which times. ``healthy`` is False from the failure until that event is written.
   With ``on_failure = "refuse_sessions"``, ``refusing`` is ``not healthy`` and the core refuses
   new sessions with STATUS_ACCESS_DENIED meanwhile (existing sessions go on).
6. ``format = "samba"`` writes 4624/4625 in Samba's ``auth_json_audit`` envelope (version 1.2),
   every other event in ours.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Callable
from urllib.parse import urlsplit

from .events import ANONYMOUS_SID, build_event, format_time, lost_event, problems

__all__ = ["AuditLog", "SinkError", "parse_syslog_url", "rfc5424", "to_samba"]

log = logging.getLogger("nullsmb.audit")

FACILITY_AUTHPRIV = 10  # RFC 5424 "security/authorization messages", the one auth.log keeps private
SEVERITY_WARNING, SEVERITY_NOTICE, SEVERITY_INFO = 4, 5, 6
SD_ID = "nullsmb@32473"  # 32473: the enterprise number RFC 5612 reserves for documentation
MAX_DATAGRAM = 65000
SAMBA_VERSION = {"major": 1, "minor": 2}


class SinkError(Exception):
    """A sink failed after writing ``written`` of the records it was given."""

    def __init__(self, written: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.written = written
        self.cause = cause


# -- serialisation (runs in the writer thread) ----------------------------------------------------

def _samba_status(record: dict[str, Any]) -> str:
    if record.get("event_id") == 4624:
        return "NT_STATUS_OK"
    status = str(record.get("status") or "STATUS_LOGON_FAILURE")
    return status if status.startswith(("NT_STATUS_", "0x")) else "NT_" + status


def _samba_address(ip: Any, port: Any) -> str | None:
    if not ip:
        return None
    family = "ipv6" if ":" in str(ip) else "ipv4"
    return f"{family}:{ip}:{int(port or 0)}"


def _samba_time(iso: str) -> str:
    # Samba: "%Y-%m-%dT%H:%M:%S.%06ld%z", e.g. 2026-11-25T10:00:00.123456+0000
    return iso[:-1] + "+0000" if iso.endswith("Z") else iso


def to_samba(record: dict[str, Any]) -> dict[str, Any] | None:
    """4624/4625 in Samba's ``auth_json_audit`` envelope; None for every other event."""
    event_id = record.get("event_id")
    if event_id not in (4624, 4625):
        return None
    ok = event_id == 4624
    anonymous = bool(record.get("anonymous")) or (ok and record.get("sid") == ANONYMOUS_SID)
    user, domain = record.get("user") or "", record.get("domain") or ""
    client_account = "" if anonymous else user
    client_domain = "" if anonymous else domain
    session_id = str(record.get("session_id") or "")
    auth = {
        "version": dict(SAMBA_VERSION),
        "eventId": event_id,
        "logonId": session_id[2:] if session_id.startswith("0x") else session_id or "0",
        "logonType": int(record.get("logon_type") or 3),
        "status": _samba_status(record),
        "localAddress": _samba_address(record.get("local_ip"), record.get("local_port")),
        "remoteAddress": _samba_address(record.get("client_ip"), record.get("client_port")),
        "serviceDescription": "SMB2",
        "authDescription": "NTLMSSP",
        "clientDomain": client_domain,
        "clientAccount": client_account,
        "workstation": record.get("workstation") or "",
        "becameAccount": user if ok else None,
        "becameDomain": domain if ok else None,
        "becameSid": (record.get("sid") or None) if ok else None,
        "mappedAccount": client_account if client_account else None,
        "mappedDomain": client_domain if client_account else None,
        "netlogonComputer": None,
        "netlogonTrustAccount": None,
        "netlogonNegotiateFlags": "0x00000000",
        "netlogonSecureChannelType": 0,
        "netlogonTrustAccountSid": None,
        "passwordType": "No-Password" if anonymous or not user else "NTLMv2",
    }
    return {"timestamp": _samba_time(str(record.get("time", ""))), "type": "Authentication",
            "Authentication": auth}


def to_json(record: dict[str, Any], fmt: str = "nullsmb", *, ascii_only: bool = False) -> str:
    """One event as one line of JSON (no newline)."""
    if fmt == "samba":
        envelope = to_samba(record)
        if envelope is not None:
            record = envelope
    return json.dumps(record, ensure_ascii=ascii_only, separators=(",", ":"), default=str)


def _sd_escape(value: Any) -> str:
    text = "true" if value is True else "false" if value is False else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


_SD_PARAMS = (("eventID", "event_id"), ("event", "event"), ("outcome", "outcome"),
              ("user", "user"), ("domain", "domain"), ("anonymous", "anonymous"),
              ("client", "client_ip"), ("session", "session_id"))


def rfc5424(record: dict[str, Any], payload: str, hostname: str) -> bytes:
    """``<PRI>1 TIMESTAMP HOST nullsmb - EVENTID [nullsmb@32473 …] JSON`` (RFC 5424)."""
    if record.get("event") == "audit_events_lost":
        severity = SEVERITY_WARNING
    elif record.get("outcome") == "failure":
        severity = SEVERITY_NOTICE
    else:
        severity = SEVERITY_INFO
    pri = FACILITY_AUTHPRIV * 8 + severity
    params = " ".join(f'{name}="{_sd_escape(record[key])}"' for name, key in _SD_PARAMS
                      if key in record and record[key] not in ("", None))
    msgid = str(record.get("event_id") or "-")
    line = (f"<{pri}>1 {record.get('time') or '-'} {hostname or '-'} nullsmb - {msgid} "
            f"[{SD_ID}{' ' + params if params else ''}] {payload}")
    data = line.encode("utf-8")
    return data[:MAX_DATAGRAM]


def parse_syslog_url(url: str) -> tuple[str, Any]:
    """``udp://HOST[:PORT]`` → ("udp", (host, port)); ``unix:///PATH`` → ("unix", path)."""
    parts = urlsplit(url)
    if parts.scheme == "udp":
        if not parts.hostname:
            raise ValueError(f"{url}: no host")
        return "udp", (parts.hostname, parts.port or 514)
    if parts.scheme == "unix":
        path = parts.path or parts.netloc
        if not path:
            raise ValueError(f"{url}: no path")
        return "unix", path
    raise ValueError(f'{url}: must be "udp://HOST[:PORT]" or "unix:///PATH"')


# -- sinks (their write methods run in the writer thread) -------------------------------------------

class _Sink:
    name = "sink"

    def __init__(self) -> None:
        self.queue: deque[dict[str, Any]] = deque()
        self.healthy = True
        self.error = ""
        self.failed_at: float | None = None
        self.written = 0
        self.lost = 0  # dropped and not yet reported
        self.lost_since: float | None = None
        self.lost_until: float | None = None
        self.lost_total = 0
        self.lost_at: int | None = None  # queue index where the loss happened (marker goes there)
        self.next_try = 0.0
        self.busy = False

    def lose(self, t: float, n: int = 1) -> None:
        if not self.lost:
            self.lost_at = len(self.queue)
        self.lost += n
        self.lost_total += n
        self.lost_since = t if self.lost_since is None else min(self.lost_since, t)
        self.lost_until = t if self.lost_until is None else max(self.lost_until, t)

    def open(self) -> None:
        """Make sure the sink can be written (raises OSError)."""

    def write(self, records: list[dict[str, Any]], texts: Callable[[dict[str, Any]], str]) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Flush to stable storage and release the sink."""

    def stats(self) -> dict[str, Any]:
        return {
            "name": self.name, "healthy": self.healthy, "error": self.error,
            "failed_since": format_time(self.failed_at) if self.failed_at else "",
            "queued": len(self.queue), "written": self.written,
            "lost_unreported": self.lost, "lost_total": self.lost_total,
        }


class FileSink(_Sink):
    """JSON Lines appended with O_APPEND, rotated by size (rule 4)."""

    def __init__(self, path: str | os.PathLike[str], rotate_bytes: int = 0, keep: int = 10) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = f"file:{self.path}"
        self.rotate_bytes = rotate_bytes
        self.keep = keep
        self.fd: int | None = None
        self.inode: tuple[int, int] | None = None
        self.size = 0
        self.rotations = 0

    def open(self) -> None:
        if self.fd is not None:
            try:  # moved or removed by someone else (an external logrotate): start a new file
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) == self.inode:
                    return
            except FileNotFoundError:
                pass
            self._close_fd()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                     0o640)
        st = os.fstat(fd)
        self.fd, self.inode, self.size = fd, (st.st_dev, st.st_ino), st.st_size

    def _close_fd(self, sync: bool = False) -> None:
        fd, self.fd, self.inode = self.fd, None, None
        if fd is not None:
            try:
                if sync:
                    os.fsync(fd)
            except OSError:
                pass
            finally:
                os.close(fd)

    def _write_chunk(self, data: bytes) -> None:
        assert self.fd is not None
        start = self.size
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        except OSError:
            try:  # no half line: cut the file back to where this chunk began
                os.ftruncate(self.fd, start)
            except OSError:
                pass
            self._close_fd()
            raise
        self.size = start + len(data)

    def _rotated(self, i: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{i}")

    def rotate(self) -> None:
        """audit.jsonl → .1 → .2 … → .KEEP; the oldest is removed (keep = 0: no copies)."""
        self._close_fd(sync=True)
        for suffix in ("", ".gz"):
            oldest = Path(f"{self._rotated(self.keep)}{suffix}") if self.keep else None
            if oldest is not None and oldest.exists():
                oldest.unlink()
            for i in range(self.keep - 1, 0, -1):
                src = Path(f"{self._rotated(i)}{suffix}")
                if src.exists():
                    os.replace(src, f"{self._rotated(i + 1)}{suffix}")
        if self.keep:
            os.replace(self.path, self._rotated(1))
        else:
            self.path.unlink(missing_ok=True)
        self.rotations += 1
        self.open()

    def write(self, records: list[dict[str, Any]], texts: Callable[[dict[str, Any]], str]) -> int:
        done = 0
        chunk: list[bytes] = []
        chunk_len = 0
        try:
            self.open()
            for record in records:
                line = (texts(record) + "\n").encode("utf-8")
                if (self.rotate_bytes and chunk_len + len(line) + self.size > self.rotate_bytes
                        and chunk_len + self.size > 0):
                    if chunk:
                        self._write_chunk(b"".join(chunk))
                        done += len(chunk)
                        chunk, chunk_len = [], 0
                    self.rotate()
                chunk.append(line)
                chunk_len += len(line)
            if chunk:
                self._write_chunk(b"".join(chunk))
                done += len(chunk)
        except OSError as exc:
            raise SinkError(done, exc) from exc
        return done

    def close(self) -> None:
        self._close_fd(sync=True)


class StreamSink(_Sink):
    """``file = "-"``: JSON Lines on standard output (no rotation)."""

    def __init__(self, stream: BinaryIO | None = None) -> None:
        super().__init__()
        self.name = "stdout"
        self.stream = stream

    def write(self, records: list[dict[str, Any]], texts: Callable[[dict[str, Any]], str]) -> int:
        stream = self.stream or sys.stdout.buffer
        try:
            stream.write(b"".join((texts(r) + "\n").encode("utf-8") for r in records))
            stream.flush()
        except (OSError, ValueError) as exc:
            raise SinkError(0, exc) from exc
        return len(records)


class SyslogSink(_Sink):
    """RFC 5424 over UDP (RFC 5426) or a unix datagram socket; one datagram per event."""

    def __init__(self, url: str, hostname: str | None = None, timeout: float = 1.0) -> None:
        super().__init__()
        self.kind, self.address = parse_syslog_url(url)
        self.name = f"syslog:{url}"
        self.hostname = (hostname or socket.gethostname() or "-").replace(" ", "-")[:255]
        self.timeout = timeout
        self.sock: socket.socket | None = None

    def open(self) -> None:
        if self.sock is not None:
            return
        if self.kind == "udp":
            host, port = self.address
            info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(info[0], socket.SOCK_DGRAM)
            target: Any = info[4]
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            target = self.address
        try:
            sock.settimeout(self.timeout)
            sock.connect(target)  # UDP: later sends report ECONNREFUSED when nobody listens
        except OSError:
            sock.close()
            raise
        self.sock = sock

    def write(self, records: list[dict[str, Any]], texts: Callable[[dict[str, Any]], str]) -> int:
        done = 0
        try:
            self.open()
            assert self.sock is not None
            for record in records:
                self.sock.send(rfc5424(record, texts(record), self.hostname))
                done += 1
        except OSError as exc:
            self.close()
            raise SinkError(done, exc) from exc
        return done

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()


# -- the log ------------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Batch:
    """What one sink writes in one round: queued records, maybe with the loss marker among them."""

    sink: _Sink
    records: list[dict[str, Any]]
    marker_at: int | None = None
    snapshot: tuple[int, float | None, float | None] = (0, None, None)


class AuditLog:
    """The audit hook of a server: ``context.audit = audit_log.emit`` (see the module rules)."""

    def __init__(self, *, file: str = "audit.jsonl", rotate_bytes: int = 0, keep: int = 10,
                 syslog: str = "", on_failure: str = "continue", format: str = "nullsmb",
                 server_name: str = "", clock: Callable[[], float] = time.time,
                 max_buffer: int = 100_000, flush_interval: float = 0.5, batch_size: int = 4096,
                 retry_interval: float = 1.0, stall_after: float = 5.0, strict: bool = False,
                 stdout: BinaryIO | None = None, hostname: str | None = None) -> None:
        if on_failure not in ("continue", "refuse_sessions"):
            raise ValueError(f"on_failure must be continue or refuse_sessions, not {on_failure!r}")
        if format not in ("nullsmb", "samba"):
            raise ValueError(f"format must be nullsmb or samba, not {format!r}")
        if not 0 < flush_interval <= 1.0:
            raise ValueError("flush_interval must be in (0, 1] seconds")
        self.on_failure = on_failure
        self.format = format
        self.server_name = server_name
        self.clock = clock
        self.max_buffer = max(1, max_buffer)
        self.high_water = max(1, min(batch_size, self.max_buffer // 2 or 1))
        self.flush_interval = flush_interval
        self.batch_size = max(1, batch_size)
        self.retry_interval = retry_interval
        self.stall_after = stall_after
        self.strict = strict
        self.sinks: list[_Sink] = []
        if file == "-":
            self.sinks.append(StreamSink(stdout))
        elif file:
            self.sinks.append(FileSink(file, rotate_bytes, keep))
        if syslog:
            self.sinks.append(SyslogSink(syslog, hostname))
        self.emitted = 0
        self.dropped = 0  # events at least one sink never got
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self._wake: asyncio.Event | None = None
        self._cycle: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._closed = False
        self._inflight_since: float | None = None

    @classmethod
    def from_settings(cls, settings: Any, *, server_name: str = "", **kwargs: Any) -> "AuditLog":
        """From ``config.AuditSettings`` (file, rotate_bytes, keep, syslog, on_failure, format)."""
        on_failure = settings.on_failure if settings.on_failure in ("continue", "refuse_sessions") \
            else "continue"
        return cls(file=settings.file, rotate_bytes=settings.rotate_bytes, keep=settings.keep,
                   syslog=settings.syslog, on_failure=on_failure,
                   format=getattr(settings, "format", "nullsmb"), server_name=server_name, **kwargs)

    # -- state for the core and the admin API ---------------------------------------------------------
    @property
    def healthy(self) -> bool:
        """False while a sink fails, or has lost events it has not yet reported, or is stalled."""
        if any(not s.healthy or s.lost for s in self.sinks):
            return False
        since = self._inflight_since
        return since is None or time.monotonic() - since < self.stall_after

    @property
    def refusing(self) -> bool:
        """True when new sessions must be refused (``on_failure = "refuse_sessions"``, unhealthy)."""
        return self.on_failure == "refuse_sessions" and not self.healthy

    def stats(self) -> dict[str, Any]:
        """Counters for the admin API."""
        return {
            "healthy": self.healthy, "refusing": self.refusing, "on_failure": self.on_failure,
            "format": self.format, "emitted": self.emitted, "dropped": self.dropped,
            "queued": max((len(s.queue) for s in self.sinks), default=0),
            "sinks": [s.stats() for s in self.sinks],
        }

    # -- the hook ---------------------------------------------------------------------------------------
    def emit(self, event: str, fields: dict[str, Any]) -> None:
        """Record one event (rule 1). Signature of ``ServerContext.audit``."""
        now = self.clock()
        if self.strict:
            found = problems(event, fields)
            if found:
                raise ValueError("; ".join(found))
        try:
            record = build_event(event, fields, time=now, server=self.server_name)
        except Exception:  # an audit bug must not take a request down
            log.exception("audit: cannot build event %r", event)
            record = build_event(event, {}, time=now, server=self.server_name)
        self.emitted += 1
        dropped = False
        for sink in self.sinks:
            queue = sink.queue
            if len(queue) >= self.max_buffer:
                sink.lose(now)
                dropped = True
                continue
            queue.append(record)
            if len(queue) == self.high_water and self._wake is not None:
                self._wake.set()
        if dropped:
            self.dropped += 1
        for listener in self.listeners:
            try:
                listener(record)
            except Exception:
                log.exception("audit listener failed")
        if self._closed:
            self._write_now()

    __call__ = emit

    # -- lifecycle --------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the sinks and start the writer. An unusable file raises OSError; a syslog that
        cannot be reached yet is handled per ``on_failure`` (rule 5)."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nullsmb-audit")
        for sink in self.sinks:
            try:
                await self._loop.run_in_executor(self._executor, sink.open)
            except OSError as exc:
                if isinstance(sink, FileSink):
                    self._executor.shutdown(wait=False)
                    self._executor = None
                    raise
                self._mark_failed(sink, exc)
                log.warning("audit: %s: %s (events are queued until it works)", sink.name,
                            exc.strerror or exc)
        self._wake = asyncio.Event()
        self._cycle = asyncio.Condition()
        self._task = asyncio.create_task(self._run(), name="nullsmb-audit-writer")

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is written; False if a sink fails or time runs out."""
        if self._task is None or self._cycle is None:
            return not any(s.queue for s in self.sinks)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if not any(s.queue or s.lost or s.busy for s in self.sinks):
                return True
            if any(not s.healthy for s in self.sinks) or self._task.done():
                return False
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            async with self._cycle:
                assert self._wake is not None
                self._wake.set()
                try:
                    await asyncio.wait_for(self._cycle.wait(), left)
                except asyncio.TimeoutError:
                    return False

    async def close(self) -> None:
        """Drain every queue (rule 3), flush to disk and stop. Later events are written at once."""
        if self._closed:
            return
        self._closing = True
        if self._task is not None:
            assert self._wake is not None
            self._wake.set()
            try:
                await self._task
            except Exception:
                log.exception("audit writer failed")
        loop = asyncio.get_running_loop()
        executor = self._executor
        if executor is not None:
            for sink in self.sinks:
                await loop.run_in_executor(executor, sink.close)
            executor.shutdown(wait=True)
        else:
            self._write_now()
            for sink in self.sinks:
                sink.close()
        self._closed = True
        for sink in self.sinks:
            if sink.queue or sink.lost:
                log.error("audit: %s: %d events could not be written, %d lost", sink.name,
                          len(sink.queue), sink.lost)

    # -- the writer ------------------------------------------------------------------------------------
    def _mark_failed(self, sink: _Sink, exc: BaseException) -> None:
        if sink.healthy:
            log.error("audit: cannot write to %s: %s", sink.name, getattr(exc, "strerror", None) or exc)
            sink.failed_at = self.clock()
        sink.healthy = False
        sink.error = str(getattr(exc, "strerror", None) or exc)
        sink.next_try = time.monotonic() + self.retry_interval

    def _texts(self) -> Callable[[dict[str, Any]], str]:
        cache: dict[int, str] = {}
        fmt = self.format

        def text(record: dict[str, Any]) -> str:
            key = id(record)
            value = cache.get(key)
            if value is None:
                value = cache[key] = to_json(record, fmt)
            return value

        return text

    def _write_jobs(self, jobs: list[tuple[_Sink, list[dict[str, Any]]]]) -> list[tuple[int, BaseException | None]]:
        """In the writer thread: each sink writes its batch; (records written, error)."""
        texts = self._texts()
        results: list[tuple[int, BaseException | None]] = []
        for sink, batch in jobs:
            try:
                results.append((sink.write(batch, texts), None))
            except SinkError as exc:
                results.append((exc.written, exc.cause))
            except Exception as exc:  # a bug in a sink: treat as a failure, keep the events
                log.exception("audit: %s failed", sink.name)
                results.append((0, exc))
        return results

    def _take(self, sink: _Sink, *, force: bool) -> _Batch | None:
        """The next batch of ``sink`` (on the loop); the loss marker goes where the loss was."""
        if not sink.queue and not sink.lost:
            return None
        if not sink.healthy and not force and time.monotonic() < sink.next_try:
            return None
        records = list(islice(sink.queue, self.batch_size))
        batch = _Batch(sink, records)
        at = sink.lost_at if sink.lost_at is not None else len(sink.queue)
        if sink.lost and at <= len(records):
            marker = lost_event(sink.lost, sink.lost_since, sink.lost_until, time=self.clock(),
                                server=self.server_name, sink=sink.name)
            records.insert(at, marker)
            batch.marker_at = at
            batch.snapshot = (sink.lost, sink.lost_since, sink.lost_until)
            sink.lost, sink.lost_since, sink.lost_until, sink.lost_at = 0, None, None, None
        return batch

    def _settle(self, batch: _Batch, written: int, error: BaseException | None) -> None:
        """On the loop: drop what was written from the queue; restore an unwritten loss."""
        sink = batch.sink
        popped = written
        marker_written = batch.marker_at is not None and written > batch.marker_at
        if marker_written:
            popped -= 1
        popped = min(popped, len(sink.queue))
        for _ in range(popped):
            sink.queue.popleft()
        if sink.lost_at is not None:  # a loss during the write: its place moves up too
            sink.lost_at = max(0, sink.lost_at - popped)
        if batch.marker_at is not None and not marker_written:  # still unreported
            count, since, until = batch.snapshot
            at = max(0, batch.marker_at - popped)
            sink.lost += count
            sink.lost_since = since if sink.lost_since is None or since is None else min(since, sink.lost_since)
            sink.lost_until = until if sink.lost_until is None or until is None else max(until, sink.lost_until)
            sink.lost_at = at if sink.lost_at is None else min(at, sink.lost_at)
        sink.written += popped
        if error is None:
            if not sink.healthy:
                log.warning("audit: %s works again", sink.name)
            sink.healthy, sink.error, sink.failed_at = True, "", None
        else:
            self._mark_failed(sink, error)

    async def _drain_once(self, *, force: bool = False) -> bool:
        """One write round; True when a working sink still has a full batch waiting."""
        assert self._loop is not None and self._executor is not None
        batches = []
        for sink in self.sinks:
            batch = self._take(sink, force=force)
            if batch is not None:
                batches.append(batch)
                sink.busy = True
        if not batches:
            return False
        jobs = [(b.sink, b.records) for b in batches]
        self._inflight_since = time.monotonic()
        try:
            results = await self._loop.run_in_executor(self._executor, self._write_jobs, jobs)
        except BaseException:
            for batch in batches:
                self._settle(batch, 0, RuntimeError("writer interrupted"))
                batch.sink.busy = False
            raise
        finally:
            self._inflight_since = None
        for batch, (written, error) in zip(batches, results):
            self._settle(batch, written, error)
            batch.sink.busy = False
        return any(s.healthy and len(s.queue) >= self.batch_size for s in self.sinks)

    async def _run(self) -> None:
        assert self._wake is not None and self._cycle is not None
        while True:
            if not self._closing:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval)
                except asyncio.TimeoutError:
                    pass
            self._wake.clear()
            more = True
            while more:
                more = await self._drain_once(force=self._closing)
                if self._closing and any(s.queue or s.lost for s in self.sinks) \
                        and all(s.healthy for s in self.sinks if s.queue or s.lost):
                    more = True
            async with self._cycle:
                self._cycle.notify_all()
            if self._closing:
                return

    def _write_now(self) -> None:
        """Synchronous write of everything queued (after close, or its last try)."""
        for sink in self.sinks:
            while sink.queue or sink.lost:
                batch = self._take(sink, force=True)
                if batch is None:
                    break
                ((written, error),) = self._write_jobs([(sink, batch.records)])
                self._settle(batch, written, error)
                if error is not None:
                    break

