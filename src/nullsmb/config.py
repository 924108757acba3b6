"""Configuration: a TOML file → frozen, validated settings (design.md §2).

Rules:
1. Everything is checked at load; the server never sees an invalid value. A bad value raises
   ``ConfigError``, whose one line names the file, the key and (where the scan finds it) the line:
   ``server.toml: policy.NullSessionPipes (line 12) must be a list of pipe names``.
2. Unknown sections and keys are errors, with a did-you-mean for close names: a typo in a security
   setting must never fall back silently to its default.
3. Policy names, types and defaults are those of the Windows registry values (design.md §2, §4).
4. Relative paths in a file are resolved against that file's directory; on the command line,
   against the working directory. ``~`` is expanded.
5. Passwords become NT hashes at load and are not kept; no repr or error message shows a password
   or a hash.
6. Names that Windows compares case-insensitively (shares, users, principals) are unique
   case-insensitively; well-known principals are stored in their canonical spelling.
7. tomllib reports no positions, so ``_scan_lines`` maps each key path to the line defining it by a
   light scan of text tomllib already accepted: good enough for messages, never used for values.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
import pwd
import tomllib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TypeAlias
from urllib.parse import urlsplit

__all__ = [
    "AdminSettings", "AuditSettings", "Config", "ConfigError", "DIALECTS", "ListenAddr",
    "ManagedServer", "ManagerSettings", "PolicySettings", "ServerSettings", "ShareConfig", "UserConfig",
    "apply_overrides", "default_config", "load_config", "parse_policy",
]

DIALECTS: Mapping[str, int] = MappingProxyType(
    {"2.0.2": 0x0202, "2.1": 0x0210, "3.0": 0x0300, "3.0.2": 0x0302, "3.1.1": 0x0311}
)
SIGNING = ("enabled", "required")
ENCRYPTION = ("off", "desired", "required")
MAP_TO_GUEST = ("never", "bad_user")
ANONYMOUS_SESSION_FLAGS = ("none", "null")
AUDIT_ON_FAILURE = ("continue", "refuse_sessions")  # refuse_sessions: no new sessions while auditing fails
AUDIT_FORMATS = ("nullsmb", "samba")  # samba: 4624/4625 in Samba's auth_json_audit envelope
SHARE_RIGHTS = ("read", "change", "full", "deny")
# Principals an access list may name besides users and their groups (design.md §2, §4).
WELL_KNOWN_PRINCIPALS = (
    "Everyone", "ANONYMOUS LOGON", "Authenticated Users", "Users", "Guests", "Guest",
    "Administrators",
)
_IMPLICIT_GROUPS = ("Everyone", "ANONYMOUS LOGON", "Authenticated Users", "Users")  # for all users
MAX_SHARE_NAME = 80
MAX_COMMENT = 256
MAX_CONNECTIONS = 1_000_000
_NETBIOS_RE = re.compile(r"[A-Za-z0-9._-]{1,15}")
_DNS_LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_HEX32_RE = re.compile(r"[0-9A-Fa-f]{32}")
_OPERATION_RE = re.compile(r"[A-Za-z]+:[A-Za-z_][A-Za-z0-9_]*")
_SHARE_BAD_CHARS = frozenset('\\/:*?"<>|')
_USER_BAD_CHARS = frozenset('"/\\[]:;|=,+*?<>')
_PIPE_PREFIX = "\\pipe\\"
_NETBIOS_WORDS = "must be 1 to 15 letters, digits, '-', '_' or '.'"

_KeyPath: TypeAlias = tuple[str | int, ...]


class ConfigError(Exception):
    """A configuration problem, shown as one line: ``FILE: KEY (line N) PROBLEM``.

    ``file`` is the file as the user named it (or a CLI option such as ``--share``), ``key`` the
    dotted key path, ``line`` the 1-based line where the scan found the key.
    """

    def __init__(
        self, file: str, key: str | None = None, line: int | None = None, problem: str = ""
    ) -> None:
        super().__init__(file, key, line, problem)
        self.file, self.key, self.line, self.problem = file, key, line, problem

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        where += f" (line {self.line})" if self.line is not None else ""
        if not (where and self.problem):
            return where or self.problem
        return f"{where}{' ' if self.key else ': '}{self.problem}"


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListenAddr:
    """A TCP endpoint; ``str()`` gives back ``HOST:PORT`` (``[V6]:PORT`` for IPv6)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> ListenAddr:
        """``0.0.0.0:445``, ``[::1]:445``, ``localhost:4445``; a ValueError says what is wrong."""
        host, colon, port = text.rpartition(":")
        v6 = host.startswith("[") and host.endswith("]")
        host = host[1:-1] if v6 else host
        if not (colon and _is_host(host, v6)):
            raise ValueError(f"must be HOST:PORT or [IPV6]:PORT, e.g. 0.0.0.0:445 or [::1]:445 "
                             f"(got {_show_value(text)})")
        if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError(f"must end in a port from 1 to 65535 (got {_show_value(text)})")
        return cls(host, int(port))


