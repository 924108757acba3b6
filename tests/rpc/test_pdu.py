"""Connection-oriented PDUs (rpc/pdu.py): the binds and bind_acks rpcclient and Samba 4.17
exchanged (shared/captures), what our pipe answers to them, bind time feature negotiation,
NDR64, auth verifiers, fragmentation both ways, and truncated/mutated PDUs."""

from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rpc_fixtures import DEMO, SRVSVC_SYNTAX, make_pipe, transceive, with_auth_verifier
from nullsmb.rpc.pdu import (
    NDR20,
    NDR64,
    NULL_SYNTAX,
    Bind,
    BindAck,
    BindFeature,
    BindNak,
    ContextElement,
    ContextResult,
    Fault,
    FaultStatus,
    Header,
    NakReason,
    PfcFlags,
    ProviderReason,
    PType,
    Request,
    Response,
    ResultCode,
    RpcFault,
    SyntaxId,
    btfn_features,
    btfn_syntax,
    decode_pdu,
    encode_pdu,
    fragment_request,
    fragment_response,
)
from nullsmb.status import MalformedMessage

H = bytes.fromhex

# frame 16 of rpcclient-null-srvinfo-shares-users-lsa.pcapng: rpcclient binds srvsvc v3.0, NDR
SRVSVC_BIND = H(
    "05" "00" "0b" "03" "10000000" "4800" "0000" "01000000"  # v5.0 bind, FIRST|LAST, drep, 72, auth 0, call 1
    "b810" "b810" "00000000"  # max_xmit 4280, max_recv 4280, assoc_group 0
    "01" "00" "0000"  # one context
    "0000" "01" "00" "c84f324b7016d30112785a47bf6ee188" "03000000"  # ctx 0, srvsvc v3.0
    "045d888aeb1cc9119fe808002b104860" "02000000")  # NDR v2.0
# frame 17: Samba's bind_ack
SAMBA_BIND_ACK = H(
    "05000c03" "10000000" "4400" "0000" "01000000"
    "b810" "b810" "1aa00000"  # 4280, 4280, assoc_group 0xa01a
    "0d00" "5c706970655c73727673766300" "00"  # "\pipe\srvsvc\0", pad to 4
    "01" "00" "0000"  # one result
    "0000" "0000" "045d888aeb1cc9119fe808002b104860" "02000000")  # acceptance, NDR
# frame 26: NetShareEnumAll request (opnum 15)
SHARE_ENUM_REQUEST = H(
    "05000003" "10000000" "5800" "0000" "04000000" "40000000" "0000" "0f00"
    "000002000a000000000000000a0000003100320037002e0030002e0030002e00310000000100000001000000040002000000"
    "000000000000ffffffff00000000")
# frame 44: SamrCloseHandle request (opnum 1) and frame 45, its response
CLOSE_REQUEST = H("05000003100000002c0000000b0000001400000000000100010000007ae42368d4fe9f498ce2fa7ce37252fb")
CLOSE_RESPONSE = H("0500020310000000300000000b0000001800000000000000" + "00" * 24)
CAPTURED = [SRVSVC_BIND, SAMBA_BIND_ACK, SHARE_ENUM_REQUEST, CLOSE_REQUEST, CLOSE_RESPONSE]


# -- golden ---------------------------------------------------------------------------------------

def test_captured_bind_decodes_and_round_trips() -> None:
    header, bind = decode_pdu(SRVSVC_BIND)
    assert (header.ptype, header.flags, header.call_id, header.frag_length) == (PType.BIND, 3, 1, 72)
    assert header.little_endian and header.drep == b"\x10\0\0\0"
    assert bind == Bind(4280, 4280, 0, (ContextElement(0, SRVSVC_SYNTAX, (NDR20,)),))
    assert bind.encode(1) == SRVSVC_BIND


