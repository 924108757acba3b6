"""A share backed by a directory on a local Linux file system (the ``Backend`` of ``base.py``).

Rules:
1. Jail: the root is opened once (O_PATH|O_DIRECTORY). Every path is resolved beneath that fd,
   with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS) when the kernel has
   it, else one ``openat(O_PATH|O_NOFOLLOW)`` per component, each checked with fstat. No path
   string is ever handed to the kernel from ``/``; components are re-validated here
   (``path.is_valid_name``) as defence in depth.
2. Symlinks are never followed, wherever they sit (even pointing inside the share): opening one
   or walking through one -> ACCESS_DENIED. FIFOs, sockets and device nodes -> ACCESS_DENIED too;
   the final open carries O_NOFOLLOW|O_NONBLOCK|O_NOCTTY and its fstat must show a regular file
   or a directory, so an entry swapped in mid-request can neither escape nor block us.
   Hard links cannot be detected as escapes: making one to an outside file needs local access
   (and fs.protected_hardlinks limits it to files the linker owns); mount shares ``nodev``.
3. Listings skip symlinks, special files and names no client could open (``is_valid_name``
   fails); a directory holding only such entries is still DIRECTORY_NOT_EMPTY on delete.
4. Case-insensitive lookup (Windows clients, MS-FSA 2.1.5.1): an exact miss scans the parent for
   ``casefold()`` matches and takes the first in sorted order. Handles record the on-disk names.
5. A read-only share refuses every write intent and every creation with ACCESS_DENIED (what
   Samba and Windows answer for a share without write rights), before touching the disk.
6. FILE_ATTRIBUTE_READONLY is the absence of the owner write bit (MS-FSCC 2.6). A READONLY file
   opened with ``write`` gets a handle whose data writes fail with ACCESS_DENIED (attribute,
   time and rename changes still work); truncating dispositions on it -> ACCESS_DENIED;
   deleting it -> CANNOT_DELETE (MS-FSA 2.1.5.14.3). Directories ignore the bit.
7. errno is translated in one place (``_ERRNO_STATUS``); unknown errnos -> UNSUCCESSFUL with a
   log line. Handlers never see OSError.
8. Reads and writes up to 64 KiB run inline; larger ones, fsync and listings run in the executor.
   Reads above 64 KiB land in pooled buffers: the caller hands the view back with ``release``
   after sending. A buffer is recycled only once no memoryview of it is alive anywhere (a
   lingering slice or a transport still holding it keeps it out of the pool); not releasing
   only costs the pool a buffer.
9. A handle's fd is closed only when no request and no executor job uses it (``close`` during
   a read defers the close; so does a cancelled request whose job still runs), so a recycled
   fd number can never be touched by a stale job.
10. Handles follow their own renames (``path`` is updated); a rename of a parent through another
   handle leaves the path stale and later rename/delete report OBJECT_NAME_NOT_FOUND.
11. FILE_ATTRIBUTE_SPARSE_FILE is the extended attribute ``user.nullsmb.sparse``; zeroing a
   range of a sparse file punches a hole (fallocate PUNCH_HOLE|KEEP_SIZE), of any other file
   writes zeros; allocated ranges of a sparse file come from SEEK_DATA/SEEK_HOLE.
12. Creation and change times and DOS attributes set by a client live in ``user.nullsmb.times``
   (Linux keeps none of them): the creation time for good; the change time while the file's
   mtime is the one it was set with (a later data change shows the real ctime again); the
   attributes for good, ARCHIVE added once the data changed (as Windows sets it on a write;
   no write pays for it). Without user xattrs they are accepted and not kept.
13. EAs (MS-FSCC 2.4.15) are the ``user.<name>`` extended attributes (Samba's mapping), except
   ``user.nullsmb.*`` and Samba's private DOSATTRIB/DosStream/SAMBA_PAI. At most 64 KiB of
   them a file. ``stat`` and listings read the xattrs with one listxattr per file (listings
   open each entry beneath the directory fd, O_NOFOLLOW) so EaSize and set times show.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import platform
import stat as st_mod
import struct
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from ..status import NtStatus, SmbError
from .base import (
    ARCHIVE,
    SETTABLE_ATTRIBUTES,
    CreateAction,
    CreateDisposition,
    DirEntry,
    FileStat,
    FsInfo,
    ea_entry_size,
)
from .path import is_valid_name

__all__ = ["BufferPool", "LocalFS", "LocalHandle"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
S = NtStatus

INLINE_LIMIT = 64 * 1024
_MAX_OFFSET = (1 << 63) - 1
_RACE_RETRIES = 3

_O_PATH_ANY = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_O_PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_O_READ_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_O_FINAL = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY

_ERRNO_STATUS: dict[int, NtStatus] = {
    errno.ENOENT: S.STATUS_OBJECT_NAME_NOT_FOUND, errno.ENOTDIR: S.STATUS_OBJECT_PATH_NOT_FOUND,
    errno.EEXIST: S.STATUS_OBJECT_NAME_COLLISION, errno.EISDIR: S.STATUS_FILE_IS_A_DIRECTORY,
    errno.EACCES: S.STATUS_ACCESS_DENIED, errno.EPERM: S.STATUS_ACCESS_DENIED,
    errno.ELOOP: S.STATUS_ACCESS_DENIED,  # O_NOFOLLOW met a symlink
    errno.EBUSY: S.STATUS_ACCESS_DENIED,  # e.g. rmdir of a mount point
    errno.ETXTBSY: S.STATUS_SHARING_VIOLATION, errno.ENOTEMPTY: S.STATUS_DIRECTORY_NOT_EMPTY,
    errno.ENOSPC: S.STATUS_DISK_FULL, errno.EDQUOT: S.STATUS_DISK_FULL,
    errno.EFBIG: S.STATUS_DISK_FULL, errno.EROFS: S.STATUS_MEDIA_WRITE_PROTECTED,
    errno.ENAMETOOLONG: S.STATUS_OBJECT_NAME_INVALID, errno.EMFILE: S.STATUS_TOO_MANY_OPENED_FILES,
    errno.ENFILE: S.STATUS_INSUFFICIENT_RESOURCES, errno.ENOMEM: S.STATUS_INSUFFICIENT_RESOURCES,
    errno.EXDEV: S.STATUS_NOT_SUPPORTED, errno.EBADF: S.STATUS_INVALID_HANDLE,
    errno.EINVAL: S.STATUS_INVALID_PARAMETER, errno.EOVERFLOW: S.STATUS_INVALID_PARAMETER,
}


def _smb_error(err: OSError, what: str) -> SmbError:
    status = _ERRNO_STATUS.get(err.errno or 0)
    if status is None:
        _log.warning("localfs %s: unmapped %s", what, err)
        status = S.STATUS_UNSUCCESSFUL
    return SmbError(status, f"{what}: {err.strerror or err}")


@contextlib.contextmanager
def _oserrors(what: str) -> Iterator[None]:
    """The single errno boundary (rule 7)."""
    try:
        yield
    except OSError as err:
        raise _smb_error(err, what) from err


@contextlib.contextmanager
def _owned(fd: int) -> Iterator[int]:
    """Close ``fd`` when the block ends, however it ends."""
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def _close_on_error(fd: int) -> Iterator[None]:
    """Close ``fd`` only if the block fails (it is being handed to the caller otherwise)."""
    ok = False
    try:
        yield
        ok = True
    finally:
        if not ok:
            os.close(fd)


# --- openat2 / renameat2 through ctypes (rule 1) ---------------------------------------------

_RESOLVE_NO_MAGICLINKS, _RESOLVE_NO_SYMLINKS, _RESOLVE_BENEATH = 0x02, 0x04, 0x08
_RENAME_NOREPLACE = 1
_NR_OPENAT2 = {"x86_64": 437, "aarch64": 437, "arm64": 437}.get(platform.machine())


class _OpenHow(ctypes.Structure):
    _fields_ = [(f, ctypes.c_uint64) for f in ("flags", "mode", "resolve")]


try:
    _libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None
_syscall = getattr(_libc, "syscall", None)
if _syscall is not None:
    _syscall.restype = ctypes.c_long
_renameat2 = getattr(_libc, "renameat2", None)
if _renameat2 is not None:
    _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                           ctypes.c_uint]
    _renameat2.restype = ctypes.c_int


def _openat2(dir_fd: int, path: str, flags: int) -> int:
    """openat2(2) confined beneath ``dir_fd`` with no symlinks at all; raises OSError."""
    if _syscall is None or _NR_OPENAT2 is None:
        raise OSError(errno.ENOSYS, "openat2 unavailable")
    how = _OpenHow(flags, 0, _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS)
    fd = _syscall(ctypes.c_long(_NR_OPENAT2), ctypes.c_int(dir_fd),
                  ctypes.c_char_p(os.fsencode(path)), ctypes.byref(how),
                  ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return int(fd)


# Errors after which the component walk retries to classify precisely or match case-insensitively.
_WALK_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EAGAIN, errno.EXDEV,
                          errno.ENAMETOOLONG})


# --- buffers and executor (rule 8) -----------------------------------------------------------


class _PooledBuffer(bytearray):
    """Marks a bytearray as the pool's, so ``release`` never adopts a foreign buffer."""

    __slots__ = ()


