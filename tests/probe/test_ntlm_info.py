"""NTLM target information from the CHALLENGE (probe.ntlm_info), produced by nullsmb's own
acceptor (the bytes a real server sends) and then mangled."""

from __future__ import annotations

import os

from nullsmb.auth.accounts import AccountDb
from nullsmb.auth.ntlmssp import NtlmAcceptor
from nullsmb.auth.spnego import OID_NTLMSSP, NegState, NegTokenResp, decode_token
from nullsmb.probe.evidence import Outcome, Result
from nullsmb.probe.ntlm_info import challenge_request_token, parse_challenge

MORE = Outcome(Result.OK, "STATUS_MORE_PROCESSING_REQUIRED", 0xC0000016, "ntstatus")


def server_challenge() -> bytes:
    """The CHALLENGE_MESSAGE nullsmb sends to the probe's own first leg."""
    request = decode_token(challenge_request_token(os.urandom))
    acceptor = NtlmAcceptor(accounts=AccountDb(), netbios_name="FILESRV", domain="CORP", dns_name="filesrv.corp.test",
                            dns_domain="corp.test", map_to_guest_bad_user=False, server_challenge=bytes(8),
                            now_filetime=133_000_000_000_000_000)
    assert request.mech_token is not None  # type: ignore[union-attr]
    return acceptor.challenge(request.mech_token)  # type: ignore[union-attr]


def wrapped(token: bytes) -> bytes:
    return NegTokenResp(NegState.ACCEPT_INCOMPLETE, OID_NTLMSSP, token).encode()


def test_names_and_version_from_spnego_wrapped_challenge() -> None:
    info = parse_challenge(wrapped(server_challenge()), MORE)
    assert info.outcome.ok and info.outcome.status == "STATUS_MORE_PROCESSING_REQUIRED"
    assert (info.netbios_computer, info.netbios_domain) == ("FILESRV", "CORP")
    assert (info.dns_computer, info.dns_domain, info.dns_tree) == ("filesrv.corp.test", "corp.test", None)
    assert info.target_name == "FILESRV"
    assert info.os_version == "10.0 build 20348"


def test_raw_ntlmssp_token_is_read_too() -> None:
    assert parse_challenge(server_challenge(), MORE).netbios_computer == "FILESRV"


def test_missing_or_broken_tokens_are_failed_outcomes() -> None:
    assert parse_challenge(b"", MORE).outcome.result is Result.FAILED
    assert parse_challenge(b"\x30\x03\x02\x01\x00", MORE).outcome.kind == "protocol"
    assert parse_challenge(wrapped(b"NTLMSSP\x00\x01\x00\x00\x00"), MORE).outcome.result is Result.FAILED
    assert parse_challenge(NegTokenResp(NegState.REJECT).encode(), MORE).outcome.result is Result.FAILED


def test_every_truncation_and_bit_flip_is_an_outcome() -> None:
    whole = wrapped(server_challenge())
    for cut in range(len(whole)):
        assert parse_challenge(whole[:cut], MORE).outcome.result in (Result.OK, Result.FAILED)
    for at in range(len(whole)):
        flipped = bytearray(whole)
        flipped[at] ^= 0xFF
        assert parse_challenge(bytes(flipped), MORE).outcome.result in (Result.OK, Result.FAILED)
