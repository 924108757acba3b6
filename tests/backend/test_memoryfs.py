"""The backend contract, run against MemoryFS and LocalFS (openat2 and component-walk resolvers).

The ``make_fs`` fixture builds a share of each kind with the same seeded content, so every test
here checks that the in-memory backend the core tests use behaves like the real one. MemoryFS-only
behaviour (clock, ids, capacity) is at the end.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nullsmb.backend.base import CreateAction as A
from nullsmb.backend.base import CreateDisposition as D
from nullsmb.backend.localfs import LocalFS
from nullsmb.backend.memoryfs import MemoryFS
from nullsmb.status import NtStatus, SmbError

S = NtStatus
Files = dict[tuple[str, ...], bytes]
MakeFS = Callable[..., Any]


@pytest.fixture(params=["memory", "local-openat2", "local-walk"])
def make_fs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeFS]:
    opened: list[LocalFS] = []

    def make(*, read_only: bool = False, files: Files | None = None,
             dirs: tuple[tuple[str, ...], ...] = ()) -> Any:
        files = files or {}
        if request.param == "memory":
            mfs = MemoryFS(read_only=read_only)
            for d in dirs:
                mfs.seed_dir(d)
            for p, data in files.items():
                mfs.seed_file(p, data)
            return mfs
        root = tmp_path / f"share{len(opened)}"
        root.mkdir()
        for d in dirs:
            root.joinpath(*d).mkdir(parents=True, exist_ok=True)
        for p, data in files.items():
            root.joinpath(*p[:-1]).mkdir(parents=True, exist_ok=True)
            root.joinpath(*p).write_bytes(data)
        want = request.param == "local-openat2"
        lfs = LocalFS(root, read_only=read_only, use_openat2=None if want else False)
        opened.append(lfs)
        if want and not lfs.uses_openat2:
            pytest.skip("openat2 unavailable here")
        return lfs

    yield make
    for lfs in opened:
        lfs.shutdown()


async def status_of(aw: Awaitable[Any]) -> NtStatus:
    with pytest.raises(SmbError) as info:
        await aw
    return NtStatus(info.value.status)


async def open_(fs: Any, *path: str, disp: D = D.OPEN, directory: bool | None = None,
                write: bool = False) -> Any:
    h, _ = await fs.create(tuple(path), disp, directory=directory, write=write)
    return h


async def content(fs: Any, *path: str) -> bytes:
    h = await open_(fs, *path, directory=False)
    try:
        return bytes(await fs.read(h, 0, 1 << 20))
    finally:
        await fs.close(h)


async def names(fs: Any, *path: str) -> list[str]:
    h = await open_(fs, *path, directory=True)
    try:
        return [e.name for e in await fs.list_dir(h)]
    finally:
        await fs.close(h)


# --- dispositions (MS-SMB2 2.2.13, MS-FSA 2.1.5.1) -----------------------------------------

FILE_TABLE = [
    # disposition, (exists: action or status, data after), (missing: action or status)
    (D.SUPERSEDE, (A.SUPERSEDED, b""), A.CREATED),
    (D.OPEN, (A.OPENED, b"old"), S.STATUS_OBJECT_NAME_NOT_FOUND),
    (D.CREATE, (S.STATUS_OBJECT_NAME_COLLISION, b"old"), A.CREATED),
    (D.OPEN_IF, (A.OPENED, b"old"), A.CREATED),
    (D.OVERWRITE, (A.OVERWRITTEN, b""), S.STATUS_OBJECT_NAME_NOT_FOUND),
    (D.OVERWRITE_IF, (A.OVERWRITTEN, b""), A.CREATED),
]


@pytest.mark.parametrize(("disp", "if_exists", "if_missing"), FILE_TABLE)
@pytest.mark.parametrize("directory", [None, False])
async def test_file_dispositions(make_fs: MakeFS, disp: D, if_exists: tuple[Any, bytes],
                                 if_missing: Any, directory: bool | None) -> None:
    fs = make_fs(files={("f",): b"old"})
    expected, data_after = if_exists
    if isinstance(expected, NtStatus):
        assert await status_of(fs.create(("f",), disp, directory=directory, write=True)) == expected
    else:
        h, action = await fs.create(("f",), disp, directory=directory, write=True)
        assert action == expected and not h.is_dir and h.path == ("f",)
        await fs.close(h)
    assert await content(fs, "f") == data_after

    if isinstance(if_missing, NtStatus):
        aw = fs.create(("g",), disp, directory=directory, write=True)
        assert await status_of(aw) == if_missing
        assert await names(fs) == ["f"]
    else:
        h, action = await fs.create(("g",), disp, directory=directory, write=True)
        assert action == if_missing and not h.is_dir
        assert (await fs.stat(h)).size == 0
        await fs.close(h)
        assert await names(fs) == ["f", "g"]


DIR_TABLE = [
    (D.OPEN, A.OPENED, S.STATUS_OBJECT_NAME_NOT_FOUND),
    (D.CREATE, S.STATUS_OBJECT_NAME_COLLISION, A.CREATED),
    (D.OPEN_IF, A.OPENED, A.CREATED),
    (D.SUPERSEDE, S.STATUS_INVALID_PARAMETER, S.STATUS_INVALID_PARAMETER),
    (D.OVERWRITE, S.STATUS_INVALID_PARAMETER, S.STATUS_INVALID_PARAMETER),
    (D.OVERWRITE_IF, S.STATUS_INVALID_PARAMETER, S.STATUS_INVALID_PARAMETER),
]


@pytest.mark.parametrize(("disp", "if_exists", "if_missing"), DIR_TABLE)
async def test_directory_dispositions(make_fs: MakeFS, disp: D, if_exists: Any,
                                      if_missing: Any) -> None:
    fs = make_fs(dirs=(("d",),))
    for path, expected in ((("d",), if_exists), (("e",), if_missing)):
        if isinstance(expected, NtStatus):
            assert await status_of(fs.create(path, disp, directory=True, write=False)) == expected
        else:
            h, action = await fs.create(path, disp, directory=True, write=False)
            assert action == expected and h.is_dir and (await fs.stat(h)).is_dir
            await fs.close(h)


async def test_type_mismatches(make_fs: MakeFS) -> None:
    fs = make_fs(files={("f",): b"x"}, dirs=(("d",),))
    assert await status_of(open_(fs, "d", directory=False)) == S.STATUS_FILE_IS_A_DIRECTORY
    assert await status_of(open_(fs, "f", directory=True)) == S.STATUS_NOT_A_DIRECTORY
    for disp in (D.SUPERSEDE, D.OVERWRITE, D.OVERWRITE_IF):  # an existing dir, no option
        assert await status_of(open_(fs, "d", disp=disp, write=True)) == S.STATUS_INVALID_PARAMETER
    h = await open_(fs, "d")  # directory=None accepts either
    assert h.is_dir
    assert await status_of(fs.create(("f",), 9, directory=None, write=False)) == \
        S.STATUS_INVALID_PARAMETER


async def test_missing_or_file_intermediate(make_fs: MakeFS) -> None:
    fs = make_fs(files={("f",): b"x"})
    for disp in (D.OPEN, D.CREATE, D.OPEN_IF):
        assert await status_of(open_(fs, "nope", "x", disp=disp)) == S.STATUS_OBJECT_PATH_NOT_FOUND
        assert await status_of(open_(fs, "f", "x", disp=disp)) == S.STATUS_OBJECT_PATH_NOT_FOUND


async def test_root(make_fs: MakeFS) -> None:
    fs = make_fs(files={("a",): b""})
    h, action = await fs.create((), D.OPEN, directory=None, write=False)
    assert (h.path, h.is_dir, action) == ((), True, A.OPENED)
    assert [e.name for e in await fs.list_dir(h)] == ["a"]
    assert await status_of(fs.create((), D.OPEN, directory=False, write=False)) == \
        S.STATUS_FILE_IS_A_DIRECTORY
    assert await status_of(fs.create((), D.CREATE, directory=True, write=False)) == \
        S.STATUS_OBJECT_NAME_COLLISION
    assert await status_of(fs.delete(h)) == S.STATUS_ACCESS_DENIED
    assert await status_of(fs.rename(h, ("x",), replace=False)) == S.STATUS_ACCESS_DENIED


async def test_invalid_components_refused_by_backend(make_fs: MakeFS) -> None:
    """Defence in depth: a core bug passing raw components must not escape."""
    fs = make_fs()
    for path in (("..",), ("..", "etc"), ("a/b",), ("",), ("CON",), ("d", "..", "..")):
        assert await status_of(fs.create(path, D.OPEN_IF, directory=None, write=True)) in (
            S.STATUS_OBJECT_NAME_INVALID, S.STATUS_OBJECT_PATH_SYNTAX_BAD)


# --- data ----------------------------------------------------------------------------------


async def test_read_write_truncate_round_trip(make_fs: MakeFS) -> None:
    fs = make_fs()
    h = await open_(fs, "f", disp=D.CREATE, write=True)
    assert await fs.write(h, 0, memoryview(b"hello world")) == 11
    assert await fs.write(h, 6, memoryview(b"WORLD")) == 5
    assert bytes(await fs.read(h, 0, 100)) == b"hello WORLD"
    assert bytes(await fs.read(h, 6, 3)) == b"WOR"
    assert bytes(await fs.read(h, 11, 10)) == b""
    assert bytes(await fs.read(h, 1000, 10)) == b""
    assert bytes(await fs.read(h, 0, 0)) == b""
    await fs.write(h, 20, memoryview(b"!"))  # a hole reads back as zeros
    assert bytes(await fs.read(h, 0, 100)) == b"hello WORLD" + bytes(9) + b"!"
    await fs.truncate(h, 5)
    assert (await fs.stat(h)).size == 5
    await fs.truncate(h, 8)
    assert bytes(await fs.read(h, 0, 100)) == b"hello\0\0\0"
    await fs.flush(h)
    assert await status_of(fs.truncate(h, -1)) == S.STATUS_INVALID_PARAMETER
    assert await status_of(fs.read(h, -1, 1)) == S.STATUS_INVALID_PARAMETER
    assert await status_of(fs.write(h, -1, memoryview(b"x"))) == S.STATUS_INVALID_PARAMETER
    await fs.close(h)
    assert await content(fs, "f") == b"hello\0\0\0"


async def test_large_read_and_write(make_fs: MakeFS) -> None:
    fs = make_fs()
    h = await open_(fs, "big", disp=D.CREATE, write=True)
    blob = os.urandom(3 * 1024 * 1024 + 17)
    assert await fs.write(h, 0, memoryview(blob)) == len(blob)
    for offset, length in ((0, len(blob)), (100, 200_000), (len(blob) - 10, 1 << 20)):
        view = await fs.read(h, offset, length)
        assert bytes(view) == blob[offset : offset + length]
        fs.release(view)
    view = await fs.read(h, 0, 8 * 1024 * 1024 + 1)  # beyond the largest pool class
    assert bytes(view) == blob
    fs.release(view)
    await fs.close(h)


async def test_read_only_handle_cannot_write(make_fs: MakeFS) -> None:
    fs = make_fs(files={("f",): b"abc"}, dirs=(("d",),))
    h = await open_(fs, "f", write=False)
    assert await status_of(fs.write(h, 0, memoryview(b"x"))) == S.STATUS_ACCESS_DENIED
    assert await status_of(fs.truncate(h, 0)) == S.STATUS_ACCESS_DENIED
    d = await open_(fs, "d")
    assert await status_of(fs.read(d, 0, 1)) == S.STATUS_INVALID_DEVICE_REQUEST
    assert await status_of(fs.write(d, 0, memoryview(b"x"))) == S.STATUS_INVALID_DEVICE_REQUEST
    assert await status_of(fs.list_dir(h)) == S.STATUS_INVALID_PARAMETER


async def test_closed_handle(make_fs: MakeFS) -> None:
    fs = make_fs(files={("f",): b"abc"})
    h = await open_(fs, "f")
    await fs.close(h)
    await fs.close(h)  # idempotent
    assert await status_of(fs.read(h, 0, 1)) == S.STATUS_FILE_CLOSED
    assert await status_of(fs.stat(h)) == S.STATUS_FILE_CLOSED


# --- metadata ------------------------------------------------------------------------------


async def test_stat_and_times(make_fs: MakeFS) -> None:
    fs = make_fs(files={(".hidden",): b"12345", ("plain",): b""}, dirs=(("d",),))
    h = await open_(fs, ".hidden", write=True)
    st = await fs.stat(h)
    assert (st.size, st.is_dir, st.hidden, st.readonly) == (5, False, True, False)
    assert st.allocation >= 5 and st.btime_ns <= st.mtime_ns
    await fs.set_times(h, atime_ns=1_000_000_000, mtime_ns=2_000_000_000)
    st = await fs.stat(h)
    assert (st.atime_ns, st.mtime_ns) == (1_000_000_000, 2_000_000_000)
    await fs.set_times(h, atime_ns=None, mtime_ns=3_000_000_000)
    st = await fs.stat(h)
    assert (st.atime_ns, st.mtime_ns) == (1_000_000_000, 3_000_000_000)
    p = await open_(fs, "plain")
    assert not (await fs.stat(p)).hidden
    assert (await fs.stat(p)).file_id != st.file_id
    d = await open_(fs, "d")
    dst = await fs.stat(d)
    assert dst.is_dir and dst.size == 0


async def test_list_dir_sorted(make_fs: MakeFS) -> None:
    files = {(n,): n.encode() for n in ("b", "a", "C", ".x", "\u00e9")}
    fs = make_fs(files=files, dirs=(("sub",),))
    root = await open_(fs, directory=True)
    entries = await fs.list_dir(root)
    assert [e.name for e in entries] == sorted(["b", "a", "C", ".x", "\u00e9", "sub"])
    by_name = {e.name: e.stat for e in entries}
    assert by_name["sub"].is_dir and by_name[".x"].hidden and by_name["b"].size == 1


async def test_readonly_attribute(make_fs: MakeFS) -> None:
    fs = make_fs(files={("f",): b"data"})
    h = await open_(fs, "f", write=True)
    await fs.set_readonly(h, True)
    assert (await fs.stat(h)).readonly
    assert await status_of(fs.can_delete(h)) == S.STATUS_CANNOT_DELETE
    assert await status_of(fs.delete(h)) == S.STATUS_CANNOT_DELETE
    await fs.close(h)
    ro = await open_(fs, "f", write=True)  # granted, but data writes refused (MS-FSA 2.1.5.1.2)
    assert await status_of(fs.write(ro, 0, memoryview(b"x"))) == S.STATUS_ACCESS_DENIED
    for disp in (D.OVERWRITE, D.OVERWRITE_IF, D.SUPERSEDE):
        assert await status_of(open_(fs, "f", disp=disp, write=True)) == S.STATUS_ACCESS_DENIED
    await fs.set_readonly(ro, False)
    assert not (await fs.stat(ro)).readonly
    await fs.can_delete(ro)
    await fs.delete(ro)
    assert await names(fs) == []


# --- case-insensitive lookup ---------------------------------------------------------------


async def test_case_insensitive_lookup(make_fs: MakeFS) -> None:
    fs = make_fs(files={("Dir", "ReadMe.TXT"): b"r"})
    h, action = await fs.create(("dir", "README.txt"), D.OPEN, directory=None, write=False)
    assert action == A.OPENED and h.path == ("Dir", "ReadMe.TXT")
    assert await content(fs, "DIR", "readme.txt") == b"r"
    assert await status_of(open_(fs, "dir", "readme.txt", disp=D.CREATE)) == \
        S.STATUS_OBJECT_NAME_COLLISION
    h2, action = await fs.create(("DIR", "new"), D.OPEN_IF, directory=None, write=True)
    assert action == A.CREATED and h2.path == ("Dir", "new")


async def test_names_differing_only_in_case(make_fs: MakeFS) -> None:
    fs = make_fs(files={("ab",): b"lower", ("AB",): b"upper", ("Ab",): b"mixed"})
    assert await content(fs, "ab") == b"lower"  # an exact match always wins
    assert await content(fs, "AB") == b"upper"
    assert await content(fs, "Ab") == b"mixed"
    h = await open_(fs, "aB")  # no exact match: the first in sorted order
    assert h.path == ("AB",)
    assert await names(fs) == ["AB", "Ab", "ab"]


# --- rename and delete ---------------------------------------------------------------------


async def test_rename(make_fs: MakeFS) -> None:
    fs = make_fs(files={("a",): b"A", ("b",): b"B"}, dirs=(("d",),))
    h = await open_(fs, "a", write=True)
    await fs.rename(h, ("d", "a2"), replace=False)
    assert h.path == ("d", "a2")
    assert await fs.write(h, 1, memoryview(b"!")) == 1  # the handle follows the file
    assert await content(fs, "d", "a2") == b"A!"
    assert await names(fs) == ["b", "d"]
    assert await status_of(fs.rename(h, ("b",), replace=False)) == S.STATUS_OBJECT_NAME_COLLISION
    assert await status_of(fs.rename(h, ("B",), replace=False)) == S.STATUS_OBJECT_NAME_COLLISION
    assert await status_of(fs.rename(h, ("zz", "x"), replace=False)) == \
        S.STATUS_OBJECT_PATH_NOT_FOUND
    assert await status_of(fs.rename(h, ("d",), replace=True)) == S.STATUS_ACCESS_DENIED
    await fs.rename(h, ("B",), replace=True)  # replaces "b", keeps its on-disk spelling
    assert h.path == ("b",)
    assert await names(fs) == ["b", "d"]
    assert await content(fs, "b") == b"A!"
    await fs.rename(h, ("b",), replace=False)  # onto itself: a no-op
    await fs.rename(h, ("B",), replace=False)  # a change of case only
    assert h.path == ("B",) and await names(fs) == ["B", "d"]


async def test_rename_directory(make_fs: MakeFS) -> None:
    fs = make_fs(files={("d", "x"): b"x"}, dirs=(("d", "sub"),))
    d = await open_(fs, "d", directory=True, write=True)
    for target in (("d", "sub", "d"), ("D", "new"), ("d", "y")):
        assert await status_of(fs.rename(d, target, replace=False)) == S.STATUS_INVALID_PARAMETER
    await fs.rename(d, ("e",), replace=False)
    assert await content(fs, "e", "x") == b"x"
    assert await names(fs) == ["e"]


async def test_rename_stale_handle(make_fs: MakeFS) -> None:
    fs = make_fs(files={("a",): b"A"})
    h1 = await open_(fs, "a", write=True)
    h2 = await open_(fs, "a", write=True)
    await fs.rename(h1, ("b",), replace=False)
    assert await status_of(fs.rename(h2, ("c",), replace=False)) == S.STATUS_OBJECT_NAME_NOT_FOUND
    assert await status_of(fs.delete(h2)) == S.STATUS_OBJECT_NAME_NOT_FOUND
    assert await names(fs) == ["b"]


async def test_delete(make_fs: MakeFS) -> None:
    fs = make_fs(files={("d", "f"): b"x"}, dirs=(("e",),))
    d = await open_(fs, "d", directory=True, write=True)
    f = await open_(fs, "d", "f", write=True)
    assert await status_of(fs.can_delete(d)) == S.STATUS_DIRECTORY_NOT_EMPTY
    assert await status_of(fs.delete(d)) == S.STATUS_DIRECTORY_NOT_EMPTY
    await fs.can_delete(f)
    await fs.delete(f)
    assert bytes(await fs.read(f, 0, 10)) == b"x"  # an open handle outlives the name
    await fs.can_delete(d)
    await fs.delete(d)
    assert await names(fs) == ["e"]
    assert await status_of(fs.delete(f)) == S.STATUS_OBJECT_NAME_NOT_FOUND


# --- read-only share -----------------------------------------------------------------------


async def test_read_only_share(make_fs: MakeFS) -> None:
    fs = make_fs(read_only=True, files={("f",): b"data"}, dirs=(("d",),))
    assert fs.read_only
    for disp in D:
        for path in (("f",), ("new",)):
            assert await status_of(fs.create(path, disp, directory=None, write=True)) == \
                S.STATUS_ACCESS_DENIED
    for disp in (D.CREATE, D.SUPERSEDE, D.OVERWRITE, D.OVERWRITE_IF):
        assert await status_of(open_(fs, "f", disp=disp)) == S.STATUS_ACCESS_DENIED
    assert await status_of(open_(fs, "new", disp=D.OPEN_IF)) == S.STATUS_ACCESS_DENIED
    assert await status_of(open_(fs, "x", disp=D.OPEN_IF, directory=True)) == \
        S.STATUS_ACCESS_DENIED
    assert await status_of(open_(fs, "new")) == S.STATUS_OBJECT_NAME_NOT_FOUND
    h = await open_(fs, "f", disp=D.OPEN_IF)
    assert bytes(await fs.read(h, 0, 10)) == b"data"
    for aw in (fs.write(h, 0, memoryview(b"x")), fs.truncate(h, 0),
               fs.set_times(h, atime_ns=1, mtime_ns=1), fs.set_readonly(h, True),
               fs.rename(h, ("g",), replace=False), fs.delete(h), fs.can_delete(h)):
        assert await status_of(aw) == S.STATUS_ACCESS_DENIED
    assert await names(fs) == ["d", "f"]
    assert await content(fs, "f") == b"data"


async def test_fs_info(make_fs: MakeFS) -> None:
    fs = make_fs()
    info = await fs.fs_info()
    assert info.fs_name == "NTFS" and info.max_name_length == 255
    assert 0 <= info.free_bytes <= info.total_bytes and info.block_size > 0
    assert info.volume_serial == (await fs.fs_info()).volume_serial


# --- MemoryFS only -------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.t = 1_000

    def __call__(self) -> int:
        self.t += 1
        return self.t


async def test_memoryfs_clock_and_ids() -> None:
    clock = Clock()
    fs = MemoryFS(now_ns=clock)
    a = await open_(fs, "a", disp=D.CREATE, write=True)
    b = await open_(fs, "b", disp=D.CREATE, directory=True)
    sa, sb = await fs.stat(a), await fs.stat(b)
    assert 1 < sa.file_id < sb.file_id
    assert sa.btime_ns == sa.mtime_ns == sa.ctime_ns == sa.atime_ns
    await fs.write(a, 0, memoryview(b"x"))
    after = await fs.stat(a)
    assert after.mtime_ns == after.ctime_ns == clock.t and after.btime_ns == sa.btime_ns
    await fs.read(a, 0, 1)
    assert (await fs.stat(a)).atime_ns == sa.atime_ns  # reads leave atime alone
    await fs.set_readonly(a, True)
    ro = await fs.stat(a)
    assert ro.ctime_ns == clock.t and ro.mtime_ns == after.mtime_ns
    await fs.set_readonly(a, False)
    await fs.delete(a)
    c = await open_(fs, "a", disp=D.CREATE)
    assert (await fs.stat(c)).file_id > sb.file_id  # ids are never reused


async def test_memoryfs_capacity() -> None:
    fs = MemoryFS(capacity=100)
    h = await open_(fs, "f", disp=D.CREATE, write=True)
    await fs.write(h, 0, memoryview(bytes(60)))
    g = await open_(fs, "g", disp=D.CREATE, write=True)
    assert await status_of(fs.write(g, 0, memoryview(bytes(41)))) == S.STATUS_DISK_FULL
    assert await status_of(fs.truncate(g, 41)) == S.STATUS_DISK_FULL
    assert await status_of(fs.write(h, 1 << 40, memoryview(b"x"))) == S.STATUS_DISK_FULL
    await fs.write(g, 0, memoryview(bytes(40)))
    assert (await fs.fs_info()).free_bytes == 0
    await fs.delete(h)
    assert (await fs.fs_info()).free_bytes == 60
    await fs.write(h, 60, memoryview(b"still writable after delete"))  # not counted
    assert (await fs.fs_info()).free_bytes == 60


async def test_memoryfs_read_is_a_copy() -> None:
    fs = MemoryFS()
    fs.seed_file(("f",), b"abc")
    h = await open_(fs, "f", write=True)
    view = await fs.read(h, 0, 3)
    await fs.write(h, 0, memoryview(b"xyz"))
    assert bytes(view) == b"abc"
    fs.release(view)


async def test_memoryfs_foreign_handle() -> None:
    fs = MemoryFS()
    assert await status_of(fs.stat(object())) == S.STATUS_INVALID_HANDLE


# --- EAs, set times and DOS attributes (localfs rules 12, 13) -------------------------------


async def test_eas_round_trip_on_both(make_fs: MakeFS) -> None:
    fs = make_fs(files={("f",): b"data"})
    h = await open_(fs, "f", write=True)
    assert await fs.get_eas(h) == []
    await fs.set_eas(h, [("Alpha", b"1"), ("beta", b"22")])
    assert await fs.get_eas(h) == [("Alpha", b"1"), ("beta", b"22")]
    await fs.set_eas(h, [("ALPHA", b"")])
    assert await fs.get_eas(h) == [("beta", b"22")]
    assert (await fs.stat(h)).ea_size == 16  # 8 + len("beta") + 1 + 2, padded to 4
    assert await status_of(fs.set_eas(h, [("big", b"x" * 0x10000)])) == S.STATUS_EA_TOO_LARGE


async def test_set_creation_time_and_attributes_on_both(make_fs: MakeFS) -> None:
    fs = make_fs(files={("f",): b"data"})
    h = await open_(fs, "f", write=True)
    await fs.set_times(h, atime_ns=None, mtime_ns=None, btime_ns=7_000_000_000)
    await fs.set_attributes(h, 0x4)
    st = await fs.stat(h)
    assert (st.btime_ns, st.dos_attributes) == (7_000_000_000, 0x4)
    await fs.write(h, 0, memoryview(b"more"))
    st = await fs.stat(h)
    assert (st.btime_ns, st.dos_attributes) == (7_000_000_000, 0x24)  # ARCHIVE after a write


async def test_eas_refused_on_read_only_share(make_fs: MakeFS) -> None:
    fs = make_fs(read_only=True, files={("f",): b"data"})
    h = await open_(fs, "f")
    assert await status_of(fs.set_eas(h, [("a", b"1")])) == S.STATUS_ACCESS_DENIED
    assert await status_of(fs.set_attributes(h, 0x2)) == S.STATUS_ACCESS_DENIED
