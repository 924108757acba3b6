"""policy.importer: Windows .reg exports and secedit INFs in the encodings Windows writes them in."""

from __future__ import annotations

from pathlib import Path

import pytest

from nullsmb.config import PolicySettings, parse_policy
from nullsmb.policy.importer import PolicyImportError, import_policy, read_policy_export

FIXTURES = Path(__file__).parent.parent / "fixtures" / "policy"
LANMAN = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters"
LSA = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Lsa"


def utf16(text: str) -> bytes:
    """What regedit 5 and secedit write: UTF-16LE with a BOM and CRLF line ends."""
    return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")


def hex7(*names: str, encoding: str = "utf-16-le") -> str:
    blob = b"".join(n.encode(encoding) + "\0".encode(encoding) for n in names) + "\0".encode(encoding)
    return ",".join(f"{b:02x}" for b in blob)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- the committed fixtures: real-looking exports ------------------------------------------------


def test_regedit5_utf16_fixture() -> None:
    raw = (FIXTURES / "hklm_v5.reg").read_bytes()
    assert raw.startswith(b"\xff\xfeW\x00i\x00n\x00")  # UTF-16LE with BOM, as regedit writes
    values, warnings = import_policy(FIXTURES / "hklm_v5.reg")
    assert values == {
        "NullSessionPipes": ["netlogon", "samr", "lsarpc"],  # hex(7) over three continued lines
        "NullSessionShares": [],
        "RestrictNullSessAccess": 1,  # value names match in any case
        "EveryoneIncludesAnonymous": 0,
        "RestrictAnonymous": 1,
        "RestrictAnonymousSAM": 1,
        "TurnOffAnonymousBlock": 0,
    }
    shown = str(FIXTURES / "hklm_v5.reg")
    assert warnings == [
        f"{shown} line 4: LanmanServer\\Parameters\\AutoShareServer is not a null-session setting: ignored",
        f"{shown} line 5: LanmanServer\\Parameters\\enableauthenticateusersharing is not a null-session "
        "setting: ignored",
        f"{shown} line 11: LanmanServer\\Parameters\\ServiceDll is not a null-session setting: ignored",
        f"{shown} line 14: key {LANMAN}\\FsctlAllowlist holds no null-session setting: its values are ignored",
        f"{shown} line 18: Lsa\\auditbasedirectories is not a null-session setting: ignored",
        f"{shown} line 20: Lsa\\LimitBlankPasswordUse is not a null-session setting: ignored",
    ]
    assert parse_policy(values) == PolicySettings(NullSessionPipes=("netlogon", "samr", "lsarpc"),
                                                  RestrictAnonymous=1)


def test_regedit4_ansi_fixture() -> None:
    values, warnings = import_policy(FIXTURES / "hklm_regedit4.reg")
    assert values == {
        "NullSessionShares": ["COMCFG"],  # REG_SZ, as on older systems
        "NullSessionPipes": ["COMNAP", "COMNODE", "SQL\\QUERY", "SPOOLSS", "LLSRPC", "browser"],
        "RestrictNullSessAccess": 1,
        "RestrictAnonymous": 2,
    }
    assert warnings == []


def test_secedit_inf_fixture() -> None:
    raw = (FIXTURES / "secedit.inf").read_bytes()
    assert raw.startswith(b"\xff\xfe[\x00U\x00")  # UTF-16LE with BOM, as secedit writes
    found = read_policy_export(FIXTURES / "secedit.inf")
    assert found.format == "inf"
    assert found.values == {
        "LSAAnonymousNameLookup": 0,  # [System Access]: not a registry value
        "EveryoneIncludesAnonymous": 0,
        "RestrictAnonymous": 1,
        "RestrictAnonymousSAM": 1,
        "NullSessionPipes": ["netlogon", "samr", "lsarpc"],  # 7,a,b,c
        "NullSessionShares": [],  # 7, (empty)
        "RestrictNullSessAccess": 1,
    }
    assert found.lines["RestrictAnonymous"] == 15
    tails = [w.split(": ", 1)[1] for w in found.warnings]
    assert tails == [
        "[System Access] MinimumPasswordAge is not a null-session setting: ignored",
        "[System Access] MaximumPasswordAge is not a null-session setting: ignored",
        "[System Access] EnableGuestAccount is not a null-session setting: ignored",
        "section [Event Audit] ignored (2 entries)",
        "MACHINE\\Software\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon\\CachedLogonsCount is not a "
        "null-session setting: ignored",
        "Lsa\\LimitBlankPasswordUse is not a null-session setting: ignored",
        "section [Privilege Rights] ignored (2 entries)",
    ]


