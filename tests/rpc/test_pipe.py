"""RpcPipe (rpc/pipe.py) with the demo interface of rpc_fixtures: binds, calls, fragmentation
both ways, read continuation, faults, policy and audit hooks, context handles, the state
machine, the pipe factory, and one end-to-end run through the SMB core."""

from __future__ import annotations

import asyncio
import importlib.util
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rpc_fixtures import (
    DEMO,
    DEMO_SYNTAX,
    SRVSVC_STUB,
    SRVSVC_SYNTAX,
    bind,
    call,
    fake_ctx,
    make_pipe,
    read_messages,
    transceive,
    with_auth_verifier,
)
from nullsmb.rpc import NdrReader, NdrWriter, make_pipe_factory
from nullsmb.rpc.ndr import NULL_HANDLE
from nullsmb.rpc.pdu import (
    NDR20,
    Bind,
    BindFeature,
    ContextElement,
    Fault,
    FaultStatus,
    NakReason,
    PfcFlags,
    PType,
    Request,
    ResultCode,
    btfn_syntax,
    decode_pdu,
    encode_pdu,
    fragment_request,
)
from nullsmb.rpc.pipe import TRANSITIONS, CallContext, PipeState
from nullsmb.status import NtStatus, SmbError

DEMO_CTX = 1  # bind() puts srvsvc in context 0 and the demo interface in context 1


def echo_stub(text: str | None) -> bytes:
    w = NdrWriter()
    w.unique(text, NdrWriter.wstr)
    return w.getvalue()


def u32(v: int) -> bytes:
    return struct.pack("<I", v)


def bound_pipe(**kw: Any):  # noqa: ANN201
    pipe = make_pipe(**kw)
    bind(pipe)
    return pipe


def fault_of(reply: tuple[Any, Any]) -> tuple[int, bool]:
    header, body = reply
    assert header.ptype == PType.FAULT, body
    return body.status, bool(header.flags & PfcFlags.DID_NOT_EXECUTE)


# -- calls ---------------------------------------------------------------------------------------------

def test_bind_then_calls() -> None:
    pipe = make_pipe()
    ack = bind(pipe)
    assert [r.result for r in ack.results] == [ResultCode.ACCEPTANCE] * 2 and pipe.state is PipeState.BOUND
    header, rsp = call(pipe, 1, echo_stub("hello"), call_id=2)
    assert header.ptype == PType.RESPONSE and header.call_id == 2 and rsp.context_id == DEMO_CTX
    r = NdrReader(rsp.stub)
    assert r.unique(NdrReader.wstr) == "HELLO" and r.u32() == 0 and r.remaining == 0
    _, rsp = call(pipe, 1, echo_stub(None), call_id=3)
    assert rsp.stub == bytes(8)


def test_the_handler_example() -> None:
    """ServerName/Level in, a unique pointer to a conformant array of structures whose strings
    are deferred after the array out; decoded here the way a client would."""
    pipe = bound_pipe()
    w = NdrWriter()
    w.unique("\\\\server", NdrWriter.wstr)
    w.u32(1)
    _, rsp = call(pipe, 0, w.getvalue())
    r = NdrReader(rsp.stub)

    def container(r: NdrReader) -> list[tuple]:
        with r.struct():
            count = r.u32()
            entries = r.embedded_unique(lambda r: r.conformant_array(
                lambda r: (r.embedded_unique(NdrReader.wstr), r.u32(), r.embedded_unique(NdrReader.wstr))))
        assert count == len(entries.value)
        return [(n.value, t, c.value) for n, t, c in entries.value]

    assert r.unique(container) == [("public", 0, "served to \\\\server"), ("IPC$", 0x80000003, "IPC Service")]
    assert r.u32() == 0 and r.remaining == 0
    w = NdrWriter()
    w.unique(None, NdrWriter.wstr)
    w.u32(2)
    _, rsp = call(pipe, 0, w.getvalue(), call_id=3)
    assert rsp.stub == bytes(4) + u32(124)


