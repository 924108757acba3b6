"""srvsvc client calls (MS-SRVS): shares, server information, sessions, connections, time.

Each call takes a bound ``RpcConnection`` (``RpcSession.open(client, ipc, PIPE, SYNTAX)``)
and returns frozen dataclasses. Every call returns NET_API_STATUS (a WERROR, MS-SRVS 2.2.1.1).

Rules:
1. A failing NET_API_STATUS raises ``RpcStatusError(status, "werror", operation)``, exactly as
   the server sent it (WERR_ACCESS_DENIED = 5, WERR_INVALID_LEVEL = 124 ...).
2. Enumerations follow ERROR_MORE_DATA (234) with the resume handle (MS-SRVS 3.1.4.8): each
   round must return entries and move the handle, else ``RpcProtocolError``; at most
   ``max_rounds`` rounds and ``MAX_ENTRIES`` entries in all.
3. A reply comes at the level asked for, or at another level this module reads, which the
   result's ``level`` then names (impacket's smbserver answers every NetrShareEnum at level
   1); any other level or union arm is ``RpcProtocolError``.
4. ServerName is sent as NULL unless given (the server ignores it, MS-SRVS 3.1.4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..rpc.ndr import NdrReader, NdrWriter
from ..rpc.pdu import FaultStatus, SyntaxId
from ._ndr import MAX_PREFERRED_LENGTH, MAX_ROUNDS, Thunk, check, info_reply, net_enum, wstr_ptr
from .rpc import WERROR, RpcConnection, RpcFaultError, RpcProtocolError, RpcStatusError, status_name

__all__ = [
    "ConnectionInfo", "ERROR_ACCESS_DENIED", "ERROR_INVALID_LEVEL", "ERROR_MORE_DATA", "LevelAttempt", "PIPE",
    "SYNTAX", "ServerInfo", "SessionEnumOutcome", "SessionInfo", "ShareInfo", "TimeOfDay", "connection_enum",
    "remote_tod", "server_get_info", "session_del", "session_enum", "session_enum_any", "share_enum",
    "share_get_info",
]

SYNTAX = SyntaxId.of("4b324fc8-1670-01d3-1278-5a47bf6ee188", 3, 0)
PIPE = "srvsvc"

OP_CONNECTION_ENUM = 8
OP_SESSION_ENUM = 12
OP_SESSION_DEL = 13
OP_SHARE_ENUM = 15
OP_SHARE_GET_INFO = 16
OP_SERVER_GET_INFO = 21
OP_REMOTE_TOD = 28

ERROR_ACCESS_DENIED = 5
ERROR_INVALID_LEVEL = 124
ERROR_MORE_DATA = 234
SD_LIMIT = 0x40000  # Samba's sec_desc_buf [range(0,0x40000)]
_INVALID_TAG_FAULTS = (FaultStatus.RPC_S_INVALID_TAG, FaultStatus.NCA_S_FAULT_INVALID_TAG)

STYPE_DISKTREE, STYPE_PRINTQ, STYPE_DEVICE, STYPE_IPC = 0, 1, 2, 3  # MS-SRVS 2.2.2.4
STYPE_SPECIAL, STYPE_TEMPORARY = 0x80000000, 0x40000000


# -- shares (MS-SRVS 2.2.4.22 - 2.2.4.26) -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ShareInfo:
    """SHARE_INFO_0/1/2/502: the fields of ``level``; the others are None."""

    level: int
    name: str | None
    type: int | None = None
    remark: str | None = None
    permissions: int | None = None
    max_uses: int | None = None
    current_uses: int | None = None
    path: str | None = None
    password: str | None = None
    security_descriptor: bytes | None = None

    @property
    def kind(self) -> str | None:
        """"disk", "printq", "device", "ipc" (the low bits of shi1_type)."""
        if self.type is None:
            return None
        return {0: "disk", 1: "printq", 2: "device", 3: "ipc"}.get(self.type & 0xFF, f"0x{self.type & 0xFF:x}")

    @property
    def special(self) -> bool:
        """STYPE_SPECIAL: an administrative share (IPC$, ADMIN$, C$)."""
        return bool((self.type or 0) & STYPE_SPECIAL)


def _share_elem(level: int) -> Callable[[NdrReader], Thunk[ShareInfo]]:
    def elem(r: NdrReader) -> Thunk[ShareInfo]:
        name = wstr_ptr(r)
        if level == 0:
            return lambda: ShareInfo(0, name.value)
        stype, remark = r.u32(), wstr_ptr(r)
        if level == 1:
            return lambda: ShareInfo(1, name.value, stype, remark.value)
        perms, max_uses, current = r.u32(), r.u32(), r.u32()
        path, password = wstr_ptr(r), wstr_ptr(r)
        sd = None
        if level == 502:
            r.u32()  # shi502_reserved: the descriptor's size, repeated by its conformant array
            sd = r.embedded_unique(lambda r: r.conformant_bytes(limit=SD_LIMIT))
        return lambda: ShareInfo(level, name.value, stype, remark.value, perms, max_uses, current, path.value,
                                 password.value, None if sd is None else sd.value)
    return elem


_SHARE_SIZES = {0: 4, 1: 12, 2: 32, 502: 40}  # the fewest bytes one entry takes
_SHARE_ARMS = {level: _share_elem(level) for level in _SHARE_SIZES}


@dataclass(frozen=True, slots=True)
class ShareEnumResult:
    level: int
    shares: tuple[ShareInfo, ...]
    total_entries: int
    rounds: int  # calls made (more than one when the server said ERROR_MORE_DATA)


async def share_enum(rpc: RpcConnection, level: int = 1, *, server: str | None = None,
                     preferred: int = MAX_PREFERRED_LENGTH, max_rounds: int = MAX_ROUNDS) -> ShareEnumResult:
    """NetrShareEnum (opnum 15, MS-SRVS 3.1.4.8) at level 0, 1, 2 or 502."""
    if level not in _SHARE_SIZES:
        raise ValueError(f"share level {level} is not one of {sorted(_SHARE_SIZES)}")
    items, total, rounds, got = await net_enum(rpc, OP_SHARE_ENUM, "NetrShareEnum", level, _share_elem,
                                                 _SHARE_SIZES, server=server, preferred=preferred,
                                                 max_rounds=max_rounds)
    return ShareEnumResult(got, tuple(items), total, rounds)


async def share_get_info(rpc: RpcConnection, name: str, level: int = 1, *,
                         server: str | None = None) -> ShareInfo:
    """NetrShareGetInfo (opnum 16, MS-SRVS 3.1.4.10) at level 0, 1, 2 or 502."""
    if level not in _SHARE_SIZES:
        raise ValueError(f"share level {level} is not one of {sorted(_SHARE_SIZES)}")
    w = NdrWriter()
    w.unique(server, NdrWriter.wstr)
    w.wstr(name)
    w.u32(level)
    value, status = await rpc.request(OP_SHARE_GET_INFO, w.getvalue(),
                                      info_reply(level, _SHARE_ARMS, "NetrShareGetInfo"),
                                      operation="NetrShareGetInfo")
    check(status, "NetrShareGetInfo", WERROR)
    if not isinstance(value, ShareInfo):
        raise RpcProtocolError("NetrShareGetInfo: success without the information")
    return value


# -- server information (MS-SRVS 2.2.4.40 - 2.2.4.42) -------------------------------------------------

@dataclass(frozen=True, slots=True)
class ServerInfo:
    """SERVER_INFO_100/101/102: the fields of ``level``; the others are None."""

    level: int
    platform_id: int
    name: str | None
    version_major: int | None = None
    version_minor: int | None = None
    type: int | None = None  # SV_TYPE_* bits (MS-SRVS 2.2.2.7)
    comment: str | None = None
    users: int | None = None
    disc: int | None = None
    hidden: int | None = None
    announce: int | None = None
    anndelta: int | None = None
    licenses: int | None = None
    userpath: str | None = None


def _server_elem(level: int) -> Callable[[NdrReader], Thunk[ServerInfo]]:
    def elem(r: NdrReader) -> Thunk[ServerInfo]:
        platform, name = r.u32(), wstr_ptr(r)
        if level == 100:
            return lambda: ServerInfo(100, platform, name.value)
        major, minor, stype, comment = r.u32(), r.u32(), r.u32(), wstr_ptr(r)
        if level == 101:
            return lambda: ServerInfo(101, platform, name.value, major, minor, stype, comment.value)
        users, disc, hidden, announce, anndelta, licenses = (r.u32() for _ in range(6))
        userpath = wstr_ptr(r)
        return lambda: ServerInfo(102, platform, name.value, major, minor, stype, comment.value, users, disc,
                                  hidden, announce, anndelta, licenses, userpath.value)
    return elem


async def server_get_info(rpc: RpcConnection, level: int = 101, *, server: str | None = None) -> ServerInfo:
    """NetrServerGetInfo (opnum 21, MS-SRVS 3.1.4.17) at level 100, 101 or 102."""
    if level not in (100, 101, 102):
        raise ValueError(f"server level {level} is not one of 100, 101, 102")
    w = NdrWriter()
    w.unique(server, NdrWriter.wstr)
    w.u32(level)
    value, status = await rpc.request(OP_SERVER_GET_INFO, w.getvalue(),
                                      info_reply(level, {level: _server_elem(level)}, "NetrServerGetInfo"),
                                      operation="NetrServerGetInfo")
    check(status, "NetrServerGetInfo", WERROR)
    if not isinstance(value, ServerInfo):
        raise RpcProtocolError("NetrServerGetInfo: success without the information")
    return value


# -- sessions (MS-SRVS 2.2.4.12 - 2.2.4.16, 3.1.4.5, 3.1.4.6) -----------------------------------------

@dataclass(frozen=True, slots=True)
class SessionInfo:
    """SESSION_INFO_0/1/2/10/502: the fields of ``level``; the others are None. Times are
    seconds; ``user_flags``: SESS_GUEST 0x1, SESS_NOENCRYPTION 0x2 (MS-SRVS 2.2.2.3)."""

    level: int
    client_name: str | None
    user_name: str | None = None
    num_opens: int | None = None
    time: int | None = None
    idle_time: int | None = None
    user_flags: int | None = None
    client_type: str | None = None
    transport: str | None = None


def _session_elem(level: int) -> Callable[[NdrReader], Thunk[SessionInfo]]:
    def elem(r: NdrReader) -> Thunk[SessionInfo]:
        cname = wstr_ptr(r)
        if level == 0:
            return lambda: SessionInfo(0, cname.value)
        user = wstr_ptr(r)
        if level == 10:
            time, idle = r.u32(), r.u32()
            return lambda: SessionInfo(10, cname.value, user.value, None, time, idle)
        opens, time, idle, flags = r.u32(), r.u32(), r.u32(), r.u32()
        if level == 1:
            return lambda: SessionInfo(1, cname.value, user.value, opens, time, idle, flags)
        cltype = wstr_ptr(r)
        transport = wstr_ptr(r) if level == 502 else None
        return lambda: SessionInfo(level, cname.value, user.value, opens, time, idle, flags, cltype.value,
                                   None if transport is None else transport.value)
    return elem


_SESSION_SIZES = {0: 4, 1: 24, 2: 28, 10: 16, 502: 32}


@dataclass(frozen=True, slots=True)
class SessionEnumResult:
    level: int
    sessions: tuple[SessionInfo, ...]
    total_entries: int
    rounds: int


async def session_enum(rpc: RpcConnection, level: int = 10, *, client_name: str | None = None,
                       user_name: str | None = None, server: str | None = None,
                       preferred: int = MAX_PREFERRED_LENGTH, max_rounds: int = MAX_ROUNDS) -> SessionEnumResult:
    """NetrSessionEnum (opnum 12, MS-SRVS 3.1.4.5) at level 0, 1, 2, 10 or 502; ``client_name``
    ("\\\\host") and ``user_name`` filter."""
    if level not in _SESSION_SIZES:
        raise ValueError(f"session level {level} is not one of {sorted(_SESSION_SIZES)}")
    items, total, rounds, got = await net_enum(rpc, OP_SESSION_ENUM, "NetrSessionEnum", level, _session_elem,
                                                 _SESSION_SIZES, server=server, filters=(client_name, user_name),
                                                 preferred=preferred, max_rounds=max_rounds)
    return SessionEnumResult(got, tuple(items), total, rounds)


@dataclass(frozen=True, slots=True)
class LevelAttempt:
    """One level ``session_enum_any`` tried: the status (WERROR) or fault it got."""

    level: int
    status: int
    name: str
    fault: bool = False


@dataclass(frozen=True, slots=True)
class SessionEnumOutcome:
    """``level`` is the level that worked (None: none did; ``attempts[-1]`` says why)."""

    level: int | None
    sessions: tuple[SessionInfo, ...]
    total_entries: int
    attempts: tuple[LevelAttempt, ...]

    def raise_for_status(self) -> "SessionEnumOutcome":
        if self.level is None:
            last = self.attempts[-1]
            if last.fault:
                raise RpcFaultError(last.status, operation="NetrSessionEnum")
            raise RpcStatusError(last.status, WERROR, "NetrSessionEnum")
        return self


async def session_enum_any(rpc: RpcConnection, levels: Sequence[int] = (502, 10, 2, 1, 0), *,
                           client_name: str | None = None, user_name: str | None = None,
                           server: str | None = None) -> SessionEnumOutcome:
    """NetrSessionEnum at the richest level the server grants: ``levels`` in order, moving on
    after WERR_INVALID_LEVEL, WERR_ACCESS_DENIED or an invalid-tag fault (Samba serves 0 and 1
    only, to administrators; Windows restricts 1, 2 and 502 to administrators). Any other
    failure raises. Every refusal is kept in ``attempts``."""
    attempts: list[LevelAttempt] = []
    for level in levels:
        try:
            got = await session_enum(rpc, level, client_name=client_name, user_name=user_name, server=server)
        except RpcStatusError as exc:
            if exc.status not in (ERROR_INVALID_LEVEL, ERROR_ACCESS_DENIED):
                raise
            attempts.append(LevelAttempt(level, exc.status, exc.name))
            continue
        except RpcFaultError as exc:
            if exc.status not in _INVALID_TAG_FAULTS:
                raise
            attempts.append(LevelAttempt(level, exc.status, exc.name, fault=True))
            continue
        attempts.append(LevelAttempt(level, 0, status_name(0, WERROR)))
        return SessionEnumOutcome(level, got.sessions, got.total_entries, tuple(attempts))
    return SessionEnumOutcome(None, (), 0, tuple(attempts))


async def session_del(rpc: RpcConnection, *, client_name: str | None = None, user_name: str | None = None,
                      server: str | None = None) -> None:
    """NetrSessionDel (opnum 13, MS-SRVS 3.1.4.6): end the sessions from ``client_name``
    ("\\\\host") and/or of ``user_name``."""
    w = NdrWriter()
    w.unique(server, NdrWriter.wstr)
    w.unique(client_name, NdrWriter.wstr)
    w.unique(user_name, NdrWriter.wstr)
    status = await rpc.request(OP_SESSION_DEL, w.getvalue(), NdrReader.u32, operation="NetrSessionDel")
    check(status, "NetrSessionDel", WERROR)


# -- connections (MS-SRVS 2.2.4.1 - 2.2.4.4, 3.1.4.1) -------------------------------------------------

@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """CONNECTION_INFO_0/1."""

    level: int
    id: int
    type: int | None = None
    num_opens: int | None = None
    num_users: int | None = None
    time: int | None = None
    user_name: str | None = None
    net_name: str | None = None


def _connection_elem(level: int) -> Callable[[NdrReader], Thunk[ConnectionInfo]]:
    def elem(r: NdrReader) -> Thunk[ConnectionInfo]:
        cid = r.u32()
        if level == 0:
            return lambda: ConnectionInfo(0, cid)
        ctype, opens, users, time = r.u32(), r.u32(), r.u32(), r.u32()
        user, net = wstr_ptr(r), wstr_ptr(r)
        return lambda: ConnectionInfo(1, cid, ctype, opens, users, time, user.value, net.value)
    return elem


async def connection_enum(rpc: RpcConnection, qualifier: str, level: int = 1, *, server: str | None = None,
                          preferred: int = MAX_PREFERRED_LENGTH,
                          max_rounds: int = MAX_ROUNDS) -> tuple[ConnectionInfo, ...]:
    """NetrConnectionEnum (opnum 8, MS-SRVS 3.1.4.1): the connections to share ``qualifier``
    (or from computer "\\\\host"), level 0 or 1."""
    if level not in (0, 1):
        raise ValueError(f"connection level {level} is not 0 or 1")
    items, _total, _rounds, _got = await net_enum(rpc, OP_CONNECTION_ENUM, "NetrConnectionEnum", level,
                                                    _connection_elem, {0: 4, 1: 28}, server=server,
                                                    filters=(qualifier,), preferred=preferred, max_rounds=max_rounds)
    return tuple(items)


# -- time of day (MS-SRVS 2.2.4.105, 3.1.4.21) --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TimeOfDay:
    """TIME_OF_DAY_INFO: ``elapsed`` is seconds since 1970-01-01 UTC; ``timezone`` minutes
    from UTC (-1: undefined)."""

    elapsed: int
    msecs: int
    hours: int
    mins: int
    secs: int
    hunds: int
    timezone: int
    tinterval: int
    day: int
    month: int
    year: int
    weekday: int


def _tod(r: NdrReader) -> TimeOfDay:
    elapsed, msecs, hours, mins, secs, hunds = (r.u32() for _ in range(6))
    timezone = r.i32()
    tinterval, day, month, year, weekday = (r.u32() for _ in range(5))
    return TimeOfDay(elapsed, msecs, hours, mins, secs, hunds, timezone, tinterval, day, month, year, weekday)


async def remote_tod(rpc: RpcConnection, *, server: str | None = None) -> TimeOfDay:
    """NetrRemoteTOD (opnum 28)."""
    w = NdrWriter()
    w.unique(server, NdrWriter.wstr)

    def decode(r: NdrReader) -> tuple[TimeOfDay | None, int]:
        return r.unique(_tod), r.u32()

    tod, status = await rpc.request(OP_REMOTE_TOD, w.getvalue(), decode, operation="NetrRemoteTOD")
    check(status, "NetrRemoteTOD", WERROR)
    if tod is None:
        raise RpcProtocolError("NetrRemoteTOD: success without the time")
    return tod
