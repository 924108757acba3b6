"""srvsvc (rpc/interfaces/srvsvc.py) driven through an RpcPipe without sockets: real request stubs
from the captures and from impacket's encoder, responses decoded by impacket's decoder (an NDR
implementation that is not ours), live server state built as the core builds it, the policy
and audit hooks of rpc/service.py, and truncated or malformed stubs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from impacket.dcerpc.v5 import srvs
from impacket.ldap import ldaptypes
from impacket.dcerpc.v5.dtypes import NULL

from rpc_fixtures import bind, call
from nullsmb.admin import snapshot as snap
from nullsmb.auth.ntlmssp import AuthResult, PrincipalKind as AuthKind
from nullsmb.config import default_config
from nullsmb.core.connection import ServerConnection
from nullsmb.core.context import ServerContext
from nullsmb.core.state import Open, Session, SessionState, TreeConnect
from nullsmb.policy.null_session import Principal, PrincipalKind, Right
from nullsmb.rpc import RpcPipe
from nullsmb.rpc.interfaces import srvsvc
from nullsmb.rpc.pdu import FaultStatus, PType, SyntaxId
from nullsmb.rpc.service import audit_call, policy_check

NOW = 1_800_000_000.25  # 2027-01-15 08:00:00.25 UTC, a Friday
ANON, GUEST, USER = PrincipalKind.ANONYMOUS, PrincipalKind.GUEST, PrincipalKind.USER
SRVSVC_SYNTAX = SyntaxId.of(str(srvsvc.INTERFACE.uuid), 3, 0)

# Request stubs from /work/shared/captures (Samba 4.17's clients), hex of the DCE/RPC stub.
# smbclient -U% -N -L: NetShareEnumAll, server "127.0.0.1", level 1, empty container, resume 0.
SMBCLIENT_SHARE_ENUM = bytes.fromhex(
    "000002000a000000000000000a0000003100320037002e0030002e0030002e0031000000"
    "0100000001000000040002000000000000000000ffffffff0800020000000000")
# ... and Samba's answer to it (public, IPC$ "IPC Service (Samba 4.17.12-Debian)").
SAMBA_SHARE_ENUM_REPLY = bytes.fromhex(
    "01000000010000000c0002000200000010000200020000001400020000000000180002001c0002000300008020"
    "0002000700000000000000070000007000750062006c00690063000000000001000000000000000100000000"
    "000000050000000000000005000000490050004300240000000000230000000000000023000000490050004300"
    "2000530065007200760069006300650020002800530061006d0062006100200034002e00310037002e003100"
    "32002d00440065006200690061006e0029000000000002000000240002000000000000000000")
# rpcclient srvinfo: NetSrvGetInfo, server "\\127.0.0.1", level 101.
RPCCLIENT_SRVINFO = bytes.fromhex(
    "000002000c000000000000000c0000005c005c003100320037002e0030002e0030002e003100000065000000")
SAMBA_SRVINFO_REPLY = bytes.fromhex(
    "6500000004000200f4010000080002000600000001000000039a80000c0002000c000000000000000c000000"
    "41004e00430048004f005200530041004d00420041000000150000000000000015000000530061006d0062006100"
    "200034002e00310037002e00310032002d00440065006200690061006e000000000000000000")
# rpcclient -U alice netsessenum: NetSessEnum level 1, no filters, NULL resume handle.
RPCCLIENT_SESS_ENUM = bytes.fromhex(
    "000002000a000000000000000a0000003100320037002e0030002e0030002e003100000000000000000000000100"
    "000001000000040002000000000000000000ffffffff00000000")
# rpcclient -U alice 'netshareenumall 2'.
RPCCLIENT_SHARE_ENUM_2 = bytes.fromhex(
    "000002000a000000000000000a0000003100320037002e0030002e0030002e00310000000200000002000000040002"
    "000000000000000000ffffffff00000000")


# -- live server state -----------------------------------------------------------------------------


def make_context(tmp_path: Path, **policy: Any) -> ServerContext:
    from nullsmb.aio.lifecycle import build_context

    config = default_config(tmp_path)
    context = build_context(config, create_missing_shares=True)
    context.clock = lambda: NOW
    context.start_time = NOW - 3600
    context.policy = replace(context.policy, **policy)
    events: list[tuple[str, dict]] = []
    context.audit = lambda event, fields: events.append((event, fields))
    context.events = events  # type: ignore[attr-defined]
    return context


def add_session(context: ServerContext, kind: PrincipalKind, user: str = "", *, ip: str = "10.0.0.7",
                groups: tuple[str, ...] = (), workstation: str = "WS1",
                conn: ServerConnection | None = None) -> tuple[ServerConnection, Session]:
    if conn is None:
        conn = ServerConnection(context, (ip, 50000 + len(context.connections)))
        conn.neg.dialect = 0x0311
        context.connections.add(conn)
    session = Session(context.new_session_id(), state=SessionState.VALID, created_at=NOW - 120)
    session.last_activity = NOW - 5
    session.principal = Principal(kind, user, groups)
    auth_kind = {ANON: AuthKind.ANONYMOUS, GUEST: AuthKind.GUEST, USER: AuthKind.USER}[kind]
    session.result = AuthResult(auth_kind, user, "" if kind is ANON else "WORKGROUP", workstation,
                                b"k" * 16, None, 0, "NTLMv2")
    conn.sessions[session.session_id] = session
    context.sessions[session.session_id] = session
    return conn, session


def add_tree(context: ServerContext, session: Session, share: str, age: float = 60) -> TreeConnect:
    tree = TreeConnect(0, context.shares[share.casefold()], Right.READ, 0x1F01FF, connected_at=NOW - age)
    tree.tree_id = session.tree_connect_table.add(tree)
    return tree


def add_open(session: Session, tree: TreeConnect, path: str, access: int = 0x120089) -> Open:
    op = Open(0, 0, tree, None, object() if tree.share.is_ipc else None, path, access, False)
    op.volatile_id = op.persistent_id = session.open_table.add(op)
    return op


def share_aces(raw: bytes) -> tuple[str, str, list[tuple[int, int, str]]]:
    """Owner, group and the DACL's (type, mask, SID) as impacket's descriptor decoder reads them."""
    sd = ldaptypes.SR_SECURITY_DESCRIPTOR(data=raw)
    return (sd["OwnerSid"].formatCanonical(), sd["GroupSid"].formatCanonical(),
            [(a["AceType"], a["Ace"]["Mask"]["Mask"], a["Ace"]["Sid"].formatCanonical()) for a in sd["Dacl"].aces])


def share_aces_expected(share: Any) -> tuple[str, str, list[tuple[int, int, str]]]:
    """design.md §2's access list as a DACL: read/change/full allow those rights, deny denies all."""
    sids = {"everyone": "S-1-1-0", "anonymous logon": "S-1-5-7", "administrators": "S-1-5-32-544"}
    rights = {"read": 0x1200A9, "change": 0x1301BF, "full": 0x1F01FF}
    aces = [(1, 0x1F01FF, sids[n.casefold()]) for n, r in share.access if r == "deny"]
    aces += [(0, rights["read" if share.read_only else r], sids[n.casefold()])
             for n, r in share.access if r != "deny"]
    return ("S-1-5-32-544", "S-1-5-32-545", aces)


