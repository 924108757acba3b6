"""The RPC client's transport, socket-free: bind, fragmentation both ways, STATUS_BUFFER_OVERFLOW
continuations, faults, and every way a hostile server can break a reply (client.rpc rules).

Two kinds of server: nullsmb's own RpcPipe (the server state machine, rpc.pipe) and scripted
ones that send exactly the bytes a test needs.
"""

from __future__ import annotations

import asyncio
import importlib.util
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from nullsmb.client.rpc import (
    MAX_FRAG,
    RpcBindError,
    RpcConnection,
    RpcError,
    RpcFaultError,
    RpcProtocolError,
    RpcSession,
    fault_name,
)
from nullsmb.rpc.ndr import NdrReader, NdrWriter
from nullsmb.rpc.pdu import (
    NDR20,
    NDR64,
    BindNak,
    ContextElement,
    ContextResult,
    FaultStatus,
    PfcFlags,
    ProviderReason,
    PType,
    Request,
    ResultCode,
    SyntaxId,
    decode_pdu,
)

from .rpc_helpers import ScriptedPipe, ServerPipe, bind_ack, bound, fault, fragments, response

RPC_TESTS = Path(__file__).parents[1] / "rpc"


def _load(name: str, path: Path) -> Any:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fx = _load("nullsmb_tests_rpc_fixtures", RPC_TESTS / "rpc_fixtures.py")
DEMO_SYNTAX, SRVSVC_SYNTAX = fx.DEMO_SYNTAX, fx.SRVSVC_SYNTAX


def u32(v: int) -> bytes:
    return struct.pack("<I", v)


async def served(*syntaxes: SyntaxId, max_out: int | None = None, **options: Any) -> RpcConnection:
    """A client on nullsmb's RpcPipe (srvsvc placeholder + the demo interface), bound."""
    rpc = RpcConnection(ServerPipe(fx.make_pipe(), max_out), **options)
    result = await rpc.bind(list(syntaxes or (DEMO_SYNTAX,)))
    assert all(c.accepted for c in result.contexts)
    return rpc


# -- against nullsmb's server pipe ------------------------------------------------------------------

async def test_bind_negotiates_and_reports_every_context() -> None:
    rpc = RpcConnection(ServerPipe(fx.make_pipe()))
    unknown = SyntaxId.of("01234567-89ab-cdef-0123-456789abcdef", 1)
    result = await rpc.bind([SRVSVC_SYNTAX, DEMO_SYNTAX, unknown,
                             ContextElement(7, DEMO_SYNTAX, (NDR64,))])
    assert result.sec_addr == "\\PIPE\\srvsvc" and result.max_recv_frag == MAX_FRAG
    assert [(c.context_id, c.accepted) for c in result.contexts] == [(0, True), (1, True), (2, False), (7, False)]
    assert result.contexts[2].result == ResultCode.PROVIDER_REJECTION
    assert result.contexts[2].reason == ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED
    assert result.contexts[2].reason_name == "ABSTRACT_SYNTAX_NOT_SUPPORTED"
    assert result.contexts[3].reason == ProviderReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED
    assert result.contexts[1].transfer_syntax == NDR20
    assert rpc.contexts == {SRVSVC_SYNTAX: 0, DEMO_SYNTAX: 1} and rpc.default_context == 0
    assert result.context_for(unknown) is result.contexts[2]


async def test_second_bind_is_a_bind_nak() -> None:
    rpc = await served()
    with pytest.raises(RpcBindError) as err:
        await rpc.bind([DEMO_SYNTAX])
    assert err.value.nak and err.value.status == 4 and err.value.name == "PROTOCOL_VERSION_NOT_SUPPORTED"
    # a refused bind is an answer, not a broken pipe
    assert await rpc.call(1, NdrWriter().getvalue() + u32(0) + u32(0)) == u32(0) + u32(0)


async def test_alter_context_adds_an_interface() -> None:
    rpc = await served(SRVSVC_SYNTAX)
    result = await rpc.alter_context([DEMO_SYNTAX])
    assert result.contexts[0].context_id == 1 and result.contexts[0].accepted and result.sec_addr == ""
    assert rpc.contexts[DEMO_SYNTAX] == 1
    out = await rpc.call(3, u32(10), context_id=1)
    assert out == u32(10) + bytes(range(10))


@pytest.mark.parametrize("max_frag", [1432, 2048, MAX_FRAG])
async def test_multi_fragment_request_and_response(max_frag: int) -> None:
    rpc = await served(max_frag=max_frag)
    assert rpc.max_xmit_frag == max_frag
    values = list(range(5000))  # a 20 kB stub: several request fragments
    w = NdrWriter()
    w.conformant_array(values, NdrWriter.u32)
    assert NdrReader(await rpc.call(2, w.getvalue())).u64() == sum(values)
    out = await rpc.call(3, u32(30000))  # a 30 kB reply: several response fragments
    assert out == u32(30000) + bytes(i % 251 for i in range(30000))


