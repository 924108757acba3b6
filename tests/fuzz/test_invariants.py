"""Hypothesis checks of the h11 invariant (style.md §7.5): whatever bytes a peer sends, the core
answers, or raises ``MalformedMessage`` (drop the connection), and nothing else.

1. ``FrameDecoder``: any bytes, fed whole or byte by byte (or in random chunks), give the same
   frames, or ``MalformedMessage`` in both cases.
2. ``ServerConnection.handle_pdu`` on a negotiated connection with a session, a tree and open
   handles: real requests (captured from smbclient/impacket, and built by our client for every
   command, compounds and encrypted ones included), mutated by flipping and setting bytes,
   rewriting length/offset fields, truncating, inserting and deleting, yield response buffers
   or ``MalformedMessage``. A connection that survives must still answer a plain ECHO.
"""

from __future__ import annotations

import asyncio
import importlib.util
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nullsmb.client.connection import FILE_ID_RELATED, Outgoing, smb1_negotiate_pdu
from nullsmb.core.connection import ServerConnection
from nullsmb.status import MalformedMessage
from nullsmb.wire.create import CloseRequest, CreateContext, CreateRequest, CreateResponse
from nullsmb.wire.framing import FrameDecoder, frame_header
from nullsmb.wire.header import HEADER_SIZE, Command
from nullsmb.wire.info import QueryDirectoryRequest, QueryInfoRequest, SetInfoRequest
from nullsmb.wire.io import ReadRequest, WriteRequest
from nullsmb.wire.ioctl import Fsctl, IoctlRequest
from nullsmb.wire.session_setup import SessionSetupRequest, simple_body
from nullsmb.wire.tree import TreeConnectRequest

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("nullsmb_core_harness", _HERE.parent / "core" / "conftest.py")
assert _spec is not None and _spec.loader is not None
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

FIXTURES = _HERE.parent / "fixtures"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fixture(name: str) -> bytes:
    text = (FIXTURES / f"{name}.hex").read_text()
    return bytes.fromhex("".join(line for line in text.splitlines() if not line.startswith("#")))


# -- 1. framing --------------------------------------------------------------------------------------------

def _frames(chunks: list[bytes], max_frame: int) -> tuple[list[bytes], bool]:
    dec = FrameDecoder(max_frame)
    out: list[bytes] = []
    try:
        for chunk in chunks:
            out += [bytes(f) for f in dec.feed(chunk)]
    except MalformedMessage:
        return out, True
    return out, False


frame_parts = st.one_of(
    st.binary(max_size=40).map(lambda b: frame_header(len(b)) + b),  # a well-formed frame
    st.binary(max_size=8).map(lambda b: b"\x85\x00\x00" + bytes([len(b)]) + b),  # keep-alive
    st.binary(min_size=1, max_size=12),  # garbage
    st.integers(0, 0xFFFFFF).map(lambda n: b"\x00" + n.to_bytes(3, "big")),  # any length
)


@FUZZ
@given(st.lists(frame_parts, max_size=12).map(b"".join), st.sampled_from([0, 16, 64, 1 << 20]),
       st.lists(st.integers(1, 50), max_size=20))
def test_frame_decoder_chunking_invariant(data: bytes, max_frame: int, cuts: list[int]) -> None:
    whole, whole_err = _frames([data], max_frame)
    bytewise, byte_err = _frames([data[i : i + 1] for i in range(len(data))], max_frame)
    chunks, pos = [], 0
    for n in cuts:
        chunks.append(data[pos : pos + n])
        pos += n
    chunks.append(data[pos:])
    chunked, chunk_err = _frames(chunks, max_frame)
    assert whole_err == byte_err == chunk_err
    if not whole_err:
        assert whole == bytewise == chunked
    else:  # a chunk that fails loses its frames; the ones handed out before agree
        assert bytewise[: len(chunked)] == chunked and whole == []


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_frame_decoder_any_bytes(data: bytes) -> None:
    whole, whole_err = _frames([data], 1 << 16)
    bytewise, byte_err = _frames([data[i : i + 1] for i in range(len(data))], 1 << 16)
    assert whole_err == byte_err and (whole_err or whole == bytewise)


# -- 2. the server connection ------------------------------------------------------------------------------

class Target:
    """A negotiated server connection with a user session, a tree, an open file and an open
    directory; ``client`` keeps building requests that fit its MessageId window."""

    def __init__(self, pair: Any, tid: int, ipc: int, fid: bytes, dir_fid: bytes) -> None:
        self.pair, self.tid, self.ipc, self.fid, self.dir_fid = pair, tid, ipc, fid, dir_fid

    @property
    def server(self) -> ServerConnection:
        return self.pair.server

    def pdu(self, *messages: Outgoing, related: bool = False, encrypt: bool | None = None) -> bytes:
        self.pair.client.send(list(messages), related=related, encrypt=encrypt)
        return self.pair.client.data_to_send()[4:]