class BufferPool:
    """Free lists of bytearrays in power-of-two size classes from 128 KiB to 8 MiB."""

    MIN_CLASS = 128 * 1024
    MAX_CLASS = 8 * 1024 * 1024

    def __init__(self, per_class: int = 4) -> None:
        self._free: dict[int, list[_PooledBuffer]] = {}
        self._per_class = per_class
        self._lock = threading.Lock()

    def take(self, length: int) -> bytearray:
        if length > self.MAX_CLASS:
            return bytearray(length)
        size = max(self.MIN_CLASS, 1 << (length - 1).bit_length())
        with self._lock:
            free = self._free.get(size)
            if free:
                return free.pop()
        return _PooledBuffer(size)

    def give(self, buf: object) -> None:
        """Recycle ``buf`` if it is ours and no memoryview of it is left anywhere."""
        if type(buf) is not _PooledBuffer:
            return
        try:  # a live export makes any resize raise; shrinking by one byte never reallocates
            buf.append(buf.pop())
        except BufferError:
            return
        with self._lock:
            free = self._free.setdefault(len(buf), [])
            if len(free) < self._per_class:
                free.append(buf)


_default_executor: Executor | None = None
_default_lock = threading.Lock()


def _shared_executor() -> Executor:
    global _default_executor
    with _default_lock:
        if _default_executor is None:
            _default_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="nullsmb-io")
        return _default_executor


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    got = 0
    while got < len(view):
        n = os.preadv(fd, [view[got:]], offset + got)
        if n == 0:
            break
        got += n
    return got


def _pwrite_all(fd: int, view: memoryview, offset: int) -> None:
    while view:
        n = os.pwrite(fd, view, offset)
        if n <= 0:
            raise OSError(errno.ENOSPC, "short write")
        view, offset = view[n:], offset + n


# --- handles --------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class LocalHandle:
    """An open file or directory. Mutable on purpose: ``path`` follows renames (rule 10)."""

    path: tuple[str, ...]  # on-disk names, share-relative
    is_dir: bool
    fd: int  # O_RDONLY / O_RDWR regular file, or O_RDONLY|O_DIRECTORY
    writable: bool  # data writes and truncation allowed (rule 6)
    dev: int
    ino: int
    busy: int = 0  # executor jobs using ``fd`` (rule 9)
    closed: bool = False

    @property
    def parent(self) -> tuple[str, ...]:
        return self.path[:-1]


