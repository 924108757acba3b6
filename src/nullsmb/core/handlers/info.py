"""QUERY_INFO (MS-SMB2 3.3.5.20) and SET_INFO (3.3.5.21) with the FSCC classes clients use.

Rules:
1. Each class is an entry in a table: class → (fixed size, encoder) or (setter, needed access).
2. A buffer smaller than a class's fixed part is STATUS_INFO_LENGTH_MISMATCH; a variable class
   that does not fit is truncated with STATUS_BUFFER_OVERFLOW (MS-SMB2 3.3.5.20.1).
3. Only what is true of the share is claimed (MS-FSCC 2.5.1 attributes: case-sensitive search,
   case-preserved names, Unicode on disk, sparse files, EAs).
4. Classes that need a right on the open check it first (MS-FSA 2.1.5.11: READ_ATTRIBUTES for
   the attribute classes, READ_EA for FileFullEaInformation; SET: WRITE_ATTRIBUTES, WRITE_DATA,
   DELETE, WRITE_EA).
5. Creation and change times and DOS attributes set through FileBasicInformation are kept by
   the backend (localfs rule 12); EAs are the backend's (localfs rule 13), queried with the
   open's EA cursor (``Open.ea_index``). FileNormalizedNameInformation is 3.1.1 only.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from typing import Awaitable, Callable

from ...backend.base import SETTABLE_ATTRIBUTES
from ...backend.path import split_path
from ...policy.null_session import Right, may_connect_share
from ...status import MalformedMessage, NtStatus, SmbError
from ...wire import fscc
from ...wire.buffer import Reader
from ...wire.create import AccessMask, ShareAccess
from ...wire.fscc import FileAttributes, FileInfoClass as F, FsInfoClass as FS
from ...wire.info import SET_INFO_RESPONSE, InfoType, QueryInfoRequest, SetInfoRequest, encode_buffer_response
from ...wire.notify import CompletionFilter, NotifyAction
from .. import notify, oplock
from ..context import Reply, RequestContext
from ..files import DATA_ACCESS, files_of
from ..state import Open
from . import security
from .common import file_times

FS_ATTRIBUTES = (fscc.FILE_CASE_SENSITIVE_SEARCH | fscc.FILE_CASE_PRESERVED_NAMES
                 | fscc.FILE_UNICODE_ON_DISK | fscc.FILE_SUPPORTS_SPARSE_FILES
                 | fscc.FILE_SUPPORTS_EXTENDED_ATTRIBUTES)
NO_CHANGE = (0, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFE)
_BASIC_SET = struct.Struct("<QQQQI")
_RENAME = struct.Struct("<B7sQI")


def _name_of(op: Open) -> str:
    return "\\" + op.path


_SHORT_OK = re.compile(r"[A-Za-z0-9!#$%&'()\-@^_`{}~]{1,8}(\.[A-Za-z0-9!#$%&'()\-@^_`{}~]{1,3})?")


def short_name(name: str) -> str:
    """MS-FSCC 2.4.5 FileAlternateNameInformation: the 8.3 name. A name that already fits is
    its own short name (as Samba answers); others get a stable mangled form like Samba's."""
    if not name or _SHORT_OK.fullmatch(name):
        return name
    base, _, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    clean = re.sub(r"[^A-Za-z0-9]", "", base).upper()[:5] or "_"
    digest = zlib.crc32(name.encode("utf-8", "surrogatepass"))
    tag = "".join("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(digest >> (5 * i)) % 36] for i in range(2))
    ext = re.sub(r"[^A-Za-z0-9]", "", ext).upper()[:3]
    return f"{clean}~{tag}" + (f".{ext}" if ext else "")


async def _file_info(ctx: RequestContext, op: Open, iclass: int) -> tuple[bytes, int]:
    """(encoded value, minimum buffer size) of a file information class."""
    if op.pipe is not None:
        if iclass == F.FileStandardInformation:
            return struct.pack("<QQIBBH", 4096, 0, 1, 1, 0, 0), 24
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    need = _QUERY_ACCESS.get(iclass, 0)
    if need and not op.granted_access & need:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    if iclass == F.FileNormalizedNameInformation:
        if ctx.conn.neg.dialect < 0x0311:  # MS-SMB2 3.3.5.20.1: 3.1.1 only
            raise SmbError(NtStatus.STATUS_NOT_SUPPORTED)
        return fscc.name_info("\\".join(op.handle.path)), 4  # the on-disk names (localfs rule 4)
    if iclass == F.FileIdInformation:
        info = await backend.fs_info()
    st = await backend.stat(op.handle)
    t = file_times(st)
    pending = op.file is not None and op.file.delete_pending
    table: dict[int, Callable[[], tuple[bytes, int]]] = {
        F.FileBasicInformation: lambda: (fscc.basic_info(t), 40),
        F.FileStandardInformation: lambda: (fscc.standard_info(t, pending), 24),
        F.FileInternalInformation: lambda: (struct.pack("<Q", t.file_id), 8),
        F.FileEaInformation: lambda: (struct.pack("<I", t.ea_size), 4),
        F.FileAccessInformation: lambda: (struct.pack("<I", op.granted_access), 4),
        F.FilePositionInformation: lambda: (struct.pack("<Q", op.position), 8),
        F.FileModeInformation: lambda: (struct.pack("<I", op.mode), 4),
        F.FileAlignmentInformation: lambda: (struct.pack("<I", 0), 4),
        F.FileNetworkOpenInformation: lambda: (fscc.network_open_info(t), 56),
        F.FileAttributeTagInformation: lambda: (struct.pack("<II", t.attributes, 0), 8),
        F.FileAllInformation: lambda: (fscc.all_info(t, name=_name_of(op), access=op.granted_access,
                                                     position=op.position, mode=op.mode,
                                                     delete_pending=pending), 104),
        F.FileNameInformation: lambda: (fscc.name_info(_name_of(op)), 4),
        F.FileStreamInformation: lambda: (b"" if st.is_dir else fscc.stream_info(t.end_of_file, t.allocation), 32),
        F.FileCompressionInformation: lambda: (struct.pack("<QHBBB3s", t.end_of_file, 0, 0, 0, 0, b""), 16),
        F.FileIdInformation: lambda: (struct.pack("<Q16s", info.volume_serial,
                                                  t.file_id.to_bytes(16, "little")), 24),
    }
    if iclass == F.FileAlternateNameInformation:
        return fscc.name_info(short_name(op.path.rsplit("\\", 1)[-1] if op.path else "")), 8
    entry = table.get(iclass)
    if entry is None:
        raise SmbError(NtStatus.STATUS_INVALID_INFO_CLASS)
    return entry()


# MS-FSA 2.1.5.11: the classes that need an access right on the open
_QUERY_ACCESS = {
    F.FileBasicInformation: int(AccessMask.FILE_READ_ATTRIBUTES),
    F.FileAllInformation: int(AccessMask.FILE_READ_ATTRIBUTES),
    F.FileNetworkOpenInformation: int(AccessMask.FILE_READ_ATTRIBUTES),
    F.FileAttributeTagInformation: int(AccessMask.FILE_READ_ATTRIBUTES),
    F.FileFullEaInformation: int(AccessMask.FILE_READ_EA),
}
SL_RESTART_SCAN, SL_RETURN_SINGLE_ENTRY, SL_INDEX_SPECIFIED = 0x1, 0x2, 0x4


async def _query_eas(ctx: RequestContext, op: Open, req: QueryInfoRequest) -> Reply:
    """FileFullEaInformation (MS-FSA 2.1.5.11.11, MS-SMB2 2.2.37): the EAs named in the input
    buffer, else the file's EAs from the open's EA cursor (SL_RESTART_SCAN: from the first;
    SL_INDEX_SPECIFIED: from AdditionalInformation, 1-based), as many as fit (one with
    SL_RETURN_SINGLE_ENTRY). None at all: NO_EAS_ON_FILE; past the last: NO_MORE_EAS; the first
    does not fit: BUFFER_TOO_SMALL; more left: BUFFER_OVERFLOW."""
    need = _QUERY_ACCESS[F.FileFullEaInformation]
    if not op.granted_access & need:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    eas = await backend.get_eas(op.handle)
    wanted = fscc.parse_get_ea(req.input)
    if wanted:
        have = {n.casefold(): (n, v) for n, v in eas}
        data = fscc.encode_full_ea([have.get(w.casefold(), (w, b"")) for w in wanted])
        if len(data) > req.output_buffer_length:
            raise SmbError(NtStatus.STATUS_BUFFER_TOO_SMALL)
        return Reply.of(encode_buffer_response(data))
    if not eas:
        raise SmbError(NtStatus.STATUS_NO_EAS_ON_FILE)
    if req.flags & SL_INDEX_SPECIFIED:
        start = req.additional_information - 1
        if start < 0:
            raise SmbError(NtStatus.STATUS_NONEXISTENT_EA_ENTRY)
    elif req.flags & SL_RESTART_SCAN:
        start = 0
    else:
        start = op.ea_index
    if start >= len(eas):
        raise SmbError(NtStatus.STATUS_NO_MORE_EAS if req.flags & SL_INDEX_SPECIFIED == 0
                       else NtStatus.STATUS_NONEXISTENT_EA_ENTRY)
    end = start
    data = b""
    while end < len(eas):
        candidate = fscc.encode_full_ea(eas[start:end + 1])
        if len(candidate) > req.output_buffer_length:
            break
        data, end = candidate, end + 1
        if req.flags & SL_RETURN_SINGLE_ENTRY:
            break
    if end == start:
        raise SmbError(NtStatus.STATUS_BUFFER_TOO_SMALL)
    op.ea_index = end
    status = NtStatus.STATUS_SUCCESS if end == len(eas) or req.flags & SL_RETURN_SINGLE_ENTRY \
        else NtStatus.STATUS_BUFFER_OVERFLOW
    return Reply.of(encode_buffer_response(data), status)


async def _fs_info(ctx: RequestContext, op: Open, iclass: int) -> tuple[bytes, int]:
    backend = op.tree.share.backend
    if backend is None:
        if iclass == FS.FileFsDeviceInformation:
            return fscc.fs_device_info(fscc.FILE_DEVICE_NAMED_PIPE, 0), 8
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    info = await backend.fs_info()
    block = max(info.block_size, 512)
    sectors = block // 512
    total, free = info.total_bytes // block, info.free_bytes // block
    created = fscc.filetime(int(ctx.server.start_time * 1e9))
    table: dict[int, Callable[[], tuple[bytes, int]]] = {
        FS.FileFsVolumeInformation: lambda: (fscc.fs_volume_info(created, info.volume_serial, op.tree.share.name), 24),
        FS.FileFsSizeInformation: lambda: (fscc.fs_size_info(total, free, sectors, 512), 24),
        FS.FileFsFullSizeInformation: lambda: (fscc.fs_full_size_info(total, free, sectors, 512), 32),
        FS.FileFsDeviceInformation: lambda: (fscc.fs_device_info(), 8),
        FS.FileFsAttributeInformation: lambda: (fscc.fs_attribute_info(FS_ATTRIBUTES, info.max_name_length, info.fs_name), 16),
        FS.FileFsSectorSizeInformation: lambda: (fscc.fs_sector_size_info(), 28),
        # MS-FSCC 2.5.2: no quotas, no content-indexing filters
        FS.FileFsControlInformation: lambda: (struct.pack("<QQQqqII", 0, 0, 0, -1, -1, 0, 0), 48),
        # MS-FSCC 2.5.6: a stable volume object id, no extended info
        FS.FileFsObjectIdInformation: lambda: (_volume_object_id(op.tree.share.name, info.volume_serial)
                                               + bytes(48), 64),
    }
    entry = table.get(iclass)
    if entry is None:
        raise SmbError(NtStatus.STATUS_INVALID_INFO_CLASS)
    return entry()


def _volume_object_id(share: str, serial: int) -> bytes:
    """A GUID-shaped id that stays the same for the share across restarts."""
    return hashlib.sha256(f"nullsmb-volume\0{share.casefold()}\0{serial}".encode()).digest()[:16]


async def handle_query_info(ctx: RequestContext, req: QueryInfoRequest) -> Reply:
    op = ctx.open_for(req.file_id)
    if req.info_type == InfoType.FILE and req.info_class == F.FileFullEaInformation and op.pipe is None:
        return await _query_eas(ctx, op, req)
    if req.info_type == InfoType.FILE:
        data, minimum = await _file_info(ctx, op, req.info_class)
    elif req.info_type == InfoType.FILESYSTEM:
        data, minimum = await _fs_info(ctx, op, req.info_class)
    elif req.info_type == InfoType.SECURITY and op.pipe is None:
        data = security.query(ctx, op, req.additional_information, req.output_buffer_length)
        return Reply.of(encode_buffer_response(data))
    elif req.info_type in (InfoType.SECURITY, InfoType.QUOTA):
        raise SmbError(NtStatus.STATUS_NOT_SUPPORTED)
    else:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    limit = req.output_buffer_length
    if limit < minimum:
        raise SmbError(NtStatus.STATUS_INFO_LENGTH_MISMATCH)
    if len(data) > limit:
        return Reply.of(encode_buffer_response(data[:limit]), NtStatus.STATUS_BUFFER_OVERFLOW)
    return Reply.of(encode_buffer_response(data))


# --- SET_INFO -------------------------------------------------------------------------------

def _need(op: Open, access: int) -> None:
    if not op.granted_access & access:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)


