"""NDR20 reader/writer (rpc/ndr.py): golden stubs captured from rpcclient against Samba 4.17
(shared/captures/rpcclient-null-srvinfo-shares-users-lsa.pcapng), round trips, truncation at
every offset, hostile counts, and the h11-style invariant: any bytes decode or raise
MalformedMessage, nothing else."""

from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nullsmb.rpc.ndr import (
    HARD_LIMIT,
    NdrReader,
    NdrUsageError,
    NdrWriter,
    Sid,
    sid_from_str,
    sid_to_str,
)
from nullsmb.status import MalformedMessage

H = bytes.fromhex
ANCHOR = "ANCHORSAMBA"
DOMAIN_SID = "S-1-5-21-3068813907-1347329181-1856495549"

# -- golden stubs (stub data of the request/response PDUs, frame numbers of the capture) ---------

# frame 18: srvsvc NetrServerGetInfo(ServerName="\\127.0.0.1", Level=101)
SRV_GETINFO_REQ = H("000002000c000000000000000c0000005c005c003100320037002e0030002e0030002e003100000065000000")
# frame 19: its response, SERVER_INFO_101
SRV_GETINFO_RSP = H(
    "65000000" "04000200"  # Level 101 (union discriminant), pointer to SERVER_INFO_101
    "f4010000" "08000200" "06000000" "01000000" "039a8000" "0c000200"  # platform, *name, 6.1, type, *comment
    "0c000000" "00000000" "0c000000" "41004e00430048004f005200530041004d00420041000000"  # "ANCHORSAMBA"
    "15000000" "00000000" "15000000"
    "530061006d0062006100200034002e00310037002e00310032002d00440065006200690061006e000000"  # "Samba 4.17.12-Debian"
    "0000" "00000000")  # alignment, WERROR 0
# frame 26: srvsvc NetrShareEnum(ServerName="127.0.0.1", Level 1, PreferedMaximumLength -1)
SHARE_ENUM_REQ = H(
    "00000200" "0a000000" "00000000" "0a000000" "3100320037002e0030002e0030002e0031000000"
    "01000000" "01000000" "04000200"  # Level, union switch, pointer to SHARE_INFO_1_CONTAINER
    "00000000" "00000000"  # EntriesRead 0, Buffer NULL
    "ffffffff" "00000000")  # PreferedMaximumLength, ResumeHandle NULL
# frame 27: its response, two SHARE_INFO_1
SHARE_ENUM_RSP = H(
    "01000000" "01000000" "08000200"
    "02000000" "0c000200"  # EntriesRead, Buffer
    "02000000"  # max_count
    "10000200" "00000000" "14000200"  # public: *netname, STYPE_DISKTREE, *remark
    "18000200" "03000080" "1c000200"  # IPC$: *netname, STYPE_IPC|STYPE_SPECIAL, *remark
    "07000000" "00000000" "07000000" "7000750062006c00690063000000" "0000"
    "01000000" "00000000" "01000000" "0000" "0000"
    "05000000" "00000000" "05000000" "4900500043002400" "0000" "0000"
    "23000000" "00000000" "23000000"
    "4900500043002000530065007200760069006300650020002800530061006d0062006100200034002e00310037002e00"
    "310032002d00440065006200690061006e0029000000" "0000"
    "02000000" "00000000" "00000000")  # TotalEntries, ResumeHandle NULL, WERROR 0
# frame 37: samr SamrEnumerateDomainsInSamServer response
ENUM_DOMAINS_RSP = H(
    "00000000" "00000200"  # EnumerationContext, *Buffer
    "02000000" "04000200" "02000000"  # EntriesRead, *Buffer, max_count
    "00000000" "1600" "1600" "08000200"  # RelativeId 0, Name
    "01000000" "0e00" "0e00" "0c000200"  # RelativeId 1, Name
    "0b000000" "00000000" "0b000000" "41004e00430048004f005200530041004d0042004100" "0000"
    "07000000" "00000000" "07000000" "4200750069006c00740069006e00" "0000"
    "02000000" "00000000")  # CountReturned, STATUS_SUCCESS
