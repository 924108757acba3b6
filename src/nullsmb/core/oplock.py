"""Oplocks and leases in one model (MS-SMB2 3.3.5.9 oplock and lease steps, 3.3.4.6, 3.3.4.7,
3.3.5.22; MS-FSA 2.1.5.17, 2.1.4.12).

The caching an open holds is a set of R (read), H (handle) and W (write) rights, the lease
states of MS-SMB2 2.2.13.2.8. An oplock is the set of its level: LEVEL_II = R,
EXCLUSIVE = RW, BATCH = RWH. A lease has its own state, shared by every open made with its key.

Rules:
1. Opening a file (anything but a stat open: only SYNCHRONIZE and attribute access) breaks
   what other opens hold that the new open conflicts with: W always, H too when the open meets
   a sharing violation (the holder may close and let it through), R and H when the open
   overwrites. Oplocks only break to LEVEL_II or NONE. The open waits (interim response)
   while a break of what it conflicts with (W, or H on a sharing violation) is unacknowledged.
2. Grant (what was asked, then): minus R when the file has byte-range locks; minus W when
   another open (of another lease) exists, for there is one writer; a lease beside an open
   that is not a lease loses H; an oplock beside a handle lease gets none. Directories get
   no oplock and no lease (no SMB2_GLOBAL_CAP_DIRECTORY_LEASING).
3. A lease with the same key on the same file is upgraded only to a strict superset of its
   state that could be granted whole, and never while it breaks; the epoch (v2) counts changes.
4. Writes, truncation and byte-range locks remove R-only caching from the other opens without
   acknowledgment (a break from LEVEL_II or from R needs none, MS-SMB2 2.2.24.1).
5. A break that needs acknowledgment gets BREAK_TIMEOUT seconds (MS-SMB2 3.3.2.1, 3.3.2.5;
   Windows and Samba use 35 s); then the caching drops to NONE and the waiters go on. A lease
   conflict that comes while its break is out is announced once that break is acknowledged,
   in steps (what is above READ first, READ last) and under the same epoch, as Windows does.
7. A rename breaks the handle caching of the other leases on the file (``break_for_rename``).
6. Notifications carry MessageId 0xFFFFFFFFFFFFFFFF, SessionId 0 and TreeId 0, are never
   signed, and are encrypted when the holder's session encrypts (MS-SMB2 3.3.4.6, 3.3.4.7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..status import NtStatus, SmbError
from ..wire.create import AccessMask
from ..wire.header import Command, HeaderFlags, pack_header
from ..wire.oplock import BREAK_ACK_REQUIRED, encode_lease_break, encode_oplock_break
from .files import FileEntry, FileTable

if TYPE_CHECKING:
    from .state import Open

__all__ = ["Lease", "break_for_open", "break_for_rename", "break_read_caching", "caching_of",
           "grant_lease", "grant_oplock"]

R, H, W = 0x1, 0x2, 0x4
LEVEL_NONE, LEVEL_II, LEVEL_EXCLUSIVE, LEVEL_BATCH, LEVEL_LEASE = 0x00, 0x01, 0x08, 0x09, 0xFF
BREAK_TIMEOUT = 35.0
_OPLOCK_CACHING = {LEVEL_NONE: 0, LEVEL_II: R, LEVEL_EXCLUSIVE: R | W, LEVEL_BATCH: R | W | H}
_STAT_OPLOCK = int(AccessMask.SYNCHRONIZE | AccessMask.FILE_READ_ATTRIBUTES
                   | AccessMask.FILE_WRITE_ATTRIBUTES)
_STAT_LEASE = _STAT_OPLOCK | int(AccessMask.READ_CONTROL)
NO_MESSAGE_ID = 0xFFFFFFFFFFFFFFFF


@dataclass(eq=False, slots=True)
class Lease:
    """MS-SMB2 3.3.1.13 Lease (with Samba's two break targets: the one the notification
    announced, and the one still required after later conflicts)."""

    client_guid: bytes
    key: bytes
    file: FileEntry
    version: int
    state: int = 0
    epoch: int = 0
    parent_key: bytes = bytes(16)
    breaking: bool = False
    breaking_to: int = 0  # announced in the notification
    breaking_to_required: int = 0
    timer: object = None
    opens: list["Open"] = field(default_factory=list)


def stat_open(access: int) -> bool:
    """Samba's is_oplock_stat_open: only SYNCHRONIZE and attribute access."""
    return bool(access & _STAT_OPLOCK) and not access & ~_STAT_OPLOCK


def lease_stat_open(access: int) -> bool:
    return bool(access & _STAT_LEASE) and not access & ~_STAT_LEASE


def oplock_level_of(caching: int) -> int:
    if caching == R | W | H:
        return LEVEL_BATCH
    if caching == R | W:
        return LEVEL_EXCLUSIVE
    return LEVEL_II if caching & R else LEVEL_NONE


def caching_of(op: "Open") -> int:
    if op.lease is not None:
        return op.lease.state
    return _OPLOCK_CACHING.get(op.oplock_level, 0)


