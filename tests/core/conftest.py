"""Socket-free pairing of a ServerConnection with the sans-I/O ClientConnection (style.md §7.5).

``make_context`` builds a ServerContext the way ``aio.lifecycle.build_context`` does, but with
MemoryFS shares, a fixed clock and a deterministic ``random_bytes``; ``Pair`` moves bytes
between the two ends (framed on both sides, as on a socket).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from nullsmb.auth.accounts import Account, AccountDb
from nullsmb.auth.md4 import nt_hash
from nullsmb.backend.memoryfs import MemoryFS
from nullsmb.client.connection import ALL_DIALECTS, ClientConnection, Outgoing, Response
from nullsmb.config import (
    AdminSettings,
    AuditSettings,
    Config,
    PolicySettings,
    ServerSettings,
    ShareConfig,
    UserConfig,
)
from nullsmb.core.connection import ServerConnection
from nullsmb.core.context import ServerContext
from nullsmb.core.state import Share
from nullsmb.status import MalformedMessage
from nullsmb.wire.framing import FrameDecoder, frame_header

CLOCK = 1_700_000_000.0  # 2023-11-14T22:13:20Z
SERVER_GUID = bytes(range(16))
ALICE, ALICE_PASSWORD = "alice", "Passw0rd!"
BOB, BOB_PASSWORD = "bob", "Hunter2!"

PUBLIC_ACCESS = (("Everyone", "read"), ("ANONYMOUS LOGON", "read"), ("alice", "full"))
PRIVATE_ACCESS = (("Everyone", "read"), ("ANONYMOUS LOGON", "read"), ("alice", "full"))


class DeterministicRandom:
    """``random_bytes`` for the core: reproducible, and distinct per call."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def __call__(self, n: int) -> bytes:
        return self._rng.randbytes(n)


def make_config(**server: Any) -> Config:
    policy = server.pop("policy", PolicySettings(NullSessionShares=("public",), NullSessionPipes=("srvsvc",)))
    settings = ServerSettings(state_dir=Path("/nonexistent/.nullsmb"), server_guid=str(_uuid()), **server)
    return Config(
        server=settings,
        admin=AdminSettings(enabled=False),
        audit=AuditSettings(file="-"),
        policy=policy,
        users=(UserConfig(ALICE, nt_hash(ALICE_PASSWORD), ("Administrators",)),
               UserConfig(BOB, nt_hash(BOB_PASSWORD), ())),
        shares=(ShareConfig("public", Path("/mem/public"), "Public files", False, PUBLIC_ACCESS),
                ShareConfig("private", Path("/mem/private"), "Not for null sessions", False, PRIVATE_ACCESS)),
    )


def _uuid() -> Any:
    import uuid

    return uuid.UUID(bytes_le=SERVER_GUID)


def make_context(config: Config | None = None, *, seed: int = 1,
                 events: list[tuple[str, dict[str, Any]]] | None = None) -> ServerContext:
    """lifecycle.build_context with MemoryFS shares, a fixed clock and seeded randomness."""
    config = config or make_config()
    shares: dict[str, Share] = {}
    for sc in config.shares:
        fs = MemoryFS(read_only=sc.read_only, now_ns=lambda: int(CLOCK * 1e9))
        fs.seed_file(("hello.txt",), b"Hello, null session!\n")
        fs.seed_dir(("docs",))
        fs.seed_file(("docs", "readme.md"), b"# docs\n")
        shares[sc.name.casefold()] = Share(sc.name, str(sc.path), sc.comment, sc.read_only, sc.access, fs)
    shares["ipc$"] = Share("IPC$", "", "IPC Service", False, (("Everyone", "full"),), None, is_ipc=True)
    accounts = AccountDb(Account(u.name, u.nt_hash, tuple(u.groups), 1000 + i)
                         for i, u in enumerate(config.users))
    audit = None if events is None else (lambda event, fields: events.append((event, fields)))
    return ServerContext(
        config=config, policy=config.policy, server_guid=SERVER_GUID, accounts=accounts,
        shares=shares, clock=lambda: CLOCK, random_bytes=DeterministicRandom(seed),
        start_time=CLOCK, audit=audit,
    )


class Dropped(Exception):
    """The server dropped the connection (MalformedMessage) while handling a PDU."""


