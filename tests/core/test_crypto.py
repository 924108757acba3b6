"""Tests for nullsmb.core.crypto.

Known-answer vectors and where they come from:
* [MS-PREAUTH] Microsoft Open Specifications blog, "SMB 3.1.1 Pre-authentication integrity in
  Windows 10" (2015-08-11): the SHA-512 chain over a captured NEGOTIATE / SESSION_SETUP
  exchange and the 3.1.1 SigningKey derived from it.
* [MS-ENC30] Open Specifications blog, "Encryption in SMB 3.0: a protocol perspective"
  (2012-10-05): 3.0 key derivation, AES-128-CCM encryption of a WRITE request and
  decryption of its response.
* [MS-ENC311] Open Specifications blog, "SMB 3.1.1 Encryption in Windows 10" (2015-09-09):
  3.1.1 key derivation and AES-128-GCM encryption / decryption.
  (The three blogs' vectors were transcribed from the copies kept in the public test suites of
  emc-isilon/pike, pike/test/test_smb3_encryption_vector.py, and TalAloni/SMBLibrary,
  SMBLibrary.Tests/SMB2EncryptionTests.cs.)
* [SMBJ] hierynomus/smbj, PacketSignatorySpec.groovy: an SMB 2.1 HMAC-SHA256 signed response
  captured from Windows.
* [SMBLIB] TalAloni/SMBLibrary, SMB2SigningTests.cs: two HMAC-SHA256 signed responses.
* [RFC4493] AES-CMAC test vectors (section 4).
* [NIST-GCM] NIST CAVP gcmEncryptExtIV128, PTlen=0 AADlen=128 Count 0 (GMAC).
No published AES-GMAC *SMB* signature or AES-256 SMB vector was found: those are cross-checked
against independent implementations installed with the test extras (smbprotocol, impacket,
pycryptodomex), and skipped when they are missing.
"""

from __future__ import annotations

import hashlib
import random
from binascii import unhexlify
from types import SimpleNamespace

import pytest

from nullsmb.core import crypto
from nullsmb.core.crypto import (
    AES_128_CCM,
    AES_128_GCM,
    AES_256_CCM,
    AES_256_GCM,
    SIGNING_AES_CMAC,
    SIGNING_AES_GMAC,
    SIGNING_HMAC_SHA256,
    DecryptError,
    PreauthHash,
    SessionKeys,
    compute_signature,
    decrypt_message,
    derive_session_keys,
    encrypt_message,
    kdf,
    nonce_size,
    parse_transform_header,
    verify_signature,
)


def h(s: str) -> bytes:
    return unhexlify("".join(s.split()))


ALL_CIPHERS = [AES_128_CCM, AES_128_GCM, AES_256_CCM, AES_256_GCM]
KEY_SIZE = {AES_128_CCM: 16, AES_128_GCM: 16, AES_256_CCM: 32, AES_256_GCM: 32}


def zero_signature(msg: bytes) -> tuple[bytes, bytes]:
    """(message with the Signature field zeroed, the signature that was there)."""
    return msg[:48] + bytes(16) + msg[64:], msg[48:64]


# --------------------------------------------------------------------------------------------
# [MS-PREAUTH] pre-auth integrity chain and 3.1.1 signing key
# --------------------------------------------------------------------------------------------

PREAUTH_MESSAGES = [
    (
        # NEGOTIATE request
        """FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000
        00000000000000000000000000000000000000000000000024000500000000003F000000ECD86F32
        6276024F9F7752B89BB33F3A70000000020000000202100200030203110300000100260000000000
        010020000100FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF0000
        0200060000000000020002000100""",
        """DD94EFC5321BB618A2E208BA8920D2F422992526947A409B5037DE1E0FE8C7362B8C47122594CDE0
        CE26AA9DFC8BCDBDE0621957672623351A7540F1E54A0426""",
    ),
    (
        # NEGOTIATE response
        """FE534D4240000100000000000000010001000000000000000100000000000000FFFE000000000000
        000000000000000000000000000000000000000000000000410001001103020039CBCAF329714942
        BDCE5D60F09AB3FB2F000000000080000000800000008000D8DAE5ADCBAED00109094AB095AED001
        80004001C00100006082013C06062B0601050502A08201303082012CA01A3018060A2B0601040182
        3702021E060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000
        60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51
        FD370471B235E15A50DAE15BD5489C87000000000000000060000000010000000000000000000000
        5C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000010000004000000098000000
        7C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4DB2EC4AE3786EC3084000000058000000
        3056A05430523027802530233121301F06035504031318546F6B656E205369676E696E6720507562
        6C6963204B65793027802530233121301F06035504031318546F6B656E205369676E696E67205075
        626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4
        83CA5B65385A251117BEB30712E50000020004000000000001000200""",
        """324BFA92A4F3A190E466EBEA08D9C110DC88BFED758D9846ECC6F541CC1D02AE3C94A79F36011E99
        7E13F841B91B50957AD07B19C8E2539C0B23FDAE09D2C513""",
    ),
    (
        # SESSION_SETUP request 1
        """FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000
        00000000000000000000000000000000000000000000000019000001010000000000000058004A00
        0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A
        04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000
        000F""",
        """AC0B0F2B9986257700365E416D142A6EDC96DF03594A19E52A15F6BD0D041CD5D432F8ED42C55E33
        197A50C9EC00F1462B50C592211B1471A04B56088FDFD5F9""",
    ),
    (
        # SESSION_SETUP response 1 (STATUS_MORE_PROCESSING_REQUIRED)
        """FE534D4240000100160000C00100010001000000000000000200000000000000FFFE000000000000
        190000000010000000000000000000000000000000000000090000004800B300A181B03081ADA003
        0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038
        00000015828AE20D1D8BA31179D008000000000000000050005000440000000A0092270000000F53
        005500540033003100310002000C0053005500540033003100310001000C00530055005400330031
        00310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1
        A1F5ADCBAED00100000000""",
        """2729E3440DFDDD839E37193F6E8F20C20CEFB3469E453A70CD980EEC06B8835740A7376008563336
        4C8989895ECE81BF102DEEB14D4B7D48AFA76901A7A38387""",
    ),
    (
        # SESSION_SETUP request 2 (NTLM AUTHENTICATE)
        """FE534D4240000100000000000100800000000000000000000300000000000000FFFE000000000000
        1900000000100000000000000000000000000000000000001900000101000000000000005800CF01
        0000000000000000A18201CB308201C7A0030A0101A28201AA048201A64E544C4D53535000030000
        001800180090000000EE00EE00A80000000C000C00580000001A001A0064000000120012007E0000
        001000100096010000158288E2060380250000000FECAC77A5F385A8BF9C38C706EEEDDCD3530055
        005400330031003100610064006D0069006E006900730074007200610074006F0072004400520049
        0056004500520033003100310000000000000000000000000000000000000000000000000063078E
        B639FE03E20A231C3AE3BF23080101000000000000A1A1F5ADCBAED001BC4AD05F223CC90F000000
        0002000C0053005500540033003100310001000C0053005500540033003100310004000C00530055
        00540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001060004
        00020000000800300030000000000000000000000000300000B61FEFCAA857EA57BF1EDCEBF8974B
        8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A00100000000000000000000000000000000000090016
        0063006900660073002F005300550054003300310031000000000000000000000000003B9BDFF38F
        5EE8F9663F11A0F4C03A78A31204100100000063775A9A5FD97F0600000000""",
        """0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB7928622DDDAD522D97
        51640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01""",
    ),
]
PREAUTH_SESSION_KEY = h("270E1BA896585EEB7AF3472D3B4C75A7")
PREAUTH_SIGNING_KEY = h("73FE7A9A77BEF0BDE49C650D8CCB5F76")


