"""The audit trail: typed events with Windows IDs (events), sinks (sink), reader and query (query).

``AuditLog`` is imported lazily so that ``nullsmb audit --help`` and the query code stay light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AuditLog"]


def __getattr__(name: str) -> Any:
    if name == "AuditLog":
        from .sink import AuditLog

        return AuditLog
    raise AttributeError(name)
