"""LocalFS only: the path jail, symlinks, special files, races, errno mapping, buffers.

The behaviour shared with MemoryFS (dispositions, rename, delete, read-only shares, case
folding) is tested against both backends in test_memoryfs.py.

Not testable from here, noted for the record: a hard link inside the share to a file outside it
is served like any file (test_hard_link_is_served_as_a_file). Making one needs local access to
the share directory, and fs.protected_hardlinks limits it to files the linker owns.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nullsmb.backend import localfs as lfs_mod
from nullsmb.backend.base import CreateDisposition as D
from nullsmb.backend.localfs import BufferPool, LocalFS
from nullsmb.backend.path import split_path
from nullsmb.status import NtStatus, SmbError

S = NtStatus


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the share holding a secret nobody may reach."""
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret").write_bytes(b"SECRET")
    return out


@pytest.fixture
def share(tmp_path: Path) -> Path:
    root = tmp_path / "share"
    root.mkdir()
    (root / "dir").mkdir()
    (root / "dir" / "file").write_bytes(b"inside")
    (root / "top").write_bytes(b"top")
    return root


@pytest.fixture(params=["openat2", "walk"])
def fs(request: pytest.FixtureRequest, share: Path) -> Iterator[LocalFS]:
    backend = LocalFS(share, use_openat2=None if request.param == "openat2" else False)
    if request.param == "openat2" and not backend.uses_openat2:
        backend.shutdown()
        pytest.skip("openat2 unavailable here")
    yield backend
    backend.shutdown()


async def status_of(aw: Any) -> NtStatus:
    with pytest.raises(SmbError) as info:
        await aw
    return NtStatus(info.value.status)


async def open_name(fs: LocalFS, name: str, disp: D = D.OPEN, *, directory: bool | None = None,
                    write: bool = False) -> Any:
    """Through split_path, as the core does."""
    h, _ = await fs.create(split_path(name), disp, directory=directory, write=write)
    return h


async def listing(fs: LocalFS, *path: str) -> list[str]:
    h, _ = await fs.create(path, D.OPEN, directory=True, write=False)
    try:
        return [e.name for e in await fs.list_dir(h)]
    finally:
        await fs.close(h)


# --- escapes -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "status"), [
    ("..\\..\\etc\\passwd", S.STATUS_OBJECT_PATH_SYNTAX_BAD),
    ("..\\outside\\secret", S.STATUS_OBJECT_PATH_SYNTAX_BAD),
    ("dir\\..\\..\\outside\\secret", S.STATUS_OBJECT_PATH_SYNTAX_BAD),
    ("C:\\Windows", S.STATUS_OBJECT_NAME_INVALID),
    ("\\\\server\\share", S.STATUS_OBJECT_NAME_INVALID),
    ("/etc/passwd", S.STATUS_OBJECT_PATH_NOT_FOUND),  # share-relative: no "etc" in the share
    ("top:stream", S.STATUS_OBJECT_NAME_NOT_FOUND),
    ("CON", S.STATUS_OBJECT_NAME_INVALID),
    ("nul.txt", S.STATUS_OBJECT_NAME_INVALID),
    ("x" * 256, S.STATUS_OBJECT_NAME_INVALID),
])
async def test_escape_names(fs: LocalFS, outside: Path, name: str, status: NtStatus) -> None:
    assert await status_of(open_name(fs, name, D.OPEN_IF, write=True)) == status
    assert sorted(os.listdir(outside)) == ["secret"]


async def test_default_stream_is_the_file(fs: LocalFS) -> None:
    h = await open_name(fs, "top::$DATA")
    assert bytes(await fs.read(h, 0, 10)) == b"top"


async def test_raw_dotdot_components_never_reach_the_kernel(fs: LocalFS, outside: Path) -> None:
    for path in (("..", "outside", "secret"), ("dir", "..", "..", "outside"), ("..",)):
        for disp in (D.OPEN, D.OPEN_IF, D.CREATE):
            assert await status_of(fs.create(path, disp, directory=None, write=True)) == \
                S.STATUS_OBJECT_NAME_INVALID
    h = await open_name(fs, "top", write=True)
    assert await status_of(fs.rename(h, ("..", "stolen"), replace=False)) == \
        S.STATUS_OBJECT_NAME_INVALID
    assert sorted(os.listdir(outside)) == ["secret"]


