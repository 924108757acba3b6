"""LOCK (MS-SMB2 2.2.26, 2.2.27): byte-range lock requests and their elements.

Rules:
1. LockCount is bounded by the message: every element must lie inside it (24 bytes each).
2. Element flags are kept as sent; the core validates the combinations (MS-SMB2 3.3.5.14).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntFlag

from ..status import MalformedMessage
from .buffer import Reader, expect_structure_size

__all__ = ["LockElement", "LockFlags", "LockRequest", "LOCK_RESPONSE"]

_REQ = struct.Struct("<HHI16s")
_ELEMENT = struct.Struct("<QQII")
LOCK_RESPONSE = struct.pack("<HH", 4, 0)  # MS-SMB2 2.2.27
MAX_LOCKS = 4096  # far more than any client sends; 24 bytes each must also fit the message


class LockFlags(IntFlag):
    """MS-SMB2 2.2.26.1 SMB2_LOCK_ELEMENT Flags."""

    SHARED = 0x01
    EXCLUSIVE = 0x02
    UNLOCK = 0x04
    FAIL_IMMEDIATELY = 0x10


@dataclass(frozen=True, slots=True)
class LockElement:
    """MS-SMB2 2.2.26.1 SMB2_LOCK_ELEMENT."""

    offset: int
    length: int
    flags: int


@dataclass(frozen=True, slots=True)
class LockRequest:
    """MS-SMB2 2.2.26 SMB2 LOCK Request.

    LockSequence (2.1+) is 4 bits of LockSequenceNumber and 28 bits of LockSequenceIndex.
    """

    STRUCTURE_SIZE = 48
    lock_sequence: int
    file_id: bytes
    locks: tuple[LockElement, ...]

    @property
    def sequence_number(self) -> int:
        return self.lock_sequence & 0xF

    @property
    def sequence_index(self) -> int:
        return (self.lock_sequence >> 4) & 0x0FFFFFFF

    @classmethod
    def decode(cls, r: Reader, body: int) -> "LockRequest":
        size, count, seq, fid = r.unpack(_REQ, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        if count > MAX_LOCKS:
            raise MalformedMessage("too many lock elements")
        base = body + _REQ.size
        locks = []
        for i in range(count):
            off, length, flags, _res = r.unpack(_ELEMENT, base + i * _ELEMENT.size)
            locks.append(LockElement(off, length, flags))
        return cls(seq, fid, tuple(locks))

    def encode(self) -> bytes:
        out = _REQ.pack(48, len(self.locks), self.lock_sequence, self.file_id)
        return out + b"".join(_ELEMENT.pack(e.offset, e.length, e.flags, 0) for e in self.locks)
