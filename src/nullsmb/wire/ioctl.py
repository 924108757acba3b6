"""IOCTL (MS-SMB2 2.2.31, 2.2.32) and the FSCTL payloads the core answers itself
(VALIDATE_NEGOTIATE_INFO 2.2.31.4 / 2.2.32.6)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from ..status import MalformedMessage
from .buffer import Reader, expect_structure_size

__all__ = ["Fsctl", "IoctlRequest", "encode_ioctl_response", "ValidateNegotiateInfo"]


class Fsctl(IntEnum):
    """Control codes (MS-SMB2 2.2.31, MS-FSCC 2.3)."""

    DFS_GET_REFERRALS = 0x00060194
    DFS_GET_REFERRALS_EX = 0x000601B0
    PIPE_PEEK = 0x0011400C
    PIPE_WAIT = 0x00110018
    PIPE_TRANSCEIVE = 0x0011C017
    SRV_COPYCHUNK = 0x001440F2
    SRV_ENUMERATE_SNAPSHOTS = 0x00144064
    SRV_REQUEST_RESUME_KEY = 0x00140078
    SRV_READ_HASH = 0x001441BB
    SRV_COPYCHUNK_WRITE = 0x001480F2
    LMR_REQUEST_RESILIENCY = 0x001401D4
    QUERY_NETWORK_INTERFACE_INFO = 0x001401FC
    SET_REPARSE_POINT = 0x000900A4
    GET_REPARSE_POINT = 0x000900A8
    VALIDATE_NEGOTIATE_INFO = 0x00140204
    CREATE_OR_GET_OBJECT_ID = 0x000900C0
    QUERY_ALLOCATED_RANGES = 0x000940CF
    SET_SPARSE = 0x000900C4
    FILE_LEVEL_TRIM = 0x00098208
    GET_COMPRESSION = 0x0009003C
    SET_COMPRESSION = 0x0009C040
    SET_ZERO_DATA = 0x000980C8
    GET_OBJECT_ID = 0x0009009C
    DELETE_REPARSE_POINT = 0x000900AC


SMB2_0_IOCTL_IS_FSCTL = 0x00000001

_REQ = struct.Struct("<HHI16sIIIIIIII")
_RSP = struct.Struct("<HHI16sIIIIII")
_VNI = struct.Struct("<I16sHH")


@dataclass(frozen=True, slots=True)
class IoctlRequest:
    """MS-SMB2 2.2.31 SMB2 IOCTL Request."""

    STRUCTURE_SIZE = 57
    ctl_code: int
    file_id: bytes
    input: memoryview
    max_input_response: int
    max_output_response: int
    flags: int

    @classmethod
    def decode(cls, r: Reader, body: int) -> "IoctlRequest":
        (size, _res, code, fid, in_off, in_count, max_in, _out_off, _out_count, max_out, flags,
         _r2) = r.unpack(_REQ, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        data = r.view(in_off, in_count) if in_count else memoryview(b"")
        return cls(code, fid, data, max_in, max_out, flags)

    def encode(self) -> bytes:
        data = bytes(self.input)
        return _REQ.pack(57, 0, self.ctl_code, self.file_id, 64 + 56 if data else 0, len(data),
                         self.max_input_response, 0, 0, self.max_output_response, self.flags,
                         0) + data


def encode_ioctl_response(ctl_code: int, file_id: bytes, output: bytes | memoryview) -> bytes:
    """MS-SMB2 2.2.32 SMB2 IOCTL Response; input is never echoed back (InputCount 0)."""
    off = 64 + 48
    return _RSP.pack(49, 0, ctl_code, file_id, off, 0, off, len(output), 0, 0) + bytes(output)


def decode_ioctl_response(r: Reader, body: int) -> memoryview:
    size, _r, _code, _fid, _io, _ic, out_off, out_count, _f, _r2 = r.unpack(_RSP, body)
    expect_structure_size(size, 49)
    return r.view(out_off, out_count) if out_count else memoryview(b"")


@dataclass(frozen=True, slots=True)
class ValidateNegotiateInfo:
    """MS-SMB2 2.2.31.4 VALIDATE_NEGOTIATE_INFO Request."""

    capabilities: int
    guid: bytes
    security_mode: int
    dialects: tuple[int, ...]

    @classmethod
    def decode(cls, data: memoryview) -> "ValidateNegotiateInfo":
        r = Reader(data)
        caps, guid, secmode, count = r.unpack(_VNI, 0)
        if count == 0 or count > 64:
            raise MalformedMessage("bad dialect count")
        return cls(caps, guid, secmode, tuple(r.u16(24 + 2 * i) for i in range(count)))


def encode_validate_negotiate_response(capabilities: int, guid: bytes, security_mode: int,
                                       dialect: int) -> bytes:
    """MS-SMB2 2.2.32.6 VALIDATE_NEGOTIATE_INFO Response."""
    return struct.pack("<I16sHH", capabilities, guid, security_mode, dialect)
