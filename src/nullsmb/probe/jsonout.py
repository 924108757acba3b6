"""JSON output: one host as a JSON object, the --json document and --jsonl lines.

The shape is ``docs/probe-schema.json`` (JSON Schema 2020-12), version ``SCHEMA_VERSION``;
tests validate real output against it.

Rules:
1. ``host_json`` is a plain walk over the evidence and the verdict; it adds nothing the
   evidence does not hold (derived values such as ``access`` of a share are the evidence's own
   properties).
2. ``SCHEMA_VERSION`` is "MAJOR.MINOR": a new optional field raises MINOR, a removed or
   changed field raises MAJOR. Every host object carries it, so a --jsonl line stands alone.
3. The --json document is streamed: its head, then each host as it is finished, then the
   summary. Nothing is kept per host but the summary's counters (runner rule 4).
4. Output is ASCII-safe JSON (``ensure_ascii``); names from servers may hold any character.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from .evidence import (
    DialectProbe,
    HostEvidence,
    NtlmInfo,
    Outcome,
    PrincipalAccess,
    RpcProbe,
    SessionProbe,
    ShareProbe,
    Smb1Probe,
    Transport,
)
from .findings import Finding, Setting, Severity, Verdict
from .runner import HostReport

__all__ = ["SCHEMA_VERSION", "DocumentWriter", "Summary", "host_json", "write_jsonl"]

SCHEMA_VERSION = "1.0"
SCHEMA_ID = "https://nullsmb.invalid/probe-schema/1.json"


def _outcome(o: Outcome | None) -> dict[str, Any] | None:
    if o is None:
        return None
    return {"result": o.result.value, "status": o.status, "code": o.code, "kind": o.kind, "detail": o.detail}


def _smb1(s: Smb1Probe) -> dict[str, Any]:
    return {"outcome": _outcome(s.outcome), "offered": s.offered, "signing_enabled": s.signing_enabled,
            "signing_required": s.signing_required, "extended_security": s.extended_security,
            "capabilities": s.capabilities}


def _dialect(d: DialectProbe) -> dict[str, Any]:
    return {"dialect": d.dialect, "outcome": _outcome(d.outcome), "offered": d.offered,
            "signing_required": d.signing_required, "capabilities": d.capabilities, "encryption": d.encryption,
            "cipher": d.cipher, "server_guid": d.server_guid}


def _ntlm(n: NtlmInfo) -> dict[str, Any]:
    return {"outcome": _outcome(n.outcome), "target_name": n.target_name, "netbios_computer": n.netbios_computer,
            "netbios_domain": n.netbios_domain, "dns_computer": n.dns_computer, "dns_domain": n.dns_domain,
            "dns_tree": n.dns_tree, "os_version": n.os_version}


def _transport(t: Transport | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"smb1": _smb1(t.smb1), "dialects": [_dialect(d) for d in t.dialects], "ntlm": _ntlm(t.ntlm),
            "offered_dialects": list(t.offered_dialects), "signing_required": t.signing_required,
            "encryption": t.encryption, "server_guid": t.server_guid}


def _session(s: SessionProbe) -> dict[str, Any]:
    return {"principal": s.principal, "user": s.user, "outcome": _outcome(s.outcome), "established": s.established,
            "is_guest": s.is_guest, "is_null_flag": s.is_null_flag, "session_flags": s.session_flags,
            "dialect": s.dialect, "encrypted": s.encrypted}


def _share(s: ShareProbe) -> dict[str, Any]:
    return {"name": s.name, "source": s.source, "access": s.access, "connect": _outcome(s.connect),
            "listed_type": s.listed_type, "remark": s.remark, "share_type": s.share_type,
            "share_flags": s.share_flags, "maximal_access": s.maximal_access, "listing": _outcome(s.listing),
            "entries": s.entries, "sample": list(s.sample), "write_test": _outcome(s.write_test)}


def _rpc(r: RpcProbe) -> dict[str, Any]:
    return {"interface": r.interface, "operation": r.operation, "level": r.level, "outcome": _outcome(r.outcome),
            "count": r.count, "data": dict(r.data)}


def _access(a: PrincipalAccess) -> dict[str, Any]:
    return {"principal": a.principal, "ipc": _outcome(a.ipc),
            "pipes": [{"name": p.name, "outcome": _outcome(p.outcome)} for p in a.pipes],
            "rpc": [_rpc(r) for r in a.rpc], "shares": [_share(s) for s in a.shares]}


def _setting(s: Setting) -> dict[str, Any]:
    value = list(s.value) if isinstance(s.value, (list, tuple)) else s.value
    return {"name": s.name, "value": value, "certainty": s.certainty, "basis": s.basis}


def _finding(f: Finding) -> dict[str, Any]:
    return {"id": f.id, "kind": f.kind, "severity": f.severity.value, "title": f.title, "principal": f.principal,
            "evidence": list(f.evidence),
            "fix": {"windows": f.fix.windows, "samba": f.fix.samba, "nullsmb": f.fix.nullsmb}}


def _verdict(v: Verdict) -> dict[str, Any]:
    return {"status": v.status, "highest_severity": v.highest.value if v.highest else None,
            "settings": [_setting(s) for s in v.settings], "findings": [_finding(f) for f in v.findings]}


def host_json(report: HostReport) -> dict[str, Any]:
    """Rule 1: one host, as the schema's ``host`` definition."""
    ev: HostEvidence = report.evidence
    return {
        "schema_version": SCHEMA_VERSION,
        "target": ev.target, "host": ev.host, "port": ev.port, "started": ev.started, "duration_s": ev.duration_s,
        "reachable": ev.reachable, "connect": _outcome(ev.connect), "incomplete": ev.incomplete,
        "transport": _transport(ev.transport),
        "sessions": [_session(s) for s in ev.sessions],
        "access": [_access(a) for a in ev.access],
        "verdict": _verdict(report.verdict),
    }


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


