"""NDR forms of the lsarpc structures the lsarpc handlers read and write (MS-LSAD 2.2, MS-LSAT
2.2, MS-DTYP 2.3.10 RPC_UNICODE_STRING, 2.4.2.3 RPC_SID).

Rules:
1. A reader consumes its structure completely, pointees included, in NDR order, so that the
   parameters after it are read from the right offset. Fields the specifications tell the server
   to ignore are read and dropped: ObjectAttributes (MS-LSAD 3.1.4.4.1, except RootDirectory),
   the [in] halves of TranslatedNames/TranslatedSids (MS-LSAT 3.1.4.5, 3.1.4.9).
2. Every count is bounded by the IDL's [range] (MS-LSAT 2.2.18: 20480 SIDs; 3.1.4.5: 1000 names;
   2.2.15/2.2.20: the [in] translated arrays) and by the bytes left in the stub (``min_size``);
   a conformance that disagrees with its count (``size_is(Entries)``) is malformed, as is any
   read past the stub: MalformedMessage, which the pipe answers with nca_s_fault_ndr.
3. Values that unmarshal but are invalid for the method (a NULL SID pointer, a SID whose revision
   is not 1, an RPC_UNICODE_STRING with an odd Length) are reported to the handler, which answers
   STATUS_INVALID_PARAMETER (MS-LSAT 3.1.4.5, 3.1.4.9; MS-DTYP 2.3.10, 2.4.2).
4. A structure aligns to its widest member (C706 14.3.7.1): the translated-name and translated-SID
   structures start with a 2-byte enum but hold 4-byte members, so they are aligned to 4 before
   each one, and RPC_UNICODE_STRING (which holds a pointer) is aligned to 4 as well.
5. Writers take plain values (str, Sid, int); None is a NULL pointer. Domain names in
   ReferencedDomains are written as lsa_StringLarge (MaximumLength = Length + 2), translated
   names as lsa_String (MaximumLength = Length), as Windows and Samba send them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...status import MalformedMessage
from ..ndr import Deferred, NdrReader, NdrWriter, Sid

__all__ = [
    "MAX_LOOKUP_NAMES", "MAX_LOOKUP_SIDS", "ReadString", "read_names", "read_object_attributes",
    "read_sid_enum_buffer", "skip_translated_names", "skip_translated_sids", "write_account_sids",
    "write_ref_domains", "write_translated_names", "write_translated_sids", "write_unicode_string",
]

MAX_LOOKUP_SIDS = 20480  # MS-LSAT 2.2.18 LSAPR_SID_ENUM_BUFFER [range(0,20480)] (<9>: 0x5000)
MAX_LOOKUP_NAMES = 1000  # MS-LSAT 3.1.4.5-3.1.4.8 Count [range(0,1000)]
MAX_TRANSLATED_SIDS = 1000  # MS-LSAT 2.2.15, 2.2.24, 2.2.26 [range(0,1000)]
MAX_TRANSLATED_NAMES = 20480  # MS-LSAT 2.2.20, 2.2.22 [range(0,20480)]
REF_DOMAIN_MAX_ENTRIES = 32  # MaxEntries: ignored by clients (MS-LSAT 2.2.12); Samba sends 32
_BYTES_LIMIT = 0xFFFF


# -- readers ----------------------------------------------------------------------------------------

def _skip_varying_bytes(r: NdrReader, *, unit: int = 1) -> None:
    """A conformant varying array of ``unit``-byte elements: max_count, offset, actual, data."""
    max_count, offset, actual = r.u32(), r.u32(), r.u32()
    if max_count > _BYTES_LIMIT or offset != 0 or actual > max_count:
        raise MalformedMessage(f"NDR: varying array {max_count}/{offset}/{actual}")
    r.raw(actual * unit)


def _read_string(r: NdrReader) -> None:
    """STRING (MS-LSAD 2.2.3.1): Length, MaximumLength, [size_is, length_is] char* Buffer."""
    with r.struct():
        r.u16()
        r.u16()
        r.embedded_unique(_skip_varying_bytes)


def _read_acl(r: NdrReader) -> None:
    """LSAPR_ACL (MS-LSAD 2.2.3.2): a conformant structure, its max_count first."""
    size = r.u32()
    if size > _BYTES_LIMIT:
        raise MalformedMessage(f"NDR: ACL of {size} bytes")
    r.u8()
    r.u8()
    r.u16()
    r.raw(size)


def _read_security_descriptor(r: NdrReader) -> None:
    """LSAPR_SECURITY_DESCRIPTOR (MS-LSAD 2.2.3.4)."""
    with r.struct():
        r.u8()
        r.u8()
        r.u16()
        r.embedded_unique(NdrReader.sid)
        r.embedded_unique(NdrReader.sid)
        r.embedded_unique(_read_acl)
        r.embedded_unique(_read_acl)


def _read_qos(r: NdrReader) -> None:
    """SECURITY_QUALITY_OF_SERVICE (MS-LSAD 2.2.3.7)."""
    r.u32()
    r.enum16()
    r.u8()
    r.u8()


def read_object_attributes(r: NdrReader) -> bool:
    """LSAPR_OBJECT_ATTRIBUTES (MS-LSAD 2.2.2.4), a top-level [in] pointer (no wire form); True
    when RootDirectory is non-NULL (which MS-LSAD 3.1.4.4.1 forbids)."""
    with r.struct():
        r.u32()  # Length: ignored
        root = r.embedded_unique(NdrReader.u8)
        r.embedded_unique(_read_string)
        r.u32()  # Attributes
        r.embedded_unique(_read_security_descriptor)
        r.embedded_unique(_read_qos)
    return root.value is not None


@dataclass(frozen=True, slots=True)
class ReadString:
    """An RPC_UNICODE_STRING as received: its text (None for a NULL Buffer) and whether it obeys
    MS-DTYP 2.3.10 (even Length and MaximumLength)."""

    text: str | None
    valid: bool


def _ustr_body(r: NdrReader, length: int, size: int) -> str:
    max_count, offset, actual = r.u32(), r.u32(), r.u32()
    if max_count != size // 2 or offset != 0 or actual != length // 2:
        raise MalformedMessage(f"NDR: RPC_UNICODE_STRING buffer {max_count}/{offset}/{actual} "
                               f"for Length {length}, MaximumLength {size}")
    return r.raw(2 * actual).decode("utf-16-le", "surrogatepass")


def _ustr_head(r: NdrReader) -> tuple[Deferred[str | None], bool]:
    """An embedded RPC_UNICODE_STRING: its Buffer (filled in when the construct ends) and whether
    Length and MaximumLength are valid (rule 3)."""
    r.align(4)
    length, size = r.u16(), r.u16()
    if length > size:
        raise MalformedMessage(f"NDR: RPC_UNICODE_STRING Length {length} > MaximumLength {size}")
    cell = r.embedded_unique(lambda r: _ustr_body(r, length, size))
    if cell.ready and length:  # a NULL Buffer with a Length
        raise MalformedMessage(f"NDR: RPC_UNICODE_STRING of {length} bytes without a Buffer")
    return cell, length % 2 == 0 and size % 2 == 0


def read_names(r: NdrReader, count: int) -> list[ReadString]:
    """``[in, size_is(Count)] PRPC_UNICODE_STRING Names`` (MS-LSAT 3.1.4.5): a top-level
    conformant array of RPC_UNICODE_STRING whose max_count must equal ``count``."""
    heads = r.conformant_array(_ustr_head, limit=MAX_LOOKUP_NAMES, min_size=8)
    if len(heads) != count:
        raise MalformedMessage(f"NDR: {len(heads)} names for Count {count}")
    return [ReadString(cell.value, valid) for cell, valid in heads]


def read_sid_enum_buffer(r: NdrReader) -> list[Sid | None] | None:
    """LSAPR_SID_ENUM_BUFFER (MS-LSAT 2.2.18), a top-level [in] pointer: the SIDs (None for a
    NULL SID pointer), or None when SidInfo is NULL although Entries is not 0 (2.2.18: SidInfo
    is ignored when Entries is 0)."""
    with r.struct():
        entries = r.u32()
        info = r.embedded_unique(lambda r: r.conformant_array(
            lambda r: r.embedded_unique(NdrReader.sid), limit=MAX_LOOKUP_SIDS, min_size=4))
    if entries > MAX_LOOKUP_SIDS:
        raise MalformedMessage(f"NDR: {entries} SIDs beyond [range(0,{MAX_LOOKUP_SIDS})]")
    cells = info.value
    if cells is None:
        return [] if entries == 0 else None
    if len(cells) != entries:
        raise MalformedMessage(f"NDR: {len(cells)} SIDs for Entries {entries}")
    return [c.value for c in cells]


def _skip_translated_name(r: NdrReader, ex: bool) -> None:
    r.align(4)
    r.enum16()
    _ustr_head(r)
    r.i32()
    if ex:
        r.u32()


def skip_translated_names(r: NdrReader, *, ex: bool) -> None:
    """The [in] LSAPR_TRANSLATED_NAMES(_EX) (MS-LSAT 2.2.20, 2.2.22): read and ignored."""
    with r.struct():
        entries = r.u32()
        r.embedded_unique(lambda r: r.conformant_array(lambda r: _skip_translated_name(r, ex),
                                                       limit=MAX_TRANSLATED_NAMES, min_size=16))
    if entries > MAX_TRANSLATED_NAMES:
        raise MalformedMessage(f"NDR: {entries} translated names")


def _skip_translated_sid(r: NdrReader, form: str) -> None:
    r.align(4)
    r.enum16()
    if form == "ex2":
        r.embedded_unique(NdrReader.sid)
    else:
        r.u32()  # RelativeId
    r.i32()
    if form != "sid":
        r.u32()  # Flags


def skip_translated_sids(r: NdrReader, *, form: str) -> None:
    """The [in] LSAPR_TRANSLATED_SIDS / _EX / _EX2 (MS-LSAT 2.2.15, 2.2.24, 2.2.26): ignored."""
    with r.struct():
        entries = r.u32()
        r.embedded_unique(lambda r: r.conformant_array(lambda r: _skip_translated_sid(r, form),
                                                       limit=MAX_TRANSLATED_SIDS, min_size=12))
    if entries > MAX_TRANSLATED_SIDS:
        raise MalformedMessage(f"NDR: {entries} translated SIDs")


# -- writers ----------------------------------------------------------------------------------------

def write_unicode_string(w: NdrWriter, text: str | None, *, large: bool = False) -> None:
    """An RPC_UNICODE_STRING aligned to 4 (rule 4); ``large``: MaximumLength = Length + 2."""
    w.align(4)
    if text is None or not large:
        w.unicode_string(text)
    else:
        w.unicode_string(text, max_bytes=len(text.encode("utf-16-le", "surrogatepass")) + 2)


def _trust_information(w: NdrWriter, domain: tuple[str, Sid]) -> None:
    """LSAPR_TRUST_INFORMATION (MS-LSAD 2.2.7.1): Name, PRPC_SID Sid."""
    with w.struct():
        write_unicode_string(w, domain[0], large=True)
        w.unique(domain[1], NdrWriter.sid)


def write_ref_domains(w: NdrWriter, domains: Sequence[tuple[str, Sid]] | None) -> None:
    """``[out] PLSAPR_REFERENCED_DOMAIN_LIST* ReferencedDomains`` (MS-LSAT 2.2.12)."""
    def body(w: NdrWriter, doms: Sequence[tuple[str, Sid]]) -> None:
        with w.struct():
            w.u32(len(doms))
            w.unique(doms or None, lambda w, d: w.conformant_array(d, _trust_information))
            w.u32(REF_DOMAIN_MAX_ENTRIES if doms else 0)
    w.unique(domains, body)


def write_translated_names(w: NdrWriter, items: Sequence[tuple[int, str, int]], *, ex: bool) -> None:
    """LSAPR_TRANSLATED_NAMES(_EX) (MS-LSAT 2.2.20, 2.2.22): (Use, Name, DomainIndex) items;
    Flags (EX) are 0: every translation here is a plain match in a local view."""
    def item(w: NdrWriter, it: tuple[int, str, int]) -> None:
        w.align(4)
        w.enum16(it[0])
        write_unicode_string(w, it[1])
        w.i32(it[2])
        if ex:
            w.u32(0)

    with w.struct():
        w.u32(len(items))
        w.unique(items or None, lambda w, its: w.conformant_array(its, item))


def write_translated_sids(w: NdrWriter, items: Sequence[tuple[int, Sid | None, int, int]], *,
                          form: str) -> None:
    """LSAPR_TRANSLATED_SIDS ("sid"), _EX ("ex"), _EX2 ("ex2") (MS-LSAT 2.2.15, 2.2.24, 2.2.26):
    (Use, Sid, DomainIndex, RelativeId) items; Flags are 0."""
    def item(w: NdrWriter, it: tuple[int, Sid | None, int, int]) -> None:
        w.align(4)
        w.enum16(it[0])
        if form == "ex2":
            w.unique(it[1], NdrWriter.sid)
        else:
            w.u32(it[3])
        w.i32(it[2])
        if form != "sid":
            w.u32(0)

    with w.struct():
        w.u32(len(items))
        w.unique(items or None, lambda w, its: w.conformant_array(its, item))


def write_account_sids(w: NdrWriter, sids: Sequence[Sid]) -> None:
    """LSAPR_ACCOUNT_ENUM_BUFFER (MS-LSAD 2.2.5.2): EntriesRead, LSAPR_ACCOUNT_INFORMATION
    (a PRPC_SID each) array."""
    with w.struct():
        w.u32(len(sids))
        w.unique(sids or None, lambda w, s: w.conformant_array(s, lambda w, sid: w.unique(sid, NdrWriter.sid)))
