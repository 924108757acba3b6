"""NTSTATUS codes (MS-ERREF 2.3) and the two error families of the protocol core.

Rules:
1. Names are MS-ERREF's, verbatim, so one grep hits the spec, Wireshark and this code.
2. ``MalformedMessage``: the peer broke framing or encoding; the connection is dropped.
3. ``SmbError``: a well-formed request that fails; the dispatcher answers with an SMB2 ERROR
   response (MS-SMB2 2.2.2) carrying ``status``.
4. Statuses that come with a normal body (MS-SMB2 3.3.4.4: MORE_PROCESSING_REQUIRED,
   BUFFER_OVERFLOW ...) are return values, never exceptions.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["NtStatus", "SmbError", "MalformedMessage"]


class NtStatus(IntEnum):
    """The NTSTATUS values nullsmb emits or inspects (MS-ERREF 2.3.1)."""

    STATUS_SUCCESS = 0x00000000
    STATUS_PENDING = 0x00000103
    STATUS_NOTIFY_ENUM_DIR = 0x0000010C
    STATUS_BUFFER_OVERFLOW = 0x80000005
    STATUS_NO_MORE_FILES = 0x80000006
    STATUS_UNSUCCESSFUL = 0xC0000001
    STATUS_NOT_IMPLEMENTED = 0xC0000002
    STATUS_INVALID_INFO_CLASS = 0xC0000003
    STATUS_INFO_LENGTH_MISMATCH = 0xC0000004
    STATUS_INVALID_HANDLE = 0xC0000008
    STATUS_INVALID_PARAMETER = 0xC000000D
    STATUS_NO_SUCH_FILE = 0xC000000F
    STATUS_INVALID_DEVICE_REQUEST = 0xC0000010
    STATUS_END_OF_FILE = 0xC0000011
    STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
    STATUS_ACCESS_DENIED = 0xC0000022
    STATUS_BUFFER_TOO_SMALL = 0xC0000023
    STATUS_OBJECT_TYPE_MISMATCH = 0xC0000024
    STATUS_OBJECT_NAME_INVALID = 0xC0000033
    STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
    STATUS_OBJECT_NAME_COLLISION = 0xC0000035
    STATUS_OBJECT_PATH_INVALID = 0xC0000039
    STATUS_OBJECT_PATH_NOT_FOUND = 0xC000003A
    STATUS_OBJECT_PATH_SYNTAX_BAD = 0xC000003B
    STATUS_SHARING_VIOLATION = 0xC0000043
    STATUS_DELETE_PENDING = 0xC0000056
    STATUS_PRIVILEGE_NOT_HELD = 0xC0000061
    STATUS_WRONG_PASSWORD = 0xC000006A
    STATUS_LOGON_FAILURE = 0xC000006D
    STATUS_ACCOUNT_RESTRICTION = 0xC000006E
    STATUS_ACCOUNT_DISABLED = 0xC0000072
    STATUS_NONE_MAPPED = 0xC0000073
    STATUS_DISK_FULL = 0xC000007F
    STATUS_INSUFFICIENT_RESOURCES = 0xC000009A
    STATUS_MEDIA_WRITE_PROTECTED = 0xC00000A2
    STATUS_FILE_IS_A_DIRECTORY = 0xC00000BA
    STATUS_NOT_SUPPORTED = 0xC00000BB
    STATUS_NETWORK_NAME_DELETED = 0xC00000C9
    STATUS_NETWORK_ACCESS_DENIED = 0xC00000CA
    STATUS_BAD_NETWORK_NAME = 0xC00000CC
    STATUS_REQUEST_NOT_ACCEPTED = 0xC00000D0
    STATUS_INTERNAL_ERROR = 0xC00000E5
    STATUS_DIRECTORY_NOT_EMPTY = 0xC0000101
    STATUS_NOT_A_DIRECTORY = 0xC0000103
    STATUS_CANCELLED = 0xC0000120
    STATUS_CANNOT_DELETE = 0xC0000121
    STATUS_FILE_CLOSED = 0xC0000128
    STATUS_INVALID_LEVEL = 0xC0000148
    STATUS_PIPE_NOT_AVAILABLE = 0xC00000AC
    STATUS_INVALID_PIPE_STATE = 0xC00000AD
    STATUS_PIPE_BUSY = 0xC00000AE
    STATUS_PIPE_DISCONNECTED = 0xC00000B0
    STATUS_PIPE_BROKEN = 0xC000014B
    STATUS_PIPE_EMPTY = 0xC00000D9
    STATUS_USER_SESSION_DELETED = 0xC0000203
    STATUS_NETWORK_SESSION_EXPIRED = 0xC000035C
    STATUS_FS_DRIVER_REQUIRED = 0xC000019C
    STATUS_NOT_FOUND = 0xC0000225
    STATUS_SMB_BAD_TID = 0x00050002
    STATUS_FILE_NOT_AVAILABLE = 0xC0000467
    STATUS_NAME_TOO_LONG = 0xC0000106
    STATUS_TOO_MANY_OPENED_FILES = 0xC000011F
    STATUS_NO_SUCH_USER = 0xC0000064
    STATUS_LOCK_NOT_GRANTED = 0xC0000055
    STATUS_RANGE_NOT_LOCKED = 0xC000007E
    STATUS_FILE_LOCK_CONFLICT = 0xC0000054
    STATUS_EAS_NOT_SUPPORTED = 0xC000004F
    STATUS_IO_TIMEOUT = 0xC00000B5
    STATUS_BAD_IMPERSONATION_LEVEL = 0xC00000A5

    @property
    def severity(self) -> int:
        """The two high bits: 0 success, 1 informational, 2 warning, 3 error."""
        return int(self) >> 30

    @classmethod
    def name_of(cls, value: int) -> str:
        """The MS-ERREF name of ``value``, or its hex form when nullsmb does not list it."""
        try:
            return cls(value).name
        except ValueError:
            return f"0x{value:08X}"


class MalformedMessage(Exception):
    """Broken framing or encoding from the peer: the connection is dropped (never answered)."""


class SmbError(Exception):
    """A well-formed request that fails with ``status``; answered with an SMB2 ERROR response.

    ``error_data`` is the ErrorData of MS-SMB2 2.2.2 (empty for nearly every status).
    """

    def __init__(self, status: NtStatus | int, message: str = "", *, error_data: bytes = b"") -> None:
        self.status = int(status)
        self.error_data = error_data
        super().__init__(message or NtStatus.name_of(self.status))
