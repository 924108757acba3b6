"""Requests answered later, socket-free: blocking locks, CHANGE_NOTIFY, oplock breaks and CANCEL
(MS-SMB2 3.3.4.2, 3.3.5.14, 3.3.5.16, 3.3.5.19, 3.3.4.6, 3.3.5.22).

A ``Pair`` joins a ServerConnection and the sans-I/O client; what the server sends outside request
order (final responses, break notifications) is taken from its outbox here, as the glue would.
"""

from __future__ import annotations

import struct

import pytest

from nullsmb.core import oplock
from nullsmb.core.files import files_of
from nullsmb.status import NtStatus
from nullsmb.wire.create import CreateRequest, CreateResponse
from nullsmb.wire.header import HEADER_SIZE, Command, HeaderFlags, Smb2Header, pack_header
from nullsmb.wire.buffer import Reader
from nullsmb.wire.info import decode_buffer_response
from nullsmb.wire.lock import LockElement, LockFlags, LockRequest
from nullsmb.wire.notify import ChangeNotifyRequest, CompletionFilter, NotifyAction
from nullsmb.wire.oplock import encode_oplock_ack
from nullsmb.client.connection import FILE_ID_RELATED, Outgoing

from conftest import Pair
from test_session_flow import body_of, close, connected, read, user, write

S = NtStatus
ALL = 0x001F01FF
SHARE_ALL = 7
DIRECTORY_FILE = 0x1


def create(tid: int, name: str, *, access: int = ALL, disposition: int = 3, options: int = 0,
           oplock_level: int = 0, share: int = SHARE_ALL) -> Outgoing:
    return Outgoing(Command.CREATE, CreateRequest(oplock_level, 2, access, 0, share, disposition,
                                                  options, name, ()).encode(), tree_id=tid)


def lock(tid: int, fid: bytes, offset: int, length: int, flags: int) -> Outgoing:
    return Outgoing(Command.LOCK, LockRequest(0, fid, (LockElement(offset, length, flags),)).encode(),
                    tree_id=tid)


def notify_req(tid: int, fid: bytes, size: int = 4096) -> Outgoing:
    body = ChangeNotifyRequest(0, size, fid, int(CompletionFilter.FILE_NAME | CompletionFilter.DIR_NAME)).encode()
    return Outgoing(Command.CHANGE_NOTIFY, body, tree_id=tid, payload=size)


async def opened(pair: Pair, tid: int, name: str, **kw) -> CreateResponse:
    rsp = (await pair.one(create(tid, name, **kw))).raise_for_status()
    return body_of(rsp, CreateResponse.decode)


def outbox(pair: Pair) -> list[bytes]:
    return [b"".join(bytes(p) for p in parts) for parts in pair.server.take_output()]


def deliver(pair: Pair, pdus: list[bytes]):
    out = []
    for pdu in pdus:
        out += pair.client.receive_pdu(pdu)
    return out


async def cancel(pair: Pair, message_id: int) -> None:
    """A CANCEL naming ``message_id`` (sync form: before the client saw the interim)."""
    session = pair.client.session.session_id
    header = pack_header(command=Command.CANCEL, status=0, message_id=message_id,
                         session_id=session, flags=0)
    assert await pair.server.handle_pdu(bytes(header) + struct.pack("<HH", 4, 0)) == []


async def test_blocking_lock_pends_until_unlock() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    h1 = (await opened(pair, tid, "lock.dat")).file_id
    h2 = (await opened(pair, tid, "lock.dat", disposition=1)).file_id
    assert (await pair.one(lock(tid, h1, 100, 10, LockFlags.EXCLUSIVE))).status == S.STATUS_SUCCESS
    assert await pair.call(lock(tid, h2, 100, 10, LockFlags.EXCLUSIVE)) == []  # interim only
    assert pair.server.async_requests
    assert (await pair.one(lock(tid, h1, 100, 10, LockFlags.UNLOCK))).status == S.STATUS_SUCCESS
    [final] = deliver(pair, outbox(pair))
    assert final.command == Command.LOCK and final.status == S.STATUS_SUCCESS
    assert final.flags & HeaderFlags.ASYNC_COMMAND
    assert not pair.server.async_requests
    # the lock is now h2's: h1 cannot take it back
    rsp = await pair.one(lock(tid, h1, 100, 10, LockFlags.EXCLUSIVE | LockFlags.FAIL_IMMEDIATELY))
    assert rsp.status == S.STATUS_LOCK_NOT_GRANTED


async def test_cancel_and_close_end_a_pending_lock() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    h1 = (await opened(pair, tid, "lock.dat")).file_id
    h2 = (await opened(pair, tid, "lock.dat", disposition=1)).file_id
    await pair.one(lock(tid, h1, 0, 1, LockFlags.EXCLUSIVE))
    [mid] = pair.client.send(lock(tid, h2, 0, 1, LockFlags.SHARED))
    await pair.flush()
    await cancel(pair, mid)
    [final] = deliver(pair, outbox(pair))
    assert final.status == S.STATUS_CANCELLED
    # closing the waiting handle answers RANGE_NOT_LOCKED
    assert await pair.call(lock(tid, h2, 0, 1, LockFlags.SHARED)) == []
    await pair.one(close(tid, h2))
    [final] = deliver(pair, outbox(pair))
    assert final.status == S.STATUS_RANGE_NOT_LOCKED


