"""The share storage contract between the protocol core and a file system.

Rules:
1. Paths arrive as a tuple of already-validated components (``path.split_path``): no empty
   component, no ``.``/``..``, no separators, no stream syntax. The root is ``()``.
2. A backend never lets a path leave its root (localfs walks each component with O_NOFOLLOW).
3. Failures are ``SmbError`` with an NTSTATUS; errno never crosses this boundary.
4. Times are nanoseconds since the Unix epoch; the core converts to FILETIME.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

__all__ = [
    "Backend",
    "CreateAction",
    "CreateDisposition",
    "DirEntry",
    "FileStat",
    "FsInfo",
    "Handle",
    "SETTABLE_ATTRIBUTES",
    "ea_entry_size",
]


class CreateDisposition(IntEnum):
    """MS-SMB2 2.2.13 CreateDisposition."""

    SUPERSEDE = 0
    OPEN = 1
    CREATE = 2
    OPEN_IF = 3
    OVERWRITE = 4
    OVERWRITE_IF = 5


class CreateAction(IntEnum):
    """MS-SMB2 2.2.14 CreateAction."""

    SUPERSEDED = 0
    OPENED = 1
    CREATED = 2
    OVERWRITTEN = 3


# MS-FSCC 2.6: HIDDEN, SYSTEM, ARCHIVE, TEMPORARY, OFFLINE, NOT_CONTENT_INDEXED
SETTABLE_ATTRIBUTES = 0x02 | 0x04 | 0x20 | 0x100 | 0x1000 | 0x2000
ARCHIVE = 0x20


def ea_entry_size(name_len: int, value_len: int) -> int:
    """One FILE_FULL_EA_INFORMATION entry padded to 4 bytes (MS-FSCC 2.4.15): ``FileStat.ea_size``
    is the sum over the file's EAs."""
    return (8 + name_len + 1 + value_len + 3) & ~3


@dataclass(frozen=True, slots=True)
class FileStat:
    """What the core needs to answer the FSCC information classes (MS-FSCC 2.4)."""

    is_dir: bool
    size: int
    allocation: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int  # change time (inode change)
    btime_ns: int  # creation time (birth time where known, else the oldest of mtime/ctime)
    file_id: int  # inode number: FileInternalInformation / QFid
    nlink: int
    readonly: bool  # no owner write bit: FILE_ATTRIBUTE_READONLY
    hidden: bool  # name starts with '.': FILE_ATTRIBUTE_HIDDEN
    sparse: bool = False  # FILE_ATTRIBUTE_SPARSE_FILE (FSCTL_SET_SPARSE), where the backend keeps it
    ea_size: int = 0  # the file's EAs as packed FILE_FULL_EA_INFORMATION (MS-FSCC 2.4.12 EaSize)
    # attributes a client set (``set_attributes``: HIDDEN, SYSTEM, ARCHIVE, TEMPORARY, OFFLINE,
    # NOT_CONTENT_INDEXED), ARCHIVE added once the data changed since; None: never set
    dos_attributes: int | None = None


@dataclass(frozen=True, slots=True)
class DirEntry:
    name: str
    stat: FileStat


@dataclass(frozen=True, slots=True)
class FsInfo:
    """MS-FSCC 2.5: volume size figures and the file system's name and limits."""

    total_bytes: int
    free_bytes: int
    block_size: int
    fs_name: str  # "NTFS" is what clients expect; localfs reports it
    max_name_length: int
    volume_serial: int


class Handle(Protocol):
    """An open file or directory; opaque to the core beyond these attributes."""

    path: tuple[str, ...]
    is_dir: bool


