"""Golden bytes, round trips and truncation for every codec in ``nullsmb.wire``.

Golden bytes come from real clients talking to Samba 4.17 (``/work/shared/captures``; the PDUs
used are kept in ``tests/fixtures/*.hex``, NetBIOS header stripped, one comment line naming the
capture and frame). Where no capture has the structure (create contexts, SET_INFO,
VALIDATE_NEGOTIATE_INFO, async headers) the bytes are spelled out field by field.

The truncation invariant (h11's ``tr()``, style.md §7.6.8): a message cut at any offset either
decodes to exactly what the whole message decodes to (the cut fell in padding nobody reads) or
raises ``MalformedMessage``, never IndexError, struct.error or UnicodeDecodeError.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nullsmb.core import crypto
from nullsmb.status import MalformedMessage
from nullsmb.wire import fscc
from nullsmb.wire.buffer import Reader, Writer, expect_structure_size
from nullsmb.wire.create import (
    CloseRequest,
    CloseResponse,
    CreateContext,
    CreateRequest,
    CreateResponse,
    decode_file_id,
    map_generic,
)
from nullsmb.wire.framing import FrameDecoder, frame_header
from nullsmb.wire.header import (
    HEADER_SIZE,
    Command,
    HeaderFlags,
    Smb2Header,
    pack_header,
    split_compound,
)
from nullsmb.wire.info import (
    SET_INFO_RESPONSE,
    QueryDirectoryRequest,
    QueryInfoRequest,
    SetInfoRequest,
    decode_buffer_response,
    encode_buffer_response,
)
from nullsmb.wire.io import (
    FLUSH_RESPONSE,
    FlushRequest,
    ReadRequest,
    WriteRequest,
    decode_read_response,
    decode_write_response,
    encode_read_response,
    encode_write_response,
)
from nullsmb.wire.ioctl import (
    Fsctl,
    IoctlRequest,
    ValidateNegotiateInfo,
    decode_ioctl_response,
    encode_ioctl_response,
    encode_validate_negotiate_response,
)
from nullsmb.wire.negotiate import (
    ContextType,
    Dialect,
    NegotiateContext,
    NegotiateRequest,
    NegotiateResponse,
    smb1_dialects,
)
from nullsmb.wire.session_setup import SessionSetupRequest, SessionSetupResponse, simple_body
from nullsmb.wire.tree import ShareType, TreeConnectRequest, TreeConnectResponse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(name: str) -> bytes:
    """A captured PDU from tests/fixtures (hex; '#' lines are comments)."""
    text = (FIXTURES / f"{name}.hex").read_text()
    return bytes.fromhex("".join(line for line in text.splitlines() if not line.startswith("#")))


def body(name: str) -> bytes:
    return fixture(name)[HEADER_SIZE:]


def decode(decoder: Callable[[Reader, int], Any], message: bytes) -> Any:
    return decoder(Reader(message), HEADER_SIZE)


def with_header(body_bytes: bytes, command: int = 0) -> bytes:
    return bytes(pack_header(command=command, status=0, message_id=1, session_id=0)) + body_bytes


def plain(value: Any) -> Any:
    """Comparable form: memoryviews as bytes, dataclasses field by field."""
    if isinstance(value, memoryview):
        return bytes(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, tuple(plain(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


# -- Reader / Writer -----------------------------------------------------------------------------------

def test_reader_bounds() -> None:
    r = Reader(b"\x01\x02\x03\x04")
    assert r.u16(2) == 0x0403 and r.u32(0) == 0x04030201 and r.u8(3) == 4
    for call in (lambda: r.u32(1), lambda: r.u8(4), lambda: r.view(-1, 1), lambda: r.bytes(0, 5),
                 lambda: r.u64(0), lambda: r.utf16(0, 3), lambda: r.view(2, -1)):
        with pytest.raises(MalformedMessage):
            call()
    assert Reader("\ud800".encode("utf-16-le", "surrogatepass")).utf16(0, 2) == "\ud800"  # lone surrogate


def test_writer_reserve_patch_align() -> None:
    w = Writer()
    at = w.reserve(struct.Struct("<HI"))
    w.write(b"abc")
    w.align(8)
    w.patch(struct.Struct("<HI"), at, 0x1234, len(w))
    assert w.getvalue() == bytes.fromhex(
        "3412"  # the patched u16
        "10000000"  # the patched u32: total length 16
        "616263"  # "abc"
        "00000000000000"  # align(8): 9 bytes padded to 16
    )
    with pytest.raises(MalformedMessage):
        expect_structure_size(8, 9)


# -- framing (MS-SMB2 2.1) ----------------------------------------------------------------------------------

def test_frame_header() -> None:
    assert frame_header(0x123456) == b"\x00\x12\x34\x56"
    with pytest.raises(ValueError):
        frame_header(1 << 24)


def _capture_stream(name: str) -> bytes:
    """One direction of a captured TCP stream (its payloads in order), kept as a hex fixture."""
    return fixture(f"stream_{name}")


def test_frame_decoder_on_a_captured_stream_any_chunking() -> None:
    stream = _capture_stream("smbclient_null_list_shares")
    whole = FrameDecoder(1 << 20).feed(stream)
    assert len(whole) == 9 and all(f[:4] == b"\xfeSMB" for f in whole)
    assert whole[0] == fixture("negotiate_request_311")  # the same PDU the fixture holds
    for size in (1, 3, 7, 64, 1000):
        dec = FrameDecoder(1 << 20)
        frames = []
        for i in range(0, len(stream), size):
            frames += dec.feed(stream[i : i + size])
        assert frames == whole and dec.buffered == 0


def test_frame_decoder_keepalive_big_frames_and_errors() -> None:
    dec = FrameDecoder(1 << 20)
    big = bytes(range(256)) * 1024  # 256 KiB: the zero-copy path
    data = b"\x85\x00\x00\x02ab" + frame_header(3) + b"xyz" + frame_header(len(big)) + big + frame_header(0)
    assert dec.feed(data) == [b"xyz", big, b""]
    dec = FrameDecoder(1 << 20)
    out = []
    for i in range(0, len(data), 4096):
        out += dec.feed(data[i : i + 4096])
    assert out == [b"xyz", big, b""]
    with pytest.raises(MalformedMessage):
        FrameDecoder(100).feed(frame_header(101))
    with pytest.raises(MalformedMessage):
        FrameDecoder(100).feed(b"\x81\x00\x00\x00")  # a session request: not on Direct TCP


# -- header (MS-SMB2 2.2.1) ---------------------------------------------------------------------------------

def test_header_golden_from_capture() -> None:
    msg = fixture("session_setup_request")
    assert msg[:64] == bytes.fromhex(
        "fe534d42"  # ProtocolId
        "4000"  # StructureSize 64
        "0100"  # CreditCharge 1
        "00000000"  # ChannelSequence/Reserved
        "0100"  # Command SESSION_SETUP
        "0020"  # CreditRequest 8192
        "10000000"  # Flags: priority 1 (0x10)
        "00000000"  # NextCommand
        "0100000000000000"  # MessageId 1
        "00000000"  # Reserved (Process Id)
        "00000000"  # TreeId
        "0000000000000000"  # SessionId
        "00000000000000000000000000000000"  # Signature
    )
    hdr = Smb2Header.decode(Reader(msg))
    assert hdr == Smb2Header(1, 0, Command.SESSION_SETUP, 8192, 0x10, 0, 1, 0, 0, 0, bytes(16))
    assert not hdr.is_related and not hdr.is_signed


def test_header_of_a_signed_response() -> None:
    hdr = Smb2Header.decode(Reader(fixture("write_response")))
    assert hdr.command == Command.WRITE and hdr.is_signed and hdr.flags & HeaderFlags.SERVER_TO_REDIR
    assert hdr.signature != bytes(16) and hdr.session_id and hdr.tree_id


def test_pack_header_sync_and_async() -> None:
    sync = pack_header(command=Command.READ, status=0xC0000011, message_id=9, session_id=0x1122334455667788,
                       tree_id=5, credit_charge=2, credits=3, flags=HeaderFlags.SERVER_TO_REDIR)
    assert bytes(sync) == bytes.fromhex(
        "fe534d42" "4000" "0200"  # ProtocolId, StructureSize, CreditCharge 2
        "110000c0"  # Status STATUS_END_OF_FILE
        "0800" "0300"  # Command READ, CreditResponse 3
        "01000000" "00000000"  # Flags SERVER_TO_REDIR, NextCommand
        "0900000000000000"  # MessageId 9
        "00000000" "05000000"  # Reserved, TreeId 5
        "8877665544332211"  # SessionId
        + "00" * 16  # Signature
    )
    asyn = pack_header(command=Command.CHANGE_NOTIFY, status=0x103, message_id=4, session_id=1, async_id=0xABCD)
    assert asyn[16:20] == b"\x03\x00\x00\x00"  # SERVER_TO_REDIR | ASYNC_COMMAND
    assert asyn[32:40] == (0xABCD).to_bytes(8, "little")  # AsyncId replaces Reserved + TreeId
    hdr = Smb2Header.decode(Reader(bytes(asyn)))
    assert (hdr.async_id, hdr.tree_id) == (0xABCD, 0)


def test_header_rejects_bad_magic_and_size() -> None:
    msg = bytearray(fixture("tree_connect_request"))
    for at, value in ((0, 0xFF), (4, 65)):
        bad = bytearray(msg)
        bad[at] = value
        with pytest.raises(MalformedMessage):
            Smb2Header.decode(Reader(bytes(bad)))


def test_split_compound() -> None:
    one = bytearray(pack_header(command=Command.ECHO, status=0, message_id=1, session_id=0)) + simple_body()
    one += bytes(-len(one) % 8)
    first = bytearray(one)
    struct.pack_into("<I", first, 20, len(first))
    pdu = bytes(first) + bytes(one[:68])
    assert split_compound(pdu) == [(0, 72), (72, 140)]
    for nxt in (4, 60, 66, 72 + 72):  # inside the header, unaligned, past the end
        bad = bytearray(pdu)
        struct.pack_into("<I", bad, 20, nxt)
        with pytest.raises(MalformedMessage):
            split_compound(bytes(bad))
    with pytest.raises(MalformedMessage):
        split_compound(pdu[:63])


# -- NEGOTIATE (MS-SMB2 2.2.3, 2.2.4) --------------------------------------------------------------------------

def test_negotiate_request_311_golden() -> None:
    req = decode(NegotiateRequest.decode, fixture("negotiate_request_311"))
    assert req.dialects == (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
    assert req.security_mode == 1 and req.capabilities == 0x7F
    assert [c.type for c in req.contexts] == [ContextType.PREAUTH_INTEGRITY_CAPABILITIES,
                                              ContextType.ENCRYPTION_CAPABILITIES,
                                              ContextType.SIGNING_CAPABILITIES,
                                              ContextType.NETNAME_NEGOTIATE_CONTEXT_ID]
    pre, enc, sig, net = req.contexts
    assert pre.u16_list(0, 4) == [1] and len(pre.data) == 6 + 32  # SHA-512, 32-byte salt
    assert enc.u16_list() == [crypto.AES_128_GCM, crypto.AES_128_CCM, crypto.AES_256_GCM, crypto.AES_256_CCM]
    assert sig.u16_list() == [crypto.SIGNING_AES_GMAC, crypto.SIGNING_AES_CMAC, crypto.SIGNING_HMAC_SHA256]
    assert net.data.decode("utf-16-le") == "127.0.0.1"
    assert req.encode() == body("negotiate_request_311")  # same padding and offsets as smbclient


def test_negotiate_request_202_golden() -> None:
    raw = body("negotiate_request_202")
    assert raw == bytes.fromhex(
        "2400"  # StructureSize 36
        "0100"  # DialectCount 1
        "0100"  # SecurityMode SIGNING_ENABLED
        "0000"  # Reserved
        "00000000"  # Capabilities
        + "00" * 16  # ClientGuid (zero for 2.0.2)
        + "00000000"  # NegotiateContextOffset (ClientStartTime for 2.x)
        "0000" "0000"  # NegotiateContextCount, Reserved2
        "0202"  # Dialects[0] 2.0.2
    )
    req = decode(NegotiateRequest.decode, fixture("negotiate_request_202"))
    assert req == NegotiateRequest(1, 0, bytes(16), (0x0202,), ())
    assert req.encode() == raw


def test_negotiate_request_ignores_contexts_without_311() -> None:
    raw = bytearray(body("negotiate_request_311"))
    struct.pack_into("<H", raw, 36 + 8, 0x0300)  # the 3.1.1 dialect becomes 3.0 again
    req = decode(NegotiateRequest.decode, with_header(bytes(raw)))
    assert req.contexts == ()


@pytest.mark.parametrize("name", ["negotiate_response_311", "negotiate_response_202", "negotiate_response_wildcard"])
def test_negotiate_response_golden(name: str) -> None:
    rsp = decode(NegotiateResponse.decode, fixture(name))
    assert rsp.server_guid == b"anchorsamba" + bytes(5)
    assert rsp.security_buffer.startswith(b"\x60\x48\x06\x06\x2b\x06\x01\x05\x05\x02")  # SPNEGO hint
    assert rsp.encode() == body(name)
    if name == "negotiate_response_311":
        assert rsp.dialect == Dialect.SMB311 and rsp.max_read == 8 * 1024 * 1024
        pre, enc, sig = rsp.contexts
        assert pre.type == ContextType.PREAUTH_INTEGRITY_CAPABILITIES and pre.u16_list(0, 4) == [1]
        assert enc.u16_list() == [crypto.AES_128_GCM] and sig.u16_list() == [crypto.SIGNING_AES_GMAC]
    elif name == "negotiate_response_wildcard":
        assert rsp.dialect == Dialect.WILDCARD and rsp.contexts == ()
    else:
        assert rsp.dialect == Dialect.SMB202 and rsp.max_read == 65536


def test_negotiate_response_fixed_part_commented() -> None:
    raw = body("negotiate_response_202")
    assert raw[:64] == bytes.fromhex(
        "4100"  # StructureSize 65
        "0100"  # SecurityMode SIGNING_ENABLED
        "0202"  # DialectRevision 2.0.2
        "0000"  # NegotiateContextCount
        "616e63686f7273616d62610000000000"  # ServerGuid "anchorsamba"
        "01000000"  # Capabilities DFS
        "00000100" "00000100" "00000100"  # MaxTransact/Read/WriteSize 65536
    ) + raw[40:48] + bytes.fromhex(  # SystemTime
        "0000000000000000"  # ServerStartTime
        "8000"  # SecurityBufferOffset 0x80 = 64 + 64
        "4a00"  # SecurityBufferLength 74
        "00000000"  # NegotiateContextOffset
    )


def test_smb1_negotiate_golden() -> None:
    pdu = fixture("smb1_negotiate_request")
    assert pdu[:4] == b"\xffSMB" and pdu[4] == 0x72  # SMB_COM_NEGOTIATE
    assert smb1_dialects(pdu) == ["NT LM 0.12", "SMB 2.002", "SMB 2.???"]
    for bad in (pdu[:34], b"\xfeSMB" + pdu[4:], pdu[:4] + b"\x73" + pdu[5:]):
        with pytest.raises(MalformedMessage):
            smb1_dialects(bad)


def test_negotiate_context_rules() -> None:
    ctx = (NegotiateContext(1, b"\x01\x00\x00\x00\x01\x00"), NegotiateContext(0x99, b"abc"),
           NegotiateContext(2, b"\x01\x00\x02\x00"))
    req = NegotiateRequest(1, 0, b"G" * 16, (0x0311,), ctx)
    raw = req.encode()
    assert decode(NegotiateRequest.decode, with_header(raw)) == req  # unknown type 0x99 kept
    ctx_off = struct.unpack_from("<I", raw, 28)[0]
    assert ctx_off % 8 == 0 and ctx_off == 64 + 40  # 36 + one dialect, padded to 8
    too_many = struct.pack("<HHHHI16sIHH", 36, 1, 1, 0, 0, bytes(16), 0, 65, 0) + b"\x11\x03"
    with pytest.raises(MalformedMessage):
        decode(NegotiateRequest.decode, with_header(too_many))
    no_dialects = struct.pack("<HHHHI16sIHH", 36, 0, 1, 0, 0, bytes(16), 0, 0, 0)
    with pytest.raises(MalformedMessage):
        decode(NegotiateRequest.decode, with_header(no_dialects))


# -- SESSION_SETUP, TREE_CONNECT ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,codec", [
    ("session_setup_request", SessionSetupRequest),
    ("session_setup_request_anonymous", SessionSetupRequest),
    ("session_setup_response_more", SessionSetupResponse),
    ("session_setup_response_final", SessionSetupResponse),
    ("tree_connect_request", TreeConnectRequest),
    ("tree_connect_response", TreeConnectResponse),
])
def test_session_and_tree_golden_round_trip(name: str, codec: Any) -> None:
    obj = decode(codec.decode, fixture(name))
    assert obj.encode() == body(name)


def test_session_setup_fields() -> None:
    raw = body("session_setup_request")
    assert raw[:24] == bytes.fromhex(
        "1900"  # StructureSize 25
        "00"  # Flags
        "01"  # SecurityMode SIGNING_ENABLED
        "01000000"  # Capabilities DFS
        "00000000"  # Channel
        "5800"  # SecurityBufferOffset 0x58 = 64 + 24
        "4a00"  # SecurityBufferLength 74
        "0000000000000000"  # PreviousSessionId
    )
    req = decode(SessionSetupRequest.decode, fixture("session_setup_request"))
    assert req.token.startswith(b"\x60\x48") and b"NTLMSSP\x00\x01" in req.token
    final = decode(SessionSetupResponse.decode, fixture("session_setup_response_final"))
    assert final == SessionSetupResponse(0, bytes.fromhex("a1073005a0030a0100"))  # accept-completed
    assert body("session_setup_response_final") == bytes.fromhex(
        "0900" "0000" "4800" "0900") + final.token  # size, SessionFlags, offset 72, length 9


def test_simple_bodies() -> None:
    """LOGOFF, TREE_DISCONNECT, ECHO: StructureSize 4, Reserved (MS-SMB2 2.2.7, 2.2.11, 2.2.28)."""
    assert simple_body() == b"\x04\x00\x00\x00" == body("tree_disconnect_request")
    assert Smb2Header.decode(Reader(fixture("tree_disconnect_request"))).command == Command.TREE_DISCONNECT


def test_tree_connect_fields() -> None:
    req = decode(TreeConnectRequest.decode, fixture("tree_connect_request"))
    assert req == TreeConnectRequest(0, "\\\\127.0.0.1\\IPC$")
    rsp = decode(TreeConnectResponse.decode, fixture("tree_connect_response"))
    assert rsp == TreeConnectResponse(ShareType.PIPE, 0, 0, 0x001F00A9)
    assert body("tree_connect_response") == bytes.fromhex(
        "1000"  # StructureSize 16
        "02"  # ShareType PIPE
        "00"  # Reserved
        "00000000"  # ShareFlags
        "00000000"  # Capabilities
        "a9001f00"  # MaximalAccess 0x001F00A9
    )
    odd = bytearray(body("tree_connect_request"))
    struct.pack_into("<H", odd, 6, 31)  # an odd PathLength
    with pytest.raises(MalformedMessage):
        decode(TreeConnectRequest.decode, with_header(bytes(odd)))


# -- CREATE, CLOSE (MS-SMB2 2.2.13 - 2.2.16) -------------------------------------------------------------------

def test_create_request_golden() -> None:
    raw = body("create_request_pipe")
    assert raw[:56] == bytes.fromhex(
        "3900"  # StructureSize 57
        "00"  # SecurityFlags
        "00"  # RequestedOplockLevel NONE
        "02000000"  # ImpersonationLevel Impersonation
        "0000000000000000"  # SmbCreateFlags
        "0000000000000000"  # Reserved
        "9f010200"  # DesiredAccess 0x0002019F
        "00000000"  # FileAttributes
        "03000000"  # ShareAccess READ | WRITE
        "01000000"  # CreateDisposition OPEN
        "00000000"  # CreateOptions
        "7800"  # NameOffset 0x78 = 64 + 56
        "0c00"  # NameLength 12
        "00000000"  # CreateContextsOffset
        "00000000"  # CreateContextsLength
    )
    req = decode(CreateRequest.decode, fixture("create_request_pipe"))
    assert req == CreateRequest(0, 2, 0x0002019F, 0, 3, 1, 0, "srvsvc", ())
    assert req.encode() == raw


def test_create_response_golden() -> None:
    raw = body("create_response")
    rsp = decode(CreateResponse.decode, fixture("create_response"))
    assert rsp.create_action == 1 and rsp.file_attributes == 0x80 and rsp.contexts == ()
    assert decode_file_id(rsp.file_id) == (0x9B7ECE95, 0xE42FA6B6)
    # Samba ends the fixed part at 88 bytes; we add the one Buffer byte StructureSize 89 counts.
    assert rsp.encode() == raw + b"\x00"


CREATE_WITH_CONTEXTS = bytes.fromhex(
    "3900" "00" "00" "02000000"  # StructureSize, SecurityFlags, Oplock, Impersonation
    "0000000000000000" "0000000000000000"  # SmbCreateFlags, Reserved
    "89001200"  # DesiredAccess FILE_GENERIC_READ
    "00000000" "07000000"  # FileAttributes, ShareAccess READ | WRITE | DELETE
    "01000000" "40000000"  # CreateDisposition OPEN, CreateOptions NON_DIRECTORY_FILE
    "7800" "0800"  # NameOffset 0x78, NameLength 8
    "8000000038000000"  # CreateContextsOffset 0x80, CreateContextsLength 56
    "61002e0074007800"  # Name "a.tx"
    # context 1 at 0x80 (24 bytes): MxAc, no data
    "18000000"  # Next 24
    "1000" "0400"  # NameOffset 16, NameLength 4
    "0000" "0000"  # Reserved, DataOffset 0 (no data)
    "00000000"  # DataLength 0
    "4d784163" "00000000"  # "MxAc", padding to 8
    # context 2 at 0x98 (32 bytes): QFid with 8 bytes of data
    "00000000"  # Next 0: the last one
    "1000" "0400"  # NameOffset 16, NameLength 4
    "0000" "1800"  # Reserved, DataOffset 24
    "08000000"  # DataLength 8
    "51466964" "00000000"  # "QFid", padding to 8
    "0102030405060708"  # Data
)


def test_create_request_with_contexts_commented() -> None:
    req = CreateRequest(0, 2, 0x00120089, 0, 7, 1, 0x40, "a.tx",
                        (CreateContext(b"MxAc", b""), CreateContext(b"QFid", bytes(range(1, 9)))))
    assert req.encode() == CREATE_WITH_CONTEXTS
    assert decode(CreateRequest.decode, with_header(CREATE_WITH_CONTEXTS)) == req
    assert req.context(b"QFid") == CreateContext(b"QFid", bytes(range(1, 9))) and req.context(b"RqLs") is None


@pytest.mark.parametrize("edit", [
    (0x80 - 64, struct.pack("<I", 20)),  # Next not 8-aligned
    (0x80 - 64, struct.pack("<I", 64)),  # Next beyond the buffer
    (0x80 - 64 + 4, struct.pack("<H", 60)),  # name outside its context
    (0x98 - 64 + 10, struct.pack("<H", 28)),  # data outside its context
    (52, struct.pack("<I", 200)),  # CreateContextsLength beyond the message
], ids=["unaligned", "next-past-end", "name", "data", "length"])
def test_create_contexts_malformed(edit: tuple[int, bytes]) -> None:
    at, value = edit
    raw = bytearray(CREATE_WITH_CONTEXTS)
    raw[at : at + len(value)] = value
    with pytest.raises(MalformedMessage):
        decode(CreateRequest.decode, with_header(bytes(raw)))


def test_create_response_with_contexts_round_trip() -> None:
    rsp = CreateResponse(0, 0, 2, 1, 2, 3, 4, 4096, 10, 0x20, bytes(range(16)),
                         (CreateContext(b"MxAc", struct.pack("<II", 0, 0x1F01FF)),))
    raw = rsp.encode()
    assert struct.unpack_from("<II", raw, 80) == (64 + 88, 32)  # right after the fixed part; 16+8+8 bytes
    assert decode(CreateResponse.decode, with_header(raw)) == rsp


def test_close_golden() -> None:
    req = decode(CloseRequest.decode, fixture("close_request"))
    assert req == CloseRequest(0, bytes.fromhex("95ce7e9b00000000b6a62fe400000000"))
    assert req.encode() == body("close_request")
    # Without SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB every attribute is zero (MS-SMB2 2.2.16).
    assert CloseResponse().encode() == body("close_response") == b"\x3c\x00" + bytes(58)
    full = CloseResponse(1, 1, 2, 3, 4, 4096, 5, 0x20).encode()
    assert full == struct.pack("<HHIQQQQQQI", 60, 1, 0, 1, 2, 3, 4, 4096, 5, 0x20)


def test_map_generic() -> None:
    assert map_generic(0x80000000) == 0x00120089  # GENERIC_READ → FILE_GENERIC_READ
    assert map_generic(0x10000000) == 0x001F01FF  # GENERIC_ALL → FILE_ALL_ACCESS


# -- READ, WRITE, FLUSH (MS-SMB2 2.2.17 - 2.2.22) --------------------------------------------------------------------

def test_read_golden() -> None:
    raw = body("read_request")
    req = decode(ReadRequest.decode, fixture("read_request"))
    assert req == ReadRequest(0, 6, 0, bytes.fromhex("2e7ea0cc000000001d9ffa7a00000000"), 0, 0)
    # smbclient leaves Padding 0; we hint 0x50 (where the data goes in the response).
    assert req.encode() == raw[:2] + b"\x50" + raw[3:]
    rsp_raw = body("read_response")
    assert rsp_raw == bytes.fromhex(
        "1100"  # StructureSize 17
        "50"  # DataOffset 0x50 = 64 + 16
        "00"  # Reserved
        "06000000"  # DataLength 6
        "00000000"  # DataRemaining
        "00000000"  # Reserved2
    ) + b"hello\n"
    assert bytes(decode(decode_read_response, fixture("read_response"))) == b"hello\n"
    assert encode_read_response(6) + b"hello\n" == rsp_raw


def test_write_golden() -> None:
    req = decode(WriteRequest.decode, fixture("write_request"))
    assert (req.offset, req.channel, req.flags, bytes(req.data)) == (0, 0, 0, b"data123\n")
    assert req.encode_fixed() + bytes(req.data) == body("write_request")
    assert body("write_request")[:4] == bytes.fromhex("3100" "7000")  # StructureSize 49, DataOffset 0x70
    assert decode(decode_write_response, fixture("write_response")) == 8
    assert encode_write_response(8) == body("write_response")


def test_flush_round_trip() -> None:
    fid = bytes(range(16))
    raw = struct.pack("<HHI16s", 24, 0, 0, fid)  # StructureSize 24, Reserved1, Reserved2, FileId
    assert decode(FlushRequest.decode, with_header(raw)) == FlushRequest(fid)
    assert FLUSH_RESPONSE == b"\x04\x00\x00\x00"


# -- IOCTL (MS-SMB2 2.2.31, 2.2.32) -------------------------------------------------------------------------

def test_ioctl_golden() -> None:
    raw = body("ioctl_request")
    req = decode(IoctlRequest.decode, fixture("ioctl_request"))
    assert req.ctl_code == Fsctl.PIPE_TRANSCEIVE and req.flags == 1 and req.max_output_response == 4280
    assert bytes(req.input)[:4] == b"\x05\x00\x0b\x03"  # a DCE/RPC bind
    # smbclient also sets OutputOffset (0x78) with OutputCount 0; we leave it 0.
    assert raw[36:44] == bytes.fromhex("78000000" "00000000")
    assert req.encode() == raw[:36] + b"\x00\x00\x00\x00" + raw[40:]
    rsp = decode(decode_ioctl_response, fixture("ioctl_response"))
    assert bytes(rsp)[:4] == b"\x05\x00\x0c\x03"  # the bind_ack
    assert encode_ioctl_response(req.ctl_code, req.file_id, rsp) == body("ioctl_response")
    assert body("ioctl_response")[:48] == bytes.fromhex(
        "3100" "0000"  # StructureSize 49, Reserved
        "17c01100"  # CtlCode FSCTL_PIPE_TRANSCEIVE
        "95ce7e9b00000000b6a62fe400000000"  # FileId
        "70000000" "00000000"  # InputOffset 0x70, InputCount 0
        "70000000" "44000000"  # OutputOffset 0x70, OutputCount 68
        "00000000" "00000000"  # Flags, Reserved2
    )


def test_validate_negotiate_info_commented() -> None:
    data = bytes.fromhex(
        "7f000000"  # Capabilities
        "000102030405060708090a0b0c0d0e0f"  # Guid
        "0100"  # SecurityMode
        "0200"  # DialectCount 2
        "0003" "0203"  # 3.0, 3.0.2
    )
    assert ValidateNegotiateInfo.decode(memoryview(data)) == ValidateNegotiateInfo(
        0x7F, bytes(range(16)), 1, (0x0300, 0x0302))
    assert encode_validate_negotiate_response(0x44, b"G" * 16, 1, 0x0302) == (
        b"\x44\x00\x00\x00" + b"G" * 16 + b"\x01\x00" + b"\x02\x03")
    for bad in (data[:26], data[:24] + b"\x00\x00", data[:-1]):
        with pytest.raises(MalformedMessage):
            ValidateNegotiateInfo.decode(memoryview(bad))


# -- QUERY_INFO, SET_INFO, QUERY_DIRECTORY (MS-SMB2 2.2.33 - 2.2.40) -------------------------------------------

def test_query_info_golden() -> None:
    raw = body("query_info_request")
    assert raw[:40] == bytes.fromhex(
        "2900"  # StructureSize 41
        "01"  # InfoType FILE
        "12"  # FileInfoClass 18 FileAllInformation
        "ffff0000"  # OutputBufferLength 65535
        "0000" "0000"  # InputBufferOffset, Reserved
        "00000000"  # InputBufferLength
        "00000000"  # AdditionalInformation
        "00000000"  # Flags
    ) + raw[24:40]  # FileId
    req = decode(QueryInfoRequest.decode, fixture("query_info_request"))
    assert (req.info_type, req.info_class, req.output_buffer_length) == (1, 18, 65535)
    assert req.encode() == raw
    data = decode(decode_buffer_response, fixture("query_info_response"))
    assert len(data) == 120 and encode_buffer_response(data) == body("query_info_response")


def test_file_all_information_matches_samba() -> None:
    """Our encoder, given the values Samba reported, produces Samba's bytes (MS-FSCC 2.4.2)."""
    data = decode(decode_buffer_response, fixture("query_info_response"))
    ct, at, wt, cht, attrs, _ = struct.unpack_from("<QQQQII", data, 0)
    alloc, eof, nlink, pending, is_dir, _ = struct.unpack_from("<QQIBBH", data, 40)
    file_id, _ea, access, position, mode, _align, name_len = struct.unpack_from("<QIIQIII", data, 64)
    name = data[100 : 100 + name_len].decode("utf-16-le")
    assert (name, attrs, eof, alloc, access) == ("\\hello.txt", 0x80, 6, 4096, 0x00120089)
    times = fscc.FileTimes(ct, at, wt, cht, alloc, eof, attrs, file_id, nlink, bool(is_dir))
    assert fscc.all_info(times, name=name, access=access, position=position, mode=mode,
                         delete_pending=bool(pending)) == data
    assert fscc.basic_info(times) == data[:40]
    assert fscc.standard_info(times) == data[40:64]
    assert fscc.network_open_info(times) == struct.pack("<QQQQQQII", ct, at, wt, cht, alloc, eof, attrs, 0)