# --- encodings -----------------------------------------------------------------------------------

REG5 = f"""Windows Registry Editor Version 5.00

[{LSA}]
"RestrictAnonymous"=dword:00000001
"""


@pytest.mark.parametrize("encode", [
    pytest.param(utf16, id="utf-16le-bom"),
    pytest.param(lambda t: t.encode("utf-16-le"), id="utf-16le-no-bom"),
    pytest.param(lambda t: b"\xfe\xff" + t.encode("utf-16-be"), id="utf-16be-bom"),
    pytest.param(lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"), id="utf-8-bom"),
    pytest.param(lambda t: t.encode("ascii"), id="ascii"),
    pytest.param(lambda t: t.replace("\n", "\r\n").encode("ascii"), id="ascii-crlf"),
])
def test_encodings(tmp_path: Path, encode) -> None:
    assert import_policy(write(tmp_path, "x.reg", encode(REG5))) == ({"RestrictAnonymous": 1}, [])


def test_broken_utf16_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyImportError, match=r"x\.reg: is not valid UTF-16"):
        import_policy(write(tmp_path, "x.reg", b"\xff\xfe" + "REGEDIT4".encode("utf-16-le") + b"\x00\xd8A\x00"))


# --- .reg details --------------------------------------------------------------------------------


def test_reg_value_forms(tmp_path: Path) -> None:
    pipes = hex7("netlogon", "samr", "lsarpc")
    half = len(pipes) // 2 // 3 * 3  # split between two bytes, as regedit wraps
    text = f"""Windows Registry Editor Version 5.00
; a comment

[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]
"NullSessionPipes"=hex(7):{pipes[:half]}\\
   {pipes[half:]}
"NullSessionShares"=""
@="default value"
"RestrictNullSessAccess"=dword:0

[HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa]
"RestrictAnonymous"=hex(4):02,00,00,00
"RestrictAnonymousSAM"="1"
"EveryoneIncludesAnonymous"=-
"TurnOffAnonymousBlock"=dword:00000001
"TurnOffAnonymousBlock"=dword:00000000

[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Old]
[HKEY_CURRENT_USER\\Software\\Other]
"RestrictAnonymous"=dword:00000002
"""
    found = read_policy_export(write(tmp_path, "x.reg", utf16(text)))
    assert found.values == {
        "NullSessionPipes": ["netlogon", "samr", "lsarpc"],
        "NullSessionShares": [],  # REG_SZ "" on older systems: no share
        "RestrictNullSessAccess": 0,
        "RestrictAnonymous": 2,  # hex(4) is a REG_DWORD written as bytes
        "TurnOffAnonymousBlock": 0,  # the later value wins
    }
    assert found.lines == {"NullSessionPipes": 5, "NullSessionShares": 7, "RestrictNullSessAccess": 9,
                           "RestrictAnonymous": 12, "TurnOffAnonymousBlock": 16}
    tails = [w.split(" line ", 1)[1] for w in found.warnings]
    assert tails == [
        "8: LanmanServer\\Parameters\\(Default) is not a null-session setting: ignored",
        "13: Lsa\\RestrictAnonymousSAM is REG_SZ, expected REG_DWORD: ignored",
        "14: deletion of Lsa\\EveryoneIncludesAnonymous ignored",
        "16: TurnOffAnonymousBlock set again (first on line 15): the later value wins",
        "18: deletion of key HKEY_LOCAL_MACHINE\\SOFTWARE\\Old ignored",
        "19: key HKEY_CURRENT_USER\\Software\\Other holds no null-session setting: its values are ignored",
    ]