def test_multi_fragment_request() -> None:
    pipe = bound_pipe()
    values = list(range(5000))
    w = NdrWriter()
    w.conformant_array(values, NdrWriter.u32)
    frags = fragment_request(2, DEMO_CTX, 2, w.getvalue(), 1432)
    assert len(frags) == 15
    for frag in frags[:-1]:
        assert pipe.write(frag) == len(frag) and pipe.read(65536) == (b"", False)
    pipe.write(frags[-1])
    [reply] = read_messages(pipe)
    assert decode_pdu(reply)[1].stub == struct.pack("<Q", sum(values))


def test_multi_fragment_response_honours_max_recv() -> None:
    pipe = make_pipe()
    bind(pipe, SRVSVC_SYNTAX, DEMO_SYNTAX, max_frag=1500)
    assert pipe.max_xmit == 1496
    pipe.write(Request(4, DEMO_CTX, 3, u32(10000)).encode(5))
    messages = read_messages(pipe)
    assert len(messages) == 7 and all(len(m) <= 1496 for m in messages)  # 1472 stub bytes each
    stub = b""
    for i, m in enumerate(messages):
        header, rsp = decode_pdu(m)
        assert header.call_id == 5 and (header.flags & 3) == (1 if i == 0 else 0) | (2 if i == 6 else 0)
        assert rsp.alloc_hint == 10004 - len(stub)
        stub += rsp.stub
    assert stub == u32(10000) + bytes(i % 251 for i in range(10000))


def test_read_continuation_reports_more() -> None:
    pipe = bound_pipe()
    pipe.write(Request(4, DEMO_CTX, 3, u32(3000)).encode(2))  # a 3028-byte single-fragment response
    chunks = []
    while True:
        data, more = pipe.read(1000)
        chunks.append((len(data), more))
        if not more:
            break
    assert chunks == [(1000, True), (1000, True), (1000, True), (28, False)]
    assert pipe.read(1000) == (b"", False) and pipe.pending == 0


def test_byte_by_byte_equals_whole() -> None:
    """Any chunking of the client's writes gives the same replies (h11's tr())."""
    stream = (Bind(4280, 4280, 0, (ContextElement(1, DEMO_SYNTAX, (NDR20,)),)).encode(1)
              + b"".join(fragment_request(2, DEMO_CTX, 1, echo_stub("x" * 3000), 1432))
              + Request(0, DEMO_CTX, 99, b"").encode(3))
    whole, split = make_pipe(), make_pipe()
    whole.write(stream)
    for i in range(len(stream)):
        split.write(stream[i : i + 1])
    expected = read_messages(whole)
    assert len(expected) == 4 and read_messages(split) == expected


# -- faults ----------------------------------------------------------------------------------------------

def test_unknown_opnum_faults_and_the_pipe_goes_on() -> None:
    pipe = bound_pipe()
    assert fault_of(call(pipe, 99, b"")) == (FaultStatus.NCA_S_OP_RNG_ERROR, True)
    assert fault_of(call(pipe, 0, b"", context_id=0, call_id=3)) == (FaultStatus.NCA_S_OP_RNG_ERROR, True)
    assert call(pipe, 1, echo_stub("a"), call_id=4)[0].ptype == PType.RESPONSE


def test_unknown_context_and_bad_stub() -> None:
    pipe = bound_pipe()
    assert fault_of(call(pipe, 1, echo_stub("a"), context_id=7)) == (FaultStatus.NCA_S_UNK_IF, True)
    assert fault_of(call(pipe, 1, echo_stub("abc")[:-3], call_id=3)) == (FaultStatus.NCA_S_FAULT_NDR, True)
    assert fault_of(call(pipe, 1, u32(1) + u32(0xFFFFFFFF) + u32(0) + u32(1), call_id=4))[0] == 0x6F7
    assert fault_of(call(pipe, 4, b"", call_id=5)) == (0x12345678, False)  # RpcFault from the handler
    fault = decode_pdu(read_fault(pipe, Request(0, 3, 1, b"").encode(6)))[1]
    assert fault == Fault(FaultStatus.NCA_S_UNK_IF, 3)


def read_fault(pipe: Any, pdu: bytes) -> bytes:
    reply = transceive(pipe, pdu)
    assert decode_pdu(reply)[0].ptype == PType.FAULT
    return reply


