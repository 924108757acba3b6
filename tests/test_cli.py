"""nullsmb.cli: help with examples, exit codes, one-line errors, the config handed to run_server."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from nullsmb.cli import main
from nullsmb.config import Config, ListenAddr


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nullsmb", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> list[Config]:
    """Stand in for nullsmb.aio.lifecycle.run_server; records the configs it is given."""
    calls: list[Config] = []

    def run_server(config: Config) -> int:
        calls.append(config)
        return 0

    module = types.ModuleType("nullsmb.aio.lifecycle")
    module.run_server = run_server  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nullsmb.aio.lifecycle", module)
    return calls


# --- through the interpreter, as a user runs it ----------------------------------------------


def test_program_help(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "usage: nullsmb" in result.stdout
    assert "examples:" in result.stdout
    assert "nullsmb serve --config server.toml" in result.stdout


def test_serve_help(tmp_path: Path) -> None:
    result = run("serve", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "usage: nullsmb serve" in result.stdout
    assert "examples:" in result.stdout
    for example in (
        "  nullsmb serve\n",
        "nullsmb serve --config server.toml",
        "nullsmb serve --listen 0.0.0.0:445 --share data=/srv/data:ro",
        "setcap cap_net_bind_service=+ep",
    ):
        assert example in result.stdout


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\nRestrictAnonymous = 3\n', encoding="utf-8")
    result = run("serve", "--config", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {bad}: policy.RestrictAnonymous (line 2) must be 0, 1 or 2 (got 3)\n"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--config", "missing.toml"],
         "error: missing.toml: cannot read: No such file or directory\n"),
        (["serve", "--config", "syntax.toml"], "error: syntax.toml (line 1): invalid TOML: "),
        (["serve", "--share", "nopath"], 'error: --share: must be NAME=PATH[:ro] (got "nopath")\n'),
        (["serve", "--listen", "0.0.0.0"], "error: --listen: must be HOST:PORT or [IPV6]:PORT"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "syntax.toml").write_text("[server\n", encoding="utf-8")
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (["serve", "--log-level", "loud"], ["serve", "--bogus"], ["frobnicate"]):
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
        assert "--help" in result.stderr
    bare = run(cwd=tmp_path)  # no command at all: the usage line shows the commands
    assert bare.returncode == 2 and "usage: nullsmb" in bare.stderr and "Traceback" not in bare.stderr


# --- in process, with run_server replaced ----------------------------------------------------


def test_serve_without_config_runs_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_server: list[Config]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["serve"]) == 0
    (config,) = fake_server
    assert config.source is None
    assert config.shares[0].name == "public"
    assert config.shares[0].path == tmp_path / "nullsmb-share"
    assert config.server.listen == (ListenAddr("127.0.0.1", 4445),)


def test_serve_applies_config_and_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_server: list[Config]
) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "server.toml").write_text(
        '[server]\nnetbios_name = "files"\n[shares.docs]\npath = "docs"\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    code = main([
        "serve", "--config", "etc/server.toml",
        "--listen", "0.0.0.0:4450", "--listen", "[::1]:4450",
        "--share", "data=srv:ro",
        "--log-level", "debug",
    ])
    assert code == 0
    (config,) = fake_server
    assert config.source == tmp_path / "etc" / "server.toml"
    assert config.server.netbios_name == "FILES"
    assert config.server.listen == (ListenAddr("0.0.0.0", 4450), ListenAddr("::1", 4450))
    docs, data = config.shares
    assert docs.path == tmp_path / "etc" / "docs"  # relative to the file
    assert data.path == tmp_path / "srv" and data.read_only  # relative to the working directory


def test_run_server_exit_code_is_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_server: list[Config]
) -> None:
    monkeypatch.chdir(tmp_path)
    module = sys.modules["nullsmb.aio.lifecycle"]
    monkeypatch.setattr(module, "run_server", lambda config: 1)
    assert main(["serve"]) == 1


def test_config_error_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_server: list[Config]
) -> None:
    assert main(["serve", "--config", str(tmp_path / "none.toml")]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'none.toml'}: cannot read: No such file or directory\n"
    )
    assert fake_server == []
