"""Socket-free pipes for the RPC client tests.

``ScriptedPipe`` is a server that answers each TRANSCEIVE with the next scripted list of pipe
messages (a hostile or replayed server); ``ServerPipe`` puts nullsmb's own ``RpcPipe`` (the
server's state machine) behind the client, as the SMB core does (write, then read what the
pipe has, message by message); ``replay`` builds a ScriptedPipe from real Samba replies
recorded in fixtures/samba_rpc_replies.json.
"""

from __future__ import annotations

import json
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from nullsmb.client.rpc import RpcConnection
from nullsmb.rpc.pdu import SINGLE, BindAck, ContextResult, Fault, PfcFlags, Response, SyntaxId, NDR20

CAPTURES: dict[str, Any] = json.loads((Path(__file__).parent / "fixtures" / "samba_rpc_replies.json").read_text())[
    "captures"]


class ScriptedPipe:
    """Replies to TRANSCEIVEs from ``script`` (one list of messages per TRANSCEIVE, or a
    callable producing them from the request); READs drain the messages; nothing left reads
    as b"" (a real pipe would block; the client must not ask)."""

    def __init__(self, script: Iterable[list[bytes] | Callable[[bytes], list[bytes]]]) -> None:
        self.script: Iterator[list[bytes] | Callable[[bytes], list[bytes]]] = iter(script)
        self.pending: deque[bytes] = deque()
        self.requests: list[bytes] = []
        self.writes: list[bytes] = []
        self.reads = 0
        self.closed = False

    async def transceive(self, data: bytes, max_out: int) -> tuple[bytes, bool]:
        self.requests.append(data)
        item = next(self.script)
        messages = item(data) if callable(item) else item
        self.pending.extend(messages)
        return self._take(max_out)

    async def write(self, data: bytes) -> None:
        self.writes.append(data)

    async def read(self, max_bytes: int) -> tuple[bytes, bool]:
        self.reads += 1
        return self._take(max_bytes)

    def _take(self, n: int) -> tuple[bytes, bool]:
        if not self.pending:
            return b"", False
        message = self.pending.popleft()
        if len(message) > n:
            self.pending.appendleft(message[n:])
            return message[:n], True
        return message, False

    async def close(self) -> None:
        self.closed = True


class ServerPipe:
    """nullsmb's RpcPipe as the transport; ``max_out`` caps every TRANSCEIVE/READ to force
    STATUS_BUFFER_OVERFLOW continuations."""

    def __init__(self, pipe: Any, max_out: int | None = None) -> None:
        self.pipe, self.max_out = pipe, max_out

    async def transceive(self, data: bytes, max_out: int) -> tuple[bytes, bool]:
        self.pipe.write(data)
        return self.pipe.read(min(max_out, self.max_out or max_out))

    async def write(self, data: bytes) -> None:
        self.pipe.write(data)

    async def read(self, max_bytes: int) -> tuple[bytes, bool]:
        return self.pipe.read(min(max_bytes, self.max_out or max_bytes))

    async def close(self) -> None:
        self.pipe.close()


# -- PDUs a scripted server sends ---------------------------------------------------------------------

def bind_ack(call_id: int = 1, *, results: tuple[ContextResult, ...] = (ContextResult(0, 0, NDR20),),
             max_xmit: int = 4280, max_recv: int = 4280) -> bytes:
    return BindAck(max_xmit, max_recv, 0x1234, "\\PIPE\\test", results).encode(call_id)


def response(stub: bytes, call_id: int = 2, flags: int = SINGLE, context_id: int = 0) -> bytes:
    return Response(len(stub), context_id, stub).encode(call_id, flags)


def fragments(stub: bytes, size: int, call_id: int = 2) -> list[bytes]:
    """``stub`` in response fragments of ``size`` stub bytes."""
    pieces = [stub[i : i + size] for i in range(0, max(len(stub), 1), size)]
    out = []
    for i, piece in enumerate(pieces):
        flags = (PfcFlags.FIRST_FRAG if i == 0 else 0) | (PfcFlags.LAST_FRAG if i == len(pieces) - 1 else 0)
        out.append(response(piece, call_id, flags))
    return out


def fault(status: int, call_id: int = 2, *, did_not_execute: bool = False) -> bytes:
    return Fault(status).encode(call_id, did_not_execute=did_not_execute)


async def bound(script: list[Any], syntax: SyntaxId | None = None, **options: Any) -> tuple[RpcConnection, ScriptedPipe]:
    """A connection bound over a ScriptedPipe whose first reply is a bind_ack."""
    pipe = ScriptedPipe([[bind_ack()], *script])
    rpc = RpcConnection(pipe, **options)
    await rpc.bind([syntax or SyntaxId.of("4b324fc8-1670-01d3-1278-5a47bf6ee188", 3)])
    return rpc, pipe


# -- the recorded Samba replies ---------------------------------------------------------------------

def with_call_id(pdu: bytes, call_id: int) -> bytes:
    return pdu[:12] + struct.pack("<I", call_id) + pdu[16:]


def recorded_replies(name: str) -> list[bytes]:
    """The reply messages Samba sent to the recorded call ``name``, as call_id 2."""
    return [with_call_id(bytes.fromhex(reply), 2) for _op, _req, reply, _more in CAPTURES[name]["messages"] if reply]


def recorded_stub(name: str) -> bytes:
    """The reassembled response stub of the recorded call ``name``."""
    from nullsmb.rpc.pdu import decode_pdu

    return b"".join(decode_pdu(m)[1].stub for m in recorded_replies(name))


def replay(name: str) -> ScriptedPipe:
    """Samba's bind_ack, then Samba's reply to the recorded call ``name``."""
    bind = bytes.fromhex(CAPTURES["bind_srvsvc"]["messages"][0][2])
    return ScriptedPipe([[bind], recorded_replies(name)])
