"""Local accounts the NTLM acceptor verifies against (MS-NLMP 3.2.5.1.2, the server's
"user database").

Rules:
1. An account holds only the NT hash (NTOWFv1, MS-NLMP 3.3.1), never the password.
2. Names compare case-insensitively, as Windows SAM names do; the stored spelling is the
   one reported back (AuthResult.account.name).
3. Hashes never appear in a repr, a log line or an exception message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from nullsmb.auth.md4 import nt_hash as _nt_hash

__all__ = ["Account", "AccountDb"]


@dataclass(frozen=True, slots=True)
class Account:
    """One local user: ``nt_hash`` is the 16-byte NTOWFv1 (MS-NLMP 3.3.1); ``rid`` the
    relative identifier of the account SID (MS-DTYP 2.4.2)."""

    name: str
    nt_hash: bytes = field(repr=False)
    groups: tuple[str, ...] = ()
    rid: int = 1000

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("account name must not be empty")
        if len(self.nt_hash) != 16:
            raise ValueError("nt_hash must be 16 bytes")
        if not 0 <= self.rid <= 0xFFFFFFFF:
            raise ValueError("rid must fit in 32 bits")

    @classmethod
    def with_password(
        cls, name: str, password: str, *, groups: tuple[str, ...] = (), rid: int = 1000
    ) -> Account:
        """Build an account from a clear-text password (hashed at once, then dropped)."""
        return cls(name, _nt_hash(password), tuple(groups), rid)


class AccountDb:
    """A read-only, case-insensitive map from user name to :class:`Account`."""

    __slots__ = ("_by_key",)

    def __init__(self, accounts: Iterable[Account] = ()) -> None:
        self._by_key: dict[str, Account] = {}
        for account in accounts:
            key = _key(account.name)
            if key in self._by_key:
                raise ValueError(f"duplicate account name {account.name!r}")
            self._by_key[key] = account

    def lookup(self, name: str) -> Account | None:
        """The account called ``name`` (any case), or None."""
        return self._by_key.get(_key(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._by_key

    def __iter__(self) -> Iterator[Account]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def __repr__(self) -> str:
        return f"AccountDb({len(self._by_key)} accounts)"


def _key(name: str) -> str:
    return name.casefold()
