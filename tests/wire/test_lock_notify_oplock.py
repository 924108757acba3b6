"""Golden bytes and bounds for wire/lock.py, wire/notify.py, wire/oplock.py, wire/contexts.py and
wire/security.py (MS-SMB2 2.2.23-2.2.27, 2.2.35-2.2.36, 2.2.13.2; MS-FSCC 2.7.1; MS-DTYP 2.4)."""

from __future__ import annotations

import struct

import pytest

from nullsmb.status import MalformedMessage
from nullsmb.wire import contexts, security
from nullsmb.wire.buffer import Reader
from nullsmb.wire.lock import LockElement, LockRequest
from nullsmb.wire.notify import ChangeNotifyRequest, encode_notify_entries
from nullsmb.wire.oplock import (
    LeaseBreakAck,
    OplockBreakAck,
    decode_break_ack,
    encode_lease_break,
    encode_oplock_break,
)

FID = bytes(range(16))


def test_lock_request_golden_and_truncation() -> None:
    raw = bytes.fromhex(
        "3000"  # StructureSize 48
        "0100"  # LockCount 1
        "21000000"  # LockSequence: number 1, index 2
    ) + FID + bytes.fromhex(
        "6400000000000000"  # Offset 100
        "0a00000000000000"  # Length 10
        "12000000"  # Flags: EXCLUSIVE | FAIL_IMMEDIATELY
        "00000000"  # Reserved
    )
    req = LockRequest.decode(Reader(raw), 0)
    assert (req.sequence_number, req.sequence_index) == (1, 2)
    assert req.locks == (LockElement(100, 10, 0x12),)
    assert req.encode() == raw
    for cut in range(len(raw)):
        with pytest.raises(MalformedMessage):
            LockRequest.decode(Reader(raw[:cut]), 0)


def test_lock_count_beyond_the_message_is_malformed() -> None:
    raw = struct.pack("<HHI16s", 48, 2, 0, FID) + bytes(24)  # two announced, one present
    with pytest.raises(MalformedMessage):
        LockRequest.decode(Reader(raw), 0)


def test_change_notify_request_round_trip() -> None:
    req = ChangeNotifyRequest(1, 4096, FID, 0x3)
    assert ChangeNotifyRequest.decode(Reader(req.encode()), 0) == req


def test_notify_entries_are_chained_and_aligned() -> None:
    data = encode_notify_entries([(1, "a"), (2, "bcd")])
    first_next, action, length = struct.unpack_from("<III", data)
    assert (action, length) == (1, 2) and first_next == 16  # 12 + 2, padded to 4
    assert struct.unpack_from("<III", data, 16) == (0, 2, 6)
    assert data[28:34].decode("utf-16-le") == "bcd"


def test_break_acks_by_structure_size() -> None:
    oplock_ack = encode_oplock_break(1, FID)
    assert decode_break_ack(Reader(oplock_ack), 0) == OplockBreakAck(1, FID)
    lease_ack = struct.pack("<HHI16sIQ", 36, 0, 0, b"K" * 16, 3, 0)
    assert decode_break_ack(Reader(lease_ack), 0) == LeaseBreakAck(b"K" * 16, 3)
    with pytest.raises(MalformedMessage):
        decode_break_ack(Reader(struct.pack("<H", 30) + bytes(40)), 0)
    notify = encode_lease_break(3, 1, b"K" * 16, 7, 3)
    assert len(notify) == 44 and struct.unpack_from("<HHI", notify) == (44, 3, 1)


def test_lease_contexts_v1_and_v2() -> None:
    v1 = contexts.encode_lease(1, b"k" * 16, 7, 0)
    assert len(v1) == 32 and contexts.decode_lease(v1) == contexts.LeaseRequest(b"k" * 16, 7, 0, 1)
    v2 = contexts.encode_lease(2, b"k" * 16, 5, 4, b"p" * 16, 9)
    got = contexts.decode_lease(v2)
    assert len(v2) == 52 and got is not None
    assert (got.version, got.parent_key, got.epoch) == (2, b"p" * 16, 9)
    assert contexts.decode_lease(bytes(31)) is None


def test_security_descriptor_round_trip_and_bounds() -> None:
    everyone = security.sid_bytes("S-1-1-0")
    assert everyone == bytes.fromhex("010100000000000100000000")
    assert security.sid_text(security.sid_bytes("S-1-5-32-544")) == "S-1-5-32-544"
    dacl = security.encode_acl([security.Ace(0, 3, 0x1F01FF, everyone)])
    sd = security.SecurityDescriptor(0, security.sid_bytes("S-1-5-32-544"), None, dacl)
    raw = security.encode_sd(sd)
    assert raw[:4] == bytes.fromhex("01000480")  # revision 1, SELF_RELATIVE | DACL_PRESENT
    back = security.decode_sd(raw)
    assert (back.owner, back.group, back.dacl) == (sd.owner, None, dacl)
    for cut in (0, 10, 24, len(raw) - 1):
        with pytest.raises(MalformedMessage):
            security.decode_sd(raw[:cut])
