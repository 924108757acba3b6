"""What srvsvc (MS-SRVS) and wkssvc (MS-WKST) enumerations share: NET_API_STATUS codes, info
structures described as field layouts, the ``*_ENUM_STRUCT`` containers, and paging.

Rules:
1. An information level is a ``Layout``: a tuple of field kinds, ``D`` (DWORD), ``S`` (a
   ``[string, unique] wchar_t*``) and ``B`` (``[size_is(previous DWORD)] unsigned char*``, the
   security descriptor of SHARE_INFO_502). One writer and one reader serve every level, so an
   entry is a plain tuple in IDL field order.
2. An enumeration's ``[in, out]`` ``*_ENUM_STRUCT`` (MS-SRVS 2.2.4.38 SHARE_ENUM_STRUCT,
   2.2.4.21 SESSION_ENUM_STRUCT, 2.2.4.5 CONNECT_ENUM_STRUCT, 2.2.4.9 FILE_ENUM_STRUCT; MS-WKST
   2.2.5.14 WKSTA_USER_ENUM_STRUCT) is ``Level``, the union's discriminant, then for a known
   level a unique pointer to ``{EntriesRead, [size_is(EntriesRead)] entries*}``. An unknown level
   carries no arm, as Samba's IDL (``[default];``) marshals it; MIDL clients never send one. A
   discriminant that differs from ``Level``, or a container whose array disagrees with its
   count, is malformed (fault nca_s_fault_ndr). Whatever entries a client sends are read,
   bounded, and ignored.
3. Paging (MS-SRVS 3.1.4.8 and the other enumerations): PreferedMaximumLength 0xFFFFFFFF
   returns everything; otherwise entries are returned while their size (4 bytes a field plus
   the UTF-16 strings with terminators, the way the NetApi buffers count) fits, and always at
   least one, so a client with a tiny buffer still advances. A partial answer is ERROR_MORE_DATA
   with the resume handle set to the index of the next entry; a complete one sets it to 0.
   TotalEntries counts the entries from the resume position on. A resume handle past the end of
   the list (one we never issued: rpcclient's wkssvc_enumerateusers sends an uninitialised one)
   starts the enumeration over.
4. Errors and denials echo the client's container with no entries (Level, discriminant, the
   container pointer as the client sent it, count 0, NULL array), TotalEntries 0 and the resume
   handle as sent: the [out] stub is always well formed. A "get info" operation's [out]
   ``[switch_is(Level)]`` union (SHARE_INFO, SERVER_INFO, WKSTA_INFO) is the discriminant and a
   unique pointer to the structure: NULL on an error or a denial, absent for an unknown level.
5. ``enum_operation``/``info_operation`` build the Operation: read the leading
   ``[string, unique] wchar_t*`` parameters (ServerName, which the server ignores, bounded but
   unchecked; the others strictly: terminated, no embedded NUL) and the level, ask the policy again with the level
   (``call.authorize(level=...)``), answer ERROR_INVALID_LEVEL for a level without a layout,
   else run the producer (entries, or a NET_API_STATUS error). Their ``deny`` reads the same
   parameters from a fresh reader and answers rule 4's empty stub with the denial's status.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ...status import MalformedMessage
from ..ndr import DEFAULT_STRING_LIMIT, NdrReader, NdrWriter
from ..pipe import CallContext, Operation

__all__ = [
    "B", "D", "S", "EnumRequest", "Layout", "Page", "entry_size", "enum_operation", "info_operation",
    "paginate", "read_enum_request", "read_enum_struct", "read_strings", "write_entry",
    "write_enum_reply", "write_enum_struct", "write_info_reply",
    "NERR_SUCCESS", "ERROR_ACCESS_DENIED", "ERROR_NOT_SUPPORTED", "ERROR_INVALID_PARAMETER",
    "ERROR_INVALID_LEVEL", "ERROR_MORE_DATA", "NERR_USER_NOT_FOUND", "NERR_NET_NAME_NOT_FOUND",
    "NERR_CLIENT_NAME_NOT_FOUND", "MAX_PREFERRED_LENGTH", "MAX_ENTRIES",
]

# NET_API_STATUS values (MS-ERREF 2.2; the NERR_ ones from lmerr.h as MS-SRVS lists them).
NERR_SUCCESS = 0
ERROR_ACCESS_DENIED = 5
ERROR_NOT_SUPPORTED = 50
ERROR_INVALID_PARAMETER = 87
ERROR_INVALID_LEVEL = 124
ERROR_MORE_DATA = 234
NERR_USER_NOT_FOUND = 2221
NERR_NET_NAME_NOT_FOUND = 2310
NERR_CLIENT_NAME_NOT_FOUND = 2312

MAX_PREFERRED_LENGTH = 0xFFFFFFFF
MAX_ENTRIES = 0x4000  # entries a client may send in an [in] container (they are ignored anyway)

D, S, B = "D", "S", "B"
Layout = tuple[str, ...]


# -- one entry ------------------------------------------------------------------------------------

def write_entry(w: NdrWriter, layout: Layout, entry: Sequence[Any]) -> None:
    """One info structure (inside an array: its strings follow the array, depth-first)."""
    with w.struct():
        for kind, value in zip(layout, entry, strict=True):
            if kind == D:
                w.u32(value & 0xFFFFFFFF)
            elif kind == S:
                w.unique(value, NdrWriter.wstr)
            else:
                w.unique(value or None, NdrWriter.conformant_bytes)


def _read_entry(layout: Layout) -> Callable[[NdrReader], tuple[Any, ...]]:
    def read(r: NdrReader) -> tuple[Any, ...]:
        with r.struct():
            out: list[Any] = []
            for kind in layout:
                if kind == D:
                    out.append(r.u32())
                elif kind == S:
                    out.append(r.embedded_unique(NdrReader.wstr))
                else:
                    out.append(r.embedded_unique(NdrReader.conformant_bytes))
            return tuple(out)
    return read


def entry_size(layout: Layout, entry: Sequence[Any]) -> int:
    """What the entry costs against PreferedMaximumLength (rule 3)."""
    size = 4 * len(layout)
    for kind, value in zip(layout, entry):
        if kind == S and value is not None:
            size += 2 * (len(value) + 1)
        elif kind == B and value:
            size += len(value)
    return size


# -- the *_ENUM_STRUCT container ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EnumRequest:
    """The [in] InfoStruct and the paging parameters of an enumeration."""

    level: int
    container: bool  # the client's container pointer was not NULL
    prefmax: int
    resume: int | None  # None: the client passed a NULL ResumeHandle


def read_enum_struct(r: NdrReader, layouts: dict[int, Layout]) -> tuple[int, bool]:
    """The [in] ``*_ENUM_STRUCT`` (a top-level [ref] pointee): (level, container present)."""
    with r.struct():
        level = r.u32()
        tag = r.u32()
        if tag != level:
            raise MalformedMessage(f"enum struct: union discriminant {tag} for level {level}")
        layout = layouts.get(level)
        cell = r.embedded_unique(_read_container(layout)) if layout is not None else None
    return level, cell is not None and cell.value is not None


def _read_container(layout: Layout) -> Callable[[NdrReader], int]:
    def read(r: NdrReader) -> int:
        with r.struct():
            count = r.u32()
            array = r.embedded_unique(
                lambda r: r.conformant_array(_read_entry(layout), limit=MAX_ENTRIES, min_size=4 * len(layout)))
        entries = array.value
        if entries is not None and len(entries) != count:
            raise MalformedMessage(f"enum container: {len(entries)} entries for a count of {count}")
        return count
    return read


def read_enum_request(r: NdrReader, layouts: dict[int, Layout]) -> EnumRequest:
    """InfoStruct, PreferedMaximumLength and ResumeHandle, in this order (every enumeration)."""
    level, container = read_enum_struct(r, layouts)
    prefmax = r.u32()
    resume = r.unique(NdrReader.u32)
    return EnumRequest(level, container, prefmax, resume)


def write_enum_struct(w: NdrWriter, level: int, layout: Layout | None, entries: Sequence[Sequence[Any]] | None,
                      ) -> None:
    """The [out] ``*_ENUM_STRUCT``; ``entries`` None: a NULL container pointer; ``layout`` None:
    an unknown level, written without an arm (rule 2)."""

    def array(w: NdrWriter, items: Sequence[Sequence[Any]]) -> None:
        w.conformant_array(items, lambda w, e: write_entry(w, layout, e))  # type: ignore[arg-type]

    def container(w: NdrWriter, items: Sequence[Sequence[Any]]) -> None:
        with w.struct():
            w.u32(len(items))
            w.unique(items or None, array)

    with w.struct():
        w.u32(level)
        w.u32(level)
        if layout is not None:
            w.unique(entries, container)


def write_enum_reply(req: EnumRequest, layout: Layout | None, page: "Page | None", status: int) -> bytes:
    """InfoStruct, TotalEntries, ResumeHandle and the status. ``page`` None: an error or a
    denial (rule 4)."""
    w = NdrWriter()
    if page is None:
        write_enum_struct(w, req.level, layout, [] if req.container else None)
        w.u32(0)
        w.unique(req.resume, NdrWriter.u32)
    else:
        write_enum_struct(w, req.level, layout, page.items)
        w.u32(page.total)
        w.unique(None if req.resume is None else page.resume, NdrWriter.u32)
    w.u32(status)
    return w.getvalue()


# -- paging ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Page:
    items: list[Sequence[Any]]
    total: int  # entries from the resume position on
    resume: int  # the next index, or 0 when the enumeration is complete
    status: int  # NERR_SUCCESS or ERROR_MORE_DATA


def paginate(entries: Sequence[Sequence[Any]], layout: Layout, prefmax: int, resume: int | None) -> Page:
    """Rule 3."""
    start = resume or 0
    if start >= len(entries):
        start = 0
    rest = entries[start:]
    if prefmax == MAX_PREFERRED_LENGTH:
        taken = len(rest)
    else:
        taken, used = 0, 0
        for entry in rest:
            used += entry_size(layout, entry)
            if taken and used > prefmax:
                break
            taken += 1
    items = list(rest[:taken])
    if taken < len(rest):
        return Page(items, len(rest), start + taken, ERROR_MORE_DATA)
    return Page(items, len(rest), 0, NERR_SUCCESS)


# -- operations -------------------------------------------------------------------------------------

def _server_name(r: NdrReader) -> str:
    """ServerName, which the server MUST ignore (MS-SRVS 3.1.4, MS-WKST 3.2.4): read bounded but
    unchecked, since clients send odd ones (impacket's wkssvc helpers: ten NULs)."""
    max_count, offset, actual = r.u32(), r.u32(), r.u32()
    if offset != 0 or actual > max_count or actual > DEFAULT_STRING_LIMIT:
        raise MalformedMessage(f"ServerName: offset {offset}, {actual} of {max_count} units")
    r.raw(2 * actual)
    return ""


def read_strings(r: NdrReader, count: int) -> list[str | None]:
    """``count`` leading ``[in, string, unique] wchar_t*`` parameters: ServerName (ignored, and
    returned as "") then the ones the operation uses, read strictly."""
    out: list[str | None] = [r.unique(_server_name)] if count else []
    out += [r.unique(NdrReader.wstr) for _ in range(count - 1)]
    return out


EnumProducer = Callable[..., "Sequence[Sequence[Any]] | int"]


def enum_operation(name: str, layouts: dict[int, Layout], strings: int, produce: EnumProducer) -> Operation:
    """An enumeration (rule 5): ``produce(call, level, *strings[1:])`` returns the entries in
    ``layouts[level]`` form, or a NET_API_STATUS error."""

    def read(r: NdrReader) -> tuple[list[str | None], EnumRequest]:
        args = read_strings(r, strings)
        return args, read_enum_request(r, layouts)

    def handler(call: CallContext, r: NdrReader) -> bytes:
        args, req = read(r)
        call.authorize(level=req.level)
        layout = layouts.get(req.level)
        if layout is None:
            call.status, call.returned = ERROR_INVALID_LEVEL, 0
            return write_enum_reply(req, None, None, ERROR_INVALID_LEVEL)
        result = produce(call, req.level, *args[1:])
        if isinstance(result, int):
            call.status, call.returned = result, 0
            return write_enum_reply(req, layout, None, result)
        page = paginate(result, layout, req.prefmax, req.resume)
        call.status, call.returned = page.status, len(page.items)
        return write_enum_reply(req, layout, page, page.status)

    def deny(call: CallContext, r: NdrReader, status: int) -> bytes:
        _args, req = read(r)
        return write_enum_reply(req, layouts.get(req.level), None, status)

    return Operation(name, handler, deny)


def write_info_reply(level: int, layout: Layout | None, entry: Sequence[Any] | None, status: int) -> bytes:
    """The [out] union of a "get info" operation and the status (rule 4)."""
    w = NdrWriter()
    w.u32(level)
    if layout is not None:
        w.unique(entry, lambda w, e: write_entry(w, layout, e))
    w.u32(status)
    return w.getvalue()


InfoProducer = Callable[..., "Sequence[Any] | int"]


def info_operation(name: str, layouts: dict[int, Layout], strings: int, produce: InfoProducer, *,
                   ref_string: bool = False) -> Operation:
    """A "get info" operation (rule 5): ``strings`` unique strings (ServerName ...), then, with
    ``ref_string``, one ``[in, string] wchar_t*`` (NetrShareGetInfo's NetName), then Level.
    ``produce(call, level, *strings[1:], [name])`` returns the entry or an error status."""

    def read(r: NdrReader) -> tuple[list[str | None], int]:
        args: list[str | None] = read_strings(r, strings)
        if ref_string:
            args.append(r.ref(NdrReader.wstr))
        return args, r.u32()

    def handler(call: CallContext, r: NdrReader) -> bytes:
        args, level = read(r)
        call.authorize(level=level)
        layout = layouts.get(level)
        if layout is None:
            call.status, call.returned = ERROR_INVALID_LEVEL, 0
            return write_info_reply(level, None, None, ERROR_INVALID_LEVEL)
        result = produce(call, level, *args[1:])
        if isinstance(result, int):
            call.status, call.returned = result, 0
            return write_info_reply(level, layout, None, result)
        call.status, call.returned = NERR_SUCCESS, 1
        return write_info_reply(level, layout, result, NERR_SUCCESS)

    def deny(call: CallContext, r: NdrReader, status: int) -> bytes:
        _args, level = read(r)
        return write_info_reply(level, layouts.get(level), None, status)

    return Operation(name, handler, deny)
