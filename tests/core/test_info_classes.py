"""QUERY_INFO / SET_INFO classes, CREATE checks and listings socket-free (handlers/info.py,
create.py, directory.py; MS-SMB2 3.3.5.9, 3.3.5.18, 3.3.5.20, 3.3.5.21; MS-FSA 2.1.5.11, 2.1.5.14;
MS-FSCC 2.4, 2.5), on the MemoryFS share of the core fixtures."""

from __future__ import annotations

import struct

import pytest

from nullsmb.core.handlers.info import short_name
from nullsmb.status import NtStatus
from nullsmb.wire import fscc
from nullsmb.wire.create import CreateContext, CreateRequest, CreateResponse
from nullsmb.wire.fscc import FileInfoClass as F, FsInfoClass as FS
from nullsmb.wire.header import Command
from nullsmb.wire.info import QueryDirectoryRequest, QueryInfoRequest, SetInfoRequest, decode_buffer_response
from nullsmb.wire.negotiate import Dialect
from nullsmb.client.connection import Outgoing, Response

from conftest import Pair
from test_session_flow import body_of, close, connected, user, write

S = NtStatus
ALL = 0x001F01FF
READ_ATTRIBUTES, SYNCHRONIZE, READ_DATA = 0x80, 0x100000, 0x1
OPEN, CREATE, OPEN_IF = 1, 2, 3
DIRECTORY_FILE, DELETE_ON_CLOSE = 0x1, 0x1000
FILE, FILESYSTEM = 1, 2


def create(tid: int, name: str, *, access: int = ALL, disposition: int = OPEN_IF, options: int = 0,
           share: int = 7, attributes: int = 0, contexts: tuple = ()) -> Outgoing:
    return Outgoing(Command.CREATE, CreateRequest(0, 2, access, attributes, share, disposition, options,
                                                  name, contexts).encode(), tree_id=tid)


async def opened(pair: Pair, tid: int, name: str, **kw) -> bytes:
    rsp = (await pair.one(create(tid, name, **kw))).raise_for_status()
    return body_of(rsp, CreateResponse.decode).file_id


def query(tid: int, fid: bytes, iclass: int, *, itype: int = FILE, size: int = 4096, flags: int = 0,
          addl: int = 0, input: bytes = b"") -> Outgoing:
    return Outgoing(Command.QUERY_INFO, QueryInfoRequest(itype, iclass, size, input, addl, flags, fid).encode(),
                    tree_id=tid)


def set_info(tid: int, fid: bytes, iclass: int, buffer: bytes) -> Outgoing:
    return Outgoing(Command.SET_INFO, SetInfoRequest(FILE, iclass, buffer, 0, fid).encode(), tree_id=tid)


async def queried(pair: Pair, out: Outgoing) -> tuple[NtStatus, bytes]:
    rsp: Response = await pair.one(out)
    if rsp.status not in (S.STATUS_SUCCESS, S.STATUS_BUFFER_OVERFLOW):
        return NtStatus(rsp.status), b""
    return NtStatus(rsp.status), body_of(rsp, decode_buffer_response)


def basic(created: int = 0, access: int = 0, written: int = 0, changed: int = 0, attrs: int = 0) -> bytes:
    return struct.pack("<QQQQII", created, access, written, changed, attrs, 0)


def listing(tid: int, fid: bytes, iclass: int = F.FileIdBothDirectoryInformation, *, flags: int = 0,
            pattern: str = "*") -> Outgoing:
    return Outgoing(Command.QUERY_DIRECTORY,
                    QueryDirectoryRequest(iclass, flags, 0, fid, pattern, 65536).encode(),
                    tree_id=tid, payload=65536)


def names_in(data: bytes) -> list[str]:
    out, pos = [], 0
    while True:
        nxt, = struct.unpack_from("<I", data, pos)
        length, = struct.unpack_from("<I", data, pos + 60)
        out.append(data[pos + 104: pos + 104 + length].decode("utf-16-le"))
        if not nxt:
            return out
        pos += nxt


