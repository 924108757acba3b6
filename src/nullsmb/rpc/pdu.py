"""Connection-oriented DCE/RPC PDUs (C706 ch. 12.6; MS-RPCE 2.2.2): pure codecs, no state.

Rules:
1. Every PDU starts with the 16-byte common header (C706 12.6.3.1): rpc_vers 5, rpc_vers_minor
   0 (1 is accepted on receipt, as DCE runtimes send it), PTYPE, pfc_flags, packed_drep,
   frag_length, auth_length, call_id. The header's own integers follow the drep, so a
   big-endian PDU can still be framed; everything past the header is decoded little-endian
   only (nullsmb speaks NDR 2.0, drep 10 00 00 00; ``Header.little_endian`` tells the pipe).
2. ``Header.decode`` raises ``MalformedMessage`` when the stream cannot be framed or trusted
   (version, frag_length < 16, an auth_length that does not fit); body decoders raise it when
   a body is shorter than its fields or its counts. Nothing else escapes.
3. Encoders compute frag_length; nothing is hard-coded. Bodies are dataclasses with
   ``encode(call_id, ...) -> bytes`` and ``decode(header, pdu)``; ``DECODERS`` maps PTYPE to
   the latter, ``decode_pdu`` applies it.
4. Fault PDUs carry no stub and alloc_hint 0x20 (MS-RPCE 2.2.2.8: extended error information
   would be alloc_hint - 0x20 bytes). Response fragments carry the remaining stub length as
   alloc_hint (MS-RPCE 2.2.2.6).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Any, Callable, ClassVar

from ..status import MalformedMessage
from ..wire.buffer import Reader

__all__ = [
    "BTFN_PREFIX", "Bind", "BindAck", "BindFeature", "BindNak", "ContextElement", "ContextResult",
    "DECODERS", "FaultStatus", "Fault", "HEADER_SIZE", "Header", "NakReason", "NDR20", "NDR64",
    "NULL_SYNTAX", "PfcFlags", "ProviderReason", "PType", "Request", "Response", "ResultCode",
    "RpcFault", "SyntaxId", "decode_pdu", "encode_pdu", "fragment_request", "fragment_response",
]

HEADER_SIZE = 16
REQUEST_HEADER_SIZE = 24  # common header + alloc_hint, p_cont_id, opnum (or cancel_count)
LITTLE_ENDIAN_DREP = b"\x10\x00\x00\x00"  # integers LE, chars ASCII, floats IEEE (C706 14.1)
SEC_TRAILER_SIZE = 8  # MS-RPCE 2.2.2.11
_HEADER = struct.Struct("<BBBB4sHHI")
_HEADER_BE = struct.Struct(">BBBB4sHHI")


class PType(IntEnum):
    """C706 12.6.4 / MS-RPCE 2.2.2.10: connection-oriented PDU types (and the CL ones, to
    recognise a stray connectionless PDU)."""

    REQUEST = 0
    PING = 1
    RESPONSE = 2
    FAULT = 3
    WORKING = 4
    NOCALL = 5
    REJECT = 6
    ACK = 7
    CL_CANCEL = 8
    FACK = 9
    CANCEL_ACK = 10
    BIND = 11
    BIND_ACK = 12
    BIND_NAK = 13
    ALTER_CONTEXT = 14
    ALTER_CONTEXT_RESP = 15
    AUTH3 = 16
    SHUTDOWN = 17
    CO_CANCEL = 18
    ORPHANED = 19
    RTS = 20


class PfcFlags(IntFlag):
    """C706 12.6.3.1 pfc_flags; 0x04 is PFC_SUPPORT_HEADER_SIGN on bind-type PDUs (MS-RPCE 2.2.2.3)."""

    FIRST_FRAG = 0x01
    LAST_FRAG = 0x02
    PENDING_CANCEL = 0x04
    RESERVED_1 = 0x08
    CONC_MPX = 0x10
    DID_NOT_EXECUTE = 0x20
    MAYBE = 0x40
    OBJECT_UUID = 0x80


SINGLE = PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG


class ResultCode(IntEnum):
    """p_cont_def_result_t (C706 12.6.3.1; negotiate_ack: MS-RPCE 2.2.2.4)."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    PROVIDER_REJECTION = 2
    NEGOTIATE_ACK = 3


