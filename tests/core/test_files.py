"""Share modes (core/files.py; MS-FSA 2.1.5.1.2.1) and the deadline table."""

from __future__ import annotations

import pytest

from nullsmb.core.files import FileEntry, FileTable, share_conflict

READ, WRITE, APPEND, EXECUTE, DELETE = 0x1, 0x2, 0x4, 0x20, 0x10000
ATTRS = 0x80 | 0x100 | 0x100000  # read/write attributes, synchronize
SHARE_R, SHARE_W, SHARE_D = 1, 2, 4


class FakeOpen:
    def __init__(self, access: int, share: int) -> None:
        self.granted_access, self.share_access, self.closed = access, share, False


def entry_with(*opens: FakeOpen) -> FileEntry:
    entry = FileEntry((1, 2))
    entry.opens.extend(opens)  # type: ignore[arg-type]
    return entry


@pytest.mark.parametrize(("held", "held_share", "access", "share", "conflict"), [
    (READ, SHARE_R, READ, SHARE_R, False),
    (READ, 0, READ, SHARE_R | SHARE_W | SHARE_D, True),  # the holder shares nothing
    (READ, SHARE_R, WRITE, SHARE_R | SHARE_W, True),  # the holder does not share write
    (WRITE, SHARE_R | SHARE_W, READ, SHARE_R, True),  # the new open does not share write
    (DELETE, SHARE_R | SHARE_W | SHARE_D, READ, SHARE_R | SHARE_W, True),
    (EXECUTE, SHARE_R, READ, SHARE_R, False),
    (APPEND, SHARE_W, WRITE, SHARE_W, False),
    (ATTRS, 0, READ, 0, False),  # no data access: outside sharing
    (READ, 0, ATTRS, 0, False),
])
def test_share_conflict(held, held_share, access, share, conflict) -> None:
    assert share_conflict(entry_with(FakeOpen(held, held_share)), access, share) is conflict


def test_closed_opens_do_not_count() -> None:
    gone = FakeOpen(READ | WRITE, 0)
    gone.closed = True
    assert not share_conflict(entry_with(gone), READ, 0)


async def test_timers_run_in_deadline_order_and_can_be_cancelled() -> None:
    table, ran = FileTable(), []

    def job(name: str):
        async def run() -> None:
            ran.append(name)
        return run

    late = table.add_timer(20.0, job("late"))
    table.add_timer(10.0, job("early"))
    cancelled = table.add_timer(15.0, job("cancelled"))
    cancelled.cancel()
    assert table.next_deadline() == 10.0
    await table.run_due(16.0)
    assert ran == ["early"]
    assert table.next_deadline() == late.when
    await table.run_due(30.0)
    assert ran == ["early", "late"] and table.next_deadline() is None
