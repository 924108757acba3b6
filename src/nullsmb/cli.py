"""The ``nullsmb`` command (design.md §1).

Rules:
1. argparse only: no framework whose error pages print local variables (passwords).
2. Exit codes: 0 success, 1 a finding or an operational failure, 2 bad usage or bad input.
3. Bad input is one line on stderr, ``error: <message>``, never a traceback.
4. Every sub-command has ``--help`` with examples.
"""

from __future__ import annotations

from typing import NoReturn

import argparse
import logging
import sys
from importlib import metadata
from pathlib import Path

from nullsmb.config import ConfigError, apply_overrides, default_config, load_config, with_run_as

__all__ = ["main"]

_PROG = "nullsmb"
_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}

_MAIN_EPILOG = """\
examples:
  nullsmb serve                       demo: ./nullsmb-share as "public" on 127.0.0.1:4445
  nullsmb serve --config server.toml  real use: shares, users and policy from a file
  nullsmb serve --help                the options of one command

exit codes: 0 success, 1 finding or operational failure, 2 bad usage or bad input
"""

_SERVE_DESCRIPTION = """\
Run the SMB2/3 server in the foreground until Ctrl-C or SIGTERM.

Without --config it serves a demo: ./nullsmb-share (created if missing) as the share
"public", which null sessions may read and list, on 127.0.0.1:4445, with the admin UI on
127.0.0.1:8445. Relative paths in a config file are taken from the file's directory."""

_SERVE_EPILOG = """\
examples:
  nullsmb serve
  nullsmb serve --config server.toml
  nullsmb serve --listen 0.0.0.0:445 --share data=/srv/data:ro

--listen replaces every address of the config file. --share NAME=PATH adds a share that
Everyone (not ANONYMOUS LOGON) may read, or points an existing share of that name at PATH
and keeps its access list; add :ro to make it read-only. Null sessions reach a share only if
[policy] NullSessionShares lists it.

Port 445 (the port Windows clients use) is below 1024. Start as root and drop root once
the port is bound:
  sudo nullsmb serve --config server.toml --run-as nobody     (or [server] run_as = "nobody")
The shares, state_dir and audit file must then be usable by that user. Or let Python bind
low ports without root:
  sudo setcap cap_net_bind_service=+ep $(readlink -f $(which python3))
(this lets every program run by that interpreter bind ports below 1024).
"""


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``nullsmb`` and ``python -m nullsmb``; returns the exit code."""
    parser = _parser()
    args, extras = parser.parse_known_args(argv)
    # argparse takes a nargs="+" positional in one run: `probe A --json B` leaves B over. A
    # command that names its list in ``more_positionals`` gets such words appended to it.
    more = getattr(args, "more_positionals", None)
    if extras and more and not any(e.startswith("-") for e in extras):
        getattr(args, more).extend(extras)
    elif extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return int(args.run(args))


def _serve(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config) if args.config else default_config(Path.cwd())
        config = apply_overrides(config, listen=args.listen or (), shares=args.share or ())
        if args.run_as:
            config = with_run_as(config, args.run_as)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=_LOG_LEVELS[args.log_level],
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from nullsmb.aio.lifecycle import run_server  # imported late: --help must stay light

    return run_server(config)


class _OneLineParser(argparse.ArgumentParser):
    """Bad usage is one line on stderr and exit code 2 (design.md §1), naming where help is."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        if "required: COMMAND" in message:  # a bare `nullsmb` or `nullsmb policy`: show the commands
            self.print_usage(sys.stderr)
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog=_PROG,
        description="An SMB 2/3 server that fences null sessions the way Windows does.",
        epilog=_MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    commands.required = True

    serve = commands.add_parser(
        "serve",
        help="run the server",
        description=_SERVE_DESCRIPTION,
        epilog=_SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--config", metavar="FILE", help="TOML configuration file (default: the demo setup)"
    )
    serve.add_argument(
        "--listen",
        metavar="HOST:PORT",
        action="append",
        help="address to listen on, [V6]:PORT for IPv6; repeatable (replaces the config's list)",
    )
    serve.add_argument(
        "--share",
        metavar="NAME=PATH[:ro]",
        action="append",
        help="share a directory; repeatable",
    )
    serve.add_argument(
        "--run-as",
        metavar="USER",
        help="after binding the listen ports (e.g. 445 as root), drop root and run as this unix user",
    )
    serve.add_argument(
        "--log-level",
        choices=tuple(_LOG_LEVELS),
        default="info",
        help="diagnostic log level on stderr (default: %(default)s)",
    )
    serve.set_defaults(run=_serve)
    from nullsmb.admin.cli import register as _register_sessions; _register_sessions(commands)
    from nullsmb.audit.cli import register as _register_audit; _register_audit(commands)
    from nullsmb.policy.cli import register as _register_policy; _register_policy(commands)
    from nullsmb.probe.cli import register as _register_probe; _register_probe(commands)
    return parser


def _version() -> str:
    try:
        return metadata.version("nullsmb")
    except metadata.PackageNotFoundError:
        return "(not installed)"