class ProviderReason(IntEnum):
    """p_provider_reason_t (C706 12.6.3.1), the reason of a rejected presentation context."""

    REASON_NOT_SPECIFIED = 0
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 1
    PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED = 2
    LOCAL_LIMIT_EXCEEDED = 3


class NakReason(IntEnum):
    """bind_nak provider_reject_reason (C706 12.6.3.1; MS-RPCE 2.2.2.5)."""

    REASON_NOT_SPECIFIED = 0
    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2
    CALLED_PADDR_UNKNOWN = 3
    PROTOCOL_VERSION_NOT_SUPPORTED = 4  # MS-RPCE: "protocol error processing bind/alter_context"
    DEFAULT_CONTEXT_NOT_SUPPORTED = 5
    USER_DATA_NOT_READABLE = 6
    NO_PSAP_AVAILABLE = 7
    AUTHENTICATION_TYPE_NOT_RECOGNIZED = 8
    INVALID_CHECKSUM = 9


class BindFeature(IntFlag):
    """BindTimeFeatureNegotiationBitmask (MS-RPCE 2.2.2.14 / 2.2.2.15)."""

    SECURITY_CONTEXT_MULTIPLEXING = 0x01
    KEEP_CONNECTION_ON_ORPHAN = 0x02


class FaultStatus(IntEnum):
    """Fault PDU status values (C706 appendix E; MS-RPCE 3.3.3.5; MS-ERREF 2.2 for Win32)."""

    ACCESS_DENIED = 0x00000005  # ERROR_ACCESS_DENIED; also the > 4 MiB request (MS-RPCE 3.3.3.5.4)
    RPC_S_INVALID_TAG = 0x000006C5  # a union discriminant with no arm
    RPC_S_PROCNUM_OUT_OF_RANGE = 0x000006D1
    RPC_S_UNKNOWN_AUTHN_SERVICE = 0x000006D3
    RPC_S_CANNOT_SUPPORT = 0x000006E4  # impacket's smbserver for an operation it does not serve
    NCA_S_FAULT_NDR = 0x000006F7  # RPC_X_BAD_STUB_DATA: the stub did not unmarshal
    NCA_S_FAULT_INVALID_TAG = 0x1C000006
    NCA_S_FAULT_INVALID_BOUND = 0x1C000007
    NCA_S_FAULT_CANCEL = 0x1C00000D
    NCA_S_FAULT_UNSPEC = 0x1C000012
    NCA_S_FAULT_CONTEXT_MISMATCH = 0x1C00001A  # an unknown context handle
    NCA_S_FAULT_REMOTE_NO_MEMORY = 0x1C00001B
    NCA_S_INVALID_PRES_CONTEXT_ID = 0x1C00001C
    NCA_S_UNSUPPORTED_AUTHN_LEVEL = 0x1C00001D
    NCA_S_COMM_FAILURE = 0x1C010001
    NCA_S_OP_RNG_ERROR = 0x1C010002  # opnum out of range
    NCA_S_UNK_IF = 0x1C010003  # unknown interface / presentation context
    NCA_S_PROTO_ERROR = 0x1C01000B  # MS-RPCE 3.3.3.5.7
    NCA_S_SERVER_TOO_BUSY = 0x1C010014
    NCA_S_UNSUPPORTED_TYPE = 0x1C010017


class RpcFault(Exception):
    """Raised by an operation handler to answer with a fault PDU carrying ``status``."""

    def __init__(self, status: int, message: str = "", *, did_not_execute: bool = False) -> None:
        self.status = int(status)
        self.did_not_execute = did_not_execute
        try:
            name = FaultStatus(self.status).name
        except ValueError:
            name = f"0x{self.status:08X}"
        super().__init__(message or name)


# -- syntax identifiers (C706 12.6.3.1 p_syntax_id_t; MS-RPCE 2.2.2.7) --------------------------

_SYNTAX = struct.Struct("<16sI")


