"""SMB2/3 message security: key derivation, signing, pre-auth integrity and encryption.

Sans-I/O: nothing here reads a clock, a socket or a random source. Nonces are passed in by the
caller, which owns the randomness (and the uniqueness of nonces within a session).

Rules:
1. Keys (MS-SMB2 3.3.5.5.3, 3.2.5.3.1). ``Session.SessionKey`` is the first 16 bytes of the
   authentication key, right-padded with zeros when shorter. Signing and application keys are
   always derived from it. For 3.1.1 with AES-256-CCM/GCM the two cipher keys are derived from
   the *full* session key (``Session.FullSessionKey``, e.g. 32 bytes with Kerberos, 16 with
   NTLM) with L = 256; every other derived key uses L = 128.
2. KDF (MS-SMB2 3.1.4.2): SP800-108 counter mode, PRF = HMAC-SHA256, r = 32, the fixed input
   ``Label || 0x00 || Context || [L]_32``, counter and L big-endian. The MS-SMB2 labels and
   contexts already end in their own NUL, so the separator makes two zero bytes.
3. Direction. ``server_in_key`` decrypts what the client sends (the client's EncryptionKey:
   "ServerIn " / "SMBC2SCipherKey"); ``server_out_key`` encrypts what the server sends
   ("ServerOut" / "SMBS2CCipherKey").
4. Signing (MS-SMB2 3.1.4.1, 3.1.5.1) runs over the message exactly as sent, with the 16-byte
   Signature field (header bytes 48..64) zeroed by the caller, compound padding included. The
   message arrives as a sequence of parts that are fed to the MAC one by one: never
   concatenated, so an 8 MiB READ payload is hashed straight from its memoryview.
5. AES-GMAC nonce (MS-SMB2 3.1.4.1): 12 bytes = MessageId (8 bytes LE) followed by a 32-bit LE
   word whose bit 0 is the sender's role (1 = server, i.e. SMB2_FLAGS_SERVER_TO_REDIR) and bit 1
   is set for an SMB2 CANCEL request; the other 30 bits are zero. The GMAC tag is AES-GCM's tag
   over the message as additional authenticated data with an empty plaintext.
6. Signatures are compared in constant time (``hmac.compare_digest``).
7. Encryption (MS-SMB2 2.2.41, 3.1.4.3): a 52-byte TRANSFORM_HEADER precedes the ciphertext.
   The AEAD nonce is the first 11 (CCM) or 12 (GCM) bytes of the 16-byte Nonce field, the rest
   of the field is zero; the additional data is the header from Nonce to its end (bytes
   20..52); the 16-byte tag is the Signature field; Flags/EncryptionAlgorithm is 0x0001.
8. Decryption never raises anything but ``DecryptError`` (a ``ValueError``), whatever the
   input: short data, a wrong ProtocolId, Flags other than 0x0001, an OriginalMessageSize that
   does not match the ciphertext length, a bad key or a bad tag. No plaintext is returned
   unless the tag verified.
9. Pre-auth integrity (MS-SMB2 3.3.5.4, 3.3.5.5): H(0) = 64 zero bytes,
   H(n) = SHA-512(H(n-1) || message), over each NEGOTIATE / SESSION_SETUP message as sent.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.cmac import CMAC

__all__ = [
    "SIGNING_HMAC_SHA256",
    "SIGNING_AES_CMAC",
    "SIGNING_AES_GMAC",
    "AES_128_CCM",
    "AES_128_GCM",
    "AES_256_CCM",
    "AES_256_GCM",
    "SIGNATURE_OFFSET",
    "SIGNATURE_SIZE",
    "TRANSFORM_PROTOCOL_ID",
    "TRANSFORM_HEADER_SIZE",
    "TRANSFORM_FLAG_ENCRYPTED",
    "PREAUTH_HASH_SIZE",
    "MAX_MESSAGE_SIZE",
    "DecryptError",
    "SessionKeys",
    "PreauthHash",
    "kdf",
    "derive_session_keys",
    "signing_algorithm_for",
    "gmac_nonce",
    "compute_signature",
    "verify_signature",
    "nonce_size",
    "cipher_key_size",
    "encrypt_message",
    "decrypt_message",
    "parse_transform_header",
]

Buffer = bytes | bytearray | memoryview

# MS-SMB2 2.2.3.1.7 SMB2_SIGNING_CAPABILITIES, SigningAlgorithms.
SIGNING_HMAC_SHA256 = 0
SIGNING_AES_CMAC = 1
SIGNING_AES_GMAC = 2

# MS-SMB2 2.2.3.1.2 SMB2_ENCRYPTION_CAPABILITIES, Ciphers.
AES_128_CCM = 1
AES_128_GCM = 2
AES_256_CCM = 3
AES_256_GCM = 4

# MS-SMB2 2.2.1.2: the Signature field of the 64-byte SMB2 header.
SIGNATURE_OFFSET = 48
SIGNATURE_SIZE = 16

# MS-SMB2 2.2.41 SMB2 TRANSFORM_HEADER.
TRANSFORM_PROTOCOL_ID = b"\xfdSMB"
TRANSFORM_HEADER_SIZE = 52
TRANSFORM_FLAG_ENCRYPTED = 0x0001
_AAD_OFFSET = 20  # the additional data runs from Nonce to the end of the header
_NONCE_FIELD_SIZE = 16

PREAUTH_HASH_SIZE = 64  # SHA-512, the only PreauthIntegrityHashId (MS-SMB2 2.2.3.1.1)

_DIALECT_202 = 0x0202
_DIALECT_210 = 0x0210
_DIALECT_300 = 0x0300
_DIALECT_302 = 0x0302
_DIALECT_311 = 0x0311

_MAX_U64 = 0xFFFF_FFFF_FFFF_FFFF
_MAX_U32 = 0xFFFF_FFFF

# Largest message encrypt_message / decrypt_message handle: one-shot AES-CCM in `cryptography`
# stops at 2**31 - 1 bytes of ciphertext plus tag. SMB2 frames are 24-bit anyway (MS-SMB2 2.1).
MAX_MESSAGE_SIZE = 2**31 - 1 - 16

# ProtocolId, Signature, Nonce, OriginalMessageSize, Reserved, Flags, SessionId.
_TRANSFORM = struct.Struct("<4s16s16sIHHQ")
_GMAC_NONCE = struct.Struct("<QI")
_U32_BE = struct.Struct(">I")

# cipher id -> (key bytes, AEAD nonce bytes, is CCM)
_CIPHERS: dict[int, tuple[int, int, bool]] = {
    AES_128_CCM: (16, 11, True),
    AES_128_GCM: (16, 12, False),
    AES_256_CCM: (32, 11, True),
    AES_256_GCM: (32, 12, False),
}

# MS-SMB2 3.3.5.5.3 labels and contexts (3.0 / 3.0.2; 3.1.1 uses the pre-auth hash as context).
_L30_SIGN = (b"SMB2AESCMAC\x00", b"SmbSign\x00")
_L30_APP = (b"SMB2APP\x00", b"SmbRpc\x00")
_L30_IN = (b"SMB2AESCCM\x00", b"ServerIn \x00")
_L30_OUT = (b"SMB2AESCCM\x00", b"ServerOut\x00")
_L311_SIGN = b"SMBSigningKey\x00"
_L311_APP = b"SMBAppKey\x00"
_L311_C2S = b"SMBC2SCipherKey\x00"
_L311_S2C = b"SMBS2CCipherKey\x00"


class DecryptError(ValueError):
    """A transformed message that cannot be trusted (MS-SMB2 3.3.5.2.1.1): drop the connection."""


# --------------------------------------------------------------------------------------------
# Key derivation
# --------------------------------------------------------------------------------------------


def kdf(key: bytes, label: bytes, context: bytes, length_bits: int = 128) -> bytes:
    """SP800-108 counter-mode KDF with HMAC-SHA256, as MS-SMB2 3.1.4.2 uses it.

    ``K(i) = HMAC-SHA256(key, [i]_32 || label || 0x00 || context || [L]_32)`` for
    i = 1, 2, ...; the output is the first ``L`` bits of ``K(1) || K(2) || ...``.
    """
    if length_bits <= 0 or length_bits % 8 or length_bits > _MAX_U32:
        raise ValueError(f"KDF output length {length_bits} bits is not a positive multiple of 8")
    fixed = b"".join((label, b"\x00", context, _U32_BE.pack(length_bits)))
    blocks = -(-length_bits // 256)
    out = b"".join(
        hmac.digest(key, _U32_BE.pack(i) + fixed, "sha256") for i in range(1, blocks + 1)
    )
    return out[: length_bits // 8]


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The per-session keys of MS-SMB2 3.3.1.8 (Session.SigningKey, .DecryptionKey ...).

    ``server_in_key`` decrypts client-to-server traffic (Session.DecryptionKey on the server,
    the client's EncryptionKey); ``server_out_key`` encrypts server-to-client traffic
    (Session.EncryptionKey on the server). Both are empty before SMB 3.0.
    """

    signing_key: bytes
    server_in_key: bytes
    server_out_key: bytes
    application_key: bytes

    def __repr__(self) -> str:  # keys never reach a log line
        return "SessionKeys(<redacted>)"


