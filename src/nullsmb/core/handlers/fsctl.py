"""The file-system FSCTLs clients send (MS-SMB2 3.3.5.15.x; MS-FSCC 2.3), beside ioctl.py.

Rules:
1. Server-side copy (3.3.5.15.6): SRV_REQUEST_RESUME_KEY names the source open with 24 opaque
   bytes kept with the open; SRV_COPYCHUNK/_WRITE copies chunks from it into the target without
   the data crossing the wire. Limits: 256 chunks, 1 MiB a chunk, 16 MiB a request (over them:
   INVALID_PARAMETER answering the limits). Source needs FILE_READ_DATA or FILE_EXECUTE; the target
   FILE_WRITE_DATA, and FILE_READ_DATA too for SRV_COPYCHUNK. A chunk reaching past the source's
   end is STATUS_INVALID_VIEW_SIZE; locks of other opens give FILE_LOCK_CONFLICT. A copy's
   errors still carry the SRV_COPYCHUNK_RESPONSE (chunks and bytes written so far).
2. Sparse files: SET_SPARSE (no buffer means TRUE), SET_ZERO_DATA (a hole in a sparse file,
   zeros otherwise), QUERY_ALLOCATED_RANGES (BUFFER_OVERFLOW with the ranges that fit).
3. Compression is honestly absent: GET_COMPRESSION answers NONE, SET_COMPRESSION accepts NONE
   and is STATUS_NOT_SUPPORTED for anything else (as Windows on a volume without it).
4. Reparse points are not supported: GET_REPARSE_POINT is STATUS_NOT_A_REPARSE_POINT,
   SET/DELETE are STATUS_NOT_SUPPORTED. Object ids are derived from the file id and the
   volume serial (CREATE_OR_GET_OBJECT_ID, GET_OBJECT_ID), never stored.
5. SRV_ENUMERATE_SNAPSHOTS lists no snapshot; QUERY_NETWORK_INTERFACE_INFO lists the
   configured listen addresses (not the wildcard ones); FILE_LEVEL_TRIM is accepted as the
   hint it is.
"""

from __future__ import annotations

import ipaddress
import struct

from ...status import NtStatus, SmbError
from ...wire.create import AccessMask
from ...wire.ioctl import IoctlRequest, encode_ioctl_response
from .. import brlock, oplock
from ..context import Reply, RequestContext
from ..files import files_of
from ..state import Open

MAX_CHUNKS, MAX_CHUNK_SIZE, MAX_COPY = 256, 1 << 20, 16 << 20
NO_FILE = b"\xff" * 16
_COPY_HEADER = struct.Struct("<24sII")
_CHUNK = struct.Struct("<QQII")
_COPY_RSP = struct.Struct("<III")
_RANGE = struct.Struct("<qq")
_ZERO = struct.Struct("<qq")
READ_DATA, WRITE_DATA = int(AccessMask.FILE_READ_DATA), int(AccessMask.FILE_WRITE_DATA)
EXECUTE = int(AccessMask.FILE_EXECUTE)
WRITES = WRITE_DATA | int(AccessMask.FILE_APPEND_DATA) | int(AccessMask.FILE_WRITE_ATTRIBUTES)


def _file(ctx: RequestContext, req: IoctlRequest) -> Open:
    op = ctx.open_for(req.file_id)
    if op.pipe is not None or op.handle is None:
        raise SmbError(NtStatus.STATUS_INVALID_DEVICE_REQUEST)
    return op


def _answer(req: IoctlRequest, out: bytes, status: int = NtStatus.STATUS_SUCCESS) -> Reply:
    return Reply.of(encode_ioctl_response(req.ctl_code, req.file_id, out), status)


async def request_resume_key(ctx: RequestContext, req: IoctlRequest) -> Reply:
    """MS-SMB2 3.3.5.15.8: 24-byte ResumeKey, ContextLength 0 (and 4 reserved bytes)."""
    op = _file(ctx, req)
    if req.max_output_response < 32:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    table = files_of(ctx.server)
    if not op.resume_key:
        op.resume_key = ctx.server.random_bytes(24)
        table.resume_keys[op.resume_key] = op
    return _answer(req, op.resume_key + bytes(8))


