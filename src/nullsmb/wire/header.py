"""SMB2 packet header (MS-SMB2 2.2.1) and command codes (2.2.1.2).

Rules:
1. Requests are decoded into ``Smb2Header``; the body starts at offset 64 of the same message.
2. Responses are packed straight from values with ``pack_header`` (hot path: no dataclass).
3. The Signature field is bytes 48..64; signing zeroes it before the MAC is computed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from ..status import MalformedMessage
from .buffer import Reader

__all__ = [
    "Command",
    "HeaderFlags",
    "Smb2Header",
    "HEADER_SIZE",
    "SMB2_MAGIC",
    "SMB1_MAGIC",
    "pack_header",
    "split_compound",
]

HEADER_SIZE = 64
SMB2_MAGIC = b"\xfeSMB"
SMB1_MAGIC = b"\xffSMB"
TRANSFORM_MAGIC = b"\xfdSMB"
COMPRESSION_MAGIC = b"\xfcSMB"
SIGNATURE_OFFSET = 48

_HEADER = struct.Struct("<4sHHIHHIIQQQ16s")  # sync and async share the layout: 8 bytes at 32


class Command(IntEnum):
    """MS-SMB2 2.2.1.2 Command."""

    NEGOTIATE = 0x0000
    SESSION_SETUP = 0x0001
    LOGOFF = 0x0002
    TREE_CONNECT = 0x0003
    TREE_DISCONNECT = 0x0004
    CREATE = 0x0005
    CLOSE = 0x0006
    FLUSH = 0x0007
    READ = 0x0008
    WRITE = 0x0009
    LOCK = 0x000A
    IOCTL = 0x000B
    CANCEL = 0x000C
    ECHO = 0x000D
    QUERY_DIRECTORY = 0x000E
    CHANGE_NOTIFY = 0x000F
    QUERY_INFO = 0x0010
    SET_INFO = 0x0011
    OPLOCK_BREAK = 0x0012


class HeaderFlags(IntFlag):
    """MS-SMB2 2.2.1.2 Flags."""

    SERVER_TO_REDIR = 0x00000001
    ASYNC_COMMAND = 0x00000002
    RELATED_OPERATIONS = 0x00000004
    SIGNED = 0x00000008
    PRIORITY_MASK = 0x00000070
    DFS_OPERATIONS = 0x10000000
    REPLAY_OPERATION = 0x20000000


@dataclass(frozen=True, slots=True)
class Smb2Header:
    """MS-SMB2 2.2.1.1 (async) / 2.2.1.2 (sync) header of a request."""

    credit_charge: int
    status: int  # ChannelSequence/Reserved in requests (3.x)
    command: int
    credit_request: int
    flags: int
    next_command: int
    message_id: int
    async_id: int  # 0 for sync requests
    tree_id: int  # 0 for async requests
    session_id: int
    signature: bytes

    @classmethod
    def decode(cls, r: Reader, off: int = 0) -> "Smb2Header":
        (magic, size, charge, status, command, credits, flags, next_cmd, mid, word, sid, sig) = r.unpack(
            _HEADER, off
        )
        if magic != SMB2_MAGIC:
            raise MalformedMessage("not an SMB2 header")
        if size != HEADER_SIZE:
            raise MalformedMessage(f"header StructureSize {size}")
        if flags & HeaderFlags.ASYNC_COMMAND:
            async_id, tree_id = word, 0
        else:
            async_id, tree_id = 0, word >> 32
        return cls(charge, status, command, credits, flags, next_cmd, mid, async_id, tree_id, sid, sig)

    @property
    def is_related(self) -> bool:
        return bool(self.flags & HeaderFlags.RELATED_OPERATIONS)

    @property
    def is_signed(self) -> bool:
        return bool(self.flags & HeaderFlags.SIGNED)


def pack_header(
    *,
    command: int,
    status: int,
    message_id: int,
    session_id: int,
    tree_id: int = 0,
    async_id: int | None = None,
    credit_charge: int = 0,
    credits: int = 0,
    flags: int = HeaderFlags.SERVER_TO_REDIR,
    next_command: int = 0,
) -> bytearray:
    """A 64-byte header with a zero signature (signing fills it in later)."""
    if async_id is not None:
        flags |= HeaderFlags.ASYNC_COMMAND
        word = async_id
    else:
        word = tree_id << 32
    buf = bytearray(HEADER_SIZE)
    _HEADER.pack_into(
        buf, 0, SMB2_MAGIC, HEADER_SIZE, credit_charge, status, command, credits, flags,
        next_command, message_id, word, session_id, bytes(16),
    )
    return buf


def split_compound(pdu: bytes | bytearray) -> list[tuple[int, int]]:
    """(start, end) of each message of a compound chain (MS-SMB2 3.3.5.2.7).

    NextCommand must be 8-byte aligned, point past a full header and stay inside the PDU.
    """
    out: list[tuple[int, int]] = []
    start = 0
    total = len(pdu)
    while True:
        if total - start < HEADER_SIZE:
            raise MalformedMessage("truncated SMB2 header")
        nxt = int.from_bytes(pdu[start + 20 : start + 24], "little")
        if nxt == 0:
            out.append((start, total))
            return out
        if nxt % 8 or nxt < HEADER_SIZE or start + nxt >= total:
            raise MalformedMessage(f"bad NextCommand {nxt}")
        out.append((start, start + nxt))
        start += nxt
        if len(out) > 64:
            raise MalformedMessage("compound chain too long")
