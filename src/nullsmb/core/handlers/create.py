"""CREATE (MS-SMB2 3.3.5.9) and CLOSE (3.3.5.10).

Rules:
1. Opens on IPC$ are named pipes: the null-session gate first (MS-SRVS 3.1.6.17), then the pipe
   table; an unknown pipe is STATUS_OBJECT_NAME_NOT_FOUND.
2. Requested access is mapped (GENERIC_*, MAXIMUM_ALLOWED) and must fit the tree's maximal
   access; creating or overwriting needs the share's change right.
3. Unknown create contexts are ignored; MxAc and QFid are answered (MS-SMB2 2.2.14.2.5, .9).
4. Every open, allowed or refused, is an audited 5145 event.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ...backend.base import CreateDisposition
from ...backend.path import parse_name
from ...policy.null_session import Right, may_open_pipe, normalize_pipe
from ...status import NtStatus, SmbError
from ...wire.create import (
    CLOSE_FLAG_POSTQUERY_ATTRIB,
    WRITE_RIGHTS,
    AccessMask,
    CloseRequest,
    CloseResponse,
    CreateContext,
    CreateOptions,
    CreateRequest,
    CreateResponse,
    map_generic,
)
from ...wire.fscc import FileAttributes
from ..context import Reply, RequestContext
from ..state import Open, Session
from .common import file_times
from .session import identity_fields

if TYPE_CHECKING:
    from ..connection import ServerConnection

_QFID = struct.Struct("<QQ16s")
_MXAC = struct.Struct("<II")
PIPE_ACCESS = 0x0012019F


def _file_id(op: Open) -> bytes:
    return struct.pack("<QQ", op.persistent_id, op.volatile_id)


def _audit(ctx: RequestContext, target: str, access: int, status: int, rule: str) -> None:
    conn = ctx.conn
    assert ctx.session is not None and ctx.tree is not None
    conn.server.emit(
        "object_access", event_id=5145,
        outcome="success" if status == NtStatus.STATUS_SUCCESS else "failure",
        **identity_fields(conn, ctx.session), share=f"\\\\*\\{ctx.tree.share.name}", target=target,
        access_mask=f"0x{access:x}", status=NtStatus.name_of(status), rule=rule,
    )


async def handle_create(ctx: RequestContext, req: CreateRequest) -> Reply:
    session, tree = ctx.session, ctx.tree
    assert session is not None and tree is not None
    if req.impersonation_level > 3:
        raise SmbError(NtStatus.STATUS_BAD_IMPERSONATION_LEVEL)
    if req.disposition > CreateDisposition.OVERWRITE_IF:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "bad CreateDisposition")
    if tree.share.is_ipc:
        return await _create_pipe(ctx, req)
    return await _create_file(ctx, req)


async def _create_pipe(ctx: RequestContext, req: CreateRequest) -> Reply:
    session, tree = ctx.session, ctx.tree
    assert session is not None and tree is not None
    name = normalize_pipe(req.name)
    decision = may_open_pipe(session.principal, name, ctx.server.policy)
    if not decision.allowed:
        _audit(ctx, name, req.desired_access, decision.status, decision.rule)
        raise SmbError(decision.status, f"pipe refused by {decision.rule}")
    factory = ctx.server.pipe_factory
    pipe = factory(name, ctx) if factory is not None and name else None
    if pipe is None:
        _audit(ctx, name, req.desired_access, NtStatus.STATUS_OBJECT_NAME_NOT_FOUND, "no such pipe")
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_NOT_FOUND)
    op = Open(0, 0, tree, None, pipe, name, PIPE_ACCESS, False)
    op.volatile_id = session.open_table.add(op)
    op.persistent_id = op.volatile_id
    ctx.related_file_id = _file_id(op)
    _audit(ctx, name, req.desired_access, NtStatus.STATUS_SUCCESS, decision.rule)
    now = 0
    rsp = CreateResponse(0, 0, 1, now, now, now, now, 4096, 0, int(FileAttributes.NORMAL), _file_id(op))
    return Reply.of(rsp.encode())


def _granted(req: CreateRequest, maximal: int) -> int:
    desired = req.desired_access
    if desired & AccessMask.MAXIMUM_ALLOWED:
        return maximal
    desired = map_generic(desired) & ~AccessMask.ACCESS_SYSTEM_SECURITY
    if desired & ~maximal & ~AccessMask.SYNCHRONIZE:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "access beyond the share's maximal access")
    return desired


async def _create_file(ctx: RequestContext, req: CreateRequest) -> Reply:
    session, tree = ctx.session, ctx.tree
    assert session is not None and tree is not None
    backend = tree.share.backend
    assert backend is not None
    opts = req.options
    if opts & CreateOptions.DIRECTORY_FILE and opts & CreateOptions.NON_DIRECTORY_FILE:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    if opts & CreateOptions.OPEN_BY_FILE_ID:
        raise SmbError(NtStatus.STATUS_NOT_SUPPORTED)
    target = req.name
    try:
        granted = _granted(req, tree.maximal_access)
        disposition = CreateDisposition(req.disposition)
        if tree.right is Right.READ and disposition != CreateDisposition.OPEN:
            if disposition != CreateDisposition.OPEN_IF:
                raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "share is read-only for this session")
            disposition = CreateDisposition.OPEN
        if opts & CreateOptions.DELETE_ON_CLOSE and not granted & AccessMask.DELETE:
            raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "delete-on-close without DELETE access")
        parsed = parse_name(req.name)
        path = parsed.components
        want_dir = True if opts & CreateOptions.DIRECTORY_FILE else (
            False if opts & CreateOptions.NON_DIRECTORY_FILE else None)
        if parsed.trailing_separator and want_dir is False:
            raise SmbError(NtStatus.STATUS_OBJECT_NAME_INVALID)  # MS-FSA 2.1.5.1
        if parsed.default_stream and want_dir is True:
            raise SmbError(NtStatus.STATUS_NOT_A_DIRECTORY)
        write = bool(granted & WRITE_RIGHTS) or disposition != CreateDisposition.OPEN
        handle, action = await backend.create(path, disposition, directory=want_dir, write=write)
    except SmbError as err:
        _audit(ctx, target, req.desired_access, err.status, "share access list")
        raise err from None
    st = await backend.stat(handle)
    op = Open(0, 0, tree, handle, None, "\\".join(path), granted, st.is_dir)
    op.volatile_id = session.open_table.add(op)
    op.persistent_id = op.volatile_id
    if opts & CreateOptions.DELETE_ON_CLOSE:
        op.delete_on_close = True
    op.mode = opts & (CreateOptions.WRITE_THROUGH | CreateOptions.SEQUENTIAL_ONLY
                      | CreateOptions.NO_INTERMEDIATE_BUFFERING | CreateOptions.SYNCHRONOUS_IO_ALERT
                      | CreateOptions.SYNCHRONOUS_IO_NONALERT)
    ctx.related_file_id = _file_id(op)
    _audit(ctx, op.path or "\\", granted, NtStatus.STATUS_SUCCESS, "share access list")
    t = file_times(st)
    contexts = []
    if req.context(b"MxAc") is not None:
        contexts.append(CreateContext(b"MxAc", _MXAC.pack(0, tree.maximal_access)))
    if req.context(b"QFid") is not None:
        contexts.append(CreateContext(b"QFid", _QFID.pack(st.file_id, 0, b"")))
    rsp = CreateResponse(0, 0, int(action), t.creation, t.last_access, t.last_write, t.change,
                         t.allocation, t.end_of_file, t.attributes, _file_id(op), tuple(contexts))
    return Reply.of(rsp.encode())


async def close_open(conn: "ServerConnection", session: Session, op: Open) -> None:
    """Close ``op``, deleting it first when delete-on-close was set (MS-SMB2 3.3.5.10)."""
    session.open_table.pop(op.volatile_id)
    if op.pipe is not None:
        close = getattr(op.pipe, "close", None)
        if close is not None:
            close()
        return
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    try:
        if op.delete_on_close:
            try:
                await backend.delete(op.handle)
            except SmbError:
                pass  # MS-FSA 2.1.5.4: a failed delete-on-close does not fail the close
    finally:
        await backend.close(op.handle)


async def handle_close(ctx: RequestContext, req: CloseRequest) -> Reply:
    session = ctx.session
    assert session is not None
    op = ctx.open_for(req.file_id)
    rsp = CloseResponse()
    if req.flags & CLOSE_FLAG_POSTQUERY_ATTRIB and op.handle is not None and not op.delete_on_close:
        backend = op.tree.share.backend
        assert backend is not None
        t = file_times(await backend.stat(op.handle))
        rsp = CloseResponse(CLOSE_FLAG_POSTQUERY_ATTRIB, t.creation, t.last_access, t.last_write,
                            t.change, t.allocation, t.end_of_file, t.attributes)
    await close_open(ctx.conn, session, op)
    return Reply.of(rsp.encode())