def populated(tmp_path: Path, **policy: Any) -> SimpleNamespace:
    """alice (an administrator) from 127.0.0.1 with srvsvc open on IPC$, an anonymous session
    from 10.0.0.7 reading public, bob from 10.0.0.8, a guest (logged on as "mallory")."""
    ctx = make_context(tmp_path, **policy)
    conn, alice = add_session(ctx, USER, "alice", ip="127.0.0.1", groups=("Administrators",), workstation="ADMINPC")
    ipc = add_tree(ctx, alice, "IPC$", age=30)
    add_open(alice, ipc, "srvsvc")
    anon_conn, anon = add_session(ctx, ANON, ip="10.0.0.7")
    public = add_tree(ctx, anon, "public", age=90)
    add_open(anon, public, "docs\\a.txt")
    add_open(anon, public, "b.txt", access=0x12019F)
    bob_conn, bob = add_session(ctx, USER, "bob", ip="10.0.0.8", workstation="BOBPC")
    add_tree(ctx, bob, "public")
    _gc, guest = add_session(ctx, GUEST, "mallory", ip="10.0.0.9")
    return SimpleNamespace(ctx=ctx, conn=conn, alice=alice, anon=anon, anon_conn=anon_conn, bob=bob,
                           bob_conn=bob_conn, guest=guest)


def pipe_for(ctx: ServerContext, session: Session | None = None, kind: PrincipalKind = ANON) -> RpcPipe:
    """A bound srvsvc pipe opened within ``session`` (or a fresh one of ``kind``)."""
    if session is None:
        conn, session = add_session(ctx, kind, "carol" if kind is USER else "")
    else:
        conn = next(c for c in ctx.connections if session.session_id in c.sessions)
    pipe = RpcPipe("srvsvc", SimpleNamespace(server=ctx, session=session, conn=conn), (srvsvc.INTERFACE,),
                   policy_check=policy_check, on_call=audit_call)
    bind(pipe, SRVSVC_SYNTAX)
    return pipe


def rpc(pipe: RpcPipe, opnum: int, stub: bytes) -> bytes:
    header, body = call(pipe, opnum, stub, context_id=0)
    assert header.ptype == PType.RESPONSE, body
    return body.stub


def rpc_events(ctx: ServerContext) -> list[dict]:
    return [fields for event, fields in ctx.events if event == "rpc_call"]  # type: ignore[attr-defined]


# -- request encoders (impacket's, independent of ours) -----------------------------------------------


def share_enum(level: int, *, resume: int | None = 0, prefmax: int = 0xFFFFFFFF, sticky: bool = False) -> bytes:
    req = srvs.NetrShareEnumSticky() if sticky else srvs.NetrShareEnum()
    req["ServerName"] = NULL
    req["InfoStruct"]["Level"] = level
    req["InfoStruct"]["ShareInfo"]["tag"] = level
    req["InfoStruct"]["ShareInfo"][f"Level{level}"]["Buffer"] = NULL
    req["PreferedMaximumLength"] = prefmax
    req["ResumeHandle"] = NULL if resume is None else resume
    return req.getData()


