"""Shared by tests/rpc: a demo interface (tests only, never served), a stand-in for the SMB
core's RequestContext, and helpers that drive an RpcPipe the way the core does."""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from nullsmb.policy.null_session import Principal, PrincipalKind
from nullsmb.status import SmbError
from nullsmb.rpc import (
    CallContext,
    Interface,
    NdrReader,
    NdrWriter,
    Operation,
    RpcFault,
    RpcPipe,
    deny_with_status,
)
from nullsmb.rpc.ndr import NULL_HANDLE
from nullsmb.rpc.pdu import (
    NDR20,
    Bind,
    BindAck,
    ContextElement,
    FaultStatus,
    PType,
    SyntaxId,
    decode_pdu,
    fragment_request,
)

SRVSVC_SYNTAX = SyntaxId.of("4b324fc8-1670-01d3-1278-5a47bf6ee188", 3)
DEMO_UUID = "6e3c5c4a-2a5f-4a0e-9d5e-0123456789ab"
DEMO_SYNTAX = SyntaxId.of(DEMO_UUID, 1, 0)
ERROR_INVALID_LEVEL = 124


# -- the demo interface -----------------------------------------------------------------------------

def share_enum(call: CallContext, r: NdrReader) -> bytes:
    """The report's example: [in, string, unique] wchar_t* ServerName, [in] DWORD Level →
    [out] a unique pointer to {count, [size_is(count)] INFO_1* entries} with deferred strings."""
    server = r.unique(NdrReader.wstr)
    level = r.u32()
    if level != 1:
        call.status = ERROR_INVALID_LEVEL
        w = NdrWriter()
        w.unique(None, NdrWriter.u32)
        w.u32(ERROR_INVALID_LEVEL)
        return w.getvalue()
    shares = [("public", 0, f"served to {server}"), ("IPC$", 0x80000003, "IPC Service")]

    def info_1(w: NdrWriter, share: tuple[str, int, str]) -> None:
        w.unique(share[0], NdrWriter.wstr)
        w.u32(share[1])
        w.unique(share[2], NdrWriter.wstr)

    def container(w: NdrWriter, items: list[tuple[str, int, str]]) -> None:
        with w.struct():
            w.u32(len(items))
            w.unique(items, lambda w, items: w.conformant_array(items, info_1))

    w = NdrWriter()
    w.unique(shares, container)
    w.u32(0)  # WERROR_OK
    call.status, call.returned = 0, len(shares)
    return w.getvalue()


def echo(call: CallContext, r: NdrReader) -> bytes:
    text = r.unique(NdrReader.wstr)
    w = NdrWriter()
    w.unique(None if text is None else text.upper(), NdrWriter.wstr)
    w.u32(0)
    return w.getvalue()


def total(call: CallContext, r: NdrReader) -> bytes:
    values = r.conformant_array(NdrReader.u32, limit=1 << 20, min_size=4)
    w = NdrWriter()
    w.u64(sum(values))
    call.returned = len(values)
    return w.getvalue()


def blob(call: CallContext, r: NdrReader) -> bytes:
    n = r.u32()
    w = NdrWriter()
    w.conformant_bytes(bytes(i % 251 for i in range(n)))
    return w.getvalue()


def fail(call: CallContext, r: NdrReader) -> bytes:
    raise RpcFault(0x12345678, "always fails")


@dataclass
class Thing:
    value: int


def open_thing(call: CallContext, r: NdrReader) -> bytes:
    w = NdrWriter()
    w.handle(call.new_handle(Thing(r.u32())))
    w.u32(0)
    return w.getvalue()


def close_thing(call: CallContext, r: NdrReader) -> bytes:
    if call.close_handle(r.handle()) is None:
        raise RpcFault(FaultStatus.NCA_S_FAULT_CONTEXT_MISMATCH)
    w = NdrWriter()
    w.handle(NULL_HANDLE)
    w.u32(0)
    return w.getvalue()


def leveled(call: CallContext, r: NdrReader) -> bytes:
    level = r.u32()
    call.authorize(level=level)  # the policy may depend on the level (NetrShareEnum 2 vs 1)
    w = NdrWriter()
    w.u32(level)
    return w.getvalue()