class Summary:
    """Counters over the hosts of a run (the only state kept across hosts)."""

    def __init__(self) -> None:
        self.hosts = self.reachable = self.unreachable = self.errors = 0
        self.findings = {s.value: 0 for s in Severity}

    def add(self, report: HostReport) -> None:
        self.hosts += 1
        status = report.verdict.status
        if status == "unreachable":
            self.unreachable += 1
        elif status == "error":
            self.errors += 1
        else:
            self.reachable += 1
        for f in report.verdict.findings:
            self.findings[f.severity.value] += 1

    @property
    def exit_code(self) -> int:
        return 1 if self.findings[Severity.HIGH.value] else 0

    def as_json(self) -> dict[str, Any]:
        return {"hosts": self.hosts, "reachable": self.reachable, "unreachable": self.unreachable,
                "errors": self.errors, "findings": dict(self.findings), "exit_code": self.exit_code}


def write_jsonl(out: TextIO, report: HostReport) -> None:
    """One host per line, flushed at once (rule 2: each line carries the schema version)."""
    out.write(_dump(host_json(report)) + "\n")
    out.flush()


class DocumentWriter:
    """Rule 3: the --json document written as hosts finish."""

    def __init__(self, out: TextIO, *, tool_version: str, started: str, options: dict[str, Any]) -> None:
        self.out = out
        self.first = True
        head = {"$schema": SCHEMA_ID, "schema_version": SCHEMA_VERSION,
                "tool": {"name": "nullsmb probe", "version": tool_version}, "started": started, "options": options}
        text = json.dumps(head, ensure_ascii=True, indent=1)
        self.out.write(text[: text.rstrip().rfind("}")].rstrip() + ',\n "hosts": [\n')

    def add(self, report: HostReport) -> None:
        self.out.write(("" if self.first else ",\n") + _dump(host_json(report)))
        self.first = False
        self.out.flush()

    def finish(self, summary: Summary, finished: str) -> None:
        tail = {"finished": finished, "summary": summary.as_json()}
        self.out.write("\n ],\n " + _dump(tail)[1:-1] + "\n}\n")
        self.out.flush()
