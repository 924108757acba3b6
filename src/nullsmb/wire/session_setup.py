"""SESSION_SETUP (MS-SMB2 2.2.5, 2.2.6) and LOGOFF (2.2.7, 2.2.8)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntFlag

from .buffer import Reader, Writer, expect_structure_size

__all__ = ["SessionFlags", "SessionSetupRequest", "SessionSetupResponse", "SIMPLE_SIZE4"]


class SessionFlags(IntFlag):
    """MS-SMB2 2.2.6 SessionFlags."""

    IS_GUEST = 0x0001
    IS_NULL = 0x0002
    ENCRYPT_DATA = 0x0004


SESSION_BINDING = 0x01  # MS-SMB2 2.2.5 Flags

_REQ = struct.Struct("<HBBIIHHQ")
_RSP = struct.Struct("<HHHH")
SIMPLE_SIZE4 = struct.Struct("<HH")  # LOGOFF, TREE_DISCONNECT, ECHO, CANCEL: StructureSize 4 + Reserved


@dataclass(frozen=True, slots=True)
class SessionSetupRequest:
    """MS-SMB2 2.2.5 SMB2 SESSION_SETUP Request."""

    STRUCTURE_SIZE = 25
    flags: int
    security_mode: int
    capabilities: int
    previous_session_id: int
    token: bytes

    @classmethod
    def decode(cls, r: Reader, body: int) -> "SessionSetupRequest":
        size, flags, secmode, caps, _chan, off, length, prev = r.unpack(_REQ, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        return cls(flags, secmode, caps, prev, r.bytes(off, length) if length else b"")

    def encode(self) -> bytes:
        w = Writer()
        w.pack(_REQ, 25, self.flags, self.security_mode, self.capabilities, 0, 64 + 24,
               len(self.token), self.previous_session_id)
        w.write(self.token)
        return w.getvalue()


@dataclass(frozen=True, slots=True)
class SessionSetupResponse:
    """MS-SMB2 2.2.6 SMB2 SESSION_SETUP Response."""

    STRUCTURE_SIZE = 9
    session_flags: int
    token: bytes

    def encode(self) -> bytes:
        return _RSP.pack(9, self.session_flags, 64 + 8, len(self.token)) + self.token

    @classmethod
    def decode(cls, r: Reader, body: int) -> "SessionSetupResponse":
        size, flags, off, length = r.unpack(_RSP, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        return cls(flags, r.bytes(off, length) if length else b"")


def simple_body() -> bytes:
    """The 4-byte body of LOGOFF, TREE_DISCONNECT, ECHO (requests and responses)."""
    return SIMPLE_SIZE4.pack(4, 0)
