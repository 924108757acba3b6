"""Durable handles v1 and v2 (MS-SMB2 3.3.5.9.6, 3.3.5.9.7, 3.3.5.9.10, 3.3.5.9.12, 3.3.7.1).

Rules:
1. Granted only with what lets a client cache the handle: a BATCH oplock or a lease holding H
   (Windows and Samba). Persistent handles are never granted (no continuously available shares).
2. When the transport is lost, the session logs off, or a new session names this one as
   PreviousSessionId (as Samba does), a durable open is kept, disconnected, for its timeout (v2: the one asked for, at most
   MAX_TIMEOUT; v1 and 0: DEFAULT_TIMEOUT): its share modes, locks, oplock or lease and file
   position stay. TREE_DISCONNECT closes it like any open.
3. A reconnect (DHnC, or DH2C with the same CreateGuid) from the same user on the same share
   takes it back with a new volatile id; an open still connected, an unknown id, another
   user's open or another share is STATUS_OBJECT_NAME_NOT_FOUND (ACCESS_DENIED for the user).
4. A new open of the file (anything but a reconnect) while it is disconnected closes it first:
   its client is not there to answer a break (what Windows and Samba do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..status import NtStatus, SmbError
from . import oplock
from .files import FileEntry, files_of

if TYPE_CHECKING:
    from .connection import ServerConnection
    from .context import RequestContext
    from .state import Open, Session

__all__ = ["disconnect", "grantable", "purge_disconnected", "reconnect_target"]

DEFAULT_TIMEOUT = 60.0  # seconds
MAX_TIMEOUT = 300.0


def grantable(op: "Open") -> bool:
    """Rule 1."""
    if op.is_dir:
        return False
    if op.lease is not None:
        return bool(op.lease.state & oplock.H)
    return op.oplock_level == oplock.LEVEL_BATCH


def owner_of(session: "Session") -> tuple[str, str]:
    result = session.result
    if result is None:
        return ("", "")
    return (result.user.casefold(), (result.domain or "").casefold())


async def disconnect(conn: "ServerConnection", session: "Session", op: "Open") -> None:
    """Rule 2: keep ``op`` for its timeout, detached from session and connection."""
    server = conn.server
    table = files_of(server)
    session.open_table.pop(op.volatile_id)
    op.conn = None
    op.session = None
    table.durable[op.persistent_id] = op
    timeout = op.durable_timeout or DEFAULT_TIMEOUT

    async def expire() -> None:
        if table.durable.get(op.persistent_id) is op:
            await close_disconnected(server, op)

    op.break_timer = None
    op.expiry = table.add_timer(server.clock() + timeout, expire)


async def close_disconnected(server, op: "Open") -> None:
    """The timeout passed, or a new open needs the file (rules 2, 4)."""
    from .handlers.create import release_open

    table = files_of(server)
    table.durable.pop(op.persistent_id, None)
    if op.expiry is not None:
        op.expiry.cancel()
        op.expiry = None
    await release_open(server, op)


async def purge_path(server, share, path: tuple[str, ...]) -> None:
    """Rule 4, before the file is even opened (a delete-on-close open goes first)."""
    table = files_of(server)
    if not table.durable:
        return
    want = "\\".join(path).casefold()
    for op in [o for o in table.durable.values()
               if o.tree.share is share and o.path.casefold() == want]:
        await close_disconnected(server, op)


async def purge_disconnected(server, entry: FileEntry) -> None:
    """Rule 4."""
    for op in [o for o in entry.opens if o.conn is None and o.durable and not o.closed]:
        await close_disconnected(server, op)


def reconnect_target(ctx: "RequestContext", persistent_id: int, create_guid: bytes | None) -> "Open":
    """Rule 3: the disconnected open a reconnect names."""
    table = files_of(ctx.server)
    op = table.durable.get(persistent_id)
    if op is None or op.closed or op.conn is not None:
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_NOT_FOUND, "no such disconnected durable open")
    if create_guid is not None and (op.create_guid or bytes(16)) != create_guid:
        # a v1 handle has the zero CreateGuid, so DH2C can name it (as Samba allows)
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_NOT_FOUND, "create guid does not match")
    if create_guid is None and op.durable_v2:
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_NOT_FOUND, "a v2 handle needs DH2C")
    assert ctx.tree is not None and ctx.session is not None
    if op.tree.share is not ctx.tree.share:
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_NOT_FOUND, "another share")
    if op.owner != owner_of(ctx.session):
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "another user's durable open")
    return op


def reattach(ctx: "RequestContext", op: "Open") -> None:
    """Rule 3: ``op`` belongs to the reconnecting session from now on."""
    table = files_of(ctx.server)
    session = ctx.session
    assert session is not None and ctx.tree is not None
    table.durable.pop(op.persistent_id, None)
    if op.expiry is not None:
        op.expiry.cancel()
        op.expiry = None
    op.conn, op.session, op.tree = ctx.conn, session, ctx.tree
    op.volatile_id = session.open_table.add(op)
