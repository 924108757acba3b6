"""Steps 2 to 4 over SMB1, for a host that offers no SMB2/3 dialect (probe.smb1_session).

Rules:
1. The same principals as over SMB2 (steps.sessions rule 1): ``null``, ``guest`` (a random user
   name and password) and --user, each on its own connection: NEGOTIATE "NT LM 0.12", then
   SESSION_SETUP_ANDX legs with the SPNEGO/NTLMSSP tokens until the server says yes or no.
   A server without extended security (CAP_EXTENDED_SECURITY, MS-CIFS 2.2.4.52.2) is not
   logged on to: the evidence says so.
2. For each logged-on principal, on an ``Smb1Link`` (the SMB1 counterpart of ``common.Link``
   that the RPC step drives unchanged): a tree connect to IPC$; an open (NT_CREATE_ANDX) and
   close of each of ``steps.pipes.PIPES``; step 5's RPC calls through ``Smb1Pipe``
   (TransactNmPipe, WRITE_ANDX, READ_ANDX); then a tree connect to each share srvsvc listed and
   to each well-known name (steps.shares), and on a disk share one FIND_FIRST2 of its root
   (names only, at most ``LIST_COUNT``, the search closed with the answer). Nothing is written
   over SMB1: --write-tests is reported as skipped there.
3. Every request waits at most --timeout; a timeout or a closed connection ends that
   principal's SMB1 steps with the evidence of what happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from ...auth.ntlmssp import NtlmInitiator
from ...auth.spnego import SpnegoInitiator
from ...client import ClientProtocolError, SmbClientError
from ...client.rpc import RpcProtocolError
from ...status import MalformedMessage, NtStatus
from ...wire.fscc import filetime
from ..evidence import GUEST, NULL, USER, NtlmInfo, Outcome, PipeProbe, Result, RpcProbe, SessionProbe, ShareProbe
from ..ntlm_info import parse_challenge
from ..smb1 import SMB1_DIALECT, parse_smb1_negotiate_response, smb1_only_negotiate
from ..smb1_session import (
    COM_NT_CREATE_ANDX,
    COM_READ_ANDX,
    COM_SESSION_SETUP_ANDX,
    COM_TRANSACTION,
    COM_TRANSACTION2,
    COM_TREE_CONNECT_ANDX,
    COM_WRITE_ANDX,
    SMB_SETUP_GUEST,
    Smb1Response,
    close_request,
    find_first2_names,
    find_first2_request,
    nt_create_fid,
    nt_create_pipe_request,
    parse_response,
    read_andx_data,
    read_andx_request,
    session_setup_request,
    session_setup_result,
    transact_nmpipe_request,
    transaction_data,
    tree_connect_request,
    tree_connect_service,
    write_andx_count,
    write_andx_request,
)
from .common import MAX_RELOGONS, Credentials, ProbeOptions, attempt, outcome_of
from .pipes import PIPES
from .sessions import guest_credentials
from .shares import retry_dropped, share_names

__all__ = ["DIALECT", "Reached", "Smb1Link", "Smb1Pipe", "probe_smb1_host", "reach"]

DIALECT = SMB1_DIALECT
MAX_LEGS = 4  # SESSION_SETUP_ANDX round trips before the probe gives up on a server
MAX_FRAME = 1 << 20
_SERVICES = {"A:": "disk", "IPC": "pipe", "LPT1:": "print", "COMM": "comm"}
LIST_COUNT = 100
SAMPLE = 5
_OVERFLOW = NtStatus.STATUS_BUFFER_OVERFLOW


class Smb1Error(SmbClientError):
    """An SMB1 request answered with a failing NTSTATUS (an ``SmbClientError``, so that the
    probe's evidence treats it as it treats SMB2's)."""


class Reached(Protocol):
    """Where a principal's evidence goes (the runner's per-principal record)."""

    ipc: Outcome
    pipes: list[PipeProbe]
    rpc: list[RpcProbe]
    shares: list[ShareProbe]


class _Conn:
    """One SMB1 connection: requests one at a time, every answer under --timeout (rule 3)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self.reader, self.writer, self.timeout = reader, writer, timeout
        self.mid = 0
        self.uid = 0
        self.lock = asyncio.Lock()
        self.broken = ""

    def _break(self, why: str) -> None:
        self.broken = why or "broken"
        self.writer.close()

    def next_mid(self) -> int:
        self.mid = self.mid % 0xFFFE + 1
        return self.mid

    async def exchange(self, pdu: bytes, *, framed: bool = False) -> bytes:
        self.writer.write(pdu if framed else len(pdu).to_bytes(4, "big") + pdu)
        await asyncio.wait_for(self.writer.drain(), self.timeout)
        while True:
            head = await asyncio.wait_for(self.reader.readexactly(4), self.timeout)
            length = int.from_bytes(head[1:], "big")
            if head[0] == 0x85 and length == 0:  # NetBIOS keep-alive
                continue
            if head[0] != 0 or length > MAX_FRAME:
                raise MalformedMessage(f"not a Direct TCP frame (header {head.hex()})")
            return await asyncio.wait_for(self.reader.readexactly(length), self.timeout)

    async def request(self, build: Callable[[int], bytes], command: int,
                      allow: tuple[int, ...] = ()) -> Smb1Response:
        """``build(mid)`` sent, its answer parsed; a failing status (not in ``allow``) raises."""
        async with self.lock:
            if self.broken:
                raise ConnectionResetError(f"the SMB1 connection broke earlier: {self.broken}")
            mid = self.next_mid()
            try:
                rsp = parse_response(await self.exchange(build(mid)))
                if rsp.command != command or rsp.mid != mid:
                    raise MalformedMessage(f"answer 0x{rsp.command:02x}/mid {rsp.mid} to 0x{command:02x}/mid {mid}")
            except MalformedMessage as exc:  # the probe's steps treat it as SMB2's protocol errors
                self._break(str(exc))
                raise ClientProtocolError(f"SMB1: {exc}") from None
            except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.CancelledError) as exc:
                self._break(type(exc).__name__)  # an answer may still be on its way: never reuse
                raise
        if rsp.status != 0 and rsp.status not in allow:
            raise Smb1Error(rsp.status, None, f"SMB1 command 0x{command:02x}")
        return rsp

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


