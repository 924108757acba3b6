"""The human-readable report: one block per host (rich), a progress bar, a summary.

Rules:
1. Rendering only: everything shown comes from ``HostReport`` (evidence and verdict); nothing
   here decides anything.
2. Every status is shown as the server sent it (``STATUS_ACCESS_DENIED``, ``WERR_OK``); the
   three principals are separate columns (null / guest / user), never merged.
3. Hosts are printed as they finish; the progress bar goes to stderr, and only to a terminal.
4. Text from servers (names, remarks) is escaped: it can never inject rich markup.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .evidence import PRINCIPALS, HostEvidence, Outcome, PrincipalAccess, Result
from .findings import Finding, Severity
from .jsonout import Summary
from .runner import HostReport

__all__ = ["render_host", "render_summary"]

_STYLE = {Result.OK: "green", Result.DENIED: "red", Result.UNAVAILABLE: "dim", Result.FAILED: "yellow",
          Result.TIMEOUT: "yellow", Result.DISCONNECTED: "yellow", Result.SKIPPED: "dim"}
_SEVERITY_STYLE = {Severity.HIGH: "bold red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan", Severity.INFO: "dim"}


def _cell(o: Outcome | None, extra: str = "") -> Text:
    if o is None:
        return Text("-", style="dim")
    word = o.evidence() if o.result is not Result.SKIPPED else "skipped"
    return Text(word + (f" {extra}" if extra else ""), style=_STYLE[o.result])


def _transport_lines(ev: HostEvidence) -> list[str]:
    t = ev.transport
    if t is None:
        return []
    smb1 = {True: "[red]offered[/]", False: "not offered", None: "unknown"}[t.smb1.offered]
    dialects = ", ".join(t.offered_dialects) or "none"
    signing = {True: "required", False: "[yellow]not required[/]", None: "unknown"}[t.signing_required]
    ciphers = sorted({d.cipher for d in t.dialects if d.cipher})
    lines = [f"SMB1 {smb1} · SMB2/3 dialects {escape(dialects)} · signing {signing} · encryption "
             + (", ".join(ciphers) if ciphers else "no")]
    if t.server_guid:
        lines.append(f"server GUID {t.server_guid}")
    n = t.ntlm
    if n.outcome.ok:
        names = [f"{label} {escape(v)}" for label, v in (
            ("NetBIOS", n.netbios_computer), ("domain", n.netbios_domain), ("DNS", n.dns_computer),
            ("DNS domain", n.dns_domain), ("OS", n.os_version)) if v]
        lines.append("NTLM: " + (", ".join(names) or "no target information"))
    else:
        lines.append(f"NTLM challenge: {escape(n.outcome.evidence())} {escape(n.outcome.detail)}")
    return lines


def _sessions_line(ev: HostEvidence) -> str:
    parts = []
    for s in ev.sessions:
        o = s.outcome
        style = _STYLE[o.result]
        flags = []
        if s.established:
            flags.append(f"dialect {s.dialect}")
            if s.is_guest:
                flags.append("IS_GUEST")
            if s.is_null_flag:
                flags.append("IS_NULL")
        who = s.principal + (f" ({escape(s.user)})" if s.user else "")
        parts.append(f"{who}: [{style}]{escape(o.evidence())}[/]" + (f" ({', '.join(flags)})" if flags else ""))
    return " · ".join(parts) if parts else "not tried"


def _columns(ev: HostEvidence) -> list[PrincipalAccess]:
    order = {p: i for i, p in enumerate(PRINCIPALS)}
    return sorted(ev.access, key=lambda a: order.get(a.principal, 9))


def _grid(title: str, cols: list[PrincipalAccess]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("", style="bold")
    for a in cols:
        table.add_column(a.principal)
    return table


def _shares(cols: list[PrincipalAccess]) -> Table | None:
    names: dict[str, str] = {}
    for a in cols:
        for s in a.shares:
            names.setdefault(s.name.casefold(), s.name)
    if not names:
        return None
    table = _grid("Shares", cols)
    for key, name in names.items():
        row: list[Text | str] = [escape(name)]
        show = False
        for a in cols:
            s = a.share(key)
            if s is None:
                row.append(Text("-", style="dim"))
                continue
            show = show or s.connect.result is not Result.UNAVAILABLE
            if not s.connect.ok:
                row.append(_cell(s.connect))
                continue
            text = Text(s.access, style="red" if s.access == "writable" else "green")
            if s.entries is not None:
                text.append(f" ({s.entries})", style="dim")
            if s.listing is not None and not s.listing.ok:
                text.append(f" list {s.listing.evidence()}", style=_STYLE[s.listing.result])
            if s.write_test is not None and not s.write_test.ok:
                text.append(f" write {s.write_test.evidence()}", style=_STYLE[s.write_test.result])
            row.append(text)
        if show:  # well-known names no principal found are left out (they are in --json)
            table.add_row(*row)
    return table


def _pipes(cols: list[PrincipalAccess]) -> Table | None:
    names = list(dict.fromkeys(p.name for a in cols for p in a.pipes))
    if not names:
        return None
    table = _grid("Pipes", cols)
    for name in names:
        table.add_row(name, *(_cell(a.pipe(name).outcome if a.pipe(name) else None) for a in cols))
    return table


def _rpc(cols: list[PrincipalAccess]) -> Table | None:
    keys = list(dict.fromkeys((r.interface, r.operation, r.level) for a in cols for r in a.rpc
                              if not (r.operation == "bind" and r.outcome.ok)))
    if not keys:
        return None
    table = _grid("RPC", cols)
    for iface, op, level in keys:
        label = f"{iface} {op}" + (f" {level}" if level is not None else "")
        cells = []
        for a in cols:
            r = next((x for x in a.rpc if (x.interface, x.operation, x.level) == (iface, op, level)), None)
            cells.append(_cell(r.outcome if r else None, f"({r.count})" if r is not None and r.count is not None else ""))
        table.add_row(escape(label), *cells)
    return table


def _settings(report: HostReport) -> Table | None:
    if not report.verdict.settings:
        return None
    table = Table(title="Inferred settings", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("setting", style="bold")
    table.add_column("value")
    table.add_column("basis", style="dim")
    for s in report.verdict.settings:
        value = "?" if s.value is None else (", ".join(s.value) or "(none)") if isinstance(s.value, list) else str(s.value)
        table.add_row(s.name, escape(value) + ("" if s.certainty == "observed" else f" ({s.certainty})"),
                      escape(s.basis))
    return table


def _findings(report: HostReport) -> list[object]:
    """Findings grouped by kind (one line for null and guest alike), then each fix once."""
    groups: dict[str, list[Finding]] = {}
    for f in report.verdict.findings:
        groups.setdefault(f.kind, []).append(f)
    if not groups:
        return []
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True, style="bold")
    table.add_column(no_wrap=True)
    table.add_column()
    fixes: dict[tuple[str, str, str], list[str]] = {}
    for kind, items in groups.items():
        f = items[0]
        who = ", ".join(x.principal for x in items if x.principal) or "host"
        detail = Text(f.what)
        for line in f.evidence[:3]:
            detail.append("\n" + line, style="dim")
        if len(f.evidence) > 3:
            detail.append(f"\n... {len(f.evidence) - 3} more in --json", style="dim")
        table.add_row(Text(f.severity.value.upper(), style=_SEVERITY_STYLE[f.severity]), kind, who, detail)
        for x in items:
            if x.severity is not Severity.INFO:
                fixes.setdefault((x.fix.windows, x.fix.samba, x.fix.nullsmb), []).append(x.id)
    out: list[object] = [Text("Findings", style="bold"), table]
    if fixes:
        out.append(Text("How to fix", style="bold"))
        for (windows, samba, nullsmb), ids in fixes.items():
            out.append(Text.assemble((", ".join(ids), "bold"), "\n  Windows: ", windows, "\n  Samba:   ", samba,
                                     "\n  nullsmb: ", nullsmb))
    return out


def render_host(console: Console, report: HostReport) -> None:
    """Rule 1-4: one host's block."""
    ev = report.evidence
    head = f"[bold]{escape(ev.target)}[/]" + (f" ({ev.host}:{ev.port})" if ev.target != f"{ev.host}:{ev.port}" else "")
    if report.verdict.status == "error":
        console.print(f"{head}  [yellow]probe error[/]: {escape(ev.connect.detail)}")
        return
    if not ev.reachable:
        console.print(f"{head}  [yellow]unreachable[/]: {escape(ev.connect.evidence())} {escape(ev.connect.detail)}")
        return
    parts: list[object] = [*_transport_lines(ev), "Sessions: " + _sessions_line(ev)]
    if ev.incomplete:
        parts.append(f"[yellow]incomplete[/]: {escape(ev.incomplete)}")
    cols = _columns(ev)
    for table in (_shares(cols), _pipes(cols), _rpc(cols), _settings(report)):
        if table is not None:
            parts.append(table)
    findings = _findings(report)
    parts.extend(findings if findings else [Text("No findings", style="green")])
    top = report.verdict.highest
    subtitle = f"highest: {top.value}" if top else "no findings"
    console.print(Panel(Group(*parts), title=head + f"  {ev.duration_s:.1f} s", title_align="left",
                        subtitle=subtitle, subtitle_align="right", border_style=_SEVERITY_STYLE.get(top, "green")
                        if top else "green"))


def render_summary(console: Console, summary: Summary, reports: Iterable[HostReport] = ()) -> None:
    f = summary.findings
    console.print(
        f"[bold]{summary.hosts} host(s)[/]: {summary.reachable} assessed, {summary.unreachable} unreachable"
        + (f", {summary.errors} probe errors" if summary.errors else "")
        + f" · findings: [bold red]{f['high']} high[/], [yellow]{f['medium']} medium[/], [cyan]{f['low']} low[/],"
          f" {f['info']} info · exit code {summary.exit_code}"
    )
