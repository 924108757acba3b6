"""``nullsmb probe``: what a null session reaches on an SMB server, with evidence and the fix.

Layout (one module per concern): ``targets`` (TARGET and --rid-range parsing), ``evidence``
(the frozen record of every answer), ``smb1`` and ``ntlm_info`` (sans-I/O parsing of the SMB1
NEGOTIATE answer and the NTLM CHALLENGE), ``steps/`` (one module per probe step, on the async
client), ``runner`` (one host, many hosts, bounded), ``findings`` and ``fixes`` (the verdict, a
pure function of the evidence), ``jsonout`` and ``report`` (output), ``cli``.

Rules:
1. Evidence first: every operation's exact answer is kept; the verdict only reads it.
2. Non-destructive unless --write-tests; never anything beyond one temporary file.
3. Import from here: ``probe_host``, ``probe_many``, ``assess``, ``host_json``.
"""

from importlib import import_module
from typing import Any

# Loaded on first use, so that ``nullsmb --help`` (which registers probe.cli) stays light.
_HOMES = {
    "SCHEMA_VERSION": "jsonout", "host_json": "jsonout",
    "Credentials": "steps.common", "ProbeOptions": "steps.common",
    "Finding": "findings", "Severity": "findings", "Verdict": "findings", "assess": "findings",
    "HostEvidence": "evidence", "Outcome": "evidence", "Result": "evidence",
    "HostReport": "runner", "probe_host": "runner", "probe_many": "runner",
    "Target": "targets", "UsageError": "targets", "iter_targets": "targets", "parse_rid_ranges": "targets",
    "parse_targets": "targets",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)


__all__ = [
    "SCHEMA_VERSION",
    "Credentials",
    "Finding",
    "HostEvidence",
    "HostReport",
    "Outcome",
    "ProbeOptions",
    "Result",
    "Severity",
    "Target",
    "UsageError",
    "Verdict",
    "assess",
    "host_json",
    "iter_targets",
    "parse_rid_ranges",
    "parse_targets",
    "probe_host",
    "probe_many",
]
