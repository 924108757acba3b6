"""A sans-I/O SMB2/3 client connection (MS-SMB2 3.2) over the same wire/ codecs as the server.

Requests go out as framed bytes (``data_to_send``); bytes come back in (``receive_data``) and
are turned into ``Response`` objects. No sockets, no clock and no randomness of its own: both
are injected, so tests pair it with a ``ServerConnection`` and move bytes between them.

Rules:
1. MessageIds and credits (MS-SMB2 3.2.4.1.3, 3.2.4.1.5): every request takes its CreditCharge
   worth of ids and credits (one per 64 KiB of payload on 2.1+, always one on 2.0.2); every
   response, the interim STATUS_PENDING one included, adds its CreditResponse. Sending with too
   few credits is ``NoCredits`` (the caller waits for a response and retries).
2. Pre-auth integrity (3.1.1, MS-SMB2 3.2.5.2, 3.2.5.3.1): the connection hash covers the
   NEGOTIATE request and response; each session continues from a copy over every SESSION_SETUP
   request and every response except the final STATUS_SUCCESS one. Keys come from
   ``crypto.derive_session_keys`` with that hash.
3. Signing (MS-SMB2 3.2.4.1.1, 3.2.5.1.3): a session signs when asked to (``sign=True``), when
   either side requires it, or by default for user sessions (anonymous and guest sessions have
   no usable key). A response with SMB2_FLAGS_SIGNED is always verified. A successful response
   to a signed request must be signed; unsigned *error* responses are accepted, since the status
   is all they carry. On 3.1.1 the final SESSION_SETUP response of a user session must be
   signed (3.2.5.3.1); that of an anonymous or guest session is not, and is never checked.
4. Encryption (MS-SMB2 3.2.4.1.8, 3.2.5.1.1.1): once a session encrypts (``encrypt=True`` or the
   server's SMB2_SESSION_FLAG_ENCRYPT_DATA), every request of it goes out in one
   TRANSFORM_HEADER and is not signed; encrypted responses carry no signature either.
5. Compounds (MS-SMB2 3.2.4.1.4): each message starts 8-byte aligned; related messages carry
   SMB2_FLAGS_RELATED_OPERATIONS and may use FileId 0xFF..FF for the previous CREATE's handle.
6. Errors: a failing status is data (``Response.status``; ``Response.raise_for_status``). A peer
   that breaks the protocol (bad signature, unknown MessageId, undecryptable or malformed
   response) raises ``ClientProtocolError``: the connection can no longer be trusted.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..auth.ntlmssp import NtlmInitiator
from ..auth.spnego import SpnegoInitiator
from ..core import crypto
from ..status import MalformedMessage, NtStatus, SmbError
from ..wire.buffer import Reader
from ..wire.framing import FrameDecoder, frame_header
from ..wire.fscc import filetime
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
from ..wire.negotiate import (
    HASH_SHA512,
    Capabilities,
    ContextType,
    Dialect,
    NegotiateContext,
    NegotiateRequest,
    NegotiateResponse,
    SecurityMode,
)
from ..wire.session_setup import SessionFlags, SessionSetupRequest, SessionSetupResponse

__all__ = [
    "ALL_DIALECTS",
    "ClientConnection",
    "ClientProtocolError",
    "ClientSession",
    "FILE_ID_RELATED",
    "NoCredits",
    "Outgoing",
    "Response",
    "SmbClientError",
    "parse_file_directory_information",
    "smb1_negotiate_pdu",
]

ALL_DIALECTS = (Dialect.SMB202, Dialect.SMB210, Dialect.SMB300, Dialect.SMB302, Dialect.SMB311)
FILE_ID_RELATED = b"\xff" * 16  # MS-SMB2 3.2.4.1.4: "the FileId of the previous CREATE"
ASYNC_MESSAGE_ID = 0xFFFFFFFFFFFFFFFF  # oplock/lease break notifications (MS-SMB2 3.2.5.19)
MAX_FRAME = 16 * 1024 * 1024
_ERROR_RSP = struct.Struct("<HBBI")  # MS-SMB2 2.2.2: StructureSize, ErrorContextCount, Reserved, ByteCount
_U32 = struct.Struct("<I")
# Responses that bring data along with a non-success status (MS-SMB2 3.3.4.4).
_BODY_STATUSES = frozenset({
    NtStatus.STATUS_SUCCESS, NtStatus.STATUS_MORE_PROCESSING_REQUIRED, NtStatus.STATUS_BUFFER_OVERFLOW,
})


class SmbClientError(Exception):
    """The server answered ``status`` (an NTSTATUS, MS-ERREF 2.3) to ``command``."""

    def __init__(self, status: int, command: int | None = None, message: str = "") -> None:
        self.status = int(status)
        self.command = command
        what = NtStatus.name_of(self.status)
        if command is not None:
            try:
                what += f" on {Command(command).name}"
            except ValueError:
                what += f" on command 0x{command:04x}"
        super().__init__(f"{what}: {message}" if message else what)


class ClientProtocolError(Exception):
    """The server broke the protocol (bad signature, unknown MessageId, garbage): drop it."""


class NoCredits(RuntimeError):
    """Not enough credits to send now; wait for a response (it grants more) and retry."""


@dataclass(frozen=True, slots=True)
class Response:
    """One response message: the header fields, and the message itself (header included, so
    body offsets are used as they come off the wire; the body starts at ``HEADER_SIZE``)."""

    command: int
    status: int
    message_id: int
    session_id: int
    tree_id: int
    flags: int
    credits: int  # CreditResponse
    message: bytes = field(repr=False)
    signed: bool = False  # carried a signature that verified
    encrypted: bool = False

    @property
    def ok(self) -> bool:
        return self.status in _BODY_STATUSES

    def reader(self) -> Reader:
        return Reader(self.message)

    def error_data(self) -> bytes:
        """ErrorData of an SMB2 ERROR response (MS-SMB2 2.2.2); empty when there is none."""
        if self.ok or len(self.message) < HEADER_SIZE + _ERROR_RSP.size:
            return b""
        _size, _count, _res, length = _ERROR_RSP.unpack_from(self.message, HEADER_SIZE)
        return self.message[HEADER_SIZE + 8 : HEADER_SIZE + 8 + length]

    def raise_for_status(self, *, allow: Sequence[int] = ()) -> "Response":
        """``self`` when the status is SUCCESS (or in ``allow``), else ``SmbClientError``."""
        if self.status != NtStatus.STATUS_SUCCESS and self.status not in allow:
            raise SmbClientError(self.status, self.command)
        return self


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message of a request PDU, for ``ClientConnection.send``.

    ``payload`` is the data size the CreditCharge must cover (READ length, WRITE length,
    QUERY_DIRECTORY/QUERY_INFO output size, max(IOCTL input, output)).
    """

    command: int
    body: bytes
    tree_id: int = 0
    payload: int = 0
    session_id: int | None = None  # None: the connection's current session (0 when none)
    flags: int = 0  # extra header flags (DFS_OPERATIONS, REPLAY_OPERATION, PRIORITY)


