"""``nullsmb probe``: what a null session reaches on SMB servers, with evidence and the fix.

Rules:
1. The same conventions as nullsmb.cli: argparse, ``--help`` with examples, exit 0 when no
   host has a high-severity finding, 1 when one has, 2 on bad usage with one ``error:`` line on
   stderr (argparse's own messages included) and never a traceback.
2. stdout carries the report (rich), or only JSON with --json (one document) / --jsonl (one
   line per host, as each finishes). Progress goes to stderr, and only to a terminal.
3. Nothing is written to a server unless --write-tests is given.
4. The password may come from the environment (``NULLSMB_PROBE_PASSWORD``) so it stays out of
   the process list.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from .targets import DEFAULT_RID_RANGE, UsageError, count_targets, iter_targets, parse_rid_ranges, parse_targets

__all__ = ["register"]

PASSWORD_ENV = "NULLSMB_PROBE_PASSWORD"
REPORT_WIDTH = 132
FDS_PER_HOST = 12  # sockets a host probe may hold at once (7 in step 1, 3 links, a spare)

_DESCRIPTION = """\
Probe SMB servers for what a null session (anonymous logon) can reach, step by step, each
answer kept as evidence with its exact NTSTATUS/WERROR:
  1 transport   SMB1 (an SMB1-only NEGOTIATE), each SMB2/3 dialect alone, signing, encryption,
                server GUID, the NTLM challenge's names and OS version
  2 sessions    null session, guest (a random unknown user name), --user if given: kept apart
  3 shares      tree connect to every listed share, IPC$ and well-known names; root listing;
                a write test only with --write-tests
  4 pipes       srvsvc wkssvc lsarpc samr netlogon spoolss winreg eventlog epmapper browser
  5 RPC         server/share/session enumeration, workstation info, LSA policy and domain SID,
                SID/name lookups and RID cycling (--rid-range), SAMR domains/users/groups/
                aliases/display info/password policy
  6 verdict     the RestrictAnonymous* / NullSession* behaviour observed, and findings with
                the fix for Windows, Samba and nullsmb
A denial never stops the next step."""

_EPILOG = f"""\
targets:
  HOST | HOST:PORT | [IPV6]:PORT | CIDR (e.g. 10.0.0.0/24, at most 65536 addresses) | @FILE
  (@FILE: one target per line, '#' comments; @- reads standard input)

examples:
  nullsmb probe 127.0.0.1:4445
  nullsmb probe 10.0.0.0/24 fileserver:445 --jsonl > scan.jsonl
  nullsmb probe @hosts.txt --concurrency 64 --json > scan.json
  nullsmb probe dc1 --user 'CORP\\alice' --rid-range 500-550,1000-1200
  {PASSWORD_ENV}=secret nullsmb probe dc1 --user alice      (password from the environment)

