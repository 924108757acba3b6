"""wkssvc (MS-WKST): the Workstation service's two read calls that enumeration tools use.

Operations: 0 NetrWkstaGetInfo (levels 100, 101, 102), 2 NetrWkstaUserEnum (levels 0, 1;
NetExec's ``--loggedon-users``, rpcclient's ``wkssvc_enumerateusers``).

Rules:
1. Who may call what is the policy's (policy/rpc_rules.py; MS-WKST 3.2.4.1: level 100 for any
   caller, 101 for authenticated users, 102 and NetrWkstaUserEnum for Administrators). Each
   operation asks again with its level; a denial is ERROR_ACCESS_DENIED (5) in a well-formed
   [out] stub with no data, an unserved level ERROR_INVALID_LEVEL (124) (``_srvsvc_common``).
2. WKSTA_INFO_100/101/102 (MS-WKST 2.2.5.1-2.2.5.3): PLATFORM_ID_NT (500), the NetBIOS name, the
   workgroup as the LAN group, version 10.0 (as srvsvc and our NTLM VERSION say), lanroot ""
   (nullsmb has no LAN Manager directory), and at 102 the number of distinct users that
   NetrWkstaUserEnum lists.
3. The "logged-on users" of a server are the users with a session on it (nullsmb has no
   interactive logons): one entry per distinct account among the logged-on user and guest
   sessions, in session order, anonymous sessions left out (they are no account). Level 1 gives
   the account's domain (the server's NetBIOS name: every account is local), no other domains,
   and the server's name as logon server. The figures come from ``_srvsvc_live``, the view
   srvsvc's NetrSessionEnum and Server Manager share.
"""

from __future__ import annotations

from typing import Any

from ..pipe import CallContext, Interface, Operation
from ._srvsvc_common import D, S, Layout, enum_operation, info_operation
from ._srvsvc_live import live_sessions

__all__ = ["INTERFACE", "OPERATIONS", "logged_on_users"]

PLATFORM_ID_NT = 500
VERSION = (10, 0)

WKSTA_LAYOUTS: dict[int, Layout] = {
    100: (D, S, S, D, D),  # platform_id, computername, langroup, ver_major, ver_minor
    101: (D, S, S, D, D, S),  # + lanroot
    102: (D, S, S, D, D, S, D),  # + logged_on_users
}
USER_LAYOUTS: dict[int, Layout] = {
    0: (S,),  # WKSTA_USER_INFO_0: username
    1: (S, S, S, S),  # username, logon_domain, oth_domains, logon_server
}


def logged_on_users(call: CallContext) -> list[tuple[str, str]]:
    """Rule 3: (user, domain) pairs, once each."""
    users: dict[tuple[str, str], tuple[str, str]] = {}
    for s in live_sessions(call.server):
        if s.kind != "anonymous":
            users.setdefault((s.user.casefold(), s.domain.casefold()), (s.user, s.domain))
    return list(users.values())


def _wksta_info(call: CallContext, level: int) -> tuple[Any, ...]:
    cfg = call.server.config.server
    info = (PLATFORM_ID_NT, cfg.netbios_name, cfg.workgroup, VERSION[0], VERSION[1])
    if level == 100:
        return info
    if level == 101:
        return (*info, "")
    return (*info, "", len(logged_on_users(call)))


def _users(call: CallContext, level: int) -> list[tuple[Any, ...]]:
    server = call.server.config.server.netbios_name
    if level == 0:
        return [(user,) for user, _domain in logged_on_users(call)]
    return [(user, domain, "", server) for user, domain in logged_on_users(call)]


OPERATIONS: dict[int, Operation] = {
    0: info_operation("NetrWkstaGetInfo", WKSTA_LAYOUTS, 1, _wksta_info),
    2: enum_operation("NetrWkstaUserEnum", USER_LAYOUTS, 1, _users),
}

INTERFACE = Interface("wkssvc", "6bffd098-a112-3610-9833-46c3f87e345a", (1, 0), OPERATIONS)