SAMR_HANDLE = H("000000003591b20eda12834db439711679415ceb")
# frame 38: SamrLookupDomainInSamServer(handle, "ANCHORSAMBA")
LOOKUP_DOMAIN_REQ = SAMR_HANDLE + H(
    "1600" "1600" "00000200" "0b000000" "00000000" "0b000000" "41004e00430048004f005200530041004d0042004100")
# frame 39: its response, a SID
LOOKUP_DOMAIN_RSP = H("04000200" "04000000" "01" "04" "000000000005" "15000000" "5362eab6" "9d9c4e50" "bddfa76e"
                      "00000000")
LSA_HANDLE = H("0000000071931c63abe32a4698c491813da433a1")
# frame 78: lsarpc LsarOpenPolicy (a structure whose embedded pointee follows it)
OPEN_POLICY_REQ = H(
    "00000200" "5c00" "0000"  # SystemName: a unique pointer to one wchar_t '\\'
    "18000000" "00000000" "00000000" "00000000" "00000000" "04000200"  # LSAPR_OBJECT_ATTRIBUTES
    "0c000000" "0200" "01" "00"  # the deferred SECURITY_QUALITY_OF_SERVICE
    "00000002")  # DesiredAccess MAXIMUM_ALLOWED
# frame 92: LsarLookupNames(handle, ["alice"], level 1)
LOOKUP_NAMES_REQ = LSA_HANDLE + H(
    "01000000" "01000000" "0a000a00" "00000200"  # Count, max_count, RPC_UNICODE_STRING
    "05000000" "00000000" "05000000" "61006c00690063006500" "0000"
    "00000000" "00000000" "0100" "0000" "00000000")  # TranslatedSids {0, NULL}, LookupLevel, MappedCount
# frame 93: its response
LOOKUP_NAMES_RSP = H(
    "04000200" "01000000" "08000200" "20000000"  # *ReferencedDomains: Entries, *Domains, MaxEntries
    "01000000" "1600" "1800" "0c000200" "10000200"  # max_count; Name (Length 22, Maximum 24), *Sid
    "0c000000" "00000000" "0b000000" "41004e00430048004f005200530041004d0042004100" "0000"
    "04000000" "01" "04" "000000000005" "15000000" "5362eab6" "9d9c4e50" "bddfa76e"
    "01000000" "14000200" "01000000"  # TranslatedSids: Entries, *Sids, max_count
    "0100" "0000" "e8030000" "00000000"  # SidTypeUser, RID 1000, DomainIndex 0
    "01000000" "00000000")  # MappedCount, STATUS_SUCCESS
# frame 102: LsarLookupSids(handle, [S-1-5-32-544], level 1)
LOOKUP_SIDS_REQ = H("010000002134bac2c2a4d149b3fec60b91451227") + H(
    "01000000" "00000200" "01000000" "04000200"  # Entries, *SidInfo, max_count, *Sid
    "02000000" "01" "02" "000000000005" "20000000" "20020000"
    "00000000" "00000000" "0100" "0000" "00000000")
# frame 59: SamrQueryDisplayInformation response, one user, empty strings with non-NULL buffers
QUERY_DISPLAY_RSP = H(
    "20000000" "00400000" "0100" "0000"  # TotalAvailable, TotalReturned, union discriminant (enum16)
    "01000000" "00000200" "01000000"  # EntriesRead, *Buffer, max_count
    "01000000" "e8030000" "10000000" "0a000a00" "04000200" "00000000" "08000200" "00000000" "0c000200"
    "05000000" "00000000" "05000000" "61006c00690063006500" "0000"
    "00000000" "00000000" "00000000"
    "00000000" "00000000" "00000000"
    "00000000")


# -- decoders and encoders, written the way interface code will be ------------------------------

def wstr(r: NdrReader) -> str:
    return r.wstr()


def decode_server_getinfo_req(r: NdrReader) -> tuple[str | None, int]:
    return r.unique(wstr), r.u32()