class Backend(Protocol):
    """One share's storage. Every method may raise SmbError."""

    read_only: bool

    async def create(
        self,
        path: tuple[str, ...],
        disposition: CreateDisposition,
        *,
        directory: bool | None,
        write: bool,
    ) -> tuple[Handle, CreateAction]:
        """Open or create ``path``.

        ``directory``: True (FILE_DIRECTORY_FILE: must be/create a directory), False
        (FILE_NON_DIRECTORY_FILE: must not be a directory), None (either; creates a file).
        ``write``: the open needs write access (data, attributes or delete).
        Errors: OBJECT_NAME_NOT_FOUND, OBJECT_PATH_NOT_FOUND, OBJECT_NAME_COLLISION,
        FILE_IS_A_DIRECTORY, NOT_A_DIRECTORY, ACCESS_DENIED, MEDIA_WRITE_PROTECTED.
        """
        ...

    async def close(self, handle: Handle) -> None: ...

    async def stat(self, handle: Handle) -> FileStat: ...

    async def read(self, handle: Handle, offset: int, length: int) -> memoryview:
        """Up to ``length`` bytes at ``offset`` (short at end of file; empty past it)."""
        ...

    async def write(self, handle: Handle, offset: int, data: memoryview) -> int: ...

    async def flush(self, handle: Handle) -> None: ...

    async def truncate(self, handle: Handle, size: int) -> None: ...

    async def set_times(
        self, handle: Handle, *, atime_ns: int | None, mtime_ns: int | None,
        btime_ns: int | None = None, ctime_ns: int | None = None,
    ) -> None:
        """None leaves a time unchanged. A creation time set here is what ``stat`` reports from
        then on; a change time holds until the file's data next changes (MS-FSA 2.1.5.14.2)."""
        ...

    async def set_readonly(self, handle: Handle, readonly: bool) -> None: ...

    async def set_attributes(self, handle: Handle, attributes: int) -> None:
        """Keep the client-settable DOS attributes (``SETTABLE_ATTRIBUTES``; 0: none of them) for
        ``FileStat.dos_attributes`` (MS-FSA 2.1.5.14.2). READONLY, DIRECTORY and SPARSE_FILE have
        their own ways."""
        ...

    async def list_dir(self, handle: Handle) -> list[DirEntry]:
        """Entries of an open directory, without '.' and '..', sorted by name."""
        ...

    async def rename(self, handle: Handle, new_path: tuple[str, ...], *, replace: bool) -> None:
        """Move the open file to ``new_path`` (OBJECT_NAME_COLLISION unless ``replace``)."""
        ...

    async def delete(self, handle: Handle) -> None:
        """Remove the open file or (empty) directory (DIRECTORY_NOT_EMPTY otherwise)."""
        ...

    async def can_delete(self, handle: Handle) -> None:
        """Raise what ``delete`` would (DIRECTORY_NOT_EMPTY, ACCESS_DENIED) without deleting."""
        ...

    async def fs_info(self) -> FsInfo: ...

    # -- extended attributes (MS-FSCC 2.4.15 FILE_FULL_EA_INFORMATION) --------------------------
    async def get_eas(self, handle: Handle) -> list[tuple[str, bytes]]:
        """The file's EAs as (name, value), names as they were set, in a stable order."""
        ...

    async def set_eas(self, handle: Handle, eas: list[tuple[str, bytes]]) -> None:
        """Set each EA (names compare case-insensitively); an empty value removes it.
        Errors: EAS_NOT_SUPPORTED (no EA storage), EA_TOO_LARGE, ACCESS_DENIED."""
        ...

    async def allocate(self, handle: Handle, size: int) -> None:
        """Reserve ``size`` bytes of storage without changing the size (MS-FSCC 2.4.4
        FileAllocationInformation, the AllocationSize create context); a hint."""
        ...

    # -- sparse files (MS-FSCC 2.3.64 FSCTL_SET_SPARSE, 2.3.67 SET_ZERO_DATA, 2.3.51
    #    QUERY_ALLOCATED_RANGES) --------------------------------------------------------------
    async def set_sparse(self, handle: Handle, sparse: bool) -> None:
        """Mark or unmark the file sparse (kept with the file; ``FileStat.sparse``)."""
        ...

    async def zero_range(self, handle: Handle, offset: int, length: int, *, deallocate: bool) -> None:
        """Zero [offset, offset+length) within the file's size; ``deallocate``: free the blocks
        (a sparse file) instead of writing zeros. The size never changes."""
        ...

    async def allocated_ranges(self, handle: Handle, offset: int, length: int) -> list[tuple[int, int]]:
        """(offset, length) of the data-holding ranges inside [offset, offset+length), clipped to
        the file's size, in order."""
        ...