def test_samba_bind_ack_round_trips() -> None:
    header, ack = decode_pdu(SAMBA_BIND_ACK)
    assert ack == BindAck(4280, 4280, 0xA01A, "\\pipe\\srvsvc", (ContextResult(ResultCode.ACCEPTANCE, 0, NDR20),))
    assert ack.encode(header.call_id) == SAMBA_BIND_ACK


def test_our_bind_ack_is_sambas_but_for_group_and_port_spelling() -> None:
    """Same fragment sizes, result and layout; we allocate our own association group and name
    the endpoint as Windows does ("\\PIPE\\srvsvc", the same length)."""
    pipe = make_pipe()
    ours = transceive(pipe, SRVSVC_BIND)
    _, ack = decode_pdu(ours)
    assert ack.assoc_group_id != 0 and ack.sec_addr == "\\PIPE\\srvsvc"
    samba_like = BindAck(4280, 4280, ack.assoc_group_id, "\\pipe\\srvsvc", ack.results).encode(1)
    assert samba_like[:20] + samba_like[24:] == SAMBA_BIND_ACK[:20] + SAMBA_BIND_ACK[24:]
    assert ours.replace(b"PIPE", b"pipe") == samba_like


def test_captured_request_and_response() -> None:
    header, req = decode_pdu(SHARE_ENUM_REQUEST)
    assert (header.call_id, req.alloc_hint, req.context_id, req.opnum, len(req.stub)) == (4, 64, 0, 15, 64)
    assert req.encode(4) == SHARE_ENUM_REQUEST
    header, rsp = decode_pdu(CLOSE_RESPONSE)
    assert rsp == Response(24, 0, bytes(24)) and rsp.encode(header.call_id) == CLOSE_RESPONSE


def test_fault_and_nak_layout() -> None:
    fault = Fault(FaultStatus.NCA_S_OP_RNG_ERROR, 3).encode(9, did_not_execute=True)
    assert fault == H("05000323" "10000000" "2000" "0000" "09000000"  # FIRST|LAST|DID_NOT_EXECUTE, 32 bytes
                      "20000000" "0300" "00" "00" "0200011c" "00000000")  # alloc_hint, ctx 3, status
    assert decode_pdu(fault)[1] == Fault(0x1C010002, 3)
    nak = BindNak(NakReason.AUTHENTICATION_TYPE_NOT_RECOGNIZED).encode(2)
    assert nak == H("05000d03" "10000000" "1800" "0000" "02000000" "0800" "01" "0500" "000000")
    assert decode_pdu(nak)[1] == BindNak(8, ((5, 0),))


def test_object_uuid_request() -> None:
    obj = uuid.UUID("12345678-1234-5678-9abc-def012345678")
    pdu = Request(4, 1, 2, b"abcd", obj).encode(5)
    header, req = decode_pdu(pdu)
    assert header.flags & PfcFlags.OBJECT_UUID and req == Request(4, 1, 2, b"abcd", obj)


def test_btfn_syntax() -> None:
    syntax = btfn_syntax(3)
    assert str(syntax.uuid) == "6cb71c2c-9812-4540-0300-000000000000" and syntax.version == (1, 0)
    assert btfn_features(syntax) == 3 and btfn_features(NDR20) is None


# -- what the pipe answers to binds ---------------------------------------------------------------

def ack_of(pipe_reply: bytes) -> BindAck:
    header, ack = decode_pdu(pipe_reply)
    assert header.ptype in (PType.BIND_ACK, PType.ALTER_CONTEXT_RESP)
    return ack