async def _set_basic(ctx: RequestContext, op: Open, buf: bytes) -> None:
    _need(op, AccessMask.FILE_WRITE_ATTRIBUTES)
    if len(buf) < 36:
        raise SmbError(NtStatus.STATUS_INFO_LENGTH_MISMATCH)
    created, atime, mtime, change, attrs = _BASIC_SET.unpack_from(buf)
    if attrs & FileAttributes.TEMPORARY and op.is_dir:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)  # MS-FSA 2.1.5.14.2
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    if attrs:  # MS-FSA 2.1.5.14.2: non-zero attributes replace the file's
        if attrs & FileAttributes.DIRECTORY and not op.is_dir:
            raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
        if not op.is_dir:
            await backend.set_readonly(op.handle, bool(attrs & FileAttributes.READONLY))
        await backend.set_attributes(op.handle, attrs & SETTABLE_ATTRIBUTES)
    # times last: an attribute change must not move a change time just set
    a, m, b, c = (None if v in NO_CHANGE else fscc.unix_ns(v) for v in (atime, mtime, created, change))
    if a is not None or m is not None or b is not None or c is not None:
        await backend.set_times(op.handle, atime_ns=a, mtime_ns=m, btime_ns=b, ctime_ns=c)


async def _set_eof(ctx: RequestContext, op: Open, buf: bytes) -> None:
    _need(op, AccessMask.FILE_WRITE_DATA)
    if len(buf) < 8:
        raise SmbError(NtStatus.STATUS_INFO_LENGTH_MISMATCH)
    if op.is_dir:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    size = struct.unpack_from("<Q", buf)[0]
    if size > 1 << 62:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    await backend.truncate(op.handle, size)
    _size_changed(ctx, op)


