"""``nullsmb audit``: query the audit trail (design.md §1, §5).

Rules:
1. The log is ``--file PATH``, else the ``[audit] file`` of ``--config FILE``, else ./audit.jsonl
   (the demo's). Rotated copies (``.N``, ``.N.gz``) are read too, oldest first.
2. Human output is an aligned table (rich's when it is installed and stdout is a terminal, plain
   columns otherwise, so pipes and grep get plain text); ``--json`` writes JSON Lines.
3. Exit codes: 0 success (also when nothing matched), 1 no log to read, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import os
from pathlib import Path
from typing import Any, Iterable, TextIO

__all__ = ["register", "run"]

_DESCRIPTION = """\
Show the audit trail: every logon, share and file or pipe open, RPC call and policy change,
with Windows event IDs (4624 logon, 4625 failed logon, 4634 logoff, 5140 share access,
5145 object access, 5712 RPC call, 4657 policy change). Every denial names the rule that made it.

--summary answers "did null sessions touch my resources?": one row per anonymous client with
the shares, files, pipes and RPC operations it reached, the items RPC calls returned to it and
its denials."""

_EPILOG = """\
examples:
  nullsmb audit --anonymous --since 1h
  nullsmb audit --summary
  nullsmb audit --config server.toml --event 5140,5145 --outcome failure
  nullsmb audit --file /var/log/nullsmb/audit.jsonl --user alice --since 2026-11-25T10:00
  nullsmb audit --client 10.0.0.0/8 --json | jq .
  nullsmb audit --anonymous --follow

