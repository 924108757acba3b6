"""``nullsmb policy show | import | explain`` (design.md §1, §4).

Rules:
1. The same conventions as nullsmb.cli: argparse, ``--help`` with examples, exit 0 on success,
   2 on bad usage or bad input with one ``error:`` line on stderr, never a traceback.
2. ``explain`` exits 0 when the request would be allowed and 1 when it would be denied.
3. ``import`` reports values it does not use as ``warning:`` lines and still exits 0.
4. ``import --write`` changes only the [policy] table of the config file: values it imports are
   replaced in place (a trailing comment kept) or appended to the table; every other byte of the
   file stays. The result is validated as a whole before it atomically replaces the file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nullsmb.config import (
    _TOKEN_RE,
    Config,
    ConfigError,
    default_config,
    load_config,
    parse_policy,
)

from .importer import PolicyImportError, read_policy_export
from .model import Action, Principal, PrincipalKind, RpcCall, ShareRef
from .null_session import evaluate
from .rpc_rules import find_operation, operation_problem
from .settings import SETTINGS, effective_policy

__all__ = ["register", "set_policy_values"]

_FMT = argparse.RawDescriptionHelpFormatter

_POLICY_DESCRIPTION = """\
Inspect the null-session policy: the Windows settings (RestrictAnonymous, NullSessionPipes ...)
that decide what an anonymous session may reach, import them from a Windows export, and ask
which rule allows or refuses one request."""

_POLICY_EPILOG = """\
examples:
  nullsmb policy show --config server.toml
  nullsmb policy import hklm.reg
  nullsmb policy explain --anonymous --share data --config server.toml
  nullsmb policy COMMAND --help       the options of one command
"""

_SHOW_EPILOG = """\
examples:
  nullsmb policy show                          the demo's policy (nullsmb serve without --config)
  nullsmb policy show --config server.toml
  nullsmb policy show --config server.toml --json

Each value's source is "default" (Windows' modern default), "demo default", or "FILE line N".
"""

_IMPORT_DESCRIPTION = """\
Read the null-session settings from a Windows registry export or security template and print
them as a [policy] table to paste into the configuration, or (--write) put them into it.

Accepted files:
  reg export   regedit /e hklm.reg "HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters"
               (and ...\\Control\\Lsa): REG_DWORD and REG_MULTI_SZ (hex(7)) values, UTF-16 or ANSI
  secedit INF  secedit /export /cfg policy.inf: [Registry Values] and, in [System Access],
               LSAAnonymousNameLookup (not a registry value)
Values that are not null-session settings are listed as warnings and skipped."""

_IMPORT_EPILOG = """\
examples:
  nullsmb policy import hklm.reg                              print the [policy] table
  nullsmb policy import policy.inf --config server.toml       print the table server.toml would get
  nullsmb policy import policy.inf --config server.toml --write

--write replaces the imported values in server.toml's [policy] table (or adds them, or the
table) and leaves the rest of the file as it is; the whole file is validated first.
Exit codes: 0 done (even with warnings), 2 unreadable file or invalid value.
"""

_EXPLAIN_DESCRIPTION = """\
Say whether a request would be allowed, the status it would get and the chain of rules that
decided it. Exit code 0 if allowed, 1 if denied, 2 on bad usage."""

_EXPLAIN_EPILOG = """\
examples:
  nullsmb policy explain --anonymous --share IPC$
  nullsmb policy explain --anonymous --share data --config server.toml
  nullsmb policy explain --anonymous --pipe samr
  nullsmb policy explain --anonymous --op srvsvc:NetrShareEnum --level 1
  nullsmb policy explain --guest --op lsarpc:LsarLookupSids2
  nullsmb policy explain --user alice --op srvsvc:NetrSessionEnum --level 10 --config server.toml