def session_enum(level: int, client: Any = NULL, user: Any = NULL, *, resume: Any = 0,
                 prefmax: int = 0xFFFFFFFF) -> bytes:
    req = srvs.NetrSessionEnum()
    req["ServerName"] = NULL
    req["ClientName"] = client
    req["UserName"] = user
    req["InfoStruct"]["Level"] = level
    req["InfoStruct"]["SessionInfo"]["tag"] = level
    req["InfoStruct"]["SessionInfo"][f"Level{level}"]["Buffer"] = NULL
    req["PreferedMaximumLength"] = prefmax
    req["ResumeHandle"] = resume
    return req.getData()


def share_get_info(name: str, level: int) -> bytes:
    req = srvs.NetrShareGetInfo()
    req["ServerName"] = NULL
    req["NetName"] = name + "\0"
    req["Level"] = level
    return req.getData()


def server_get_info(level: int) -> bytes:
    req = srvs.NetrServerGetInfo()
    req["ServerName"] = NULL
    req["Level"] = level
    return req.getData()


def session_del(client: Any, user: Any) -> bytes:
    req = srvs.NetrSessionDel()
    req["ServerName"] = NULL
    req["ClientName"] = client
    req["UserName"] = user
    return req.getData()


def connection_enum(qualifier: Any, level: int) -> bytes:
    req = srvs.NetrConnectionEnum()
    req["ServerName"] = NULL
    req["Qualifier"] = qualifier
    req["InfoStruct"]["Level"] = level
    req["InfoStruct"]["ConnectInfo"]["tag"] = level
    req["InfoStruct"]["ConnectInfo"][f"Level{level}"]["Buffer"] = NULL
    req["PreferedMaximumLength"] = 0xFFFFFFFF
    req["ResumeHandle"] = 0
    return req.getData()


def file_enum(level: int, base: Any = NULL, user: Any = NULL) -> bytes:
    req = srvs.NetrFileEnum()
    req["ServerName"] = NULL
    req["BasePath"] = base
    req["UserName"] = user
    req["InfoStruct"]["Level"] = level
    req["InfoStruct"]["FileInfo"]["tag"] = level
    req["InfoStruct"]["FileInfo"][f"Level{level}"]["Buffer"] = NULL
    req["PreferedMaximumLength"] = 0xFFFFFFFF
    req["ResumeHandle"] = 0
    return req.getData()


def tod() -> bytes:
    req = srvs.NetrRemoteTOD()
    req["ServerName"] = NULL
    return req.getData()


def s(text: Any) -> str:
    """An impacket-decoded string without its terminator."""
    return str(text).rstrip("\0")


def entries(resp: Any, union: str, level: int) -> list[Any]:
    buf = resp["InfoStruct"][union][f"Level{level}"]["Buffer"]
    return list(buf) if buf else []


# -- shares (rule 2) ----------------------------------------------------------------------------------


def test_smbclient_share_enum_request_gets_the_shares_as_samba_shaped_them(tmp_path: Path) -> None:
    """The captured `smbclient -L` request, answered for a null session; ours and Samba's reply
    decode to the same shape (level 1, two entries, resume handle 0, WERR_OK)."""
    ctx = make_context(tmp_path)
    ours = srvs.NetrShareEnumResponse(rpc(pipe_for(ctx), 15, SMBCLIENT_SHARE_ENUM))
    samba = srvs.NetrShareEnumResponse(SAMBA_SHARE_ENUM_REPLY)
    for resp in (ours, samba):
        assert resp["ErrorCode"] == 0 and resp["TotalEntries"] == 2 and resp["ResumeHandle"] == 0
        assert resp["InfoStruct"]["Level"] == 1 and resp["InfoStruct"]["ShareInfo"]["tag"] == 1
    got = [(s(e["shi1_netname"]), e["shi1_type"], s(e["shi1_remark"])) for e in entries(ours, "ShareInfo", 1)]
    assert got == [("public", 0, "nullsmb demo share"), ("IPC$", 0x80000003, "IPC Service")]
    assert [(s(e["shi1_netname"]), e["shi1_type"]) for e in entries(samba, "ShareInfo", 1)] == [
        ("public", 0), ("IPC$", 0x80000003)]
    event = rpc_events(ctx)[-1]
    assert (event["operation"], event["level"], event["returned"], event["rule"]) == (
        "NetrShareEnum", 1, 2, "RestrictAnonymous")