# --- extended attributes ---------------------------------------------------------------------


async def test_eas_from_create_context_query_and_set() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    ext = CreateContext(b"ExtA", fscc.encode_full_ea([("EAONE", b"VALUE1"), ("SECONDEA", b"ValueTwo")]))
    fid = await opened(pair, tid, "ea.txt", contexts=(ext,))
    status, data = await queried(pair, query(tid, fid, F.FileEaInformation))
    assert status == S.STATUS_SUCCESS and struct.unpack("<I", data)[0] == 20 + 28
    status, data = await queried(pair, query(tid, fid, F.FileFullEaInformation, flags=1))
    assert fscc.parse_full_ea(data) == [("EAONE", b"VALUE1"), ("SECONDEA", b"ValueTwo")]
    # one at a time from the cursor, then the end
    status, data = await queried(pair, query(tid, fid, F.FileFullEaInformation, flags=1 | 2))
    assert fscc.parse_full_ea(data) == [("EAONE", b"VALUE1")]
    status, data = await queried(pair, query(tid, fid, F.FileFullEaInformation, flags=2))
    assert fscc.parse_full_ea(data) == [("SECONDEA", b"ValueTwo")]
    assert (await queried(pair, query(tid, fid, F.FileFullEaInformation)))[0] == S.STATUS_NO_MORE_EAS
    # by name (an unknown one comes back empty), and too small a buffer
    names = struct.pack("<IB", 16, 8) + b"secondea\0" + bytes(2) + struct.pack("<IB", 0, 4) + b"NOPE\0"
    status, data = await queried(pair, query(tid, fid, F.FileFullEaInformation, input=names))
    assert fscc.parse_full_ea(data) == [("SECONDEA", b"ValueTwo"), ("NOPE", b"")]
    assert (await queried(pair, query(tid, fid, F.FileFullEaInformation, flags=1, size=8)))[0] == S.STATUS_BUFFER_TOO_SMALL
    # SET_INFO removes one (empty value)
    (await pair.one(set_info(tid, fid, F.FileFullEaInformation, fscc.encode_full_ea([("eaone", b"")])))).raise_for_status()
    status, data = await queried(pair, query(tid, fid, F.FileFullEaInformation, flags=1))
    assert fscc.parse_full_ea(data) == [("SECONDEA", b"ValueTwo")]


async def test_ea_errors() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    fid = await opened(pair, tid, "plain.txt")
    assert (await queried(pair, query(tid, fid, F.FileFullEaInformation, flags=1)))[0] == S.STATUS_NO_EAS_ON_FILE
    bad_name = fscc.encode_full_ea([("A", b"1")]).replace(b"A\0", b"*\0")
    rsp = await pair.one(set_info(tid, fid, F.FileFullEaInformation, bad_name))
    assert rsp.status == S.STATUS_INVALID_EA_NAME
    truncated = fscc.encode_full_ea([("A", b"12345")])[:-2]
    assert (await pair.one(set_info(tid, fid, F.FileFullEaInformation, truncated))).status == S.STATUS_EA_LIST_INCONSISTENT
    ext = CreateContext(b"ExtA", bad_name)
    assert (await pair.one(create(tid, "new.txt", contexts=(ext,)))).status == S.STATUS_INVALID_EA_NAME
    assert (await pair.one(create(tid, "new.txt", disposition=OPEN))).status == S.STATUS_OBJECT_NAME_NOT_FOUND
    stat_only = await opened(pair, tid, "plain.txt", access=READ_ATTRIBUTES)
    assert (await queried(pair, query(tid, stat_only, F.FileFullEaInformation)))[0] == S.STATUS_ACCESS_DENIED


# --- times, attributes, names and ids --------------------------------------------------------


