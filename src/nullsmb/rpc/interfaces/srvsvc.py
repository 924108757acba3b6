"""srvsvc (MS-SRVS): the Server service as null-session tools and Server Manager use it.

Operations (opnum: name, levels): 8 NetrConnectionEnum (0, 1), 9 NetrFileEnum (2, 3),
12 NetrSessionEnum (0, 1, 2, 10, 502), 13 NetrSessionDel, 15 NetrShareEnum (0, 1, 2, 501, 502,
503; Samba's NetShareEnumAll, ``smbclient -L``), 16 NetrShareGetInfo (0, 1, 2, 501, 502, 503, 1005),
21 NetrServerGetInfo (100, 101, 102), 28 NetrRemoteTOD, 36 NetrShareEnumSticky (as 15).

Rules:
1. Who may call what is the policy's (policy/rpc_rules.py, design.md §4): every levelled
   operation asks again with its level; a denial answers ERROR_ACCESS_DENIED (5) in a well-formed
   [out] stub with no data (``_srvsvc_common`` rule 4). A level the operation does not serve is
   ERROR_INVALID_LEVEL (124), with the union's arm left out, as Samba's IDL marshals it.
2. Shares (MS-SRVS 2.2.4.22-2.2.4.26, 2.2.4.29): the configured disk shares (STYPE_DISKTREE)
   then IPC$ (STYPE_IPC | STYPE_SPECIAL, "IPC Service"), with the local path (IPC$: ""), no
   password, share-level permissions 0 (user-level security ignores them), max_uses unlimited
   (0xFFFFFFFF) and current_uses = tree connects now open, counted by Server Manager's own
   ``admin.snapshot.shares``. Level 502's security descriptor (self-relative, its size in
   shi502_reserved) is the one SMB2 QUERY_INFO gives for the share's files
   (``core.handlers.security.share_descriptor``: owner Administrators, a DACL from the share's
   access list); IPC$ has none (NULL, size 0). Level 503 adds servername "*" (MS-SRVS
   2.2.4.27: the share answers on every name of the server). 501 and 1005
   flags are 0 (manual caching, no DFS). Names compare case-insensitively; a missing one is
   NERR_NetNameNotFound (2310).
3. Server information (MS-SRVS 2.2.4.40-2.2.4.42): PLATFORM_ID_NT (500), the NetBIOS name,
   version 10.0 (what our NTLM CHALLENGE's VERSION says, auth/ntlmssp.py), type
   SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_NT | SV_TYPE_SERVER_NT (0x9003: a standalone
   Windows server; no printing, no DFS, no browser roles), an empty comment (Windows' default),
   level 102's users = max_connections, disc = idle_timeout in minutes, announce 240 s,
   anndelta 3000 ms, userpath "C:\\".
4. Sessions, connections and open files come from the live server state through
   ``_srvsvc_live`` (the same figures as Server Manager). NetrSessionEnum (MS-SRVS 3.1.4.5):
   ClientName and UserName filter; a ClientName no session comes from is
   NERR_ClientNameNotFound (2312), a UserName no session has NERR_UserNotFound (2221). Level 2
   and 502 report an empty client type; 502's transport is "\\Device\\NetbiosSmb", the device
   Windows names for SMB over direct TCP.
5. NetrSessionDel (MS-SRVS 3.1.4.6): the sessions matching ClientName and/or UserName (same
   rules and errors as 4; both NULL or empty is ERROR_INVALID_PARAMETER: we never close every
   session at once) are closed the way Server Manager's ``DELETE /api/sessions/{id}`` closes
   them: their connections are torn down through ``ServerContext.close_connection`` (set by the
   asyncio glue, which closes the transport once the reply in progress is written and audits
   each logoff with reason ``admin_close``); other sessions on such a connection go with it.
   Without the glue (no event loop) the answer is ERROR_NOT_SUPPORTED (50).
6. NetrConnectionEnum (MS-SRVS 3.1.4.1): Qualifier ``\\\\client`` lists that client's tree
   connects (netname = share name), a share name lists the tree connects to it (netname = the
   client, ``\\\\ADDRESS``); NULL or empty is ERROR_INVALID_PARAMETER, an unknown share
   NERR_NetNameNotFound, an unknown client NERR_ClientNameNotFound. The id is the tree id.
7. NetrFileEnum (MS-SRVS 3.1.4.16): every open, files and named pipes (``\\PIPE\\name``), as
   Windows lists them; a file's path is its local path. BasePath keeps the paths it prefixes,
   UserName the opens of that user (NERR_UserNotFound if no session has it). fi3_id is the
   session id's low 16 bits and the open's volatile id's low 16 bits.
8. NetrRemoteTOD (MS-SRVS 3.1.4.21): TIME_OF_DAY_INFO from ``ServerContext.clock()`` in UTC
   (timezone 0), msecs since the server started, tinterval 310 (Windows' tick, in 0.0001 s).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ...admin.snapshot import shares as share_rows
from ...core.handlers.security import share_descriptor
from ...wire.security import encode_sd
from ..ndr import NdrReader, NdrWriter
from ..pipe import CallContext, Interface, Operation, deny_with_status
from ._srvsvc_common import (
    B,
    D,
    ERROR_INVALID_PARAMETER,
    ERROR_NOT_SUPPORTED,
    NERR_CLIENT_NAME_NOT_FOUND,
    NERR_NET_NAME_NOT_FOUND,
    NERR_SUCCESS,
    NERR_USER_NOT_FOUND,
    S,
    Layout,
    enum_operation,
    info_operation,
    read_strings,
)
from ._srvsvc_live import LiveSession, live_sessions, match_client, match_user

__all__ = ["INTERFACE", "OPERATIONS", "SV_TYPE", "STYPE_DISKTREE", "STYPE_IPC_SPECIAL"]

STYPE_DISKTREE = 0x00000000
STYPE_IPC = 0x00000003
STYPE_SPECIAL = 0x80000000
STYPE_IPC_SPECIAL = STYPE_IPC | STYPE_SPECIAL
SHI_USES_UNLIMITED = 0xFFFFFFFF
PLATFORM_ID_NT = 500
VERSION = (10, 0)  # auth.ntlmssp.Version's major.minor
SV_TYPE_WORKSTATION, SV_TYPE_SERVER, SV_TYPE_NT, SV_TYPE_SERVER_NT = 0x1, 0x2, 0x1000, 0x8000
SV_TYPE = SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_NT | SV_TYPE_SERVER_NT
PERM_FILE_READ, PERM_FILE_WRITE = 0x1, 0x2
TRANSPORT = "\\Device\\NetbiosSmb"
TOD_TINTERVAL = 310

SHARE_LAYOUTS: dict[int, Layout] = {
    0: (S,),  # SHARE_INFO_0: netname
    1: (S, D, S),  # netname, type, remark
    2: (S, D, S, D, D, D, S, S),  # + permissions, max_uses, current_uses, path, passwd
    501: (S, D, S, D),  # netname, type, remark, flags
    502: (S, D, S, D, D, D, S, S, D, B),  # level 2 + reserved, security_descriptor
    503: (S, D, S, D, D, D, S, S, S, D, B),  # level 2 + servername, reserved, security_descriptor
}
SHARE_INFO_LAYOUTS: dict[int, Layout] = {**SHARE_LAYOUTS, 1005: (D,)}  # SHARE_INFO_1005: flags
SERVER_LAYOUTS: dict[int, Layout] = {
    100: (D, S),  # platform_id, name
    101: (D, S, D, D, D, S),  # + version_major, version_minor, type, comment
    102: (D, S, D, D, D, S, D, D, D, D, D, D, S),  # + users, disc, hidden, announce, anndelta, licenses, userpath
}
SESSION_LAYOUTS: dict[int, Layout] = {
    0: (S,),  # cname
    1: (S, S, D, D, D, D),  # cname, username, num_opens, time, idle_time, user_flags
    2: (S, S, D, D, D, D, S),  # + cltype_name
    10: (S, S, D, D),  # cname, username, time, idle_time
    502: (S, S, D, D, D, D, S, S),  # level 2 + transport
}
CONNECTION_LAYOUTS: dict[int, Layout] = {
    0: (D,),  # id
    1: (D, D, D, D, D, S, S),  # id, type, num_opens, num_users, time, username, netname
}
FILE_LAYOUTS: dict[int, Layout] = {
    2: (D,),  # id
    3: (D, D, D, S, S),  # id, permissions, num_locks, pathname, username
}


# -- shares (rule 2) --------------------------------------------------------------------------------

def _share_entry(server: Any, share: Any, level: int, uses: int) -> tuple[Any, ...]:
    kind = STYPE_IPC_SPECIAL if share.is_ipc else STYPE_DISKTREE
    path = "" if share.is_ipc else share.path
    remark = share.comment
    match level:
        case 0:
            return (share.name,)
        case 1:
            return (share.name, kind, remark)
        case 2:
            return (share.name, kind, remark, 0, SHI_USES_UNLIMITED, uses, path, None)
        case 501:
            return (share.name, kind, remark, 0)
        case 502 | 503:
            sd = b"" if share.is_ipc else encode_sd(share_descriptor(server, share))
            scope = ("*",) if level == 503 else ()  # 503: every name the server answers to
            return (share.name, kind, remark, 0, SHI_USES_UNLIMITED, uses, path, None, *scope, len(sd), sd or None)
        case _:  # 1005
            return (0,)


def _uses(call: CallContext) -> dict[str, int]:
    return {row["name"].casefold(): row["tree_connects"] for row in share_rows(call.server)}


def _shares(call: CallContext, level: int) -> list[tuple[Any, ...]]:
    uses = _uses(call)
    return [_share_entry(call.server, share, level, uses.get(share.name.casefold(), 0))
            for share in call.server.shares.values()]


def _share_info(call: CallContext, level: int, name: str) -> tuple[Any, ...] | int:
    share = call.server.shares.get(name.casefold())
    if share is None:
        return NERR_NET_NAME_NOT_FOUND
    return _share_entry(call.server, share, level, _uses(call).get(share.name.casefold(), 0))


# -- server information (rule 3) ----------------------------------------------------------------------

def _server_info(call: CallContext, level: int) -> tuple[Any, ...]:
    cfg = call.server.config.server
    base = (PLATFORM_ID_NT, cfg.netbios_name)
    if level == 100:
        return base
    info101 = (*base, VERSION[0], VERSION[1], SV_TYPE, "")
    if level == 101:
        return info101
    disc = max(1, int(cfg.idle_timeout // 60))
    return (*info101, cfg.max_connections, disc, 0, 240, 3000, 0, "C:\\")


# -- sessions (rules 4, 5) --------------------------------------------------------------------------

def _select(call: CallContext, client: str | None, user: str | None) -> list[LiveSession] | int:
    """The sessions matching both filters, or the error MS-SRVS 3.1.4.5 names."""
    found = [s for s in live_sessions(call.server) if match_client(s, client)]
    if client and not found:
        return NERR_CLIENT_NAME_NOT_FOUND
    found = [s for s in found if match_user(s, user)]
    if user and not found:
        return NERR_USER_NOT_FOUND
    return found


def _session_entry(s: LiveSession, level: int) -> tuple[Any, ...]:
    match level:
        case 0:
            return (s.client,)
        case 1:
            return (s.client, s.user, s.opens, s.time, s.idle, s.user_flags)
        case 2:
            return (s.client, s.user, s.opens, s.time, s.idle, s.user_flags, "")
        case 10:
            return (s.client, s.user, s.time, s.idle)
        case _:  # 502
            return (s.client, s.user, s.opens, s.time, s.idle, s.user_flags, "", TRANSPORT)


def _sessions(call: CallContext, level: int, client: str | None, user: str | None) -> list[tuple[Any, ...]] | int:
    found = _select(call, client, user)
    if isinstance(found, int):
        return found
    return [_session_entry(s, level) for s in found]


def net_session_del(call: CallContext, r: NdrReader) -> bytes:
    """Rule 5 (MS-SRVS 3.1.4.6)."""
    _server, client, user = read_strings(r, 3)
    status = _close_sessions(call, client, user)
    call.status = status
    w = NdrWriter()
    w.u32(status)
    return w.getvalue()


def _close_sessions(call: CallContext, client: str | None, user: str | None) -> int:
    if not client and not user:
        return ERROR_INVALID_PARAMETER
    found = _select(call, client, user)
    if isinstance(found, int):
        return found
    close = call.server.close_connection
    if close is None:
        return ERROR_NOT_SUPPORTED
    conns = list(dict.fromkeys(s.conn for s in found))
    for conn in conns:
        close(conn, "admin_close")
    call.returned = len(found)
    return NERR_SUCCESS


# -- connections and files (rules 6, 7) ---------------------------------------------------------------

def _connections(call: CallContext, level: int, qualifier: str | None) -> list[tuple[Any, ...]] | int:
    if not qualifier:
        return ERROR_INVALID_PARAMETER
    now = call.server.clock()
    lives = live_sessions(call.server)
    pairs: list[tuple[LiveSession, Any, str]] = []
    if qualifier.startswith("\\\\"):
        lives = [s for s in lives if match_client(s, qualifier)]
        if not lives:
            return NERR_CLIENT_NAME_NOT_FOUND
        pairs = [(s, tree, tree.share.name) for s in lives for tree in s.trees()]
    else:
        share = call.server.shares.get(qualifier.casefold())
        if share is None:
            return NERR_NET_NAME_NOT_FOUND
        pairs = [(s, tree, s.client) for s in lives for tree in s.trees() if tree.share is share]
    out = []
    for s, tree, netname in pairs:
        if level == 0:
            out.append((tree.tree_id,))
            continue
        opens = sum(1 for op in s.open_list() if op.tree is tree)
        since = tree.connected_at or s.session.created_at
        kind = STYPE_IPC if tree.share.is_ipc else STYPE_DISKTREE
        out.append((tree.tree_id, kind, opens, 1, int(max(0.0, now - since)), s.user, netname))
    return out


def _file_path(op: Any) -> str:
    share = op.tree.share
    if share.is_ipc:
        return "\\PIPE\\" + op.path.lstrip("\\")
    rel = op.path.replace("\\", "/").strip("/")
    return f"{share.path}/{rel}" if rel else share.path


_READ_BITS = 0x00000001 | 0x80000000 | 0x10000000  # FILE_READ_DATA, GENERIC_READ, GENERIC_ALL
_WRITE_BITS = 0x00000002 | 0x00000004 | 0x40000000 | 0x10000000  # FILE_WRITE_DATA, FILE_APPEND_DATA, GENERIC_WRITE, GENERIC_ALL


def _permissions(access: int) -> int:
    """fi3_permissions (MS-SRVS 2.2.4.7) from the open's granted access."""
    return (PERM_FILE_READ if access & _READ_BITS else 0) | (PERM_FILE_WRITE if access & _WRITE_BITS else 0)


