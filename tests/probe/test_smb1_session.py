"""The SMB1 requests and response parsers of probe.smb1_session (MS-CIFS, MS-SMB).

Requests are checked field by field against the MS-CIFS layouts (and decoded by impacket's SMB1
structures where it has them); responses built here byte by byte are parsed, then cut at every
offset: a cut message is ``MalformedMessage`` or a smaller answer, never another exception.
"""

from __future__ import annotations

import struct

import pytest
from impacket import smb

from nullsmb.probe import smb1_session as s1
from nullsmb.status import MalformedMessage

HDR = struct.Struct("<4sBIBHH8sHHHHH")


def header(command: int, status: int = 0, *, tid: int = 0, uid: int = 0, mid: int = 1) -> bytes:
    return HDR.pack(b"\xffSMB", command, status, 0x98, 0xC801, 0, bytes(8), 0, tid, 0xFEFF, uid, mid)


def response(command: int, words: bytes, data: bytes, status: int = 0, **kw: int) -> bytes:
    return header(command, status, **kw) + bytes([len(words) // 2]) + words + struct.pack("<H", len(data)) + data


def split(pdu: bytes) -> tuple[bytes, bytes, bytes]:
    """(header, words, data) of a request we built."""
    words_len = 2 * pdu[32]
    (count,) = struct.unpack_from("<H", pdu, 33 + words_len)
    data = pdu[35 + words_len:]
    assert len(data) == count
    return pdu[:32], pdu[33:33 + words_len], data


def test_session_setup_request_layout() -> None:
    pdu = s1.session_setup_request(b"BLOB!", mid=7, uid=0x55)
    head, words, data = split(pdu)
    magic, command, status, flags, flags2, *_rest, tid, pid, uid, mid = HDR.unpack(head)
    assert (magic, command, status, flags2, uid, mid) == (b"\xffSMB", 0x73, 0, 0xC801, 0x55, 7)
    assert len(words) == 24  # WordCount 12: the extended-security form (MS-SMB 2.2.4.6.1)
    andx, _r, _off, _maxbuf, _mpx, _vc, _key, blob_len, _res, caps = struct.unpack("<BBHHHHIHII", words)
    assert (andx, blob_len) == (0xFF, 5) and caps & 0x80000000
    assert data.startswith(b"BLOB!")
    strings_at = 32 + 1 + 24 + 2 + 5 + (len(data) - 5 - len("Unix\0nullsmb\0".encode("utf-16-le")))
    assert strings_at % 2 == 0  # Unicode aligned from the header (MS-CIFS 2.2.3.1)
    assert data.endswith("Unix\0nullsmb\0".encode("utf-16-le"))


def test_tree_connect_request_layout() -> None:
    pdu = s1.tree_connect_request("\\\\host\\IPC$", mid=3, uid=9)
    _head, words, data = split(pdu)
    assert struct.unpack("<BBHHH", words) == (0xFF, 0, 0, 0, 1)  # PasswordLength 1
    assert data[0] == 0 and data.endswith(b"?????\0")
    path = "\\\\host\\IPC$\0".encode("utf-16-le")
    at = data.index(path)
    assert (32 + 1 + 8 + 2 + at) % 2 == 0


def test_nt_create_request_is_read_by_impacket() -> None:
    pdu = s1.nt_create_pipe_request("srvsvc", mid=4, uid=9, tid=2)
    packet = smb.NewSMBPacket(data=pdu)
    assert packet["Command"] == smb.SMB.SMB_COM_NT_CREATE_ANDX and packet["Tid"] == 2 and packet["Uid"] == 9
    params = smb.SMBNtCreateAndX_Parameters(smb.SMBCommand(packet["Data"][0])["Parameters"])
    assert params["FileNameLength"] == len("\\srvsvc".encode("utf-16-le"))
    assert (params["AccessMask"], params["ShareAccess"], params["Disposition"], params["Impersonation"]) == (
        0x0012019F, 3, 1, 2)
    _head, words, data = split(pdu)
    assert (32 + 1 + len(words) + 2) % 2 == 1 and data[0] == 0  # one pad byte, then the name
    assert data[1:].decode("utf-16-le") == "\\srvsvc\0"


def test_transact_nmpipe_request_layout() -> None:
    stub = bytes(range(40))
    pdu = s1.transact_nmpipe_request(0x4001, stub, 4280, mid=5, uid=1, tid=2)
    head, words, data = split(pdu)
    assert head[4] == 0x25 and len(words) == 32  # WordCount 16: 14 + two setup words
    (total_p, total_d, max_p, max_d, _ms, _r1, _fl, _to, _r2, p_count, _p_off, d_count, d_off,
     setup_count, _r3, sub, fid) = struct.unpack("<HHHHBBHIHHHHHBBHH", words)
    assert (total_p, total_d, max_p, max_d, p_count, d_count, setup_count, sub, fid) == (
        0, 40, 0, 4280, 0, 40, 2, 0x26, 0x4001)
    assert pdu[d_off:d_off + 40] == stub and d_off % 4 == 0
    assert "\\PIPE\\\0".encode("utf-16-le") in data


def test_write_and_read_andx_requests() -> None:
    pdu = s1.write_andx_request(0x10, b"abc", mid=1, uid=1, tid=1)
    _head, words, _data = split(pdu)
    _andx, fid, _off, _to, mode, remaining, _hi, length, offset, _offhi = struct.unpack("<4sHIIHHHHHI", words)
    assert (fid, mode, remaining, length, pdu[offset:offset + 3]) == (0x10, 0x0008, 3, 3, b"abc")
    pdu = s1.read_andx_request(0x10, 100_000, mid=1, uid=1, tid=1)
    _head, words, data = split(pdu)
    assert struct.unpack_from("<HIHH", words, 4) == (0x10, 0, 0xFFFF, 0xFFFF) and data == b""


def test_oversized_pipe_data_is_refused_before_sending() -> None:
    with pytest.raises(ValueError):
        s1.transact_nmpipe_request(1, bytes(0x10000), 10, mid=1, uid=1, tid=1)
    with pytest.raises(ValueError):
        s1.write_andx_request(1, bytes(0x10000), mid=1, uid=1, tid=1)


# -- responses --------------------------------------------------------------------------------------

def session_setup_response(blob: bytes, action: int = 1, status: int = 0xC0000016) -> bytes:
    words = b"\xff\x00\x00\x00" + struct.pack("<HH", action, len(blob))
    return response(0x73, words, blob + "Unix\0".encode("utf-16-le"), status, uid=0x801)


def transaction_response(payload: bytes, status: int = 0) -> bytes:
    data_offset = 32 + 1 + 20 + 2 + 1  # one pad byte before the data
    words = struct.pack("<HHHHHHHHHBB", 0, len(payload), 0, 0, data_offset, 0, len(payload), data_offset, 0, 0, 0)
    return response(0x25, words, b"\0" + payload, status)


def read_andx_response(payload: bytes, status: int = 0) -> bytes:
    data_offset = 32 + 1 + 24 + 2 + 1
    words = b"\xff\x00\x00\x00" + struct.pack("<HHHHHH8s", 0, 0, 0, len(payload), data_offset, 0, bytes(8))
    return response(0x2E, words, b"\0" + payload, status)


def test_responses_parse() -> None:
    rsp = s1.parse_response(session_setup_response(b"TOKEN"))
    assert (rsp.command, rsp.status, rsp.uid) == (0x73, 0xC0000016, 0x801)
    assert s1.session_setup_result(rsp) == (1, b"TOKEN")
    rsp = s1.parse_response(response(0x75, b"\xff\x00\x00\x00\x01\x00", b"IPC\0", tid=7))
    assert (rsp.tid, s1.tree_connect_service(rsp)) == (7, "IPC")
    rsp = s1.parse_response(response(0xA2, b"\xff\x00\x00\x00\x00" + struct.pack("<H", 0x4001) + bytes(62), b""))
    assert s1.nt_create_fid(rsp) == 0x4001
    assert s1.transaction_data(s1.parse_response(transaction_response(b"rpc reply"))) == b"rpc reply"
    assert s1.read_andx_data(s1.parse_response(read_andx_response(b"more"))) == b"more"
    rsp = s1.parse_response(response(0x2F, b"\xff\x00\x00\x00" + struct.pack("<HHHH", 3, 0, 0, 0), b""))
    assert s1.write_andx_count(rsp) == 3
    error = s1.parse_response(response(0x73, b"", b"", 0xC000006D))  # WordCount 0
    assert error.status == 0xC000006D and s1.session_setup_result(error) == (0, b"")


def names_entry(name: str, last: bool = False) -> bytes:
    raw = name.encode("utf-16-le")
    size = 12 + len(raw)
    size += -size % 4
    return struct.pack("<III", 0 if last else size, 0, len(raw)) + raw + bytes(size - 12 - len(raw))


def find_first2_response(names: list[str], end: int = 1) -> bytes:
    entries = b"".join(names_entry(n, i == len(names) - 1) for i, n in enumerate(names))
    params = struct.pack("<HHHHH", 1, len(names), end, 0, 0)
    base = 32 + 1 + 20 + 2
    p_off = base + 1
    d_off = p_off + len(params) + 2
    words = struct.pack("<HHHHHHHHHBB", len(params), len(entries), 0, len(params), p_off, 0, len(entries), d_off, 0, 0, 0)
    return response(0x32, words, b"\0" + params + b"\0\0" + entries)


def test_find_first2_request_layout() -> None:
    pdu = s1.find_first2_request("\\*", 100, mid=2, uid=3, tid=4)
    head, words, _data = split(pdu)
    assert head[4] == 0x32 and len(words) == 30  # WordCount 15: 14 + one setup word
    (total_p, total_d, _mp, max_d, _ms, _r1, _f, _t, _r2, p_count, p_off, d_count, _d_off, setup_count, _r3,
     sub) = struct.unpack("<HHHHBBHIHHHHHBBH", words)
    assert (total_d, d_count, setup_count, sub) == (0, 0, 1, 1) and p_count == total_p and max_d <= 16644
    attrs, count, flags, level, _storage = struct.unpack_from("<HHHHI", pdu, p_off)
    assert (attrs, count, flags, level) == (0x16, 100, 1, 0x103) and p_off % 4 == 0
    assert pdu[p_off + 12:p_off + p_count].decode("utf-16-le") == "\\*\0"


def test_find_first2_names() -> None:
    rsp = s1.parse_response(find_first2_response([".", "..", "a.txt", "dir"], end=0))
    assert s1.find_first2_names(rsp) == ([".", "..", "a.txt", "dir"], False)
    assert s1.find_first2_names(rsp, limit=2) == ([".", ".."], False)
    bad = bytearray(find_first2_response(["a.txt"]))
    at = bytes(bad).index("a.txt".encode("utf-16-le")) - 4
    struct.pack_into("<I", bad, at, 5000)  # FileNameLength
    with pytest.raises(MalformedMessage):
        s1.find_first2_names(s1.parse_response(bytes(bad)))


RESPONSES = {
    "find_first2": (find_first2_response(["one", "two"]), s1.find_first2_names),
    "session_setup": (session_setup_response(b"NTLMSSP-ish"), s1.session_setup_result),
    "transaction": (transaction_response(b"x" * 30), s1.transaction_data),
    "read_andx": (read_andx_response(b"y" * 30), s1.read_andx_data),
    "tree_connect": (response(0x75, b"\xff\x00\x00\x00\x01\x00", b"A:\0"), s1.tree_connect_service),
}


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_truncation_at_every_offset(name: str) -> None:
    whole, reader = RESPONSES[name]
    for cut in range(len(whole)):
        try:
            reader(s1.parse_response(whole[:cut]))
        except MalformedMessage:
            pass


@pytest.mark.parametrize("reader", [s1.session_setup_result, s1.transaction_data, s1.read_andx_data, s1.find_first2_names,
                                    s1.write_andx_count, s1.nt_create_fid, s1.tree_connect_service])
@pytest.mark.parametrize("word_count", range(0, 12))
def test_short_parameter_words_are_malformed_or_empty(reader, word_count: int) -> None:  # type: ignore[no-untyped-def]
    rsp = s1.parse_response(response(0x2E, bytes(2 * word_count), b"abc"))
    try:
        reader(rsp)
    except MalformedMessage:
        pass


def test_offsets_pointing_outside_the_message_are_malformed() -> None:
    bad = bytearray(transaction_response(b"abcd"))
    struct.pack_into("<H", bad, 33 + 14, 5000)  # DataOffset
    with pytest.raises(MalformedMessage):
        s1.transaction_data(s1.parse_response(bytes(bad)))
    bad = bytearray(read_andx_response(b"abcd"))
    struct.pack_into("<H", bad, 33 + 10, 0xFFFF)  # DataLength
    with pytest.raises(MalformedMessage):
        s1.read_andx_data(s1.parse_response(bytes(bad)))
    with pytest.raises(MalformedMessage):
        s1.parse_response(b"\xfeSMB" + bytes(40))  # an SMB2 magic
