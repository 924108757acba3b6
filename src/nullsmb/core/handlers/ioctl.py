"""IOCTL (MS-SMB2 3.3.5.15): the FSCTLs the core answers itself, and pipe transceive.

Rules:
1. Only FSCTLs (Flags = SMB2_0_IOCTL_IS_FSCTL) are served; anything else STATUS_NOT_SUPPORTED.
2. VALIDATE_NEGOTIATE_INFO (3.3.5.15.12) re-checks what NEGOTIATE agreed; any mismatch, or a
   3.1.1 connection asking at all, drops the connection. Its response is signed.
3. DFS referrals on IPC$ are STATUS_FS_DRIVER_REQUIRED (no DFS); unknown codes NOT_SUPPORTED.
   The file-system FSCTLs (server-side copy, sparse files, ...) live in ``fsctl.py``.
4. PIPE_TRANSCEIVE writes the request and returns up to MaxOutputResponse of the reply, with
   STATUS_BUFFER_OVERFLOW when more is waiting for READ (3.3.5.15.1).
"""

from __future__ import annotations

from ...status import MalformedMessage, NtStatus, SmbError
from ...wire.ioctl import (
    SMB2_0_IOCTL_IS_FSCTL,
    Fsctl,
    IoctlRequest,
    ValidateNegotiateInfo,
    encode_ioctl_response,
    encode_validate_negotiate_response,
)
from ...wire.negotiate import SecurityMode
from ..context import Reply, RequestContext
from . import fsctl

NO_FILE = b"\xff" * 16


async def _validate_negotiate(ctx: RequestContext, req: IoctlRequest) -> Reply:
    conn = ctx.conn
    neg = conn.neg
    if neg.dialect == 0x0311:
        raise MalformedMessage("VALIDATE_NEGOTIATE_INFO on a 3.1.1 connection")
    try:
        info = ValidateNegotiateInfo.decode(req.input)
    except MalformedMessage:
        raise MalformedMessage("truncated VALIDATE_NEGOTIATE_INFO") from None
    common = [d for d in conn.server.config.server.dialects if d in info.dialects]
    if (info.capabilities != neg.client_capabilities or info.guid != neg.client_guid
            or info.security_mode != neg.client_security_mode or not common or max(common) != neg.dialect):
        raise MalformedMessage("VALIDATE_NEGOTIATE_INFO does not match NEGOTIATE")
    if req.max_output_response < 24:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    mode = SecurityMode.SIGNING_ENABLED
    if conn.server.config.server.signing == "required":
        mode |= SecurityMode.SIGNING_REQUIRED
    out = encode_validate_negotiate_response(neg.server_capabilities, conn.server.server_guid, int(mode),
                                             neg.dialect)
    session = ctx.session
    ctx.sign_response = bool(session and session.keys and session.keys.signing_key and not ctx.encrypted)
    return Reply.of(encode_ioctl_response(req.ctl_code, NO_FILE, out))


async def _pipe_transceive(ctx: RequestContext, req: IoctlRequest) -> Reply:
    op = ctx.open_for(req.file_id)
    if op.pipe is None:
        raise SmbError(NtStatus.STATUS_INVALID_DEVICE_REQUEST)
    ctx.conn.check_payload_charge(ctx.header, max(len(req.input), req.max_output_response))
    op.pipe.write(req.input)
    data, more = op.pipe.read(req.max_output_response)
    status = NtStatus.STATUS_BUFFER_OVERFLOW if more else NtStatus.STATUS_SUCCESS
    return Reply.of(encode_ioctl_response(req.ctl_code, req.file_id, data), status)


async def _pipe_wait(ctx: RequestContext, req: IoctlRequest) -> Reply:
    """MS-FSCC 2.3.31: our pipes are always available, so the wait ends at once."""
    return Reply.of(encode_ioctl_response(req.ctl_code, req.file_id, b""))


async def _dfs(ctx: RequestContext, req: IoctlRequest) -> Reply:
    raise SmbError(NtStatus.STATUS_FS_DRIVER_REQUIRED if ctx.tree and ctx.tree.share.is_ipc
                   else NtStatus.STATUS_NOT_SUPPORTED)


FSCTLS = {
    Fsctl.SRV_REQUEST_RESUME_KEY: fsctl.request_resume_key,
    Fsctl.SRV_COPYCHUNK: fsctl.copychunk,
    Fsctl.SRV_COPYCHUNK_WRITE: fsctl.copychunk,
    Fsctl.SET_SPARSE: fsctl.set_sparse,
    Fsctl.SET_ZERO_DATA: fsctl.set_zero_data,
    Fsctl.QUERY_ALLOCATED_RANGES: fsctl.query_allocated_ranges,
    Fsctl.GET_COMPRESSION: fsctl.get_compression,
    Fsctl.SET_COMPRESSION: fsctl.set_compression,
    Fsctl.GET_REPARSE_POINT: fsctl.get_reparse_point,
    Fsctl.SET_REPARSE_POINT: fsctl.set_reparse_point,
    Fsctl.DELETE_REPARSE_POINT: fsctl.set_reparse_point,
    Fsctl.CREATE_OR_GET_OBJECT_ID: fsctl.object_id,
    Fsctl.GET_OBJECT_ID: fsctl.object_id,
    Fsctl.SRV_ENUMERATE_SNAPSHOTS: fsctl.enumerate_snapshots,
    Fsctl.QUERY_NETWORK_INTERFACE_INFO: fsctl.network_interfaces,
    Fsctl.FILE_LEVEL_TRIM: fsctl.file_level_trim,
    Fsctl.VALIDATE_NEGOTIATE_INFO: _validate_negotiate,
    Fsctl.PIPE_TRANSCEIVE: _pipe_transceive,
    Fsctl.PIPE_WAIT: _pipe_wait,
    Fsctl.DFS_GET_REFERRALS: _dfs,
    Fsctl.DFS_GET_REFERRALS_EX: _dfs,
}


async def handle_ioctl(ctx: RequestContext, req: IoctlRequest) -> Reply:
    if not req.flags & SMB2_0_IOCTL_IS_FSCTL:
        raise SmbError(NtStatus.STATUS_NOT_SUPPORTED)
    if req.max_output_response > ctx.conn.neg.max_transact:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER)
    handler = FSCTLS.get(req.ctl_code)
    if handler is None:
        raise SmbError(NtStatus.STATUS_NOT_SUPPORTED)
    return await handler(ctx, req)
