"""The socket-free SMB2 server connection: PDU in, response buffers out.

Rules (MS-SMB2 3.3.5.2, in this order, for every message of a PDU):
1. Transform header → decrypt with the session's ServerIn key; failure drops the connection
   (3.3.5.2.1.1). SMB1 is only accepted as the first, multi-protocol NEGOTIATE (3.3.5.3.1).
2. Compound chains are split on NextCommand (8-byte aligned, 3.3.5.2.7).
3. MessageId within the credit window, each id once (3.3.5.2.3); else drop.
4. CreditCharge covers the payload on LARGE_MTU dialects (3.3.5.2.5); else INVALID_PARAMETER.
5. Session lookup (3.3.5.2.9), signature (3.3.5.2.4), tree lookup (3.3.5.2.11).
6. Related messages inherit session, tree and FileId; a failed CREATE's status propagates to
   the related messages that need its FileId (3.3.5.2.7.2), as on Windows and Samba: other
   failures do not (smbtorture smb2.compound.related6: a denied WRITE, then a READ succeeds).
7. Responses: each message padded to 8 bytes, signed separately; one transform header for an
   encrypted compound (3.3.4.1.3, 3.3.4.1.4).
8. A handler may answer later (``asyncops.Pending``): the message's response is then the
   interim STATUS_PENDING (3.3.4.2) and the final one goes to ``outbox`` with any message the
   server sends unasked (oplock breaks); ``on_output`` tells the glue to write them.
"""

from __future__ import annotations

import itertools
import logging
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..status import MalformedMessage, NtStatus, SmbError
from ..wire.buffer import Reader
from ..wire.header import (
    HEADER_SIZE,
    SMB1_MAGIC,
    SMB2_MAGIC,
    TRANSFORM_MAGIC,
    Command,
    HeaderFlags,
    Smb2Header,
    pack_header,
    split_compound,
)
from . import crypto
from .context import Reply, RequestContext, ServerContext
from .state import Open, Session, SessionState

if TYPE_CHECKING:
    from .asyncops import AsyncRequest
    from .crypto import PreauthHash

__all__ = ["ServerConnection"]

log = logging.getLogger(__name__)

MAX_CREDITS = 8192
FILE_ID_ANY = b"\xff" * 16
_ERROR = struct.Struct("<HBBI")
_U32 = struct.Struct("<I")
_ERROR_REPLY_INTERNAL = Reply([b"\x09\x00\x00\x00\x00\x00\x00\x00\x00"], NtStatus.STATUS_INTERNAL_ERROR)
_INTERIM = Reply([b"\x09\x00\x00\x00\x00\x00\x00\x00\x00"], NtStatus.STATUS_PENDING)

# Commands that need a tree connect (MS-SMB2 3.3.5.2.11).
NEEDS_TREE = frozenset({
    Command.TREE_DISCONNECT, Command.CREATE, Command.CLOSE, Command.FLUSH, Command.READ,
    Command.WRITE, Command.LOCK, Command.IOCTL, Command.QUERY_DIRECTORY, Command.CHANGE_NOTIFY,
    Command.QUERY_INFO, Command.SET_INFO,
})
# Commands that carry a FileId (a related one inherits a failed CREATE's status, rule 6).
USES_FILE_ID = frozenset({
    Command.CLOSE, Command.FLUSH, Command.READ, Command.WRITE, Command.LOCK, Command.IOCTL,
    Command.QUERY_DIRECTORY, Command.CHANGE_NOTIFY, Command.QUERY_INFO, Command.SET_INFO,
    Command.OPLOCK_BREAK,
})
# Commands that run without a valid session.
NO_SESSION = frozenset({Command.NEGOTIATE, Command.SESSION_SETUP, Command.ECHO, Command.CANCEL})


_SERIALS = itertools.count(1)


@dataclass(slots=True)
class Negotiated:
    """Connection state fixed by NEGOTIATE (MS-SMB2 3.3.1.7 Connection)."""

    dialect: int = 0
    client_guid: bytes = bytes(16)
    client_security_mode: int = 0
    client_capabilities: int = 0
    server_capabilities: int = 0
    server_security_mode: int = 0
    signing_algorithm: int = crypto.SIGNING_HMAC_SHA256
    cipher: int = 0
    max_transact: int = 65536
    max_read: int = 65536
    max_write: int = 65536
    large_mtu: bool = False