def _check_path(path: tuple[str, ...]) -> None:
    """Rule 1's defence in depth: every component must be a plain, valid name."""
    for comp in path:
        if not isinstance(comp, str) or not is_valid_name(comp):
            raise SmbError(S.STATUS_OBJECT_NAME_INVALID, "invalid path component")


def _denied(msg: str) -> SmbError:
    return SmbError(S.STATUS_ACCESS_DENIED, msg)


@dataclass(frozen=True, slots=True)
class _Meta:
    """What the extended attributes add to a stat (rules 11-13)."""

    sparse: bool = False
    btime_ns: int = -1  # a creation time set by a client, -1: none
    ctime_ns: int = -1  # a change time set by a client ...
    ctime_mtime: int = -1  # ... valid while the mtime is still this one
    ea_size: int = 0
    attrs: int = -1  # DOS attributes a client set, -1: none (rule 12)


_NO_META = _Meta()


def _to_stat(st: os.stat_result, name: str, meta: _Meta = _NO_META) -> FileStat:
    """btime: a client-set creation time (rule 12), else (Python 3.11 has no statx) the oldest
    known time stands in for creation."""
    d = st_mod.S_ISDIR(st.st_mode)
    btime = meta.btime_ns if meta.btime_ns >= 0 else min(st.st_mtime_ns, st.st_ctime_ns)
    unchanged = meta.ctime_mtime == st.st_mtime_ns
    ctime = meta.ctime_ns if meta.ctime_ns >= 0 and unchanged else st.st_ctime_ns
    attrs = None
    if meta.attrs >= 0:
        attrs = meta.attrs | (0 if unchanged or d else ARCHIVE)
    return FileStat(d, 0 if d else st.st_size, 0 if d else st.st_blocks * 512, st.st_atime_ns,
                    st.st_mtime_ns, ctime, btime,
                    file_id=st.st_ino, nlink=st.st_nlink, readonly=not st.st_mode & 0o200,
                    hidden=name.startswith("."), sparse=meta.sparse and not d, ea_size=meta.ea_size,
                    dos_attributes=attrs)


SPARSE_XATTR = "user.nullsmb.sparse"  # rule 11
TIMES_XATTR = "user.nullsmb.times"  # rule 12
EA_PREFIX = "user."  # rule 13
_PRIVATE_XATTRS = ("user.nullsmb.", "user.DOSATTRIB", "user.DosStream.", "user.SAMBA_PAI")
_TIMES = struct.Struct("<qqqq")  # btime, ctime, the mtime they go with, DOS attributes (-1: none)
_TIMES_V1 = struct.Struct("<qqq")
_MAX_EAS = 0xFFFF  # bytes of packed FILE_FULL_EA_INFORMATION a file may carry (rule 13)


def _is_ea(xname: str) -> bool:
    return xname.startswith(EA_PREFIX) and not xname.startswith(_PRIVATE_XATTRS)


def _read_meta(fd: int) -> _Meta:
    """One listxattr; the attributes present are read (rules 11-13). No xattrs: no cost more."""
    try:
        names = os.listxattr(fd)
    except OSError:
        return _NO_META  # a file system without user xattrs
    if not names:
        return _NO_META
    sparse, times, ea = False, (-1, -1, -1, -1), 0
    for n in names:
        try:
            if n == SPARSE_XATTR:
                sparse = os.getxattr(fd, n) == b"1"
            elif n == TIMES_XATTR:
                raw = os.getxattr(fd, n)
                if len(raw) == _TIMES.size:
                    times = _TIMES.unpack(raw)
                elif len(raw) == _TIMES_V1.size:
                    times = (*_TIMES_V1.unpack(raw), -1)
            elif _is_ea(n):
                ea += ea_entry_size(len(n) - len(EA_PREFIX), len(os.getxattr(fd, n)))
        except OSError:
            continue  # removed meanwhile
    return _Meta(sparse, times[0], times[1], times[2], ea, times[3])


def _setxattr_owned(fd: int, name: str, value: bytes | None) -> None:
    """Set (or remove, None) a user xattr even on a READONLY file: the missing owner write bit
    (rule 6) is lifted for the call and put back."""
    def apply() -> None:
        if value is None:
            try:
                os.removexattr(fd, name)
            except OSError as err:
                if err.errno != errno.ENODATA:
                    raise
        else:
            os.setxattr(fd, name, value)
    try:
        apply()
    except PermissionError:
        mode = st_mod.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o200:
            raise
        os.fchmod(fd, mode | 0o200)
        try:
            apply()
        finally:
            os.fchmod(fd, mode)
_FALLOC_FL_KEEP_SIZE, _FALLOC_FL_PUNCH_HOLE = 0x01, 0x02
_fallocate = getattr(_libc, "fallocate", None)
if _fallocate is not None:
    _fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    _fallocate.restype = ctypes.c_int


def _is_sparse(fd: int) -> bool:
    try:
        return os.getxattr(fd, SPARSE_XATTR) == b"1"
    except OSError:
        return False  # no such attribute, or a file system without user xattrs


def _punch(fd: int, offset: int, length: int) -> None:
    """fallocate(PUNCH_HOLE|KEEP_SIZE); raises OSError where unsupported."""
    if _fallocate is None:
        raise OSError(errno.EOPNOTSUPP, "fallocate unavailable")
    if _fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def _data_ranges(fd: int, start: int, end: int) -> list[tuple[int, int]]:
    """SEEK_DATA/SEEK_HOLE walk of [start, end)."""
    out: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        try:
            data = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as err:
            if err.errno == errno.ENXIO:
                break  # no data after pos
            raise
        if data >= end:
            break
        hole = min(os.lseek(fd, data, os.SEEK_HOLE), end)
        out.append((data, hole - data))
        pos = hole
    return out