--user takes the user's groups from the config; --group adds groups (e.g. Administrators).
RPC operations use the MS-SRVS/-WKST/-LSAD/-LSAT/-SAMR names (srvsvc, wkssvc, lsarpc, samr).
Exit codes: 0 allowed, 1 denied, 2 bad usage or bad input.
"""


class _UsageError(Exception):
    """One ``error:`` line and exit code 2."""


def register(commands: Any) -> None:
    """Add ``policy`` and its sub-commands to nullsmb's sub-parsers."""
    policy = commands.add_parser("policy", help="show, import and explain the null-session policy",
                                 description=_POLICY_DESCRIPTION, epilog=_POLICY_EPILOG,
                                 formatter_class=_FMT)
    sub = policy.add_subparsers(title="commands", dest="policy_command", metavar="COMMAND")
    sub.required = True

    show = sub.add_parser("show", help="the effective settings and where each came from",
                          description="Print the effective null-session settings and the source of each.",
                          epilog=_SHOW_EPILOG, formatter_class=_FMT)
    show.add_argument("--config", metavar="FILE", help="TOML configuration file (default: the demo setup)")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.set_defaults(run=_guarded(_show))

    imp = sub.add_parser("import", help="read settings from a Windows .reg export or secedit INF",
                         description=_IMPORT_DESCRIPTION, epilog=_IMPORT_EPILOG, formatter_class=_FMT)
    imp.add_argument("file", metavar="FILE", help=".reg export or secedit /export INF")
    imp.add_argument("--config", metavar="CFG", help="configuration file to merge into (and --write)")
    imp.add_argument("--write", action="store_true", help="update CFG's [policy] table in place")
    imp.set_defaults(run=_guarded(_import))

    exp = sub.add_parser("explain", help="the decision for one request and the rules behind it",
                         description=_EXPLAIN_DESCRIPTION, epilog=_EXPLAIN_EPILOG, formatter_class=_FMT)
    who = exp.add_mutually_exclusive_group(required=True)
    who.add_argument("--anonymous", action="store_true", help="a null session (ANONYMOUS LOGON)")
    who.add_argument("--guest", action="store_true", help="a guest session")
    who.add_argument("--user", metavar="NAME", help="a user session")
    what = exp.add_mutually_exclusive_group(required=True)
    what.add_argument("--share", metavar="S", help="tree connect to share S (IPC$ included)")
    what.add_argument("--pipe", metavar="P", help="open pipe P on IPC$ (\\PIPE\\ prefix optional)")
    what.add_argument("--op", metavar="IFACE:OP", help="an RPC call, e.g. srvsvc:NetrShareEnum")
    exp.add_argument("--level", metavar="N", type=int, help="the information level of --op")
    exp.add_argument("--group", metavar="G", action="append", default=[],
                     help="with --user: a group the user is in (repeatable)")
    exp.add_argument("--config", metavar="FILE", help="TOML configuration file (default: the demo setup)")
    exp.add_argument("--json", action="store_true", help="print JSON instead of text")
    exp.set_defaults(run=_guarded(_explain))


