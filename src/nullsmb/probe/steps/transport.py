"""Step 1, transport and negotiation: SMB1, each SMB2/3 dialect on its own, NTLM target info.

Rules:
1. Each question has its own TCP connection, closed at once: an SMB1-only NEGOTIATE
   (probe.smb1), one SMB2 NEGOTIATE per dialect offering that dialect alone (MS-SMB2 3.2.4.2.2.2),
   and one SESSION_SETUP leg carrying an NTLM NEGOTIATE to read the CHALLENGE (probe.ntlm_info).
   The seven run concurrently; none depends on another.
2. A dialect is offered when the server's NEGOTIATE response selects it. STATUS_NOT_SUPPORTED
   (MS-SMB2 3.3.5.4), another dialect in the answer (a protocol violation impacket commits) or a
   closed connection mean "not offered"; a timeout leaves the question open (None).
3. Per dialect: SecurityMode SIGNING_REQUIRED (MS-SMB2 2.2.4), the server GUID, and encryption:
   the ENCRYPTION capability on 3.0/3.0.2, the cipher of the ENCRYPTION_CAPABILITIES context on
   3.1.1 (MS-SMB2 2.2.3.1.2).
4. Answers are bounded: the SMB1 answer must fit in ``MAX_SMB1_ANSWER`` bytes.
"""

from __future__ import annotations

import asyncio
import os
import uuid

from ...client import SmbClient
from ...client.connection import ALL_DIALECTS, Outgoing
from ...core import crypto
from ...wire.header import HEADER_SIZE, Command
from ...wire.negotiate import Capabilities, Dialect, SecurityMode
from ...wire.session_setup import SessionSetupRequest, SessionSetupResponse
from ...status import MalformedMessage, NtStatus
from ..evidence import DIALECT_NAMES, DialectProbe, NtlmInfo, Outcome, Result, Smb1Probe, Transport
from ..ntlm_info import challenge_request_token, parse_challenge
from ..smb1 import parse_smb1_negotiate_response, smb1_only_negotiate
from .common import attempt, client_timeout, outcome_of

__all__ = ["probe_dialect", "probe_ntlm", "probe_smb1", "probe_transport"]

