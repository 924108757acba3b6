"""SMB1 detection: an SMB1-only NEGOTIATE and the meaning of its answer (sans-I/O).

Rules:
1. The request offers the one SMB1 dialect servers still speak, "NT LM 0.12" (MS-CIFS
   2.2.4.52.1), and no SMB2 dialect string, so a server can only accept it by speaking SMB1.
2. SMB1 is offered only when the answer is an SMB1 NEGOTIATE response with STATUS_SUCCESS and
   DialectIndex 0 (MS-CIFS 2.2.4.52.2). DialectIndex 0xFFFF, an SMB2 answer, an error status
   or a closed connection mean "not offered"; bytes that are neither are a protocol error and
   leave the question unanswered (None).
3. Every offset is checked against the length; a short or odd answer never raises anything but
   the result described in rule 2.
"""

from __future__ import annotations

import struct

from ..client.connection import smb1_negotiate_pdu
from ..wire.framing import frame_header
from ..wire.header import SMB1_MAGIC, SMB2_MAGIC
from .evidence import Outcome, Result, Smb1Probe

__all__ = ["SMB1_DIALECT", "parse_smb1_negotiate_response", "smb1_only_negotiate"]

SMB1_DIALECT = "NT LM 0.12"
_HEADER = struct.Struct("<4sBIBH12sHHHH")  # MS-CIFS 2.2.3.1, 32 bytes
_NT_LM_WORDS = struct.Struct("<HBHHIIII")  # DialectIndex .. Capabilities (MS-CIFS 2.2.4.52.2)
_SECURITY_SIGNATURES_ENABLED = 0x04
_SECURITY_SIGNATURES_REQUIRED = 0x08
_CAP_EXTENDED_SECURITY = 0x80000000
_SMB_COM_NEGOTIATE = 0x72


def smb1_only_negotiate() -> bytes:
    """The framed request (Direct TCP header included) of rule 1."""
    pdu = smb1_negotiate_pdu((SMB1_DIALECT,))
    return frame_header(len(pdu)) + pdu


def parse_smb1_negotiate_response(pdu: bytes) -> Smb1Probe:
    """The answer (one PDU, without the 4-byte Direct TCP header) to ``smb1_only_negotiate``."""
    if pdu[:4] == SMB2_MAGIC:
        return Smb1Probe(Outcome(Result.UNAVAILABLE, None, None, "protocol",
                                 "answered with SMB2: SMB1 is not spoken"), offered=False)
    if pdu[:4] != SMB1_MAGIC or len(pdu) < _HEADER.size + 1:
        return Smb1Probe(Outcome(Result.FAILED, None, None, "protocol",
                                 f"not an SMB answer ({len(pdu)} bytes)"), offered=None)
    _magic, command, status, _flags, _flags2, _x, _tid, _pid, _uid, _mid = _HEADER.unpack_from(pdu, 0)
    if command != _SMB_COM_NEGOTIATE:
        return Smb1Probe(Outcome(Result.FAILED, None, None, "protocol",
                                 f"SMB1 command 0x{command:02x} answers NEGOTIATE"), offered=None)
    if status != 0:
        failed = Outcome.ntstatus(status, "SMB1 NEGOTIATE refused")
        return Smb1Probe(Outcome(Result.UNAVAILABLE, failed.status, failed.code, "ntstatus",
                                 failed.detail), offered=False)
    word_count = pdu[_HEADER.size]
    words = pdu[_HEADER.size + 1 : _HEADER.size + 1 + 2 * word_count]
    if len(words) < 2 or len(words) != 2 * word_count:
        return Smb1Probe(Outcome(Result.FAILED, None, None, "protocol", "truncated SMB1 NEGOTIATE response"),
                         offered=None)
    (index,) = struct.unpack_from("<H", words, 0)
    if index == 0xFFFF:
        return Smb1Probe(Outcome(Result.UNAVAILABLE, None, None, "protocol",
                                 "DialectIndex 0xFFFF: no SMB1 dialect accepted"), offered=False)
    if index != 0:
        return Smb1Probe(Outcome(Result.FAILED, None, None, "protocol",
                                 f"DialectIndex {index} for a one-dialect request"), offered=None)
    if len(words) < _NT_LM_WORDS.size:  # an older (core) response shape: SMB1, without details
        return Smb1Probe(Outcome.success("protocol", f"dialect {SMB1_DIALECT}"), offered=True)
    _i, mode, _mpx, _vcs, _buf, _raw, _key, caps = _NT_LM_WORDS.unpack_from(words, 0)
    return Smb1Probe(
        Outcome.success("protocol", f"dialect {SMB1_DIALECT}"),
        offered=True,
        signing_enabled=bool(mode & (_SECURITY_SIGNATURES_ENABLED | _SECURITY_SIGNATURES_REQUIRED)),
        signing_required=bool(mode & _SECURITY_SIGNATURES_REQUIRED),
        extended_security=bool(caps & _CAP_EXTENDED_SECURITY),
        capabilities=caps,
    )