@dataclass(frozen=True, slots=True)
class ServerSettings:
    listen: tuple[ListenAddr, ...] = (ListenAddr("127.0.0.1", 4445),)
    netbios_name: str = "NULLSMB"  # ≤ 15 of [A-Za-z0-9-_.], upper-cased
    workgroup: str = "WORKGROUP"  # same rules as netbios_name
    dns_domain: str = ""
    dialects: tuple[int, ...] = (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)  # ascending
    signing: str = "enabled"
    encryption: str = "off"
    map_to_guest: str = "never"
    max_connections: int = 10000
    idle_timeout: float = 900.0  # seconds without any request before the connection is closed
    anonymous_session_flag: str = "none"  # "none" (Windows) | "null" (SMB2_SESSION_FLAG_IS_NULL)
    state_dir: Path = Path(".nullsmb")
    server_guid: str = ""  # "" = generated and kept in state_dir; else canonical lower-case form
    run_as: str = ""  # after binding (e.g. port 445 as root) switch to this unix user


@dataclass(frozen=True, slots=True)
class AdminSettings:
    listen: ListenAddr = ListenAddr("127.0.0.1", 8445)
    token_file: Path = Path("admin.token")
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class ManagedServer:
    """One ``[[manager.servers]]`` entry: another nullsmb's admin API, shown beside this one."""

    name: str
    url: str  # http(s)://HOST:PORT of its admin API, no trailing slash
    token_file: Path  # that server's bearer token (read when used, so it may appear later)


