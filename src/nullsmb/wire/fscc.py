"""File and file-system information structures (MS-FSCC 2.4, 2.5) and directory entries.

Rules:
1. Encoders take plain values (times already as FILETIME); the core maps backend stats.
2. Directory entries are 8-byte aligned and chained by NextEntryOffset (MS-FSCC 2.4).
3. Only attributes and file-system flags that are true of the share are claimed.
4. EA lists from the wire (FILE_FULL_EA_INFORMATION, FILE_GET_EA_INFORMATION) are walked within
   their buffer: malformed -> STATUS_EA_LIST_INCONSISTENT, bad names -> STATUS_INVALID_EA_NAME.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from ..status import NtStatus, SmbError

__all__ = [
    "FileAttributes",
    "FileInfoClass",
    "FsInfoClass",
    "FileTimes",
    "filetime",
    "unix_ns",
    "encode_dir_entries",
]

EPOCH_DELTA = 116444736000000000  # 1601-01-01 to 1970-01-01 in 100 ns units


def filetime(ns: int) -> int:
    """Unix nanoseconds → FILETIME (MS-DTYP 2.3.3)."""
    return ns // 100 + EPOCH_DELTA


def unix_ns(ft: int) -> int:
    return (ft - EPOCH_DELTA) * 100


class FileAttributes(IntFlag):
    """MS-FSCC 2.6 File Attributes."""

    READONLY = 0x00000001
    HIDDEN = 0x00000002
    SYSTEM = 0x00000004
    DIRECTORY = 0x00000010
    ARCHIVE = 0x00000020
    NORMAL = 0x00000080
    TEMPORARY = 0x00000100
    SPARSE_FILE = 0x00000200
    REPARSE_POINT = 0x00000400
    COMPRESSED = 0x00000800


class FileInfoClass(IntEnum):
    """MS-FSCC 2.4 File Information Classes."""

    FileDirectoryInformation = 1
    FileFullDirectoryInformation = 2
    FileBothDirectoryInformation = 3
    FileBasicInformation = 4
    FileStandardInformation = 5
    FileInternalInformation = 6
    FileEaInformation = 7
    FileAccessInformation = 8
    FileNameInformation = 9
    FileRenameInformation = 10
    FileNamesInformation = 12
    FileDispositionInformation = 13
    FilePositionInformation = 14
    FileFullEaInformation = 15
    FileModeInformation = 16
    FileAlignmentInformation = 17
    FileAllInformation = 18
    FileAllocationInformation = 19
    FileEndOfFileInformation = 20
    FileAlternateNameInformation = 21
    FileStreamInformation = 22
    FilePipeInformation = 23
    FilePipeLocalInformation = 24
    FileCompressionInformation = 28
    FileNetworkOpenInformation = 34
    FileAttributeTagInformation = 35
    FileIdBothDirectoryInformation = 37
    FileIdFullDirectoryInformation = 38
    FileValidDataLengthInformation = 39
    FileNormalizedNameInformation = 48
    FileIdInformation = 59
    FileIdExtdDirectoryInformation = 60
    FileDispositionInformationEx = 64
    FileRenameInformationEx = 65


class FsInfoClass(IntEnum):
    """MS-FSCC 2.5 File System Information Classes."""

    FileFsVolumeInformation = 1
    FileFsLabelInformation = 2
    FileFsSizeInformation = 3
    FileFsDeviceInformation = 4
    FileFsAttributeInformation = 5
    FileFsControlInformation = 6
    FileFsFullSizeInformation = 7
    FileFsObjectIdInformation = 8
    FileFsSectorSizeInformation = 11


@dataclass(frozen=True, slots=True)
class FileTimes:
    """The four FILETIMEs plus size and attributes shared by many classes."""

    creation: int
    last_access: int
    last_write: int
    change: int
    allocation: int
    end_of_file: int
    attributes: int
    file_id: int = 0
    nlink: int = 1
    is_dir: bool = False
    ea_size: int = 0  # FileEaInformation.EaSize and the listings' EaSize (MS-FSCC 2.4.12)


_BASIC = struct.Struct("<QQQQII")
_STANDARD = struct.Struct("<QQIBBH")
_NETWORK_OPEN = struct.Struct("<QQQQQQII")
_DIR_FIXED = struct.Struct("<IIQQQQQQII")  # NextEntryOffset .. FileNameLength (64 bytes)
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def basic_info(t: FileTimes) -> bytes:
    """MS-FSCC 2.4.7 FileBasicInformation (40 bytes)."""
    return _BASIC.pack(t.creation, t.last_access, t.last_write, t.change, t.attributes, 0)


def standard_info(t: FileTimes, delete_pending: bool = False) -> bytes:
    """MS-FSCC 2.4.41 FileStandardInformation (24 bytes)."""
    return _STANDARD.pack(t.allocation, t.end_of_file, t.nlink, int(delete_pending), int(t.is_dir), 0)


def network_open_info(t: FileTimes) -> bytes:
    """MS-FSCC 2.4.29 FileNetworkOpenInformation (56 bytes)."""
    return _NETWORK_OPEN.pack(t.creation, t.last_access, t.last_write, t.change, t.allocation,
                              t.end_of_file, t.attributes, 0)


def all_info(t: FileTimes, *, name: str, access: int, position: int, mode: int,
             delete_pending: bool = False) -> bytes:
    """MS-FSCC 2.4.2 FileAllInformation."""
    name_b = name.encode("utf-16-le", "surrogatepass")
    return b"".join((
        basic_info(t),
        standard_info(t, delete_pending),
        _U64.pack(t.file_id),  # FileInternalInformation
        _U32.pack(t.ea_size),  # FileEaInformation
        _U32.pack(access),  # FileAccessInformation
        _U64.pack(position),  # FilePositionInformation
        _U32.pack(mode),  # FileModeInformation
        _U32.pack(0),  # FileAlignmentInformation: byte aligned
        _U32.pack(len(name_b)),
        name_b,
    ))


def name_info(name: str) -> bytes:
    name_b = name.encode("utf-16-le", "surrogatepass")
    return _U32.pack(len(name_b)) + name_b


def stream_info(size: int, allocation: int) -> bytes:
    """MS-FSCC 2.4.43 FileStreamInformation: the one unnamed data stream of a file."""
    name = "::$DATA".encode("utf-16-le")
    return struct.pack("<IIQQ", 0, len(name), size, allocation) + name


# --- extended attributes (MS-FSCC 2.4.15, 2.4.15.1) ----------------------------------------

_EA_HEAD = struct.Struct("<IBBH")  # NextEntryOffset, Flags, EaNameLength, EaValueLength
_EA_BAD_CHARS = frozenset(b'"*+,/:;<=>?[\\]|')
MAX_EA_VALUE = 0xFFFF


def ea_entry_size(name_len: int, value_len: int) -> int:
    """One FILE_FULL_EA_INFORMATION entry, padded to 4 bytes: what EaSize adds up."""
    return (_EA_HEAD.size + name_len + 1 + value_len + 3) & ~3


def valid_ea_name(name: bytes) -> bool:
    """MS-FSCC 2.4.15: 1-255 printable ASCII characters, none of ``"*+,/:;<=>?[\\]|``."""
    return 0 < len(name) <= 255 and all(0x20 <= c < 0x7F and c not in _EA_BAD_CHARS for c in name)