def test_request_before_bind_breaks_the_pipe() -> None:
    pipe = make_pipe()
    pipe.write(Request(0, 0, 0, b"").encode(1) + Bind(4280, 4280, 0, ()).encode(2))
    [reply] = read_messages(pipe)  # the bind that followed in the same write is discarded
    assert decode_pdu(reply)[1].status == FaultStatus.NCA_S_PROTO_ERROR and pipe.state is PipeState.BROKEN
    with pytest.raises(SmbError) as err:
        pipe.write(Bind(4280, 4280, 0, ()).encode(3))
    assert err.value.status == NtStatus.STATUS_PIPE_DISCONNECTED
    with pytest.raises(SmbError):
        pipe.read(100)


@pytest.mark.parametrize("garbage", [b"\x04\x00\x0b\x03\x10\0\0\0\x48\0\0\0\x07\0\0\0", b"\x05\x00\x0b\x03\x10\0\0\0\x0f\0\0\0\x07\0\0\0",
                                     b"GET / HTTP/1.1\r\n\r\n"])
def test_unframeable_input_faults_then_disconnects(garbage: bytes) -> None:
    pipe = make_pipe()
    pipe.write(garbage)
    [reply] = read_messages(pipe)
    header, fault = decode_pdu(reply)
    assert fault.status == FaultStatus.NCA_S_PROTO_ERROR and pipe.state is PipeState.BROKEN
    assert header.call_id == int.from_bytes(garbage[12:16], "little")


def test_stub_size_limit() -> None:
    pipe = bound_pipe(max_stub=4000)
    frags = fragment_request(2, DEMO_CTX, 2, bytes(6000), 1432)
    for frag in frags:
        pipe.write(frag)
    [reply] = read_messages(pipe)  # the fault comes as soon as the limit is passed; the rest is dropped
    assert decode_pdu(reply)[1].status == FaultStatus.ACCESS_DENIED
    big_hint = Request(5_000_000, DEMO_CTX, 2, bytes(8)).encode(3, PfcFlags.FIRST_FRAG)
    assert decode_pdu(transceive(pipe, big_hint))[1].status == FaultStatus.ACCESS_DENIED
    assert call(pipe, 1, echo_stub("ok"), call_id=4)[0].ptype == PType.RESPONSE


def test_fragment_sequence_errors() -> None:
    pipe = bound_pipe()
    first = Request(100, DEMO_CTX, 1, bytes(8)).encode(2, PfcFlags.FIRST_FRAG)
    pipe.write(first)
    assert decode_pdu(transceive(pipe, Request(8, DEMO_CTX, 1, bytes(8)).encode(3)))[1].status == \
        FaultStatus.NCA_S_PROTO_ERROR  # a new call before the last one ended
    pipe.write(first.replace(b"\x02\x00\x00\x00", b"\x04\x00\x00\x00", 1))
    mismatch = Request(8, DEMO_CTX, 2, bytes(8)).encode(4, PfcFlags.LAST_FRAG)  # another opnum
    assert decode_pdu(transceive(pipe, mismatch))[1].status == FaultStatus.NCA_S_PROTO_ERROR
    stray = Request(8, DEMO_CTX, 1, bytes(8)).encode(4, PfcFlags.LAST_FRAG)  # the rest of call 4: dropped
    assert transceive(pipe, stray) == b""
    ancient = Request(8, DEMO_CTX, 1, bytes(8)).encode(4000, PfcFlags.LAST_FRAG)
    assert decode_pdu(transceive(pipe, ancient))[1].status == FaultStatus.NCA_S_PROTO_ERROR
    assert pipe.state is PipeState.BOUND


def test_orphaned_drops_the_call_and_keeps_the_pipe() -> None:
    pipe = make_pipe()
    bind_btfn = Bind(4280, 4280, 0, (ContextElement(1, DEMO_SYNTAX, (NDR20,)),
                                      ContextElement(2, DEMO_SYNTAX, (btfn_syntax(2),))))
    transceive(pipe, bind_btfn.encode(1))
    assert pipe.features == BindFeature.KEEP_CONNECTION_ON_ORPHAN
    pipe.write(Request(100, DEMO_CTX, 1, bytes(8)).encode(2, PfcFlags.FIRST_FRAG))
    pipe.write(encode_pdu(PType.ORPHANED, 3, 2))
    pipe.write(encode_pdu(PType.CO_CANCEL, 3, 2))
    assert pipe.read(100) == (b"", False)
    assert call(pipe, 1, echo_stub("z"), call_id=3)[0].ptype == PType.RESPONSE