async def _target(variant: str) -> Target:
    dialect = {"smb302": 0x0302, "smb311": 0x0311, "smb202": 0x0202, "encrypted": 0x0311}[variant]
    pair = harness.Pair(harness.make_context(harness.make_config(map_to_guest="bad_user")), dialects=[dialect])
    await pair.negotiate()
    if variant == "smb311":
        await pair.login()  # anonymous: 3.1.1 user sessions must sign, which mutations would break
    else:
        await pair.login(user=harness.ALICE, password=harness.ALICE_PASSWORD, sign=False,
                         encrypt=variant == "encrypted")
    share = lambda name: Outgoing(Command.TREE_CONNECT, TreeConnectRequest(0, f"\\\\s\\{name}").encode())
    [tree] = await pair.call(share("public"))
    [ipc] = await pair.call(share("IPC$"))
    tid = tree.tree_id
    created = []
    for name, options, access in (("hello.txt", 0, 0x001F01FF if variant != "smb311" else 0x00120089),
                                  ("docs", 1, 0x00100081)):
        body = CreateRequest(0, 2, access, 0, 7, 1, options, name, ()).encode()
        [rsp] = await pair.call(Outgoing(Command.CREATE, body, tree_id=tid))
        assert rsp.status == 0, hex(rsp.status)
        created.append(CreateResponse.decode(rsp.reader(), HEADER_SIZE).file_id)
    return Target(pair, tid, ipc.tree_id, created[0], created[1])