async def test_set_creation_change_times_and_attributes() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    fid = await opened(pair, tid, "times.txt")
    created, changed = 133_000_000_000_000_000, 133_100_000_000_000_000
    (await pair.one(set_info(tid, fid, F.FileBasicInformation,
                             basic(created=created, changed=changed, attrs=0x2 | 0x4)))).raise_for_status()
    _s, data = await queried(pair, query(tid, fid, F.FileBasicInformation))
    c, _a, _w, ch, attrs = struct.unpack_from("<QQQQI", data)
    assert (c, ch, attrs) == (created, changed, 0x6)
    (await pair.one(set_info(tid, fid, F.FileBasicInformation, basic(attrs=0x80)))).raise_for_status()
    _s, data = await queried(pair, query(tid, fid, F.FileBasicInformation))
    assert struct.unpack_from("<I", data, 32)[0] == 0x80  # NORMAL: no attributes left
    (await pair.one(write(tid, fid, b"data"))).raise_for_status()
    _s, data = await queried(pair, query(tid, fid, F.FileBasicInformation))
    assert struct.unpack_from("<QQQQI", data)[0] == created
    assert struct.unpack_from("<I", data, 32)[0] == 0x20  # a write brings ARCHIVE back


async def test_temporary_attribute_refused_on_a_directory() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    fid = await opened(pair, tid, "tmpdir", options=DIRECTORY_FILE)
    rsp = await pair.one(set_info(tid, fid, F.FileBasicInformation, basic(attrs=0x100)))
    assert rsp.status == S.STATUS_INVALID_PARAMETER


@pytest.mark.parametrize(("dialect", "expected"), [(Dialect.SMB311, S.STATUS_SUCCESS),
                                                   (Dialect.SMB302, S.STATUS_NOT_SUPPORTED)])
async def test_normalized_name_is_the_on_disk_path_on_311(dialect: int, expected: NtStatus) -> None:
    pair = Pair(dialects=[dialect])
    tid = await connected(pair, **user())
    await opened(pair, tid, "MixedDir", options=DIRECTORY_FILE)
    await opened(pair, tid, "MixedDir\\FileName.txt")
    fid = await opened(pair, tid, "mixeddir\\FILENAME.TXT", disposition=OPEN)
    status, data = await queried(pair, query(tid, fid, F.FileNormalizedNameInformation))
    assert status == expected
    if expected == S.STATUS_SUCCESS:
        assert data[4:].decode("utf-16-le") == "MixedDir\\FileName.txt"


async def test_file_id_and_fixed_sizes() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    fid = await opened(pair, tid, "id.txt")
    _s, internal = await queried(pair, query(tid, fid, F.FileInternalInformation))
    status, data = await queried(pair, query(tid, fid, F.FileIdInformation))
    assert status == S.STATUS_SUCCESS and len(data) == 24 and data[8:16] == internal
    # MS-FSCC fixed parts: smaller buffers are INFO_LENGTH_MISMATCH, larger truncate
    for iclass, fixed in ((F.FileAllInformation, 104), (F.FileStreamInformation, 32),
                          (F.FileAlternateNameInformation, 8), (F.FileBasicInformation, 40)):
        assert (await queried(pair, query(tid, fid, iclass, size=fixed - 1)))[0] == S.STATUS_INFO_LENGTH_MISMATCH
    assert (await queried(pair, query(tid, fid, F.FileAllInformation, size=104)))[0] == S.STATUS_BUFFER_OVERFLOW
    stat_only = await opened(pair, tid, "id.txt", access=SYNCHRONIZE)
    assert (await queried(pair, query(tid, stat_only, F.FileBasicInformation)))[0] == S.STATUS_ACCESS_DENIED
    assert (await queried(pair, query(tid, stat_only, F.FileStandardInformation)))[0] == S.STATUS_SUCCESS


