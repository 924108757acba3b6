"""Helpers shared by the file handlers: backend stats → FSCC values."""

from __future__ import annotations

from ...backend.base import FileStat
from ...wire.fscc import FileAttributes, FileTimes, filetime


def attributes_of(st: FileStat) -> int:
    """MS-FSCC 2.6: the attributes a client set (else ARCHIVE for a file, HIDDEN for a dot
    name), plus DIRECTORY, READONLY and SPARSE_FILE where true; a file with none is NORMAL."""
    if st.dos_attributes is not None:
        attrs = FileAttributes(st.dos_attributes)
    else:
        attrs = FileAttributes(0) if st.is_dir else FileAttributes.ARCHIVE
        if st.hidden:
            attrs |= FileAttributes.HIDDEN
    if st.is_dir:
        attrs |= FileAttributes.DIRECTORY
    if st.readonly and not st.is_dir:
        attrs |= FileAttributes.READONLY
    if st.sparse and not st.is_dir:
        attrs |= FileAttributes.SPARSE_FILE
    return int(attrs) or int(FileAttributes.NORMAL)


def file_times(st: FileStat) -> FileTimes:
    return FileTimes(
        creation=filetime(st.btime_ns),
        last_access=filetime(st.atime_ns),
        last_write=filetime(st.mtime_ns),
        change=filetime(st.ctime_ns),
        allocation=0 if st.is_dir else st.allocation,
        end_of_file=0 if st.is_dir else st.size,
        attributes=attributes_of(st),
        file_id=st.file_id,
        nlink=st.nlink,
        is_dir=st.is_dir,
        ea_size=st.ea_size,
    )