@dataclass(frozen=True, slots=True)
class SyntaxId:
    """An interface or transfer syntax: UUID and (major, minor) version (u32: minor << 16 | major)."""

    uuid: uuid.UUID
    version: tuple[int, int] = (0, 0)

    @classmethod
    def of(cls, text: str, major: int = 0, minor: int = 0) -> "SyntaxId":
        return cls(uuid.UUID(text), (major, minor))

    def encode(self) -> bytes:
        major, minor = self.version
        return _SYNTAX.pack(self.uuid.bytes_le, (minor << 16) | major)

    @classmethod
    def decode(cls, r: Reader, off: int) -> "SyntaxId":
        raw, ver = r.unpack(_SYNTAX, off)
        return cls(uuid.UUID(bytes_le=raw), (ver & 0xFFFF, ver >> 16))

    def __str__(self) -> str:
        return f"{self.uuid} v{self.version[0]}.{self.version[1]}"


NDR20 = SyntaxId.of("8a885d04-1ceb-11c9-9fe8-08002b104860", 2)
NDR64 = SyntaxId.of("71710533-beba-4937-8319-b5dbef9ccc36", 1)
NULL_SYNTAX = SyntaxId(uuid.UUID(int=0), (0, 0))
BTFN_PREFIX = uuid.UUID("6cb71c2c-9812-4540-0000-000000000000").bytes_le[:8]  # MS-RPCE 3.3.1.5.3


def btfn_syntax(features: int) -> SyntaxId:
    """The transfer syntax a client offers for bind time feature negotiation."""
    return SyntaxId(uuid.UUID(bytes_le=BTFN_PREFIX + bytes([features & 0xFF]) + bytes(7)), (1, 0))


def btfn_features(syntax: SyntaxId) -> int | None:
    """The BindTimeFeatureNegotiationBitmask's first octet, or None if ``syntax`` is not BTFN."""
    raw = syntax.uuid.bytes_le
    return raw[8] if raw[:8] == BTFN_PREFIX else None


# -- the common header (C706 12.6.3.1) -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Header:
    ptype: int
    flags: int
    call_id: int
    frag_length: int = 0
    auth_length: int = 0
    drep: bytes = LITTLE_ENDIAN_DREP
    rpc_vers_minor: int = 0

    @property
    def little_endian(self) -> bool:
        """NDR integer representation little-endian (drep[0] high nibble 1, C706 14.1)."""
        return self.drep[0] >> 4 == 1

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview, off: int = 0) -> "Header":
        if len(data) - off < HEADER_SIZE:
            raise MalformedMessage("RPC: truncated common header")
        st = _HEADER if data[off + 4] >> 4 == 1 else _HEADER_BE
        vers, minor, ptype, flags, drep, frag_length, auth_length, call_id = st.unpack_from(data, off)
        if vers != 5 or minor not in (0, 1):
            raise MalformedMessage(f"RPC: version {vers}.{minor}")
        if frag_length < HEADER_SIZE:
            raise MalformedMessage(f"RPC: frag_length {frag_length}")
        if auth_length and HEADER_SIZE + SEC_TRAILER_SIZE + auth_length > frag_length:
            raise MalformedMessage(f"RPC: auth_length {auth_length} in a {frag_length}-byte PDU")
        return cls(ptype, flags, call_id, frag_length, auth_length, bytes(drep), minor)

    def encode(self) -> bytes:
        return _HEADER.pack(5, 0, self.ptype, self.flags, self.drep, self.frag_length, self.auth_length,
                            self.call_id)

    def body_end(self) -> int:
        """Where the body ends: before the sec_trailer and auth token, if any (MS-RPCE 2.2.2.11)."""
        if self.auth_length:
            return self.frag_length - self.auth_length - SEC_TRAILER_SIZE
        return self.frag_length


def encode_pdu(ptype: int, flags: int, call_id: int, body: bytes | bytearray = b"") -> bytes:
    """A PDU without an auth verifier: the header with frag_length computed, then ``body``."""
    length = HEADER_SIZE + len(body)
    if length > 0xFFFF:
        raise ValueError(f"a {length}-byte PDU does not fit frag_length")
    return Header(ptype, flags, call_id, length).encode() + bytes(body)


def _body(header: Header, pdu: bytes | bytearray | memoryview) -> Reader:
    if len(pdu) < header.frag_length:
        raise MalformedMessage("RPC: PDU shorter than frag_length")
    return Reader(memoryview(pdu)[: header.body_end()])