async def test_buffer_overflow_replies_are_completed_with_reads() -> None:
    # every TRANSCEIVE and READ capped at 1000 bytes: each 4280-byte fragment comes in pieces
    rpc = await served(max_out=1000)
    out = await rpc.call(3, u32(12000))
    assert out == u32(12000) + bytes(i % 251 for i in range(12000))


async def test_fault_is_typed_and_keeps_the_pipe() -> None:
    rpc = await served()
    with pytest.raises(RpcFaultError) as err:
        await rpc.call(4, b"", operation="DemoFail")
    assert err.value.status == 0x12345678 and err.value.operation == "DemoFail"
    with pytest.raises(RpcFaultError) as err:
        await rpc.call(99, b"")
    assert err.value.status == FaultStatus.NCA_S_OP_RNG_ERROR and err.value.name == "NCA_S_OP_RNG_ERROR"
    assert rpc.broken is None
    assert await rpc.call(3, u32(1)) == u32(1) + b"\0"


async def test_request_decodes_and_rejects_leftover_bytes() -> None:
    rpc = await served()
    assert await rpc.request(3, u32(2), lambda r: r.conformant_bytes(), operation="DemoBlob") == b"\0\1"
    with pytest.raises(RpcProtocolError, match="DemoBlob: 2 bytes after the response"):
        await rpc.request(3, u32(2), NdrReader.u32, operation="DemoBlob")
    with pytest.raises(RpcProtocolError, match="does not unmarshal"):
        await rpc.request(3, u32(2), lambda r: r.raw(64), operation="DemoBlob")


# -- scripted servers -------------------------------------------------------------------------------

async def test_fragments_are_reassembled_in_order() -> None:
    stub = bytes(range(256)) * 20
    rpc, pipe = await bound([fragments(stub, 1000)])
    assert await rpc.call(0, b"") == stub
    assert pipe.reads == 5  # one TRANSCEIVE, then a READ per further fragment


async def test_requests_are_fragmented_to_the_servers_receive_size() -> None:
    pipe = ScriptedPipe([[bind_ack(max_recv=1432)], [response(b"ok")]])
    rpc = RpcConnection(pipe)
    await rpc.bind([SRVSVC_SYNTAX])
    assert rpc.max_xmit_frag == 1432
    assert await rpc.call(5, bytes(5000)) == b"ok"
    sent = pipe.writes + pipe.requests[1:]
    assert [len(p) for p in sent] == [1432, 1432, 1432, 24 + 5000 - 3 * 1408]
    headers = [decode_pdu(p) for p in sent]
    assert [h.flags & 3 for h, _ in headers] == [1, 0, 0, 2]
    assert all(isinstance(b, Request) and b.opnum == 5 for _, b in headers)
    assert b"".join(b.stub for _, b in headers) == bytes(5000)


async def test_fault_pdu_status_and_did_not_execute() -> None:
    rpc, _ = await bound([[fault(FaultStatus.ACCESS_DENIED, did_not_execute=True)],
                          [fault(0x1C00FFFF, call_id=3)], [response(b"", call_id=4)]])
    with pytest.raises(RpcFaultError) as err:
        await rpc.call(0, b"", operation="Op")
    assert (err.value.status, err.value.name, err.value.did_not_execute) == (5, "ACCESS_DENIED", True)
    assert str(err.value) == "Op: fault ACCESS_DENIED (0x00000005)"
    with pytest.raises(RpcFaultError) as err:
        await rpc.call(0, b"")
    assert err.value.name == "0x1C00FFFF" and not err.value.did_not_execute
    assert await rpc.call(0, b"") == b""  # call_id 4: the pipe is still in step
    assert fault_name(0x6F7) == "NCA_S_FAULT_NDR"


async def test_bind_nak_and_provider_rejection() -> None:
    nak = BindNak(2).encode(1)
    with pytest.raises(RpcBindError) as err:
        await RpcConnection(ScriptedPipe([[nak]])).bind([SRVSVC_SYNTAX])
    assert err.value.nak and err.value.status == 2 and err.value.name == "LOCAL_LIMIT_EXCEEDED"
    rejected = bind_ack(results=(ContextResult(ResultCode.PROVIDER_REJECTION, 1),))
    rpc = RpcConnection(ScriptedPipe([[rejected]]))
    result = await rpc.bind([SRVSVC_SYNTAX])
    assert not result.contexts[0].accepted and rpc.default_context is None
    with pytest.raises(RpcError, match="before a presentation context"):
        await rpc.call(0, b"")


async def test_session_open_raises_on_a_rejected_interface() -> None:
    """RpcSession.open over nullsmb's SMB core (socket-free) with an interface the pipe lacks."""
    core = _load("nullsmb_tests_core_conftest", Path(__file__).parents[1] / "core" / "conftest.py")
    from nullsmb.client import SmbClient
    from nullsmb.rpc import make_pipe_factory

    context = core.make_context()
    context.pipe_factory = make_pipe_factory({"srvsvc": [fx.SRVSVC_STUB]})
    client = await SmbClient.from_streams(*core.loopback_streams(context), timeout=5)
    await client.login()
    ipc = await client.tree_connect("IPC$")
    with pytest.raises(RpcBindError) as err:
        async with RpcSession.open(client, ipc, "srvsvc", DEMO_SYNTAX):
            pass
    assert not err.value.nak and err.value.result == ResultCode.PROVIDER_REJECTION
    assert err.value.name == "ABSTRACT_SYNTAX_NOT_SUPPORTED"
    await client.disconnect()


