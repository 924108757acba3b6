"""wkssvc client calls (MS-WKST): workstation information and logged-on users.

Rules:
1. Both calls return NET_API_STATUS; a failure raises ``RpcStatusError(status, "werror", op)``.
2. NetrWkstaUserEnum follows ERROR_MORE_DATA like the srvsvc enumerations (client.srvsvc
   rule 2): progress is required on every round, and rounds and entries are bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..rpc.ndr import NdrReader, NdrWriter
from ..rpc.pdu import SyntaxId
from ._ndr import MAX_PREFERRED_LENGTH, Thunk, check, wstr_ptr
from .rpc import WERROR, RpcConnection, RpcProtocolError
from ._ndr import MAX_ROUNDS, info_reply, net_enum

__all__ = ["PIPE", "SYNTAX", "WkstaInfo", "WkstaUser", "wksta_get_info", "wksta_user_enum"]

SYNTAX = SyntaxId.of("6bffd098-a112-3610-9833-46c3f87e345a", 1, 0)
PIPE = "wkssvc"

OP_WKSTA_GET_INFO = 0
OP_WKSTA_USER_ENUM = 2


@dataclass(frozen=True, slots=True)
class WkstaInfo:
    """WKSTA_INFO_100/101/102 (MS-WKST 2.2.5.1 - 2.2.5.3)."""

    level: int
    platform_id: int
    computer_name: str | None
    lan_group: str | None  # the domain or workgroup
    version_major: int
    version_minor: int
    lan_root: str | None = None
    logged_on_users: int | None = None


def _wksta_elem(level: int) -> Callable[[NdrReader], Thunk[WkstaInfo]]:
    def elem(r: NdrReader) -> Thunk[WkstaInfo]:
        platform, name, group, major, minor = r.u32(), wstr_ptr(r), wstr_ptr(r), r.u32(), r.u32()
        if level == 100:
            return lambda: WkstaInfo(100, platform, name.value, group.value, major, minor)
        root = wstr_ptr(r)
        users = r.u32() if level == 102 else None
        return lambda: WkstaInfo(level, platform, name.value, group.value, major, minor, root.value, users)
    return elem


async def wksta_get_info(rpc: RpcConnection, level: int = 100, *, server: str | None = None) -> WkstaInfo:
    """NetrWkstaGetInfo (opnum 0, MS-WKST 3.2.4.1) at level 100, 101 or 102."""
    if level not in (100, 101, 102):
        raise ValueError(f"workstation level {level} is not one of 100, 101, 102")
    w = NdrWriter()
    w.unique(server, NdrWriter.wstr)
    w.u32(level)
    value, status = await rpc.request(OP_WKSTA_GET_INFO, w.getvalue(),
                                      info_reply(level, {level: _wksta_elem(level)}, "NetrWkstaGetInfo"),
                                      operation="NetrWkstaGetInfo")
    check(status, "NetrWkstaGetInfo", WERROR)
    if not isinstance(value, WkstaInfo):
        raise RpcProtocolError("NetrWkstaGetInfo: success without the information")
    return value


@dataclass(frozen=True, slots=True)
class WkstaUser:
    """WKSTA_USER_INFO_0/1 (MS-WKST 2.2.5.9, 2.2.5.10)."""

    level: int
    user_name: str | None
    logon_domain: str | None = None
    other_domains: str | None = None
    logon_server: str | None = None


def _user_elem(level: int) -> Callable[[NdrReader], Thunk[WkstaUser]]:
    def elem(r: NdrReader) -> Thunk[WkstaUser]:
        name = wstr_ptr(r)
        if level == 0:
            return lambda: WkstaUser(0, name.value)
        domain, others, server = wstr_ptr(r), wstr_ptr(r), wstr_ptr(r)
        return lambda: WkstaUser(1, name.value, domain.value, others.value, server.value)
    return elem


async def wksta_user_enum(rpc: RpcConnection, level: int = 1, *, server: str | None = None,
                          preferred: int = MAX_PREFERRED_LENGTH, max_rounds: int = MAX_ROUNDS) -> tuple[WkstaUser, ...]:
    """NetrWkstaUserEnum (opnum 2, MS-WKST 3.2.4.3): users logged on, level 0 or 1."""
    if level not in (0, 1):
        raise ValueError(f"workstation user level {level} is not 0 or 1")
    items, _total, _rounds, _got = await net_enum(rpc, OP_WKSTA_USER_ENUM, "NetrWkstaUserEnum", level, _user_elem,
                                                    {0: 4, 1: 16}, server=server, preferred=preferred,
                                                    max_rounds=max_rounds)
    return tuple(items)
