"""DCE/RPC client over SMB2 named pipes (ncacn_np, MS-RPCE 2.1.1.2; C706 ch. 12).

``RpcConnection`` binds presentation contexts and makes calls over a ``PipeTransport``;
``SmbPipe`` is that transport on an open pipe of IPC$ (``SmbClient``). ``RpcSession.open``
does both::

    async with RpcSession.open(client, ipc_tid, "srvsvc", srvsvc.SYNTAX) as rpc:
        shares = await srvsvc.share_enum(rpc, level=1)

The PDU codecs are ``rpc.pdu``'s and the marshalling ``rpc.ndr``'s: the same code the server
runs. The typed calls live in ``client.srvsvc``, ``client.wkssvc``, ``client.lsa``,
``client.samr``.

Rules:
1. Bind offers NDR 2.0 (C706 14) for each abstract syntax, one presentation context each
   (context ids 0, 1, ...). A bind_nak raises ``RpcBindError`` with its reason (C706 12.6.4.5);
   a bind_ack is returned as ``BindResult`` with every context's result and provider reason
   (MS-RPCE 2.2.2.4); ``RpcSession.open`` raises ``RpcBindError`` if its interface was rejected.
   The bind_ack's max_recv_frag is what we may send (C706 12.6.3.1), at least 1432
   (MustRecvFragSize); below that the server is broken.
2. A call fragments the stub to the negotiated size (``pdu.fragment_request``); every fragment
   but the last is a pipe WRITE, the last goes out with FSCTL_PIPE_TRANSCEIVE (MS-SMB2
   3.2.4.20.2), as Windows' and Samba's clients do. The pipe is read as a byte stream framed by
   frag_length: a STATUS_BUFFER_OVERFLOW reply (MS-SMB2 3.3.5.15.1) and the following
   fragments (MS-RPCE 3.1.1.5.5) are completed with READs until PFC_LAST_FRAG.
3. Replies are checked, never trusted: the call_id, the PDU type, FIRST_FRAG/LAST_FRAG order,
   the context id, no auth verifier. A fault PDU raises ``RpcFaultError(status)`` (C706 12.6.4.7);
   anything malformed raises ``RpcProtocolError`` and makes the pipe unusable.
4. Bounded: a reassembled stub is at most ``max_response`` bytes (8 MiB), a reply at most
   ``max_fragments`` fragments, every READ must bring bytes; alloc_hint is never used to
   allocate. A call that does not complete (timeout, cancellation, a protocol error) leaves
   the pipe unusable (``RpcProtocolError`` on the next call), as the byte stream is out of step.
5. Statuses are surfaced exactly: an operation's non-success return value is
   ``RpcStatusError(status, kind, operation)``, ``kind`` "ntstatus" or "werror" (the families
   of ``policy.model``); ``status_name`` spells it (MS-ERREF names, ``WERR_`` for Win32 errors
   like Samba and the policy module). SMB-level failures (tree connect, pipe open) stay
   ``SmbClientError`` with their NTSTATUS.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..policy.model import NTSTATUS, WERROR
from ..rpc.ndr import NdrReader
from ..rpc.pdu import (
    HEADER_SIZE,
    NDR20,
    Bind,
    BindAck,
    BindNak,
    ContextElement,
    Fault,
    FaultStatus,
    Header,
    NakReason,
    PfcFlags,
    ProviderReason,
    PType,
    Response,
    ResultCode,
    SyntaxId,
    decode_pdu,
    fragment_request,
)
from ..status import WERROR_NAMES, MalformedMessage, NtStatus, ntstatus_name, werror_name
from ..wire.create import AccessMask, ShareAccess
from ..wire.header import HEADER_SIZE as SMB2_HEADER_SIZE
from ..wire.header import Command
from ..wire.io import ReadRequest, decode_read_response
from ..wire.ioctl import SMB2_0_IOCTL_IS_FSCTL, Fsctl, IoctlRequest, decode_ioctl_response
from .aio import SmbClient
from .connection import ClientProtocolError, Outgoing, SmbClientError

__all__ = [
    "BindResult", "ContextOutcome", "MAX_FRAG", "MAX_RESPONSE", "NTSTATUS", "PipeTransport", "RpcBindError",
    "RpcConnection", "RpcError", "RpcFaultError", "RpcProtocolError", "RpcSession", "RpcStatusError",
    "SmbPipe", "WERROR", "fault_name", "status_name",
]

T = TypeVar("T")

MAX_FRAG = 4280  # what Windows and Samba offer on named pipes
MIN_FRAG = 1432  # C706 12.6.3.1 MustRecvFragSize
MAX_RESPONSE = 8 * 1024 * 1024
PIPE_ACCESS = int(AccessMask.FILE_READ_DATA | AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA
                  | AccessMask.FILE_READ_EA | AccessMask.FILE_WRITE_EA | AccessMask.FILE_READ_ATTRIBUTES
                  | AccessMask.FILE_WRITE_ATTRIBUTES | AccessMask.READ_CONTROL | AccessMask.SYNCHRONIZE)
FILE_OPEN = 1
FILE_NON_DIRECTORY_FILE = 0x40
_OVERFLOW = NtStatus.STATUS_BUFFER_OVERFLOW

# -- status names (MS-ERREF 2.2 Win32, 2.3 NTSTATUS) ------------------------------------------------


def status_name(status: int, kind: str = NTSTATUS) -> str:
    """The name of an operation's return value: NTSTATUS (MS-ERREF 2.3) or WERROR (2.2)."""
    return werror_name(status) if kind == WERROR else ntstatus_name(status)


