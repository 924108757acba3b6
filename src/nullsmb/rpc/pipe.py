"""One named-pipe open on IPC$ speaking connection-oriented DCE/RPC (ncacn_np, MS-RPCE 2.1.1.2).

The SMB core calls ``write(data) -> int``, ``read(max_bytes) -> (bytes, more)`` and ``close()``
(core/handlers/io.py, ioctl.py; FSCTL_PIPE_TRANSCEIVE is write then read).

Rules:
1. Input is a byte stream: any chunking of the client's WRITEs works, and every complete PDU
   (frag_length bytes) is processed at once, synchronously, inside ``write``.
2. Output is in message mode: every PDU we send is one pipe message. ``read`` returns at most
   the rest of the current message; ``more`` is True while that message has bytes left (the
   core answers STATUS_BUFFER_OVERFLOW, MS-SMB2 3.3.5.12). The next fragment of a long reply
   is the next message: clients read until they see PFC_LAST_FRAG, as they do against Windows.
3. The pipe is a state machine driven by a table, ``TRANSITIONS[(state, PTYPE)]``: UNBOUND
   accepts bind; BOUND accepts alter_context, request, orphaned, co_cancel and a second bind
   (refused with bind_nak); auth3 is ignored in both (MS-RPCE 3.3.1.5.2.1: never answered).
   Any other PDU is a protocol error.
4. Errors, each answered, never raised at the core:
   - a header that cannot be framed or trusted (version, frag_length; ``pdu.Header.decode``)
     or a PDU the state does not allow: fault nca_s_proto_error (MS-RPCE 3.3.3.5.7), then the
     pipe is BROKEN, as Samba's and Windows' servers disconnect: the fault can still be read,
     then ``write``/``read`` raise SmbError(STATUS_PIPE_DISCONNECTED);
   - bind: with an auth verifier → bind_nak authentication_type_not_recognized (8; we register
     no security provider, MS-RPCE 3.3.3.5.3); a malformed body or a second bind → bind_nak
     4 (protocol error in bind, MS-RPCE 2.2.2.5); no context → bind_nak 0; a big-endian drep
     → bind_nak 0 (nullsmb speaks little-endian NDR only);
   - alter_context: with an auth verifier → fault RPC_S_UNKNOWN_AUTHN_SERVICE; malformed →
     fault nca_s_proto_error;
   - request: with an auth verifier → fault 5 (no RPC-level security on our pipes); unknown
     context id → nca_s_unk_if; unknown opnum → nca_s_op_rng_error; a stub that does not
     unmarshal → nca_s_fault_ndr (0x6F7); more than ``max_stub`` bytes (4 MiB) → fault 5
     (MS-RPCE 3.3.3.5.4); a broken fragment sequence → nca_s_proto_error at once (3.3.3.5.8);
     a stray non-first fragment less than 150 call_ids old is dropped (3.3.3.5.6).
5. Presentation contexts (MS-RPCE 3.3.1.5.6): NDR 2.0 is accepted; NDR64 or anything else
   alone is provider_rejection 2; an unknown interface provider_rejection 1; bind time
   feature negotiation (3.3.1.5.3) is answered negotiate_ack with the features we support:
   KeepConnectionOnOrphan (an orphaned PDU drops the call being received and keeps the pipe),
   not security context multiplexing (we have no security contexts). Fragment sizes: ours is
   min(client's, 4280), never below C706's 1432, a multiple of 8.
6. Operations are synchronous: ``handler(call, reader) -> stub bytes``; it may raise
   ``RpcFault``. Before it runs, ``policy_check(call)`` is asked (``call.authorize()``); a
   denying Decision makes the pipe answer with ``operation.deny(call, reader, status)``
   instead (default: fault 5). A handler asks again with a level, ``call.authorize(level=2)``,
   where Windows' rule depends on it. ``on_call(call, status)`` sees every dispatched call.
7. Memory is bounded: reassembly and unread output are taken from the server's MemoryBudget
   (a refused reassembly: fault nca_s_server_too_busy; refused output: the pipe's unread
   output is shed for that fault and the pipe breaks); unread output above ``max_pending``
   refuses further writes (STATUS_INSUFFICIENT_RESOURCES), or breaks the pipe within one write.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from ..status import MalformedMessage, NtStatus, SmbError
from .ndr import NULL_HANDLE, NdrReader, NdrWriter
from .pdu import (
    HEADER_SIZE,
    NDR20,
    Bind,
    BindAck,
    BindFeature,
    BindNak,
    ContextElement,
    ContextResult,
    Fault,
    FaultStatus,
    Header,
    NakReason,
    PfcFlags,
    ProviderReason,
    PType,
    Request,
    ResultCode,
    RpcFault,
    SyntaxId,
    btfn_features,
    fragment_response,
)

if TYPE_CHECKING:
    import uuid

    from ..core.context import RequestContext, ServerContext
    from ..core.state import Session
    from ..policy.null_session import Principal

__all__ = [
    "CallContext", "CallDenied", "Decision", "Interface", "Operation", "PipeState", "RpcPipe",
    "deny_with_fault", "deny_with_status", "MAX_FRAG", "MIN_FRAG", "MAX_STUB",
]

log = logging.getLogger(__name__)

MAX_FRAG = 4280  # what Windows and Samba offer on named pipes
MIN_FRAG = 1432  # C706 12.6.3.1 MustRecvFragSize
MAX_STUB = 4 * 1024 * 1024  # MS-RPCE 3.3.3.5.4
MAX_PENDING = 16 * 1024 * 1024  # unread output before the pipe refuses more input
MAX_CONTEXTS = 64  # presentation contexts per pipe (MS-RPCE 3.3.3.5.5 allows a limit)
MAX_HANDLES = 1024  # context handles per pipe
OLD_CALL_WINDOW = 150  # MS-RPCE 3.3.3.5.6
SUPPORTED_FEATURES = BindFeature.KEEP_CONNECTION_ON_ORPHAN


class Decision(Protocol):
    """What ``policy_check`` returns (policy.null_session.Decision)."""

    allowed: bool
    status: int
    rule: str


class CallDenied(Exception):
    """Raised by ``CallContext.authorize``; the pipe answers with ``Operation.deny``."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(f"denied by {decision.rule}")