def test_preauth_hash_chain_ms_vectors() -> None:
    ph = PreauthHash()
    assert ph.value == bytes(64)
    for message, expected in PREAUTH_MESSAGES:
        ph.update(memoryview(h(message)))
        assert ph.value == h(expected)


def test_preauth_hash_copy_is_independent() -> None:
    conn = PreauthHash()
    conn.update(h(PREAUTH_MESSAGES[0][0]))
    conn.update(h(PREAUTH_MESSAGES[1][0]))
    session = conn.copy()
    for message, _ in PREAUTH_MESSAGES[2:]:
        session.update(h(message))
    assert session.value == h(PREAUTH_MESSAGES[-1][1])
    assert conn.value == h(PREAUTH_MESSAGES[1][1])  # the connection's hash did not move
    assert PreauthHash(conn.value).value == conn.value


def test_preauth_hash_rejects_bad_initial() -> None:
    with pytest.raises(ValueError):
        PreauthHash(bytes(32))


def test_311_signing_key_ms_vector() -> None:
    keys = derive_session_keys(
        0x0311, PREAUTH_SESSION_KEY, preauth_hash=h(PREAUTH_MESSAGES[-1][1])
    )
    assert keys.signing_key == PREAUTH_SIGNING_KEY
    assert kdf(PREAUTH_SESSION_KEY, b"SMBSigningKey\x00", h(PREAUTH_MESSAGES[-1][1])) == (
        PREAUTH_SIGNING_KEY
    )


# --------------------------------------------------------------------------------------------
# [MS-ENC30] SMB 3.0 keys and AES-128-CCM
# --------------------------------------------------------------------------------------------

ENC30_SESSION_KEY = h("B4546771B515F766A86735532DD6C4F0")
ENC30_SESSION_ID = 0x8E40014000011
ENC30_SERVER_IN = h("261B72350558F2E9DCF613070383EDBF")  # the client's EncryptionKey
ENC30_SERVER_OUT = h("8FE2B57EC34D2DB5B1A9727F526BBDB5")  # the client's DecryptionKey
ENC30_NONCE_FIELD = h("66E69A111892584FB5ED524A744DA3EE")  # Windows 8 left padding non-zero
ENC30_WRITE = h(
    """FE534D4240000100000000000900400008000000000000000400000000000000
    FFFE0000010000001100001400E4080000000000000000000000000000000000
    3100700017000000000000000000000015010000390000020100000039020000
    00000000000000007000000000000000536D623320656E6372797074696F6E20
    74657374696E67"""
)
ENC30_WRITE_TRANSFORMED = h(
    """FD534D4281A286535415445DAE393921E44FA42E66E69A111892584FB5ED524A
    744DA3EE87000000000001001100001400E4080025C8FEE16605A437832D1CD5
    2DA9F4645333482A175FE5384563F45FCDAFAEF38BC62BA4D5C62897996625A4
    4C29BE5658DE2E6117585779E7B59FFD971278D08580D7FA899E410E910EABF5
    AA1DB43050B33B49182637759AC15D84BFCDF5B6B238993C0F4CF4D6012023F6
    C627297075D84B7803912D0A9639634453595EF3E33FFE4E7AC2AB"""
)
ENC30_RESPONSE_TRANSFORMED = h(
    """FD534D42A6015530A18F6D9AFFE22AFAE8E66484860000000000000011000014
    00E4080050000000000001001100001400E40800DBF46435C5F14169293CE079
    E344479BF670227E49873F458672C3098DAC467DD5809F369D67409166515787
    1483E01F7BECD02064EAC3E235F913668BBC2F097980D4B378F1993EFF6E60D1
    77309E5B"""
)
ENC30_RESPONSE = h(
    """FE534D4240000100000000000900210009000000000000000400000000000000
    FFFE0000010000001100001400E4080000000000000000000000000000000000
    11000000170000000000000000000000"""
)