def fault_name(status: int) -> str:
    """A fault PDU's status (C706 appendix E, MS-RPCE 2.2.2.8 / 3.3.3.5)."""
    try:
        return FaultStatus(status).name
    except ValueError:
        return WERROR_NAMES.get(status, f"0x{status:08X}")


def _enum_name(enum: type, value: int) -> str:
    try:
        return str(enum(value).name)
    except ValueError:
        return str(value)


# -- exceptions ---------------------------------------------------------------------------------------

class RpcError(Exception):
    """Base of the RPC client's errors."""


class RpcProtocolError(RpcError):
    """The server broke DCE/RPC or NDR (malformed, out of order, too large): the pipe is unusable."""


class RpcFaultError(RpcError):
    """A fault PDU (C706 12.6.4.7): the call failed in the RPC runtime, ``status`` says why."""

    def __init__(self, status: int, *, did_not_execute: bool = False, operation: str = "") -> None:
        self.status = status
        self.name = fault_name(status)
        self.did_not_execute = did_not_execute
        self.operation = operation
        super().__init__(f"{operation + ': ' if operation else ''}fault {self.name} (0x{status:08X})")


class RpcBindError(RpcError):
    """A bind_nak (``reason`` a NakReason) or a rejected presentation context (``result`` a
    ResultCode, ``reason`` a ProviderReason). ``status`` is the reason code, ``name`` its name."""

    def __init__(self, reason: int, *, nak: bool, result: int = 0, syntax: SyntaxId | None = None) -> None:
        self.status = self.reason = reason
        self.nak = nak
        self.result = result
        self.syntax = syntax
        if nak:
            self.name = _enum_name(NakReason, reason)
            text = f"bind_nak: {self.name}"
        else:
            self.name = _enum_name(ProviderReason, reason)
            text = f"{syntax} {_enum_name(ResultCode, result).lower()}: {self.name}"
        super().__init__(text)


class RpcStatusError(RpcError):
    """An operation answered with a failing status (its return value): ``status`` in the family
    ``kind`` ("ntstatus" or "werror"), spelled ``name``."""

    def __init__(self, status: int, kind: str, operation: str) -> None:
        self.status = status
        self.kind = kind
        self.operation = operation
        self.name = status_name(status, kind)
        super().__init__(f"{operation}: {self.name}" + (f" (0x{status:08X})" if kind == NTSTATUS else f" ({status})"))