def deny_with_fault(call: "CallContext", r: NdrReader, status: int) -> bytes:
    """The default denial: a fault PDU with status 5 (ERROR_ACCESS_DENIED)."""
    raise RpcFault(FaultStatus.ACCESS_DENIED, did_not_execute=True)


def deny_with_status(call: "CallContext", r: NdrReader, status: int) -> bytes:
    """For operations whose only [out] value is the returned status: the status alone.
    ``status`` is the Decision's NTSTATUS; map it first where the interface returns WERROR."""
    w = NdrWriter()
    w.u32(status)
    return w.getvalue()


Handler = Callable[["CallContext", NdrReader], bytes]
Denier = Callable[["CallContext", NdrReader, int], bytes]
PolicyCheck = Callable[["CallContext"], "Decision | None"]
OnCall = Callable[["CallContext", int], None]


@dataclass(frozen=True, slots=True)
class Operation:
    """One opnum: its name (as the spec spells it), handler and denial form."""

    name: str
    handler: Handler
    deny: Denier = deny_with_fault


@dataclass(frozen=True, eq=False)
class Interface:
    """An RPC interface offered on a pipe: name, UUID, (major, minor) version and opnum table."""

    name: str
    uuid: "str | uuid.UUID"
    version: tuple[int, int]
    operations: Mapping[int, Operation]
    syntax: SyntaxId = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "syntax", SyntaxId.of(str(self.uuid), *self.version))

    def accepts(self, abstract: SyntaxId) -> bool:
        """C706 / MS-RPCE: same UUID and major version, the client's minor not above ours."""
        return (abstract.uuid == self.syntax.uuid and abstract.version[0] == self.version[0]
                and abstract.version[1] <= self.version[1])


