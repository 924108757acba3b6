"""The server's account database as LSA and SAMR show it: a standalone server's SAM.

Rules:
1. Two SAM domains, as on a Windows member or standalone server (MS-SAMR 3.1.1.1): the
   *account* domain, named after the server's NetBIOS name, with the machine SID
   ``S-1-5-21-a-b-c``; and *Builtin* (``S-1-5-32``).
2. The machine SID is random and kept in the state directory (``machine_sid``), so a SID an
   auditor wrote down still means the same account after a restart.
3. Account domain users: ``Administrator`` (RID 500, disabled: nullsmb has no local
   administrator account of its own), ``Guest`` (RID 501, enabled only when
   ``map_to_guest = "bad_user"``), then the configured users. A configured user keeps its RID
   across restarts and config edits (``rids.json`` in the state directory; new users get the
   next free RID from 1000, as Windows and Samba allocate them).
4. Account domain groups: ``None`` (RID 513, DOMAIN_GROUP_RID_USERS on a non-DC), every user's
   primary group. Group names in a user's ``groups`` that are not builtin aliases become aliases
   of the account domain (RIDs from 1000 too, shared with users, as in a real SAM).
5. Builtin aliases: Administrators (544; Administrator and users in ``Administrators``),
   Users (545; every configured user), Guests (546; Guest), Power Users (547), Backup
   Operators (551), Remote Desktop Users (555).
6. Names compare case-insensitively; a name may be qualified (``DOMAIN\\name``). SAMR calls the
   builtin domain "Builtin", LSA translations "BUILTIN" (as Windows and Samba answer).
7. No password material lives here: SAMR's UserAllInformation hash fields are always empty.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from pathlib import Path

from .ndr import Sid

__all__ = [
    "AcctFlags", "SamObject", "BUILTIN_SID", "Directory", "Lookup", "PasswordPolicy", "SidType",
    "WELL_KNOWN", "load_machine_sid", "load_rids",
]

log = logging.getLogger(__name__)

BUILTIN_SID = Sid(1, 5, (32,))
DOMAIN_USERS_RID = 513  # "None" on a non-DC
ADMINISTRATOR_RID, GUEST_RID = 500, 501
FIRST_RID = 1000


class SidType(IntEnum):
    """SID_NAME_USE (MS-LSAT 2.2.13 / MS-SAMR 2.2.2.3); the client's LSA calls use it too."""

    USER = 1
    GROUP = 2
    DOMAIN = 3
    ALIAS = 4
    WELL_KNOWN_GROUP = 5
    DELETED_ACCOUNT = 6
    INVALID = 7
    UNKNOWN = 8
    COMPUTER = 9
    LABEL = 10


class AcctFlags(IntFlag):
    """USER_ACCOUNT Codes (MS-SAMR 2.2.1.12)."""

    DISABLED = 0x00000001
    HOME_DIRECTORY_REQUIRED = 0x00000002
    PASSWORD_NOT_REQUIRED = 0x00000004
    TEMP_DUPLICATE_ACCOUNT = 0x00000008
    NORMAL_ACCOUNT = 0x00000010
    MNS_LOGON_ACCOUNT = 0x00000020
    INTERDOMAIN_TRUST_ACCOUNT = 0x00000040
    WORKSTATION_TRUST_ACCOUNT = 0x00000080
    SERVER_TRUST_ACCOUNT = 0x00000100
    DONT_EXPIRE_PASSWORD = 0x00000200
    ACCOUNT_AUTO_LOCKED = 0x00000400


@dataclass(frozen=True, slots=True)
class SamObject:
    """One SAM object: a user, a (global) group or an alias, in ``domain_sid``."""

    rid: int
    name: str
    kind: SidType
    domain_sid: Sid
    description: str = ""
    full_name: str = ""
    flags: AcctFlags = AcctFlags(0)
    members: tuple[Sid, ...] = ()  # groups and aliases only
    primary_group: int = DOMAIN_USERS_RID  # users only

    @property
    def sid(self) -> Sid:
        return self.domain_sid.child(self.rid)

    @property
    def disabled(self) -> bool:
        return bool(self.flags & AcctFlags.DISABLED)


@dataclass(frozen=True, slots=True)
class Lookup:
    """A translated name or SID (MS-LSAT): who, in which domain, of what kind."""

    sid: Sid
    name: str
    domain: str  # "" for names without a domain (Everyone)
    domain_sid: Sid | None
    kind: SidType


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """DOMAIN_PASSWORD_INFORMATION and the lockout values (MS-SAMR 2.2.3.5, 2.2.3.15); Windows'
    defaults for a standalone server. Ages and durations are in seconds (0 = never/none)."""

    min_length: int = 0
    history_length: int = 0
    properties: int = 0
    max_age_s: int = 42 * 86400
    min_age_s: int = 0
    lockout_threshold: int = 0
    lockout_duration_s: int = 30 * 60
    lockout_window_s: int = 30 * 60
    force_logoff_s: int = 0  # 0 = never


