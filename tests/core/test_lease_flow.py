"""Lease and oplock break details socket-free (core/oplock.py rules 5 and 7; MS-SMB2 3.3.2.1,
3.3.2.5, 3.3.4.7, 3.3.5.22.2): stepped breaks, timeouts to NONE, renames, which connection is told."""

from __future__ import annotations

import struct

from nullsmb.core import oplock
from nullsmb.core.files import files_of
from nullsmb.status import NtStatus
from nullsmb.wire.contexts import LEASE, encode_lease
from nullsmb.wire.create import CreateContext, CreateRequest, CreateResponse
from nullsmb.wire.header import HEADER_SIZE, Command
from nullsmb.wire.info import SetInfoRequest
from nullsmb.wire.oplock import BREAK_ACK_REQUIRED, encode_lease_ack
from nullsmb.client.connection import Outgoing

from conftest import Pair, make_context
from test_async_flow import deliver, outbox
from test_session_flow import body_of, connected, user

S = NtStatus
ALL = 0x001F01FF
R, H, W = 0x1, 0x2, 0x4
KEY1, KEY2 = b"\x11" * 16, b"\x22" * 16


def create(tid: int, name: str, *, key: bytes | None = None, state: int = 0, disposition: int = 3,
           oplock_level: int = 0, version: int = 2) -> Outgoing:
    contexts: tuple = ()
    if key is not None:
        oplock_level = oplock.LEVEL_LEASE
        contexts = (CreateContext(LEASE, encode_lease(version, key, state, 0)),)
    return Outgoing(Command.CREATE, CreateRequest(oplock_level, 2, ALL, 0, 7, disposition, 0, name,
                                                  contexts).encode(), tree_id=tid)


def lease_breaks(pdus: list[bytes]) -> list[tuple[int, int, bytes, int, int]]:
    """(epoch, flags, key, current, new) of each lease break notification."""
    out = []
    for pdu in pdus:
        _size, epoch, flags, key, current, new = struct.unpack_from("<HHI16sII", pdu, HEADER_SIZE)
        out.append((epoch, flags, key, current, new))
    return out


async def ack(pair: Pair, tid: int, key: bytes, state: int) -> int:
    rsp = (await pair.one(Outgoing(Command.OPLOCK_BREAK, encode_lease_ack(key, state), tree_id=tid))).raise_for_status()
    return struct.unpack_from("<I", rsp.reader().bytes(HEADER_SIZE + 24, 4))[0]


async def test_conflict_during_a_break_is_announced_in_steps_under_the_same_epoch() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    (await pair.one(create(tid, "steps.dat", key=KEY1, state=R | W | H))).raise_for_status()
    assert await pair.call(create(tid, "steps.dat", disposition=1)) == []  # waits for the break
    [(epoch, flags, key, current, new)] = lease_breaks(outbox(pair))
    assert (flags, key, current, new) == (BREAK_ACK_REQUIRED, KEY1, R | W | H, R | H)
    assert await pair.call(create(tid, "steps.dat", disposition=4)) == []  # OVERWRITE: no new break yet
    assert outbox(pair) == []
    assert await ack(pair, tid, KEY1, R | H) == R | H
    [(epoch2, flags, _k, current, new)] = lease_breaks(outbox(pair))
    assert (epoch2, flags, current, new) == (epoch, BREAK_ACK_REQUIRED, R | H, R)  # H first, same epoch
    assert await ack(pair, tid, KEY1, R) == R  # the answer names the state acknowledged
    pdus = outbox(pair)
    breaks = [p for p in pdus if struct.unpack_from("<H", p, 12)[0] == Command.OPLOCK_BREAK]
    [(epoch3, flags, _k, current, new)] = lease_breaks(breaks)
    assert (epoch3, flags, current, new) == (epoch, 0, R, 0)  # READ last, no ack needed
    finals = [r for r in deliver(pair, [p for p in pdus if p not in breaks]) if r.command == Command.CREATE]
    assert [r.status for r in finals] == [S.STATUS_SUCCESS, S.STATUS_SUCCESS]