@pytest.mark.parametrize("sticky", [False, True])
def test_share_levels_for_an_administrator(tmp_path: Path, sticky: bool) -> None:
    env = populated(tmp_path)
    pipe = pipe_for(env.ctx, env.alice)
    opnum, cls = (36, srvs.NetrShareEnumStickyResponse) if sticky else (15, srvs.NetrShareEnumResponse)
    public_path = env.ctx.shares["public"].path
    l0 = cls(rpc(pipe, opnum, share_enum(0, sticky=sticky)))
    assert [s(e["shi0_netname"]) for e in entries(l0, "ShareInfo", 0)] == ["public", "IPC$"]
    l2 = cls(rpc(pipe, opnum, share_enum(2, sticky=sticky)))
    assert [(s(e["shi2_netname"]), e["shi2_max_uses"], e["shi2_current_uses"], s(e["shi2_path"]))
            for e in entries(l2, "ShareInfo", 2)] == [
        ("public", 0xFFFFFFFF, 2, public_path), ("IPC$", 0xFFFFFFFF, 1, "")]
    l501 = cls(rpc(pipe, opnum, share_enum(501, sticky=sticky)))
    assert [(s(e["shi501_netname"]), e["shi501_flags"]) for e in entries(l501, "ShareInfo", 501)] == [
        ("public", 0), ("IPC$", 0)]
    l502 = cls(rpc(pipe, opnum, share_enum(502, sticky=sticky)))
    rows = entries(l502, "ShareInfo", 502)
    assert [(s(e["shi502_netname"]), e["shi502_type"], e["shi502_current_uses"])
            for e in rows] == [("public", 0, 2), ("IPC$", 0x80000003, 1)]
    # public: its self-relative descriptor, sized in shi502_reserved, read by impacket's decoder;
    # IPC$: none
    public_sd, ipc_sd = (b"".join(e["shi502_security_descriptor"]) for e in rows)
    assert [e["shi502_reserved"] for e in rows] == [len(public_sd), 0] and not ipc_sd
    assert share_aces(public_sd) == share_aces_expected(env.ctx.shares["public"])
    l503 = cls(rpc(pipe, opnum, share_enum(503, sticky=sticky)))
    rows = entries(l503, "ShareInfo", 503)
    assert [(s(e["shi503_netname"]), s(e["shi503_servername"]), s(e["shi503_path"]), e["shi503_reserved"])
            for e in rows] == [("public", "*", public_path, len(public_sd)), ("IPC$", "*", "", 0)]
    assert b"".join(rows[0]["shi503_security_descriptor"]) == public_sd
    info = srvs.NetrShareGetInfoResponse(rpc(pipe, 16, share_get_info("PUBLIC", 503)))
    assert info["ErrorCode"] == 0
    assert s(info["InfoStruct"]["ShareInfo503"]["shi503_netname"]) == "public"
    # current_uses is Server Manager's own count of tree connects
    assert {r["name"]: r["tree_connects"] for r in snap.shares(env.ctx)} == {"public": 2, "IPC$": 1}


def test_share_enum_level_2_is_for_administrators_only(tmp_path: Path) -> None:
    """The captured `netshareenumall 2` request: anonymous and a plain user get WERR 5 in a
    well-formed stub with an empty container; alice gets the paths."""
    env = populated(tmp_path)
    for session in (env.anon, env.bob, env.guest):
        resp = srvs.NetrShareEnumResponse(rpc(pipe_for(env.ctx, session), 15, RPCCLIENT_SHARE_ENUM_2))
        assert resp["ErrorCode"] == 5 and resp["TotalEntries"] == 0
        assert resp["InfoStruct"]["Level"] == 2 and entries(resp, "ShareInfo", 2) == []
    assert rpc_events(env.ctx)[-1]["rule"] == "Administrators only"
    ok = srvs.NetrShareEnumResponse(rpc(pipe_for(env.ctx, env.alice), 15, RPCCLIENT_SHARE_ENUM_2))
    assert ok["ErrorCode"] == 0 and [s(e["shi2_path"]) for e in entries(ok, "ShareInfo", 2)] == [
        env.ctx.shares["public"].path, ""]


def test_restrict_anonymous_1_denies_share_enumeration_to_null_sessions(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, RestrictAnonymous=1)
    resp = srvs.NetrShareEnumResponse(rpc(pipe_for(ctx), 15, SMBCLIENT_SHARE_ENUM))
    assert resp["ErrorCode"] == 5 and resp["ResumeHandle"] == 0
    event = rpc_events(ctx)[-1]
    assert (event["status"], event["rule"], event["outcome"]) == ("WERR_ACCESS_DENIED", "RestrictAnonymous", "failure")
    user = srvs.NetrShareEnumResponse(rpc(pipe_for(ctx, kind=USER), 15, SMBCLIENT_SHARE_ENUM))
    assert user["ErrorCode"] == 0 and user["TotalEntries"] == 2


def test_unknown_level_is_invalid_level_without_an_arm(tmp_path: Path) -> None:
    """Samba's IDL has `[default];`: Level, discriminant, no arm; then TotalEntries, resume, 124.
    The policy refuses unknown levels to non-administrators first."""
    env = populated(tmp_path)
    stub = bytes.fromhex("00000000" "03000000" "03000000" "ffffffff" "00000000")
    out = rpc(pipe_for(env.ctx, env.alice), 15, stub)
    assert out == bytes.fromhex("03000000" "03000000" "00000000" "00000000" "7c000000")
    out = rpc(pipe_for(env.ctx, env.anon), 15, stub)
    assert out[-4:] == (5).to_bytes(4, "little") and out[:8] == bytes.fromhex("0300000003000000")