T = TypeVar("T")


def _decoded(reader: Callable[[Smb1Response], T], rsp: Smb1Response) -> T:
    try:
        return reader(rsp)
    except MalformedMessage as exc:
        raise ClientProtocolError(f"SMB1: {exc}") from None


class Smb1Pipe:
    """A named pipe on IPC$ over SMB1: ``client.rpc.PipeTransport`` for ``RpcConnection``."""

    def __init__(self, conn: _Conn, tid: int, fid: int) -> None:
        self.conn, self.tid, self.fid = conn, tid, fid

    async def transceive(self, data: bytes, max_out: int) -> tuple[bytes, bool]:
        c = self.conn
        rsp = await c.request(lambda mid: transact_nmpipe_request(self.fid, data, max_out, mid=mid, uid=c.uid,
                                                                   tid=self.tid), COM_TRANSACTION, (_OVERFLOW,))
        out = _decoded(transaction_data, rsp)
        if len(out) > max_out:
            raise RpcProtocolError(f"TransactNmPipe returned {len(out)} bytes for {max_out} asked")
        return out, rsp.status == _OVERFLOW

    async def write(self, data: bytes) -> None:
        c = self.conn
        rsp = await c.request(lambda mid: write_andx_request(self.fid, data, mid=mid, uid=c.uid, tid=self.tid),
                              COM_WRITE_ANDX)
        written = _decoded(write_andx_count, rsp)
        if written != len(data):
            raise RpcProtocolError(f"pipe WRITE_ANDX took {written} of {len(data)} bytes")

    async def read(self, max_bytes: int) -> tuple[bytes, bool]:
        c = self.conn
        rsp = await c.request(lambda mid: read_andx_request(self.fid, max_bytes, mid=mid, uid=c.uid, tid=self.tid),
                              COM_READ_ANDX, (_OVERFLOW,))
        out = _decoded(read_andx_data, rsp)
        if len(out) > max_bytes:
            raise RpcProtocolError(f"READ_ANDX returned {len(out)} bytes for {max_bytes} asked")
        return out, rsp.status == _OVERFLOW

    async def close(self) -> None:
        c = self.conn
        await c.request(lambda mid: close_request(self.fid, mid=mid, uid=c.uid, tid=self.tid), 0x04)


def _failed(exc: BaseException) -> Outcome:
    if isinstance(exc, MalformedMessage):
        return Outcome(Result.FAILED, None, None, "protocol", f"SMB1: {exc}")
    return outcome_of(exc)


_IO_ERRORS = (OSError, TimeoutError, asyncio.IncompleteReadError, MalformedMessage, ClientProtocolError)