--since takes a duration (90s, 30m, 1h, 2d, 1w) or a time (2026-11-25, 2026-11-25T10:00; local
time unless it ends in Z or an offset). --event takes IDs or names (logon, share_access, ...).
"""


def register(commands: Any) -> argparse.ArgumentParser:
    """Add ``audit`` to the sub-commands of ``nullsmb``."""
    p = commands.add_parser("audit", help="query the audit trail (who did what, anonymous flagged)",
                            description=_DESCRIPTION, epilog=_EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--file", metavar="PATH", help="the audit log (default: ./audit.jsonl)")
    where.add_argument("--config", metavar="FILE", help="read the log named by [audit] file of FILE")
    p.add_argument("--anonymous", action="store_true", help="only null sessions (ANONYMOUS LOGON)")
    p.add_argument("--guest", action="store_true", help="only guest sessions")
    p.add_argument("--user", metavar="NAME", help="only this user (NAME or DOMAIN\\NAME)")
    p.add_argument("--client", metavar="IP", help="only this client address or network (10.0.0.0/8)")
    p.add_argument("--event", metavar="IDS", help="only these events, comma-separated: 4624,5140")
    p.add_argument("--outcome", choices=("success", "failure"), help="only successes or failures")
    p.add_argument("--since", metavar="WHEN", help="only events since WHEN: 1h, 30m, 2d, 2026-11-25T10:00")
    p.add_argument("--limit", metavar="N", type=_positive, help="only the last N matching events")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--summary", action="store_true",
                     help="what each anonymous client reached (shares, files, pipes, RPC, denials)")
    out.add_argument("--follow", "-f", action="store_true",
                     help="keep printing new events as they come (like tail -f); Ctrl-C ends")
    p.add_argument("--json", action="store_true", help="JSON Lines output (one object per line)")
    p.set_defaults(run=run)
    return p


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _log_path(args: argparse.Namespace) -> Path | None:
    if args.file:
        return Path(args.file).expanduser()
    if args.config:
        from nullsmb.config import ConfigError, load_config

        try:
            config = load_config(args.config)
        except ConfigError as exc:
            _error(str(exc))
            return None
        if config.audit.file == "-":
            _error(f'{args.config}: [audit] file is "-" (standard output): give --file PATH')
            return None
        return Path(config.audit.file)
    return Path.cwd() / "audit.jsonl"


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from .events import parse_event_ids
    from .query import Filter, follow, log_files, parse_since, read_events, summarize

    out = out or sys.stdout
    try:
        since = parse_since(args.since) if args.since else None
        events = parse_event_ids(args.event.split(",")) if args.event else None
    except ValueError as exc:
        _error(str(exc))
        return 2
    path = _log_path(args)
    if path is None:
        return 2
    if not log_files(path) and not args.follow:
        _error(f"{path}: no audit log there (give --file PATH or --config FILE)")
        return 1
    flt = Filter(anonymous=args.anonymous, guest=args.guest, user=args.user, client=args.client,
                 events=events, outcome=args.outcome, since=since)
    try:
        if args.summary:
            clients = summarize(r for r in read_events(path, since=since) if flt(r))
            _print_summary(clients, out, as_json=args.json)
            return 0
        try:  # --follow goes on from here: nothing written while the history is read is missed
            offset: int | None = path.stat().st_size
        except OSError:
            offset = None
        matched: Iterable[dict[str, Any]] = (r for r in read_events(path, since=since) if flt(r))
        limit = args.limit
        if args.follow and limit is None and since is None:
            limit = 10  # like tail -f: the last few, then what comes
        if limit is not None:
            from collections import deque

            matched = deque(matched, maxlen=limit)
        if args.follow:
            printer = _Printer(out, as_json=args.json, stream=True)
            for record in matched:
                printer.add(record)
            try:
                for record in follow(path, offset=offset):
                    if flt(record):
                        printer.add(record)
            except KeyboardInterrupt:
                return 0
            return 0
        printer = _Printer(out, as_json=args.json, stream=False)
        for record in matched:
            printer.add(record)
        printer.finish()
    except BrokenPipeError:  # | head: stop quietly (Python's documented recipe)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return 0


# -- output -------------------------------------------------------------------------------------------

_HEADERS = ("TIME", "ID", "EVENT", "RESULT", "USER", "CLIENT", "OBJECT", "DETAIL")


def _short_time(text: str) -> str:
    # 2026-11-25T10:00:00.123456Z → 2026-11-25 10:00:00.123Z
    if len(text) >= 23 and text[10] == "T":
        return f"{text[:10]} {text[11:23]}Z"
    return text


def _user(r: dict[str, Any]) -> str:
    user = str(r.get("user") or "")
    domain = str(r.get("domain") or "")
    name = f"{domain}\\{user}" if domain and user else user or "-"
    if r.get("guest"):
        name += " (guest)"
    return name


def _client(r: dict[str, Any]) -> str:
    ip = str(r.get("client_ip") or "")
    if not ip:
        return "-"
    port = r.get("client_port")
    shown = f"[{ip}]" if ":" in ip else ip
    return f"{shown}:{port}" if port else shown


def _object(r: dict[str, Any]) -> str:
    event_id = r.get("event_id")
    if event_id == 5140:
        return str(r.get("share") or "")
    if event_id == 5145:
        share = str(r.get("share") or "").rsplit("\\", 1)[-1]
        return f"{share}:{r.get('target') or ''}"
    if event_id == 5712:
        return f"{r.get('interface') or '?'}.{r.get('operation') or r.get('opnum')}"
    if event_id == 4657:
        return str(r.get("setting") or "")
    if event_id in (4624, 4625):
        return str(r.get("workstation") or "")
    return ""


def _detail(r: dict[str, Any]) -> str:
    event_id = r.get("event_id")
    parts: list[str] = []
    if event_id == 4634:
        parts.append(f"{r.get('reason') or ''} after {r.get('duration_s', 0)}s")
    elif event_id == 4625:
        parts += [str(r.get("status") or ""), str(r.get("failure_reason") or "")]
    elif event_id == 4657:
        parts.append(f"{json.dumps(r.get('old'))} → {json.dumps(r.get('new'))} by {r.get('by') or '?'}")
    elif r.get("event") == "audit_events_lost":
        parts.append(f"{r.get('lost')} events lost {r.get('since')} … {r.get('until')} ({r.get('sink')})")
    else:
        if r.get("outcome") == "failure" and r.get("status"):
            parts.append(str(r["status"]))
        if event_id == 5712 and r.get("outcome") == "success":
            parts.append(f"returned {r.get('returned', 0)}")
        if r.get("access_mask") and event_id in (5140, 5145):
            parts.append(f"access {r['access_mask']}")
        if r.get("rule"):
            parts.append(f"rule {r['rule']}")
    return "; ".join(p for p in parts if p)


def _row(r: dict[str, Any]) -> tuple[str, ...]:
    anon = " *" if r.get("anonymous") else ""
    return (_short_time(str(r.get("time") or "")), str(r.get("event_id") or ""), str(r.get("event") or ""),
            str(r.get("outcome") or ""), _user(r) + anon, _client(r), _object(r), _detail(r))


def _rich_console(out: TextIO) -> Any:
    if not (hasattr(out, "isatty") and out.isatty()):
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=out)


def _plain_table(headers: tuple[str, ...], rows: list[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    for row in (headers, *rows):
        cells = [c.ljust(w) for c, w in zip(row, widths)]
        print("  ".join(cells).rstrip(), file=out)


def _plain_width(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> int:
    return sum(max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
               for i, h in enumerate(headers)) + 2 * (len(headers) - 1)


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]], out: TextIO, title: str = "",
           keep_whole: tuple[int, ...] = ()) -> None:
    """An aligned table: rich's on a terminal wide enough for it (so no cell is folded into
    fragments), plain columns otherwise; columns in ``keep_whole`` are never wrapped."""
    console = _rich_console(out)
    if console is not None and _plain_width(headers, rows) + 2 * len(headers) <= console.width:
        from rich import box
        from rich.table import Table

        table = Table(title=title or None, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for i, header in enumerate(headers):
            whole = i in keep_whole
            table.add_column(header, no_wrap=whole, overflow="fold",
                             min_width=max(len(header), *(len(r[i]) for r in rows)) if whole and rows else None)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    if title:
        print(title, file=out)
    _plain_table(headers, rows, out)


class _Printer:
    """Collects rows for one aligned table; in follow mode prints each line as it comes."""

    def __init__(self, out: TextIO, *, as_json: bool, stream: bool) -> None:
        self.out, self.as_json, self.stream = out, as_json, stream
        self.rows: list[tuple[str, ...]] = []
        self.header_done = False

    def add(self, record: dict[str, Any]) -> None:
        if self.as_json:
            print(json.dumps(record, ensure_ascii=False, separators=(",", ":")), file=self.out, flush=self.stream)
            return
        if not self.stream:
            self.rows.append(_row(record))
            return
        widths = (23, 4, 14, 7, 32, 21, 28)
        if not self.header_done:
            self.header_done = True
            print("  ".join(h.ljust(w) for h, w in zip(_HEADERS, widths)) + "  " + _HEADERS[-1], file=self.out)
        row = _row(record)
        print(("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1]).rstrip(),
              file=self.out, flush=True)

    def finish(self) -> None:
        if self.as_json or self.stream:
            return
        if not self.rows:
            print("no matching events", file=self.out)
            return
        _table(_HEADERS, self.rows, self.out, keep_whole=(1, 3))
        anon = any(r[4].endswith(" *") for r in self.rows)
        if anon:
            print("* ANONYMOUS LOGON (null session)", file=self.out)


def _join(items: Iterable[str], limit: int = 6) -> str:
    items = list(items)
    if not items:
        return "-"
    shown = ", ".join(items[:limit])
    return shown + (f", … (+{len(items) - limit})" if len(items) > limit else "")


def _print_summary(clients: list[Any], out: TextIO, *, as_json: bool) -> None:
    if as_json:
        for c in clients:
            print(json.dumps(c.as_dict(), ensure_ascii=False, separators=(",", ":")), file=out)
        return
    if not clients:
        print("no null-session activity in the log", file=out)
        return
    headers = ("CLIENT", "SESSIONS", "SHARES", "FILES", "PIPES", "RPC OPERATIONS", "RETURNED", "DENIED")
    rows = []
    for c in clients:
        rpc = [f"{op}×{n}" if n > 1 else op for op, n in sorted(c.rpc.items())]
        rows.append((c.client_ip, str(c.sessions), _join(sorted(c.shares)), _join(sorted(c.files)),
                     _join(sorted(c.pipes)), _join(rpc), str(c.returned), str(c.denied)))
    _table(headers, rows, out, title="What null sessions (ANONYMOUS LOGON) reached, per client",
           keep_whole=(0, 1, 6, 7))
    for c in clients:
        if c.denials:
            print(f"{c.client_ip} was denied: " + "; ".join(
                f"{what}{f' ×{n}' if n > 1 else ''}" for what, n in sorted(c.denials.items())), file=out)
    first = min((c.first for c in clients if c.first), default="")
    last = max((c.last for c in clients if c.last), default="")
    if first:
        print(f"period: {first} … {last}", file=out)
    reached = [c.client_ip for c in clients if c.reached_anything]
    verdict = (f"null sessions reached resources from {len(reached)} client(s)" if reached
               else "null sessions logged on but reached no share, file, pipe or RPC operation")
    print(verdict, file=out)