def test_query_directory_golden() -> None:
    raw = body("query_directory_request")
    assert raw == bytes.fromhex(
        "2100"  # StructureSize 33
        "02"  # FileInformationClass 2 FileFullDirectoryInformation
        "00"  # Flags
        "00000000"  # FileIndex
        "da00d03f00000000a418cab600000000"  # FileId
        "6000"  # FileNameOffset 0x60 = 64 + 32
        "0200"  # FileNameLength 2
        "ffff0000"  # OutputBufferLength 65535
        "2a00"  # "*"
    )
    req = decode(QueryDirectoryRequest.decode, fixture("query_directory_request"))
    assert (req.info_class, req.pattern, req.output_buffer_length) == (2, "*", 65535)
    assert req.encode() == raw
    data = decode(decode_buffer_response, fixture("query_directory_response"))
    assert encode_buffer_response(data) == body("query_directory_response")
    error = fixture("query_directory_no_more_files")
    assert Smb2Header.decode(Reader(error)).status == 0x80000006  # STATUS_NO_MORE_FILES
    assert error[64:] == bytes.fromhex("0900" "00" "00" "00000000" "00")  # SMB2 ERROR, 2.2.2


def test_directory_entries_match_samba() -> None:
    """FileFullDirectoryInformation (MS-FSCC 2.4.14) for '.', '..' and hello.txt, re-encoded."""
    data = decode(decode_buffer_response, fixture("query_directory_response"))
    entries, off = [], 0
    while True:
        nxt, _index, ct, at, wt, cht, eof, alloc, attrs, name_len, _ea = struct.unpack_from("<IIQQQQQQIII", data, off)
        name = data[off + 68 : off + 68 + name_len].decode("utf-16-le")
        entries.append((name, fscc.FileTimes(ct, at, wt, cht, alloc, eof, attrs)))
        if not nxt:
            break
        off += nxt
    assert [n for n, _ in entries] == [".", "..", "hello.txt"]
    encoded, used = fscc.encode_dir_entries(fscc.FileInfoClass.FileFullDirectoryInformation, entries, 65535)
    assert (encoded, used) == (data, 3)
    first, used = fscc.encode_dir_entries(fscc.FileInfoClass.FileFullDirectoryInformation, entries, 100)
    assert used == 1 and first == bytes(4) + data[4:70]  # one entry fits; NextEntryOffset stays 0
    single, used = fscc.encode_dir_entries(2, entries, 65535, single=True)
    assert used == 1 and single == first