def _binding(ctx: RequestContext) -> bool:
    """SESSION_SETUP Flags (MS-SMB2 2.2.5) has SMB2_SESSION_FLAG_BINDING."""
    msg = ctx.message
    return len(msg) > HEADER_SIZE + 2 and bool(msg[HEADER_SIZE + 2] & 0x01)


class CreditWindow:
    """The CommandSequenceWindow as a bitmap (MS-SMB2 3.3.1.1)."""

    __slots__ = ("low", "high", "used")

    def __init__(self) -> None:
        self.low = 0  # every id below is consumed
        self.high = 1  # ids in [low, high) are granted
        self.used = 0  # bit i set: id low+i consumed

    def consume(self, mid: int, charge: int) -> bool:
        if mid < self.low or mid + charge > self.high:
            return False
        mask = ((1 << charge) - 1) << (mid - self.low)
        if self.used & mask:
            return False
        self.used |= mask
        while self.used & 1:
            # skip the run of consumed ids at the bottom in one go
            run = (~self.used & (self.used + 1)).bit_length() - 1
            self.used >>= run
            self.low += run
        return True

    @property
    def outstanding(self) -> int:
        return self.high - self.low - bin(self.used).count("1")

    def grant(self, requested: int, charge: int) -> int:
        want = max(requested, 1)
        room = MAX_CREDITS - self.outstanding
        granted = max(0, min(want, room))
        if granted == 0 and self.outstanding == 0:
            granted = 1  # never leave the client without a credit
        self.high += granted
        return granted


