"""``nullsmb policy show | import | explain`` through the interpreter, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from nullsmb.config import ConfigError, load_config
from nullsmb.policy.cli import set_policy_values

FIXTURES = Path(__file__).parent.parent / "fixtures" / "policy"

CONFIG = """\
# the server of the tests
[server]
listen = ["127.0.0.1:4445"]

[policy]
RestrictAnonymous = 1          # level 1, as NT4 SP3
NullSessionShares = ["data"]
NullSessionPipes = [
  "srvsvc",   # shares
  "lsarpc",
]

[users.alice]
password = "x"
groups = ["Administrators"]

[users.bob]
password = "y"

[shares.data]
path = "/srv/data"
comment = \"\"\"
[policy]
RestrictAnonymous = 2
\"\"\"
access = { "ANONYMOUS LOGON" = "read", "Everyone" = "read" }
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nullsmb", "policy", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "server.toml"
    path.write_text(CONFIG)
    return path


# --- help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command,examples", [
    ((), ["nullsmb policy show --config server.toml", "nullsmb policy import hklm.reg",
          "nullsmb policy explain --anonymous --share data --config server.toml"]),
    (("show",), ["nullsmb policy show --config server.toml --json", '"FILE line N"']),
    (("import",), ["nullsmb policy import hklm.reg", "--config server.toml --write", "secedit /export"]),
    (("explain",), ["nullsmb policy explain --anonymous --op srvsvc:NetrShareEnum --level 1",
                    "Exit codes: 0 allowed, 1 denied, 2 bad usage"]),
])
def test_help_has_examples(tmp_path: Path, command: tuple[str, ...], examples: list[str]) -> None:
    result = run(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "examples:" in result.stdout
    for example in examples:
        assert example in result.stdout


def test_policy_is_listed_in_the_main_help(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "nullsmb", "--help"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert "policy" in result.stdout


def test_no_subcommand_is_bad_usage(tmp_path: Path) -> None:
    result = run(cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: nullsmb policy" in result.stderr


# --- show ----------------------------------------------------------------------------------------


def test_show_demo(tmp_path: Path) -> None:
    result = run("show", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert rows["NullSessionPipes"].split()[1:] == ['["srvsvc"]', "demo", "default"]
    assert rows["RestrictAnonymousSAM"].split()[1:] == ["1", "default"]
    assert rows["NullSessionOperations"].split()[1:] == ["(not", "set)", "default"]


def test_show_config_json(cfg: Path) -> None:
    result = run("show", "--config", "server.toml", "--json", cwd=cfg.parent)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["config"] == "server.toml"
    assert shown["policy"]["RestrictAnonymous"] == {"value": 1, "source": "server.toml line 6"}
    assert shown["policy"]["NullSessionPipes"] == {"value": ["srvsvc", "lsarpc"], "source": "server.toml line 8"}
    assert shown["policy"]["TurnOffAnonymousBlock"] == {"value": 0, "source": "default"}
    assert shown["policy"]["NullSessionOperations"] == {"value": None, "source": "default"}


def test_show_bad_config_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "server.toml").write_text("[policy]\nRestrictAnonymous = 3\n")
    result = run("show", "--config", "server.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: server.toml: policy.RestrictAnonymous (line 2) must be 0, 1 or 2 (got 3)\n"


# --- import --------------------------------------------------------------------------------------


def test_import_prints_a_table_to_paste(tmp_path: Path) -> None:
    result = run("import", str(FIXTURES / "hklm_v5.reg"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert tomllib.loads(result.stdout) == {"policy": {
        "RestrictNullSessAccess": 1, "NullSessionShares": [], "NullSessionPipes": ["netlogon", "samr", "lsarpc"],
        "RestrictAnonymous": 1, "RestrictAnonymousSAM": 1, "EveryoneIncludesAnonymous": 0,
        "TurnOffAnonymousBlock": 0}}
    warnings = result.stderr.splitlines()
    assert len(warnings) == 6 and all(w.startswith("warning: ") for w in warnings)
    assert "AutoShareServer is not a null-session setting" in warnings[0]


def test_import_inf_merged_with_config(cfg: Path) -> None:
    result = run("import", str(FIXTURES / "secedit.inf"), "--config", "server.toml", cwd=cfg.parent)
    assert result.returncode == 0, result.stderr
    table = tomllib.loads(result.stdout)["policy"]
    assert table["LSAAnonymousNameLookup"] == 0
    assert table["NullSessionShares"] == []  # the import wins over the config's ["data"]
    assert cfg.read_text() == CONFIG  # without --write nothing is written


def test_import_write_updates_only_the_policy_table(cfg: Path) -> None:
    result = run("import", str(FIXTURES / "secedit.inf"), "--config", "server.toml", "--write", cwd=cfg.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("updated server.toml: [policy] RestrictNullSessAccess, NullSessionShares")
    text = cfg.read_text()
    before, after = CONFIG.split("[policy]\n", 1)[0], CONFIG.split("[users.alice]", 1)[1]
    assert text.startswith(before) and text.endswith(after)  # every other byte kept
    assert "RestrictAnonymous = 1  # level 1, as NT4 SP3\n" in text  # trailing comment kept
    policy = load_config(cfg).policy
    assert policy.NullSessionPipes == ("netlogon", "samr", "lsarpc")
    assert policy.NullSessionShares == ()
    assert policy.LSAAnonymousNameLookup == 0
    assert load_config(cfg).shares[0].comment == "[policy]\nRestrictAnonymous = 2\n"


def test_import_write_creates_a_config(tmp_path: Path) -> None:
    result = run("import", str(FIXTURES / "hklm_regedit4.reg"), "--config", "new.toml", "--write", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert load_config(tmp_path / "new.toml").policy.RestrictAnonymous == 2


def test_import_write_with_nothing_found_leaves_the_config(cfg: Path) -> None:
    (cfg.parent / "other.reg").write_text(
        'REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Lsa]\n"LmCompatibilityLevel"=dword:5\n')
    result = run("import", "other.reg", "--config", "server.toml", "--write", cwd=cfg.parent)
    assert result.returncode == 0
    assert result.stdout == "server.toml left as it is: nothing to write\n"
    assert result.stderr.splitlines() == [
        "warning: other.reg line 4: Lsa\\LmCompatibilityLevel is not a null-session setting: ignored",
        "warning: other.reg: no null-session setting found",
    ]
    assert cfg.read_text() == CONFIG


def test_import_invalid_value_names_the_line_of_the_export(tmp_path: Path) -> None:
    (tmp_path / "bad.reg").write_text(
        "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Lsa]\n"
        '"RestrictAnonymous"=dword:00000007\n')
    result = run("import", "bad.reg", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: bad.reg: RestrictAnonymous (line 4) must be 0, 1 or 2 (got 7)\n"


@pytest.mark.parametrize("args,message", [
    (("import", "nope.reg"), "error: nope.reg: cannot read: No such file or directory\n"),
    (("import", "x.reg", "--write"), "error: --write needs --config CFG, the file to update\n"),
])
def test_import_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    (tmp_path / "x.reg").write_text("REGEDIT4\n")
    result = run(*args, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, message)


def test_import_write_refuses_a_policy_it_cannot_edit(tmp_path: Path) -> None:
    (tmp_path / "server.toml").write_text("policy.RestrictAnonymous = 1\n")
    result = run("import", str(FIXTURES / "hklm_v5.reg"), "--config", "server.toml", "--write", cwd=tmp_path)
    assert result.returncode == 2
    assert "is not a plain [policy] table" in result.stderr
    assert (tmp_path / "server.toml").read_text() == "policy.RestrictAnonymous = 1\n"


# --- set_policy_values (the in-place edit) -------------------------------------------------------


@pytest.mark.parametrize("text,values,expected", [
    ("", {"RestrictAnonymous": 1}, "[policy]\nRestrictAnonymous = 1\n"),
    ('[server]\nworkgroup = "W"', {"RestrictAnonymous": 1},
     '[server]\nworkgroup = "W"\n\n[policy]\nRestrictAnonymous = 1\n'),
    ("[policy]\r\nRestrictAnonymous = 0\r\n[audit]\r\nkeep = 1\r\n", {"RestrictAnonymous": 2, "NullSessionPipes": []},
     "[policy]\r\nRestrictAnonymous = 2\r\nNullSessionPipes = []\r\n[audit]\r\nkeep = 1\r\n"),
    ("[policy]\n# nothing yet\n\n[audit]\nkeep = 1\n", {"NullSessionShares": ["a b", 'q"'], },
     '[policy]\nNullSessionShares = ["a b", "q\\""]\n# nothing yet\n\n[audit]\nkeep = 1\n'),
    ('[policy]\nNullSessionPipes = [\n  "a", # x\n] # y\nRestrictAnonymous = 0', {"NullSessionPipes": ["b"]},
     '[policy]\nNullSessionPipes = ["b"]  # y\nRestrictAnonymous = 0'),
])
def test_set_policy_values(text: str, values: dict[str, object], expected: str) -> None:
    assert set_policy_values(text, values) == expected
    tomllib.loads(expected)


@pytest.mark.parametrize("text", ["policy = { RestrictAnonymous = 1 }\n", "[policy.sub]\nx = 1\n",
                                  "[[policy]]\nx = 1\n"])
def test_set_policy_values_refuses_other_shapes(text: str) -> None:
    with pytest.raises(ConfigError):
        set_policy_values(text, {"RestrictAnonymous": 1})


# --- explain -------------------------------------------------------------------------------------


def test_explain_allowed_exits_0(tmp_path: Path) -> None:
    result = run("explain", "--anonymous", "--share", "IPC$", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "ANONYMOUS LOGON → tree connect IPC$: ALLOWED",
        "status: STATUS_SUCCESS (0x00000000) in the TREE_CONNECT response",
        "rule: IPC$",
    ]


def test_explain_denied_rpc_exits_1_with_werror(cfg: Path) -> None:
    result = run("explain", "--anonymous", "--op", "srvsvc:NetrShareEnum", "--level", "1",
                 "--config", "server.toml", cwd=cfg.parent)
    assert result.returncode == 1
    assert result.stdout == (
        "ANONYMOUS LOGON → RPC srvsvc:NetrShareEnum level 1: DENIED\n"
        "status: WERR_ACCESS_DENIED (5) as the call's WERROR result\n"
        "rule: RestrictAnonymous\n"
        "rule chain:\n"
        "  FAIL  RestrictAnonymous: RestrictAnonymous = 1: null sessions may not read share and server "
        "information (needs 0)\n")


def test_explain_denied_share_exits_1(cfg: Path) -> None:
    result = run("explain", "--anonymous", "--pipe", "\\PIPE\\samr", "--config", "server.toml", cwd=cfg.parent)
    assert result.returncode == 1
    assert "status: STATUS_ACCESS_DENIED (0xc0000022) in the CREATE response" in result.stdout
    assert "  FAIL  NullSessionPipes: RestrictNullSessAccess = 1 and samr is not in NullSessionPipes" in result.stdout


def test_explain_user_groups_come_from_the_config(cfg: Path) -> None:
    args = ("explain", "--op", "srvsvc:NetrSessionEnum", "--level", "10", "--config", "server.toml", "--json")
    alice = run(*args[:1], "--user", "ALICE", *args[1:], cwd=cfg.parent)
    bob = run(*args[:1], "--user", "bob", *args[1:], cwd=cfg.parent)
    assert (alice.returncode, bob.returncode) == (0, 1)
    assert json.loads(alice.stdout)["principal"] == "user alice (Administrators)"
    shown = json.loads(bob.stdout)
    assert (shown["allowed"], shown["rule"], shown["status"], shown["kind"]) == (False, "Administrators only", 5,
                                                                                 "werror")
    assert shown["chain"] == [{"rule": "Administrators only", "passed": False,
                               "why": "srvsvc:NetrSessionEnum needs Administrators; user bob is not a member"}]


def test_explain_unknown_user_with_groups(tmp_path: Path) -> None:
    result = run("explain", "--user", "carol", "--group", "Administrators", "--op", "wkssvc:NetrWkstaUserEnum",
                 cwd=tmp_path)
    assert result.returncode == 0
    assert "note: carol is not a user of the demo setup" in result.stderr


def test_explain_guest_lsa(tmp_path: Path) -> None:
    result = run("explain", "--guest", "--op", "lsarpc:LsarLookupSids2", cwd=tmp_path)
    assert result.returncode == 0
    assert "status: STATUS_SUCCESS (0x00000000) as the call's NTSTATUS result" in result.stdout


@pytest.mark.parametrize("args,message", [
    (("--anonymous", "--op", "srvsvc:NetrShareEnum"),
     "error: --op srvsvc:NetrShareEnum needs --level (its levels: 0, 1, 2, 501, 502, 503)\n"),
    (("--anonymous", "--op", "srvsvc:NetrShareEnum", "--level", "7"),
     "error: --op srvsvc:NetrShareEnum has no level 7 (its levels: 0, 1, 2, 501, 502, 503)\n"),
    (("--anonymous", "--op", "samr:SamrConect5"),
     'error: --op samr:SamrConect5 is not an operation of samr that nullsmb knows; '
     'did you mean "samr:SamrConnect5"?\n'),
    (("--anonymous", "--op", "NetrShareEnum"),
     'error: --op NetrShareEnum must be "INTERFACE:Operation", e.g. "srvsvc:NetrShareEnum"\n'),
    (("--anonymous", "--share", "nope"), 'error: no share "nope" in the demo setup (shares: IPC$, public)\n'),
    (("--anonymous", "--pipe", "samr", "--level", "1"), "error: --level goes with --op\n"),
    (("--anonymous", "--pipe", "samr", "--group", "x"), "error: --group goes with --user\n"),
])
def test_explain_bad_usage_exits_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run("explain", *args, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, message)


def test_explain_needs_a_principal_and_an_object(tmp_path: Path) -> None:
    assert run("explain", "--share", "IPC$", cwd=tmp_path).returncode == 2
    assert run("explain", "--anonymous", cwd=tmp_path).returncode == 2
    assert run("explain", "--anonymous", "--guest", "--share", "IPC$", cwd=tmp_path).returncode == 2