JSON output follows docs/probe-schema.json (schema_version in every host object).
exit codes: 0 no high-severity finding, 1 a high-severity finding on some host, 2 bad usage
"""


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _positive_int(limit: int) -> Any:
    def parse(text: str) -> int:
        if not text.isdigit() or not 1 <= int(text) <= limit:
            raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {limit} (got {text!r})")
        return int(text)
    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds (got {text!r})") from None
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0.1 and 3600 seconds (got {text!r})")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1-65535 (got {text!r})")
    return int(text)


def register(commands: Any) -> argparse.ArgumentParser:
    """Add ``probe`` to the sub-commands of ``nullsmb``."""
    p = commands.add_parser("probe", help="probe SMB servers for null-session exposure (evidence, verdict, fix)",
                            description=_DESCRIPTION, epilog=_EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.error = _fail  # type: ignore[method-assign]  # rule 1: one line, exit 2
    p.add_argument("targets", nargs="+", metavar="TARGET", help="host, host:port, CIDR range or @file")
    p.add_argument("--port", type=_port, default=445, help="port of targets that name none (default: %(default)s)")
    p.add_argument("--concurrency", type=_positive_int(4096), default=32,
                   help="hosts probed at once (default: %(default)s)")
    p.add_argument("--timeout", type=_seconds, default=5.0,
                   help="seconds to wait for a connection or an answer (default: %(default)s)")
    p.add_argument("--host-timeout", type=_seconds, default=120.0,
                   help="seconds one host may take in all; what it answered by then is kept (default: %(default)s)")
    p.add_argument("--user", metavar="[DOMAIN\\]USER", help="also probe as this user (an authenticated baseline)")
    p.add_argument("--password", metavar="PASS", help=f"password of --user (default: ${PASSWORD_ENV}, else empty)")
    p.add_argument("--rid-range", metavar="RANGES", default=DEFAULT_RID_RANGE,
                   help="RIDs for LSA RID cycling, e.g. 500-550,1000-1050 (default: %(default)s)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON document on stdout (docs/probe-schema.json)")
    out.add_argument("--jsonl", action="store_true", help="one JSON object per host and line, as hosts finish")
    writes = p.add_mutually_exclusive_group()
    writes.add_argument("--write-tests", dest="write_tests", action="store_true",
                        help="create and delete one temporary file on each share that lets us in")
    writes.add_argument("--no-write-tests", dest="write_tests", action="store_false",
                        help="never write anything (the default)")
    p.set_defaults(run=_run, write_tests=False, more_positionals="targets")  # `probe A --json B` too
    return p


def _read_target_file(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    return Path(path).read_text(encoding="utf-8")


def _raise_fd_limit(wanted: int) -> int:
    """Raise the soft open-file limit towards ``wanted``; the limit in force afterwards."""
    try:
        import resource
    except ImportError:  # not on this platform
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError):
            pass
    return wanted if soft == resource.RLIM_INFINITY else soft


def _options(args: argparse.Namespace) -> Any:
    from .steps.common import Credentials, ProbeOptions

    user = None
    if args.user is not None:
        import os

        name, domain = args.user, ""
        if "\\" in name:
            domain, name = name.split("\\", 1)
        if not name:
            raise UsageError(f"--user {args.user!r} names no user")
        password = args.password if args.password is not None else os.environ.get(PASSWORD_ENV, "")
        user = Credentials(name, password, domain)
    elif args.password is not None:
        raise UsageError("--password needs --user")
    if args.host_timeout < args.timeout:
        raise UsageError(f"--host-timeout ({args.host_timeout:g}) is shorter than --timeout ({args.timeout:g})")
    return ProbeOptions(timeout=args.timeout, host_timeout=args.host_timeout, user=user,
                        rid_ranges=parse_rid_ranges(args.rid_range), write_tests=args.write_tests)


def _run(args: argparse.Namespace) -> int:
    try:
        specs = parse_targets(args.targets, _read_target_file)
        options = _options(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = count_targets(specs)
    limit = _raise_fd_limit(64 + args.concurrency * FDS_PER_HOST)
    concurrency = max(1, min(args.concurrency, (limit - 64) // FDS_PER_HOST, total))
    import asyncio  # late: --help stays light

    try:
        return asyncio.run(_main(args, specs, options, total, concurrency))
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


async def _main(args: argparse.Namespace, specs: list[Any], options: Any, total: int, concurrency: int) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .jsonout import DocumentWriter, Summary, write_jsonl
    from .report import render_host, render_summary
    from .runner import HostReport, probe_many

    summary = Summary()
    stdout = sys.stdout
    document = None
    if args.json:
        opts = {"targets": list(args.targets), "port": args.port, "concurrency": concurrency,
                "timeout": options.timeout, "host_timeout": options.host_timeout,
                "user": args.user, "rid_range": args.rid_range, "write_tests": options.write_tests}
        document = DocumentWriter(stdout, tool_version=_version(), started=_now(), options=opts)
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(highlight=False, soft_wrap=False, width=REPORT_WIDTH)  # a file or pipe: room for tables
    errors = Console(stderr=True)
    progress = Progress(TextColumn("probing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[last]}"), console=errors, transient=True,
                        disable=not errors.is_terminal or total < 2)
    task = progress.add_task("probe", total=total, last="")

    def on_result(report: HostReport) -> None:
        summary.add(report)
        if document is not None:
            document.add(report)
        elif args.jsonl:
            write_jsonl(stdout, report)
        else:
            render_host(console, report)
        progress.update(task, advance=1, last=report.evidence.target)

    with progress:
        await probe_many(iter_targets(specs, args.port), options, on_result, concurrency=concurrency)
    if document is not None:
        document.finish(summary, _now())
    elif not args.jsonl:
        render_summary(console, summary)
    return summary.exit_code


def _version() -> str:
    try:
        return metadata.version("nullsmb")
    except metadata.PackageNotFoundError:
        return "(not installed)"
