"""SMB1 detection (probe.smb1): the SMB1-only NEGOTIATE and every shape of answer."""

from __future__ import annotations

import struct

from nullsmb.probe.evidence import Result
from nullsmb.probe.smb1 import parse_smb1_negotiate_response, smb1_only_negotiate

# Samba 4.17 (server min protocol SMB2_02) and nullsmb answer an SMB1-only NEGOTIATE alike:
# an SMB1 NEGOTIATE response with WordCount 1 and DialectIndex 0xFFFF (captured, hex).
SAMBA_REFUSAL = bytes.fromhex("ff534d4272000000008813c0000000000000000000000000fffffffe0000000001ffff0000")


def nt_lm_response(*, security_mode: int = 0x03, capabilities: int = 0x8000E3FD, status: int = 0,
                   index: int = 0) -> bytes:
    """MS-CIFS 2.2.4.52.2 NT LM 0.12 (extended security) response, field by field."""
    header = (
        b"\xffSMB"                      # Protocol
        + b"\x72"                       # Command: SMB_COM_NEGOTIATE
        + struct.pack("<I", status)     # Status
        + b"\x88"                       # Flags: reply, case-insensitive
        + struct.pack("<H", 0xC853)     # Flags2: unicode, NT status, extended security ...
        + bytes(2 + 8 + 2)              # PIDHigh, SecurityFeatures, Reserved
        + struct.pack("<HHHH", 0, 0xFEFF, 0, 0)  # TID, PIDLow, UID, MID
    )
    words = struct.pack(
        "<HBHHIIIIQhB",
        index,                          # DialectIndex: "NT LM 0.12"
        security_mode,                  # SecurityMode
        50,                             # MaxMpxCount
        1,                              # MaxNumberVcs
        16644,                          # MaxBufferSize
        65536,                          # MaxRawSize
        0,                              # SessionKey
        capabilities,                   # Capabilities
        0,                              # SystemTime
        0,                              # ServerTimeZone
        0,                              # ChallengeLength (extended security: 0)
    )
    data = bytes(16) + b"\x60\x00"      # ServerGUID, SecurityBlob (truncated: not parsed)
    return header + bytes([len(words) // 2]) + words + struct.pack("<H", len(data)) + data


def test_request_offers_nt_lm_012_alone() -> None:
    frame = smb1_only_negotiate()
    assert frame[:4] == (len(frame) - 4).to_bytes(4, "big")
    assert frame[4:8] == b"\xffSMB" and frame[8] == 0x72
    assert frame.endswith(b"\x02NT LM 0.12\x00") and b"SMB 2" not in frame


def test_refusal_is_not_offered() -> None:
    p = parse_smb1_negotiate_response(SAMBA_REFUSAL)
    assert p.offered is False and p.outcome.result is Result.UNAVAILABLE
    assert "0xFFFF" in p.outcome.detail


def test_nt_lm_accepted_with_signing_details() -> None:
    p = parse_smb1_negotiate_response(nt_lm_response(security_mode=0x0F))
    assert p.offered is True and p.outcome.ok
    assert p.signing_enabled and p.signing_required and p.extended_security
    p = parse_smb1_negotiate_response(nt_lm_response(security_mode=0x03, capabilities=0x3FD))
    assert p.offered is True and not p.signing_enabled and not p.signing_required and not p.extended_security


def test_smb2_answer_and_error_status_mean_not_offered() -> None:
    assert parse_smb1_negotiate_response(b"\xfeSMB" + bytes(60)).offered is False
    p = parse_smb1_negotiate_response(nt_lm_response(status=0xC0000002))
    assert p.offered is False and p.outcome.status == "STATUS_NOT_IMPLEMENTED"


def test_odd_answers_leave_the_question_open() -> None:
    assert parse_smb1_negotiate_response(b"HTTP/1.1 400").offered is None
    assert parse_smb1_negotiate_response(nt_lm_response(index=3)).offered is None
    wrong_command = bytearray(nt_lm_response())
    wrong_command[4] = 0x73
    assert parse_smb1_negotiate_response(bytes(wrong_command)).offered is None


def test_every_truncation_is_an_answer_never_an_exception() -> None:
    for whole in (nt_lm_response(), SAMBA_REFUSAL):
        for cut in range(len(whole) + 1):
            p = parse_smb1_negotiate_response(whole[:cut])
            assert p.offered in (None, False, True)
            assert p.outcome.result in (Result.OK, Result.FAILED, Result.UNAVAILABLE)