def decode_server_getinfo_rsp(r: NdrReader) -> tuple[int, tuple, int]:
    level = r.u32()

    def info101(r: NdrReader) -> tuple:
        with r.struct():
            fields = (r.u32(), r.embedded_unique(wstr), r.u32(), r.u32(), r.u32(), r.embedded_unique(wstr))
        return tuple(f.value if hasattr(f, "value") else f for f in fields)

    info = r.unique(info101)
    return level, info, r.u32()


def encode_server_getinfo_rsp(info: tuple, referent_base: int) -> bytes:
    w = NdrWriter(referent_base=referent_base)
    w.u32(101)

    def info101(w: NdrWriter, i: tuple) -> None:
        with w.struct():
            w.u32(i[0])
            w.unique(i[1], NdrWriter.wstr)
            w.u32(i[2])
            w.u32(i[3])
            w.u32(i[4])
            w.unique(i[5], NdrWriter.wstr)

    w.unique(info, info101)
    w.u32(0)
    return w.getvalue()


def decode_share_enum_req(r: NdrReader) -> tuple:
    server = r.unique(wstr)
    with r.struct():  # SHARE_ENUM_STRUCT: Level, then the union (discriminant, arm)
        level, switch = r.u32(), r.u32()

        def container(r: NdrReader) -> tuple:
            with r.struct():
                n, buf = r.u32(), r.embedded_unique(lambda r: r.conformant_array(lambda r: r.u32()))
            return n, buf.value

        cont = r.embedded_unique(container)
    return server, level, switch, cont.value, r.u32(), r.unique(lambda r: r.u32())


def decode_share_info_1_array(r: NdrReader) -> list[tuple]:
    def one(r: NdrReader) -> tuple:
        return r.embedded_unique(wstr), r.u32(), r.embedded_unique(wstr)

    return [(n.value, t, c.value) for n, t, c in r.conformant_array(one, min_size=12)]


def decode_share_enum_rsp(r: NdrReader) -> tuple:
    with r.struct():
        level, switch = r.u32(), r.u32()

        def container(r: NdrReader) -> tuple:
            with r.struct():
                n, buf = r.u32(), r.embedded_unique(decode_share_info_1_array)
            return n, buf.value

        cont = r.embedded_unique(container)
    return level, switch, cont.value, r.u32(), r.unique(lambda r: r.u32()), r.u32()


def encode_share_enum_rsp(shares: list[tuple[str, int, str]], referent_base: int) -> bytes:
    w = NdrWriter(referent_base=referent_base)

    def info1(w: NdrWriter, s: tuple[str, int, str]) -> None:
        w.unique(s[0], NdrWriter.wstr)
        w.u32(s[1])
        w.unique(s[2], NdrWriter.wstr)

    def container(w: NdrWriter, ss: list) -> None:
        with w.struct():
            w.u32(len(ss))
            w.unique(ss, lambda w, ss: w.conformant_array(ss, info1))

    with w.struct():
        w.u32(1)
        w.u32(1)
        w.unique(shares, container)
    w.u32(len(shares))
    w.unique(None, NdrWriter.u32)
    w.u32(0)
    return w.getvalue()


def decode_enum_domains_rsp(r: NdrReader) -> tuple:
    context = r.u32()

    def buffer(r: NdrReader) -> list[tuple[int, str | None]]:
        with r.struct():
            r.u32()
            entries = r.embedded_unique(
                lambda r: r.conformant_array(lambda r: (r.u32(), r.embedded_unicode_string()), min_size=12))
        return [(rid, name.value) for rid, name in entries.value or []]

    return context, r.unique(buffer), r.u32(), r.u32()


def encode_enum_domains_rsp(domains: list[tuple[int, str]]) -> bytes:
    w = NdrWriter()
    w.u32(0)

    def buffer(w: NdrWriter, ds: list) -> None:
        with w.struct():
            w.u32(len(ds))
            w.unique(ds, lambda w, ds: w.conformant_array(ds, lambda w, d: (w.u32(d[0]), w.unicode_string(d[1]))))

    w.unique(domains, buffer)
    w.u32(len(domains))
    w.u32(0)
    return w.getvalue()


