"""smbprotocol's high-level ``smbclient`` API against a real nullsmb server.

Anonymous logons cannot be tested with smbprotocol: it authenticates through pyspnego, whose NTLM
initiator refuses empty credentials before anything is sent ("No username or password was
specified and the credential cache did not exist") — ``test_anonymous_not_supported_by_smbprotocol``
pins that down so the day it changes we notice. Guest sessions (a bad user mapped to Guest) work
when the client does not require signing, which is how smbprotocol documents them.
"""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from typing import Iterator

import pytest

smbclient = pytest.importorskip("smbclient")  # the smbprotocol package: a test dependency
from smbprotocol.connection import Connection  # noqa: E402
from smbprotocol.exceptions import SMBAuthenticationError, SMBOSError, SMBResponseException  # noqa: E402
from smbprotocol.session import Session  # noqa: E402

from .conftest import KNOWN_DATA, KNOWN_NAME, KNOWN_SHA256, PASSWORD, ServerInfo  # noqa: E402

STATUS_ACCESS_DENIED = 0xC0000022
STATUS_LOGON_FAILURE = 0xC000006D
STATUS_BAD_NETWORK_NAME = 0xC00000CC
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034


@pytest.fixture
def cache() -> Iterator[dict]:  # type: ignore[type-arg]
    """A connection cache of the test's own, closed afterwards."""
    connections: dict = {}  # type: ignore[type-arg]
    yield connections
    smbclient.reset_connection_cache(connection_cache=connections)


def root(server: ServerInfo, share: str = "public") -> str:
    return rf"\\{server.host}\{share}"


@pytest.fixture
def alice(user_server: ServerInfo, cache: dict) -> dict:  # type: ignore[type-arg]
    """Keyword arguments for the smbclient API, on a session registered with signing required."""
    smbclient.register_session(user_server.host, username="alice", password=PASSWORD,
                               port=user_server.port, require_signing=True, connection_cache=cache)
    return {"port": user_server.port, "connection_cache": cache}


def test_listdir_and_stat(user_server: ServerInfo, alice: dict) -> None:  # type: ignore[type-arg]
    assert KNOWN_NAME in smbclient.listdir(root(user_server), **alice)
    st = smbclient.stat(rf"{root(user_server)}\{KNOWN_NAME}", **alice)
    assert st.st_size == len(KNOWN_DATA)
    assert abs(st.st_mtime - (user_server.share_dir / KNOWN_NAME).stat().st_mtime) < 2


def test_read_known_file(user_server: ServerInfo, alice: dict) -> None:  # type: ignore[type-arg]
    with smbclient.open_file(rf"{root(user_server)}\{KNOWN_NAME}", mode="rb", **alice) as f:
        assert hashlib.sha256(f.read()).hexdigest() == KNOWN_SHA256


def test_write_read_checksum(user_server: ServerInfo, alice: dict) -> None:  # type: ignore[type-arg]
    data = os.urandom(3 * 1024 * 1024 + 12345)
    path = rf"{root(user_server)}\sp-{uuid.uuid4().hex[:8]}.bin"
    with smbclient.open_file(path, mode="wb", **alice) as f:
        f.write(data)
    with smbclient.open_file(path, mode="rb", **alice) as f:
        back = f.read()
    assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
    assert (user_server.share_dir / path.rsplit("\\", 1)[1]).read_bytes() == data
    assert smbclient.stat(path, **alice).st_size == len(data)
    smbclient.remove(path, **alice)
    assert not smbclient.path.exists(path, **alice)


def test_append_and_seek(user_server: ServerInfo, alice: dict) -> None:  # type: ignore[type-arg]
    path = rf"{root(user_server)}\sp-app-{uuid.uuid4().hex[:8]}.txt"
    with smbclient.open_file(path, mode="w", **alice) as f:
        f.write("hello ")
    with smbclient.open_file(path, mode="a", **alice) as f:
        f.write("world")
    with smbclient.open_file(path, mode="rb", **alice) as f:
        f.seek(6)
        assert f.read() == b"world"
    smbclient.remove(path, **alice)