async def test_long_utf8_name_is_invalid(fs: LocalFS) -> None:
    name = "\u00e9" * 200  # 200 UTF-16 units (valid for SMB), 400 UTF-8 bytes (not for Linux)
    assert await status_of(open_name(fs, name, D.CREATE)) == S.STATUS_OBJECT_NAME_INVALID


# --- symlinks ------------------------------------------------------------------------------


async def test_symlink_to_outside_directory(fs: LocalFS, share: Path, outside: Path) -> None:
    (share / "link").symlink_to(outside)
    for name in ("link\\secret", "link", "LINK\\secret", "link\\new"):
        for disp in (D.OPEN, D.OPEN_IF, D.CREATE):
            assert await status_of(open_name(fs, name, disp, write=True)) == S.STATUS_ACCESS_DENIED
    assert await status_of(open_name(fs, "link", directory=True)) == S.STATUS_ACCESS_DENIED
    assert sorted(os.listdir(outside)) == ["secret"]
    assert "link" not in await listing(fs)


async def test_symlink_inside_share(fs: LocalFS, share: Path) -> None:
    (share / "flink").symlink_to(share / "top")
    (share / "dlink").symlink_to("dir")
    (share / "dangling").symlink_to("nowhere")
    for name in ("flink", "dlink", "dlink\\file", "dangling"):
        assert await status_of(open_name(fs, name)) == S.STATUS_ACCESS_DENIED
    for disp in (D.SUPERSEDE, D.OVERWRITE_IF):
        assert await status_of(open_name(fs, "flink", disp, write=True)) == S.STATUS_ACCESS_DENIED
    assert await status_of(open_name(fs, "dangling", D.CREATE)) == S.STATUS_ACCESS_DENIED
    assert (share / "top").read_bytes() == b"top"
    assert not (share / "nowhere").exists()
    assert await listing(fs) == ["dir", "top"]


async def test_directory_swapped_for_symlink_between_operations(
        fs: LocalFS, share: Path, outside: Path) -> None:
    f = await open_name(fs, "dir\\file", write=True)
    (share / "dir").rename(share / "moved")
    (share / "dir").symlink_to(outside)
    assert await status_of(open_name(fs, "dir\\secret")) == S.STATUS_ACCESS_DENIED
    assert await status_of(open_name(fs, "dir\\new", D.CREATE, write=True)) == \
        S.STATUS_ACCESS_DENIED
    assert await status_of(fs.rename(f, ("stolen",), replace=False)) == S.STATUS_ACCESS_DENIED
    assert await status_of(fs.delete(f)) == S.STATUS_ACCESS_DENIED
    secret = await open_name(fs, "top", write=True)
    assert await status_of(fs.rename(secret, ("dir", "x"), replace=False)) == \
        S.STATUS_ACCESS_DENIED
    assert sorted(os.listdir(outside)) == ["secret"]
    assert bytes(await fs.read(f, 0, 10)) == b"inside"  # the fd still names the moved file