def decode_lookup_domain_req(r: NdrReader) -> tuple[bytes, str | None]:
    return r.handle(), r.unicode_string()


def decode_lookup_domain_rsp(r: NdrReader) -> tuple[Sid | None, int]:
    return r.unique(NdrReader.sid), r.u32()


def decode_open_policy_req(r: NdrReader) -> tuple:
    system_name = r.unique(lambda r: r.u16())
    with r.struct():
        length = r.u32()
        root, name = r.embedded_unique(NdrReader.u32), r.embedded_unique(wstr)
        attributes = r.u32()
        sd = r.embedded_unique(NdrReader.u32)
        qos = r.embedded_unique(lambda r: (r.u32(), r.u16(), r.u8(), r.u8()))
    return system_name, length, root.value, name.value, attributes, sd.value, qos.value, r.u32()


def encode_open_policy_req() -> bytes:
    w = NdrWriter()
    w.unique(0x5C, NdrWriter.u16)
    with w.struct():
        w.u32(0x18)
        w.unique(None, NdrWriter.u32)
        w.unique(None, NdrWriter.wstr)
        w.u32(0)
        w.unique(None, NdrWriter.u32)
        w.unique((12, 2, 1, 0), lambda w, q: (w.u32(q[0]), w.u16(q[1]), w.u8(q[2]), w.u8(q[3])))
    w.u32(0x02000000)
    return w.getvalue()


def decode_lookup_names_req(r: NdrReader) -> tuple:
    handle, count = r.handle(), r.u32()
    names = [c.value for c in r.conformant_array(lambda r: r.embedded_unicode_string(), limit=1000, min_size=8)]
    with r.struct():
        entries, sids = r.u32(), r.embedded_unique(lambda r: r.conformant_array(NdrReader.u32))
    return handle, count, names, entries, sids.value, r.enum16(), r.u32()


def decode_referenced_domains(r: NdrReader) -> tuple:
    with r.struct():
        entries = r.u32()
        domains = r.embedded_unique(lambda r: r.conformant_array(
            lambda r: (r.embedded_unicode_string(), r.embedded_unique(NdrReader.sid)), limit=32))
        max_entries = r.u32()
    return entries, [(n.value, s.value) for n, s in domains.value or []], max_entries


def decode_lookup_names_rsp(r: NdrReader) -> tuple:
    domains = r.unique(decode_referenced_domains)
    with r.struct():
        entries = r.u32()
        sids = r.embedded_unique(lambda r: r.conformant_array(lambda r: (r.enum16(), r.u32(), r.i32())))
    return domains, entries, sids.value, r.u32(), r.u32()


def encode_lookup_names_rsp() -> bytes:
    w = NdrWriter(referent_base=0x20004)

    def domains(w: NdrWriter, ds: list) -> None:
        with w.struct():
            w.u32(len(ds))
            w.unique(ds, lambda w, ds: w.conformant_array(
                ds, lambda w, d: (w.unicode_string(d[0], max_bytes=2 * len(d[0]) + 2), w.unique(d[1], NdrWriter.sid))))
            w.u32(32)

    w.unique([(ANCHOR, DOMAIN_SID)], domains)
    with w.struct():
        w.u32(1)
        w.unique([(1, 1000, 0)], lambda w, ts: w.conformant_array(
            ts, lambda w, t: (w.enum16(t[0]), w.u32(t[1]), w.i32(t[2]))))
    w.u32(1)
    w.u32(0)
    return w.getvalue()


def decode_lookup_sids_req(r: NdrReader) -> tuple:
    handle = r.handle()
    with r.struct():
        entries = r.u32()
        infos = r.embedded_unique(lambda r: r.conformant_array(lambda r: r.embedded_unique(NdrReader.sid), min_size=4))
    sids = [c.value for c in infos.value or []]
    with r.struct():
        names_entries, names = r.u32(), r.embedded_unique(NdrReader.u32)
    return handle, entries, sids, names_entries, names.value, r.enum16(), r.u32()


