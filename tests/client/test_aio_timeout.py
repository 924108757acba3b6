"""SmbClient's rule 3: a server that does not answer within ``timeout`` is a TimeoutError (not a
ConnectionError), and the connection is unusable afterwards."""

from __future__ import annotations

import asyncio

import pytest

from nullsmb.client import SmbClient


async def test_a_silent_server_is_a_timeout_error() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # reads nothing, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TimeoutError, match="within 0.2 s"):
            await SmbClient.connect("127.0.0.1", port, timeout=0.2)
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
