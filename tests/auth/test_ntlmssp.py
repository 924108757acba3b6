"""NTLMSSP codecs, acceptor and initiator (MS-NLMP)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nullsmb.auth.accounts import Account, AccountDb
from nullsmb.auth.md4 import nt_hash
from nullsmb.auth.ntlmssp import (
    AuthenticateMessage,
    AuthFailure,
    AvId,
    ChallengeMessage,
    NegotiateFlags,
    NegotiateMessage,
    NtlmAcceptor,
    NtlmInitiator,
    PrincipalKind,
    Version,
    decode_av_pairs,
    encode_av_pairs,
    ntlm_mac,
    ntowf_v2,
    rc4,
)
from nullsmb.status import MalformedMessage, NtStatus, SmbError

F = NegotiateFlags
SERVER_CHALLENGE = bytes.fromhex("0123456789abcdef")  # MS-NLMP 4.2.1
CLIENT_CHALLENGE = b"\xaa" * 8  # MS-NLMP 4.2.1
RANDOM_SESSION_KEY = b"\x55" * 16  # MS-NLMP 4.2.1
NOW = 0x01D9A0B0C0D0E0F0
ALICE = Account.with_password("Alice", "Secret1!", groups=("Users",), rid=1001)
DB = AccountDb([ALICE, Account("bob", nt_hash("hunter2"), (), 1002)])


def acceptor(*, guest: bool = False, challenge: bytes = SERVER_CHALLENGE) -> NtlmAcceptor:
    return NtlmAcceptor(accounts=DB, netbios_name="SRV", domain="WG", dns_name="srv.lan",
                        dns_domain="lan", map_to_guest_bad_user=guest, server_challenge=challenge,
                        now_filetime=NOW)


def initiator(user: str = "", password: str = "", **kw: object) -> NtlmInitiator:
    return NtlmInitiator(user=user, password=password, client_challenge=b"C" * 8,
                         exported_session_key=b"K" * 16, **kw)  # type: ignore[arg-type]


def exchange(ini: NtlmInitiator, acc: NtlmAcceptor):  # type: ignore[no-untyped-def]
    return acc.authenticate(ini.authenticate(acc.challenge(ini.negotiate())))


# -- accounts ---------------------------------------------------------------------------------


def test_account_db_lookup_is_case_insensitive() -> None:
    assert DB.lookup("ALICE") is ALICE and DB.lookup("alice") is ALICE
    assert DB.lookup("carol") is None and "Bob" in DB and len(DB) == 2
    assert ALICE.nt_hash.hex() not in repr(ALICE) and "hash" not in repr(DB)


def test_account_validation() -> None:
    with pytest.raises(ValueError):
        Account("x", b"short", (), 1000)
    with pytest.raises(ValueError):
        Account("", bytes(16), (), 1000)
    with pytest.raises(ValueError):
        AccountDb([ALICE, Account.with_password("ALICE", "other")])


# -- MS-NLMP 4.2.4 NTLMv2 test vectors ----------------------------------------------------

SPEC_TARGET_INFO = encode_av_pairs((
    (AvId.NB_DOMAIN_NAME, "Domain".encode("utf-16-le")),
    (AvId.NB_COMPUTER_NAME, "Server".encode("utf-16-le")),
))
# MS-NLMP 4.2.4.1.3 temp: RespType, HiRespType, Z(6), Time=0, ClientChallenge, Z(4), ServerName, Z(4)
SPEC_TEMP = b"\x01\x01" + bytes(6) + bytes(8) + CLIENT_CHALLENGE + bytes(4) + SPEC_TARGET_INFO + bytes(4)
SPEC_NTOWFV2 = "0c868a403bfd7a93a3001ef22ef02e3f"  # 4.2.4.1.1
SPEC_NTPROOFSTR = "68cd0ab851e51c96aabc927bebef6a1c"  # 4.2.4.2.2 (first 16 bytes)
SPEC_SESSION_BASE_KEY = "8de40ccadbc14a82f15cb0ad0de95ca3"  # 4.2.4.1.2
SPEC_LMV2 = "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"  # 4.2.4.2.1
SPEC_ENCRYPTED_KEY = "c5dad2544fc9799094ce1ce90bc9d03e"  # 4.2.4.2.3


def test_spec_ntowfv2() -> None:
    assert ntowf_v2(nt_hash("Password"), "User", "Domain").hex() == SPEC_NTOWFV2


def test_spec_proof_session_key_lmv2_and_key_exchange() -> None:
    import hashlib
    import hmac

    key = bytes.fromhex(SPEC_NTOWFV2)
    proof = hmac.new(key, SERVER_CHALLENGE + SPEC_TEMP, hashlib.md5).digest()
    assert proof.hex() == SPEC_NTPROOFSTR
    base = hmac.new(key, proof, hashlib.md5).digest()
    assert base.hex() == SPEC_SESSION_BASE_KEY
    lm = hmac.new(key, SERVER_CHALLENGE + CLIENT_CHALLENGE, hashlib.md5).digest() + CLIENT_CHALLENGE
    assert lm.hex() == SPEC_LMV2
    assert rc4(base, RANDOM_SESSION_KEY).hex() == SPEC_ENCRYPTED_KEY


def test_acceptor_verifies_spec_authenticate() -> None:
    # An AUTHENTICATE carrying exactly the MS-NLMP 4.2.4 responses: the acceptor must accept
    # it and recover the spec's RandomSessionKey through key exchange.
    db = AccountDb([Account.with_password("User", "Password")])
    acc = NtlmAcceptor(accounts=db, netbios_name="Server", domain="Domain", dns_name="", dns_domain="",
                       map_to_guest_bad_user=False, server_challenge=SERVER_CHALLENGE, now_filetime=0)
    acc.challenge(NegotiateMessage(0xE28A8233).encode())  # 4.2.4 challenge flags
    flags = 0xE28A8233
    msg = AuthenticateMessage(flags, bytes.fromhex(SPEC_LMV2), bytes.fromhex(SPEC_NTPROOFSTR) + SPEC_TEMP,
                              "Domain", "User", "COMPUTER", bytes.fromhex(SPEC_ENCRYPTED_KEY), Version())
    result = acc.authenticate(msg.encode())
    assert result.kind is PrincipalKind.USER
    assert (result.user, result.domain, result.workstation) == ("User", "Domain", "COMPUTER")
    assert result.session_key == RANDOM_SESSION_KEY
    assert result.lm_package == "NTLM V2"


# -- golden bytes ---------------------------------------------------------------------------


def test_negotiate_golden() -> None:
    assert initiator().negotiate() == bytes.fromhex(
        "4e544c4d53535000"  # Signature "NTLMSSP\0"
        "01000000"  # MessageType NtLmNegotiate
        "378208e2"  # flags: 56 KEY_EXCH 128 VERSION ESS ALWAYS_SIGN NTLM SEAL SIGN REQUEST_TARGET OEM UNICODE
        "0000000028000000"  # DomainNameFields: empty, offset 40
        "0000000028000000"  # WorkstationFields: empty, offset 40
        "0a007c4f0000000f"  # Version 10.0 build 20348, NTLMSSP_REVISION_W2K3
    )


def test_challenge_golden() -> None:
    token = acceptor().challenge(initiator().negotiate())
    assert token == bytes.fromhex(
        "4e544c4d53535000"  # Signature
        "02000000"  # MessageType NtLmChallenge
        "0600060038000000"  # TargetNameFields: 6 bytes at 56
        "35828ae2"  # flags: mirrored + NTLM TARGET_INFO TARGET_TYPE_SERVER REQUEST_TARGET UNICODE
        "0123456789abcdef"  # ServerChallenge
        "0000000000000000"  # Reserved
        "3e003e003e000000"  # TargetInfoFields: 62 bytes at 62
        "0a007c4f0000000f"  # Version
        "530052005600"  # TargetName "SRV"
        "0200" "0400" "57004700"  # MsvAvNbDomainName "WG"
        "0100" "0600" "530052005600"  # MsvAvNbComputerName "SRV"
        "0400" "0600" "6c0061006e00"  # MsvAvDnsDomainName "lan"
        "0300" "0e00" "7300720076002e006c0061006e00"  # MsvAvDnsComputerName "srv.lan"
        "0700" "0800" "f0e0d0c0b0a0d901"  # MsvAvTimestamp
        "00000000"  # MsvAvEOL
    )
    msg = ChallengeMessage.decode(token)
    assert msg.target_name == "SRV" and msg.server_challenge == SERVER_CHALLENGE
    assert dict(msg.target_info)[AvId.TIMESTAMP] == struct.pack("<Q", NOW)


def test_challenge_mirrors_only_requested_flags() -> None:
    token = acceptor().challenge(NegotiateMessage(int(F.UNICODE | F.NTLM)).encode())
    flags = ChallengeMessage.decode(token).flags
    assert flags & F.UNICODE and flags & F.TARGET_INFO and flags & F.TARGET_TYPE_SERVER
    assert not flags & (F.SIGN | F.SEAL | F.KEY_EXCH | F.VERSION | F.NEGOTIATE_128 | F.LM_KEY)


def test_av_pairs_round_trip_and_errors() -> None:
    pairs = ((AvId.FLAGS, b"\x02\x00\x00\x00"), (AvId.TARGET_NAME, "cifs/x".encode("utf-16-le")))
    assert decode_av_pairs(encode_av_pairs(pairs)) == pairs
    assert decode_av_pairs(b"") == ()
    with pytest.raises(MalformedMessage):
        decode_av_pairs(b"\x01\x00\x10\x00abc")
    with pytest.raises(MalformedMessage):
        decode_av_pairs(b"\x01\x00")


def test_authenticate_round_trip() -> None:
    msg = AuthenticateMessage(int(F.UNICODE | F.VERSION), b"\x00", b"", "dom", "user", "ws", b"", Version())
    decoded = AuthenticateMessage.decode(msg.encode())
    assert decoded.user == "user" and decoded.domain == "dom" and decoded.workstation == "ws"
    assert decoded.lm_response == b"\x00" and decoded.mic == bytes(16)
    assert "lm_response" not in repr(decoded)


# -- acceptor/initiator round trips ------------------------------------------------------


def test_user_with_password() -> None:
    ini = initiator("alice", "Secret1!", domain="WG", workstation="PC1")
    result = exchange(ini, acceptor())
    assert result.kind is PrincipalKind.USER
    assert result.user == "Alice" and result.account == ALICE
    assert (result.domain, result.workstation) == ("WG", "PC1")
    assert result.session_key == ini.session_key == b"K" * 16
    assert result.negotiate_flags & F.KEY_EXCH and result.lm_package == "NTLM V2"
    assert "K" * 16 not in repr(result)


def test_user_with_nt_hash_and_no_key_exchange() -> None:
    ini = initiator("bob", nt_hash=nt_hash("hunter2"))
    acc = acceptor()
    negotiate = NegotiateMessage(int(F.UNICODE | F.NTLM | F.EXTENDED_SESSIONSECURITY | F.SIGN)).encode()
    ini._negotiate = negotiate  # a client that never offered KEY_EXCH
    result = acc.authenticate(ini.authenticate(acc.challenge(negotiate)))
    assert not result.negotiate_flags & F.KEY_EXCH
    assert result.session_key == ini.session_key != b"K" * 16


def test_domain_fallbacks() -> None:
    for domain in ("", "wg", "SomethingElse"):  # client domain as-is, upper-cased, then empty
        ini = initiator("alice", "Secret1!", domain=domain)
        assert exchange(ini, acceptor()).kind is PrincipalKind.USER


def test_wrong_password() -> None:
    with pytest.raises(AuthFailure) as info:
        exchange(initiator("alice", "wrong", domain="WG", workstation="PC9"), acceptor(guest=True))
    err = info.value
    assert err.status is NtStatus.STATUS_LOGON_FAILURE
    assert err.sub_status is NtStatus.STATUS_WRONG_PASSWORD
    assert (err.user, err.domain, err.workstation) == ("alice", "WG", "PC9")
    assert isinstance(err, SmbError) and err.status == 0xC000006D
    for text in (str(err), repr(err)):
        assert "wrong" not in text.replace("wrong password", "") and nt_hash("wrong").hex() not in text


def test_unknown_user_fails_without_guest_mapping() -> None:
    with pytest.raises(AuthFailure) as info:
        exchange(initiator("mallory", "x"), acceptor(guest=False))
    assert info.value.status is NtStatus.STATUS_LOGON_FAILURE
    assert info.value.sub_status is NtStatus.STATUS_NO_SUCH_USER
    assert info.value.user == "mallory"


def test_unknown_user_maps_to_guest() -> None:
    ini = initiator("mallory", "x", workstation="EVIL")
    acc = acceptor(guest=True)
    token = ini.authenticate(acc.challenge(ini.negotiate()))
    result = acc.authenticate(token)
    assert result.kind is PrincipalKind.GUEST and result.user == "Guest" and result.account is None
    assert result.workstation == "EVIL" and result.lm_package == "NTLM V2"
    # Guest key: derived exactly like the anonymous one, from KeyExchangeKey = Z(16).
    encrypted = AuthenticateMessage.decode(token).encrypted_session_key
    assert result.session_key == rc4(bytes(16), encrypted)


def test_anonymous_with_key_exchange() -> None:
    ini = initiator()
    assert ini.anonymous
    acc = acceptor()
    token = ini.authenticate(acc.challenge(ini.negotiate()))
    msg = AuthenticateMessage.decode(token)
    assert msg.nt_response == b"" and msg.lm_response == b"\x00" and msg.flags & F.ANONYMOUS
    assert msg.encrypted_session_key == rc4(bytes(16), b"K" * 16)
    result = acc.authenticate(token)
    assert result.kind is PrincipalKind.ANONYMOUS and result.user == "" and result.lm_package == "-"
    assert result.session_key == ini.session_key == b"K" * 16


@pytest.mark.parametrize("lm", [b"", b"\x00"])
def test_anonymous_lm_forms_without_key_exchange(lm: bytes) -> None:
    acc = acceptor()
    acc.challenge(NegotiateMessage(int(F.UNICODE | F.NTLM | F.SIGN)).encode())
    token = AuthenticateMessage(int(F.UNICODE | F.NTLM | F.ANONYMOUS), lm, b"", "", "", "WS", b"").encode()
    result = acc.authenticate(token)
    assert result.kind is PrincipalKind.ANONYMOUS and result.session_key == bytes(16)


def test_anonymous_key_exchange_without_encrypted_key_is_zero() -> None:
    acc = acceptor()
    acc.challenge(initiator().negotiate())
    flags = int(F.UNICODE | F.NTLM | F.SIGN | F.KEY_EXCH | F.ANONYMOUS)
    result = acc.authenticate(AuthenticateMessage(flags, b"\x00", b"", "", "", "", b"").encode())
    assert result.session_key == bytes(16)


def test_anonymous_needs_empty_responses() -> None:
    # Empty user but a non-empty LM response is not anonymous: it is an (unknown) user "".
    acc = acceptor()
    acc.challenge(initiator().negotiate())
    with pytest.raises(AuthFailure) as info:
        acc.authenticate(AuthenticateMessage(int(F.UNICODE), b"\x01" * 24, b"", "", "", "", b"").encode())
    assert info.value.sub_status is NtStatus.STATUS_NO_SUCH_USER


def test_ntlmv1_refused_for_users() -> None:
    acc = acceptor()
    acc.challenge(initiator().negotiate())
    flags = int(F.UNICODE | F.NTLM)
    token = AuthenticateMessage(flags, bytes(24), bytes(24), "WG", "alice", "", b"").encode()
    with pytest.raises(AuthFailure) as info:
        acc.authenticate(token)
    assert info.value.status is NtStatus.STATUS_LOGON_FAILURE


def test_tampered_mic_fails() -> None:
    ini = initiator("alice", "Secret1!")
    acc = acceptor()
    token = bytearray(ini.authenticate(acc.challenge(ini.negotiate())))
    token[72] ^= 0x01
    with pytest.raises(AuthFailure) as info:
        acc.authenticate(bytes(token))
    assert info.value.reason == "bad MIC" and info.value.status is NtStatus.STATUS_LOGON_FAILURE


def test_mic_covers_negotiate_flags() -> None:
    # Flipping a flag bit invalidates the MIC (the proof itself does not cover the flags).
    ini = initiator("alice", "Secret1!")
    acc = acceptor()
    token = bytearray(ini.authenticate(acc.challenge(ini.negotiate())))
    token[60] &= ~0x20  # drop SEAL in the AUTHENTICATE flags
    with pytest.raises(AuthFailure):
        acc.authenticate(bytes(token))


def test_acceptor_sequence_errors() -> None:
    acc = acceptor()
    with pytest.raises(AuthFailure):
        acc.authenticate(b"NTLMSSP\x00\x03\x00\x00\x00" + bytes(80))
    ini = initiator()
    token = ini.authenticate(acc.challenge(ini.negotiate()))
    acc.authenticate(token)
    with pytest.raises(AuthFailure):
        acc.authenticate(token)
    with pytest.raises(AuthFailure):
        acc.challenge(ini.negotiate())


def test_bad_key_length_is_malformed() -> None:
    acc = acceptor()
    acc.challenge(initiator().negotiate())
    flags = int(F.UNICODE | F.SIGN | F.KEY_EXCH)
    with pytest.raises(MalformedMessage):
        acc.authenticate(AuthenticateMessage(flags, b"\x00", b"", "", "", "", b"\x01" * 5).encode())


def test_constructor_validation() -> None:
    with pytest.raises(ValueError):
        acceptor(challenge=b"short")
    with pytest.raises(ValueError):
        NtlmInitiator(user="u", client_challenge=b"x", exported_session_key=bytes(16))
    with pytest.raises(RuntimeError):
        initiator().session_key  # noqa: B018


def test_ntlm_mac_matches_pyspnego() -> None:
    security = pytest.importorskip("spnego._ntlm_raw.security")
    crypto = pytest.importorskip("spnego._ntlm_raw.crypto")
    flags = int(F.KEY_EXCH | F.SIGN | F.EXTENDED_SESSIONSECURITY | F.NEGOTIATE_128)
    key = bytes(range(16))
    for usage, from_client in (("initiate", True), ("accept", False)):
        handle = crypto.rc4init(crypto.sealkey(flags, key, usage))
        expected = security.sign(flags, handle, crypto.signkey(flags, key, usage), 0, b"message")
        assert ntlm_mac(key, flags, 0, b"message", from_client=from_client) == expected


# -- interop ---------------------------------------------------------------------------------


def test_pyspnego_ntlm_client() -> None:
    spnego = pytest.importorskip("spnego")
    client = spnego.client("alice", "Secret1!", hostname="srv", protocol="ntlm")
    acc = acceptor()
    result = acc.authenticate(client.step(acc.challenge(client.step())))
    assert result.kind is PrincipalKind.USER and result.session_key == client.session_key


def test_pyspnego_wrong_password() -> None:
    spnego = pytest.importorskip("spnego")
    client = spnego.client("alice", "nope", hostname="srv", protocol="ntlm")
    acc = acceptor()
    with pytest.raises(AuthFailure):
        acc.authenticate(client.step(acc.challenge(client.step())))


@pytest.mark.parametrize(("user", "password", "kind"),
                         [("", "", PrincipalKind.ANONYMOUS), ("alice", "Secret1!", PrincipalKind.USER)])
def test_impacket_client(user: str, password: str, kind: PrincipalKind) -> None:
    ntlm = pytest.importorskip("impacket.ntlm")
    type1 = ntlm.getNTLMSSPType1("IMPKT", "", signingRequired=True)
    acc = acceptor()
    type2 = acc.challenge(type1.getData())
    type3, exported = ntlm.getNTLMSSPType3(type1, type2, user, password, "")
    result = acc.authenticate(type3.getData())
    assert result.kind is kind and result.session_key == exported


# -- robustness -----------------------------------------------------------------------------


def _valid_tokens() -> tuple[bytes, bytes, bytes]:
    ini = initiator("alice", "Secret1!")
    acc = acceptor()
    negotiate = ini.negotiate()
    challenge = acc.challenge(negotiate)
    return negotiate, challenge, ini.authenticate(challenge)


def _feed_acceptor(negotiate: bytes, auth: bytes | None) -> None:
    acc = acceptor(guest=True)
    try:
        acc.challenge(negotiate)
        if auth is not None:
            acc.authenticate(auth)
    except (MalformedMessage, AuthFailure):
        pass


def _feed_initiator(challenge: bytes) -> None:
    ini = initiator("alice", "Secret1!", now_filetime=NOW)
    ini.negotiate()
    try:
        ini.authenticate(challenge)
    except MalformedMessage:
        pass


def test_truncation_at_every_offset() -> None:
    negotiate, challenge, auth = _valid_tokens()
    for n in range(len(negotiate) + 1):
        _feed_acceptor(negotiate[:n], None)
    for n in range(len(auth) + 1):
        _feed_acceptor(negotiate, auth[:n])
    for n in range(len(challenge) + 1):
        _feed_initiator(challenge[:n])


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    negotiate, _, _ = _valid_tokens()
    _feed_acceptor(data, None)
    _feed_acceptor(negotiate, data)
    _feed_acceptor(negotiate, b"NTLMSSP\x00\x03\x00\x00\x00" + data)
    _feed_initiator(data)
    _feed_initiator(b"NTLMSSP\x00\x02\x00\x00\x00" + data)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6))
def test_mutated_tokens(edits: list[tuple[int, int]]) -> None:
    negotiate, challenge, auth = _valid_tokens()
    mutated = [bytearray(negotiate), bytearray(challenge), bytearray(auth)]
    for pos, value in edits:
        for buf in mutated:
            buf[pos % len(buf)] = value
    _feed_acceptor(bytes(mutated[0]), auth)
    _feed_acceptor(negotiate, bytes(mutated[2]))
    _feed_initiator(bytes(mutated[1]))
