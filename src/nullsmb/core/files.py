"""The server-wide table of open files: share modes, delete-pending, and what waits on them
(MS-SMB2 3.3.1.5 GlobalOpenTable; MS-FSA 2.1.1.5 File/Stream, 2.1.1.6 Open).

Rules:
1. One ``FileEntry`` per file of a share (keyed by the backend and its file id), alive while
   an open, a lock, a lease or a waiter refers to it. Every Open of that file is in
   ``entry.opens`` (the list order is the order of opening).
2. Sharing (MS-FSA 2.1.5.1.2.1): only opens with data access (read, write, append, execute,
   delete) take part; a conflict is STATUS_SHARING_VIOLATION.
3. Delete-pending (MS-FSA 2.1.5.14.3, 2.1.5.4): set by FileDispositionInformation or by the
   close of a delete-on-close open; new opens then fail with STATUS_DELETE_PENDING and the
   file goes when its last open closes.
4. Deadlines (oplock break acknowledgments, durable handles) are data: ``add_timer`` records
   them, the glue asks ``next_deadline`` and calls ``run_due(now)``; no clock is read here.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ..wire.create import AccessMask, ShareAccess

if TYPE_CHECKING:
    from .asyncops import AsyncRequest
    from .context import ServerContext
    from .state import Open

__all__ = ["FileEntry", "FileTable", "files_of", "share_conflict"]

DATA_ACCESS = (AccessMask.FILE_READ_DATA | AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA
               | AccessMask.FILE_EXECUTE | AccessMask.DELETE)
_READS = AccessMask.FILE_READ_DATA | AccessMask.FILE_EXECUTE
_WRITES = AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA


@dataclass(eq=False, slots=True)
class FileEntry:
    """One file with everything the opens of it share."""

    key: tuple[int, int]
    opens: list["Open"] = field(default_factory=list)
    delete_pending: bool = False
    delete_ignores_readonly: bool = False  # FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE
    locks: list[Any] = field(default_factory=list)  # core.brlock.ByteRange
    lock_waiters: list["AsyncRequest"] = field(default_factory=list)  # blocking LOCKs
    open_waiters: list["AsyncRequest"] = field(default_factory=list)  # CREATEs awaiting breaks
    leases: list[Any] = field(default_factory=list)  # core.oplock.Lease on this file
    security: Any = None  # a descriptor set by SET_INFO (handlers.security rule 2)

    @property
    def idle(self) -> bool:
        return not (self.opens or self.locks or self.lock_waiters or self.open_waiters
                    or self.leases)


def share_conflict(entry: FileEntry, access: int, share: int, ignore: "Open | None" = None) -> bool:
    """MS-FSA 2.1.5.1.2.1: would an open with ``access``/``share`` violate another's sharing?"""
    if not access & DATA_ACCESS:
        return False
    for other in entry.opens:
        if other is ignore or other.closed:
            continue
        held = other.granted_access
        if not held & DATA_ACCESS:
            continue
        if ((held & _READS and not share & ShareAccess.READ)
                or (held & _WRITES and not share & ShareAccess.WRITE)
                or (held & AccessMask.DELETE and not share & ShareAccess.DELETE)):
            return True
        theirs = other.share_access
        if ((access & _READS and not theirs & ShareAccess.READ)
                or (access & _WRITES and not theirs & ShareAccess.WRITE)
                or (access & AccessMask.DELETE and not theirs & ShareAccess.DELETE)):
            return True
    return False


@dataclass(order=True, slots=True)
class _Timer:
    when: float
    seq: int
    callback: Callable[[], Awaitable[None]] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class FileTable:
    """Entries by file, leases by (ClientGuid, LeaseKey), watchers, durable opens, timers."""

    def __init__(self) -> None:
        self.entries: dict[tuple[int, int], FileEntry] = {}
        self.leases: dict[tuple[bytes, bytes], Any] = {}  # MS-SMB2 3.3.1.4 LeaseTable
        self.watchers: list["Open"] = []  # directory opens with a CHANGE_NOTIFY watch
        self.durable: dict[int, "Open"] = {}  # disconnected durable opens by persistent id
        self.resume_keys: dict[bytes, "Open"] = {}  # server-side copy sources (fsctl.py)
        # names added or removed per directory (id(share), casefolded path), for enumerations
        # that continue over a change (handlers.directory rule 4); bounded: over the cap the
        # counters restart under a new epoch
        self.dir_changes: dict[tuple[int, str], int] = {}
        self.dir_epoch = 0
        self._timers: list[_Timer] = []
        self._seq = itertools.count()
        self.on_timer: Callable[[], None] | None = None  # the glue: "a new deadline"

    # -- directory change stamps ------------------------------------------------------------
    MAX_DIR_STAMPS = 4096

    def names_changed(self, share: object, directory: str) -> None:
        key = (id(share), directory.casefold())
        self.dir_changes[key] = self.dir_changes.get(key, 0) + 1
        if len(self.dir_changes) > self.MAX_DIR_STAMPS:
            self.dir_changes.clear()
            self.dir_epoch += 1

    def dir_stamp(self, share: object, directory: str) -> tuple[int, int]:
        return self.dir_epoch, self.dir_changes.get((id(share), directory.casefold()), 0)

    # -- entries ---------------------------------------------------------------------------
    def entry(self, key: tuple[int, int]) -> FileEntry:
        found = self.entries.get(key)
        if found is None:
            found = self.entries[key] = FileEntry(key)
        return found

    def opens_of(self, share: object, path: str) -> list["Open"]:
        """Opens (by any session) of ``path`` on ``share``, compared case-insensitively."""
        want = path.casefold()
        return [op for entry in self.entries.values() for op in entry.opens
                if not op.closed and op.tree.share is share and op.path.casefold() == want]

    def opens_below(self, share: object, path: str) -> list["Open"]:
        """Opens of anything inside the directory ``path`` on ``share``."""
        prefix = path.casefold() + "\\" if path else ""
        return [op for entry in self.entries.values() for op in entry.opens
                if not op.closed and op.tree.share is share and op.path
                and op.path.casefold().startswith(prefix)]

    def release(self, entry: FileEntry) -> None:
        """Forget ``entry`` once nothing refers to it (rule 1)."""
        if entry.idle and self.entries.get(entry.key) is entry:
            del self.entries[entry.key]

    # -- timers (rule 4) -----------------------------------------------------------------------
    def add_timer(self, when: float, callback: Callable[[], Awaitable[None]]) -> _Timer:
        timer = _Timer(when, next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        if self.on_timer is not None and self._timers[0] is timer:
            self.on_timer()
        return timer

    def next_deadline(self) -> float | None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].when if self._timers else None

    async def run_due(self, now: float) -> None:
        while self._timers and (self._timers[0].cancelled or self._timers[0].when <= now):
            timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.cancelled = True
                await timer.callback()


def files_of(server: "ServerContext") -> FileTable:
    """The server's FileTable, made on first use."""
    table = server.open_files
    if table is None:
        table = server.open_files = FileTable()
    return table
