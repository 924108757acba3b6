"""The rich report (probe.report): statuses verbatim, principals apart, no markup injection."""

from __future__ import annotations

from rich.console import Console

from nullsmb.probe.findings import assess
from nullsmb.probe.jsonout import Summary
from nullsmb.probe.report import render_host, render_summary
from nullsmb.probe.runner import HostReport

from .builders import REFUSED, access, disk, host, samr_open, sessions, srvsvc_closed


def text_of(*reports: HostReport) -> str:
    console = Console(record=True, width=140, color_system=None)
    summary = Summary()
    for r in reports:
        render_host(console, r)
        summary.add(r)
    render_summary(console, summary)
    return console.export_text()


def test_report_shows_statuses_principals_settings_and_fixes() -> None:
    ev = host(sessions_=sessions(guest="guest"), accesses=(
        access(open_pipes=("samr",), rpcs=srvsvc_closed() + samr_open(), shares=(disk("public"),)),
        access("guest")))
    out = text_of(HostReport(ev, assess(ev)))
    for text in ("STATUS_ACCESS_DENIED", "STATUS_SUCCESS", "null", "guest", "IS_GUEST", "Inferred settings",
                 "RestrictAnonymousSAM", "HIGH", "user-enum", "How to fix", "Windows:", "Samba:", "nullsmb:",
                 "1 host(s)", "exit code 1", "readable"):
        assert text in out, text


def test_unreachable_is_one_line() -> None:
    ev = host(connect=REFUSED)
    out = text_of(HostReport(ev, assess(ev)))
    assert "unreachable: ECONNREFUSED Connection refused" in out and "exit code 0" in out


def test_server_names_cannot_inject_markup() -> None:
    ev = host(accesses=(access(shares=(disk("[red]evil[/red]"),)),))
    out = text_of(HostReport(ev, assess(ev)))
    assert "[red]evil[/red]" in out