async def copychunk(ctx: RequestContext, req: IoctlRequest) -> Reply:
    """Rule 1 (MS-SMB2 3.3.5.15.6)."""
    target = _file(ctx, req)
    if req.max_output_response < _COPY_RSP.size:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    data = bytes(req.input)
    if len(data) < _COPY_HEADER.size:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    key, count, _res = _COPY_HEADER.unpack_from(data)
    limits = _COPY_RSP.pack(MAX_CHUNKS, MAX_CHUNK_SIZE, MAX_COPY)
    if count > MAX_CHUNKS or len(data) < _COPY_HEADER.size + count * _CHUNK.size:
        return _answer(req, limits, NtStatus.STATUS_INVALID_PARAMETER)
    chunks = [_CHUNK.unpack_from(data, _COPY_HEADER.size + i * _CHUNK.size) for i in range(count)]
    if any(c[2] > MAX_CHUNK_SIZE for c in chunks) or sum(c[2] for c in chunks) > MAX_COPY:
        return _answer(req, limits, NtStatus.STATUS_INVALID_PARAMETER)
    source = files_of(ctx.server).resume_keys.get(key)
    if source is None or source.closed:
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_NOT_FOUND, "unknown resume key")
    need = WRITE_DATA | (READ_DATA if req.ctl_code == 0x001440F2 else 0)  # SRV_COPYCHUNK
    if target.granted_access & need != need or not source.granted_access & (READ_DATA | EXECUTE):
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    if any(c[2] == 0 for c in chunks):
        return _answer(req, _COPY_RSP.pack(0, 0, 0), NtStatus.STATUS_INVALID_PARAMETER)
    src_backend, dst_backend = source.tree.share.backend, target.tree.share.backend
    assert src_backend is not None and dst_backend is not None
    written = total = 0
    status = NtStatus.STATUS_SUCCESS
    for src_off, dst_off, length, _r in chunks:
        try:
            brlock.check_io(source.file, source, src_off, length, write=False)
            brlock.check_io(target.file, target, dst_off, length, write=True)
            chunk = await src_backend.read(source.handle, src_off, length)
            if len(chunk) < length:
                raise SmbError(NtStatus.STATUS_INVALID_VIEW_SIZE, "chunk beyond the source's end")
            await dst_backend.write(target.handle, dst_off, chunk)
        except SmbError as err:
            status = err.status
            break
        written += 1
        total += length
    if written and target.file is not None:
        oplock.break_read_caching(files_of(ctx.server), target.file, target, ctx.server.clock())
    return _answer(req, _COPY_RSP.pack(written, 0, total), status)


async def set_sparse(ctx: RequestContext, req: IoctlRequest) -> Reply:
    """MS-FSCC 2.3.64: an absent buffer means SetSparse TRUE."""
    op = _file(ctx, req)
    if op.is_dir:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "directories are never sparse")
    if not op.granted_access & WRITES:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    sparse = bool(req.input[0]) if len(req.input) else True
    backend = op.tree.share.backend
    assert backend is not None
    await backend.set_sparse(op.handle, sparse)
    return _answer(req, b"")


async def set_zero_data(ctx: RequestContext, req: IoctlRequest) -> Reply:
    """MS-FSCC 2.3.67 FILE_ZERO_DATA_INFORMATION (FileOffset, BeyondFinalZero)."""
    op = _file(ctx, req)
    if len(req.input) < _ZERO.size:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    start, beyond = _ZERO.unpack_from(bytes(req.input))
    if start < 0 or beyond < 0 or start > beyond:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    if not op.granted_access & WRITE_DATA:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    if op.is_dir:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    brlock.check_io(op.file, op, start, beyond - start, write=True)
    backend = op.tree.share.backend
    assert backend is not None
    if beyond > start:
        st = await backend.stat(op.handle)
        await backend.zero_range(op.handle, start, beyond - start, deallocate=st.sparse)
        if op.file is not None:
            oplock.break_read_caching(files_of(ctx.server), op.file, op, ctx.server.clock())
    return _answer(req, b"")


async def query_allocated_ranges(ctx: RequestContext, req: IoctlRequest) -> Reply:
    """MS-FSCC 2.3.51: the data ranges within the one asked about."""
    op = _file(ctx, req)
    if len(req.input) < _RANGE.size:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    offset, length = _RANGE.unpack_from(bytes(req.input))
    if offset < 0 or length < 0 or offset + length > (1 << 63) - 1:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    if not op.granted_access & READ_DATA:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    backend = op.tree.share.backend
    assert backend is not None
    ranges = [] if op.is_dir else await backend.allocated_ranges(op.handle, offset, length)
    room = req.max_output_response // _RANGE.size
    if ranges and room == 0:
        raise SmbError(NtStatus.STATUS_BUFFER_TOO_SMALL)
    out = b"".join(_RANGE.pack(o, n) for o, n in ranges[:room])
    status = NtStatus.STATUS_BUFFER_OVERFLOW if len(ranges) > room else NtStatus.STATUS_SUCCESS
    return _answer(req, out, status)