@pytest.mark.parametrize("iclass,fixed", [
    (fscc.FileInfoClass.FileDirectoryInformation, 64),
    (fscc.FileInfoClass.FileFullDirectoryInformation, 68),
    (fscc.FileInfoClass.FileIdFullDirectoryInformation, 80),
    (fscc.FileInfoClass.FileBothDirectoryInformation, 94),
    (fscc.FileInfoClass.FileIdBothDirectoryInformation, 104),
    pytest.param(fscc.FileInfoClass.FileIdExtdDirectoryInformation, 88),
    (fscc.FileInfoClass.FileNamesInformation, 12),
])
def test_directory_entry_layouts(iclass: int, fixed: int) -> None:
    """MS-FSCC 2.4: FileName starts at each class's fixed size; entries are 8-aligned."""
    t = fscc.FileTimes(1, 2, 3, 4, 4096, 5, 0x20, file_id=0x77)
    data, used = fscc.encode_dir_entries(iclass, [("ab", t), ("c", t)], 4096)
    assert used == 2
    nxt = struct.unpack_from("<I", data, 0)[0]
    assert nxt % 8 == 0 and data[fixed : fixed + 4] == "ab".encode("utf-16-le")
    assert data[nxt + fixed :] == "c".encode("utf-16-le")
    name_len_at = 8 if iclass == fscc.FileInfoClass.FileNamesInformation else 60
    assert struct.unpack_from("<I", data, name_len_at)[0] == 4