def _size_changed(ctx: RequestContext, op: Open) -> None:
    """MS-FSA 2.1.5.14.4: a size change breaks LEVEL_II oplocks and R leases."""
    if op.file is not None:
        oplock.break_read_caching(files_of(ctx.server), op.file, op, ctx.server.clock())


async def _set_allocation(ctx: RequestContext, op: Open, buf: bytes) -> None:
    """MS-FSCC 2.4.4: shrinking below EOF truncates; growing reserves space (backend.allocate)."""
    _need(op, AccessMask.FILE_WRITE_DATA)
    if len(buf) < 8:
        raise SmbError(NtStatus.STATUS_INFO_LENGTH_MISMATCH)
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    size = struct.unpack_from("<Q", buf)[0]
    st = await backend.stat(op.handle)
    if not op.is_dir and size < st.size:
        await backend.truncate(op.handle, size)
    elif not op.is_dir and size > st.allocation:
        await backend.allocate(op.handle, size)
    _size_changed(ctx, op)


FILE_RENAME_REPLACE_IF_EXISTS, FILE_RENAME_POSIX_SEMANTICS = 0x1, 0x2


async def _set_rename_ex(ctx: RequestContext, op: Open, buf: bytes) -> None:
    """MS-FSCC 2.4.38.2 FileRenameInformationEx: Flags (u32) where ReplaceIfExists was;
    REPLACE_IF_EXISTS replaces, POSIX_SEMANTICS is taken as the classic rename. Not honoured:
    IGNORE_READONLY_ATTRIBUTE (a READONLY target stays ACCESS_DENIED, localfs rule 6)."""
    if len(buf) < 4:
        raise SmbError(NtStatus.STATUS_INFO_LENGTH_MISMATCH)
    flags = struct.unpack_from("<I", buf)[0]
    await _set_rename(ctx, op, bytes([1 if flags & FILE_RENAME_REPLACE_IF_EXISTS else 0]) + bytes(3)
                      + buf[4:])


