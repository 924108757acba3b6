"""nullsmb.config: the design.md §2 file, every kind of error message, overrides, the demo."""

from __future__ import annotations

import dataclasses
import pickle
import textwrap
from pathlib import Path

import pytest

from nullsmb import config as cfg
from nullsmb.config import (
    AdminSettings,
    AuditSettings,
    ConfigError,
    ListenAddr,
    PolicySettings,
    ServerSettings,
    ShareConfig,
    UserConfig,
    apply_overrides,
    default_config,
    load_config,
    parse_policy,
)

NT_HASH_OF_PASSWORD = bytes.fromhex("8846f7eaee8fb117ad06bdd830b7586c")  # NT hash of "password"

# design.md §2, verbatim
DESIGN_EXAMPLE = r'''
[server]
listen = ["127.0.0.1:4445"]          # host:port list; [::1]:445 form for IPv6
netbios_name = "NULLSMB"
workgroup = "WORKGROUP"
dialects = ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"]
signing = "enabled"                  # "enabled" | "required"  (required never applies to null/guest sessions: see null-sessions.md 1.4)
encryption = "off"                   # "off" | "desired" | "required"
map_to_guest = "never"               # "never" | "bad_user"
max_connections = 10000

[admin]
listen = "127.0.0.1:8445"            # Server Manager web UI + JSON API; loopback by default
token_file = "admin.token"           # bearer token, created 0600 on first start if missing

[audit]
file = "audit.jsonl"                 # JSON Lines; rotated by size; "-" = stdout
rotate_bytes = 104857600
keep = 10
syslog = ""                          # optional "udp://127.0.0.1:514" or "unix:///dev/log"

# Same names, types, defaults and meaning as the Windows registry values.
[policy]
RestrictNullSessAccess = 1           # LanmanServer\Parameters, DWORD
NullSessionShares = []               # LanmanServer\Parameters, MULTI_SZ
NullSessionPipes = []                # LanmanServer\Parameters, MULTI_SZ
RestrictAnonymous = 0                # Lsa, DWORD 0|1|2
RestrictAnonymousSAM = 1             # Lsa, DWORD
EveryoneIncludesAnonymous = 0        # Lsa, DWORD
LSAAnonymousNameLookup = 0           # "Allow anonymous SID/Name translation" (a security-policy value, not a registry value)
TurnOffAnonymousBlock = 0            # Lsa, DWORD; 0 = MS-LSAD LsaRestrictAnonymous: anonymous LsarOpenPolicy refused

[users.alice]
password = "Passw0rd!"               # or nt_hash = "32 hex digits"
groups = ["Administrators"]          # Administrators may use Server Manager calls over srvsvc

[shares.public]
path = "./nullsmb-share"
comment = "Public files"
read_only = false
# access list: principal = "read" | "change" | "full" | "deny"
# principals: "Everyone", "ANONYMOUS LOGON", "Guests", "Authenticated Users", "Administrators", user names
access = { "Everyone" = "read", "alice" = "full" }
'''


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(directory: Path, text: str, name: str = "server.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_error(text: str) -> ConfigError:
    """Load ``text`` as ./server.toml and return the ConfigError it must raise."""
    write(Path.cwd(), text)
    with pytest.raises(ConfigError) as info:
        load_config("server.toml")
    return info.value


# --- a valid file ----------------------------------------------------------------------------


def test_design_example_loads_to_the_expected_values(in_tmp: Path) -> None:
    from nullsmb.auth.md4 import nt_hash

    write(in_tmp, DESIGN_EXAMPLE)
    config = load_config("server.toml")

    assert config.source == in_tmp / "server.toml"
    assert config.server == ServerSettings(state_dir=in_tmp / ".nullsmb")
    assert config.server.listen == (ListenAddr("127.0.0.1", 4445),)
    assert config.server.dialects == (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
    assert config.admin == AdminSettings(token_file=in_tmp / "admin.token")
    assert config.audit == AuditSettings(file=str(in_tmp / "audit.jsonl"))
    assert config.policy == PolicySettings()
    assert config.users == (UserConfig("alice", nt_hash("Passw0rd!"), ("Administrators",)),)
    assert config.shares == (
        ShareConfig(
            "public",
            in_tmp / "nullsmb-share",
            comment="Public files",
            read_only=False,
            access=(("Everyone", "read"), ("alice", "full")),
        ),
    )


def test_empty_file_gives_the_defaults_with_paths_beside_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    monkeypatch.chdir(tmp_path)
    config = load_config(write(etc, ""))
    assert config.server == ServerSettings(state_dir=etc / ".nullsmb")
    assert config.admin.token_file == etc / "admin.token"
    assert config.audit.file == str(etc / "audit.jsonl")
    assert config.policy == PolicySettings()
    assert config.users == () and config.shares == ()


def test_password_becomes_the_nt_hash_and_is_not_kept(in_tmp: Path) -> None:
    write(in_tmp, '[users.bob]\npassword = "password"\n')
    (bob,) = load_config("server.toml").users
    assert bob.nt_hash == NT_HASH_OF_PASSWORD
    assert "password" not in repr(bob) and NT_HASH_OF_PASSWORD.hex() not in repr(bob)
    assert [f.name for f in dataclasses.fields(bob)] == ["name", "nt_hash", "groups"]


def test_nt_hash_is_taken_as_given(in_tmp: Path) -> None:
    write(in_tmp, '[users.bob]\nnt_hash = "8846F7EAEE8FB117AD06BDD830B7586C"\n')
    assert load_config("server.toml").users[0].nt_hash == NT_HASH_OF_PASSWORD


def test_values_are_normalised(in_tmp: Path) -> None:
    write(
        in_tmp,
        r"""
        [server]
        listen = ["[::1]:445", "0.0.0.0:4445", "localhost:4446"]
        netbios_name = "files-01"
        dialects = ["3.1.1", "2.1"]
        idle_timeout = 60
        server_guid = "{1B4E28BA-2FA1-11D2-883F-0016D3CCA427}"
        state_dir = "/var/lib/nullsmb"
        [audit]
        file = "-"
        syslog = "udp://[::1]:514"
        [policy]
        NullSessionPipes = ["\\PIPE\\srvsvc", "\\lsarpc", "SQL\\QUERY"]
        NullSessionShares = ["DFS$", "IPC$"]
        [users.carol]
        password = "x"
        groups = ["administrators", "Backup", "backup"]
        [shares.data]
        path = "/srv/data"
        access = { everyone = "read", "anonymous logon" = "read", backup = "change", CAROL = "full" }
        """,
    )
    config = load_config("server.toml")
    assert config.server.listen == (
        ListenAddr("::1", 445), ListenAddr("0.0.0.0", 4445), ListenAddr("localhost", 4446)
    )
    assert config.server.netbios_name == "FILES-01"
    assert config.server.dialects == (0x0210, 0x0311)
    assert config.server.idle_timeout == 60.0 and isinstance(config.server.idle_timeout, float)
    assert config.server.server_guid == "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    assert config.server.state_dir == Path("/var/lib/nullsmb")
    assert config.audit.file == "-"
    assert config.audit.syslog == "udp://[::1]:514"
    assert config.policy.NullSessionPipes == ("srvsvc", "lsarpc", "SQL\\QUERY")
    assert config.policy.NullSessionShares == ("DFS$", "IPC$")
    assert config.users[0].groups == ("Administrators", "Backup")
    assert config.shares[0].access == (
        ("Everyone", "read"), ("ANONYMOUS LOGON", "read"), ("Backup", "change"), ("carol", "full")
    )


def test_audit_failure_modes_and_formats(in_tmp: Path) -> None:
    write(in_tmp, '[audit]\non_failure = "refuse_sessions"\nformat = "samba"\n')
    config = load_config("server.toml")
    assert (config.audit.on_failure, config.audit.format) == ("refuse_sessions", "samba")


def test_home_is_expanded(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(in_tmp / "home"))
    write(in_tmp, '[shares.data]\npath = "~/data"\n[audit]\nfile = "~/audit.jsonl"\n')
    config = load_config("server.toml")
    assert config.shares[0].path == in_tmp / "home" / "data"
    assert config.audit.file == str(in_tmp / "home" / "audit.jsonl")


def test_deep_nesting_is_an_error_not_a_crash(in_tmp: Path) -> None:
    error = load_error("a = " + "[" * 5000 + "]" * 5000 + "\n")
    assert str(error) == "server.toml: invalid TOML: nested too deeply"


# --- errors: one line naming file, key and line ----------------------------------------------

ERRORS = [
    pytest.param(
        """
        [server]
        netbios_name = "NULLSMB"
        workgroup = "WORKGROUP"
        [admin]
        enabled = true
        [audit]
        keep = 10

        # the pipes null sessions may open
        [policy]
        RestrictNullSessAccess = 1
        NullSessionPipes = "srvsvc"
        """,
        "server.toml: policy.NullSessionPipes (line 12) must be a list of pipe names",
        id="design-md-example",
    ),
    pytest.param(
        '[polciy]\nRestrictAnonymous = 1\n',
        'server.toml: polciy (line 1) is an unknown section; did you mean "policy"?',
        id="unknown-section",
    ),
    pytest.param(
        '[server]\nlistne = ["0.0.0.0:445"]\n',
        'server.toml: server.listne (line 2) is an unknown key; did you mean "listen"?',
        id="unknown-key-close",
    ),
    pytest.param(
        '[policy]\nrestrictanonymous = 1\n',
        'server.toml: policy.restrictanonymous (line 2) is an unknown key; '
        'did you mean "RestrictAnonymous"?',
        id="unknown-key-case",
    ),
    pytest.param(
        '[audit]\ncolour = "red"\n',
        "server.toml: audit.colour (line 2) is an unknown key "
        "(expected one of: file, rotate_bytes, keep, syslog, on_failure, format, enabled)",
        id="unknown-key-far",
    ),
    pytest.param(
        '[users.alice]\npasword = "x"\n',
        'server.toml: users.alice.pasword (line 2) is an unknown key; did you mean "password"?',
        id="unknown-user-key",
    ),
    pytest.param(
        'server = 1\n', "server.toml: server (line 1) must be a table", id="section-not-table"
    ),
    pytest.param(
        '[server]\nmax_connections = "10"\n',
        "server.toml: server.max_connections (line 2) must be an integer from 1 to 1000000",
        id="int-type",
    ),
    pytest.param(
        '[server]\nmax_connections = 0\n',
        "server.toml: server.max_connections (line 2) must be an integer from 1 to 1000000 (got 0)",
        id="int-range",
    ),
    pytest.param(
        '[policy]\nRestrictAnonymous = 3\n',
        "server.toml: policy.RestrictAnonymous (line 2) must be 0, 1 or 2 (got 3)",
        id="restrict-anonymous-range",
    ),
    pytest.param(
        '[policy]\nRestrictNullSessAccess = true\n',
        "server.toml: policy.RestrictNullSessAccess (line 2) must be 0 or 1",
        id="dword-flag-bool",
    ),
    pytest.param(
        '[policy]\nEveryoneIncludesAnonymous = 2\n',
        "server.toml: policy.EveryoneIncludesAnonymous (line 2) must be 0 or 1 (got 2)",
        id="dword-flag-range",
    ),
    pytest.param(
        '[admin]\nenabled = "yes"\n',
        "server.toml: admin.enabled (line 2) must be true or false",
        id="bool",
    ),
    pytest.param(
        '[server]\nsigning = "Required"\n',
        'server.toml: server.signing (line 2) must be "enabled" or "required" (got "Required")',
        id="choice",
    ),
    pytest.param(
        '[server]\nencryption = 1\n',
        'server.toml: server.encryption (line 2) must be "off", "desired" or "required"',
        id="choice-type",
    ),
    pytest.param(
        '[server]\nlisten = ["0.0.0.0:70000"]\n',
        'server.toml: server.listen[0] (line 2) must end in a port from 1 to 65535 '
        '(got "0.0.0.0:70000")',
        id="port-range",
    ),
    pytest.param(
        '[server]\nlisten = [\n  "0.0.0.0:445",\n  "::1:445",\n]\n',
        "server.toml: server.listen[1] (line 4) must be HOST:PORT or [IPV6]:PORT, "
        'e.g. 0.0.0.0:445 or [::1]:445 (got "::1:445")',
        id="ipv6-without-brackets",
    ),
    pytest.param(
        '[server]\nlisten = "0.0.0.0:445"\n',
        'server.toml: server.listen (line 2) must be a list of "HOST:PORT" strings, '
        'e.g. ["0.0.0.0:445"]',
        id="listen-not-list",
    ),
    pytest.param(
        '[server]\nlisten = []\n',
        "server.toml: server.listen (line 2) must list at least one address",
        id="listen-empty",
    ),
    pytest.param(
        '[admin]\nlisten = "127.0.0.1"\n',
        "server.toml: admin.listen (line 2) must be HOST:PORT or [IPV6]:PORT, "
        'e.g. 0.0.0.0:445 or [::1]:445 (got "127.0.0.1")',
        id="admin-listen-no-port",
    ),
    pytest.param(
        '[server]\nlisten = ["0.0.0.0:8445"]\n',
        "server.toml: admin.listen 0.0.0.0:8445 is also the admin address 127.0.0.1:8445: "
        "give one another port",
        id="admin-listen-conflict",
    ),
    pytest.param(
        '[server]\ndialects = [\n  "2.1",\n  "3.1",\n]\n',
        'server.toml: server.dialects[1] (line 4) must be "2.0.2", "2.1", "3.0", "3.0.2" or '
        '"3.1.1" (got "3.1")',
        id="dialect-name",
    ),
    pytest.param(
        '[server]\ndialects = ["2.1", "2.1"]\n',
        'server.toml: server.dialects[1] (line 2) repeats "2.1"',
        id="dialect-twice",
    ),
    pytest.param(
        '[server]\ndialects = ["2.0.2", "2.1"]\nencryption = "required"\n',
        'server.toml: server.encryption (line 3) "required" needs a 3.x dialect in server.dialects',
        id="encryption-without-smb3",
    ),
    pytest.param(
        '[server]\nnetbios_name = "A-NAME-LONGER-THAN-15"\n',
        "server.toml: server.netbios_name (line 2) must be 1 to 15 letters, digits, '-', '_' or '.' "
        '(got "A-NAME-LONGER-THAN-15")',
        id="netbios-name",
    ),
    pytest.param(
        '[server]\nidle_timeout = 0\n',
        "server.toml: server.idle_timeout (line 2) must be a number of seconds above 0 (got 0)",
        id="idle-timeout",
    ),
    pytest.param(
        '[server]\nserver_guid = "not-a-guid"\n',
        'server.toml: server.server_guid (line 2) must be "" or a GUID such as '
        '"1b4e28ba-2fa1-11d2-883f-0016d3cca427" (got "not-a-guid")',
        id="guid",
    ),
    pytest.param(
        '[audit]\nsyslog = "tcp://127.0.0.1:514"\n',
        'server.toml: audit.syslog (line 2) must be "", "udp://HOST[:PORT]" or "unix:///PATH" '
        '(got "tcp://127.0.0.1:514")',
        id="syslog",
    ),
    pytest.param(
        '[audit]\non_failure = "stop"\n',
        'server.toml: audit.on_failure (line 2) must be "continue" or "refuse_sessions" (got "stop")',
        id="audit-on-failure",
    ),
    pytest.param(
        '[audit]\nformat = "cef"\n',
        'server.toml: audit.format (line 2) must be "nullsmb" or "samba" (got "cef")',
        id="audit-format",
    ),
    pytest.param(
        '[policy]\nNullSessionPipes = ["srvsvc", "a/b"]\n',
        "server.toml: policy.NullSessionPipes[1] (line 2) must be a pipe name without '/' "
        '(got "a/b")',
        id="pipe-name",
    ),
    pytest.param(
        '[policy]\nNullSessionShares = [1]\n',
        "server.toml: policy.NullSessionShares (line 2) must be a list of share names",
        id="share-list",
    ),
    pytest.param(
        '[policy]\nNullSessionOperations = "srvsvc:NetrShareEnum"\n',
        "server.toml: policy.NullSessionOperations (line 2) must be a list of RPC operations, "
        'e.g. ["srvsvc:NetrShareEnum"]',
        id="operations-list",
    ),
    pytest.param(
        '[policy]\nNullSessionOperations = ["srvsvc:NetrShareEnum", "NetrRemoteTOD"]\n',
        'server.toml: policy.NullSessionOperations[1] (line 2) must be "INTERFACE:Operation", '
        'e.g. "srvsvc:NetrShareEnum" (got "NetrRemoteTOD")',
        id="operation-bare-name",
    ),
    pytest.param(
        '[policy]\nNullSessionOperations = ["winreg:OpenHKLM"]\n',
        "server.toml: policy.NullSessionOperations[0] (line 2) names an unknown interface "
        '(expected one of: srvsvc, wkssvc, lsarpc, samr) (got "winreg:OpenHKLM")',
        id="operation-interface",
    ),
    pytest.param(
        '[policy]\nNullSessionOperations = [\n  "lsarpc:LsarLookupSid2",\n]\n',
        "server.toml: policy.NullSessionOperations[0] (line 3) is not an operation of lsarpc that "
        'nullsmb knows; did you mean "lsarpc:LsarLookupSids2"? (got "lsarpc:LsarLookupSid2")',
        id="operation-typo",
    ),
    pytest.param(
        '[shares.data]\ncomment = "no path"\n',
        'server.toml: shares.data (line 1) needs a path, e.g. path = "/srv/data"',
        id="share-without-path",
    ),
    pytest.param(
        '[shares."IPC$"]\npath = "/srv"\n',
        'server.toml: shares."IPC$" (line 1) is reserved: the server provides IPC$ itself',
        id="share-ipc-reserved",
    ),
    pytest.param(
        '[shares.Data]\npath = "/a"\n[shares.data]\npath = "/b"\n',
        'server.toml: shares.data (line 3) repeats the share "Data" (share names ignore case)',
        id="share-twice",
    ),
    pytest.param(
        '[shares."a/b"]\npath = "/a"\n',
        'server.toml: shares."a/b" (line 1) must not contain control characters or any of '
        '" * / : < > ? \\ |',
        id="share-name-chars",
    ),
    pytest.param(
        '[shares.data]\npath = "/a"\naccess = { Everyone = "write" }\n',
        'server.toml: shares.data.access.Everyone (line 3) must be "read", "change", "full" or '
        '"deny" (got "write")',
        id="access-right",
    ),
    pytest.param(
        '[shares.data]\npath = "/a"\naccess = { Everyon = "read" }\n',
        'server.toml: shares.data.access.Everyon (line 3) is not a known principal; '
        'did you mean "Everyone"?',
        id="access-principal-typo",
    ),
    pytest.param(
        '[shares.data]\npath = "/a"\n[shares.data.access]\nEveryone = "read"\nzed = "full"\n',
        "server.toml: shares.data.access.zed (line 5) is not a known principal (name a user, one "
        "of their groups, or Everyone, ANONYMOUS LOGON, Authenticated Users, Users, Guests, "
        "Guest, Administrators)",
        id="access-principal-unknown",
    ),
    pytest.param(
        '[shares.data]\npath = "/a"\naccess = ["Everyone"]\n',
        'server.toml: shares.data.access (line 3) must be a table of principal = '
        '"read" | "change" | "full" | "deny"',
        id="access-not-table",
    ),
    pytest.param(
        '[users.alice]\npassword = "secret"\nnt_hash = "8846f7eaee8fb117ad06bdd830b7586c"\n',
        "server.toml: users.alice.nt_hash (line 3) and password are mutually exclusive: give one",
        id="password-and-hash",
    ),
    pytest.param(
        '[users.alice]\ngroups = []\n',
        "server.toml: users.alice (line 1) needs a password or an nt_hash",
        id="no-password",
    ),
    pytest.param(
        '[users.alice]\nnt_hash = "8846f7eaee8fb117ad06bdd830b7586"\n',
        "server.toml: users.alice.nt_hash (line 2) must be 32 hex digits",
        id="nt-hash-short",
    ),
    pytest.param(
        '[users.alice]\npassword = "x"\ngroups = ["Everyone"]\n',
        "server.toml: users.alice.groups[0] (line 3) must not be Everyone, ANONYMOUS LOGON, "
        'Authenticated Users or Users: every user is in them (got "Everyone")',
        id="implicit-group",
    ),
    pytest.param(
        '[users.Guest]\npassword = "x"\n',
        "server.toml: users.Guest (line 1) is a built-in principal, not a user name",
        id="user-name-builtin",
    ),
    pytest.param(
        'users = ["alice"]\n',
        "server.toml: users (line 1) must be a table of [users.NAME] tables",
        id="users-not-table",
    ),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_error_message(in_tmp: Path, text: str, message: str) -> None:
    error = load_error(text)
    assert str(error) == message
    assert "\n" not in str(error)


def test_error_fields(in_tmp: Path) -> None:
    error = load_error('[policy]\nRestrictAnonymous = 3\n')
    assert (error.file, error.key, error.line) == ("server.toml", "policy.RestrictAnonymous", 2)
    assert error.problem == "must be 0, 1 or 2 (got 3)"


def test_secrets_never_appear_in_messages(in_tmp: Path) -> None:
    error = load_error('[users.alice]\nnt_hash = "s3cr3t-not-hex-s3cr3t-not-hex-xx"\n')
    assert "s3cr3t" not in str(error)
    error = load_error('[users.alice]\npassword = "s3cr3t"\nnt_hash = "x"\n')
    assert "s3cr3t" not in str(error)


def test_toml_syntax_error_names_the_line(in_tmp: Path) -> None:
    error = load_error('[server]\nnetbios_name = "A"\nworkgroup "B"\n')
    assert error.line == 3 and error.key is None
    assert str(error).startswith("server.toml (line 3): invalid TOML: ")
    assert "(column " in str(error) and "at line" not in str(error)


def test_toml_error_at_end_of_file(in_tmp: Path) -> None:
    error = load_error('[server]\nlisten = ["a:1",\n')
    assert str(error).startswith("server.toml (line ")
    assert "invalid TOML" in str(error)


def test_missing_file(in_tmp: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config("nope.toml")
    assert str(info.value) == "nope.toml: cannot read: No such file or directory"


def test_directory_instead_of_file(in_tmp: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(".")
    assert str(info.value) == ".: cannot read: Is a directory"


def test_not_utf8(in_tmp: Path) -> None:
    (in_tmp / "server.toml").write_bytes(b'[server]\nworkgroup = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_config("server.toml")
    assert str(info.value) == "server.toml (line 2): is not UTF-8 text"


def test_error_line_after_a_multiline_string_that_looks_like_keys(in_tmp: Path) -> None:
    error = load_error(
        '''
        [shares.data]
        path = "/a"
        comment = """
        [policy]
        read_only = 5
        """
        read_only = "no"
        '''
    )
    assert str(error) == "server.toml: shares.data.read_only (line 7) must be true or false"


# --- ListenAddr ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:4445", "127.0.0.1", 4445),
        ("[::1]:445", "::1", 445),
        ("0.0.0.0:445", "0.0.0.0", 445),
        ("localhost:4445", "localhost", 4445),
    ],
)
def test_listen_addr_round_trip(text: str, host: str, port: int) -> None:
    addr = ListenAddr.parse(text)
    assert addr == ListenAddr(host, port)
    assert str(addr) == text


@pytest.mark.parametrize(
    "text", ["", ":445", "host", "host:", "host:0", "host:65536", "::1:445", "[::1]", "[x]:1",
             "300.1.1.1:445", "a b:445", "host:４４５"],
)
def test_listen_addr_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        ListenAddr.parse(text)


# --- default_config and apply_overrides ------------------------------------------------------


def test_default_config(tmp_path: Path) -> None:
    config = default_config(tmp_path)
    assert config.source is None
    assert config.server.listen == (ListenAddr("127.0.0.1", 4445),)
    assert config.server.map_to_guest == "never"
    assert config.server.state_dir == tmp_path / ".nullsmb"
    assert config.admin.listen == ListenAddr("127.0.0.1", 8445)
    assert config.admin.token_file == tmp_path / ".nullsmb" / "admin.token"
    assert config.audit.file == str(tmp_path / "audit.jsonl")
    assert config.users == ()
    assert config.shares == (
        ShareConfig(
            "public",
            tmp_path / "nullsmb-share",
            comment="nullsmb demo share",
            read_only=False,
            access=(("Everyone", "read"), ("ANONYMOUS LOGON", "read")),
        ),
    )
    assert config.policy == PolicySettings(
        NullSessionShares=("public",), NullSessionPipes=("srvsvc",)
    )


def test_overrides_replace_listen_and_add_shares(in_tmp: Path) -> None:
    base = default_config(in_tmp)
    config = apply_overrides(
        base,
        listen=["0.0.0.0:445", "[::]:445", "0.0.0.0:445"],
        shares=["data=/srv/data:ro", "scratch=rel/dir", "PUBLIC=/other"],
    )
    assert config.server.listen == (ListenAddr("0.0.0.0", 445), ListenAddr("::", 445))
    public, data, scratch = config.shares
    assert public == dataclasses.replace(base.shares[0], path=Path("/other"))
    assert data == ShareConfig("data", Path("/srv/data"), read_only=True)
    assert data.access == (("Everyone", "read"),)
    assert scratch == ShareConfig("scratch", in_tmp / "rel" / "dir", read_only=False)
    assert config.policy == base.policy  # a CLI share is not opened to null sessions
    assert apply_overrides(base) == base


def test_share_override_can_make_a_share_writable(tmp_path: Path) -> None:
    base = apply_overrides(default_config(tmp_path), shares=["public=/p:ro"])
    assert base.shares[0].read_only
    assert not apply_overrides(base, shares=["public=/p:rw"]).shares[0].read_only


@pytest.mark.parametrize(
    ("listen", "shares", "message"),
    [
        (["nohost"], [], '--listen: must be HOST:PORT or [IPV6]:PORT, e.g. 0.0.0.0:445 or '
                         '[::1]:445 (got "nohost")'),
        (["127.0.0.1:8445"], [], "--listen: 127.0.0.1:8445 is also the admin address "
                                 "127.0.0.1:8445: give one another port"),
        ([], ["data"], '--share: must be NAME=PATH[:ro] (got "data")'),
        ([], ["data="], '--share: must be NAME=PATH[:ro] (got "data=")'),
        ([], ["=/srv"], "--share: share name must be 1 to 80 characters, without leading or "
                        'trailing spaces (got "")'),
        ([], ["ipc$=/srv"], "--share: share name is reserved: the server provides IPC$ itself "
                            '(got "ipc$")'),
    ],
)
def test_override_errors(tmp_path: Path, listen: list[str], shares: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides(default_config(tmp_path), listen=listen, shares=shares)
    assert str(info.value) == message


# --- parse_policy, ConfigError and the rule tables -------------------------------------------


def test_parse_policy() -> None:
    policy = parse_policy({"RestrictAnonymous": 1, "NullSessionPipes": ["\\PIPE\\samr"]})
    assert policy == PolicySettings(RestrictAnonymous=1, NullSessionPipes=("samr",))
    with pytest.raises(ConfigError) as info:
        parse_policy({"RestrictAnonymous": 9}, file="hklm.reg")
    assert str(info.value) == "hklm.reg: policy.RestrictAnonymous must be 0, 1 or 2 (got 9)"


def test_null_session_operations_are_interface_colon_operation() -> None:
    entries = ["srvsvc:NetrShareEnum", "LSARPC:lsarlookupsids2", "samr:SamrConnect5"]
    assert parse_policy({"NullSessionOperations": entries}).NullSessionOperations == tuple(entries)
    assert parse_policy({"NullSessionOperations": []}).NullSessionOperations == ()  # set, empty
    assert parse_policy({}).NullSessionOperations is None  # not set: no narrowing


def test_config_error_formats() -> None:
    assert str(ConfigError("f", "k", 3, "p")) == "f: k (line 3) p"
    assert str(ConfigError("f", "k", None, "p")) == "f: k p"
    assert str(ConfigError("f", line=3, problem="p")) == "f (line 3): p"
    assert str(ConfigError("--share", problem="p")) == "--share: p"
    assert str(ConfigError("", problem="p")) == "p"


def test_config_error_survives_pickling() -> None:
    error = ConfigError("server.toml", "policy.NullSessionPipes", 12, "must be a list of pipe names")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) == (
        "server.toml: policy.NullSessionPipes (line 12) must be a list of pipe names"
    )
    assert (copy.file, copy.key, copy.line, copy.problem) == (error.file, error.key, 12, error.problem)


@pytest.mark.parametrize(
    ("settings", "rules"),
    [
        (ServerSettings, cfg._SERVER_RULES),
        (AdminSettings, cfg._ADMIN_RULES),
        (AuditSettings, cfg._AUDIT_RULES),
        (PolicySettings, cfg._POLICY_RULES),
    ],
)
def test_every_setting_has_a_rule(settings: type, rules: dict[str, object]) -> None:
    assert [f.name for f in dataclasses.fields(settings)] == list(rules)


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ServerSettings().signing = "required"  # type: ignore[misc]


# --- [[manager.servers]] (Server Manager: several servers in one view) ----------------------------


def test_manager_servers_load_with_paths_beside_the_file(in_tmp: Path) -> None:
    write(in_tmp, """
        [[manager.servers]]
        name = "branch"
        url = "http://10.0.0.5:8445/"
        token_file = "branch.token"

        [[manager.servers]]
        name = "hq"
        url = "https://hq.example.com:8445"
        token_file = "/etc/nullsmb/hq.token"
    """)
    config = load_config("server.toml")
    assert config.manager == cfg.ManagerSettings((
        cfg.ManagedServer("branch", "http://10.0.0.5:8445", in_tmp / "branch.token"),
        cfg.ManagedServer("hq", "https://hq.example.com:8445", Path("/etc/nullsmb/hq.token")),
    ))


def test_manager_defaults_to_no_servers(in_tmp: Path) -> None:
    write(in_tmp, "")
    assert load_config("server.toml").manager == cfg.ManagerSettings(())
    assert default_config(in_tmp).manager.servers == ()


_ONE = '[[manager.servers]]\nname = "a"\nurl = "http://127.0.0.1:8445"\ntoken_file = "a.token"\n'


@pytest.mark.parametrize(("text", "message"), [
    pytest.param(
        _ONE + '\n[[manager.servers]]\nname = "b"\nurl = "ftp://x"\ntoken_file = "b"\n',
        "server.toml: manager.servers[1].url (line 8) must be an http:// or https:// URL of an "
        'admin API, e.g. "http://10.0.0.5:8445" (got "ftp://x")',
        id="url-scheme",
    ),
    pytest.param(
        _ONE + '\n[[manager.servers]]\nname = "A"\nurl = "http://h:1"\ntoken_file = "b"\n',
        'server.toml: manager.servers[1].name (line 7) repeats the server "a" (server names ignore case)',
        id="name-repeated",
    ),
    pytest.param(
        '[[manager.servers]]\nname = "b"\nurl = "http://h:1"\n',
        "server.toml: manager.servers[0] (line 1) needs token_file (each server needs name, url "
        "and token_file)",
        id="missing-key",
    ),
    pytest.param(
        '[[manager.servers]]\nname = "b"\nurl = "http://h:1"\ntoken_file = "t"\ntoken = "x"\n',
        'server.toml: manager.servers[0].token (line 5) is an unknown key; did you mean "token_file"?',
        id="unknown-key",
    ),
    pytest.param(
        '[[manager.servers]]\nname = "local"\nurl = "http://h:1"\ntoken_file = "t"\n',
        "server.toml: manager.servers[0].name (line 2) is reserved for this server",
        id="name-local",
    ),
    pytest.param(
        '[manager]\nservers = "x"\n',
        "server.toml: manager.servers (line 2) must be [[manager.servers]] tables (name, url, token_file)",
        id="servers-not-tables",
    ),
    pytest.param(
        '[manager]\nserver = []\n',
        'server.toml: manager.server (line 2) is an unknown key; did you mean "servers"?',
        id="manager-unknown-key",
    ),
    pytest.param(
        '[[manager.servers]]\nname = "b c"\nurl = "http://h:1"\ntoken_file = "t"\n',
        "server.toml: manager.servers[0].name (line 2) must be 1 to 64 letters, digits, '-', '_' "
        "or '.' (got \"b c\")",
        id="name-chars",
    ),
])
def test_manager_errors(in_tmp: Path, text: str, message: str) -> None:
    assert str(load_error(text)) == message