def test_share_get_info_levels_and_errors(tmp_path: Path) -> None:
    env = populated(tmp_path)
    pipe = pipe_for(env.ctx, env.alice)
    r1 = srvs.NetrShareGetInfoResponse(rpc(pipe, 16, share_get_info("PUBLIC", 1)))
    info = r1["InfoStruct"]["ShareInfo1"]
    assert (s(info["shi1_netname"]), info["shi1_type"], s(info["shi1_remark"])) == ("public", 0, "nullsmb demo share")
    r502 = srvs.NetrShareGetInfoResponse(rpc(pipe, 16, share_get_info("ipc$", 502)))
    info = r502["InfoStruct"]["ShareInfo502"]
    assert (s(info["shi502_netname"]), info["shi502_type"], info["shi502_current_uses"]) == ("IPC$", 0x80000003, 1)
    r1005 = srvs.NetrShareGetInfoResponse(rpc(pipe, 16, share_get_info("public", 1005)))
    assert r1005["InfoStruct"]["ShareInfo1005"]["shi1005_flags"] == 0
    for level in (0, 2, 501):
        assert srvs.NetrShareGetInfoResponse(rpc(pipe, 16, share_get_info("public", level)))["ErrorCode"] == 0
    missing = rpc(pipe, 16, share_get_info("nosuch", 1))
    assert missing == bytes.fromhex("01000000" "00000000" "06090000")  # level, NULL, NERR_NetNameNotFound
    unknown = rpc(pipe, 16, share_get_info("public", 7))
    assert unknown == bytes.fromhex("07000000" "7c000000")
    anon = pipe_for(env.ctx, env.anon)
    assert srvs.NetrShareGetInfoResponse(rpc(anon, 16, share_get_info("public", 1)))["ErrorCode"] == 0
    assert rpc(anon, 16, share_get_info("public", 502)) == bytes.fromhex("f6010000" "00000000" "05000000")


# -- server information (rule 3) -----------------------------------------------------------------------


