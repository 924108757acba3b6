"""Create context payloads (MS-SMB2 2.2.13.2, 2.2.14.2): leases, durable handles, MxAc, QFid.

Rules:
1. A payload of the wrong size for its tag is STATUS_INVALID_PARAMETER for the request
   (the core raises it); nothing here reads beyond the payload.
2. Encoders return the context data only; ``wire.create.encode_contexts`` frames them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["DurableV2Request", "LeaseRequest", "decode_lease", "encode_lease"]

LEASE = b"RqLs"
DURABLE_V1 = b"DHnQ"
DURABLE_V1_RECONNECT = b"DHnC"
DURABLE_V2 = b"DH2Q"
DURABLE_V2_RECONNECT = b"DH2C"
MAXIMAL_ACCESS = b"MxAc"
QUERY_ON_DISK_ID = b"QFid"
ALLOCATION_SIZE = b"AlSi"
TIMEWARP = b"TWrp"
EXTENDED_ATTRIBUTES = b"ExtA"
SECURITY_DESCRIPTOR = b"SecD"
APP_INSTANCE_ID = bytes.fromhex("45BCA66AEFA7F74A9008FA462E144D74")

LEASE_FLAG_BREAK_IN_PROGRESS = 0x02
LEASE_FLAG_PARENT_KEY_SET = 0x04
DURABLE_V2_PERSISTENT = 0x02

_LEASE_V1 = struct.Struct("<16sIIQ")
_LEASE_V2 = struct.Struct("<16sIIQ16sHH")
_DH2Q_REQ = struct.Struct("<II8s16s")
_DH2C_REQ = struct.Struct("<16s16sI")


@dataclass(frozen=True, slots=True)
class LeaseRequest:
    """MS-SMB2 2.2.13.2.8 (v1, 32 bytes) and 2.2.13.2.10 (v2, 52 bytes) lease requests."""

    key: bytes
    state: int
    flags: int
    version: int
    parent_key: bytes = bytes(16)
    epoch: int = 0


def decode_lease(data: bytes) -> LeaseRequest | None:
    """None for a payload that is neither a v1 nor a v2 lease."""
    if len(data) >= _LEASE_V2.size:
        key, state, flags, _dur, parent, epoch, _r = _LEASE_V2.unpack_from(data)
        return LeaseRequest(key, state, flags, 2, parent, epoch)
    if len(data) >= _LEASE_V1.size:
        key, state, flags, _dur = _LEASE_V1.unpack_from(data)
        return LeaseRequest(key, state, flags, 1)
    return None


def encode_lease(version: int, key: bytes, state: int, flags: int, parent: bytes = bytes(16),
                 epoch: int = 0) -> bytes:
    """MS-SMB2 2.2.14.2.10 / 2.2.14.2.11 lease response."""
    if version == 2:
        return _LEASE_V2.pack(key, state, flags, 0, parent, epoch, 0)
    return _LEASE_V1.pack(key, state, flags, 0)


@dataclass(frozen=True, slots=True)
class DurableV2Request:
    """MS-SMB2 2.2.13.2.11 SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2."""

    timeout_ms: int
    flags: int
    create_guid: bytes

    @classmethod
    def decode(cls, data: bytes) -> "DurableV2Request | None":
        if len(data) < _DH2Q_REQ.size:
            return None
        timeout, flags, _res, guid = _DH2Q_REQ.unpack_from(data)
        return cls(timeout, flags, guid)


@dataclass(frozen=True, slots=True)
class DurableV2Reconnect:
    """MS-SMB2 2.2.13.2.12 SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2."""

    file_id: bytes
    create_guid: bytes
    flags: int

    @classmethod
    def decode(cls, data: bytes) -> "DurableV2Reconnect | None":
        if len(data) < _DH2C_REQ.size:
            return None
        fid, guid, flags = _DH2C_REQ.unpack_from(data)
        return cls(fid, guid, flags)


def encode_durable_v2_response(timeout_ms: int, flags: int) -> bytes:
    """MS-SMB2 2.2.14.2.12 SMB2_CREATE_DURABLE_HANDLE_RESPONSE_V2."""
    return struct.pack("<II", timeout_ms, flags)


DURABLE_V1_RESPONSE = bytes(8)  # MS-SMB2 2.2.14.2.3: Reserved