@dataclass(eq=False, slots=True)
class CallContext:
    """What an operation handler sees. ``status``/``returned`` are set by the handler for the
    audit hook (the WERROR/NTSTATUS it returns, how many items it disclosed)."""

    pipe: "RpcPipe"
    interface: Interface
    operation: Operation | None
    opnum: int
    call_id: int
    context_id: int
    object_uuid: "uuid.UUID | None" = None
    level: int | None = None
    status: int = 0
    returned: int | None = None
    decision: Decision | None = None
    fault: int | None = None

    @property
    def smb(self) -> "RequestContext":
        """The SMB request context of the CREATE that opened the pipe."""
        return self.pipe.ctx

    @property
    def server(self) -> "ServerContext":
        return self.pipe.ctx.server

    @property
    def session(self) -> "Session | None":
        return self.pipe.ctx.session

    @property
    def principal(self) -> "Principal | None":
        return self.pipe.principal

    @property
    def pipe_name(self) -> str:
        return self.pipe.name

    @property
    def op_name(self) -> str:
        """"srvsvc:NetrShareEnum" (the form of NullSessionOperations)."""
        op = self.operation.name if self.operation else f"opnum{self.opnum}"
        return f"{self.interface.name}:{op}"

    def authorize(self, level: int | None = None) -> None:
        """Ask the policy (again, with ``level``); raises CallDenied if it says no."""
        self.level = level
        check = self.pipe.policy_check
        decision = check(self) if check is not None else None
        if decision is not None:
            self.decision = decision
            if not decision.allowed:
                raise CallDenied(decision)

    # context handles (per pipe; run down at close, MS-RPCE 3.3.3.7.1)
    def new_handle(self, obj: object) -> bytes:
        return self.pipe.new_handle(obj)

    def lookup(self, handle: bytes, kind: type | tuple[type, ...] | None = None) -> Any:
        return self.pipe.lookup(handle, kind)

    def close_handle(self, handle: bytes) -> Any:
        return self.pipe.close_handle(handle)


@dataclass(slots=True)
class _Reassembly:
    """The request being received (MS-RPCE 3.3.3.1.5 STATE_RECEIVE_PDU)."""

    call_id: int
    context_id: int
    opnum: int
    object_uuid: "uuid.UUID | None"
    chunks: list[bytes]
    size: int


class PipeState(Enum):
    UNBOUND = "unbound"
    BOUND = "bound"
    BROKEN = "broken"
    CLOSED = "closed"


