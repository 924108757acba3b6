"""CREATE-name validation (nullsmb.backend.path): a table of inputs -> components or NTSTATUS."""

from __future__ import annotations

import pytest

from nullsmb.backend.path import ParsedName, is_valid_name, parse_name, split_path
from nullsmb.status import NtStatus, SmbError

S = NtStatus

OK_CASES = [
    ("", ()),
    ("\\", ()),
    ("/", ()),
    ("a", ("a",)),
    ("a\\b\\c.txt", ("a", "b", "c.txt")),
    ("\\a\\b", ("a", "b")),  # one leading backslash (macOS, Samba strips it)
    ("a/b/c", ("a", "b", "c")),  # '/' mapped like Samba
    ("/etc/passwd", ("etc", "passwd")),  # share-relative, never the host's /etc
    ("a\\b\\", ("a", "b")),  # trailing separator: a directory
    ("file::$DATA", ("file",)),
    ("dir\\file::$data", ("dir", "file")),
    (".hidden", (".hidden",)),
    ("a..b", ("a..b",)),
    ("..a", ("..a",)),
    (" lead", (" lead",)),
    ("com10", ("com10",)),
    ("CONSOLE", ("CONSOLE",)),
    ("lpt", ("lpt",)),
    ("x" * 255, ("x" * 255,)),
    ("\U0001f600" * 127, ("\U0001f600" * 127,)),  # 254 UTF-16 code units
    ("caf\u00e9\\\u65e5\u672c", ("caf\u00e9", "\u65e5\u672c")),
    ("trailing\\name::$DATA", ("trailing", "name")),
]

