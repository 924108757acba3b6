"""CHANGE_NOTIFY (MS-SMB2 2.2.35, 2.2.36) and FILE_NOTIFY_INFORMATION (MS-FSCC 2.7.1).

Rules:
1. Entries are 4-byte aligned and chained by NextEntryOffset; a list that does not fit the
   client's OutputBufferLength is not truncated: the caller reports NOTIFY_ENUM_DIR instead.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from .buffer import Reader, expect_structure_size

__all__ = ["ChangeNotifyRequest", "CompletionFilter", "NotifyAction", "encode_notify_entries"]

_REQ = struct.Struct("<HHI16sII")
_ENTRY = struct.Struct("<III")
WATCH_TREE = 0x0001  # SMB2_WATCH_TREE


class CompletionFilter(IntFlag):
    """MS-SMB2 2.2.35 CompletionFilter (FILE_NOTIFY_CHANGE_*)."""

    FILE_NAME = 0x001
    DIR_NAME = 0x002
    ATTRIBUTES = 0x004
    SIZE = 0x008
    LAST_WRITE = 0x010
    LAST_ACCESS = 0x020
    CREATION = 0x040
    EA = 0x080
    SECURITY = 0x100
    STREAM_NAME = 0x200
    STREAM_SIZE = 0x400
    STREAM_WRITE = 0x800


class NotifyAction(IntEnum):
    """MS-FSCC 2.7.1 FILE_NOTIFY_INFORMATION Action."""

    ADDED = 1
    REMOVED = 2
    MODIFIED = 3
    RENAMED_OLD_NAME = 4
    RENAMED_NEW_NAME = 5
    ADDED_STREAM = 6
    REMOVED_STREAM = 7
    MODIFIED_STREAM = 8


@dataclass(frozen=True, slots=True)
class ChangeNotifyRequest:
    """MS-SMB2 2.2.35 SMB2 CHANGE_NOTIFY Request."""

    STRUCTURE_SIZE = 32
    flags: int
    output_buffer_length: int
    file_id: bytes
    completion_filter: int

    @classmethod
    def decode(cls, r: Reader, body: int) -> "ChangeNotifyRequest":
        size, flags, out_len, fid, flt, _res = r.unpack(_REQ, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        return cls(flags, out_len, fid, flt)

    def encode(self) -> bytes:
        return _REQ.pack(32, self.flags, self.output_buffer_length, self.file_id,
                         self.completion_filter, 0)


def encode_notify_entries(entries: list[tuple[int, str]]) -> bytes:
    """FILE_NOTIFY_INFORMATION list: (action, share-relative name) pairs, 4-byte aligned."""
    out = bytearray()
    last = -1
    for action, name in entries:
        raw = name.encode("utf-16-le", "surrogatepass")
        pad = -len(out) % 4
        if last >= 0:
            out += bytes(pad)
            struct.pack_into("<I", out, last, len(out) - last)
        last = len(out)
        out += _ENTRY.pack(0, action, len(raw)) + raw
    return bytes(out)