def _files(call: CallContext, level: int, base_path: str | None, user: str | None) -> list[tuple[Any, ...]] | int:
    found = _select(call, None, user)
    if isinstance(found, int):
        return found
    prefix = (base_path or "").casefold()
    out = []
    for s in found:
        for op in s.open_list():
            path = _file_path(op)
            if prefix and not path.casefold().startswith(prefix):
                continue
            ident = ((s.session.session_id & 0xFFFF) << 16) | (op.volatile_id & 0xFFFF)
            out.append((ident,) if level == 2 else (ident, _permissions(op.granted_access), 0, path, s.user))
    return out


# -- time of day (rule 8) ---------------------------------------------------------------------------

def net_remote_tod(call: CallContext, r: NdrReader) -> bytes:
    read_strings(r, 1)
    now = call.server.clock()
    tm = time.gmtime(now)
    started = call.server.start_time or now
    info = (int(now) & 0xFFFFFFFF, int((now - started) * 1000) & 0xFFFFFFFF, tm.tm_hour, tm.tm_min,
            tm.tm_sec, int((now % 1) * 100), 0, TOD_TINTERVAL, tm.tm_mday, tm.tm_mon, tm.tm_year,
            (tm.tm_wday + 1) % 7)

    def tod(w: NdrWriter, values: Sequence[int]) -> None:
        for v in values:
            w.u32(v & 0xFFFFFFFF)

    w = NdrWriter()
    w.unique(info, tod)
    w.u32(NERR_SUCCESS)
    call.status, call.returned = NERR_SUCCESS, 1
    return w.getvalue()