def decode_query_display_rsp(r: NdrReader) -> tuple:
    total, returned = r.u32(), r.u32()
    with r.struct():
        switch = r.enum16()

        def user(r: NdrReader) -> tuple:
            return (r.u32(), r.u32(), r.u32(), r.embedded_unicode_string(), r.embedded_unicode_string(),
                    r.embedded_unicode_string())

        read = r.u32()
        buf = r.embedded_unique(lambda r: r.conformant_array(user, min_size=36))
    users = [(i, rid, acb, a.value, b.value, c.value) for i, rid, acb, a, b, c in buf.value or []]
    return total, returned, switch, read, users, r.u32()


def encode_query_display_rsp() -> bytes:
    w = NdrWriter()
    w.u32(0x20)
    w.u32(0x4000)
    with w.struct():
        w.enum16(1)
        w.u32(1)
        w.unique([(1, 1000, 0x10, "alice", "", "")], lambda w, us: w.conformant_array(
            us, lambda w, u: (w.u32(u[0]), w.u32(u[1]), w.u32(u[2]), w.unicode_string(u[3]), w.unicode_string(u[4]),
                              w.unicode_string(u[5]))))
    w.u32(0)
    return w.getvalue()


def whole(decoder):  # noqa: ANN001, ANN201 - a decoder that must consume the stub exactly
    def run(data: bytes):  # noqa: ANN202
        r = NdrReader(data)
        out = decoder(r)
        if r.remaining:
            raise MalformedMessage(f"{r.remaining} bytes left")
        return out

    return run


GOLDEN = [
    (SRV_GETINFO_REQ, decode_server_getinfo_req),
    (SRV_GETINFO_RSP, decode_server_getinfo_rsp),
    (SHARE_ENUM_REQ, decode_share_enum_req),
    (SHARE_ENUM_RSP, decode_share_enum_rsp),
    (ENUM_DOMAINS_RSP, decode_enum_domains_rsp),
    (LOOKUP_DOMAIN_REQ, decode_lookup_domain_req),
    (LOOKUP_DOMAIN_RSP, decode_lookup_domain_rsp),
    (OPEN_POLICY_REQ, decode_open_policy_req),
    (LOOKUP_NAMES_REQ, decode_lookup_names_req),
    (LOOKUP_NAMES_RSP, decode_lookup_names_rsp),
    (LOOKUP_SIDS_REQ, decode_lookup_sids_req),
    (QUERY_DISPLAY_RSP, decode_query_display_rsp),
]
IDS = [d.__name__.removeprefix("decode_") for _, d in GOLDEN]


# -- golden decodes ---------------------------------------------------------------------------------

def test_server_getinfo() -> None:
    assert whole(decode_server_getinfo_req)(SRV_GETINFO_REQ) == ("\\\\127.0.0.1", 101)
    info = (500, ANCHOR, 6, 1, 0x00809A03, "Samba 4.17.12-Debian")
    assert whole(decode_server_getinfo_rsp)(SRV_GETINFO_RSP) == (101, info, 0)
    assert encode_server_getinfo_rsp(info, 0x20004) == SRV_GETINFO_RSP


def test_share_enum_level_1() -> None:
    assert whole(decode_share_enum_req)(SHARE_ENUM_REQ) == ("127.0.0.1", 1, 1, (0, None), 0xFFFFFFFF, None)
    shares = [("public", 0, ""), ("IPC$", 0x80000003, "IPC Service (Samba 4.17.12-Debian)")]
    assert whole(decode_share_enum_rsp)(SHARE_ENUM_RSP) == (1, 1, (2, shares), 2, None, 0)
    assert encode_share_enum_rsp(shares, 0x20008) == SHARE_ENUM_RSP


def test_samr_enumerate_and_lookup_domain() -> None:
    domains = [(0, ANCHOR), (1, "Builtin")]
    assert whole(decode_enum_domains_rsp)(ENUM_DOMAINS_RSP) == (0, domains, 2, 0)
    assert encode_enum_domains_rsp(domains) == ENUM_DOMAINS_RSP
    assert whole(decode_lookup_domain_req)(LOOKUP_DOMAIN_REQ) == (SAMR_HANDLE, ANCHOR)
    sid, status = whole(decode_lookup_domain_rsp)(LOOKUP_DOMAIN_RSP)
    assert str(sid) == DOMAIN_SID and status == 0
    w = NdrWriter(referent_base=0x20004)
    w.unique(sid, NdrWriter.sid)
    w.u32(0)
    assert w.getvalue() == LOOKUP_DOMAIN_RSP


