"""NEGOTIATE (MS-SMB2 2.2.3, 2.2.4), negotiate contexts (2.2.3.1, 2.2.4.1) and the SMB1
multi-protocol NEGOTIATE that clients send first (MS-SMB2 3.3.5.3.1, MS-CIFS 2.2.4.52.1).

Rules:
1. Negotiate contexts start 8-byte aligned; each is bounds-checked; unknown types are ignored
   (MS-SMB2 3.3.5.4), at most 64 of them.
2. An SMB1 NEGOTIATE is only parsed far enough to list its dialect strings.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

from ..status import MalformedMessage
from .buffer import Reader, Writer, expect_structure_size

__all__ = [
    "Capabilities",
    "ContextType",
    "Dialect",
    "NegotiateContext",
    "NegotiateRequest",
    "NegotiateResponse",
    "SecurityMode",
    "smb1_dialects",
]


class Dialect(IntEnum):
    SMB202 = 0x0202
    SMB210 = 0x0210
    SMB300 = 0x0300
    SMB302 = 0x0302
    SMB311 = 0x0311
    WILDCARD = 0x02FF


DIALECT_NAMES = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1"}


class SecurityMode(IntFlag):
    SIGNING_ENABLED = 0x0001
    SIGNING_REQUIRED = 0x0002


class Capabilities(IntFlag):
    """MS-SMB2 2.2.3 / 2.2.4 Capabilities."""

    DFS = 0x00000001
    LEASING = 0x00000002
    LARGE_MTU = 0x00000004
    MULTI_CHANNEL = 0x00000008
    PERSISTENT_HANDLES = 0x00000010
    DIRECTORY_LEASING = 0x00000020
    ENCRYPTION = 0x00000040


class ContextType(IntEnum):
    """MS-SMB2 2.2.3.1 ContextType."""

    PREAUTH_INTEGRITY_CAPABILITIES = 0x0001
    ENCRYPTION_CAPABILITIES = 0x0002
    COMPRESSION_CAPABILITIES = 0x0003
    NETNAME_NEGOTIATE_CONTEXT_ID = 0x0005
    TRANSPORT_CAPABILITIES = 0x0006
    RDMA_TRANSFORM_CAPABILITIES = 0x0007
    SIGNING_CAPABILITIES = 0x0008


HASH_SHA512 = 0x0001

_CTX = struct.Struct("<HHI")
_REQ = struct.Struct("<HHHHI16sIHH")  # size, count, secmode, reserved, caps, guid, ctx off, ctx count, r2
_RSP = struct.Struct("<HHHH16sIIIIQQHHI")


@dataclass(frozen=True, slots=True)
class NegotiateContext:
    type: int
    data: bytes

    def u16_list(self, count_at: int = 0, list_at: int = 2) -> list[int]:
        """The (count, u16 * count) list most contexts carry."""
        r = Reader(self.data)
        count = r.u16(count_at)
        return [r.u16(list_at + 2 * i) for i in range(count)]


def decode_contexts(r: Reader, off: int, count: int) -> list[NegotiateContext]:
    if count > 64:
        raise MalformedMessage("too many negotiate contexts")
    out = []
    for _ in range(count):
        off += -off % 8
        ctype, length, _res = r.unpack(_CTX, off)
        out.append(NegotiateContext(ctype, r.bytes(off + 8, length)))
        off += 8 + length
    return out


def encode_contexts(w: Writer, contexts: list[NegotiateContext]) -> None:
    for i, ctx in enumerate(contexts):
        if i:
            w.align(8)
        w.pack(_CTX, ctx.type, len(ctx.data), 0)
        w.write(ctx.data)


@dataclass(frozen=True, slots=True)
class NegotiateRequest:
    """MS-SMB2 2.2.3 SMB2 NEGOTIATE Request."""

    STRUCTURE_SIZE = 36
    security_mode: int
    capabilities: int
    client_guid: bytes
    dialects: tuple[int, ...]
    contexts: tuple[NegotiateContext, ...] = ()

    @classmethod
    def decode(cls, r: Reader, body: int) -> "NegotiateRequest":
        size, count, secmode, _r, caps, guid, ctx_off, ctx_count, _r2 = r.unpack(_REQ, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        if count == 0 or count > 64:
            raise MalformedMessage("bad DialectCount")
        dialects = tuple(r.u16(body + 36 + 2 * i) for i in range(count))
        contexts: tuple[NegotiateContext, ...] = ()
        if Dialect.SMB311 in dialects and ctx_count:
            contexts = tuple(decode_contexts(r, ctx_off, ctx_count))
        return cls(secmode, caps, guid, dialects, contexts)

    def encode(self) -> bytes:
        """Body for the client side (offsets assume a 64-byte header before it)."""
        w = Writer()
        w.pack(_REQ, 36, len(self.dialects), self.security_mode, 0, self.capabilities,
               self.client_guid, 0, len(self.contexts), 0)
        for d in self.dialects:
            w.write(d.to_bytes(2, "little"))
        if self.contexts:
            w.buf += bytes(-(64 + len(w)) % 8)
            _REQ.pack_into(w.buf, 0, 36, len(self.dialects), self.security_mode, 0,
                           self.capabilities, self.client_guid, 64 + len(w), len(self.contexts), 0)
            encode_contexts(w, list(self.contexts))
        return w.getvalue()


@dataclass(frozen=True, slots=True)
class NegotiateResponse:
    """MS-SMB2 2.2.4 SMB2 NEGOTIATE Response."""

    STRUCTURE_SIZE = 65
    security_mode: int
    dialect: int
    server_guid: bytes
    capabilities: int
    max_transact: int
    max_read: int
    max_write: int
    system_time: int
    security_buffer: bytes
    contexts: tuple[NegotiateContext, ...] = field(default=())
    server_start_time: int = 0

    def encode(self) -> bytes:
        w = Writer()
        w.reserve(_RSP)
        sec_off = 64 + len(w)
        w.write(self.security_buffer)
        ctx_off = 0
        if self.contexts:
            w.buf += bytes(-(64 + len(w)) % 8)
            ctx_off = 64 + len(w)
            encode_contexts(w, list(self.contexts))
        w.patch(_RSP, 0, self.STRUCTURE_SIZE, self.security_mode, self.dialect, len(self.contexts),
                self.server_guid, self.capabilities, self.max_transact, self.max_read,
                self.max_write, self.system_time, self.server_start_time, sec_off,
                len(self.security_buffer), ctx_off)
        return w.getvalue()

    @classmethod
    def decode(cls, r: Reader, body: int) -> "NegotiateResponse":
        (size, secmode, dialect, ctx_count, guid, caps, mt, mr, mw, now, start, sec_off, sec_len,
         ctx_off) = r.unpack(_RSP, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        contexts: tuple[NegotiateContext, ...] = ()
        if dialect == Dialect.SMB311 and ctx_count:
            contexts = tuple(decode_contexts(r, ctx_off, ctx_count))
        return cls(secmode, dialect, guid, caps, mt, mr, mw, now, r.bytes(sec_off, sec_len),
                   contexts, start)


def smb1_dialects(pdu: bytes | bytearray) -> list[str]:
    """Dialect strings of an SMB1 SMB_COM_NEGOTIATE (MS-CIFS 2.2.4.52.1).

    Raises MalformedMessage when the PDU is not an SMB1 NEGOTIATE.
    """
    r = Reader(pdu)
    if r.size < 35 or r.bytes(0, 4) != b"\xffSMB" or r.u8(4) != 0x72:
        raise MalformedMessage("not an SMB1 NEGOTIATE")
    word_count = r.u8(32)
    off = 33 + 2 * word_count
    byte_count = r.u16(off)
    data = r.bytes(off + 2, byte_count)
    out = []
    for item in data.split(b"\x00"):
        if item[:1] == b"\x02":
            out.append(item[1:].decode("latin-1"))
    return out