def test_30_key_derivation_ms_vector() -> None:
    for dialect in (0x0300, 0x0302):
        keys = derive_session_keys(dialect, ENC30_SESSION_KEY, preauth_hash=None)
        assert keys.server_in_key == ENC30_SERVER_IN
        assert keys.server_out_key == ENC30_SERVER_OUT
        # The labels, checked on their own against the KDF.
        assert keys.signing_key == kdf(ENC30_SESSION_KEY, b"SMB2AESCMAC\x00", b"SmbSign\x00")
        assert keys.application_key == kdf(ENC30_SESSION_KEY, b"SMB2APP\x00", b"SmbRpc\x00")
    cipher_given = derive_session_keys(
        0x0300, ENC30_SESSION_KEY, preauth_hash=None, cipher=AES_128_CCM
    )
    assert cipher_given == derive_session_keys(0x0300, ENC30_SESSION_KEY, preauth_hash=None)


def test_30_encrypt_ms_vector() -> None:
    # The client encrypted this WRITE with its EncryptionKey: our server_in_key.
    parts = [ENC30_WRITE[:64], memoryview(ENC30_WRITE)[64:100], ENC30_WRITE[100:]]
    out = encrypt_message(AES_128_CCM, ENC30_SERVER_IN, ENC30_SESSION_ID, parts, ENC30_NONCE_FIELD)
    assert out == ENC30_WRITE_TRANSFORMED
    assert parse_transform_header(out) == (ENC30_SESSION_ID, len(ENC30_WRITE))
    assert decrypt_message(AES_128_CCM, ENC30_SERVER_IN, out) == ENC30_WRITE


def test_30_decrypt_ms_vector() -> None:
    assert parse_transform_header(ENC30_RESPONSE_TRANSFORMED) == (ENC30_SESSION_ID, 0x50)
    plain = decrypt_message(AES_128_CCM, ENC30_SERVER_OUT, bytearray(ENC30_RESPONSE_TRANSFORMED))
    assert plain == ENC30_RESPONSE
    # ... and re-encrypting with the same (non-zero padded) nonce field gives the same bytes.
    again = encrypt_message(
        AES_128_CCM, ENC30_SERVER_OUT, ENC30_SESSION_ID, [plain], ENC30_RESPONSE_TRANSFORMED[20:36]
    )
    assert again == ENC30_RESPONSE_TRANSFORMED


# --------------------------------------------------------------------------------------------
# [MS-ENC311] SMB 3.1.1 keys and AES-128-GCM
# --------------------------------------------------------------------------------------------

ENC311_SESSION_KEY = h("419FDDF34C1E001909D362AE7FB6AF79")
ENC311_PREAUTH = h(
    """B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDBA7DB256BA2EA30E9
    77F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770"""
)
ENC311_SESSION_ID = 0x100000000025
ENC311_SERVER_IN = h("A2F5E80E5D59103034F32E52F698E5EC")
ENC311_SERVER_OUT = h("748C50868C90F302962A5C35F5F9A8BF")
ENC311_NONCE = h("C7D6822D269CAF48904C664C")
ENC311_WRITE = h(
    """FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000
    25000000001000000000000000000000000000000000000031007000170000000000000000000000
    0600000004000000010000000400000000000000000000007000000000000000536D623320656E63
    72797074696F6E2074657374696E67"""
)
ENC311_WRITE_TRANSFORMED = h(
    """FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C0000000087000000
    0000010025000000001000006ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02
    D14EF247F8BDE38ACF6256F8B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB4
    4576545567C24D4C014D47C9FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E9
    1AF013F00D17E3ABC2FC3D36C8C1B6B93973253852DBD442E46EE8"""
)
ENC311_RESPONSE_TRANSFORMED = h(
    """FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000
    00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8
    F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B
    82E03C9E18A050FF0EA1C967"""
)
ENC311_RESPONSE = h(
    """FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000
    25000000001000000000000000000000000000000000000011000000170000000000000000000000"""
)


def test_311_key_derivation_ms_vector() -> None:
    for cipher in (0, AES_128_GCM, AES_128_CCM):
        keys = derive_session_keys(
            0x0311, ENC311_SESSION_KEY, preauth_hash=ENC311_PREAUTH, cipher=cipher
        )
        assert keys.server_in_key == ENC311_SERVER_IN
        assert keys.server_out_key == ENC311_SERVER_OUT
        assert keys.signing_key == kdf(ENC311_SESSION_KEY, b"SMBSigningKey\x00", ENC311_PREAUTH)
        assert keys.application_key == kdf(ENC311_SESSION_KEY, b"SMBAppKey\x00", ENC311_PREAUTH)


def test_311_encrypt_ms_vector() -> None:
    parts = [ENC311_WRITE[:64], memoryview(ENC311_WRITE)[64:]]
    out = encrypt_message(AES_128_GCM, ENC311_SERVER_IN, ENC311_SESSION_ID, parts, ENC311_NONCE)
    assert out == ENC311_WRITE_TRANSFORMED
    assert decrypt_message(AES_128_GCM, ENC311_SERVER_IN, out) == ENC311_WRITE


