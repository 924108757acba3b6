"""QUERY_INFO (MS-SMB2 2.2.37, 2.2.38), SET_INFO (2.2.39, 2.2.40) and QUERY_DIRECTORY
(2.2.33, 2.2.34)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from .buffer import Reader, expect_structure_size
from .header import HEADER_SIZE

__all__ = [
    "InfoType",
    "QueryDirectoryFlags",
    "QueryDirectoryRequest",
    "QueryInfoRequest",
    "SetInfoRequest",
    "encode_buffer_response",
    "SET_INFO_RESPONSE",
]


class InfoType(IntEnum):
    FILE = 0x01
    FILESYSTEM = 0x02
    SECURITY = 0x03
    QUOTA = 0x04


class QueryDirectoryFlags(IntFlag):
    RESTART_SCANS = 0x01
    RETURN_SINGLE_ENTRY = 0x02
    INDEX_SPECIFIED = 0x04
    REOPEN = 0x10


_QI_REQ = struct.Struct("<HBBIHHIII16s")
_SI_REQ = struct.Struct("<HBBIHHI16s")
_QD_REQ = struct.Struct("<HBBI16sHHI")
_BUF_RSP = struct.Struct("<HHI")
SET_INFO_RESPONSE = struct.pack("<H", 2)


@dataclass(frozen=True, slots=True)
class QueryInfoRequest:
    """MS-SMB2 2.2.37 SMB2 QUERY_INFO Request."""

    STRUCTURE_SIZE = 41
    info_type: int
    info_class: int
    output_buffer_length: int
    input: bytes
    additional_information: int
    flags: int
    file_id: bytes

    @classmethod
    def decode(cls, r: Reader, body: int) -> "QueryInfoRequest":
        size, itype, iclass, out_len, in_off, _res, in_len, addl, flags, fid = r.unpack(_QI_REQ, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        data = r.bytes(in_off, in_len) if in_len else b""
        return cls(itype, iclass, out_len, data, addl, flags, fid)

    def encode(self) -> bytes:
        if not self.input:
            return _QI_REQ.pack(41, self.info_type, self.info_class, self.output_buffer_length, 0,
                                0, 0, self.additional_information, self.flags, self.file_id) + b"\x00"
        return _QI_REQ.pack(41, self.info_type, self.info_class, self.output_buffer_length,
                            HEADER_SIZE + _QI_REQ.size, 0, len(self.input),
                            self.additional_information, self.flags, self.file_id) + self.input


@dataclass(frozen=True, slots=True)
class SetInfoRequest:
    """MS-SMB2 2.2.39 SMB2 SET_INFO Request."""

    STRUCTURE_SIZE = 33
    info_type: int
    info_class: int
    buffer: bytes
    additional_information: int
    file_id: bytes

    @classmethod
    def decode(cls, r: Reader, body: int) -> "SetInfoRequest":
        size, itype, iclass, length, off, _res, addl, fid = r.unpack(_SI_REQ, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        return cls(itype, iclass, r.bytes(off, length) if length else b"", addl, fid)

    def encode(self) -> bytes:
        return _SI_REQ.pack(33, self.info_type, self.info_class, len(self.buffer), 64 + 32, 0,
                            self.additional_information, self.file_id) + self.buffer


@dataclass(frozen=True, slots=True)
class QueryDirectoryRequest:
    """MS-SMB2 2.2.33 SMB2 QUERY_DIRECTORY Request."""

    STRUCTURE_SIZE = 33
    info_class: int
    flags: int
    file_index: int
    file_id: bytes
    pattern: str
    output_buffer_length: int

    @classmethod
    def decode(cls, r: Reader, body: int) -> "QueryDirectoryRequest":
        size, iclass, flags, index, fid, name_off, name_len, out_len = r.unpack(_QD_REQ, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        pattern = r.utf16(name_off, name_len) if name_len else ""
        return cls(iclass, flags, index, fid, pattern, out_len)

    def encode(self) -> bytes:
        name = self.pattern.encode("utf-16-le")
        return _QD_REQ.pack(33, self.info_class, self.flags, self.file_index, self.file_id,
                            64 + 32, len(name), self.output_buffer_length) + (name or b"\x00")


def encode_buffer_response(data: bytes) -> bytes:
    """MS-SMB2 2.2.34 / 2.2.38: StructureSize 9, OutputBufferOffset, OutputBufferLength."""
    if not data:
        return _BUF_RSP.pack(9, 0, 0) + b"\x00"
    return _BUF_RSP.pack(9, 64 + 8, len(data)) + data


def decode_buffer_response(r: Reader, body: int) -> bytes:
    size, off, length = r.unpack(_BUF_RSP, body)
    expect_structure_size(size, 9)
    return r.bytes(off, length) if length else b""
