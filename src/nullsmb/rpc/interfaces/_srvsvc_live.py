"""The server's live state as srvsvc and wkssvc show it: sessions, tree connects ("connections")
and opens ("files"), read from the ServerContext at each call.

Rules:
1. The figures come from Server Manager's own view (``admin.snapshot.session_row``): the same
   client address, workstation, user, open counts and times in both, so ``nullsmb sessions``,
   the admin API and NetrSessionEnum never disagree. Only sessions that finished logging on are
   shown (``state`` VALID), ordered by session id.
2. A client is named ``\\\\ADDRESS`` (IPv6 in brackets), as Windows names sessions over direct
   TCP; a ClientName filter matches that address, or the NTLM workstation name, with or
   without the leading backslashes, case-insensitively.
3. User names are bare account names, as Windows shows them: a user's logon name, a guest's
   logon name (or "Guest") with SESS_GUEST, and "" for an anonymous (null) session, which is
   neither guest nor user on Windows. (Samba shows its unix guest account, "nobody", with
   SESS_GUEST for both; we follow Windows, as the SMB2 session flags do.) A UserName filter
   matches the name case-insensitively; an empty one does not filter.
4. Nothing here changes server state; NetrSessionDel closes through
   ``ServerContext.close_connection`` (set by the asyncio glue).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...admin.snapshot import session_row
from ...core.state import SessionState

if TYPE_CHECKING:
    from ...core.connection import ServerConnection
    from ...core.context import ServerContext
    from ...core.state import Open, Session, TreeConnect

__all__ = ["LiveSession", "client_name", "live_sessions", "match_client", "match_user", "normalize_client"]

SESS_GUEST = 0x1  # MS-SRVS 2.2.4.15 sesi1_user_flags


@dataclass(frozen=True, slots=True)
class LiveSession:
    conn: "ServerConnection"
    session: "Session"
    client: str  # "\\\\127.0.0.1"
    address: str  # "127.0.0.1"
    workstation: str
    user: str  # "" for anonymous
    domain: str  # the account's domain: the server's NetBIOS name ("" for anonymous)
    kind: str  # "anonymous" | "guest" | "user"
    opens: int  # files, directories and pipes
    time: int  # seconds since logon
    idle: int  # seconds since the last request
    dialect: str

    @property
    def user_flags(self) -> int:
        return SESS_GUEST if self.kind == "guest" else 0

    def trees(self) -> list["TreeConnect"]:
        return [tree for _tid, tree in self.session.tree_connect_table.items()]

    def open_list(self) -> list["Open"]:
        return [op for _vid, op in self.session.open_table.items()]


def client_name(address: str) -> str:
    """Rule 2: ``\\\\10.0.0.5``, ``\\\\[::1]`` (an IPv4-mapped IPv6 address in dotted form)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "\\\\" + address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"\\\\{ip.ipv4_mapped}"
        return f"\\\\[{address}]"
    return "\\\\" + address


def normalize_client(name: str) -> str:
    """A ClientName as a client sends it, without backslashes or brackets, case-folded."""
    return name.lstrip("\\").strip("[]").casefold()


def match_client(live: LiveSession, wanted: str | None) -> bool:
    if not wanted:
        return True
    key = normalize_client(wanted)
    return key in (normalize_client(live.client), live.workstation.casefold())


def match_user(live: LiveSession, wanted: str | None) -> bool:
    if not wanted:
        return True
    key = wanted.casefold()
    return key == live.user.casefold() or (bool(live.domain) and key == f"{live.domain}\\{live.user}".casefold())


def _user_name(row: dict) -> str:
    kind = row["kind"]
    if kind == "anonymous":
        return ""
    if kind == "guest":
        return str(row["account"] or "Guest")
    return str(row["user"]).rpartition("\\")[2]  # "DOMAIN\\name" as the client logged on


def _pairs(server: "ServerContext") -> Iterator[tuple["ServerConnection", "Session"]]:
    for conn in list(server.connections):
        for session in list(conn.sessions.values()):
            if session.state is SessionState.VALID:
                yield conn, session


def live_sessions(server: "ServerContext") -> list[LiveSession]:
    """Every logged-on session, by session id (rule 1)."""
    now = server.clock()
    netbios = server.config.server.netbios_name
    out = []
    for conn, session in sorted(_pairs(server), key=lambda p: p[1].session_id):
        row = session_row(conn, session, now, netbios)
        user = _user_name(row)
        domain = "" if row["kind"] == "anonymous" else netbios  # every account is the server's own
        out.append(LiveSession(
            conn, session, client_name(row["client_ip"]), row["client_ip"], row["workstation"] or "",
            user, domain, row["kind"], row["opens"] + row["pipes"], int(row["connected_s"]),
            int(row["idle_s"]), row["dialect"]))
    return out
