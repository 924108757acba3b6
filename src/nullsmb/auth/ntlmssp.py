"""NTLMSSP (MS-NLMP): message codecs, a sans-I/O acceptor (server) and initiator (client).

Rules:
1. Sans-I/O: the server challenge, the client challenge, the exported session key and the
   FILETIME clock are arguments; this module never reads a clock or a random source.
2. Every offset/length pair of a message is bounds-checked before use: a structurally
   broken token raises ``MalformedMessage``; a well-formed token that fails to
   authenticate raises ``AuthFailure``. Nothing else escapes ``challenge``/``authenticate``.
3. Users authenticate with NTLMv2 only (MS-NLMP 3.3.2); NTLMv1/LM responses are refused.
4. Anonymous (MS-NLMP 3.2.5.1.2, Samba check_anonymous_security) and guest sessions have
   no key material: SessionBaseKey = KeyExchangeKey = Z(16), and the exported key is
   RC4(Z(16), EncryptedRandomSessionKey) when keys are exchanged. Their MIC is not checked.
5. Hashes, responses and keys never appear in a repr, an exception or a log line.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from typing import ClassVar
from enum import IntEnum, IntFlag

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
from cryptography.hazmat.primitives.ciphers import Cipher

from nullsmb.auth.accounts import Account, AccountDb
from nullsmb.auth.md4 import nt_hash as _nt_hash
from nullsmb.status import MalformedMessage, NtStatus, SmbError

__all__ = [
    "AuthFailure", "AuthResult", "AvId", "ChallengeMessage", "AuthenticateMessage",
    "NegotiateFlags", "NegotiateMessage", "NtlmAcceptor", "NtlmInitiator", "PrincipalKind",
    "Version", "decode_av_pairs", "encode_av_pairs", "ntowf_v2", "rc4", "seal_key",
    "sign_key", "ntlm_mac",
]

SIGNATURE = b"NTLMSSP\x00"
ZERO_KEY = bytes(16)
MIC_OFFSET = 72  # MS-NLMP 2.2.1.3: the MIC follows the 8-byte Version at offset 64
_AUTH_HEADER = 88  # header size of an AUTHENTICATE carrying Version and MIC
_PREFIX = struct.Struct("<8sI")  # Signature, MessageType
_FIELD = struct.Struct("<HHI")  # Len, MaxLen, BufferOffset (MS-NLMP 2.2.1.1)
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_AV = struct.Struct("<HH")  # AvId, AvLen (MS-NLMP 2.2.2.1)
_MSV_AV_FLAG_MIC = 0x2  # MS-NLMP 2.2.2.1 MsvAvFlags: "the client is providing a MIC"


class NegotiateFlags(IntFlag):
    """MS-NLMP 2.2.2.5 NEGOTIATE flags."""

    UNICODE = 0x00000001
    OEM = 0x00000002
    REQUEST_TARGET = 0x00000004
    SIGN = 0x00000010
    SEAL = 0x00000020
    DATAGRAM = 0x00000040
    LM_KEY = 0x00000080
    NTLM = 0x00000200
    ANONYMOUS = 0x00000800
    OEM_DOMAIN_SUPPLIED = 0x00001000
    OEM_WORKSTATION_SUPPLIED = 0x00002000
    ALWAYS_SIGN = 0x00008000
    TARGET_TYPE_DOMAIN = 0x00010000
    TARGET_TYPE_SERVER = 0x00020000
    EXTENDED_SESSIONSECURITY = 0x00080000
    IDENTIFY = 0x00100000
    REQUEST_NON_NT_SESSION_KEY = 0x00400000
    TARGET_INFO = 0x00800000
    VERSION = 0x02000000
    NEGOTIATE_128 = 0x20000000
    KEY_EXCH = 0x40000000
    NEGOTIATE_56 = 0x80000000


F = NegotiateFlags
# Flags the acceptor echoes when the initiator asks for them (MS-NLMP 3.2.5.1.1).
_MIRRORED = (F.SIGN | F.SEAL | F.ALWAYS_SIGN | F.EXTENDED_SESSIONSECURITY | F.NEGOTIATE_128
             | F.KEY_EXCH | F.NEGOTIATE_56 | F.VERSION)
_INITIATOR_FLAGS = (F.UNICODE | F.OEM | F.REQUEST_TARGET | F.SIGN | F.SEAL | F.NTLM | F.ALWAYS_SIGN
                    | F.EXTENDED_SESSIONSECURITY | F.VERSION | F.NEGOTIATE_128 | F.KEY_EXCH
                    | F.NEGOTIATE_56)


class AvId(IntEnum):
    """MS-NLMP 2.2.2.1 AV_PAIR identifiers."""

    EOL = 0
    NB_COMPUTER_NAME = 1
    NB_DOMAIN_NAME = 2
    DNS_COMPUTER_NAME = 3
    DNS_DOMAIN_NAME = 4
    DNS_TREE_NAME = 5
    FLAGS = 6
    TIMESTAMP = 7
    SINGLE_HOST = 8
    TARGET_NAME = 9
    CHANNEL_BINDINGS = 10


AvPairs = tuple[tuple[int, bytes], ...]


def decode_av_pairs(data: bytes) -> AvPairs:
    """MS-NLMP 2.2.2.1: pairs up to MsvAvEOL (or the end of ``data``), EOL excluded."""
    pairs: list[tuple[int, bytes]] = []
    off = 0
    while off + _AV.size <= len(data):
        av_id, av_len = _AV.unpack_from(data, off)
        if av_id == AvId.EOL:
            break
        off += _AV.size
        if off + av_len > len(data):
            raise MalformedMessage("AV_PAIR overruns its buffer")
        pairs.append((av_id, bytes(data[off : off + av_len])))
        off += av_len
    else:
        if off != len(data):
            raise MalformedMessage("truncated AV_PAIR header")
    return tuple(pairs)


def encode_av_pairs(pairs: AvPairs) -> bytes:
    """MS-NLMP 2.2.2.1: the pairs followed by MsvAvEOL."""
    return b"".join(_AV.pack(i, len(v)) + v for i, v in pairs) + _AV.pack(AvId.EOL, 0)


def _av_get(pairs: AvPairs, av_id: AvId) -> bytes | None:
    return next((v for i, v in pairs if i == av_id), None)


@dataclass(frozen=True, slots=True)
class Version:
    """MS-NLMP 2.2.2.10 VERSION (debug only; never used for decisions)."""

    # ProductMajor, ProductMinor, ProductBuild, Reserved(3), NTLMRevisionCurrent
    _S: ClassVar[struct.Struct] = struct.Struct("<BBH3xB")
    major: int = 10
    minor: int = 0
    build: int = 20348
    revision: int = 15  # NTLMSSP_REVISION_W2K3

    def encode(self) -> bytes:
        return self._S.pack(self.major, self.minor, self.build, self.revision)

    @classmethod
    def decode(cls, data: bytes, off: int) -> Version:
        return cls(*cls._S.unpack_from(data, off))


def _prefix(token: bytes, msg_type: int, min_len: int) -> None:
    if len(token) < min_len:
        raise MalformedMessage(f"NTLMSSP message type {msg_type} shorter than {min_len} bytes")
    sig, typ = _PREFIX.unpack_from(token, 0)
    if sig != SIGNATURE or typ != msg_type:
        raise MalformedMessage(f"not an NTLMSSP message of type {msg_type}")


def _field(token: bytes, at: int) -> bytes:
    """The payload a Len/MaxLen/Offset triple at ``at`` points to, bounds-checked."""
    length, _max_len, off = _FIELD.unpack_from(token, at)
    if length == 0:
        return b""
    if off + length > len(token):
        raise MalformedMessage("NTLMSSP field points outside the message")
    return bytes(token[off : off + length])


def _text(raw: bytes, unicode: bool) -> str:
    if not unicode:
        return raw.decode("latin-1")  # OEM code page: unknown, so keep every byte
    if len(raw) % 2:
        raise MalformedMessage("odd-length UTF-16 string")
    return raw.decode("utf-16-le", "surrogatepass")


def _wire(text: str, unicode: bool) -> bytes:
    return text.encode("utf-16-le", "surrogatepass") if unicode else text.encode("ascii", "replace")


def _layout(header_len: int, blobs: list[bytes]) -> tuple[list[bytes], bytes]:
    """Field triples and the payload for ``blobs`` laid out after a header."""
    fields, off = [], header_len
    for blob in blobs:
        fields.append(_FIELD.pack(len(blob), len(blob), off))
        off += len(blob)
    return fields, b"".join(blobs)


@dataclass(frozen=True, slots=True)
class NegotiateMessage:
    """MS-NLMP 2.2.1.1 NEGOTIATE_MESSAGE (the OEM domain/workstation are ignored)."""

    flags: int
    version: Version | None = None

    def encode(self) -> bytes:
        fields, _ = _layout(40, [b"", b""])
        version = (self.version or Version()).encode() if self.flags & F.VERSION else bytes(8)
        return _PREFIX.pack(SIGNATURE, 1) + _U32.pack(self.flags) + b"".join(fields) + version

    @classmethod
    def decode(cls, token: bytes) -> NegotiateMessage:
        _prefix(token, 1, 16)
        (flags,) = _U32.unpack_from(token, 12)
        if len(token) >= 32:  # DomainNameFields, WorkstationFields: checked, then ignored
            _field(token, 16)
            _field(token, 24)
        version = Version.decode(token, 32) if flags & F.VERSION and len(token) >= 40 else None
        return cls(flags, version)


@dataclass(frozen=True, slots=True)
class ChallengeMessage:
    """MS-NLMP 2.2.1.2 CHALLENGE_MESSAGE."""

    flags: int
    server_challenge: bytes
    target_name: str
    target_info: AvPairs
    version: Version | None = None

    def encode(self) -> bytes:
        unicode = bool(self.flags & F.UNICODE)
        info = encode_av_pairs(self.target_info) if self.flags & F.TARGET_INFO else b""
        fields, payload = _layout(56, [_wire(self.target_name, unicode), info])
        version = (self.version or Version()).encode() if self.flags & F.VERSION else bytes(8)
        return (_PREFIX.pack(SIGNATURE, 2) + fields[0] + _U32.pack(self.flags) + self.server_challenge
                + bytes(8) + fields[1] + version + payload)

    @classmethod
    def decode(cls, token: bytes) -> ChallengeMessage:
        _prefix(token, 2, 48)
        (flags,) = _U32.unpack_from(token, 20)
        name = _text(_field(token, 12), bool(flags & F.UNICODE))
        info = decode_av_pairs(_field(token, 40))
        version = Version.decode(token, 48) if flags & F.VERSION and len(token) >= 56 else None
        return cls(flags, bytes(token[24:32]), name, info, version)


@dataclass(frozen=True, slots=True)
class AuthenticateMessage:
    """MS-NLMP 2.2.1.3 AUTHENTICATE_MESSAGE; ``mic`` is None when the header has no room."""

    flags: int
    lm_response: bytes = field(repr=False)
    nt_response: bytes = field(repr=False)
    domain: str
    user: str
    workstation: str
    encrypted_session_key: bytes = field(repr=False)
    version: Version | None = None
    mic: bytes | None = field(default=None, repr=False)

    def encode(self) -> bytes:
        unicode = bool(self.flags & F.UNICODE)
        blobs = [self.lm_response, self.nt_response, _wire(self.domain, unicode),
                 _wire(self.user, unicode), _wire(self.workstation, unicode),
                 self.encrypted_session_key]
        # Windows' payload order (domain, user, workstation, LM, NT, key); the header order is fixed.
        order = [2, 3, 4, 0, 1, 5]
        fields, payload = _layout(_AUTH_HEADER, [blobs[i] for i in order])
        by_slot = {slot: fields[n] for n, slot in enumerate(order)}
        version = (self.version or Version()).encode() if self.flags & F.VERSION else bytes(8)
        return (_PREFIX.pack(SIGNATURE, 3) + b"".join(by_slot[i] for i in range(6))
                + _U32.pack(self.flags) + version + (self.mic or ZERO_KEY) + payload)

    @classmethod
    def decode(cls, token: bytes) -> AuthenticateMessage:
        _prefix(token, 3, 64)
        (flags,) = _U32.unpack_from(token, 60)
        unicode = bool(flags & F.UNICODE)
        lm, nt = _field(token, 12), _field(token, 20)
        domain, user, ws = (_text(_field(token, at), unicode) for at in (28, 36, 44))
        key = _field(token, 52)
        version = Version.decode(token, 64) if flags & F.VERSION and len(token) >= 72 else None
        mic = bytes(token[MIC_OFFSET:_AUTH_HEADER]) if len(token) >= _AUTH_HEADER else None
        if len(nt) not in (0, 24) and len(nt) < 16 + 28:
            raise MalformedMessage("NT response too short for NTLMv2")
        return cls(flags, lm, nt, domain, user, ws, key, version, mic)

    def client_av_pairs(self) -> AvPairs:
        """The AV pairs of an NTLMv2_CLIENT_CHALLENGE (MS-NLMP 2.2.2.7), () otherwise."""
        if len(self.nt_response) <= 24:
            return ()
        return decode_av_pairs(self.nt_response[16 + 28 :])


# -- crypto (MS-NLMP 3.3.2, 3.4.4, 3.4.5, 6) ------------------------------------------


def _hmac_md5(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.md5).digest()


def rc4(key: bytes, data: bytes) -> bytes:
    """RC4K (MS-NLMP 6): one-shot RC4 with a fresh key schedule."""
    return Cipher(ARC4(key), mode=None).encryptor().update(data)


def ntowf_v2(nt_hash: bytes, user: str, domain: str) -> bytes:
    """NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(NT hash, UNICODE(Uppercase(User) + UserDom))."""
    return _hmac_md5(nt_hash, (user.upper() + domain).encode("utf-16-le", "surrogatepass"))


def _exported_key(kek: bytes, flags: int, encrypted: bytes) -> bytes:
    """MS-NLMP 3.2.5.1.2: ExportedSessionKey from the KeyExchangeKey."""
    if flags & F.KEY_EXCH and flags & (F.SIGN | F.SEAL) and encrypted:
        if len(encrypted) != 16:
            raise MalformedMessage("EncryptedRandomSessionKey must be 16 bytes")
        return rc4(kek, encrypted)
    return kek


_MAGIC = {
    ("sign", True): b"session key to client-to-server signing key magic constant\x00",
    ("sign", False): b"session key to server-to-client signing key magic constant\x00",
    ("seal", True): b"session key to client-to-server sealing key magic constant\x00",
    ("seal", False): b"session key to server-to-client sealing key magic constant\x00",
}


def sign_key(session_key: bytes, *, from_client: bool) -> bytes:
    """SIGNKEY (MS-NLMP 3.4.5.2) with extended session security."""
    return hashlib.md5(session_key + _MAGIC["sign", from_client]).digest()


def seal_key(session_key: bytes, flags: int, *, from_client: bool) -> bytes:
    """SEALKEY (MS-NLMP 3.4.5.3) with extended session security."""
    size = 16 if flags & F.NEGOTIATE_128 else 7 if flags & F.NEGOTIATE_56 else 5
    return hashlib.md5(session_key[:size] + _MAGIC["seal", from_client]).digest()


def ntlm_mac(session_key: bytes, flags: int, seq_num: int, message: bytes, *, from_client: bool) -> bytes:
    """The first signature of a fresh sealing handle (MS-NLMP 3.4.4.2, extended session
    security): Version 1, HMAC_MD5(SignKey, SeqNum + Message)[:8] (RC4-sealed with
    KEY_EXCH), SeqNum."""
    seq = _U32.pack(seq_num)
    checksum = _hmac_md5(sign_key(session_key, from_client=from_client), seq + message)[:8]
    if flags & F.KEY_EXCH:
        checksum = rc4(seal_key(session_key, flags, from_client=from_client), checksum)
    return _U32.pack(1) + checksum + seq


# -- results and failures ----------------------------------------------------------------


class PrincipalKind(enum.Enum):
    """Who a completed logon is: the null session (MS-DTYP 2.4.2.4 ANONYMOUS LOGON), the
    guest an unknown user was mapped to, or a verified local account."""

    ANONYMOUS = "anonymous"
    GUEST = "guest"
    USER = "user"


@dataclass(frozen=True)
class AuthResult:
    """A completed NTLM logon; ``session_key`` is the ExportedSessionKey (MS-NLMP 3.1.1)."""

    kind: PrincipalKind
    user: str
    domain: str
    workstation: str
    session_key: bytes = field(repr=False)
    account: Account | None
    negotiate_flags: int
    lm_package: str


class AuthFailure(SmbError):
    """A well-formed logon that fails: ``status`` goes on the wire, ``sub_status`` to the
    audit log (as Windows event 4625 SubStatus). Carries no secrets."""

    def __init__(self, status: NtStatus, reason: str, *, sub_status: NtStatus | None = None,
                 user: str = "", domain: str = "", workstation: str = "") -> None:
        super().__init__(status, f"{reason} ({NtStatus.name_of(status)})")
        self.status: NtStatus = NtStatus(status)  # type: ignore[assignment]
        self.sub_status: NtStatus = NtStatus(sub_status if sub_status is not None else status)
        self.user, self.domain, self.workstation, self.reason = user, domain, workstation, reason

    def __repr__(self) -> str:
        return (f"AuthFailure(status={self.status.name}, sub_status={self.sub_status.name}, "
                f"user={self.user!r}, domain={self.domain!r}, reason={self.reason!r})")


# -- acceptor ------------------------------------------------------------------------------


class NtlmAcceptor:
    """Server side of one NTLM exchange (MS-NLMP 3.2.5.1): ``challenge`` then
    ``authenticate``, each exactly once."""

    def __init__(self, *, accounts: AccountDb, netbios_name: str, domain: str, dns_name: str,
                 dns_domain: str, map_to_guest_bad_user: bool, server_challenge: bytes,
                 now_filetime: int) -> None:
        if len(server_challenge) != 8:
            raise ValueError("server_challenge must be 8 bytes")
        self._accounts = accounts
        self._netbios_name, self._domain = netbios_name, domain
        self._dns_name, self._dns_domain = dns_name, dns_domain
        self._map_to_guest = map_to_guest_bad_user
        self._server_challenge = bytes(server_challenge)
        self._now = now_filetime
        self._negotiate: bytes | None = None
        self._challenge: bytes | None = None
        self._challenge_flags = 0
        self._done = False

    def challenge(self, negotiate_token: bytes) -> bytes:
        """NEGOTIATE in, CHALLENGE out (MS-NLMP 3.2.5.1.1)."""
        if self._negotiate is not None:
            raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "second NEGOTIATE")
        negotiate_token = bytes(negotiate_token)
        client = NegotiateMessage.decode(negotiate_token).flags
        flags = (client & _MIRRORED) | F.NTLM | F.TARGET_INFO | F.TARGET_TYPE_SERVER | F.REQUEST_TARGET
        flags |= F.UNICODE if client & F.UNICODE or not client & F.OEM else F.OEM
        info = (
            (AvId.NB_DOMAIN_NAME, _wire(self._domain, True)),
            (AvId.NB_COMPUTER_NAME, _wire(self._netbios_name, True)),
            (AvId.DNS_DOMAIN_NAME, _wire(self._dns_domain, True)),
            (AvId.DNS_COMPUTER_NAME, _wire(self._dns_name, True)),
            (AvId.TIMESTAMP, _U64.pack(self._now & 0xFFFFFFFFFFFFFFFF)),
        )
        msg = ChallengeMessage(int(flags), self._server_challenge, self._netbios_name, info, Version())
        self._negotiate, self._challenge_flags = negotiate_token, int(flags)
        self._challenge = msg.encode()
        return self._challenge

    def authenticate(self, auth_token: bytes) -> AuthResult:
        """AUTHENTICATE in, result out (MS-NLMP 3.2.5.1.2); raises AuthFailure/MalformedMessage."""
        if self._challenge is None or self._negotiate is None or self._done:
            raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "AUTHENTICATE out of sequence")
        self._done = True
        auth_token = bytes(auth_token)
        msg = AuthenticateMessage.decode(auth_token)
        av_pairs = msg.client_av_pairs()
        # MS-NLMP 3.2.5.1.2: the AUTHENTICATE flags may only narrow what CHALLENGE offered.
        flags = self._challenge_flags & msg.flags if msg.flags else self._challenge_flags
        flags = NegotiateFlags(flags | (msg.flags & F.ANONYMOUS))
        who = {"user": msg.user, "domain": msg.domain, "workstation": msg.workstation}

        if not msg.user and not msg.nt_response and msg.lm_response in (b"", b"\x00"):
            key = _exported_key(ZERO_KEY, flags, msg.encrypted_session_key)
            return AuthResult(PrincipalKind.ANONYMOUS, "", msg.domain, msg.workstation, key,
                              None, flags, "-")

        account = self._accounts.lookup(msg.user)
        if account is None:
            if not self._map_to_guest:
                raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "unknown user",
                                  sub_status=NtStatus.STATUS_NO_SUCH_USER, **who)
            key = _exported_key(ZERO_KEY, flags, msg.encrypted_session_key)
            package = {0: "-", 24: "NTLM V1"}.get(len(msg.nt_response), "NTLM V2")
            return AuthResult(PrincipalKind.GUEST, "Guest", msg.domain, msg.workstation, key,
                              None, flags, package)

        if len(msg.nt_response) <= 24:
            raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "NTLMv1/LM response refused",
                              sub_status=NtStatus.STATUS_WRONG_PASSWORD, **who)
        proof, blob = msg.nt_response[:16], msg.nt_response[16:]
        response_key = self._verify_v2(account, msg.user, msg.domain, proof, blob)
        if response_key is None:
            raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "wrong password",
                              sub_status=NtStatus.STATUS_WRONG_PASSWORD, **who)
        session_base_key = _hmac_md5(response_key, proof)
        key = _exported_key(session_base_key, flags, msg.encrypted_session_key)
        av_flags = _av_get(av_pairs, AvId.FLAGS)
        if av_flags is not None and len(av_flags) == 4 and _U32.unpack(av_flags)[0] & _MSV_AV_FLAG_MIC:
            if msg.mic is None:
                raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "MIC announced but absent", **who)
            zeroed = auth_token[:MIC_OFFSET] + ZERO_KEY + auth_token[_AUTH_HEADER:]
            expected = _hmac_md5(key, self._negotiate + self._challenge + zeroed)
            if not hmac.compare_digest(expected, msg.mic):
                raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "bad MIC", **who)
        return AuthResult(PrincipalKind.USER, account.name, msg.domain, msg.workstation, key,
                          account, flags, "NTLM V2")

    def _verify_v2(self, account: Account, user: str, domain: str, proof: bytes, blob: bytes) -> bytes | None:
        """MS-NLMP 3.3.2 with the client's domain, then upper-cased, then empty (like Samba)."""
        for candidate in dict.fromkeys((domain, domain.upper(), "")):
            key = ntowf_v2(account.nt_hash, user, candidate)
            if hmac.compare_digest(_hmac_md5(key, self._server_challenge + blob), proof):
                return key
        return None


