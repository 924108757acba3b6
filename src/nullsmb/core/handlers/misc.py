"""ECHO (MS-SMB2 3.3.5.17): an empty answer."""

from __future__ import annotations

from ...wire.session_setup import simple_body
from ..context import Reply, RequestContext


async def handle_echo(ctx: RequestContext, _req: None) -> Reply:
    return Reply.of(simple_body())