def test_windows_style_bind_ndr_ndr64_and_feature_negotiation() -> None:
    """Windows clients offer NDR, NDR64 and the BTFN syntax in three contexts."""
    bind = Bind(5840, 5840, 0, (ContextElement(0, SRVSVC_SYNTAX, (NDR20,)),
                                ContextElement(1, SRVSVC_SYNTAX, (NDR64,)),
                                ContextElement(2, SRVSVC_SYNTAX, (btfn_syntax(3),))))
    pipe = make_pipe()
    ack = ack_of(transceive(pipe, bind.encode(1)))
    assert ack.results == (
        ContextResult(ResultCode.ACCEPTANCE, 0, NDR20),
        ContextResult(ResultCode.PROVIDER_REJECTION, ProviderReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED),
        ContextResult(ResultCode.NEGOTIATE_ACK, BindFeature.KEEP_CONNECTION_ON_ORPHAN, NULL_SYNTAX),
    )
    assert (ack.max_xmit_frag, ack.max_recv_frag) == (4280, 4280)
    assert pipe.features == BindFeature.KEEP_CONNECTION_ON_ORPHAN and set(pipe.contexts) == {0}


def test_btfn_without_keep_connection_answers_zero() -> None:
    bind = Bind(4280, 4280, 0, (ContextElement(0, SRVSVC_SYNTAX, (NDR20,)),
                                ContextElement(1, SRVSVC_SYNTAX, (btfn_syntax(1),))))
    ack = ack_of(transceive(make_pipe(), bind.encode(1)))
    assert ack.results[1] == ContextResult(ResultCode.NEGOTIATE_ACK, 0, NULL_SYNTAX)


def test_ndr64_only_and_unknown_interface_rejected() -> None:
    unknown = SyntaxId.of("12345778-1234-abcd-ef00-0123456789ab", 1)
    bind = Bind(4280, 4280, 0, (ContextElement(0, SRVSVC_SYNTAX, (NDR64,)),
                                ContextElement(1, unknown, (NDR20,)),
                                ContextElement(2, SyntaxId(SRVSVC_SYNTAX.uuid, (2, 0)), (NDR20,)),  # wrong major
                                ContextElement(3, SRVSVC_SYNTAX, ()),
                                ContextElement(4, SRVSVC_SYNTAX, (NDR64, NDR20))))  # NDR chosen from a list
    ack = ack_of(transceive(make_pipe(), bind.encode(1)))
    assert [(r.result, r.reason) for r in ack.results] == [
        (2, ProviderReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED),
        (2, ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED),
        (2, ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED),
        (2, ProviderReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED),
        (0, 0)]
    assert ack.results[4].transfer_syntax == NDR20 and ack.results[0].transfer_syntax == NULL_SYNTAX


def test_bind_with_auth_verifier_is_refused_with_bind_nak() -> None:
    pipe = make_pipe()
    header, nak = decode_pdu(transceive(pipe, with_auth_verifier(SRVSVC_BIND)))
    assert header.ptype == PType.BIND_NAK and nak.reason == NakReason.AUTHENTICATION_TYPE_NOT_RECOGNIZED
    ack = ack_of(transceive(pipe, SRVSVC_BIND))  # the client may retry without RPC-level security
    assert ack.results[0].result == ResultCode.ACCEPTANCE


@pytest.mark.parametrize(("client", "expected"), [
    ((4280, 4280), (4280, 4280)), ((5840, 5840), (4280, 4280)), ((2048, 1500), (1496, 2048)),
    ((100, 100), (1432, 1432)), ((0xFFFF, 3001), (3000, 4280))])
def test_fragment_sizes_negotiated(client: tuple[int, int], expected: tuple[int, int]) -> None:
    bind = Bind(client[0], client[1], 7, (ContextElement(0, SRVSVC_SYNTAX, (NDR20,)),))
    ack = ack_of(transceive(make_pipe(), bind.encode(1)))
    assert (ack.max_xmit_frag, ack.max_recv_frag) == expected and ack.assoc_group_id == 7