async def test_locked_range_refuses_io_of_other_opens() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    h1 = (await opened(pair, tid, "io.dat")).file_id
    h2 = (await opened(pair, tid, "io.dat", disposition=1)).file_id
    await pair.one(write(tid, h1, b"x" * 200))
    await pair.one(lock(tid, h1, 0, 100, LockFlags.SHARED | LockFlags.FAIL_IMMEDIATELY))
    assert (await pair.one(write(tid, h2, b"y", 10))).status == S.STATUS_FILE_LOCK_CONFLICT
    assert (await pair.one(write(tid, h1, b"y", 10))).status == S.STATUS_FILE_LOCK_CONFLICT  # own shared
    assert (await pair.one(write(tid, h2, b"y", 150))).status == S.STATUS_SUCCESS


async def test_change_notify_pends_then_reports_the_create() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    d = (await opened(pair, tid, "docs", disposition=1, options=DIRECTORY_FILE)).file_id
    assert await pair.call(notify_req(tid, d)) == []
    await opened(pair, tid, "docs\\new.txt", disposition=2)
    [final] = deliver(pair, outbox(pair))
    assert final.command == Command.CHANGE_NOTIFY and final.status == S.STATUS_SUCCESS
    data = decode_buffer_response(final.reader(), HEADER_SIZE)
    nxt, action, length = struct.unpack_from("<III", data)
    assert (nxt, action) == (0, NotifyAction.ADDED)
    assert data[12:12 + length].decode("utf-16-le") == "new.txt"


async def test_change_notify_buffers_changes_and_overflows_to_enum_dir() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    d = (await opened(pair, tid, "docs", disposition=1, options=DIRECTORY_FILE)).file_id
    await pair.call(notify_req(tid, d))
    await opened(pair, tid, "docs\\a.txt", disposition=2)  # completes the first request
    deliver(pair, outbox(pair))
    await opened(pair, tid, "docs\\b.txt", disposition=2)  # kept for the next request
    rsp = await pair.one(notify_req(tid, d))
    assert rsp.status == S.STATUS_SUCCESS
    await opened(pair, tid, "docs\\c.txt", disposition=2)
    rsp = await pair.one(notify_req(tid, d, size=4))  # does not fit
    assert rsp.status == S.STATUS_NOTIFY_ENUM_DIR


async def test_close_answers_notify_cleanup_and_cancel_cancelled() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    d = (await opened(pair, tid, "docs", disposition=1, options=DIRECTORY_FILE)).file_id
    [mid] = pair.client.send(notify_req(tid, d))
    await pair.flush()
    await cancel(pair, mid)
    [final] = deliver(pair, outbox(pair))
    assert final.status == S.STATUS_CANCELLED
    await pair.call(notify_req(tid, d))
    await pair.one(close(tid, d))
    [final] = deliver(pair, outbox(pair))
    assert final.status == S.STATUS_NOTIFY_CLEANUP


async def test_notify_in_the_middle_of_a_compound_fails_internal_error() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    d = (await opened(pair, tid, "docs", disposition=1, options=DIRECTORY_FILE)).file_id
    rsps = await pair.call(notify_req(tid, d), close(tid, d))
    assert [r.status for r in rsps] == [S.STATUS_INTERNAL_ERROR, S.STATUS_SUCCESS]
    assert not pair.server.async_requests


async def test_batch_oplock_break_waits_for_the_acknowledgment() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    first = await opened(pair, tid, "batch.dat", oplock_level=oplock.LEVEL_BATCH)
    assert first.oplock_level == oplock.LEVEL_BATCH
    assert await pair.call(create(tid, "batch.dat", disposition=1, oplock_level=oplock.LEVEL_BATCH)) == []
    [notification] = outbox(pair)
    hdr = Smb2Header.decode(Reader(notification))
    assert hdr.command == Command.OPLOCK_BREAK and hdr.message_id == 0xFFFFFFFFFFFFFFFF
    assert hdr.session_id == 0 and not hdr.flags & HeaderFlags.SIGNED
    level, fid = struct.unpack_from("<xxB5x16s", notification, HEADER_SIZE)
    assert (level, fid) == (oplock.LEVEL_II, first.file_id)
    ack = await pair.one(Outgoing(Command.OPLOCK_BREAK, encode_oplock_ack(oplock.LEVEL_II, fid), tree_id=tid))
    assert ack.status == S.STATUS_SUCCESS
    [final] = deliver(pair, outbox(pair))
    second = body_of(final, CreateResponse.decode)
    assert final.status == S.STATUS_SUCCESS and second.oplock_level == oplock.LEVEL_II
    # an acknowledgment with no break out is refused
    again = await pair.one(Outgoing(Command.OPLOCK_BREAK, encode_oplock_ack(0, fid), tree_id=tid))
    assert again.status == S.STATUS_INVALID_OPLOCK_PROTOCOL


