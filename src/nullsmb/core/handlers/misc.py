"""ECHO (MS-SMB2 3.3.5.15) and the commands nullsmb does not offer yet.

LOCK, CHANGE_NOTIFY and OPLOCK_BREAK arrive with the completeness issue; until then they are
refused with STATUS_NOT_SUPPORTED, consistently, so no client waits for an answer that never
comes (oplocks are never granted, so no break is ever owed).
"""

from __future__ import annotations

from ...status import NtStatus, SmbError
from ...wire.session_setup import simple_body
from ..context import Reply, RequestContext


async def handle_echo(ctx: RequestContext, _req: None) -> Reply:
    return Reply.of(simple_body())


async def handle_lock(ctx: RequestContext, _req: object) -> Reply:
    raise SmbError(NtStatus.STATUS_NOT_SUPPORTED, "byte-range locks are not offered yet")


async def handle_change_notify(ctx: RequestContext, _req: object) -> Reply:
    raise SmbError(NtStatus.STATUS_NOT_SUPPORTED, "change notification is not offered yet")


async def handle_oplock_break(ctx: RequestContext, _req: object) -> Reply:
    raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "no oplock was granted")