def test_alter_context_second_bind_and_auth() -> None:
    pipe = make_pipe()
    bind(pipe, SRVSVC_SYNTAX)
    assert fault_of(call(pipe, 1, echo_stub("a"), context_id=5))[0] == FaultStatus.NCA_S_UNK_IF
    alter = Bind(4280, 4280, 0, (ContextElement(5, DEMO_SYNTAX, (NDR20,)),))
    header, resp = decode_pdu(transceive(pipe, alter.encode(3, ptype=PType.ALTER_CONTEXT)))
    assert header.ptype == PType.ALTER_CONTEXT_RESP and resp.sec_addr == "" and resp.results[0].result == 0
    assert call(pipe, 1, echo_stub("a"), context_id=5, call_id=4)[0].ptype == PType.RESPONSE
    clash = Bind(4280, 4280, 0, (ContextElement(5, SRVSVC_SYNTAX, (NDR20,)),))  # context 5 is taken
    assert decode_pdu(transceive(pipe, clash.encode(5, ptype=PType.ALTER_CONTEXT)))[1].results[0].result == 2
    header, nak = decode_pdu(transceive(pipe, alter.encode(6)))
    assert header.ptype == PType.BIND_NAK and nak.reason == NakReason.PROTOCOL_VERSION_NOT_SUPPORTED
    fault = decode_pdu(transceive(pipe, with_auth_verifier(alter.encode(7, ptype=PType.ALTER_CONTEXT))))[1]
    assert fault.status == FaultStatus.RPC_S_UNKNOWN_AUTHN_SERVICE
    fault = decode_pdu(transceive(pipe, with_auth_verifier(Request(4, 5, 1, echo_stub(None)).encode(8))))[1]
    assert fault.status == FaultStatus.ACCESS_DENIED
    assert pipe.state is PipeState.BOUND


def test_big_endian_bind_is_nakked() -> None:
    pipe = make_pipe()
    be = bytearray(Bind(4280, 4280, 0, (ContextElement(1, DEMO_SYNTAX, (NDR20,)),)).encode(1))
    be[4] = 0
    struct.pack_into(">HHI", be, 8, len(be), 0, 1)
    assert decode_pdu(transceive(pipe, bytes(be)))[1].reason == NakReason.REASON_NOT_SPECIFIED
    assert decode_pdu(transceive(pipe, Bind(4280, 4280, 0, ()).encode(2)))[1].reason == 0  # no contexts
    assert pipe.state is PipeState.UNBOUND


def test_unread_output_is_bounded() -> None:
    pipe = bound_pipe(max_pending=3000)
    pipe.write(Request(4, DEMO_CTX, 3, u32(2000)).encode(2) + Request(4, DEMO_CTX, 3, u32(2000)).encode(3))
    assert pipe.state is PipeState.BROKEN
    with pytest.raises(SmbError):
        pipe.write(b"")
    assert [decode_pdu(m)[0].ptype for m in read_messages(pipe)] == [PType.RESPONSE, PType.RESPONSE, PType.FAULT]


def test_memory_budget_bounds_reassembly_and_output() -> None:
    from nullsmb.core.context import MemoryBudget
    from nullsmb.rpc import RpcPipe

    budget = MemoryBudget(10_000)
    ctx = fake_ctx()
    ctx.server.memory = budget
    pipe = RpcPipe("srvsvc", ctx, (SRVSVC_STUB, DEMO))
    bind(pipe)
    assert budget.used == 0
    for frag in fragment_request(2, DEMO_CTX, 2, bytes(12_000), 1432):
        pipe.write(frag)
        assert budget.used <= 10_000
    [reply] = read_messages(pipe)
    assert decode_pdu(reply)[1].status == FaultStatus.NCA_S_SERVER_TOO_BUSY and budget.used == 0
    assert call(pipe, 1, echo_stub("fits"), call_id=3)[0].ptype == PType.RESPONSE and budget.used == 0
    pipe.write(Request(4, DEMO_CTX, 3, u32(20_000)).encode(4))  # five 4280-byte fragments
    assert pipe.state is PipeState.BROKEN and budget.used == 0
    assert [decode_pdu(m)[1].status for m in read_messages(pipe)] == [FaultStatus.NCA_S_SERVER_TOO_BUSY]
    pipe2 = RpcPipe("srvsvc", ctx, (DEMO,))
    pipe2.write(Bind(4280, 4280, 0, (ContextElement(1, DEMO_SYNTAX, (NDR20,)),)).encode(1))
    pipe2.write(Request(100, DEMO_CTX, 1, bytes(64)).encode(2, PfcFlags.FIRST_FRAG))
    assert budget.used > 0
    pipe2.close()
    assert budget.used == 0