def test_embedded_pointee_follows_its_structure() -> None:
    """LsarOpenPolicy: the QoS pointee comes after the whole LSAPR_OBJECT_ATTRIBUTES, before
    DesiredAccess; the lone wchar_t pointee of SystemName is padded before the structure."""
    assert whole(decode_open_policy_req)(OPEN_POLICY_REQ) == (0x5C, 0x18, None, None, 0, None, (12, 2, 1, 0), 0x02000000)
    assert encode_open_policy_req() == OPEN_POLICY_REQ


def test_lsa_lookup_names() -> None:
    assert whole(decode_lookup_names_req)(LOOKUP_NAMES_REQ) == (LSA_HANDLE, 1, ["alice"], 0, None, 1, 0)
    domains, entries, sids, mapped, status = whole(decode_lookup_names_rsp)(LOOKUP_NAMES_RSP)
    assert domains == (1, [(ANCHOR, sid_from_str(DOMAIN_SID))], 32)
    assert (entries, sids, mapped, status) == (1, [(1, 1000, 0)], 1, 0)
    assert encode_lookup_names_rsp() == LOOKUP_NAMES_RSP


def test_lsa_lookup_sids_request() -> None:
    handle, entries, sids, n, names, level, mapped = whole(decode_lookup_sids_req)(LOOKUP_SIDS_REQ)
    assert (entries, [str(s) for s in sids], n, names, level, mapped) == (1, ["S-1-5-32-544"], 0, None, 1, 0)


def test_query_display_empty_strings_keep_their_buffers() -> None:
    decoded = whole(decode_query_display_rsp)(QUERY_DISPLAY_RSP)
    assert decoded == (0x20, 0x4000, 1, 1, [(1, 1000, 0x10, "alice", "", "")], 0)
    assert encode_query_display_rsp() == QUERY_DISPLAY_RSP


# -- primitives, alignment, round trips ------------------------------------------------------------

def test_primitives_align_to_their_size() -> None:
    w = NdrWriter()
    w.u8(1)
    w.u16(0x0203)
    w.u8(4)
    w.u32(0x05060708)
    w.u8(9)
    w.hyper(0x1112131415161718)
    w.boolean(True)
    w.i16(-2)
    w.i32(-3)
    w.old_large_integer(-(1 << 33) + 5)  # OLD_LARGE_INTEGER: 4-aligned, not 8
    w.i64(-1)
    data = w.getvalue()
    assert data == H("01" "00" "0302" "04" "000000" "08070605" "09" "000000" "1817161514131211"
                     "01" "00" "feff" "fdffffff" "05000000" "feffffff" "ffffffffffffffff")
    r = NdrReader(data)
    assert (r.u8(), r.u16(), r.u8(), r.u32(), r.u8(), r.hyper(), r.boolean(), r.i16(), r.i32(),
            r.old_large_integer(), r.i64()) == (1, 0x0203, 4, 0x05060708, 9, 0x1112131415161718, True, -2, -3,
                                                -(1 << 33) + 5, -1)
    assert r.remaining == 0


@given(st.text(alphabet=st.characters(blacklist_characters="\0"), max_size=50))
def test_wstr_round_trip(text: str) -> None:
    w = NdrWriter()
    w.u8(7)
    w.unique(text, NdrWriter.wstr)
    r = NdrReader(w.getvalue())
    assert r.u8() == 7 and r.unique(wstr) == text and r.remaining == 0


@given(st.text(max_size=50), st.booleans())
def test_unicode_string_round_trip(text: str, spare: bool) -> None:
    w = NdrWriter()
    n = len(text.encode("utf-16-le", "surrogatepass"))
    w.unicode_string(text, max_bytes=n + 2 if spare else None)
    w.unicode_string(None)
    r = NdrReader(w.getvalue())
    assert r.unicode_string() == text and r.unicode_string() is None and r.remaining == 0