def test_set_info_commented() -> None:
    raw = bytes.fromhex(
        "2100"  # StructureSize 33
        "01"  # InfoType FILE
        "0d"  # FileInfoClass 13 FileDispositionInformation
        "01000000"  # BufferLength 1
        "6000"  # BufferOffset 0x60 = 64 + 32
        "0000"  # Reserved
        "00000000"  # AdditionalInformation
        "000102030405060708090a0b0c0d0e0f"  # FileId
        "01"  # DeletePending TRUE
    )
    req = decode(SetInfoRequest.decode, with_header(raw))
    assert req == SetInfoRequest(1, 13, b"\x01", 0, bytes(range(16)))
    assert req.encode() == raw
    assert SET_INFO_RESPONSE == b"\x02\x00"


def test_fs_information_layouts() -> None:
    assert fscc.fs_volume_info(5, 0x1_2345_6789, "ab") == struct.pack("<QIIBB", 5, 0x23456789, 4, 0, 0) + b"a\0b\0"
    assert fscc.fs_size_info(10, 4, 8, 512) == struct.pack("<QQII", 10, 4, 8, 512)
    assert fscc.fs_full_size_info(10, 4, 8, 512) == struct.pack("<QQQII", 10, 4, 4, 8, 512)
    assert fscc.fs_device_info() == b"\x07\x00\x00\x00\x20\x00\x00\x00"
    assert fscc.fs_attribute_info(7, 255, "NTFS") == struct.pack("<III", 7, 255, 8) + "NTFS".encode("utf-16-le")
    assert len(fscc.fs_sector_size_info()) == 28
    assert fscc.name_info("\\a") == b"\x04\x00\x00\x00\\\x00a\x00"
    assert fscc.stream_info(5, 4096) == struct.pack("<IIQQ", 0, 14, 5, 4096) + "::$DATA".encode("utf-16-le")
    assert fscc.unix_ns(fscc.filetime(1_700_000_000_000_000_000)) == 1_700_000_000_000_000_000
    assert fscc.filetime(0) == 116444736000000000


