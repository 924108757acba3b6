"""srvsvc (MS-SRVS): placeholder until its operations land; binds succeed, every opnum faults
nca_s_op_rng_error."""

from __future__ import annotations

from ..pipe import Interface, Operation

__all__ = ["INTERFACE"]

OPERATIONS: dict[int, Operation] = {}

INTERFACE = Interface("srvsvc", "4b324fc8-1670-01d3-1278-5a47bf6ee188", (3,0), OPERATIONS)