def test_makedirs_rmdir(user_server: ServerInfo, alice: dict) -> None:  # type: ignore[type-arg]
    top = f"sp-dir-{uuid.uuid4().hex[:8]}"
    deep = rf"{root(user_server)}\{top}\a\b"
    smbclient.makedirs(deep, **alice)
    assert (user_server.share_dir / top / "a" / "b").is_dir()
    assert smbclient.listdir(rf"{root(user_server)}\{top}", **alice) == ["a"]
    smbclient.rmdir(deep, **alice)
    smbclient.rmdir(rf"{root(user_server)}\{top}\a", **alice)
    smbclient.rmdir(rf"{root(user_server)}\{top}", **alice)
    assert not (user_server.share_dir / top).exists()


def test_rmdir_not_empty(user_server: ServerInfo, alice: dict) -> None:  # type: ignore[type-arg]
    top = f"sp-full-{uuid.uuid4().hex[:8]}"
    (user_server.share_dir / top).mkdir()
    (user_server.share_dir / top / "f").write_text("x")
    with pytest.raises(OSError):
        smbclient.rmdir(rf"{root(user_server)}\{top}", **alice)
    assert (user_server.share_dir / top / "f").exists()


def test_rename_remove(user_server: ServerInfo, alice: dict) -> None:  # type: ignore[type-arg]
    src = rf"{root(user_server)}\sp-src-{uuid.uuid4().hex[:8]}"
    dst = rf"{root(user_server)}\sp-dst-{uuid.uuid4().hex[:8]}"
    with smbclient.open_file(src, mode="wb", **alice) as f:
        f.write(b"payload")
    smbclient.rename(src, dst, **alice)
    assert not smbclient.path.exists(src, **alice)
    with smbclient.open_file(dst, mode="rb", **alice) as f:
        assert f.read() == b"payload"
    smbclient.remove(dst, **alice)
    assert not (user_server.share_dir / dst.rsplit("\\", 1)[1]).exists()


