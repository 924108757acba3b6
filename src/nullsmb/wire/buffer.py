"""Bounds-checked Reader and Writer over bytes, the base of every codec.

Rules:
1. Every read checks ``0 <= off`` and ``off + n <= len`` and raises ``MalformedMessage``: a
   memoryview slice would silently truncate instead.
2. ``view()`` is zero-copy, so WRITE payloads reach the backend without a second copy.
3. UTF-16 names decode with ``surrogatepass`` (Windows names may hold lone surrogates); an odd
   length is malformed.
4. Offsets in SMB2 bodies are from the start of the SMB2 header; a Reader is built over one
   message (header included) so offsets are used as they come off the wire.
"""

from __future__ import annotations

import struct
from typing import Any

from ..status import MalformedMessage

__all__ = ["Reader", "Writer", "expect_structure_size"]


class Reader:
    """Random-access, bounds-checked view of one message."""

    __slots__ = ("buf", "size")

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.buf = memoryview(data)
        self.size = len(self.buf)

    def check(self, off: int, n: int) -> None:
        if off < 0 or n < 0 or off + n > self.size:
            raise MalformedMessage(f"field at {off}+{n} beyond message of {self.size} bytes")

    def unpack(self, st: struct.Struct, off: int) -> tuple[Any, ...]:
        self.check(off, st.size)
        return st.unpack_from(self.buf, off)

    def view(self, off: int, n: int) -> memoryview:
        self.check(off, n)
        return self.buf[off : off + n]

    def bytes(self, off: int, n: int) -> bytes:
        return bytes(self.view(off, n))

    def utf16(self, off: int, n: int) -> str:
        if n == 0:
            return ""
        if n % 2:
            raise MalformedMessage("odd UTF-16 length")
        return str(self.view(off, n), "utf-16-le", "surrogatepass")

    def u8(self, off: int) -> int:
        self.check(off, 1)
        return self.buf[off]

    def u16(self, off: int) -> int:
        return self.unpack(_U16, off)[0]

    def u32(self, off: int) -> int:
        return self.unpack(_U32, off)[0]

    def u64(self, off: int) -> int:
        return self.unpack(_U64, off)[0]


_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class Writer:
    """Append-only builder with reserve/back-patch and alignment."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def __len__(self) -> int:
        return len(self.buf)

    def pack(self, st: struct.Struct, *values: Any) -> int:
        off = len(self.buf)
        self.buf += st.pack(*values)
        return off

    def reserve(self, st: struct.Struct) -> int:
        off = len(self.buf)
        self.buf += bytes(st.size)
        return off

    def patch(self, st: struct.Struct, off: int, *values: Any) -> None:
        st.pack_into(self.buf, off, *values)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        off = len(self.buf)
        self.buf += data
        return off

    def utf16(self, text: str) -> int:
        return self.write(text.encode("utf-16-le", "surrogatepass"))

    def align(self, n: int = 8) -> None:
        pad = -len(self.buf) % n
        if pad:
            self.buf += bytes(pad)

    def getvalue(self) -> bytes:
        return bytes(self.buf)


def expect_structure_size(actual: int, expected: int) -> None:
    """MS-SMB2 3.3.5.2.6: a StructureSize other than the command's is malformed."""
    if actual != expected:
        raise MalformedMessage(f"StructureSize {actual}, expected {expected}")


def utf16(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")