def _session_key16(session_key: bytes) -> bytes:
    """Session.SessionKey: the first 16 bytes, zero-padded when shorter (MS-SMB2 3.3.5.5.3)."""
    return bytes(session_key[:16]).ljust(16, b"\x00")


def derive_session_keys(
    dialect: int,
    session_key: bytes,
    *,
    preauth_hash: bytes | None,
    cipher: int = 0,
) -> SessionKeys:
    """Derive a session's keys once authentication succeeds (MS-SMB2 3.3.5.5.3, 3.2.5.3.1).

    ``dialect`` is the negotiated dialect as an int (0x0202 ... 0x0311); ``session_key`` the
    full key the authentication mechanism exported; ``preauth_hash`` the session's
    PreauthIntegrityHashValue (64 bytes, required for 3.1.1 only); ``cipher`` the negotiated
    CipherId (0 = none). For 3.0 / 3.0.2 the cipher is always AES-128-CCM.
    """
    sk = _session_key16(session_key)
    if dialect in (_DIALECT_202, _DIALECT_210):
        return SessionKeys(
            signing_key=sk, server_in_key=b"", server_out_key=b"", application_key=sk
        )
    if dialect in (_DIALECT_300, _DIALECT_302):
        if cipher not in (0, AES_128_CCM):
            raise ValueError(f"cipher {cipher} cannot be used with dialect {dialect:#06x}")
        return SessionKeys(
            signing_key=kdf(sk, *_L30_SIGN),
            server_in_key=kdf(sk, *_L30_IN),
            server_out_key=kdf(sk, *_L30_OUT),
            application_key=kdf(sk, *_L30_APP),
        )
    if dialect == _DIALECT_311:
        if preauth_hash is None or len(preauth_hash) != PREAUTH_HASH_SIZE:
            raise ValueError("dialect 3.1.1 needs the 64-byte pre-auth integrity hash")
        ctx = bytes(preauth_hash)
        if cipher in (AES_256_CCM, AES_256_GCM):
            cipher_kdk, bits = bytes(session_key), 256
        elif cipher in (0, AES_128_CCM, AES_128_GCM):
            cipher_kdk, bits = sk, 128
        else:
            raise ValueError(f"unknown cipher {cipher}")
        return SessionKeys(
            signing_key=kdf(sk, _L311_SIGN, ctx),
            server_in_key=kdf(cipher_kdk, _L311_C2S, ctx, bits),
            server_out_key=kdf(cipher_kdk, _L311_S2C, ctx, bits),
            application_key=kdf(sk, _L311_APP, ctx),
        )
    raise ValueError(f"no key derivation for dialect {dialect:#06x}")