class RpcPipe:
    """The server end of one pipe open; see the module docstring."""

    def __init__(self, name: str, ctx: "RequestContext", interfaces: Sequence[Interface], *,
                 endpoint: str | None = None, policy_check: PolicyCheck | None = None,
                 on_call: OnCall | None = None, max_frag: int = MAX_FRAG, max_stub: int = MAX_STUB,
                 max_pending: int = MAX_PENDING, max_handles: int = MAX_HANDLES) -> None:
        if max_frag < MIN_FRAG:
            raise ValueError(f"max_frag below {MIN_FRAG}")
        self.name = name
        self.ctx = ctx
        self.interfaces = tuple(interfaces)
        self.endpoint = endpoint or name
        self.policy_check = policy_check
        self.on_call = on_call
        self.max_frag, self.max_stub, self.max_pending, self.max_handles = max_frag, max_stub, max_pending, max_handles
        session = ctx.session
        self.principal: Principal | None = session.principal if session is not None else None
        self.state = PipeState.UNBOUND
        self.contexts: dict[int, Interface] = {}  # MS-RPCE 3.3.3.1.1 Table of Presentation Contexts
        self.max_xmit = self.max_recv = max_frag
        self.assoc_group_id = 0
        self.features = BindFeature(0)
        self.handles: dict[bytes, object] = {}
        self._in = bytearray()
        self._out: deque[bytes] = deque()
        self._out_pos = 0
        self._pending = 0
        self._call: _Reassembly | None = None
        self._current_call_id: int | None = None
        self._budget = getattr(getattr(ctx, "server", None), "memory", None)  # core.context.MemoryBudget
        self._held = 0  # bytes taken from the budget: reassembly and unread output
        self._shed = False  # output dropped for want of memory; only the last fault remains

    @property
    def sec_addr(self) -> str:
        """The bind_ack port spec: the endpoint's name, as Windows spells it."""
        return "\\PIPE\\" + self.endpoint

    # -- the SMB core's contract --------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.state in (PipeState.BROKEN, PipeState.CLOSED):
            raise SmbError(NtStatus.STATUS_PIPE_DISCONNECTED, "RPC pipe broken")
        if self._pending > self.max_pending:
            raise SmbError(NtStatus.STATUS_INSUFFICIENT_RESOURCES, "RPC replies left unread")
        self._in += data
        buf, pos = self._in, 0
        try:
            while len(buf) - pos >= HEADER_SIZE and self.state is not PipeState.BROKEN:
                try:
                    header = Header.decode(buf, pos)
                except MalformedMessage as exc:
                    self._break(int.from_bytes(buf[pos + 12 : pos + 16], "little"), str(exc))
                    break
                if len(buf) - pos < header.frag_length:
                    break
                pdu = bytes(buf[pos : pos + header.frag_length])
                pos += header.frag_length
                self._on_pdu(header, pdu)
                if self._pending > self.max_pending:
                    self._break(header.call_id, "RPC replies left unread")
        finally:  # a PDU is consumed once, even if an interface's bug escapes from it
            if self.state is PipeState.BROKEN:
                buf.clear()
            else:
                del buf[:pos]
        return len(data)

    def read(self, max_bytes: int) -> tuple[bytes, bool]:
        if not self._out:
            if self.state in (PipeState.BROKEN, PipeState.CLOSED):
                raise SmbError(NtStatus.STATUS_PIPE_DISCONNECTED, "RPC pipe broken")
            return b"", False
        message = self._out[0]
        chunk = message[self._out_pos : self._out_pos + max(0, max_bytes)]
        self._out_pos += len(chunk)
        self._pending -= len(chunk)
        self._give(len(chunk))
        if self._out_pos < len(message):
            return chunk, True
        self._out.popleft()
        self._out_pos = 0
        return chunk, False

    def close(self) -> None:
        self._give(self._held)
        self.state = PipeState.CLOSED
        self.handles.clear()
        self.contexts.clear()
        self._in.clear()
        self._out.clear()
        self._pending = self._out_pos = 0
        self._call = None

    @property
    def pending(self) -> int:
        """Bytes of reply waiting to be read."""
        return self._pending

    # -- context handles ------------------------------------------------------------------------
    def new_handle(self, obj: object) -> bytes:
        """A fresh 20-byte context handle: zero attributes, then 16 random bytes."""
        if len(self.handles) >= self.max_handles:
            raise RpcFault(NtStatus.STATUS_INSUFFICIENT_RESOURCES, "too many open handles")
        while True:
            handle = bytes(4) + self.ctx.server.random_bytes(16)
            if handle != NULL_HANDLE and handle not in self.handles:
                self.handles[handle] = obj
                return handle

    def lookup(self, handle: bytes, kind: type | tuple[type, ...] | None = None) -> Any:
        """The object behind ``handle``, or None (unknown, or not an instance of ``kind``)."""
        obj = self.handles.get(bytes(handle))
        if obj is None or (kind is not None and not isinstance(obj, kind)):
            return None
        return obj

    def close_handle(self, handle: bytes) -> Any:
        return self.handles.pop(bytes(handle), None)

    # -- memory: the server-wide budget (core.context.MemoryBudget) ------------------------------
    def _take(self, n: int) -> bool:
        if self._budget is not None and not self._budget.try_take(n):
            return False
        self._held += n
        return True

    def _give(self, n: int) -> None:
        n = min(n, self._held)
        self._held -= n
        if self._budget is not None and n:
            self._budget.give(n)

    def _drop_call(self) -> None:
        if self._call is not None:
            self._give(self._call.size)
            self._call = None

    # -- output ---------------------------------------------------------------------------------
    def _send(self, pdu: bytes) -> None:
        if self._shed:
            return
        if not self._take(len(pdu)):  # the server is out of memory: shed this pipe's output
            log.warning("pipe %s: memory budget exhausted; disconnecting", self.name)
            self._shed = True
            self._give(self._pending)
            self._out.clear()
            self._pending = self._out_pos = 0
            self._drop_call()
            self.state = PipeState.BROKEN
            pdu = Fault(FaultStatus.NCA_S_SERVER_TOO_BUSY).encode(0, did_not_execute=True)
        self._out.append(pdu)
        self._pending += len(pdu)

    def _fault(self, call_id: int, status: int, *, context_id: int = 0, did_not_execute: bool = True) -> None:
        log.debug("pipe %s call %d: fault 0x%08x", self.name, call_id, status)
        self._send(Fault(status, context_id).encode(call_id, did_not_execute=did_not_execute))

    def _nak(self, call_id: int, reason: NakReason) -> None:
        log.debug("pipe %s call %d: bind_nak %s", self.name, call_id, reason.name)
        self._send(BindNak(reason).encode(call_id))

    def _break(self, call_id: int, why: str) -> None:
        log.info("pipe %s: protocol error (%s); disconnecting", self.name, why)
        self._drop_call()
        self._fault(call_id, FaultStatus.NCA_S_PROTO_ERROR)
        self.state = PipeState.BROKEN

    # -- PDUs -----------------------------------------------------------------------------------
    def _on_pdu(self, header: Header, pdu: bytes) -> None:
        handler = TRANSITIONS.get((self.state, header.ptype))
        if not header.little_endian:
            if handler is RpcPipe._on_bind:
                self._nak(header.call_id, NakReason.REASON_NOT_SPECIFIED)
            else:
                self._break(header.call_id, "big-endian PDU")
            return
        if handler is None:
            self._break(header.call_id, f"PDU type {header.ptype} in state {self.state.value}")
            return
        handler(self, header, pdu)

    def _on_bind(self, header: Header, pdu: bytes) -> None:
        if header.auth_length:
            self._nak(header.call_id, NakReason.AUTHENTICATION_TYPE_NOT_RECOGNIZED)
            return
        try:
            bind = Bind.decode(header, pdu)
        except MalformedMessage:
            self._nak(header.call_id, NakReason.PROTOCOL_VERSION_NOT_SUPPORTED)
            return
        if not bind.contexts:
            self._nak(header.call_id, NakReason.REASON_NOT_SPECIFIED)
            return
        self.max_xmit = self._frag(bind.max_recv_frag)
        self.max_recv = self._frag(bind.max_xmit_frag)
        self.assoc_group_id = bind.assoc_group_id or self._new_assoc_group()
        results = tuple(self._negotiate(c, bind_time=True) for c in bind.contexts)
        self.state = PipeState.BOUND
        self._send(BindAck(self.max_xmit, self.max_recv, self.assoc_group_id, self.sec_addr,
                           results).encode(header.call_id))

    def _on_second_bind(self, header: Header, pdu: bytes) -> None:
        self._nak(header.call_id, NakReason.PROTOCOL_VERSION_NOT_SUPPORTED)  # C706: one bind per connection

    def _on_alter_context(self, header: Header, pdu: bytes) -> None:
        if header.auth_length:
            self._fault(header.call_id, FaultStatus.RPC_S_UNKNOWN_AUTHN_SERVICE)
            return
        try:
            alter = Bind.decode(header, pdu)
        except MalformedMessage:
            self._fault(header.call_id, FaultStatus.NCA_S_PROTO_ERROR)
            return
        results = tuple(self._negotiate(c, bind_time=False) for c in alter.contexts)
        self._send(BindAck(self.max_xmit, self.max_recv, self.assoc_group_id, "", results)
                   .encode(header.call_id, ptype=PType.ALTER_CONTEXT_RESP))

    def _on_orphaned(self, header: Header, pdu: bytes) -> None:
        if self._call is not None and self._call.call_id == header.call_id:
            self._drop_call()  # MS-RPCE 3.3.1.5.10: the call is abandoned, the pipe stays open

    def _on_ignored(self, header: Header, pdu: bytes) -> None:
        """co_cancel (calls run to completion before the next PDU is read) and auth3."""

    def _frag(self, proposed: int) -> int:
        return max(MIN_FRAG, min(proposed, self.max_frag)) & ~7

    def _new_assoc_group(self) -> int:
        value = int.from_bytes(self.ctx.server.random_bytes(4), "little") & 0x7FFFFFFF
        return value or 1

    def _negotiate(self, c: ContextElement, *, bind_time: bool) -> ContextResult:
        """One p_cont_elem → its p_result_t (MS-RPCE 3.3.1.5.3, 3.3.1.5.6)."""
        if bind_time and len(c.transfer_syntaxes) == 1:
            offered = btfn_features(c.transfer_syntaxes[0])
            if offered is not None:
                self.features = BindFeature(offered & SUPPORTED_FEATURES)
                return ContextResult(ResultCode.NEGOTIATE_ACK, int(self.features))
        iface = next((i for i in self.interfaces if i.accepts(c.abstract_syntax)), None)
        if iface is None:
            return ContextResult(ResultCode.PROVIDER_REJECTION, ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED)
        if NDR20 not in c.transfer_syntaxes:
            return ContextResult(ResultCode.PROVIDER_REJECTION,
                                 ProviderReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED)
        known = self.contexts.get(c.context_id)
        if known is not None and known is not iface:
            return ContextResult(ResultCode.PROVIDER_REJECTION, ProviderReason.REASON_NOT_SPECIFIED)
        if known is None and len(self.contexts) >= MAX_CONTEXTS:
            return ContextResult(ResultCode.PROVIDER_REJECTION, ProviderReason.LOCAL_LIMIT_EXCEEDED)
        self.contexts[c.context_id] = iface
        return ContextResult(ResultCode.ACCEPTANCE, 0, NDR20)

    def _on_request(self, header: Header, pdu: bytes) -> None:
        if header.auth_length:
            self._drop_call()
            self._fault(header.call_id, FaultStatus.ACCESS_DENIED)
            return
        try:
            req = Request.decode(header, pdu)
        except MalformedMessage:
            self._drop_call()
            self._fault(header.call_id, FaultStatus.NCA_S_PROTO_ERROR)
            return
        call = self._call
        if header.flags & PfcFlags.FIRST_FRAG:
            self._current_call_id = header.call_id
            if call is not None:  # the previous call was never finished (MS-RPCE 3.3.1.5.8)
                self._drop_call()
                self._fault(header.call_id, FaultStatus.NCA_S_PROTO_ERROR, context_id=req.context_id)
                return
            if req.alloc_hint > self.max_stub:
                self._fault(header.call_id, FaultStatus.ACCESS_DENIED, context_id=req.context_id)
                return
            call = self._call = _Reassembly(header.call_id, req.context_id, req.opnum, req.object_uuid, [], 0)
        elif call is None:
            current = self._current_call_id
            if current is not None and 0 <= current - header.call_id < OLD_CALL_WINDOW:
                return  # the rest of a call already answered, or an old one: dropped
            self._fault(header.call_id, FaultStatus.NCA_S_PROTO_ERROR, context_id=req.context_id)
            return
        elif (header.call_id, req.context_id, req.opnum) != (call.call_id, call.context_id, call.opnum):
            self._drop_call()
            self._fault(header.call_id, FaultStatus.NCA_S_PROTO_ERROR, context_id=req.context_id)
            return
        if call.size + len(req.stub) > self.max_stub or not self._take(len(req.stub)):
            too_big = call.size + len(req.stub) > self.max_stub
            self._drop_call()
            self._fault(call.call_id, FaultStatus.ACCESS_DENIED if too_big else FaultStatus.NCA_S_SERVER_TOO_BUSY,
                        context_id=call.context_id)
            return
        call.chunks.append(req.stub)
        call.size += len(req.stub)
        if header.flags & PfcFlags.LAST_FRAG:
            self._call = None
            try:
                self._dispatch(call)
            finally:
                self._give(call.size)

    def _dispatch(self, rq: _Reassembly) -> None:
        iface = self.contexts.get(rq.context_id)
        if iface is None:
            self._fault(rq.call_id, FaultStatus.NCA_S_UNK_IF, context_id=rq.context_id)
            return
        op = iface.operations.get(rq.opnum)
        call = CallContext(self, iface, op, rq.opnum, rq.call_id, rq.context_id, rq.object_uuid)
        stub = b"".join(rq.chunks)
        try:
            if op is None:
                raise RpcFault(FaultStatus.NCA_S_OP_RNG_ERROR, did_not_execute=True)
            try:
                call.authorize()
                out = op.handler(call, NdrReader(stub))
            except CallDenied as denied:
                call.status = denied.decision.status
                out = op.deny(call, NdrReader(stub), denied.decision.status)
        except MalformedMessage as exc:
            log.debug("pipe %s %s: bad stub: %s", self.name, call.op_name, exc)
            call.fault = FaultStatus.NCA_S_FAULT_NDR
            self._fault(rq.call_id, call.fault, context_id=rq.context_id)
        except RpcFault as fault:
            call.fault = fault.status
            self._fault(rq.call_id, fault.status, context_id=rq.context_id, did_not_execute=fault.did_not_execute)
        else:
            for pdu in fragment_response(rq.call_id, rq.context_id, bytes(out), self.max_xmit):
                self._send(pdu)
        if self.on_call is not None:
            self.on_call(call, call.fault if call.fault is not None else call.status)


_Transition = Callable[[RpcPipe, Header, bytes], None]
TRANSITIONS: dict[tuple[PipeState, int], _Transition] = {
    (PipeState.UNBOUND, PType.BIND): RpcPipe._on_bind,
    (PipeState.UNBOUND, PType.AUTH3): RpcPipe._on_ignored,
    (PipeState.BOUND, PType.BIND): RpcPipe._on_second_bind,
    (PipeState.BOUND, PType.ALTER_CONTEXT): RpcPipe._on_alter_context,
    (PipeState.BOUND, PType.REQUEST): RpcPipe._on_request,
    (PipeState.BOUND, PType.ORPHANED): RpcPipe._on_orphaned,
    (PipeState.BOUND, PType.CO_CANCEL): RpcPipe._on_ignored,
    (PipeState.BOUND, PType.AUTH3): RpcPipe._on_ignored,
}