# -- fragmentation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, 1400, 1408, 1409, 5000, 70000])
def test_fragment_response_and_reassemble(size: int) -> None:
    stub = bytes(i % 251 for i in range(size))
    frags = fragment_response(7, 1, stub, 1432)
    assert all(len(f) <= 1432 for f in frags)
    got, hints = b"", []
    for i, f in enumerate(frags):
        header, rsp = decode_pdu(f)
        assert bool(header.flags & PfcFlags.FIRST_FRAG) == (i == 0)
        assert bool(header.flags & PfcFlags.LAST_FRAG) == (i == len(frags) - 1)
        assert len(rsp.stub) % 8 == 0 or i == len(frags) - 1
        hints.append(rsp.alloc_hint)
        got += rsp.stub
    assert got == stub and hints[0] == size and hints == sorted(hints, reverse=True)
    assert len(frags) == max(1, -(-size // 1408))


def test_fragment_request_with_object_uuid() -> None:
    obj = uuid.uuid4()
    frags = fragment_request(3, 0, 9, bytes(3000), 1432, obj)
    assert len(frags) == 3 and all(len(f) <= 1432 for f in frags)
    assert b"".join(decode_pdu(f)[1].stub for f in frags) == bytes(3000)


def test_tiny_fragments_refused() -> None:
    with pytest.raises(ValueError):
        fragment_response(1, 0, b"x", 24)
    with pytest.raises(ValueError):
        encode_pdu(PType.RESPONSE, 3, 1, bytes(70000))


# -- hostile PDUs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("pdu", CAPTURED)
def test_truncated_pdus_are_malformed(pdu: bytes) -> None:
    for n in range(len(pdu)):
        with pytest.raises(MalformedMessage):
            decode_pdu(pdu[:n])


@pytest.mark.parametrize(("offset", "value"), [(0, 4), (1, 2), (8, 15), (8, 0)])
def test_bad_headers(offset: int, value: int) -> None:
    pdu = bytearray(SRVSVC_BIND)
    pdu[offset] = value
    if offset == 8:
        pdu[9] = 0
    with pytest.raises(MalformedMessage):
        Header.decode(pdu)


def test_auth_length_must_fit_and_big_endian_is_framed() -> None:
    pdu = bytearray(SRVSVC_BIND)
    struct.pack_into("<H", pdu, 10, 60)  # 16 + 8 + 60 > 72
    with pytest.raises(MalformedMessage):
        Header.decode(pdu)
    be = bytearray(SRVSVC_BIND)
    be[4] = 0x00  # big-endian integers
    struct.pack_into(">HHI", be, 8, 72, 0, 1)
    header = Header.decode(be)
    assert not header.little_endian and header.frag_length == 72 and header.call_id == 1
    with pytest.raises(MalformedMessage):
        decode_pdu(be)


def test_bind_with_lying_context_count() -> None:
    pdu = bytearray(SRVSVC_BIND)
    pdu[24] = 3  # three contexts announced, one present
    with pytest.raises(MalformedMessage):
        decode_pdu(pdu)
    pdu = bytearray(SRVSVC_BIND)
    pdu[30] = 200  # 200 transfer syntaxes announced
    with pytest.raises(MalformedMessage):
        decode_pdu(pdu)


@settings(max_examples=400)
@given(st.binary(max_size=200))
def test_random_bytes_decode_or_malformed(data: bytes) -> None:
    try:
        decode_pdu(data)
    except MalformedMessage:
        pass


@settings(max_examples=400)
@given(st.sampled_from(CAPTURED), st.data())
def test_mutated_pdus_decode_or_malformed(pdu: bytes, data: st.DataObject) -> None:
    buf = bytearray(pdu)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    try:
        decode_pdu(bytes(buf))
    except MalformedMessage:
        pass


def test_rpc_fault_names() -> None:
    assert str(RpcFault(0x1C010002)) == "NCA_S_OP_RNG_ERROR" and str(RpcFault(0x1234)) == "0x00001234"
    assert DEMO.accepts(SyntaxId(DEMO.syntax.uuid, (1, 0))) and not DEMO.accepts(SyntaxId(DEMO.syntax.uuid, (1, 1)))