async def test_break_timeout_lets_the_waiting_open_through() -> None:
    pair = Pair()
    table = files_of(pair.context)
    tid = await connected(pair, **user())
    await opened(pair, tid, "slow.dat", oplock_level=oplock.LEVEL_BATCH)
    await pair.call(create(tid, "slow.dat", disposition=1))
    outbox(pair)  # the break, never acknowledged
    deadline = table.next_deadline()
    assert deadline is not None and deadline - pair.context.clock() == oplock.BREAK_TIMEOUT
    await table.run_due(deadline)
    [final] = deliver(pair, outbox(pair))
    assert final.command == Command.CREATE and final.status == S.STATUS_SUCCESS


async def test_sharing_violation_and_delete_pending() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    h = (await opened(pair, tid, "share.dat", share=0)).file_id
    rsp = await pair.one(create(tid, "share.dat", disposition=1, access=0x00120089))
    assert rsp.status == S.STATUS_SHARING_VIOLATION
    stat_only = await pair.one(create(tid, "share.dat", disposition=1, access=0x00100080))
    assert stat_only.status == S.STATUS_SUCCESS  # attribute-only opens never conflict
    await pair.one(close(tid, h))
    doc = (await opened(pair, tid, "share.dat", disposition=1, options=0x1000)).file_id  # DELETE_ON_CLOSE
    await pair.one(close(tid, doc))
    rsp = await pair.one(create(tid, "share.dat", disposition=1))
    assert rsp.status == S.STATUS_DELETE_PENDING  # the attribute-only open still holds it
    await pair.one(close(tid, body_of(stat_only, CreateResponse.decode).file_id))
    rsp = await pair.one(create(tid, "share.dat", disposition=1))
    assert rsp.status == S.STATUS_OBJECT_NAME_NOT_FOUND  # gone with the last close


async def test_related_notify_after_create_is_the_last_request() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    rsps = await pair.call(create(tid, "docs", disposition=1, options=DIRECTORY_FILE),
                           notify_req(tid, FILE_ID_RELATED), related=True)
    assert [r.status for r in rsps] == [S.STATUS_SUCCESS]  # the notify pends (interim absorbed)
    assert len(pair.server.async_requests) == 1


async def test_only_a_failed_create_carries_through_a_related_chain() -> None:
    """MS-SMB2 3.3.5.2.7.2 as Windows and Samba do it (smbtorture smb2.compound.related5/6/8)."""
    pair = Pair()
    tid = await connected(pair, **user())
    fid = (await opened(pair, tid, "chain.dat")).file_id
    (await pair.one(write(tid, fid, b"x" * 64))).raise_for_status()
    rsps = await pair.call(create(tid, "chain.dat", access=0x1, disposition=1),  # READ_DATA only
                           read(tid, FILE_ID_RELATED, 1), write(tid, FILE_ID_RELATED, b"y"),
                           read(tid, FILE_ID_RELATED, 1), close(tid, FILE_ID_RELATED), related=True)
    assert [r.status for r in rsps] == [S.STATUS_SUCCESS, S.STATUS_SUCCESS, S.STATUS_ACCESS_DENIED,
                                        S.STATUS_SUCCESS, S.STATUS_SUCCESS]
    rsps = await pair.call(create(tid, "missing.dat", disposition=1), read(tid, FILE_ID_RELATED, 1),
                           close(tid, FILE_ID_RELATED), related=True)
    assert [r.status for r in rsps] == [S.STATUS_OBJECT_NAME_NOT_FOUND] * 3
    # an earlier message left no open to inherit: FILE_CLOSED (related5), not INVALID_PARAMETER
    rsps = await pair.call(close(tid, b"\x01" * 16), read(tid, FILE_ID_RELATED, 1), related=True)
    assert [r.status for r in rsps] == [S.STATUS_FILE_CLOSED] * 2


@pytest.mark.parametrize(("dialect", "replayed"), [(0x0311, True), (0x0210, False)])
async def test_lock_sequence_replay_on_3x_opens(dialect: int, replayed: bool) -> None:
    """MS-SMB2 3.3.5.14: on 3.x every open keeps LockSequence; on 2.1 only durable ones."""
    pair = Pair(dialects=[dialect])
    tid = await connected(pair, **user())
    h = (await opened(pair, tid, "seq.dat")).file_id
    (await pair.one(write(tid, h, b"x" * 100))).raise_for_status()
    seq = (1 << 4) | 3  # LockSequenceIndex 1, LockSequenceNumber 3

    def locked(flags: int) -> Outgoing:
        return Outgoing(Command.LOCK, LockRequest(seq, h, (LockElement(0, 10, flags),)).encode(), tree_id=tid)

    excl = LockFlags.EXCLUSIVE | LockFlags.FAIL_IMMEDIATELY
    assert (await pair.one(locked(excl))).status == S.STATUS_SUCCESS
    again = await pair.one(locked(excl))  # the same sequence again: a replay, not a new lock
    assert again.status == (S.STATUS_SUCCESS if replayed else S.STATUS_LOCK_NOT_GRANTED)