# -- bind, alter_context (C706 12.6.4.3, 12.6.4.1) -----------------------------------------------

_BIND = struct.Struct("<HHIB3x")  # max_xmit_frag, max_recv_frag, assoc_group_id, n_context_elem
_CTX = struct.Struct("<HB1x")  # p_cont_id, n_transfer_syn


@dataclass(frozen=True, slots=True)
class ContextElement:
    context_id: int
    abstract_syntax: SyntaxId
    transfer_syntaxes: tuple[SyntaxId, ...]


@dataclass(frozen=True, slots=True)
class Bind:
    """The body of bind and alter_context."""

    max_xmit_frag: int
    max_recv_frag: int
    assoc_group_id: int
    contexts: tuple[ContextElement, ...]

    def encode(self, call_id: int, *, ptype: int = PType.BIND, flags: int = SINGLE) -> bytes:
        out = bytearray(_BIND.pack(self.max_xmit_frag, self.max_recv_frag, self.assoc_group_id,
                                   len(self.contexts)))
        for c in self.contexts:
            out += _CTX.pack(c.context_id, len(c.transfer_syntaxes)) + c.abstract_syntax.encode()
            out += b"".join(t.encode() for t in c.transfer_syntaxes)
        return encode_pdu(ptype, flags, call_id, out)

    @classmethod
    def decode(cls, header: Header, pdu: bytes | bytearray | memoryview) -> "Bind":
        r = _body(header, pdu)
        xmit, recv, group, n = r.unpack(_BIND, HEADER_SIZE)
        off, contexts = HEADER_SIZE + _BIND.size, []
        for _ in range(n):
            cid, n_syn = r.unpack(_CTX, off)
            r.check(off, _CTX.size + _SYNTAX.size * (1 + n_syn))
            abstract = SyntaxId.decode(r, off + 4)
            syntaxes = tuple(SyntaxId.decode(r, off + 24 + 20 * i) for i in range(n_syn))
            contexts.append(ContextElement(cid, abstract, syntaxes))
            off += _CTX.size + _SYNTAX.size * (1 + n_syn)
        return cls(xmit, recv, group, tuple(contexts))


# -- bind_ack, alter_context_resp (C706 12.6.4.4, 12.6.4.2) -------------------------------------

_ACK = struct.Struct("<HHI")
_RESULT = struct.Struct("<HH")


@dataclass(frozen=True, slots=True)
class ContextResult:
    result: int
    reason: int = 0  # a ProviderReason, or the BindFeature response bitmask for negotiate_ack
    transfer_syntax: SyntaxId = NULL_SYNTAX


@dataclass(frozen=True, slots=True)
class BindAck:
    """The body of bind_ack and alter_context_resp. ``sec_addr`` is the port spec
    ("\\PIPE\\srvsvc"); alter_context_resp sends it empty (MS-RPCE 3.3.1.5.5)."""

    max_xmit_frag: int
    max_recv_frag: int
    assoc_group_id: int
    sec_addr: str
    results: tuple[ContextResult, ...]

    def encode(self, call_id: int, *, ptype: int = PType.BIND_ACK, flags: int = SINGLE) -> bytes:
        out = bytearray(_ACK.pack(self.max_xmit_frag, self.max_recv_frag, self.assoc_group_id))
        addr = self.sec_addr.encode("ascii") + b"\0" if self.sec_addr else b""
        out += struct.pack("<H", len(addr)) + addr
        out += bytes(-(HEADER_SIZE + len(out)) % 4)  # p_result_list is 4-aligned in the PDU
        out += struct.pack("<B3x", len(self.results))
        for res in self.results:
            out += _RESULT.pack(res.result, res.reason) + res.transfer_syntax.encode()
        return encode_pdu(ptype, flags, call_id, out)

    @classmethod
    def decode(cls, header: Header, pdu: bytes | bytearray | memoryview) -> "BindAck":
        r = _body(header, pdu)
        xmit, recv, group = r.unpack(_ACK, HEADER_SIZE)
        off = HEADER_SIZE + _ACK.size
        n_addr = r.u16(off)
        addr = r.bytes(off + 2, n_addr).rstrip(b"\0").decode("ascii", "replace")
        off += 2 + n_addr
        off += -off % 4
        n = r.u8(off)
        off += 4
        results = []
        for i in range(n):
            result, reason = r.unpack(_RESULT, off + 24 * i)
            results.append(ContextResult(result, reason, SyntaxId.decode(r, off + 24 * i + 4)))
        return cls(xmit, recv, group, addr, tuple(results))