class Smb1Link:
    """One principal's SMB1 session, with the face of ``common.Link`` that the RPC step uses:
    ``host``, ``timeout``, ``client`` (the live connection or None), ``ipc()``,
    ``open_pipe()`` and ``close()``. A broken connection is logged on again at most
    ``MAX_RELOGONS`` times."""

    def __init__(self, host: str, port: int, creds: Credentials, timeout: float,
                 random_bytes: Callable[[int], bytes]) -> None:
        self.host, self.port, self.creds, self.timeout = host, port, creds, timeout
        self.random_bytes = random_bytes
        self.client: _Conn | None = None
        self.is_guest = False
        self.challenge: NtlmInfo | None = None  # the server's NTLM CHALLENGE (step 1 asks over SMB2 only)
        self.relogons = 0
        self._ipc: tuple[Outcome, int | None] | None = None

    async def logon(self) -> Outcome:
        """Rule 1: NEGOTIATE, then SESSION_SETUP_ANDX legs; the last status is the evidence."""
        await self.close()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
        except (OSError, TimeoutError) as exc:
            return outcome_of(exc)
        conn = _Conn(reader, writer, self.timeout)
        try:
            out = await self._session(conn)
        except (*_IO_ERRORS, ValueError) as exc:
            out = _failed(exc)
        if out.ok:
            self.client = conn
        else:
            await conn.close()
        return out

    async def _session(self, conn: _Conn) -> Outcome:
        negotiated = parse_smb1_negotiate_response(await conn.exchange(smb1_only_negotiate(), framed=True))
        if not negotiated.offered:
            return negotiated.outcome
        if not negotiated.extended_security:
            return Outcome(Result.UNAVAILABLE, None, None, "probe",
                           "SMB1 without extended security (CAP_EXTENDED_SECURITY): not logged on to")
        c = self.creds
        spnego = SpnegoInitiator(NtlmInitiator(
            user=c.user, password=c.password, domain=c.domain, client_challenge=self.random_bytes(8),
            exported_session_key=self.random_bytes(16), now_filetime=filetime(time.time_ns())))
        blob = spnego.initial()
        for _leg in range(MAX_LEGS):
            mid = conn.next_mid()
            rsp = parse_response(await conn.exchange(session_setup_request(blob, mid=mid, uid=conn.uid)))
            if rsp.command != COM_SESSION_SETUP_ANDX or rsp.mid != mid:
                raise MalformedMessage(f"answer 0x{rsp.command:02x}/mid {rsp.mid} to SESSION_SETUP_ANDX/mid {mid}")
            conn.uid = rsp.uid
            action, server_blob = session_setup_result(rsp)
            if rsp.status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED:
                if self.challenge is None:
                    self.challenge = parse_challenge(server_blob, Outcome(
                        Result.OK, NtStatus.STATUS_MORE_PROCESSING_REQUIRED.name,
                        int(NtStatus.STATUS_MORE_PROCESSING_REQUIRED), "ntstatus", "SMB1 SESSION_SETUP_ANDX"))
                blob = spnego.step(server_blob)
                continue
            if rsp.status == 0:
                self.is_guest = bool(action & SMB_SETUP_GUEST)
            return Outcome.ntstatus(rsp.status, "SMB1 SESSION_SETUP_ANDX")
        return Outcome(Result.FAILED, None, None, "protocol", f"no answer after {MAX_LEGS} session setup legs")

    async def _live(self) -> _Conn | None:
        if self.client is not None and self.client.broken:
            await self.close()
        if self.client is None and self.relogons < MAX_RELOGONS:
            self.relogons += 1
            await self.logon()
        return self.client

    async def tree(self, share: str) -> tuple[Outcome, int | None, str | None]:
        """TREE_CONNECT_ANDX: (evidence, TID, service)."""
        conn = await self._live()
        if conn is None:
            return Outcome.skipped("the SMB1 connection broke; not retried"), None, None
        path = f"\\\\{self.host}\\{share}"
        out, rsp = await attempt(conn.request(lambda mid: tree_connect_request(path, mid=mid, uid=conn.uid),
                                              COM_TREE_CONNECT_ANDX), timeout=self.timeout)
        if rsp is None:
            if out.result in (Result.TIMEOUT, Result.DISCONNECTED, Result.FAILED):
                await self.close()
            return out, None, None
        service = tree_connect_service(rsp)
        return Outcome.ntstatus(0, f"SMB1 TREE_CONNECT_ANDX: service {service}"), rsp.tid, service

    async def list_root(self, tid: int) -> tuple[Outcome, tuple[int, tuple[str, ...], bool] | None]:
        """FIND_FIRST2 of ``\\*``: (evidence, (entries, the first few names, more left unread))."""
        conn = self.client
        if conn is None:
            return Outcome.skipped("the SMB1 connection broke"), None
        out, rsp = await attempt(conn.request(lambda mid: find_first2_request("\\*", LIST_COUNT, mid=mid,
                                                                              uid=conn.uid, tid=tid),
                                              COM_TRANSACTION2), timeout=self.timeout)
        if rsp is None:
            return out, None
        names, end = _decoded(find_first2_names, rsp)
        names = [n for n in names if n not in (".", "..")]
        more = not end
        return (Outcome.ntstatus(0, f"SMB1 FIND_FIRST2: {len(names)}{'+' if more else ''} entries in the root"),
                (len(names), tuple(names[:SAMPLE]), more))

    async def ipc(self) -> tuple[Outcome, int | None]:
        """The IPC$ tree of the current connection (connected once per connection)."""
        if self._ipc is None or self.client is None or self.client.broken:
            out, tid, _service = await self.tree("IPC$")
            self._ipc = (out, tid)
        return self._ipc

    async def open_pipe(self, tid: int, name: str) -> tuple[Outcome, Smb1Pipe | None]:
        conn = self.client
        if conn is None:
            return Outcome.skipped("the SMB1 connection broke"), None
        out, rsp = await attempt(conn.request(lambda mid: nt_create_pipe_request(name, mid=mid, uid=conn.uid, tid=tid),
                                              COM_NT_CREATE_ANDX), timeout=self.timeout)
        if rsp is None:
            return out, None
        fid = _decoded(nt_create_fid, rsp)
        return Outcome.ntstatus(0, "SMB1 NT_CREATE_ANDX"), Smb1Pipe(conn, tid, fid)

    async def close(self) -> None:
        conn, self.client, self._ipc = self.client, None, None
        if conn is not None:
            await conn.close()