BAD_CASES = [
    ("..", S.STATUS_OBJECT_PATH_SYNTAX_BAD),
    ("..\\..\\etc\\passwd", S.STATUS_OBJECT_PATH_SYNTAX_BAD),
    ("../../etc/passwd", S.STATUS_OBJECT_PATH_SYNTAX_BAD),
    ("a\\..\\b", S.STATUS_OBJECT_PATH_SYNTAX_BAD),
    ("a\\..", S.STATUS_OBJECT_PATH_SYNTAX_BAD),
    ("x\\..\\y:stream", S.STATUS_OBJECT_PATH_SYNTAX_BAD),  # inner components first
    (".", S.STATUS_OBJECT_NAME_INVALID),
    ("a\\.\\b", S.STATUS_OBJECT_NAME_INVALID),
    ("...", S.STATUS_OBJECT_NAME_INVALID),
    (".. ", S.STATUS_OBJECT_NAME_INVALID),
    ("C:\\Windows", S.STATUS_OBJECT_NAME_INVALID),
    ("c:", S.STATUS_OBJECT_NAME_INVALID),
    ("C:/Windows/win.ini", S.STATUS_OBJECT_NAME_INVALID),
    ("\\\\server\\share", S.STATUS_OBJECT_NAME_INVALID),
    ("//server/share", S.STATUS_OBJECT_NAME_INVALID),
    ("a\\\\b", S.STATUS_OBJECT_NAME_INVALID),
    ("a//b", S.STATUS_OBJECT_NAME_INVALID),
    ("a\\\\", S.STATUS_OBJECT_NAME_INVALID),
    ("file:stream", S.STATUS_OBJECT_NAME_NOT_FOUND),
    ("file:stream:$DATA", S.STATUS_OBJECT_NAME_NOT_FOUND),
    ("dir::$INDEX_ALLOCATION", S.STATUS_OBJECT_NAME_NOT_FOUND),
    ("C:x", S.STATUS_OBJECT_NAME_NOT_FOUND),
    ("file:", S.STATUS_OBJECT_NAME_INVALID),
    ("file::", S.STATUS_OBJECT_NAME_INVALID),
    (":stream", S.STATUS_OBJECT_NAME_INVALID),
    ("file:s:DATA", S.STATUS_OBJECT_NAME_INVALID),
    ("file:s:$DATA:x", S.STATUS_OBJECT_NAME_INVALID),
    ("file:s*:$DATA", S.STATUS_OBJECT_NAME_INVALID),
    ("dir:x\\file", S.STATUS_OBJECT_NAME_INVALID),
    ("CON::$DATA", S.STATUS_OBJECT_NAME_INVALID),
    ("CON", S.STATUS_OBJECT_NAME_INVALID),
    ("con", S.STATUS_OBJECT_NAME_INVALID),
    ("nul.txt", S.STATUS_OBJECT_NAME_INVALID),
    ("NUL.tar.gz", S.STATUS_OBJECT_NAME_INVALID),
    ("Aux", S.STATUS_OBJECT_NAME_INVALID),
    ("prn.", S.STATUS_OBJECT_NAME_INVALID),
    ("COM1", S.STATUS_OBJECT_NAME_INVALID),
    ("com9.log", S.STATUS_OBJECT_NAME_INVALID),
    ("LPT1", S.STATUS_OBJECT_NAME_INVALID),
    ("lpt\u00b9", S.STATUS_OBJECT_NAME_INVALID),
    ("COM1 .txt", S.STATUS_OBJECT_NAME_INVALID),
    ("dir\\con\\file", S.STATUS_OBJECT_NAME_INVALID),
    ("a.", S.STATUS_OBJECT_NAME_INVALID),
    ("a ", S.STATUS_OBJECT_NAME_INVALID),
    ("dir.\\a", S.STATUS_OBJECT_NAME_INVALID),
    ("a*", S.STATUS_OBJECT_NAME_INVALID),
    ("a?", S.STATUS_OBJECT_NAME_INVALID),
    ("a<b", S.STATUS_OBJECT_NAME_INVALID),
    ("a>b", S.STATUS_OBJECT_NAME_INVALID),
    ('a"b', S.STATUS_OBJECT_NAME_INVALID),
    ("a|b", S.STATUS_OBJECT_NAME_INVALID),
    ("a\x00b", S.STATUS_OBJECT_NAME_INVALID),
    ("a\x1fb", S.STATUS_OBJECT_NAME_INVALID),
    ("a\nb", S.STATUS_OBJECT_NAME_INVALID),
    ("a\ud800b", S.STATUS_OBJECT_NAME_INVALID),  # lone surrogate (surrogatepass decoding)
    ("a\udcffb", S.STATUS_OBJECT_NAME_INVALID),  # would alias a raw 0xFF byte on disk
    ("x" * 256, S.STATUS_OBJECT_NAME_INVALID),
    ("\U0001f600" * 128, S.STATUS_OBJECT_NAME_INVALID),  # 256 UTF-16 code units
    ("a\\" + "x" * 256 + "\\b", S.STATUS_OBJECT_NAME_INVALID),
    ("\\".join(["x" * 200] * 164), S.STATUS_NAME_TOO_LONG),  # 32964 code units
]


@pytest.mark.parametrize(("name", "expected"), OK_CASES, ids=[repr(c[0][:24]) for c in OK_CASES])
def test_valid_names(name: str, expected: tuple[str, ...]) -> None:
    assert split_path(name) == expected


@pytest.mark.parametrize(("name", "status"), BAD_CASES, ids=[repr(c[0][:24]) for c in BAD_CASES])
def test_invalid_names(name: str, status: NtStatus) -> None:
    with pytest.raises(SmbError) as info:
        split_path(name)
    assert info.value.status == status, NtStatus.name_of(info.value.status)


def test_parse_name_flags() -> None:
    assert parse_name("a\\b\\") == ParsedName(("a", "b"), trailing_separator=True)
    assert parse_name("a\\b::$DATA") == ParsedName(("a", "b"), default_stream=True)
    assert parse_name("a") == ParsedName(("a",))
    assert parse_name("") == ParsedName(())


def test_is_valid_name() -> None:
    for good in ("a", "a.b", ".git", "x" * 255, "COM10", "caf\u00e9"):
        assert is_valid_name(good), good
    for bad in ("", ".", "..", "a/b", "a\\b", "a:b", "CON", "a.", "a ", "x" * 256, "\ud800"):
        assert not is_valid_name(bad), bad


def test_longest_name_accepted() -> None:
    name = "\\".join(["x" * 255] * 128)  # 32767 code units exactly
    assert len(name) == 32767
    assert len(split_path(name)) == 128