def test_transform_header_golden() -> None:
    """MS-SMB2 2.2.41 on an encrypted request smbclient sent (keys not needed to parse it)."""
    pdu = fixture("transform_tree_connect_request")
    assert pdu[:52] == bytes.fromhex(
        "fd534d42"  # ProtocolId
        "8d8cb9ea0dec86ac8fa44a6288e039ba"  # Signature (the AEAD tag)
        "010000000000000022cb920100000000"  # Nonce: 12 bytes for AES-128-GCM, then zeros
        "68000000"  # OriginalMessageSize 104 (the TREE_CONNECT request)
        "0000"  # Reserved
        "0100"  # Flags: Encrypted
        "93e87d9700000000"  # SessionId
    )
    session_id, size = crypto.parse_transform_header(pdu)
    assert size == 104 == len(pdu) - 52 == len(fixture("tree_connect_request"))
    assert session_id == struct.unpack_from("<Q", pdu, 44)[0]
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt_message(crypto.AES_128_GCM, bytes(16), pdu)  # not our key
    with pytest.raises(crypto.DecryptError):
        crypto.parse_transform_header(pdu[:-1])  # size no longer matches


# -- round trips ----------------------------------------------------------------------------------------------

names = st.text(st.characters(min_codepoint=1, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)), max_size=40)
fids = st.binary(min_size=16, max_size=16)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 0xFFFFFFFFFFFFFFFF)


