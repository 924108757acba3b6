"""Helpers shared by the file handlers: backend stats → FSCC values."""

from __future__ import annotations

from ...backend.base import FileStat
from ...wire.fscc import FileAttributes, FileTimes, filetime


def attributes_of(st: FileStat) -> int:
    """MS-FSCC 2.6: DIRECTORY or ARCHIVE, plus READONLY, HIDDEN and SPARSE_FILE where true."""
    attrs = FileAttributes.DIRECTORY if st.is_dir else FileAttributes.ARCHIVE
    if st.readonly and not st.is_dir:
        attrs |= FileAttributes.READONLY
    if st.hidden:
        attrs |= FileAttributes.HIDDEN
    if st.sparse and not st.is_dir:
        attrs |= FileAttributes.SPARSE_FILE
    return int(attrs)


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
    )
