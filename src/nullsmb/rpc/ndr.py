"""NDR20 marshalling (C706 ch. 14; MS-RPCE 2.2.4): ``NdrWriter`` and ``NdrReader`` of our own.

Only the transfer syntax nullsmb accepts: NDR 2.0, little-endian integers, ASCII characters,
IEEE floats (drep 10 00 00 00). NDR64 is refused at bind time (``rpc.pdu``).

Rules:
1. Every primitive is aligned to its size (u16 → 2, u32 → 4, hyper → 8) relative to the start
   of the stub (C706 14.2.2). Padding is written as zeros and skipped unread (MS-RPCE
   3.1.1.5.3.2.2.6 "Ignoring Alignment Gap").
2. Every malformed input raises ``MalformedMessage``: reads beyond the stub, counts that
   disagree (offset, actual_count > max_count, a string without its terminator), sizes beyond
   a limit or beyond the bytes that remain. Counts are checked against the remaining bytes
   *before* anything is built, so ``max_count = 0xFFFFFFFF`` costs nothing. ``IndexError``,
   ``struct.error``, ``UnicodeDecodeError`` and ``MemoryError`` never escape.
3. Pointers (C706 14.3.10-12). A top-level [ref] pointer has no wire form; a [unique] or full
   one is a 4-byte referent id (0 = NULL) whose pointee follows at once. Pointers *embedded*
   in a construct (a structure or an array) defer their pointees until the end of the
   outermost construct, in order, each pointee marshalled in full (with its own deferred
   pointees) before the next one: depth-first, as MIDL and pidl do. Embedded [ref] pointers
   carry a non-zero referent id.
4. A construct is opened by ``with w.struct():`` (or ``r.struct()``) and by the array
   methods. Inside one, pointers are *embedded*; outside (a top-level parameter, or a pointee
   being marshalled) they are *top-level*. Constructs nested in a construct share its queue.
   A structure with embedded pointers must therefore be written/read inside ``struct()``
   unless its only pointer is its last member.
5. The writer hides the difference (``w.unique`` queues or writes at once). The reader cannot
   return a pointee it has not read yet, so an embedded pointer read returns a ``Deferred``
   cell, filled in when the construct ends: ``r.unique`` outside a construct,
   ``r.embedded_unique`` inside one; mixing them up raises ``NdrUsageError`` at once.

API (``w = NdrWriter()``, ``r = NdrReader(stub)``):

  primitives   w.u8/u16/u32/u64/i16/i32/i64/hyper/boolean/enum16/enum32(v); r.u8() ...
               w.old_large_integer(v) / r.old_large_integer(): OLD_LARGE_INTEGER (two longs,
               4-aligned; MS-DTYP 2.3.12), not hyper. ``enum16``: a plain NDR enum is a 16-bit
               short on the wire (C706 14.2.11); ``enum32`` is MIDL's [v1_enum].
               w.align(n), w.raw(b) / r.align(n), r.raw(n), r.offset, r.remaining
  pointers     w.unique(v, fn)  w.full(v, fn)  w.ref(v, fn)      fn(w, v) writes the pointee;
               v None is NULL (so "" and 0 are not)
               r.unique(fn) -> T | None   r.full(fn)   r.ref(fn) -> T        (top level)
               r.embedded_unique(fn) / embedded_full(fn) / embedded_ref(fn) -> Deferred[T]
               r.ptr() -> the raw referent id (4-aligned u32)
  constructs   with w.struct(): ...   with r.struct(): ...
  arrays       w.conformant_array(items, fn)        r.conformant_array(fn, limit=..., min_size=1)
               (``min_size``: the fewest bytes one element takes, to refuse early a count the
               stub cannot hold; ``limit``: the IDL's [range], else DEFAULT_ARRAY_LIMIT)
               w.conformant_varying_array(items, fn, max_count=None)
               r.conformant_varying_array(fn, limit=...)
               w.varying_array(items, fn) / r.varying_array(fn, limit=...)
               w.conformant_bytes(b) / r.conformant_bytes(limit=...)
  strings      w.wstr(s) / r.wstr(limit=...): [string] wchar_t* pointee (conformant varying,
               NUL-terminated UTF-16LE, surrogatepass). Use as ``w.unique(name, NdrWriter.wstr)``.
               w.unicode_string(s, max_bytes=None): RPC_UNICODE_STRING (MS-DTYP 2.3.10):
               Length, MaximumLength, pointer to a varying array of Length/2 wchars, no NUL.
               None is a NULL Buffer; "" a non-NULL empty one. Reader: r.unicode_string()
               (top level) / r.embedded_unicode_string() -> Deferred[str | None].
  others       w.handle(h20) / r.handle(): a context (policy) handle, 20 bytes (MS-DTYP 2.2.23)
               w.guid(u) / r.guid(); w.sid(sid) / r.sid(): RPC_SID (MS-DTYP 2.4.2.3);
               Sid, sid_from_str("S-1-5-21-..."), sid_to_str(sid)
  output       w.getvalue() -> bytes
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..status import MalformedMessage

__all__ = [
    "Deferred", "NdrReader", "NdrUsageError", "NdrWriter", "Sid", "sid_from_str", "sid_to_str",
    "DEFAULT_ARRAY_LIMIT", "DEFAULT_STRING_LIMIT", "HARD_LIMIT", "HANDLE_SIZE", "NULL_HANDLE",
]

T = TypeVar("T")
V = TypeVar("V")

DEFAULT_ARRAY_LIMIT = 0x10000  # elements, when the IDL gives no [range]
DEFAULT_STRING_LIMIT = 0x8000  # UTF-16 units: UNICODE_STRING's 0xFFFF bytes
HARD_LIMIT = 1 << 22  # no count is ever accepted beyond this, whatever ``limit`` says
HANDLE_SIZE = 20
NULL_HANDLE = bytes(HANDLE_SIZE)
FIRST_REFERENT = 0x00020000  # MIDL's and pidl's first referent id; +4 per non-NULL pointer
SID_MAX_SUB_AUTHORITIES = 15  # MS-DTYP 2.4.2.3 [range(0,15)]

_U16, _U32, _U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_I16, _I32, _I64 = struct.Struct("<h"), struct.Struct("<i"), struct.Struct("<q")


class NdrUsageError(RuntimeError):
    """Interface code used the reader wrongly (a programming error, not the peer's)."""


class Deferred(Generic[T]):
    """The pointee of an embedded pointer, known once the enclosing construct is read."""

    __slots__ = ("_value", "_ready")

    def __init__(self) -> None:
        self._ready = False
        self._value: Any = None

    def _set(self, value: T) -> None:
        self._value, self._ready = value, True

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def value(self) -> T:
        if not self._ready:
            raise NdrUsageError("pointee not read yet: use .value after the enclosing construct")
        return self._value  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"Deferred({self._value!r})" if self._ready else "Deferred(<pending>)"


# -- SIDs (MS-DTYP 2.4.2) ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Sid:
    """A security identifier: revision, 48-bit identifier authority, sub-authorities."""

    revision: int
    authority: int
    sub_authorities: tuple[int, ...]

    def __str__(self) -> str:
        """MS-DTYP 2.4.2.1 string form; authorities of 2**32 and above in hex."""
        auth = str(self.authority) if self.authority < 1 << 32 else f"0x{self.authority:012X}"
        return "-".join(["S", str(self.revision), auth, *map(str, self.sub_authorities)])

    @classmethod
    def parse(cls, text: str) -> "Sid":
        """The SID spelled ``text`` ("S-1-5-32-544"); ValueError if it is not one."""
        parts = text.strip().split("-")
        if len(parts) < 3 or parts[0].upper() != "S" or len(parts) - 3 > SID_MAX_SUB_AUTHORITIES:
            raise ValueError(f"not a SID: {text!r}")
        try:
            revision = int(parts[1], 10)
            authority = int(parts[2], 16) if parts[2][:2].lower() == "0x" else int(parts[2], 10)
            subs = tuple(int(p, 10) for p in parts[3:])
        except ValueError:
            raise ValueError(f"not a SID: {text!r}") from None
        if not 0 <= revision < 256 or not 0 <= authority < 1 << 48 or any(not 0 <= s < 1 << 32 for s in subs):
            raise ValueError(f"SID field out of range: {text!r}")
        return cls(revision, authority, subs)

    @property
    def rid(self) -> int:
        """The last sub-authority (the relative identifier of an account SID)."""
        if not self.sub_authorities:
            raise ValueError(f"{self} has no RID")
        return self.sub_authorities[-1]

    def child(self, rid: int) -> "Sid":
        """This (domain) SID with ``rid`` appended."""
        return Sid(self.revision, self.authority, (*self.sub_authorities, rid))

    def parent(self) -> "Sid":
        return Sid(self.revision, self.authority, self.sub_authorities[:-1])

    def to_bytes(self) -> bytes:
        """The packed form of MS-DTYP 2.4.2.2 (security descriptors, not NDR)."""
        return (bytes((self.revision, len(self.sub_authorities))) + self.authority.to_bytes(6, "big")
                + b"".join(_U32.pack(s) for s in self.sub_authorities))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Sid":
        if len(data) < 8 or data[1] > SID_MAX_SUB_AUTHORITIES or len(data) != 8 + 4 * data[1]:
            raise MalformedMessage("bad packed SID")
        subs = struct.unpack_from(f"<{data[1]}I", data, 8)
        return cls(data[0], int.from_bytes(data[2:8], "big"), tuple(subs))


def sid_from_str(text: str) -> Sid:
    return Sid.parse(text)


def sid_to_str(sid: Sid) -> str:
    return str(sid)


# -- writer --------------------------------------------------------------------------------------

def _writes(st: struct.Struct) -> Callable[["NdrWriter", int], None]:
    def write(self: NdrWriter, v: int) -> None:
        self._pack(st, v)
    return write


def _reads(st: struct.Struct) -> Callable[["NdrReader"], int]:
    def read(self: NdrReader) -> int:
        return self._unpack(st)
    return read


class NdrWriter:
    """Builds one stub (C706 14). See the module docstring for the rules and the API."""

    __slots__ = ("buf", "_queue", "_next_ref")

    def __init__(self, *, referent_base: int = FIRST_REFERENT) -> None:
        self.buf = bytearray()
        self._queue: list[Callable[[], None]] | None = None  # open construct's deferred pointees
        self._next_ref = referent_base

    def getvalue(self) -> bytes:
        if self._queue is not None:
            raise NdrUsageError("getvalue() inside an open construct")
        return bytes(self.buf)

    def __len__(self) -> int:
        return len(self.buf)

    # primitives
    def align(self, n: int) -> None:
        pad = -len(self.buf) % n
        if pad:
            self.buf += bytes(pad)

    def raw(self, data: bytes | bytearray | memoryview) -> None:
        self.buf += data

    def u8(self, v: int) -> None:
        self.buf.append(v)

    def boolean(self, v: bool) -> None:
        self.buf.append(1 if v else 0)

    def _pack(self, st: struct.Struct, v: int) -> None:
        self.align(st.size)
        self.buf += st.pack(v)

    u16, u32, u64 = (_writes(_U16), _writes(_U32), _writes(_U64))
    i16, i32, i64 = (_writes(_I16), _writes(_I32), _writes(_I64))
    hyper = u64
    enum16 = u16
    enum32 = u32

    def old_large_integer(self, v: int) -> None:
        self.u32(v & 0xFFFFFFFF)
        self.i32(v >> 32)

    # constructs and pointers
    @contextmanager
    def struct(self) -> Iterator[None]:
        """A construct: the pointees of its embedded pointers follow its end."""
        if self._queue is not None:
            yield  # nested: the outer construct defers for us
            return
        self._queue = queue = []
        try:
            yield
        finally:
            self._queue = None
        for write_pointee in queue:
            write_pointee()

    def _pointer(self, value: V | None, fn: Callable[[NdrWriter, V], Any], *, ref: bool) -> None:
        if value is None:
            if ref:
                raise NdrUsageError("a [ref] pointer cannot be NULL")
            self.u32(0)
            return
        if ref and self._queue is None:
            fn(self, value)  # top-level [ref]: no referent id, the pointee in place
            return
        self.u32(self._next_ref)
        self._next_ref += 4
        if self._queue is None:
            fn(self, value)
        else:
            self._queue.append(lambda: fn(self, value))

    def unique(self, value: V | None, fn: Callable[[NdrWriter, V], Any]) -> None:
        """A [unique] pointer to ``value`` (None = NULL); ``fn(w, value)`` writes the pointee."""
        self._pointer(value, fn, ref=False)

    def full(self, value: V | None, fn: Callable[[NdrWriter, V], Any]) -> None:
        """A full ([ptr]) pointer; written without aliasing, which is always valid."""
        self._pointer(value, fn, ref=False)

    def ref(self, value: V, fn: Callable[[NdrWriter, V], Any]) -> None:
        """A [ref] pointer: no wire form at top level, a referent id when embedded."""
        self._pointer(value, fn, ref=True)

    # arrays
    def conformant_array(self, items: Sequence[V], fn: Callable[[NdrWriter, V], Any]) -> None:
        """[size_is(n)] T a[]: max_count, then the elements (a construct)."""
        self.u32(len(items))
        self._elements(items, fn)

    def conformant_varying_array(self, items: Sequence[V], fn: Callable[[NdrWriter, V], Any], *,
                                 max_count: int | None = None) -> None:
        """[size_is(m), length_is(n)] T a[]: max_count, offset 0, actual_count, elements."""
        if max_count is not None and max_count < len(items):
            raise NdrUsageError("max_count below the element count")
        self.u32(len(items) if max_count is None else max_count)
        self.varying_array(items, fn)

    def varying_array(self, items: Sequence[V], fn: Callable[[NdrWriter, V], Any]) -> None:
        """[length_is(n)] T a[N]: offset 0, actual_count, elements."""
        self.u32(0)
        self.u32(len(items))
        self._elements(items, fn)

    def _elements(self, items: Iterable[V], fn: Callable[[NdrWriter, V], Any]) -> None:
        with self.struct():
            for item in items:
                fn(self, item)

    def conformant_bytes(self, data: bytes) -> None:
        self.u32(len(data))
        self.buf += data

    # strings
    def wstr(self, text: str) -> None:
        """A [string] wchar_t* pointee: conformant varying, NUL-terminated (C706 14.3.4)."""
        data = text.encode("utf-16-le", "surrogatepass") + b"\0\0"
        n = len(data) // 2
        self.u32(n)
        self.u32(0)
        self.u32(n)
        self.buf += data

    def unicode_string(self, text: str | None, *, max_bytes: int | None = None) -> None:
        """RPC_UNICODE_STRING (MS-DTYP 2.3.10); None writes a NULL Buffer."""
        data = b"" if text is None else text.encode("utf-16-le", "surrogatepass")
        size = len(data) if max_bytes is None else max_bytes
        if size < len(data) or size > 0xFFFF or size % 2:
            raise NdrUsageError(f"RPC_UNICODE_STRING of {len(data)} bytes, MaximumLength {size}")
        self.align(4)  # the structure aligns to its largest member, the pointer (C706 14.3.7.2)
        with self.struct():
            self.u16(len(data))
            self.u16(size)
            self.unique(None if text is None else data, lambda w, d: w._ustr_body(d, size))

    def _ustr_body(self, data: bytes, size: int) -> None:
        self.u32(size // 2)
        self.u32(0)
        self.u32(len(data) // 2)
        self.buf += data

    # well-known structures
    def handle(self, h: bytes) -> None:
        if len(h) != HANDLE_SIZE:
            raise NdrUsageError(f"a context handle is {HANDLE_SIZE} bytes, not {len(h)}")
        self.align(4)
        self.buf += h

    def guid(self, u: uuid.UUID) -> None:
        self.align(4)
        self.buf += u.bytes_le

    def sid(self, sid: Sid | str) -> None:
        """RPC_SID: a conformant structure, so max_count comes first (C706 14.3.7.2)."""
        if isinstance(sid, str):
            sid = Sid.parse(sid)
        self.u32(len(sid.sub_authorities))
        self.buf += sid.to_bytes()


# -- reader --------------------------------------------------------------------------------------

class NdrReader:
    """Reads one stub, bounds-checked (see the module docstring)."""

    __slots__ = ("buf", "pos", "_queue", "_full")

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.buf = bytes(data)
        self.pos = 0
        self._queue: list[Callable[[], None]] | None = None
        self._full: dict[int, Deferred[Any]] = {}

    @property
    def offset(self) -> int:
        return self.pos

    @property
    def remaining(self) -> int:
        return len(self.buf) - self.pos

    def _need(self, n: int) -> None:
        if n < 0 or n > len(self.buf) - self.pos:
            raise MalformedMessage(f"NDR: {n} bytes wanted at {self.pos} of a {len(self.buf)}-byte stub")

    # primitives
    def align(self, n: int) -> None:
        pad = -self.pos % n
        self._need(pad)
        self.pos += pad

    def raw(self, n: int) -> bytes:
        self._need(n)
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        self._need(1)
        self.pos += 1
        return self.buf[self.pos - 1]

    def boolean(self) -> bool:
        return self.u8() != 0

    def _unpack(self, st: struct.Struct) -> int:
        self.align(st.size)
        self._need(st.size)
        (v,) = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return v  # type: ignore[no-any-return]

    u16, u32, u64 = (_reads(_U16), _reads(_U32), _reads(_U64))
    i16, i32, i64 = (_reads(_I16), _reads(_I32), _reads(_I64))
    hyper = u64
    enum16 = u16
    enum32 = u32

    def old_large_integer(self) -> int:
        low = self.u32()
        return (self.i32() << 32) | low

    # constructs and pointers
    @contextmanager
    def struct(self) -> Iterator[None]:
        if self._queue is not None:
            yield
            return
        self._queue = queue = []
        try:
            yield
        finally:
            self._queue = None
        for read_pointee in queue:
            read_pointee()

    def ptr(self) -> int:
        """A referent id (0 for NULL)."""
        return self.u32()

    def _top(self, what: str) -> None:
        if self._queue is not None:
            raise NdrUsageError(f"{what}() inside a construct: use embedded_{what}()")

    def _inside(self, what: str) -> list[Callable[[], None]]:
        if self._queue is None:
            raise NdrUsageError(f"embedded_{what}() outside a construct: use {what}()")
        return self._queue

    def unique(self, fn: Callable[[NdrReader], T]) -> T | None:
        """A top-level [unique] pointer: the pointee (read by ``fn``) or None."""
        self._top("unique")
        return fn(self) if self.ptr() else None

    def ref(self, fn: Callable[[NdrReader], T]) -> T:
        """A top-level [ref] pointer: no referent id on the wire."""
        self._top("ref")
        return fn(self)

    def full(self, fn: Callable[[NdrReader], T]) -> T | None:
        """A top-level full pointer; a referent id seen before aliases its pointee."""
        self._top("full")
        refid = self.ptr()
        if not refid:
            return None
        if refid in self._full:
            cell = self._full[refid]
            if not cell.ready:
                raise MalformedMessage("NDR: full pointer aliases a pointee not yet read")
            return cell.value  # type: ignore[no-any-return]
        cell = self._full[refid] = Deferred()
        cell._set(fn(self))
        return cell.value  # type: ignore[no-any-return]

    def _defer(self, cell: Deferred[Any], fn: Callable[[NdrReader], Any], queue: list[Callable[[], None]]) -> None:
        queue.append(lambda: cell._set(fn(self)))

    def embedded_unique(self, fn: Callable[[NdrReader], T]) -> Deferred[T | None]:
        queue = self._inside("unique")
        cell: Deferred[T | None] = Deferred()
        if self.ptr():
            self._defer(cell, fn, queue)
        else:
            cell._set(None)
        return cell

    def embedded_ref(self, fn: Callable[[NdrReader], T]) -> Deferred[T]:
        queue = self._inside("ref")
        if not self.ptr():
            raise MalformedMessage("NDR: NULL [ref] pointer")
        cell: Deferred[T] = Deferred()
        self._defer(cell, fn, queue)
        return cell

    def embedded_full(self, fn: Callable[[NdrReader], T]) -> Deferred[T | None]:
        queue = self._inside("full")
        refid = self.ptr()
        if refid in self._full:
            return self._full[refid]
        cell: Deferred[T | None] = Deferred()
        if refid:
            self._full[refid] = cell
            self._defer(cell, fn, queue)
        else:
            cell._set(None)
        return cell

    # arrays
    def _count(self, n: int, limit: int, min_size: int, what: str) -> int:
        if n > min(limit, HARD_LIMIT):
            raise MalformedMessage(f"NDR: {what} of {n} elements beyond the limit of {min(limit, HARD_LIMIT)}")
        if n * min_size > self.remaining:
            raise MalformedMessage(f"NDR: {what} of {n} elements in {self.remaining} bytes")
        return n

    def conformant_array(self, fn: Callable[[NdrReader], T], *, limit: int = DEFAULT_ARRAY_LIMIT,
                         min_size: int = 1) -> list[T]:
        """[size_is(n)] T a[]; ``min_size``: the fewest bytes one element occupies."""
        n = self._count(self.u32(), limit, min_size, "conformant array")
        return self._elements(n, fn)

    def conformant_varying_array(self, fn: Callable[[NdrReader], T], *, limit: int = DEFAULT_ARRAY_LIMIT,
                                 min_size: int = 1) -> list[T]:
        """[size_is(m), length_is(n)] T a[]: the n transmitted elements (offset must be 0)."""
        max_count = self._count(self.u32(), limit, 0, "conformant varying array")
        return self._varying(fn, max_count, min_size)

    def varying_array(self, fn: Callable[[NdrReader], T], *, limit: int = DEFAULT_ARRAY_LIMIT,
                      min_size: int = 1) -> list[T]:
        """[length_is(n)] T a[N] with N = ``limit``."""
        return self._varying(fn, min(limit, HARD_LIMIT), min_size)

    def _varying(self, fn: Callable[[NdrReader], T], max_count: int, min_size: int) -> list[T]:
        offset, actual = self.u32(), self.u32()
        if offset != 0 or actual > max_count:
            raise MalformedMessage(f"NDR: varying array offset {offset}, {actual} of {max_count}")
        return self._elements(self._count(actual, max_count, min_size, "varying array"), fn)

    def _elements(self, n: int, fn: Callable[[NdrReader], T]) -> list[T]:
        with self.struct():
            return [fn(self) for _ in range(n)]

    def conformant_bytes(self, *, limit: int = 0x10000) -> bytes:
        return self.raw(self._count(self.u32(), limit, 1, "byte array"))

    # strings
    def _utf16(self, n: int) -> str:
        try:
            return self.raw(2 * n).decode("utf-16-le", "surrogatepass")
        except UnicodeDecodeError:  # unreachable for even lengths; kept as the boundary
            raise MalformedMessage("NDR: bad UTF-16") from None

    def wstr(self, *, limit: int = DEFAULT_STRING_LIMIT) -> str:
        """A [string] wchar_t* pointee; the terminator is checked and stripped. An embedded
        NUL is refused: a name "alice\\0x" must not compare as two different things."""
        max_count = self._count(self.u32(), HARD_LIMIT, 0, "string")
        offset, actual = self.u32(), self.u32()
        if offset != 0 or not 1 <= actual <= max_count:
            raise MalformedMessage(f"NDR: string offset {offset}, {actual} of {max_count} units")
        text = self._utf16(self._count(actual, limit + 1, 2, "string"))
        if text[-1] != "\0" or "\0" in text[:-1]:
            raise MalformedMessage("NDR: string without its terminator, or with an embedded NUL")
        return text[:-1]

    def _ustr_body(self, length: int, size: int) -> str:
        max_count, offset, actual = self.u32(), self.u32(), self.u32()
        if max_count != size // 2 or offset != 0 or actual != length // 2:
            raise MalformedMessage(f"NDR: UNICODE_STRING buffer {max_count}/{offset}/{actual} "
                                   f"for Length {length}, MaximumLength {size}")
        return self._utf16(self._count(actual, DEFAULT_STRING_LIMIT, 2, "UNICODE_STRING"))

    def _ustr_head(self) -> tuple[int, int, int]:
        self.align(4)  # the structure aligns to its pointer member (C706 14.3.7.2)
        length, size, refid = self.u16(), self.u16(), self.u32()
        if length > size or (refid == 0 and length):
            raise MalformedMessage(f"NDR: UNICODE_STRING Length {length}, MaximumLength {size}, ptr {refid:#x}")
        return length, size, refid

    def unicode_string(self) -> str | None:
        """A top-level RPC_UNICODE_STRING (MS-DTYP 2.3.10); None for a NULL Buffer."""
        self._top("unicode_string")
        length, size, refid = self._ustr_head()
        return self._ustr_body(length, size) if refid else None

    def embedded_unicode_string(self) -> Deferred[str | None]:
        queue = self._inside("unicode_string")
        length, size, refid = self._ustr_head()
        cell: Deferred[str | None] = Deferred()
        if refid:
            self._defer(cell, lambda r: r._ustr_body(length, size), queue)
        else:
            cell._set(None)
        return cell

    # well-known structures
    def handle(self) -> bytes:
        self.align(4)
        return self.raw(HANDLE_SIZE)

    def guid(self) -> uuid.UUID:
        self.align(4)
        return uuid.UUID(bytes_le=self.raw(16))

    def sid(self) -> Sid:
        """RPC_SID: max_count must equal SubAuthorityCount, at most 15 (MS-DTYP 2.4.2.3)."""
        max_count = self.u32()
        revision, count = self.u8(), self.u8()
        if count > SID_MAX_SUB_AUTHORITIES or max_count != count:
            raise MalformedMessage(f"NDR: RPC_SID with {count} sub-authorities, max_count {max_count}")
        authority = int.from_bytes(self.raw(6), "big")
        self._need(4 * count)
        subs = struct.unpack_from(f"<{count}I", self.buf, self.pos)
        self.pos += 4 * count
        return Sid(revision, authority, tuple(subs))