def parse_full_ea(buf: bytes) -> list[tuple[str, bytes]]:
    """A FILE_FULL_EA_INFORMATION list -> [(name, value)] (an empty value removes the EA).

    Every offset and length is bounded by ``buf``: a malformed list is
    STATUS_EA_LIST_INCONSISTENT, a bad name STATUS_INVALID_EA_NAME."""
    out: list[tuple[str, bytes]] = []
    pos = 0
    while True:
        if pos + _EA_HEAD.size > len(buf):
            raise SmbError(NtStatus.STATUS_EA_LIST_INCONSISTENT, "EA entry past the buffer")
        nxt, _flags, nlen, vlen = _EA_HEAD.unpack_from(buf, pos)
        end = pos + _EA_HEAD.size + nlen + 1 + vlen
        if end > len(buf) or buf[pos + _EA_HEAD.size + nlen] != 0:
            raise SmbError(NtStatus.STATUS_EA_LIST_INCONSISTENT, "EA entry past the buffer")
        name = bytes(buf[pos + _EA_HEAD.size: pos + _EA_HEAD.size + nlen])
        if not valid_ea_name(name):
            raise SmbError(NtStatus.STATUS_INVALID_EA_NAME, "bad EA name")
        out.append((name.decode("ascii"), bytes(buf[end - vlen: end])))
        if nxt == 0:
            return out
        if nxt < end - pos:
            raise SmbError(NtStatus.STATUS_EA_LIST_INCONSISTENT, "EA entries overlap")
        pos += nxt


