"""Direct TCP transport framing (MS-SMB2 2.1): a 4-byte header, zero then a 24-bit length.

Rules:
1. The first byte is the NetBIOS session message type: 0x00 is a session message; 0x85
   (session keep-alive, RFC 1002 4.3.7) frames are dropped silently; anything else is malformed.
2. A frame longer than ``max_frame`` is malformed (the peer is abusing us); the connection drops.
3. Any chunking is accepted. Small PDUs are read through a scratch buffer; a large PDU gets its
   own buffer of exactly its size and the socket reads straight into it (``get_buffer`` /
   ``buffer_updated``, the asyncio.BufferedProtocol shape), so an 8 MiB WRITE is copied once, by
   the kernel. The scratch buffer starts small (``INITIAL_SCRATCH``: an idle or chatty
   connection holds 16 KiB, not 256) and grows once to ``SCRATCH`` the first time a PDU of
   medium size does not fit in it; "large" means more than half of ``SCRATCH``.
4. Each complete PDU is handed out once, as a ``bytes`` or a ``bytearray`` nobody resizes.
5. A large PDU's buffer comes from ``allocate`` (the server's memory budget); when it says no,
   the decoder waits (``waiting``) until ``retry()`` is called, keeping the bytes it has.
"""

from __future__ import annotations

from typing import Callable

from ..status import MalformedMessage

__all__ = ["FrameDecoder", "frame_header"]

SESSION_MESSAGE = 0x00
SESSION_KEEP_ALIVE = 0x85
SCRATCH = 256 * 1024
INITIAL_SCRATCH = 16 * 1024


def frame_header(length: int) -> bytes:
    """The 4-byte Direct TCP header for a PDU of ``length`` bytes."""
    if length > 0xFFFFFF:
        raise ValueError("PDU too large for Direct TCP framing")
    return length.to_bytes(4, "big")


class FrameDecoder:
    """Splits a byte stream into PDUs, with a zero-copy path for large ones."""

    __slots__ = ("_scratch", "_view", "_start", "_end", "_big", "_big_fill", "_skip", "max_frame",
                 "_allocate", "waiting")

    def __init__(self, max_frame: int,
                 allocate: Callable[[int], bytearray | None] | None = None) -> None:
        self._allocate = allocate or bytearray
        self.waiting = False
        self._scratch = bytearray(INITIAL_SCRATCH)
        self._view = memoryview(self._scratch)
        self._start = 0  # unparsed data in scratch is [_start, _end)
        self._end = 0
        self._big: bytearray | None = None  # a large PDU being received in place
        self._big_fill = 0
        self._skip = 0  # keep-alive payload bytes still to drop
        self.max_frame = max_frame

    @property
    def capacity(self) -> int:
        """The scratch buffer's size (rule 3)."""
        return len(self._scratch)

    @property
    def buffered(self) -> int:
        return self._end - self._start + self._big_fill

    # -- BufferedProtocol interface -----------------------------------------------------------
    def get_buffer(self) -> memoryview:
        if self._big is not None:
            return memoryview(self._big)[self._big_fill :]
        if self._end == len(self._scratch):
            self._compact()
            if self._end == len(self._scratch):
                if len(self._scratch) < SCRATCH:
                    self._grow()
                else:  # only while waiting for memory, which pauses reading
                    raise MalformedMessage("receive buffer full while waiting for memory")
        return self._view[self._end :]

    def buffer_updated(self, n: int) -> list[bytes | bytearray]:
        if self._big is not None:
            self._big_fill += n
            if self._big_fill < len(self._big):
                return []
            frame = self._big
            self._big = None
            self._big_fill = 0
            return [frame]
        self._end += n
        return self._parse()

    # -- plain interface (tests, fuzzers, the client) -----------------------------------------
    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes | bytearray]:
        frames: list[bytes | bytearray] = []
        data = memoryview(data)
        while data:
            buf = self.get_buffer()
            n = min(len(buf), len(data))
            buf[:n] = data[:n]
            data = data[n:]
            frames.extend(self.buffer_updated(n))
        return frames

    def retry(self) -> list[bytes | bytearray]:
        """Try again to allocate the large PDU that ``allocate`` refused."""
        self.waiting = False
        return self._parse()

    def _grow(self) -> None:
        """Rule 3: the scratch buffer becomes SCRATCH bytes, keeping the unparsed ones."""
        live = self._end - self._start
        bigger = bytearray(SCRATCH)
        bigger[:live] = self._scratch[self._start : self._end]
        self._scratch, self._view = bigger, memoryview(bigger)
        self._start, self._end = 0, live

    def _compact(self) -> None:
        live = self._end - self._start
        self._scratch[:live] = self._scratch[self._start : self._end]
        self._start, self._end = 0, live

    def _parse(self) -> list[bytes | bytearray]:
        frames: list[bytes | bytearray] = []
        scratch = self._scratch
        while True:
            if self._skip:
                drop = min(self._skip, self._end - self._start)
                self._start += drop
                self._skip -= drop
                if self._skip:
                    break
            avail = self._end - self._start
            if avail < 4:
                break
            pos = self._start
            kind = scratch[pos]
            length = int.from_bytes(scratch[pos + 1 : pos + 4], "big")
            if kind == SESSION_KEEP_ALIVE:
                self._start += 4
                self._skip = length
                continue
            if kind != SESSION_MESSAGE:
                raise MalformedMessage(f"NetBIOS message type 0x{kind:02x}")
            if length > self.max_frame:
                raise MalformedMessage(f"frame of {length} bytes exceeds {self.max_frame}")
            if avail - 4 >= length:
                frames.append(bytes(scratch[pos + 4 : pos + 4 + length]))
                self._start += 4 + length
                continue
            if len(scratch) < 4 + length <= SCRATCH // 2:
                self._grow()  # a medium PDU: the scratch buffer grows once (rule 3)
                break
            if 4 + length > SCRATCH // 2:
                # Large PDU: give it its own buffer and receive the rest straight into it.
                big = self._allocate(length)
                if big is None:
                    self.waiting = True
                    break
                have = avail - 4
                big[:have] = scratch[pos + 4 : self._end]
                self._big, self._big_fill = big, have
                self._start = self._end = 0
            break
        if self._start == self._end:
            self._start = self._end = 0
        elif self._start > len(self._scratch) // 2:
            self._compact()
        return frames
