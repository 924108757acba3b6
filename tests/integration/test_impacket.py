"""impacket's SMBConnection against a real nullsmb server.

Without ``preferredDialect`` SMBConnection starts with an SMB1 multi-protocol NEGOTIATE that
lists "SMB 2.002" and "SMB 2.???"; the server answers with the wildcard dialect 0x02FF and the
client goes on with an SMB2 NEGOTIATE (MS-SMB2 3.3.5.3). impacket signs even anonymous sessions
at 3.1.1, which must work. impacket sends paths as given, so ``..`` reaches the server here
(smbclient normalises it away on the client side).
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from typing import Iterator

import pytest

pytest.importorskip("impacket")
from impacket import nt_errors  # noqa: E402
from impacket.ntlm import compute_nthash  # noqa: E402
from impacket.smb3structs import (SMB2_DIALECT_002, SMB2_DIALECT_21, SMB2_DIALECT_30,  # noqa: E402
                                  SMB2_DIALECT_311)
from impacket.smbconnection import SessionError, SMBConnection  # noqa: E402

from .conftest import KNOWN_DATA, KNOWN_NAME, KNOWN_SHA256, PASSWORD, ServerInfo  # noqa: E402

# impacket cannot be asked for 3.0.2 ("Unknown dialect"): the smbclient tests cover it
DIALECTS = {"2.0.2": SMB2_DIALECT_002, "2.1": SMB2_DIALECT_21, "3.0": SMB2_DIALECT_30,
            "3.1.1": SMB2_DIALECT_311}


def connect(server: ServerInfo, **kw: object) -> SMBConnection:
    return SMBConnection(server.host, server.host, sess_port=server.port, timeout=20, **kw)


@pytest.fixture
def anonymous(user_server: ServerInfo) -> Iterator[SMBConnection]:
    conn = connect(user_server)
    conn.login("", "")
    yield conn
    conn.close()


@pytest.fixture
def alice(user_server: ServerInfo) -> Iterator[SMBConnection]:
    conn = connect(user_server)
    conn.login("alice", PASSWORD)
    yield conn
    conn.close()


def names(conn: SMBConnection, pattern: str = "*", share: str = "public") -> set[str]:
    return {f.get_longname() for f in conn.listPath(share, pattern)}


def get(conn: SMBConnection, path: str, share: str = "public") -> bytes:
    buf = io.BytesIO()
    conn.getFile(share, path, buf.write)
    return buf.getvalue()


def status(info: pytest.ExceptionInfo[SessionError]) -> int:
    return int(info.value.getErrorCode())


# -- anonymous ------------------------------------------------------------------------------------


def test_smb1_negotiate_leads_to_smb2(user_server: ServerInfo) -> None:
    conn = connect(user_server)  # no preferredDialect: SMB1 multi-protocol negotiate first
    try:
        assert conn.getDialect() == SMB2_DIALECT_311
        conn.login("", "")
        assert KNOWN_NAME in names(conn)
    finally:
        conn.close()


def test_anonymous_list_and_get(anonymous: SMBConnection) -> None:
    assert {".", "..", KNOWN_NAME} <= names(anonymous)
    assert hashlib.sha256(get(anonymous, KNOWN_NAME)).hexdigest() == KNOWN_SHA256


def test_anonymous_put_denied(user_server: ServerInfo, anonymous: SMBConnection) -> None:
    name = f"imp-anon-{uuid.uuid4().hex[:8]}"
    with pytest.raises(SessionError) as info:
        anonymous.putFile("public", name, io.BytesIO(b"nope").read)
    assert status(info) == nt_errors.STATUS_ACCESS_DENIED
    assert not (user_server.share_dir / name).exists()


def test_anonymous_delete_and_mkdir_denied(user_server: ServerInfo,
                                           anonymous: SMBConnection) -> None:
    with pytest.raises(SessionError) as info:
        anonymous.deleteFile("public", KNOWN_NAME)
    assert status(info) == nt_errors.STATUS_ACCESS_DENIED
    assert (user_server.share_dir / KNOWN_NAME).exists()
    with pytest.raises(SessionError) as info:
        anonymous.createDirectory("public", "imp-anon-dir")
    assert status(info) == nt_errors.STATUS_ACCESS_DENIED


@pytest.mark.parametrize("dialect", list(DIALECTS), ids=list(DIALECTS))
def test_anonymous_dialects(user_server: ServerInfo, dialect: str) -> None:
    conn = connect(user_server, preferredDialect=DIALECTS[dialect])
    try:
        assert conn.getDialect() == DIALECTS[dialect]
        conn.login("", "")
        assert KNOWN_NAME in names(conn)
        assert get(conn, KNOWN_NAME) == KNOWN_DATA
    finally:
        conn.close()


def test_anonymous_signed_at_311(user_server: ServerInfo) -> None:
    """impacket signs the anonymous session at 3.1.1: the server must verify and sign back."""
    conn = connect(user_server, preferredDialect=SMB2_DIALECT_311)
    try:
        conn.login("", "")
        assert conn.getSMBServer()._Session["SigningActivated"]
        assert get(conn, KNOWN_NAME) == KNOWN_DATA
    finally:
        conn.close()


def test_unknown_share(anonymous: SMBConnection) -> None:
    with pytest.raises(SessionError) as info:
        anonymous.connectTree("no-such-share")
    assert status(info) == nt_errors.STATUS_BAD_NETWORK_NAME


@pytest.mark.parametrize("path", [
    "..\\..\\..\\etc\\passwd",
    "\\..\\..\\..\\etc\\passwd",
    "../../../etc/passwd",
    "/etc/passwd",
    "\\\\?\\C:\\etc\\passwd",
    "..",
    "sub\\..\\..\\etc\\passwd",
    "known.bin:secret:$DATA",
])
def test_path_escape_anonymous(user_server: ServerInfo, anonymous: SMBConnection,
                               path: str) -> None:
    with pytest.raises(SessionError):
        got = get(anonymous, path)
        if path == "..":  # a directory: reading it fails anyway
            pytest.fail(f"read {len(got)} bytes from '..'")


@pytest.mark.parametrize("pattern", ["..\\*", "..\\..\\*", "\\..\\*"])
def test_list_escape(user_server: ServerInfo, anonymous: SMBConnection, pattern: str) -> None:
    try:
        listed = names(anonymous, pattern)
    except SessionError:
        return
    assert not listed & {"etc", "passwd", "hostname", "tmp", "usr"}, listed


# -- alice ------------------------------------------------------------------------------------------


def test_user_file_operations(user_server: ServerInfo, alice: SMBConnection) -> None:
    share = user_server.share_dir
    tag = uuid.uuid4().hex[:8]
    data = os.urandom(512 * 1024 + 777)  # impacket's putFile is slow (client side)
    alice.putFile("public", f"imp-{tag}.bin", io.BytesIO(data).read)
    assert (share / f"imp-{tag}.bin").read_bytes() == data
    assert hashlib.sha256(get(alice, f"imp-{tag}.bin")).digest() == hashlib.sha256(data).digest()

    alice.createDirectory("public", f"imp-dir-{tag}")
    assert (share / f"imp-dir-{tag}").is_dir()
    alice.rename("public", f"imp-{tag}.bin", f"imp-dir-{tag}\\moved.bin")
    assert not (share / f"imp-{tag}.bin").exists()
    assert (share / f"imp-dir-{tag}" / "moved.bin").read_bytes() == data
    assert names(alice, f"imp-dir-{tag}\\*") == {".", "..", "moved.bin"}

    with pytest.raises(SessionError) as info:  # not empty
        alice.deleteDirectory("public", f"imp-dir-{tag}")
    assert status(info) == nt_errors.STATUS_DIRECTORY_NOT_EMPTY
    alice.deleteFile("public", f"imp-dir-{tag}\\moved.bin")
    alice.deleteDirectory("public", f"imp-dir-{tag}")
    assert not (share / f"imp-dir-{tag}").exists()


def test_user_nthash_login(user_server: ServerInfo) -> None:
    conn = connect(user_server)
    try:
        conn.login("alice", "", nthash=compute_nthash(PASSWORD).hex())
        name = f"imp-hash-{uuid.uuid4().hex[:8]}"
        conn.putFile("public", name, io.BytesIO(b"by hash").read)
        assert get(conn, name) == b"by hash"
        conn.deleteFile("public", name)
    finally:
        conn.close()


@pytest.mark.parametrize("dialect", list(DIALECTS), ids=list(DIALECTS))
def test_user_dialects_signed(signing_server: ServerInfo, dialect: str) -> None:
    conn = connect(signing_server, preferredDialect=DIALECTS[dialect])
    try:
        conn.login("alice", PASSWORD)
        assert conn.getSMBServer()._Session["SigningActivated"]
        name = f"imp-{dialect}-{uuid.uuid4().hex[:8]}"
        data = os.urandom(100_000)
        conn.putFile("public", name, io.BytesIO(data).read)
        assert get(conn, name) == data
        conn.deleteFile("public", name)
    finally:
        conn.close()


def _tamper(conn: SMBConnection, mode: str) -> None:
    """From now on send requests unsigned, or signed with a wrong signature."""
    smb = conn.getSMBServer()
    if mode == "unsigned":
        smb._Session["SigningActivated"] = False
    else:
        def bad_signature(packet) -> None:  # type: ignore[no-untyped-def]
            packet["Signature"] = os.urandom(16)
        smb.signSMB = bad_signature


@pytest.mark.parametrize("mode", ["unsigned", "bad-signature"])
@pytest.mark.parametrize("dialect", list(DIALECTS), ids=list(DIALECTS))
def test_signing_required_enforced(signing_server: ServerInfo, dialect: str, mode: str) -> None:
    """signing = "required": a user session's unsigned or badly signed request is refused."""
    conn = connect(signing_server, preferredDialect=DIALECTS[dialect])
    try:
        conn.getSMBServer()._Connection["SupportsEncryption"] = False  # impacket would encrypt at 3.x
        conn.login("alice", PASSWORD)
        assert KNOWN_NAME in names(conn)
        _tamper(conn, mode)
        with pytest.raises(SessionError) as info:
            names(conn)
        assert status(info) == nt_errors.STATUS_ACCESS_DENIED
    finally:
        conn.close()