def test_rpcclient_srvinfo_request(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    ours = srvs.NetrServerGetInfoResponse(rpc(pipe_for(ctx), 21, RPCCLIENT_SRVINFO))
    samba = srvs.NetrServerGetInfoResponse(SAMBA_SRVINFO_REPLY)
    assert samba["InfoStruct"]["ServerInfo101"]["sv101_platform_id"] == 500  # the shape we follow
    info = ours["InfoStruct"]["ServerInfo101"]
    assert ours["ErrorCode"] == 0 and ours["InfoStruct"]["tag"] == 101
    assert (info["sv101_platform_id"], s(info["sv101_name"]), info["sv101_version_major"],
            info["sv101_version_minor"], info["sv101_type"], s(info["sv101_comment"])) == (
        500, "NULLSMB", 10, 0, 0x9003, "")


def test_server_info_version_matches_the_ntlm_challenge() -> None:
    from nullsmb.auth.ntlmssp import Version

    assert srvsvc.VERSION == (Version().major, Version().minor)


def test_server_info_levels(tmp_path: Path) -> None:
    env = populated(tmp_path)
    alice = pipe_for(env.ctx, env.alice)
    r100 = srvs.NetrServerGetInfoResponse(rpc(alice, 21, server_get_info(100)))["InfoStruct"]["ServerInfo100"]
    assert (r100["sv100_platform_id"], s(r100["sv100_name"])) == (500, "NULLSMB")
    r102 = srvs.NetrServerGetInfoResponse(rpc(alice, 21, server_get_info(102)))["InfoStruct"]["ServerInfo102"]
    assert (r102["sv102_users"], r102["sv102_disc"], r102["sv102_hidden"], s(r102["sv102_userpath"])) == (
        env.ctx.config.server.max_connections, 15, 0, "C:\\")
    assert rpc(pipe_for(env.ctx, env.bob), 21, server_get_info(102)) == bytes.fromhex("66000000" "00000000" "05000000")
    assert rpc(alice, 21, server_get_info(103)) == bytes.fromhex("67000000" "7c000000")


# -- sessions (rules 4, 5) -------------------------------------------------------------------------------


def test_rpcclient_netsessenum_request_as_alice_and_as_anonymous(tmp_path: Path) -> None:
    env = populated(tmp_path)
    out = rpc(pipe_for(env.ctx, env.alice), 12, RPCCLIENT_SESS_ENUM)
    resp = srvs.NetrSessionEnumResponse(out)
    got = [(s(e["sesi1_cname"]), s(e["sesi1_username"]), e["sesi1_num_opens"], e["sesi1_time"],
            e["sesi1_idle_time"], e["sesi1_user_flags"]) for e in entries(resp, "SessionInfo", 1)]
    assert got == [("\\\\127.0.0.1", "alice", 1, 120, 5, 0), ("\\\\10.0.0.7", "", 2, 120, 5, 0),
                   ("\\\\10.0.0.8", "bob", 0, 120, 5, 0), ("\\\\10.0.0.9", "mallory", 0, 120, 5, 1)]
    assert resp["TotalEntries"] == 4 and out[-8:] == bytes(8)  # resume handle NULL in, NULL out; WERR_OK
    denied = srvs.NetrSessionEnumResponse(rpc(pipe_for(env.ctx, env.anon), 12, RPCCLIENT_SESS_ENUM))
    assert denied["ErrorCode"] == 5 and entries(denied, "SessionInfo", 1) == []
    assert rpc_events(env.ctx)[-1]["rule"] == "Administrators only"


def test_session_levels_agree_with_server_manager(tmp_path: Path) -> None:
    env = populated(tmp_path)
    rows = {r["client_ip"]: r for r in snap.snapshot(env.ctx)["sessions"]}
    pipe = pipe_for(env.ctx, env.alice)
    for level in (0, 1, 2, 10, 502):
        resp = srvs.NetrSessionEnumResponse(rpc(pipe, 12, session_enum(level)))
        found = entries(resp, "SessionInfo", level)
        assert resp["ErrorCode"] == 0 and len(found) == 4
        for e in found:
            ip = s(e[f"sesi{level}_cname"]).lstrip("\\")
            row = rows[ip]
            if level in (1, 2, 10, 502):
                assert e[f"sesi{level}_time"] == int(row["connected_s"])
                assert e[f"sesi{level}_idle_time"] == int(row["idle_s"])
            if level in (1, 2, 502):
                assert e[f"sesi{level}_num_opens"] == row["opens"] + row["pipes"]
            if level == 502:
                assert s(e["sesi502_transport"]) == "\\Device\\NetbiosSmb"
                assert s(e["sesi502_cltype_name"]) == ""


@pytest.mark.parametrize("client, user, names", [
    ("\\\\10.0.0.8\0", NULL, ["bob"]),
    ("10.0.0.8\0", NULL, ["bob"]),
    ("\\\\bobpc\0", NULL, ["bob"]),  # the NTLM workstation name
    (NULL, "ALICE\0", ["alice"]),
    (NULL, "NULLSMB\\alice\0", ["alice"]),
    (NULL, "mallory\0", ["mallory"]),
    ("\\\\127.0.0.1\0", "alice\0", ["alice"]),
    (NULL, "\0", ["alice", "", "bob", "mallory"]),  # an empty name does not filter
])
def test_session_filters(tmp_path: Path, client: Any, user: Any, names: list[str]) -> None:
    env = populated(tmp_path)
    resp = srvs.NetrSessionEnumResponse(rpc(pipe_for(env.ctx, env.alice), 12, session_enum(10, client, user)))
    assert resp["ErrorCode"] == 0
    assert [s(e["sesi10_username"]) for e in entries(resp, "SessionInfo", 10)] == names


def test_session_filter_errors(tmp_path: Path) -> None:
    env = populated(tmp_path)
    pipe = pipe_for(env.ctx, env.alice)
    assert srvs.NetrSessionEnumResponse(rpc(pipe, 12, session_enum(10, "\\\\10.9.9.9\0")))["ErrorCode"] == 2312
    assert srvs.NetrSessionEnumResponse(rpc(pipe, 12, session_enum(10, NULL, "zoe\0")))["ErrorCode"] == 2221
    assert srvs.NetrSessionEnumResponse(rpc(pipe, 12, session_enum(10, "\\\\10.0.0.8\0", "alice\0")))["ErrorCode"] == 2221


def test_paging_with_resume_handles(tmp_path: Path) -> None:
    """A small PreferedMaximumLength: ERROR_MORE_DATA and a resume handle until the last page;
    every session exactly once; TotalEntries counts from the resume position."""
    env = populated(tmp_path)
    for i in range(6):
        add_session(env.ctx, USER, f"user{i}", ip=f"10.1.0.{i}")
    pipe = pipe_for(env.ctx, env.alice)
    seen, resume, totals = [], 0, []
    for _ in range(20):
        resp = srvs.NetrSessionEnumResponse(rpc(pipe, 12, session_enum(10, resume=resume, prefmax=60)))
        seen += [s(e["sesi10_username"]) for e in entries(resp, "SessionInfo", 10)]
        totals.append(resp["TotalEntries"])
        if resp["ErrorCode"] == 0:
            assert resp["ResumeHandle"] == 0
            break
        assert resp["ErrorCode"] == 234 and resp["ResumeHandle"] == len(seen)
        resume = resp["ResumeHandle"]
    assert seen == ["alice", "", "bob", "mallory"] + [f"user{i}" for i in range(6)]
    assert totals[0] == 10 and totals == sorted(totals, reverse=True) and len(totals) > 2
    # a buffer too small for one entry still gets one; a NULL resume handle stays NULL
    out = rpc(pipe, 12, session_enum(10, resume=NULL, prefmax=1))
    resp = srvs.NetrSessionEnumResponse(out)
    assert len(entries(resp, "SessionInfo", 10)) == 1 and out[-8:] == bytes.fromhex("00000000" "ea000000")
    # a resume handle we never issued (past the end) starts over
    resp = srvs.NetrSessionEnumResponse(rpc(pipe, 12, session_enum(10, resume=0x5616)))
    assert resp["ErrorCode"] == 0 and len(entries(resp, "SessionInfo", 10)) == 10


class CloseRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[ServerConnection, str]] = []

    def __call__(self, conn: ServerConnection, reason: str) -> None:
        self.calls.append((conn, reason))


def test_session_del_closes_the_matching_connections(tmp_path: Path) -> None:
    env = populated(tmp_path)
    env.ctx.close_connection = closer = CloseRecorder()
    pipe = pipe_for(env.ctx, env.alice)
    assert rpc(pipe, 13, session_del(NULL, "BOB\0")) == bytes(4)
    assert closer.calls == [(env.bob_conn, "admin_close")]
    assert rpc(pipe, 13, session_del("\\\\10.0.0.7\0", NULL)) == bytes(4)
    assert closer.calls[-1] == (env.anon_conn, "admin_close")
    event = rpc_events(env.ctx)[-1]
    assert (event["operation"], event["returned"], event["status"]) == ("NetrSessionDel", 1, "WERR_OK")