def test_311_decrypt_ms_vector() -> None:
    assert parse_transform_header(ENC311_RESPONSE_TRANSFORMED) == (ENC311_SESSION_ID, 0x50)
    view = memoryview(ENC311_RESPONSE_TRANSFORMED)
    assert decrypt_message(AES_128_GCM, ENC311_SERVER_OUT, view) == ENC311_RESPONSE
    again = encrypt_message(
        AES_128_GCM,
        ENC311_SERVER_OUT,
        ENC311_SESSION_ID,
        [ENC311_RESPONSE],
        ENC311_RESPONSE_TRANSFORMED[20:32],
    )
    assert again == ENC311_RESPONSE_TRANSFORMED


# --------------------------------------------------------------------------------------------
# Other key derivation rules
# --------------------------------------------------------------------------------------------


def test_2x_keys_are_the_session_key() -> None:
    for dialect in (0x0202, 0x0210):
        keys = derive_session_keys(dialect, ENC30_SESSION_KEY, preauth_hash=None)
        assert keys == SessionKeys(ENC30_SESSION_KEY, b"", b"", ENC30_SESSION_KEY)
        long = derive_session_keys(dialect, ENC30_SESSION_KEY + b"x" * 16, preauth_hash=None)
        assert long.signing_key == ENC30_SESSION_KEY  # first 16 bytes
        short = derive_session_keys(dialect, b"\x01\x02", preauth_hash=None)
        assert short.signing_key == b"\x01\x02" + bytes(14)  # zero-padded


def test_30_uses_first_16_bytes_of_a_long_key() -> None:
    full = ENC30_SESSION_KEY + bytes(range(16))
    assert derive_session_keys(0x0300, full, preauth_hash=None) == derive_session_keys(
        0x0300, ENC30_SESSION_KEY, preauth_hash=None
    )


def test_311_aes256_keys() -> None:
    full = bytes(range(32))  # e.g. a Kerberos AES-256 session key
    for cipher in (AES_256_CCM, AES_256_GCM):
        keys = derive_session_keys(0x0311, full, preauth_hash=ENC311_PREAUTH, cipher=cipher)
        assert len(keys.server_in_key) == len(keys.server_out_key) == 32
        assert keys.server_in_key == kdf(full, b"SMBC2SCipherKey\x00", ENC311_PREAUTH, 256)
        assert keys.server_out_key == kdf(full, b"SMBS2CCipherKey\x00", ENC311_PREAUTH, 256)
        # signing / application keys still come from the first 16 bytes, with L = 128
        assert keys.signing_key == kdf(full[:16], b"SMBSigningKey\x00", ENC311_PREAUTH)
        assert keys.application_key == kdf(full[:16], b"SMBAppKey\x00", ENC311_PREAUTH)
    # NTLM: a 16-byte key is used as it is, L = 256
    ntlm = derive_session_keys(
        0x0311, ENC311_SESSION_KEY, preauth_hash=ENC311_PREAUTH, cipher=AES_256_GCM
    )
    assert ntlm.server_in_key == kdf(
        ENC311_SESSION_KEY, b"SMBC2SCipherKey\x00", ENC311_PREAUTH, 256
    )
    # L is part of the KDF input: the 256-bit key does not start with the 128-bit one
    assert ntlm.server_in_key[:16] != ENC311_SERVER_IN


def test_derive_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        derive_session_keys(0x0311, ENC311_SESSION_KEY, preauth_hash=None)
    with pytest.raises(ValueError):
        derive_session_keys(0x0311, ENC311_SESSION_KEY, preauth_hash=bytes(32))
    with pytest.raises(ValueError):
        derive_session_keys(0x0311, ENC311_SESSION_KEY, preauth_hash=ENC311_PREAUTH, cipher=9)
    with pytest.raises(ValueError):
        derive_session_keys(0x0300, ENC30_SESSION_KEY, preauth_hash=None, cipher=AES_128_GCM)
    with pytest.raises(ValueError):
        derive_session_keys(0x02FF, ENC30_SESSION_KEY, preauth_hash=None)


def test_kdf_long_output_and_errors() -> None:
    out = kdf(b"k" * 16, b"label\x00", b"context", 512)
    assert len(out) == 64
    # L is part of the PRF input, so a shorter key is not a prefix of a longer one
    assert kdf(b"k" * 16, b"label\x00", b"context", 256) != out[:32]
    for bad in (0, 7, -8):
        with pytest.raises(ValueError):
            kdf(b"k", b"l", b"c", bad)


def test_kdf_matches_cryptography_kbkdf() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.kbkdf import CounterLocation, KBKDFHMAC, Mode

    rng = random.Random(1)
    for bits in (128, 256, 384, 512):
        key = rng.randbytes(rng.choice((16, 32)))
        label, context = rng.randbytes(13), rng.randbytes(64)
        ref = KBKDFHMAC(
            algorithm=hashes.SHA256(),
            mode=Mode.CounterMode,
            length=bits // 8,
            rlen=4,
            llen=4,
            location=CounterLocation.BeforeFixed,
            label=label,
            context=context,
            fixed=None,
        ).derive(key)
        assert kdf(key, label, context, bits) == ref


def test_kdf_matches_impacket() -> None:
    icrypto = pytest.importorskip("impacket.crypto")
    rng = random.Random(2)
    for bits in (128, 256):
        key, context = rng.randbytes(16), rng.randbytes(64)
        for label in (b"SMBSigningKey\x00", b"SMBC2SCipherKey\x00", b"SMB2AESCCM\x00"):
            assert kdf(key, label, context, bits) == icrypto.KDF_CounterMode(
                key, label, context, bits
            )