async def test_unacknowledged_breaks_drop_to_none() -> None:
    pair = Pair()
    table = files_of(pair.context)
    tid = await connected(pair, **user())
    (await pair.one(create(tid, "late.dat", key=KEY1, state=R | W | H, version=1))).raise_for_status()
    await pair.call(create(tid, "late.dat", key=KEY2, state=R | W | H, version=1))
    outbox(pair)  # the break to RH, never acknowledged
    deadline = table.next_deadline()
    assert deadline is not None
    await table.run_due(deadline)
    [final] = deliver(pair, outbox(pair))
    assert final.status == S.STATUS_SUCCESS
    assert table.leases[(pair.client.client_guid, KEY1)].state == 0  # MS-SMB2 3.3.2.5
    late = await pair.one(Outgoing(Command.OPLOCK_BREAK, encode_lease_ack(KEY1, R | H), tree_id=tid))
    assert late.status == S.STATUS_UNSUCCESSFUL

    batch = body_of((await pair.one(create(tid, "op.dat", oplock_level=oplock.LEVEL_BATCH))).raise_for_status(),
                    CreateResponse.decode)
    await pair.call(create(tid, "op.dat", disposition=1))
    outbox(pair)
    await table.run_due(table.next_deadline() or 0)
    [op] = [o for e in table.entries.values() for o in e.opens if o.path == "op.dat" and
            o.volatile_id == struct.unpack_from("<Q", batch.file_id, 8)[0]]
    assert op.oplock_level == oplock.LEVEL_NONE  # MS-SMB2 3.3.2.1


async def test_rename_breaks_the_handle_caching_of_other_leases() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    mine = body_of((await pair.one(create(tid, "ren.dat", key=KEY1, state=R | W | H))).raise_for_status(),
                   CreateResponse.decode)
    name = "moved.dat".encode("utf-16-le")
    rename = struct.pack("<B7sQI", 0, b"", 0, len(name)) + name
    (await pair.one(Outgoing(Command.SET_INFO, SetInfoRequest(1, 10, rename, 0, mine.file_id).encode(),
                             tree_id=tid))).raise_for_status()
    assert outbox(pair) == []  # the renamer's own lease keeps its state
    assert await pair.call(create(tid, "moved.dat", key=KEY2, state=R | H)) == []
    [(_e, _f, key, _c, new)] = lease_breaks(outbox(pair))
    assert (key, new) == (KEY1, R | H)  # KEY1 loses W to the second lease
    await ack(pair, tid, KEY1, R | H)
    [final] = deliver(pair, outbox(pair))
    assert final.status == S.STATUS_SUCCESS
    back = "ren.dat".encode("utf-16-le")
    rename = struct.pack("<B7sQI", 0, b"", 0, len(back)) + back
    (await pair.one(Outgoing(Command.SET_INFO, SetInfoRequest(1, 10, rename, 0, mine.file_id).encode(),
                             tree_id=tid))).raise_for_status()
    [(_e, flags, key, current, new)] = lease_breaks(outbox(pair))
    assert (flags, key, current, new) == (BREAK_ACK_REQUIRED, KEY2, R | H, R)


async def test_lease_break_goes_to_the_clients_oldest_connection() -> None:
    context = make_context()
    first = Pair(context)
    tid1 = await connected(first, **user())
    second = Pair(context)  # same seed: the same ClientGuid
    assert second.client.client_guid == first.client.client_guid
    context.connections.update({first.server, second.server})  # what the aio glue registers
    tid2 = await connected(second, **user())
    (await second.one(create(tid2, "where.dat", key=KEY2, state=R))).raise_for_status()
    other = Pair(context, seed=11)
    context.connections.add(other.server)
    tid3 = await connected(other, **user())
    (await other.one(create(tid3, "where.dat", disposition=5))).raise_for_status()  # overwrite
    assert tid1 and outbox(second) == []
    [(_e, _f, key, current, new)] = lease_breaks(outbox(first))
    assert (key, current, new) == (KEY2, R, 0)