# Well-known SIDs an LSA lookup translates on any Windows machine (MS-DTYP 2.4.2.4).
WELL_KNOWN: tuple[Lookup, ...] = tuple(
    Lookup(Sid.parse(s), name, domain, Sid.parse(dsid) if dsid else None, kind)
    for s, name, domain, dsid, kind in (
        ("S-1-1-0", "Everyone", "", "", SidType.WELL_KNOWN_GROUP),
        ("S-1-3-0", "CREATOR OWNER", "", "", SidType.WELL_KNOWN_GROUP),
        ("S-1-5-2", "NETWORK", "NT AUTHORITY", "S-1-5", SidType.WELL_KNOWN_GROUP),
        ("S-1-5-4", "INTERACTIVE", "NT AUTHORITY", "S-1-5", SidType.WELL_KNOWN_GROUP),
        ("S-1-5-6", "SERVICE", "NT AUTHORITY", "S-1-5", SidType.WELL_KNOWN_GROUP),
        ("S-1-5-7", "ANONYMOUS LOGON", "NT AUTHORITY", "S-1-5", SidType.WELL_KNOWN_GROUP),
        ("S-1-5-11", "Authenticated Users", "NT AUTHORITY", "S-1-5", SidType.WELL_KNOWN_GROUP),
        ("S-1-5-18", "SYSTEM", "NT AUTHORITY", "S-1-5", SidType.WELL_KNOWN_GROUP),
        ("S-1-5-19", "LOCAL SERVICE", "NT AUTHORITY", "S-1-5", SidType.WELL_KNOWN_GROUP),
        ("S-1-5-20", "NETWORK SERVICE", "NT AUTHORITY", "S-1-5", SidType.WELL_KNOWN_GROUP),
        ("S-1-5-32", "BUILTIN", "BUILTIN", "S-1-5-32", SidType.DOMAIN),
    )
)

_BUILTIN_ALIASES: tuple[tuple[int, str, str], ...] = (
    (544, "Administrators", "Administrators have complete and unrestricted access to the computer/domain"),
    (545, "Users", "Users are prevented from making accidental or intentional system-wide changes"),
    (546, "Guests", "Guests have the same access as members of the Users group by default"),
    (547, "Power Users", "Power Users are included for backwards compatibility"),
    (551, "Backup Operators", "Backup Operators can override security restrictions for backing up files"),
    (555, "Remote Desktop Users", "Members in this group are granted the right to logon remotely"),
)


def _key(name: str) -> str:
    return name.casefold()