def test_derive_matches_smbprotocol() -> None:
    session_mod = pytest.importorskip("smbprotocol.session")
    kdf_ref = session_mod.Session._smb3kdf  # does not touch self
    full = bytes(range(100, 132))
    sk = full[:16]
    for cipher, ref_key, length in (
        (AES_128_GCM, sk, 16),
        (AES_128_CCM, sk, 16),
        (AES_256_GCM, full, 32),
        (AES_256_CCM, full, 32),
    ):
        keys = derive_session_keys(0x0311, full, preauth_hash=ENC311_PREAUTH, cipher=cipher)
        assert keys.signing_key == kdf_ref(None, sk, b"SMBSigningKey\x00", ENC311_PREAUTH)
        assert keys.application_key == kdf_ref(None, sk, b"SMBAppKey\x00", ENC311_PREAUTH)
        assert keys.server_in_key == kdf_ref(
            None, ref_key, b"SMBC2SCipherKey\x00", ENC311_PREAUTH, length=length
        )
        assert keys.server_out_key == kdf_ref(
            None, ref_key, b"SMBS2CCipherKey\x00", ENC311_PREAUTH, length=length
        )


def test_session_keys_repr_hides_keys() -> None:
    keys = derive_session_keys(0x0300, ENC30_SESSION_KEY, preauth_hash=None)
    assert ENC30_SERVER_IN.hex() not in repr(keys).lower()


# --------------------------------------------------------------------------------------------
# Signing: known answers
# --------------------------------------------------------------------------------------------

# [SMBJ] SMB 2.1 QUERY_DIRECTORY response, STATUS_NO_MORE_FILES, signed by Windows.
SMBJ_KEY = h("75c5cb91419e3a45ce9ef869dfd3e2a8")
SMBJ_MSG = h(
    """fe534d42 4000 1000 06000080 0e00 2000 09000000 00000000 1500000000000000 00000000
    01000000 2500000000240000 46efdd50d6cdaa25bac7c4b5d49a0e08 0900000000000000 05"""
)
# [SMBLIB] two IOCTL responses (STATUS_FILE_CLOSED), signed with HMAC-SHA256.
SMBLIB_VECTORS = [
    (
        h("D38354CC374339F0524F789146789921"),
        h(
            """fe534d4240000100280100c00b00070009000000000000000400000000000000
            fffe0000010000000100000000040000fbd284340324c62fbebb65dd1051f3ae
            0900000000000000ff"""
        ),
    ),
    (
        h("04E707571F8E0353B77A94C3653B87B5"),
        h(
            """fe534d4240000100280100c00b00070009000000000000000400000000000000
            fffe0000010000000500000000040000a164ffe53d6811981f386772e387e06f
            0900000000000000ff"""
        ),
    ),
]


def test_smbj_vector_is_well_formed() -> None:
    assert len(SMBJ_MSG) == 73
    assert SMBJ_MSG[:4] == b"\xfeSMB"
    assert SMBJ_MSG[48:64] == h("46efdd50d6cdaa25bac7c4b5d49a0e08")


@pytest.mark.parametrize("key,msg", [(SMBJ_KEY, SMBJ_MSG), *SMBLIB_VECTORS])
def test_hmac_sha256_known_answers(key: bytes, msg: bytes) -> None:
    zeroed, sig = zero_signature(msg)
    assert compute_signature(SIGNING_HMAC_SHA256, key, [zeroed]) == sig
    assert verify_signature(
        SIGNING_HMAC_SHA256,
        key,
        [zeroed[:64], memoryview(zeroed)[64:]],
        expected=sig,
        message_id=0,
        is_response=True,
        is_cancel=False,
    )
    # the same key through the 2.1 derivation
    keys = derive_session_keys(0x0210, key, preauth_hash=None)
    assert compute_signature(SIGNING_HMAC_SHA256, keys.signing_key, [zeroed]) == sig


RFC4493_KEY = h("2b7e151628aed2a6abf7158809cf4f3c")
RFC4493_MSG = h(
    """6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
    30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710"""
)
RFC4493_VECTORS = [
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
]


@pytest.mark.parametrize("length,tag", RFC4493_VECTORS)
def test_aes_cmac_rfc4493(length: int, tag: str) -> None:
    msg = RFC4493_MSG[:length]
    assert compute_signature(SIGNING_AES_CMAC, RFC4493_KEY, [msg]) == h(tag)
    for cut in range(length + 1):
        parts = [msg[:cut], memoryview(msg)[cut:]]
        assert compute_signature(SIGNING_AES_CMAC, RFC4493_KEY, parts) == h(tag)


def test_gmac_primitive_nist_vector() -> None:
    # [NIST-GCM] an AAD-only GCM tag, fed in pieces the way compute_signature feeds it. The
    # IV's last word is not a legal SMB nonce word, so the primitive is driven directly.
    key = h("77be63708971c4e240d1cb79e8d77feb")
    iv = h("e0e00f19fed7ba0136a797f3")
    aad = h("7a43ec1d9c0a5a78a0b16533a6213cab")
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    for i in range(0, 16, 5):
        enc.authenticate_additional_data(aad[i : i + 5])
    enc.finalize()
    assert enc.tag == h("209fcc8d3675ed938e9c7166709dd946")


# --------------------------------------------------------------------------------------------
# Signing: GMAC nonce, parts, verification
# --------------------------------------------------------------------------------------------