@pytest.mark.parametrize("client, user, status", [
    (NULL, NULL, 87), ("\0", "\0", 87),
    ("\\\\10.9.9.9\0", NULL, 2312), (NULL, "zoe\0", 2221), ("\\\\10.0.0.8\0", "alice\0", 2221),
])
def test_session_del_errors(tmp_path: Path, client: Any, user: Any, status: int) -> None:
    env = populated(tmp_path)
    env.ctx.close_connection = closer = CloseRecorder()
    assert rpc(pipe_for(env.ctx, env.alice), 13, session_del(client, user)) == status.to_bytes(4, "little")
    assert closer.calls == []


def test_session_del_is_for_administrators_and_needs_the_glue(tmp_path: Path) -> None:
    env = populated(tmp_path)
    env.ctx.close_connection = closer = CloseRecorder()
    for session in (env.anon, env.bob, env.guest):
        assert rpc(pipe_for(env.ctx, session), 13, session_del(NULL, "alice\0")) == (5).to_bytes(4, "little")
    assert closer.calls == []
    env.ctx.close_connection = None  # no event loop: nothing can close a connection
    assert rpc(pipe_for(env.ctx, env.alice), 13, session_del(NULL, "bob\0")) == (50).to_bytes(4, "little")


# -- connections and files (rules 6, 7) ----------------------------------------------------------------


def test_connection_enum_by_share_and_by_client(tmp_path: Path) -> None:
    env = populated(tmp_path)
    pipe = pipe_for(env.ctx, env.alice)
    by_share = srvs.NetrConnectionEnumResponse(rpc(pipe, 8, connection_enum("public\0", 1)))
    got = [(e["coni1_type"], e["coni1_num_opens"], e["coni1_num_users"], e["coni1_time"],
            s(e["coni1_username"]), s(e["coni1_netname"])) for e in entries(by_share, "ConnectInfo", 1)]
    assert got == [(0, 2, 1, 90, "", "\\\\10.0.0.7"), (0, 0, 1, 60, "bob", "\\\\10.0.0.8")]
    by_client = srvs.NetrConnectionEnumResponse(rpc(pipe, 8, connection_enum("\\\\127.0.0.1\0", 1)))
    assert [(e["coni1_type"], s(e["coni1_netname"]), s(e["coni1_username"]), e["coni1_num_opens"])
            for e in entries(by_client, "ConnectInfo", 1)] == [(3, "IPC$", "alice", 1)]
    level0 = srvs.NetrConnectionEnumResponse(rpc(pipe, 8, connection_enum("IPC$\0", 0)))
    assert [e["coni0_id"] for e in entries(level0, "ConnectInfo", 0)] == [1]
    for qualifier, status in ((NULL, 87), ("\0", 87), ("nosuch\0", 2310), ("\\\\10.9.9.9\0", 2312)):
        assert srvs.NetrConnectionEnumResponse(rpc(pipe, 8, connection_enum(qualifier, 1)))["ErrorCode"] == status
    assert srvs.NetrConnectionEnumResponse(
        rpc(pipe_for(env.ctx, env.bob), 8, connection_enum("public\0", 1)))["ErrorCode"] == 5


def test_file_enum_lists_files_and_pipes(tmp_path: Path) -> None:
    env = populated(tmp_path)
    pipe = pipe_for(env.ctx, env.alice)
    public = env.ctx.shares["public"].path
    resp = srvs.NetrFileEnumResponse(rpc(pipe, 9, file_enum(3)))
    got = [(s(e["fi3_path_name"]), s(e["fi3_username"]), e["fi3_permissions"], e["fi3_num_locks"])
           for e in entries(resp, "FileInfo", 3)]
    assert got == [("\\PIPE\\srvsvc", "alice", 1, 0), (f"{public}/docs/a.txt", "", 1, 0), (f"{public}/b.txt", "", 3, 0)]
    ids = [e["fi3_id"] for e in entries(resp, "FileInfo", 3)]
    assert len(set(ids)) == 3
    level2 = srvs.NetrFileEnumResponse(rpc(pipe, 9, file_enum(2)))
    assert [e["fi2_id"] for e in entries(level2, "FileInfo", 2)] == ids
    based = srvs.NetrFileEnumResponse(rpc(pipe, 9, file_enum(3, base=f"{public}/DOCS\0")))
    assert [s(e["fi3_path_name"]) for e in entries(based, "FileInfo", 3)] == [f"{public}/docs/a.txt"]
    mine = srvs.NetrFileEnumResponse(rpc(pipe, 9, file_enum(3, user="alice\0")))
    assert [s(e["fi3_path_name"]) for e in entries(mine, "FileInfo", 3)] == ["\\PIPE\\srvsvc"]
    assert srvs.NetrFileEnumResponse(rpc(pipe, 9, file_enum(3, user="zoe\0")))["ErrorCode"] == 2221