def test_bad_signature_on_anonymous_session_refused(user_server: ServerInfo) -> None:
    """A signed anonymous request is verified like any other (design.md §4)."""
    conn = connect(user_server, preferredDialect=SMB2_DIALECT_311)
    try:
        conn.login("", "")
        assert KNOWN_NAME in names(conn)
        _tamper(conn, "bad-signature")
        with pytest.raises(SessionError) as info:
            names(conn)
        assert status(info) == nt_errors.STATUS_ACCESS_DENIED
    finally:
        conn.close()


@pytest.mark.parametrize("password", ["wrong", ""])
def test_wrong_password(user_server: ServerInfo, password: str) -> None:
    conn = connect(user_server)
    try:
        with pytest.raises(SessionError) as info:
            conn.login("alice", password)
        assert status(info) == nt_errors.STATUS_LOGON_FAILURE
    finally:
        conn.close()


def test_wrong_nthash(user_server: ServerInfo) -> None:
    conn = connect(user_server)
    try:
        with pytest.raises(SessionError) as info:
            conn.login("alice", "", nthash="00" * 16)
        assert status(info) == nt_errors.STATUS_LOGON_FAILURE
    finally:
        conn.close()


def test_unknown_user_becomes_guest(user_server: ServerInfo) -> None:
    conn = connect(user_server, preferredDialect=SMB2_DIALECT_21)
    try:
        conn.login("nobody-here", "whatever")
        assert conn.isGuestSession()
        assert get(conn, KNOWN_NAME) == KNOWN_DATA
        with pytest.raises(SessionError) as info:
            conn.putFile("public", f"imp-guest-{uuid.uuid4().hex[:8]}", io.BytesIO(b"x").read)
        assert status(info) == nt_errors.STATUS_ACCESS_DENIED
    finally:
        conn.close()


def test_signed_guest_at_311_refused(user_server: ServerInfo) -> None:
    """At 3.1.1 impacket signs the guest session too, with a key derived from a password the
    server never knew: the signature cannot verify, so the request is refused (Samba's smbd
    answers the same STATUS_ACCESS_DENIED)."""
    conn = connect(user_server, preferredDialect=SMB2_DIALECT_311)
    try:
        conn.login("nobody-here", "whatever")
        assert conn.isGuestSession()
        assert conn.getSMBServer()._Session["SigningActivated"]
        with pytest.raises(SessionError) as info:
            conn.connectTree("public")
        assert status(info) == nt_errors.STATUS_ACCESS_DENIED
    finally:
        conn.close()


def test_encryption_required_refuses_anonymous(encrypt_server: ServerInfo) -> None:
    conn = connect(encrypt_server)
    try:
        with pytest.raises(SessionError) as info:
            conn.login("", "")
        assert status(info) == nt_errors.STATUS_ACCESS_DENIED
    finally:
        conn.close()