def test_lone_surrogates_survive() -> None:
    w = NdrWriter()
    w.wstr("a\udc80b")
    assert NdrReader(w.getvalue()).wstr() == "a\udc80b"


def test_handles_guids_and_arrays() -> None:
    u = uuid.UUID("4b324fc8-1670-01d3-1278-5a47bf6ee188")
    w = NdrWriter()
    w.u8(1)
    w.handle(LSA_HANDLE)
    w.guid(u)
    w.conformant_varying_array([1, 2], NdrWriter.u16, max_count=5)
    w.varying_array([3], NdrWriter.u32)
    w.conformant_bytes(b"xyz")
    data = w.getvalue()
    assert data[:4] == H("01000000") and data[4:24] == LSA_HANDLE and data[24:40] == u.bytes_le
    r = NdrReader(data)
    r.u8()
    assert r.handle() == LSA_HANDLE and r.guid() == u
    assert r.conformant_varying_array(NdrReader.u16) == [1, 2]
    assert r.varying_array(NdrReader.u32, limit=4) == [3]
    assert r.conformant_bytes() == b"xyz" and r.remaining == 0


def test_full_pointers_alias() -> None:
    # a structure with two full pointers sharing referent id 0x20000: one pointee on the wire
    data = H("00000200" "00000200" "2a000000")
    r = NdrReader(data)
    with r.struct():
        a, b = r.embedded_full(NdrReader.u32), r.embedded_full(NdrReader.u32)
    assert a.value == b.value == 42 and r.remaining == 0
    r = NdrReader(H("00000200" "2a000000" "00000200" "00000000"))
    assert r.full(NdrReader.u32) == 42 and r.full(NdrReader.u32) == 42 and r.full(NdrReader.u32) is None


def test_ref_pointers() -> None:
    w = NdrWriter()
    w.ref(5, NdrWriter.u32)  # top-level [ref]: no referent id
    with w.struct():
        w.ref(6, NdrWriter.u32)  # embedded [ref]: a referent id, the pointee deferred
        w.u32(7)
    assert w.getvalue() == H("05000000" "00000200" "07000000" "06000000")
    r = NdrReader(w.getvalue())
    assert r.ref(NdrReader.u32) == 5
    with r.struct():
        cell, seven = r.embedded_ref(NdrReader.u32), r.u32()
    assert (cell.value, seven) == (6, 7)
    r = NdrReader(bytes(4))
    with pytest.raises(MalformedMessage), r.struct():
        r.embedded_ref(NdrReader.u32)  # a NULL [ref]


def test_misuse_is_caught_at_once() -> None:
    r = NdrReader(bytes(16))
    with pytest.raises(NdrUsageError), r.struct():
        r.unique(NdrReader.u32)
    with pytest.raises(NdrUsageError):
        r.embedded_unique(NdrReader.u32)
    with pytest.raises(NdrUsageError):
        NdrWriter().ref(None, NdrWriter.u32)
    with pytest.raises(NdrUsageError):
        NdrWriter().handle(b"short")
    with pytest.raises(NdrUsageError):
        NdrWriter().unicode_string("abc", max_bytes=4)
    r = NdrReader(H("00000200" "07000000"))
    with r.struct():
        cell = r.embedded_unique(NdrReader.u32)
        with pytest.raises(NdrUsageError):
            cell.value  # noqa: B018 - read before the construct ends


# -- SIDs ---------------------------------------------------------------------------------------

def test_sid_text_forms() -> None:
    sid = sid_from_str(DOMAIN_SID)
    assert sid_to_str(sid) == DOMAIN_SID and sid.authority == 5 and sid.rid == 1856495549
    assert str(sid.child(500)) == DOMAIN_SID + "-500" and sid.child(500).parent() == sid
    assert str(Sid.parse("S-1-0x123456789ABC-1")) == "S-1-0x123456789ABC-1"
    assert str(Sid.parse("s-1-1-0")) == "S-1-1-0"
    assert Sid.from_bytes(sid.to_bytes()) == sid
    for bad in ("", "S-1", "X-1-5", "S-1-5-x", "S-1-281474976710656", "S-1-5-4294967296", "S-1-5" + "-1" * 16):
        with pytest.raises(ValueError):
            Sid.parse(bad)