# -- policy, audit, handles ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int
    rule: str


def test_policy_denial_and_audit_hook() -> None:
    seen: list[tuple[str, int | None, int, int | None]] = []

    def policy(call: CallContext) -> Decision | None:
        if call.op_name == "demo:DemoEcho" or (call.op_name == "demo:DemoLeveled" and call.level == 2):
            return Decision(False, NtStatus.STATUS_ACCESS_DENIED, "restrict-anon")
        return Decision(True, 0, "allowed")

    pipe = bound_pipe(policy_check=policy, on_call=lambda c, s: seen.append((c.op_name, c.level, s, c.returned)))
    assert fault_of(call(pipe, 1, echo_stub("a"))) == (FaultStatus.ACCESS_DENIED, True)
    assert call(pipe, 7, u32(1), call_id=3)[1].stub == u32(1)
    assert call(pipe, 7, u32(2), call_id=4)[1].stub == u32(NtStatus.STATUS_ACCESS_DENIED)  # deny_with_status
    w = NdrWriter()
    w.conformant_array([1, 2, 3], NdrWriter.u32)
    call(pipe, 2, w.getvalue(), call_id=5)
    call(pipe, 4, b"", call_id=6)
    call(pipe, 42, b"", call_id=7)
    assert seen == [("demo:DemoEcho", None, 5, None), ("demo:DemoLeveled", 1, 0, None),
                    ("demo:DemoLeveled", 2, NtStatus.STATUS_ACCESS_DENIED, None), ("demo:DemoTotal", None, 0, 3),
                    ("demo:DemoFail", None, 0x12345678, None), ("demo:opnum42", None, 0x1C010002, None)]


def test_context_handles() -> None:
    pipe = bound_pipe()
    _, rsp = call(pipe, 5, u32(42))
    handle = rsp.stub[:20]
    assert handle[:4] == bytes(4) and handle != NULL_HANDLE and rsp.stub[20:] == bytes(4)
    assert pipe.lookup(handle).value == 42 and pipe.lookup(handle, kind=str) is None
    assert call(pipe, 6, handle, call_id=3)[1].stub == NULL_HANDLE + bytes(4)
    assert fault_of(call(pipe, 6, handle, call_id=4))[0] == FaultStatus.NCA_S_FAULT_CONTEXT_MISMATCH
    call(pipe, 5, u32(1), call_id=5)
    assert len(pipe.handles) == 1
    pipe.close()
    assert not pipe.handles and pipe.state is PipeState.CLOSED
    small = bound_pipe(max_handles=1)
    call(small, 5, u32(1))
    assert fault_of(call(small, 5, u32(2), call_id=3))[0] == NtStatus.STATUS_INSUFFICIENT_RESOURCES


# -- the state machine and the fuzz invariant --------------------------------------------------------

def minimal_pdu(ptype: int, call_id: int = 9) -> bytes:
    bodies = {PType.BIND: Bind(4280, 4280, 0, (ContextElement(1, DEMO_SYNTAX, (NDR20,)),)).encode(call_id),
              PType.ALTER_CONTEXT: Bind(4280, 4280, 0, (ContextElement(1, DEMO_SYNTAX, (NDR20,)),))
              .encode(call_id, ptype=PType.ALTER_CONTEXT),
              PType.REQUEST: Request(8, DEMO_CTX, 1, echo_stub(None)).encode(call_id)}
    return bodies.get(ptype) or encode_pdu(ptype, 3, call_id, bytes(8))