def signing_algorithm_for(dialect: int, negotiated: int | None = None) -> int:
    """The signing algorithm a connection uses (MS-SMB2 3.1.4.1).

    2.0.2 / 2.1: HMAC-SHA256. 3.0 / 3.0.2: AES-CMAC. 3.1.1: the SigningAlgorithmId agreed in
    SMB2_SIGNING_CAPABILITIES, or AES-CMAC when none was negotiated.
    """
    if dialect in (_DIALECT_202, _DIALECT_210):
        return SIGNING_HMAC_SHA256
    if dialect in (_DIALECT_300, _DIALECT_302):
        return SIGNING_AES_CMAC
    if dialect == _DIALECT_311:
        if negotiated is None:
            return SIGNING_AES_CMAC
        if negotiated not in (SIGNING_HMAC_SHA256, SIGNING_AES_CMAC, SIGNING_AES_GMAC):
            raise ValueError(f"unknown signing algorithm {negotiated}")
        return negotiated
    raise ValueError(f"no signing for dialect {dialect:#06x}")


# --------------------------------------------------------------------------------------------
# Signing
# --------------------------------------------------------------------------------------------


def gmac_nonce(message_id: int, *, is_response: bool, is_cancel: bool = False) -> bytes:
    """The 12-byte AES-GMAC nonce of MS-SMB2 3.1.4.1 (see rule 5)."""
    if not 0 <= message_id <= _MAX_U64:
        raise ValueError(f"MessageId {message_id} out of range")
    return _GMAC_NONCE.pack(message_id, (1 if is_response else 0) | (2 if is_cancel else 0))


