"""What every probe step shares: exceptions turned into Outcomes, and a principal's connection.

Rules:
1. ``attempt`` is the one place where the client's exceptions become evidence: an NTSTATUS
   (``SmbClientError``), an RPC return value, fault or bind rejection, a protocol error, a
   timeout or a lost connection. Nothing else is caught: a bug in the probe surfaces in the
   runner, which records it for that host alone.
2. A ``Link`` is one principal's logged-on SMB connection. When an operation times out or the
   connection breaks, the link is dropped and the next operation connects and logs on again, so
   one failure does not hide the following steps. It logs on at most ``MAX_RELOGONS`` extra times.
3. Links never sign or encrypt unless the server insists (SMB2_SESSION_FLAG_ENCRYPT_DATA):
   anonymous and guest sessions have no key to sign with (MS-SMB2 3.3.5.5.3).
4. Deadlines are the probe's: every operation runs under ``asyncio.wait_for`` with --timeout
   per expected answer (``answers``), and the client's own timeout is set far beyond it. A
   timed-out operation is reported as "timeout" and its connection dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ...client import ClientProtocolError, SessionInfo, SmbClient, SmbClientError
from ...client.connection import NoCredits
from ...status import NtStatus
from ..evidence import DIALECT_NAMES, Outcome, Result

__all__ = ["Credentials", "Link", "ProbeOptions", "attempt", "register_error_mapper"]

T = TypeVar("T")
MAX_RELOGONS = 2

# Extra exception families → Outcome (the RPC step registers the RPC client's exceptions).
_MAPPERS: dict[type[BaseException], Callable[[Any], Outcome]] = {}


def register_error_mapper(family: type[BaseException], mapper: Callable[[Any], Outcome]) -> None:
    """Teach ``attempt`` another exception family: ``mapper(exc)`` gives its Outcome."""
    _MAPPERS[family] = mapper


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str = ""
    password: str = ""
    domain: str = ""


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """The knobs of one probe run (the CLI's options, validated)."""

    timeout: float = 5.0
    host_timeout: float = 120.0
    user: Credentials | None = None
    rid_ranges: tuple[tuple[int, int], ...] = ((500, 550), (1000, 1050))
    write_tests: bool = False


def outcome_of(exc: BaseException) -> Outcome:
    """Rule 1: the evidence an exception from the client stands for."""
    for family, mapper in _MAPPERS.items():
        if isinstance(exc, family):
            return mapper(exc)
    if isinstance(exc, SmbClientError):
        return Outcome.ntstatus(exc.status, str(exc))
    if isinstance(exc, ClientProtocolError):
        return Outcome.disconnected(str(exc), kind="protocol")
    if isinstance(exc, NoCredits):
        return Outcome(Result.FAILED, None, None, "protocol", f"server granted no credits: {exc}")
    if isinstance(exc, TimeoutError):  # before OSError: TimeoutError is one
        return Outcome.timeout()
    if isinstance(exc, asyncio.IncompleteReadError):
        return Outcome.disconnected("the server closed the connection")
    if isinstance(exc, OSError):
        if exc.errno is None:
            return Outcome.disconnected(str(exc) or type(exc).__name__)
        return Outcome.from_oserror(exc)
    raise exc


_HANDLED: tuple[type[BaseException], ...] = (SmbClientError, ClientProtocolError, NoCredits, OSError,
                                             asyncio.IncompleteReadError)


def client_timeout(timeout: float) -> float:
    """The SmbClient's own per-request timeout: well beyond the probe's deadlines (rule 4), so
    that the probe's ``asyncio.wait_for`` decides, and reports, every timeout."""
    return timeout * 10 + 5


async def attempt(op: Awaitable[T], *, kind: str = "ntstatus", timeout: float | None = None
                  ) -> tuple[Outcome, T | None]:
    """Await ``op`` (at most ``timeout`` seconds): (success, value) or (the failure's Outcome,
    None) (rule 1)."""
    try:
        value = await (op if timeout is None else asyncio.wait_for(op, timeout))
    except TimeoutError:
        return Outcome.timeout(f"no answer within {timeout:g} s" if timeout else ""), None
    except (*_HANDLED, *_MAPPERS) as exc:
        return outcome_of(exc), None
    return Outcome.success(kind), value


def _breaks_link(outcome: Outcome) -> bool:
    return outcome.result in (Result.TIMEOUT, Result.DISCONNECTED) or outcome.code in (
        NtStatus.STATUS_USER_SESSION_DELETED, NtStatus.STATUS_NETWORK_SESSION_EXPIRED)


class Link:
    """One principal's SMB session (rule 2). ``first`` is the outcome of the first logon."""

    def __init__(self, host: str, port: int, creds: Credentials, timeout: float) -> None:
        self.host, self.port, self.creds, self.timeout = host, port, creds, timeout
        self.client: SmbClient | None = None
        self.session: SessionInfo | None = None
        self.relogons = 0
        self._ipc: int | None = None
        self._ipc_outcome: Outcome | None = None
        self.ipc_response: Any = None

    async def logon(self) -> Outcome:
        """Connect and SESSION_SETUP; the outcome (the client stays for ``run``)."""
        await self.close()
        out, client = await attempt(SmbClient.connect(self.host, self.port, timeout=client_timeout(self.timeout)),
                                    timeout=2 * self.timeout)  # TCP connect, NEGOTIATE
        if client is None:
            return out
        c = self.creds
        out, session = await attempt(client.login(c.user, c.password, c.domain), timeout=2 * self.timeout)
        if session is None:
            await client.disconnect()
            return out
        self.client, self.session = client, session
        return out

    @property
    def dialect(self) -> str | None:
        if self.client is None:
            return None
        return DIALECT_NAMES.get(self.client.dialect, f"0x{self.client.dialect:04x}")

    async def run(self, op: Callable[[SmbClient], Awaitable[T]], *, kind: str = "ntstatus",
                  answers: int = 1) -> tuple[Outcome, T | None]:
        """``op(client)`` on a live session, logging on again first if the last one broke;
        ``answers`` round trips of --timeout each (rule 4)."""
        if self.client is None:
            if self.relogons >= MAX_RELOGONS:
                return Outcome.skipped("the connection broke too often; not retried"), None
            self.relogons += 1
            out = await self.logon()
            if self.client is None:
                return Outcome(out.result, out.status, out.code, out.kind,
                               f"logging on again failed: {out.detail}"), None
        assert self.client is not None
        out, value = await attempt(op(self.client), kind=kind, timeout=answers * self.timeout)
        if _breaks_link(out):
            await self.close()
        return out, value

    async def ipc(self) -> tuple[Outcome, int | None]:
        """The IPC$ tree of the current connection (connected once per connection)."""
        if self._ipc is not None and self.client is not None:
            assert self._ipc_outcome is not None
            return self._ipc_outcome, self._ipc
        from .shares import raw_tree_connect  # one implementation of the TREE_CONNECT evidence

        out, rsp = await self.run(lambda c: raw_tree_connect(c, "IPC$"))
        self._ipc_outcome = out
        if rsp is not None and self.client is not None:
            self._ipc, self.ipc_response = rsp[0], rsp[1]
        return out, self._ipc

    async def open_pipe(self, tid: int, name: str) -> tuple[Outcome, Any]:
        """CREATE the named pipe ``name`` on the IPC$ tree ``tid``: (evidence, an ``SmbPipe``)."""
        from ...client import SmbPipe

        return await self.run(lambda c: SmbPipe.open(c, tid, name))

    async def close(self) -> None:
        client, self.client, self._ipc = self.client, None, None
        if client is not None:
            await client.disconnect()
