"""Process lifecycle: build the server from a Config, run it, stop it gracefully.

Rules:
1. Everything the core needs from the outside world is created here and injected: the clock
   (time.time), randomness (os.urandom), storage (LocalFS per share) and the server GUID.
2. SIGTERM and SIGINT stop the server gracefully (in-flight PDUs finish, opens close); a second
   signal exits at once. SIGHUP reloads the config file's ``[policy]`` without dropping sessions
   (Samba's smbd reloads smb.conf on SIGHUP too); each changed setting is audited (4657).
3. Bad configuration found while building (a share path that is not a directory) is one line on
   stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import logging
import importlib
import os
import pkgutil
import pwd
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

from ..audit.sink import AuditLog
import nullsmb

from ..auth.accounts import Account, AccountDb
from ..backend.localfs import LocalFS
from ..config import Config, ConfigError, load_config
from ..core.context import ServerContext
from ..core.state import Share
from ..rpc.directory import build_directory
from ..rpc.service import make_server_pipes
from .server import SmbServer

__all__ = ["build_context", "run_server", "serve_forever"]

log = logging.getLogger("nullsmb")


def _server_guid(state_dir: Path, fixed: str) -> bytes:
    if fixed:
        return uuid.UUID(fixed).bytes_le
    path = state_dir / "server_guid"
    try:
        return uuid.UUID(path.read_text().strip()).bytes_le
    except (OSError, ValueError):
        guid = uuid.uuid4()
        state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(str(guid) + "\n")
        return guid.bytes_le


def build_context(config: Config, *, create_missing_shares: bool | None = None) -> ServerContext:
    """The ServerContext for ``config``: shares bound to LocalFS, accounts, server GUID."""
    if create_missing_shares is None:
        create_missing_shares = config.source is None  # the demo creates ./nullsmb-share
    shares: dict[str, Share] = {}
    for sc in config.shares:
        path = Path(sc.path)
        if not path.exists() and create_missing_shares:
            path.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            where = str(config.source) if config.source else "--share"
            raise ConfigError(where, f"shares.{sc.name}.path", None, f"{path} is not a directory")
        backend = LocalFS(path, read_only=sc.read_only)
        shares[sc.name.casefold()] = Share(sc.name, str(path.resolve()), sc.comment, sc.read_only,
                                           sc.access, backend)
    shares["ipc$"] = Share("IPC$", "", "IPC Service", False, (("Everyone", "full"),), None, is_ipc=True)
    state_dir = Path(config.server.state_dir)
    directory = build_directory(state_dir, domain_name=config.server.netbios_name,
                                users=[(u.name, u.groups) for u in config.users],
                                guest_enabled=config.server.map_to_guest == "bad_user")
    accounts = AccountDb(
        Account(u.name, u.nt_hash, tuple(u.groups), directory.user(u.name).rid if directory.user(u.name) else 1000 + i)
        for i, u in enumerate(config.users)
    )
    return ServerContext(
        config=config,
        policy=config.policy,
        server_guid=_server_guid(state_dir, config.server.server_guid),
        accounts=accounts,
        shares=shares,
        clock=time.time,
        random_bytes=os.urandom,
        start_time=time.time(),
        pipe_factory=make_server_pipes(),
        directory=directory,
    )


def _banner(config: Config, bound: list[tuple[str, int]], out: Callable[[str], None]) -> None:
    out("nullsmb: SMB server ready")
    for share in config.shares:
        mode = "read-only" if share.read_only else "read-write"
        out(f"  share  {share.name:<12} {share.path}  ({mode}; access: "
            + ", ".join(f"{p}={r}" for p, r in share.access) + ")")
    out(f"  share  {'IPC$':<12} (named pipes)")
    for host, port in bound:
        shown = f"[{host}]" if ":" in host else host
        out(f"  listen {shown}:{port}")
    pol = config.policy
    out(f"  policy RestrictNullSessAccess={pol.RestrictNullSessAccess} "
        f"NullSessionShares={list(pol.NullSessionShares)} NullSessionPipes={list(pol.NullSessionPipes)} "
        f"RestrictAnonymous={pol.RestrictAnonymous}")
    if bound and config.shares:
        host, port = bound[0]
        host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        target = f"//{host}/{config.shares[0].name}"  # smbclient wants //::1/share, not //[::1]/
        out(f"try:   smbclient -U% -N {target} -p {port} -c ls      (a null session)")
    out("stop:  Ctrl-C or SIGTERM (in-flight writes complete, files close)")


def _preload() -> None:
    """Import now what would otherwise be imported lazily: after dropping root the interpreter's
    own files may be unreadable (a Python installed under /root, for instance)."""
    for codec in ("utf-16-le", "utf-16", "utf-8", "latin-1", "ascii", "idna"):
        "".encode(codec)
    for mod in pkgutil.walk_packages(nullsmb.__path__, "nullsmb."):
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)


def drop_privileges(user: str) -> None:
    """After binding: become ``user`` (groups first, then gid, then uid; no way back)."""
    entry = pwd.getpwnam(user)
    _preload()
    if os.getuid() != 0:
        if os.getuid() == entry.pw_uid:
            return
        raise PermissionError("only root can switch users")
    os.setgroups(os.getgrouplist(entry.pw_name, entry.pw_gid))
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise PermissionError("still root after setuid")
    log.info("running as %s (uid %d)", user, entry.pw_uid)


async def serve_forever(config: Config, *, ready: Callable[[list[tuple[str, int]]], None] | None = None,
                        stop: asyncio.Event | None = None) -> int:
    # Signals first: a SIGTERM that arrives while we are still starting is a graceful stop.
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    hits = 0

    def on_signal() -> None:
        nonlocal hits
        hits += 1
        if hits > 1:
            os._exit(1)
        stop.set()

    for sig in signals:
        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        return await _serve(config, ready, stop)
    finally:
        for sig in (*signals, signal.SIGHUP):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass


async def _serve(config: Config, ready: Callable[[list[tuple[str, int]]], None] | None,
                 stop: asyncio.Event) -> int:
    context = build_context(config)
    audit_log = _NoAudit() if not config.audit.enabled else \
        AuditLog.from_settings(config.audit, server_name=config.server.netbios_name)
    try:
        await audit_log.start()  # before listening: every event has somewhere to go
    except OSError as exc:
        print(f"error: cannot write the audit log {config.audit.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if config.audit.enabled:
        context.audit, context.audit_refusing = audit_log.emit, lambda: audit_log.refusing
    server = SmbServer(context)
    try:
        bound = await server.start()
    except OSError as exc:
        print(f"error: cannot listen: {exc.strerror or exc}"
              + (" (ports below 1024 need root or CAP_NET_BIND_SERVICE)" if exc.errno == 13 else ""),
              file=sys.stderr)
        await audit_log.close()
        return 2
    if config.server.run_as:
        try:
            drop_privileges(config.server.run_as)
        except (OSError, KeyError) as exc:
            print(f"error: cannot switch to user {config.server.run_as!r}: {exc}", file=sys.stderr)
            await server.stop()
            await audit_log.close()
            return 2
    admin = await _start_admin(context, server, config, audit_log if config.audit.enabled else None)
    _reload_on_sighup(context, config)
    if ready is not None:
        ready(bound)
    else:
        _banner(config, bound, lambda line: print(line, flush=True))
        if admin is not None:
            print(f"admin: {admin.url} (token in {admin.token_file})", flush=True)
    await stop.wait()
    log.info("stopping: finishing in-flight requests")
    if admin is not None:
        await admin.stop()
    await server.stop()
    await audit_log.close()  # drains every queued event: nothing is lost on SIGTERM
    return 0


class _NoAudit:
    """``[audit] enabled = false``: nothing is recorded; start/close do nothing."""

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


def reload_policy(context: ServerContext, config: Config) -> list[str] | None:
    """SIGHUP: read the config file again and apply its ``[policy]`` (shares, users and listen
    addresses need a restart). A broken file changes nothing and says why on stderr. Returns
    the changed settings, or None when nothing could be read."""
    if config.source is None:
        print("nullsmb: SIGHUP ignored: started without --config, there is no file to reload",
              file=sys.stderr, flush=True)
        return None
    try:
        fresh = load_config(config.source)
    except ConfigError as exc:
        print(f"error: policy not reloaded, the running policy stays: {exc}", file=sys.stderr, flush=True)
        return None
    changed = context.set_policy(fresh.policy, by=f"SIGHUP ({config.source})")
    log.warning("policy reloaded from %s: %s", config.source, ", ".join(changed) if changed else "no change")
    return changed


def _reload_on_sighup(context: ServerContext, config: Config) -> None:
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload_policy, context, config)
    except (NotImplementedError, RuntimeError, AttributeError):
        pass


async def _start_admin(context: ServerContext, server: SmbServer, config: Config, audit_log):
    """Server Manager's API and dashboard (admin/app.py) in this loop, if enabled; a failure to
    listen is a warning: the SMB server runs on without it."""
    if not config.admin.enabled:
        return None
    try:
        from ..admin.app import start_admin

        return await start_admin(context, server, config, audit_log=audit_log)
    except (OSError, ImportError) as exc:
        print(f"warning: admin UI not started on {config.admin.listen}: "
              f"{getattr(exc, 'strerror', None) or exc}", file=sys.stderr, flush=True)
        return None


def run_server(config: Config) -> int:
    """Blocking entry point used by ``nullsmb serve``."""
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        uvloop = None
    try:
        if uvloop is not None:
            return uvloop.run(serve_forever(config)) if hasattr(uvloop, "run") else asyncio.run(serve_forever(config))
        return asyncio.run(serve_forever(config))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
