"""Samba's smbclient against a real nullsmb server.

Null session = ``-U% -N``. Plain ``-N`` is NOT a null session: it logs on as the local unix user
with an empty password (a guest or a failed logon).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from .conftest import (ALICE, KNOWN_DATA, KNOWN_NAME, KNOWN_SHA256, NULL, ServerInfo, sha256_file,
                       smbclient)

GUEST = ["-U", "nobody-here%whatever"]  # unknown user → guest (map_to_guest = "bad_user")
DIALECTS = ["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, result.stdout
    assert "NT_STATUS_" not in result.stdout, result.stdout
    return result.stdout


# -- the demo, as the README promises ----------------------------------------------------------------


def test_demo_ls_readme_command(demo_server: ServerInfo) -> None:
    """``smbclient -U% -N //127.0.0.1/public -p PORT -c ls`` lists the demo share."""
    (demo_server.share_dir / "readme-demo.txt").write_text("hello from the demo\n")
    out = ok(smbclient(demo_server, cmd="ls"))
    assert "readme-demo.txt" in out
    assert "blocks of size" in out


def test_demo_null_get_checksum(demo_server: ServerInfo, tmp_path: Path) -> None:
    data = os.urandom(200_000)
    (demo_server.share_dir / "demo-get.bin").write_bytes(data)
    ok(smbclient(demo_server, cmd="get demo-get.bin got.bin", cwd=tmp_path))
    assert (tmp_path / "got.bin").read_bytes() == data


def test_demo_null_put_denied(demo_server: ServerInfo, tmp_path: Path) -> None:
    (tmp_path / "up.txt").write_text("nope")
    result = smbclient(demo_server, cmd="put up.txt up.txt", cwd=tmp_path)
    assert "NT_STATUS_ACCESS_DENIED" in result.stdout
    assert result.returncode != 0
    assert not (demo_server.share_dir / "up.txt").exists()


# -- null sessions -------------------------------------------------------------------------------------


def test_null_get_checksum(user_server: ServerInfo, tmp_path: Path) -> None:
    ok(smbclient(user_server, cmd=f"get {KNOWN_NAME} got.bin", cwd=tmp_path))
    assert sha256_file(tmp_path / "got.bin") == KNOWN_SHA256


def test_null_put_denied(user_server: ServerInfo, tmp_path: Path) -> None:
    name = unique("null-put")
    (tmp_path / "up.txt").write_text("nope")
    result = smbclient(user_server, cmd=f"put up.txt {name}", cwd=tmp_path)
    assert "NT_STATUS_ACCESS_DENIED" in result.stdout
    assert result.returncode != 0
    assert not (user_server.share_dir / name).exists()


def test_null_mkdir_denied(user_server: ServerInfo) -> None:
    name = unique("null-dir")
    result = smbclient(user_server, cmd=f"mkdir {name}")
    assert "NT_STATUS_ACCESS_DENIED" in result.stdout
    assert not (user_server.share_dir / name).exists()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_null_dialects(user_server: ServerInfo, tmp_path: Path, dialect: str) -> None:
    out = ok(smbclient(user_server, "-m", dialect, cmd=f"ls; get {KNOWN_NAME} got.bin",
                       cwd=tmp_path))
    assert KNOWN_NAME in out
    assert (tmp_path / "got.bin").read_bytes() == KNOWN_DATA


@pytest.mark.parametrize("dialect", DIALECTS)
def test_user_dialects(user_server: ServerInfo, tmp_path: Path, dialect: str) -> None:
    name = unique(f"dialect-{dialect}")
    data = os.urandom(150_000)
    (tmp_path / "up.bin").write_bytes(data)
    out = ok(smbclient(user_server, "-m", dialect, auth=ALICE,
                       cmd=f"put up.bin {name}; ls; get {name} down.bin; del {name}", cwd=tmp_path))
    assert name in out
    assert (tmp_path / "down.bin").read_bytes() == data
    assert not (user_server.share_dir / name).exists()


def test_unknown_share(user_server: ServerInfo) -> None:
    for auth in (NULL, ALICE):
        result = smbclient(user_server, share="no-such-share", auth=auth, cmd="ls")
        assert "NT_STATUS_BAD_NETWORK_NAME" in result.stdout
        assert result.returncode != 0


# -- users ---------------------------------------------------------------------------------------------


def test_user_put_get_5mib(user_server: ServerInfo, tmp_path: Path) -> None:
    name = unique("big") + ".bin"
    (tmp_path / "up.bin").write_bytes(os.urandom(5 * 1024 * 1024))
    ok(smbclient(user_server, auth=ALICE, cmd=f"put up.bin {name}; get {name} down.bin",
                 cwd=tmp_path))
    want = sha256_file(tmp_path / "up.bin")
    assert sha256_file(user_server.share_dir / name) == want
    assert sha256_file(tmp_path / "down.bin") == want


