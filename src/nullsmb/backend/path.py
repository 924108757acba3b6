"""SMB2 CREATE names to validated components (MS-SMB2 2.2.13, MS-FSCC 2.1.5, MS-FSA 2.1.5.1).

Rules:
1. A CREATE name is relative to the share root and backslash-separated (MS-SMB2 2.2.13).
   '/' is accepted as a separator too (Samba maps it; Windows would call it invalid).
2. One leading separator is tolerated and stripped here (rename targets may carry it); the
   SMB2 CREATE handler refuses it first with INVALID_PARAMETER (MS-SMB2 3.3.5.9, what Windows
   and Samba answer). Two leading separators (``\\\\server\\share``) -> OBJECT_NAME_INVALID.
3. One trailing separator is allowed ("this is a directory"): ``ParsedName.trailing_separator``
   tells the core, which answers OBJECT_NAME_INVALID for it with FILE_NON_DIRECTORY_FILE
   (MS-FSA 2.1.5.1). An empty component anywhere else (``a\\\\b``) -> OBJECT_NAME_INVALID.
4. ``""`` (and ``"\\"``) is the share root: ``()``.
5. ``..`` anywhere -> OBJECT_PATH_SYNTAX_BAD: nothing is ever resolved upward, so every ``..``
   is treated as Samba treats one that escapes the share. ``.`` -> OBJECT_NAME_INVALID (what
   Samba answers for a ``.`` component; NTFS has no entry of that name either).
6. A drive letter (``C:`` or ``C:\\...``) -> OBJECT_NAME_INVALID; ``C:x`` is file ``C``, stream
   ``x`` (rule 7).
7. Stream syntax (MS-FSCC 2.1.5, stream names) is allowed on the last component only:
   ``name::$DATA`` (the type case-insensitive) is the file itself
   (``ParsedName.default_stream``); any other well-formed stream (``name:s``, ``name:s:$DATA``,
   ``dir::$INDEX_ALLOCATION``) -> OBJECT_NAME_NOT_FOUND, what Samba answers on a share without
   FILE_NAMED_STREAMS; a malformed one (``name:``, ``:s``, ``name::``, ``name:s:DATA``) or ':'
   in an inner component -> OBJECT_NAME_INVALID.
8. Each component: non-empty, at most 255 UTF-16 code units (MS-FSCC 2.1.5; NTFS's limit),
   no C0 control characters, none of ``< > : " | ? * \\ /`` (MS-FSCC 2.1.5: wildcards and
   reserved characters), no surrogate code points (lone surrogates survive the wire's
   ``surrogatepass`` decoding but have no file system spelling), no trailing space or dot
   (Win32 strips them, so such names are unreachable from Windows and would alias: rejected
   instead of stripped), not a DOS device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9 and the
   superscript-digit forms, with or without an extension, any case: a share must never reach a
   device). All of these -> OBJECT_NAME_INVALID.
9. A whole name longer than 32767 UTF-16 code units -> NAME_TOO_LONG (cannot arrive over SMB2:
   NameLength is 16 bits of bytes; kept as a guard for other callers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..status import NtStatus, SmbError

__all__ = ["ParsedName", "is_valid_name", "parse_name", "split_path"]

MAX_COMPONENT = 255  # UTF-16 code units
MAX_NAME = 32767  # UTF-16 code units

_FORBIDDEN = frozenset('<>:"|?*\\/')
_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"{p}{d}" for p in ("COM", "LPT") for d in "0123456789\u00b9\u00b2\u00b3"]
)
_DRIVE = re.compile(r"[A-Za-z]:(\\\\|$)")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class ParsedName:
    """A validated CREATE name: components plus what the separators and stream suffix said."""

    components: tuple[str, ...]
    trailing_separator: bool = False  # "a\\b\\": the client insists on a directory
    default_stream: bool = False  # "a::$DATA": the unnamed data stream, i.e. the file itself


def _utf16_len(s: str) -> int:
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


def _component_status(comp: str) -> NtStatus | None:
    """Why ``comp`` cannot be a file name (rule 5 and 8), or None when it can."""
    if comp == "..":
        return NtStatus.STATUS_OBJECT_PATH_SYNTAX_BAD
    if not comp or comp == "." or _utf16_len(comp) > MAX_COMPONENT:
        return NtStatus.STATUS_OBJECT_NAME_INVALID
    for ch in comp:
        if ord(ch) < 0x20 or ch in _FORBIDDEN:
            return NtStatus.STATUS_OBJECT_NAME_INVALID
    if _SURROGATE.search(comp) or comp[-1] in " .":
        return NtStatus.STATUS_OBJECT_NAME_INVALID
    if comp.split(".", 1)[0].rstrip(" ").upper() in _DEVICES:
        return NtStatus.STATUS_OBJECT_NAME_INVALID
    return None


def is_valid_name(component: str) -> bool:
    """True when ``component`` is a legal single file name (module rule 8)."""
    return _component_status(component) is None


def _split_stream(last: str) -> tuple[str, bool]:
    """Rule 7: return (file name, default_stream) or raise for any other stream."""
    base, _, spec = last.partition(":")
    if not base:
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_INVALID, "stream without a file name")
    parts = spec.split(":")
    if len(parts) > 2:
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_INVALID, "malformed stream name")
    stream = parts[0]
    stype = parts[1] if len(parts) == 2 else None
    if stype is not None and (len(stype) < 2 or not stype.startswith("$")):
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_INVALID, "malformed stream type")
    if not stream and stype is None:
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_INVALID, "empty stream name")
    for ch in stream + (stype or ""):
        if ord(ch) < 0x20 or ch in _FORBIDDEN:
            raise SmbError(NtStatus.STATUS_OBJECT_NAME_INVALID, "invalid stream name")
    if not stream and stype is not None and stype.upper() == "$DATA":
        return base, True
    # A well-formed named stream (or a non-data type): this share has no FILE_NAMED_STREAMS.
    _check(base)
    raise SmbError(NtStatus.STATUS_OBJECT_NAME_NOT_FOUND, "named streams are not supported")


def parse_name(name: str) -> ParsedName:
    """Validate an SMB2 CREATE name (MS-SMB2 2.2.13) and split it; raises SmbError (rules)."""
    if _utf16_len(name) > MAX_NAME:
        raise SmbError(NtStatus.STATUS_NAME_TOO_LONG, "name longer than 32767 characters")
    s = name.replace("/", "\\")
    if s.startswith("\\\\"):
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_INVALID, "UNC path in a CREATE name")
    if s.startswith("\\"):
        s = s[1:]
    if not s:
        return ParsedName(())
    if _DRIVE.match(s):
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_INVALID, "drive letter in a CREATE name")
    trailing = s.endswith("\\")
    if trailing:
        s = s[:-1]
    parts = s.split("\\")
    for comp in parts[:-1]:
        _check(comp)
    default_stream = False
    if ":" in parts[-1]:
        parts[-1], default_stream = _split_stream(parts[-1])
    _check(parts[-1])
    return ParsedName(tuple(parts), trailing, default_stream)


def _check(comp: str) -> None:
    status = _component_status(comp)
    if status is not None:
        raise SmbError(status, f"invalid name component {comp[:64]!r}")


def split_path(name: str) -> tuple[str, ...]:
    """The validated components of a CREATE name; ``()`` is the share root (see ``parse_name``)."""
    return parse_name(name).components
