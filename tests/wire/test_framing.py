"""Direct TCP framing (MS-SMB2 2.1): chunking, keep-alives, limits, the memory budget."""

from __future__ import annotations

import pytest

from nullsmb.status import MalformedMessage
from nullsmb.wire.framing import SCRATCH, FrameDecoder, frame_header


def frame(payload: bytes) -> bytes:
    return frame_header(len(payload)) + payload


def test_header_golden_bytes():
    assert frame_header(0x0102_03) == b"\x00\x01\x02\x03"
    with pytest.raises(ValueError):
        frame_header(0x1000000)


@pytest.mark.parametrize("chunk", [1, 3, 7, 4096, 10**9])
def test_any_chunking_gives_the_same_frames(chunk):
    payloads = [b"a" * 70, b"", b"b" * 200_000, b"c" * 5]
    stream = b"".join(frame(p) for p in payloads)
    dec = FrameDecoder(1 << 20)
    got = []
    for i in range(0, len(stream), chunk):
        got += [bytes(f) for f in dec.feed(stream[i:i + chunk])]
    assert got == payloads
    assert dec.buffered == 0


def test_keep_alives_are_dropped_even_with_a_payload():
    stream = b"\x85\x00\x00\x00" + frame(b"x") + b"\x85\x00\x00\x02zz" + frame(b"y")
    dec = FrameDecoder(1024)
    assert [bytes(f) for f in dec.feed(stream)] == [b"x", b"y"]


def test_other_netbios_types_and_oversized_frames_are_malformed():
    with pytest.raises(MalformedMessage):
        FrameDecoder(1024).feed(b"\x81\x00\x00\x00")
    with pytest.raises(MalformedMessage):
        FrameDecoder(1024).feed(frame_header(1025))


def test_large_frame_waits_for_the_memory_budget_and_resumes():
    budget = {"left": 0}

    def allocate(n: int):
        if budget["left"] < n:
            return None
        budget["left"] -= n
        return bytearray(n)

    payload = bytes(range(256)) * 1024  # 256 KiB: bigger than half the scratch buffer
    assert len(payload) > SCRATCH // 2
    dec = FrameDecoder(1 << 20, allocate)
    data = frame(payload)
    assert dec.feed(data[:1000]) == []
    assert dec.waiting  # refused: nothing lost, nothing allocated
    budget["left"] = len(payload)
    assert dec.retry() == []
    assert not dec.waiting
    frames = dec.feed(data[1000:])
    assert [bytes(f) for f in frames] == [payload]


@pytest.mark.parametrize("chunk", [1, 5000, 16 * 1024, 10**9])
def test_the_scratch_buffer_starts_small_and_grows_once_for_a_medium_pdu(chunk):
    from nullsmb.wire.framing import INITIAL_SCRATCH

    small = [bytes([i]) * 300 for i in range(100)]  # 30 KiB of small PDUs: no growth
    dec = FrameDecoder(1 << 20)
    stream = b"".join(frame(p) for p in small)
    got = []
    for i in range(0, len(stream), chunk):
        got += [bytes(f) for f in dec.feed(stream[i:i + chunk])]
    assert got == small and dec.capacity == INITIAL_SCRATCH
    medium = bytes(range(256)) * 240  # 60 KiB: too big for 16 KiB, not "large"
    stream = frame(b"head") + frame(medium) + frame(b"tail")
    got = []
    for i in range(0, len(stream), chunk):
        got += [bytes(f) for f in dec.feed(stream[i:i + chunk])]
    assert got == [b"head", medium, b"tail"]
    assert dec.capacity == SCRATCH and dec.buffered == 0