_TRUNCATING = frozenset({CreateDisposition.SUPERSEDE, CreateDisposition.OVERWRITE,
                         CreateDisposition.OVERWRITE_IF})


class LocalFS:
    """One share rooted at a local directory (module rules 1-10)."""

    def __init__(self, root: str | os.PathLike[str], *, read_only: bool = False,
                 executor: Executor | None = None, file_mode: int = 0o644,
                 dir_mode: int = 0o755, use_openat2: bool | None = None) -> None:
        """Open ``root`` (OSError here is a configuration error). ``use_openat2``: None probes."""
        self.read_only = read_only
        self._executor = executor
        self._file_mode = file_mode
        self._dir_mode = dir_mode
        self._pool = BufferPool()
        self._lock = threading.Lock()  # guards LocalHandle.busy/fd across worker threads
        self._root_fd = os.open(os.fspath(root), _O_PATH_DIR)
        if use_openat2 is None:
            try:
                os.close(_openat2(self._root_fd, ".", _O_PATH_DIR))
                use_openat2 = True
            except OSError:  # ENOSYS (old kernel) or EPERM (seccomp filter)
                use_openat2 = False
        self.uses_openat2 = use_openat2

    def shutdown(self) -> None:
        """Close the root fd; open handles keep working until closed."""
        if self._root_fd >= 0:
            os.close(self._root_fd)
            self._root_fd = -1

    # --- resolution (rules 1, 2, 4) ---

    def _open_dir(self, comps: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
        """O_PATH fd of directory ``comps`` and its on-disk names; the caller closes the fd."""
        _check_path(comps)
        if comps and self.uses_openat2:
            try:
                return _openat2(self._root_fd, "/".join(comps), _O_PATH_DIR), comps
            except OSError as err:
                if err.errno not in _WALK_ERRNOS:
                    raise
        fd = os.open(".", _O_PATH_DIR, dir_fd=self._root_fd)
        names: list[str] = []
        ok = False
        try:
            for comp in comps:
                name = comp
                try:
                    nfd = os.open(comp, _O_PATH_ANY, dir_fd=fd)
                except FileNotFoundError:
                    name = self._casefold_match(fd, comp) or ""
                    if not name:
                        raise SmbError(S.STATUS_OBJECT_PATH_NOT_FOUND, "no such dir") from None
                    nfd = os.open(name, _O_PATH_ANY, dir_fd=fd)
                os.close(fd)
                fd = nfd
                mode = os.fstat(fd).st_mode
                if st_mod.S_ISREG(mode):
                    raise SmbError(S.STATUS_OBJECT_PATH_NOT_FOUND, "a file inside a path")
                if not st_mod.S_ISDIR(mode):
                    raise _denied("symlink or special file in a path")
                names.append(name)
            ok = True
        finally:
            if not ok:
                os.close(fd)
        return fd, tuple(names)

    @staticmethod
    def _casefold_match(dir_fd: int, comp: str) -> str | None:
        """The first (sorted) valid entry equal to ``comp`` under casefold(), if any (rule 4)."""
        folded = comp.casefold()
        try:
            with _owned(os.open(".", _O_READ_DIR, dir_fd=dir_fd)) as sfd, os.scandir(sfd) as it:
                hits = sorted(e.name for e in it if e.name.casefold() == folded)
        except PermissionError:
            return None
        return next((h for h in hits if is_valid_name(h)), None)

    def _find(self, dir_fd: int, comp: str) -> tuple[str, os.stat_result | None]:
        """(on-disk name, lstat) of ``comp`` in ``dir_fd``, or (comp, None) when absent."""
        for name in (comp, self._casefold_match(dir_fd, comp)):
            if name is None:
                break
            try:
                return name, os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                pass
        return comp, None

    @staticmethod
    def _open_final(dir_fd: int, name: str, is_dir: bool,
                    writable: bool) -> tuple[int, os.stat_result]:
        """Open the last component without following anything; only files and dirs (rule 2)."""
        if is_dir:
            flags = os.O_RDONLY | os.O_DIRECTORY
        else:
            flags = os.O_RDWR if writable else os.O_RDONLY
        fd = os.open(name, flags | _O_FINAL, dir_fd=dir_fd)
        with _close_on_error(fd):
            st = os.fstat(fd)
            if not (st_mod.S_ISDIR if is_dir else st_mod.S_ISREG)(st.st_mode):
                raise _denied("not a regular file or directory")
            if not is_dir:
                os.set_blocking(fd, True)
        return fd, st

    # --- handle bookkeeping (rules 7, 9) ---

    @contextlib.contextmanager
    def _using(self, handle: object, what: str) -> Iterator[LocalHandle]:
        """Pin the handle's fd for the duration (rule 9) and translate errno (rule 7)."""
        if not isinstance(handle, LocalHandle):
            raise SmbError(S.STATUS_INVALID_HANDLE, "not a LocalFS handle")
        if handle.closed:
            raise SmbError(S.STATUS_FILE_CLOSED, "handle closed")
        self._pin(handle)
        try:
            with _oserrors(what):
                yield handle
        finally:
            self._unpin(handle)

    def _pin(self, h: LocalHandle) -> None:
        with self._lock:
            h.busy += 1

    def _unpin(self, h: LocalHandle) -> None:
        """Drop one use; the last one out closes a closed handle's fd (also from workers)."""
        with self._lock:
            h.busy -= 1
            fd = h.fd if h.closed and h.busy == 0 else -1
            if fd >= 0:
                h.fd = -1
        if fd >= 0:
            os.close(fd)

    async def _offload(self, h: LocalHandle, fn: Callable[..., _T], *args: object) -> _T:
        """Run ``fn`` in the executor, pinning ``h`` until the job ends, even if we are
        cancelled meanwhile (the worker thread keeps using the fd)."""
        self._pin(h)
        ok = False
        try:
            job = (self._executor or _shared_executor()).submit(fn, *args)
            ok = True
        finally:
            if not ok:
                self._unpin(h)
        job.add_done_callback(lambda _job: self._unpin(h))
        return await asyncio.wrap_future(job)

    def _check_writable_share(self) -> None:
        if self.read_only:
            raise _denied("read-only share")

    # --- Backend protocol ---

    async def create(self, path: tuple[str, ...], disposition: CreateDisposition, *,
                     directory: bool | None, write: bool) -> tuple[LocalHandle, CreateAction]:
        """MS-SMB2 2.2.13 / MS-FSA 2.1.5.1 dispositions (see ``base.Backend.create``)."""
        try:
            disposition = CreateDisposition(disposition)
        except ValueError:
            raise SmbError(S.STATUS_INVALID_PARAMETER, "bad CreateDisposition") from None
        path = tuple(path)
        _check_path(path)
        truncating = disposition in _TRUNCATING
        if directory is True and truncating:
            raise SmbError(S.STATUS_INVALID_PARAMETER, "directory with an overwrite disposition")
        if write or truncating or disposition == CreateDisposition.CREATE:
            self._check_writable_share()
        with _oserrors("create"):
            parent_fd, parent_names = self._open_dir(path[:-1])
            with _owned(parent_fd):
                for _ in range(_RACE_RETRIES):
                    got = self._create_once(parent_fd, path[-1] if path else ".", disposition,
                                            directory, write)
                    if got is not None:
                        fd, st, name, writable, action = got
                        return LocalHandle(parent_names + (name,) if path else (),
                                           st_mod.S_ISDIR(st.st_mode), fd, writable,
                                           st.st_dev, st.st_ino), action
        raise SmbError(S.STATUS_SHARING_VIOLATION, "entry kept changing during create")

    def _create_once(self, parent_fd: int, comp: str, disposition: CreateDisposition,
                     directory: bool | None, write: bool
                     ) -> tuple[int, os.stat_result, str, bool, CreateAction] | None:
        """One attempt; None when the entry appeared or vanished under us (retry)."""
        D = CreateDisposition
        truncating = disposition in _TRUNCATING
        name, st = self._find(parent_fd, comp)
        if st is None:
            if disposition in (D.OPEN, D.OVERWRITE):
                raise SmbError(S.STATUS_OBJECT_NAME_NOT_FOUND, "no such file")
            self._check_writable_share()
            try:
                if directory:
                    os.mkdir(name, 0o700, dir_fd=parent_fd)
                    fd, _ = self._open_final(parent_fd, name, True, False)
                else:
                    flags = (os.O_RDWR if write else os.O_RDONLY) | os.O_CREAT | os.O_EXCL
                    fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                                 dir_fd=parent_fd)
            except (FileExistsError, FileNotFoundError):
                return None
            with _close_on_error(fd):
                os.fchmod(fd, self._dir_mode if directory else self._file_mode)  # not umask
                st = os.fstat(fd)
            return fd, st, name, bool(write) and not directory, CreateAction.CREATED
        mode = st.st_mode
        is_dir = st_mod.S_ISDIR(mode)
        if not (is_dir or st_mod.S_ISREG(mode)):
            raise _denied("symlink or special file")
        if disposition == D.CREATE:
            raise SmbError(S.STATUS_OBJECT_NAME_COLLISION, "exists")
        if is_dir and directory is False:
            raise SmbError(S.STATUS_FILE_IS_A_DIRECTORY, "is a directory")
        if is_dir and truncating:
            raise SmbError(S.STATUS_INVALID_PARAMETER, "cannot overwrite a directory")
        if not is_dir and directory is True:
            raise SmbError(S.STATUS_NOT_A_DIRECTORY, "not a directory")
        readonly = not is_dir and not mode & 0o200
        if readonly and truncating:
            raise _denied("READONLY file cannot be overwritten")
        writable = not is_dir and (write or truncating) and not readonly and not self.read_only
        try:
            fd, st = self._open_final(parent_fd, name, is_dir, writable)
        except FileNotFoundError:
            return None
        if not truncating:
            return fd, st, name, writable, CreateAction.OPENED
        with _close_on_error(fd):
            os.ftruncate(fd, 0)
            st = os.fstat(fd)
        superseded = disposition == D.SUPERSEDE
        return fd, st, name, writable, (CreateAction.SUPERSEDED if superseded
                                        else CreateAction.OVERWRITTEN)

    async def close(self, handle: LocalHandle) -> None:
        """Idempotent; the fd is closed once no executor job uses it (rule 9)."""
        if isinstance(handle, LocalHandle) and not handle.closed:
            handle.closed = True
            self._pin(handle)
            self._unpin(handle)  # closes now unless a job still holds the fd

    async def stat(self, handle: LocalHandle) -> FileStat:
        with self._using(handle, "stat") as h:
            st = os.fstat(h.fd)
            return _to_stat(st, h.path[-1] if h.path else "", _read_meta(h.fd))

    def release(self, view: memoryview) -> None:
        """Give a view returned by ``read`` back to the pool after sending it (rule 8)."""
        obj = view.obj
        try:
            view.release()
        except BufferError:  # still exported elsewhere: not safe to recycle
            return
        self._pool.give(obj)

    async def read(self, handle: LocalHandle, offset: int, length: int) -> memoryview:
        """Up to ``length`` bytes at ``offset`` (MS-SMB2 3.3.5.12); short at EOF, empty past it."""
        with self._using(handle, "read") as h:
            if h.is_dir:
                raise SmbError(S.STATUS_INVALID_DEVICE_REQUEST, "read on a directory")
            if offset < 0 or length < 0 or offset + length > _MAX_OFFSET:
                raise SmbError(S.STATUS_INVALID_PARAMETER, "bad read range")
            if length <= INLINE_LIMIT:
                buf = bytearray(length)
                n = _pread_into(h.fd, memoryview(buf), offset)
            else:
                buf = self._pool.take(length)
                try:
                    n = await self._offload(h, _pread_into, h.fd, memoryview(buf)[:length], offset)
                except OSError:
                    self._pool.give(buf)
                    raise
            return memoryview(buf)[:n]

    async def write(self, handle: LocalHandle, offset: int, data: memoryview) -> int:
        """Write all of ``data`` at ``offset`` (MS-SMB2 3.3.5.13); returns its length."""
        with self._using(handle, "write") as h:
            if h.is_dir:
                raise SmbError(S.STATUS_INVALID_DEVICE_REQUEST, "write on a directory")
            if self.read_only or not h.writable:
                raise _denied("handle not open for writing")
            view = memoryview(data).cast("B")
            if offset < 0 or offset + len(view) > _MAX_OFFSET:
                raise SmbError(S.STATUS_INVALID_PARAMETER, "bad write range")
            if len(view) <= INLINE_LIMIT:
                _pwrite_all(h.fd, view, offset)
            else:
                await self._offload(h, _pwrite_all, h.fd, view, offset)
            return len(view)

    async def flush(self, handle: LocalHandle) -> None:
        with self._using(handle, "flush") as h:
            await self._offload(h, os.fsync, h.fd)

    async def truncate(self, handle: LocalHandle, size: int) -> None:
        """Set the end of file (MS-FSA 2.1.5.14.4 FileEndOfFileInformation)."""
        with self._using(handle, "truncate") as h:
            if h.is_dir:
                raise SmbError(S.STATUS_INVALID_PARAMETER, "end of file on a directory")
            if self.read_only or not h.writable:
                raise _denied("handle not open for writing")
            if not 0 <= size <= _MAX_OFFSET:
                raise SmbError(S.STATUS_INVALID_PARAMETER, "bad size")
            os.ftruncate(h.fd, size)

    async def set_times(self, handle: LocalHandle, *, atime_ns: int | None,
                        mtime_ns: int | None, btime_ns: int | None = None,
                        ctime_ns: int | None = None) -> None:
        """None leaves a time unchanged (MS-FSA 2.1.5.14.2 FileBasicInformation); creation and
        change times go to ``user.nullsmb.times`` (rule 12)."""
        with self._using(handle, "set_times") as h:
            self._check_writable_share()
            st = os.fstat(h.fd)
            old = _read_meta(h.fd)
            if atime_ns is not None or mtime_ns is not None:
                os.utime(h.fd, ns=(st.st_atime_ns if atime_ns is None else atime_ns,
                                   st.st_mtime_ns if mtime_ns is None else mtime_ns))
            if btime_ns is None and ctime_ns is None and old.ctime_mtime < 0:
                return
            # what was valid before stays valid with the mtime set now (rule 12)
            valid = old.ctime_mtime == st.st_mtime_ns
            self._put_meta(h.fd, old.btime_ns if btime_ns is None else btime_ns,
                           ctime_ns if ctime_ns is not None else (old.ctime_ns if valid else -1),
                           st.st_mtime_ns if mtime_ns is None else mtime_ns,
                           old.attrs | (0 if valid or old.attrs < 0 or h.is_dir else ARCHIVE))

    @staticmethod
    def _put_meta(fd: int, btime: int, ctime: int, mtime: int, attrs: int) -> None:
        try:
            _setxattr_owned(fd, TIMES_XATTR, _TIMES.pack(btime, ctime, mtime, attrs))
        except OSError as err:
            if err.errno not in (errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
            _log.debug("localfs: no user xattrs here; times and attributes not kept")

    async def set_attributes(self, handle: LocalHandle, attributes: int) -> None:
        """Rule 12: kept in ``user.nullsmb.times`` with the mtime they were set at."""
        with self._using(handle, "set_attributes") as h:
            self._check_writable_share()
            st = os.fstat(h.fd)
            old = _read_meta(h.fd)
            valid = old.ctime_mtime == st.st_mtime_ns
            self._put_meta(h.fd, old.btime_ns, old.ctime_ns if valid else -1, st.st_mtime_ns,
                           attributes & SETTABLE_ATTRIBUTES)

    async def set_readonly(self, handle: LocalHandle, readonly: bool) -> None:
        """READONLY clears every write bit; clearing it restores the owner's only (rule 6)."""
        with self._using(handle, "set_readonly") as h:
            self._check_writable_share()
            mode = st_mod.S_IMODE(os.fstat(h.fd).st_mode)
            os.fchmod(h.fd, mode & ~0o222 if readonly else mode | 0o200)

    async def list_dir(self, handle: LocalHandle) -> list[DirEntry]:
        """Entries sorted by name, without symlinks, special files or unusable names (rule 3)."""
        with self._using(handle, "list_dir") as h:
            if not h.is_dir:
                raise SmbError(S.STATUS_INVALID_PARAMETER, "not a directory")
            return await self._offload(h, _list_sync, h.fd)

    def _handle_parent(self, h: LocalHandle) -> int:
        """O_PATH fd of the directory holding ``h`` (rule 10: gone -> OBJECT_NAME_NOT_FOUND)."""
        try:
            return self._open_dir(h.path[:-1])[0]
        except SmbError as err:
            if err.status == S.STATUS_OBJECT_PATH_NOT_FOUND:
                raise SmbError(S.STATUS_OBJECT_NAME_NOT_FOUND, "file moved away") from None
            raise

    @staticmethod
    def _verify(dir_fd: int, name: str, h: LocalHandle) -> os.stat_result:
        """lstat ``name`` and insist it is still the handle's inode."""
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise SmbError(S.STATUS_OBJECT_NAME_NOT_FOUND, "file moved away") from None
        if (st.st_dev, st.st_ino) != (h.dev, h.ino):
            raise SmbError(S.STATUS_OBJECT_NAME_NOT_FOUND, "file replaced")
        return st

    async def rename(self, handle: LocalHandle, new_path: tuple[str, ...], *,
                     replace: bool) -> None:
        """MS-FSA 2.1.5.14.11 FileRenameInformation within the share.

        A replaced target keeps its on-disk spelling when it matched case-insensitively; only a
        regular, non-READONLY file can be replaced (ACCESS_DENIED otherwise).
        """
        with self._using(handle, "rename") as h:
            self._check_writable_share()
            new_path = tuple(new_path)
            _check_path(new_path)
            if not h.path or not new_path:
                raise _denied("the share root cannot be renamed or replaced")
            fold = [c.casefold() for c in new_path[: len(h.path)]]
            if h.is_dir and len(new_path) > len(h.path) and fold == [c.casefold() for c in h.path]:
                raise SmbError(S.STATUS_INVALID_PARAMETER, "directory into itself")
            with _owned(self._handle_parent(h)) as src_fd:
                old = h.path[-1]
                self._verify(src_fd, old, h)
                dst_fd, dst_names = self._open_dir(new_path[:-1])
                with _owned(dst_fd):
                    target = self._rename_at(h, src_fd, old, dst_fd, new_path[-1], replace)
                h.path = dst_names + (target,)

    def _rename_at(self, h: LocalHandle, src_fd: int, old: str, dst_fd: int, want: str,
                   replace: bool) -> str:
        target, st = self._find(dst_fd, want)
        if st is None:
            _rename_noreplace(src_fd, old, dst_fd, want)
            return want
        if target == old and os.fstat(src_fd)[1:3] == os.fstat(dst_fd)[1:3]:  # (ino, dev)
            if want != old:  # onto itself: a change of case only, else nothing
                _rename_noreplace(src_fd, old, dst_fd, want)
            return want
        if not replace:
            raise SmbError(S.STATUS_OBJECT_NAME_COLLISION, "target exists")
        if not st_mod.S_ISREG(st.st_mode) or not st.st_mode & 0o200:
            raise _denied("only a regular, non-READONLY file can be replaced")
        if h.is_dir or (st.st_dev, st.st_ino) == (h.dev, h.ino):
            os.unlink(target, dir_fd=dst_fd)  # rename(2) cannot do these two in one step
            _rename_noreplace(src_fd, old, dst_fd, target)
        else:
            os.rename(old, target, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
        return target

    async def delete(self, handle: LocalHandle) -> None:
        """Unlink the file or remove the empty directory (MS-FSA 2.1.5.4 close with delete)."""
        await self._delete(handle, dry_run=False)

    async def can_delete(self, handle: LocalHandle) -> None:
        """What ``delete`` would raise, without deleting (MS-FSA 2.1.5.14.3)."""
        await self._delete(handle, dry_run=True)

    async def _delete(self, handle: LocalHandle, *, dry_run: bool) -> None:
        with self._using(handle, "delete") as h:
            self._check_writable_share()
            if not h.path:
                raise _denied("the share root cannot be deleted")
            with _owned(self._handle_parent(h)) as pfd:
                st = self._verify(pfd, h.path[-1], h)
                if not h.is_dir and not st.st_mode & 0o200:
                    raise SmbError(S.STATUS_CANNOT_DELETE, "READONLY file")
                if not dry_run:
                    (os.rmdir if h.is_dir else os.unlink)(h.path[-1], dir_fd=pfd)
                    return
                if h.is_dir:
                    with _owned(os.open(".", _O_READ_DIR, dir_fd=h.fd)) as sfd, \
                            os.scandir(sfd) as it:
                        if next(it, None) is not None:
                            raise SmbError(S.STATUS_DIRECTORY_NOT_EMPTY, "directory not empty")
                if not os.access(".", os.W_OK | os.X_OK, dir_fd=pfd, effective_ids=True):
                    raise _denied("parent directory not writable")

    async def allocate(self, handle: LocalHandle, size: int) -> None:
        """fallocate(KEEP_SIZE) where the file system has it; otherwise nothing (a hint)."""
        with self._using(handle, "allocate") as h:
            if h.is_dir or self.read_only or not h.writable or _fallocate is None:
                return
            if _fallocate(h.fd, _FALLOC_FL_KEEP_SIZE, 0, size) != 0:
                e = ctypes.get_errno()
                if e not in (errno.EOPNOTSUPP, errno.ENOSYS):
                    raise OSError(e, os.strerror(e))

    async def set_sparse(self, handle: LocalHandle, sparse: bool) -> None:
        """Rule 11: the flag is the ``user.nullsmb.sparse`` extended attribute."""
        with self._using(handle, "set_sparse") as h:
            self._check_writable_share()
            _setxattr_owned(h.fd, SPARSE_XATTR, b"1" if sparse else None)

    async def get_eas(self, handle: LocalHandle) -> list[tuple[str, bytes]]:
        """Rule 13: the ``user.`` extended attributes but ours and Samba's private ones."""
        with self._using(handle, "get_eas") as h:
            try:
                names = sorted(n for n in os.listxattr(h.fd) if _is_ea(n))
            except OSError as err:
                if err.errno in (errno.EOPNOTSUPP, errno.ENOTSUP):
                    return []
                raise
            out = []
            for n in names:
                try:
                    out.append((n[len(EA_PREFIX):], os.getxattr(h.fd, n)))
                except OSError as err:
                    if err.errno != errno.ENODATA:
                        raise
            return out

    async def set_eas(self, handle: LocalHandle, eas: list[tuple[str, bytes]]) -> None:
        """Rule 13: case-insensitive names (a new spelling replaces the old), empty value removes;
        over 64 KiB of EAs in all -> EA_TOO_LARGE, before anything changes."""
        with self._using(handle, "set_eas") as h:
            self._check_writable_share()
            try:
                present = {n[len(EA_PREFIX):].casefold(): n for n in os.listxattr(h.fd) if _is_ea(n)}
            except OSError as err:
                if err.errno in (errno.EOPNOTSUPP, errno.ENOTSUP):
                    raise SmbError(S.STATUS_EAS_NOT_SUPPORTED, "no user xattrs here") from None
                raise
            sizes = {k: len(os.getxattr(h.fd, n)) for k, n in present.items()}
            for name, value in eas:
                sizes.pop(name.casefold(), None)
                if value:
                    sizes[name.casefold()] = len(value)
            if sum(ea_entry_size(len(k), v) for k, v in sizes.items()) > _MAX_EAS:
                raise SmbError(S.STATUS_EA_TOO_LARGE, "EAs over 64 KiB")
            for name, value in eas:
                old = present.pop(name.casefold(), None)
                if old is not None and (not value or old != EA_PREFIX + name):
                    _setxattr_owned(h.fd, old, None)
                if value:
                    _setxattr_owned(h.fd, EA_PREFIX + name, value)
                    present[name.casefold()] = EA_PREFIX + name

    async def zero_range(self, handle: LocalHandle, offset: int, length: int, *,
                         deallocate: bool) -> None:
        """MS-FSCC 2.3.67: punch a hole (sparse) or write zeros; the size stays."""
        with self._using(handle, "zero_range") as h:
            if self.read_only or not h.writable:
                raise _denied("handle not open for writing")
            end = min(os.fstat(h.fd).st_size, offset + length)
            if offset >= end:
                return
            if deallocate:
                try:
                    _punch(h.fd, offset, end - offset)
                    return
                except OSError as err:
                    if err.errno not in (errno.EOPNOTSUPP, errno.ENOSYS):
                        raise
            zeros = memoryview(bytes(min(end - offset, 1 << 20)))
            pos = offset
            while pos < end:
                n = min(len(zeros), end - pos)
                _pwrite_all(h.fd, zeros[:n], pos)
                pos += n

    async def allocated_ranges(self, handle: LocalHandle, offset: int,
                               length: int) -> list[tuple[int, int]]:
        """MS-FSCC 2.3.51: a file not marked sparse is all data (as NTFS reports it); a sparse
        one reports what SEEK_DATA/SEEK_HOLE find."""
        with self._using(handle, "allocated_ranges") as h:
            end = min(os.fstat(h.fd).st_size, offset + length)
            if offset >= end:
                return []
            if not _is_sparse(h.fd):
                return [(offset, end - offset)]
            return _data_ranges(h.fd, offset, end)

    async def fs_info(self) -> FsInfo:
        """MS-FSCC 2.5.1/2.5.8/2.5.9 figures from fstatvfs on the root."""
        with _oserrors("fs_info"):
            vfs = os.fstatvfs(self._root_fd)
            dev = os.fstat(self._root_fd).st_dev
        return FsInfo(vfs.f_blocks * vfs.f_frsize, vfs.f_bavail * vfs.f_frsize,
                      vfs.f_frsize or vfs.f_bsize, fs_name="NTFS", max_name_length=255,
                      volume_serial=(dev ^ (dev >> 32)) & 0xFFFFFFFF)


def _list_sync(dir_fd: int) -> list[DirEntry]:
    out: list[DirEntry] = []
    with _owned(os.open(".", _O_READ_DIR, dir_fd=dir_fd)) as sfd, os.scandir(sfd) as it:
        for e in it:
            if not is_valid_name(e.name):
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if st_mod.S_ISREG(st.st_mode) or st_mod.S_ISDIR(st.st_mode):
                out.append(DirEntry(e.name, _to_stat(st, e.name, _entry_meta(sfd, e.name, st))))
    out.sort(key=lambda d: d.name)
    return out


def _entry_meta(dir_fd: int, name: str, st: os.stat_result) -> _Meta:
    """A listed entry's xattrs (rule 12-13: creation time and EaSize show in listings too):
    opened beneath the directory fd, never following a symlink; unreadable -> none."""
    flags = _O_READ_DIR if st_mod.S_ISDIR(st.st_mode) else (
        os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return _NO_META
    try:
        if os.fstat(fd).st_ino != st.st_ino:
            return _NO_META  # swapped meanwhile
        return _read_meta(fd)
    finally:
        os.close(fd)


def _rename_noreplace(src_fd: int, old: str, dst_fd: int, new: str) -> None:
    """renameat2(RENAME_NOREPLACE), else check-then-rename on file systems without it."""
    if _renameat2 is not None:
        if _renameat2(src_fd, os.fsencode(old), dst_fd, os.fsencode(new), _RENAME_NOREPLACE) == 0:
            return
        e = ctypes.get_errno()
        if e not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(e, os.strerror(e))
    try:
        os.stat(new, dir_fd=dst_fd, follow_symlinks=False)
    except FileNotFoundError:
        os.rename(old, new, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
        return
    raise SmbError(S.STATUS_OBJECT_NAME_COLLISION, "target exists")
