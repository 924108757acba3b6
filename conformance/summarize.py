"""Summarise smbtorture subunit output of conformance/smbtorture.sh: per suite ok/fail/skip.

Usage: summarize.py DIR [SUITE ...]           the table for every suite (default: all found)
       summarize.py --line DIR SUITE          one progress line
       summarize.py --json DIR [SUITE ...]    the figures as JSON

Rules:
1. A subtest counts once, by its last result line: ``success:`` is ok, ``failure:``/``error:``
   is fail, ``skip:`` is skip (``xfail:`` counts as fail: it did not pass).
2. A suite killed by its timeout (exit 124/137) is marked TIMEOUT; its finished subtests count.
3. The ratio is nullsmb's ok subtests over Samba's on the suites both ran.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

RESULT = re.compile(r"^(success|successful|failure|fail|error|skip|xfail|uxsuccess):\s*(.*?)\s*(?:\[.*)?$")
KIND = {"success": "ok", "successful": "ok", "failure": "fail", "fail": "fail", "error": "fail",
        "xfail": "fail", "uxsuccess": "ok", "skip": "skip"}
SERVERS = ("nullsmb", "samba")


def parse(path: Path) -> dict[str, str]:
    """subtest name → ok | fail | skip."""
    results: dict[str, str] = {}
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return results
    for line in text.splitlines():
        m = RESULT.match(line)
        if m:
            results[m.group(2)] = KIND[m.group(1)]
    return results


def suite_figures(out: Path, server: str, suite: str) -> dict | None:
    path = out / server / f"{suite}.out"
    if not path.exists():
        return None
    results = parse(path)
    counts = {k: sum(1 for v in results.values() if v == k) for k in ("ok", "fail", "skip")}
    rc_file = out / server / f"{suite}.rc"
    rc, secs = (rc_file.read_text().split() + ["?", "?"])[:2] if rc_file.exists() else ("?", "?")
    counts["timeout"] = rc in ("124", "137")
    counts["seconds"] = secs
    counts["results"] = results
    return counts


def cell(f: dict | None) -> str:
    if f is None:
        return "-"
    text = f"{f['ok']:>3} {f['fail']:>3} {f['skip']:>3}"
    return text + (" TIMEOUT" if f["timeout"] else "")


def suites_in(out: Path) -> list[str]:
    names = {p.stem for s in SERVERS for p in (out / s).glob("*.out")}
    return sorted(names)


def main(argv: list[str]) -> int:
    mode = "table"
    if argv and argv[0] in ("--line", "--json"):
        mode = argv.pop(0)[2:]
    if not argv:
        print(__doc__)
        return 2
    out = Path(argv[0])
    suites = argv[1:] or suites_in(out)
    figures = {s: {srv: suite_figures(out, srv, s) for srv in SERVERS} for s in suites}
    if mode == "line":
        s = suites[0]
        print(f"{s:<28} nullsmb {cell(figures[s]['nullsmb']):<22} samba {cell(figures[s]['samba'])}",
              flush=True)
        return 0
    if mode == "json":
        slim = {s: {srv: ({k: v for k, v in f.items() if k != "results"} if f else None)
                    for srv, f in d.items()} for s, d in figures.items()}
        print(json.dumps(slim, indent=2))
        return 0
    print(f"{'suite':<28} {'nullsmb ok/fail/skip':<22} {'samba ok/fail/skip':<22} note")
    tot = {srv: [0, 0, 0] for srv in SERVERS}
    both_ok = [0, 0]
    for s in suites:
        ns, sa = figures[s]["nullsmb"], figures[s]["samba"]
        note = ""
        if ns and sa:
            both_ok[0] += ns["ok"]
            both_ok[1] += sa["ok"]
            if ns["fail"] and not sa["fail"]:
                note = "fails only in nullsmb"
            elif ns["ok"] < sa["ok"]:
                note = f"{sa['ok'] - ns['ok']} fewer ok"
        for srv, f in (("nullsmb", ns), ("samba", sa)):
            if f:
                for i, k in enumerate(("ok", "fail", "skip")):
                    tot[srv][i] += f[k]
        print(f"{s:<28} {cell(ns):<22} {cell(sa):<22} {note}")
    print(f"{'total':<28} {'%3d %3d %3d' % tuple(tot['nullsmb']):<22} "
          f"{'%3d %3d %3d' % tuple(tot['samba']):<22}")
    if both_ok[1]:
        ratio = both_ok[0] / both_ok[1]
        print(f"nullsmb ok / Samba ok = {both_ok[0]}/{both_ok[1]} = {ratio:.1%} (target 80%)")
        return 0 if ratio >= 0.8 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