# -- the transport ------------------------------------------------------------------------------------

class PipeTransport(Protocol):
    """A message-mode pipe: what ``RpcConnection`` needs from SMB (or from a test)."""

    async def transceive(self, data: bytes, max_out: int) -> tuple[bytes, bool]:
        """Write ``data`` and read the reply message: (bytes, more of that message waiting)."""

    async def write(self, data: bytes) -> None: ...

    async def read(self, max_bytes: int) -> tuple[bytes, bool]:
        """Up to ``max_bytes`` of the next message: (bytes, more of that message waiting)."""

    async def close(self) -> None: ...


class SmbPipe:
    """A named pipe opened on IPC$ with ``SmbClient``: TRANSCEIVE, WRITE, READ and CLOSE."""

    def __init__(self, client: SmbClient, tree_id: int, file_id: bytes, name: str) -> None:
        self.client, self.tree_id, self.file_id, self.name = client, tree_id, file_id, name

    @classmethod
    async def open(cls, client: SmbClient, tree_id: int, name: str) -> "SmbPipe":
        """CREATE ``name`` (without \\PIPE\\) on the IPC$ tree ``tree_id``; a refusal raises
        ``SmbClientError`` (STATUS_ACCESS_DENIED, STATUS_OBJECT_NAME_NOT_FOUND ...)."""
        fid = await client.create(tree_id, name, access=PIPE_ACCESS, disposition=FILE_OPEN,
                                  options=FILE_NON_DIRECTORY_FILE,
                                  share_access=int(ShareAccess.READ | ShareAccess.WRITE))
        return cls(client, tree_id, fid, name)

    async def transceive(self, data: bytes, max_out: int) -> tuple[bytes, bool]:
        body = IoctlRequest(Fsctl.PIPE_TRANSCEIVE, self.file_id, memoryview(data), 0, max_out,
                            SMB2_0_IOCTL_IS_FSCTL).encode()
        [rsp] = await self.client.call(Outgoing(Command.IOCTL, body, tree_id=self.tree_id,
                                                payload=max(len(data), max_out)))
        rsp.raise_for_status(allow=(_OVERFLOW,))
        out = _smb_decode(decode_ioctl_response, rsp)
        if len(out) > max_out:
            raise RpcProtocolError(f"TRANSCEIVE returned {len(out)} bytes for {max_out} asked")
        return out, rsp.status == _OVERFLOW

    async def write(self, data: bytes) -> None:
        written = await self.client.write(self.tree_id, self.file_id, 0, data)
        if written != len(data):
            raise RpcProtocolError(f"pipe WRITE took {written} of {len(data)} bytes")

    async def read(self, max_bytes: int) -> tuple[bytes, bool]:
        length = min(max_bytes, self.client.connection.max_read)
        body = ReadRequest(0, length, 0, self.file_id, 0, 0).encode()
        [rsp] = await self.client.call(Outgoing(Command.READ, body, tree_id=self.tree_id, payload=length))
        rsp.raise_for_status(allow=(_OVERFLOW,))
        out = _smb_decode(decode_read_response, rsp)
        if len(out) > length:
            raise RpcProtocolError(f"READ returned {len(out)} bytes for {length} asked")
        return out, rsp.status == _OVERFLOW

    async def close(self) -> None:
        await self.client.close(self.tree_id, self.file_id)


def _smb_decode(decoder: Callable[..., memoryview], rsp: object) -> bytes:
    try:
        return bytes(decoder(rsp.reader(), SMB2_HEADER_SIZE))  # type: ignore[attr-defined]
    except MalformedMessage as exc:
        raise ClientProtocolError(f"malformed pipe response: {exc}") from None


# -- bind results -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ContextOutcome:
    """One presentation context of a bind (MS-RPCE 2.2.2.4 p_result_t)."""

    context_id: int
    abstract_syntax: SyntaxId
    result: int  # ResultCode: 0 acceptance, 1 user rejection, 2 provider rejection
    reason: int  # ProviderReason when rejected
    transfer_syntax: SyntaxId

    @property
    def accepted(self) -> bool:
        return self.result == ResultCode.ACCEPTANCE

    @property
    def reason_name(self) -> str:
        return _enum_name(ProviderReason, self.reason)


