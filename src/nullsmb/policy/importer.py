"""Read the null-session policy out of a Windows ``.reg`` export or a ``secedit /export`` INF.

Rules:
1. The format is told by the content, not the file name: a ``.reg`` export starts with
   ``Windows Registry Editor Version 5.00`` or ``REGEDIT4``; a security template has INF
   sections (``[Unicode]``, ``[Version]``, ``[System Access]``, ``[Registry Values]``).
2. Encodings: UTF-16LE/BE with a BOM (what regedit 5 and secedit write), UTF-8 with or without a
   BOM, else Windows-1252 (REGEDIT4 is ANSI). UTF-16LE without a BOM is recognised too.
3. Values are found by their Windows name (any case) under their Windows key:
   LanmanServer\\Parameters (RestrictNullSessAccess, NullSessionShares, NullSessionPipes) and
   Control\\Lsa (RestrictAnonymous, RestrictAnonymousSAM, EveryoneIncludesAnonymous,
   TurnOffAnonymousBlock); an INF's [System Access] holds LSAAnonymousNameLookup. Any
   ControlSetNNN counts as CurrentControlSet (exports of offline hives name those).
4. Anything else — other values of those keys, other keys, other INF sections, deletions, a value
   of the wrong type — is a warning naming the line, never an error: exports carry far more than
   the policy. Only an unreadable file, or one in neither format, is an error.
5. Values are returned as found (ints, lists of names); range checks are config.parse_policy's.
   A REG_SZ NullSessionShares/NullSessionPipes (older systems) is one name, or none when empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ImportedPolicy", "PolicyImportError", "import_policy", "read_policy_export"]

_LANMAN = "services\\lanmanserver\\parameters"
_LSA = "control\\lsa"
_DWORD, _MULTI = "REG_DWORD", "REG_MULTI_SZ"
# key (below CurrentControlSet, case-folded) → {folded name: (Windows name, expected type)}
_KNOWN: dict[str, dict[str, tuple[str, str]]] = {
    _LANMAN: {n.casefold(): (n, t) for n, t in (
        ("RestrictNullSessAccess", _DWORD), ("NullSessionShares", _MULTI), ("NullSessionPipes", _MULTI))},
    _LSA: {n.casefold(): (n, t) for n, t in (
        ("RestrictAnonymous", _DWORD), ("RestrictAnonymousSAM", _DWORD),
        ("EveryoneIncludesAnonymous", _DWORD), ("TurnOffAnonymousBlock", _DWORD),
        ("LSAAnonymousNameLookup", _DWORD))},
}
_SHOWN_KEY = {_LANMAN: "LanmanServer\\Parameters", _LSA: "Lsa"}
_REG_HEADERS = {"windows registry editor version 5.00": "utf-16-le", "regedit4": "cp1252"}
_INF_SECTION_RE = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_INF_SECTIONS = {"unicode", "version", "system access", "registry values", "event audit",
                 "privilege rights", "kerberos policy", "service general setting",
                 "registry keys", "file security", "group membership"}
_REG_VALUE_RE = re.compile(r'^("(?:[^"\\]|\\.)*"|@)\s*=\s*(.*)$')
_HEX_RE = re.compile(r"^hex(?:\(([0-9a-fA-F]+)\))?:(.*)$", re.S)
_REG_TYPES = {0: "REG_NONE", 1: "REG_SZ", 2: "REG_EXPAND_SZ", 3: "REG_BINARY", 4: _DWORD,
              5: "REG_DWORD_BIG_ENDIAN", 6: "REG_LINK", 7: _MULTI, 11: "REG_QWORD"}


class PolicyImportError(Exception):
    """The file cannot be read as either format; ``str()`` is one line naming the file."""


@dataclass(slots=True)
class ImportedPolicy:
    format: str  # "reg" | "inf"
    values: dict[str, object] = field(default_factory=dict)  # Windows name → value
    warnings: list[str] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # Windows name → line it was read from


def import_policy(path: str | Path) -> tuple[dict[str, object], list[str]]:
    """The policy values found in ``path`` by Windows name, and warnings for everything else."""
    found = read_policy_export(path)
    return found.values, found.warnings


def read_policy_export(path: str | Path) -> ImportedPolicy:
    shown = str(path)
    try:
        raw = Path(path).expanduser().read_bytes()
    except OSError as e:
        raise PolicyImportError(f"{shown}: cannot read: {e.strerror or e}") from None
    text = _decode(raw, shown)
    lines = text.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.casefold() in _REG_HEADERS:
        return _Reg(shown, _REG_HEADERS[first.casefold()]).parse(lines)
    if any((m := _INF_SECTION_RE.match(line)) and m.group(1).strip().casefold() in _INF_SECTIONS
           for line in lines):
        return _Inf(shown).parse(lines)
    raise PolicyImportError(
        f"{shown}: is neither a registry export (first line \"Windows Registry Editor Version 5.00\" "
        "or \"REGEDIT4\") nor a secedit /export security template")


def _decode(raw: bytes, shown: str) -> str:
    try:
        if raw.startswith(b"\xff\xfe"):
            return raw[2:].decode("utf-16-le")
        if raw.startswith(b"\xfe\xff"):
            return raw[2:].decode("utf-16-be")
        if raw.startswith(b"\xef\xbb\xbf"):
            return raw[3:].decode("utf-8")
        if len(raw) >= 4 and raw[1] == 0 and raw[3] == 0 and raw[0] != 0:
            return raw.decode("utf-16-le")
    except UnicodeDecodeError as e:
        raise PolicyImportError(f"{shown}: is not valid UTF-16/UTF-8 text ({e.reason})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _policy_key(path: str) -> str | None:
    """``HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Lsa`` → ``control\\lsa``."""
    parts = [p for p in path.strip().casefold().split("\\") if p]
    if len(parts) < 3 or parts[0] not in ("hkey_local_machine", "hklm", "machine") or parts[1] != "system":
        return None
    if parts[2] != "currentcontrolset" and not re.fullmatch(r"controlset\d{3}", parts[2]):
        return None
    rest = "\\".join(parts[3:])
    return rest if rest in _KNOWN else None


class _Parser:
    def __init__(self, shown: str, fmt: str) -> None:
        self.shown = shown
        self.out = ImportedPolicy(fmt)
        self.notes: list[tuple[int, str]] = []

    def warn(self, line: int, text: str) -> None:
        self.notes.append((line, text))

    def done(self) -> ImportedPolicy:
        self.notes.sort(key=lambda note: note[0])  # stable: same-line notes keep their order
        self.out.warnings = [f"{self.shown} line {line}: {text}" for line, text in self.notes]
        return self.out

    def found(self, line: int, key: str, name: str, type_: str, value: object) -> None:
        """A value ``name`` of ``type_`` under ``key`` (a _KNOWN key) on ``line``."""
        known = _KNOWN[key].get(name.casefold())
        where = f"{_SHOWN_KEY[key]}\\{name}"
        if known is None:
            self.warn(line, f"{where} is not a null-session setting: ignored")
            return
        canonical, expected = known
        if expected == _MULTI and type_ == "REG_SZ":  # NullSessionShares as REG_SZ (older systems)
            type_, value = _MULTI, [value] if value else []
        if type_ != expected:
            self.warn(line, f"{where} is {type_}, expected {expected}: ignored")
            return
        if isinstance(value, list):
            value = [v for v in value if v]
        if canonical in self.out.values:
            self.warn(line, f"{canonical} set again (first on line {self.out.lines[canonical]}): "
                            "the later value wins")
        self.out.values[canonical] = value
        self.out.lines[canonical] = line


class _Reg(_Parser):
    def __init__(self, shown: str, multi_sz_encoding: str) -> None:
        super().__init__(shown, "reg")
        self.multi_sz_encoding = multi_sz_encoding

    def parse(self, lines: list[str]) -> ImportedPolicy:
        key: str | None = None
        ignored: tuple[int, str] | None = None  # (line, path) of the current key when not ours
        warned: set[int] = set()  # ignored keys already reported, by line
        header_seen = False
        for number, text in _logical_lines(lines):
            stripped = text.strip()
            if not stripped or stripped.startswith(";"):
                continue
            if not header_seen:
                header_seen = True  # the format line, checked by the caller
                continue
            if stripped.startswith("[") and stripped.endswith("]"):
                path = stripped[1:-1]
                key, ignored = None, None
                if path.startswith("-"):
                    self.warn(number, f"deletion of key {path[1:]} ignored")
                elif (key := _policy_key(path)) is None:
                    ignored = (number, path)
                continue
            m = _REG_VALUE_RE.match(stripped)
            if m is None:
                self.warn(number, f"not a registry value line: {stripped[:60]!r}")
                continue
            name = "(Default)" if m.group(1) == "@" else re.sub(r"\\(.)", r"\1", m.group(1)[1:-1])
            if key is None:
                if ignored is not None and ignored[0] not in warned:
                    warned.add(ignored[0])
                    self.warn(ignored[0], f"key {ignored[1]} holds no null-session setting: its values are ignored")
                elif ignored is None:
                    self.warn(number, f"value {name} outside a key: ignored")
                continue
            parsed = self.data(number, name, m.group(2).strip(), key)
            if parsed is not None:
                self.found(number, key, name, *parsed)
        return self.done()

    def data(self, number: int, name: str, data: str, key: str) -> tuple[str, object] | None:
        where = f"{_SHOWN_KEY[key]}\\{name}"
        if data == "-":
            self.warn(number, f"deletion of {where} ignored")
            return None
        if data.startswith('"') and data.endswith('"') and len(data) >= 2:
            return "REG_SZ", re.sub(r"\\(.)", r"\1", data[1:-1])
        if data.casefold().startswith("dword:"):
            digits = data[6:].strip()
            if not re.fullmatch(r"[0-9a-fA-F]{1,8}", digits):
                self.warn(number, f"{where}: bad dword {digits!r}: ignored")
                return None
            return _DWORD, int(digits, 16)
        m = _HEX_RE.match(data)
        if m is None:
            self.warn(number, f"{where}: unreadable data {data[:40]!r}: ignored")
            return None
        type_number = int(m.group(1), 16) if m.group(1) else 3
        digits = re.sub(r"[\s,\\]", "", m.group(2))
        try:
            blob = bytes.fromhex(digits)
        except ValueError:
            self.warn(number, f"{where}: bad hex data: ignored")
            return None
        type_ = _REG_TYPES.get(type_number, f"REG type {type_number}")
        if type_number == 7:
            encoding = self.multi_sz_encoding
            if encoding == "utf-16-le" and len(blob) % 2:
                self.warn(number, f"{where}: odd-length UTF-16 data: ignored")
                return None
            return _MULTI, [s for s in blob.decode(encoding, errors="replace").split("\x00") if s]
        if type_number == 4 and len(blob) == 4:
            return _DWORD, int.from_bytes(blob, "little")
        return type_, blob


def _logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """Join ``\\`` continuations of hex data; each logical line keeps its first line number."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, line in enumerate(lines, 1):
        if pending is not None:
            start, text = pending
            text += line.strip()
        else:
            start, text = number, line
        if text.rstrip().endswith("\\") and "=hex" in text.replace(" ", "").casefold():
            pending = (start, text.rstrip()[:-1])
            continue
        pending = None
        out.append((start, text))
    if pending is not None:
        out.append(pending)
    return out