@dataclass(frozen=True, slots=True)
class BindNak:
    """bind_nak (MS-RPCE 2.2.2.9): reason and the protocol versions we support (5.0)."""

    reason: int
    versions: tuple[tuple[int, int], ...] = ((5, 0),)

    def encode(self, call_id: int) -> bytes:
        out = bytearray(struct.pack("<HB", self.reason, len(self.versions)))
        for major, minor in self.versions:
            out += bytes((major, minor))
        out += bytes(-(HEADER_SIZE + len(out)) % 4)
        return encode_pdu(PType.BIND_NAK, SINGLE, call_id, out)

    @classmethod
    def decode(cls, header: Header, pdu: bytes | bytearray | memoryview) -> "BindNak":
        r = _body(header, pdu)
        reason = r.u16(HEADER_SIZE)
        n = r.u8(HEADER_SIZE + 2) if r.size > HEADER_SIZE + 2 else 0
        raw = r.bytes(HEADER_SIZE + 3, 2 * n)
        return cls(reason, tuple((raw[2 * i], raw[2 * i + 1]) for i in range(n)))


# -- request, response, fault (C706 12.6.4.9, 12.6.4.10, 12.6.4.7) -------------------------------

_REQ = struct.Struct("<IHH")  # alloc_hint, p_cont_id, opnum
_RSP = struct.Struct("<IHBx")  # alloc_hint, p_cont_id, cancel_count
_FAULT = struct.Struct("<IHBBI4x")  # alloc_hint, p_cont_id, cancel_count, reserved, status
_FAULT_SHORT = struct.Struct("<IHBBI")  # the same without the trailing reserved bytes
FAULT_ALLOC_HINT = 0x20


@dataclass(frozen=True, slots=True)
class Request:
    alloc_hint: int
    context_id: int
    opnum: int
    stub: bytes
    object_uuid: uuid.UUID | None = None

    def encode(self, call_id: int, flags: int = SINGLE) -> bytes:
        flags &= ~PfcFlags.OBJECT_UUID
        obj = b""
        if self.object_uuid is not None:
            flags |= PfcFlags.OBJECT_UUID
            obj = self.object_uuid.bytes_le
        return encode_pdu(PType.REQUEST, flags, call_id,
                          _REQ.pack(self.alloc_hint, self.context_id, self.opnum) + obj + self.stub)

    @classmethod
    def decode(cls, header: Header, pdu: bytes | bytearray | memoryview) -> "Request":
        r = _body(header, pdu)
        hint, cid, opnum = r.unpack(_REQ, HEADER_SIZE)
        off, obj = REQUEST_HEADER_SIZE, None
        if header.flags & PfcFlags.OBJECT_UUID:
            obj = uuid.UUID(bytes_le=r.bytes(off, 16))
            off += 16
        end = r.size
        if header.auth_length:  # sec_trailer.auth_pad_length (MS-RPCE 2.2.2.11); within frag_length
            end -= pdu[end + 2]
        if end < off:
            raise MalformedMessage("RPC: auth padding longer than the stub")
        return cls(hint, cid, opnum, r.bytes(off, end - off), obj)


@dataclass(frozen=True, slots=True)
class Response:
    alloc_hint: int
    context_id: int
    stub: bytes
    cancel_count: int = 0

    def encode(self, call_id: int, flags: int = SINGLE) -> bytes:
        return encode_pdu(PType.RESPONSE, flags, call_id,
                          _RSP.pack(self.alloc_hint, self.context_id, self.cancel_count) + self.stub)

    @classmethod
    def decode(cls, header: Header, pdu: bytes | bytearray | memoryview) -> "Response":
        r = _body(header, pdu)
        hint, cid, cancels = r.unpack(_RSP, HEADER_SIZE)
        return cls(hint, cid, r.bytes(REQUEST_HEADER_SIZE, r.size - REQUEST_HEADER_SIZE), cancels)


