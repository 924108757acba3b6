"""``nullsmb sessions``: Server Manager in the terminal, over the admin API (design.md §1, §6).

Rules:
1. The API and its token come from ``--admin URL --token-file F``, else ``[admin]`` of
   ``--config FILE`` (the file the server was started with), else the demo's
   http://127.0.0.1:8445 and ./.nullsmb/admin.token.
2. Exit codes: 0 success, 1 an operational failure (server not running, token refused, no such
   session), 2 bad usage; every failure is one line on stderr, never a traceback, and never
   shows the token.
3. Plain urllib, no event loop: the CLI stays light and works without aiohttp.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

__all__ = ["register", "run"]

DEMO_URL = "http://127.0.0.1:8445"
DEMO_TOKEN_FILE = Path(".nullsmb") / "admin.token"
TIMEOUT = 10.0

_DESCRIPTION = """\
Who is connected to a nullsmb server, with null sessions (ANONYMOUS LOGON) and guests flagged;
close a session, optionally refusing the same user from the same address for a while.

Talks to the server's admin API: the server must be running with [admin] enabled (the default;
`nullsmb serve` prints "admin: URL (token in FILE)")."""

_EPILOG = """\
examples:
  nullsmb sessions                              the demo server's sessions
  nullsmb sessions --anonymous                  null sessions only
  nullsmb sessions --config server.toml --watch
  nullsmb sessions --json | jq '.sessions[] | select(.anonymous)'
  nullsmb sessions close 0x400000001
  nullsmb sessions close 0x400000001 --block 600
  nullsmb sessions blocks
  nullsmb sessions unblock anonymous@10.0.0.7
  nullsmb sessions --admin http://10.0.0.5:8445 --token-file branch.token

any SMB server (nullsmb, Samba, Windows), over srvsvc as NT's Server Manager did:
  nullsmb sessions --remote 10.0.0.5 -U 'CORP\\alice'        asks for the password
  nullsmb sessions --remote 127.0.0.1:4445 -U alice%Passw0rd! --anonymous
  nullsmb sessions --remote 10.0.0.5 -U alice close --client 10.0.0.7 [--user bob]