def _check_aes128(key: bytes, what: str) -> None:
    if len(key) != 16:
        raise ValueError(f"{what} needs a 16-byte key, got {len(key)}")


def compute_signature(
    algorithm: int,
    key: bytes,
    parts: Sequence[Buffer],
    *,
    message_id: int = 0,
    is_response: bool = True,
    is_cancel: bool = False,
) -> bytes:
    """The 16-byte signature of the concatenation of ``parts`` (MS-SMB2 3.1.4.1).

    The caller zeroes the header's Signature field first. ``message_id``, ``is_response`` and
    ``is_cancel`` only matter to AES-GMAC, whose nonce they form.
    """
    if algorithm == SIGNING_HMAC_SHA256:
        mac = hmac.new(key, digestmod=hashlib.sha256)
        for part in parts:
            mac.update(part)
        return mac.digest()[:SIGNATURE_SIZE]
    if algorithm == SIGNING_AES_CMAC:
        _check_aes128(key, "AES-CMAC")
        cmac = CMAC(algorithms.AES(key))
        for part in parts:
            cmac.update(part)
        return cmac.finalize()
    if algorithm == SIGNING_AES_GMAC:
        _check_aes128(key, "AES-GMAC")
        nonce = gmac_nonce(message_id, is_response=is_response, is_cancel=is_cancel)
        gcm = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
        for part in parts:
            gcm.authenticate_additional_data(part)
        gcm.finalize()
        return gcm.tag
    raise ValueError(f"unknown signing algorithm {algorithm}")


def verify_signature(
    algorithm: int,
    key: bytes,
    parts: Sequence[Buffer],
    *,
    expected: Buffer,
    message_id: int,
    is_response: bool,
    is_cancel: bool,
) -> bool:
    """Whether ``expected`` is the signature of ``parts`` (MS-SMB2 3.1.5.1), in constant time.

    ``parts`` must carry the header with its Signature field zeroed; ``expected`` is the value
    that was in that field (a copy: not a view of the field the caller has since zeroed). A
    server verifying a request passes ``is_response=False``.
    """
    actual = compute_signature(
        algorithm,
        key,
        parts,
        message_id=message_id,
        is_response=is_response,
        is_cancel=is_cancel,
    )
    return hmac.compare_digest(actual, bytes(expected))


