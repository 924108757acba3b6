"""Probe one host (steps 1-5 then the verdict), and many hosts with bounded concurrency.

Rules:
1. A host is first reached with a plain TCP connect; a host that refuses, cannot be routed to
   or does not answer within --timeout is a result ("unreachable"), not an error.
2. Steps are independent: step 1's seven questions run concurrently, the three logons too, then
   each established principal runs pipes (4), RPC (5) and shares (3: it needs step 5's share
   list) on its own link, the principals concurrently. A denial never stops a later step. A
   host that offers SMB1 and no SMB2/3 dialect gets steps 2 to 5 over SMB1 (steps.smb1).
3. A host has at most ``host_timeout`` seconds. When it runs out, what was collected so far is
   kept and the evidence says the host is ``incomplete``; the verdict uses what is there.
4. Memory is bounded by ``concurrency``: targets are drawn lazily from an iterator by that
   many workers, and each result is handed to ``on_result`` at once and not kept.
5. A bug in the probe (any other exception) is confined to its host: the host's result says
   "internal error" and the run goes on. Cancellation (Ctrl-C) is never swallowed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from .evidence import (
    HostEvidence,
    Outcome,
    PipeProbe,
    PrincipalAccess,
    Result,
    RpcProbe,
    SessionProbe,
    ShareProbe,
    Transport,
)
from .findings import Verdict, assess
from .steps.common import Link, ProbeOptions, outcome_of
from .steps.pipes import probe_pipes
from .steps.rpc import probe_rpc, share_list
from .steps.sessions import open_sessions
from .steps.shares import probe_shares
from .steps.smb1 import Smb1Link, probe_smb1_host
from .steps.smb1 import reach as smb1_reach
from .steps.transport import probe_transport
from .targets import Target

__all__ = ["HostReport", "probe_host", "probe_many"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HostReport:
    evidence: HostEvidence
    verdict: Verdict


@dataclass(slots=True)
class _Access:
    principal: str
    ipc: Outcome = field(default_factory=lambda: Outcome.skipped("not reached"))
    pipes: list[PipeProbe] = field(default_factory=list)
    rpc: list[RpcProbe] = field(default_factory=list)
    shares: list[ShareProbe] = field(default_factory=list)

    def freeze(self) -> PrincipalAccess:
        return PrincipalAccess(self.principal, self.ipc, tuple(self.pipes), tuple(self.rpc), tuple(self.shares))


@dataclass(slots=True)
class _Partial:
    transport: Transport | None = None
    sessions: tuple[SessionProbe, ...] = ()
    access: dict[str, _Access] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _reach(target: Target, timeout: float) -> Outcome:
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(target.host, target.port), timeout)
    except (OSError, TimeoutError) as exc:
        out = outcome_of(exc)
        if out.result is Result.TIMEOUT:
            return Outcome.timeout(f"TCP connect to {target.address} not answered in {timeout:g} s")
        return out
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return Outcome.success("socket", f"TCP connect to {target.address}")


async def _principal(link: Link, acc: _Access, options: ProbeOptions, names: list[str],
                     random_bytes: Callable[[int], bytes]) -> None:
    acc.ipc, _tid = await link.ipc()
    await probe_pipes(link, acc.pipes)
    await probe_rpc(link, options, names, acc.rpc)
    await probe_shares(link, share_list(acc.rpc), acc.shares, write_tests=options.write_tests,
                       random_bytes=random_bytes)


async def _steps(target: Target, options: ProbeOptions, partial: _Partial,
                 random_bytes: Callable[[int], bytes], links: list[Link]) -> None:
    partial.transport = await probe_transport(target.host, target.port, options.timeout)
    ntlm = partial.transport.ntlm
    names = [n for n in (ntlm.netbios_computer, ntlm.netbios_domain) if n]
    if not partial.transport.offered_dialects and partial.transport.smb1.offered:
        # SMB1 only: the same steps over SMB1 (steps.smb1), share contents excepted
        smb1_links: list[Smb1Link] = []
        try:
            partial.sessions, alive1 = await probe_smb1_host(target.host, target.port, options, random_bytes,
                                                             smb1_links)
            challenge = next((k.challenge for k in smb1_links if k.challenge and k.challenge.outcome.ok), None)
            if challenge is not None and not partial.transport.ntlm.outcome.ok:
                partial.transport = replace(partial.transport, ntlm=challenge)
                names = [n for n in (challenge.netbios_computer, challenge.netbios_domain) if n]
            for p in alive1:
                partial.access[p] = _Access(p)
            await asyncio.gather(*(smb1_reach(link, partial.access[p], options, names) for p, link in alive1.items()))
        finally:
            for link1 in smb1_links:
                await link1.close()
        return
    sessions, alive = await open_sessions(target.host, target.port, options, random_bytes, links)
    partial.sessions = sessions
    for principal in alive:
        partial.access[principal] = _Access(principal)
    await asyncio.gather(*(_principal(link, partial.access[p], options, names, random_bytes)
                           for p, link in alive.items()))


async def probe_host(target: Target, options: ProbeOptions, *,
                     random_bytes: Callable[[int], bytes] = os.urandom) -> HostReport:
    """Rules 1-3 for one host; never raises for anything the host does."""
    started, t0 = _now(), time.monotonic()
    connect = await _reach(target, options.timeout)
    partial = _Partial()
    incomplete = None
    links: list[Link] = []
    if connect.ok:
        try:
            async with asyncio.timeout(options.host_timeout):
                await _steps(target, options, partial, random_bytes, links)
        except TimeoutError:
            incomplete = f"the host did not finish within {options.host_timeout:g} s (--host-timeout)"
        finally:
            for link in links:
                await link.close()
    evidence = HostEvidence(
        target.label, target.host, target.port, connect, started, round(time.monotonic() - t0, 3),
        partial.transport, partial.sessions, tuple(a.freeze() for a in partial.access.values()), incomplete,
    )
    return HostReport(evidence, assess(evidence))


def _internal_error(target: Target, exc: BaseException) -> HostReport:
    evidence = HostEvidence(target.label, target.host, target.port,
                            Outcome(Result.FAILED, None, None, "internal", f"probe error: {exc!r}"), _now())
    return HostReport(evidence, assess(evidence))


async def probe_many(targets: Iterable[Target], options: ProbeOptions, on_result: Callable[[HostReport], None], *,
                     concurrency: int = 32, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
    """Rule 4: ``concurrency`` workers draw from ``targets``; each result goes to ``on_result``."""
    it: Iterator[Target] = iter(targets)

    async def worker() -> None:
        for target in it:  # next() never awaits, so workers never draw the same target
            try:
                report = await probe_host(target, options, random_bytes=random_bytes)
            except Exception as exc:  # rule 5: the boundary of one host
                log.debug("probe of %s failed", target.address, exc_info=True)
                report = _internal_error(target, exc)
            on_result(report)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))

