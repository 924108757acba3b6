"""Small NDR helpers shared by the typed RPC call modules (client.srvsvc, wkssvc, lsa, samr).

Rules:
1. Readers of structures with embedded pointers return *thunks*: ``elem(r)`` reads the flat
   part and returns ``lambda: Value(...)``, to be called once the enclosing construct (and so
   every deferred pointee, rpc.ndr rule 3) has been read. ``array_of`` and ``struct_of`` do
   the calling.
2. A structure is aligned to its largest member before its first one (C706 14.2.2, 14.3.7): an
   RPC_UNICODE_STRING is 4-aligned as a whole, so ``ustr``/``put_ustr`` align to 4 first; a
   structure that starts with a 16-bit member is aligned by its reader.
3. ``net_enum`` runs the srvsvc/wkssvc enumerations: it follows ERROR_MORE_DATA with the
   resume handle, requires entries and a moved handle on every round, and bounds rounds and
   entries (a server whose handle does not advance cannot make it loop).
4. Everything the server sends is bounded by the reader (``limit``/``min_size``); a count that
   disagrees with the array it describes is ``MalformedMessage``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from ..rpc.ndr import Deferred, NdrReader, NdrWriter, Sid
from ..status import MalformedMessage
from .rpc import NTSTATUS, WERROR, RpcConnection, RpcProtocolError, RpcStatusError

T = TypeVar("T")
Thunk = Callable[[], T]

MAX_PREFERRED_LENGTH = 0xFFFFFFFF  # MS-SRVS 2.2.2.2 / MS-SAMR: "as much as you have"
MAX_ENTRIES = 0x10000  # entries one enumeration may return in all its rounds
MAX_ROUNDS = 256  # calls one enumeration may make
ERROR_MORE_DATA = 234


def wstr_ptr(r: NdrReader) -> Deferred[str | None]:
    """An embedded [string, unique] wchar_t* (its pointee follows the construct)."""
    return r.embedded_unique(NdrReader.wstr)


def ustr(r: NdrReader) -> Deferred[str | None]:
    """An embedded RPC_UNICODE_STRING (MS-DTYP 2.3.10), 4-aligned as a structure."""
    r.align(4)
    return r.embedded_unicode_string()


def top_ustr(r: NdrReader) -> str | None:
    """A top-level RPC_UNICODE_STRING (a [ref] parameter or a pointee)."""
    r.align(4)
    return r.unicode_string()


def put_ustr(w: NdrWriter, text: str | None) -> None:
    w.align(4)
    w.unicode_string(text)


def sid_ptr(r: NdrReader) -> Deferred[Sid | None]:
    """An embedded PRPC_SID."""
    return r.embedded_unique(NdrReader.sid)


def struct_of(elem: Callable[[NdrReader], Thunk[T]]) -> Callable[[NdrReader], T]:
    """A pointee that is one structure with embedded pointers."""
    def read(r: NdrReader) -> T:
        with r.struct():
            thunk = elem(r)
        return thunk()
    return read


def array_of(elem: Callable[[NdrReader], Thunk[T]], *, limit: int, min_size: int) -> Callable[[NdrReader], list[T]]:
    """A pointee that is a conformant array of structures (``[size_is(n)] T* p``)."""
    def read(r: NdrReader) -> list[T]:
        thunks = r.conformant_array(elem, limit=limit, min_size=min_size)
        return [t() for t in thunks]
    return read


def counted(r: NdrReader, elem: Callable[[NdrReader], Thunk[T]], *, limit: int, min_size: int) -> Thunk[list[T]]:
    """``{ DWORD count; [size_is(count)] T* items; }`` inside an open construct: the count,
    then the unique pointer to the array; the thunk checks that they agree."""
    count = r.u32()
    cell = r.embedded_unique(array_of(elem, limit=limit, min_size=min_size))

    def value() -> list[T]:
        items = cell.value or []
        if len(items) != count:
            raise MalformedMessage(f"NDR: count {count} for an array of {len(items)}")
        return items
    return value


def container(elem: Callable[[NdrReader], Thunk[T]], *, limit: int, min_size: int) -> Callable[[NdrReader], list[T]]:
    """The pointee ``{ count; [size_is(count)] T* items; }`` (SHARE_INFO_1_CONTAINER ...)."""
    def read(r: NdrReader) -> list[T]:
        with r.struct():
            thunk = counted(r, elem, limit=limit, min_size=min_size)
        return thunk()
    return read


def u32_array(r: NdrReader, *, limit: int) -> Thunk[list[int]]:
    """``{ count; [size_is(count)] unsigned long* Element; }`` (SAMPR_ULONG_ARRAY) in a construct."""
    return counted(r, _u32_thunk, limit=limit, min_size=4)


def _u32_thunk(r: NdrReader) -> Thunk[int]:
    value = r.u32()
    return lambda: value


def check(status: int, operation: str, kind: str = NTSTATUS, ok: tuple[int, ...] = (0,)) -> int:
    """``status`` if it is one of ``ok``, else ``RpcStatusError``."""
    if status not in ok:
        raise RpcStatusError(status, kind, operation)
    return status


# -- the NET_API_STATUS enumerations and GetInfo calls of srvsvc and wkssvc -----------------------------

def net_enum_request(server: str | None, level: int, preferred: int, resume: int | None,
                     filters: Sequence[str | None] = ()) -> bytes:
    """[in] ServerName, filters..., the XXX_ENUM_STRUCT with an empty container, preferred
    maximum length, resume handle: the shape shared by every srvsvc/wkssvc enumeration."""
    w = NdrWriter()
    w.unique(server, NdrWriter.wstr)
    for f in filters:
        w.unique(f, NdrWriter.wstr)
    with w.struct():
        w.u32(level)
        w.u32(level)  # the union's discriminant
        w.unique(0, lambda w, _: (w.u32(0), w.u32(0)))  # container: EntriesRead 0, Buffer NULL
    w.u32(preferred)
    w.unique(resume, NdrWriter.u32)
    return w.getvalue()


def net_enum_reply(level: int, elem_for: Callable[[int], Callable[[NdrReader], Thunk[object]]],
                   sizes: Mapping[int, int], what: str) -> Callable[[NdrReader], tuple[list, int, int | None, int, int]]:
    """[out] the XXX_ENUM_STRUCT, TotalEntries, ResumeHandle, NET_API_STATUS; and the level the
    server answered at: the one asked for, or another one we can read (``sizes``: level → the
    fewest bytes an entry takes), since impacket's smbserver answers NetrShareEnum at level 1
    whatever the request says."""
    def decode(r: NdrReader) -> tuple[list, int, int | None, int, int]:
        with r.struct():
            got_level, arm = r.u32(), r.u32()
            if got_level != arm or got_level not in sizes:
                raise MalformedMessage(f"{what}: level {got_level}, union arm {arm} for level {level}")
            cell = r.embedded_unique(container(elem_for(got_level), limit=MAX_ENTRIES, min_size=sizes[got_level]))
        total = r.u32()
        resume = r.unique(NdrReader.u32)
        status = r.u32()
        return cell.value or [], total, resume, status, got_level
    return decode


async def net_enum(rpc: RpcConnection, opnum: int, operation: str, level: int,
                   elem_for: Callable[[int], Callable[[NdrReader], Thunk[object]]], sizes: Mapping[int, int], *,
                   server: str | None, filters: Sequence[str | None] = (), preferred: int,
                   max_rounds: int) -> tuple[list, int, int, int]:
    """Call an enumeration until it stops answering ERROR_MORE_DATA (rule 3): (items, the last
    TotalEntries, rounds, the level the server answered at). A failing status raises
    ``RpcStatusError``."""
    if level not in sizes:
        raise ValueError(f"{operation}: level {level} is not one of {sorted(sizes)}")
    items: list = []
    resume: int | None = 0
    total = 0
    decode = net_enum_reply(level, elem_for, sizes, operation)
    for rounds in range(1, max_rounds + 1):
        got, total, new_resume, status, got_level = await rpc.request(
            opnum, net_enum_request(server, level, preferred, resume, filters), decode, operation=operation)
        items += got
        if len(items) > MAX_ENTRIES:
            raise RpcProtocolError(f"{operation}: more than {MAX_ENTRIES} entries")
        if status != ERROR_MORE_DATA:
            check(status, operation, WERROR)
            return items, total, rounds, got_level
        if not got or new_resume is None or new_resume == resume:
            raise RpcProtocolError(f"{operation}: ERROR_MORE_DATA without progress (resume handle {new_resume})")
        resume = new_resume
    raise RpcProtocolError(f"{operation}: still ERROR_MORE_DATA after {max_rounds} calls")


def info_reply(level: int, arms: dict[int, Callable[[NdrReader], Thunk[object]]],
               what: str) -> Callable[[NdrReader], tuple[object | None, int]]:
    """[out, switch_is(Level)] LPXXX_INFO (a union of unique pointers), NET_API_STATUS; an arm
    other than ``level`` is read when ``arms`` has it (the value's own level tells)."""
    def decode(r: NdrReader) -> tuple[object | None, int]:
        arm = r.u32()
        if arm != level and arm not in arms:
            raise MalformedMessage(f"{what}: union arm {arm} for level {level}")
        value = r.unique(struct_of(arms[arm])) if arm in arms else None
        return value, r.u32()
    return decode