def _requests(t: Target) -> dict[str, Callable[[], bytes]]:
    """Seed PDUs: one per command built by our client, compounds, and captured bodies."""
    tid, fid, dfid = t.tid, t.fid, t.dir_fid

    def out(command: int, body: bytes, tree: int = tid, payload: int = 0) -> Outgoing:
        return Outgoing(command, body, tree_id=tree, payload=payload)

    def captured(name: str, fid_at: int | None, tree: int = tid) -> Callable[[], bytes]:
        body = bytearray(fixture(name)[HEADER_SIZE:])
        if fid_at is not None:
            body[fid_at : fid_at + 16] = fid
        command = struct.unpack_from("<H", fixture(name), 12)[0]
        return lambda: t.pdu(out(command, bytes(body), tree, payload=4096))

    create_ctx = CreateRequest(0, 2, 0x0012019F, 0, 7, 3, 0, "new.txt",
                               (CreateContext(b"MxAc", b""), CreateContext(b"QFid", b""))).encode()
    write_body = WriteRequest(0, fid, 0, 0, memoryview(b"x" * 32)).encode_fixed() + b"x" * 32

    def vni() -> memoryview:  # VALIDATE_NEGOTIATE_INFO as this client negotiated (MS-SMB2 2.2.31.4)
        c = t.pair.client
        return memoryview(struct.pack("<I16sHHH", 0x44, c.client_guid, 1, 1, c.dialect))
    return {
        "echo": lambda: t.pdu(Outgoing(Command.ECHO, simple_body())),
        "logoff": lambda: t.pdu(Outgoing(Command.LOGOFF, simple_body())),
        "tree_disconnect": lambda: t.pdu(out(Command.TREE_DISCONNECT, simple_body())),
        "tree_connect": lambda: t.pdu(Outgoing(Command.TREE_CONNECT, TreeConnectRequest(0, "\\\\s\\public").encode())),
        "session_setup": lambda: t.pdu(Outgoing(Command.SESSION_SETUP, SessionSetupRequest(
            0, 1, 0, 0, fixture("session_setup_request")[HEADER_SIZE + 24 :]).encode(), session_id=0)),
        "create": lambda: t.pdu(out(Command.CREATE, create_ctx)),
        "create_pipe": lambda: t.pdu(out(Command.CREATE, CreateRequest(0, 2, 0x2019F, 0, 3, 1, 0, "srvsvc", ()).encode(),
                                         t.ipc)),
        "close": lambda: t.pdu(out(Command.CLOSE, CloseRequest(1, fid).encode())),
        "read": lambda: t.pdu(out(Command.READ, ReadRequest(0, 100, 0, fid, 0, 0).encode(), payload=100)),
        "write": lambda: t.pdu(out(Command.WRITE, write_body, payload=32)),
        "flush": lambda: t.pdu(out(Command.FLUSH, struct.pack("<HHI16s", 24, 0, 0, fid))),
        "lock": lambda: t.pdu(out(Command.LOCK, struct.pack("<HHI16sQQII", 48, 1, 0, fid, 0, 10, 1, 0))),
        "query_directory": lambda: t.pdu(out(Command.QUERY_DIRECTORY, QueryDirectoryRequest(
            37, 1, 0, dfid, "*", 4096).encode(), payload=4096)),
        "query_info": lambda: t.pdu(out(Command.QUERY_INFO, QueryInfoRequest(1, 18, 4096, b"", 0, 0, fid).encode(),
                                        payload=4096)),
        "query_fs_info": lambda: t.pdu(out(Command.QUERY_INFO, QueryInfoRequest(2, 5, 4096, b"", 0, 0, fid).encode(),
                                           payload=4096)),
        "set_info_rename": lambda: t.pdu(out(Command.SET_INFO, SetInfoRequest(
            1, 10, struct.pack("<B7sQI", 1, b"", 0, 8) + "b.tx".encode("utf-16-le"), 0, fid).encode())),
        "set_info_basic": lambda: t.pdu(out(Command.SET_INFO, SetInfoRequest(
            1, 4, struct.pack("<QQQQII", 0, 1 << 60, 0, 0, 0x20, 0), 0, fid).encode())),
        "set_info_eof": lambda: t.pdu(out(Command.SET_INFO, SetInfoRequest(1, 20, struct.pack("<Q", 5), 0, fid).encode())),
        "set_info_disposition": lambda: t.pdu(out(Command.SET_INFO, SetInfoRequest(1, 13, b"\x01", 0, fid).encode())),
        "ioctl_validate": lambda: t.pdu(out(Command.IOCTL, IoctlRequest(
            Fsctl.VALIDATE_NEGOTIATE_INFO, b"\xff" * 16, vni(), 0, 24, 1).encode(), payload=24)),
        "ioctl_pipe": lambda: t.pdu(out(Command.IOCTL, IoctlRequest(
            Fsctl.PIPE_TRANSCEIVE, fid, memoryview(b"\x05\x00\x0b\x03"), 0, 1024, 1).encode(), payload=1024)),
        "ioctl_dfs": lambda: t.pdu(out(Command.IOCTL, IoctlRequest(
            Fsctl.DFS_GET_REFERRALS, b"\xff" * 16, memoryview(b"\x04\x00\\\x00s\x00\x00\x00"), 0, 4096, 1).encode(),
            t.ipc, payload=4096)),
        "change_notify": lambda: t.pdu(out(Command.CHANGE_NOTIFY, struct.pack("<HHI16sII", 32, 0, 4096, dfid, 0x17, 0))),
        "oplock_break": lambda: t.pdu(out(Command.OPLOCK_BREAK, struct.pack("<HBB4s16s", 24, 0, 0, b"", fid))),
        "cancel": lambda: t.pdu(Outgoing(Command.CANCEL, simple_body())),
        "compound_related": lambda: t.pdu(
            out(Command.CREATE, CreateRequest(0, 2, 0x00120089, 0, 7, 1, 0, "hello.txt", ()).encode()),
            out(Command.READ, ReadRequest(0, 64, 0, FILE_ID_RELATED, 0, 0).encode(), 0, payload=64),
            out(Command.CLOSE, CloseRequest(0, FILE_ID_RELATED).encode(), 0), related=True),
        "compound_unrelated": lambda: t.pdu(Outgoing(Command.ECHO, simple_body()),
                                            out(Command.READ, ReadRequest(0, 64, 0, fid, 0, 0).encode(), payload=64)),
        "captured_tree_connect": captured("tree_connect_request", None, 0),
        "captured_create": captured("create_request_pipe", None, t.ipc),
        "captured_read": captured("read_request", 16),
        "captured_write": captured("write_request", 16),
        "captured_ioctl": captured("ioctl_request", 8),
        "captured_query_info": captured("query_info_request", 24),
        "captured_query_directory": captured("query_directory_request", 8),
        "captured_close": captured("close_request", 8),
        "captured_negotiate": lambda: fixture("negotiate_request_311"),
        "captured_smb1_negotiate": lambda: fixture("smb1_negotiate_request"),
        "smb1": lambda: smb1_negotiate_pdu(),
    }


SEEDS = sorted(_requests(Target(None, 1, 2, bytes(16), bytes(16))))  # names only

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 400), st.integers(1, 255)),
    st.tuples(st.just("set16"), st.integers(0, 200),
              st.sampled_from([0, 1, 2, 8, 0x40, 0x48, 0x78, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF])
              | st.integers(0, 0xFFFF)),
    st.tuples(st.just("set32"), st.integers(0, 200),
              st.sampled_from([0, 1, 7, 8, 64, 0x78, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF])
              | st.integers(0, 0xFFFFFFFF)),
    st.tuples(st.just("truncate"), st.integers(0, 400), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 400), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.integers(0, 400), st.integers(1, 16)),
)


