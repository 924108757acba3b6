"""MD4 (RFC 1320 A.5 test suite) and NTOWFv1 (MS-NLMP 3.3.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nullsmb.auth.md4 import md4, nt_hash

RFC1320_SUITE = [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "043f8582f241db351ce627e153e7f0e4"),
    (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
]


@pytest.mark.parametrize(("message", "digest"), RFC1320_SUITE)
def test_rfc1320_suite(message: bytes, digest: str) -> None:
    assert md4(message).hex() == digest


@pytest.mark.parametrize("length", [55, 56, 57, 63, 64, 65, 119, 120, 128])
def test_padding_boundaries_match_reference(length: int) -> None:
    # Lengths around the 56-mod-64 padding boundary, cross-checked with pyspnego's own MD4.
    ref = pytest.importorskip("spnego._ntlm_raw.md4")
    data = bytes(range(256))[:length]
    assert md4(data) == ref.md4(data)


@pytest.mark.parametrize(
    ("password", "digest"),
    [
        ("password", "8846f7eaee8fb117ad06bdd830b7586c"),
        ("Passw0rd!", "fc525c9683e8fe067095ba2ddc971889"),
        ("Password", "a4f49c406510bdcab6824ee7c30fd852"),  # MS-NLMP 4.2.2.1.2 NTOWFv1
        ("", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    ],
)
def test_nt_hash(password: str, digest: str) -> None:
    assert nt_hash(password).hex() == digest


def test_nt_hash_accepts_lone_surrogates() -> None:
    assert len(nt_hash("a\ud800b")) == 16


def test_md4_accepts_buffers() -> None:
    assert md4(bytearray(b"abc")) == md4(memoryview(b"abc")) == md4(b"abc")


@given(st.binary(max_size=300))
def test_md4_matches_reference(data: bytes) -> None:
    ref = pytest.importorskip("spnego._ntlm_raw.md4")
    assert md4(data) == ref.md4(data)