async def _set_rename(ctx: RequestContext, op: Open, buf: bytes) -> None:
    """MS-FSCC 2.4.37.2 FILE_RENAME_INFORMATION_TYPE_2 (the SMB2 form)."""
    _need(op, AccessMask.DELETE)
    r = Reader(buf)
    replace, _res, root, length = r.unpack(_RENAME, 0)
    if root:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    target = split_path(r.utf16(20, length))
    if not target:
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_INVALID)
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    old = op.path
    table = files_of(ctx.server)
    share = op.tree.share
    parent = old.rpartition("\\")[0]
    for o in table.opens_of(share, parent):
        # Windows (and Samba) refuse to rename out of a directory someone holds open for DELETE,
        # or holds open for data without sharing writes (the rename adds a name to it: the
        # FILE_ADD_FILE of MS-FSA 2.1.5.14.11's parent open); attribute-only opens don't count
        if o.is_dir and (o.granted_access & AccessMask.DELETE or (
                o.granted_access & DATA_ACCESS and not o.share_access & ShareAccess.WRITE)):
            raise SmbError(NtStatus.STATUS_SHARING_VIOLATION, "parent directory open conflicts")
    if op.is_dir and table.opens_below(share, old):
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "a file below the directory is open")
    session = ctx.session
    if session is not None:  # the directories change: the caller's current identity must write
        decision = may_connect_share(session.principal, share.name, share.access, ctx.server.policy)
        if not decision.allowed or decision.right is Right.READ:
            raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "no write access to the share")
    if op.file is not None:
        oplock.break_for_rename(table, op.file, op, ctx.server.clock())
    await backend.rename(op.handle, target, replace=bool(replace))
    op.path = "\\".join(op.handle.path)
    if op.file is not None:  # every handle of the file follows it (localfs rule 10)
        for other in op.file.opens:
            if other is not op and other.handle is not None:
                other.handle.path = op.handle.path
                other.path = op.path
    old_parent = old.rpartition("\\")[0].casefold()
    new_parent = op.path.rpartition("\\")[0].casefold()
    if old_parent == new_parent:
        notify.report(table, share, old, NotifyAction.RENAMED_OLD_NAME, dir_change=op.is_dir)
        notify.report(table, share, op.path, NotifyAction.RENAMED_NEW_NAME, dir_change=op.is_dir)
    else:
        notify.report(table, share, old, NotifyAction.REMOVED, dir_change=op.is_dir)
        notify.report(table, share, op.path, NotifyAction.ADDED, dir_change=op.is_dir)