async def get_compression(ctx: RequestContext, req: IoctlRequest) -> Reply:
    _file(ctx, req)
    if req.max_output_response < 2:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    return _answer(req, struct.pack("<H", 0))  # COMPRESSION_FORMAT_NONE


async def set_compression(ctx: RequestContext, req: IoctlRequest) -> Reply:
    op = _file(ctx, req)
    if len(req.input) < 2:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    if not op.granted_access & WRITES:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    if struct.unpack_from("<H", bytes(req.input))[0] != 0:
        raise SmbError(NtStatus.STATUS_NOT_SUPPORTED, "no compression on this volume")
    return _answer(req, b"")


async def get_reparse_point(ctx: RequestContext, req: IoctlRequest) -> Reply:
    _file(ctx, req)
    raise SmbError(NtStatus.STATUS_NOT_A_REPARSE_POINT)


async def set_reparse_point(ctx: RequestContext, req: IoctlRequest) -> Reply:
    _file(ctx, req)
    raise SmbError(NtStatus.STATUS_NOT_SUPPORTED, "reparse points are not supported")


async def object_id(ctx: RequestContext, req: IoctlRequest) -> Reply:
    """MS-FSCC 2.1.3.1 FILE_OBJECTID_BUFFER, derived (rule 4)."""
    op = _file(ctx, req)
    backend = op.tree.share.backend
    assert backend is not None
    st = await backend.stat(op.handle)
    volume = (await backend.fs_info()).volume_serial
    oid = struct.pack("<QQ", st.file_id, volume)
    vid = struct.pack("<QQ", volume, 0)
    return _answer(req, oid + vid + oid + bytes(16))


async def enumerate_snapshots(ctx: RequestContext, req: IoctlRequest) -> Reply:
    """MS-SMB2 3.3.5.15.1: no snapshots (SnapShotArraySize 2: the empty list's terminator)."""
    _file(ctx, req)
    if req.max_output_response < 16:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    return _answer(req, struct.pack("<III", 0, 0, 2) + bytes(4))


async def network_interfaces(ctx: RequestContext, req: IoctlRequest) -> Reply:
    """MS-SMB2 3.3.5.15.11 and 2.2.32.5 NETWORK_INTERFACE_INFO, one per listen address."""
    if req.file_id != NO_FILE:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    entries = []
    for index, addr in enumerate(ctx.server.config.server.listen, start=1):
        try:
            ip = ipaddress.ip_address(addr.host)
        except ValueError:
            continue
        if ip.is_unspecified:
            continue
        if ip.version == 4:
            sockaddr = struct.pack("<HH", 0x0002, 0) + ip.packed + bytes(8)
        else:
            sockaddr = struct.pack("<HHI", 0x0017, 0, 0) + ip.packed + struct.pack("<I", 0)
        entries.append(struct.pack("<IIIIQ", 0, index, 0, 0, 10_000_000_000)
                       + sockaddr.ljust(128, b"\x00"))
    if not entries:
        raise SmbError(NtStatus.STATUS_NOT_SUPPORTED, "no concrete listen address")
    out = bytearray()
    for i, entry in enumerate(entries):
        if i < len(entries) - 1:
            entry = struct.pack("<I", len(entry)) + entry[4:]
        out += entry
    if len(out) > req.max_output_response:
        raise SmbError(NtStatus.STATUS_BUFFER_TOO_SMALL)
    return _answer(req, bytes(out))


async def file_level_trim(ctx: RequestContext, req: IoctlRequest) -> Reply:
    """MS-FSCC 2.3.14: FILE_LEVEL_TRIM_OUTPUT NumRangesProcessed (a hint; nothing is discarded)."""
    op = _file(ctx, req)
    if len(req.input) < 8:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    if not op.granted_access & WRITE_DATA:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    _key, count = struct.unpack_from("<II", bytes(req.input))
    if len(req.input) < 8 + 16 * count:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    return _answer(req, struct.pack("<I", count))