def test_user_mkdir_rmdir(user_server: ServerInfo) -> None:
    name = unique("dir")
    ok(smbclient(user_server, auth=ALICE, cmd=f"mkdir {name}"))
    assert (user_server.share_dir / name).is_dir()
    out = ok(smbclient(user_server, auth=ALICE, cmd=f"mkdir {name}\\sub; ls {name}\\*"))
    assert "sub" in out
    ok(smbclient(user_server, auth=ALICE, cmd=f"rmdir {name}\\sub; rmdir {name}"))
    assert not (user_server.share_dir / name).exists()


def test_user_rename_and_del(user_server: ServerInfo) -> None:
    src, dst = unique("ren-src") + ".txt", unique("ren-dst") + ".txt"
    (user_server.share_dir / src).write_text("rename me")
    ok(smbclient(user_server, auth=ALICE, cmd=f"rename {src} {dst}"))
    assert not (user_server.share_dir / src).exists()
    assert (user_server.share_dir / dst).read_text() == "rename me"
    ok(smbclient(user_server, auth=ALICE, cmd=f"del {dst}"))
    assert not (user_server.share_dir / dst).exists()


def test_user_rename_onto_existing_refused(user_server: ServerInfo) -> None:
    a, b = unique("ren-a"), unique("ren-b")
    (user_server.share_dir / a).write_text("a")
    (user_server.share_dir / b).write_text("b")
    result = smbclient(user_server, auth=ALICE, cmd=f"rename {a} {b}")
    assert "NT_STATUS_OBJECT_NAME_COLLISION" in result.stdout
    assert (user_server.share_dir / b).read_text() == "b"


def test_user_allinfo(user_server: ServerInfo) -> None:
    out = ok(smbclient(user_server, auth=ALICE, cmd=f"allinfo {KNOWN_NAME}"))
    for field in ("create_time:", "write_time:", "attributes:", "stream:"):
        assert field in out
    assert f"{len(KNOWN_DATA)} bytes" in out


@pytest.mark.parametrize("protection", ["sign", "encrypt"])
def test_user_client_protection(user_server: ServerInfo, tmp_path: Path, protection: str) -> None:
    name = unique(protection)
    (tmp_path / "up.bin").write_bytes(os.urandom(100_000))
    ok(smbclient(user_server, f"--client-protection={protection}", auth=ALICE,
                 cmd=f"put up.bin {name}; get {name} down.bin; del {name}", cwd=tmp_path))
    assert (tmp_path / "down.bin").read_bytes() == (tmp_path / "up.bin").read_bytes()


def test_null_client_protection_sign(user_server: ServerInfo) -> None:
    """smbclient 4.x does not sign anonymous sessions even when asked to; the session works."""
    out = ok(smbclient(user_server, "--client-protection=sign", cmd="ls"))
    assert KNOWN_NAME in out


def test_null_client_protection_encrypt_refused(user_server: ServerInfo) -> None:
    """smbclient itself refuses to encrypt a null session (no session key)."""
    result = smbclient(user_server, "--client-protection=encrypt", cmd="ls")
    assert result.returncode != 0
    assert KNOWN_NAME not in result.stdout


@pytest.mark.parametrize("protection", ["sign", "encrypt"])
def test_guest_client_protection_refused(user_server: ServerInfo, protection: str) -> None:
    """A guest session has no key the client can trust: smbclient gives up when it must protect."""
    result = smbclient(user_server, f"--client-protection={protection}", auth=GUEST, cmd="ls")
    assert result.returncode != 0
    assert KNOWN_NAME not in result.stdout


def test_wrong_password(user_server: ServerInfo) -> None:
    result = smbclient(user_server, auth=["-U", "alice%wrong-password"], cmd="ls")
    assert "NT_STATUS_LOGON_FAILURE" in result.stdout
    assert result.returncode != 0


def test_unknown_user_is_guest_and_read_only(user_server: ServerInfo, tmp_path: Path) -> None:
    out = ok(smbclient(user_server, auth=GUEST, cmd=f"ls; get {KNOWN_NAME} got.bin", cwd=tmp_path))
    assert KNOWN_NAME in out
    assert (tmp_path / "got.bin").read_bytes() == KNOWN_DATA
    name = unique("guest-put")
    (tmp_path / "up.txt").write_text("nope")
    result = smbclient(user_server, auth=GUEST, cmd=f"put up.txt {name}", cwd=tmp_path)
    assert "NT_STATUS_ACCESS_DENIED" in result.stdout
    assert not (user_server.share_dir / name).exists()


# -- path escapes ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def escape_links(user_server: ServerInfo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Symlinks inside the share: to /etc, to /etc/passwd, and to a writable outside directory."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("outside the share\n")
    share = user_server.share_dir
    for name, target in (("etclink", "/etc"), ("passwdlink", "/etc/passwd"),
                         ("outlink", str(outside)), ("reloutlink", os.path.relpath(outside, share))):
        if not (share / name).is_symlink():
            (share / name).symlink_to(target)
    return outside