@dataclass(frozen=True, slots=True)
class BindResult:
    """What the bind_ack (or alter_context_resp) said."""

    sec_addr: str  # the endpoint, e.g. "\\PIPE\\srvsvc" (Windows/Samba: "\\PIPE\\lsass" for lsarpc)
    max_xmit_frag: int  # the server's: the largest fragment it sends
    max_recv_frag: int  # the server's: the largest fragment we may send
    assoc_group_id: int
    contexts: tuple[ContextOutcome, ...]

    def context_for(self, syntax: SyntaxId) -> ContextOutcome | None:
        return next((c for c in self.contexts if c.abstract_syntax == syntax), None)


# -- the connection -----------------------------------------------------------------------------------

class RpcConnection:
    """Connection-oriented DCE/RPC over one pipe: bind, alter_context, call (see the rules)."""

    def __init__(self, transport: PipeTransport, *, max_frag: int = MAX_FRAG,
                 max_response: int = MAX_RESPONSE, max_fragments: int | None = None) -> None:
        self.transport = transport
        self.max_frag = max_frag
        self.max_response = max_response
        self.max_fragments = max_fragments if max_fragments is not None else max_response // 1024 + 16
        self.max_xmit_frag = max_frag  # what we send: min(ours, the server's max_recv_frag)
        self.max_recv_frag = max_frag
        self.assoc_group_id = 0
        self.bound: BindResult | None = None
        self.contexts: dict[SyntaxId, int] = {}  # accepted abstract syntax → context id
        self.default_context: int | None = None
        self._call_id = 0
        self._next_context = 0
        self._buf = bytearray()
        self._broken: str | None = None
        self._lock = asyncio.Lock()

    @property
    def broken(self) -> str | None:
        """Why the pipe is out of step and refuses calls, or None."""
        return self._broken

    # -- bind / alter_context ---------------------------------------------------------------------
    async def bind(self, syntaxes: Sequence[SyntaxId | ContextElement]) -> BindResult:
        """Bind one presentation context per item (a SyntaxId offers NDR 2.0; a ContextElement
        is sent as given). Raises ``RpcBindError`` on bind_nak; rejections are in the result."""
        return await self._negotiate(PType.BIND, syntaxes)

    async def alter_context(self, syntaxes: Sequence[SyntaxId | ContextElement]) -> BindResult:
        """Add presentation contexts on a bound pipe (C706 12.6.4.1)."""
        if self.bound is None:
            raise RpcError("alter_context before bind")
        return await self._negotiate(PType.ALTER_CONTEXT, syntaxes)

    async def _negotiate(self, ptype: PType, syntaxes: Sequence[SyntaxId | ContextElement]) -> BindResult:
        if not syntaxes:
            raise ValueError("bind needs at least one presentation context")
        elements = []
        for item in syntaxes:
            if isinstance(item, SyntaxId):
                item = ContextElement(self._next_context, item, (NDR20,))
            elements.append(item)
            self._next_context = max(self._next_context, item.context_id + 1)
        async with self._exchange() as call_id:
            pdu = Bind(self.max_frag, self.max_frag, self.assoc_group_id, tuple(elements)).encode(call_id, ptype=ptype)
            await self._transceive(pdu, self.max_recv_frag)
            header, body = await self._next_pdu()
            if header.call_id != call_id:
                raise RpcProtocolError(f"bind answered for call_id {header.call_id}, not {call_id}")
            if header.ptype == PType.BIND_NAK and ptype == PType.BIND:
                assert isinstance(body, BindNak)
                raise RpcBindError(body.reason, nak=True)
            if header.ptype == PType.FAULT and ptype == PType.ALTER_CONTEXT:
                assert isinstance(body, Fault)
                raise RpcFaultError(body.status, operation="alter_context")
            expected = PType.BIND_ACK if ptype == PType.BIND else PType.ALTER_CONTEXT_RESP
            if header.ptype != expected or not isinstance(body, BindAck):
                raise RpcProtocolError(f"{PType(ptype).name} answered with PDU type {header.ptype}")
            if len(body.results) != len(elements):
                raise RpcProtocolError(f"{len(body.results)} results for {len(elements)} contexts")
            if ptype == PType.BIND:
                if body.max_recv_frag < MIN_FRAG or body.max_xmit_frag < MIN_FRAG:
                    raise RpcProtocolError(f"fragment sizes {body.max_xmit_frag}/{body.max_recv_frag} "
                                           f"below {MIN_FRAG}")
                self.max_xmit_frag = min(self.max_frag, body.max_recv_frag)
                self.max_recv_frag = min(self.max_frag, body.max_xmit_frag)
                self.assoc_group_id = body.assoc_group_id
            outcomes = tuple(ContextOutcome(e.context_id, e.abstract_syntax, r.result, r.reason, r.transfer_syntax)
                             for e, r in zip(elements, body.results))
            for o in outcomes:
                if o.accepted:
                    self.contexts.setdefault(o.abstract_syntax, o.context_id)
                    if self.default_context is None:
                        self.default_context = o.context_id
            result = BindResult(body.sec_addr, body.max_xmit_frag, body.max_recv_frag, body.assoc_group_id, outcomes)
            if ptype == PType.BIND:
                self.bound = result
            return result

    # -- calls -------------------------------------------------------------------------------------
    async def call(self, opnum: int, stub: bytes, *, context_id: int | None = None, operation: str = "") -> bytes:
        """Send a request (fragmented as negotiated) and return the reassembled response stub.
        A fault raises ``RpcFaultError``; a broken reply ``RpcProtocolError``."""
        if context_id is None:
            context_id = self.default_context
        if context_id is None:
            raise RpcError("call before a presentation context was accepted")
        async with self._exchange() as call_id:
            frags = fragment_request(call_id, context_id, opnum, stub, self.max_xmit_frag)
            for frag in frags[:-1]:
                await self.transport.write(frag)
            await self._transceive(frags[-1], self.max_recv_frag)
            out = bytearray()
            for count in range(self.max_fragments):
                header, body = await self._next_pdu()
                if header.call_id != call_id:
                    raise RpcProtocolError(f"reply for call_id {header.call_id}, not {call_id}")
                if header.ptype == PType.FAULT:
                    assert isinstance(body, Fault)
                    raise RpcFaultError(body.status, operation=operation,
                                        did_not_execute=bool(header.flags & PfcFlags.DID_NOT_EXECUTE))
                if header.ptype != PType.RESPONSE or not isinstance(body, Response):
                    raise RpcProtocolError(f"request answered with PDU type {header.ptype}")
                if header.auth_length:
                    raise RpcProtocolError("response with an auth verifier on an unauthenticated pipe")
                if bool(header.flags & PfcFlags.FIRST_FRAG) != (count == 0):
                    raise RpcProtocolError(f"fragment {count} with FIRST_FRAG {'set' if count else 'clear'}")
                if body.context_id != context_id:
                    raise RpcProtocolError(f"response for context {body.context_id}, not {context_id}")
                if len(out) + len(body.stub) > self.max_response:
                    raise RpcProtocolError(f"response stub beyond {self.max_response} bytes")
                out += body.stub
                if header.flags & PfcFlags.LAST_FRAG:
                    return bytes(out)
            raise RpcProtocolError(f"response of more than {self.max_fragments} fragments")

    async def request(self, opnum: int, stub: bytes, decode: Callable[[NdrReader], T], *,
                      operation: str, context_id: int | None = None) -> T:
        """``call`` then ``decode`` the [out] stub; NDR that does not unmarshal, or bytes left
        over, raise ``RpcProtocolError`` naming ``operation``."""
        out = await self.call(opnum, stub, context_id=context_id, operation=operation)
        r = NdrReader(out)
        try:
            value = decode(r)
        except MalformedMessage as exc:
            raise RpcProtocolError(f"{operation}: response does not unmarshal: {exc}") from None
        if r.remaining:
            raise RpcProtocolError(f"{operation}: {r.remaining} bytes after the response")
        return value

    async def close(self) -> None:
        await self.transport.close()

    # -- plumbing ----------------------------------------------------------------------------------
    @asynccontextmanager
    async def _exchange(self) -> AsyncIterator[int]:
        """One request/reply on the pipe; anything but a clean end (a fault is clean) breaks it."""
        async with self._lock:
            if self._broken is not None:
                raise RpcProtocolError(f"pipe unusable: {self._broken}")
            self._call_id = self._call_id % 0xFFFFFFFF + 1
            clean = False
            try:
                yield self._call_id
                clean = True
            except (RpcFaultError, RpcBindError):
                clean = True
                raise
            except RpcProtocolError as exc:
                self._broken = str(exc)
                raise
            finally:
                if clean and self._buf:
                    self._broken = f"{len(self._buf)} bytes beyond the reply"
                    self._buf.clear()
                    raise RpcProtocolError(f"pipe unusable: {self._broken}")
                if not clean and self._broken is None:
                    self._broken = "a call did not complete"

    async def _transceive(self, pdu: bytes, max_out: int) -> None:
        data, _more = await self.transport.transceive(pdu, max_out)
        if not data:
            raise RpcProtocolError("the pipe answered with no data")
        self._buf += data

    async def _next_pdu(self) -> tuple[Header, object]:
        """The next whole PDU from the pipe, reading as needed (rule 2)."""
        buf = self._buf
        while True:
            if len(buf) >= HEADER_SIZE:
                try:
                    header = Header.decode(buf)
                except MalformedMessage as exc:
                    raise RpcProtocolError(str(exc)) from None
                if len(buf) >= header.frag_length:
                    pdu = bytes(buf[: header.frag_length])
                    del buf[: header.frag_length]
                    try:
                        return decode_pdu(pdu)
                    except MalformedMessage as exc:
                        raise RpcProtocolError(str(exc)) from None
                need = header.frag_length - len(buf)
            else:
                need = HEADER_SIZE - len(buf)
            data, _more = await self.transport.read(max(need, self.max_recv_frag))
            if not data:
                raise RpcProtocolError("the pipe returned no data inside a PDU")
            buf += data


