"""QUERY_DIRECTORY (MS-SMB2 3.3.5.18) with MS-FSA 2.1.4.4 wildcards.

Rules:
1. The listing is taken once per scan (first call, RESTART_SCANS or REOPEN) and served in
   pieces that fit OutputBufferLength; '.' and '..' come first, as on Windows and Samba.
2. Matching is case-insensitive; ``*``, ``?``, ``<``, ``>`` and ``"`` follow MS-FSA.
3. No match on the first call is STATUS_NO_SUCH_FILE; the end of a listing STATUS_NO_MORE_FILES.
4. A scan continued after names were added or removed in the directory through this server
   (``FileTable.dir_stamp``) re-reads it: entries gone since are not returned, the rest carry
   fresh figures (Windows and Samba don't return files deleted meanwhile either).
"""

from __future__ import annotations

import re
from functools import lru_cache

from ...status import NtStatus, SmbError
from ...wire.create import AccessMask
from ...wire.fscc import DIRECTORY_CLASSES, encode_dir_entries
from ...wire.info import QueryDirectoryFlags, QueryDirectoryRequest, encode_buffer_response
from ..context import Reply, RequestContext
from ..files import files_of
from .common import file_times
from .info import short_name

WILDCARDS = frozenset("*?<>\"")


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """MS-FSA 2.1.4.4: ``*`` any run, ``?`` one char, ``<`` any run up to the last dot
    (DOS_STAR), ``>`` one char or none before a dot/end (DOS_QM), ``"`` a dot or the end (DOS_DOT)."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "<":
            out.append("[^.]*(?:\\.[^.]*)*?")
        elif ch == ">":
            out.append(".?")
        elif ch == '"':
            out.append("(?:\\.|$)")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.IGNORECASE | re.DOTALL)


def _listed_short_name(name: str) -> str:
    """MS-FSCC 2.4.8: ShortName is empty when the name is valid 8.3 itself (and for . and ..)."""
    if name in (".", ".."):
        return ""
    short = short_name(name)
    return "" if short == name else short


async def _listing(backend, op) -> list:
    here = file_times(await backend.stat(op.handle))
    listing = [(".", here), ("..", here)]
    listing += [(e.name, file_times(e.stat)) for e in await backend.list_dir(op.handle)]
    return listing


def matches(pattern: str, name: str) -> bool:
    if pattern in ("", "*", "<", "*.*"):
        return True
    if not WILDCARDS.intersection(pattern):
        return pattern.casefold() == name.casefold()
    return compile_pattern(pattern).match(name) is not None


async def handle_query_directory(ctx: RequestContext, req: QueryDirectoryRequest) -> Reply:
    ctx.conn.check_payload_charge(ctx.header, req.output_buffer_length)
    op = ctx.open_for(req.file_id)
    if not op.is_dir or op.handle is None:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "not a directory")
    if not op.granted_access & AccessMask.FILE_READ_DATA:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    if req.info_class not in DIRECTORY_CLASSES:
        raise SmbError(NtStatus.STATUS_INVALID_INFO_CLASS)
    if "\\" in req.pattern or "/" in req.pattern:
        raise SmbError(NtStatus.STATUS_OBJECT_NAME_INVALID)
    backend = op.tree.share.backend
    assert backend is not None
    restart = req.flags & (QueryDirectoryFlags.RESTART_SCANS | QueryDirectoryFlags.REOPEN)
    table = files_of(ctx.server)
    stamp = table.dir_stamp(op.tree.share, op.path)
    if op.enum_entries is None or restart:
        pattern = req.pattern or "*"
        op.enum_pattern = pattern
        op.enum_entries = [(n, t) for n, t in await _listing(backend, op) if matches(pattern, n)]
        op.enum_pos = 0
        op.enum_stamp = stamp
        if not op.enum_entries:
            raise SmbError(NtStatus.STATUS_NO_SUCH_FILE)
    elif op.enum_stamp != stamp:  # rule 4
        fresh = dict(await _listing(backend, op))
        rest = [(n, fresh[n]) for n, _t in op.enum_entries[op.enum_pos:] if n in fresh]
        op.enum_entries, op.enum_pos, op.enum_stamp = rest, 0, stamp
    remaining = op.enum_entries[op.enum_pos:]
    if not remaining:
        raise SmbError(NtStatus.STATUS_NO_MORE_FILES)
    limit = min(req.output_buffer_length, ctx.conn.neg.max_transact)
    single = bool(req.flags & QueryDirectoryFlags.RETURN_SINGLE_ENTRY)
    data, used = encode_dir_entries(req.info_class, remaining, limit, single, _listed_short_name)
    if used == 0:
        raise SmbError(NtStatus.STATUS_INFO_LENGTH_MISMATCH)
    op.enum_pos += used
    return Reply.of(encode_buffer_response(data))