async def _pipes(link: Smb1Link, acc: Reached) -> None:
    for name in PIPES:
        ipc, tid = await link.ipc()
        if tid is None:
            acc.pipes.append(PipeProbe(name, Outcome.skipped(f"no IPC$: {ipc.evidence()}")))
            continue
        out, pipe = await link.open_pipe(tid, name)
        if pipe is not None:
            await attempt(pipe.close(), timeout=link.timeout)
        acc.pipes.append(PipeProbe(name, out))


async def _shares(link: Smb1Link, listed: Sequence[tuple[str, int | None, str | None]], acc: Reached,
                  write_tests: bool) -> None:
    for name, source, listed_type, remark in share_names(listed):
        acc.shares.append(await retry_dropped(lambda: _share(link, name, source, listed_type, remark, write_tests)))


async def _share(link: Smb1Link, name: str, source: str, listed_type: int | None, remark: str | None,
                 write_tests: bool) -> ShareProbe:
    out, tid, service = await link.tree(name)
    stype = None if service is None else _SERVICES.get(service, service)
    listing, entries, sample, write = None, None, (), None
    # impacket's server names the share itself as the service of a disk share: list anything
    # that does not say it is a pipe, a printer or a serial device
    if tid is not None and stype not in ("pipe", "print", "comm"):
        listing, seen = await link.list_root(tid)
        if seen is not None:
            entries, sample, _more = seen
            stype = "disk" if stype not in _SERVICES.values() else stype
        if write_tests:
            write = Outcome.skipped("SMB1: the probe writes over SMB2/3 only")
    return ShareProbe(name, source, out, listed_type=listed_type, remark=remark, share_type=stype,
                      listing=listing, entries=entries, sample=sample, write_test=write)


async def reach(link: Smb1Link, acc: Reached, options: ProbeOptions, names: Sequence[str]) -> None:
    """Rule 2 for one logged-on principal, appending as it goes (a deadline keeps what was answered)."""
    from .rpc import probe_rpc, share_list  # the RPC step, unchanged, over Smb1Pipe

    acc.ipc, _tid = await link.ipc()
    await _pipes(link, acc)
    await probe_rpc(link, options, names, acc.rpc)  # type: ignore[arg-type]
    await _shares(link, share_list(acc.rpc), acc, options.write_tests)


async def probe_smb1_host(host: str, port: int, options: ProbeOptions, random_bytes: Callable[[int], bytes],
                          links_out: list[Smb1Link]) -> tuple[tuple[SessionProbe, ...], dict[str, Smb1Link]]:
    """Rule 1 for the principals, concurrently: their sessions, and the links of those that
    logged on (every link is put in ``links_out`` first, for the caller to close)."""
    creds = {NULL: Credentials(), GUEST: guest_credentials(random_bytes)}
    if options.user is not None:
        creds[USER] = options.user
    links = {p: Smb1Link(host, port, c, options.timeout, random_bytes) for p, c in creds.items()}
    links_out.extend(links.values())
    outs = await asyncio.gather(*(link.logon() for link in links.values()))
    sessions = []
    for (principal, link), out in zip(links.items(), outs):
        if link.client is None:
            sessions.append(SessionProbe(principal, link.creds.user, out))
        else:
            sessions.append(SessionProbe(principal, link.creds.user, out, established=True, is_guest=link.is_guest,
                                         dialect=DIALECT))
    return tuple(sessions), {p: link for p, link in links.items() if link.client is not None}
