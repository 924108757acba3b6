"""CHANGE_NOTIFY watches (MS-SMB2 3.3.5.19, MS-FSA 2.1.5.10; FILE_NOTIFY_INFORMATION of
MS-FSCC 2.7.1).

Rules:
1. A directory open starts watching with its first CHANGE_NOTIFY; from then on changes that
   match its filter are kept until a request takes them (Windows and Samba buffer between
   requests). A request with changes waiting is answered at once; otherwise it pends.
2. Changes made through the server are reported where they happen (create, delete, rename,
   attribute and size changes): ``report(share, path, action, ...)``. The watched directory
   sees its direct children; with WATCH_TREE, every descendant (names relative to it).
3. Changes that do not fit the request's OutputBufferLength, or more than MAX_BUFFERED of
   them, are answered STATUS_NOTIFY_ENUM_DIR with no data: "enumerate the directory again".
4. Closing the directory answers its pending request STATUS_NOTIFY_CLEANUP; CANCEL answers
   STATUS_CANCELLED; the directory becoming delete-pending answers STATUS_DELETE_PENDING.
5. Paths are compared case-insensitively (names are case-preserving, lookups case-blind).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..status import NtStatus
from ..wire.info import encode_buffer_response
from ..wire.notify import WATCH_TREE, CompletionFilter, NotifyAction, encode_notify_entries
from .context import Reply
from .files import FileTable

if TYPE_CHECKING:
    from .asyncops import AsyncRequest
    from .state import Open, Share

__all__ = ["NotifyAction", "Watch", "close_watch", "report"]

MAX_BUFFERED = 1000
F = CompletionFilter


@dataclass(eq=False, slots=True)
class Watch:
    op: "Open"
    completion_filter: int
    recursive: bool
    pending: list["AsyncRequest"] = field(default_factory=list)
    changes: list[tuple[int, str]] = field(default_factory=list)
    overflow: bool = False


def start(table: FileTable, op: "Open", completion_filter: int, flags: int) -> Watch:
    watch = op.notify
    if watch is None:
        watch = op.notify = Watch(op, completion_filter, bool(flags & WATCH_TREE))
        table.watchers.append(op)
    else:
        watch.completion_filter = completion_filter
        watch.recursive = bool(flags & WATCH_TREE)
    return watch


def take(watch: Watch, limit: int) -> Reply | None:
    """The answer for a request with ``limit`` bytes of room, if changes wait (rules 1, 3)."""
    if watch.overflow:
        watch.overflow = False
        watch.changes.clear()
        return Reply([encode_buffer_response(b"")], NtStatus.STATUS_NOTIFY_ENUM_DIR)
    if not watch.changes:
        return None
    data = encode_notify_entries(watch.changes)
    watch.changes.clear()
    if len(data) > limit:
        return Reply([encode_buffer_response(b"")], NtStatus.STATUS_NOTIFY_ENUM_DIR)
    return Reply([encode_buffer_response(data)])


def _components(path: str) -> list[str]:
    return [c.casefold() for c in path.split("\\") if c]


def _filter_of(action: int, is_dir: bool, changed: int) -> int:
    if action in (NotifyAction.ADDED, NotifyAction.REMOVED, NotifyAction.RENAMED_OLD_NAME,
                  NotifyAction.RENAMED_NEW_NAME):
        return F.DIR_NAME if is_dir else F.FILE_NAME
    return changed


def report(table: FileTable, share: "Share", path: str, action: int, *, dir_change: bool = False,
           changed: int = 0) -> None:
    """Record a change of ``path`` (share-relative, backslashes) for every watch (rule 2).

    ``changed`` is the CompletionFilter bit(s) a MODIFIED action concerns."""
    if action != NotifyAction.MODIFIED:
        table.names_changed(share, path.strip("\\").rpartition("\\")[0])
    if not table.watchers:
        return
    target = [c for c in path.split("\\") if c]
    if not target:
        return
    folded = [c.casefold() for c in target]
    bits = _filter_of(action, dir_change, changed)
    for op in list(table.watchers):
        watch: Watch | None = op.notify
        if watch is None or op.closed or op.tree.share is not share:
            continue
        base = _components(op.path)
        depth = len(base)
        if folded[:depth] != base or len(folded) <= depth:
            continue
        if len(folded) > depth + 1 and not watch.recursive:
            continue
        if not watch.completion_filter & bits:
            continue
        name = "\\".join(target[depth:])
        _deliver(watch, int(action), name)


def _deliver(watch: Watch, action: int, name: str) -> None:
    if watch.pending:
        areq = watch.pending.pop(0)
        watch.changes.append((action, name))
        reply = take(watch, areq.data["limit"])
        assert reply is not None
        areq.finish(reply)
        return
    if len(watch.changes) >= MAX_BUFFERED:
        watch.overflow = True
        return
    watch.changes.append((action, name))


def wait(watch: Watch, areq: "AsyncRequest", limit: int) -> None:
    areq.data["limit"] = limit
    watch.pending.append(areq)

    def cleanup() -> None:
        if areq in watch.pending:
            watch.pending.remove(areq)

    areq.cleanup = cleanup


def delete_pending(entry) -> None:
    """A watched directory became delete-pending: its pending requests end with
    STATUS_DELETE_PENDING (Windows; smbtorture smb2.notify.rmdir*)."""
    for op in entry.opens:
        watch: Watch | None = op.notify
        if watch is None:
            continue
        for areq in list(watch.pending):
            areq.finish(Reply([encode_buffer_response(b"")], NtStatus.STATUS_DELETE_PENDING))
        watch.pending.clear()


def close_watch(table: FileTable, op: "Open") -> None:
    """Rule 4: the directory open closes."""
    watch: Watch | None = op.notify
    if watch is None:
        return
    op.notify = None
    if op in table.watchers:
        table.watchers.remove(op)
    for areq in list(watch.pending):
        areq.finish(Reply([encode_buffer_response(b"")], NtStatus.STATUS_NOTIFY_CLEANUP))
    watch.pending.clear()
