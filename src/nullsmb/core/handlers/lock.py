"""LOCK (MS-SMB2 3.3.5.14): byte-range locks, blocking locks that go async, unlocks.

Rules:
1. The first element decides: UNLOCK alone means every element unlocks; otherwise every
   element locks (SHARED or EXCLUSIVE, optionally FAIL_IMMEDIATELY). Any other flags on the
   first element, an UNLOCK among locks, or several locks without FAIL_IMMEDIATELY are
   STATUS_INVALID_PARAMETER. A later element of an unlock request that is not an unlock fails
   (STATUS_INVALID_PARAMETER) only when its turn comes, after the unlocks before it
   (MS-SMB2 3.3.5.14.1; smbtorture's smb2.lock.multiple-unlock).
2. A range whose last byte is beyond 2^64-1 is STATUS_INVALID_LOCK_RANGE.
3. Elements are applied in order. A lock that fails undoes the ones this request took
   (STATUS_LOCK_NOT_GRANTED); an unlock that fails leaves the earlier ones done.
4. A single blocking lock that conflicts goes async until it is granted, cancelled
   (STATUS_CANCELLED) or its open closes (STATUS_RANGE_NOT_LOCKED; ``core.brlock``).
5. A granted lock breaks the other opens' LEVEL_II oplocks and R leases (MS-FSA 2.1.5.7).
6. Lock sequence replay (MS-SMB2 3.3.5.14: every open on the 3.x dialects, durable opens on
   2.1, as Samba; resilient handles are not offered): a request whose LockSequenceIndex
   (1..64) already holds its LockSequenceNumber is answered with success and not applied
   again; a successful request records it.
"""

from __future__ import annotations

from ...status import NtStatus, SmbError
from ...wire.lock import LOCK_RESPONSE, LockFlags, LockRequest
from .. import brlock, oplock
from ..asyncops import go_async
from ..context import Reply, RequestContext
from ..files import files_of

_LOCKS = frozenset({LockFlags.SHARED, LockFlags.EXCLUSIVE,
                    LockFlags.SHARED | LockFlags.FAIL_IMMEDIATELY,
                    LockFlags.EXCLUSIVE | LockFlags.FAIL_IMMEDIATELY})
_MAX = 1 << 64


async def handle_lock(ctx: RequestContext, req: LockRequest) -> Reply:
    op = ctx.open_for(req.file_id)
    if not req.locks:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "no lock elements")
    if op.pipe is not None or op.handle is None:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    unlock = req.locks[0].flags == LockFlags.UNLOCK
    for i, el in enumerate(req.locks):
        if unlock:
            if i == 0 and el.flags != LockFlags.UNLOCK:
                raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
        elif el.flags not in _LOCKS:
            raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "bad lock flags")
        elif len(req.locks) > 1 and not el.flags & LockFlags.FAIL_IMMEDIATELY:
            raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "blocking lock among several")
        if el.length and el.offset + el.length - 1 >= _MAX:
            raise SmbError(NtStatus.STATUS_INVALID_LOCK_RANGE)
    if _replayed(ctx, op, req):
        return Reply.of(LOCK_RESPONSE)
    table = files_of(ctx.server)
    entry = op.file
    assert entry is not None
    if unlock:
        try:
            for el in req.locks:
                if el.flags != LockFlags.UNLOCK:
                    raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "a lock among unlocks")
                brlock.release(entry, op, el.offset, el.length)
        finally:
            await brlock.wake_lock_waiters(entry)
        _record(ctx, op, req)
        return Reply.of(LOCK_RESPONSE)
    taken = []
    for el in req.locks:
        exclusive = bool(el.flags & LockFlags.EXCLUSIVE)
        lock = brlock.acquire(entry, op, el.offset, el.length, exclusive)
        if lock is not None:
            taken.append(lock)
            continue
        if el.flags & LockFlags.FAIL_IMMEDIATELY:
            for got in taken:
                entry.locks.remove(got)
            if taken:
                await brlock.wake_lock_waiters(entry)
            raise SmbError(NtStatus.STATUS_LOCK_NOT_GRANTED)
        pending = go_async(ctx)
        areq = pending.request
        assert areq is not None
        areq.data["lock"] = (op, el.offset, el.length, exclusive)
        areq.data["granted"] = Reply.of(LOCK_RESPONSE)
        brlock.wait(entry, areq, table)
        return pending
    oplock.break_read_caching(table, entry, op, ctx.server.clock())
    _record(ctx, op, req)
    return Reply.of(LOCK_RESPONSE)


def _sequenced(ctx: RequestContext, op, req: LockRequest) -> bool:
    """Rule 6: does this open keep lock sequences?"""
    index = req.sequence_index
    dialect = ctx.conn.neg.dialect
    return 1 <= index <= 64 and (dialect >= 0x0300 or (dialect == 0x0210 and op.durable))


def _replayed(ctx: RequestContext, op, req: LockRequest) -> bool:
    if not _sequenced(ctx, op, req):
        return False
    return op.lock_sequences.get(req.sequence_index) == req.sequence_number


def _record(ctx: RequestContext, op, req: LockRequest) -> None:
    if _sequenced(ctx, op, req):
        op.lock_sequences[req.sequence_index] = req.sequence_number
