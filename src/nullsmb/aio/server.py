"""asyncio glue: listeners, one protocol object and one worker task per connection.

Rules:
1. Bytes are received with ``asyncio.BufferedProtocol`` into the frame decoder's buffers (a
   large WRITE lands in its own buffer, copied once by the kernel).
2. One worker per connection runs PDUs in order; reading pauses while too much is queued.
3. Responses are written part by part (header, then payload), never joined.
4. The only ``except Exception`` of a connection is in ``_worker``: it logs, and closes that
   connection; nothing reaches the client but a closed socket.
5. Idle connections (no complete PDU for ``idle_timeout``) are closed by a sweeper.
6. What the core sends outside request order (final responses of async requests, oplock and
   lease breaks) is written as soon as the core queues it (``conn.on_output``); the core's
   deadlines (break acknowledgments, durable handles) run from one timer task.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from typing import Any

from ..core.connection import ServerConnection
from ..core.context import ServerContext
from ..core.files import files_of
from ..status import MalformedMessage
from ..wire.framing import SCRATCH, FrameDecoder, frame_header

__all__ = ["SmbServer"]

log = logging.getLogger(__name__)

MAX_FRAME = 8 * 1024 * 1024 + 64 * 1024  # MaxWriteSize plus headers and padding
PRE_AUTH_MAX_FRAME = 128 * 1024  # until NEGOTIATE settles the sizes
QUEUE_PAUSE_BYTES = 32 * 1024 * 1024
QUEUE_PAUSE_FRAMES = 512


class SmbProtocol(asyncio.BufferedProtocol):
    """Transport callbacks for one connection; the protocol work happens in ``_worker``."""

    def __init__(self, server: "SmbServer") -> None:
        self.server = server
        self.decoder = FrameDecoder(PRE_AUTH_MAX_FRAME, server.context.memory.allocate)
        self.queue: deque[bytes | bytearray] = deque()
        self.queued_bytes = 0
        self.wakeup = asyncio.Event()
        self.transport: asyncio.Transport | None = None
        self.conn: ServerConnection | None = None
        self.task: asyncio.Task[None] | None = None
        self.closed = False
        self.busy = False  # a PDU is being processed or its response written
        self.reading_paused = False
        self.can_write = asyncio.Event()
        self.can_write.set()

    # -- transport callbacks -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername") or ("?", 0)
        if len(self.server.protocols) >= self.server.context.config.server.max_connections:
            log.warning("refusing %s: max_connections reached", peer[0])
            transport.abort()
            self.closed = True
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.conn = ServerConnection(self.server.context, (str(peer[0]), int(peer[1])))
        self.conn.on_output = self._flush_output
        self.server.context.connections.add(self.conn)
        self.server.protocols.add(self)
        self.task = asyncio.get_running_loop().create_task(self._worker())

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.decoder.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        try:
            frames = self.decoder.buffer_updated(nbytes)
        except MalformedMessage as exc:
            log.info("dropping %s: %s", self._peer(), exc)
            self._abort()
            return
        self._enqueue(frames)
        if self.decoder.waiting and not self.closed:
            # The memory budget is spent: stop reading until some is given back.
            self._pause()
            self.server.context.memory.waiters.append(self._memory_back)

    def _memory_back(self) -> None:
        if self.closed:
            return
        try:
            frames = self.decoder.retry()
        except MalformedMessage:
            self._abort()
            return
        self._enqueue(frames)
        if self.decoder.waiting:
            self.server.context.memory.waiters.append(self._memory_back)
        elif self.queued_bytes < QUEUE_PAUSE_BYTES // 2:
            self._resume()

    def _pause(self) -> None:
        if not self.reading_paused and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True

    def _resume(self) -> None:
        if self.reading_paused and self.transport is not None and not self.decoder.waiting:
            self.reading_paused = False
            self.transport.resume_reading()

    def _enqueue(self, frames: list) -> None:
        if frames:
            for frame in frames:
                self.queue.append(frame)
                self.queued_bytes += len(frame)
            self.wakeup.set()
            if self.queued_bytes > QUEUE_PAUSE_BYTES or len(self.queue) > QUEUE_PAUSE_FRAMES:
                self._pause()

    def _flush_output(self) -> None:
        """Rule 6: write the PDUs the core queued outside request order."""
        conn = self.conn
        if conn is None:
            return
        out = conn.take_output()
        if self.closed or self.transport is None:
            return
        for parts in out:
            self.transport.write(frame_header(sum(len(p) for p in parts)))
            for part in parts:
                self.transport.write(part)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.wakeup.set()
        self.can_write.set()

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    # -- the worker -------------------------------------------------------------------------------------
    def _peer(self) -> str:
        return f"{self.conn.peer[0]}:{self.conn.peer[1]}" if self.conn else "?"

    def _abort(self) -> None:
        self.closed = True
        self.wakeup.set()
        if self.transport is not None:
            self.transport.abort()

    async def _worker(self) -> None:
        conn = self.conn
        memory = self.server.context.memory
        assert conn is not None and self.transport is not None
        try:
            while True:
                while not self.queue:
                    if self.closed or self.server.stopping:
                        return
                    self.wakeup.clear()
                    await self.wakeup.wait()
                if self.closed:
                    return
                pdu = self.queue.popleft()
                size = len(pdu)
                self.queued_bytes -= size
                if self.queued_bytes < QUEUE_PAUSE_BYTES // 2 and len(self.queue) < QUEUE_PAUSE_FRAMES // 2:
                    self._resume()
                self.busy = True
                try:
                    out = await conn.handle_pdu(pdu)
                finally:
                    del pdu
                    if size > SCRATCH // 2:
                        memory.give(size)  # a large PDU's buffer came from the budget
                if conn.negotiated and self.decoder.max_frame == PRE_AUTH_MAX_FRAME:
                    self.decoder.max_frame = MAX_FRAME if conn.neg.large_mtu else 65536 + 4096
                try:
                    if out and not self.closed:
                        await self._send(out)
                finally:
                    del out
                    self.busy = False
                    conn.sent(self.transport.get_write_buffer_size() == 0)
                if conn.close_after_send:
                    self.transport.close()
                    return
        except MalformedMessage as exc:
            log.info("dropping %s: %s", self._peer(), exc)
            self.transport.abort()
        except Exception:  # the glue's one catch-all: log, close, keep serving everyone else
            log.exception("internal error on connection %s; closing it", self._peer())
            self.transport.abort()
        finally:
            self.closed = True
            try:
                await conn.close_all("disconnect")
            except Exception:  # closing opens must not take the server down either
                log.exception("cleanup of %s failed", self._peer())
            self.server.protocols.discard(self)
            self.server.context.connections.discard(conn)

    async def _send(self, parts: list[Any]) -> None:
        transport = self.transport
        assert transport is not None
        total = sum(len(p) for p in parts)
        transport.write(frame_header(total))
        for part in parts:
            transport.write(part)
        if not self.can_write.is_set():
            await self.can_write.wait()

    async def shutdown(self) -> None:
        """Let the PDU in progress finish, then close opens and the transport."""
        self.wakeup.set()
        if self.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.task), timeout=15)
            except asyncio.TimeoutError:
                self.task.cancel()
        if self.transport is not None:
            self.transport.close()


class SmbServer:
    """Listeners plus the set of live connections of one ServerContext."""

    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self.protocols: set[SmbProtocol] = set()
        self.listeners: list[asyncio.AbstractServer] = []
        self.stopping = False
        self._sweeper: asyncio.Task[None] | None = None
        self._timers: asyncio.Task[None] | None = None
        self._timer_changed = asyncio.Event()
        self._closing: set[asyncio.Task[None]] = set()
        context.close_connection = self.close_connection_soon

    def close_connection_soon(self, conn: ServerConnection, reason: str) -> None:
        """``ServerContext.close_connection``, for synchronous callers (srvsvc NetrSessionDel):
        ``close_connection`` in a task of its own."""
        task = asyncio.get_running_loop().create_task(self.close_connection(conn, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close_connection(self, conn: ServerConnection, reason: str) -> list:
        """Tear down ``conn`` (Server Manager's close, NetrSessionDel): its sessions leave it at
        once (a request racing in sees USER_SESSION_DELETED); a request in progress on it (maybe
        the very call that asked) still gets its reply, then the transport closes; then each
        session's opens and trees close and its logoff is audited with ``reason``. Returns the
        sessions it ended."""
        from ..core.handlers.session import destroy_session

        sessions = list(conn.sessions.values())
        conn.sessions.clear()
        conn.close_after_send = True
        proto = next((p for p in list(self.protocols) if p.conn is conn), None)
        if proto is not None:
            if not proto.busy:
                proto._abort()
            proto.wakeup.set()
            task = proto.task
            if task is not None and not task.done() and task is not asyncio.current_task():
                try:  # the worker catches and logs its own failures (rule 4)
                    await asyncio.wait_for(asyncio.shield(task), timeout=15)
                except asyncio.TimeoutError:
                    proto._abort()
        for session in sessions:
            await destroy_session(conn, session, reason)
        return sessions

    async def start(self) -> list[tuple[str, int]]:
        loop = asyncio.get_running_loop()
        bound: list[tuple[str, int]] = []
        for addr in self.context.config.server.listen:
            srv = await loop.create_server(lambda: SmbProtocol(self), addr.host, addr.port,
                                           reuse_address=True, backlog=256)
            self.listeners.append(srv)
            for sock in srv.sockets:
                name = sock.getsockname()
                bound.append((name[0], name[1]))
        self._sweeper = loop.create_task(self._sweep_idle())
        files_of(self.context).on_timer = self._timer_changed.set
        self._timers = loop.create_task(self._run_timers())
        return bound

    async def _run_timers(self) -> None:
        """Rule 6: run the core's deadlines as they fall due."""
        table = files_of(self.context)
        while True:
            self._timer_changed.clear()
            deadline = table.next_deadline()
            delay = None if deadline is None else deadline - self.context.clock()
            if delay is None or delay > 0:
                try:
                    await asyncio.wait_for(self._timer_changed.wait(), delay)
                except asyncio.TimeoutError:
                    pass
                continue
            try:
                await table.run_due(self.context.clock())
            except Exception:  # a deadline's work must not stop the others
                log.exception("timer failed")

    async def _sweep_idle(self) -> None:
        timeout = self.context.config.server.idle_timeout
        while True:
            await asyncio.sleep(min(30.0, max(1.0, timeout / 4)))
            now = self.context.clock()
            for proto in list(self.protocols):
                if proto.conn is not None and now - proto.conn.last_activity > timeout:
                    log.info("closing idle connection %s", proto._peer())
                    proto._abort()

    async def stop(self) -> None:
        """Graceful: stop accepting, finish in-flight PDUs, close every open, close sockets."""
        self.stopping = True
        for srv in self.listeners:
            srv.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._timers is not None:
            self._timers.cancel()
        for proto in list(self.protocols):
            if proto.transport is not None:
                proto.transport.pause_reading()
        await asyncio.gather(*(p.shutdown() for p in list(self.protocols)), return_exceptions=True)
        for srv in self.listeners:
            await srv.wait_closed()
