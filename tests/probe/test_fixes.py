"""The fixes table (probe.fixes): every row names a real setting for all three targets."""

from __future__ import annotations

import re

from nullsmb.config import PolicySettings
from nullsmb.probe.fixes import FIXES, fix_for


def test_rows_are_complete() -> None:
    for kind, fix in FIXES.items():
        assert fix.windows and fix.samba and fix.nullsmb, kind


def test_nullsmb_keys_exist() -> None:
    """Every [policy] key a fix names is a real nullsmb policy setting."""
    fields = set(PolicySettings.__dataclass_fields__)
    for kind, fix in FIXES.items():
        for key in re.findall(r"\[policy\] (\w+)", fix.nullsmb):
            assert key in fields, (kind, key)


def test_samba_options_are_smb_conf_lines() -> None:
    for kind, fix in FIXES.items():
        if fix.samba.startswith("["):
            assert re.match(r"\[(global|share)\] [a-z ]+ = ", fix.samba), (kind, fix.samba)


def test_guest_findings_are_closed_at_the_logon() -> None:
    assert "Guest account status" in fix_for("user-enum", "guest").windows
    assert fix_for("user-enum", "null") is FIXES["user-enum"]
