"""srvsvc and wkssvc on a real server (``python -m nullsmb serve --config``) with real clients:
Samba's smbclient and rpcclient, and impacket's DCE/RPC library.

rpcclient prints little for some commands (netconnenum, netremotetod, wkssvc_wkstagetinfo); for
those the tests run it with ``-d10``, which prints every decoded [out] structure, and look for
the values there. rpcclient's ``netshareenumall`` defaults to level 2 and ``netsharegetinfo`` to
502, both Administrators-only: a null session asks for level 1 explicitly.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from typing import Any, Callable, Iterator

import pytest

pytest.importorskip("impacket")
from impacket.dcerpc.v5 import srvs, transport, wkst  # noqa: E402
from impacket.dcerpc.v5.dtypes import NULL  # noqa: E402
from impacket.dcerpc.v5.rpcrt import DCERPCException  # noqa: E402
from impacket.smbconnection import SMBConnection  # noqa: E402

from .conftest import HOST, PASSWORD, ServerInfo, free_port, running_server, smbclient, rpcclient as run_rpcclient  # noqa: E402


CONFIG = """\
[server]
listen = ["{host}:{port}"]
map_to_guest = "bad_user"

[admin]
enabled = false

[audit]
file = "audit.jsonl"

[users.alice]
password = "{password}"
groups = ["Administrators"]

[users.bob]
password = "{password}"

[shares.public]
path = "./share"
comment = "Public files"
access = {{ "Everyone" = "read", "ANONYMOUS LOGON" = "read", "alice" = "full" }}

[policy]
NullSessionShares = ["public"]
NullSessionPipes = ["srvsvc", "wkssvc"]
"""

ALICE = ["-U", f"alice%{PASSWORD}"]
NULL_SESSION = ["-U%", "-N"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    workdir = tmp_path_factory.mktemp("srvsvc")
    (workdir / "share").mkdir()
    (workdir / "share" / "hello.txt").write_text("hello\n")
    port = free_port()
    config = workdir / "server.toml"
    config.write_text(CONFIG.format(host=HOST, port=port, password=PASSWORD))
    with running_server(workdir, config=config, port=port) as info:
        yield info


def rpcclient(server: ServerInfo, command: str, auth: list[str] = NULL_SESSION, debug: bool = False) -> str:
    return run_rpcclient(server.port, command, auth, host=server.host, debug=debug)


def out_section(text: str, function: str) -> str:
    """The ``out:`` structure rpcclient -d10 printed for ``function`` (e.g. srvsvc_NetSessEnum)."""
    match = re.search(rf"out: struct {function}\n(.*?)\n\s+result\s+: (\w+)", text, re.S)
    assert match, f"no decoded reply of {function} in:\n{text[-3000:]}"
    return match.group(1) + "\nresult: " + match.group(2)


def connect(server: ServerInfo, user: str = "", password: str = "") -> SMBConnection:
    conn = SMBConnection(server.host, server.host, sess_port=server.port, timeout=20)
    conn.login(user, password)
    return conn


def dce(server: ServerInfo, user: str = "", password: str = "", pipe: str = "srvsvc") -> Any:
    t = transport.SMBTransport(server.host, server.port, filename="\\" + pipe)
    t.set_credentials(user, password)
    d = t.get_dce_rpc()
    d.connect()
    d.bind(srvs.MSRPC_UUID_SRVS if pipe == "srvsvc" else wkst.MSRPC_UUID_WKST)
    return d


def s(text: Any) -> str:
    return str(text).rstrip("\0")


def audit_events(server: ServerInfo) -> list[dict]:
    path = server.workdir / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(what: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail("condition not met in time")


@pytest.fixture
def anonymous_session(server: ServerInfo) -> Iterator[SMBConnection]:
    """A null session held open on IPC$ while a test looks at the server's sessions."""
    conn = connect(server)
    conn.connectTree("IPC$")
    yield conn
    conn.close()


# -- shares and server information -----------------------------------------------------------------