@dataclass(frozen=True, slots=True)
class ManagerSettings:
    servers: tuple[ManagedServer, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditSettings:
    file: str = "audit.jsonl"  # "-" = stdout; otherwise an absolute path once loaded
    rotate_bytes: int = 104857600  # 0 = never rotate
    keep: int = 10
    syslog: str = ""  # "" | "udp://HOST[:PORT]" | "unix:///PATH"
    on_failure: str = "continue"  # "continue" | "refuse_sessions"
    format: str = "nullsmb"
    enabled: bool = True  # false: no audit trail at all (benchmarks' baseline)


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """Windows names, types and modern defaults (design.md §2, §4). Pipe names are stored without
    a leading ``\\PIPE\\``; all names compare case-insensitively."""

    RestrictNullSessAccess: int = 1
    NullSessionShares: tuple[str, ...] = ()
    NullSessionPipes: tuple[str, ...] = ()
    RestrictAnonymous: int = 0
    RestrictAnonymousSAM: int = 1
    EveryoneIncludesAnonymous: int = 0
    LSAAnonymousNameLookup: int = 0
    TurnOffAnonymousBlock: int = 0
    NullSessionOperations: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class UserConfig:
    name: str
    nt_hash: bytes = field(repr=False)  # 16 bytes, NTOWFv1
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ShareConfig:
    name: str
    path: Path
    comment: str = ""
    read_only: bool = False
    access: tuple[tuple[str, str], ...] = (("Everyone", "read"),)  # (principal, right), file order


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerSettings
    admin: AdminSettings
    audit: AuditSettings
    policy: PolicySettings
    users: tuple[UserConfig, ...]
    shares: tuple[ShareConfig, ...]
    source: Path | None = None  # absolute path of the file loaded, None for the demo
    manager: ManagerSettings = ManagerSettings()


# --- public functions -------------------------------------------------------------------------


def load_config(path: str | Path) -> Config:
    """Read, parse and validate a TOML configuration file; raises ConfigError."""
    shown = str(path)
    source = Path(path).expanduser().absolute()
    try:
        raw = source.read_bytes()
    except OSError as e:
        raise ConfigError(shown, problem=f"cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ConfigError(shown, line=line, problem="is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        problem, line = _toml_error(str(e), text)
        raise ConfigError(shown, line=line, problem=f"invalid TOML: {problem}") from None
    except RecursionError:  # tomllib recurses once per nesting level
        raise ConfigError(shown, problem="invalid TOML: nested too deeply") from None
    ctx = _Ctx(shown, source.parent, _scan_lines(text))
    return replace(_build(ctx, data), source=source)


def default_config(cwd: Path) -> Config:
    """The demo ``nullsmb serve`` runs: ``cwd/nullsmb-share`` as "public", open to null sessions."""
    cwd = Path(cwd).absolute()
    demo = ShareConfig("public", cwd / "nullsmb-share", comment="nullsmb demo share",
                       access=(("Everyone", "read"), ("ANONYMOUS LOGON", "read")))
    return Config(
        server=ServerSettings(state_dir=cwd / ".nullsmb"),
        admin=AdminSettings(token_file=cwd / ".nullsmb" / "admin.token"),
        audit=AuditSettings(file=str(cwd / "audit.jsonl")),
        policy=PolicySettings(NullSessionShares=("public",), NullSessionPipes=("srvsvc",)),
        users=(),
        shares=(demo,),
    )


def with_run_as(config: Config, user: str) -> Config:
    """``--run-as USER``: the unix user to switch to once the listen ports are bound."""
    if not _is_unix_user(user):
        raise ConfigError("--run-as", None, None, f"{user!r} is not a unix user of this machine")
    return replace(config, server=replace(config.server, run_as=user))


def apply_overrides(
    config: Config, *, listen: Sequence[str] = (), shares: Sequence[str] = ()
) -> Config:
    """Apply ``--listen HOST:PORT`` (replaces the whole listen list) and ``--share
    NAME=PATH[:ro|:rw]`` (relative paths against the working directory).

    A share whose name exists (any case) gets the new path and read-only flag and keeps its
    comment and access list; a new share gets ``Everyone = "read"`` only. Neither is added to
    NullSessionShares, so null sessions reach a CLI-added share only if the config lists it there.
    """
    server = config.server
    if listen:
        try:
            addrs = tuple(dict.fromkeys(ListenAddr.parse(text) for text in listen))  # deduplicated
        except ValueError as e:
            raise ConfigError("--listen", problem=str(e)) from None
        server = replace(server, listen=addrs)
        if problem := _listen_conflict(server, config.admin):
            raise ConfigError("--listen", problem=problem)
    by_key = {share.name.casefold(): share for share in config.shares}
    for text in shares:
        name, path, read_only = _parse_share_option(text)
        old = by_key.get(name.casefold(), ShareConfig(name, path))
        by_key[name.casefold()] = replace(old, path=path, read_only=read_only)
    return replace(config, server=server, shares=tuple(by_key.values()))


def parse_policy(table: Mapping[str, object], *, file: str = "") -> PolicySettings:
    """Validate a ``[policy]``-shaped mapping (admin API, policy import); raises ConfigError."""
    ctx = _Ctx(file, Path.cwd(), {})
    return PolicySettings(**_fields(ctx, ("policy",), dict(table), _POLICY_RULES))


# --- validation context and helpers -----------------------------------------------------------


@dataclass(slots=True)
class _Ctx:
    file: str
    base: Path  # relative paths are resolved against this
    lines: dict[_KeyPath, int]

    def error(self, path: _KeyPath, problem: str) -> ConfigError:
        line, probe = None, path
        while probe and line is None:
            line, probe = self.lines.get(probe), probe[:-1]
        return ConfigError(self.file, _show_key(path), line, problem)


_Convert: TypeAlias = Callable[[_Ctx, _KeyPath, object], object]


def _show_key(path: _KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            bare = re.fullmatch(r"[A-Za-z0-9_-]+", part)
            out += ("." if out else "") + (part if bare else json.dumps(part, ensure_ascii=False))
    return out


def _show_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    shown = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _one_of(options: Sequence[str]) -> str:
    return options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + options[-1]


def _suggest(word: str, options: Sequence[str]) -> str:
    folded = {o.casefold(): o for o in options}
    close = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
    return f'; did you mean "{folded[close[0]]}"?' if close else ""


def _unknown(word: str, options: Sequence[str], noun: str = "key") -> str:
    hint = _suggest(word, options) or f" (expected one of: {', '.join(options)})"
    return f"is an unknown {noun}{hint}"


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _is_dns_name(name: str) -> bool:
    return 0 < len(name) <= 253 and all(_DNS_LABEL_RE.fullmatch(p) for p in name.split("."))


def _is_host(host: str, v6: bool) -> bool:
    try:
        (ipaddress.IPv6Address if v6 else ipaddress.IPv4Address)(host)
    except ValueError:
        return not v6 and _is_dns_name(host) and not host.replace(".", "").isdigit()
    return True


def _toml_error(message: str, text: str) -> tuple[str, int | None]:
    """tomllib puts the position at the end of its message: move it into ``line``."""
    if m := re.search(r"\s*\(at line (\d+), column (\d+)\)$", message):
        return f"{message[: m.start()]} (column {m.group(2)})", int(m.group(1))
    if m := re.search(r"\s*\(at end of document\)$", message):
        return f"{message[: m.start()]} (at end of file)", text.count("\n") + 1
    return message, None


def _name_problem(name: str, max_len: int, bad: frozenset[str]) -> str | None:
    if not name.strip() or name != name.strip() or len(name) > max_len:
        return f"must be 1 to {max_len} characters, without leading or trailing spaces"
    if _has_control(name) or bad & set(name):
        return "must not contain control characters or any of " + " ".join(sorted(bad))
    return None


def _share_name_problem(name: str, *, reserved_ok: bool = False) -> str | None:
    if not reserved_ok and name.casefold() == "ipc$":
        return "is reserved: the server provides IPC$ itself"
    return _name_problem(name, MAX_SHARE_NAME, _SHARE_BAD_CHARS)


def _user_name_problem(name: str) -> str | None:
    if name.casefold() in {p.casefold() for p in WELL_KNOWN_PRINCIPALS}:
        return "is a built-in principal, not a user name"
    return _name_problem(name, 104, _USER_BAD_CHARS)


def _group_problem(name: str) -> str | None:
    if name.casefold() in {g.casefold() for g in _IMPLICIT_GROUPS}:
        return "must not be " + _one_of(_IMPLICIT_GROUPS) + ": every user is in them"
    return _name_problem(name, 256, frozenset())


def _operation_problem(name: str) -> str | None:
    """A NullSessionOperations entry: "INTERFACE:Operation" (any case) of an operation that the
    policy's table knows (nullsmb.policy.rpc_rules), e.g. "lsarpc:LsarLookupSids2"."""
    if not _OPERATION_RE.fullmatch(name):
        return 'must be "INTERFACE:Operation", e.g. "srvsvc:NetrShareEnum"'
    from nullsmb.policy.rpc_rules import operation_problem  # imported here: a pure, light module

    return operation_problem(name)


def _pipe_problem(name: str) -> str | None:
    bad = not name or _has_control(name) or "/" in name
    return "must be a pipe name without '/'" if bad else None


def _parse_share_option(text: str) -> tuple[str, Path, bool]:
    name, eq, rest = text.partition("=")
    read_only = rest.endswith(":ro")
    if rest.endswith((":ro", ":rw")):
        rest = rest[:-3]
    if not eq or not rest:
        raise ConfigError("--share", problem=f"must be NAME=PATH[:ro] (got {_show_value(text)})")
    if problem := _share_name_problem(name):
        raise ConfigError("--share", problem=f"share name {problem} (got {_show_value(name)})")
    return name, Path(rest).expanduser().absolute(), read_only


def _admin_url_ok(value: str) -> bool:
    url = urlsplit(value)
    try:
        url.port  # ValueError when not a number from 0 to 65535
    except ValueError:
        return False
    return (url.scheme in ("http", "https") and bool(url.hostname) and not url.query
            and not url.fragment and url.path in ("", "/") and not _has_control(value))


def _listen_conflict(server: ServerSettings, admin: AdminSettings) -> str | None:
    if not admin.enabled:
        return None
    for addr in server.listen:
        wildcard = {"0.0.0.0", "::"} & {addr.host, admin.listen.host}
        if addr.port == admin.listen.port and (addr.host == admin.listen.host or wildcard):
            return f"{addr} is also the admin address {admin.listen}: give one another port"
    return None


# --- converters: (ctx, key path, TOML value) → settings value ---------------------------------


def _integer(lo: int, hi: int) -> _Convert:
    if hi - lo <= 2:
        words = "must be " + _one_of([str(v) for v in range(lo, hi + 1)])
    else:
        words = f"must be an integer from {lo} to {hi}"

    def convert(ctx: _Ctx, path: _KeyPath, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.error(path, words)
        if not lo <= value <= hi:
            raise ctx.error(path, f"{words} (got {value})")
        return value

    return convert


def _string(words: str, ok: Callable[[str], object], out: Callable[..., object] = str) -> _Convert:
    """A string that passes ``ok``, converted by ``out``; the message quotes it back."""

    def convert(ctx: _Ctx, path: _KeyPath, value: object) -> object:
        if not isinstance(value, str):
            raise ctx.error(path, words)
        if not ok(value):
            raise ctx.error(path, f"{words} (got {_show_value(value)})")
        return out(value)

    return convert


def _choice(*options: str) -> _Convert:
    return _string("must be " + _one_of([json.dumps(o) for o in options]), options.__contains__)


def _names(what: str, check: Callable[[str], str | None]) -> _Convert:
    def convert(ctx: _Ctx, path: _KeyPath, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ctx.error(path, f"must be a list of {what}")
        for i, item in enumerate(value):
            if problem := check(item):
                raise ctx.error((*path, i), f"{problem} (got {_show_value(item)})")
        return tuple(value)

    return convert


def _boolean(ctx: _Ctx, path: _KeyPath, value: object) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(path, "must be true or false")
    return value


def _seconds(ctx: _Ctx, path: _KeyPath, value: object) -> float:
    words = "must be a number of seconds above 0"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ctx.error(path, words)
    if not (math.isfinite(value) and value > 0):
        raise ctx.error(path, f"{words} (got {value})")
    return float(value)


def _listen_addr(ctx: _Ctx, path: _KeyPath, value: object) -> ListenAddr:
    if not isinstance(value, str):
        raise ctx.error(path, 'must be a "HOST:PORT" string, e.g. "127.0.0.1:8445"')
    try:
        return ListenAddr.parse(value)
    except ValueError as e:
        raise ctx.error(path, str(e)) from None


def _listen_list(ctx: _Ctx, path: _KeyPath, value: object) -> tuple[ListenAddr, ...]:
    texts = _names('"HOST:PORT" strings, e.g. ["0.0.0.0:445"]', lambda t: None)(ctx, path, value)
    if not texts:
        raise ctx.error(path, "must list at least one address")
    addrs = tuple(_listen_addr(ctx, (*path, i), text) for i, text in enumerate(texts))
    for i, addr in enumerate(addrs):
        if addr in addrs[:i]:
            raise ctx.error((*path, i), f"repeats {addr}")
    return addrs


def _dialects(ctx: _Ctx, path: _KeyPath, value: object) -> tuple[int, ...]:
    words = "must be " + _one_of([json.dumps(d) for d in DIALECTS])
    names = _names(f"dialect names ({_one_of(list(DIALECTS))})",
                   lambda name: None if name in DIALECTS else words)(ctx, path, value)
    if not names:
        raise ctx.error(path, "must list at least one dialect")
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ctx.error((*path, i), f"repeats {_show_value(name)}")
    return tuple(sorted(DIALECTS[name] for name in names))


def _pipe_names(ctx: _Ctx, path: _KeyPath, value: object) -> tuple[str, ...]:
    names = _names("pipe names", _pipe_problem)(ctx, path, value)
    # "\PIPE\srvsvc" and "\srvsvc" name the pipe "srvsvc" (MS-SRVS 3.1.6.17 strips the prefix)
    bare = (n[len(_PIPE_PREFIX) :] if n.casefold().startswith(_PIPE_PREFIX) else n for n in names)
    return _names("pipe names", _pipe_problem)(ctx, path, [n.removeprefix("\\") for n in bare])


def _is_guid(value: str) -> bool:
    try:
        return not value or bool(uuid.UUID(value))
    except ValueError:
        return False


def _syslog_ok(value: str) -> bool:
    url = urlsplit(value)
    if url.scheme == "unix":
        return not url.netloc and url.path.startswith("/")
    try:
        port = url.port  # ValueError when not a number from 0 to 65535
    except ValueError:
        return False
    return url.scheme == "udp" and bool(url.hostname) and url.path in ("", "/") and port != 0


def _is_unix_user(value: str) -> bool:
    if not value:
        return True
    try:
        pwd.getpwnam(value)
    except KeyError:
        return False
    return True


def _is_path(value: str) -> bool:
    return bool(value) and "\0" not in value


_PATH = _string("must be a path (a non-empty string)", _is_path, lambda v: Path(v).expanduser())
_SERVER_RULES: dict[str, _Convert] = {
    "listen": _listen_list,
    "netbios_name": _string(_NETBIOS_WORDS, _NETBIOS_RE.fullmatch, str.upper),
    "workgroup": _string(_NETBIOS_WORDS, _NETBIOS_RE.fullmatch, str.upper),
    "dns_domain": _string('must be "" or a DNS name such as corp.example.com',
                          lambda v: not v or _is_dns_name(v)),
    "dialects": _dialects,
    "signing": _choice(*SIGNING),
    "encryption": _choice(*ENCRYPTION),
    "map_to_guest": _choice(*MAP_TO_GUEST),
    "max_connections": _integer(1, MAX_CONNECTIONS),
    "idle_timeout": _seconds,
    "anonymous_session_flag": _choice(*ANONYMOUS_SESSION_FLAGS),
    "state_dir": _PATH,
    "server_guid": _string('must be "" or a GUID such as "1b4e28ba-2fa1-11d2-883f-0016d3cca427"',
                           _is_guid, lambda v: str(uuid.UUID(v)) if v else ""),
    "run_as": _string('must be "" or the name of a unix user of this machine', _is_unix_user),
}
_ADMIN_RULES: dict[str, _Convert] = {
    "listen": _listen_addr,
    "token_file": _PATH,
    "enabled": _boolean,
}
_AUDIT_RULES: dict[str, _Convert] = {
    "file": _string('must be a file path, or "-" for standard output', _is_path),
    "rotate_bytes": _integer(0, 2**63 - 1),
    "keep": _integer(0, 1000),
    "syslog": _string('must be "", "udp://HOST[:PORT]" or "unix:///PATH"',
                      lambda v: not v or _syslog_ok(v)),
    "on_failure": _choice(*AUDIT_ON_FAILURE),
    "format": _choice(*AUDIT_FORMATS),
    "enabled": _boolean,
}
_POLICY_RULES: dict[str, _Convert] = {
    "RestrictNullSessAccess": _integer(0, 1),
    "NullSessionShares": _names("share names", lambda n: _share_name_problem(n, reserved_ok=True)),
    "NullSessionPipes": _pipe_names,
    "RestrictAnonymous": _integer(0, 2),
    "RestrictAnonymousSAM": _integer(0, 1),
    "EveryoneIncludesAnonymous": _integer(0, 1),
    "LSAAnonymousNameLookup": _integer(0, 1),
    "TurnOffAnonymousBlock": _integer(0, 1),
    "NullSessionOperations": _names('RPC operations, e.g. ["srvsvc:NetrShareEnum"]',
                                    _operation_problem),
}
_USER_RULES: dict[str, _Convert] = {
    "password": _string("must be a string", lambda v: True),
    "nt_hash": _string("must be 32 hex digits", lambda v: True),  # never quoted back: checked later
    "groups": _names("group names", _group_problem),
}
_SHARE_RULES: dict[str, _Convert] = {
    "path": _PATH,
    "comment": _string(f"must be a string of at most {MAX_COMMENT} characters",
                       lambda v: len(v) <= MAX_COMMENT),
    "read_only": _boolean,
    "access": lambda ctx, path, value: value,  # checked by _access
}
_MANAGER_RULES: dict[str, _Convert] = {
    "servers": lambda ctx, path, value: value,  # checked by _managed_servers
}
_MANAGED_SERVER_RULES: dict[str, _Convert] = {
    "name": _string("must be 1 to 64 letters, digits, '-', '_' or '.'",
                    re.compile(r"[A-Za-z0-9._-]{1,64}").fullmatch),
    "url": _string('must be an http:// or https:// URL of an admin API, e.g. "http://10.0.0.5:8445"',
                   lambda v: _admin_url_ok(v), lambda v: v.rstrip("/")),
    "token_file": _PATH,
}
_SECTIONS = ("server", "admin", "audit", "policy", "users", "shares", "manager")


# --- assembling a Config ----------------------------------------------------------------------


def _table(ctx: _Ctx, path: _KeyPath, value: object, what: str = "a table") -> dict[str, object]:
    if not isinstance(value, dict):
        raise ctx.error(path, f"must be {what}")
    return value


def _fields(
    ctx: _Ctx, path: _KeyPath, table: dict[str, object], rules: Mapping[str, _Convert]
) -> dict[str, object]:
    for key in table:
        if key not in rules:
            raise ctx.error((*path, key), _unknown(key, list(rules)))
    return {key: rules[key](ctx, (*path, key), value) for key, value in table.items()}


def _build(ctx: _Ctx, data: dict[str, object]) -> Config:
    for key in data:
        if key not in _SECTIONS:
            raise ctx.error((key,), _unknown(key, _SECTIONS, "section"))

    def section(name: str, rules: Mapping[str, _Convert]) -> dict[str, object]:
        return _fields(ctx, (name,), _table(ctx, (name,), data.get(name, {})), rules)

    server = ServerSettings(**section("server", _SERVER_RULES))
    server = replace(server, state_dir=ctx.base / server.state_dir)  # an absolute one wins
    admin = AdminSettings(**section("admin", _ADMIN_RULES))
    admin = replace(admin, token_file=ctx.base / admin.token_file)
    audit = AuditSettings(**section("audit", _AUDIT_RULES))
    if audit.file != "-":
        audit = replace(audit, file=str(ctx.base / Path(audit.file).expanduser()))
    policy = PolicySettings(**section("policy", _POLICY_RULES))
    if server.encryption == "required" and max(server.dialects) < 0x0300:
        problem = '"required" needs a 3.x dialect in server.dialects'
        raise ctx.error(("server", "encryption"), problem)
    if problem := _listen_conflict(server, admin):
        raise ctx.error(("admin", "listen"), problem)
    users = _users(ctx, data.get("users", {}))
    names = [*WELL_KNOWN_PRINCIPALS, *(n for user in users for n in (*user.groups, user.name))]
    principals = {name.casefold(): name for name in reversed(names)}  # the first spelling wins
    shares = _shares(ctx, data.get("shares", {}), principals)
    manager = section("manager", _MANAGER_RULES)
    servers = _managed_servers(ctx, manager.get("servers", []))
    return Config(server, admin, audit, policy, users, shares, manager=ManagerSettings(servers))


def _managed_servers(ctx: _Ctx, value: object) -> tuple[ManagedServer, ...]:
    """``[[manager.servers]]``: name, url and token_file each; names unique ignoring case."""
    path: _KeyPath = ("manager", "servers")
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ctx.error(path, "must be [[manager.servers]] tables (name, url, token_file)")
    servers: list[ManagedServer] = []
    seen: dict[str, str] = {}
    for i, spec in enumerate(value):
        given = _fields(ctx, (*path, i), spec, _MANAGED_SERVER_RULES)
        for key in _MANAGED_SERVER_RULES:
            if key not in given:
                raise ctx.error((*path, i), f"needs {key} (each server needs name, url and token_file)")
        name = str(given["name"])
        if (twin := seen.setdefault(name.casefold(), name)) != name or name.casefold() == "local":
            problem = ('is reserved for this server' if name.casefold() == "local"
                       else f'repeats the server "{twin}" (server names ignore case)')
            raise ctx.error((*path, i, "name"), problem)
        servers.append(ManagedServer(name, str(given["url"]),
                                     ctx.base / given["token_file"]))  # type: ignore[operator]
    return tuple(servers)


def _named_tables(
    ctx: _Ctx, section: str, value: object, check: Callable[[str], str | None],
    rules: Mapping[str, _Convert],
) -> Iterator[tuple[str, _KeyPath, dict[str, object]]]:
    """``[users.NAME]`` / ``[shares.NAME]``: names checked and unique ignoring case."""
    noun, seen = section.removesuffix("s"), dict[str, str]()
    for name, spec in _table(ctx, (section,), value, f"a table of [{section}.NAME] tables").items():
        path: _KeyPath = (section, name)
        if problem := check(name):
            raise ctx.error(path, problem)
        if (twin := seen.setdefault(name.casefold(), name)) != name:
            raise ctx.error(path, f'repeats the {noun} "{twin}" ({noun} names ignore case)')
        yield name, path, _fields(ctx, path, _table(ctx, path, spec), rules)


def _users(ctx: _Ctx, value: object) -> tuple[UserConfig, ...]:
    from nullsmb.auth.md4 import nt_hash  # imported here: config must load without auth

    canonical = {g.casefold(): g for g in WELL_KNOWN_PRINCIPALS}
    users: list[UserConfig] = []
    for name, path, given in _named_tables(ctx, "users", value, _user_name_problem, _USER_RULES):
        if "password" in given and "nt_hash" in given:
            raise ctx.error((*path, "nt_hash"), "and password are mutually exclusive: give one")
        if "nt_hash" in given:
            if not _HEX32_RE.fullmatch(str(given["nt_hash"])):
                raise ctx.error((*path, "nt_hash"), "must be 32 hex digits")
            digest = bytes.fromhex(str(given["nt_hash"]))
        elif "password" in given:
            digest = nt_hash(str(given["password"]))
        else:
            raise ctx.error(path, "needs a password or an nt_hash")
        groups: dict[str, str] = {}  # deduplicated; well-known groups in canonical spelling
        for group in given.get("groups", ()):  # type: ignore[attr-defined]
            groups.setdefault(group.casefold(), canonical.get(group.casefold(), group))
        users.append(UserConfig(name, digest, tuple(groups.values())))
    return tuple(users)


def _shares(ctx: _Ctx, value: object, principals: Mapping[str, str]) -> tuple[ShareConfig, ...]:
    shares: list[ShareConfig] = []
    for name, path, given in _named_tables(ctx, "shares", value, _share_name_problem, _SHARE_RULES):
        if "path" not in given:
            raise ctx.error(path, 'needs a path, e.g. path = "/srv/data"')
        if "access" in given:
            given["access"] = _access(ctx, (*path, "access"), given["access"], principals)
        share_path = ctx.base / given.pop("path")  # type: ignore[operator]
        shares.append(ShareConfig(name, share_path, **given))  # type: ignore[arg-type]
    return tuple(shares)


def _access(
    ctx: _Ctx, path: _KeyPath, value: object, principals: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    rights = "must be " + _one_of([json.dumps(r) for r in SHARE_RIGHTS])
    table = _table(ctx, path, value, 'a table of principal = "read" | "change" | "full" | "deny"')
    entries: dict[str, tuple[str, str]] = {}
    for who, right in table.items():
        where: _KeyPath = (*path, who)
        principal = principals.get(who.casefold())
        if principal is None:
            hint = _suggest(who, list(principals.values())) or (
                " (name a user, one of their groups, or " + ", ".join(WELL_KNOWN_PRINCIPALS) + ")"
            )
            raise ctx.error(where, "is not a known principal" + hint)
        if principal.casefold() in entries:
            raise ctx.error(where, f'repeats "{principal}" (principals ignore case)')
        if right not in SHARE_RIGHTS:
            raise ctx.error(where, f"{rights} (got {_show_value(right)})")
        entries[principal.casefold()] = (principal, str(right))
    return tuple(entries.values())


# --- key → line scan (rule 7) -----------------------------------------------------------------

_TOKEN_RE = re.compile(
    r""" (?P<s> "{3}(?:\\[\s\S]|[^\\])*?"{3,5} | '{3}[\s\S]*?'{3,5}
              | "(?:\\.|[^"\\\n])*" | '[^'\n]*' )
       | (?P<n>\n) | (?P<skip>[ \t\r]+ | \#[^\n]*)
       | (?P<p>[\[\]{}=,.]) | (?P<b>[^\s\[\]{}=,.\#"']+) | (?P<x>.) """,
    re.VERBOSE,
)
_Token: TypeAlias = tuple[str, str, int]  # kind (a group name of _TOKEN_RE), text, line


def _scan_lines(text: str) -> dict[_KeyPath, int]:
    """Key path → line of its ``[header]`` or ``key =``; array items as ``(*path, index)``."""
    tokens: list[_Token] = []
    line = 1
    for m in _TOKEN_RE.finditer(text):
        if m.lastgroup != "skip":
            tokens.append((m.lastgroup or "x", m.group(), line))
        line += m.group().count("\n")
    return _LineWalk(tokens).run()


class _LineWalk:
    __slots__ = ("tokens", "out", "arrays")

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens: list[_Token] = tokens
        self.out: dict[_KeyPath, int] = {}
        self.arrays: dict[_KeyPath, int] = {}  # [[array.of.tables]] → index of the last one

    def text(self, i: int) -> str:
        return self.tokens[i][1] if i < len(self.tokens) else ""

    def record(self, path: _KeyPath, line: int) -> None:
        for k in range(1, len(path) + 1):
            self.out.setdefault(path[:k], line)

    def run(self) -> dict[_KeyPath, int]:
        table: _KeyPath = ()
        i = 0
        while i < len(self.tokens):
            kind, text, line = self.tokens[i]
            if text == "[":  # [table] or [[array.of.tables]]
                array = self.text(i + 1) == "["
                table, i = self.key(i + (2 if array else 1))
                if array:  # the Nth [[a.b]] is the table (a, b, N - 1)
                    self.arrays[table] = self.arrays.get(table, -1) + 1
                    table = (*table, self.arrays[table])
                self.record(table, line)
            elif kind in ("b", "s"):
                key, i = self.key(i)
                if self.text(i) == "=":
                    self.record((*table, *key), line)
                    i = self.value((*table, *key), i + 1)
            while i < len(self.tokens) and self.tokens[i][0] != "n":
                i += 1  # the rest of the line holds nothing more to record
            i += 1
        return self.out

    def key(self, i: int) -> tuple[tuple[str, ...], int]:
        parts: list[str] = []
        while i < len(self.tokens) and self.tokens[i][0] in ("b", "s"):
            raw = self.tokens[i][1]
            if raw[0] in "\"'":
                try:
                    raw = str(tomllib.loads(f"k = {raw}")["k"])
                except tomllib.TOMLDecodeError:
                    raw = raw[1:-1]
            parts.append(raw)
            i += 1
            if self.text(i) != ".":
                break
            i += 1
        return tuple(parts), i

    def value(self, path: _KeyPath, i: int) -> int:
        """Skip the value at token i, recording the keys and items inside; return the next i."""
        opener = self.text(i)
        if opener not in ("[", "{"):
            return i + 1
        closer, index = ("]" if opener == "[" else "}"), 0
        i += 1
        while i < len(self.tokens) and self.text(i) != closer:
            kind, text, line = self.tokens[i]
            if kind == "n" or text == ",":
                i += 1
                continue
            if opener == "[":
                self.record((*path, index), line)
                i, index = self.value((*path, index), i), index + 1
            else:
                key, i = self.key(i)
                if self.text(i) == "=":
                    self.record((*path, *key), line)
                    i = self.value((*path, *key), i + 1)
            while i < len(self.tokens) and self.text(i) not in (",", closer):
                i += 1  # the tail of a scalar the tokens split, such as 3.14
        return i + 1