# -- initiator -----------------------------------------------------------------------------


class NtlmInitiator:
    """Client side of one NTLM exchange (MS-NLMP 3.1.5): ``negotiate`` then ``authenticate``."""

    def __init__(self, *, user: str, password: str = "", domain: str = "",
                 nt_hash: bytes | None = None, workstation: str = "NULLSMB",
                 client_challenge: bytes, exported_session_key: bytes,
                 now_filetime: int | None = None) -> None:
        if len(client_challenge) != 8 or len(exported_session_key) != 16:
            raise ValueError("client_challenge must be 8 bytes, exported_session_key 16")
        if nt_hash is not None and len(nt_hash) != 16:
            raise ValueError("nt_hash must be 16 bytes")
        self.anonymous = user == "" and password == "" and nt_hash is None
        self._user, self._domain, self._workstation = user, domain, workstation
        self._nt_hash = nt_hash if nt_hash is not None else _nt_hash(password)
        self._client_challenge = bytes(client_challenge)
        self._random_key = bytes(exported_session_key)
        self._now = now_filetime
        self._negotiate: bytes | None = None
        self._session_key: bytes | None = None
        self.negotiate_flags = 0

    def negotiate(self) -> bytes:
        """The NEGOTIATE_MESSAGE (MS-NLMP 3.1.5.1.1)."""
        self._negotiate = NegotiateMessage(int(_INITIATOR_FLAGS), Version()).encode()
        return self._negotiate

    @property
    def session_key(self) -> bytes:
        """The ExportedSessionKey, available after ``authenticate``."""
        if self._session_key is None:
            raise RuntimeError("authenticate() has not run")
        return self._session_key

    def authenticate(self, challenge_token: bytes) -> bytes:
        """CHALLENGE in, AUTHENTICATE out (MS-NLMP 3.1.5.1.2)."""
        if self._negotiate is None or self._session_key is not None:
            raise RuntimeError("authenticate() needs negotiate() first, and runs once")
        challenge_token = bytes(challenge_token)
        chal = ChallengeMessage.decode(challenge_token)
        flags = chal.flags & _INITIATOR_FLAGS
        if flags & F.UNICODE:
            flags &= ~F.OEM
        if self.anonymous:
            # MS-NLMP 3.3.2 anonymous: empty NT response, LM Z(1), Z(16) session base key.
            flags |= F.ANONYMOUS
            lm, nt, user, domain, kek = b"\x00", b"", "", "", ZERO_KEY
        else:
            lm, nt, kek = self._v2_responses(chal)
            user, domain = self._user, self._domain
        exchange = bool(flags & F.KEY_EXCH and flags & (F.SIGN | F.SEAL))
        encrypted = rc4(kek, self._random_key) if exchange else b""
        self._session_key = self._random_key if exchange else kek
        msg = AuthenticateMessage(int(flags), lm, nt, domain, user, self._workstation, encrypted, Version())
        token = msg.encode()
        if not self.anonymous:
            mic = _hmac_md5(self._session_key, self._negotiate + challenge_token + token)
            token = token[:MIC_OFFSET] + mic + token[_AUTH_HEADER:]
        self.negotiate_flags = NegotiateFlags(flags)
        return token

    def _v2_responses(self, chal: ChallengeMessage) -> tuple[bytes, bytes, bytes]:
        """LMv2, NTLMv2 response and SessionBaseKey (MS-NLMP 3.3.2)."""
        key = ntowf_v2(self._nt_hash, self._user, self._domain)
        timestamp = _av_get(chal.target_info, AvId.TIMESTAMP)
        if timestamp is None:
            if self._now is None:
                raise ValueError("server sent no MsvAvTimestamp: now_filetime is required")
            timestamp = _U64.pack(self._now)
        av_flags = _av_get(chal.target_info, AvId.FLAGS)
        mic_flag = (_U32.unpack(av_flags)[0] if av_flags and len(av_flags) == 4 else 0) | _MSV_AV_FLAG_MIC
        pairs = tuple(p for p in chal.target_info if p[0] != AvId.FLAGS)
        pairs += ((AvId.FLAGS, _U32.pack(mic_flag)),)
        temp = (b"\x01\x01" + bytes(6) + timestamp[:8] + self._client_challenge + bytes(4)
                + encode_av_pairs(pairs) + bytes(4))
        proof = _hmac_md5(key, chal.server_challenge + temp)
        if _av_get(chal.target_info, AvId.TIMESTAMP) is not None:
            lm = bytes(24)  # MS-NLMP 3.1.5.1.2: with a server timestamp, LM is Z(24)
        else:
            lm = _hmac_md5(key, chal.server_challenge + self._client_challenge) + self._client_challenge
        return lm, proof + temp, _hmac_md5(key, proof)
