"""TREE_CONNECT (MS-SMB2 3.3.5.7) and TREE_DISCONNECT (3.3.5.8).

Rules:
1. An unknown share is STATUS_BAD_NETWORK_NAME (MS-SMB2 3.3.5.7), whoever asks.
2. The null-session gates and the share's access list decide (policy.null_session); a refusal is
   STATUS_ACCESS_DENIED and an audited 5140 failure naming the rule.
3. On 3.1.1, an unsigned, unencrypted TREE_CONNECT of a user session drops the connection;
   anonymous and guest sessions are exempt (MS-SMB2 3.3.5.7).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...policy.null_session import Right, may_connect_ipc, may_connect_share
from ...status import MalformedMessage, NtStatus, SmbError
from ...wire.session_setup import simple_body
from ...wire.tree import ShareFlags, ShareType, TreeConnectRequest, TreeConnectResponse
from ..context import Reply, RequestContext
from ..state import Session, TreeConnect
from .session import identity_fields

if TYPE_CHECKING:
    from ..connection import ServerConnection

MAXIMAL_ACCESS = {
    Right.READ: 0x001200A9,  # FILE_GENERIC_READ | FILE_GENERIC_EXECUTE
    Right.CHANGE: 0x001301BF,  # read + write + delete (Windows' "Change")
    Right.FULL: 0x001F01FF,  # FILE_ALL_ACCESS
}
IPC_MAXIMAL_ACCESS = 0x001F01FF


def share_name_of(path: str) -> str:
    """``\\\\server\\share`` → ``share`` (MS-SMB2 2.2.9 PathName)."""
    parts = [p for p in path.replace("/", "\\").split("\\") if p]
    if len(parts) != 2:
        raise SmbError(NtStatus.STATUS_BAD_NETWORK_NAME, "malformed share path")
    return parts[1]


async def handle_tree_connect(ctx: RequestContext, req: TreeConnectRequest) -> Reply:
    conn = ctx.conn
    session = ctx.session
    assert session is not None
    if (conn.neg.dialect == 0x0311 and not session.is_anonymous and not session.is_guest
            and not ctx.header.is_signed and not ctx.encrypted):
        raise MalformedMessage("unsigned TREE_CONNECT on a 3.1.1 user session")
    name = share_name_of(req.path)
    share = conn.server.shares.get(name.casefold())
    if share is None:
        raise SmbError(NtStatus.STATUS_BAD_NETWORK_NAME)
    policy = conn.server.policy
    if share.is_ipc:
        decision = may_connect_ipc(session.principal, policy)
        right = Right.FULL
    else:
        decision = may_connect_share(session.principal, share.name, share.access, policy)
        right = decision.right
    audit = identity_fields(conn, session)
    if not decision.allowed:
        conn.server.emit("share_access", event_id=5140, outcome="failure", **audit,
                         share=f"\\\\*\\{share.name}", share_path=share.path, access_mask="0x0",
                         status=NtStatus.name_of(decision.status), rule=decision.rule)
        raise SmbError(decision.status, f"tree connect refused by {decision.rule}")
    if share.is_ipc:
        maximal = IPC_MAXIMAL_ACCESS
    else:
        if share.read_only and right is not Right.READ:
            right = Right.READ
        maximal = MAXIMAL_ACCESS[right]
    tree = TreeConnect(0, share, right, maximal, connected_at=conn.server.clock())
    tree.tree_id = session.tree_connect_table.add(tree)
    ctx.tree = tree
    conn.server.emit("share_access", event_id=5140, outcome="success", **audit,
                     share=f"\\\\*\\{share.name}", share_path=share.path,
                     access_mask=f"0x{maximal:x}", status="STATUS_SUCCESS", rule=decision.rule)
    if share.is_ipc:
        rsp = TreeConnectResponse(ShareType.PIPE, ShareFlags.NO_CACHING, 0, maximal)
    else:
        rsp = TreeConnectResponse(ShareType.DISK, ShareFlags.MANUAL_CACHING, 0, maximal)
    return Reply.of(rsp.encode())


async def disconnect_tree(conn: "ServerConnection", session: Session, tree: TreeConnect, *,
                          keep_durable: bool = False) -> None:
    """Close the tree's opens; ``keep_durable`` (the transport is lost): durable opens are
    kept disconnected instead (``core.durable``)."""
    from .. import durable
    from .create import close_open

    for op in session.open_table:
        if op.tree is tree:
            if keep_durable and op.durable and op.pipe is None:
                await durable.disconnect(conn, session, op)
            else:
                await close_open(conn, session, op)
    session.tree_connect_table.pop(tree.tree_id)
    for areq in list(conn.async_requests.values()):  # what still waits on the tree
        if areq.session is session and areq.tree_id == tree.tree_id:
            areq.cancel()


async def handle_tree_disconnect(ctx: RequestContext, _req: None) -> Reply:
    assert ctx.session is not None and ctx.tree is not None
    await disconnect_tree(ctx.conn, ctx.session, ctx.tree)
    return Reply.of(simple_body())