def status_only(call: CallContext, r: NdrReader) -> bytes:
    return bytes(4)


DEMO = Interface("demo", DEMO_UUID, (1, 0), {
    0: Operation("DemoShareEnum", share_enum),
    1: Operation("DemoEcho", echo),
    2: Operation("DemoTotal", total),
    3: Operation("DemoBlob", blob),
    4: Operation("DemoFail", fail),
    5: Operation("DemoOpen", open_thing),
    6: Operation("DemoClose", close_thing),
    7: Operation("DemoLeveled", leveled, deny_with_status),
    8: Operation("DemoStatusOnly", status_only, deny_with_status),
})
SRVSVC_STUB = Interface("srvsvc", str(SRVSVC_SYNTAX.uuid), (3, 0), {})


# -- driving a pipe -----------------------------------------------------------------------------------

class DeterministicRandom:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def __call__(self, n: int) -> bytes:
        return self._rng.randbytes(n)


def fake_ctx(kind: PrincipalKind = PrincipalKind.ANONYMOUS, seed: int = 1) -> Any:
    """What RpcPipe uses of the core's RequestContext: .session.principal, .server.random_bytes."""
    return SimpleNamespace(session=SimpleNamespace(principal=Principal(kind)),
                           server=SimpleNamespace(random_bytes=DeterministicRandom(seed)))


def make_pipe(interfaces: tuple[Interface, ...] = (SRVSVC_STUB, DEMO), name: str = "srvsvc", **kw: Any) -> RpcPipe:
    return RpcPipe(name, fake_ctx(), interfaces, **kw)


def read_messages(pipe: RpcPipe, max_bytes: int = 65536) -> list[bytes]:
    """Every pending message, each reassembled from as many reads as it takes."""
    out, current = [], b""
    while True:
        try:
            data, more = pipe.read(max_bytes)
        except SmbError:  # a broken pipe: drained, then STATUS_PIPE_DISCONNECTED
            assert not current
            return out
        if not data and not more:
            return out
        current += data
        if not more:
            out.append(current)
            current = b""


def transceive(pipe: RpcPipe, pdu: bytes) -> bytes:
    """FSCTL_PIPE_TRANSCEIVE as the core does it: write, then one message back."""
    pipe.write(pdu)
    data, more = pipe.read(65536)
    assert not more
    return data


def with_auth_verifier(pdu: bytes, token: bytes = b"NTLMSSP\0\1\0\0\0" + bytes(20)) -> bytes:
    """Append a sec_trailer (NTLMSSP, packet privacy) and token, fixing frag/auth_length."""
    pad = -len(pdu) % 16
    out = bytearray(pdu + bytes(pad) + bytes((0x0A, 6, pad, 0)) + struct.pack("<I", 0) + token)
    struct.pack_into("<HH", out, 8, len(out), len(token))
    return bytes(out)


def bind(pipe: RpcPipe, *syntaxes: SyntaxId, max_frag: int = 4280) -> BindAck:
    contexts = tuple(ContextElement(i, s, (NDR20,)) for i, s in enumerate(syntaxes or (SRVSVC_SYNTAX, DEMO_SYNTAX)))
    header, ack = decode_pdu(transceive(pipe, Bind(max_frag, max_frag, 0, contexts).encode(1)))
    assert header.ptype == PType.BIND_ACK
    return ack  # type: ignore[no-any-return]


def call(pipe: RpcPipe, opnum: int, stub: bytes, *, context_id: int = 1, call_id: int = 2,
         max_frag: int = 4280) -> tuple[Any, Any]:
    """One call; returns (header, body) of the reply, fragments reassembled into one Response."""
    for frag in fragment_request(call_id, context_id, opnum, stub, max_frag):
        pipe.write(frag)
    messages = read_messages(pipe)
    header, body = decode_pdu(messages[0])
    if header.ptype == PType.RESPONSE and len(messages) > 1:
        body = type(body)(body.alloc_hint, body.context_id, b"".join(decode_pdu(m)[1].stub for m in messages))
    return header, body
