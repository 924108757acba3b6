"""RPC interfaces served on IPC$ pipes: one module per interface (srvsvc, wkssvc, lsarpc, samr),
each exporting an ``Interface`` (rpc.pipe) whose opnum table maps to ``Operation`` handlers.

A handler is ``def handler(call: CallContext, r: NdrReader) -> bytes``: it reads the [in]
parameters in IDL order, sets ``call.status`` (and ``call.returned``) for the audit hook, and
returns the [out] parameters and return value written with an ``NdrWriter``.
"""

__all__: list[str] = []