# -- hostile input -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "decode"), GOLDEN, ids=IDS)
def test_truncation_at_every_offset(data: bytes, decode) -> None:  # noqa: ANN001
    for n in range(len(data)):
        with pytest.raises(MalformedMessage):
            whole(decode)(data[:n])


@pytest.mark.parametrize("read", [
    lambda r: r.conformant_array(NdrReader.u32),
    lambda r: r.conformant_varying_array(NdrReader.u32),
    lambda r: r.wstr(),
    lambda r: r.sid(),
    lambda r: r.conformant_bytes(),
])
def test_hostile_counts_rejected_without_allocating(read) -> None:  # noqa: ANN001
    data = H("ffffffff" "00000000" "ffffffff") + bytes(64)
    with pytest.raises(MalformedMessage):
        read(NdrReader(data))


@pytest.mark.parametrize(("data", "why"), [
    (H("03000000" "01000000" "03000000" "61006200" "6300"), "offset"),
    (H("02000000" "00000000" "03000000" "610062000000"), "actual above max"),
    (H("00000000" "00000000" "00000000"), "no terminator room"),
    (H("02000000" "00000000" "02000000" "61006200"), "no terminator"),
    (H("03000000" "00000000" "03000000" "610000006200"), "embedded NUL"),
])
def test_bad_strings(data: bytes, why: str) -> None:
    with pytest.raises(MalformedMessage):
        NdrReader(data).wstr()


@pytest.mark.parametrize("data", [
    H("0600" "0400" "00000200" "02000000" "00000000" "03000000" "610062006300"),  # Length > MaximumLength
    H("0400" "0400" "00000000"),  # Length without a buffer
    H("0400" "0600" "00000200" "02000000" "00000000" "02000000" "61006200"),  # max_count != MaximumLength/2
    H("0400" "0400" "00000200" "02000000" "00000000" "01000000" "6100"),  # actual != Length/2
])
def test_bad_unicode_strings(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        NdrReader(data).unicode_string()


def test_bad_sids_and_limits() -> None:
    with pytest.raises(MalformedMessage):  # 16 sub-authorities
        NdrReader(H("10000000" "0110" "000000000005") + bytes(64)).sid()
    with pytest.raises(MalformedMessage):  # max_count disagrees with SubAuthorityCount
        NdrReader(H("02000000" "0101" "000000000005" "20000000" "20000000")).sid()
    with pytest.raises(MalformedMessage):  # beyond the caller's limit, even with the bytes present
        NdrReader(struct.pack("<I", 11) + bytes(44)).conformant_array(NdrReader.u32, limit=10)
    with pytest.raises(MalformedMessage):  # min_size: 1000 elements of >= 8 bytes cannot fit in 4000
        NdrReader(struct.pack("<I", 1000) + bytes(4000)).conformant_array(NdrReader.hyper, min_size=8)
    with pytest.raises(MalformedMessage):
        NdrReader(struct.pack("<I", HARD_LIMIT + 1)).conformant_array(NdrReader.u8, limit=1 << 30)


@settings(max_examples=300)
@given(st.binary(max_size=300), st.sampled_from(GOLDEN))
def test_any_bytes_decode_or_malformed(data: bytes, golden: tuple) -> None:
    try:
        whole(golden[1])(data)
    except MalformedMessage:
        pass


@settings(max_examples=300)
@given(st.sampled_from(GOLDEN), st.data())
def test_mutated_golden_stubs(golden: tuple, data: st.DataObject) -> None:
    stub = bytearray(golden[0])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(stub) - 1))
        stub[i] = data.draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, stub[i] ^ 1]))
    try:
        whole(golden[1])(bytes(stub))
    except MalformedMessage:
        pass
