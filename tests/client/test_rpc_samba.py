"""The RPC client against the reference Samba (tests/client/conftest.py starts real smbd
processes): every call as alice, what null sessions get with ``restrict anonymous`` 0, and
the exact statuses Samba refuses them with at 1 and 2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from nullsmb.client import (
    RpcSession,
    RpcStatusError,
    SmbClient,
    SmbClientError,
    list_sessions,
    list_shares,
    open_rpc,
    server_info,
)
from nullsmb.client import lsa, samr, srvsvc, wkssvc
from nullsmb.client.rpc import RpcConnection, RpcFaultError, SmbPipe
from nullsmb.rpc.ndr import Sid
from nullsmb.rpc.pdu import FaultStatus, ProviderReason
from nullsmb.status import NtStatus

from .conftest import ALICE, NETBIOS, PASSWORD, SambaServer


ACCESS_DENIED = int(NtStatus.STATUS_ACCESS_DENIED)


@asynccontextmanager
async def rpc_on(server: SambaServer, pipe: str, syntax, user: str = ALICE,  # type: ignore[no-untyped-def]
                 password: str = PASSWORD) -> AsyncIterator[RpcSession]:
    async with open_rpc(server.host, server.port, pipe, syntax, user, password) as rpc:
        yield rpc


# -- alice (BUILTIN\Administrators), restrict anonymous = 0 -----------------------------------------

async def test_shares_as_alice(samba: SambaServer) -> None:
    async with rpc_on(samba, srvsvc.PIPE, srvsvc.SYNTAX) as rpc:
        assert rpc.bound is not None and rpc.bound.sec_addr.lower() == "\\pipe\\srvsvc"
        for level in (0, 1, 2, 502):
            result = await srvsvc.share_enum(rpc, level)
            assert {s.name for s in result.shares} == {"public", "IPC$"} and result.total_entries == 2
        by_name = {s.name: s for s in (await srvsvc.share_enum(rpc, 2)).shares}
        assert by_name["IPC$"].kind == "ipc" and by_name["IPC$"].special
        assert by_name["public"].kind == "disk" and by_name["public"].path.endswith(samba.share_dir.name)
        public = await srvsvc.share_get_info(rpc, "public", 502)
        assert public.name == "public" and public.type == 0
        with pytest.raises(RpcStatusError) as err:
            await srvsvc.share_get_info(rpc, "nosuch", 1)
        assert (err.value.kind, err.value.status, err.value.name) == ("werror", 123, "WERR_INVALID_NAME")


async def test_server_and_workstation_info_as_alice(samba: SambaServer) -> None:
    info = await server_info(samba.host, samba.port, ALICE, PASSWORD, level=101)
    assert (info.platform_id, info.name) == (500, NETBIOS) and info.comment.startswith("Samba")
    async with rpc_on(samba, srvsvc.PIPE, srvsvc.SYNTAX) as rpc:
        assert (await srvsvc.server_get_info(rpc, 100)).name == NETBIOS
        assert (await srvsvc.server_get_info(rpc, 102)).userpath is not None
        tod = await srvsvc.remote_tod(rpc)
        assert tod.year >= 2024 and 1 <= tod.month <= 12
        [conn] = await srvsvc.connection_enum(rpc, "IPC$")
        assert conn.net_name == "IPC$"
    async with rpc_on(samba, wkssvc.PIPE, wkssvc.SYNTAX) as rpc:
        for level in (100, 101, 102):
            wksta = await wkssvc.wksta_get_info(rpc, level)
            assert (wksta.computer_name, wksta.lan_group) == (NETBIOS, "WORKGROUP")
        assert await wkssvc.wksta_user_enum(rpc, 1) == ()


async def test_session_enum_falls_back_to_level_1_and_lists_alice(samba: SambaServer) -> None:
    outcome = await list_sessions(samba.host, samba.port, ALICE, PASSWORD)
    assert outcome.level == 1  # Samba serves levels 0 and 1 only
    assert [(a.level, a.name) for a in outcome.attempts] == [
        (502, "WERR_INVALID_LEVEL"), (10, "WERR_INVALID_LEVEL"), (2, "WERR_INVALID_LEVEL"), (1, "WERR_OK")]
    mine = [s for s in outcome.sessions if s.user_name == ALICE]
    assert mine and mine[0].client_name == "127.0.0.1" and mine[0].user_flags == 0


async def test_samba_shows_null_sessions_as_guest_and_refuses_session_del(samba: SambaServer) -> None:
    victim = await SmbClient.connect(samba.host, samba.port)
    try:
        await victim.login()
        await victim.tree_connect("IPC$")
        async with rpc_on(samba, srvsvc.PIPE, srvsvc.SYNTAX) as rpc:
            sessions = (await srvsvc.session_enum(rpc, 1)).sessions
            # the null session appears as the guest account, flagged SESS_GUEST (MS-SRVS 2.2.2.3)
            assert any(s.user_name == "nobody" and s.user_flags == 1 for s in sessions)
            with pytest.raises(RpcStatusError) as err:  # Samba: not even for BUILTIN\Administrators
                await srvsvc.session_del(rpc, user_name="nobody")
            assert (err.value.status, err.value.name) == (5, "WERR_ACCESS_DENIED")
        await victim.echo()
    finally:
        await victim.disconnect()


async def test_samr_as_alice(samba: SambaServer) -> None:
    async with rpc_on(samba, samr.PIPE, samr.SYNTAX) as rpc:
        conn = await samr.connect(rpc)
        assert conn.operation == "SamrConnect5" and conn.revision == 3
        domains = await samr.enumerate_domains(rpc, conn.handle)
        assert [d.name for d in domains] == [NETBIOS, "Builtin"]
        domain_sid = await samr.lookup_domain(rpc, conn.handle, NETBIOS)
        assert str(await samr.lookup_domain(rpc, conn.handle, "Builtin")) == "S-1-5-32"
        domain = await samr.open_domain(rpc, conn.handle, domain_sid)
        users = await samr.enumerate_users(rpc, domain)
        assert samr.RidName(1000, ALICE) in users
        assert [(e.rid, e.account_name) for e in await samr.query_display_information(rpc, domain)] == [(1000, ALICE)]
        password = await samr.query_information_domain(rpc, domain, 1)
        general = await samr.query_information_domain(rpc, domain, 2, version=2)
        lockout = await samr.query_information_domain(rpc, domain, 12)
        assert password.min_password_length == 5 and general.user_count == len(users)
        assert lockout.lockout_threshold == 0
        looked = await samr.lookup_names_in_domain(rpc, domain, [ALICE, "nosuch"])
        assert looked.status_name == "STATUS_SOME_NOT_MAPPED" and looked.entries[0] == (ALICE, 1000, 1)
        user = await samr.open_user(rpc, domain, 1000)
        everything = await samr.query_information_user(rpc, user, 21)
        cheap = await samr.query_information_user(rpc, user, 1)
        assert (everything.user_name, everything.user_id, cheap.user_name) == (ALICE, 1000, ALICE)
        assert everything.primary_group_id == cheap.primary_group_id == 513
        assert (513, 7) in await samr.get_groups_for_user(rpc, user)
        builtin = await samr.open_domain(rpc, conn.handle, "S-1-5-32")
        assert isinstance(await samr.get_alias_membership(rpc, builtin, [domain_sid.child(1000)]), tuple)
        alias = await samr.open_alias(rpc, builtin, 544)
        assert isinstance(await samr.get_members_in_alias(rpc, alias), tuple)
        with pytest.raises(RpcStatusError) as err:
            await samr.open_user(rpc, domain, 4242)
        assert err.value.name == "STATUS_NO_SUCH_USER"
        for handle in (alias, builtin, user, domain, conn.handle):
            await samr.close_handle(rpc, handle)
        with pytest.raises(RpcFaultError) as fault:  # a closed handle
            await samr.enumerate_users(rpc, domain)
        assert fault.value.name == "NCA_S_FAULT_CONTEXT_MISMATCH"
        assert await samr.get_domain_password_information(rpc) == (5, 0)


async def test_lsa_as_alice(samba: SambaServer) -> None:
    async with rpc_on(samba, lsa.PIPE, lsa.SYNTAX) as rpc:
        assert await lsa.get_user_name(rpc) == (ALICE, NETBIOS)
        policy = await lsa.open_policy2(rpc)
        account = await lsa.query_info_policy(rpc, policy, 5)  # falls back to opnum 7 on Samba
        primary = await lsa.query_info_policy(rpc, policy, 3)
        assert account.name == NETBIOS and str(account.sid).startswith("S-1-5-21-")
        assert primary.name == "WORKGROUP" and primary.sid is None
        with pytest.raises(RpcFaultError) as fault:  # Samba's standalone LSA has no opnum 46
            await lsa.query_info_policy(rpc, policy, 5, version=2)
        assert fault.value.status == FaultStatus.NCA_S_OP_RNG_ERROR
        with pytest.raises(RpcStatusError) as err:
            await lsa.query_info_policy(rpc, policy, 12)
        assert err.value.name == "STATUS_INVALID_INFO_CLASS"

        names = await lsa.lookup_names(rpc, policy, [ALICE, "BUILTIN\\Administrators"])
        assert names.status == 0 and names.sids[0].sid == account.sid.child(1000)
        alice_sid = names.sids[0].sid
        sids = await lsa.lookup_sids(rpc, policy, [alice_sid, "S-1-5-32-544"])
        assert [(n.full_name, n.use_name) for n in sids.names] == [
            (f"{NETBIOS}\\{ALICE}", "USER"), ("BUILTIN\\Administrators", "ALIAS")]
        again = await lsa.lookup_sids(rpc, policy, ["S-1-5-32-544"], version=2)
        assert again.names[0].full_name == "BUILTIN\\Administrators"
        assert Sid.parse("S-1-5-32-544") in await lsa.enumerate_accounts(rpc, policy)
        cycled = await lsa.rid_cycle(rpc, policy, account.sid, [(995, 1005)])
        assert (f"{NETBIOS}\\{ALICE}", 1000) in [(n.full_name, n.sid.rid) for n in cycled]
        await lsa.close(rpc, policy)


async def test_long_replies_through_buffer_overflow(samba: SambaServer) -> None:
    """300 SIDs: a 3-fragment request and a 5-fragment reply, each fragment read in 1000-byte
    pieces."""

    class Capped(SmbPipe):
        overflows = reads = 0

        async def transceive(self, data: bytes, max_out: int) -> tuple[bytes, bool]:
            out, more = await super().transceive(data, min(max_out, 1000))
            self.overflows += more
            return out, more

        async def read(self, max_bytes: int) -> tuple[bytes, bool]:
            out, more = await super().read(min(max_bytes, 1000))
            self.reads += 1
            self.overflows += more
            return out, more

    client = await SmbClient.connect(samba.host, samba.port)
    try:
        await client.login(ALICE, PASSWORD)
        ipc = await client.tree_connect("IPC$")
        base = await SmbPipe.open(client, ipc, lsa.PIPE)
        pipe = Capped(client, ipc, base.file_id, lsa.PIPE)
        rpc = RpcConnection(pipe)
        await rpc.bind([lsa.SYNTAX])
        policy = await lsa.open_policy2(rpc)
        result = await lsa.lookup_sids(rpc, policy, [f"S-1-5-21-1-2-3-{i}" for i in range(300)])
        assert result.status_name == "STATUS_NONE_MAPPED" and len(result.names) == 300
        # the 1000-byte TRANSCEIVE overflowed; each 4280-byte fragment took several READs
        # (Samba answers a short pipe READ with STATUS_SUCCESS: the client frames by frag_length)
        assert pipe.overflows >= 1 and pipe.reads >= 20
        await rpc.close()
    finally:
        await client.disconnect()


async def test_rejections_faults_and_missing_pipes(samba: SambaServer) -> None:
    async with rpc_on(samba, lsa.PIPE, lsa.SYNTAX) as rpc:
        result = await rpc.alter_context([samr.SYNTAX])  # Samba serves SAMR on \pipe\samr only
        assert not result.contexts[0].accepted
        assert result.contexts[0].reason == ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED
        with pytest.raises(RpcFaultError) as fault:
            await rpc.call(200, b"")
        assert fault.value.name == "NCA_S_OP_RNG_ERROR"
        assert await lsa.get_user_name(rpc) == (ALICE, NETBIOS)  # still in step
    client = await SmbClient.connect(samba.host, samba.port)
    try:
        await client.login(ALICE, PASSWORD)
        ipc = await client.tree_connect("IPC$")
        with pytest.raises(SmbClientError) as err:
            async with RpcSession.open(client, ipc, "nosuchpipe", lsa.SYNTAX):
                pass
        assert err.value.status == NtStatus.STATUS_OBJECT_NAME_NOT_FOUND
    finally:
        await client.disconnect()


# -- null sessions ---------------------------------------------------------------------------------

async def test_null_session_with_restrict_anonymous_0(samba: SambaServer) -> None:
    shares = await list_shares(samba.host, samba.port)
    assert {s.name for s in shares.shares} == {"public", "IPC$"}
    assert (await server_info(samba.host, samba.port)).name == NETBIOS
    outcome = await list_sessions(samba.host, samba.port)
    assert outcome.level is None and {a.name for a in outcome.attempts} == {"WERR_ACCESS_DENIED"}
    async with rpc_on(samba, srvsvc.PIPE, srvsvc.SYNTAX, "", "") as rpc:
        with pytest.raises(RpcStatusError) as err:
            await srvsvc.connection_enum(rpc, "IPC$")
        assert (err.value.status, err.value.kind) == (5, "werror")
    async with rpc_on(samba, wkssvc.PIPE, wkssvc.SYNTAX, "", "") as rpc:
        assert (await wkssvc.wksta_get_info(rpc, 100)).computer_name == NETBIOS
        with pytest.raises(RpcStatusError, match="WERR_ACCESS_DENIED"):
            await wkssvc.wksta_get_info(rpc, 101)
    async with rpc_on(samba, lsa.PIPE, lsa.SYNTAX, "", "") as rpc:
        assert await lsa.get_user_name(rpc) == ("Anonymous Logon", "NT Authority")
        policy = await lsa.open_policy2(rpc)
        account = await lsa.query_info_policy(rpc, policy, 5)
        names = await lsa.lookup_sids(rpc, policy, [account.sid.child(1000), "S-1-5-32-544"])
        assert [n.full_name for n in names.names] == [f"{NETBIOS}\\{ALICE}", "BUILTIN\\Administrators"]
    async with rpc_on(samba, samr.PIPE, samr.SYNTAX, "", "") as rpc:
        conn = await samr.connect(rpc)
        domain = await samr.open_domain(rpc, conn.handle, await samr.lookup_domain(rpc, conn.handle, NETBIOS))
        assert samr.RidName(1000, ALICE) in await samr.enumerate_users(rpc, domain)
        assert await samr.get_domain_password_information(rpc) == (5, 0)


async def test_null_session_with_restrict_anonymous_1(samba_ra1: SambaServer) -> None:
    server = samba_ra1
    async with rpc_on(server, srvsvc.PIPE, srvsvc.SYNTAX, "", "") as rpc:
        for call in (srvsvc.share_enum(rpc, 1), srvsvc.server_get_info(rpc, 101)):
            with pytest.raises(RpcStatusError) as err:
                await call
            assert (err.value.status, err.value.name) == (5, "WERR_ACCESS_DENIED")
    async with rpc_on(server, samr.PIPE, samr.SYNTAX, "", "") as rpc:
        for call in (samr.connect(rpc), samr.get_domain_password_information(rpc)):
            with pytest.raises(RpcStatusError) as err:
                await call
            assert (err.value.status, err.value.name) == (ACCESS_DENIED, "STATUS_ACCESS_DENIED")
    async with rpc_on(server, lsa.PIPE, lsa.SYNTAX, "", "") as rpc:  # Samba still translates
        policy = await lsa.open_policy2(rpc)
        assert (await lsa.lookup_names(rpc, policy, ["BUILTIN\\Administrators"])).sids[0].mapped
    assert {s.name for s in (await list_shares(server.host, server.port, ALICE, PASSWORD)).shares} == {"public", "IPC$"}


async def test_null_session_with_restrict_anonymous_2(samba_ra2: SambaServer) -> None:
    server = samba_ra2
    with pytest.raises(SmbClientError) as err:
        await list_shares(server.host, server.port)
    assert err.value.status == ACCESS_DENIED and "TREE_CONNECT" in str(err.value)
    assert {s.name for s in (await list_shares(server.host, server.port, ALICE, PASSWORD)).shares} == {"public", "IPC$"}


async def test_wrong_password_is_a_logon_failure(samba: SambaServer) -> None:
    with pytest.raises(SmbClientError) as err:
        await list_shares(samba.host, samba.port, ALICE, "wrong")
    assert err.value.status == NtStatus.STATUS_LOGON_FAILURE