def test_reg_values_are_returned_as_found(tmp_path: Path) -> None:
    """Range checks are parse_policy's, which the CLI runs with the line of the value."""
    text = f'REGEDIT4\n\n[{LSA}]\n"RestrictAnonymous"=dword:00000005\n'
    values, warnings = import_policy(write(tmp_path, "x.reg", text.encode("ascii")))
    assert values == {"RestrictAnonymous": 5}


def test_reg_bad_data_is_a_warning(tmp_path: Path) -> None:
    text = f"""Windows Registry Editor Version 5.00

[{LANMAN}]
"NullSessionPipes"=hex(7):6e,00,7
"RestrictNullSessAccess"=dword:zz
"NullSessionShares"=hex(7):6e,00,00
garbage
"""
    values, warnings = import_policy(write(tmp_path, "x.reg", utf16(text)))
    assert values == {}
    assert [w.split(": ", 1)[1] for w in warnings] == [
        "LanmanServer\\Parameters\\NullSessionPipes: bad hex data: ignored",
        "LanmanServer\\Parameters\\RestrictNullSessAccess: bad dword 'zz': ignored",
        "LanmanServer\\Parameters\\NullSessionShares: odd-length UTF-16 data: ignored",
        "not a registry value line: 'garbage'",
    ]


def test_regedit4_multi_sz_is_ansi(tmp_path: Path) -> None:
    text = f'REGEDIT4\n\n[{LANMAN}]\n"NullSessionPipes"=hex(7):{hex7("samr", "lsarpc", encoding="ascii")}\n'
    assert import_policy(write(tmp_path, "x.reg", text.encode("ascii")))[0] == {
        "NullSessionPipes": ["samr", "lsarpc"]}


# --- INF details ---------------------------------------------------------------------------------


def test_inf_value_forms(tmp_path: Path) -> None:
    text = r"""[Unicode]
Unicode=yes
[System Access]
LSAAnonymousNameLookup = yes
[Registry Values]
MACHINE\System\CurrentControlSet\Services\LanManServer\Parameters\NullSessionPipes=7,"netlogon", "samr"
MACHINE\System\CurrentControlSet\Services\LanManServer\Parameters\NullSessionShares=1,""
MACHINE\System\CurrentControlSet\Control\Lsa\RestrictAnonymous=4,2
MACHINE\System\CurrentControlSet\Control\Lsa\TurnOffAnonymousBlock=1,"1"
MACHINE\System\CurrentControlSet\Control\Lsa\RestrictAnonymousSAM=x
[Version]
signature="$CHICAGO$"
"""
    values, warnings = import_policy(write(tmp_path, "policy.inf", utf16(text)))
    assert values == {"NullSessionPipes": ["netlogon", "samr"], "NullSessionShares": [], "RestrictAnonymous": 2}
    assert [w.split(": ", 1)[1] for w in warnings] == [
        "LSAAnonymousNameLookup = 'yes' is not a number: ignored",
        "Lsa\\TurnOffAnonymousBlock is REG_SZ, expected REG_DWORD: ignored",
        "MACHINE\\System\\CurrentControlSet\\Control\\Lsa\\RestrictAnonymousSAM: no registry type before the "
        "value: ignored",
    ]


def test_inf_in_utf8(tmp_path: Path) -> None:
    text = "[System Access]\nLSAAnonymousNameLookup = 1\n"
    assert import_policy(write(tmp_path, "p.inf", text.encode()))[0] == {"LSAAnonymousNameLookup": 1}


# --- not an export -------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyImportError, match=r"nope\.reg: cannot read"):
        import_policy(tmp_path / "nope.reg")


@pytest.mark.parametrize("data", [b"", b"[policy]\nRestrictAnonymous = 1\n", b"\x00\x01\x02garbage"])
def test_neither_format(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(PolicyImportError) as info:
        import_policy(write(tmp_path, "x.txt", data))
    assert str(info.value).startswith(f"{tmp_path / 'x.txt'}: is neither a registry export")