async def test_final_component_swapped_after_lookup(
        fs: LocalFS, share: Path, outside: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check (lstat) and the open race: O_NOFOLLOW + fstat on the opened fd close it."""
    real_find = LocalFS._find

    def racing_find(self: LocalFS, dir_fd: int, comp: str) -> Any:
        found = real_find(self, dir_fd, comp)
        (share / "top").unlink()
        if comp == "top":
            (share / "top").symlink_to(outside / "secret")
        return found

    monkeypatch.setattr(LocalFS, "_find", racing_find)
    assert await status_of(open_name(fs, "top", write=True)) == S.STATUS_ACCESS_DENIED
    assert (outside / "secret").read_bytes() == b"SECRET"


async def test_final_component_swapped_for_fifo(
        fs: LocalFS, share: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_find = LocalFS._find

    def racing_find(self: LocalFS, dir_fd: int, comp: str) -> Any:
        found = real_find(self, dir_fd, comp)
        (share / "top").unlink()
        os.mkfifo(share / "top")
        return found

    monkeypatch.setattr(LocalFS, "_find", racing_find)
    status = await asyncio.wait_for(status_of(open_name(fs, "top")), 5)  # never blocks
    assert status == S.STATUS_ACCESS_DENIED


# --- special files -------------------------------------------------------------------------


async def test_fifo_socket_device_refused_and_hidden(fs: LocalFS, share: Path) -> None:
    os.mkfifo(share / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(share / "sock"))
    specials = ["fifo", "sock"]
    try:
        os.mknod(share / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        specials.append("null")
    except PermissionError:
        pass
    try:
        for name in specials:
            for write in (False, True):
                aw = open_name(fs, name, D.OPEN_IF, write=write)
                assert await asyncio.wait_for(status_of(aw), 5) == S.STATUS_ACCESS_DENIED
            assert await status_of(open_name(fs, name, D.CREATE)) == S.STATUS_ACCESS_DENIED
        assert await listing(fs) == ["dir", "top"]
    finally:
        sock.close()


async def test_unusable_names_are_hidden(fs: LocalFS, share: Path) -> None:
    for bad in ("a:b", "trailing.", "space ", "CON", "back\\slash", "q?", b"\xff\xfe".decode(
            "utf-8", "surrogateescape")):
        (share / bad).write_bytes(b"")
    assert await listing(fs) == ["dir", "top"]
    h, _ = await fs.create(("only",), D.CREATE, directory=True, write=False)
    (share / "only" / "CON").write_bytes(b"")
    (share / "only" / "ln").symlink_to("/etc")
    assert await listing(fs, "only") == []
    assert await status_of(fs.can_delete(h)) == S.STATUS_DIRECTORY_NOT_EMPTY


async def test_hard_link_is_served_as_a_file(fs: LocalFS, share: Path, outside: Path) -> None:
    os.link(outside / "secret", share / "hard")
    h = await open_name(fs, "hard")
    st = await fs.stat(h)
    assert st.nlink == 2  # visible to the core, not refused by the backend (module docstring)


# --- case folding on a case-sensitive disk --------------------------------------------------


async def test_case_insensitive_walk(fs: LocalFS, share: Path) -> None:
    (share / "Docs" / "Sub").mkdir(parents=True)
    (share / "Docs" / "Sub" / "Report.TXT").write_bytes(b"r")
    h = await open_name(fs, "docs\\SUB\\report.txt")
    assert h.path == ("Docs", "Sub", "Report.TXT")
    (share / "docs").mkdir()  # now an exact match exists for the first component
    assert await status_of(open_name(fs, "docs\\SUB\\report.txt")) == \
        S.STATUS_OBJECT_PATH_NOT_FOUND


# --- modes, read-only share, fds, errno -----------------------------------------------------


async def test_modes_ignore_umask(fs: LocalFS, share: Path) -> None:
    old = os.umask(0o077)
    try:
        await open_name(fs, "f", D.CREATE, write=True)
        await open_name(fs, "d", D.CREATE, directory=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE((share / "f").stat().st_mode) == 0o644
    assert stat.S_IMODE((share / "d").stat().st_mode) == 0o755


async def test_set_readonly_bits(fs: LocalFS, share: Path) -> None:
    os.chmod(share / "top", 0o664)
    h = await open_name(fs, "top", write=True)
    await fs.set_readonly(h, True)
    assert stat.S_IMODE((share / "top").stat().st_mode) == 0o444
    await fs.set_readonly(h, False)
    assert stat.S_IMODE((share / "top").stat().st_mode) == 0o644


async def test_read_only_share_leaves_disk_alone(share: Path) -> None:
    before = sorted(p.name for p in share.rglob("*"))
    ro = LocalFS(share, read_only=True)
    try:
        for disp in D:
            with pytest.raises(SmbError):
                await ro.create(("new",), disp, directory=None, write=True)
        h, _ = await ro.create(("top",), D.OPEN, directory=None, write=False)
        assert bytes(await ro.read(h, 0, 10)) == b"top"
    finally:
        ro.shutdown()
    assert sorted(p.name for p in share.rglob("*")) == before


async def test_close_waits_for_inflight_read(fs: LocalFS, share: Path) -> None:
    (share / "big").write_bytes(os.urandom(4 << 20))
    h = await open_name(fs, "big")
    task = asyncio.create_task(fs.read(h, 0, 4 << 20))
    await asyncio.sleep(0)  # the read is now in the executor
    await fs.close(h)
    assert h.closed and h.busy >= 1 and h.fd >= 0  # deferred: the job still reads the fd
    view = await task
    assert len(view) == 4 << 20 and h.fd == -1
    fs.release(view)
    assert await status_of(fs.read(h, 0, 1)) == S.STATUS_FILE_CLOSED


async def test_cancelled_read_keeps_fd_until_job_ends(
        fs: LocalFS, share: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (share / "big").write_bytes(b"b" * (1 << 20))
    started, go = threading.Event(), threading.Event()
    real = lfs_mod._pread_into

    def slow_pread(fd: int, view: memoryview, offset: int) -> int:
        started.set()
        go.wait(5)
        return real(fd, view, offset)

    monkeypatch.setattr(lfs_mod, "_pread_into", slow_pread)
    h = await open_name(fs, "big")
    task = asyncio.create_task(fs.read(h, 0, 1 << 20))
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await fs.close(h)
    assert h.fd >= 0 and h.busy == 1  # the worker still reads from it
    go.set()
    for _ in range(100):
        if h.fd == -1:
            break
        await asyncio.sleep(0.01)
    assert h.fd == -1 and h.busy == 0


async def test_many_handles_close_their_fds(fs: LocalFS) -> None:
    before = len(os.listdir("/proc/self/fd"))
    handles = [await open_name(fs, "dir\\file") for _ in range(50)]
    for h in handles:
        await fs.close(h)
    await fs.rename(await open_name(fs, "top", write=True), ("top2",), replace=False)
    assert len(os.listdir("/proc/self/fd")) <= before + 1


async def test_rename_without_renameat2(fs: LocalFS, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lfs_mod, "_renameat2", None)
    h = await open_name(fs, "top", write=True)
    assert await status_of(fs.rename(h, ("dir",), replace=False)) == \
        S.STATUS_OBJECT_NAME_COLLISION
    await fs.rename(h, ("dir", "top"), replace=False)
    assert h.path == ("dir", "top")


@pytest.mark.parametrize(("code", "status"), [
    (errno.ENOENT, S.STATUS_OBJECT_NAME_NOT_FOUND),
    (errno.ENOTDIR, S.STATUS_OBJECT_PATH_NOT_FOUND),
    (errno.EEXIST, S.STATUS_OBJECT_NAME_COLLISION),
    (errno.EACCES, S.STATUS_ACCESS_DENIED),
    (errno.EPERM, S.STATUS_ACCESS_DENIED),
    (errno.ELOOP, S.STATUS_ACCESS_DENIED),
    (errno.ENOSPC, S.STATUS_DISK_FULL),
    (errno.EDQUOT, S.STATUS_DISK_FULL),
    (errno.EISDIR, S.STATUS_FILE_IS_A_DIRECTORY),
    (errno.ENOTEMPTY, S.STATUS_DIRECTORY_NOT_EMPTY),
    (errno.EROFS, S.STATUS_MEDIA_WRITE_PROTECTED),
    (errno.ENAMETOOLONG, S.STATUS_OBJECT_NAME_INVALID),
    (errno.EMFILE, S.STATUS_TOO_MANY_OPENED_FILES),
    (errno.ENFILE, S.STATUS_INSUFFICIENT_RESOURCES),
    (errno.EXDEV, S.STATUS_NOT_SUPPORTED),
    (errno.EINVAL, S.STATUS_INVALID_PARAMETER),
    (errno.EIO, S.STATUS_UNSUCCESSFUL),  # unmapped: logged
])
def test_errno_table(code: int, status: NtStatus) -> None:
    err = lfs_mod._smb_error(OSError(code, os.strerror(code)), "test")
    assert err.status == status


def test_buffer_pool() -> None:
    pool = BufferPool(per_class=1)
    a = pool.take(100_000)
    assert len(a) == BufferPool.MIN_CLASS
    b = pool.take(BufferPool.MIN_CLASS + 1)
    assert len(b) == 2 * BufferPool.MIN_CLASS
    pool.give(a)
    assert pool.take(70_000) is a
    big = pool.take(BufferPool.MAX_CLASS + 1)
    assert len(big) == BufferPool.MAX_CLASS + 1
    pool.give(big)
    pool.give(bytearray(BufferPool.MIN_CLASS))  # foreign buffers are never adopted
    assert pool.take(1) is not big


async def test_release_refuses_exported_buffer(fs: LocalFS, share: Path) -> None:
    (share / "big").write_bytes(b"z" * (200 << 10))
    h = await open_name(fs, "big")
    view = await fs.read(h, 0, 200 << 10)
    inner = view[:10]  # a lingering slice: the buffer must not be recycled under it
    fs.release(view)
    nxt = await fs.read(h, 0, 200 << 10)
    assert nxt.obj is not inner.obj
    buf = nxt.obj
    fs.release(nxt)  # nothing else holds it: recycled
    again = await fs.read(h, 0, 150 << 10)
    assert again.obj is buf and bytes(again) == b"z" * (150 << 10)


def test_missing_root_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        LocalFS(tmp_path / "nope")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        LocalFS(tmp_path / "file")


# --- extended attributes: EAs, set times, DOS attributes (rules 12, 13) -----------------------


async def test_eas_are_user_xattrs(fs: LocalFS, share: Path) -> None:
    h = await open_name(fs, "top", write=True)
    await fs.set_eas(h, [("EAONE", b"VALUE1"), ("Second", b"xy")])
    assert sorted(os.listxattr(share / "top")) == ["user.EAONE", "user.Second"]
    assert await fs.get_eas(h) == [("EAONE", b"VALUE1"), ("Second", b"xy")]
    assert (await fs.stat(h)).ea_size == 20 + 20  # two FILE_FULL_EA_INFORMATION entries, 4-aligned
    await fs.set_eas(h, [("second", b"")])  # names compare case-insensitively; empty removes
    assert await fs.get_eas(h) == [("EAONE", b"VALUE1")]
    await fs.set_eas(h, [("eaone", b"v2")])  # a new spelling replaces the old one
    assert await fs.get_eas(h) == [("eaone", b"v2")]


async def test_private_xattrs_are_not_eas(fs: LocalFS, share: Path) -> None:
    os.setxattr(share / "top", "user.DOSATTRIB", b"samba")
    h = await open_name(fs, "top", write=True)
    await fs.set_sparse(h, True)
    await fs.set_times(h, atime_ns=None, mtime_ns=None, btime_ns=10**18)
    assert await fs.get_eas(h) == []
    assert (await fs.stat(h)).ea_size == 0


async def test_eas_over_64k_are_refused_whole(fs: LocalFS) -> None:
    h = await open_name(fs, "top", write=True)
    assert await status_of(fs.set_eas(h, [("a", b"x" * 40000), ("b", b"y" * 40000)])) == S.STATUS_EA_TOO_LARGE
    assert await fs.get_eas(h) == []


async def test_eas_on_a_readonly_file(fs: LocalFS, share: Path) -> None:
    h = await open_name(fs, "top", write=True)
    await fs.set_readonly(h, True)
    await fs.set_eas(h, [("K", b"v")])
    assert await fs.get_eas(h) == [("K", b"v")]
    assert stat.S_IMODE((share / "top").stat().st_mode) & 0o222 == 0  # still READONLY


async def test_creation_time_is_kept_change_time_until_data_changes(fs: LocalFS) -> None:
    h = await open_name(fs, "top", write=True)
    await fs.set_times(h, atime_ns=None, mtime_ns=None, btime_ns=1_000_000_000, ctime_ns=2_000_000_000)
    st = await fs.stat(h)
    assert (st.btime_ns, st.ctime_ns) == (1_000_000_000, 2_000_000_000)
    await fs.set_times(h, atime_ns=None, mtime_ns=5_000_000_000)  # setting times is no data change
    st = await fs.stat(h)
    assert (st.btime_ns, st.ctime_ns, st.mtime_ns) == (1_000_000_000, 2_000_000_000, 5_000_000_000)
    await fs.write(h, 0, memoryview(b"new data"))
    st = await fs.stat(h)
    assert st.btime_ns == 1_000_000_000 and st.ctime_ns != 2_000_000_000


async def test_dos_attributes_get_archive_back_on_a_data_change(fs: LocalFS) -> None:
    h = await open_name(fs, "top", write=True)
    assert (await fs.stat(h)).dos_attributes is None
    await fs.set_attributes(h, 0x2 | 0x4 | 0x10)  # HIDDEN|SYSTEM; DIRECTORY is not settable
    assert (await fs.stat(h)).dos_attributes == 0x6
    await fs.set_attributes(h, 0)
    assert (await fs.stat(h)).dos_attributes == 0
    await fs.write(h, 0, memoryview(b"x"))
    assert (await fs.stat(h)).dos_attributes == 0x20


async def test_listing_shows_set_times_attributes_and_ea_size(fs: LocalFS) -> None:
    h = await open_name(fs, "dir\\file", write=True)
    await fs.set_times(h, atime_ns=None, mtime_ns=None, btime_ns=3_000_000_000)
    await fs.set_attributes(h, 0x2)
    await fs.set_eas(h, [("E", b"1")])
    d = await open_name(fs, "dir", directory=True)
    [entry] = await fs.list_dir(d)
    assert (entry.stat.btime_ns, entry.stat.dos_attributes, entry.stat.ea_size) == (3_000_000_000, 0x2, 12)