@dataclass(eq=False, slots=True)
class ClientSession:
    """MS-SMB2 3.2.1.3 Session, as far as this client needs it."""

    session_id: int = 0
    user: str = ""
    domain: str = ""
    anonymous: bool = False
    auth: SpnegoInitiator | None = field(default=None, repr=False)
    preauth: crypto.PreauthHash | None = field(default=None, repr=False)
    keys: crypto.SessionKeys | None = field(default=None, repr=False)
    session_flags: int = 0
    sign_requested: bool | None = None
    encrypt_requested: bool = False
    signing: bool = False  # Session.SigningRequired: sign every request
    encrypt: bool = False  # Session.EncryptData: encrypt every request
    established: bool = False

    @property
    def is_guest(self) -> bool:
        return bool(self.session_flags & SessionFlags.IS_GUEST)

    @property
    def is_null(self) -> bool:
        """An anonymous logon, whether or not the server said IS_NULL (Windows does not)."""
        return self.anonymous or bool(self.session_flags & SessionFlags.IS_NULL)


@dataclass(slots=True)
class _Pending:
    command: int
    session_id: int
    signed: bool
    async_id: int = 0


def smb1_negotiate_pdu(dialects: Sequence[str] = ("NT LM 0.12", "SMB 2.002", "SMB 2.???")) -> bytes:
    """An SMB1 SMB_COM_NEGOTIATE listing ``dialects`` (MS-CIFS 2.2.4.52.1, MS-SMB2 3.2.4.2.2.1)."""
    data = b"".join(b"\x02" + d.encode("ascii") + b"\x00" for d in dialects)
    header = struct.pack(
        "<4sBIBHH8sHHHHH", SMB1_MAGIC, 0x72, 0, 0x18, 0xC853, 0, bytes(8), 0, 0xFFFF, 0xFEFF, 0, 0,
    )
    return header + struct.pack("<BH", 0, len(data)) + data


