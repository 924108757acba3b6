"""SMB1 sessions, tree connects and pipe opens, for hosts that speak nothing newer (sans-I/O).

An SMB1-only server (Windows Server 2003, old NAS firmware, Samba with ``server max protocol =
NT1``) is where null sessions were born; the probe's SMB2 client cannot log on to it, so these
few SMB1 requests answer steps 2 to 4 there.

Rules:
1. Only what the probe asks: SMB_COM_SESSION_SETUP_ANDX in its extended-security form (MS-SMB
   2.2.4.6: the SPNEGO/NTLMSSP blobs of ``auth.spnego``, the same as SMB2's), TREE_CONNECT_ANDX
   (MS-CIFS 2.2.4.55), NT_CREATE_ANDX of a named pipe on IPC$ (MS-CIFS 2.2.4.64), the pipe's
   DCE/RPC traffic (TRANSACTION TransactNmPipe, MS-CIFS 2.2.5.6; WRITE_ANDX 2.2.4.43; READ_ANDX
   2.2.4.42), a root listing (TRANSACTION2 FIND_FIRST2 with SMB_FIND_FILE_NAMES_INFO, MS-CIFS
   2.2.6.2 and 2.2.8.1.6) and CLOSE (MS-CIFS 2.2.4.5). One request at a time, no AndX chains, no signing (null and guest
   sessions have no key; MS-SMB 3.2.4.2.4 lets a client leave signing off unless the server
   requires it, which the probe's step 1 reports).
2. Requests use Unicode, NT status codes and long names (Flags2 0xC801); strings are aligned to
   2 bytes from the start of the SMB header (MS-CIFS 2.2.3.1).
3. Responses are parsed defensively: the magic, the command, WordCount and ByteCount against
   the PDU's length; anything else is ``MalformedMessage``. An error response (WordCount 0) is
   a status, not a malformation.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..status import MalformedMessage
from ..wire.header import SMB1_MAGIC

__all__ = [
    "COM_TRANSACTION2", "find_first2_request", "find_first2_names",
    "COM_READ_ANDX", "COM_TRANSACTION", "COM_WRITE_ANDX", "read_andx_request", "read_andx_data",
    "transact_nmpipe_request", "transaction_data", "write_andx_request", "write_andx_count",
    "COM_CLOSE", "COM_NT_CREATE_ANDX", "COM_SESSION_SETUP_ANDX", "COM_TREE_CONNECT_ANDX", "SMB_SETUP_GUEST",
    "Smb1Response", "close_request", "nt_create_pipe_request", "parse_response", "session_setup_request",
    "session_setup_result", "tree_connect_request", "tree_connect_service", "nt_create_fid",
]

COM_CLOSE = 0x04
COM_TRANSACTION = 0x25
COM_READ_ANDX = 0x2E
COM_WRITE_ANDX = 0x2F
COM_TRANSACTION2 = 0x32
TRANS2_FIND_FIRST2 = 0x0001
SMB_FIND_FILE_NAMES_INFO = 0x0103
TRANS_TRANSACT_NMPIPE = 0x0026
COM_SESSION_SETUP_ANDX = 0x73
COM_TREE_CONNECT_ANDX = 0x75
COM_NT_CREATE_ANDX = 0xA2
SMB_SETUP_GUEST = 0x0001  # SESSION_SETUP_ANDX Action (MS-CIFS 2.2.4.53.2)

_HEADER = struct.Struct("<4sBIBHH8sHHHHH")  # MS-CIFS 2.2.3.1: 32 bytes
_FLAGS = 0x18  # SMB_FLAGS_CASE_INSENSITIVE | SMB_FLAGS_CANONICALIZED_PATHS
_FLAGS2 = 0xC801  # UNICODE | NT_STATUS | EXTENDED_SECURITY | LONG_NAMES_ALLOWED
_PID = 0xFEFF
_NO_ANDX = b"\xff\x00\x00\x00"  # AndXCommand none, reserved, offset 0
# CAP_UNICODE | CAP_LARGE_FILES | CAP_NT_SMBS | CAP_STATUS32 | CAP_EXTENDED_SECURITY
_CAPABILITIES = 0x00000004 | 0x00000008 | 0x00000010 | 0x00000040 | 0x80000000
_MAX_BUFFER, _MAX_MPX = 16644, 50
_PIPE_ACCESS = 0x0012019F  # what rpcclient asks for (steps.pipes.PIPE_ACCESS)
_FILE_SHARE_READ_WRITE, _FILE_OPEN, _SECURITY_IMPERSONATION = 3, 1, 2
_NT_CREATE = struct.Struct("<4sBHIIIQIIIIIB")  # the 48 bytes of NT_CREATE_ANDX's words after AndX


def _message(command: int, words: bytes, data: bytes, *, mid: int, uid: int = 0, tid: int = 0) -> bytes:
    header = _HEADER.pack(SMB1_MAGIC, command, 0, _FLAGS, _FLAGS2, 0, bytes(8), 0, tid, _PID, uid, mid)
    return header + bytes([len(words) // 2]) + words + struct.pack("<H", len(data)) + data


def _data_offset(words_len: int) -> int:
    """Where SMB_Data's bytes start, counted from the SMB header (rule 2)."""
    return _HEADER.size + 1 + words_len + 2