@pytest.mark.parametrize("state", [PipeState.UNBOUND, PipeState.BOUND, PipeState.BROKEN])
@pytest.mark.parametrize("ptype", list(range(21)))
def test_every_state_and_pdu_type(state: PipeState, ptype: int) -> None:
    pipe = make_pipe()
    if state is not PipeState.UNBOUND:
        bind(pipe)
    if state is PipeState.BROKEN:
        pipe.write(b"\x00" * 16)
        read_messages(pipe)
        with pytest.raises(SmbError):
            pipe.write(minimal_pdu(ptype))
        return
    pipe.write(minimal_pdu(ptype))
    replies = [decode_pdu(m) for m in read_messages(pipe)]
    allowed = (state, ptype) in TRANSITIONS
    expected = PipeState.BOUND if (state, ptype) == (PipeState.UNBOUND, PType.BIND) else state
    assert pipe.state is (expected if allowed else PipeState.BROKEN)
    if not allowed:
        assert [(h.ptype, b.status) for h, b in replies] == [(PType.FAULT, FaultStatus.NCA_S_PROTO_ERROR)]
    elif ptype in (PType.AUTH3, PType.ORPHANED, PType.CO_CANCEL):
        assert replies == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.sampled_from([minimal_pdu(t) for t in range(21)]),
    st.binary(max_size=64),
    st.sampled_from([minimal_pdu(PType.REQUEST, 2)]).map(lambda p: p[:-3] + b"\xff\xff\xff"),
), max_size=8), st.integers(1, 50))
def test_any_byte_stream_yields_replies_or_disconnect(pdus: list[bytes], chunk: int) -> None:
    pipe = make_pipe()
    stream = b"".join(pdus)
    for i in range(0, len(stream), chunk):
        try:
            pipe.write(stream[i : i + chunk])
        except SmbError as exc:
            assert exc.status == NtStatus.STATUS_PIPE_DISCONNECTED and pipe.state is PipeState.BROKEN
            break
    try:
        for message in read_messages(pipe, 100):
            decode_pdu(message)
    except SmbError:
        assert pipe.state is PipeState.BROKEN


# -- the factory -------------------------------------------------------------------------------------

def test_pipe_factory_aliases() -> None:
    samr = type(DEMO)("samr", "12345778-1234-abcd-ef00-0123456789ac", (1, 0), {})
    lsarpc = type(DEMO)("lsarpc", "12345778-1234-abcd-ef00-0123456789ab", (0, 0), {})
    factory = make_pipe_factory({"srvsvc": [SRVSVC_STUB], "lsarpc": [lsarpc], "lsass": [samr, lsarpc]})
    ctx = fake_ctx()
    assert factory("nosuchpipe", ctx) is None and factory("wkssvc", ctx) is None
    srvsvc = factory("srvsvc", ctx)
    assert srvsvc.interfaces == (SRVSVC_STUB,) and srvsvc.sec_addr == "\\PIPE\\srvsvc"
    for name in ("lsarpc", "samr", "LSASS", "netlogon"):
        pipe = factory(name, ctx)
        assert pipe.interfaces == (lsarpc, samr) and pipe.sec_addr == "\\PIPE\\lsass"
    assert factory("srvsvc", ctx) is not srvsvc  # one pipe per open


# -- end to end through the SMB core ----------------------------------------------------------------------

def _core_conftest() -> Any:
    name = "nullsmb_tests_core_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "core" / "conftest.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