# -- time of day (rule 8) --------------------------------------------------------------------------------


def test_remote_tod_from_the_server_clock(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    resp = srvs.NetrRemoteTODResponse(rpc(pipe_for(ctx), 28, tod()))
    info = resp["BufferPtr"]
    assert resp["ErrorCode"] == 0
    assert (info["tod_elapsedt"], info["tod_msecs"], info["tod_hours"], info["tod_mins"], info["tod_secs"],
            info["tod_hunds"], info["tod_timezone"], info["tod_tinterval"], info["tod_day"], info["tod_month"],
            info["tod_year"], info["tod_weekday"]) == (
        1_800_000_000, 3_600_000, 8, 0, 0, 25, 0, 310, 15, 1, 2027, 5)


# -- malformed input -------------------------------------------------------------------------------------


VALID_REQUESTS = [
    (15, SMBCLIENT_SHARE_ENUM), (15, RPCCLIENT_SHARE_ENUM_2), (36, share_enum(502, sticky=True)),
    (16, share_get_info("public", 502)), (21, RPCCLIENT_SRVINFO), (12, RPCCLIENT_SESS_ENUM),
    (12, session_enum(502, "\\\\10.0.0.8\0", "bob\0")), (13, session_del("\\\\10.9.9.9\0", "x\0")),
    (8, connection_enum("public\0", 1)), (9, file_enum(3, "/x\0", "bob\0")), (28, tod()),
]


@pytest.mark.parametrize("opnum, stub", VALID_REQUESTS)
def test_truncated_stubs_fault_and_never_raise(tmp_path: Path, opnum: int, stub: bytes) -> None:
    """Every prefix of a valid request: a fault or a well-formed reply, for the administrator
    and for a null session (the denial path reads the stub too); the pipe stays usable."""
    env = populated(tmp_path)
    env.ctx.close_connection = CloseRecorder()
    for session in (env.alice, env.anon):
        pipe = pipe_for(env.ctx, session)
        for cut in range(len(stub)):
            header, body = call(pipe, opnum, stub[:cut], context_id=0, call_id=cut + 10)
            if header.ptype == PType.FAULT:
                assert body.status == FaultStatus.NCA_S_FAULT_NDR, (cut, hex(body.status))
        header, _ = call(pipe, opnum, stub, context_id=0, call_id=9999)
        assert header.ptype == PType.RESPONSE


@pytest.mark.parametrize("stub", [
    bytes.fromhex("00000000" "01000000" "02000000" "00000000" "ffffffff" "00000000"),  # discriminant 2 for level 1
    bytes.fromhex("00000000" "01000000" "01000000" "04000200" "05000000" "08000200" "ffffffff"),  # a huge array
    bytes.fromhex("00000000" "01000000" "01000000" "04000200" "02000000" "08000200" "01000000"
                  "00000000" "00000000" "00000000" "ffffffff" "00000000"),  # count 2, array of 1
])
def test_malformed_containers_fault(tmp_path: Path, stub: bytes) -> None:
    env = populated(tmp_path)
    header, body = call(pipe_for(env.ctx, env.alice), 15, stub, context_id=0)
    assert header.ptype == PType.FAULT and body.status == FaultStatus.NCA_S_FAULT_NDR


def test_entries_a_client_sends_are_read_and_ignored(tmp_path: Path) -> None:
    """A container carrying one SHARE_INFO_1 with its strings (as MIDL clients may send)."""
    req = srvs.NetrShareEnum()
    req["ServerName"] = "\\\\x\0"
    req["InfoStruct"]["Level"] = 1
    req["InfoStruct"]["ShareInfo"]["tag"] = 1
    item = srvs.SHARE_INFO_1()
    item["shi1_netname"], item["shi1_type"], item["shi1_remark"] = "junk\0", 7, "more junk\0"
    req["InfoStruct"]["ShareInfo"]["Level1"]["EntriesRead"] = 1
    req["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"] = [item]
    req["PreferedMaximumLength"] = 0xFFFFFFFF
    req["ResumeHandle"] = 0
    env = populated(tmp_path)
    resp = srvs.NetrShareEnumResponse(rpc(pipe_for(env.ctx, env.alice), 15, req.getData()))
    assert [s(e["shi1_netname"]) for e in entries(resp, "ShareInfo", 1)] == ["public", "IPC$"]


def test_server_name_is_ignored_even_when_odd(tmp_path: Path) -> None:
    """impacket's wkssvc helpers send ServerName as ten NULs; strict strings elsewhere."""
    ctx = make_context(tmp_path)
    odd = bytes.fromhex("00000200" "0a000000" "00000000" "0a000000") + bytes(20) + bytes.fromhex("65000000")
    resp = srvs.NetrServerGetInfoResponse(rpc(pipe_for(ctx), 21, odd))
    assert resp["ErrorCode"] == 0 and s(resp["InfoStruct"]["ServerInfo101"]["sv101_name"]) == "NULLSMB"
    env = populated(tmp_path / "b")
    bad_user = session_enum(10, NULL, "a\0b\0")
    header, body = call(pipe_for(env.ctx, env.alice), 12, bad_user, context_id=0)
    assert header.ptype == PType.FAULT and body.status == FaultStatus.NCA_S_FAULT_NDR