def _guarded(run: Any) -> Any:
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return int(run(args))
        except (ConfigError, PolicyImportError, _UsageError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2

    return wrapper


def _load(config: str | None) -> Config:
    return load_config(config) if config else default_config(Path.cwd())


# --- show --------------------------------------------------------------------------------------


def _show(args: argparse.Namespace) -> int:
    _, rows = effective_policy(args.config)
    if args.json:
        out = {"config": args.config,
               "policy": {row.setting.name: {"value": _jsonable(row.value), "source": row.source}
                          for row in rows}}
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(f"null-session policy of {args.config or 'the demo setup (no --config)'}:")
    shown = [(row.setting.name, _toml_value(row.value) if row.value is not None else "(not set)",
              row.source) for row in rows]
    width = max(len(value) for _, value, _ in shown)
    for name, value, source in shown:
        print(f"  {name:<26} {value:<{width}}  {source}")
    return 0


def _jsonable(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


# --- import ------------------------------------------------------------------------------------


def _import(args: argparse.Namespace) -> int:
    if args.write and not args.config:
        raise _UsageError("--write needs --config CFG, the file to update")
    found = read_policy_export(args.file)
    for warning in found.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        validated = parse_policy(found.values, file=args.file)
    except ConfigError as e:  # point at the line of the export that held the value
        name = (e.key or "").removeprefix("policy.").split("[")[0]
        raise ConfigError(e.file, name or e.key, found.lines.get(name), e.problem) from None
    imported = {name: getattr(validated, name) for name in _ordered(found.values)}
    if not imported:
        print(f"warning: {args.file}: no null-session setting found", file=sys.stderr)
        if args.write:
            print(f"{args.config} left as it is: nothing to write")
            return 0
    if args.write:
        return _write(Path(args.config), args.config, imported)
    table = dict(imported)
    if args.config:
        current = load_config(args.config).policy
        given = _policy_table_of(Path(args.config))
        table = {name: getattr(current, name) for name in _ordered({**given, **imported})}
        table.update(imported)
    origin = f"{args.file}" + (f" merged into {args.config}" if args.config else "")
    print(f"# [policy] from {origin} (nullsmb policy import)")
    print("[policy]")
    for name, value in table.items():
        if value is not None:
            print(f"{name} = {_toml_value(value)}")
    return 0


def _ordered(names: Mapping[str, object]) -> list[str]:
    return [s.name for s in SETTINGS if s.name in names]


def _policy_table_of(path: Path) -> dict[str, object]:
    table = tomllib.loads(path.read_text(encoding="utf-8-sig")).get("policy", {})
    return table if isinstance(table, dict) else {}


def _write(path: Path, shown: str, values: Mapping[str, object]) -> int:
    path = path.expanduser()
    try:
        raw = path.read_bytes() if path.exists() else b""
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(shown, problem=f"cannot read: {getattr(e, 'strerror', None) or e}") from None
    if raw:
        load_config(path)  # a file that does not load now is not ours to rewrite
    new_text = set_policy_values(text, values, shown)
    bom = "\ufeff" if raw.startswith(b"\xef\xbb\xbf") else ""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(bom + new_text)
        try:
            load_config(tmp)
        except ConfigError as e:
            raise ConfigError(shown, e.key, e.line, e.problem) from None
        if raw:
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    names = ", ".join(values) or "nothing"
    print(f"updated {shown}: [policy] {names}")
    return 0


def set_policy_values(text: str, values: Mapping[str, object], shown: str = "config") -> str:
    """``text`` (a TOML file tomllib accepts) with ``values`` set in its [policy] table.

    Each key already in the table has its ``key = value`` lines replaced (a trailing comment is
    kept); new keys go after the table's last key; without a table, one is appended. Raises
    ConfigError when the policy keys live elsewhere (dotted keys, an inline table).
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    headers, entries = _toml_layout(text)
    if any(key[:1] == ("policy",) and (key != ("policy",) or is_array) for key, _, is_array in headers) or any(
        table == () and key[:1] == ("policy",) for table, key, _, _, _ in entries
    ):
        raise ConfigError(shown, "policy", None, "is not a plain [policy] table: cannot update it "
                          "in place; paste the table printed without --write instead")
    lines = text.splitlines(keepends=True)
    policy_headers = [line for key, line, is_array in headers if key == ("policy",) and not is_array]
    rendered = {name: f"{name} = {_toml_value(value)}" for name, value in values.items()}
    if not policy_headers:
        tail = "" if not text or text.endswith(("\n", "\r")) else newline
        gap = newline if text.strip() else ""
        body = "".join(line + newline for line in rendered.values())
        return text + tail + gap + "[policy]" + newline + body
    header_line = policy_headers[0]
    mine = [(key, start, end, comment) for table, key, start, end, comment in entries
            if table == ("policy",)]
    last_line = max((end for _, _, end, _ in mine), default=header_line)
    edits: list[tuple[int, int, list[str]]] = []  # (first line, last line, replacement), 1-based
    placed: set[str] = set()
    for key, start, end, comment in mine:
        if len(key) == 1 and key[0] in rendered:
            edits.append((start, end, [rendered[key[0]] + (f"  {comment}" if comment else "") + newline]))
            placed.add(key[0])
    added = [line + newline for name, line in rendered.items() if name not in placed]
    if added:
        if last_line <= len(lines) and not lines[last_line - 1].endswith(("\n", "\r")):
            lines[last_line - 1] += newline
        edits.append((last_line + 1, last_line, added))  # an insertion after last_line
    for first, last, replacement in sorted(edits, key=lambda e: e[0], reverse=True):
        lines[first - 1:last] = replacement
    return "".join(lines)


def _toml_layout(text: str) -> tuple[list[tuple[tuple[str, ...], int, bool]],
                                     list[tuple[tuple[str, ...], tuple[str, ...], int, int, str]]]:
    """Headers (key, line, is array of tables) and entries (table, key, first line, last line,
    trailing comment) of a TOML text tomllib accepts, from the tokens config's scanner uses."""
    tokens: list[tuple[str, str, int]] = []
    line = 1
    for m in _TOKEN_RE.finditer(text):
        kind, value = m.lastgroup or "x", m.group()
        if kind != "skip" or value.startswith("#"):
            tokens.append(("c" if kind == "skip" else kind, value, line))
        line += value.count("\n")
    headers: list[tuple[tuple[str, ...], int, bool]] = []
    entries: list[tuple[tuple[str, ...], tuple[str, ...], int, int, str]] = []
    table: tuple[str, ...] = ()
    i, n = 0, len(tokens)

    def key_at(j: int) -> tuple[tuple[str, ...], int]:
        parts: list[str] = []
        while j < n and tokens[j][0] in ("b", "s"):
            raw = tokens[j][1]
            if raw[0] in "\"'":
                raw = str(tomllib.loads(f"k = {raw}")["k"])
            parts.append(raw)
            j += 1
            if j < n and tokens[j][1] == ".":
                j += 1
            else:
                break
        return tuple(parts), j

    while i < n:
        kind, value, start = tokens[i]
        if kind in ("n", "c"):
            i += 1
            continue
        if value == "[":
            is_array = i + 1 < n and tokens[i + 1][1] == "["
            table, i = key_at(i + (2 if is_array else 1))
            headers.append((table, start, is_array))
        elif kind in ("b", "s"):
            key, i = key_at(i)
            depth, end = 0, start
            i += 1  # the "="
            while i < n:
                k, v, at = tokens[i]
                if k == "n" and depth == 0:
                    break
                if k != "c":
                    end = max(end, at + v.count("\n"))
                    if v in ("[", "{"):
                        depth += 1
                    elif v in ("]", "}"):
                        depth -= 1
                i += 1
            comment = next((v for k, v, at in tokens[max(0, i - 2):i] if k == "c" and at == end), "")
            entries.append((table, key, start, end, comment))
        while i < n and tokens[i][0] != "n":
            i += 1
    return headers, entries


# --- explain -----------------------------------------------------------------------------------


def _explain(args: argparse.Namespace) -> int:
    if args.level is not None and not args.op:
        raise _UsageError("--level goes with --op")
    if args.group and not args.user:
        raise _UsageError("--group goes with --user")
    config = _load(args.config)
    where = args.config or "the demo setup"
    principal = _principal(args, config, where)
    action, obj, shown_obj = _target(args, config, where)
    decision, steps = evaluate(principal, action, obj, config.policy)
    if args.json:
        print(json.dumps({
            "principal": principal.describe(), "action": action.value, "object": shown_obj,
            "allowed": decision.allowed, "status": decision.status, "status_name": decision.status_name,
            "kind": decision.kind, "rule": decision.rule, "reason": decision.reason,
            "chain": [{"rule": s.rule, "passed": s.passed, "why": s.why} for s in steps],
        }, indent=2, ensure_ascii=False))
        return 0 if decision.allowed else 1
    verdict = "ALLOWED" if decision.allowed else "DENIED"
    carrier = {Action.TREE_CONNECT: "in the TREE_CONNECT response",
               Action.PIPE_OPEN: "in the CREATE response",
               Action.RPC_CALL: ("as the call's WERROR result" if decision.kind == "werror"
                                 else "as the call's NTSTATUS result")}[action]
    number = f"{decision.status}" if decision.kind == "werror" else f"0x{decision.status:08x}"
    print(f"{principal.describe()} → {shown_obj}: {verdict}")
    print(f"status: {decision.status_name} ({number}) {carrier}")
    print(f"rule: {decision.rule}")
    print("rule chain:")
    for step in steps:
        print(f"  {'pass' if step.passed else 'FAIL'}  {step.rule}: {step.why}")
    return 0 if decision.allowed else 1


def _principal(args: argparse.Namespace, config: Config, where: str) -> Principal:
    if args.anonymous:
        return Principal(PrincipalKind.ANONYMOUS)
    if args.guest:
        return Principal(PrincipalKind.GUEST, "Guest")
    user = next((u for u in config.users if u.name.casefold() == args.user.casefold()), None)
    if user is None:
        print(f"note: {args.user} is not a user of {where}: explained with the groups given by --group",
              file=sys.stderr)
    groups = dict.fromkeys((*(user.groups if user else ()), *args.group))
    return Principal(PrincipalKind.USER, user.name if user else args.user, tuple(groups))


def _target(args: argparse.Namespace, config: Config, where: str) -> tuple[Action, object, str]:
    if args.share is not None:
        if args.share.casefold() == "ipc$":
            return Action.TREE_CONNECT, ShareRef("IPC$", (), True), "tree connect IPC$"
        share = next((s for s in config.shares if s.name.casefold() == args.share.casefold()), None)
        if share is None:
            names = ", ".join(["IPC$", *(s.name for s in config.shares)])
            raise _UsageError(f'no share "{args.share}" in {where} (shares: {names})')
        return Action.TREE_CONNECT, ShareRef(share.name, share.access, False), f"tree connect {share.name}"
    if args.pipe is not None:
        return Action.PIPE_OPEN, args.pipe, f"open pipe {args.pipe}"
    if problem := operation_problem(args.op):
        raise _UsageError(f"--op {args.op} {problem}")
    interface, _, name = args.op.partition(":")
    op = find_operation(interface, name)
    assert op is not None
    if op.levels and args.level not in op.levels:
        levels = ", ".join(str(n) for n in sorted(op.levels))
        given = "needs --level" if args.level is None else f"has no level {args.level}"
        raise _UsageError(f"--op {op.key} {given} (its levels: {levels})")
    call = RpcCall(op.interface, op.name, args.level if op.levels else None)
    return Action.RPC_CALL, call, f"RPC {call}"