def test_smbclient_lists_shares_anonymously(server: ServerInfo) -> None:
    result = subprocess.run(["smbclient", *NULL_SESSION, "-L", f"//{server.host}", "-p", str(server.port)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=60)
    assert re.search(r"^\s+public\s+Disk\s+Public files$", result.stdout, re.M), result.stdout
    assert re.search(r"^\s+IPC\$\s+IPC\s+IPC Service$", result.stdout, re.M), result.stdout
    assert smbclient(server, cmd="ls").returncode == 0  # the share it lists is the share it serves


def test_rpcclient_srvinfo(server: ServerInfo) -> None:
    out = rpcclient(server, "srvinfo")
    assert re.search(r"NULLSMB\s+Wk Sv NT SNT", out), out
    assert re.search(r"platform_id\s+:\s+500", out) and re.search(r"os version\s+:\s+10\.0", out), out
    assert re.search(r"server type\s+:\s+0x9003", out), out


def test_rpcclient_share_enumeration_levels(server: ServerInfo) -> None:
    out = rpcclient(server, "netshareenumall 1")
    assert re.findall(r"netname: (\S+)", out) == ["public", "IPC$"], out
    assert "remark:\tPublic files" in out and "remark:\tIPC Service" in out
    sticky = rpcclient(server, "netshareenum 1")
    assert re.findall(r"netname: (\S+)", sticky) == ["public", "IPC$"], sticky
    denied = rpcclient(server, "netshareenumall 2")
    assert "WERR_ACCESS_DENIED" in denied and "netname" not in denied, denied
    admin = rpcclient(server, "netshareenumall 2", ALICE)
    assert re.findall(r"netname: (\S+)", admin) == ["public", "IPC$"], admin
    assert f"path:\t{(server.workdir / 'share').resolve()}" in admin, admin


def test_rpcclient_share_get_info(server: ServerInfo) -> None:
    out = rpcclient(server, "netsharegetinfo public 1")
    assert "netname: public" in out and "remark:\tPublic files" in out, out
    assert "WERR_ACCESS_DENIED" in rpcclient(server, "netsharegetinfo public")  # level 502
    admin = rpcclient(server, "netsharegetinfo public", ALICE)
    assert "netname: public" in admin and f"path:\t{(server.workdir / 'share').resolve()}" in admin, admin
    assert re.search(r"max_uses:\s+-1", admin) and re.search(r"num_uses:\s+\d+", admin), admin
    # level 502 carries the share's descriptor: the DACL of its access list, owner Administrators
    assert "Owner SID:\tS-1-5-32-544" in admin and "Num ACEs:\t3" in admin, admin
    assert re.findall(r"Permissions: (0x[0-9a-f]+).*\n\s+SID: (S-1-1-0|S-1-5-7)\b", admin) == [
        ("0x1200a9", "S-1-1-0"), ("0x1200a9", "S-1-5-7")], admin
    missing = rpcclient(server, "netsharegetinfo nosuch 1")
    assert "result was WERR_NERR_NETNAMENOTFOUND" in missing, missing  # 2310


def test_impacket_share_enum_and_server_info(server: ServerInfo) -> None:
    d = dce(server)
    resp = srvs.hNetrShareEnum(d, 1)
    names = [(s(e["shi1_netname"]), e["shi1_type"], s(e["shi1_remark"]))
             for e in resp["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"]]
    assert names == [("public", 0, "Public files"), ("IPC$", 0x80000003, "IPC Service")]
    info = srvs.hNetrServerGetInfo(d, 101)["InfoStruct"]["ServerInfo101"]
    assert (info["sv101_platform_id"], s(info["sv101_name"]), info["sv101_version_major"], info["sv101_type"]) == (
        500, "NULLSMB", 10, 0x9003)
    with pytest.raises(DCERPCException, match="ERROR_ACCESS_DENIED|rpc_s_access_denied|0x5"):
        srvs.hNetrShareEnum(d, 502)
    d.disconnect()


# -- sessions, connections, files, time --------------------------------------------------------------


def test_rpcclient_netsessenum_shows_the_null_session_to_alice(server: ServerInfo,
                                                               anonymous_session: SMBConnection) -> None:
    out = rpcclient(server, "netsessenum", ALICE, debug=True)
    reply = out_section(out, "srvsvc_NetSessEnum")
    assert reply.endswith("result: WERR_OK"), reply
    users = re.findall(r"user\s+: '([^']*)'", reply)
    clients = re.findall(r"client\s+: '([^']*)'", reply)
    assert "alice" in users and "" in users, reply  # the null session's user is ""
    assert set(clients) == {"\\\\127.0.0.1"}, reply
    assert "WERR_ACCESS_DENIED" in rpcclient(server, "netsessenum")


def test_rpcclient_netconnenum_and_netfileenum(server: ServerInfo, anonymous_session: SMBConnection) -> None:
    reply = out_section(rpcclient(server, "netconnenum", ALICE, debug=True), "srvsvc_NetConnEnum")  # IPC$
    assert re.search(r"user\s+: 'alice'", reply) and re.search(r"share\s+: '\\\\127\.0\.0\.1'", reply), reply
    assert re.search(r"conn_type\s+: 0x00000003", reply), reply
    files = rpcclient(server, "netfileenum", ALICE)
    assert "\\PIPE\\srvsvc" in files.splitlines(), files
    assert "WERR_ACCESS_DENIED" in rpcclient(server, "netconnenum")
    assert "WERR_ACCESS_DENIED" in rpcclient(server, "netfileenum")


def test_rpcclient_netremotetod(server: ServerInfo) -> None:
    before = time.gmtime()
    reply = out_section(rpcclient(server, "netremotetod", debug=True), "srvsvc_NetRemoteTOD")
    after = time.gmtime()
    year = int(re.search(r"year\s+: 0x[0-9a-f]+ \((\d+)\)", reply).group(1))  # type: ignore[union-attr]
    assert year in (before.tm_year, after.tm_year), reply
    assert re.search(r"tinterval\s+: 0x00000136 \(310\)", reply) and reply.endswith("WERR_OK"), reply


def test_impacket_session_enum_levels_10_and_502(server: ServerInfo, anonymous_session: SMBConnection) -> None:
    d = dce(server, "alice", PASSWORD)
    l10 = srvs.hNetrSessionEnum(d, NULL, NULL, 10)["InfoStruct"]["SessionInfo"]["Level10"]["Buffer"]
    assert {(s(e["sesi10_cname"]), s(e["sesi10_username"])) for e in l10} >= {
        ("\\\\127.0.0.1", "alice"), ("\\\\127.0.0.1", "")}
    l502 = srvs.hNetrSessionEnum(d, NULL, "alice\0", 502)["InfoStruct"]["SessionInfo"]["Level502"]["Buffer"]
    assert l502 and all(s(e["sesi502_username"]) == "alice" for e in l502)
    assert {s(e["sesi502_transport"]) for e in l502} == {"\\Device\\NetbiosSmb"}
    with pytest.raises(DCERPCException, match="0x8ad|NERR_UserNotFound"):
        srvs.hNetrSessionEnum(d, NULL, "nosuchuser\0", 10)
    d.disconnect()
    anon = dce(server)
    with pytest.raises(DCERPCException, match="ERROR_ACCESS_DENIED|rpc_s_access_denied|0x5"):
        srvs.hNetrSessionEnum(anon, NULL, NULL, 10)
    anon.disconnect()


def test_impacket_session_del_ends_the_other_client(server: ServerInfo) -> None:
    bob = connect(server, "bob", PASSWORD)
    assert {f.get_longname() for f in bob.listPath("public", "*")} >= {"hello.txt"}
    d = dce(server, "alice", PASSWORD)
    resp = srvs.hNetrSessionDel(d, NULL, "bob\0")
    assert resp["ErrorCode"] == 0
    with pytest.raises(Exception):
        bob.listPath("public", "*")  # bob's connection was torn down
    logoff = wait_for(lambda: [e for e in audit_events(server)
                               if e["event_id"] == 4634 and e["user"] == "bob" and e["reason"] == "admin_close"])
    assert logoff[-1]["outcome"] == "success"
    with pytest.raises(DCERPCException, match="0x8ad|NERR_UserNotFound"):
        srvs.hNetrSessionDel(d, NULL, "bob\0")  # nothing left to close
    left = srvs.hNetrSessionEnum(d, NULL, NULL, 10)["InfoStruct"]["SessionInfo"]["Level10"]["Buffer"]
    assert "bob" not in {s(e["sesi10_username"]) for e in left}
    d.disconnect()
    # the server goes on serving
    again = connect(server, "bob", PASSWORD)
    assert {f.get_longname() for f in again.listPath("public", "*")} >= {"hello.txt"}
    again.close()


def test_session_del_of_the_callers_own_session(server: ServerInfo) -> None:
    """Closing one's own session works too: the connection ends (a write-then-read client such
    as impacket loses the reply with it), the logoff is audited, the server carries on."""
    t = transport.SMBTransport(server.host, server.port, filename="\\srvsvc")
    t.set_credentials("alice", PASSWORD)
    d = t.get_dce_rpc()
    d.connect()
    d.bind(srvs.MSRPC_UUID_SRVS)
    session_id = f"0x{t.get_smb_connection()._SMBConnection._Session['SessionID']:016x}"
    try:
        srvs.hNetrSessionDel(d, "\\\\127.0.0.1\0", "alice\0")
    except Exception:
        pass
    wait_for(lambda: [e for e in audit_events(server) if e["event_id"] == 4634
                      and e["session_id"] == session_id and e["reason"] == "admin_close"])
    out = rpcclient(server, "srvinfo", ALICE)
    assert "NULLSMB" in out, out


# -- wkssvc ----------------------------------------------------------------------------------------


def test_rpcclient_wkssvc(server: ServerInfo) -> None:
    reply = out_section(rpcclient(server, "wkssvc_wkstagetinfo", debug=True), "wkssvc_NetWkstaGetInfo")
    assert re.search(r"server_name\s+: 'NULLSMB'", reply) and re.search(r"domain_name\s+: 'WORKGROUP'", reply), reply
    assert re.search(r"version_major\s+: 0x0000000a \(10\)", reply) and reply.endswith("WERR_OK"), reply
    assert "WERR_ACCESS_DENIED" in rpcclient(server, "wkssvc_wkstagetinfo 101")
    assert "alice" in rpcclient(server, "wkssvc_enumerateusers", ALICE).splitlines()
    assert "NULLSMB\\alice" in rpcclient(server, "wkssvc_enumerateusers 1", ALICE).splitlines()
    assert "WERR_ACCESS_DENIED" in rpcclient(server, "wkssvc_enumerateusers")


def test_impacket_wkssvc(server: ServerInfo) -> None:
    anon = dce(server, pipe="wkssvc")
    info = wkst.hNetrWkstaGetInfo(anon, 100)["WkstaInfo"]["WkstaInfo100"]
    assert (info["wki100_platform_id"], s(info["wki100_computername"]), s(info["wki100_langroup"]),
            info["wki100_ver_major"], info["wki100_ver_minor"]) == (500, "NULLSMB", "WORKGROUP", 10, 0)
    anon.disconnect()
    admin = dce(server, "alice", PASSWORD, pipe="wkssvc")
    assert wkst.hNetrWkstaGetInfo(admin, 102)["WkstaInfo"]["WkstaInfo102"]["wki102_logged_on_users"] >= 1
    users = wkst.hNetrWkstaUserEnum(admin, 1)["UserInfo"]["WkstaUserInfo"]["Level1"]["Buffer"]
    assert ("alice", "NULLSMB") in {(s(u["wkui1_username"]), s(u["wkui1_logon_domain"])) for u in users}
    admin.disconnect()


def test_rpc_calls_are_audited_with_level_and_count(server: ServerInfo) -> None:
    rpcclient(server, "netshareenumall 1")
    event = wait_for(lambda: [e for e in audit_events(server) if e["event_id"] == 5712
                              and e["operation"] == "NetrShareEnum" and e.get("level") == 1
                              and e["anonymous"]])[-1]
    assert (event["interface"], event["status"], event["returned"], event["rule"]) == (
        "srvsvc", "WERR_OK", 2, "RestrictAnonymous")