@pytest.mark.parametrize("max_recv", [0, 24, 1431])
async def test_bind_ack_below_the_minimum_fragment_is_refused(max_recv: int) -> None:
    with pytest.raises(RpcProtocolError, match="below 1432"):
        await RpcConnection(ScriptedPipe([[bind_ack(max_recv=max_recv)]])).bind([SRVSVC_SYNTAX])


BROKEN_REPLIES = {
    "another call_id": [response(b"x", call_id=9)],
    "another context": [response(b"x", context_id=3)],
    "a bind_ack": [bind_ack(2)],
    "no FIRST_FRAG": [response(b"x", flags=PfcFlags.LAST_FRAG)],
    "FIRST_FRAG twice": [response(b"x", flags=PfcFlags.FIRST_FRAG), response(b"x")],
    "a header cut short": [response(b"abcdef")[:10]],
    "a body cut short": [response(b"abcdef")[:-3]],
    "frag_length too small": [b"\x05\x00\x02\x03\x10\x00\x00\x00\x08\x00\x00\x00\x02\x00\x00\x00"],
    "version 4": [b"\x04" + response(b"x")[1:]],
    "bytes after the reply": [response(b"x") + b"\0\0\0\0"],
    "an auth verifier": [fx.with_auth_verifier(response(b"x" * 8))],
    "no data": [b""],
}


@pytest.mark.parametrize("reply", BROKEN_REPLIES.values(), ids=BROKEN_REPLIES.keys())
async def test_a_broken_reply_raises_and_breaks_the_pipe(reply: list[bytes]) -> None:
    rpc, pipe = await bound([reply, [response(b"never")]])
    with pytest.raises(RpcProtocolError):
        await rpc.call(0, b"")
    assert rpc.broken
    with pytest.raises(RpcProtocolError, match="pipe unusable"):
        await rpc.call(0, b"")
    assert len(pipe.requests) == 2  # the second call never reached the pipe


async def test_reassembly_is_capped() -> None:
    rpc, _ = await bound([fragments(bytes(3000), 1000)], max_response=2500)
    with pytest.raises(RpcProtocolError, match="beyond 2500 bytes"):
        await rpc.call(0, b"")


async def test_endless_fragments_stop_at_the_fragment_limit() -> None:
    class Endless(ScriptedPipe):
        async def read(self, max_bytes: int) -> tuple[bytes, bool]:
            self.reads += 1
            return response(b"", flags=0), False  # a middle fragment with no stub, forever

    pipe = Endless([[bind_ack()], [response(b"", flags=PfcFlags.FIRST_FRAG)]])
    rpc = RpcConnection(pipe, max_fragments=50)
    await rpc.bind([SRVSVC_SYNTAX])
    with pytest.raises(RpcProtocolError, match="more than 50 fragments"):
        await rpc.call(0, b"")
    assert pipe.reads == 49


async def test_default_fragment_limit_follows_the_response_cap() -> None:
    assert RpcConnection(ScriptedPipe([]), max_response=1 << 20).max_fragments == 1040


async def test_a_call_that_does_not_complete_leaves_the_pipe_unusable() -> None:
    class Silent(ScriptedPipe):
        async def transceive(self, data: bytes, max_out: int) -> tuple[bytes, bool]:
            if self.requests:
                await asyncio.Event().wait()  # never answers
            return await super().transceive(data, max_out)

    pipe = Silent([[bind_ack()]])
    rpc = RpcConnection(pipe)
    await rpc.bind([SRVSVC_SYNTAX])
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(rpc.call(0, b""), 0.05)
    assert rpc.broken == "a call did not complete"
    with pytest.raises(RpcProtocolError, match="pipe unusable"):
        await rpc.call(0, b"")


async def test_every_truncation_of_a_reply_pdu_is_a_clean_error() -> None:
    reply = response(bytes(range(40)))
    for cut in range(len(reply)):
        rpc, _ = await bound([[reply[:cut]]])
        with pytest.raises(RpcProtocolError):
            await rpc.call(0, b"")
    for cut in range(len(bind_ack())):
        with pytest.raises(RpcProtocolError):
            await RpcConnection(ScriptedPipe([[bind_ack()[:cut]]])).bind([SRVSVC_SYNTAX])


async def test_call_ids_increase_and_match() -> None:
    rpc, pipe = await bound([[response(b"a", call_id=2)], [response(b"b", call_id=3)]])
    assert await rpc.call(0, b"") == b"a" and await rpc.call(0, b"") == b"b"
    assert [decode_pdu(r)[0].call_id for r in pipe.requests] == [1, 2, 3]
    assert decode_pdu(pipe.requests[0])[0].ptype == PType.BIND
