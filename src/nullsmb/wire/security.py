"""Security descriptors (MS-DTYP 2.4.6, self-relative), ACLs (2.4.5), ACEs (2.4.4) and SIDs
(2.4.2) as bytes.

Rules:
1. ``decode_sd`` checks every offset and size against the buffer (MalformedMessage otherwise)
   and returns the owner, group and DACL as raw bytes; a SACL is ignored.
2. Encoders write the self-relative form: the header, then owner, group and DACL, each
   4-byte aligned, with SE_SELF_RELATIVE set.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..status import MalformedMessage

__all__ = ["Ace", "SecurityDescriptor", "decode_sd", "encode_acl", "encode_sd", "sid_bytes"]

OWNER_SECURITY_INFORMATION = 0x01
GROUP_SECURITY_INFORMATION = 0x02
DACL_SECURITY_INFORMATION = 0x04
SACL_SECURITY_INFORMATION = 0x08
SE_DACL_PRESENT = 0x0004
SE_DACL_AUTO_INHERITED = 0x0400
SE_DACL_PROTECTED = 0x1000
SE_SELF_RELATIVE = 0x8000
ACCESS_ALLOWED_ACE_TYPE = 0x00
ACCESS_DENIED_ACE_TYPE = 0x01
OBJECT_INHERIT_ACE = 0x01
CONTAINER_INHERIT_ACE = 0x02

_SD = struct.Struct("<BBHIIII")
_ACL = struct.Struct("<BBHHH")
_ACE = struct.Struct("<BBHI")


def sid_bytes(text: str) -> bytes:
    """MS-DTYP 2.4.2.2 binary SID of ``S-1-5-32-544``; ValueError when it is not a SID."""
    parts = text.strip().split("-")
    if len(parts) < 3 or parts[0].upper() != "S" or len(parts) - 3 > 15:
        raise ValueError(f"not a SID: {text!r}")
    revision, authority = int(parts[1]), int(parts[2], 0)
    subs = [int(p) for p in parts[3:]]
    return (struct.pack("<BB", revision, len(subs)) + authority.to_bytes(6, "big")
            + b"".join(struct.pack("<I", s) for s in subs))


def sid_text(raw: bytes) -> str:
    if len(raw) < 8:
        raise MalformedMessage("short SID")
    revision, count = raw[0], raw[1]
    if len(raw) < 8 + 4 * count:
        raise MalformedMessage("truncated SID")
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack_from(f"<{count}I", raw, 8)
    return "-".join(["S", str(revision), str(authority), *map(str, subs)])


@dataclass(frozen=True, slots=True)
class Ace:
    """MS-DTYP 2.4.4.2/2.4.4.4 ACCESS_ALLOWED_ACE / ACCESS_DENIED_ACE."""

    ace_type: int
    flags: int
    mask: int
    sid: bytes

    def encode(self) -> bytes:
        return _ACE.pack(self.ace_type, self.flags, _ACE.size + len(self.sid), self.mask) + self.sid


def encode_acl(aces: list[Ace]) -> bytes:
    """MS-DTYP 2.4.5 ACL (revision 2)."""
    body = b"".join(a.encode() for a in aces)
    return _ACL.pack(2, 0, _ACL.size + len(body), len(aces), 0) + body


@dataclass(frozen=True, slots=True)
class SecurityDescriptor:
    control: int
    owner: bytes | None
    group: bytes | None
    dacl: bytes | None


def encode_sd(sd: SecurityDescriptor) -> bytes:
    out = bytearray(_SD.size)
    offsets = []
    for part in (sd.owner, sd.group, sd.dacl):
        if part is None:
            offsets.append(0)
            continue
        out += bytes(-len(out) % 4)
        offsets.append(len(out))
        out += part
    control = sd.control | SE_SELF_RELATIVE | (SE_DACL_PRESENT if sd.dacl is not None else 0)
    _SD.pack_into(out, 0, 1, 0, control, offsets[0], offsets[1], 0, offsets[2])
    return bytes(out)


def _sid_at(data: bytes, off: int) -> bytes:
    if off + 8 > len(data):
        raise MalformedMessage("SID beyond the descriptor")
    size = 8 + 4 * data[off + 1]
    if data[off + 1] > 15 or off + size > len(data):
        raise MalformedMessage("SID beyond the descriptor")
    return bytes(data[off:off + size])


def _acl_at(data: bytes, off: int) -> bytes:
    if off + _ACL.size > len(data):
        raise MalformedMessage("ACL beyond the descriptor")
    _rev, _s1, size, count, _s2 = _ACL.unpack_from(data, off)
    if size < _ACL.size or off + size > len(data):
        raise MalformedMessage("ACL beyond the descriptor")
    pos, end = off + _ACL.size, off + size
    for _ in range(count):
        if pos + _ACE.size > end:
            raise MalformedMessage("ACE beyond the ACL")
        ace_size = _ACE.unpack_from(data, pos)[2]
        if ace_size < _ACE.size or pos + ace_size > end:
            raise MalformedMessage("ACE beyond the ACL")
        pos += ace_size
    return bytes(data[off:end])


def decode_sd(data: bytes) -> SecurityDescriptor:
    """Rule 1."""
    if len(data) < _SD.size:
        raise MalformedMessage("short security descriptor")
    revision, _sbz, control, o_owner, o_group, _o_sacl, o_dacl = _SD.unpack_from(data)
    if revision != 1:
        raise MalformedMessage("security descriptor revision")
    return SecurityDescriptor(
        control,
        _sid_at(data, o_owner) if o_owner else None,
        _sid_at(data, o_group) if o_group else None,
        _acl_at(data, o_dacl) if o_dacl and control & SE_DACL_PRESENT else None,
    )
