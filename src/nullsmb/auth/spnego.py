"""SPNEGO (RFC 4178, MS-SPNG) around NTLMSSP: a minimal DER codec, an acceptor and an
initiator.

Rules:
1. NTLMSSP (1.3.6.1.4.1.311.2.2.10) is the only mechanism; Kerberos and NegoEx offers are
   answered by selecting NTLMSSP without a response token (RFC 4178 4.2.2), after which the
   client sends its NTLM NEGOTIATE in a NegTokenResp.
2. The DER reader is structure-directed: it only descends into the fixed shapes of
   InitialContextToken/NegTokenInit/NegTokenResp (no recursion on peer data), rejects
   indefinite and over-long lengths, and checks every length against its parent.
   Anything unparsable is ``MalformedMessage``.
3. Raw NTLMSSP tokens (b"NTLMSSP\\0", Linux cifs.ko) are accepted and answered unwrapped.
4. mechListMIC (RFC 4178 5, MS-SPNG 3.2.5.1): an NTLM signature over the DER MechTypeList
   the client sent. It is verified when a user session supplies one, and sent for user
   sessions that negotiated NTLM signing with extended session security. Anonymous and
   guest sessions have no key material, so no MIC either way (like Samba).
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass

from nullsmb.auth.ntlmssp import (AuthFailure, AuthResult, NegotiateFlags, NtlmAcceptor,
                                  NtlmInitiator, PrincipalKind, ntlm_mac)
from nullsmb.status import MalformedMessage, NtStatus

__all__ = [
    "NegState", "NegTokenInit", "NegTokenResp", "OID_KRB5", "OID_MS_KRB5", "OID_NTLMSSP",
    "OID_SPNEGO", "SpnegoAcceptor", "SpnegoInitiator", "decode_token", "neg_token_init_hint",
]

# OIDs as DER content octets (X.690 8.19), compared byte for byte.
OID_SPNEGO = bytes.fromhex("2b0601050502")  # 1.3.6.1.5.5.2
OID_NTLMSSP = bytes.fromhex("2b06010401823702020a")  # 1.3.6.1.4.1.311.2.2.10
OID_KRB5 = bytes.fromhex("2a864886f712010202")  # 1.2.840.113554.1.2.2
OID_MS_KRB5 = bytes.fromhex("2a864882f712010202")  # 1.2.840.48018.1.2.2
NTLMSSP_SIGNATURE = b"NTLMSSP\x00"
HINT_NAME = b"not_defined_in_RFC4178@please_ignore"  # MS-SPNG 2.2.1 hintName

_SEQUENCE, _OID, _OCTETS, _ENUM, _GENERAL_STRING, _APP0 = 0x30, 0x06, 0x04, 0x0A, 0x1B, 0x60
_MAX_LEN_OCTETS = 4


def _ctx(n: int) -> int:
    """Tag byte of a constructed context-specific [n]."""
    return 0xA0 | n


# -- DER ------------------------------------------------------------------------------------


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes((tag, n)) + value
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + value


def _read(data: bytes, off: int, end: int) -> tuple[int, int, int]:
    """One TLV at ``off`` within ``data[:end]``: (tag, value start, value end)."""
    if off + 2 > end:
        raise MalformedMessage("DER: truncated header")
    tag, first = data[off], data[off + 1]
    if tag & 0x1F == 0x1F:
        raise MalformedMessage("DER: high tag numbers are not used by SPNEGO")
    start = off + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > _MAX_LEN_OCTETS:
            raise MalformedMessage("DER: indefinite or over-long length")
        if start + count > end:
            raise MalformedMessage("DER: truncated length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + length > end:
        raise MalformedMessage("DER: value overruns its container")
    return tag, start, start + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """The TLVs laid end to end in ``data[start:end]`` (one level only)."""
    items, off = [], start
    while off < end:
        item = _read(data, off, end)
        items.append(item)
        off = item[2]
    return items


def _expect(data: bytes, item: tuple[int, int, int], tag: int) -> bytes:
    """The value of ``item`` which must be a single TLV ``tag`` inside an explicit tag."""
    inner = _read(data, item[1], item[2])
    if inner[0] != tag or inner[2] != item[2]:
        raise MalformedMessage(f"DER: expected tag 0x{tag:02x}")
    return data[inner[1] : inner[2]]


class NegState(enum.IntEnum):
    """RFC 4178 4.2.2 negState."""

    ACCEPT_COMPLETED = 0
    ACCEPT_INCOMPLETE = 1
    REJECT = 2
    REQUEST_MIC = 3


@dataclass(frozen=True, slots=True)
class NegTokenInit:
    """RFC 4178 4.2.1 NegTokenInit (MS-SPNG 2.2.1); ``mech_types_der`` is the MechTypeList
    exactly as sent, the input of mechListMIC."""

    mech_types: tuple[bytes, ...]
    mech_types_der: bytes
    mech_token: bytes | None = None

    def encode(self, *, hints: bool = False) -> bytes:
        """The GSS-API InitialContextToken (RFC 2743 3.1) carrying this NegTokenInit."""
        body = _tlv(_ctx(0), self.mech_types_der)
        if self.mech_token is not None:
            body += _tlv(_ctx(2), _tlv(_OCTETS, self.mech_token))
        if hints:  # MS-SPNG 3.2.5.2 NegTokenInit2 negHints
            body += _tlv(_ctx(3), _tlv(_SEQUENCE, _tlv(_ctx(0), _tlv(_GENERAL_STRING, HINT_NAME))))
        inner = _tlv(_ctx(0), _tlv(_SEQUENCE, body))
        return _tlv(_APP0, _tlv(_OID, OID_SPNEGO) + inner)

    @classmethod
    def from_mechs(cls, mechs: tuple[bytes, ...], mech_token: bytes | None = None) -> NegTokenInit:
        return cls(mechs, _tlv(_SEQUENCE, b"".join(_tlv(_OID, m) for m in mechs)), mech_token)

    @classmethod
    def decode_body(cls, data: bytes, item: tuple[int, int, int]) -> NegTokenInit:
        seq = _read(data, item[1], item[2])
        if seq[0] != _SEQUENCE or seq[2] != item[2]:
            raise MalformedMessage("NegTokenInit: expected SEQUENCE")
        mech_types: tuple[bytes, ...] | None = None
        der, token = b"", None
        for child in _children(data, seq[1], seq[2]):
            if child[0] == _ctx(0):
                types = _read(data, child[1], child[2])
                if types[0] != _SEQUENCE or types[2] != child[2]:
                    raise MalformedMessage("NegTokenInit: mechTypes is not a SEQUENCE")
                oids = _children(data, types[1], types[2])
                if any(t != _OID for t, _, _ in oids):
                    raise MalformedMessage("NegTokenInit: mechTypes holds a non-OID")
                mech_types = tuple(data[s:e] for _, s, e in oids)
                der = data[child[1] : child[2]]
            elif child[0] == _ctx(2):
                token = _expect(data, child, _OCTETS)
            # [1] reqFlags, [3] mechListMIC / negHints, [4] mechListMIC: not needed.
        if mech_types is None:
            raise MalformedMessage("NegTokenInit without mechTypes")
        return cls(mech_types, der, token)


@dataclass(frozen=True, slots=True)
class NegTokenResp:
    """RFC 4178 4.2.2 NegTokenResp."""

    neg_state: NegState | None = None
    supported_mech: bytes | None = None
    response_token: bytes | None = None
    mech_list_mic: bytes | None = None

    def encode(self) -> bytes:
        body = b""
        if self.neg_state is not None:
            body += _tlv(_ctx(0), _tlv(_ENUM, bytes((self.neg_state,))))
        if self.supported_mech is not None:
            body += _tlv(_ctx(1), _tlv(_OID, self.supported_mech))
        if self.response_token is not None:
            body += _tlv(_ctx(2), _tlv(_OCTETS, self.response_token))
        if self.mech_list_mic is not None:
            body += _tlv(_ctx(3), _tlv(_OCTETS, self.mech_list_mic))
        return _tlv(_ctx(1), _tlv(_SEQUENCE, body))

    @classmethod
    def decode_body(cls, data: bytes, item: tuple[int, int, int]) -> NegTokenResp:
        seq = _read(data, item[1], item[2])
        if seq[0] != _SEQUENCE or seq[2] != item[2]:
            raise MalformedMessage("NegTokenResp: expected SEQUENCE")
        fields: dict[int, bytes] = {}
        for child in _children(data, seq[1], seq[2]):
            wanted = {_ctx(0): _ENUM, _ctx(1): _OID, _ctx(2): _OCTETS, _ctx(3): _OCTETS}.get(child[0])
            if wanted is not None:
                fields[child[0]] = _expect(data, child, wanted)
        state = None
        if _ctx(0) in fields:
            raw = fields[_ctx(0)]
            if len(raw) != 1 or raw[0] > NegState.REQUEST_MIC:
                raise MalformedMessage("NegTokenResp: bad negState")
            state = NegState(raw[0])
        return cls(state, fields.get(_ctx(1)), fields.get(_ctx(2)), fields.get(_ctx(3)))


def decode_token(token: bytes) -> NegTokenInit | NegTokenResp:
    """A GSS-wrapped or bare NegTokenInit, or a NegTokenResp (RFC 4178 4.2)."""
    data = bytes(token)
    outer = _read(data, 0, len(data))  # trailing bytes after the token are ignored
    if outer[0] == _APP0:  # RFC 2743 3.1 InitialContextToken
        items = _children(data, outer[1], outer[2])
        if len(items) != 2 or items[0][0] != _OID or data[items[0][1] : items[0][2]] != OID_SPNEGO:
            raise MalformedMessage("GSS token is not SPNEGO")
        if items[1][0] != _ctx(0):
            raise MalformedMessage("GSS SPNEGO token without NegTokenInit")
        return NegTokenInit.decode_body(data, items[1])
    if outer[0] == _ctx(0):
        return NegTokenInit.decode_body(data, outer)
    if outer[0] == _ctx(1):
        return NegTokenResp.decode_body(data, outer)
    raise MalformedMessage("not a SPNEGO token")


def neg_token_init_hint() -> bytes:
    """The NegTokenInit2 a server puts in its SMB2 NEGOTIATE response (MS-SPNG 3.2.5.2)."""
    return NegTokenInit.from_mechs((OID_NTLMSSP,)).encode(hints=True)


def _wants_mic(result: AuthResult) -> bool:
    flags = result.negotiate_flags
    return (result.kind is PrincipalKind.USER and bool(flags & NegotiateFlags.SIGN)
            and bool(flags & NegotiateFlags.EXTENDED_SESSIONSECURITY))


# -- acceptor -------------------------------------------------------------------------------


class _Phase(enum.Enum):
    START = "start"
    AWAIT_NEGOTIATE = "await-negotiate"
    AWAIT_AUTHENTICATE = "await-authenticate"
    DONE = "done"


class SpnegoAcceptor:
    """Server side of SPNEGO/NTLM for one SESSION_SETUP exchange (MS-SPNG 3.2.5).

    ``step`` returns (output token, None) while more processing is required and
    (output token, AuthResult) when complete; failures raise AuthFailure/MalformedMessage.
    """

    def __init__(self, ntlm: NtlmAcceptor) -> None:
        self._ntlm = ntlm
        self._phase = _Phase.START
        self._raw = False
        self._mech_types_der = b""

    @property
    def complete(self) -> bool:
        return self._phase is _Phase.DONE

    def step(self, token: bytes) -> tuple[bytes, AuthResult | None]:
        token = bytes(token)
        phase = self._phase
        if phase is _Phase.DONE:
            raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "SPNEGO exchange already complete")
        if phase is _Phase.START:
            return self._start(token)
        if self._raw:
            if not token.startswith(NTLMSSP_SIGNATURE):
                raise MalformedMessage("expected a raw NTLMSSP AUTHENTICATE")
            self._phase = _Phase.DONE
            return b"", self._ntlm.authenticate(token)
        msg = decode_token(token)
        if not isinstance(msg, NegTokenResp) or not msg.response_token:
            raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "expected a NegTokenResp with a token")
        if phase is _Phase.AWAIT_NEGOTIATE:
            self._phase = _Phase.AWAIT_AUTHENTICATE
            challenge = self._ntlm.challenge(msg.response_token)
            return NegTokenResp(NegState.ACCEPT_INCOMPLETE, None, challenge).encode(), None
        self._phase = _Phase.DONE
        result = self._ntlm.authenticate(msg.response_token)
        if _wants_mic(result) and msg.mech_list_mic is not None:
            self._verify_mic(result, msg.mech_list_mic)
        mic = None
        if _wants_mic(result):
            mic = ntlm_mac(result.session_key, result.negotiate_flags, 0, self._mech_types_der,
                           from_client=False)
        return NegTokenResp(NegState.ACCEPT_COMPLETED, None, None, mic).encode(), result

    def _start(self, token: bytes) -> tuple[bytes, AuthResult | None]:
        if not token:  # MS-SMB2 3.3.5.5.3: an empty buffer asks for the server's hint
            return neg_token_init_hint(), None
        if token.startswith(NTLMSSP_SIGNATURE):
            self._raw = True
            self._phase = _Phase.AWAIT_AUTHENTICATE
            return self._ntlm.challenge(token), None
        msg = decode_token(token)
        if not isinstance(msg, NegTokenInit):
            raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "expected a NegTokenInit")
        if OID_NTLMSSP not in msg.mech_types:
            raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "no NTLMSSP mechanism offered",
                              sub_status=NtStatus.STATUS_NOT_SUPPORTED)
        self._mech_types_der = msg.mech_types_der
        if msg.mech_types[0] == OID_NTLMSSP and msg.mech_token:
            self._phase = _Phase.AWAIT_AUTHENTICATE
            challenge = self._ntlm.challenge(msg.mech_token)
            return NegTokenResp(NegState.ACCEPT_INCOMPLETE, OID_NTLMSSP, challenge).encode(), None
        # Optimistic token for another mechanism (Kerberos, NegoEx) or none: select NTLMSSP
        # and let the client start it in its next NegTokenResp (RFC 4178 4.2.2).
        self._phase = _Phase.AWAIT_NEGOTIATE
        return NegTokenResp(NegState.ACCEPT_INCOMPLETE, OID_NTLMSSP).encode(), None

    def _verify_mic(self, result: AuthResult, mic: bytes) -> None:
        expected = ntlm_mac(result.session_key, result.negotiate_flags, 0, self._mech_types_der,
                            from_client=True)
        if not hmac.compare_digest(expected, mic):
            raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "bad mechListMIC",
                              user=result.user, domain=result.domain, workstation=result.workstation)


# -- initiator ------------------------------------------------------------------------------


class SpnegoInitiator:
    """Client side of SPNEGO/NTLM (MS-SPNG 3.1.5): ``initial`` then ``step`` until complete."""

    def __init__(self, ntlm: NtlmInitiator) -> None:
        self._ntlm = ntlm
        self._init = NegTokenInit.from_mechs((OID_NTLMSSP,))
        self._authenticated = False
        self.complete = False

    @property
    def session_key(self) -> bytes:
        return self._ntlm.session_key

    def initial(self) -> bytes:
        """NegTokenInit carrying the NTLM NEGOTIATE as its optimistic token."""
        return NegTokenInit(self._init.mech_types, self._init.mech_types_der,
                            self._ntlm.negotiate()).encode()

    def step(self, server_token: bytes) -> bytes:
        """NegTokenResp(CHALLENGE) in, NegTokenResp(AUTHENTICATE) out; then the final
        accept-completed in, b"" out."""
        msg = decode_token(bytes(server_token))
        if not isinstance(msg, NegTokenResp):
            raise MalformedMessage("expected a NegTokenResp from the server")
        if msg.neg_state is NegState.REJECT:
            raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "server rejected SPNEGO")
        if msg.supported_mech is not None and msg.supported_mech != OID_NTLMSSP:
            raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "server selected another mechanism",
                              sub_status=NtStatus.STATUS_NOT_SUPPORTED)
        if not self._authenticated:
            if not msg.response_token:
                raise MalformedMessage("server sent no NTLM CHALLENGE")
            auth = self._ntlm.authenticate(msg.response_token)
            self._authenticated = True
            mic = None
            flags = self._ntlm.negotiate_flags
            if (not self._ntlm.anonymous and flags & NegotiateFlags.SIGN
                    and flags & NegotiateFlags.EXTENDED_SESSIONSECURITY):
                mic = ntlm_mac(self.session_key, flags, 0, self._init.mech_types_der, from_client=True)
            out = NegTokenResp(None, None, auth, mic).encode()
            self.complete = msg.neg_state is NegState.ACCEPT_COMPLETED
            return out
        if msg.mech_list_mic is not None and not self._ntlm.anonymous:
            expected = ntlm_mac(self.session_key, self._ntlm.negotiate_flags, 0,
                                self._init.mech_types_der, from_client=False)
            if not hmac.compare_digest(expected, msg.mech_list_mic):
                raise AuthFailure(NtStatus.STATUS_LOGON_FAILURE, "bad mechListMIC from server")
        self.complete = msg.neg_state is NegState.ACCEPT_COMPLETED
        return b""
