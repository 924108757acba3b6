"""Step 3, shares: tree connect to every listed share, IPC$ and well-known names; list the root.

Rules:
1. The names: those srvsvc listed to this principal (step 5's NetrShareEnum), IPC$, and
   ``WELL_KNOWN`` (administrative and domain shares), compared case-insensitively; at most
   ``MAX_SHARES`` per principal.
2. TREE_CONNECT evidence is the response itself (MS-SMB2 2.2.10): ShareType, ShareFlags and
   MaximalAccess (what the share's permissions grant this session), besides the status.
3. Non-destructive by default: on a disk share, one CREATE of the root directory and at most
   ``MAX_LIST_ROUNDS`` QUERY_DIRECTORY rounds (MS-SMB2 2.2.33) prove it readable; the count of
   entries seen and a few names are kept. Nothing is ever written unless --write-tests.
4. --write-tests creates one file with a random name (FILE_CREATE, DELETE_ON_CLOSE: MS-SMB2
   2.2.13) and closes it, which deletes it; the probe then checks that it is gone and says so
   in the evidence if it is not.
5. Pipe and print shares are connected to only; their contents are not listed.
6. A listing that loses the connection is tried once more, on a new connection (the link logs
   on again): Samba 4.17 can panic ("lock order violation") when two sessions open a share's
   root at the same moment, which the probe's concurrent principals do. The evidence keeps
   both answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from ...client import SmbClient, SmbClientError
from ...client.connection import ClientProtocolError, Outgoing, parse_file_directory_information
from ...status import MalformedMessage, NtStatus
from ...wire.create import AccessMask, CreateOptions
from ...wire.fscc import FileInfoClass
from ...wire.header import HEADER_SIZE, Command
from ...wire.info import QueryDirectoryFlags, QueryDirectoryRequest, decode_buffer_response
from ...wire.tree import TreeConnectRequest, TreeConnectResponse
from ..evidence import Outcome, Result, ShareProbe
from .common import Link

__all__ = ["MAX_SHARES", "WELL_KNOWN", "list_root", "probe_shares", "raw_tree_connect"]

WELL_KNOWN = ("C$", "D$", "ADMIN$", "print$", "NETLOGON", "SYSVOL", "Users", "Public")
MAX_SHARES = 200
MAX_LIST_ROUNDS = 4
SAMPLE = 5
SHARE_TYPES = {1: "disk", 2: "pipe", 3: "print"}
_FILE_CREATE = 2
_DIR_ACCESS = int(AccessMask.FILE_READ_DATA | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.SYNCHRONIZE)
_WRITE_ACCESS = int(AccessMask.FILE_WRITE_DATA | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.DELETE
                    | AccessMask.SYNCHRONIZE)


async def raw_tree_connect(client: SmbClient, share: str) -> tuple[int, TreeConnectResponse]:
    """TREE_CONNECT to ``\\\\server\\share`` keeping the response body (rule 2)."""
    path = f"\\\\{client.server_name}\\{share}"
    [rsp] = await client.call(Outgoing(Command.TREE_CONNECT, TreeConnectRequest(0, path).encode()))
    rsp.raise_for_status()
    try:
        return rsp.tree_id, TreeConnectResponse.decode(rsp.reader(), HEADER_SIZE)
    except MalformedMessage as exc:
        raise ClientProtocolError(f"malformed TREE_CONNECT response: {exc}") from None


async def list_root(client: SmbClient, tid: int) -> tuple[int, tuple[str, ...], bool]:
    """Rule 3: (entries seen, the first few names, more left unread)."""
    fid = await client.create(tid, "", access=_DIR_ACCESS, options=CreateOptions.DIRECTORY_FILE)
    count, sample, more = 0, [], False
    try:
        size = min(65536, client.connection.max_transact)
        flags = QueryDirectoryFlags.RESTART_SCANS
        for _round in range(MAX_LIST_ROUNDS):
            body = QueryDirectoryRequest(FileInfoClass.FileDirectoryInformation, flags, 0, fid, "*", size).encode()
            [rsp] = await client.call(Outgoing(Command.QUERY_DIRECTORY, body, tree_id=tid, payload=size))
            if rsp.status in (NtStatus.STATUS_NO_MORE_FILES, NtStatus.STATUS_NO_SUCH_FILE):
                break
            rsp.raise_for_status()
            try:
                data = decode_buffer_response(rsp.reader(), HEADER_SIZE)
            except MalformedMessage as exc:
                raise ClientProtocolError(f"malformed QUERY_DIRECTORY response: {exc}") from None
            for name, _attrs, _size in parse_file_directory_information(bytes(data)):
                if name in (".", ".."):
                    continue
                count += 1
                if len(sample) < SAMPLE:
                    sample.append(name)
            flags = 0
        else:
            more = True
    finally:
        await client.close(tid, fid)
    return count, tuple(sample), more


async def _write_test(client: SmbClient, tid: int, name: str) -> str:
    """Rule 4; returns a note for the evidence."""
    fid = await client.create(tid, name, access=_WRITE_ACCESS, disposition=_FILE_CREATE,
                              options=CreateOptions.NON_DIRECTORY_FILE | CreateOptions.DELETE_ON_CLOSE)
    await client.close(tid, fid)
    try:
        again = await client.create(tid, name, access=int(AccessMask.FILE_READ_ATTRIBUTES))
    except SmbClientError as exc:  # the expected answer: it is gone
        return f"created and deleted {name} (reopening it: {exc})"
    await client.close(tid, again)
    return f"created {name} but it is still there: delete it by hand"


async def _one(link: Link, name: str, source: str, listed_type: int | None, remark: str | None,
               write_name: str | None) -> ShareProbe:
    out, rsp = await link.run(lambda c: raw_tree_connect(c, name))
    if rsp is None:
        return ShareProbe(name, source, out, listed_type=listed_type, remark=remark)
    tid, tc = rsp
    stype = SHARE_TYPES.get(tc.share_type, f"0x{tc.share_type:02x}")
    listing: Outcome | None = None
    entries: int | None = None
    sample: tuple[str, ...] = ()
    write: Outcome | None = None
    if stype == "disk":
        listing, seen = await link.run(lambda c: list_root(c, tid), answers=2 + MAX_LIST_ROUNDS)
        if seen is not None:
            entries, sample, more = seen
            listing = Outcome(Result.OK, listing.status, listing.code, listing.kind,
                              f"{entries}{'+' if more else ''} entries in the root")
        if write_name is not None:
            write, note = await link.run(lambda c: _write_test(c, tid, write_name), answers=4)
            if note is not None:
                write = Outcome(write.result, write.status, write.code, write.kind, note)
    if link.client is not None:
        await link.run(lambda c: c.tree_disconnect(tid))
    return ShareProbe(name, source, out, listed_type=listed_type, remark=remark, share_type=stype,
                      share_flags=tc.share_flags, maximal_access=tc.maximal_access, listing=listing,
                      entries=entries, sample=sample, write_test=write)


def share_names(listed: Sequence[tuple[str, int | None, str | None]]) -> list[tuple[str, str, int | None, str | None]]:
    """Rule 1: (name, source, listed type, remark) in probe order, without duplicates."""
    out: list[tuple[str, str, int | None, str | None]] = []
    seen: set[str] = set()
    for name, stype, remark in listed:
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append((name, "listed", stype, remark))
    for name in ("IPC$", *WELL_KNOWN):
        if name.casefold() not in seen:
            seen.add(name.casefold())
            out.append((name, "ipc" if name == "IPC$" else "well-known", None, None))
    return out[:MAX_SHARES]


async def probe_shares(link: Link, listed: Sequence[tuple[str, int | None, str | None]], out: list[ShareProbe],
                       *, write_tests: bool, random_bytes: Callable[[int], bytes]) -> None:
    """Every share of rule 1, one after the other on the principal's link, appended to ``out``."""
    for name, source, stype, remark in share_names(listed):
        write_name = f"nullsmb-probe-{random_bytes(6).hex()}.tmp" if write_tests else None
        out.append(await retry_dropped(lambda: _one(link, name, source, stype, remark, write_name)))


async def retry_dropped(attempt_share: Callable[[], Awaitable[ShareProbe]]) -> ShareProbe:
    """Rule 6: a share whose listing lost the connection is tried once more on a new one."""
    first = await attempt_share()
    if first.listing is None or first.listing.result is not Result.DISCONNECTED:
        return first
    again = await attempt_share()
    if again.listing is None or not again.listing.ok:
        return first
    note = f"{again.listing.detail} (the first attempt lost the connection: {first.listing.evidence()})"
    return replace(again, listing=replace(again.listing, detail=note.strip()))