def test_gmac_nonce_layout() -> None:
    mid = 0x0123456789ABCDEF
    assert crypto.gmac_nonce(mid, is_response=False) == mid.to_bytes(8, "little") + bytes(4)
    assert crypto.gmac_nonce(mid, is_response=True) == mid.to_bytes(8, "little") + b"\x01\0\0\0"
    assert crypto.gmac_nonce(mid, is_response=False, is_cancel=True) == (
        mid.to_bytes(8, "little") + b"\x02\0\0\0"
    )
    assert crypto.gmac_nonce(mid, is_response=True, is_cancel=True)[8:] == b"\x03\0\0\0"
    with pytest.raises(ValueError):
        crypto.gmac_nonce(-1, is_response=True)
    with pytest.raises(ValueError):
        crypto.gmac_nonce(1 << 64, is_response=True)


def test_gmac_is_gcm_tag_over_message_with_smb_nonce() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = bytes(range(16))
    msg = bytes(range(256)) * 3
    cases = ((1, True, False), (7, False, False), (7, False, True), (2**64 - 2, True, False))
    for mid, resp, cancel in cases:
        word = (1 if resp else 0) | (2 if cancel else 0)
        nonce = mid.to_bytes(8, "little") + word.to_bytes(4, "little")
        ref = AESGCM(key).encrypt(nonce, b"", msg)
        got = compute_signature(
            SIGNING_AES_GMAC, key, [msg], message_id=mid, is_response=resp, is_cancel=cancel
        )
        assert got == ref


def test_gmac_depends_on_message_id_role_and_cancel() -> None:
    key = bytes(range(16))
    msg = [b"\xfeSMB" + bytes(60), b"body"]
    sigs = {
        compute_signature(SIGNING_AES_GMAC, key, msg, message_id=m, is_response=r, is_cancel=c)
        for m in (1, 2)
        for r in (False, True)
        for c in (False, True)
    }
    assert len(sigs) == 8
    # HMAC and CMAC ignore those arguments
    for alg in (SIGNING_HMAC_SHA256, SIGNING_AES_CMAC):
        assert compute_signature(alg, key, msg, message_id=5, is_response=False) == (
            compute_signature(alg, key, msg)
        )


@pytest.mark.parametrize("alg", [SIGNING_HMAC_SHA256, SIGNING_AES_CMAC, SIGNING_AES_GMAC])
def test_signature_parts_split_anywhere(alg: int) -> None:
    rng = random.Random(alg)
    key = rng.randbytes(16)
    msg = rng.randbytes(64) + rng.randbytes(1000)
    whole = compute_signature(alg, key, [msg], message_id=42, is_response=True)
    assert len(whole) == 16
    buf = memoryview(bytearray(msg))
    for cut in list(range(0, 70)) + [500, 1063, 1064]:
        assert compute_signature(alg, key, [buf[:cut], buf[cut:]], message_id=42) == whole
    for _ in range(50):
        cuts = sorted(rng.sample(range(len(msg) + 1), rng.randint(1, 12)))
        bounds = [0, *cuts, len(msg)]
        parts = [buf[a:b] for a, b in zip(bounds, bounds[1:])]
        assert compute_signature(alg, key, parts, message_id=42) == whole
    # empty parts change nothing
    assert compute_signature(alg, key, [b"", msg, b"", b""], message_id=42) == whole


@pytest.mark.parametrize("alg", [SIGNING_HMAC_SHA256, SIGNING_AES_CMAC, SIGNING_AES_GMAC])
def test_verify_signature(alg: int) -> None:
    key = bytes(range(16, 32))
    msg = bytearray(b"\xfeSMB" + bytes(60) + b"payload" * 100)
    sig = compute_signature(alg, key, [msg], message_id=9, is_response=False)
    kw = {"message_id": 9, "is_response": False, "is_cancel": False}
    assert verify_signature(alg, key, [msg], expected=sig, **kw)
    assert not verify_signature(alg, key, [msg], expected=sig[:15], **kw)
    assert not verify_signature(alg, key, [msg], expected=bytes(16), **kw)
    for pos in (0, 48, 63, 64, len(msg) - 1):
        bad = bytearray(msg)
        bad[pos] ^= 0x01
        assert not verify_signature(alg, key, [bad], expected=sig, **kw)
    bad_key = bytearray(key)
    bad_key[0] ^= 0x80
    assert not verify_signature(alg, bytes(bad_key), [msg], expected=sig, **kw)


def test_signing_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        compute_signature(7, bytes(16), [b"x"])
    with pytest.raises(ValueError):
        compute_signature(SIGNING_AES_CMAC, bytes(32), [b"x"])
    with pytest.raises(ValueError):
        compute_signature(SIGNING_AES_GMAC, bytes(15), [b"x"])


def test_signing_algorithm_for() -> None:
    f = crypto.signing_algorithm_for
    assert f(0x0202) == f(0x0210) == SIGNING_HMAC_SHA256
    assert f(0x0300) == f(0x0302) == SIGNING_AES_CMAC
    assert f(0x0311) == SIGNING_AES_CMAC
    assert f(0x0311, SIGNING_AES_GMAC) == SIGNING_AES_GMAC
    with pytest.raises(ValueError):
        f(0x0311, 3)
    with pytest.raises(ValueError):
        f(0x0201)


# --------------------------------------------------------------------------------------------
# Signing: cross-checks against independent implementations
# --------------------------------------------------------------------------------------------


def _sample_messages(seed: int) -> list[tuple[bytes, int, bool, bool]]:
    rng = random.Random(seed)
    out = []
    for _ in range(20):
        mid = rng.randrange(1, 2**63)
        is_response = rng.random() < 0.5
        is_cancel = not is_response and rng.random() < 0.3
        header = bytearray(rng.randbytes(64))
        header[0:4] = b"\xfeSMB"
        header[12:14] = (0x000C if is_cancel else 0x0008).to_bytes(2, "little")
        header[16:20] = (1 if is_response else 0).to_bytes(4, "little")
        header[24:32] = mid.to_bytes(8, "little")
        header[48:64] = bytes(16)
        body = rng.randbytes(rng.randrange(0, 3000))
        out.append((bytes(header) + body, mid, is_response, is_cancel))
    return out