@dataclass(frozen=True, slots=True)
class Fault:
    status: int
    context_id: int = 0
    alloc_hint: int = FAULT_ALLOC_HINT
    cancel_count: int = 0

    def encode(self, call_id: int, *, did_not_execute: bool = False) -> bytes:
        flags = SINGLE | (PfcFlags.DID_NOT_EXECUTE if did_not_execute else 0)
        return encode_pdu(PType.FAULT, flags, call_id,
                          _FAULT.pack(self.alloc_hint, self.context_id, self.cancel_count, 0, self.status))

    @classmethod
    def decode(cls, header: Header, pdu: bytes | bytearray | memoryview) -> "Fault":
        """The trailing 4 reserved bytes (C706 12.6.4.7) may be missing: impacket's DCE/RPC
        server (smbserver.py) ends its faults after ``status``, a 28-byte PDU."""
        hint, cid, cancels, _, status = _body(header, pdu).unpack(_FAULT_SHORT, HEADER_SIZE)
        return cls(status, cid, hint, cancels)


@dataclass(frozen=True, slots=True)
class Empty:
    """A PDU with no body we use: orphaned, co_cancel, shutdown, auth3."""

    TYPES: ClassVar[tuple[PType, ...]] = (PType.ORPHANED, PType.CO_CANCEL, PType.SHUTDOWN, PType.AUTH3)

    @classmethod
    def decode(cls, header: Header, pdu: bytes | bytearray | memoryview) -> "Empty":
        _body(header, pdu)
        return cls()


DECODERS: dict[int, Callable[[Header, Any], Any]] = {
    PType.BIND: Bind.decode,
    PType.ALTER_CONTEXT: Bind.decode,
    PType.BIND_ACK: BindAck.decode,
    PType.ALTER_CONTEXT_RESP: BindAck.decode,
    PType.BIND_NAK: BindNak.decode,
    PType.REQUEST: Request.decode,
    PType.RESPONSE: Response.decode,
    PType.FAULT: Fault.decode,
    **{t: Empty.decode for t in Empty.TYPES},
}


def decode_pdu(pdu: bytes | bytearray | memoryview) -> tuple[Header, Any]:
    """One whole PDU: its header and decoded body (``MalformedMessage`` for an unknown type)."""
    header = Header.decode(pdu)
    if not header.little_endian:
        raise MalformedMessage("RPC: big-endian PDUs are not supported")
    decoder = DECODERS.get(header.ptype)
    if decoder is None:
        raise MalformedMessage(f"RPC: PDU type {header.ptype}")
    return header, decoder(header, pdu)


# -- fragmentation (C706 12.6.3.2 fragments; MS-RPCE 2.2.2.6 alloc_hint) --------------------------

def _chunks(stub: bytes, max_frag: int) -> list[tuple[int, bytes, int]]:
    """(flags, piece, remaining) per fragment; stub pieces are a multiple of 8 bytes."""
    room = (max_frag - REQUEST_HEADER_SIZE) & ~7
    if room <= 0:
        raise ValueError(f"max_frag {max_frag} leaves no room for stub data")
    out = []
    for off in range(0, max(len(stub), 1), room):
        flags = (PfcFlags.FIRST_FRAG if off == 0 else 0) | (PfcFlags.LAST_FRAG if off + room >= len(stub) else 0)
        out.append((flags, stub[off : off + room], len(stub) - off))
    return out


def fragment_response(call_id: int, context_id: int, stub: bytes, max_frag: int) -> list[bytes]:
    return [Response(remaining, context_id, piece).encode(call_id, flags)
            for flags, piece, remaining in _chunks(stub, max_frag)]


def fragment_request(call_id: int, context_id: int, opnum: int, stub: bytes, max_frag: int,
                     object_uuid: uuid.UUID | None = None) -> list[bytes]:
    """Client side (tests, ``client/``). The object UUID takes 16 bytes of every fragment."""
    extra = 16 if object_uuid is not None else 0
    return [Request(remaining, context_id, opnum, piece, object_uuid).encode(call_id, flags)
            for flags, piece, remaining in _chunks(stub, max_frag - extra)]