@settings(max_examples=60, deadline=None)
@given(st.one_of(
    st.builds(NegotiateRequest, st.integers(0, 3), u32, st.binary(min_size=16, max_size=16),
              st.lists(st.sampled_from([0x202, 0x210, 0x300, 0x302]), min_size=1, max_size=5).map(tuple)),
    st.builds(SessionSetupRequest, st.integers(0, 1), st.integers(0, 3), u32, u64, st.binary(max_size=300)),
    st.builds(SessionSetupResponse, st.integers(0, 7), st.binary(max_size=300)),
    st.builds(TreeConnectRequest, st.integers(0, 4), names),
    st.builds(TreeConnectResponse, st.integers(1, 3), u32, u32, u32),
    st.builds(CreateRequest, st.integers(0, 255), st.integers(0, 3), u32, u32, st.integers(0, 7),
              st.integers(0, 5), u32, names.filter(bool),
              st.lists(st.builds(CreateContext, st.binary(min_size=4, max_size=4), st.binary(max_size=40)),
                       max_size=3).map(tuple)),
    st.builds(CloseRequest, st.integers(0, 1), fids),
    st.builds(ReadRequest, st.integers(0, 1), u32, u64, fids, u32, u32),
    st.builds(IoctlRequest, u32, fids, st.binary(max_size=100).map(memoryview), st.just(0), u32, st.just(1)),
    st.builds(QueryInfoRequest, st.integers(1, 4), st.integers(0, 255), u32, st.just(b""), u32, st.just(0), fids),
    st.builds(SetInfoRequest, st.integers(1, 4), st.integers(0, 255), st.binary(min_size=1, max_size=100), u32, fids),
    st.builds(QueryDirectoryRequest, st.integers(0, 255), st.integers(0, 0x17), u32, fids, names, u32),
))
def test_round_trip(obj: Any) -> None:
    raw = obj.encode()
    assert plain(type(obj).decode(Reader(with_header(raw)), HEADER_SIZE)) == plain(obj)


