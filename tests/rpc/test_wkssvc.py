"""wkssvc (rpc/interfaces/wkssvc.py) through an RpcPipe without sockets: requests from impacket's
encoder and rpcclient's wire form, responses decoded by impacket, the policy per level, the
logged-on users from live sessions, truncated stubs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from impacket.dcerpc.v5 import wkst
from impacket.dcerpc.v5.dtypes import NULL

from rpc_fixtures import bind, call
from test_srvsvc import ANON, GUEST, USER, add_session, make_context, populated, s
from nullsmb.core.state import Session
from nullsmb.rpc import RpcPipe
from nullsmb.rpc.interfaces import wkssvc
from nullsmb.rpc.pdu import FaultStatus, PType, SyntaxId
from nullsmb.rpc.service import audit_call, policy_check

WKSSVC_SYNTAX = SyntaxId.of(str(wkssvc.INTERFACE.uuid), 1, 0)


def pipe_for(ctx: Any, session: Session | None = None, kind: Any = ANON) -> RpcPipe:
    if session is None:
        conn, session = add_session(ctx, kind, "carol" if kind is USER else "")
    else:
        conn = next(c for c in ctx.connections if session.session_id in c.sessions)
    pipe = RpcPipe("wkssvc", SimpleNamespace(server=ctx, session=session, conn=conn), (wkssvc.INTERFACE,),
                   policy_check=policy_check, on_call=audit_call)
    bind(pipe, WKSSVC_SYNTAX)
    return pipe


def rpc(pipe: RpcPipe, opnum: int, stub: bytes) -> bytes:
    header, body = call(pipe, opnum, stub, context_id=0)
    assert header.ptype == PType.RESPONSE, body
    return body.stub


def get_info(level: int, server: str = "\\\\127.0.0.1\0") -> bytes:
    req = wkst.NetrWkstaGetInfo()
    req["ServerName"] = server
    req["Level"] = level
    return req.getData()


def user_enum(level: int, resume: Any = 0, prefmax: int = 0xFFFFFFFF) -> bytes:
    req = wkst.NetrWkstaUserEnum()
    req["ServerName"] = "\0" * 10  # as impacket's hNetrWkstaUserEnum sends it
    req["UserInfo"]["Level"] = level
    req["UserInfo"]["WkstaUserInfo"]["tag"] = level
    req["UserInfo"]["WkstaUserInfo"][f"Level{level}"]["Buffer"] = NULL
    req["PreferredMaximumLength"] = prefmax
    req["ResumeHandle"] = resume
    return req.getData()


def users(out: bytes, level: int) -> list[Any]:
    resp = wkst.NetrWkstaUserEnumResponse(out)
    buf = resp["UserInfo"]["WkstaUserInfo"][f"Level{level}"]["Buffer"]
    return list(buf) if buf else []


# rpcclient wkssvc_enumerateusers (pidl): server "127.0.0.1", level 0, NULL container,
# prefmaxlen 1000 and an uninitialised resume handle (0x5616 in the trace we took).
RPCCLIENT_ENUM_USERS = bytes.fromhex(
    "00000200" "0a000000" "00000000" "0a000000" "3100320037002e0030002e0030002e0031000000"  # server_name
    "00000000" "00000000" "00000000"  # level 0, discriminant 0, NULL container
    "e8030000" "04000200" "16560000")  # prefmaxlen 1000, resume handle -> 0x5616


def test_get_info_level_100_for_anyone(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    resp = wkst.NetrWkstaGetInfoResponse(rpc(pipe_for(ctx), 0, get_info(100)))
    info = resp["WkstaInfo"]["WkstaInfo100"]
    assert resp["ErrorCode"] == 0
    assert (info["wki100_platform_id"], s(info["wki100_computername"]), s(info["wki100_langroup"]),
            info["wki100_ver_major"], info["wki100_ver_minor"]) == (500, "NULLSMB", "WORKGROUP", 10, 0)
    event = [f for e, f in ctx.events if e == "rpc_call"][-1]
    assert (event["interface"], event["operation"], event["level"], event["rule"]) == (
        "wkssvc", "NetrWkstaGetInfo", 100, "any caller")


def test_get_info_levels_follow_the_policy(tmp_path: Path) -> None:
    env = populated(tmp_path)
    anon, bob, alice = (pipe_for(env.ctx, x) for x in (env.anon, env.bob, env.alice))
    assert rpc(anon, 0, get_info(101)) == bytes.fromhex("65000000" "00000000" "05000000")
    r101 = wkst.NetrWkstaGetInfoResponse(rpc(bob, 0, get_info(101)))["WkstaInfo"]["WkstaInfo101"]
    assert s(r101["wki101_lanroot"]) == "" and s(r101["wki101_computername"]) == "NULLSMB"
    assert rpc(bob, 0, get_info(102)) == bytes.fromhex("66000000" "00000000" "05000000")
    r102 = wkst.NetrWkstaGetInfoResponse(rpc(alice, 0, get_info(102)))["WkstaInfo"]["WkstaInfo102"]
    assert r102["wki102_logged_on_users"] == 3  # alice, bob, mallory; not the null session
    assert rpc(alice, 0, get_info(502)) == bytes.fromhex("f6010000" "7c000000")  # unserved: no arm
    env.ctx.policy = replace(env.ctx.policy, EveryoneIncludesAnonymous=1)
    assert wkst.NetrWkstaGetInfoResponse(rpc(anon, 0, get_info(101)))["ErrorCode"] == 0


@pytest.mark.parametrize("level", [0, 1])
def test_user_enum_lists_the_accounts_with_sessions(tmp_path: Path, level: int) -> None:
    env = populated(tmp_path)
    add_session(env.ctx, USER, "Bob", ip="10.0.0.10")  # the same account again, another client
    add_session(env.ctx, ANON, ip="10.0.0.11")
    out = rpc(pipe_for(env.ctx, env.alice), 2, user_enum(level))
    resp = wkst.NetrWkstaUserEnumResponse(out)
    assert resp["ErrorCode"] == 0 and resp["TotalEntries"] == 3
    found = users(out, level)
    if level == 0:
        assert [s(u["wkui0_username"]) for u in found] == ["alice", "bob", "mallory"]
    else:
        assert [(s(u["wkui1_username"]), s(u["wkui1_logon_domain"]), s(u["wkui1_oth_domains"]),
                 s(u["wkui1_logon_server"])) for u in found] == [
            ("alice", "NULLSMB", "", "NULLSMB"), ("bob", "NULLSMB", "", "NULLSMB"),
            ("mallory", "NULLSMB", "", "NULLSMB")]


def test_user_enum_is_for_administrators(tmp_path: Path) -> None:
    env = populated(tmp_path)
    for session in (env.anon, env.bob, env.guest):
        out = rpc(pipe_for(env.ctx, session), 2, user_enum(1))
        assert out[-4:] == (5).to_bytes(4, "little") and users(out, 1) == []
    event = [f for e, f in env.ctx.events if e == "rpc_call"][-1]
    assert (event["status"], event["rule"]) == ("WERR_ACCESS_DENIED", "Administrators only")


def test_rpcclient_request_with_its_uninitialised_resume_handle(tmp_path: Path) -> None:
    env = populated(tmp_path)
    out = rpc(pipe_for(env.ctx, env.alice), 2, RPCCLIENT_ENUM_USERS)
    assert [s(u["wkui0_username"]) for u in users(out, 0)] == ["alice", "bob", "mallory"]


def test_user_enum_paging(tmp_path: Path) -> None:
    env = populated(tmp_path)
    pipe = pipe_for(env.ctx, env.alice)
    names, resume = [], 0
    for _ in range(5):
        out = rpc(pipe, 2, user_enum(0, resume=resume, prefmax=8))
        names += [s(u["wkui0_username"]) for u in users(out, 0)]
        status = int.from_bytes(out[-4:], "little")
        resume = int.from_bytes(out[-8:-4], "little")
        if status == 0:
            break
        assert status == 234 and resume == len(names)
    assert names == ["alice", "bob", "mallory"] and resume == 0


@pytest.mark.parametrize("opnum, stub", [(0, get_info(102)), (2, user_enum(1)), (2, RPCCLIENT_ENUM_USERS)])
def test_truncated_stubs_fault_and_never_raise(tmp_path: Path, opnum: int, stub: bytes) -> None:
    env = populated(tmp_path)
    for session in (env.alice, env.anon):
        pipe = pipe_for(env.ctx, session)
        for cut in range(len(stub)):
            header, body = call(pipe, opnum, stub[:cut], context_id=0, call_id=cut + 10)
            if header.ptype == PType.FAULT:
                assert body.status == FaultStatus.NCA_S_FAULT_NDR, (cut, hex(body.status))
        header, _ = call(pipe, opnum, stub, context_id=0, call_id=9999)
        assert header.ptype == PType.RESPONSE


def test_guest_only_server(tmp_path: Path) -> None:
    """A guest's logon name is its user name (with the server's domain), as srvsvc shows it."""
    ctx = make_context(tmp_path)
    add_session(ctx, GUEST, "mallory")
    _c, admin = add_session(ctx, USER, "alice", groups=("Administrators",))
    out = rpc(pipe_for(ctx, admin), 2, user_enum(1))
    assert [(s(u["wkui1_username"]), s(u["wkui1_logon_domain"])) for u in users(out, 1)] == [
        ("mallory", "NULLSMB"), ("alice", "NULLSMB")]
