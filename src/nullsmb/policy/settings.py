"""The policy settings: their Windows homes and meaning, and where each effective value came from.

Rules:
1. ``SETTINGS`` follows config.PolicySettings field order; a test keeps the two in step.
2. A source is ``"default"`` (PolicySettings' modern Windows default), ``"demo default"`` (what
   ``nullsmb serve`` without --config sets), or ``"FILE line N"`` (``"FILE"`` when the scan of
   the file cannot place the key, e.g. a dotted key outside the [policy] table).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nullsmb.config import PolicySettings, _scan_lines, default_config, load_config

__all__ = ["LANMAN_KEY", "LSA_KEY", "SETTINGS", "Setting", "SourcedValue", "effective_policy"]

LANMAN_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters"
LSA_KEY = r"HKLM\SYSTEM\CurrentControlSet\Control\Lsa"


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    home: str  # where Windows keeps it
    type: str  # its Windows type
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    Setting("RestrictNullSessAccess", LANMAN_KEY, "REG_DWORD",
            "1: null sessions reach only the shares and pipes listed below; 0: only access lists count"),
    Setting("NullSessionShares", LANMAN_KEY, "REG_MULTI_SZ", "shares null sessions may connect to"),
    Setting("NullSessionPipes", LANMAN_KEY, "REG_MULTI_SZ", "pipes null sessions may open"),
    Setting("RestrictAnonymous", LSA_KEY, "REG_DWORD",
            "0: none; 1: no anonymous enumeration of SAM accounts and shares; 2: no access without "
            "explicit anonymous permissions (here: no IPC$ for null sessions)"),
    Setting("RestrictAnonymousSAM", LSA_KEY, "REG_DWORD", "1: no anonymous enumeration of SAM accounts"),
    Setting("EveryoneIncludesAnonymous", LSA_KEY, "REG_DWORD",
            "1: Everyone's permissions apply to anonymous users"),
    Setting("LSAAnonymousNameLookup", "security policy ([System Access] of a secedit INF)", "0|1",
            "1: allow anonymous SID/name translation"),
    Setting("TurnOffAnonymousBlock", LSA_KEY, "REG_DWORD",
            "0: anonymous LsarOpenPolicy refused (MS-LSAD LsaRestrictAnonymous); 1: allowed"),
    Setting("NullSessionOperations", "nullsmb only", "list",
            'if set, the only RPC operations null sessions may call, e.g. ["srvsvc:NetrShareEnum"]'),
)


@dataclass(frozen=True, slots=True)
class SourcedValue:
    setting: Setting
    value: object
    source: str


def effective_policy(config_path: str | None, cwd: Path | None = None) -> tuple[PolicySettings, list[SourcedValue]]:
    """The policy ``nullsmb serve [--config FILE]`` would run with, and each value's source.

    Raises config.ConfigError for a bad file.
    """
    defaults = PolicySettings()
    if config_path is None:
        policy = default_config(cwd or Path.cwd()).policy
        lines: dict[tuple[str | int, ...], int] = {}
        given: set[str] = {f.name for f in dataclasses.fields(policy)
                           if getattr(policy, f.name) != getattr(defaults, f.name)}
        shown = "demo default"
    else:
        policy = load_config(config_path).policy
        text = Path(config_path).expanduser().read_text(encoding="utf-8-sig")
        lines = _scan_lines(text)
        table = tomllib.loads(text).get("policy", {})
        given = set(table) if isinstance(table, dict) else set()
        shown = str(config_path)
    rows = []
    for setting in SETTINGS:
        if setting.name not in given:
            source = "default"
        elif config_path is None:
            source = shown
        else:
            line = lines.get(("policy", setting.name))
            source = f"{shown} line {line}" if line else shown
        rows.append(SourcedValue(setting, getattr(policy, setting.name), source))
    return policy, rows
