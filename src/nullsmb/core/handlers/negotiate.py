"""NEGOTIATE (MS-SMB2 3.3.5.3, 3.3.5.4) and the SMB1 multi-protocol upgrade (3.3.5.3.1)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ...auth.spnego import neg_token_init_hint
from ...status import MalformedMessage, NtStatus, SmbError
from ...wire.fscc import filetime
from ...wire.header import Command, pack_header
from ...wire.negotiate import (
    HASH_SHA512,
    Capabilities,
    ContextType,
    Dialect,
    NegotiateContext,
    NegotiateRequest,
    NegotiateResponse,
    SecurityMode,
    smb1_dialects,
)
from .. import crypto
from ..context import Reply, RequestContext

if TYPE_CHECKING:
    from ..connection import ServerConnection

MAX_IO_LARGE = 8 * 1024 * 1024  # MaxRead/MaxWrite/MaxTransact on 2.1+
MAX_IO_202 = 65536

# Server preference orders (issue: AES-128-GMAC preferred, then CMAC).
SIGNING_PREFERENCE = (crypto.SIGNING_AES_GMAC, crypto.SIGNING_AES_CMAC, crypto.SIGNING_HMAC_SHA256)
CIPHER_PREFERENCE = (crypto.AES_128_GCM, crypto.AES_128_CCM, crypto.AES_256_GCM, crypto.AES_256_CCM)


def _security_mode(conn: "ServerConnection") -> int:
    mode = SecurityMode.SIGNING_ENABLED
    if conn.server.config.server.signing == "required":
        mode |= SecurityMode.SIGNING_REQUIRED
    return int(mode)


def _response(conn: "ServerConnection", dialect: int, contexts: tuple = ()) -> NegotiateResponse:
    neg = conn.neg
    large = dialect >= Dialect.SMB210 and dialect != Dialect.WILDCARD
    size = MAX_IO_LARGE if large else MAX_IO_202
    return NegotiateResponse(
        security_mode=_security_mode(conn),
        dialect=dialect,
        server_guid=conn.server.server_guid,
        capabilities=neg.server_capabilities,
        max_transact=size,
        max_read=size,
        max_write=size,
        system_time=filetime(int(conn.server.clock() * 1e9)),
        security_buffer=neg_token_init_hint(),
        contexts=contexts,
    )


async def handle_negotiate(ctx: RequestContext, req: NegotiateRequest) -> Reply:
    conn = ctx.conn
    if conn.negotiated:
        raise MalformedMessage("second NEGOTIATE on a connection")  # MS-SMB2 3.3.5.3.1
    offered = [d for d in conn.server.config.server.dialects if d in req.dialects]
    if not offered:
        raise SmbError(NtStatus.STATUS_NOT_SUPPORTED, "no common dialect")
    dialect = max(offered)
    neg = conn.neg
    neg.dialect = dialect
    neg.client_guid = req.client_guid
    neg.client_security_mode = req.security_mode
    neg.client_capabilities = req.capabilities
    neg.large_mtu = dialect >= Dialect.SMB210
    size = MAX_IO_LARGE if neg.large_mtu else MAX_IO_202
    neg.max_read = neg.max_write = neg.max_transact = size
    caps = 0
    if neg.large_mtu:
        caps |= Capabilities.LARGE_MTU | Capabilities.LEASING  # leases: core/oplock.py
    if dialect in (Dialect.SMB300, Dialect.SMB302) and req.capabilities & Capabilities.ENCRYPTION:
        caps |= Capabilities.ENCRYPTION
        neg.cipher = crypto.AES_128_CCM
    if dialect >= Dialect.SMB300:
        neg.signing_algorithm = crypto.SIGNING_AES_CMAC
    neg.server_capabilities = int(caps)
    contexts: tuple[NegotiateContext, ...] = ()
    if dialect == Dialect.SMB311:
        contexts = _negotiate_contexts(ctx, req)
        conn.preauth = crypto.PreauthHash()
        conn.preauth.update(ctx.message)
        preauth = conn.preauth
        ctx.on_response = preauth.update
    conn.negotiated = True
    return Reply.of(_response(conn, dialect, contexts).encode())


def _negotiate_contexts(ctx: RequestContext, req: NegotiateRequest) -> tuple[NegotiateContext, ...]:
    """MS-SMB2 3.3.5.4: pick one hash, one cipher, one signing algorithm."""
    conn = ctx.conn
    by_type: dict[int, NegotiateContext] = {}
    for c in req.contexts:
        if c.type in by_type and c.type in (ContextType.PREAUTH_INTEGRITY_CAPABILITIES,
                                             ContextType.ENCRYPTION_CAPABILITIES):
            raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "duplicate negotiate context")
        by_type.setdefault(c.type, c)
    pre = by_type.get(ContextType.PREAUTH_INTEGRITY_CAPABILITIES)
    try:
        hashes = pre.u16_list(0, 4) if pre is not None else []
    except MalformedMessage:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "bad preauth context") from None
    if HASH_SHA512 not in hashes:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "no SHA-512 preauth integrity")
    salt = conn.server.random_bytes(32)
    out = [NegotiateContext(ContextType.PREAUTH_INTEGRITY_CAPABILITIES,
                            struct.pack("<HHH", 1, len(salt), HASH_SHA512) + salt)]
    enc = by_type.get(ContextType.ENCRYPTION_CAPABILITIES)
    if enc is not None:
        try:
            ciphers = enc.u16_list()
        except MalformedMessage:
            raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "bad encryption context") from None
        chosen = next((c for c in CIPHER_PREFERENCE if c in ciphers), 0)
        conn.neg.cipher = chosen
        out.append(NegotiateContext(ContextType.ENCRYPTION_CAPABILITIES, struct.pack("<HH", 1, chosen)))
    sig = by_type.get(ContextType.SIGNING_CAPABILITIES)
    if sig is not None:
        try:
            algorithms = sig.u16_list()
        except MalformedMessage:
            raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "bad signing context") from None
        chosen = next((a for a in SIGNING_PREFERENCE if a in algorithms), crypto.SIGNING_AES_CMAC)
        out.append(NegotiateContext(ContextType.SIGNING_CAPABILITIES, struct.pack("<HH", 1, chosen)))
        conn.neg.signing_algorithm = chosen
    else:
        conn.neg.signing_algorithm = crypto.SIGNING_AES_CMAC
    return tuple(out)


def handle_smb1_negotiate(conn: "ServerConnection", pdu: bytes | bytearray) -> list:
    """MS-SMB2 3.3.5.3.1: answer "SMB 2.???" with 0x02FF, "SMB 2.002" with 2.0.2; refuse
    SMB1-only clients with DialectIndex 0xFFFF (MS-CIFS 2.2.4.52.2) and close."""
    names = smb1_dialects(pdu)
    enabled = conn.server.config.server.dialects
    if "SMB 2.???" in names and any(d > Dialect.SMB202 for d in enabled):
        dialect = Dialect.WILDCARD
    elif "SMB 2.002" in names and Dialect.SMB202 in enabled:
        dialect = Dialect.SMB202
    else:
        conn.close_after_send = True
        return [_smb1_refusal(pdu)]
    if dialect == Dialect.SMB202:
        conn.neg.dialect = Dialect.SMB202
        conn.neg.max_read = conn.neg.max_write = conn.neg.max_transact = MAX_IO_202
        conn.negotiated = True
    # MessageId 0 is spent by the SMB1 request; the client continues at 1.
    conn.credits.low = conn.credits.high = 1
    conn.credits.high += 1
    header = pack_header(command=Command.NEGOTIATE, status=0, message_id=0, session_id=0, credits=1)
    return [header, _response(conn, dialect).encode()]


def _smb1_refusal(pdu: bytes | bytearray) -> bytes:
    """An SMB_COM_NEGOTIATE response choosing no dialect (MS-CIFS 2.2.4.52.2)."""
    head = bytearray(pdu[:32])
    head[9:13] = bytes(4)  # Status: success (the refusal is in DialectIndex)
    head[13] |= 0x80  # Flags: SMB_FLAGS_REPLY
    return bytes(head) + struct.pack("<BHH", 1, 0xFFFF, 0)