@pytest.mark.parametrize("alg", [SIGNING_HMAC_SHA256, SIGNING_AES_CMAC, SIGNING_AES_GMAC])
def test_signatures_match_smbprotocol(alg: int) -> None:
    conn_mod = pytest.importorskip("smbprotocol.connection")
    from smbprotocol import Dialects
    from smbprotocol.header import Commands

    fake_conn = SimpleNamespace(
        dialect=Dialects.SMB_3_1_1 if alg != SIGNING_HMAC_SHA256 else Dialects.SMB_2_1_0,
        signing_algorithm_id=alg if alg != SIGNING_HMAC_SHA256 else None,
    )
    key = bytes(range(3, 19))
    for msg, mid, is_response, is_cancel in _sample_messages(alg):
        command = Commands.SMB2_CANCEL if is_cancel else Commands.SMB2_READ
        ref = conn_mod.Connection._generate_signature(
            fake_conn, msg, key, mid, is_response, command
        )
        got = compute_signature(
            alg,
            key,
            [msg[:64], msg[64:]],
            message_id=mid,
            is_response=is_response,
            is_cancel=is_cancel,
        )
        assert got == ref


def test_cmac_matches_impacket_and_pycryptodome() -> None:
    icrypto = pytest.importorskip("impacket.crypto")
    cd_cmac = pytest.importorskip("Cryptodome.Hash.CMAC")
    from Cryptodome.Cipher import AES

    key = bytes(range(40, 56))
    for msg, *_ in _sample_messages(99):
        got = compute_signature(SIGNING_AES_CMAC, key, [msg[:64], memoryview(msg)[64:]])
        assert got == icrypto.AES_CMAC(key, msg, len(msg))
        assert got == cd_cmac.new(key, msg=msg, ciphermod=AES).digest()


def test_gmac_matches_pycryptodome() -> None:
    pytest.importorskip("Cryptodome")
    from Cryptodome.Cipher import AES

    key = bytes(range(60, 76))
    for msg, mid, is_response, is_cancel in _sample_messages(7):
        word = (1 if is_response else 0) | (2 if is_cancel else 0)
        ref = AES.new(
            key, AES.MODE_GCM, nonce=mid.to_bytes(8, "little") + word.to_bytes(4, "little")
        )
        ref.update(msg)
        got = compute_signature(
            SIGNING_AES_GMAC,
            key,
            [msg],
            message_id=mid,
            is_response=is_response,
            is_cancel=is_cancel,
        )
        assert got == ref.digest()


# --------------------------------------------------------------------------------------------
# Encryption: round trips, tampering, truncation
# --------------------------------------------------------------------------------------------


def _encrypted(cipher: int, size: int = 200, seed: int = 0) -> tuple[bytes, bytes, bytes]:
    rng = random.Random(cipher * 1000 + seed)
    key = rng.randbytes(KEY_SIZE[cipher])
    plain = b"\xfeSMB" + rng.randbytes(size - 4)
    nonce = rng.randbytes(nonce_size(cipher))
    return key, plain, encrypt_message(cipher, key, 0x1122334455667788, [plain], nonce)


def test_nonce_and_key_sizes() -> None:
    assert [nonce_size(c) for c in ALL_CIPHERS] == [11, 12, 11, 12]
    assert [crypto.cipher_key_size(c) for c in ALL_CIPHERS] == [16, 16, 32, 32]
    with pytest.raises(ValueError):
        nonce_size(0)
    with pytest.raises(ValueError):
        crypto.cipher_key_size(5)


@pytest.mark.parametrize("cipher", ALL_CIPHERS)
def test_round_trip(cipher: int) -> None:
    rng = random.Random(cipher)
    key = rng.randbytes(KEY_SIZE[cipher])
    for size in (1, 15, 16, 17, 64, 65, 4096, 70001):
        plain = rng.randbytes(size)
        nonce = rng.randbytes(nonce_size(cipher))
        cut = rng.randrange(size + 1)
        parts = [plain[:cut], memoryview(bytearray(plain))[cut:]]
        out = encrypt_message(cipher, key, 0xFEDCBA9876543210, parts, nonce)
        assert len(out) == 52 + size
        assert out[:4] == crypto.TRANSFORM_PROTOCOL_ID
        assert out[20:36] == nonce.ljust(16, b"\0")
        assert int.from_bytes(out[36:40], "little") == size
        assert out[40:42] == b"\0\0"
        assert out[42:44] == b"\x01\x00"
        assert int.from_bytes(out[44:52], "little") == 0xFEDCBA9876543210
        assert parse_transform_header(out) == (0xFEDCBA9876543210, size)
        assert decrypt_message(cipher, key, out) == plain
        assert decrypt_message(cipher, key, memoryview(bytearray(out))) == plain
        # same plaintext through one part gives the same bytes
        assert encrypt_message(cipher, key, 0xFEDCBA9876543210, [plain], nonce) == out