exit codes: 0 success, 1 server not reachable, token refused or no such session, 2 bad usage
"""


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 366 * 24 * 3600:
        raise argparse.ArgumentTypeError(f"must be a number of seconds from 1 to 31622400 (got {text!r})")
    return value


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.2 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be a number of seconds from 0.2 to 3600 (got {text!r})")
    return value


def _where(p: argparse.ArgumentParser, inherit: bool) -> None:
    """--config / --admin / --token-file; on an action's parser they default to the parent's."""
    kw: dict[str, Any] = {"default": argparse.SUPPRESS} if inherit else {}
    group = p.add_argument_group("which server")
    group.add_argument("--config", metavar="FILE", help="the server's TOML config: its [admin] listen "
                       "and token_file", **kw)
    group.add_argument("--admin", metavar="URL", help=f"admin API URL (default: {DEMO_URL})", **kw)
    group.add_argument("--token-file", metavar="FILE",
                       help=f"bearer token file (default: ./{DEMO_TOKEN_FILE})", **kw)
    p.add_argument("--json", action="store_true", help="JSON output", **kw)


def register(commands: Any) -> argparse.ArgumentParser:
    """Add ``sessions`` to the sub-commands of ``nullsmb``."""
    p = commands.add_parser("sessions", help="Server Manager: list and close sessions (anonymous flagged)",
                            description=_DESCRIPTION, epilog=_EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    _where(p, inherit=False)
    p.add_argument("--anonymous", action="store_true", help="only null sessions (ANONYMOUS LOGON)")
    p.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    p.add_argument("--interval", metavar="SECONDS", type=_interval, default=2.0,
                   help="refresh interval of --watch (default: %(default)s)")
    remote = p.add_argument_group(
        "another server, over srvsvc (NetrSessionEnum level 502, falling back to 10, 2, 1, 0; "
        "NetrSessionDel): most servers answer Administrators only")
    remote.add_argument("--remote", metavar="HOST[:PORT]", help="list the sessions of this SMB server")
    remote.add_argument("-U", "--user", dest="user_spec", metavar="[DOMAIN\\]USER[%PASS]",
                        help="log on as this user (smbclient's form; without %%PASS the password is "
                        "asked, or read from $NULLSMB_PASSWORD; -U%% is a null session)")
    remote.add_argument("--timeout", metavar="SECONDS", type=_interval, default=10.0,
                        help="per request (default: %(default)s)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", title="actions (default: list)")
    close = actions.add_parser("close", help="close a session's connection (opens close, logoff audited)",
                               description="Close the connection a session belongs to: every session "
                               "on it is logged off (audited with reason admin_close) and its files "
                               "close. With --block, the same user (or ANONYMOUS LOGON, or Guest) from "
                               "the same address is refused at session setup until the block expires.",
                               epilog="example:\n  nullsmb sessions close 0x400000001 --block 600",
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    close.add_argument("id", nargs="?", help="session id as listed (hex, e.g. 0x400000001)")
    close.add_argument("--block", metavar="SECONDS", type=_seconds,
                       help="refuse the reconnect for this long")
    close.add_argument("--client", metavar="ADDRESS", default=argparse.SUPPRESS,
                       help="with --remote: close the sessions from this client (NetrSessionDel)")
    close.add_argument("--user", dest="close_user", metavar="NAME", default=argparse.SUPPRESS,
                       help="with --remote: close the sessions of this user")
    _where(close, inherit=True)
    blocks = actions.add_parser("blocks", help="list active blocks")
    _where(blocks, inherit=True)
    unblock = actions.add_parser("unblock", help="lift a block (its id as `blocks` lists it)")
    unblock.add_argument("block_id", metavar="ID", help="e.g. anonymous@10.0.0.7 or user:alice@10.0.0.7")
    _where(unblock, inherit=True)
    p.set_defaults(run=run, action=None)
    return p


# --- talking to the API -----------------------------------------------------------------------------


@dataclass
class Api:
    url: str  # no trailing slash
    token_file: Path

    def token(self) -> str:
        try:
            token = self.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CliError(f"cannot read the admin token {self.token_file}: {exc.strerror or exc} "
                           "(the server creates it when it starts; or give --token-file)") from None
        if not token:
            raise CliError(f"the admin token file {self.token_file} is empty")
        return token

    def call(self, method: str, path: str, query: dict[str, str] | None = None) -> Any:
        url = f"{self.url}/api/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(url, method=method,
                                         headers={"Authorization": f"Bearer {self.token()}",
                                                  "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise CliError(f"the admin API at {self.url} refused the token in {self.token_file}") from None
            try:
                message = json.loads(exc.read()).get("error") or exc.reason
            except (ValueError, AttributeError, OSError):
                message = exc.reason
            raise CliError(f"{message} (HTTP {exc.code})") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            why = getattr(reason, "strerror", None) or str(reason)
            if isinstance(reason, ConnectionRefusedError):
                why = "connection refused"
            raise CliError(f"no admin API at {self.url} ({why}): is `nullsmb serve` running "
                           "with [admin] enabled?") from None
        except (socket.timeout, TimeoutError):
            raise CliError(f"the admin API at {self.url} did not answer within {TIMEOUT:.0f} s") from None
        except (ConnectionError, ValueError) as exc:
            raise CliError(f"the admin API at {self.url} failed: {exc}") from None


def _locate(args: argparse.Namespace) -> Api:
    config = getattr(args, "config", None)
    admin = getattr(args, "admin", None)
    token_file = getattr(args, "token_file", None)
    if config and admin:
        raise CliError("give --config or --admin, not both", 2)
    if config:
        from nullsmb.config import ConfigError, load_config

        try:
            cfg = load_config(config)
        except ConfigError as exc:
            raise CliError(str(exc), 2) from None
        host, port = cfg.admin.listen.host, cfg.admin.listen.port
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        return Api(url, Path(token_file) if token_file else cfg.admin.token_file)
    url = (admin or DEMO_URL).rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"--admin must be an http:// or https:// URL such as {DEMO_URL} (got {admin!r})", 2)
    return Api(url, Path(token_file) if token_file else DEMO_TOKEN_FILE)


# --- output -------------------------------------------------------------------------------------------


def _short(session_id: str) -> str:
    return "0x" + (session_id[2:].lstrip("0") or "0")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _client(row: dict) -> str:
    ip = row["client_ip"]
    return (f"[{ip}]" if ":" in ip else ip) + f":{row['client_port']}"


def _security(row: dict) -> str:
    parts = (["encrypted"] if row.get("encryption") else []) + (["signed"] if row.get("signing") else [])
    return ",".join(parts) or "-"


def _table(data: dict, title_extra: str = "") -> Any:
    from rich.table import Table
    from rich.text import Text

    server = data["server"]
    rows = data["sessions"]
    title = (f"{server['name']}: {len(rows)} session{'s' if len(rows) != 1 else ''}"
             f" ({server['anonymous_sessions']} anonymous, {server['guest_sessions']} guest)"
             + title_extra)
    table = Table(title=title, title_justify="left", header_style="bold")
    for name, kw in (("Session", {"no_wrap": True}), ("User", {}), ("Client", {"no_wrap": True}),
                     ("Workstation", {}), ("Dialect", {}), ("Security", {}),
                     ("Trees", {"justify": "right"}), ("Opens", {"justify": "right"}),
                     ("Connected", {"justify": "right"}), ("Idle", {"justify": "right"})):
        table.add_column(name, **kw)
    for row in rows:
        user = Text(row["user"])
        if row["anonymous"]:
            user.append(" ANONYMOUS", style="bold white on red")
        if row["guest"]:
            user.append(" GUEST", style="bold black on yellow")
            if row.get("account"):
                user.append(f" (as {row['account']})", style="dim")
        table.add_row(_short(row["id"]), user, _client(row), row.get("workstation") or "",
                      row.get("dialect") or "", _security(row), str(row["trees"]),
                      str(row["opens"] + row["pipes"]), _duration(row["connected_s"]),
                      _duration(row["idle_s"]))
    if not rows:
        table.add_row("", Text("no sessions", style="dim"), "", "", "", "", "", "", "", "")
    return table


def _console(out: TextIO) -> Any:
    from rich.console import Console

    tty = hasattr(out, "isatty") and out.isatty()
    return Console(file=out, width=None if tty else 160, highlight=False, soft_wrap=False)


# --- actions ----------------------------------------------------------------------------------------


def _list(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    query = {"anonymous": "1"} if args.anonymous else None
    if not args.watch:
        data = api.call("GET", "sessions", query)
        if args.json:
            out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        else:
            _console(out).print(_table(data))
        return 0
    if args.json:  # one JSON document per line, per refresh
        try:
            while True:
                out.write(json.dumps(api.call("GET", "sessions", query), ensure_ascii=False) + "\n")
                out.flush()
                time.sleep(args.interval)
        except KeyboardInterrupt:
            return 0
    from rich.live import Live

    console = _console(out)
    try:
        with Live(console=console, auto_refresh=False, transient=False) as live:
            while True:
                data = api.call("GET", "sessions", query)
                live.update(_table(data, f" · every {args.interval:g}s, Ctrl-C ends"), refresh=True)
                time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


def _close(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    from .snapshot import parse_session_id

    session_id = parse_session_id(args.id)
    if session_id is None:
        raise CliError(f"{args.id!r} is not a session id (hex as listed, e.g. 0x400000001)", 2)
    query = {"block": f"{args.block:g}"} if args.block else None
    result = api.call("DELETE", f"sessions/0x{session_id:x}", query)
    if args.json:
        out.write(json.dumps(result, indent=2) + "\n")
        return 0
    closed = ", ".join(_short(s) for s in result["closed"]) or "nothing"
    line = f"closed {closed} (connection from {result['client']})"
    if result.get("block"):
        line += f"; {result['block']['id']} blocked for {_duration(result['block']['remaining_s'])}"
    out.write(line + "\n")
    return 0


def _blocks(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    data = api.call("GET", "blocks")
    if args.json:
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    if not data["blocks"]:
        out.write("no blocks\n")
    for b in data["blocks"]:
        out.write(f"{b['id']}  until {b['until']}  ({_duration(b['remaining_s'])} left)\n")
    return 0


def _unblock(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    api.call("DELETE", "blocks/" + urllib.parse.quote(args.block_id, safe=""))
    out.write(f"lifted {args.block_id}\n")
    return 0


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if getattr(args, "remote", None):
        from .remote import RemoteError, run_remote

        for name in ("client", "close_user"):
            if not hasattr(args, name):
                setattr(args, name, None)
        try:
            return run_remote(args, out)
        except RemoteError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.code
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            return 0
    if getattr(args, "user_spec", None) is not None:
        print("error: -U goes with --remote HOST (the local admin API uses its token)", file=sys.stderr)
        return 2
    if args.action == "close" and (getattr(args, "client", None) or getattr(args, "close_user", None)):
        print("error: close --client/--user go with --remote HOST; locally give the session id", file=sys.stderr)
        return 2
    if args.action == "close" and not args.id:
        print("error: close needs the session id as listed (e.g. 0x400000001)", file=sys.stderr)
        return 2
    try:
        api = _locate(args)
        action = {None: _list, "close": _close, "blocks": _blocks, "unblock": _unblock}[args.action]
        return action(api, args, out)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:
        return 0
