"""CREATE (MS-SMB2 3.3.5.9) and CLOSE (3.3.5.10).

Rules:
1. Opens on IPC$ are named pipes: the null-session gate first (MS-SRVS 3.1.6.17), then the pipe
   table; an unknown pipe is STATUS_OBJECT_NAME_NOT_FOUND.
2. Requested access is mapped (GENERIC_*, MAXIMUM_ALLOWED) and must fit the tree's maximal
   access; creating or overwriting needs the share's change right.
3. Unknown create contexts are ignored; MxAc, QFid and leases (RqLs) are answered
   (MS-SMB2 2.2.14.2.5, .9, .10, .11).
4. Every open, allowed or refused, is an audited 5145 event.
5. An existing file is opened without truncation first; delete-pending, sharing and oplock
   breaks are settled (``core.files``, ``core.oplock``) before an overwrite truncates it. An
   open that must wait for a break acknowledgment goes async and is run again from the start
   when the break settles (``oplock.wake_open_waiters``).
6. Close: the last close of a delete-pending file deletes it (MS-FSA 2.1.5.4); locks, lock
   waiters, notify watches and the lease of the open go with it.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ...backend.base import SETTABLE_ATTRIBUTES, CreateAction, CreateDisposition, ea_entry_size
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
from ...wire import fscc
from ...wire.fscc import FileAttributes
from ...wire.contexts import (
    ALLOCATION_SIZE,
    EXTENDED_ATTRIBUTES,
    DURABLE_V1,
    DURABLE_V1_RECONNECT,
    DURABLE_V1_RESPONSE,
    DURABLE_V2,
    DURABLE_V2_RECONNECT,
    DurableV2Reconnect,
    DurableV2Request,
    encode_durable_v2_response,
    LEASE,
    LEASE_FLAG_BREAK_IN_PROGRESS,
    LEASE_FLAG_PARENT_KEY_SET,
    MAXIMAL_ACCESS,
    QUERY_ON_DISK_ID,
    LeaseRequest,
    decode_lease,
    encode_lease,
)
from .. import brlock, durable, notify, oplock
from ..asyncops import go_async
from ..context import Reply, RequestContext
from ..files import FileEntry, files_of, share_conflict
from ..state import Open, Session
from .common import file_times
from .session import identity_fields

if TYPE_CHECKING:
    from ..asyncops import AsyncRequest
    from ..connection import ServerConnection

_QFID = struct.Struct("<QQ16s")
_MXAC = struct.Struct("<II")
PIPE_ACCESS = 0x0012019F


def file_id_of(op: Open) -> bytes:
    """MS-SMB2 2.2.14.1 SMB2_FILEID of ``op``."""
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
    if not tree.share.is_ipc and (req.context(DURABLE_V1_RECONNECT) is not None
                                  or req.context(DURABLE_V2_RECONNECT) is not None):
        return await _reconnect(ctx, req)  # MS-SMB2 3.3.5.9.7: other fields are not checked
    if req.impersonation_level > 3:
        raise SmbError(NtStatus.STATUS_BAD_IMPERSONATION_LEVEL)
    if req.disposition > CreateDisposition.OVERWRITE_IF:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "bad CreateDisposition")
    if tree.share.is_ipc:
        return await _create_pipe(ctx, req)
    reply = await _create_file(ctx, req)
    assert reply is not None
    return reply


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
    ctx.related_file_id = file_id_of(op)
    _audit(ctx, name, req.desired_access, NtStatus.STATUS_SUCCESS, decision.rule)
    now = 0
    rsp = CreateResponse(0, 0, 1, now, now, now, now, 4096, 0, int(FileAttributes.NORMAL), file_id_of(op))
    return Reply.of(rsp.encode())


def _granted(req: CreateRequest, maximal: int) -> int:
    desired = req.desired_access
    if desired & AccessMask.MAXIMUM_ALLOWED:
        return maximal
    desired = map_generic(desired) & ~AccessMask.ACCESS_SYSTEM_SECURITY
    if desired & ~maximal & ~AccessMask.SYNCHRONIZE:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "access beyond the share's maximal access")
    return desired


_TRUNCATING = {CreateDisposition.SUPERSEDE: CreateDisposition.OPEN_IF,
               CreateDisposition.OVERWRITE: CreateDisposition.OPEN,
               CreateDisposition.OVERWRITE_IF: CreateDisposition.OPEN_IF}


async def _create_file(ctx: RequestContext, req: CreateRequest,
                       areq: "AsyncRequest | None" = None) -> Reply | None:
    """Open or create; None when the already-async ``areq`` has to wait again (rule 5)."""
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
    if req.name.startswith("\\"):
        # MS-SMB2 3.3.5.9: a name starting with a separator is STATUS_INVALID_PARAMETER
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "CREATE name starts with a separator")
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
        lease_req = _lease_request(ctx, req)
        eas = _ea_request(req)
        write = bool(granted & WRITE_RIGHTS) or disposition != CreateDisposition.OPEN
        await durable.purge_path(ctx.server, tree.share, path)
        handle, action = await backend.create(path, _TRUNCATING.get(disposition, disposition),
                                              directory=want_dir, write=write)
        try:
            opened = await _settle(ctx, req, areq, handle, action, disposition, granted, lease_req)
        except BaseException:
            await backend.close(handle)
            raise
    except SmbError as err:
        _audit(ctx, target, req.desired_access, err.status, "share access list")
        raise err from None
    if opened is None or isinstance(opened, Reply):
        await backend.close(handle)
        return opened  # waiting for a break: an interim response, or nothing new to say
    st, entry, action = opened
    if action == CreateAction.CREATED and not st.is_dir:
        st = await _initial_state(ctx, req, handle, st)
    if action != CreateAction.OPENED and (eas or st.ea_size):
        st = await _replace_eas(backend, handle, eas, action)
    return _register(ctx, req, handle, st, entry, action, granted, lease_req, path)


def _ea_request(req: CreateRequest) -> list[tuple[str, bytes]]:
    """The ExtA context (MS-SMB2 2.2.13.2.1): validated before anything is created."""
    ctx = req.context(EXTENDED_ATTRIBUTES)
    if ctx is None:
        return []
    eas = [(n, v) for n, v in fscc.parse_full_ea(ctx.data) if v]
    if sum(ea_entry_size(len(n), len(v)) for n, v in eas) > 0xFFFF:
        raise SmbError(NtStatus.STATUS_EA_TOO_LARGE)
    return eas


async def _replace_eas(backend, handle, eas: list[tuple[str, bytes]], action: CreateAction):
    """A created file takes the ExtA EAs; an overwritten or superseded one loses its old EAs
    for them (MS-FSA 2.1.5.1.2.1)."""
    if action != CreateAction.CREATED:
        old = await backend.get_eas(handle)
        if old:
            await backend.set_eas(handle, [(n, b"") for n, _v in old])
    if eas:
        await backend.set_eas(handle, eas)
    return await backend.stat(handle)


async def _initial_state(ctx: RequestContext, req: CreateRequest, handle, st):
    """A new file: FILE_ATTRIBUTE_READONLY and the AllocationSize context (MS-SMB2 2.2.13.2.6)
    take effect (MS-FSA 2.1.5.1.1)."""
    backend = ctx.tree.share.backend if ctx.tree is not None else None
    assert backend is not None
    changed = False
    alloc = req.context(ALLOCATION_SIZE)
    if alloc is not None and len(alloc.data) >= 8:
        size = struct.unpack_from("<Q", alloc.data)[0]
        if 0 < size <= 1 << 40:
            await backend.allocate(handle, size)
            changed = True
    if req.file_attributes & FileAttributes.READONLY:
        await backend.set_readonly(handle, True)
        changed = True
    if req.file_attributes & SETTABLE_ATTRIBUTES & ~FileAttributes.ARCHIVE:
        # MS-FSA 2.1.5.1.1: a new file has the attributes asked for, and ARCHIVE
        await backend.set_attributes(handle, (req.file_attributes & SETTABLE_ATTRIBUTES)
                                     | FileAttributes.ARCHIVE)
        changed = True
    return await backend.stat(handle) if changed else st


async def _settle(ctx: RequestContext, req: CreateRequest, areq: "AsyncRequest | None", handle,
                  action: CreateAction, disposition: CreateDisposition, granted: int,
                  lease_req: LeaseRequest | None):
    """Delete-pending, sharing, oplock breaks and truncation of an opened file (rule 5).

    Returns (stat, entry, action) to go on, a ``Pending`` reply (first wait), or None (waits
    again)."""
    tree = ctx.tree
    assert tree is not None and tree.share.backend is not None
    backend = tree.share.backend
    table = files_of(ctx.server)
    st = await backend.stat(handle)
    entry = table.entry((id(backend), st.file_id))
    existed = action == CreateAction.OPENED
    truncating = disposition in _TRUNCATING
    if existed:
        await durable.purge_disconnected(ctx.server, entry)
    try:
        if existed and entry.delete_pending:
            raise SmbError(NtStatus.STATUS_DELETE_PENDING)
        if existed and truncating:
            if st.is_dir:
                raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "cannot overwrite a directory")
            if st.readonly:
                raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "READONLY file cannot be overwritten")
        if existed and req.options & CreateOptions.DELETE_ON_CLOSE and st.readonly and not st.is_dir:
            raise SmbError(NtStatus.STATUS_CANNOT_DELETE)
        if (not existed and not st.is_dir and req.options & CreateOptions.DELETE_ON_CLOSE
                and req.file_attributes & FileAttributes.READONLY):
            await backend.delete(handle)  # MS-FSA 2.1.5.1.1: a new read-only file can't be DOC
            raise SmbError(NtStatus.STATUS_CANNOT_DELETE)
        lease_id = (ctx.conn.neg.client_guid, lease_req.key) if lease_req is not None else None
        known = table.leases.get(lease_id) if lease_id is not None else None
        if known is not None and known.file is not entry:
            # MS-SMB2 3.3.5.9.8: a lease key names one file
            raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "lease key in use for another file")
        sharing = share_conflict(entry, granted, req.share_access)
        delay = existed and oplock.break_for_open(
            table, entry, _caching_access(granted, disposition), overwrite=truncating,
            sharing_violation=sharing,
            lease_id=lease_id, first_attempt=areq is None, now=ctx.server.clock())
        if delay:
            return _wait_for_break(ctx, req, areq, entry)
        if sharing:
            raise SmbError(NtStatus.STATUS_SHARING_VIOLATION)
        if existed and truncating:
            await backend.truncate(handle, 0)
            oplock.break_read_caching(table, entry, None, ctx.server.clock())
            st = await backend.stat(handle)
            action = (CreateAction.SUPERSEDED if disposition == CreateDisposition.SUPERSEDE
                      else CreateAction.OVERWRITTEN)
    except BaseException:
        table.release(entry)
        raise
    return st, entry, action


def _caching_access(granted: int, disposition: int) -> int:
    """The access that decides oplock breaks and grants: an overwrite writes data (Samba)."""
    if disposition in _TRUNCATING:
        return granted | AccessMask.FILE_WRITE_DATA
    return granted


def _wait_for_break(ctx: RequestContext, req: CreateRequest, areq: "AsyncRequest | None",
                    entry: FileEntry) -> Reply | None:
    """Queue the CREATE on ``entry`` until a break settles (rule 5)."""
    table = files_of(ctx.server)
    pending = None
    if areq is None:
        pending = go_async(ctx)
        areq = pending.request
        assert areq is not None
        waiting = areq

        async def resume() -> None:
            try:
                reply = await _create_file(ctx, req, waiting)
            except SmbError as err:
                waiting.fail(err.status)
                return
            if reply is not None:
                waiting.finish(reply)

        areq.data["resume"] = resume
    current = areq

    def cleanup() -> None:
        if current in entry.open_waiters:
            entry.open_waiters.remove(current)
        table.release(entry)

    areq.cleanup = cleanup
    entry.open_waiters.append(areq)
    return pending


def _register(ctx: RequestContext, req: CreateRequest, handle, st, entry: FileEntry,
              action: CreateAction, granted: int, lease_req: LeaseRequest | None,
              path: tuple[str, ...]) -> Reply:
    """The open exists: grant caching, record it, answer (MS-SMB2 3.3.5.9 final steps)."""
    session, tree = ctx.session, ctx.tree
    assert session is not None and tree is not None
    table = files_of(ctx.server)
    op = Open(0, 0, tree, handle, None, "\\".join(path), granted, st.is_dir)
    op.volatile_id = session.open_table.add(op)
    op.persistent_id = op.volatile_id
    op.share_access = req.share_access
    op.conn, op.session, op.file = ctx.conn, session, entry
    opts = req.options
    if opts & CreateOptions.DELETE_ON_CLOSE:
        op.delete_on_close = True
    op.mode = opts & (CreateOptions.WRITE_THROUGH | CreateOptions.SEQUENTIAL_ONLY
                      | CreateOptions.NO_INTERMEDIATE_BUFFERING | CreateOptions.SYNCHRONOUS_IO_ALERT
                      | CreateOptions.SYNCHRONOUS_IO_NONALERT)
    contexts = []
    if lease_req is not None:
        lease = oplock.grant_lease(table, entry, op, ctx.conn.neg.client_guid, lease_req.key,
                                   lease_req.state, lease_req.version, lease_req.parent_key,
                                   lease_req.epoch, _caching_access(granted, req.disposition))
        flags = (LEASE_FLAG_BREAK_IN_PROGRESS if lease.breaking else 0) | (
            LEASE_FLAG_PARENT_KEY_SET if lease.version == 2 and lease_req.flags & LEASE_FLAG_PARENT_KEY_SET else 0)
        contexts.append(CreateContext(LEASE, encode_lease(lease.version, lease.key, lease.state, flags,
                                                          lease.parent_key, lease.epoch)))
    elif req.oplock_level != oplock.LEVEL_LEASE:
        op.oplock_level = oplock.grant_oplock(entry, op, req.oplock_level,
                                              _caching_access(granted, req.disposition))
    entry.opens.append(op)
    op.owner = durable.owner_of(session)
    contexts += _grant_durable(ctx, req, op)
    ctx.related_file_id = file_id_of(op)
    if action == CreateAction.CREATED:
        notify.report(table, tree.share, op.path, notify.NotifyAction.ADDED, dir_change=op.is_dir)
    _audit(ctx, op.path or "\\", granted, NtStatus.STATUS_SUCCESS, "share access list")
    t = file_times(st)
    if req.context(MAXIMAL_ACCESS) is not None:
        contexts.append(CreateContext(MAXIMAL_ACCESS, _MXAC.pack(0, tree.maximal_access)))
    if req.context(QUERY_ON_DISK_ID) is not None:
        contexts.append(CreateContext(QUERY_ON_DISK_ID, _QFID.pack(st.file_id, 0, b"")))
    rsp = CreateResponse(op.oplock_level, 0, int(action), t.creation, t.last_access, t.last_write,
                         t.change, t.allocation, t.end_of_file, t.attributes, file_id_of(op),
                         tuple(contexts))
    return Reply.of(rsp.encode())


def _grant_durable(ctx: RequestContext, req: CreateRequest, op: Open) -> list[CreateContext]:
    """MS-SMB2 3.3.5.9.6 (DHnQ) and 3.3.5.9.10 (DH2Q); ``core.durable`` rule 1."""
    v1 = req.context(DURABLE_V1)
    v2 = req.context(DURABLE_V2) if ctx.conn.neg.dialect >= 0x0300 else None
    if v2 is not None:
        want = DurableV2Request.decode(v2.data)
        if want is None or not durable.grantable(op):
            return []
        op.durable = op.durable_v2 = True
        op.create_guid = want.create_guid
        timeout = want.timeout_ms / 1000 if want.timeout_ms else durable.DEFAULT_TIMEOUT
        op.durable_timeout = min(timeout, durable.MAX_TIMEOUT)
        return [CreateContext(DURABLE_V2, encode_durable_v2_response(int(op.durable_timeout * 1000), 0))]
    if v1 is not None and durable.grantable(op):
        op.durable = True
        op.durable_timeout = durable.DEFAULT_TIMEOUT
        return [CreateContext(DURABLE_V1, DURABLE_V1_RESPONSE)]
    return []


async def _reconnect(ctx: RequestContext, req: CreateRequest) -> Reply:
    """MS-SMB2 3.3.5.9.7 / 3.3.5.9.12: take a disconnected durable open back."""
    v2 = req.context(DURABLE_V2_RECONNECT)
    if v2 is not None and ctx.conn.neg.dialect >= 0x0300:
        want = DurableV2Reconnect.decode(v2.data)
        if want is None:
            raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "malformed DH2C")
        file_id, guid = want.file_id, want.create_guid
    else:
        raw = req.context(DURABLE_V1_RECONNECT)
        if raw is None or len(raw.data) < 16:
            raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "malformed DHnC")
        file_id, guid = raw.data[:16], None
    persistent = struct.unpack_from("<Q", file_id)[0]
    op = durable.reconnect_target(ctx, persistent, guid)
    raw_lease = req.context(LEASE)  # whatever the RequestedOplockLevel says
    lease_req = decode_lease(raw_lease.data) if raw_lease is not None else None
    if op.lease is not None:
        if (lease_req is None or lease_req.key != op.lease.key
                or op.lease.client_guid != ctx.conn.neg.client_guid):
            raise SmbError(NtStatus.STATUS_OBJECT_NAME_NOT_FOUND, "the lease does not match")
        try:
            named = "\\".join(parse_name(req.name).components)
        except SmbError:
            named = None
        if named is None or named.casefold() != op.path.casefold():
            raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "a lease reconnect names its file")
    durable.reattach(ctx, op)
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    st = await backend.stat(op.handle)
    contexts = []
    if op.lease is not None:  # no durable context in the answer (Windows and Samba)
        lease = op.lease
        contexts.append(CreateContext(LEASE, encode_lease(lease.version, lease.key, lease.state,
                                                          0, lease.parent_key, lease.epoch)))
    ctx.related_file_id = file_id_of(op)
    _audit(ctx, op.path or "\\", op.granted_access, NtStatus.STATUS_SUCCESS, "durable reconnect")
    t = file_times(st)
    rsp = CreateResponse(op.oplock_level, 0, int(CreateAction.OPENED), t.creation, t.last_access,
                         t.last_write, t.change, t.allocation, t.end_of_file, t.attributes,
                         file_id_of(op), tuple(contexts))
    return Reply.of(rsp.encode())


def _lease_request(ctx: RequestContext, req: CreateRequest) -> LeaseRequest | None:
    """MS-SMB2 3.3.5.9.8/.11: a lease context counts with RequestedOplockLevel LEASE on 2.1+."""
    if req.oplock_level != oplock.LEVEL_LEASE or ctx.conn.neg.dialect < 0x0210:
        return None
    raw = req.context(LEASE)
    if raw is None:
        return None
    lease = decode_lease(raw.data)
    if lease is None:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "malformed lease context")
    if lease.version == 2 and ctx.conn.neg.dialect < 0x0300:
        lease = LeaseRequest(lease.key, lease.state, lease.flags, 1)
    return lease


async def close_open(conn: "ServerConnection", session: Session, op: Open) -> None:
    """Close ``op`` (MS-SMB2 3.3.5.10, MS-FSA 2.1.5.4; rule 6)."""
    session.open_table.pop(op.volatile_id)
    await release_open(conn.server, op)


async def release_open(server, op: Open) -> None:
    """What closing ``op`` does to its file (rule 6); ``op`` is already out of its session."""
    op.closed = True
    if op.pipe is not None:
        close = getattr(op.pipe, "close", None)
        if close is not None:
            close()
        return
    backend = op.tree.share.backend
    assert backend is not None and op.handle is not None
    table = files_of(server)
    entry: FileEntry | None = op.file
    if op.resume_key:
        table.resume_keys.pop(op.resume_key, None)
    try:
        if entry is None:
            return
        if op in entry.opens:
            entry.opens.remove(op)
        if op.break_timer is not None:
            op.break_timer.cancel()
            op.break_timer = None
        oplock.drop_lease(table, op)
        await brlock.close_open(table, entry, op)
        notify.close_watch(table, op)
        if op.delete_on_close and not entry.delete_pending:
            entry.delete_pending = True
            notify.delete_pending(entry)
        if entry.delete_pending and not entry.opens:
            entry.delete_pending = False
            try:
                if entry.delete_ignores_readonly and not op.is_dir:
                    await backend.set_readonly(op.handle, False)
                await backend.delete(op.handle)
                notify.report(table, op.tree.share, op.path,
                              notify.NotifyAction.REMOVED, dir_change=op.is_dir)
            except SmbError:
                pass  # MS-FSA 2.1.5.4: a failed delete-on-close does not fail the close
    finally:
        await backend.close(op.handle)
    await oplock.wake_open_waiters(entry)
    table.release(entry)


async def handle_close(ctx: RequestContext, req: CloseRequest) -> Reply:
    session = ctx.session
    assert session is not None
    op = ctx.open_for(req.file_id)
    rsp = CloseResponse()
    if req.flags & CLOSE_FLAG_POSTQUERY_ATTRIB and op.handle is not None:
        backend = op.tree.share.backend
        assert backend is not None
        t = file_times(await backend.stat(op.handle))
        rsp = CloseResponse(CLOSE_FLAG_POSTQUERY_ATTRIB, t.creation, t.last_access, t.last_write,
                            t.change, t.allocation, t.end_of_file, t.attributes)
    await close_open(ctx.conn, session, op)
    return Reply.of(rsp.encode())
