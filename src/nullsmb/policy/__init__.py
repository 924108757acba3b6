"""The null-session policy (design.md §4) as a pure function.

``null_session``: ``decide``/``explain``/``evaluate`` and the SMB gates the core calls;
``rpc_rules``: one row per RPC operation and level; ``model``: principals, actions, decisions;
``settings``: the settings' Windows homes and where effective values come from; ``importer``:
Windows .reg and secedit INF files; ``cli``: ``nullsmb policy``.
"""

from .null_session import (
    Action,
    Decision,
    Principal,
    PrincipalKind,
    RpcCall,
    ShareRef,
    decide,
    evaluate,
    explain,
)

__all__ = ["Action", "Decision", "Principal", "PrincipalKind", "RpcCall", "ShareRef", "decide",
           "evaluate", "explain"]
