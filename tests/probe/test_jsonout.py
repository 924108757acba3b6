"""JSON output (probe.jsonout) against docs/probe-schema.json, with evidence built by hand."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest

from nullsmb.probe.evidence import Outcome, Result
from nullsmb.probe.findings import assess
from nullsmb.probe.jsonout import SCHEMA_VERSION, DocumentWriter, Summary, host_json, write_jsonl
from nullsmb.probe.runner import HostReport

from .builders import REFUSED, access, disk, host, lsa_open, samr_open, sessions, srvsvc_open

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "probe-schema.json").read_text())
DOCUMENT = jsonschema.Draft202012Validator(SCHEMA)
HOST = jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": "#/$defs/host"})


def report(evidence) -> HostReport:  # type: ignore[no-untyped-def]
    return HostReport(evidence, assess(evidence))


REPORTS = {
    "exposed": report(host(sessions_=sessions(guest="guest", user=True), accesses=(
        access(open_pipes=("srvsvc", "lsarpc", "samr"), rpcs=srvsvc_open() + lsa_open() + samr_open(),
               shares=(disk("public"), disk("drop", write=Outcome(Result.OK, "STATUS_SUCCESS", 0, "ntstatus")))),
        access("guest", shares=(disk("public"),)), access("user")))),
    "unreachable": report(host(connect=REFUSED)),
    "incomplete": report(host(accesses=(access(),), incomplete="the host did not finish within 1 s")),
    "odd names": report(host(accesses=(access(shares=(disk("caf\u00e9 [bold]\ud800"),)),))),
}


@pytest.mark.parametrize("name", list(REPORTS))
def test_host_objects_follow_the_schema(name: str) -> None:
    obj = json.loads(json.dumps(host_json(REPORTS[name]), ensure_ascii=True))
    HOST.validate(obj)
    assert obj["schema_version"] == SCHEMA_VERSION == SCHEMA["properties"]["schema_version"]["const"]


def test_schema_requires_what_host_json_writes() -> None:
    """No silent drift: every field written is described, and every described field written."""
    obj = host_json(REPORTS["exposed"])
    assert set(obj) == set(SCHEMA["$defs"]["host"]["properties"])
    share = obj["access"][0]["shares"][1]
    assert set(share) == set(SCHEMA["$defs"]["share"]["properties"])
    finding = obj["verdict"]["findings"][0]
    assert set(finding) == set(SCHEMA["$defs"]["finding"]["properties"])


def test_unreachable_host_object() -> None:
    obj = host_json(REPORTS["unreachable"])
    assert obj["reachable"] is False and obj["transport"] is None and obj["sessions"] == []
    assert obj["connect"] == {"result": "disconnected", "status": "ECONNREFUSED", "code": 111, "kind": "socket",
                              "detail": "Connection refused"}


@pytest.mark.parametrize("count", [0, 1, 3])
def test_document_is_streamed_and_valid(count: int) -> None:
    out = io.StringIO()
    writer = DocumentWriter(out, tool_version="0.1.0", started="2026-01-01T00:00:00Z", options={"port": 445})
    summary = Summary()
    for r in list(REPORTS.values())[:count]:
        writer.add(r)
        summary.add(r)
    writer.finish(summary, "2026-01-01T00:00:05Z")
    doc = json.loads(out.getvalue())
    DOCUMENT.validate(doc)
    assert len(doc["hosts"]) == count and doc["summary"]["hosts"] == count


def test_summary_and_exit_code() -> None:
    s = Summary()
    s.add(REPORTS["unreachable"])
    s.add(REPORTS["incomplete"])
    assert s.exit_code == 0 and (s.reachable, s.unreachable) == (1, 1)
    s.add(REPORTS["exposed"])
    assert s.exit_code == 1 and s.findings["high"] >= 2


def test_jsonl_one_line_per_host() -> None:
    out = io.StringIO()
    for r in REPORTS.values():
        write_jsonl(out, r)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(REPORTS)
    for line in lines:
        HOST.validate(json.loads(line))
        assert line.isascii()
