"""READ (MS-SMB2 2.2.19, 2.2.20), WRITE (2.2.21, 2.2.22) and FLUSH (2.2.17, 2.2.18).

Rules:
1. A WRITE payload is a zero-copy view of the received PDU (``Reader.view``).
2. A READ response is returned as its 16-byte fixed part; the payload travels beside it,
   never joined (the glue sends header, fixed part and payload with one vectored write).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .buffer import Reader, expect_structure_size

__all__ = [
    "FlushRequest",
    "ReadRequest",
    "WriteRequest",
    "encode_read_response",
    "encode_write_response",
    "READ_DATA_OFFSET",
]

_READ_REQ = struct.Struct("<HBBIQ16sIIIHH")
_READ_RSP = struct.Struct("<HBBIII")
_WRITE_REQ = struct.Struct("<HHIQ16sIIHHI")
_WRITE_RSP = struct.Struct("<HHIIHH")
_FLUSH_REQ = struct.Struct("<HHI16s")
READ_DATA_OFFSET = 64 + 16  # 0x50: the payload follows the fixed part

SMB2_READFLAG_READ_UNBUFFERED = 0x01
SMB2_CHANNEL_NONE = 0


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """MS-SMB2 2.2.19 SMB2 READ Request."""

    STRUCTURE_SIZE = 49
    flags: int
    length: int
    offset: int
    file_id: bytes
    minimum_count: int
    channel: int

    @classmethod
    def decode(cls, r: Reader, body: int) -> "ReadRequest":
        size, _pad, flags, length, offset, fid, minimum, channel, _rem, _coff, _clen = r.unpack(
            _READ_REQ, body
        )
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        return cls(flags, length, offset, fid, minimum, channel)

    def encode(self) -> bytes:
        return _READ_REQ.pack(49, 0x50, self.flags, self.length, self.offset, self.file_id,
                              self.minimum_count, self.channel, 0, 0, 0) + b"\x00"


def encode_read_response(data_length: int, remaining: int = 0) -> bytes:
    """MS-SMB2 2.2.20 fixed part; ``data_length`` payload bytes follow it."""
    return _READ_RSP.pack(17, READ_DATA_OFFSET, 0, data_length, remaining, 0)


def decode_read_response(r: Reader, body: int) -> memoryview:
    size, off, _res, length, _remaining, _r2 = r.unpack(_READ_RSP, body)
    expect_structure_size(size, 17)
    return r.view(off, length) if length else memoryview(b"")


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """MS-SMB2 2.2.21 SMB2 WRITE Request."""

    STRUCTURE_SIZE = 49
    offset: int
    file_id: bytes
    channel: int
    flags: int
    data: memoryview

    @classmethod
    def decode(cls, r: Reader, body: int) -> "WriteRequest":
        size, data_off, length, offset, fid, channel, _rem, _coff, _clen, flags = r.unpack(
            _WRITE_REQ, body
        )
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        data = r.view(data_off, length) if length else memoryview(b"")
        return cls(offset, fid, channel, flags, data)

    def encode_fixed(self) -> bytes:
        return _WRITE_REQ.pack(49, 64 + 48, len(self.data), self.offset, self.file_id,
                               self.channel, 0, 0, 0, self.flags)


def encode_write_response(count: int) -> bytes:
    """MS-SMB2 2.2.22 SMB2 WRITE Response."""
    return _WRITE_RSP.pack(17, 0, count, 0, 0, 0)


def decode_write_response(r: Reader, body: int) -> int:
    size, _res, count, _rem, _o, _l = r.unpack(_WRITE_RSP, body)
    expect_structure_size(size, 17)
    return count


@dataclass(frozen=True, slots=True)
class FlushRequest:
    """MS-SMB2 2.2.17 SMB2 FLUSH Request."""

    STRUCTURE_SIZE = 24
    file_id: bytes

    @classmethod
    def decode(cls, r: Reader, body: int) -> "FlushRequest":
        size, _r1, _r2, fid = r.unpack(_FLUSH_REQ, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        return cls(fid)


FLUSH_RESPONSE = struct.pack("<HH", 4, 0)
