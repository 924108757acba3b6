"""wkssvc (MS-WKST): placeholder until its operations land; binds succeed, every opnum faults
nca_s_op_rng_error."""

from __future__ import annotations

from ..pipe import Interface, Operation

__all__ = ["INTERFACE"]

OPERATIONS: dict[int, Operation] = {}

INTERFACE = Interface("wkssvc", "6bffd098-a112-3610-9833-46c3f87e345a", (1,0), OPERATIONS)