async def _set_disposition(ctx: RequestContext, op: Open, buf: bytes) -> None:
    """MS-FSCC 2.4.11 FileDispositionInformation: DeletePending for the file."""
    _need(op, AccessMask.DELETE)
    if len(buf) < 1:
        raise SmbError(NtStatus.STATUS_INFO_LENGTH_MISMATCH)
    await _dispose(op, bool(buf[0]), on_close=False, ignore_readonly=False)


FILE_DISPOSITION_DELETE, FILE_DISPOSITION_POSIX_SEMANTICS = 0x1, 0x2
FILE_DISPOSITION_ON_CLOSE, FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE = 0x8, 0x10


async def _set_disposition_ex(ctx: RequestContext, op: Open, buf: bytes) -> None:
    """MS-FSCC 2.4.12 FileDispositionInformationEx. DELETE (with or without POSIX_SEMANTICS,
    which is honoured as the classic delete-pending: the name goes at the last close) sets
    DeletePending; ON_CLOSE instead sets or clears this open's delete-on-close;
    IGNORE_READONLY_ATTRIBUTE lets a READONLY file go."""
    _need(op, AccessMask.DELETE)
    if len(buf) < 4:
        raise SmbError(NtStatus.STATUS_INFO_LENGTH_MISMATCH)
    flags = struct.unpack_from("<I", buf)[0]
    if flags & ~0x1F:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    await _dispose(op, bool(flags & FILE_DISPOSITION_DELETE),
                   on_close=bool(flags & FILE_DISPOSITION_ON_CLOSE),
                   ignore_readonly=bool(flags & FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE))


