"""lsarpc (MS-LSAD/MS-LSAT): placeholder until its operations land; binds succeed, every opnum faults
nca_s_op_rng_error."""

from __future__ import annotations

from ..pipe import Interface, Operation

__all__ = ["INTERFACE"]

OPERATIONS: dict[int, Operation] = {}

INTERFACE = Interface("lsarpc", "12345778-1234-abcd-ef00-0123456789ab", (0,0), OPERATIONS)
