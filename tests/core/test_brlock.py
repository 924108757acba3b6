"""Byte-range lock rules (core/brlock.py; MS-FSA 2.1.4.10, 2.1.5.7), as smbtorture's
smb2.lock suite exercises them against Windows."""

from __future__ import annotations

import pytest

from nullsmb.core import brlock
from nullsmb.core.files import FileEntry
from nullsmb.status import NtStatus, SmbError


class FakeOpen:
    """Locks only compare owners by identity."""


@pytest.mark.parametrize(("first", "second", "overlap"), [
    ((10, 0), (10, 0), False), ((10, 0), (9, 1), False), ((10, 0), (10, 1), False),
    ((10, 0), (11, 1), False), ((10, 0), (9, 2), True), ((10, 0), (10, 2), False),
    ((10, 0), (9, 3), True), ((0, 0), (0, 0), False), ((0, 4), (2, 4), True),
    ((2**64 - 1, 1), (2**64 - 1, 1), True),
])
def test_overlap_of_zero_length_and_ordinary_ranges(first, second, overlap) -> None:
    assert brlock.overlaps(*first, *second) is overlap
    assert brlock.overlaps(*second, *first) is overlap


def test_exclusive_conflicts_with_own_locks_shared_stacks_on_own_exclusive() -> None:
    entry, a, b = FileEntry((1, 1)), FakeOpen(), FakeOpen()
    assert brlock.acquire(entry, a, 0, 10, exclusive=True) is not None
    assert brlock.acquire(entry, a, 0, 10, exclusive=True) is None  # two exclusive never stack
    assert brlock.acquire(entry, a, 0, 10, exclusive=False) is not None  # shared on own exclusive
    assert brlock.acquire(entry, b, 0, 10, exclusive=False) is None  # another open's exclusive
    brlock.release(entry, a, 0, 10)  # the exclusive one goes first
    assert brlock.acquire(entry, b, 0, 10, exclusive=False) is not None
    brlock.release(entry, a, 0, 10)
    brlock.release(entry, b, 0, 10)
    with pytest.raises(SmbError) as err:
        brlock.release(entry, a, 0, 10)
    assert err.value.status == NtStatus.STATUS_RANGE_NOT_LOCKED


def test_unlock_needs_the_exact_range_and_owner() -> None:
    entry, a, b = FileEntry((1, 1)), FakeOpen(), FakeOpen()
    brlock.acquire(entry, a, 10001, 40002, exclusive=True)
    for owner, off, length in ((b, 10001, 40002), (a, 10001, 40001), (a, 10000, 40002)):
        with pytest.raises(SmbError):
            brlock.release(entry, owner, off, length)
    brlock.release(entry, a, 10001, 40002)


@pytest.mark.parametrize(("exclusive", "own_write", "own_read", "other_write", "other_read"), [
    (False, False, True, False, True),
    (True, True, True, False, False),
])
def test_io_against_locks(exclusive, own_write, own_read, other_write, other_read) -> None:
    entry, owner, other = FileEntry((1, 1)), FakeOpen(), FakeOpen()
    brlock.acquire(entry, owner, 100, 100, exclusive=exclusive)

    def allowed(op, write: bool) -> bool:
        try:
            brlock.check_io(entry, op, 150, 10, write=write)
        except SmbError as err:
            assert err.status == NtStatus.STATUS_FILE_LOCK_CONFLICT
            return False
        return True

    assert (allowed(owner, True), allowed(owner, False)) == (own_write, own_read)
    assert (allowed(other, True), allowed(other, False)) == (other_write, other_read)
    brlock.check_io(entry, other, 0, 100, write=True)  # outside the range
    brlock.check_io(entry, other, 150, 0, write=True)  # zero-length I/O never conflicts