async def _dispose(op: Open, delete: bool, *, on_close: bool, ignore_readonly: bool) -> None:
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    if delete:
        st = await backend.stat(op.handle)
        if st.readonly and not st.is_dir:
            if not ignore_readonly:
                raise SmbError(NtStatus.STATUS_CANNOT_DELETE)
        else:  # the backend's CANNOT_DELETE for READONLY is what ignore_readonly lifts
            await backend.can_delete(op.handle)
    if op.file is not None and not on_close:
        was, op.file.delete_pending = op.file.delete_pending, delete
        op.file.delete_ignores_readonly = delete and ignore_readonly
        if delete and not was:
            notify.delete_pending(op.file)
    else:
        op.delete_on_close = delete
        if op.file is not None and delete and ignore_readonly:
            op.file.delete_ignores_readonly = True


async def _set_full_ea(ctx: RequestContext, op: Open, buf: bytes) -> None:
    """MS-FSCC 2.4.15 FileFullEaInformation: set (empty value: remove) the listed EAs."""
    _need(op, AccessMask.FILE_WRITE_EA)
    eas = fscc.parse_full_ea(buf)
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    await backend.set_eas(op.handle, eas)


async def _set_position(ctx: RequestContext, op: Open, buf: bytes) -> None:
    if len(buf) < 8:
        raise SmbError(NtStatus.STATUS_INFO_LENGTH_MISMATCH)
    op.position = struct.unpack_from("<Q", buf)[0]


async def _set_mode(ctx: RequestContext, op: Open, buf: bytes) -> None:
    if len(buf) < 4:
        raise SmbError(NtStatus.STATUS_INFO_LENGTH_MISMATCH)
    op.mode = struct.unpack_from("<I", buf)[0]


SETTERS: dict[int, Callable[[RequestContext, Open, bytes], Awaitable[None]]] = {
    F.FileBasicInformation: _set_basic,
    F.FileEndOfFileInformation: _set_eof,
    F.FileAllocationInformation: _set_allocation,
    F.FileRenameInformation: _set_rename,
    F.FileDispositionInformation: _set_disposition,
    F.FilePositionInformation: _set_position,
    F.FileModeInformation: _set_mode,
    F.FileDispositionInformationEx: _set_disposition_ex,
    F.FileRenameInformationEx: _set_rename_ex,
    F.FileFullEaInformation: _set_full_ea,
}


async def handle_set_info(ctx: RequestContext, req: SetInfoRequest) -> Reply:
    op = ctx.open_for(req.file_id)
    if req.info_type == InfoType.SECURITY and op.pipe is None:
        security.set_security(ctx, op, req.additional_information, req.buffer)
        return Reply.of(SET_INFO_RESPONSE)
    if req.info_type != InfoType.FILE:
        raise SmbError(NtStatus.STATUS_NOT_SUPPORTED if req.info_type == InfoType.SECURITY
                       else NtStatus.STATUS_INVALID_PARAMETER)
    if op.pipe is not None:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    setter = SETTERS.get(req.info_class)
    if setter is None:
        raise SmbError(NtStatus.STATUS_INVALID_INFO_CLASS)
    if op.tree.share.read_only or op.tree.share.backend is None:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    try:
        await setter(ctx, op, req.buffer)
    except MalformedMessage:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "malformed information buffer") from None
    changed = _NOTIFY_CHANGE.get(req.info_class)
    if changed:
        notify.report(files_of(ctx.server), op.tree.share, op.path, NotifyAction.MODIFIED,
                      dir_change=op.is_dir, changed=changed)
    return Reply.of(SET_INFO_RESPONSE)


_NOTIFY_CHANGE = {  # what a MODIFIED change of each class concerns (MS-FSA 2.1.5.14)
    F.FileBasicInformation: int(CompletionFilter.ATTRIBUTES | CompletionFilter.LAST_WRITE
                                | CompletionFilter.LAST_ACCESS | CompletionFilter.CREATION),
    F.FileEndOfFileInformation: int(CompletionFilter.SIZE),
    F.FileAllocationInformation: int(CompletionFilter.SIZE),
    F.FileFullEaInformation: int(CompletionFilter.EA),
}
