"""Durable handles socket-free (core/durable.py; MS-SMB2 3.3.5.9.6, 3.3.5.9.7): kept when the
connection goes, taken back by a reconnect, purged by another open."""

from __future__ import annotations

from nullsmb.core import oplock
from nullsmb.core.files import files_of
from nullsmb.status import NtStatus
from nullsmb.wire.create import CreateContext, CreateRequest, CreateResponse
from nullsmb.wire.header import Command
from nullsmb.client.connection import Outgoing

from conftest import Pair, make_context
from test_session_flow import body_of, connected, user

S = NtStatus
ALL = 0x001F01FF


def create(tid: int, name: str, *, oplock_level: int = oplock.LEVEL_BATCH, disposition: int = 3,
           contexts: tuple = ()) -> Outgoing:
    return Outgoing(Command.CREATE, CreateRequest(oplock_level, 2, ALL, 0, 7, disposition, 0, name,
                                                  contexts).encode(), tree_id=tid)


def durable_request() -> tuple:
    return (CreateContext(b"DHnQ", bytes(16)),)


async def test_durable_open_survives_disconnect_and_reconnects() -> None:
    context = make_context()
    first = Pair(context)
    tid = await connected(first, **user())
    rsp = (await first.one(create(tid, "keep.dat", contexts=durable_request()))).raise_for_status()
    created = body_of(rsp, CreateResponse.decode)
    assert any(c.name == b"DHnQ" for c in created.contexts)  # granted with the batch oplock
    await first.server.close_all("disconnect")
    table = files_of(context)
    assert len(table.durable) == 1
    second = Pair(context, seed=9)
    tid2 = await connected(second, **user())
    rsp = await second.one(create(tid2, "ignored", contexts=(CreateContext(b"DHnC", created.file_id),)))
    assert rsp.status == S.STATUS_SUCCESS
    back = body_of(rsp, CreateResponse.decode)
    assert back.file_id[:8] == created.file_id[:8]  # the same persistent id
    assert back.oplock_level == oplock.LEVEL_BATCH and back.create_action == 1
    assert not table.durable
    again = await second.one(create(tid2, "x", contexts=(CreateContext(b"DHnC", created.file_id),)))
    assert again.status == S.STATUS_OBJECT_NAME_NOT_FOUND  # connected again: nothing to reclaim


async def test_no_durability_without_a_batch_oplock() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    rsp = (await pair.one(create(tid, "plain.dat", oplock_level=oplock.LEVEL_II,
                                 contexts=durable_request()))).raise_for_status()
    assert not body_of(rsp, CreateResponse.decode).contexts
    await pair.server.close_all("disconnect")
    assert not files_of(pair.context).durable


async def test_another_open_purges_a_disconnected_durable_open() -> None:
    context = make_context()
    first = Pair(context)
    tid = await connected(first, **user())
    rsp = (await first.one(create(tid, "taken.dat", contexts=durable_request()))).raise_for_status()
    old = body_of(rsp, CreateResponse.decode).file_id
    await first.server.close_all("disconnect")
    second = Pair(context, seed=11)
    tid2 = await connected(second, **user())
    rsp = (await second.one(create(tid2, "taken.dat", disposition=1))).raise_for_status()
    assert body_of(rsp, CreateResponse.decode).oplock_level == oplock.LEVEL_BATCH  # no break owed
    rsp = await second.one(create(tid2, "taken.dat", contexts=(CreateContext(b"DHnC", old),)))
    assert rsp.status == S.STATUS_OBJECT_NAME_NOT_FOUND


async def test_disconnected_durable_open_expires() -> None:
    context = make_context()
    pair = Pair(context)
    tid = await connected(pair, **user())
    await pair.one(create(tid, "brief.dat", contexts=durable_request()))
    await pair.server.close_all("disconnect")
    table = files_of(context)
    deadline = table.next_deadline()
    assert deadline is not None
    await table.run_due(deadline)
    assert not table.durable and not table.entries
