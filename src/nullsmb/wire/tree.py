"""TREE_CONNECT (MS-SMB2 2.2.9, 2.2.10) and TREE_DISCONNECT (2.2.11, 2.2.12)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from .buffer import Reader, expect_structure_size

__all__ = ["ShareType", "ShareFlags", "ShareCapabilities", "TreeConnectRequest", "TreeConnectResponse"]


class ShareType(IntEnum):
    DISK = 0x01
    PIPE = 0x02
    PRINT = 0x03


class ShareFlags(IntFlag):
    """MS-SMB2 2.2.10 ShareFlags."""

    MANUAL_CACHING = 0x00000000
    AUTO_CACHING = 0x00000010
    VDO_CACHING = 0x00000020
    NO_CACHING = 0x00000030
    DFS = 0x00000001
    DFS_ROOT = 0x00000002
    RESTRICT_EXCLUSIVE_OPENS = 0x00000100
    FORCE_SHARED_DELETE = 0x00000200
    ALLOW_NAMESPACE_CACHING = 0x00000400
    ACCESS_BASED_DIRECTORY_ENUM = 0x00000800
    ENCRYPT_DATA = 0x00008000


class ShareCapabilities(IntFlag):
    DFS = 0x00000008
    CONTINUOUS_AVAILABILITY = 0x00000010
    SCALEOUT = 0x00000020
    CLUSTER = 0x00000040
    ASYMMETRIC = 0x00000080


TREE_CONNECT_FLAG_EXTENSION_PRESENT = 0x0004

_REQ = struct.Struct("<HHHH")
_RSP = struct.Struct("<HBBIII")


@dataclass(frozen=True, slots=True)
class TreeConnectRequest:
    """MS-SMB2 2.2.9 SMB2 TREE_CONNECT Request (path is \\\\server\\share)."""

    STRUCTURE_SIZE = 9
    flags: int
    path: str

    @classmethod
    def decode(cls, r: Reader, body: int) -> "TreeConnectRequest":
        size, flags, off, length = r.unpack(_REQ, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        return cls(flags, r.utf16(off, length))

    def encode(self) -> bytes:
        data = self.path.encode("utf-16-le")
        return _REQ.pack(9, self.flags, 64 + 8, len(data)) + data


@dataclass(frozen=True, slots=True)
class TreeConnectResponse:
    """MS-SMB2 2.2.10 SMB2 TREE_CONNECT Response."""

    STRUCTURE_SIZE = 16
    share_type: int
    share_flags: int
    capabilities: int
    maximal_access: int

    def encode(self) -> bytes:
        return _RSP.pack(16, self.share_type, 0, self.share_flags, self.capabilities, self.maximal_access)

    @classmethod
    def decode(cls, r: Reader, body: int) -> "TreeConnectResponse":
        size, stype, _r, flags, caps, access = r.unpack(_RSP, body)
        expect_structure_size(size, cls.STRUCTURE_SIZE)
        return cls(stype, flags, caps, access)
