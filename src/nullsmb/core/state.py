"""Typed protocol state: the abstract data model of MS-SMB2 3.3.1 as dataclasses.

Rules:
1. Sessions, tree connects and opens live in id-allocating tables, never in string-keyed dicts.
2. Ids are never reused while the server runs (a stale id from a client must miss).
3. Counters (bytes, requests, denials) are kept here for Server Manager to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, Iterator, TypeVar

from ..auth.ntlmssp import AuthResult
from ..backend.base import Backend, Handle
from ..policy.null_session import Principal, PrincipalKind, Right
from .crypto import PreauthHash, SessionKeys

__all__ = ["IdTable", "Open", "Session", "SessionState", "Share", "TreeConnect"]

T = TypeVar("T")


class IdTable(Generic[T]):
    """Maps ids to objects; ids grow monotonically from ``first``."""

    __slots__ = ("_items", "_next", "_limit")

    def __init__(self, first: int = 1, limit: int = 0xFFFFFFFF) -> None:
        self._items: dict[int, T] = {}
        self._next = first
        self._limit = limit

    def add(self, item: T) -> int:
        ident = self._next
        if ident > self._limit:
            raise OverflowError("id space exhausted")
        self._next += 1
        self._items[ident] = item
        return ident

    def get(self, ident: int) -> T | None:
        return self._items.get(ident)

    def pop(self, ident: int) -> T | None:
        return self._items.pop(ident, None)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def items(self) -> list[tuple[int, T]]:
        return list(self._items.items())


@dataclass(eq=False, slots=True)
class Share:
    """A configured share (MS-SMB2 3.3.1.6 Share) bound to its backend."""

    name: str
    path: str
    comment: str
    read_only: bool
    access: tuple[tuple[str, str], ...]
    backend: Backend | None  # None for IPC$
    is_ipc: bool = False


class SessionState(Enum):
    IN_PROGRESS = "in_progress"
    VALID = "valid"
    EXPIRED = "expired"


@dataclass(eq=False, slots=True)
class TreeConnect:
    """MS-SMB2 3.3.1.10 TreeConnect."""

    tree_id: int
    share: Share
    right: Right
    maximal_access: int
    encrypt: bool = False
    connected_at: float = 0.0


@dataclass(eq=False, slots=True)
class Open:
    """MS-SMB2 3.3.1.10 Open (a file, directory or pipe handle)."""

    persistent_id: int
    volatile_id: int
    tree: TreeConnect
    handle: Handle | None
    pipe: Any  # an rpc pipe object for IPC$ opens
    path: str  # share-relative, backslash form, for display and audit
    granted_access: int
    is_dir: bool
    delete_on_close: bool = False
    position: int = 0
    mode: int = 0
    # directory enumeration state (MS-SMB2 3.3.5.18)
    enum_pattern: str | None = None
    enum_entries: list | None = None
    enum_pos: int = 0
    enum_stamp: tuple[int, int] = (0, 0)  # FileTable.dir_stamp when the listing was taken
    # sharing, caching and locking (MS-SMB2 3.3.1.10; MS-FSA 2.1.1.6 Open)
    share_access: int = 0
    conn: Any = None  # the ServerConnection that carries it: oplock breaks go there
    session: Any = None  # the Session whose open_table holds it
    file: Any = None  # core.files.FileEntry: every open of the same file shares it
    oplock_level: int = 0  # SMB2_OPLOCK_LEVEL_* granted (LEASE: see ``lease``)
    oplock_breaking_to: int | None = None  # Open.OplockState = Breaking, to this level
    lease: Any = None  # core.oplock.Lease
    notify: Any = None  # core.notify.Watch of a directory open
    lock_sequences: dict[int, int] = field(default_factory=dict)  # MS-SMB2 Open.LockSequenceArray
    create_guid: bytes = b""  # MS-SMB2 Open.CreateGuid (durable v2)
    durable: bool = False  # MS-SMB2 Open.IsDurable
    durable_timeout: float = 0.0  # seconds a disconnected durable open is kept
    durable_v2: bool = False
    app_instance_id: bytes = b""
    break_timer: Any = None  # the oplock break acknowledgment deadline (MS-SMB2 3.3.2.1)
    resume_key: bytes = b""  # FSCTL_SRV_REQUEST_RESUME_KEY (server-side copy source)
    ea_index: int = 0  # the next EA a FileFullEaInformation query returns (MS-FSA 2.1.5.11.11)
    owner: tuple[str, str] = ("", "")  # (user, domain) casefolded: who may reconnect it
    expiry: Any = None  # a disconnected durable open's deadline (core.durable)
    closed: bool = False


@dataclass(eq=False, slots=True)
class Session:
    """MS-SMB2 3.3.1.8 Session."""

    session_id: int
    state: SessionState = SessionState.IN_PROGRESS
    auth: Any = None  # the SPNEGO acceptor while an authentication is under way
    reauthenticating: bool = False  # that authentication re-authenticates a VALID session
    result: AuthResult | None = None
    principal: Principal = field(default_factory=lambda: Principal(PrincipalKind.ANONYMOUS))
    keys: SessionKeys | None = None
    signing_required: bool = False
    encrypt_data: bool = False
    preauth: PreauthHash | None = None
    tree_connect_table: IdTable[TreeConnect] = field(default_factory=lambda: IdTable(1))
    open_table: IdTable[Open] = field(default_factory=lambda: IdTable(1, 0xFFFFFFFFFFFFFFFE))
    created_at: float = 0.0
    last_activity: float = 0.0
    bytes_read: int = 0
    bytes_written: int = 0
    requests: int = 0
    denials: int = 0
    # what the authenticating connection negotiated (a binding or a reconnect checks them)
    conn: Any = None  # the ServerConnection the session was set up on
    dialect: int = 0
    signing_algorithm: int = 0
    cipher: int = 0

    @property
    def is_anonymous(self) -> bool:
        return self.principal.kind is PrincipalKind.ANONYMOUS

    @property
    def is_guest(self) -> bool:
        return self.principal.kind is PrincipalKind.GUEST
