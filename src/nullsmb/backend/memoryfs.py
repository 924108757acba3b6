"""An in-memory share with LocalFS's behaviour, for socket-free tests of the protocol core.

Rules:
1. Same contract and same statuses as ``localfs`` (its module rules 3-6 and 10): dispositions of
   MS-SMB2 2.2.13 / MS-FSA 2.1.5.1, case-insensitive lookup (first sorted ``casefold()`` match),
   ACCESS_DENIED for every write intent on a read-only share, READONLY files refuse data writes
   (ACCESS_DENIED) and deletion (CANNOT_DELETE), handles follow their own renames.
2. The tree is dict directories and bytearray files. File ids grow monotonically from 1 (the
   root) and are never reused. Names are validated again (``is_valid_name``) on the way in.
3. Time comes only from the injected ``now_ns`` clock. Reads do not touch atime (like
   ``noatime``); data changes set mtime and ctime; metadata changes set ctime; entries added or
   removed set the parent's mtime and ctime.
4. ``capacity`` bounds the bytes of linked files: growing past it -> DISK_FULL (an open handle on
   a deleted file may keep writing; like POSIX, it no longer counts).
5. ``read`` returns a copy, so later writes never alter data already handed out; ``release`` is
   a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

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

__all__ = ["MemoryFS", "MemoryHandle"]

S = NtStatus
D = CreateDisposition
_BLOCK = 4096
_MAX_OFFSET = (1 << 63) - 1
_TRUNCATING = frozenset({D.SUPERSEDE, D.OVERWRITE, D.OVERWRITE_IF})


@dataclass(slots=True, eq=False)
class _Node:
    file_id: int
    is_dir: bool
    now: int
    data: bytearray = field(default_factory=bytearray)
    children: dict[str, _Node] = field(default_factory=dict)
    readonly: bool = False
    sparse: bool = False
    linked: bool = True
    atime: int = 0
    mtime: int = 0
    ctime: int = 0
    btime: int = 0
    eas: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # casefold -> (name, value)
    attrs: int | None = None  # DOS attributes a client set (localfs rule 12)
    version: int = 0  # data changes so far
    attrs_version: int = 0  # ``version`` when they were set

    def __post_init__(self) -> None:
        self.atime = self.mtime = self.ctime = self.btime = self.now


@dataclass(slots=True, eq=False)
class MemoryHandle:
    """An open node; mutable because ``path`` follows renames."""

    path: tuple[str, ...]
    is_dir: bool
    node: _Node
    writable: bool
    closed: bool = False


def _denied(msg: str) -> SmbError:
    return SmbError(S.STATUS_ACCESS_DENIED, msg)


class MemoryFS:
    """A share held in memory (module rules)."""

    def __init__(self, *, read_only: bool = False, now_ns: Callable[[], int] = time.time_ns,
                 capacity: int = 1 << 30, volume_serial: int = 0x4E554C4C) -> None:
        self.read_only = read_only
        self._now = now_ns
        self._capacity = capacity
        self._serial = volume_serial
        self._used = 0
        self._next_id = 1
        self._root = self._new(is_dir=True)

    # --- test seeding (bypasses read_only, like files put on disk before serving) ---

    def seed_dir(self, path: tuple[str, ...]) -> None:
        """Create ``path`` and any missing parents."""
        node = self._root
        for comp in path:
            self._check_name(comp)
            child = node.children.get(comp)
            if child is None:
                child = node.children[comp] = self._new(is_dir=True)
            elif not child.is_dir:
                raise SmbError(S.STATUS_OBJECT_PATH_NOT_FOUND, "a file in the middle of a path")
            node = child

    def seed_file(self, path: tuple[str, ...], data: bytes = b"", *,
                  readonly: bool = False) -> None:
        """Create or replace file ``path`` (parents created) holding ``data``."""
        self.seed_dir(path[:-1])
        self._check_name(path[-1])
        parent, _ = self._walk(path[:-1])
        old = parent.children.get(path[-1])
        if old is not None and old.is_dir:
            raise SmbError(S.STATUS_FILE_IS_A_DIRECTORY, "is a directory")
        if old is not None:
            self._unlink(old)
        node = parent.children[path[-1]] = self._new(is_dir=False)
        self._resize(node, len(data))
        node.data[:] = data
        node.readonly = readonly

    # --- tree helpers ---

    def _new(self, *, is_dir: bool) -> _Node:
        node = _Node(self._next_id, is_dir, self._now())
        self._next_id += 1
        return node

    @staticmethod
    def _check_name(comp: str) -> None:
        if not isinstance(comp, str) or not is_valid_name(comp):
            raise SmbError(S.STATUS_OBJECT_NAME_INVALID, "invalid path component")

    def _check_path(self, path: tuple[str, ...]) -> None:
        for comp in path:
            self._check_name(comp)

    @staticmethod
    def _lookup(parent: _Node, comp: str) -> tuple[str, _Node | None]:
        """Exact name, else the first sorted casefold() match (rule 1), else (comp, None)."""
        node = parent.children.get(comp)
        if node is not None:
            return comp, node
        folded = comp.casefold()
        hits = sorted(n for n in parent.children if n.casefold() == folded)
        return (hits[0], parent.children[hits[0]]) if hits else (comp, None)

    def _walk(self, comps: tuple[str, ...]) -> tuple[_Node, tuple[str, ...]]:
        """The directory at ``comps`` and its stored names; OBJECT_PATH_NOT_FOUND otherwise."""
        node, names = self._root, []
        for comp in comps:
            self._check_name(comp)
            name, child = self._lookup(node, comp)
            if child is None or not child.is_dir:
                raise SmbError(S.STATUS_OBJECT_PATH_NOT_FOUND, "no such directory")
            node = child
            names.append(name)
        return node, tuple(names)

    def _resize(self, node: _Node, size: int) -> None:
        """Grow or shrink a file's data within ``capacity`` (rule 4)."""
        delta = size - len(node.data)
        if node.linked and delta > 0 and self._used + delta > self._capacity:
            raise SmbError(S.STATUS_DISK_FULL, "capacity exceeded")
        if size < len(node.data):
            del node.data[size:]
        else:
            node.data.extend(bytes(delta))
        if node.linked:
            self._used += delta

    def _unlink(self, node: _Node) -> None:
        """Detached nodes keep their data for open handles but leave the accounting (rule 4)."""
        if node.linked:
            self._used -= len(node.data)
            node.linked = False

    def _touch(self, node: _Node, *, data: bool = True) -> None:
        now = self._now()
        node.ctime = now
        if data:
            node.mtime = now
            node.version += 1

    @staticmethod
    def _use(h: object) -> MemoryHandle:
        if not isinstance(h, MemoryHandle):
            raise SmbError(S.STATUS_INVALID_HANDLE, "not a MemoryFS handle")
        if h.closed:
            raise SmbError(S.STATUS_FILE_CLOSED, "handle closed")
        return h

    def _parent_of(self, h: MemoryHandle) -> _Node:
        """The directory still holding ``h``'s node under its recorded name."""
        try:
            parent, _ = self._walk(h.path[:-1])
        except SmbError:
            raise SmbError(S.STATUS_OBJECT_NAME_NOT_FOUND, "file moved away") from None
        if parent.children.get(h.path[-1]) is not h.node:
            raise SmbError(S.STATUS_OBJECT_NAME_NOT_FOUND, "file moved away")
        return parent

    # --- Backend protocol ---

    async def create(self, path: tuple[str, ...], disposition: CreateDisposition, *,
                     directory: bool | None, write: bool) -> tuple[MemoryHandle, CreateAction]:
        """MS-SMB2 2.2.13 / MS-FSA 2.1.5.1 dispositions (see ``base.Backend.create``)."""
        try:
            disposition = CreateDisposition(disposition)
        except ValueError:
            raise SmbError(S.STATUS_INVALID_PARAMETER, "bad CreateDisposition") from None
        path = tuple(path)
        self._check_path(path)
        truncating = disposition in _TRUNCATING
        if directory is True and truncating:
            raise SmbError(S.STATUS_INVALID_PARAMETER, "directory with an overwrite disposition")
        if self.read_only and (write or truncating or disposition == D.CREATE):
            raise _denied("read-only share")
        if not path:
            name, node, parent, names = "", self._root, self._root, ()
        else:
            parent, names = self._walk(path[:-1])
            self._check_name(path[-1])
            name, node = self._lookup(parent, path[-1])
        if node is None:
            if disposition in (D.OPEN, D.OVERWRITE):
                raise SmbError(S.STATUS_OBJECT_NAME_NOT_FOUND, "no such file")
            if self.read_only:
                raise _denied("read-only share")
            node = parent.children[name] = self._new(is_dir=bool(directory))
            self._touch(parent)
            return (MemoryHandle(names + (name,), node.is_dir, node, bool(write) and not directory),
                    CreateAction.CREATED)
        full = names + (name,) if path else ()
        if disposition == D.CREATE:
            raise SmbError(S.STATUS_OBJECT_NAME_COLLISION, "exists")
        if node.is_dir:
            if directory is False:
                raise SmbError(S.STATUS_FILE_IS_A_DIRECTORY, "is a directory")
            if truncating:
                raise SmbError(S.STATUS_INVALID_PARAMETER, "cannot overwrite a directory")
            return MemoryHandle(full, True, node, False), CreateAction.OPENED
        if directory is True:
            raise SmbError(S.STATUS_NOT_A_DIRECTORY, "not a directory")
        if node.readonly and truncating:
            raise _denied("READONLY file cannot be overwritten")
        writable = (write or truncating) and not node.readonly
        if not truncating:
            return MemoryHandle(full, False, node, writable), CreateAction.OPENED
        self._resize(node, 0)
        self._touch(node)
        action = CreateAction.SUPERSEDED if disposition == D.SUPERSEDE else CreateAction.OVERWRITTEN
        return MemoryHandle(full, False, node, writable), action

    async def close(self, handle: MemoryHandle) -> None:
        if isinstance(handle, MemoryHandle):
            handle.closed = True

    def _stat(self, node: _Node, name: str) -> FileStat:
        size = 0 if node.is_dir else len(node.data)
        return FileStat(
            is_dir=node.is_dir,
            size=size,
            allocation=-(-size // _BLOCK) * _BLOCK,
            atime_ns=node.atime,
            mtime_ns=node.mtime,
            ctime_ns=node.ctime,
            btime_ns=node.btime,
            file_id=node.file_id,
            nlink=1 if node.linked else 0,
            readonly=node.readonly,
            hidden=name.startswith("."),
            sparse=node.sparse,
            ea_size=sum(ea_entry_size(len(n), len(v)) for n, v in node.eas.values()),
            dos_attributes=None if node.attrs is None else node.attrs | (
                0 if node.is_dir or node.version == node.attrs_version else ARCHIVE),
        )

    async def stat(self, handle: MemoryHandle) -> FileStat:
        h = self._use(handle)
        return self._stat(h.node, h.path[-1] if h.path else "")

    def release(self, view: memoryview) -> None:
        """Nothing is pooled here (rule 5)."""

    async def read(self, handle: MemoryHandle, offset: int, length: int) -> memoryview:
        h = self._use(handle)
        if h.is_dir:
            raise SmbError(S.STATUS_INVALID_DEVICE_REQUEST, "read on a directory")
        if offset < 0 or length < 0 or offset + length > _MAX_OFFSET:
            raise SmbError(S.STATUS_INVALID_PARAMETER, "bad read range")
        return memoryview(bytes(h.node.data[offset : offset + length]))

    async def write(self, handle: MemoryHandle, offset: int, data: memoryview) -> int:
        h = self._use(handle)
        if h.is_dir:
            raise SmbError(S.STATUS_INVALID_DEVICE_REQUEST, "write on a directory")
        if self.read_only or not h.writable:
            raise _denied("handle not open for writing")
        view = memoryview(data).cast("B")
        n = len(view)
        if offset < 0 or offset + n > _MAX_OFFSET:
            raise SmbError(S.STATUS_INVALID_PARAMETER, "bad write range")
        if n:
            node = h.node
            if offset + n > len(node.data):
                self._resize(node, offset + n)
            node.data[offset : offset + n] = view
            self._touch(node)
        return n

    async def flush(self, handle: MemoryHandle) -> None:
        self._use(handle)

    async def truncate(self, handle: MemoryHandle, size: int) -> None:
        h = self._use(handle)
        if h.is_dir:
            raise SmbError(S.STATUS_INVALID_PARAMETER, "end of file on a directory")
        if self.read_only or not h.writable:
            raise _denied("handle not open for writing")
        if not 0 <= size <= _MAX_OFFSET:
            raise SmbError(S.STATUS_INVALID_PARAMETER, "bad size")
        self._resize(h.node, size)
        self._touch(h.node)

    async def set_times(self, handle: MemoryHandle, *, atime_ns: int | None,
                        mtime_ns: int | None, btime_ns: int | None = None,
                        ctime_ns: int | None = None) -> None:
        h = self._use(handle)
        if self.read_only:
            raise _denied("read-only share")
        if atime_ns is None and mtime_ns is None and btime_ns is None and ctime_ns is None:
            return
        if atime_ns is not None:
            h.node.atime = atime_ns
        if mtime_ns is not None:
            h.node.mtime = mtime_ns
        if btime_ns is not None:
            h.node.btime = btime_ns
        self._touch(h.node, data=False)
        if ctime_ns is not None:
            h.node.ctime = ctime_ns

    async def set_attributes(self, handle: MemoryHandle, attributes: int) -> None:
        h = self._use(handle)
        if self.read_only:
            raise _denied("read-only share")
        h.node.attrs = attributes & SETTABLE_ATTRIBUTES
        h.node.attrs_version = h.node.version
        self._touch(h.node, data=False)

    async def get_eas(self, handle: MemoryHandle) -> list[tuple[str, bytes]]:
        return sorted(self._use(handle).node.eas.values())

    async def set_eas(self, handle: MemoryHandle, eas: list[tuple[str, bytes]]) -> None:
        """localfs rule 13: case-insensitive names, empty value removes, 64 KiB in all."""
        h = self._use(handle)
        if self.read_only:
            raise _denied("read-only share")
        new = dict(h.node.eas)
        for name, value in eas:
            new.pop(name.casefold(), None)
            if value:
                new[name.casefold()] = (name, bytes(value))
        if sum(ea_entry_size(len(n), len(v)) for n, v in new.values()) > 0xFFFF:
            raise SmbError(S.STATUS_EA_TOO_LARGE, "EAs over 64 KiB")
        h.node.eas = new
        self._touch(h.node, data=False)

    async def set_readonly(self, handle: MemoryHandle, readonly: bool) -> None:
        h = self._use(handle)
        if self.read_only:
            raise _denied("read-only share")
        h.node.readonly = readonly
        self._touch(h.node, data=False)

    async def list_dir(self, handle: MemoryHandle) -> list[DirEntry]:
        h = self._use(handle)
        if not h.is_dir:
            raise SmbError(S.STATUS_INVALID_PARAMETER, "not a directory")
        kids = h.node.children
        return [DirEntry(n, self._stat(kids[n], n)) for n in sorted(kids)]

    async def rename(self, handle: MemoryHandle, new_path: tuple[str, ...], *,
                     replace: bool) -> None:
        """MS-FSA 2.1.5.14.11 FileRenameInformation, with localfs's statuses."""
        h = self._use(handle)
        if self.read_only:
            raise _denied("read-only share")
        new_path = tuple(new_path)
        self._check_path(new_path)
        if not h.path or not new_path:
            raise _denied("the share root cannot be renamed or replaced")
        fold = [c.casefold() for c in new_path[: len(h.path)]]
        if h.is_dir and len(new_path) > len(h.path) and fold == [c.casefold() for c in h.path]:
            raise SmbError(S.STATUS_INVALID_PARAMETER, "directory into itself")
        src = self._parent_of(h)
        dst, names = self._walk(new_path[:-1])
        want = new_path[-1]
        self._check_name(want)
        target, node = self._lookup(dst, want)
        old = h.path[-1]
        if node is h.node and dst is src:
            target = want  # a no-op or a change of case only
        elif node is not None:
            if not replace:
                raise SmbError(S.STATUS_OBJECT_NAME_COLLISION, "target exists")
            if node.is_dir:
                raise _denied("only a file can be replaced")
            if node.readonly:
                raise _denied("READONLY target")
            del dst.children[target]
            self._unlink(node)
        else:
            target = want
        del src.children[old]
        dst.children[target] = h.node
        self._touch(h.node, data=False)
        self._touch(src)
        self._touch(dst)
        h.path = names + (target,)

    async def delete(self, handle: MemoryHandle) -> None:
        h = self._use(handle)
        parent = self._check_delete(h)
        del parent.children[h.path[-1]]
        self._unlink(h.node)
        self._touch(parent)

    async def can_delete(self, handle: MemoryHandle) -> None:
        self._check_delete(self._use(handle))

    def _check_delete(self, h: MemoryHandle) -> _Node:
        if self.read_only:
            raise _denied("read-only share")
        if not h.path:
            raise _denied("the share root cannot be deleted")
        parent = self._parent_of(h)
        if h.node.is_dir and h.node.children:
            raise SmbError(S.STATUS_DIRECTORY_NOT_EMPTY, "directory not empty")
        if not h.node.is_dir and h.node.readonly:
            raise SmbError(S.STATUS_CANNOT_DELETE, "READONLY file")
        return parent

    async def allocate(self, handle: MemoryHandle, size: int) -> None:
        """Memory needs no reservation."""
        self._use(handle)

    async def set_sparse(self, handle: MemoryHandle, sparse: bool) -> None:
        self._use(handle).node.sparse = sparse

    async def zero_range(self, handle: MemoryHandle, offset: int, length: int, *,
                         deallocate: bool) -> None:
        """Zeros only: memory has no holes to keep."""
        h = self._use(handle)
        if self.read_only or not h.writable:
            raise _denied("handle not open for writing")
        data = h.node.data
        end = min(len(data), offset + length)
        if offset < end:
            data[offset:end] = bytes(end - offset)

    async def allocated_ranges(self, handle: MemoryHandle, offset: int,
                               length: int) -> list[tuple[int, int]]:
        size = len(self._use(handle).node.data)
        end = min(size, offset + length)
        return [(offset, end - offset)] if offset < end else []

    async def fs_info(self) -> FsInfo:
        return FsInfo(
            total_bytes=self._capacity,
            free_bytes=max(0, self._capacity - self._used),
            block_size=_BLOCK,
            fs_name="NTFS",
            max_name_length=255,
            volume_serial=self._serial,
        )
