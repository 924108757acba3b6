"""``nullsmb sessions --remote HOST``: Server Manager's view of any SMB server, over the protocol
NT's Server Manager used: srvsvc NetrSessionEnum and NetrSessionDel (MS-SRVS 3.1.4.5, 3.1.4.6).

Rules:
1. The session list is NetrSessionEnum at the richest level the server grants: 502, then 10, 2,
   1, 0 on WERR_INVALID_LEVEL or access denied (client.srvsvc.session_enum_any). Windows serves
   502 to Administrators, Samba only 0 and 1 (to BUILTIN\\Administrators), nullsmb every level
   to Administrators. The levels tried and what each answered are shown.
2. Credentials as smbclient takes them: ``-U USER%PASS``, ``-U DOMAIN\\USER%PASS``, ``-U USER``
   (the password is asked on the terminal, or read from $NULLSMB_PASSWORD), ``-U%`` (a null
   session: most servers refuse it these calls, which is the point of the null-session policy).
   A password never appears in output, errors or logs.
3. Which sessions are anonymous: Windows and nullsmb list a null session with an empty user name;
   Samba lists its guest account ("nobody") with SESS_GUEST. Both are flagged (ANONYMOUS / GUEST).
4. ``close`` is NetrSessionDel by client name (``\\\\10.0.0.7``; the backslashes are added when
   missing) and/or user name; the server ends the matching sessions.
5. Every failure is one line naming the server and the exact status (exit code 1): the TCP
   connect, the logon (STATUS_LOGON_FAILURE), the IPC$ tree connect, the pipe open, the call.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["Credentials", "RemoteError", "parse_credentials", "parse_target", "remote_close", "remote_list",
           "run_remote"]

SESS_GUEST = 0x1  # MS-SRVS 2.2.2.3 user_flags
DEFAULT_PORT = 445


class RemoteError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    domain: str = ""

    def __repr__(self) -> str:  # never the password (rule 2)
        return f"Credentials(user={self.user!r}, domain={self.domain!r})"

    @property
    def shown(self) -> str:
        if not self.user:
            return "a null session"
        return f"{self.domain}\\{self.user}" if self.domain else self.user


def parse_target(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address → (host, port)."""
    text = text.strip()
    if not text:
        raise RemoteError("--remote needs a host, e.g. --remote 10.0.0.5 or --remote 10.0.0.5:4445", 2)
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise RemoteError(f"--remote {text!r}: write an IPv6 address as [::1]:445", 2)
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise RemoteError(f"--remote {text!r}: no host", 2)
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RemoteError(f"--remote {text!r}: the port must be a number from 1 to 65535", 2)
    return host, int(port_text)


def parse_credentials(text: str | None, *, environ: dict[str, str] | None = None,
                      ask: Any = None) -> Credentials:
    """Rule 2. ``text`` None is a null session, as ``-U%``."""
    environ = os.environ if environ is None else environ
    if text is None or text == "%":
        return Credentials("", "")
    user, sep, password = text.partition("%")
    domain = ""
    for separator in ("\\", "/"):
        if separator in user:
            domain, _, user = user.partition(separator)
            break
    if not user:
        raise RemoteError(f"-U {text.split('%')[0]!r}: no user name (use -U% for a null session)", 2)
    if not sep:
        password = environ.get("NULLSMB_PASSWORD", "")
        if not password:
            if ask is None and not sys.stdin.isatty():
                raise RemoteError(f"no password for {user}: give -U {user}%PASSWORD, set NULLSMB_PASSWORD, "
                                  "or run on a terminal to be asked", 2)
            password = (ask or getpass.getpass)(f"password for {user}: ")
    return Credentials(user, password, domain)


def _kind(user: str | None, flags: int | None) -> str:
    """Rule 3."""
    if not user or user.upper() == "ANONYMOUS LOGON":
        return "anonymous"
    if flags is not None and flags & SESS_GUEST:
        return "guest"
    return "user"


def _row(s: Any) -> dict[str, Any]:
    return {
        "client": s.client_name or "",
        "user": s.user_name if s.user_name is not None else None,
        "kind": _kind(s.user_name, s.user_flags) if s.level != 0 else None,
        "opens": s.num_opens,
        "connected_s": s.time,
        "idle_s": s.idle_time,
        "user_flags": s.user_flags,
        "client_type": s.client_type,
        "transport": s.transport,
    }


def _failure(host: str, port: int, creds: Credentials, exc: BaseException) -> RemoteError:
    """Rule 5: one line with the exact status."""
    from ..client import SmbClientError
    from ..client.rpc import RpcError
    from ..status import NtStatus

    where = f"{host}:{port}"
    if isinstance(exc, SmbClientError):
        status = NtStatus.name_of(exc.status)
        if exc.status in (NtStatus.STATUS_LOGON_FAILURE, NtStatus.STATUS_ACCOUNT_DISABLED):
            return RemoteError(f"{where} refused the logon of {creds.shown}: {status}")
        return RemoteError(f"{where}: {exc}")
    if isinstance(exc, RpcError):
        return RemoteError(f"{where}: {exc}")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return RemoteError(f"{where} did not answer in time")
    if isinstance(exc, ConnectionRefusedError):
        return RemoteError(f"cannot connect to {where}: connection refused (no SMB server there?)")
    if isinstance(exc, OSError):
        return RemoteError(f"cannot connect to {where}: {exc.strerror or exc}")
    return RemoteError(f"{where}: {exc}")


