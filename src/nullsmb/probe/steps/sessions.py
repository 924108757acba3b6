"""Step 2, sessions: a null session, a guest attempt and (with --user) an authenticated one.

Rules:
1. Three principals, never confused (evidence rule 4): ``null`` logs on with an empty user
   name and empty responses (MS-NLMP 3.3.2 anonymous, null-sessions.md 1.1); ``guest`` logs on
   as a random user name that cannot exist (``nullsmb-<hex>``) with a random password, which a
   server that maps bad users to Guest accepts with SMB2_SESSION_FLAG_IS_GUEST (MS-SMB2 2.2.6);
   ``user`` is --user.
2. Each principal has its own connection (a ``Link``), kept open for steps 3 to 5.
3. The outcome is the SESSION_SETUP's exact status (STATUS_LOGON_FAILURE, STATUS_ACCESS_DENIED
   when the server requires encryption of null sessions, ...). SessionFlags are recorded as
   sent: Windows sets neither IS_NULL nor IS_GUEST for a null session, impacket sets IS_NULL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..evidence import GUEST, NULL, USER, SessionProbe
from .common import Credentials, Link, ProbeOptions

__all__ = ["guest_credentials", "open_sessions"]

_IS_GUEST, _IS_NULL, _ENCRYPT = 0x1, 0x2, 0x4  # MS-SMB2 2.2.6 SessionFlags


def guest_credentials(random_bytes: Callable[[int], bytes]) -> Credentials:
    """Rule 1: a user name no server has, and a password nobody uses."""
    return Credentials(f"nullsmb-{random_bytes(5).hex()}", random_bytes(12).hex())


async def _one(principal: str, link: Link) -> SessionProbe:
    out = await link.logon()
    s = link.session
    if s is None:
        return SessionProbe(principal, link.creds.user, out)
    return SessionProbe(
        principal, link.creds.user, out, established=True,
        is_guest=bool(s.session_flags & _IS_GUEST), is_null_flag=bool(s.session_flags & _IS_NULL),
        session_flags=s.session_flags, dialect=link.dialect, encrypted=s.encrypted,
    )


async def open_sessions(host: str, port: int, options: ProbeOptions, random_bytes: Callable[[int], bytes],
                        links_out: list[Link]) -> tuple[tuple[SessionProbe, ...], dict[str, Link]]:
    """The three logons, concurrently; the links of those that succeeded stay open. Every link
    is put in ``links_out`` first, so the caller can close them whatever happens."""
    creds = {NULL: Credentials(), GUEST: guest_credentials(random_bytes)}
    if options.user is not None:
        creds[USER] = options.user
    links = {p: Link(host, port, c, options.timeout) for p, c in creds.items()}
    links_out.extend(links.values())
    probes = await asyncio.gather(*(_one(p, link) for p, link in links.items()))
    alive = {p.principal: links[p.principal] for p in probes if p.established}
    return tuple(probes), alive