@pytest.mark.parametrize("auth", [NULL, ALICE], ids=["null", "alice"])
@pytest.mark.parametrize("cmd", [
    r"get ..\..\etc\passwd got",
    r"get \..\..\..\etc\passwd got",
    r"get etclink\passwd got",
    r"get passwdlink got",
    r"get outlink\secret.txt got",
    r"get reloutlink\secret.txt got",
    r"cd etclink; get passwd got",
    r"cd ..; cd ..; get etc\passwd got",
])
def test_path_escape_get(user_server: ServerInfo, escape_links: Path, tmp_path: Path,
                         auth: list[str], cmd: str) -> None:
    result = smbclient(user_server, auth=auth, cmd=cmd, cwd=tmp_path)
    assert "NT_STATUS_" in result.stdout
    assert not (tmp_path / "got").exists(), result.stdout


@pytest.mark.parametrize("cmd", [r"ls etclink\*", r"ls outlink\*", r"ls ..\*"])
def test_path_escape_list(user_server: ServerInfo, escape_links: Path, cmd: str) -> None:
    out = smbclient(user_server, auth=ALICE, cmd=cmd).stdout
    for outside_name in ("passwd", "hostname", "secret.txt"):
        assert outside_name not in out


def test_cd_dotdot_stays_in_share(user_server: ServerInfo) -> None:
    out = smbclient(user_server, auth=ALICE, cmd=r"cd ..; cd ..\..; ls").stdout
    assert KNOWN_NAME in out  # still the share's root


@pytest.mark.parametrize("target", [r"outlink\evil.txt", r"reloutlink\evil.txt", r"..\evil.txt"])
def test_path_escape_put(user_server: ServerInfo, escape_links: Path, tmp_path: Path,
                         target: str) -> None:
    (tmp_path / "evil.txt").write_text("should never land outside the share")
    smbclient(user_server, auth=ALICE, cmd=f"put evil.txt {target}", cwd=tmp_path)
    assert not (escape_links / "evil.txt").exists()
    assert not (user_server.share_dir.parent / "evil.txt").exists()


def test_path_escape_mkdir_through_symlink(user_server: ServerInfo, escape_links: Path) -> None:
    smbclient(user_server, auth=ALICE, cmd=r"mkdir outlink\newdir")
    assert not (escape_links / "newdir").exists()


def test_del_through_symlink(user_server: ServerInfo, escape_links: Path) -> None:
    smbclient(user_server, auth=ALICE, cmd=r"del outlink\secret.txt")
    assert (escape_links / "secret.txt").exists()


# -- signing required -----------------------------------------------------------------------------------


def test_signing_required_alice(signing_server: ServerInfo, tmp_path: Path) -> None:
    """smbclient signs when the server requires it, whatever --client-protection says."""
    for option in ("--client-protection=sign", "--client-protection=off"):
        name = unique("signed")
        (tmp_path / "up.bin").write_bytes(os.urandom(70_000))
        ok(smbclient(signing_server, option, auth=ALICE,
                     cmd=f"put up.bin {name}; get {name} down.bin; del {name}", cwd=tmp_path))
        assert (tmp_path / "down.bin").read_bytes() == (tmp_path / "up.bin").read_bytes()


@pytest.mark.parametrize("dialect", ["SMB2_02", "SMB3_00", "SMB3_11"])
def test_signing_required_alice_dialects(signing_server: ServerInfo, dialect: str) -> None:
    assert KNOWN_NAME in ok(smbclient(signing_server, "-m", dialect, auth=ALICE, cmd="ls"))


@pytest.mark.parametrize("auth", [NULL, GUEST], ids=["null", "guest"])
def test_signing_required_not_applied_to_null_and_guest(signing_server: ServerInfo,
                                                        auth: list[str]) -> None:
    """design.md §2: signing = "required" never applies to null or guest sessions."""
    assert KNOWN_NAME in ok(smbclient(signing_server, auth=auth, cmd="ls"))


# -- encryption required --------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--client-protection=encrypt", "--client-protection=off"])
def test_encryption_required_alice(encrypt_server: ServerInfo, tmp_path: Path, option: str) -> None:
    name = unique("enc")
    (tmp_path / "up.bin").write_bytes(os.urandom(300_000))
    ok(smbclient(encrypt_server, option, auth=ALICE,
                 cmd=f"put up.bin {name}; get {name} down.bin; del {name}", cwd=tmp_path))
    assert (tmp_path / "down.bin").read_bytes() == (tmp_path / "up.bin").read_bytes()


@pytest.mark.parametrize("auth", [NULL, GUEST], ids=["null", "guest"])
def test_encryption_required_refuses_null_and_guest(encrypt_server: ServerInfo,
                                                    auth: list[str]) -> None:
    result = smbclient(encrypt_server, auth=auth, cmd="ls")
    assert "NT_STATUS_ACCESS_DENIED" in result.stdout
    assert result.returncode != 0
    assert KNOWN_NAME not in result.stdout


def test_encryption_required_refuses_dialects_without_encryption(encrypt_server: ServerInfo) -> None:
    """2.0.2 and 2.1 cannot encrypt: a user session there is refused, not served in clear."""
    for dialect in ("SMB2_02", "SMB2_10"):
        result = smbclient(encrypt_server, "-m", dialect, auth=ALICE, cmd="ls")
        assert result.returncode != 0
        assert KNOWN_NAME not in result.stdout