class Directory:
    """The two SAM domains and the well-known SIDs; immutable once built."""

    def __init__(self, *, machine_sid: Sid, domain_name: str, users: Sequence[tuple[str, Sequence[str]]] = (),
                 rids: Mapping[str, int] | None = None, guest_enabled: bool = False,
                 password_policy: PasswordPolicy = PasswordPolicy()) -> None:
        """``users``: (name, groups) in config order; ``rids``: name (case-folded) → RID kept from
        an earlier run (``load_rids``); missing ones are allocated from 1000 upward."""
        if len(machine_sid.sub_authorities) != 4 or machine_sid.sub_authorities[0] != 21:
            raise ValueError(f"not a machine SID: {machine_sid}")
        self.machine_sid = machine_sid
        self.domain_name = domain_name.upper()
        self.password_policy = password_policy
        account, builtin = machine_sid, BUILTIN_SID
        rids = dict(rids or {})
        used = set(rids.values()) | {ADMINISTRATOR_RID, GUEST_RID, DOMAIN_USERS_RID}

        def allocate(name: str) -> int:
            rid = rids.get(_key(name))
            if rid is None:
                rid = max([FIRST_RID - 1, *(r for r in used if r >= FIRST_RID)]) + 1
                rids[_key(name)] = rid
            used.add(rid)
            return rid

        user_accounts = [
            SamObject(ADMINISTRATOR_RID, "Administrator", SidType.USER, account,
                    "Built-in account for administering the computer/domain",
                    flags=AcctFlags.NORMAL_ACCOUNT | AcctFlags.DISABLED | AcctFlags.DONT_EXPIRE_PASSWORD),
            SamObject(GUEST_RID, "Guest", SidType.USER, account,
                    "Built-in account for guest access to the computer/domain",
                    flags=AcctFlags.NORMAL_ACCOUNT | AcctFlags.PASSWORD_NOT_REQUIRED
                    | AcctFlags.DONT_EXPIRE_PASSWORD | (AcctFlags(0) if guest_enabled else AcctFlags.DISABLED)),
        ]
        builtin_names = {_key(n) for _, n, _ in _BUILTIN_ALIASES}
        custom_groups: dict[str, str] = {}
        members_of: dict[str, list[Sid]] = {}
        for name, groups in users:
            if _key(name) in (_key("Administrator"), _key("Guest")):
                continue  # the built-in accounts keep their RIDs
            user = SamObject(allocate(name), name, SidType.USER, account, flags=AcctFlags.NORMAL_ACCOUNT)
            user_accounts.append(user)
            members_of.setdefault("users", []).append(user.sid)
            for g in groups:
                if _key(g) not in builtin_names:
                    custom_groups.setdefault(_key(g), g)
                members_of.setdefault(_key(g), []).append(user.sid)
        members_of.setdefault("administrators", []).insert(0, account.child(ADMINISTRATOR_RID))
        members_of.setdefault("guests", []).insert(0, account.child(GUEST_RID))
        self._rids = rids
        self.users: tuple[SamObject, ...] = tuple(sorted(user_accounts, key=lambda a: a.rid))
        self.groups: tuple[SamObject, ...] = (
            SamObject(DOMAIN_USERS_RID, "None", SidType.GROUP, account, "Ordinary users",
                    members=tuple(u.sid for u in self.users)),
        )
        self.account_aliases: tuple[SamObject, ...] = tuple(sorted(
            (SamObject(allocate(name), name, SidType.ALIAS, account, members=tuple(members_of.get(k, ())))
             for k, name in custom_groups.items()), key=lambda a: a.rid))
        self.builtin_aliases: tuple[SamObject, ...] = tuple(
            SamObject(rid, name, SidType.ALIAS, builtin, desc, members=tuple(members_of.get(_key(name), ())))
            for rid, name, desc in _BUILTIN_ALIASES)
        self._by_sid: dict[Sid, SamObject] = {a.sid: a for a in self.all_accounts()}
        self._by_name: dict[tuple[Sid, str], SamObject] = {(a.domain_sid, _key(a.name)): a for a in self.all_accounts()}

    # -- what the state directory keeps ----------------------------------------------------------
    @property
    def rids(self) -> dict[str, int]:
        """name (case-folded) → RID for every configured account and alias, for ``rids.json``."""
        return dict(self._rids)

    # -- domains ---------------------------------------------------------------------------------
    @property
    def builtin_sid(self) -> Sid:
        return BUILTIN_SID

    def domains(self) -> list[tuple[str, Sid]]:
        """The SAM server's domains (SamrEnumerateDomainsInSamServer order: account, Builtin)."""
        return [(self.domain_name, self.machine_sid), ("Builtin", BUILTIN_SID)]

    def domain_sid_of(self, name: str) -> Sid | None:
        for dname, sid in self.domains():
            if _key(dname) == _key(name):
                return sid
        return None

    def domain_name_of(self, sid: Sid) -> str | None:
        return next((n for n, s in self.domains() if s == sid), None)

    # -- accounts --------------------------------------------------------------------------------
    def all_accounts(self) -> Iterable[SamObject]:
        yield from self.users
        yield from self.groups
        yield from self.account_aliases
        yield from self.builtin_aliases

    def in_domain(self, domain_sid: Sid) -> list[SamObject]:
        """Every account of one domain, in RID order."""
        return sorted((a for a in self.all_accounts() if a.domain_sid == domain_sid), key=lambda a: a.rid)

    def aliases(self, domain_sid: Sid) -> tuple[SamObject, ...]:
        return self.builtin_aliases if domain_sid == BUILTIN_SID else (
            self.account_aliases if domain_sid == self.machine_sid else ())

    def by_sid(self, sid: Sid) -> SamObject | None:
        return self._by_sid.get(sid)

    def by_rid(self, domain_sid: Sid, rid: int) -> SamObject | None:
        return self._by_sid.get(domain_sid.child(rid))

    def by_name(self, domain_sid: Sid, name: str) -> SamObject | None:
        return self._by_name.get((domain_sid, _key(name)))

    def user(self, name: str) -> SamObject | None:
        return self.by_name(self.machine_sid, name)

    def groups_of(self, user: SamObject) -> list[SamObject]:
        """The account domain's global groups ``user`` belongs to (SamrGetGroupsForUser)."""
        return [g for g in self.groups if user.sid in g.members]

    def alias_membership(self, domain_sid: Sid, sids: Iterable[Sid]) -> list[int]:
        """RIDs of the aliases of ``domain_sid`` that any of ``sids`` belongs to (SamrGetAliasMembership)."""
        wanted = set(sids)
        return [a.rid for a in self.aliases(domain_sid) if wanted.intersection(a.members)]

    # -- LSA translation (MS-LSAT 3.1.4.5 / 3.1.4.9) ----------------------------------------------
    def lookup_sid(self, sid: Sid) -> Lookup | None:
        account = self._by_sid.get(sid)
        if account is not None:
            domain = "BUILTIN" if account.domain_sid == BUILTIN_SID else self.domain_name  # LSA spells it so
            return Lookup(sid, account.name, domain, account.domain_sid, account.kind)
        if sid == self.machine_sid:
            return Lookup(sid, self.domain_name, self.domain_name, sid, SidType.DOMAIN)
        return next((w for w in WELL_KNOWN if w.sid == sid), None)

    def lookup_name(self, name: str) -> Lookup | None:
        """``name``, ``DOMAIN\\name`` or a bare domain name; None when unknown."""
        domain, sep, bare = name.rpartition("\\")
        if sep:
            if _key(domain) in ("nt authority", "builtin") or not domain:
                candidates = [w for w in WELL_KNOWN if _key(w.domain) == _key(domain) and _key(w.name) == _key(bare)]
                if candidates:
                    return candidates[0]
            sid = self.domain_sid_of("Builtin" if _key(domain) == "builtin" else domain)
            if sid is None:
                return None
            account = self.by_name(sid, bare)
            return None if account is None else self.lookup_sid(account.sid)
        for domain_sid in (self.machine_sid, BUILTIN_SID):
            account = self.by_name(domain_sid, bare)
            if account is not None:
                return self.lookup_sid(account.sid)
        if _key(bare) == _key(self.domain_name):
            return Lookup(self.machine_sid, self.domain_name, self.domain_name, self.machine_sid, SidType.DOMAIN)
        return next((w for w in WELL_KNOWN if _key(w.name) == _key(bare)), None)