def encode_full_ea(eas: list[tuple[str, bytes]]) -> bytes:
    """[(name, value)] -> FILE_FULL_EA_INFORMATION entries, each aligned to 4 bytes."""
    out = bytearray()
    last = -1
    for name, value in eas:
        raw = name.encode("ascii")
        out += bytes(-len(out) % 4)
        if last >= 0:
            _U32.pack_into(out, last, len(out) - last)
        last = len(out)
        out += _EA_HEAD.pack(0, 0, len(raw), len(value)) + raw + b"\0" + value
    return bytes(out)


def parse_get_ea(buf: bytes) -> list[str]:
    """A FILE_GET_EA_INFORMATION list (the names a QUERY_INFO asks for) -> names, bounded."""
    out: list[str] = []
    pos = 0
    while buf:
        if pos + 5 > len(buf):
            raise SmbError(NtStatus.STATUS_EA_LIST_INCONSISTENT, "EA name entry past the buffer")
        nxt, nlen = struct.unpack_from("<IB", buf, pos)
        name = bytes(buf[pos + 5: pos + 5 + nlen])
        if len(name) != nlen or not valid_ea_name(name):
            raise SmbError(NtStatus.STATUS_INVALID_EA_NAME, "bad EA name")
        out.append(name.decode("ascii"))
        if nxt == 0:
            break
        if nxt < 5 + nlen:
            raise SmbError(NtStatus.STATUS_EA_LIST_INCONSISTENT, "EA name entries overlap")
        pos += nxt
    return out


# --- directory entries ---------------------------------------------------------------------

def _entry(iclass: int, name: bytes, t: FileTimes, short: bytes = b"") -> bytes:
    if iclass == FileInfoClass.FileNamesInformation:
        return struct.pack("<III", 0, 0, len(name)) + name
    fixed = _DIR_FIXED.pack(0, 0, t.creation, t.last_access, t.last_write, t.change,
                            t.end_of_file, t.allocation, t.attributes, len(name))
    ea = t.ea_size
    if iclass == FileInfoClass.FileDirectoryInformation:
        return fixed + name
    if iclass == FileInfoClass.FileFullDirectoryInformation:
        return fixed + _U32.pack(ea) + name
    if iclass == FileInfoClass.FileIdFullDirectoryInformation:
        return fixed + struct.pack("<IIQ", ea, 0, t.file_id) + name
    if iclass == FileInfoClass.FileBothDirectoryInformation:
        return fixed + struct.pack("<IBB24s", ea, len(short), 0, short) + name
    if iclass == FileInfoClass.FileIdBothDirectoryInformation:
        return fixed + struct.pack("<IBB24sHQ", ea, len(short), 0, short, 0, t.file_id) + name
    if iclass == FileInfoClass.FileIdExtdDirectoryInformation:
        return fixed + struct.pack("<II16s", ea, 0, t.file_id.to_bytes(16, "little")) + name
    raise ValueError(iclass)