class Pair:
    """A ServerConnection and a ClientConnection joined by an in-memory byte pipe."""

    def __init__(self, context: ServerContext | None = None, *, dialects: Sequence[int] = ALL_DIALECTS,
                 seed: int = 7, **client: Any) -> None:
        self.context = context or make_context()
        self.server = ServerConnection(self.context, ("192.0.2.10", 50000))
        self.client = ClientConnection(random_bytes=DeterministicRandom(seed), clock=lambda: CLOCK,
                                       dialects=dialects, **client)
        self._server_frames = FrameDecoder(16 * 1024 * 1024)
        self.sent_pdus: list[bytes] = []  # every PDU the client sent, for fuzz seeds

    # -- moving bytes ----------------------------------------------------------------------------
    async def server_handle(self, pdu: bytes) -> bytes:
        """One PDU through the server; the framed reply (b"" when there is none)."""
        try:
            out = await self.server.handle_pdu(pdu)
        except MalformedMessage as exc:
            raise Dropped(str(exc)) from exc
        if not out:
            return b""
        body = b"".join(bytes(p) for p in out)
        self.server.sent(True)
        return frame_header(len(body)) + body

    async def flush(self) -> list[Response]:
        """Deliver everything the client queued; return the responses the client parsed."""
        data = self.client.data_to_send()
        replies = bytearray()
        for pdu in self._server_frames.feed(data):
            self.sent_pdus.append(bytes(pdu))
            replies += await self.server_handle(bytes(pdu))
        return self.client.receive_data(bytes(replies))

    async def call(self, *messages: Outgoing, related: bool = False, **kw: Any) -> list[Response]:
        self.client.send(list(messages), related=related, **kw)
        return await self.flush()

    async def one(self, message: Outgoing, **kw: Any) -> Response:
        [rsp] = await self.call(message, **kw)
        return rsp

    # -- common flows ----------------------------------------------------------------------------
    async def negotiate(self) -> Response:
        self.client.negotiate()
        [rsp] = await self.flush()
        return rsp

    async def login(self, **credentials: Any) -> Response:
        """SESSION_SETUP to completion; returns the final response (raises like the client)."""
        self.client.session_setup(**credentials)
        while True:
            [rsp] = await self.flush()
            if self.client.session_setup_step(rsp) is None:
                return rsp


@pytest.fixture
def events() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
def memory_fs() -> MemoryFS:
    return MemoryFS(now_ns=lambda: int(CLOCK * 1e9))


@pytest.fixture
def server_context(events: list[tuple[str, dict[str, Any]]]) -> ServerContext:
    return make_context(events=events)


@pytest.fixture
def pair(server_context: ServerContext) -> Pair:
    return Pair(server_context)


# -- an asyncio stream pair for SmbClient, still socket-free ----------------------------------------

class LoopbackWriter:
    """Duck-types the asyncio.StreamWriter calls SmbClient makes; PDUs go to a ServerConnection
    and its replies are fed to the client's StreamReader."""

    def __init__(self, server: ServerConnection, reader: asyncio.StreamReader) -> None:
        self.server = server
        self.reader = reader
        self.frames = FrameDecoder(16 * 1024 * 1024)
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False
        self.dropped: str | None = None
        self.task = asyncio.get_running_loop().create_task(self._serve())

    def write(self, data: bytes) -> None:
        for pdu in self.frames.feed(data):
            self.queue.put_nowait(bytes(pdu))

    async def drain(self) -> None:
        await asyncio.sleep(0)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)

    async def wait_closed(self) -> None:
        await self.task

    async def _serve(self) -> None:
        try:
            while (pdu := await self.queue.get()) is not None:
                try:
                    out = await self.server.handle_pdu(pdu)
                except MalformedMessage as exc:
                    self.dropped = str(exc)
                    return
                if out:
                    body = b"".join(bytes(p) for p in out)
                    self.reader.feed_data(frame_header(len(body)) + body)
                    self.server.sent(True)
                if self.server.close_after_send:
                    return
        finally:
            self.reader.feed_eof()
            await self.server.close_all()


def loopback_streams(context: ServerContext) -> tuple[asyncio.StreamReader, LoopbackWriter]:
    reader = asyncio.StreamReader()
    server = ServerConnection(context, ("192.0.2.20", 50001))
    return reader, LoopbackWriter(server, reader)


__all__ = [
    "ALICE", "ALICE_PASSWORD", "BOB", "BOB_PASSWORD", "CLOCK", "DeterministicRandom", "Dropped",
    "LoopbackWriter", "Pair", "loopback_streams", "make_config", "make_context",
]