class _Inf(_Parser):
    def __init__(self, shown: str) -> None:
        super().__init__(shown, "inf")

    def parse(self, lines: list[str]) -> ImportedPolicy:
        section, section_line = "", 1
        others: dict[str, tuple[int, int]] = {}  # ignored section → (line, entries)
        for number, text in enumerate(lines, 1):
            stripped = text.strip()
            if not stripped or stripped.startswith(";"):
                continue
            if m := _INF_SECTION_RE.match(stripped):
                section, section_line = m.group(1).strip(), number
                continue
            folded = section.casefold()
            if folded in ("unicode", "version"):
                continue
            name, eq, value = stripped.partition("=")
            name, value = name.strip(), value.strip()
            if folded == "system access":
                if name.casefold() != "lsaanonymousnamelookup":
                    self.warn(number, f"[System Access] {name} is not a null-session setting: ignored")
                elif not re.fullmatch(r"\d+", value):
                    self.warn(number, f"LSAAnonymousNameLookup = {value!r} is not a number: ignored")
                else:
                    self.found(number, _LSA, "LSAAnonymousNameLookup", _DWORD, int(value))
            elif folded == "registry values" and eq:
                self.registry_value(number, name, value)
            else:
                line, count = others.get(section, (section_line, 0))
                others[section] = (line, count + 1)
        for section, (line, count) in others.items():
            what = f"section [{section}]" if section else "text before the first section"
            self.warn(line, f"{what} ignored ({count} entr{'y' if count == 1 else 'ies'})")
        return self.done()

    def registry_value(self, number: int, path: str, value: str) -> None:
        key_path, _, name = path.rpartition("\\")
        key = _policy_key(key_path)
        if key is None:
            self.warn(number, f"{path} is not a null-session setting: ignored")
            return
        type_text, _, data = value.partition(",")
        if not type_text.strip().isdigit():
            self.warn(number, f"{path}: no registry type before the value: ignored")
            return
        type_number = int(type_text)
        type_ = _REG_TYPES.get(type_number, f"REG type {type_number}")
        parsed: object
        if type_number == 4:
            if not re.fullmatch(r"\s*\d+\s*", data):
                self.warn(number, f"{path}: {data!r} is not a number: ignored")
                return
            parsed = int(data)
        elif type_number == 7:
            parsed = [_unquote(item) for item in data.split(",")] if data.strip() else []
        elif type_number in (1, 2):
            parsed = _unquote(data)
        else:
            parsed = data
        self.found(number, key, name, type_, parsed)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text