# --------------------------------------------------------------------------------------------
# Pre-authentication integrity
# --------------------------------------------------------------------------------------------


class PreauthHash:
    """SHA-512 hash chain over NEGOTIATE and SESSION_SETUP messages (MS-SMB2 3.3.5.4, 3.3.5.5).

    A connection keeps one from NEGOTIATE; each new session starts from a ``copy()`` of it.
    """

    __slots__ = ("_value",)

    def __init__(self, initial: bytes = bytes(PREAUTH_HASH_SIZE)) -> None:
        if len(initial) != PREAUTH_HASH_SIZE:
            raise ValueError("a pre-auth integrity hash is 64 bytes")
        self._value = bytes(initial)

    def update(self, message: Buffer) -> None:
        """H = SHA-512(H || message)."""
        h = hashlib.sha512(self._value)
        h.update(message)
        self._value = h.digest()

    @property
    def value(self) -> bytes:
        return self._value

    def copy(self) -> PreauthHash:
        return PreauthHash(self._value)

    def __repr__(self) -> str:
        return f"PreauthHash({self._value[:8].hex()}...)"


# --------------------------------------------------------------------------------------------
# Encryption
# --------------------------------------------------------------------------------------------


def nonce_size(cipher: int) -> int:
    """AEAD nonce length the caller must supply: 11 for AES-CCM, 12 for AES-GCM (2.2.41)."""
    try:
        return _CIPHERS[cipher][1]
    except KeyError:
        raise ValueError(f"unknown cipher {cipher}") from None


def cipher_key_size(cipher: int) -> int:
    """Key length in bytes: 16 for the AES-128 ciphers, 32 for AES-256."""
    try:
        return _CIPHERS[cipher][0]
    except KeyError:
        raise ValueError(f"unknown cipher {cipher}") from None


def _cipher_params(cipher: int, key: bytes) -> tuple[int, bool]:
    """(nonce size, is CCM) for a cipher id, after checking the key length."""
    try:
        key_size, n_size, is_ccm = _CIPHERS[cipher]
    except KeyError:
        raise ValueError(f"unknown cipher {cipher}") from None
    if len(key) != key_size:
        raise ValueError(f"cipher {cipher} needs a {key_size}-byte key, got {len(key)}")
    return n_size, is_ccm


def encrypt_message(
    cipher: int,
    key: bytes,
    session_id: int,
    plaintext_parts: Sequence[Buffer],
    nonce: bytes,
) -> bytes:
    """TRANSFORM_HEADER + ciphertext of the concatenated ``plaintext_parts`` (MS-SMB2 3.1.4.3).

    ``nonce`` is ``nonce_size(cipher)`` fresh bytes, zero-padded into the 16-byte Nonce field.
    A full 16-byte field is also accepted and written verbatim (only its first
    ``nonce_size(cipher)`` bytes feed the AEAD; the rest is still authenticated), which lets
    the Windows 8 era vectors, whose padding is not zero, be reproduced.
    """
    n_size, is_ccm = _cipher_params(cipher, key)
    if len(nonce) == n_size:
        nonce_field = bytes(nonce).ljust(_NONCE_FIELD_SIZE, b"\x00")
    elif len(nonce) == _NONCE_FIELD_SIZE:
        nonce_field = bytes(nonce)
    else:
        raise ValueError(f"cipher {cipher} needs a {n_size}-byte nonce, got {len(nonce)}")
    if not 0 <= session_id <= _MAX_U64:
        raise ValueError(f"SessionId {session_id} out of range")
    size = sum(memoryview(p).nbytes for p in plaintext_parts)
    if not 0 < size <= MAX_MESSAGE_SIZE:
        raise ValueError(f"cannot encrypt a {size}-byte message")

    header = _TRANSFORM.pack(
        TRANSFORM_PROTOCOL_ID, bytes(16), nonce_field, size, 0, TRANSFORM_FLAG_ENCRYPTED, session_id
    )
    aad = header[_AAD_OFFSET:]
    aead_nonce = nonce_field[:n_size]
    chunks: list[Buffer]
    if is_ccm:
        sealed = AESCCM(key, tag_length=16).encrypt(aead_nonce, b"".join(plaintext_parts), aad)
        tag, chunks = sealed[size:], [memoryview(sealed)[:size]]
    else:
        gcm = Cipher(algorithms.AES(key), modes.GCM(aead_nonce)).encryptor()
        gcm.authenticate_additional_data(aad)
        chunks = [gcm.update(p) for p in plaintext_parts]
        gcm.finalize()
        tag = gcm.tag
    return b"".join([header[:4], tag, aad, *chunks])