@settings(max_examples=40, deadline=None)
@given(u64, fids, st.integers(0, 0xFFFF), st.binary(max_size=200))
def test_write_request_round_trip(offset: int, fid: bytes, flags: int, data: bytes) -> None:
    req = WriteRequest(offset, fid, 0, flags, memoryview(data))
    got = decode(WriteRequest.decode, with_header(req.encode_fixed() + data))
    assert plain(got) == plain(req)


def test_negotiate_response_round_trip_with_contexts() -> None:
    rsp = NegotiateResponse(1, 0x0311, b"S" * 16, 0x44, 1 << 23, 1 << 23, 1 << 23, 5, b"blob!",
                            (NegotiateContext(1, b"\x01\x00\x00\x00\x01\x00"), NegotiateContext(2, b"\x01\x00\x02\x00")),
                            7)
    assert decode(NegotiateResponse.decode, with_header(rsp.encode())) == rsp


# -- truncation at every offset ------------------------------------------------------------------------------

TRUNCATION_CASES: list[tuple[str, Callable[[Reader, int], Any]]] = [
    ("negotiate_request_311", NegotiateRequest.decode),
    ("negotiate_request_202", NegotiateRequest.decode),
    ("negotiate_response_311", NegotiateResponse.decode),
    ("negotiate_response_wildcard", NegotiateResponse.decode),
    ("session_setup_request", SessionSetupRequest.decode),
    ("session_setup_response_more", SessionSetupResponse.decode),
    ("session_setup_response_final", SessionSetupResponse.decode),
    ("tree_connect_request", TreeConnectRequest.decode),
    ("tree_connect_response", TreeConnectResponse.decode),
    ("create_request_pipe", CreateRequest.decode),
    ("create_response", CreateResponse.decode),
    ("close_request", CloseRequest.decode),
    ("read_request", ReadRequest.decode),
    ("read_response", decode_read_response),
    ("write_request", WriteRequest.decode),
    ("write_response", decode_write_response),
    ("ioctl_request", IoctlRequest.decode),
    ("ioctl_response", decode_ioctl_response),
    ("query_info_request", QueryInfoRequest.decode),
    ("query_info_response", decode_buffer_response),
    ("query_directory_request", QueryDirectoryRequest.decode),
    ("query_directory_response", decode_buffer_response),
]
SYNTHETIC = {
    "create_with_contexts": (with_header(CREATE_WITH_CONTEXTS), CreateRequest.decode),
    "set_info": (with_header(SetInfoRequest(1, 13, b"\x01", 0, bytes(16)).encode()), SetInfoRequest.decode),
    "flush": (with_header(struct.pack("<HHI16s", 24, 0, 0, bytes(16))), FlushRequest.decode),
    "create_response_contexts": (with_header(CreateResponse(0, 0, 1, 0, 0, 0, 0, 0, 0, 0, bytes(16), (
        CreateContext(b"MxAc", bytes(8)),)).encode()), CreateResponse.decode),
}


