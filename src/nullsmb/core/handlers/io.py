"""READ (MS-SMB2 3.3.5.12), WRITE (3.3.5.13) and FLUSH (3.3.5.11).

Rules:
1. Lengths are bounded by the negotiated MaxRead/MaxWrite and paid for with credits.
2. A READ payload is held against the server-wide memory budget until it is sent, and travels
   as its own buffer beside the header (never joined); a WRITE payload goes to disk from the
   received PDU's memory.
3. Named-pipe READs longer than the pending reply return STATUS_BUFFER_OVERFLOW with the rest
   left for the next READ (MS-SMB2 3.3.5.12).
4. A READ or WRITE that meets another open's byte-range lock (or, for a write, the open's own
   shared lock) fails with STATUS_FILE_LOCK_CONFLICT; a WRITE breaks the other opens' LEVEL_II
   oplocks and R leases (``core.brlock``, ``core.oplock``). Both cost nothing while the file has
   no lock and a single open.
"""

from __future__ import annotations

from ...status import NtStatus, SmbError
from ...wire.create import AccessMask
from ...wire.io import FLUSH_RESPONSE, FlushRequest, ReadRequest, WriteRequest, encode_read_response, encode_write_response
from .. import brlock, oplock
from ..context import Reply, RequestContext
from ..files import files_of

READ_RIGHTS = AccessMask.FILE_READ_DATA | AccessMask.FILE_EXECUTE
WRITE_DATA_RIGHTS = AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA
WRITE_THROUGH = 0x00000001  # SMB2_WRITEFLAG_WRITE_THROUGH
INT64_MAX = (1 << 63) - 1
MAX_FILE_SIZE = 0xFFFFFFF0000  # NTFS's largest file: writes beyond it are invalid (as Samba)
APPEND_OFFSET = 0xFFFFFFFFFFFFFFFF  # MS-SMB2 3.3.5.13: write at end of file (append-only opens)


async def handle_read(ctx: RequestContext, req: ReadRequest) -> Reply:
    conn = ctx.conn
    conn.check_payload_charge(ctx.header, req.length)
    if req.length > conn.neg.max_read:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "read beyond MaxReadSize")
    op = ctx.open_for(req.file_id)
    if op.pipe is not None:
        data, more = op.pipe.read(req.length)
        if not data:
            raise SmbError(NtStatus.STATUS_PIPE_EMPTY)
        status = NtStatus.STATUS_BUFFER_OVERFLOW if more else NtStatus.STATUS_SUCCESS
        return Reply([encode_read_response(len(data)), data], status)
    if op.is_dir:
        raise SmbError(NtStatus.STATUS_INVALID_DEVICE_REQUEST)
    if not op.granted_access & READ_RIGHTS:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    if req.offset > INT64_MAX or req.offset + req.length > INT64_MAX:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "read beyond the largest file offset")
    if req.length < req.minimum_count:
        raise SmbError(NtStatus.STATUS_END_OF_FILE)  # can never be satisfied
    if req.length == 0:
        return Reply([encode_read_response(0), b"\x00"])  # a zero-length read succeeds
    entry = op.file
    if entry is not None and entry.locks:
        brlock.check_io(entry, op, req.offset, req.length, write=False)
    budget = ctx.server.memory
    if not budget.try_take(req.length):
        raise SmbError(NtStatus.STATUS_INSUFFICIENT_RESOURCES, "memory budget exhausted")
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    try:
        data = await backend.read(op.handle, req.offset, req.length)
    except BaseException:
        budget.give(req.length)
        raise
    n = len(data)
    if n == 0 or n < req.minimum_count:
        budget.give(req.length)
        raise SmbError(NtStatus.STATUS_END_OF_FILE)
    assert ctx.session is not None
    ctx.session.bytes_read += n
    op.position = req.offset + n  # FilePositionInformation follows the last read (Samba, Windows)
    release_buf = getattr(backend, "release", None)

    def release(reusable: bool) -> None:
        budget.give(req.length)
        if reusable and release_buf is not None:
            release_buf(data)

    return Reply([encode_read_response(n), data], release=release)


async def handle_write(ctx: RequestContext, req: WriteRequest) -> Reply:
    conn = ctx.conn
    n = len(req.data)
    conn.check_payload_charge(ctx.header, n)
    if n > conn.neg.max_write:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "write beyond MaxWriteSize")
    op = ctx.open_for(req.file_id)
    if op.pipe is not None:
        written = op.pipe.write(req.data)
        return Reply.of(encode_write_response(written))
    if op.is_dir:
        raise SmbError(NtStatus.STATUS_INVALID_DEVICE_REQUEST)
    if not op.granted_access & WRITE_DATA_RIGHTS:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    offset = req.offset
    if offset == APPEND_OFFSET and op.granted_access & WRITE_DATA_RIGHTS == AccessMask.FILE_APPEND_DATA:
        offset = (await backend.stat(op.handle)).size
    if offset > INT64_MAX or (n and offset + n > MAX_FILE_SIZE):
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "write beyond the largest file size")
    if n and offset + n == MAX_FILE_SIZE:
        raise SmbError(NtStatus.STATUS_DISK_FULL, "a file cannot reach NTFS's maximum size")  # Windows
    entry = op.file
    if entry is not None:
        if entry.locks:
            brlock.check_io(entry, op, offset, n, write=True)
        if len(entry.opens) > 1 or op.oplock_level == oplock.LEVEL_II:
            oplock.break_read_caching(files_of(ctx.server), entry, op, ctx.server.clock())
    written = await backend.write(op.handle, offset, req.data) if n else 0
    if req.flags & WRITE_THROUGH:
        await backend.flush(op.handle)
    assert ctx.session is not None
    ctx.session.bytes_written += written
    op.position = offset + written
    return Reply.of(encode_write_response(written))


async def handle_flush(ctx: RequestContext, req: FlushRequest) -> Reply:
    op = ctx.open_for(req.file_id)
    if op.pipe is None:
        if not op.granted_access & WRITE_DATA_RIGHTS:
            raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
        backend = op.tree.share.backend
        assert backend is not None and op.handle is not None
        if not op.is_dir:
            await backend.flush(op.handle)
    return Reply.of(FLUSH_RESPONSE)
