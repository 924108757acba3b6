"""OPLOCK_BREAK messages: oplock break notification, acknowledgment and response
(MS-SMB2 2.2.23.1, 2.2.24.1, 2.2.25.1) and their lease forms (2.2.23.2, 2.2.24.2, 2.2.25.2).

Rules:
1. An acknowledgment is told apart by its StructureSize: 24 for an oplock, 36 for a lease
   (MS-SMB2 3.3.5.22); anything else is malformed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..status import MalformedMessage
from .buffer import Reader

__all__ = ["LeaseBreakAck", "OplockBreakAck", "decode_break_ack", "encode_lease_break",
           "encode_lease_break_response", "encode_oplock_break"]

_OPLOCK = struct.Struct("<HBBI16s")
_LEASE_NOTIFY = struct.Struct("<HHI16sIIIII")
_LEASE_ACK = struct.Struct("<HHI16sIQ")
BREAK_ACK_REQUIRED = 0x01  # SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED


@dataclass(frozen=True, slots=True)
class OplockBreakAck:
    """MS-SMB2 2.2.24.1 Oplock Break Acknowledgment."""

    oplock_level: int
    file_id: bytes


@dataclass(frozen=True, slots=True)
class LeaseBreakAck:
    """MS-SMB2 2.2.24.2 Lease Break Acknowledgment."""

    lease_key: bytes
    lease_state: int


def decode_break_ack(r: Reader, body: int) -> OplockBreakAck | LeaseBreakAck:
    size = r.u16(body)
    if size == 24:
        _s, level, _r1, _r2, fid = r.unpack(_OPLOCK, body)
        return OplockBreakAck(level, fid)
    if size == 36:
        _s, _r, _flags, key, state, _dur = r.unpack(_LEASE_ACK, body)
        return LeaseBreakAck(key, state)
    raise MalformedMessage(f"OPLOCK_BREAK StructureSize {size}")


def encode_oplock_break(level: int, file_id: bytes) -> bytes:
    """MS-SMB2 2.2.23.1 / 2.2.25.1 (the notification and the response share the layout)."""
    return _OPLOCK.pack(24, level, 0, 0, file_id)


def encode_lease_break(epoch: int, flags: int, key: bytes, current: int, new: int) -> bytes:
    """MS-SMB2 2.2.23.2 Lease Break Notification (reason and hints 0)."""
    return _LEASE_NOTIFY.pack(44, epoch, flags, key, current, new, 0, 0, 0)


def encode_lease_break_response(key: bytes, state: int) -> bytes:
    """MS-SMB2 2.2.25.2 Lease Break Response."""
    return _LEASE_ACK.pack(36, 0, 0, key, state, 0)


def encode_oplock_ack(level: int, file_id: bytes) -> bytes:
    return _OPLOCK.pack(24, level, 0, 0, file_id)


def encode_lease_ack(key: bytes, state: int) -> bytes:
    return _LEASE_ACK.pack(36, 0, 0, key, state, 0)