@pytest.mark.parametrize("cipher", ALL_CIPHERS)
def test_encryption_matches_pycryptodome(cipher: int) -> None:
    pytest.importorskip("Cryptodome")
    from Cryptodome.Cipher import AES

    key, plain, out = _encrypted(cipher, 333, seed=5)
    mode = AES.MODE_CCM if cipher in (AES_128_CCM, AES_256_CCM) else AES.MODE_GCM
    n = nonce_size(cipher)
    ref = AES.new(key, mode, nonce=out[20 : 20 + n], mac_len=16)
    ref.update(out[20:52])
    ct, tag = ref.encrypt_and_digest(plain)
    assert out[52:] == ct
    assert out[4:20] == tag


@pytest.mark.parametrize("cipher", ALL_CIPHERS)
def test_every_flipped_bit_is_rejected(cipher: int) -> None:
    key, plain, out = _encrypted(cipher, 120)
    for pos in range(len(out)):
        for bit in (0x01, 0x80) if pos < 60 else (1 << (pos % 8),):
            bad = bytearray(out)
            bad[pos] ^= bit
            # Reserved (40..42) is not checked by the parser but is authenticated all the same.
            with pytest.raises(DecryptError):
                decrypt_message(cipher, key, bytes(bad))


@pytest.mark.parametrize("cipher", ALL_CIPHERS)
def test_truncation_and_extension_are_rejected(cipher: int) -> None:
    key, plain, out = _encrypted(cipher, 100)
    for n in range(len(out)):
        with pytest.raises(DecryptError):
            decrypt_message(cipher, key, out[:n])
        with pytest.raises(DecryptError):
            parse_transform_header(out[:n])
    with pytest.raises(DecryptError):
        decrypt_message(cipher, key, out + b"\0")
    # OriginalMessageSize fixed up to match a truncation: now the tag fails
    cut = bytearray(out[:-1])
    cut[36:40] = (len(cut) - 52).to_bytes(4, "little")
    with pytest.raises(DecryptError):
        decrypt_message(cipher, key, bytes(cut))


@pytest.mark.parametrize("cipher", ALL_CIPHERS)
def test_wrong_key_cipher_or_header_is_rejected(cipher: int) -> None:
    key, plain, out = _encrypted(cipher)
    other_key = bytes(len(key))
    with pytest.raises(DecryptError):
        decrypt_message(cipher, other_key, out)
    with pytest.raises(DecryptError):
        decrypt_message(cipher, key[:-1], out)  # bad key length
    with pytest.raises(DecryptError):
        decrypt_message(0, key, out)  # unknown cipher
    same_size = {
        AES_128_CCM: AES_128_GCM,
        AES_128_GCM: AES_128_CCM,
        AES_256_CCM: AES_256_GCM,
        AES_256_GCM: AES_256_CCM,
    }
    with pytest.raises(DecryptError):
        decrypt_message(same_size[cipher], key, out)
    smb2 = b"\xfeSMB" + out[4:]
    with pytest.raises(DecryptError):
        parse_transform_header(smb2)
    flags = bytearray(out)
    flags[42:44] = b"\x02\x00"
    with pytest.raises(DecryptError):
        parse_transform_header(bytes(flags))
    with pytest.raises(DecryptError):
        decrypt_message(cipher, key, "not bytes")  # type: ignore[arg-type]
    with pytest.raises(DecryptError):
        parse_transform_header("not bytes" * 10)  # type: ignore[arg-type]


def test_decrypt_garbage_only_raises_decrypt_error() -> None:
    rng = random.Random(1234)
    for _ in range(300):
        cipher = rng.choice(ALL_CIPHERS)
        key = rng.randbytes(KEY_SIZE[cipher])
        body = rng.randbytes(rng.randrange(0, 120))
        head = rng.randbytes(48 if rng.random() < 0.5 else rng.randrange(0, 60))
        data = bytearray(crypto.TRANSFORM_PROTOCOL_ID + head + body)
        if len(data) >= 52 and rng.random() < 0.7:
            data[36:40] = (len(data) - 52).to_bytes(4, "little")
            data[42:44] = b"\x01\x00"
        with pytest.raises(DecryptError):
            decrypt_message(cipher, key, bytes(data))
    assert issubclass(DecryptError, ValueError)


def test_encrypt_rejects_bad_arguments() -> None:
    key = bytes(16)
    with pytest.raises(ValueError):
        encrypt_message(AES_128_GCM, key, 1, [b"x" * 64], bytes(11))  # GCM wants 12
    with pytest.raises(ValueError):
        encrypt_message(AES_128_CCM, key, 1, [b"x" * 64], bytes(12))  # CCM wants 11
    with pytest.raises(ValueError):
        encrypt_message(AES_256_GCM, key, 1, [b"x" * 64], bytes(12))  # 256 wants 32 bytes
    with pytest.raises(ValueError):
        encrypt_message(9, key, 1, [b"x" * 64], bytes(12))
    with pytest.raises(ValueError):
        encrypt_message(AES_128_GCM, key, 1 << 64, [b"x" * 64], bytes(12))
    with pytest.raises(ValueError):
        encrypt_message(AES_128_GCM, key, 1, [b"", b""], bytes(12))


def test_nonce_padding_is_authenticated() -> None:
    # The 4 (GCM) / 5 (CCM) padding bytes of the Nonce field are not nonce, but are AAD.
    for cipher in ALL_CIPHERS:
        key, plain, out = _encrypted(cipher)
        bad = bytearray(out)
        bad[35] ^= 0xFF
        with pytest.raises(DecryptError):
            decrypt_message(cipher, key, bytes(bad))


def test_transform_header_struct() -> None:
    assert crypto.TRANSFORM_HEADER_SIZE == 52
    assert crypto.SIGNATURE_OFFSET == 48 and crypto.SIGNATURE_SIZE == 16
    assert hashlib.sha512(b"").digest_size == crypto.PREAUTH_HASH_SIZE