def _same_lease(op: "Open", lease_id: tuple[bytes, bytes] | None) -> bool:
    return (lease_id is not None and op.lease is not None
            and (op.lease.client_guid, op.lease.key) == lease_id)


# -- breaking on open (rule 1) -----------------------------------------------------------------

def break_for_open(table: FileTable, entry: FileEntry, access: int, *, overwrite: bool,
                   sharing_violation: bool, lease_id: tuple[bytes, bytes] | None,
                   first_attempt: bool, now: float) -> bool:
    """Send the breaks an open of ``entry`` needs; True when the open must wait."""
    if stat_open(access):
        return False
    delay_mask = H if sharing_violation else W
    delay = False
    for other in list(entry.opens):
        if other.closed or _same_lease(other, lease_id):
            continue
        if other.lease is not None and lease_stat_open(access):
            continue
        held = caching_of(other)
        breaking = other.lease.breaking if other.lease is not None else other.oplock_breaking_to is not None
        to = held & ~delay_mask
        if overwrite:
            to &= ~(H | R)
        if not held & ~to:
            if breaking and other.lease is not None:
                delay = True
            continue
        if overwrite:
            to &= ~(R | W)
        if other.lease is None:
            to &= ~(H | W)
        send_break(table, other, to, now)
        if held & delay_mask:
            delay = True
        if breaking and other.lease is not None and not first_attempt:
            delay = True
    return delay


def break_for_rename(table: FileTable, entry: FileEntry, renamer: "Open", now: float) -> None:
    """Rule 7: a rename takes H away from every other lease on the file (their cached handles
    would name the old path); the renamer's own lease keeps its state."""
    lease_id = (renamer.lease.client_guid, renamer.lease.key) if renamer.lease is not None else None
    for other in list(entry.opens):
        if other.closed or other.lease is None or _same_lease(other, lease_id):
            continue
        if other.lease.state & H:
            _break_lease(table, other.lease, other.lease.state & ~H, now)


def break_read_caching(table: FileTable, entry: FileEntry, writer: "Open | None", now: float) -> None:
    """Rule 4: a write, truncation or byte-range lock through ``writer`` (whose own LEVEL_II
    oplock breaks too; its own lease does not)."""
    lease_id = ((writer.lease.client_guid, writer.lease.key)
                if writer is not None and writer.lease is not None else None)
    for other in list(entry.opens):
        if other.closed or (other is writer and other.lease is not None) or _same_lease(other, lease_id):
            continue
        held = caching_of(other)
        if held & R and not held & W:
            send_break(table, other, 0, now)


def send_break(table: FileTable, op: "Open", to: int, now: float) -> None:
    if op.lease is not None:
        _break_lease(table, op.lease, to, now)
        return
    if op.oplock_breaking_to is not None:
        return  # a break is already out; its acknowledgment settles it
    target = oplock_level_of(to)
    if op.oplock_level == LEVEL_II or op.oplock_level == LEVEL_NONE:
        op.oplock_level = LEVEL_NONE  # from LEVEL_II: no acknowledgment (MS-SMB2 2.2.24.1)
        _notify_oplock(op, LEVEL_NONE)
        return
    op.oplock_breaking_to = target
    _notify_oplock(op, target)

    async def expire() -> None:  # MS-SMB2 3.3.2.1: no acknowledgment in time -> NONE
        if op.oplock_breaking_to is not None and not op.closed:
            op.oplock_level = LEVEL_NONE
            op.oplock_breaking_to = None
            op.break_timer = None
            if op.file is not None:
                await wake_open_waiters(op.file)

    op.break_timer = table.add_timer(now + BREAK_TIMEOUT, expire)


def _break_lease(table: FileTable, lease: Lease, to: int, now: float, *, new_epoch: bool = True) -> None:
    if lease.breaking:
        lease.breaking_to_required &= to  # told when the pending break is acknowledged
        return
    if not lease.state & ~to:
        return
    if lease.version == 2 and new_epoch:
        lease.epoch += 1
    if lease.state & (W | H):
        lease.breaking = True
        lease.breaking_to = lease.breaking_to_required = to
        _notify_lease(lease, lease.state, to, BREAK_ACK_REQUIRED)

        async def expire() -> None:  # MS-SMB2 3.3.2.5: no acknowledgment in time -> NONE
            if lease.breaking:
                lease.state = 0
                lease.breaking = False
                lease.timer = None
                await wake_open_waiters(lease.file)

        lease.timer = table.add_timer(now + BREAK_TIMEOUT, expire)
    else:
        old, lease.state = lease.state, to
        _notify_lease(lease, old, to, 0)


def ack_lease(table: FileTable, lease: Lease, state: int, now: float) -> None:
    """MS-SMB2 3.3.5.22.2: the client lowered its lease to ``state``."""
    if not lease.breaking:
        raise SmbError(NtStatus.STATUS_UNSUCCESSFUL, "lease is not breaking")
    if state & ~lease.breaking_to:
        raise SmbError(NtStatus.STATUS_REQUEST_NOT_ACCEPTED, "acknowledged more than offered")
    lease.state = state
    if lease.timer is not None:
        lease.timer.cancel()  # type: ignore[attr-defined]
        lease.timer = None
    lease.breaking = False
    required = lease.breaking_to_required
    if state & ~required:  # a conflict that came while the break was out
        # in steps, as Windows (and Samba) do: what is left above READ goes first, READ last;
        # the same epoch: it is still the break the client was told of
        step = required | (R if state & ~R else 0)
        _break_lease(table, lease, step, now, new_epoch=False)
        if lease.breaking:
            lease.breaking_to_required = required


