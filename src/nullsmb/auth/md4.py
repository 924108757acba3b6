"""Pure-Python MD4 (RFC 1320) and the NT one-way function (MS-NLMP 3.3.1 NTOWFv1).

Rules:
1. OpenSSL 3 moved MD4 to the legacy provider, so ``hashlib.new("md4")`` is unreliable;
   this module is the one MD4 nullsmb uses.
2. Speed does not matter: MD4 runs once per password, never per message.
3. ``nt_hash`` encodes with ``surrogatepass`` so any Windows password (lone surrogates
   included) hashes as Windows would.
"""

from __future__ import annotations

import struct

__all__ = ["md4", "nt_hash"]

_MASK = 0xFFFFFFFF
_BLOCK = struct.Struct("<16I")
_LENGTH = struct.Struct("<Q")
_DIGEST = struct.Struct("<4I")

# RFC 1320 3.4: the word order and shift amounts of rounds 2 and 3.
_ROUND2_ORDER = (0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)
_ROUND3_ORDER = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)
_SHIFTS = ((3, 7, 11, 19), (3, 5, 9, 13), (3, 9, 11, 15))


def _rotl(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & _MASK


def _compress(state: tuple[int, int, int, int], block: bytes) -> tuple[int, int, int, int]:
    """One RFC 1320 3.4 block step over 16 little-endian words."""
    x = _BLOCK.unpack(block)
    a, b, c, d = state
    for i in range(16):  # round 1: F(b, c, d) = (b & c) | (~b & d)
        f = (b & c) | (~b & d)
        a, b, c, d = d, _rotl((a + f + x[i]) & _MASK, _SHIFTS[0][i % 4]), b, c
    for i in range(16):  # round 2: G = majority, constant sqrt(2)
        g = (b & c) | (b & d) | (c & d)
        a, b, c, d = d, _rotl((a + g + x[_ROUND2_ORDER[i]] + 0x5A827999) & _MASK, _SHIFTS[1][i % 4]), b, c
    for i in range(16):  # round 3: H = parity, constant sqrt(3)
        h = b ^ c ^ d
        a, b, c, d = d, _rotl((a + h + x[_ROUND3_ORDER[i]] + 0x6ED9EBA1) & _MASK, _SHIFTS[2][i % 4]), b, c
    s0, s1, s2, s3 = state
    return ((s0 + a) & _MASK, (s1 + b) & _MASK, (s2 + c) & _MASK, (s3 + d) & _MASK)


def md4(data: bytes) -> bytes:
    """The 16-byte MD4 digest of ``data`` (RFC 1320 3.1-3.5)."""
    data = bytes(data)
    # RFC 1320 3.1/3.2: append 0x80, zero-pad to 56 mod 64, then the bit length (mod 2**64).
    padding = b"\x80" + b"\x00" * ((55 - len(data)) % 64)
    message = data + padding + _LENGTH.pack((len(data) * 8) & 0xFFFFFFFFFFFFFFFF)
    state = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476)
    for off in range(0, len(message), 64):
        state = _compress(state, message[off : off + 64])
    return _DIGEST.pack(*state)


def nt_hash(password: str) -> bytes:
    """NTOWFv1 (MS-NLMP 3.3.1): MD4 of the UTF-16LE password, the "NT hash"."""
    return md4(password.encode("utf-16-le", "surrogatepass"))
