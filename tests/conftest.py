"""Suite-wide rules.

In CI (``CI`` set, as .ci/run runs) a test skipped because a tool or package is missing fails
instead: .ci/run installs every tool the tests need, so such a skip means the set-up broke, and a
skipped test must never pass for a tested one.
"""

from __future__ import annotations

import os

import pytest

MISSING_TOOL = ("not installed", "could not import", "no module named")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not os.environ.get("CI") or not report.skipped:
        return
    reason = str(report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr)
    if any(text in reason.lower() for text in MISSING_TOOL):
        report.outcome = "failed"
        report.longrepr = f"CI must install what this test needs: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if not os.environ.get("CI") or not report.skipped:
        return
    reason = str(report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr)
    if any(text in reason.lower() for text in MISSING_TOOL):
        report.outcome = "failed"
        report.longrepr = f"CI must install what this module needs: {reason}"