# -- state directory -------------------------------------------------------------------------------


def new_machine_sid(random_bytes) -> Sid:
    raw = random_bytes(12)
    subs = tuple(int.from_bytes(raw[i:i + 4], "little") for i in (0, 4, 8))
    return Sid(1, 5, (21, *subs))


def load_machine_sid(state_dir: Path, random_bytes=os.urandom) -> Sid:
    """The machine SID kept in ``state_dir/machine_sid``, created on first use."""
    path = Path(state_dir) / "machine_sid"
    try:
        sid = Sid.parse(path.read_text().strip())
        if len(sid.sub_authorities) == 4 and sid.sub_authorities[0] == 21 and sid.authority == 5:
            return sid
        log.warning("%s does not hold a machine SID; making a new one", path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("%s: %s; making a new machine SID", path, exc)
    sid = new_machine_sid(random_bytes)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{sid}\n")
    except OSError as exc:  # a read-only state directory: the SID lasts as long as the process
        log.warning("cannot keep the machine SID in %s: %s", path, exc)
    return sid


def load_rids(state_dir: Path) -> dict[str, int]:
    """name (case-folded) → RID from ``state_dir/rids.json``; {} when absent or unreadable."""
    path = Path(state_dir) / "rids.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s: %s; RIDs start afresh", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k).casefold(): v for k, v in data.items()
            if isinstance(v, int) and not isinstance(v, bool) and FIRST_RID <= v < 1 << 30}


def save_rids(state_dir: Path, rids: Mapping[str, int]) -> None:
    path = Path(state_dir) / "rids.json"
    try:
        if load_rids(state_dir) == dict(rids):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dict(sorted(rids.items(), key=lambda kv: kv[1])), indent=1) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot keep account RIDs in %s: %s", path, exc)


def build_directory(state_dir: Path, *, domain_name: str, users: Sequence[tuple[str, Sequence[str]]],
                    guest_enabled: bool, random_bytes=os.urandom) -> Directory:
    """The server's Directory: machine SID and RIDs from ``state_dir`` (created and kept there)."""
    directory = Directory(machine_sid=load_machine_sid(state_dir, random_bytes), domain_name=domain_name,
                          users=users, rids=load_rids(state_dir), guest_enabled=guest_enabled)
    save_rids(state_dir, directory.rids)
    return directory