MAX_SMB1_ANSWER = 64 * 1024
_NO_ANSWER = frozenset({"ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "ETIMEDOUT"})
CIPHER_NAMES = {
    crypto.AES_128_CCM: "AES-128-CCM", crypto.AES_128_GCM: "AES-128-GCM",
    crypto.AES_256_CCM: "AES-256-CCM", crypto.AES_256_GCM: "AES-256-GCM",
}


def _guid(raw: bytes) -> str | None:
    return str(uuid.UUID(bytes_le=bytes(raw))) if len(raw) == 16 else None


async def probe_smb1(host: str, port: int, timeout: float) -> Smb1Probe:
    """Rule 1: the SMB1-only NEGOTIATE on a connection of its own."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        return Smb1Probe(outcome_of(exc), offered=None)
    try:
        writer.write(smb1_only_negotiate())
        await writer.drain()
        head = await asyncio.wait_for(reader.readexactly(4), timeout)
        length = int.from_bytes(head[1:], "big")
        if head[0] != 0 or length > MAX_SMB1_ANSWER:
            return Smb1Probe(Outcome(Result.FAILED, None, None, "protocol",
                                     f"not a Direct TCP frame (header {head.hex()})"), offered=None)
        pdu = await asyncio.wait_for(reader.readexactly(length), timeout)
        return parse_smb1_negotiate_response(pdu)
    except TimeoutError:
        return Smb1Probe(Outcome.timeout("no answer to an SMB1 NEGOTIATE"), offered=None)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        # Windows with SMB1 removed and Samba with "server min protocol" above NT1 may hang up.
        what = "closed the connection" if isinstance(exc, asyncio.IncompleteReadError) else str(exc)
        return Smb1Probe(Outcome(Result.UNAVAILABLE, None, None, "socket",
                                 f"server {what} on an SMB1 NEGOTIATE"), offered=False)
    except OSError as exc:
        return Smb1Probe(outcome_of(exc), offered=None)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def probe_dialect(host: str, port: int, dialect: int, timeout: float) -> DialectProbe:
    """Rules 1-3 for one dialect."""
    name = DIALECT_NAMES[dialect]
    out, client = await attempt(SmbClient.connect(host, port, dialects=[dialect], timeout=client_timeout(timeout)),
                                timeout=2 * timeout)
    if client is None:
        offered: bool | None = False
        if out.result is Result.TIMEOUT or out.status in _NO_ANSWER:
            offered = None  # no answer, or no connection at all: unknown
        if out.result is Result.DISCONNECTED and out.kind == "protocol":
            out = Outcome(Result.UNAVAILABLE, None, None, "protocol", out.detail)
        elif out.result is Result.DISCONNECTED and offered is False:
            out = Outcome(Result.UNAVAILABLE, out.status, out.code, out.kind, out.detail)
        return DialectProbe(name, out, offered=offered)
    try:
        conn = client.connection
        if conn.dialect in (Dialect.SMB300, Dialect.SMB302):
            encryption = bool(conn.server_capabilities & Capabilities.ENCRYPTION)
            cipher = CIPHER_NAMES.get(crypto.AES_128_CCM) if encryption else None
        elif conn.dialect == Dialect.SMB311:
            encryption = conn.cipher != 0
            cipher = CIPHER_NAMES.get(conn.cipher) if encryption else None
        else:
            encryption, cipher = False, None
        return DialectProbe(
            name, Outcome.success("ntstatus"), offered=True,
            signing_required=bool(conn.server_security_mode & SecurityMode.SIGNING_REQUIRED),
            capabilities=int(conn.server_capabilities), encryption=encryption, cipher=cipher,
            server_guid=_guid(conn.server_guid),
        )
    finally:
        await client.disconnect()


async def _challenge(client: SmbClient) -> NtlmInfo:
    token = challenge_request_token(os.urandom)
    body = SessionSetupRequest(0, int(SecurityMode.SIGNING_ENABLED), 0, 0, token).encode()
    [rsp] = await client.call(Outgoing(Command.SESSION_SETUP, body))
    if rsp.status != NtStatus.STATUS_MORE_PROCESSING_REQUIRED:
        failed = Outcome.ntstatus(rsp.status, "SESSION_SETUP with an NTLM NEGOTIATE")
        return NtlmInfo(failed)
    try:
        setup = SessionSetupResponse.decode(rsp.reader(), HEADER_SIZE)
    except MalformedMessage as exc:
        return NtlmInfo(Outcome(Result.FAILED, None, None, "protocol", f"bad SESSION_SETUP response: {exc}"))
    status = Outcome(Result.OK, NtStatus.STATUS_MORE_PROCESSING_REQUIRED.name,
                     int(NtStatus.STATUS_MORE_PROCESSING_REQUIRED), "ntstatus")
    return parse_challenge(setup.token, status)


async def probe_ntlm(host: str, port: int, timeout: float) -> NtlmInfo:
    """Rule 1: the NTLM CHALLENGE, on a connection of its own, any dialect."""
    out, client = await attempt(SmbClient.connect(host, port, dialects=ALL_DIALECTS, timeout=client_timeout(timeout)),
                                timeout=2 * timeout)
    if client is None:
        return NtlmInfo(out)
    try:
        out, info = await attempt(_challenge(client), timeout=timeout)
        return info if info is not None else NtlmInfo(out)
    finally:
        await client.disconnect()


async def probe_transport(host: str, port: int, timeout: float) -> Transport:
    smb1, ntlm, *dialects = await asyncio.gather(
        probe_smb1(host, port, timeout),
        probe_ntlm(host, port, timeout),
        *(probe_dialect(host, port, d, timeout) for d in ALL_DIALECTS),
    )
    return Transport(smb1, tuple(dialects), ntlm)
