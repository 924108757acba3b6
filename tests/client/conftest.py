"""The reference Samba for the RPC client tests: real ``smbd`` processes on free loopback ports,
started by tests/support/refsamba.py (our own copy of the team's reference configuration, so a
clean clone needs nothing outside the repository). A missing ``smbd`` FAILS the tests: CI installs
the ``samba`` package, and a skipped interoperability test must never pass for a tested one.

Three servers, session-scoped: ``restrict anonymous`` = 0 (alice and null sessions), 1 and 2
(the denials Samba answers to null sessions).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.refsamba import HOST, PASSWORD, SambaServer, running_samba
from support.refsamba import USER as ALICE

__all__ = ["ALICE", "HOST", "NETBIOS", "PASSWORD", "SambaServer"]

NETBIOS = "ANCHORSAMBA"  # the reference's NetBIOS name, as in the replayed captures


def _samba(tmp_path_factory: pytest.TempPathFactory, restrict_anonymous: int) -> Iterator[SambaServer]:
    root = tmp_path_factory.mktemp(f"samba-ra{restrict_anonymous}")
    with running_samba(root, restrict_anonymous=restrict_anonymous, netbios=NETBIOS) as server:
        yield server


@pytest.fixture(scope="session")
def samba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    """restrict anonymous = 0: null sessions may enumerate."""
    yield from _samba(tmp_path_factory, 0)


@pytest.fixture(scope="session")
def samba_ra1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    """restrict anonymous = 1: no share list, server info or SAM for null sessions."""
    yield from _samba(tmp_path_factory, 1)


@pytest.fixture(scope="session")
def samba_ra2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    """restrict anonymous = 2: null sessions do not even reach IPC$."""
    yield from _samba(tmp_path_factory, 2)