def mutate(pdu: bytes, edits: list[tuple[str, int, Any]]) -> bytes:
    data = bytearray(pdu)
    for kind, at, arg in edits:
        if not data:
            break
        at %= len(data) + (kind in ("truncate", "insert"))
        if kind == "flip":
            data[at] ^= arg
        elif kind == "set16" and at + 2 <= len(data):
            struct.pack_into("<H", data, at, arg)
        elif kind == "set32" and at + 4 <= len(data):
            struct.pack_into("<I", data, at, arg)
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = arg
        elif kind == "delete":
            del data[at : at + arg]
    return bytes(data)


async def _survives(server: ServerConnection, pdu: bytes) -> bool:
    """The invariant: buffers out, or MalformedMessage. Returns whether the connection lives."""
    try:
        out = await server.handle_pdu(pdu)
    except MalformedMessage:
        return False
    assert isinstance(out, list) and all(isinstance(p, (bytes, bytearray, memoryview)) for p in out)
    server.sent(True)
    return not server.close_after_send


async def _check(variant: str, seed: str, edits: list[tuple[str, int, Any]]) -> None:
    target = await _target(variant)
    pdu = mutate(_requests(target)[seed](), edits)
    if await _survives(target.server, pdu):
        # Whatever the mutated request did, the connection still answers (or drops cleanly).
        target.pair.client.next_message_id = max(target.pair.client.next_message_id,
                                                 target.server.credits.low)
        target.pair.client.credits = max(target.pair.client.credits, 1)
        echo = target.pdu(Outgoing(Command.ECHO, simple_body()), encrypt=variant == "encrypted")
        await _survives(target.server, echo)


@pytest.fixture(scope="module")
def loop():  # type: ignore[no-untyped-def]
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@FUZZ
@given(st.sampled_from(["smb302", "smb311", "smb202"]), st.sampled_from(SEEDS),
       st.lists(mutation, min_size=1, max_size=4))
def test_mutated_requests(loop: asyncio.AbstractEventLoop, variant: str, seed: str,
                          edits: list[tuple[str, int, Any]]) -> None:
    loop.run_until_complete(_check(variant, seed, edits))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["echo", "read", "compound_related", "create"]), st.lists(mutation, max_size=3))
def test_mutated_encrypted_requests(loop: asyncio.AbstractEventLoop, seed: str,
                                    edits: list[tuple[str, int, Any]]) -> None:
    async def run() -> None:
        target = await _target("encrypted")
        if seed == "compound_related":
            pdu = _encrypted_compound(target)
        else:
            pdu = target.pdu(_ONE_MESSAGE[seed](target), encrypt=True)
        await _survives(target.server, mutate(pdu, edits))

    loop.run_until_complete(run())


_ONE_MESSAGE: dict[str, Callable[[Target], Outgoing]] = {
    "echo": lambda t: Outgoing(Command.ECHO, simple_body()),
    "read": lambda t: Outgoing(Command.READ, ReadRequest(0, 64, 0, t.fid, 0, 0).encode(), tree_id=t.tid, payload=64),
    "create": lambda t: Outgoing(Command.CREATE, CreateRequest(0, 2, 0x00120089, 0, 7, 1, 0, "hello.txt", ()).encode(),
                                 tree_id=t.tid),
}


def _encrypted_compound(t: Target) -> bytes:
    return t.pdu(
        Outgoing(Command.CREATE, CreateRequest(0, 2, 0x00120089, 0, 7, 1, 0, "hello.txt", ()).encode(), tree_id=t.tid),
        Outgoing(Command.READ, ReadRequest(0, 64, 0, FILE_ID_RELATED, 0, 0).encode(), payload=64),
        related=True, encrypt=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([b"\xfeSMB", b"\xfdSMB", b"\xffSMB", b"\xfcSMB", b""]), st.binary(max_size=300),
       st.booleans())
def test_arbitrary_bytes(loop: asyncio.AbstractEventLoop, magic: bytes, tail: bytes, negotiated: bool) -> None:
    """Bytes that are not derived from any request, on a fresh and on a negotiated connection."""
    async def run() -> None:
        if negotiated:
            server = (await _target("smb302")).server
        else:
            server = ServerConnection(harness.make_context(), ("192.0.2.1", 1))
        await _survives(server, magic + tail)

    loop.run_until_complete(run())


def test_seeds_are_valid_requests(loop: asyncio.AbstractEventLoop) -> None:
    """Unmutated, every seed is answered (none is dropped except the SMB1/NEGOTIATE ones, which
    a negotiated connection must refuse), so mutations start from real requests."""
    async def run() -> None:
        for seed in SEEDS:
            target = await _target("smb302")
            alive = await _survives(target.server, _requests(target)[seed]())
            assert alive == (seed not in ("captured_negotiate", "captured_smb1_negotiate", "smb1")), seed

    loop.run_until_complete(run())
