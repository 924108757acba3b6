"""CHANGE_NOTIFY (MS-SMB2 3.3.5.19) and OPLOCK_BREAK acknowledgments (3.3.5.22).

Rules:
1. CHANGE_NOTIFY needs a directory open with FILE_LIST_DIRECTORY access; an
   OutputBufferLength beyond MaxTransactSize or unpaid by the credit charge is
   STATUS_INVALID_PARAMETER. Changes already waiting answer at once; otherwise it pends
   (``core.notify``).
2. An oplock acknowledgment names an open whose break is out: its level must not exceed the
   level offered (else STATUS_INVALID_OPLOCK_PROTOCOL, and the open keeps nothing); the answer
   carries the new level. No break out: STATUS_INVALID_OPLOCK_PROTOCOL (Samba's answer).
3. A lease acknowledgment names the lease by key (STATUS_OBJECT_NAME_NOT_FOUND when there is
   none): ``core.oplock.ack_lease``. Either way, CREATEs waiting on the file run again.
"""

from __future__ import annotations

from ...status import NtStatus, SmbError
from ...wire.buffer import Reader
from ...wire.create import AccessMask
from ...wire.notify import ChangeNotifyRequest
from ...wire.oplock import (
    LeaseBreakAck,
    OplockBreakAck,
    decode_break_ack,
    encode_lease_break_response,
    encode_oplock_break,
)
from .. import notify, oplock
from ..asyncops import go_async
from ..context import Reply, RequestContext
from ..files import files_of


async def handle_change_notify(ctx: RequestContext, req: ChangeNotifyRequest) -> Reply:
    conn = ctx.conn
    conn.check_payload_charge(ctx.header, req.output_buffer_length)
    op = ctx.open_for(req.file_id)
    if not op.is_dir or op.handle is None:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "not a directory")
    if req.output_buffer_length > conn.neg.max_transact:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    if not op.granted_access & AccessMask.FILE_READ_DATA:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    if op.file is not None and op.file.delete_pending:
        raise SmbError(NtStatus.STATUS_DELETE_PENDING)
    watch = notify.start(files_of(ctx.server), op, req.completion_filter, req.flags)
    ready = notify.take(watch, req.output_buffer_length)
    if ready is not None:
        return ready
    pending = go_async(ctx)
    assert pending.request is not None
    notify.wait(watch, pending.request, req.output_buffer_length)
    return pending


def decode_oplock_break(r: Reader, body: int):
    return decode_break_ack(r, body)


async def handle_oplock_break(ctx: RequestContext, ack: OplockBreakAck | LeaseBreakAck) -> Reply:
    table = files_of(ctx.server)
    now = ctx.server.clock()
    if isinstance(ack, LeaseBreakAck):
        lease = table.leases.get((ctx.conn.neg.client_guid, ack.lease_key))
        if lease is None:
            raise SmbError(NtStatus.STATUS_OBJECT_NAME_NOT_FOUND, "no such lease")
        oplock.ack_lease(table, lease, ack.lease_state, now)
        await oplock.wake_open_waiters(lease.file)
        # MS-SMB2 3.3.5.22.2: the state acknowledged (a further break may already be out)
        return Reply.of(encode_lease_break_response(ack.lease_key, ack.lease_state))
    op = ctx.open_for(ack.file_id)
    target = op.oplock_breaking_to
    if target is None:
        raise SmbError(NtStatus.STATUS_INVALID_OPLOCK_PROTOCOL, "no oplock break is out")
    if op.break_timer is not None:
        op.break_timer.cancel()
        op.break_timer = None
    op.oplock_breaking_to = None
    if ack.oplock_level not in (oplock.LEVEL_NONE, oplock.LEVEL_II) or (
            ack.oplock_level > target):
        op.oplock_level = oplock.LEVEL_NONE
        if op.file is not None:
            await oplock.wake_open_waiters(op.file)
        raise SmbError(NtStatus.STATUS_INVALID_OPLOCK_PROTOCOL, "acknowledged above the offer")
    op.oplock_level = ack.oplock_level
    if op.file is not None:
        await oplock.wake_open_waiters(op.file)
    return Reply.of(encode_oplock_break(op.oplock_level, ack.file_id))
