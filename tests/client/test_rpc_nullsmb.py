"""The RPC client against a real nullsmb server (``python -m nullsmb serve`` on a free loopback
port, tests/integration/conftest.py), lightly: bind and NetrShareEnum, and the pipe policy's
refusal as the client reports it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.conftest import ServerInfo, free_port, running_server, write_user_config
from nullsmb.client import RpcStatusError, SmbClient, SmbClientError, list_shares, open_rpc
from nullsmb.client import lsa, srvsvc
from nullsmb.status import NtStatus


@pytest.fixture(scope="module")
def nullsmb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    """alice (Administrators), share "public", NullSessionPipes = ["srvsvc"]."""
    workdir = tmp_path_factory.mktemp("rpc-client")
    port = free_port()
    with running_server(workdir, config=write_user_config(Path(workdir), port), port=port) as info:
        yield info


async def test_bind_and_share_enum(nullsmb_server: ServerInfo) -> None:
    async with open_rpc(nullsmb_server.host, nullsmb_server.port, srvsvc.PIPE, srvsvc.SYNTAX) as rpc:
        assert rpc.bound is not None and rpc.bound.sec_addr == "\\PIPE\\srvsvc"
        assert rpc.bound.contexts[0].accepted and rpc.max_xmit_frag == 4280
        shares = await srvsvc.share_enum(rpc, 1)
    assert [(s.name, s.kind) for s in shares.shares] == [("public", "disk"), ("IPC$", "ipc")]
    as_alice = await list_shares(nullsmb_server.host, nullsmb_server.port, "alice", "Passw0rd!", level=0)
    assert {s.name for s in as_alice.shares} == {"public", "IPC$"}


async def test_a_pipe_outside_null_session_pipes_is_refused(nullsmb_server: ServerInfo) -> None:
    with pytest.raises(SmbClientError) as err:
        async with open_rpc(nullsmb_server.host, nullsmb_server.port, lsa.PIPE, lsa.SYNTAX):
            pass
    assert err.value.status == NtStatus.STATUS_ACCESS_DENIED and "CREATE" in str(err.value)


async def test_session_enum_and_session_del(nullsmb_server: ServerInfo) -> None:
    """Server Manager's remote view: list the sessions, end a guest's; the guest's connection
    is closed by the server."""
    host, port = nullsmb_server.host, nullsmb_server.port
    victim = await SmbClient.connect(host, port)
    try:
        assert (await victim.login("bob", "not-a-user")).is_guest  # map_to_guest = "bad_user"
        async with open_rpc(host, port, srvsvc.PIPE, srvsvc.SYNTAX, "alice", "Passw0rd!") as rpc:
            outcome = await srvsvc.session_enum_any(rpc)
            assert outcome.level == 502 and [a.level for a in outcome.attempts] == [502]
            assert {s.user_name for s in outcome.sessions} >= {"alice", "Guest"}
            with pytest.raises(RpcStatusError) as err:
                await srvsvc.session_del(rpc, user_name="nosuch")
            assert (err.value.status, err.value.name) == (2221, "NERR_UserNotFound")
            await srvsvc.session_del(rpc, user_name="Guest")
            after = await srvsvc.session_enum(rpc, 10)
            assert "Guest" not in {s.user_name for s in after.sessions}
        with pytest.raises(ConnectionError):
            await victim.echo()
    finally:
        await victim.disconnect()
