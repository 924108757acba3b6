"""SPNEGO (RFC 4178, MS-SPNG) around NTLMSSP."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nullsmb.auth.accounts import Account, AccountDb
from nullsmb.auth.ntlmssp import (
    AuthFailure,
    NtlmAcceptor,
    NtlmInitiator,
    PrincipalKind,
    ntlm_mac,
)
from nullsmb.auth.spnego import (
    OID_KRB5,
    OID_MS_KRB5,
    OID_NTLMSSP,
    NegState,
    NegTokenInit,
    NegTokenResp,
    SpnegoAcceptor,
    SpnegoInitiator,
    decode_token,
    neg_token_init_hint,
)
from nullsmb.status import MalformedMessage, NtStatus

DB = AccountDb([Account.with_password("alice", "Secret1!", rid=1001)])
NEGOEX = bytes.fromhex("2b06010401823702021e")  # 1.3.6.1.4.1.311.2.2.30


def acceptor(*, guest: bool = False) -> SpnegoAcceptor:
    return SpnegoAcceptor(NtlmAcceptor(
        accounts=DB, netbios_name="SRV", domain="WG", dns_name="srv.lan", dns_domain="lan",
        map_to_guest_bad_user=guest, server_challenge=b"\x11" * 8, now_filetime=0x01D9000000000000))


def ntlm_client(user: str = "", password: str = "") -> NtlmInitiator:
    return NtlmInitiator(user=user, password=password, client_challenge=b"C" * 8,
                         exported_session_key=b"K" * 16)


def run(client: SpnegoInitiator, server: SpnegoAcceptor):  # type: ignore[no-untyped-def]
    out, result = server.step(client.initial())
    assert result is None
    out, result = server.step(client.step(out))
    assert result is not None and server.complete
    assert client.step(out) == b"" and client.complete
    return out, result


# -- golden bytes ---------------------------------------------------------------------------


def test_neg_token_init_hint_golden() -> None:
    assert neg_token_init_hint() == bytes.fromhex(
        "6048"  # [APPLICATION 0] InitialContextToken, 72 bytes
        "06062b0601050502"  # thisMech 1.3.6.1.5.5.2 (SPNEGO)
        "a03e" "303c"  # [0] NegTokenInit2 SEQUENCE
        "a00e" "300c" "060a2b06010401823702020a"  # [0] mechTypes { NTLMSSP }
        "a32a" "3028" "a026" "1b24"  # [3] negHints SEQUENCE { [0] hintName GeneralString(36) }
    ) + b"not_defined_in_RFC4178@please_ignore"


def test_neg_token_init_hint_structure() -> None:
    token = neg_token_init_hint()
    assert token[:2] == b"\x60" + bytes((len(token) - 2,))
    assert token.endswith(b"not_defined_in_RFC4178@please_ignore")
    msg = decode_token(token)
    assert isinstance(msg, NegTokenInit) and msg.mech_types == (OID_NTLMSSP,)
    assert msg.mech_types_der == bytes.fromhex("300c060a2b06010401823702020a")


def test_neg_token_resp_golden_round_trip() -> None:
    token = NegTokenResp(NegState.ACCEPT_INCOMPLETE, OID_NTLMSSP, b"tok", b"mic!").encode()
    assert token == bytes.fromhex(
        "a124" "3022"  # [1] NegTokenResp SEQUENCE
        "a003" "0a0101"  # [0] negState accept-incomplete
        "a10c" "060a2b06010401823702020a"  # [1] supportedMech NTLMSSP
        "a205" "0403" "746f6b"  # [2] responseToken "tok"
        "a306" "0404" "6d696321"  # [3] mechListMIC "mic!"
    )
    assert decode_token(token) == NegTokenResp(NegState.ACCEPT_INCOMPLETE, OID_NTLMSSP, b"tok", b"mic!")


def test_long_form_lengths() -> None:
    big = b"x" * 300
    msg = decode_token(NegTokenResp(response_token=big).encode())
    assert isinstance(msg, NegTokenResp) and msg.response_token == big


# -- flows --------------------------------------------------------------------------------------


def test_user_flow_with_mech_list_mic() -> None:
    client = SpnegoInitiator(ntlm_client("alice", "Secret1!"))
    out, result = run(client, acceptor())
    assert result.kind is PrincipalKind.USER and result.user == "alice"
    assert result.session_key == client.session_key == b"K" * 16
    final = decode_token(out)
    assert isinstance(final, NegTokenResp) and final.neg_state is NegState.ACCEPT_COMPLETED
    assert final.mech_list_mic is not None and len(final.mech_list_mic) == 16


@pytest.mark.parametrize("guest", [False, True])
def test_anonymous_flow_has_no_mic(guest: bool) -> None:
    client = SpnegoInitiator(ntlm_client())
    out, result = run(client, acceptor(guest=guest))
    assert result.kind is PrincipalKind.ANONYMOUS and result.session_key == client.session_key
    final = decode_token(out)
    assert isinstance(final, NegTokenResp) and final.mech_list_mic is None


def test_guest_flow_has_no_mic() -> None:
    client = SpnegoInitiator(ntlm_client("mallory", "x"))
    server = acceptor(guest=True)
    out, _ = server.step(client.initial())
    out, result = server.step(client.step(out))
    assert result is not None and result.kind is PrincipalKind.GUEST
    final = decode_token(out)
    assert isinstance(final, NegTokenResp) and final.mech_list_mic is None
    assert final.neg_state is NegState.ACCEPT_COMPLETED


def test_wrong_password_and_unknown_user() -> None:
    for user, password, sub in (("alice", "bad", NtStatus.STATUS_WRONG_PASSWORD),
                                ("nobody", "x", NtStatus.STATUS_NO_SUCH_USER)):
        client = SpnegoInitiator(ntlm_client(user, password))
        server = acceptor()
        out, _ = server.step(client.initial())
        with pytest.raises(AuthFailure) as info:
            server.step(client.step(out))
        assert info.value.status is NtStatus.STATUS_LOGON_FAILURE and info.value.sub_status is sub


def test_tampered_mech_list_mic() -> None:
    client = SpnegoInitiator(ntlm_client("alice", "Secret1!"))
    server = acceptor()
    out, _ = server.step(client.initial())
    msg = decode_token(client.step(out))
    assert isinstance(msg, NegTokenResp) and msg.mech_list_mic is not None
    bad = NegTokenResp(msg.neg_state, None, msg.response_token, bytes(16)).encode()
    with pytest.raises(AuthFailure) as info:
        server.step(bad)
    assert info.value.reason == "bad mechListMIC"


def test_kerberos_first_then_ntlm() -> None:
    ntlm = ntlm_client("alice", "Secret1!")
    init = NegTokenInit.from_mechs((OID_MS_KRB5, OID_KRB5, NEGOEX, OID_NTLMSSP), b"\x60\x03krb")
    server = acceptor()
    out, result = server.step(init.encode())
    assert result is None
    assert decode_token(out) == NegTokenResp(NegState.ACCEPT_INCOMPLETE, OID_NTLMSSP, None, None)
    out, result = server.step(NegTokenResp(response_token=ntlm.negotiate()).encode())
    reply = decode_token(out)
    assert result is None and isinstance(reply, NegTokenResp) and reply.response_token
    auth = ntlm.authenticate(reply.response_token)
    mic = ntlm_mac(ntlm.session_key, ntlm.negotiate_flags, 0, init.mech_types_der, from_client=True)
    out, result = server.step(NegTokenResp(response_token=auth, mech_list_mic=mic).encode())
    assert result is not None and result.kind is PrincipalKind.USER
    final = decode_token(out)
    assert isinstance(final, NegTokenResp)
    assert final.mech_list_mic == ntlm_mac(ntlm.session_key, ntlm.negotiate_flags, 0,
                                           init.mech_types_der, from_client=False)


def test_raw_ntlmssp_flow() -> None:
    ntlm = ntlm_client("alice", "Secret1!")
    server = acceptor()
    challenge, result = server.step(ntlm.negotiate())
    assert result is None and challenge.startswith(b"NTLMSSP\x00\x02")
    out, result = server.step(ntlm.authenticate(challenge))
    assert out == b"" and result is not None and result.session_key == ntlm.session_key
    raw = acceptor()
    raw.step(ntlm_client().negotiate())
    with pytest.raises(MalformedMessage):
        raw.step(NegTokenResp(response_token=b"x").encode())  # raw mode stays raw
    with pytest.raises(AuthFailure):
        server.step(b"NTLMSSP\x00")  # exchange already complete


def test_bare_neg_token_init_is_accepted() -> None:
    ntlm = ntlm_client()
    wrapped = NegTokenInit.from_mechs((OID_NTLMSSP,), ntlm.negotiate()).encode()
    bare = wrapped[wrapped.index(b"\xa0"):]  # strip the GSS header
    out, result = acceptor().step(bare)
    assert result is None and isinstance(decode_token(out), NegTokenResp)


def test_empty_token_returns_hint() -> None:
    assert acceptor().step(b"") == (neg_token_init_hint(), None)


def test_no_ntlm_mech_offered() -> None:
    token = NegTokenInit.from_mechs((OID_MS_KRB5, OID_KRB5), b"krb").encode()
    with pytest.raises(AuthFailure) as info:
        acceptor().step(token)
    assert info.value.status is NtStatus.STATUS_LOGON_FAILURE
    assert info.value.sub_status is NtStatus.STATUS_NOT_SUPPORTED


def test_out_of_order_tokens() -> None:
    with pytest.raises(AuthFailure):
        acceptor().step(NegTokenResp(response_token=b"NTLMSSP\x00").encode())
    server = acceptor()
    server.step(SpnegoInitiator(ntlm_client()).initial())
    with pytest.raises(AuthFailure):
        server.step(NegTokenResp(NegState.ACCEPT_INCOMPLETE).encode())  # no responseToken


@pytest.mark.parametrize("token", [
    b"\x60\x80\x06\x06+\x06\x01\x05\x05\x02",  # indefinite length
    b"\x60\x85\x01\x00\x00\x00\x00",  # 5 length octets
    b"\x60\x84\x7f\xff\xff\xff",  # length beyond the buffer
    b"\xa1\x80" * 5000,  # nesting bomb
    b"\x30\x00",  # neither NegTokenInit nor NegTokenResp
    b"\x60\x0a\x06\x06+\x06\x01\x05\x05\x03\xa0\x00",  # wrong mechanism OID
    b"\x9f\x1f\x00",  # high tag number
    b"\xa1\x05\x30\x03\xa0\x01\x0a",  # [0] holding a truncated ENUMERATED
    b"\xa1\x07\x30\x05\xa0\x03\x0a\x01\x07",  # negState out of range
])
def test_malformed_der(token: bytes) -> None:
    with pytest.raises(MalformedMessage):
        acceptor().step(token)


# -- interop with pyspnego ------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["negotiate", "ntlm"])
def test_pyspnego_client(protocol: str) -> None:
    spnego = pytest.importorskip("spnego")
    client = spnego.client("alice", "Secret1!", hostname="srv", service="cifs", protocol=protocol)
    server = acceptor()
    out, result = server.step(client.step())
    while result is None:
        out, result = server.step(client.step(out))
    if out:
        client.step(out)
    assert client.complete and result.kind is PrincipalKind.USER
    assert client.session_key == result.session_key


def test_pyspnego_client_wrong_password() -> None:
    spnego = pytest.importorskip("spnego")
    client = spnego.client("alice", "wrong", hostname="srv", service="cifs", protocol="negotiate")
    server = acceptor()
    out, _ = server.step(client.step())
    with pytest.raises(AuthFailure):
        server.step(client.step(out))


@pytest.mark.parametrize(("user", "password", "kind"),
                         [("", "", PrincipalKind.ANONYMOUS), ("alice", "Secret1!", PrincipalKind.USER)])
def test_impacket_client(user: str, password: str, kind: PrincipalKind) -> None:
    # The token shapes impacket's SMB2 login sends (impacket never parses the final reply).
    ispnego = pytest.importorskip("impacket.spnego")
    ntlm = pytest.importorskip("impacket.ntlm")
    init = ispnego.SPNEGO_NegTokenInit()
    init["MechTypes"] = [ispnego.TypesMech["NTLMSSP - Microsoft NTLM Security Support Provider"]]
    type1 = ntlm.getNTLMSSPType1("", "", True)
    init["MechToken"] = type1.getData()
    server = acceptor()
    out, _ = server.step(init.getData())
    type3, exported = ntlm.getNTLMSSPType3(type1, ispnego.SPNEGO_NegTokenResp(out)["ResponseToken"],
                                           user, password, "")
    resp = ispnego.SPNEGO_NegTokenResp()
    resp["ResponseToken"] = type3.getData()
    _, result = server.step(resp.getData())
    assert result is not None and result.kind is kind and result.session_key == exported


def test_pyspnego_client_sends_mech_list_mic_we_verify() -> None:
    spnego = pytest.importorskip("spnego")
    client = spnego.client("alice", "Secret1!", hostname="srv", service="cifs", protocol="negotiate")
    server = acceptor()
    out, _ = server.step(client.step())
    msg = decode_token(client.step(out))
    assert isinstance(msg, NegTokenResp) and msg.mech_list_mic is not None
    tampered = NegTokenResp(msg.neg_state, msg.supported_mech, msg.response_token, bytes(16))
    with pytest.raises(AuthFailure):
        server.step(tampered.encode())


def test_pyspnego_server(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    spnego = pytest.importorskip("spnego")
    users = tmp_path / "ntlm_users"
    users.write_text("WG:alice:Secret1!\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    server = spnego.server(protocol="negotiate")
    client = SpnegoInitiator(NtlmInitiator(user="alice", password="Secret1!", domain="WG",
                                           client_challenge=b"c" * 8, exported_session_key=b"k" * 16))
    out = server.step(client.initial())
    out = server.step(client.step(out))
    assert client.step(out) == b"" and client.complete and server.complete
    assert server.session_key == client.session_key == b"k" * 16


def test_client_rejects_bad_server_mic() -> None:
    client = SpnegoInitiator(ntlm_client("alice", "Secret1!"))
    server = acceptor()
    out, _ = server.step(client.initial())
    out, _ = server.step(client.step(out))
    with pytest.raises(AuthFailure):
        client.step(NegTokenResp(NegState.ACCEPT_COMPLETED, None, None, bytes(16)).encode())


# -- robustness -----------------------------------------------------------------------------


def _tokens() -> list[bytes]:
    client = SpnegoInitiator(ntlm_client("alice", "Secret1!"))
    server = acceptor()
    first = client.initial()
    out, _ = server.step(first)
    return [first, client.step(out)]


def _feed(tokens: list[bytes]) -> None:
    server = acceptor(guest=True)
    try:
        for token in tokens:
            server.step(token)
    except (MalformedMessage, AuthFailure):
        pass


def test_truncation_at_every_offset() -> None:
    first, second = _tokens()
    for n in range(len(first) + 1):
        _feed([first[:n]])
    for n in range(len(second) + 1):
        _feed([first, second[:n]])


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    first, _ = _tokens()
    _feed([data])
    _feed([first, data])
    _feed([b"\x60" + bytes((min(len(data), 127),)) + data])
    _feed([first, b"\xa1" + bytes((min(len(data), 127),)) + data])


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_tokens(edits: list[tuple[int, int]]) -> None:
    first, second = _tokens()
    a, b = bytearray(first), bytearray(second)
    for pos, value in edits:
        a[pos % len(a)] = value
        b[pos % len(b)] = value
    _feed([bytes(a)])
    _feed([first, bytes(b)])