async def test_fs_control_and_object_id() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    fid = await opened(pair, tid, "", access=READ_ATTRIBUTES, options=DIRECTORY_FILE, disposition=OPEN)
    status, data = await queried(pair, query(tid, fid, FS.FileFsControlInformation, itype=FILESYSTEM))
    assert status == S.STATUS_SUCCESS and len(data) == 48
    assert struct.unpack_from("<qq", data, 24) == (-1, -1)  # no default quota
    status, first = await queried(pair, query(tid, fid, FS.FileFsObjectIdInformation, itype=FILESYSTEM))
    _s, again = await queried(pair, query(tid, fid, FS.FileFsObjectIdInformation, itype=FILESYSTEM))
    assert status == S.STATUS_SUCCESS and len(first) == 64 and first == again and any(first[:16])
    assert (await queried(pair, query(tid, fid, FS.FileFsAttributeInformation, itype=FILESYSTEM,
                                      size=15)))[0] == S.STATUS_INFO_LENGTH_MISMATCH


# --- dispositions and renames ----------------------------------------------------------------


async def test_disposition_ex_on_close_and_ignore_readonly() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    fid = await opened(pair, tid, "doc.txt")
    (await pair.one(set_info(tid, fid, F.FileDispositionInformationEx, struct.pack("<I", 0x1 | 0x8)))).raise_for_status()
    other = await opened(pair, tid, "doc.txt", disposition=OPEN)  # ON_CLOSE: not delete-pending yet
    (await pair.one(close(tid, fid))).raise_for_status()
    (await pair.one(close(tid, other))).raise_for_status()
    assert (await pair.one(create(tid, "doc.txt", disposition=OPEN))).status == S.STATUS_OBJECT_NAME_NOT_FOUND

    ro = await opened(pair, tid, "ro.txt", attributes=0x1)
    rsp = await pair.one(set_info(tid, ro, F.FileDispositionInformation, b"\x01"))
    assert rsp.status == S.STATUS_CANNOT_DELETE
    (await pair.one(set_info(tid, ro, F.FileDispositionInformationEx, struct.pack("<I", 0x1 | 0x10)))).raise_for_status()
    (await pair.one(close(tid, ro))).raise_for_status()
    assert (await pair.one(create(tid, "ro.txt", disposition=OPEN))).status == S.STATUS_OBJECT_NAME_NOT_FOUND
    assert (await pair.one(set_info(tid, await opened(pair, tid, "x.txt"), F.FileDispositionInformationEx,
                                    struct.pack("<I", 0x100)))).status == S.STATUS_INVALID_PARAMETER


def rename_ex(target: str, flags: int) -> bytes:
    name = target.encode("utf-16-le")
    return struct.pack("<I4sQI", flags, b"", 0, len(name)) + name


async def test_rename_ex_replace_if_exists() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    await pair.one(close(tid, await opened(pair, tid, "target.txt")))
    src = await opened(pair, tid, "source.txt")
    rsp = await pair.one(set_info(tid, src, F.FileRenameInformationEx, rename_ex("target.txt", 0)))
    assert rsp.status == S.STATUS_OBJECT_NAME_COLLISION
    (await pair.one(set_info(tid, src, F.FileRenameInformationEx, rename_ex("target.txt", 0x1)))).raise_for_status()
    assert (await pair.one(create(tid, "source.txt", disposition=OPEN))).status == S.STATUS_OBJECT_NAME_NOT_FOUND


def rename(target: str) -> bytes:
    name = target.encode("utf-16-le")
    return struct.pack("<B7sQI", 0, b"", 0, len(name)) + name


@pytest.mark.parametrize(("access", "share", "expected"), [
    (READ_DATA, 0, S.STATUS_SHARING_VIOLATION),  # holds data access, doesn't share writes
    (READ_DATA, 7, S.STATUS_SUCCESS),
    (READ_ATTRIBUTES | SYNCHRONIZE, 0, S.STATUS_SUCCESS),  # attribute-only opens don't count
    (0x10000 | READ_DATA, 7, S.STATUS_SHARING_VIOLATION),  # DELETE
])
async def test_rename_against_opens_of_the_parent(access: int, share: int, expected: NtStatus) -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    await pair.one(close(tid, await opened(pair, tid, "base", options=DIRECTORY_FILE)))
    await opened(pair, tid, "base", access=access, share=share, options=DIRECTORY_FILE, disposition=OPEN)
    fid = await opened(pair, tid, "base\\file.txt", share=0)
    assert (await pair.one(set_info(tid, fid, F.FileRenameInformation, rename("base\\new.txt")))).status == expected