# -- a bound pipe on IPC$ -----------------------------------------------------------------------------

class RpcSession(RpcConnection):
    """An ``RpcConnection`` on a pipe of IPC$ bound to one interface (``RpcSession.open``)."""

    pipe_name: str
    syntax: SyntaxId

    @classmethod
    @asynccontextmanager
    async def open(cls, client: SmbClient, tree_id: int, pipe: str, syntax: SyntaxId, *,
                   max_frag: int = MAX_FRAG, max_response: int = MAX_RESPONSE) -> AsyncIterator["RpcSession"]:
        """Open ``pipe`` on the IPC$ tree ``tree_id``, bind ``syntax`` (NDR 2.0), and close the
        pipe at the end. Raises ``SmbClientError`` when the pipe cannot be opened and
        ``RpcBindError`` when the bind is refused."""
        transport = await SmbPipe.open(client, tree_id, pipe)
        rpc = cls(transport, max_frag=max_frag, max_response=max_response)
        rpc.pipe_name, rpc.syntax = pipe, syntax
        try:
            result = await rpc.bind([syntax])
            ctx = result.contexts[0]
            if not ctx.accepted:
                raise RpcBindError(ctx.reason, nak=False, result=ctx.result, syntax=syntax)
            yield rpc
        finally:
            await _quiet_close(transport)


async def _quiet_close(transport: PipeTransport) -> None:
    """Close the pipe; a close that fails (the connection is gone, the pipe already broken)
    must not hide what happened before it."""
    try:
        await transport.close()
    except (SmbClientError, ClientProtocolError, ConnectionError, TimeoutError, RpcError):
        pass