def test_missing_file(user_server: ServerInfo, alice: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(SMBOSError) as info:
        smbclient.stat(rf"{root(user_server)}\no-such-file", **alice)
    assert info.value.errno == errno.ENOENT
    assert info.value.ntstatus == STATUS_OBJECT_NAME_NOT_FOUND


def test_unknown_share(user_server: ServerInfo, alice: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(SMBOSError) as info:
        smbclient.listdir(root(user_server, "no-such-share"), **alice)
    assert info.value.ntstatus == STATUS_BAD_NETWORK_NAME


def test_wrong_password(user_server: ServerInfo, cache: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(SMBResponseException) as info:
        smbclient.register_session(user_server.host, username="alice", password="wrong",
                                   port=user_server.port, connection_cache=cache)
    assert info.value.status == STATUS_LOGON_FAILURE


def test_signing_required_server(signing_server: ServerInfo, cache: dict) -> None:  # type: ignore[type-arg]
    kw = {"port": signing_server.port, "connection_cache": cache}
    smbclient.register_session(signing_server.host, username="alice", password=PASSWORD,
                               require_signing=True, **kw)
    path = rf"{root(signing_server)}\sp-signed-{uuid.uuid4().hex[:8]}"
    data = os.urandom(200_000)
    with smbclient.open_file(path, mode="wb", **kw) as f:
        f.write(data)
    with smbclient.open_file(path, mode="rb", **kw) as f:
        assert f.read() == data
    smbclient.remove(path, **kw)


@pytest.mark.parametrize("server_name", ["user_server", "encrypt_server"])
def test_encrypted_session(request: pytest.FixtureRequest, server_name: str,
                           cache: dict) -> None:  # type: ignore[type-arg]
    server: ServerInfo = request.getfixturevalue(server_name)
    kw = {"port": server.port, "connection_cache": cache}
    smbclient.register_session(server.host, username="alice", password=PASSWORD, encrypt=True, **kw)
    path = rf"{root(server)}\sp-enc-{uuid.uuid4().hex[:8]}"
    data = os.urandom(1024 * 1024)
    with smbclient.open_file(path, mode="wb", **kw) as f:
        f.write(data)
    with smbclient.open_file(path, mode="rb", **kw) as f:
        assert f.read() == data
    assert (server.share_dir / path.rsplit("\\", 1)[1]).read_bytes() == data
    smbclient.remove(path, **kw)


def _low_level_session(server: ServerInfo, **session_kw: object) -> tuple[Connection, Session]:
    conn = Connection(uuid.uuid4(), server.host, server.port, require_signing=False)
    conn.connect(timeout=10)
    session = Session(conn, require_encryption=False, **session_kw)  # type: ignore[arg-type]
    try:
        session.connect()
    except BaseException:
        conn.disconnect()
        raise
    return conn, session


def test_guest_session_reads_but_cannot_write(user_server: ServerInfo) -> None:
    from smbprotocol.open import (CreateDisposition, CreateOptions, FileAttributes,
                                  ImpersonationLevel, Open)
    from smbprotocol.tree import TreeConnect

    conn, session = _low_level_session(user_server, username="nobody-here", password="whatever",
                                       auth_protocol="ntlm")
    try:
        # no signing key the client could trust: no VALIDATE_NEGOTIATE_INFO (smbprotocol's rule)
        tree = TreeConnect(session, root(user_server))
        tree.connect(require_secure_negotiate=False)
        known = Open(tree, KNOWN_NAME)
        known.create(ImpersonationLevel.Impersonation, 0x80000000,  # GENERIC_READ
                     FileAttributes.FILE_ATTRIBUTE_NORMAL, 1, CreateDisposition.FILE_OPEN,
                     CreateOptions.FILE_NON_DIRECTORY_FILE)
        assert known.read(0, len(KNOWN_DATA)) == KNOWN_DATA
        known.close()
        name = f"sp-guest-{uuid.uuid4().hex[:8]}"
        with pytest.raises(SMBResponseException) as info:
            Open(tree, name).create(ImpersonationLevel.Impersonation, 0x40000000,  # GENERIC_WRITE
                                    FileAttributes.FILE_ATTRIBUTE_NORMAL, 0,
                                    CreateDisposition.FILE_CREATE,
                                    CreateOptions.FILE_NON_DIRECTORY_FILE)
        assert info.value.status == STATUS_ACCESS_DENIED
        assert not (user_server.share_dir / name).exists()
    finally:
        conn.disconnect()


@pytest.mark.parametrize("auth_protocol", ["ntlm", "negotiate"])
def test_anonymous_not_supported_by_smbprotocol(user_server: ServerInfo, auth_protocol: str) -> None:
    """A limit of the client (pyspnego), not of the server: null sessions are covered by the
    smbclient and impacket tests."""
    with pytest.raises(SMBAuthenticationError, match="No username or password"):
        _low_level_session(user_server, username="", password="", auth_protocol=auth_protocol)


@pytest.mark.parametrize("dialect", [0x0202, 0x0210, 0x0300, 0x0302, 0x0311],
                         ids=["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"])
def test_signed_user_each_dialect(signing_server: ServerInfo, dialect: int) -> None:
    """Signing required on both sides; at 3.0/3.0.2 the tree connect also runs
    FSCTL_VALIDATE_NEGOTIATE_INFO (smbprotocol's secure negotiate), which must verify."""
    from smbprotocol.open import (CreateDisposition, CreateOptions, FileAttributes,
                                  ImpersonationLevel, Open)
    from smbprotocol.tree import TreeConnect

    conn = Connection(uuid.uuid4(), signing_server.host, signing_server.port, require_signing=True)
    conn.connect(dialect=dialect, timeout=10)
    try:
        assert conn.dialect == dialect
        session = Session(conn, username="alice", password=PASSWORD, require_encryption=False)
        session.connect()
        assert session.signing_key
        tree = TreeConnect(session, root(signing_server))
        tree.connect()  # require_secure_negotiate=True
        known = Open(tree, KNOWN_NAME)
        known.create(ImpersonationLevel.Impersonation, 0x80000000,  # GENERIC_READ
                     FileAttributes.FILE_ATTRIBUTE_NORMAL, 1, CreateDisposition.FILE_OPEN,
                     CreateOptions.FILE_NON_DIRECTORY_FILE)
        chunk = min(conn.max_read_size, 65536)
        data = b"".join(known.read(offset, min(chunk, len(KNOWN_DATA) - offset))
                        for offset in range(0, len(KNOWN_DATA), chunk))
        assert data == KNOWN_DATA
        known.close()
        tree.disconnect()
        session.disconnect()
    finally:
        conn.disconnect()
