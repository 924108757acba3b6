"""The server process as a user sees it: the demo start, bad configuration, signals, hostile
clients, old clients."""

from __future__ import annotations

import contextlib
import os
import random
import shlex
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from .conftest import (ALICE, HOST, KNOWN_NAME, NULL, SMBCLIENT, ServerInfo, free_port, launch,
                       running_server, sha256_file, smbclient, stop, wait_ready,
                       write_user_config)


def nullsmb(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nullsmb", *args], cwd=cwd, text=True,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


def try_command(server: ServerInfo) -> list[str]:
    """The smbclient command the banner tells the user to try, as argv."""
    for line in server.wait_stdout("try:").splitlines():
        if "smbclient" in line and line.lstrip().startswith("try:"):
            command = line.split("try:", 1)[1].split("(", 1)[0]
            return shlex.split(command)
    pytest.fail(f"no 'try: smbclient ...' line in the banner:\n{server.stdout()}")


# -- the demo ------------------------------------------------------------------------------------------


def test_demo_creates_share_and_prints_how_to_connect(demo_server: ServerInfo) -> None:
    assert demo_server.share_dir == demo_server.workdir / "nullsmb-share"
    assert demo_server.share_dir.is_dir()
    out = demo_server.wait_stdout("smbclient")
    assert f"127.0.0.1:{demo_server.port}" in out
    assert f"smbclient -U% -N //127.0.0.1/public -p {demo_server.port}" in out
    assert str(demo_server.share_dir) in out
    assert "Traceback" not in demo_server.stderr()


def test_demo_banner_command_works(demo_server: ServerInfo) -> None:
    (demo_server.share_dir / "banner-check.txt").write_text("x")
    argv = try_command(demo_server)
    assert argv[0] == "smbclient" and "-U%" in argv and "-N" in argv
    result = subprocess.run([SMBCLIENT or "smbclient", *argv[1:]], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "banner-check.txt" in result.stdout


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_listen(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    info = ServerInfo("::1", port, tmp_path / "nullsmb-share", None,
                      launch(tmp_path, ["serve", "--listen", f"[::1]:{port}"]), tmp_path)
    try:
        wait_ready(info)
        (info.share_dir / "v6.txt").write_text("over IPv6")
        # smbclient 4.17 takes //::1/share (brackets make it look the name up: NT_STATUS_NOT_FOUND)
        result = subprocess.run([SMBCLIENT or "smbclient", *NULL, "//::1/public", "-p", str(port),
                                 "-c", "ls"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "v6.txt" in result.stdout
        assert f"[::1]:{port}" in info.wait_stdout(f"[::1]:{port}")
    finally:
        assert stop(info) == 0, info.stderr()


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_banner_command_works(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    info = ServerInfo("::1", port, tmp_path / "nullsmb-share", None,
                      launch(tmp_path, ["serve", "--listen", f"[::1]:{port}"]), tmp_path)
    try:
        wait_ready(info)
        argv = try_command(info)
        result = subprocess.run([SMBCLIENT or "smbclient", *argv[1:]], capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        stop(info)


# -- bad input: one line, exit 2, no traceback -------------------------------------------------------

BAD_CONFIGS = {
    "unknown-key": ('[server]\nlisten = ["127.0.0.1:1"]\nsignning = "required"\n',
                    ["server.signning", "line 3"]),
    "bad-choice": ('[server]\nsigning = "maybe"\n', ["server.signing", "line 2"]),
    "bad-toml": ('[server\nlisten = 1\n', ["bad.toml"]),
    "pipes-not-a-list": ('[policy]\nNullSessionPipes = "srvsvc"\n',
                         ["policy.NullSessionPipes", "line 2"]),
    "bad-listen": ('[server]\nlisten = ["127.0.0.1:99999"]\n', ["server.listen"]),
    "share-not-a-dir": ('[shares.data]\npath = "./does-not-exist"\n', ["shares.data.path"]),
    "bad-nt-hash": ('[users.bob]\nnt_hash = "not-a-hash-Passw0rd"\n', ["users.bob"]),
    "unknown-section": ('[sever]\n', ["sever"]),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_config_one_line_exit_2(tmp_path: Path, case: str) -> None:
    text, must_name = BAD_CONFIGS[case]
    (tmp_path / "bad.toml").write_text(text)
    result = nullsmb("serve", "--config", "bad.toml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "bad.toml" in lines[0]
    for word in must_name:
        assert word in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert "Passw0rd" not in result.stderr  # never quote a secret back
    assert not (tmp_path / "does-not-exist").exists()


def test_missing_config_file(tmp_path: Path) -> None:
    result = nullsmb("serve", "--config", "nowhere.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: nowhere.toml")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1:0", "127.0.0.1:70000", "[::1:445"])
def test_bad_listen_option(tmp_path: Path, listen: str) -> None:
    result = nullsmb("serve", "--listen", listen, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = nullsmb("serve", "--listen", f"{HOST}:{port}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "listen" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


# -- signals ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delay", [0.0, 0.3], ids=["when-data-arrives", "after-0.3s"])
def test_sigterm_during_large_put(tmp_path: Path, delay: float) -> None:
    """SIGTERM while smbclient puts 50 MiB: exit 0 within 15 s, and the file on disk is the
    complete upload or a prefix of it (whole writes, in order), never garbage."""
    port = free_port()
    config = write_user_config(tmp_path, port)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(50 * 1024 * 1024))
    target = tmp_path / "share" / "big.bin"
    info = ServerInfo(HOST, port, tmp_path / "share", config,
                      launch(tmp_path, ["serve", "--config", str(config)]), tmp_path)
    wait_ready(info)
    client = subprocess.Popen([SMBCLIENT or "smbclient", *ALICE, f"//{HOST}/public", "-p",
                               str(port), "-c", f"put {source} big.bin"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        started = time.monotonic()
        if delay:
            time.sleep(delay)
        else:
            while time.monotonic() - started < 10:  # mid-transfer: the first MiB is on disk
                with contextlib.suppress(OSError):
                    if target.stat().st_size >= 1024 * 1024:
                        break
                time.sleep(0.001)
        info.proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        try:
            code = info.proc.wait(15)
        except subprocess.TimeoutExpired:
            info.proc.kill()
            pytest.fail(f"server did not exit within 15 s of SIGTERM\n{info.stderr()}")
        took = time.monotonic() - stopped
        out, _ = client.communicate(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        if info.proc.poll() is None:
            info.proc.kill()
            info.proc.wait()
    log = info.stderr()
    assert code == 0, f"exit {code}\n{log}"
    assert "Traceback" not in log, log
    assert took < 15
    data = target.read_bytes() if target.exists() else b""
    src = source.read_bytes()
    print(f"SIGTERM after {delay or 'the first MiB'}: {len(data)} of {len(src)} bytes on disk; "
          f"server exited in {took:.2f} s; smbclient exit {client.returncode}: {out.strip()}")
    assert data == src[:len(data)], f"{len(data)} bytes on disk are not a prefix of the upload"
    if client.returncode == 0 and "NT_STATUS" not in out:  # smbclient saw every write acknowledged
        assert len(data) == len(src), out


def test_sigterm_as_soon_as_the_port_opens(tmp_path: Path) -> None:
    """A service manager may stop the server at any moment after it started listening."""
    for attempt in range(3):
        workdir = tmp_path / str(attempt)
        workdir.mkdir()
        port = free_port()
        info = ServerInfo(HOST, port, workdir / "nullsmb-share", None,
                          launch(workdir, ["serve", "--listen", f"{HOST}:{port}"]), workdir)
        wait_ready(info, banner=False)
        code = stop(info)
        assert code == 0, f"attempt {attempt}: exit {code}\n{info.stderr()}"


def test_sigint_stops_gracefully(tmp_path: Path) -> None:
    with running_server(tmp_path, check_exit=False) as info:
        (info.share_dir / "f.txt").write_text("x")
        sock = socket.create_connection((HOST, info.port))  # an idle client stays connected
        try:
            assert "f.txt" in smbclient(info, cmd="ls").stdout
            info.proc.send_signal(signal.SIGINT)
            code = info.proc.wait(15)
        finally:
            sock.close()
    assert code == 0, info.stderr()
    assert "Traceback" not in info.stderr()


def _nobody() -> int | None:
    try:
        import pwd
        return pwd.getpwnam("nobody").pw_uid
    except (ImportError, KeyError):
        return None


@pytest.mark.skipif(os.geteuid() != 0 or _nobody() is None,
                    reason="--run-as needs root and a user named nobody")
def test_run_as_drops_root(tmp_path: Path) -> None:
    """Start as root, bind, then run as nobody: the process's uid changes and the share serves."""
    import shutil
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="nullsmb-runas-"))  # pytest's tmp is root-only
    try:
        workdir.chmod(0o755)
        (workdir / "nullsmb-share").mkdir(mode=0o755)
        (workdir / "nullsmb-share" / "runas.txt").write_text("served by nobody\n")
        port = free_port()
        info = ServerInfo(HOST, port, workdir / "nullsmb-share", None,
                          launch(workdir, ["serve", "--listen", f"{HOST}:{port}",
                                           "--run-as", "nobody"]), workdir)
        try:
            wait_ready(info)
            status = Path(f"/proc/{info.proc.pid}/status").read_text()
            uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
            assert uids.split()[1:] == [str(_nobody())] * 4, uids
            result = smbclient(info, cmd="get runas.txt -")
            assert "served by nobody" in result.stdout, result.stdout + info.stderr()
        finally:
            code = stop(info)
        assert code == 0, info.stderr()
        assert "Traceback" not in info.stderr(), info.stderr()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# -- old and hostile clients --------------------------------------------------------------------------------


def test_smb1_only_client_refused(demo_server: ServerInfo) -> None:
    result = smbclient(demo_server, "-m", "NT1", "--option=client min protocol=NT1", cmd="ls")
    assert result.returncode != 0
    assert "NT_STATUS_" in result.stdout
    assert "blocks of size" not in result.stdout
    assert smbclient(demo_server, cmd="ls").returncode == 0  # still serving


def smb1_negotiate(*dialects: bytes) -> bytes:
    header = (b"\xffSMB" + bytes([0x72]) + b"\x00" * 4 + bytes([0x18]) + struct.pack("<H", 0xC853)
              + b"\x00" * 12 + struct.pack("<HHHH", 0, 0xFEFF, 0, 0))
    body = b"".join(b"\x02" + d + b"\x00" for d in dialects)
    pdu = header + b"\x00" + struct.pack("<H", len(body)) + body
    return struct.pack(">I", len(pdu)) + pdu


def smb2_negotiate(message_id: int = 0, command: int = 0) -> bytes:
    header = (b"\xfeSMB" + struct.pack("<HHIHHIIQIIQ", 64, 0, 0, command, 1, 0, 0, message_id,
                                       0xFEFF, 0, 0) + b"\x00" * 16)
    body = struct.pack("<HHHHI", 36, 1, 1, 0, 0) + os.urandom(16) + b"\x00" * 8
    body += struct.pack("<H", 0x0202)
    pdu = header + body
    return struct.pack(">I", len(pdu)) + pdu


def recv_frame(sock: socket.socket, timeout: float = 5) -> bytes | None:
    """One Direct TCP frame, or None when the server closed the connection."""
    sock.settimeout(timeout)
    buf = b""
    try:
        while len(buf) < 4:
            chunk = sock.recv(4 - len(buf))
            if not chunk:
                return None
            buf += chunk
        length = struct.unpack(">I", buf)[0] & 0xFFFFFF
        body = b""
        while len(body) < length:
            chunk = sock.recv(length - len(body))
            if not chunk:
                return None
            body += chunk
        return body
    except (ConnectionResetError, BrokenPipeError):
        return None


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (socket.timeout, TimeoutError):
        return False


def test_smb1_only_negotiate_raw(demo_server: ServerInfo) -> None:
    """An SMB1 NEGOTIATE without any SMB2 dialect: no dialect chosen (index 0xFFFF) or a close."""
    with socket.create_connection((HOST, demo_server.port), timeout=5) as sock:
        sock.sendall(smb1_negotiate(b"PC NETWORK PROGRAM 1.0", b"LANMAN1.0", b"NT LM 0.12"))
        frame = recv_frame(sock)
        if frame is not None:
            assert frame[:4] == b"\xffSMB", frame[:8]
            assert frame[32] >= 1 and frame[33:35] == b"\xff\xff", frame[:40].hex()
    assert smbclient(demo_server, cmd="ls").returncode == 0


def test_smb1_multiprotocol_negotiate_gets_wildcard(demo_server: ServerInfo) -> None:
    with socket.create_connection((HOST, demo_server.port), timeout=5) as sock:
        sock.sendall(smb1_negotiate(b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???"))
        frame = recv_frame(sock)
        assert frame is not None and frame[:4] == b"\xfeSMB"
        assert struct.unpack_from("<H", frame, 64 + 4)[0] == 0x02FF


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    """A server of its own (a crash here must not take the others down), short idle timeout."""
    workdir = tmp_path_factory.mktemp("hostile")
    port = free_port()
    config = write_user_config(workdir, port, "idle_timeout = 3")
    (workdir / "share" / "big.bin").write_bytes(os.urandom(24 * 1024 * 1024))
    with running_server(workdir, config=config, port=port) as info:
        yield info


def test_keepalive_then_negotiate(hostile_server: ServerInfo) -> None:
    with socket.create_connection((HOST, hostile_server.port), timeout=5) as sock:
        sock.sendall(b"\x85\x00\x00\x00" + smb2_negotiate())
        frame = recv_frame(sock)
        assert frame is not None and frame[:4] == b"\xfeSMB"
        assert struct.unpack_from("<I", frame, 8)[0] == 0  # STATUS_SUCCESS
        assert struct.unpack_from("<H", frame, 64 + 4)[0] == 0x0202


@pytest.mark.parametrize("payload", [
    pytest.param(b"\x00\xff\xff\xff" + b"A" * 1000, id="huge-length"),
    pytest.param(b"\x42\x00\x00\x10" + b"B" * 16, id="bad-netbios-type"),
    pytest.param(struct.pack(">I", 100) + b"\x00" * 100, id="zero-pdu"),
    pytest.param(struct.pack(">I", 64) + b"\xfeSMB" + b"\xff" * 60, id="bad-header"),
    pytest.param(struct.pack(">I", 3) + b"\xfeSM", id="truncated-header"),
])
def test_malformed_frame_dropped(hostile_server: ServerInfo, payload: bytes) -> None:
    with socket.create_connection((HOST, hostile_server.port), timeout=5) as sock:
        sock.sendall(payload)
        # either an error response or a closed connection; never a hang past the idle timeout
        got = recv_frame(sock, timeout=8)
        if got is not None:
            assert got[:4] == b"\xfeSMB"
            assert struct.unpack_from("<I", got, 8)[0] != 0  # an error status
    assert smbclient(hostile_server, cmd="ls").returncode == 0


def test_unknown_command_after_negotiate(hostile_server: ServerInfo) -> None:
    with socket.create_connection((HOST, hostile_server.port), timeout=5) as sock:
        sock.sendall(smb2_negotiate())
        assert recv_frame(sock) is not None
        sock.sendall(smb2_negotiate(message_id=1, command=0x0055))
        got = recv_frame(sock)
        if got is not None:
            assert struct.unpack_from("<I", got, 8)[0] != 0


def test_half_open_connection_times_out(hostile_server: ServerInfo) -> None:
    """A client that stops mid-frame is closed after idle_timeout (3 s here)."""
    with socket.create_connection((HOST, hostile_server.port), timeout=5) as sock:
        sock.sendall(struct.pack(">I", 1000) + b"\xfeSMB" + b"\x00" * 20)
        assert closed_by_server(sock, within=10)


def test_hostile_clients_do_not_disturb_a_session(hostile_server: ServerInfo,
                                                  tmp_path: Path) -> None:
    """While connections send garbage, huge lengths or stop mid-frame, a null session downloads
    24 MiB three times, intact."""
    stop_spray = threading.Event()
    errors: list[BaseException] = []
    rng = random.Random(445)

    def spray() -> None:
        deadline = time.monotonic() + 30  # bounded in time and in count
        count = 0
        while not stop_spray.is_set() and time.monotonic() < deadline and count < 2000:
            count += 1
            try:
                with socket.create_connection((HOST, hostile_server.port), timeout=2) as s:
                    kind = count % 4
                    if kind == 0:
                        s.sendall(rng.randbytes(rng.randrange(1, 3000)))
                    elif kind == 1:
                        s.sendall(b"\x00\xff\xff\xff" + rng.randbytes(100))
                    elif kind == 2:
                        s.sendall(struct.pack(">I", 5000) + b"\xfeSMB" + rng.randbytes(100))
                    else:
                        s.sendall(smb2_negotiate() + rng.randbytes(200))
            except OSError:
                pass
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return

    stalled = [socket.create_connection((HOST, hostile_server.port), timeout=5) for _ in range(5)]
    for s in stalled:
        s.sendall(struct.pack(">I", 70000) + b"\xfeSMB")  # and then nothing
    thread = threading.Thread(target=spray, daemon=True)
    thread.start()
    try:
        want = sha256_file(hostile_server.share_dir / "big.bin")
        for i in range(3):
            result = smbclient(hostile_server, cmd=f"get big.bin got{i}.bin", cwd=tmp_path)
            assert result.returncode == 0, result.stdout
            assert sha256_file(tmp_path / f"got{i}.bin") == want
        assert thread.is_alive() or not errors
    finally:
        stop_spray.set()
        thread.join(10)
        for s in stalled:
            s.close()
    assert not errors, errors
    assert KNOWN_NAME in smbclient(hostile_server, auth=ALICE, cmd="ls").stdout


# -- the documented example configuration ---------------------------------------------------------------


def test_example_config_serves_as_documented(tmp_path: Path) -> None:
    """docs/server.example.toml loads and means what its comments say: with the default policy
    (NullSessionShares = []) a null session may not connect to "public"; alice may write."""
    example = Path(__file__).resolve().parents[2] / "docs" / "server.example.toml"
    port = free_port()
    text = example.read_text()
    text = text.replace('listen = ["127.0.0.1:4445"]', f'listen = ["{HOST}:{port}"]', 1)
    text = text.replace("enabled = true", "enabled = false", 1)  # admin UI: not under test
    assert f"{HOST}:{port}" in text
    (tmp_path / "server.toml").write_text(text)
    (tmp_path / "nullsmb-share").mkdir()
    (tmp_path / "nullsmb-share" / "doc.txt").write_text("documented")
    with running_server(tmp_path, config=tmp_path / "server.toml", port=port,
                        share_dir=tmp_path / "nullsmb-share") as info:
        denied = smbclient(info, cmd="ls")
        assert "NT_STATUS_ACCESS_DENIED" in denied.stdout
        assert "doc.txt" not in denied.stdout
        (tmp_path / "up.txt").write_text("from alice")
        out = smbclient(info, auth=ALICE, cmd="put up.txt up.txt; ls", cwd=tmp_path).stdout
        assert "doc.txt" in out and "up.txt" in out
        assert (info.share_dir / "up.txt").read_text() == "from alice"
