"""asyncio SMB2/3 client: ``ClientConnection`` (sans-I/O) plus one TCP stream.

Rules:
1. All protocol state lives in ``ClientConnection``; this module only moves bytes, matches
   responses to waiting requests by MessageId and waits for credits.
2. Several requests may be outstanding at once (one reader task resolves a future per
   MessageId); each method awaits the response(s) to its own request.
3. A failing NTSTATUS raises ``SmbClientError(status)``; a server breaking the protocol raises
   ``ClientProtocolError`` and closes the connection; a lost connection ``ConnectionError``; no
   answer within ``timeout`` seconds ``TimeoutError``.
4. Statuses that carry data are not errors where the data matters: STATUS_BUFFER_OVERFLOW on
   READ, QUERY_INFO and IOCTL returns the partial data (an FSCTL_PIPE_TRANSCEIVE reply is
   completed with READs, MS-SMB2 3.3.5.15.1), and END_OF_FILE on READ is ``b""``.

Example::

    client = await SmbClient.connect("127.0.0.1", 4445)
    await client.login()                      # a null session
    tid = await client.tree_connect("public")
    for name, attrs, size in await client.list_dir(tid, ""):
        print(name, size)
    await client.disconnect()
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..status import MalformedMessage, NtStatus
from ..wire.create import (
    FILE_GENERIC_READ,
    AccessMask,
    CloseRequest,
    CreateContext,
    CreateOptions,
    CreateRequest,
    CreateResponse,
    ShareAccess,
)
from ..wire.fscc import FileInfoClass
from ..wire.header import HEADER_SIZE, Command
from ..wire.info import InfoType, QueryDirectoryFlags, QueryDirectoryRequest, QueryInfoRequest, decode_buffer_response
from ..wire.io import ReadRequest, WriteRequest, decode_read_response, decode_write_response
from ..wire.ioctl import SMB2_0_IOCTL_IS_FSCTL, Fsctl, IoctlRequest, decode_ioctl_response
from ..wire.session_setup import simple_body
from ..wire.tree import TreeConnectRequest
from .connection import (
    ALL_DIALECTS,
    ClientConnection,
    ClientProtocolError,
    NoCredits,
    Outgoing,
    Response,
    SmbClientError,
    parse_file_directory_information,
)

__all__ = ["ClientProtocolError", "SessionInfo", "SmbClient", "SmbClientError"]

FILE_OPEN = 1  # MS-SMB2 2.2.13 CreateDisposition
_DIR_ACCESS = AccessMask.FILE_READ_DATA | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.SYNCHRONIZE
_ALL_SHARING = int(ShareAccess.READ | ShareAccess.WRITE | ShareAccess.DELETE)
_BUFFER_OVERFLOW = (NtStatus.STATUS_BUFFER_OVERFLOW,)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What ``login`` established (MS-SMB2 2.2.6 SessionFlags and the session's security)."""

    session_id: int
    session_flags: int
    is_guest: bool
    is_null: bool
    signing: bool
    encrypted: bool