class ServerConnection:
    """One transport connection's protocol state."""

    def __init__(self, server: ServerContext, peer: tuple[str, int]) -> None:
        self.server = server
        self.peer = peer
        self.neg = Negotiated()
        self.negotiated = False
        self.preauth: "PreauthHash | None" = None
        self.credits = CreditWindow()
        self.sessions: dict[int, Session] = {}
        self.close_after_send = False
        self.workstation = ""
        self.pending_releases: list = []  # run by the glue once the response is written
        self.async_requests: dict[int, "AsyncRequest"] = {}  # Connection.AsyncCommandList
        self.next_async_id = 1
        self.outbox: list[list[bytes | memoryview]] = []  # PDUs sent outside request order
        self.on_output: Callable[[], None] | None = None  # the glue: "outbox is not empty"
        self.closed = False
        self.connected_at = server.clock()
        self.serial = next(_SERIALS)  # the order connections came in (oplock: the oldest is told)
        self.last_activity = self.connected_at
        from .dispatch import run_message

        self._run = run_message

    # -- entry point -------------------------------------------------------------------------
    async def handle_pdu(self, pdu: bytes | bytearray) -> list[bytes | memoryview]:
        """Process one transport PDU; returns the response buffers (maybe none)."""
        self.last_activity = self.server.clock()
        if len(pdu) < 4:
            raise MalformedMessage("PDU shorter than a protocol id")
        magic = bytes(pdu[:4])
        if magic == TRANSFORM_MAGIC:
            session, plain = self._decrypt(pdu)
            return await self._handle_smb2(plain, encrypted_by=session)
        if magic == SMB2_MAGIC:
            return await self._handle_smb2(pdu, encrypted_by=None)
        if magic == SMB1_MAGIC and not self.negotiated:
            from .handlers.negotiate import handle_smb1_negotiate

            return handle_smb1_negotiate(self, pdu)
        raise MalformedMessage(f"unexpected protocol id {magic!r}")

    def _decrypt(self, pdu: bytes | bytearray) -> tuple[Session, bytes]:
        try:
            session_id, _size = crypto.parse_transform_header(pdu)
        except crypto.DecryptError as exc:
            raise MalformedMessage(str(exc)) from None
        session = self.sessions.get(session_id)
        if session is None or session.keys is None or not session.keys.server_in_key:
            raise MalformedMessage("encrypted message for an unknown session")
        if session.state is SessionState.VALID and (session.is_anonymous or session.is_guest):
            # Anyone can compute an anonymous or guest session's keys: its encryption proves
            # nothing (MS-SMB2 3.3.5.2.1.1; Samba resets such connections, smb2.session.anon-*).
            raise MalformedMessage("encrypted message on an anonymous or guest session")
        try:
            plain = crypto.decrypt_message(self.neg.cipher, session.keys.server_in_key, pdu)
        except crypto.DecryptError as exc:
            raise MalformedMessage(f"decryption failed: {exc}") from None
        if len(plain) < 4 or plain[:4] != SMB2_MAGIC:
            raise MalformedMessage("decrypted message is not SMB2")
        return session, plain

    # -- SMB2 messages ---------------------------------------------------------------------------
    async def _handle_smb2(self, pdu: bytes | bytearray, encrypted_by: Session | None) -> list:
        bounds = split_compound(pdu)
        view = memoryview(pdu)
        responses: list = []
        prev: RequestContext | None = None
        prev_status = NtStatus.STATUS_SUCCESS
        releases = []
        last = len(bounds) - 1
        for index, (start, end) in enumerate(bounds):
            msg = view[start:end]
            hdr = Smb2Header.decode(Reader(msg))
            if hdr.command == Command.CANCEL:
                await self._run_cancel(hdr)
                continue
            if encrypted_by is not None and not hdr.is_related and hdr.session_id != encrypted_by.session_id:
                # MS-SMB2 3.3.5.2.1.1: the inner SessionId must be the one that encrypted it;
                # otherwise one session's key would vouch for another session's requests.
                raise MalformedMessage("encrypted message names another session")
            ctx = RequestContext(self, hdr, msg, encrypted=encrypted_by is not None)
            forced: int | None = None
            if hdr.is_related:
                if prev is None or prev.session is None:
                    # MS-SMB2 3.3.5.2.7.2: nothing to inherit (first in the chain, or the
                    # previous message had no valid session)
                    forced = NtStatus.STATUS_INVALID_PARAMETER
                else:
                    ctx.session, ctx.tree = prev.session, prev.tree
                    ctx.related_file_id = prev.related_file_id
                    if prev_status >= 0xC0000000 and hdr.command in USES_FILE_ID:
                        forced = prev_status  # a failure propagates to what needs its FileId
            status, reply = await self._process(ctx, related_failure=forced)
            if reply.release is not None:
                releases.append(reply.release)
            areq = getattr(reply, "request", None)
            if areq is not None and index != last:
                # Only the last request of a compound may go async; the others fail as on
                # Windows and Samba (MS-SMB2 <159>; smbtorture smb2.compound.interim2).
                areq.abandon()
                areq = None
                status = NtStatus.STATUS_INTERNAL_ERROR
                reply = _ERROR_REPLY_INTERNAL
                carried = NtStatus.STATUS_SUCCESS  # the next related request still runs
            elif forced is not None or hdr.command == Command.CREATE:
                carried = status  # rule 6: a CREATE's failure (and its propagation) carries on
            else:
                carried = NtStatus.STATUS_SUCCESS
            if areq is not None:  # rule 8: the interim response, never signed (3.3.4.2)
                signed = False
                parts = self._response_message(ctx, status, _INTERIM, signed_by=None,
                                               async_id=areq.async_id)
            else:
                signed = self._should_sign(ctx, status)
                parts = self._response_message(ctx, status, reply,
                                               signed_by=ctx.session if signed else None)
            responses.append((parts, ctx.session, signed, ctx))
            prev, prev_status = ctx, carried
        try:
            return self._assemble(responses, encrypted_by)
        finally:
            self.pending_releases.extend(releases)

    def sent(self, reusable: bool) -> None:
        """The glue wrote the last response: buffers held for it can go (``reusable``: back to
        their pool, when the transport kept no reference to them)."""
        releases, self.pending_releases = self.pending_releases, []
        for release in releases:
            release(reusable)

    async def _process(self, ctx: RequestContext, related_failure: int | None) -> tuple[int, Reply]:
        hdr = ctx.header
        try:
            self._check_sequence(hdr)
            if related_failure is not None:
                raise SmbError(related_failure)
            self._check_session_and_signature(ctx)
            reply = await self._run(ctx)
        except SmbError as err:
            if ctx.session is not None and err.status == NtStatus.STATUS_ACCESS_DENIED:
                ctx.session.denials += 1
            body = _ERROR.pack(9, 0, 0, len(err.error_data)) + (err.error_data or b"\x00")
            return err.status, Reply.of(body, err.status)
        return reply.status, reply

    def _check_sequence(self, hdr: Smb2Header) -> None:
        charge = hdr.credit_charge if self.neg.large_mtu else 1
        charge = max(charge, 1)
        if not self.credits.consume(hdr.message_id, charge):
            raise MalformedMessage(f"MessageId {hdr.message_id} outside the credit window")

    def check_payload_charge(self, hdr: Smb2Header, payload: int) -> None:
        """MS-SMB2 3.3.5.2.5: a LARGE_MTU request must pay one credit per 64 KiB."""
        if self.neg.large_mtu:
            needed = max(1, (payload - 1) // 65536 + 1)
            if max(hdr.credit_charge, 1) < needed:
                raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "credit charge too small")
        elif payload > 65536:
            raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "payload over 64 KiB")

    def _check_session_and_signature(self, ctx: RequestContext) -> None:
        hdr = ctx.header
        command = hdr.command
        if not self.negotiated and command != Command.NEGOTIATE:
            raise MalformedMessage("request before NEGOTIATE")
        session = ctx.session
        if session is None and command not in (Command.NEGOTIATE,) and hdr.session_id:
            session = self.sessions.get(hdr.session_id)
            if session is None and command == Command.SESSION_SETUP:
                # MS-SMB2 3.3.5.5 step 4: a binding names a session of the global table
                session = self.server.sessions.get(hdr.session_id)
                if session is not None and session.state is not SessionState.VALID:
                    session = None
                if session is not None and not _binding(ctx):
                    # not ours and not a binding: USER_SESSION_DELETED, signed with the named
                    # session's key when the request was signed (the client requires it)
                    ctx.session = session
                    ctx.sign_response = hdr.is_signed
                    raise SmbError(NtStatus.STATUS_USER_SESSION_DELETED)
            if session is None:
                raise SmbError(NtStatus.STATUS_USER_SESSION_DELETED)
            ctx.session = session
        if session is None:
            if command not in NO_SESSION:
                raise SmbError(NtStatus.STATUS_USER_SESSION_DELETED)
            return
        if session.state is SessionState.EXPIRED:
            raise SmbError(NtStatus.STATUS_USER_SESSION_DELETED)  # inherited, then logged off
        if session.state is SessionState.VALID:
            if hdr.is_signed and not ctx.encrypted:
                if not self._verify(ctx, session):
                    raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "bad signature")
            elif session.signing_required and not ctx.encrypted and command != Command.SESSION_SETUP:
                raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "unsigned request on a signed session")
            if session.encrypt_data and not ctx.encrypted and self.neg.dialect >= 0x0300 and command not in (
                Command.NEGOTIATE, Command.SESSION_SETUP
            ):
                raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "unencrypted request on an encrypted session")
        elif command != Command.SESSION_SETUP:
            raise SmbError(NtStatus.STATUS_USER_SESSION_DELETED)
        session.last_activity = self.last_activity
        session.requests += 1
        if ctx.tree is not None and session.tree_connect_table.get(ctx.tree.tree_id) is not ctx.tree:
            raise SmbError(NtStatus.STATUS_NETWORK_NAME_DELETED)  # inherited, then disconnected
        if command in NEEDS_TREE and ctx.tree is None:
            tree = session.tree_connect_table.get(hdr.tree_id)
            if tree is None:
                raise SmbError(NtStatus.STATUS_NETWORK_NAME_DELETED)
            ctx.tree = tree
        if ctx.tree is not None and ctx.tree.encrypt and not ctx.encrypted and command in NEEDS_TREE:
            raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "share requires encryption")

    def _verify(self, ctx: RequestContext, session: Session) -> bool:
        if session.keys is None or not session.keys.signing_key:
            return False
        msg = ctx.message
        zeroed = bytes(msg[:48]) + bytes(16)
        return crypto.verify_signature(
            self.signing_algorithm_of(session), session.keys.signing_key, (zeroed, msg[HEADER_SIZE:]),
            expected=bytes(msg[48:64]), message_id=ctx.header.message_id, is_response=False,
            is_cancel=ctx.header.command == Command.CANCEL,
        )

    def signing_algorithm_of(self, session: Session) -> int:
        """The session's own algorithm: a binding request names a session of another
        connection, whose negotiation may have chosen another (MS-SMB2 3.3.5.5)."""
        return session.signing_algorithm if session.dialect else self.neg.signing_algorithm

    def _should_sign(self, ctx: RequestContext, status: int) -> bool:
        session = ctx.session
        if session is None or session.keys is None or not session.keys.signing_key:
            return False
        if ctx.sign_response is not None:
            return ctx.sign_response  # the final SESSION_SETUP, LOGOFF, VALIDATE_NEGOTIATE_INFO
        if ctx.encrypted or session.encrypt_data and self.neg.dialect >= 0x0300:
            return False  # encryption protects it (MS-SMB2 3.3.4.1.1)
        if session.state is not SessionState.VALID:
            return False
        return ctx.header.is_signed or session.signing_required

    # -- response building ---------------------------------------------------------------------------
    def _response_message(self, ctx: RequestContext, status: int, reply: Reply,
                          signed_by: Session | None,
                          async_id: int | None = None) -> list[bytes | memoryview]:
        hdr = ctx.header
        credits = self.credits.grant(hdr.credit_request, hdr.credit_charge)
        flags = HeaderFlags.SERVER_TO_REDIR | (hdr.flags & HeaderFlags.RELATED_OPERATIONS)
        if hdr.flags & HeaderFlags.PRIORITY_MASK and self.neg.dialect >= 0x0311:
            flags |= hdr.flags & HeaderFlags.PRIORITY_MASK
        session_id = ctx.session.session_id if ctx.session is not None else hdr.session_id
        tree_id = ctx.tree.tree_id if ctx.tree is not None else hdr.tree_id
        if hdr.command == Command.TREE_CONNECT and ctx.tree is not None:
            tree_id = ctx.tree.tree_id
        if signed_by is not None:
            flags |= HeaderFlags.SIGNED
        header = pack_header(
            command=hdr.command, status=status, message_id=hdr.message_id, session_id=session_id,
            tree_id=tree_id, credit_charge=hdr.credit_charge, credits=credits, flags=flags,
            async_id=async_id if async_id is not None else (
                hdr.async_id if hdr.flags & HeaderFlags.ASYNC_COMMAND else None),
        )
        return [header, *reply.parts]

    def sign_message(self, parts: list[bytes | memoryview], session: Session, message_id: int,
                     command: int) -> None:
        header = parts[0]
        assert isinstance(header, bytearray)
        sig = crypto.compute_signature(
            self.signing_algorithm_of(session), session.keys.signing_key, parts,  # type: ignore[union-attr]
            message_id=message_id, is_response=True, is_cancel=command == Command.CANCEL,
        )
        header[48:64] = sig

    def _assemble(self, responses, encrypted_by: Session | None) -> list[bytes | memoryview]:
        out: list[bytes | memoryview] = []
        n = len(responses)
        for i, (parts, session, signed, ctx) in enumerate(responses):
            header = parts[0]
            if n > 1:
                size = sum(len(p) for p in parts)
                if i < n - 1:
                    pad = -size % 8
                    if pad:
                        parts.append(bytes(pad))
                    _U32.pack_into(header, 20, size + pad)  # NextCommand
            if signed:
                mid = int.from_bytes(header[24:32], "little")
                cmd = int.from_bytes(header[12:14], "little")
                self.sign_message(parts, session, mid, cmd)
            if ctx.on_response is not None:
                ctx.on_response(b"".join(parts))
            out.extend(parts)
        enc = encrypted_by
        if enc is None and responses:
            first_session = responses[0][1]
            first_command = responses[0][3].header.command
            if first_session is not None and first_session.encrypt_data and self.neg.dialect >= 0x0300 \
                    and first_session.state is SessionState.VALID and first_session.keys \
                    and first_command not in (Command.SESSION_SETUP, Command.NEGOTIATE):
                enc = first_session
        if enc is not None and enc.keys is not None and enc.keys.server_out_key and out:
            nonce = self.server.random_bytes(crypto.nonce_size(self.neg.cipher))
            return [crypto.encrypt_message(self.neg.cipher, enc.keys.server_out_key, enc.session_id,
                                           out, nonce)]
        return out

    # -- helpers for handlers -------------------------------------------------------------------------
    def lookup_open(self, ctx: RequestContext, file_id: bytes) -> Open:
        if file_id == FILE_ID_ANY and ctx.header.is_related:
            if ctx.related_file_id is None:
                # no open to inherit from the earlier messages (a first message that is related
                # already failed INVALID_PARAMETER, rule 6): FILE_CLOSED, as Windows and Samba
                raise SmbError(NtStatus.STATUS_FILE_CLOSED)
            file_id = ctx.related_file_id
        session = ctx.session
        if session is None:
            raise SmbError(NtStatus.STATUS_FILE_CLOSED)
        volatile = int.from_bytes(file_id[8:16], "little")
        op = session.open_table.get(volatile)
        if op is None or op.persistent_id != int.from_bytes(file_id[:8], "little"):
            raise SmbError(NtStatus.STATUS_FILE_CLOSED)
        if ctx.tree is not None and op.tree is not ctx.tree:
            raise SmbError(NtStatus.STATUS_FILE_CLOSED)
        return op

    async def _run_cancel(self, hdr: Smb2Header) -> None:
        """MS-SMB2 3.3.5.16: CANCEL gets no response of its own; the request it names (by
        AsyncId, or by MessageId before the client saw the interim response) is answered
        STATUS_CANCELLED. Requests answered at once are never pending, so nothing else is."""
        if hdr.flags & HeaderFlags.ASYNC_COMMAND:
            areq = self.async_requests.get(hdr.async_id)
        else:
            areq = next((a for a in self.async_requests.values()
                         if a.message_id == hdr.message_id), None)
        if areq is not None and (areq.session is None or hdr.session_id in (0, areq.session.session_id)):
            areq.cancel()

    # -- asynchronous requests and unsolicited messages (rule 8) ---------------------------------
    def new_async(self, ctx: RequestContext, cleanup: Callable[[], None] | None) -> "AsyncRequest":
        from .asyncops import AsyncRequest

        hdr = ctx.header
        session = ctx.session
        encrypt = ctx.encrypted or bool(session and session.encrypt_data and self.neg.dialect >= 0x0300)
        sign = not encrypt and bool(session and session.keys and session.keys.signing_key
                                    and session.state is SessionState.VALID
                                    and (hdr.is_signed or session.signing_required))
        areq = AsyncRequest(self, self.next_async_id, hdr.message_id, hdr.command,
                            hdr.credit_charge, session, ctx.tree.tree_id if ctx.tree else hdr.tree_id,
                            sign, encrypt, cleanup)
        self.next_async_id += 1
        self.async_requests[areq.async_id] = areq
        return areq

    def finish_async(self, areq: "AsyncRequest", reply: Reply) -> None:
        """The final response of an async request (MS-SMB2 3.3.4.3: CreditResponse 0)."""
        self.async_requests.pop(areq.async_id, None)
        if self.closed:
            return
        header = pack_header(command=areq.command, status=reply.status, message_id=areq.message_id,
                             session_id=areq.session.session_id if areq.session else 0,
                             async_id=areq.async_id, credit_charge=areq.credit_charge, credits=0,
                             flags=HeaderFlags.SERVER_TO_REDIR | (HeaderFlags.SIGNED if areq.sign else 0))
        self.send_message([header, *reply.parts], areq.session,
                          sign=areq.sign, encrypt=areq.encrypt)

    def send_message(self, parts: list[bytes | memoryview], session: Session | None, *,
                     sign: bool, encrypt: bool) -> None:
        """Queue one complete message (header first) for the glue to write."""
        if self.closed:
            return
        if sign and session is not None and session.keys is not None:
            mid = int.from_bytes(parts[0][24:32], "little")
            cmd = int.from_bytes(parts[0][12:14], "little")
            self.sign_message(parts, session, mid, cmd)
        if encrypt and session is not None and session.keys is not None and session.keys.server_out_key:
            nonce = self.server.random_bytes(crypto.nonce_size(self.neg.cipher))
            parts = [crypto.encrypt_message(self.neg.cipher, session.keys.server_out_key,
                                            session.session_id, parts, nonce)]
        self.outbox.append(parts)
        if self.on_output is not None:
            self.on_output()

    def take_output(self) -> list[list[bytes | memoryview]]:
        out, self.outbox = self.outbox, []
        return out

    async def close_all(self, reason: str = "disconnect") -> None:
        """Tear down every session of this connection (transport lost or admin close)."""
        from .handlers.session import destroy_session

        self.closed = True
        for areq in list(self.async_requests.values()):
            areq.abandon()
        for session in list(self.sessions.values()):
            await destroy_session(self, session, reason)
