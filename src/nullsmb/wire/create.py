"""CREATE (MS-SMB2 2.2.13, 2.2.14) with create contexts (2.2.13.2, 2.2.14.2) and CLOSE
(2.2.15, 2.2.16).

Rules:
1. Create contexts are a chain of ``Next`` offsets, each 8-byte aligned and inside the buffer;
   names and data are bounds-checked against the context (at most 32 contexts).
2. Unknown contexts are kept (by name) and ignored by the handler (MS-SMB2 3.3.5.9).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntFlag

from ..status import MalformedMessage
from .buffer import Reader, Writer, expect_structure_size

__all__ = [
    "AccessMask",
    "CloseRequest",
    "CloseResponse",
    "CreateContext",
    "CreateOptions",
    "CreateRequest",
    "CreateResponse",
    "ShareAccess",
    "decode_file_id",
]


class AccessMask(IntFlag):
    """MS-SMB2 2.2.13.1 (file/pipe/printer) and generic rights (MS-DTYP 2.4.3)."""

    FILE_READ_DATA = 0x00000001
    FILE_WRITE_DATA = 0x00000002
    FILE_APPEND_DATA = 0x00000004
    FILE_READ_EA = 0x00000008
    FILE_WRITE_EA = 0x00000010
    FILE_EXECUTE = 0x00000020
    FILE_DELETE_CHILD = 0x00000040
    FILE_READ_ATTRIBUTES = 0x00000080
    FILE_WRITE_ATTRIBUTES = 0x00000100
    DELETE = 0x00010000
    READ_CONTROL = 0x00020000
    WRITE_DAC = 0x00040000
    WRITE_OWNER = 0x00080000
    SYNCHRONIZE = 0x00100000
    ACCESS_SYSTEM_SECURITY = 0x01000000
    MAXIMUM_ALLOWED = 0x02000000
    GENERIC_ALL = 0x10000000
    GENERIC_EXECUTE = 0x20000000
    GENERIC_WRITE = 0x40000000
    GENERIC_READ = 0x80000000


FILE_ALL_ACCESS = 0x001F01FF
FILE_GENERIC_READ = 0x00120089
FILE_GENERIC_WRITE = 0x00120116
FILE_GENERIC_EXECUTE = 0x001200A0
WRITE_RIGHTS = (
    AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA | AccessMask.FILE_WRITE_EA
    | AccessMask.FILE_WRITE_ATTRIBUTES | AccessMask.DELETE | AccessMask.FILE_DELETE_CHILD
    | AccessMask.WRITE_DAC | AccessMask.WRITE_OWNER
)


def map_generic(mask: int) -> int:
    """MS-SMB2 3.3.5.9 / MS-FSA: GENERIC_* bits mapped onto file rights."""
    if mask & AccessMask.GENERIC_READ:
        mask |= FILE_GENERIC_READ
    if mask & AccessMask.GENERIC_WRITE:
        mask |= FILE_GENERIC_WRITE
    if mask & AccessMask.GENERIC_EXECUTE:
        mask |= FILE_GENERIC_EXECUTE
    if mask & AccessMask.GENERIC_ALL:
        mask |= FILE_ALL_ACCESS
    return mask & ~0xF0000000


class ShareAccess(IntFlag):
    READ = 0x1
    WRITE = 0x2
    DELETE = 0x4


class CreateOptions(IntFlag):
    """MS-SMB2 2.2.13 CreateOptions."""

    DIRECTORY_FILE = 0x00000001
    WRITE_THROUGH = 0x00000002
    SEQUENTIAL_ONLY = 0x00000004
    NO_INTERMEDIATE_BUFFERING = 0x00000008
    SYNCHRONOUS_IO_ALERT = 0x00000010
    SYNCHRONOUS_IO_NONALERT = 0x00000020
    NON_DIRECTORY_FILE = 0x00000040
    COMPLETE_IF_OPLOCKED = 0x00000100
    NO_EA_KNOWLEDGE = 0x00000200
    RANDOM_ACCESS = 0x00000800
    DELETE_ON_CLOSE = 0x00001000
    OPEN_BY_FILE_ID = 0x00002000
    OPEN_FOR_BACKUP_INTENT = 0x00004000
    NO_COMPRESSION = 0x00008000
    OPEN_REPARSE_POINT = 0x00200000
    OPEN_NO_RECALL = 0x00400000
    OPEN_FOR_FREE_SPACE_QUERY = 0x00800000


_CREATE_REQ = struct.Struct("<HBBIQQIIIIIHHII")
_CREATE_RSP = struct.Struct("<HBBIQQQQQQII16sII")
_CTX = struct.Struct("<IHHHHI")
_CLOSE_REQ = struct.Struct("<HHI16s")
_CLOSE_RSP = struct.Struct("<HHIQQQQQQI")
_FILE_ID = struct.Struct("<QQ")


def decode_file_id(raw: bytes) -> tuple[int, int]:
    """(persistent, volatile) of an SMB2_FILEID (MS-SMB2 2.2.14.1)."""
    return _FILE_ID.unpack(raw)


@dataclass(frozen=True, slots=True)
class CreateContext:
    """MS-SMB2 2.2.13.2 SMB2_CREATE_CONTEXT."""

    name: bytes
    data: bytes


def decode_contexts(r: Reader, off: int, length: int) -> tuple[CreateContext, ...]:
    if length == 0:
        return ()
    r.check(off, length)
    end = off + length
    out = []
    while True:
        if len(out) >= 32:
            raise MalformedMessage("too many create contexts")
        nxt, name_off, name_len, _res, data_off, data_len = r.unpack(_CTX, off)
        ctx_end = off + nxt if nxt else end
        if ctx_end > end or (nxt and nxt % 8):
            raise MalformedMessage("bad create context chain")
        if off + name_off + name_len > ctx_end or (data_len and off + data_off + data_len > ctx_end):
            raise MalformedMessage("create context field outside the context")
        name = r.bytes(off + name_off, name_len)
        data = r.bytes(off + data_off, data_len) if data_len else b""
        out.append(CreateContext(name, data))
        if not nxt:
            return tuple(out)
        off += nxt


def encode_contexts(contexts: list[CreateContext]) -> bytes:
    w = Writer()
    for i, ctx in enumerate(contexts):
        start = w.reserve(_CTX)
        name_off = len(w) - start
        w.write(ctx.name)
        w.align(8)
        data_off = len(w) - start if ctx.data else 0
        w.write(ctx.data)
        last = i == len(contexts) - 1
        if not last:
            w.align(8)
        nxt = 0 if last else len(w) - start
        w.patch(_CTX, start, nxt, name_off, len(ctx.name), 0, data_off, len(ctx.data))
    return w.getvalue()


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """MS-SMB2 2.2.13 SMB2 CREATE Request."""

    STRUCTURE_SIZE = 57
    oplock_level: int
    impersonation_level: int
    desired_access: int
    file_attributes: int
    share_access: int
    disposition: int
    options: int
    name: str
    contexts: tuple[CreateContext, ...]

    @classmethod
    def decode(cls, r: Reader, body: int) -> "CreateRequest":
        (size, _sec, oplock, imp, _flags, _res, access, attrs, share, disp, opts, name_off,
         name_len, ctx_off, ctx_len) = r.unpack(_CREATE_REQ, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        name = r.utf16(name_off, name_len) if name_len else ""
        return cls(oplock, imp, access, attrs, share, disp, opts, name,
                   decode_contexts(r, ctx_off, ctx_len))

    def context(self, name: bytes) -> CreateContext | None:
        for ctx in self.contexts:
            if ctx.name == name:
                return ctx
        return None

    def encode(self) -> bytes:
        w = Writer()
        w.reserve(_CREATE_REQ)
        name = self.name.encode("utf-16-le")
        name_off = 64 + len(w)
        w.write(name or b"\x00\x00")  # MS-SMB2 2.2.13: the buffer is at least one byte
        ctx_off = ctx_len = 0
        if self.contexts:
            w.buf += bytes(-(64 + len(w)) % 8)
            ctx_off = 64 + len(w)
            blob = encode_contexts(list(self.contexts))
            ctx_len = len(blob)
            w.write(blob)
        w.patch(_CREATE_REQ, 0, 57, 0, self.oplock_level, self.impersonation_level, 0, 0,
                self.desired_access, self.file_attributes, self.share_access, self.disposition,
                self.options, name_off, len(name), ctx_off, ctx_len)
        return w.getvalue()


@dataclass(frozen=True, slots=True)
class CreateResponse:
    """MS-SMB2 2.2.14 SMB2 CREATE Response."""

    STRUCTURE_SIZE = 89
    oplock_level: int
    flags: int
    create_action: int
    creation_time: int
    last_access_time: int
    last_write_time: int
    change_time: int
    allocation_size: int
    end_of_file: int
    file_attributes: int
    file_id: bytes
    contexts: tuple[CreateContext, ...] = ()

    def encode(self) -> bytes:
        blob = encode_contexts(list(self.contexts)) if self.contexts else b""
        ctx_off = 64 + 88 if blob else 0
        fixed = _CREATE_RSP.pack(
            89, self.oplock_level, self.flags, self.create_action, self.creation_time,
            self.last_access_time, self.last_write_time, self.change_time, self.allocation_size,
            self.end_of_file, self.file_attributes, 0, self.file_id, ctx_off, len(blob),
        )
        return fixed + (blob or b"\x00")

    @classmethod
    def decode(cls, r: Reader, body: int) -> "CreateResponse":
        (size, oplock, flags, action, ct, at, wt, cht, alloc, eof, attrs, _r, fid, ctx_off,
         ctx_len) = r.unpack(_CREATE_RSP, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        return cls(oplock, flags, action, ct, at, wt, cht, alloc, eof, attrs, fid,
                   decode_contexts(r, ctx_off, ctx_len))


CLOSE_FLAG_POSTQUERY_ATTRIB = 0x0001


@dataclass(frozen=True, slots=True)
class CloseRequest:
    """MS-SMB2 2.2.15 SMB2 CLOSE Request."""

    STRUCTURE_SIZE = 24
    flags: int
    file_id: bytes

    @classmethod
    def decode(cls, r: Reader, body: int) -> "CloseRequest":
        size, flags, _res, fid = r.unpack(_CLOSE_REQ, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        return cls(flags, fid)

    def encode(self) -> bytes:
        return _CLOSE_REQ.pack(24, self.flags, 0, self.file_id)


@dataclass(frozen=True, slots=True)
class CloseResponse:
    """MS-SMB2 2.2.16 SMB2 CLOSE Response (attributes only with POSTQUERY_ATTRIB)."""

    STRUCTURE_SIZE = 60
    flags: int = 0
    creation_time: int = 0
    last_access_time: int = 0
    last_write_time: int = 0
    change_time: int = 0
    allocation_size: int = 0
    end_of_file: int = 0
    file_attributes: int = 0

    def encode(self) -> bytes:
        return _CLOSE_RSP.pack(60, self.flags, 0, self.creation_time, self.last_access_time,
                               self.last_write_time, self.change_time, self.allocation_size,
                               self.end_of_file, self.file_attributes)