async def test_end_to_end_anonymous_over_ioctl_and_read() -> None:
    from nullsmb.client import SmbClient
    from nullsmb.wire.ioctl import Fsctl

    core = _core_conftest()
    context = core.make_context()
    calls: list[str] = []
    context.pipe_factory = make_pipe_factory({"srvsvc": [SRVSVC_STUB, DEMO]},
                                             on_call=lambda c, s: calls.append(f"{c.op_name}:{s}"))
    reader, writer = core.loopback_streams(context)
    client = await SmbClient.from_streams(reader, writer, timeout=5)
    assert (await client.login()).is_null
    ipc = await client.tree_connect("IPC$")
    fid = await client.create(ipc, "srvsvc")
    bind_pdu = Bind(4280, 4280, 0, (ContextElement(0, SRVSVC_SYNTAX, (NDR20,)),
                                    ContextElement(1, DEMO_SYNTAX, (NDR20,)))).encode(1)
    ack = decode_pdu(await client.ioctl(ipc, fid, Fsctl.PIPE_TRANSCEIVE, bind_pdu, max_out=4280))[1]
    assert [r.result for r in ack.results] == [0, 0] and ack.sec_addr == "\\PIPE\\srvsvc"
    # a 6000-byte reply: the first fragment over TRANSCEIVE (in two pieces, BUFFER_OVERFLOW then
    # READ, as max_out is 1000), the second fragment by READ
    reply = await client.ioctl(ipc, fid, Fsctl.PIPE_TRANSCEIVE, Request(4, 1, 3, u32(6000)).encode(2), max_out=1000)
    header, first = decode_pdu(reply)
    assert header.ptype == PType.RESPONSE and header.flags & 3 == PfcFlags.FIRST_FRAG and len(reply) == 4280
    header, second = decode_pdu(await client.read(ipc, fid, 0, 4280))
    assert header.flags & PfcFlags.LAST_FRAG
    assert first.stub + second.stub == u32(6000) + bytes(i % 251 for i in range(6000))
    assert calls == ["demo:DemoBlob:0"]
    await client.close(ipc, fid)
    await client.disconnect()
    await asyncio.sleep(0)


# -- interoperability: impacket's DCE/RPC client against a real (in-process) server --------------------

try:
    from impacket.dcerpc.v5.dtypes import LPWSTR, ULONG
    from impacket.dcerpc.v5.ndr import NDRCALL
except ImportError:  # pragma: no cover - impacket is a test dependency
    NDRCALL = object  # type: ignore[assignment,misc]
    LPWSTR = ULONG = None


class DemoEcho(NDRCALL):  # type: ignore[misc,valid-type]
    opnum = 1
    structure = (("Text", LPWSTR),)


class DemoEchoResponse(NDRCALL):  # type: ignore[misc,valid-type]
    structure = (("Text", LPWSTR), ("ErrorCode", ULONG))


def test_impacket_client_interoperates() -> None:
    pytest.importorskip("impacket")
    import threading

    from impacket.dcerpc.v5 import transport
    from impacket.dcerpc.v5.rpcrt import DCERPCException
    from impacket.smbconnection import SMBConnection
    from impacket.uuid import uuidtup_to_bin

    from nullsmb.aio.server import SmbServer
    from nullsmb.config import ListenAddr

    core = _core_conftest()
    context = core.make_context(core.make_config(listen=(ListenAddr("127.0.0.1", 0),)))
    context.pipe_factory = make_pipe_factory({"srvsvc": [SRVSVC_STUB, DEMO]})
    loop = asyncio.new_event_loop()
    server = SmbServer(context)
    host, port = loop.run_until_complete(server.start())[0]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        conn = SMBConnection(host, host, sess_port=port, timeout=20)
        conn.login("", "")
        rpc = transport.SMBTransport(host, port, r"\srvsvc", smb_connection=conn)
        dce = rpc.get_dce_rpc()
        dce.connect()
        with pytest.raises(DCERPCException, match="proposed_transfer_syntaxes_not_supported"):
            dce.bind(uuidtup_to_bin((DEMO.uuid, "1.0")),
                     transfer_syntax=("71710533-BEBA-4937-8319-B5DBEF9CCC36", "1.0"))
        dce.bind(uuidtup_to_bin((DEMO.uuid, "1.0")), alter=1)
        req = DemoEcho()
        req["Text"] = "null session\x00"
        assert dce.request(req)["Text"] == "NULL SESSION\x00"
        w = NdrWriter()
        w.conformant_array(list(range(6000)), NdrWriter.u32)  # 24 KB: impacket fragments it
        dce.call(2, w.getvalue())
        assert dce.recv() == struct.pack("<Q", sum(range(6000)))
        dce.call(3, u32(20000))  # a five-fragment reply read back with READs
        assert dce.recv() == u32(20000) + bytes(i % 251 for i in range(20000))
        with pytest.raises(DCERPCException, match="nca_s_op_rng_error"):
            dce.call(42, b"")
            dce.recv()
        dce.disconnect()
        conn.logoff()
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        loop.close()