def _byte_view(data: Buffer) -> memoryview:
    try:
        return memoryview(data).cast("B")
    except TypeError:
        raise DecryptError("transformed message is not a contiguous byte buffer") from None


def parse_transform_header(data: Buffer) -> tuple[int, int]:
    """(SessionId, OriginalMessageSize) of one whole transformed message (MS-SMB2 2.2.41).

    ``data`` is the complete message as framed: header and ciphertext. Raises ``DecryptError``
    unless it is longer than the header, starts with 0xFD 'S' 'M' 'B', has Flags 0x0001 and an
    OriginalMessageSize equal to the ciphertext length (MS-SMB2 3.3.5.2.1.1).
    """
    view = _byte_view(data)
    if len(view) <= TRANSFORM_HEADER_SIZE:
        raise DecryptError(f"transformed message of {len(view)} bytes is too short")
    protocol, _sig, _nonce, size, _reserved, flags, session_id = _TRANSFORM.unpack_from(view, 0)
    if protocol != TRANSFORM_PROTOCOL_ID:
        raise DecryptError("not an SMB2 TRANSFORM_HEADER")
    if flags != TRANSFORM_FLAG_ENCRYPTED:
        raise DecryptError(f"TRANSFORM_HEADER Flags {flags:#06x} is not 0x0001")
    if size > MAX_MESSAGE_SIZE or size != len(view) - TRANSFORM_HEADER_SIZE:
        raise DecryptError(
            f"OriginalMessageSize {size} does not match {len(view) - TRANSFORM_HEADER_SIZE}"
            " bytes of ciphertext"
        )
    return session_id, size


def decrypt_message(cipher: int, key: bytes, data: Buffer) -> bytes:
    """The plaintext SMB2 message inside a transformed message (MS-SMB2 3.3.5.2.1.1).

    Raises ``DecryptError`` and nothing else (rule 8).
    """
    try:
        n_size, is_ccm = _cipher_params(cipher, key)
    except ValueError as exc:
        raise DecryptError(str(exc)) from None
    view = _byte_view(data)
    parse_transform_header(view)
    tag = bytes(view[4:20])
    aad = view[_AAD_OFFSET:TRANSFORM_HEADER_SIZE]
    aead_nonce = bytes(view[_AAD_OFFSET : _AAD_OFFSET + n_size])
    ciphertext = view[TRANSFORM_HEADER_SIZE:]
    try:
        if is_ccm:
            return AESCCM(key, tag_length=16).decrypt(
                aead_nonce, b"".join((ciphertext, tag)), aad
            )
        gcm = Cipher(algorithms.AES(key), modes.GCM(aead_nonce, tag)).decryptor()
        gcm.authenticate_additional_data(aad)
        plaintext = gcm.update(ciphertext)
        gcm.finalize()
        return plaintext
    except InvalidTag:
        raise DecryptError("TRANSFORM_HEADER signature does not verify") from None