def deny_remote_tod(call: CallContext, r: NdrReader, status: int) -> bytes:
    read_strings(r, 1)
    w = NdrWriter()
    w.unique(None, NdrWriter.u32)
    w.u32(status)
    return w.getvalue()


def deny_session_del(call: CallContext, r: NdrReader, status: int) -> bytes:
    read_strings(r, 3)
    return deny_with_status(call, r, status)


OPERATIONS: dict[int, Operation] = {
    8: enum_operation("NetrConnectionEnum", CONNECTION_LAYOUTS, 2, _connections),
    9: enum_operation("NetrFileEnum", FILE_LAYOUTS, 3, _files),
    12: enum_operation("NetrSessionEnum", SESSION_LAYOUTS, 3, _sessions),
    13: Operation("NetrSessionDel", net_session_del, deny_session_del),
    15: enum_operation("NetrShareEnum", SHARE_LAYOUTS, 1, _shares),
    16: info_operation("NetrShareGetInfo", SHARE_INFO_LAYOUTS, 1, _share_info, ref_string=True),
    21: info_operation("NetrServerGetInfo", SERVER_LAYOUTS, 1, _server_info),
    28: Operation("NetrRemoteTOD", net_remote_tod, deny_remote_tod),
    36: enum_operation("NetrShareEnumSticky", SHARE_LAYOUTS, 1, _shares),
}

INTERFACE = Interface("srvsvc", "4b324fc8-1670-01d3-1278-5a47bf6ee188", (3, 0), OPERATIONS)