class ClientConnection:
    """One client transport connection's protocol state (MS-SMB2 3.2.1.2 Connection)."""

    def __init__(
        self,
        *,
        random_bytes: Callable[[int], bytes],
        clock: Callable[[], float],
        dialects: Sequence[int] = ALL_DIALECTS,
        signing_required: bool = False,
        ciphers: Sequence[int] = (crypto.AES_128_GCM, crypto.AES_128_CCM),
        signing_algorithms: Sequence[int] = (crypto.SIGNING_AES_GMAC, crypto.SIGNING_AES_CMAC),
        credit_target: int = 128,
        max_frame: int = MAX_FRAME,
    ) -> None:
        if not dialects or any(d not in ALL_DIALECTS for d in dialects):
            raise ValueError(f"dialects must be a non-empty subset of {[hex(d) for d in ALL_DIALECTS]}")
        self._random = random_bytes
        self._clock = clock
        self.offered_dialects = tuple(sorted(set(int(d) for d in dialects)))
        self.signing_required = signing_required
        self.offered_ciphers = tuple(ciphers)
        self.offered_signing = tuple(signing_algorithms)
        self.credit_target = credit_target
        self.client_guid = bytes(random_bytes(16))
        # MS-SMB2 3.2.1.2 Connection
        self.dialect = 0
        self.negotiated = False
        self.server_guid = b""
        self.server_security_mode = 0
        self.server_capabilities = 0
        self.max_transact = self.max_read = self.max_write = 65536
        self.cipher = 0
        self.signing_algorithm = crypto.SIGNING_HMAC_SHA256
        self.security_blob = b""  # the server's GSS hint (MS-SMB2 3.2.5.2)
        self.preauth: crypto.PreauthHash | None = None
        self.credits = 1
        self.next_message_id = 0
        self.sessions: dict[int, ClientSession] = {}
        self.session: ClientSession | None = None  # the session requests use by default
        self._setup: ClientSession | None = None  # the session being set up
        self._pending: dict[int, _Pending] = {}
        self._out = bytearray()
        self._decoder = FrameDecoder(max_frame)
        self._negotiate_message = b""

    # -- byte streams ------------------------------------------------------------------------------
    def data_to_send(self) -> bytes:
        """Framed bytes for the transport (Direct TCP, MS-SMB2 2.1); empties the queue."""
        out, self._out = bytes(self._out), bytearray()
        return out

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Response]:
        """Bytes from the transport in, responses out (any chunking)."""
        try:
            pdus = self._decoder.feed(data)
        except MalformedMessage as exc:
            raise ClientProtocolError(f"framing: {exc}") from None
        out: list[Response] = []
        for pdu in pdus:
            out.extend(self.receive_pdu(pdu))
        return out

    @property
    def pending(self) -> frozenset[int]:
        """MessageIds sent and not answered yet."""
        return frozenset(self._pending)

    # -- NEGOTIATE ---------------------------------------------------------------------------------
    @property
    def security_mode(self) -> int:
        mode = SecurityMode.SIGNING_ENABLED
        if self.signing_required:
            mode |= SecurityMode.SIGNING_REQUIRED
        return int(mode)

    def negotiate(self) -> int:
        """Queue an SMB2 NEGOTIATE (MS-SMB2 3.2.4.2.2.2); 3.1.1 contexts when it is offered."""
        if self.negotiated:
            raise RuntimeError("the connection is already negotiated")
        caps = 0
        if any(d >= Dialect.SMB300 for d in self.offered_dialects) and crypto.AES_128_CCM in self.offered_ciphers:
            caps |= Capabilities.ENCRYPTION  # 3.0 / 3.0.2 only encrypt when the client says so
        if any(d >= Dialect.SMB210 for d in self.offered_dialects):
            caps |= Capabilities.LARGE_MTU
        contexts: tuple[NegotiateContext, ...] = ()
        if Dialect.SMB311 in self.offered_dialects:
            salt = self._random(32)
            ctx = [NegotiateContext(ContextType.PREAUTH_INTEGRITY_CAPABILITIES,
                                    struct.pack("<HHH", 1, len(salt), HASH_SHA512) + salt)]
            if self.offered_ciphers:
                ctx.append(NegotiateContext(ContextType.ENCRYPTION_CAPABILITIES, _u16_list(self.offered_ciphers)))
            if self.offered_signing:
                ctx.append(NegotiateContext(ContextType.SIGNING_CAPABILITIES, _u16_list(self.offered_signing)))
            contexts = tuple(ctx)
        body = NegotiateRequest(self.security_mode, int(caps), self.client_guid, self.offered_dialects,
                                contexts).encode()
        [(mid, message)] = self._emit([Outgoing(Command.NEGOTIATE, body, session_id=0)], encrypt=False)
        self._negotiate_message = message
        return mid

    def smb1_negotiate(self, dialects: Sequence[str] = ("NT LM 0.12", "SMB 2.002", "SMB 2.???")) -> int:
        """Queue the SMB1 multi-protocol NEGOTIATE (MessageId 0, MS-SMB2 3.2.4.2.2.1). The
        server answers "SMB 2.???" with dialect 0x02FF; send ``negotiate()`` after it."""
        if self.next_message_id != 0:
            raise RuntimeError("the SMB1 NEGOTIATE must be the first message")
        pdu = smb1_negotiate_pdu(dialects)
        self._out += frame_header(len(pdu)) + pdu
        self._pending[0] = _Pending(Command.NEGOTIATE, 0, False)
        self.next_message_id = 1
        self.credits -= 1
        return 0

    def _on_negotiate(self, rsp: Response) -> None:
        if rsp.status != NtStatus.STATUS_SUCCESS:
            return
        neg = _decode(NegotiateResponse.decode, rsp)
        if neg.dialect == Dialect.WILDCARD:
            return  # MS-SMB2 3.2.5.2: send an SMB2 NEGOTIATE next
        if neg.dialect not in self.offered_dialects:
            raise ClientProtocolError(f"server chose dialect 0x{neg.dialect:04x}, not offered")
        self.dialect = neg.dialect
        self.server_guid = neg.server_guid
        self.server_security_mode = neg.security_mode
        self.server_capabilities = neg.capabilities
        self.max_transact, self.max_read, self.max_write = neg.max_transact, neg.max_read, neg.max_write
        self.security_blob = neg.security_buffer
        self.negotiated = True
        if self.dialect in (Dialect.SMB300, Dialect.SMB302):
            self.cipher = crypto.AES_128_CCM if neg.capabilities & Capabilities.ENCRYPTION else 0
        if self.dialect == Dialect.SMB311:
            self._negotiate_contexts(neg)
            self.preauth = crypto.PreauthHash()
            self.preauth.update(self._negotiate_message)
            self.preauth.update(rsp.message)
        else:
            self.signing_algorithm = crypto.signing_algorithm_for(self.dialect)

    def _negotiate_contexts(self, neg: NegotiateResponse) -> None:
        """MS-SMB2 3.2.5.2: exactly one hash, at most one cipher and signing algorithm."""
        signing = None
        seen_hash = False
        for ctx in neg.contexts:
            try:
                values = ctx.u16_list(0, 4) if ctx.type == ContextType.PREAUTH_INTEGRITY_CAPABILITIES \
                    else ctx.u16_list()
            except MalformedMessage:
                raise ClientProtocolError(f"malformed negotiate context {ctx.type}") from None
            if ctx.type == ContextType.PREAUTH_INTEGRITY_CAPABILITIES:
                if values != [HASH_SHA512]:
                    raise ClientProtocolError("server chose no SHA-512 pre-auth integrity")
                seen_hash = True
            elif ctx.type == ContextType.ENCRYPTION_CAPABILITIES:
                if len(values) != 1 or values[0] not in (0, *self.offered_ciphers):
                    raise ClientProtocolError(f"server chose cipher {values}, not offered")
                self.cipher = values[0]
            elif ctx.type == ContextType.SIGNING_CAPABILITIES:
                if len(values) != 1 or values[0] not in self.offered_signing:
                    raise ClientProtocolError(f"server chose signing algorithm {values}, not offered")
                signing = values[0]
        if not seen_hash:
            raise ClientProtocolError("3.1.1 NEGOTIATE response without pre-auth integrity")
        self.signing_algorithm = crypto.signing_algorithm_for(Dialect.SMB311, signing)

    # -- SESSION_SETUP ------------------------------------------------------------------------------
    def session_setup(self, *, user: str = "", password: str = "", domain: str = "",
                      nt_hash: bytes | None = None, sign: bool | None = None, encrypt: bool = False,
                      workstation: str = "NULLSMB") -> int:
        """Queue the first SESSION_SETUP (MS-SMB2 3.2.4.2.3): anonymous when user, password and
        hash are all empty, else NTLMv2. Feed each SESSION_SETUP response to
        ``session_setup_step`` until it returns None."""
        if not self.negotiated:
            raise RuntimeError("negotiate first")
        if self._setup is not None:
            raise RuntimeError("a session setup is already in progress")
        if encrypt and not self.can_encrypt:
            raise ValueError("encryption needs SMB 3.x and a negotiated cipher")
        ntlm = NtlmInitiator(
            user=user, password=password, domain=domain, nt_hash=nt_hash, workstation=workstation,
            client_challenge=self._random(8), exported_session_key=self._random(16),
            now_filetime=filetime(int(self._clock() * 1e9)),
        )
        session = ClientSession(user=user, domain=domain, anonymous=ntlm.anonymous,
                                auth=SpnegoInitiator(ntlm), sign_requested=sign, encrypt_requested=encrypt)
        if self.preauth is not None:
            session.preauth = self.preauth.copy()
        self._setup = session
        assert session.auth is not None
        return self._send_session_setup(session, session.auth.initial())

    @property
    def can_encrypt(self) -> bool:
        return self.dialect >= Dialect.SMB300 and self.cipher != 0

    def _send_session_setup(self, session: ClientSession, token: bytes) -> int:
        body = SessionSetupRequest(0, self.security_mode, 0, 0, token).encode()
        [(mid, message)] = self._emit(
            [Outgoing(Command.SESSION_SETUP, body, session_id=session.session_id)], encrypt=False,
            sign=False,
        )
        if session.preauth is not None:
            session.preauth.update(message)
        return mid

    def session_setup_step(self, rsp: Response) -> int | None:
        """Process a SESSION_SETUP response: the MessageId of the next leg, or None once the
        session is established (``self.session``). A failure raises ``SmbClientError``; a
        server that cannot be trusted (bad signature, bad mechListMIC) ``ClientProtocolError``."""
        session = self._setup
        if session is None or rsp.command != Command.SESSION_SETUP:
            raise RuntimeError("no session setup in progress")
        assert session.auth is not None
        if rsp.status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED:
            if session.session_id == 0:
                session.session_id = rsp.session_id
                self.sessions[rsp.session_id] = session
            elif rsp.session_id != session.session_id:
                raise ClientProtocolError("SESSION_SETUP answered for another session")
            if session.preauth is not None:
                session.preauth.update(rsp.message)
            token = _decode(SessionSetupResponse.decode, rsp).token
            return self._send_session_setup(session, self._auth_step(session, token))
        if rsp.status != NtStatus.STATUS_SUCCESS:
            self._abandon_setup(session)
            raise SmbClientError(rsp.status, Command.SESSION_SETUP)
        body = _decode(SessionSetupResponse.decode, rsp)
        session.session_id = rsp.session_id
        if body.token:
            self._auth_step(session, body.token)  # verifies the server's mechListMIC
        session.session_flags = body.session_flags
        session.keys = crypto.derive_session_keys(
            self.dialect, session.auth.session_key,
            preauth_hash=session.preauth.value if session.preauth is not None else None,
            cipher=self.cipher,
        )
        user_session = not session.is_null and not session.is_guest
        if user_session and self.dialect == Dialect.SMB311 and not rsp.flags & HeaderFlags.SIGNED:
            self._abandon_setup(session)
            raise ClientProtocolError("final 3.1.1 SESSION_SETUP response is not signed (MS-SMB2 3.2.5.3.1)")
        if rsp.flags & HeaderFlags.SIGNED and user_session:
            try:
                self._verify(session, rsp.message, rsp.message_id, rsp.command)
            except ClientProtocolError:
                self._abandon_setup(session)
                raise
        signing = user_session and (
            session.sign_requested is not False
            or self.signing_required
            or bool(self.server_security_mode & SecurityMode.SIGNING_REQUIRED)
        )
        if session.sign_requested:
            signing = True  # the caller's choice, guests and anonymous included
        session.signing = signing
        session.encrypt = session.encrypt_requested or bool(body.session_flags & SessionFlags.ENCRYPT_DATA)
        if session.encrypt and not self.can_encrypt:
            raise ClientProtocolError("server requires encryption but no cipher was negotiated")
        session.auth = None
        session.established = True
        self.sessions[session.session_id] = session
        self.session = session
        self._setup = None
        return None

    def _auth_step(self, session: ClientSession, token: bytes) -> bytes:
        assert session.auth is not None
        try:
            return session.auth.step(token)
        except MalformedMessage as exc:
            self._abandon_setup(session)
            raise ClientProtocolError(f"bad security token from the server: {exc}") from None
        except SmbError as exc:  # AuthFailure: the server could not be authenticated
            self._abandon_setup(session)
            raise SmbClientError(exc.status, Command.SESSION_SETUP, str(exc)) from None

    def _abandon_setup(self, session: ClientSession) -> None:
        self._setup = None
        if self.sessions.get(session.session_id) is session:
            del self.sessions[session.session_id]

    # -- any request ---------------------------------------------------------------------------------
    def send(self, messages: Sequence[Outgoing] | Outgoing, *, related: bool = False,
             sign: bool | None = None, encrypt: bool | None = None) -> list[int]:
        """Queue one request, or a compound of several (``related``: MS-SMB2 3.2.4.1.4); returns
        their MessageIds. ``sign``/``encrypt`` None: as the session decides (rules 3, 4)."""
        if isinstance(messages, Outgoing):
            messages = [messages]
        if not self.negotiated:
            raise RuntimeError("negotiate first")
        return [mid for mid, _ in self._emit(list(messages), related=related, sign=sign, encrypt=encrypt)]

    def credit_charge(self, payload: int) -> int:
        """CreditCharge for a request moving ``payload`` bytes (MS-SMB2 3.2.4.1.5)."""
        if self.dialect < Dialect.SMB210:
            return 1
        return max(1, (payload + 65535) // 65536)

    def _session_for(self, session_id: int | None) -> ClientSession | None:
        if session_id is None:
            return self.session
        return self.sessions.get(session_id)

    def _emit(self, messages: list[Outgoing], *, related: bool = False, sign: bool | None = None,
              encrypt: bool | None = None) -> list[tuple[int, bytes]]:
        charges = [self.credit_charge(m.payload) if self.negotiated else 1 for m in messages]
        if sum(charges) > self.credits:
            raise NoCredits(f"{sum(charges)} credits needed, {self.credits} available")
        first = messages[0]
        session = self._session_for(first.session_id)
        session_id = (session.session_id if session is not None else 0) if first.session_id is None \
            else first.session_id
        if session is not None and session.established:
            do_sign = session.signing if sign is None else sign
            do_encrypt = session.encrypt if encrypt is None else encrypt
        else:
            do_sign, do_encrypt = bool(sign), bool(encrypt)
        if do_encrypt:
            if session is None or session.keys is None or not self.can_encrypt:
                raise RuntimeError("encryption needs an established 3.x session and a cipher")
            do_sign = False  # MS-SMB2 3.2.4.1.1: an encrypted message is not signed
        if do_sign and (session is None or session.keys is None):
            raise RuntimeError("signing needs an established session")
        parts: list[bytearray] = []
        out: list[tuple[int, bytes]] = []
        remaining = self.credits - sum(charges)
        for i, (msg, charge) in enumerate(zip(messages, charges)):
            mid = self.next_message_id
            self.next_message_id += charge
            want = max(charge, self.credit_target - remaining) if i == len(messages) - 1 else charge
            flags = msg.flags
            if related and i:
                flags |= HeaderFlags.RELATED_OPERATIONS
            if do_sign:
                flags |= HeaderFlags.SIGNED
            sid = session_id if msg.session_id is None else msg.session_id
            header = pack_header(
                command=msg.command, status=0, message_id=mid, session_id=sid, tree_id=msg.tree_id,
                credit_charge=charge if self.dialect >= Dialect.SMB210 else 0,
                credits=min(want, 0xFFFF), flags=flags,
            )
            message = header + msg.body
            if i < len(messages) - 1:
                message += bytes(-len(message) % 8)
                _U32.pack_into(message, 20, len(message))  # NextCommand
            if do_sign:
                assert session is not None and session.keys is not None
                message[48:64] = crypto.compute_signature(
                    self.signing_algorithm, session.keys.signing_key, [message], message_id=mid,
                    is_response=False, is_cancel=msg.command == Command.CANCEL,
                )
            parts.append(message)
            out.append((mid, bytes(message)))
            if msg.command != Command.CANCEL:
                self._pending[mid] = _Pending(msg.command, sid, do_sign)
        self.credits -= sum(charges)
        if do_encrypt:
            assert session is not None and session.keys is not None
            nonce = self._random(crypto.nonce_size(self.cipher))
            pdu = crypto.encrypt_message(self.cipher, session.keys.server_in_key, session.session_id,
                                         parts, nonce)
        else:
            pdu = b"".join(parts)
        self._out += frame_header(len(pdu)) + pdu
        return out

    # -- responses ---------------------------------------------------------------------------------
    def receive_pdu(self, pdu: bytes | bytearray) -> list[Response]:
        """One transport PDU in; its responses out (interim STATUS_PENDING ones are absorbed)."""
        pdu = bytes(pdu)
        encrypted = False
        if pdu[:4] == TRANSFORM_MAGIC:
            pdu = self._decrypt(pdu)
            encrypted = True
        elif pdu[:4] == SMB1_MAGIC:
            return [self._smb1_response(pdu)]
        if pdu[:4] != SMB2_MAGIC:
            raise ClientProtocolError(f"unexpected protocol id {pdu[:4]!r}")
        try:
            bounds = split_compound(pdu)
        except MalformedMessage as exc:
            raise ClientProtocolError(f"bad compound response: {exc}") from None
        out: list[Response] = []
        for start, end in bounds:
            rsp = self._one_response(pdu[start:end], encrypted)
            if rsp is not None:
                out.append(rsp)
        return out

    def _one_response(self, msg: bytes, encrypted: bool) -> Response | None:
        try:
            hdr = Smb2Header.decode(Reader(msg))
        except MalformedMessage as exc:
            raise ClientProtocolError(f"bad response header: {exc}") from None
        if not hdr.flags & HeaderFlags.SERVER_TO_REDIR:
            raise ClientProtocolError("a request where a response was expected")
        self.credits += hdr.credit_request
        if hdr.message_id == ASYNC_MESSAGE_ID:
            return None  # an oplock or lease break: never requested, so never expected
        pending = self._pending.get(hdr.message_id)
        if pending is None:
            raise ClientProtocolError(f"response to MessageId {hdr.message_id}, which is not outstanding")
        if pending.command != hdr.command:
            raise ClientProtocolError(f"MessageId {hdr.message_id}: {hdr.command} answers {pending.command}")
        if hdr.status == NtStatus.STATUS_PENDING and hdr.flags & HeaderFlags.ASYNC_COMMAND:
            pending.async_id = hdr.async_id  # interim response (MS-SMB2 3.2.5.1.5)
            return None
        del self._pending[hdr.message_id]
        verified = False
        if hdr.flags & HeaderFlags.SIGNED and not encrypted:
            session = self.sessions.get(hdr.session_id)
            final_setup = hdr.command == Command.SESSION_SETUP and (session is None or not session.established)
            if not final_setup:  # the final SESSION_SETUP response is checked once its keys exist
                if session is None or session.keys is None:
                    raise ClientProtocolError(f"signed response for unknown session 0x{hdr.session_id:x}")
                self._verify(session, msg, hdr.message_id, hdr.command)
                verified = True
        elif pending.signed and not encrypted and hdr.status in _BODY_STATUSES:
            raise ClientProtocolError(f"unsigned {Command(hdr.command).name} response to a signed request")
        rsp = Response(hdr.command, hdr.status, hdr.message_id, hdr.session_id, hdr.tree_id, hdr.flags,
                       hdr.credit_request, msg, verified, encrypted)
        if hdr.command == Command.NEGOTIATE:
            self._on_negotiate(rsp)
        elif hdr.command == Command.LOGOFF and hdr.status == NtStatus.STATUS_SUCCESS:
            self._forget_session(pending.session_id)
        return rsp

    def _forget_session(self, session_id: int) -> None:
        session = self.sessions.pop(session_id, None)
        if session is not None and self.session is session:
            self.session = None

    def _verify(self, session: ClientSession, msg: bytes, mid: int, command: int) -> None:
        assert session.keys is not None
        ok = crypto.verify_signature(
            self.signing_algorithm, session.keys.signing_key, [msg[:48], bytes(16), msg[64:]],
            expected=msg[48:64], message_id=mid, is_response=True, is_cancel=command == Command.CANCEL,
        )
        if not ok:
            raise ClientProtocolError(f"bad signature on the response to MessageId {mid}")

    def _decrypt(self, pdu: bytes) -> bytes:
        try:
            session_id, _size = crypto.parse_transform_header(pdu)
        except crypto.DecryptError as exc:
            raise ClientProtocolError(str(exc)) from None
        session = self.sessions.get(session_id)
        if session is None or session.keys is None or not session.keys.server_out_key:
            raise ClientProtocolError(f"encrypted response for unknown session 0x{session_id:x}")
        try:
            return crypto.decrypt_message(self.cipher, session.keys.server_out_key, pdu)
        except crypto.DecryptError as exc:
            raise ClientProtocolError(f"cannot decrypt a response: {exc}") from None

    def _smb1_response(self, pdu: bytes) -> Response:
        """The server's answer to the SMB1 NEGOTIATE: a refusal (DialectIndex 0xFFFF, MS-CIFS
        2.2.4.52.2) or something an SMB2 client cannot use. Either way: no dialect."""
        if self._pending.pop(0, None) is None:
            raise ClientProtocolError("SMB1 message without an SMB1 request")
        return Response(Command.NEGOTIATE, NtStatus.STATUS_NOT_SUPPORTED, 0, 0, 0,
                        HeaderFlags.SERVER_TO_REDIR, 0, pdu)


def _u16_list(values: Sequence[int]) -> bytes:
    return struct.pack(f"<H{len(values)}H", len(values), *values)


def _decode(decoder: Callable[[Reader, int], object], rsp: Response):  # type: ignore[no-untyped-def]
    """A response body through its wire codec; a broken one is the server's protocol error."""
    try:
        return decoder(rsp.reader(), HEADER_SIZE)
    except MalformedMessage as exc:
        raise ClientProtocolError(f"malformed {Command(rsp.command).name} response: {exc}") from None


_DIR_ENTRY = struct.Struct("<IIQQQQQQII")  # MS-FSCC 2.4.10 FileDirectoryInformation, 64 bytes


def parse_file_directory_information(data: bytes) -> list[tuple[str, int, int]]:
    """(name, FileAttributes, EndOfFile) of each FileDirectoryInformation entry (MS-FSCC 2.4.10)
    chained by NextEntryOffset. A broken chain is ``ClientProtocolError``."""
    r = Reader(data)
    out: list[tuple[str, int, int]] = []
    off = 0
    try:
        while True:
            (nxt, _index, _ct, _at, _wt, _cht, eof, _alloc, attrs, name_len) = r.unpack(_DIR_ENTRY, off)
            out.append((r.utf16(off + 64, name_len), attrs, eof))
            if nxt == 0:
                return out
            if nxt < _DIR_ENTRY.size or nxt % 8 or len(out) > 1_000_000:
                raise MalformedMessage(f"bad NextEntryOffset {nxt}")
            off += nxt
    except MalformedMessage as exc:
        raise ClientProtocolError(f"malformed directory listing: {exc}") from None