# --- CREATE checks -----------------------------------------------------------------------------


async def test_leading_separator_is_invalid_parameter() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    assert (await pair.one(create(tid, "\\lead.txt"))).status == S.STATUS_INVALID_PARAMETER


async def test_new_readonly_file_cannot_be_delete_on_close() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    rsp = await pair.one(create(tid, "rodoc.txt", disposition=CREATE, attributes=0x1, options=DELETE_ON_CLOSE))
    assert rsp.status == S.STATUS_CANNOT_DELETE
    assert (await pair.one(create(tid, "rodoc.txt", disposition=OPEN))).status == S.STATUS_OBJECT_NAME_NOT_FOUND


async def test_create_attributes_and_overwrite_drops_eas() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    ext = CreateContext(b"ExtA", fscc.encode_full_ea([("K", b"v")]))
    fid = await opened(pair, tid, "hid.txt", attributes=0x2, contexts=(ext,))
    _s, data = await queried(pair, query(tid, fid, F.FileBasicInformation))
    assert struct.unpack_from("<I", data, 32)[0] == 0x22  # HIDDEN | ARCHIVE
    await pair.one(close(tid, fid))
    fid = await opened(pair, tid, "hid.txt", disposition=5)  # OVERWRITE_IF
    assert (await queried(pair, query(tid, fid, F.FileFullEaInformation, flags=1)))[0] == S.STATUS_NO_EAS_ON_FILE


# --- listings ------------------------------------------------------------------------------------


async def test_listing_carries_short_names_and_ea_size() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    await opened(pair, tid, "d", options=DIRECTORY_FILE)
    ext = CreateContext(b"ExtA", fscc.encode_full_ea([("E", b"1")]))
    await opened(pair, tid, "d\\a_long_file_name.txt", contexts=(ext,))
    await opened(pair, tid, "d\\SHORT.TXT")
    dfid = await opened(pair, tid, "d", options=DIRECTORY_FILE, disposition=OPEN)
    _s, data = await queried(pair, listing(tid, dfid, pattern="a_long*"))
    ea, short_len = struct.unpack_from("<IB", data, 64)  # EaSize, ShortNameLength
    short = data[70:70 + short_len].decode("utf-16-le")
    assert (ea, short) == (12, short_name("a_long_file_name.txt")) and short.endswith(".TXT")
    _s, data = await queried(pair, listing(tid, dfid, pattern="short.txt", flags=1))
    assert struct.unpack_from("<IB", data, 64) == (0, 0)  # already 8.3: no short name


async def test_continued_listing_skips_names_deleted_meanwhile() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    await opened(pair, tid, "d", options=DIRECTORY_FILE)
    for n in ("a", "b", "c"):
        await pair.one(close(tid, await opened(pair, tid, f"d\\{n}")))
    dfid = await opened(pair, tid, "d", options=DIRECTORY_FILE, disposition=OPEN)
    _s, data = await queried(pair, listing(tid, dfid, flags=0x2))  # RETURN_SINGLE_ENTRY: "."
    assert names_in(data) == ["."]
    for n in ("b", "c"):
        fid = await opened(pair, tid, f"d\\{n}", disposition=OPEN)
        (await pair.one(set_info(tid, fid, F.FileDispositionInformation, b"\x01"))).raise_for_status()
        (await pair.one(close(tid, fid))).raise_for_status()
    _s, data = await queried(pair, listing(tid, dfid))
    assert names_in(data) == ["..", "a"]