async def remote_list(host: str, port: int, creds: Credentials, *, timeout: float = 10.0) -> dict[str, Any]:
    """Rule 1: the sessions ``host`` reports, as a JSON-ready document."""
    from ..client.remote import list_sessions

    try:
        outcome = await asyncio.wait_for(
            list_sessions(host, port, creds.user, creds.password, creds.domain, timeout=timeout), timeout * 3)
    except Exception as exc:  # every failure becomes one line (rule 5)
        raise _failure(host, port, creds, exc) from None
    attempts = [{"level": a.level, "status": a.name} for a in outcome.attempts]
    if outcome.level is None:
        tried = ", ".join(f"{a['level']}: {a['status']}" for a in attempts)
        raise RemoteError(f"{host}:{port} refused NetrSessionEnum to {creds.shown} at every level ({tried}); "
                          "servers answer it to Administrators only")
    return {"server": host, "port": port, "as": creds.shown, "level": outcome.level, "attempts": attempts,
            "total_entries": outcome.total_entries, "sessions": [_row(s) for s in outcome.sessions]}


async def remote_close(host: str, port: int, creds: Credentials, *, client: str | None, user: str | None,
                       timeout: float = 10.0) -> dict[str, Any]:
    """Rule 4: NetrSessionDel."""
    from ..client import srvsvc
    from ..client.remote import open_rpc

    if not client and not user:
        raise RemoteError("close with --remote needs --client ADDRESS and/or --user NAME", 2)
    if client and not client.startswith("\\\\"):
        client = "\\\\" + client
    try:
        async with open_rpc(host, port, srvsvc.PIPE, srvsvc.SYNTAX, creds.user, creds.password, creds.domain,
                            timeout=timeout) as rpc:
            await asyncio.wait_for(srvsvc.session_del(rpc, client_name=client, user_name=user), timeout)
    except Exception as exc:
        raise _failure(host, port, creds, exc) from None
    return {"server": host, "port": port, "closed": {"client": client, "user": user}}


def _table(doc: dict[str, Any], anonymous_only: bool) -> Any:
    from rich.table import Table
    from rich.text import Text

    from .cli import _duration

    rows = [r for r in doc["sessions"] if not anonymous_only or r["kind"] == "anonymous"]
    anon = sum(1 for r in doc["sessions"] if r["kind"] == "anonymous")
    guests = sum(1 for r in doc["sessions"] if r["kind"] == "guest")
    title = (f"{doc['server']}:{doc['port']}: {len(doc['sessions'])} session"
             f"{'s' if len(doc['sessions']) != 1 else ''} ({anon} anonymous, {guests} guest) "
             f"· NetrSessionEnum level {doc['level']} as {doc['as']}")
    table = Table(title=title, title_justify="left", header_style="bold")
    for name, kw in (("Client", {"no_wrap": True}), ("User", {}), ("Opens", {"justify": "right"}),
                     ("Connected", {"justify": "right"}), ("Idle", {"justify": "right"}),
                     ("Client type", {}), ("Transport", {})):
        table.add_column(name, **kw)
    for r in rows:
        user = Text(r["user"] if r["user"] is not None else "")
        if r["kind"] == "anonymous":
            user.append(" ANONYMOUS", style="bold white on red")
        elif r["kind"] == "guest":
            user.append(" GUEST", style="bold black on yellow")
        table.add_row(r["client"], user, "" if r["opens"] is None else str(r["opens"]),
                      _duration(r["connected_s"]), _duration(r["idle_s"]), r["client_type"] or "",
                      r["transport"] or "")
    if not rows:
        table.add_row(Text("no sessions", style="dim"), "", "", "", "", "", "")
    refused = [a for a in doc["attempts"] if a["status"] != "WERR_OK"]
    if refused:
        table.caption = "levels refused first: " + ", ".join(f"{a['level']} ({a['status']})" for a in refused)
    return table


def run_remote(args: Any, out: TextIO) -> int:
    """The CLI's --remote branch: list (optionally --watch) or close."""
    import time

    from .cli import _console

    host, port = parse_target(args.remote, getattr(args, "port", None) or DEFAULT_PORT)
    creds = parse_credentials(getattr(args, "user_spec", None))
    timeout = getattr(args, "timeout", None) or 10.0
    if args.action == "close":
        doc = asyncio.run(remote_close(host, port, creds, client=args.client, user=args.close_user,
                                       timeout=timeout))
        if args.json:
            out.write(json.dumps(doc, indent=2) + "\n")
        else:
            who = " and ".join(f"{k} {v}" for k, v in (("client", doc["closed"]["client"]),
                                                          ("user", doc["closed"]["user"])) if v)
            out.write(f"{host}:{port}: closed the sessions of {who}\n")
        return 0
    if args.action is not None:
        raise RemoteError(f"`{args.action}` works with the local admin API only, not with --remote", 2)
    while True:
        doc = asyncio.run(remote_list(host, port, creds, timeout=timeout))
        if args.json:
            if args.anonymous:
                doc = dict(doc, sessions=[r for r in doc["sessions"] if r["kind"] == "anonymous"])
            out.write(json.dumps(doc, indent=None if args.watch else 2, ensure_ascii=False) + "\n")
            out.flush()
        else:
            _console(out).print(_table(doc, args.anonymous))
        if not args.watch:
            return 0
        try:
            time.sleep(args.interval)
        except KeyboardInterrupt:
            return 0