def _unicode(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def session_setup_request(blob: bytes, *, mid: int, uid: int = 0) -> bytes:
    """SESSION_SETUP_ANDX with extended security (MS-SMB 2.2.4.6.1), WordCount 12."""
    words = _NO_ANDX + struct.pack("<HHHIHII", _MAX_BUFFER, _MAX_MPX, 0, 0, len(blob), 0, _CAPABILITIES)
    pad = b"\0" * ((_data_offset(len(words)) + len(blob)) % 2)
    data = blob + pad + _unicode("Unix") + _unicode("nullsmb")
    return _message(COM_SESSION_SETUP_ANDX, words, data, mid=mid, uid=uid)


def tree_connect_request(path: str, *, mid: int, uid: int) -> bytes:
    """TREE_CONNECT_ANDX (MS-CIFS 2.2.4.55.1) to ``\\\\server\\share``, any service ("?????")."""
    words = _NO_ANDX + struct.pack("<HH", 0, 1)  # Flags, PasswordLength: one zero byte (user level)
    password = b"\0"
    pad = b"\0" * ((_data_offset(len(words)) + len(password)) % 2)
    data = password + pad + _unicode(path) + b"?????\0"
    return _message(COM_TREE_CONNECT_ANDX, words, data, mid=mid, uid=uid)


def nt_create_pipe_request(name: str, *, mid: int, uid: int, tid: int) -> bytes:
    """NT_CREATE_ANDX of ``\\name`` on IPC$ (MS-CIFS 2.2.4.64.1), WordCount 24."""
    encoded = ("\\" + name).encode("utf-16-le")
    words = _NT_CREATE.pack(_NO_ANDX, 0, len(encoded), 0, 0, _PIPE_ACCESS, 0, 0, _FILE_SHARE_READ_WRITE,
                            _FILE_OPEN, 0, _SECURITY_IMPERSONATION, 0)
    pad = b"\0" * (_data_offset(len(words)) % 2)
    return _message(COM_NT_CREATE_ANDX, words, pad + encoded + b"\0\0", mid=mid, uid=uid, tid=tid)


def close_request(fid: int, *, mid: int, uid: int, tid: int) -> bytes:
    """CLOSE (MS-CIFS 2.2.4.5.1): the FID, LastTimeModified left alone (0xFFFFFFFF)."""
    return _message(COM_CLOSE, struct.pack("<HI", fid, 0xFFFFFFFF), b"", mid=mid, uid=uid, tid=tid)


@dataclass(frozen=True, slots=True)
class Smb1Response:
    command: int
    status: int
    tid: int
    uid: int
    mid: int
    words: bytes
    data: bytes


def parse_response(pdu: bytes) -> Smb1Response:
    """Rule 3: one SMB1 response (without the Direct TCP header)."""
    if len(pdu) < _HEADER.size + 3 or pdu[:4] != SMB1_MAGIC:
        raise MalformedMessage("not an SMB1 response")
    _magic, command, status, _flags, _flags2, _pid_high, _sec, _res, tid, _pid, uid, mid = _HEADER.unpack_from(pdu)
    at = _HEADER.size
    words_len = 2 * pdu[at]
    if at + 1 + words_len + 2 > len(pdu):
        raise MalformedMessage("SMB1 parameter words beyond the message")
    words = pdu[at + 1 : at + 1 + words_len]
    (byte_count,) = struct.unpack_from("<H", pdu, at + 1 + words_len)
    start = at + 1 + words_len + 2
    if start + byte_count > len(pdu):
        raise MalformedMessage("SMB1 data bytes beyond the message")
    return Smb1Response(command, status, tid, uid, mid, bytes(words), bytes(pdu[start : start + byte_count]))


def session_setup_result(rsp: Smb1Response) -> tuple[int, bytes]:
    """(Action, SecurityBlob) of a SESSION_SETUP_ANDX response (MS-SMB 2.2.4.6.2)."""
    if len(rsp.words) < 8:
        return 0, b""
    action, blob_len = struct.unpack_from("<HH", rsp.words, 4)
    if blob_len > len(rsp.data):
        raise MalformedMessage("SecurityBlobLength beyond the data")
    return action, rsp.data[:blob_len]


def tree_connect_service(rsp: Smb1Response) -> str:
    """The Service a TREE_CONNECT_ANDX response names (MS-CIFS 2.2.4.55.2): "A:" a disk share,
    "IPC" the IPC$ share, "LPT1:" a printer, "COMM" a serial device."""
    service, _nul, _rest = rsp.data.partition(b"\0")
    return service.decode("ascii", "replace")


def nt_create_fid(rsp: Smb1Response) -> int:
    """The FID of an NT_CREATE_ANDX response (MS-CIFS 2.2.4.64.2: after AndX and OpLockLevel)."""
    if len(rsp.words) < 7:
        raise MalformedMessage("NT_CREATE_ANDX response without a FID")
    (fid,) = struct.unpack_from("<H", rsp.words, 5)
    return int(fid)


_TRANS_WORDS = struct.Struct("<HHHHBBHIHHHHHBBHH")  # MS-CIFS 2.2.4.33.1 with two setup words: 32 bytes
_READ_WORDS = struct.Struct("<4sHIHHIHI")  # MS-CIFS 2.2.4.42.1, WordCount 12
_WRITE_WORDS = struct.Struct("<4sHIIHHHHHI")  # MS-CIFS 2.2.4.43.1, WordCount 14
_WRITE_MSG_START = 0x0008  # WriteMode for a message-mode pipe: this write starts a message
MAX_PIPE_DATA = 0xFFFF  # the 16-bit counts of TRANSACTION and READ_ANDX


def transact_nmpipe_request(fid: int, data: bytes, max_out: int, *, mid: int, uid: int, tid: int) -> bytes:
    """TRANSACTION with TRANS_TRANSACT_NMPIPE (MS-CIFS 2.2.5.6.1): write ``data`` to the pipe and
    read up to ``max_out`` bytes of its answer in one exchange. Name "\\PIPE\\", no parameters."""
    if len(data) > MAX_PIPE_DATA:
        raise ValueError(f"{len(data)} bytes do not fit one TRANSACTION")
    words_len = _TRANS_WORDS.size
    start = _data_offset(words_len)
    pad = b"\0" * (start % 2)
    name = _unicode("\\PIPE\\")
    data_offset = start + len(pad) + len(name)
    pad2 = b"\0" * (-data_offset % 4)
    data_offset += len(pad2)
    words = _TRANS_WORDS.pack(0, len(data), 0, min(max_out, MAX_PIPE_DATA), 0, 0, 0, 0, 0, 0, data_offset,
                              len(data), data_offset, 2, 0, TRANS_TRANSACT_NMPIPE, fid)
    return _message(COM_TRANSACTION, words, pad + name + pad2 + data, mid=mid, uid=uid, tid=tid)


def _slice(pdu_data_start: int, rsp: Smb1Response, offset: int, count: int) -> bytes:
    """``count`` bytes at ``offset`` (counted from the SMB header) of a response's data bytes."""
    at = offset - pdu_data_start
    if offset == 0 and count == 0:
        return b""
    if at < 0 or at + count > len(rsp.data):
        raise MalformedMessage("SMB1 data offset or count beyond the message")
    return rsp.data[at : at + count]


def transaction_data(rsp: Smb1Response) -> bytes:
    """The data of a TRANSACTION response (MS-CIFS 2.2.4.33.2), all in this one message."""
    if len(rsp.words) < 20:
        raise MalformedMessage("TRANSACTION response too short")
    total_params, total_data, _r, p_count, _p_off, _p_disp, d_count, d_off, d_disp = struct.unpack_from(
        "<HHHHHHHHH", rsp.words)
    if d_disp != 0 or d_count != total_data:
        raise MalformedMessage("TRANSACTION response in several parts")
    return _slice(_data_offset(len(rsp.words)), rsp, d_off, d_count)


def read_andx_request(fid: int, count: int, *, mid: int, uid: int, tid: int) -> bytes:
    """READ_ANDX (MS-CIFS 2.2.4.42.1) of up to ``count`` bytes of the pipe's pending message."""
    count = min(count, MAX_PIPE_DATA)
    words = _READ_WORDS.pack(_NO_ANDX, fid, 0, count, count, 0, 0, 0)
    return _message(COM_READ_ANDX, words, b"", mid=mid, uid=uid, tid=tid)


def read_andx_data(rsp: Smb1Response) -> bytes:
    """The data of a READ_ANDX response (MS-CIFS 2.2.4.42.2)."""
    if len(rsp.words) < 16:
        raise MalformedMessage("READ_ANDX response too short")
    _available, _mode, _res, length, offset, length_high = struct.unpack_from("<HHHHHH", rsp.words, 4)
    return _slice(_data_offset(len(rsp.words)), rsp, offset, length | (length_high << 16))


def write_andx_request(fid: int, data: bytes, *, mid: int, uid: int, tid: int) -> bytes:
    """WRITE_ANDX (MS-CIFS 2.2.4.43.1) of one message start to the pipe."""
    if len(data) > MAX_PIPE_DATA:
        raise ValueError(f"{len(data)} bytes do not fit one WRITE_ANDX")
    start = _data_offset(_WRITE_WORDS.size)
    pad = b"\0" * (start % 2)
    words = _WRITE_WORDS.pack(_NO_ANDX, fid, 0, 0, _WRITE_MSG_START, len(data), 0, len(data),
                              start + len(pad), 0)
    return _message(COM_WRITE_ANDX, words, pad + data, mid=mid, uid=uid, tid=tid)


def write_andx_count(rsp: Smb1Response) -> int:
    """Bytes written, from a WRITE_ANDX response (MS-CIFS 2.2.4.43.2: Count, then CountHigh)."""
    if len(rsp.words) < 12:
        raise MalformedMessage("WRITE_ANDX response too short")
    count, _available, count_high = struct.unpack_from("<HHI", rsp.words, 4)
    return count | ((count_high & 0xFFFF) << 16)


_TRANS2_WORDS = struct.Struct("<HHHHBBHIHHHHHBBH")  # MS-CIFS 2.2.4.46.1 with one setup word: 30 bytes
_FIND_PARAMS = struct.Struct("<HHHHI")  # SearchAttributes, SearchCount, Flags, InformationLevel, StorageType
_FIND_RESPONSE_PARAMS = struct.Struct("<HHHHH")  # SID, SearchCount, EndOfSearch, EaErrorOffset, LastNameOffset
_NAMES_ENTRY = struct.Struct("<III")  # NextEntryOffset, FileIndex, FileNameLength (MS-CIFS 2.2.8.1.6)
_SEARCH_ALL = 0x0016  # SMB_FILE_ATTRIBUTE_HIDDEN | SYSTEM | DIRECTORY
_FIND_CLOSE_AFTER_REQUEST = 0x0001
_MAX_FIND_DATA = 16000  # fits our MaxBufferSize (16644), so the answer comes in one message


def find_first2_request(pattern: str, count: int, *, mid: int, uid: int, tid: int) -> bytes:
    """TRANSACTION2 FIND_FIRST2 of ``pattern`` (``\\*`` for the root), names only, the search
    closed after this one answer: a read-only look at a share (the probe's step 3)."""
    params = _FIND_PARAMS.pack(_SEARCH_ALL, count, _FIND_CLOSE_AFTER_REQUEST, SMB_FIND_FILE_NAMES_INFO, 0)
    params += _unicode(pattern)
    start = _data_offset(_TRANS2_WORDS.size)
    pad = b"\0" * (-start % 4)  # Parameters aligned to 4 bytes from the header
    param_offset = start + len(pad)
    words = _TRANS2_WORDS.pack(len(params), 0, 10, _MAX_FIND_DATA, 0, 0, 0, 0, 0, len(params), param_offset, 0,
                               param_offset + len(params), 1, 0, TRANS2_FIND_FIRST2)
    return _message(COM_TRANSACTION2, words, pad + params, mid=mid, uid=uid, tid=tid)


def find_first2_names(rsp: Smb1Response, limit: int = 1000) -> tuple[list[str], bool]:
    """(names, end of search) of a FIND_FIRST2 response with SMB_FIND_FILE_NAMES_INFO entries;
    every NextEntryOffset and FileNameLength is checked against the data."""
    if len(rsp.words) < 20:
        raise MalformedMessage("TRANSACTION2 response too short")
    total_params, total_data, _r, p_count, p_off, p_disp, d_count, d_off, d_disp = struct.unpack_from(
        "<HHHHHHHHH", rsp.words)
    if p_disp or d_disp or p_count != total_params or d_count != total_data:
        raise MalformedMessage("TRANSACTION2 response in several parts")
    base = _data_offset(len(rsp.words))
    params = _slice(base, rsp, p_off, p_count)
    data = _slice(base, rsp, d_off, d_count)
    if len(params) < _FIND_RESPONSE_PARAMS.size:
        raise MalformedMessage("FIND_FIRST2 parameters too short")
    _sid, count, end, _ea, _last = _FIND_RESPONSE_PARAMS.unpack_from(params)
    names: list[str] = []
    at = 0
    for _ in range(min(count, limit)):
        if at + _NAMES_ENTRY.size > len(data):
            raise MalformedMessage("FIND_FIRST2 entry beyond the data")
        nxt, _index, length = _NAMES_ENTRY.unpack_from(data, at)
        name_at = at + _NAMES_ENTRY.size
        if length > len(data) - name_at:
            raise MalformedMessage("FIND_FIRST2 file name beyond the data")
        names.append(data[name_at : name_at + length].decode("utf-16-le", "replace").rstrip("\0"))
        if nxt == 0:
            break
        if nxt < _NAMES_ENTRY.size:
            raise MalformedMessage("FIND_FIRST2 NextEntryOffset too small")
        at += nxt
    return names, bool(end)
