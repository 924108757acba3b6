"""Byte-range locks (MS-FSA 2.1.5.7 and 2.1.4.10; MS-SMB2 3.3.5.14) kept per file in memory.

Rules:
1. Ranges overlap unless one ends at or before the other's start; a zero-length range at X
   therefore only conflicts with a range that holds X strictly inside (MS-FSA 2.1.4.10).
2. An exclusive request conflicts with every overlapping lock, the open's own included; a
   shared request only with exclusive locks of other opens (shared stacks on the open's own
   exclusive lock).
3. Unlock names the exact offset and length of one of the open's locks; the exclusive one
   goes first when several match. A missing one is STATUS_RANGE_NOT_LOCKED.
4. Reads conflict with other opens' exclusive locks; writes with any lock of another open and
   with the open's own shared locks (STATUS_FILE_LOCK_CONFLICT).
5. A blocking request waits (async) until its range is free; closing its open answers it
   STATUS_RANGE_NOT_LOCKED. Every unlock or close re-examines the waiters in arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..status import NtStatus, SmbError
from .files import FileEntry, FileTable

if TYPE_CHECKING:
    from .asyncops import AsyncRequest
    from .state import Open

__all__ = ["ByteRange", "acquire", "check_io", "close_open", "release", "wake_lock_waiters"]


@dataclass(eq=False, slots=True)
class ByteRange:
    owner: "Open"
    offset: int
    length: int
    exclusive: bool


def overlaps(a_off: int, a_len: int, b_off: int, b_len: int) -> bool:
    """Rule 1."""
    if a_len and a_off == b_off and a_len == b_len:
        return True
    return not (a_off >= b_off + b_len or b_off >= a_off + a_len)


def conflicts(entry: FileEntry, op: "Open", offset: int, length: int, exclusive: bool) -> bool:
    """Rule 2."""
    for lock in entry.locks:
        if not overlaps(lock.offset, lock.length, offset, length):
            continue
        if exclusive or (lock.exclusive and lock.owner is not op):
            return True
    return False


def acquire(entry: FileEntry, op: "Open", offset: int, length: int, exclusive: bool) -> ByteRange | None:
    """Take the lock, or None when it conflicts."""
    if conflicts(entry, op, offset, length, exclusive):
        return None
    lock = ByteRange(op, offset, length, exclusive)
    entry.locks.append(lock)
    return lock


def release(entry: FileEntry, op: "Open", offset: int, length: int) -> None:
    """Rule 3."""
    mine = [lk for lk in entry.locks if lk.owner is op and lk.offset == offset and lk.length == length]
    if not mine:
        raise SmbError(NtStatus.STATUS_RANGE_NOT_LOCKED)
    victim = next((lk for lk in mine if lk.exclusive), mine[0])
    entry.locks.remove(victim)


def check_io(entry: FileEntry | None, op: "Open", offset: int, length: int, write: bool) -> None:
    """Rule 4: raise FILE_LOCK_CONFLICT when a read or write meets a lock."""
    if entry is None or not entry.locks or length == 0:
        return
    for lock in entry.locks:
        if not overlaps(lock.offset, lock.length, offset, length):
            continue
        if lock.owner is not op:
            if write or lock.exclusive:
                raise SmbError(NtStatus.STATUS_FILE_LOCK_CONFLICT)
        elif write and not lock.exclusive:
            raise SmbError(NtStatus.STATUS_FILE_LOCK_CONFLICT)


async def wake_lock_waiters(entry: FileEntry) -> None:
    """Rule 5: grant what has become free, oldest request first."""
    for areq in list(entry.lock_waiters):
        if areq.done:
            entry.lock_waiters.remove(areq)
            continue
        op, offset, length, exclusive = areq.data["lock"]
        if acquire(entry, op, offset, length, exclusive) is not None:
            entry.lock_waiters.remove(areq)
            areq.finish(areq.data["granted"])


async def close_open(table: FileTable, entry: FileEntry, op: "Open") -> None:
    """The open closes: its locks go, its waiting requests get RANGE_NOT_LOCKED (rule 5)."""
    had = len(entry.locks)
    entry.locks = [lk for lk in entry.locks if lk.owner is not op]
    for areq in list(entry.lock_waiters):
        if areq.data["lock"][0] is op:
            entry.lock_waiters.remove(areq)
            areq.fail(NtStatus.STATUS_RANGE_NOT_LOCKED)
    if len(entry.locks) != had:
        await wake_lock_waiters(entry)


def wait(entry: FileEntry, areq: "AsyncRequest", table: FileTable) -> None:
    """Queue a blocking request (rule 5); CANCEL unlinks it."""
    entry.lock_waiters.append(areq)

    def cleanup() -> None:
        if areq in entry.lock_waiters:
            entry.lock_waiters.remove(areq)
        table.release(entry)

    areq.cleanup = cleanup