def _session_of(op: "Open"):
    return op.session


def _notify_oplock(op: "Open", level: int) -> None:
    conn = op.conn
    if conn is None or conn.closed:
        return
    from .handlers.create import file_id_of

    header = pack_header(command=Command.OPLOCK_BREAK, status=0, message_id=NO_MESSAGE_ID,
                         session_id=0, flags=HeaderFlags.SERVER_TO_REDIR)
    session = op.session
    conn.send_message([header, encode_oplock_break(level, file_id_of(op))], session, sign=False,
                      encrypt=bool(session and session.encrypt_data and conn.neg.dialect >= 0x0300))


def _notify_lease(lease: Lease, current: int, new: int, flags: int) -> None:
    holder = next((o for o in lease.opens if o.conn is not None and not o.conn.closed), None)
    if holder is None:
        return
    conn = holder.conn
    if not (holder.session and holder.session.encrypt_data):
        # the lease is the client's (ClientGuid), not one connection's: like Samba, tell the
        # client's oldest connection (MS-SMB2 3.3.4.7 leaves the choice to the server)
        conn = min((c for c in conn.server.connections
                    if not c.closed and c.neg.client_guid == lease.client_guid),
                   key=lambda c: c.serial, default=conn)
    header = pack_header(command=Command.OPLOCK_BREAK, status=0, message_id=NO_MESSAGE_ID,
                         session_id=0, flags=HeaderFlags.SERVER_TO_REDIR)
    session = holder.session
    epoch = lease.epoch if lease.version == 2 else 0
    conn.send_message([header, encode_lease_break(epoch, flags, lease.key, current, new)], session,
                      sign=False,
                      encrypt=bool(session and session.encrypt_data and conn.neg.dialect >= 0x0300))


# -- granting (rules 2, 3) -------------------------------------------------------------------

def grant_oplock(entry: FileEntry, op: "Open", requested: int, access: int) -> int:
    """The oplock level an open of ``entry`` gets for ``requested`` (a level, not LEASE)."""
    if op.is_dir:
        return LEVEL_NONE
    granted = _OPLOCK_CACHING.get(requested, 0)
    others = [o for o in entry.opens if o is not op and not o.closed]
    if stat_open(access):
        return LEVEL_NONE if others else oplock_level_of(granted)  # a stat open beside others
    if entry.locks:
        granted &= ~R
    if others:
        granted &= ~W
    if any(o.lease is not None and o.lease.state & H for o in others):
        granted = 0
    return oplock_level_of(granted)


def grant_lease(table: FileTable, entry: FileEntry, op: "Open", client_guid: bytes, key: bytes,
                requested: int, version: int, parent_key: bytes, epoch: int, access: int) -> Lease:
    """Attach ``op`` to its lease, new or upgraded (rules 2 and 3)."""
    granted = requested & (R | W | H)
    if not granted & (R | W) or granted in (W, W | H):
        granted = 0
    if op.is_dir:
        granted = 0
    others = [o for o in entry.opens if o is not op and not o.closed
              and not _same_lease(o, (client_guid, key))]
    if not stat_open(access):
        if entry.locks:
            granted &= ~R
        if others:
            granted &= ~W
        if any(o.lease is None for o in others):
            granted &= ~H
    lease = table.leases.get((client_guid, key))
    if lease is None:
        lease = Lease(client_guid, key, entry, version, granted, epoch + 1 if version == 2 else 0,
                      parent_key)
        table.leases[(client_guid, key)] = lease
        entry.leases.append(lease)
    else:
        existing = lease.state
        if (existing & requested) == existing and granted != existing and granted == requested \
                and not lease.breaking:
            lease.state = granted
            lease.epoch += 1
    lease.opens.append(op)
    op.lease = lease
    op.oplock_level = LEVEL_LEASE
    return lease


def drop_lease(table: FileTable, op: "Open") -> None:
    """``op`` closes: a lease with no open left is forgotten."""
    lease = op.lease
    if lease is None:
        return
    if op in lease.opens:
        lease.opens.remove(op)
    if not lease.opens:
        if lease.timer is not None:
            lease.timer.cancel()  # type: ignore[attr-defined]
        table.leases.pop((lease.client_guid, lease.key), None)
        if lease in lease.file.leases:
            lease.file.leases.remove(lease)


async def wake_open_waiters(entry: FileEntry) -> None:
    """Re-run the CREATEs that waited for a break of ``entry`` (they may wait again)."""
    waiters, entry.open_waiters = entry.open_waiters, []
    for areq in waiters:
        if not areq.done:
            await areq.data["resume"]()