def _check_truncations(message: bytes, decoder: Callable[[Reader, int], Any]) -> None:
    whole = plain(decoder(Reader(message), HEADER_SIZE))
    for n in range(len(message)):
        try:
            got = decoder(Reader(message[:n]), HEADER_SIZE)
        except MalformedMessage:
            continue
        assert plain(got) == whole, f"cut at {n} of {len(message)} decoded differently"


@pytest.mark.parametrize("name,decoder", TRUNCATION_CASES, ids=[c[0] for c in TRUNCATION_CASES])
def test_truncation_of_captured_messages(name: str, decoder: Callable[[Reader, int], Any]) -> None:
    _check_truncations(fixture(name), decoder)
    _check_truncations(fixture(name) + b"\x00" * 3, decoder)  # trailing bytes are ignored


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_truncation_of_synthetic_messages(name: str) -> None:
    _check_truncations(*SYNTHETIC[name])


def test_truncation_of_headers_and_smb1() -> None:
    msg = fixture("tree_connect_request")
    for n in range(64):
        with pytest.raises(MalformedMessage):
            Smb2Header.decode(Reader(msg[:n]))
    pdu = fixture("smb1_negotiate_request")
    for n in range(len(pdu)):
        try:
            assert smb1_dialects(pdu[:n]) == smb1_dialects(pdu)
        except MalformedMessage:
            pass
    data = bytes.fromhex("7f000000" + "00" * 16 + "0100" "0200" "0003" "0203")
    for n in range(len(data)):
        with pytest.raises(MalformedMessage):
            ValidateNegotiateInfo.decode(memoryview(data[:n]))


@pytest.mark.parametrize("name,decoder", TRUNCATION_CASES, ids=[c[0] for c in TRUNCATION_CASES])
def test_every_single_byte_change_is_handled(name: str, decoder: Callable[[Reader, int], Any]) -> None:
    """Each byte of the body set to 0x00, 0x7F and 0xFF: a value or MalformedMessage, no crash."""
    msg = fixture(name)
    for i in range(HEADER_SIZE, min(len(msg), HEADER_SIZE + 120)):
        for value in (0x00, 0x7F, 0xFF):
            bad = bytearray(msg)
            bad[i] = value
            try:
                decoder(Reader(bytes(bad)), HEADER_SIZE)
            except MalformedMessage:
                pass