class SmbClient:
    """One SMB2/3 connection to a server; build it with ``await SmbClient.connect(...)``."""

    def __init__(self, reader: asyncio.StreamReader, writer: Any, conn: ClientConnection, *,
                 server_name: str, timeout: float) -> None:
        self.connection = conn  # the sans-I/O state: dialect, credits, sessions
        self.server_name = server_name
        self.timeout = timeout
        self._reader = reader
        self._writer = writer
        self._waiters: dict[int, asyncio.Future[Response]] = {}
        self._credit_event = asyncio.Event()
        self._error: BaseException | None = None
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    async def connect(cls, host: str, port: int = 445, *, dialects: Sequence[int] = ALL_DIALECTS,
                      timeout: float = 10.0, signing_required: bool = False) -> "SmbClient":
        """Open a TCP connection to ``host``:``port`` and NEGOTIATE one of ``dialects``."""
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        return await cls.from_streams(reader, writer, server_name=host, dialects=dialects,
                                      timeout=timeout, signing_required=signing_required)

    @classmethod
    async def from_streams(cls, reader: asyncio.StreamReader, writer: Any, *, server_name: str = "server",
                           dialects: Sequence[int] = ALL_DIALECTS, timeout: float = 10.0,
                           signing_required: bool = False) -> "SmbClient":
        """The same over an already open stream pair (tests, proxies, other transports)."""
        conn = ClientConnection(random_bytes=os.urandom, clock=time.time, dialects=dialects,
                                signing_required=signing_required)
        client = cls(reader, writer, conn, server_name=server_name, timeout=timeout)
        try:
            [rsp] = await client._flush_and_wait([conn.negotiate()])
            rsp.raise_for_status()
        except BaseException:
            await client.disconnect()
            raise
        return client

    @property
    def dialect(self) -> int:
        return self.connection.dialect

    # -- sessions and trees --------------------------------------------------------------------------
    async def login(self, user: str = "", password: str = "", domain: str = "", *,
                    nt_hash: bytes | None = None, sign: bool | None = None,
                    encrypt: bool = False) -> SessionInfo:
        """SESSION_SETUP with NTLMv2 (anonymous when user, password and hash are empty).

        ``sign`` None signs user sessions (not anonymous or guest ones); ``encrypt`` needs 3.x.
        Wrong credentials raise ``SmbClientError(STATUS_LOGON_FAILURE)``.
        """
        conn = self.connection
        mid: int | None = conn.session_setup(user=user, password=password, domain=domain,
                                             nt_hash=nt_hash, sign=sign, encrypt=encrypt)
        while mid is not None:
            [rsp] = await self._flush_and_wait([mid])
            mid = conn.session_setup_step(rsp)
        s = conn.session
        assert s is not None
        return SessionInfo(s.session_id, s.session_flags, s.is_guest, s.is_null, s.signing, s.encrypt)

    async def logoff(self) -> None:
        await self._one(Outgoing(Command.LOGOFF, simple_body()))

    async def tree_connect(self, share: str) -> int:
        """TREE_CONNECT to ``\\\\server\\share``; returns the TreeId."""
        path = f"\\\\{self.server_name}\\{share}"
        rsp = await self._one(Outgoing(Command.TREE_CONNECT, TreeConnectRequest(0, path).encode()))
        return rsp.tree_id

    async def tree_disconnect(self, tid: int) -> None:
        await self._one(Outgoing(Command.TREE_DISCONNECT, simple_body(), tree_id=tid))

    async def echo(self) -> None:
        await self._one(Outgoing(Command.ECHO, simple_body()))

    # -- files ---------------------------------------------------------------------------------------
    async def create(self, tid: int, path: str, *, access: int = FILE_GENERIC_READ,
                     disposition: int = FILE_OPEN, options: int = 0, share_access: int = _ALL_SHARING,
                     attributes: int = 0, contexts: Sequence[CreateContext] = ()) -> bytes:
        """CREATE ``path`` (share-relative, backslashes; "" is the root); returns the FileId."""
        return (await self.create_ex(tid, path, access=access, disposition=disposition, options=options,
                                     share_access=share_access, attributes=attributes,
                                     contexts=contexts)).file_id

    async def create_ex(self, tid: int, path: str, *, access: int = FILE_GENERIC_READ,
                        disposition: int = FILE_OPEN, options: int = 0, share_access: int = _ALL_SHARING,
                        attributes: int = 0, contexts: Sequence[CreateContext] = ()) -> CreateResponse:
        """``create`` returning the whole CREATE response (times, sizes, contexts)."""
        body = CreateRequest(0, 2, access, attributes, share_access, disposition, options, path,
                             tuple(contexts)).encode()
        rsp = await self._one(Outgoing(Command.CREATE, body, tree_id=tid))
        return _decode(CreateResponse.decode, rsp)

    async def close(self, tid: int, fid: bytes) -> None:
        await self._one(Outgoing(Command.CLOSE, CloseRequest(0, fid).encode(), tree_id=tid))

    async def read(self, tid: int, fid: bytes, offset: int = 0, length: int = 65536) -> bytes:
        """Up to ``length`` bytes at ``offset`` (one READ, at most MaxReadSize); b"" at the end."""
        length = min(length, self.connection.max_read)
        body = ReadRequest(0, length, offset, fid, 0, 0).encode()
        rsp = await self._one(Outgoing(Command.READ, body, tree_id=tid, payload=length),
                              allow=(*_BUFFER_OVERFLOW, NtStatus.STATUS_END_OF_FILE))
        if rsp.status == NtStatus.STATUS_END_OF_FILE:
            return b""
        return bytes(_decode(decode_read_response, rsp))

    async def write(self, tid: int, fid: bytes, offset: int, data: bytes) -> int:
        """Write all of ``data`` at ``offset`` (in MaxWriteSize pieces); returns bytes written."""
        total = 0
        view = memoryview(data)
        while True:
            piece = view[total : total + self.connection.max_write]
            body = WriteRequest(offset + total, fid, 0, 0, piece).encode_fixed() + bytes(piece)
            rsp = await self._one(Outgoing(Command.WRITE, body, tree_id=tid, payload=len(piece)))
            count = _decode(decode_write_response, rsp)
            total += count
            if total >= len(data) or count == 0:
                return total

    async def list_dir(self, tid: int, path: str = "", pattern: str = "*") -> list[tuple[str, int, int]]:
        """(name, FileAttributes, size) of the entries of directory ``path``, without "." and ".."."""
        fid = await self.create(tid, path, access=_DIR_ACCESS, options=CreateOptions.DIRECTORY_FILE)
        out: list[tuple[str, int, int]] = []
        try:
            size = min(65536, self.connection.max_transact)
            flags = QueryDirectoryFlags.RESTART_SCANS
            while True:
                body = QueryDirectoryRequest(FileInfoClass.FileDirectoryInformation, flags, 0, fid,
                                             pattern, size).encode()
                rsp = await self._one(Outgoing(Command.QUERY_DIRECTORY, body, tree_id=tid, payload=size),
                                      allow=(NtStatus.STATUS_NO_MORE_FILES, NtStatus.STATUS_NO_SUCH_FILE))
                if rsp.status != NtStatus.STATUS_SUCCESS:
                    break
                data = _decode(decode_buffer_response, rsp)
                out += [e for e in parse_file_directory_information(data) if e[0] not in (".", "..")]
                flags = 0
        finally:
            await self.close(tid, fid)
        return out

    async def query_info(self, tid: int, fid: bytes, info_type: int = InfoType.FILE,
                         info_class: int = FileInfoClass.FileStandardInformation, *,
                         output_length: int = 4096, additional: int = 0) -> bytes:
        """QUERY_INFO (MS-SMB2 2.2.37): the raw FSCC structure (truncated on BUFFER_OVERFLOW)."""
        body = QueryInfoRequest(info_type, info_class, output_length, b"", additional, 0, fid).encode()
        rsp = await self._one(Outgoing(Command.QUERY_INFO, body, tree_id=tid, payload=output_length),
                              allow=_BUFFER_OVERFLOW)
        return _decode(decode_buffer_response, rsp)

    async def ioctl(self, tid: int, fid: bytes, code: int, data: bytes = b"", max_out: int = 65536) -> bytes:
        """An FSCTL (MS-SMB2 2.2.31). A PIPE_TRANSCEIVE reply longer than ``max_out`` is
        completed with READs; other codes return the truncated output on BUFFER_OVERFLOW."""
        body = IoctlRequest(code, fid, memoryview(data), 0, max_out, SMB2_0_IOCTL_IS_FSCTL).encode()
        rsp = await self._one(Outgoing(Command.IOCTL, body, tree_id=tid, payload=max(len(data), max_out)),
                              allow=_BUFFER_OVERFLOW)
        out = bytes(_decode(decode_ioctl_response, rsp))
        status = rsp.status
        while status == NtStatus.STATUS_BUFFER_OVERFLOW and code == Fsctl.PIPE_TRANSCEIVE:
            length = min(max_out, self.connection.max_read)
            read = ReadRequest(0, length, 0, fid, 0, 0).encode()
            more = await self._one(Outgoing(Command.READ, read, tree_id=tid, payload=length),
                                   allow=_BUFFER_OVERFLOW)
            out += bytes(_decode(decode_read_response, more))
            status = more.status
        return out

    # -- low level -----------------------------------------------------------------------------------
    async def call(self, messages: Sequence[Outgoing] | Outgoing, *, related: bool = False) -> list[Response]:
        """Send one request or a compound and return every response, whatever its status."""
        if isinstance(messages, Outgoing):
            messages = [messages]
        conn = self.connection
        await self._wait_credits(sum(conn.credit_charge(m.payload) for m in messages))
        return await self._flush_and_wait(conn.send(messages, related=related))

    async def disconnect(self) -> None:
        """Close the transport (no LOGOFF: the server tears the sessions down)."""
        self._fail(ConnectionError("disconnected"))
        self._task.cancel()
        try:
            self._writer.close()
            await self._writer.wait_closed()
        except (OSError, ConnectionError):
            pass

    async def __aenter__(self) -> "SmbClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    # -- plumbing --------------------------------------------------------------------------------------
    async def _one(self, message: Outgoing, *, allow: Sequence[int] = ()) -> Response:
        [rsp] = await self.call(message)
        return rsp.raise_for_status(allow=allow)

    async def _wait_credits(self, needed: int) -> None:
        conn = self.connection
        while conn.credits < needed:
            if self._error is not None:
                raise self._error
            if not self._waiters:
                raise NoCredits(f"{needed} credits needed, {conn.credits} granted, none on the way")
            self._credit_event.clear()
            await asyncio.wait_for(self._credit_event.wait(), self.timeout)

    async def _flush_and_wait(self, mids: list[int]) -> list[Response]:
        if self._error is not None:
            raise self._error
        loop = asyncio.get_running_loop()
        futures = [self._waiters.setdefault(mid, loop.create_future()) for mid in mids]
        try:
            self._writer.write(self.connection.data_to_send())
            await self._writer.drain()
            return list(await asyncio.wait_for(asyncio.gather(*futures), self.timeout))
        except TimeoutError:  # an OSError too: rule 3 promises TimeoutError, not ConnectionError
            self._fail(ConnectionError(f"no answer within {self.timeout:g} s"))  # the stream is out of step now
            raise TimeoutError(f"no answer from {self.server_name} within {self.timeout:g} s") from None
        except (OSError, ConnectionError) as exc:
            self._fail(exc if isinstance(exc, ConnectionError) else ConnectionError(str(exc)))
            raise self._error from None  # type: ignore[misc]
        finally:
            for mid in mids:
                self._waiters.pop(mid, None)

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(256 * 1024)
                if not data:
                    self._fail(ConnectionError("the server closed the connection"))
                    return
                for rsp in self.connection.receive_data(data):
                    fut = self._waiters.get(rsp.message_id)
                    if fut is not None and not fut.done():
                        fut.set_result(rsp)
                self._credit_event.set()
        except ClientProtocolError as exc:
            self._fail(exc)
            self._writer.close()
        except (OSError, ConnectionError) as exc:
            self._fail(ConnectionError(str(exc)))

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(self._error)
        self._credit_event.set()


def _decode(decoder: Any, rsp: Response) -> Any:
    try:
        return decoder(rsp.reader(), HEADER_SIZE)
    except MalformedMessage as exc:
        raise ClientProtocolError(f"malformed {Command(rsp.command).name} response: {exc}") from None

