"""Many hosts (probe.runner.probe_many): bounded concurrency, lazy targets, one host's bug
stays that host's. The per-host probe is replaced by a stand-in here; the real one runs
against real servers in tests/integration/test_probe.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from nullsmb.probe import runner
from nullsmb.probe.evidence import Outcome
from nullsmb.probe.findings import assess
from nullsmb.probe.runner import HostReport, probe_many
from nullsmb.probe.steps.common import ProbeOptions
from nullsmb.probe.targets import Target

from .builders import host


async def test_concurrency_is_bounded_and_targets_drawn_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    in_flight = peak = drawn = done = 0
    lag = []

    def targets() -> Iterator[Target]:
        nonlocal drawn
        for i in range(50):
            drawn += 1
            lag.append(drawn - done)
            yield Target(f"10.0.0.{i}", 445, f"10.0.0.{i}")

    async def fake(target: Target, options: ProbeOptions, **_: object) -> HostReport:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001 * (hash(target.host) % 5))
        in_flight -= 1
        ev = host()
        return HostReport(ev, assess(ev))

    results: list[HostReport] = []

    def on_result(r: HostReport) -> None:
        nonlocal done
        done += 1
        results.append(r)

    monkeypatch.setattr(runner, "probe_host", fake)
    await probe_many(targets(), ProbeOptions(), on_result, concurrency=7)
    assert len(results) == 50 and peak == 7
    assert max(lag) <= 7  # never more targets taken than workers


async def test_a_bug_in_one_host_is_that_hosts_result(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fake(target: Target, options: ProbeOptions, **_: object) -> HostReport:
        if target.host.endswith(".2"):
            raise KeyError("boom")
        ev = host()
        return HostReport(ev, assess(ev))

    monkeypatch.setattr(runner, "probe_host", fake)
    results: list[HostReport] = []
    await probe_many((Target(f"10.0.0.{i}", 445, f"10.0.0.{i}") for i in range(4)), ProbeOptions(),
                     results.append, concurrency=2)
    assert len(results) == 4
    [broken] = [r for r in results if r.evidence.host == "10.0.0.2"]
    assert broken.verdict.status == "error" and "KeyError" in broken.evidence.connect.detail


async def test_cancellation_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fake(target: Target, options: ProbeOptions, **_: object) -> HostReport:
        await asyncio.sleep(10)
        raise AssertionError("not reached")

    monkeypatch.setattr(runner, "probe_host", fake)
    task = asyncio.ensure_future(probe_many([Target("10.0.0.1", 445, "x")], ProbeOptions(), lambda r: None))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_internal_error_report_is_assessed_as_error() -> None:
    report = runner._internal_error(Target("10.0.0.9", 445, "10.0.0.9"), RuntimeError("x"))
    assert report.verdict.status == "error" and report.evidence.connect.kind == "internal"
    assert isinstance(report.evidence.connect, Outcome)