DIRECTORY_CLASSES = frozenset({
    FileInfoClass.FileDirectoryInformation,
    FileInfoClass.FileFullDirectoryInformation,
    FileInfoClass.FileBothDirectoryInformation,
    FileInfoClass.FileNamesInformation,
    FileInfoClass.FileIdBothDirectoryInformation,
    FileInfoClass.FileIdFullDirectoryInformation,
    FileInfoClass.FileIdExtdDirectoryInformation,
})


_SHORT_CLASSES = frozenset({FileInfoClass.FileBothDirectoryInformation,
                            FileInfoClass.FileIdBothDirectoryInformation})


def encode_dir_entries(iclass: int, entries: list[tuple[str, FileTimes]], limit: int,
                       single: bool = False,
                       short_name: Callable[[str], str] | None = None) -> tuple[bytes, int]:
    """Pack as many entries as fit in ``limit`` bytes; returns (buffer, entries used).

    ``short_name`` gives the 8.3 name the BOTH classes carry ("" for a name that is its own)."""
    out = bytearray()
    last = -1
    used = 0
    shorts = short_name is not None and iclass in _SHORT_CLASSES
    for name, t in entries:
        short = short_name(name).encode("utf-16-le")[:24] if shorts else b""  # type: ignore[misc]
        raw = _entry(iclass, name.encode("utf-16-le", "surrogatepass"), t, short)
        pad = -len(out) % 8
        if len(out) + pad + len(raw) > limit:
            break
        if last >= 0:
            out += bytes(pad)
            _U32.pack_into(out, last, len(out) - last)
        last = len(out)
        out += raw
        used += 1
        if single:
            break
    return bytes(out), used


# --- file-system information -----------------------------------------------------------------

FILE_CASE_SENSITIVE_SEARCH = 0x00000001
FILE_CASE_PRESERVED_NAMES = 0x00000002
FILE_UNICODE_ON_DISK = 0x00000004
FILE_SUPPORTS_SPARSE_FILES = 0x00000040
FILE_SUPPORTS_EXTENDED_ATTRIBUTES = 0x00800000
FILE_DEVICE_DISK = 0x00000007
FILE_DEVICE_NAMED_PIPE = 0x00000011


def fs_volume_info(creation: int, serial: int, label: str) -> bytes:
    """MS-FSCC 2.5.9 FileFsVolumeInformation."""
    lb = label.encode("utf-16-le")
    return struct.pack("<QIIBB", creation, serial & 0xFFFFFFFF, len(lb), 0, 0) + lb


def fs_size_info(total_units: int, free_units: int, sectors_per_unit: int, bytes_per_sector: int) -> bytes:
    """MS-FSCC 2.5.8 FileFsSizeInformation."""
    return struct.pack("<QQII", total_units, free_units, sectors_per_unit, bytes_per_sector)


def fs_full_size_info(total_units: int, free_units: int, sectors_per_unit: int,
                      bytes_per_sector: int) -> bytes:
    """MS-FSCC 2.5.4 FileFsFullSizeInformation."""
    return struct.pack("<QQQII", total_units, free_units, free_units, sectors_per_unit, bytes_per_sector)


def fs_device_info(device_type: int = FILE_DEVICE_DISK, characteristics: int = 0x20) -> bytes:
    """MS-FSCC 2.5.10 FileFsDeviceInformation (0x20: FILE_DEVICE_IS_MOUNTED)."""
    return struct.pack("<II", device_type, characteristics)


def fs_attribute_info(attributes: int, max_name: int, fs_name: str) -> bytes:
    """MS-FSCC 2.5.1 FileFsAttributeInformation."""
    nb = fs_name.encode("utf-16-le")
    return struct.pack("<III", attributes, max_name, len(nb)) + nb


def fs_sector_size_info(sector: int = 512) -> bytes:
    """MS-FSCC 2.5.7 FileFsSectorSizeInformation."""
    return struct.pack("<IIIIIII", sector, sector, sector, sector, 0, 0, 0)
