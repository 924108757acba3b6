"""SID ↔ name translation for lsarpc (MS-LSAT 3.1.1.1, 3.1.4.5, 3.1.4.9) over the server's SAM
(``rpc.directory.Directory``): pure functions, no RPC.

Rules:
1. The views a standalone server searches (MS-LSAT 2.2.16, LsapLookupWksta): the predefined
   well-known SIDs (3.1.1.1.1, ``directory.WELL_KNOWN``), the Builtin domain (3.1.1.1.3) and the
   account domain with the domain itself (3.1.1.1.6). Every other lookup level searches the views
   of the domain the machine is joined to, or of its forest; a standalone server is joined to
   none, so names looked up at those levels are all unmapped. SIDs may only be looked up at
   LsapLookupWksta on a non-DC (3.1.4.10): other levels answer STATUS_INVALID_PARAMETER.
2. ReferencedDomains (3.1.4.5, 3.1.4.9): one (NetBIOS name, domain SID) entry per domain, added
   the first time a translated name or SID (or a composite name's domain) needs it; each item
   carries its index, -1 when it has no domain. The account domain is the machine's NetBIOS name,
   Builtin is spelled "BUILTIN", the S-1-5 well-known SIDs "NT AUTHORITY", and Everyone and the
   CREATOR SIDs have an empty domain name with their authority as domain SID (S-1-1, S-1-3).
3. An unmapped SID is SidTypeUnknown with its string form as name and DomainIndex -1, even when
   its domain is one we know: what Windows answers (rpcclient and enum4linux print such SIDs as
   "*unknown*\\*unknown* (8)", which they do only for an index of -1) and what Samba answers.
   MS-LSAT 3.1.4.9 describes a domain index and a hexadecimal RID as name for that case; no
   client relies on it. An unmapped name is SidTypeUnknown without SID, with its domain's index
   when it is a composite name whose domain we know (3.1.4.5), else -1.
4. Names (3.1.4.5): "name" (isolated), "DOMAIN\\name" (composite; "\\name" for the domain-less
   well-known SIDs), a domain's own name; comparison ignores case. Isolated names are searched
   in the order of 2.2.16: predefined, Builtin, account domain. User principal names
   ("user@dns.domain") map to nothing here: a standalone account domain has no DNS name, so it
   has no default UPNs (3.1.1.1.4). An empty name is the Builtin domain (Windows Server 2008's
   behaviour, which Samba copies).
5. The status (3.1.4.5, 3.1.4.9): STATUS_SUCCESS when every item (or none at all) was mapped,
   STATUS_SOME_NOT_MAPPED when some were, STATUS_NONE_MAPPED when none of several were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...status import NtStatus
from ..directory import BUILTIN_SID, WELL_KNOWN, Directory, Lookup, SidType
from ..ndr import Sid

__all__ = [
    "NameResult", "RefDomains", "SidResult", "STATUS_SOME_NOT_MAPPED", "translate_names",
    "translate_sids", "lookup_status", "LOOKUP_WKSTA", "LOOKUP_LEVELS",
]

STATUS_SOME_NOT_MAPPED = NtStatus.STATUS_SOME_NOT_MAPPED
NT_AUTHORITY_SID = Sid(1, 5, ())
NT_AUTHORITY = "NT AUTHORITY"
BUILTIN = "BUILTIN"
LOOKUP_WKSTA = 1  # LsapLookupWksta (MS-LSAT 2.2.16)
LOOKUP_LEVELS = range(1, 8)  # LsapLookupWksta .. LsapLookupRODCReferralToFullDC
RID_NONE = 0xFFFFFFFF  # RelativeId of a domain (MS-LSAT 3.1.4.7)
_WELL_KNOWN_SIDS = frozenset(w.sid for w in WELL_KNOWN)


class RefDomains:
    """The ReferencedDomains list being built: (name, SID) entries in order of first use."""

    __slots__ = ("entries", "_index")

    def __init__(self) -> None:
        self.entries: list[tuple[str, Sid]] = []
        self._index: dict[Sid, int] = {}

    def add(self, name: str, sid: Sid) -> int:
        index = self._index.get(sid)
        if index is None:
            index = self._index[sid] = len(self.entries)
            self.entries.append((name, sid))
        return index

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True, slots=True)
class SidResult:
    """One TranslatedNames item: LSAPR_TRANSLATED_NAME(_EX) (MS-LSAT 2.2.19, 2.2.21)."""

    use: int
    name: str
    domain_index: int
    mapped: bool


@dataclass(frozen=True, slots=True)
class NameResult:
    """One TranslatedSids item: LSA_TRANSLATED_SID / _EX / _EX2 (MS-LSAT 2.2.14, 2.2.23, 2.2.25)."""

    use: int
    sid: Sid | None
    domain_index: int
    mapped: bool

    @property
    def relative_id(self) -> int:
        """RelativeId of the older forms (MS-LSAT 3.1.4.7): 0xFFFFFFFF for a domain, 0 unmapped."""
        if self.sid is None:
            return 0
        if self.use == SidType.DOMAIN or not self.sid.sub_authorities:
            return RID_NONE
        return self.sid.rid


def _key(text: str) -> str:
    return text.casefold()


def _domain_of(lookup: Lookup) -> tuple[str, Sid]:
    """The (NetBIOS name, SID) of the domain a translated principal belongs to (rule 2)."""
    if lookup.kind == SidType.DOMAIN:
        return lookup.name, lookup.sid
    if lookup.domain_sid is not None:
        return lookup.domain, lookup.domain_sid
    return lookup.domain, lookup.sid.parent()  # Everyone → ("", S-1-1)


def lookup_status(mapped: int, total: int) -> int:
    """Rule 5."""
    if mapped == total:
        return NtStatus.STATUS_SUCCESS
    return STATUS_SOME_NOT_MAPPED if mapped else NtStatus.STATUS_NONE_MAPPED


# -- SIDs → names (MS-LSAT 3.1.4.9) ------------------------------------------------------------------

def _lookup_sid(directory: Directory, sid: Sid) -> Lookup | None:
    """``directory.lookup_sid`` without its scan of the well-known SIDs for the SIDs that are none
    (RID cycling asks for thousands of unknown RIDs at once)."""
    if directory.by_sid(sid) is None and sid != directory.machine_sid and sid not in _WELL_KNOWN_SIDS:
        return None
    return directory.lookup_sid(sid)


def translate_sids(directory: Directory, sids: Sequence[Sid]) -> tuple[RefDomains, list[SidResult], int]:
    """Translate ``sids`` at LsapLookupWksta: the domains, one result per SID, the mapped count."""
    domains = RefDomains()
    results: list[SidResult] = []
    mapped = 0
    for sid in sids:
        found = _lookup_sid(directory, sid)
        if found is None:
            results.append(SidResult(SidType.UNKNOWN, str(sid), -1, False))
            continue
        name, domain_sid = _domain_of(found)
        results.append(SidResult(found.kind, found.name, domains.add(name, domain_sid), True))
        mapped += 1
    return domains, results, mapped


# -- names → SIDs (MS-LSAT 3.1.4.5) ------------------------------------------------------------------

def _domain_by_name(directory: Directory, name: str) -> tuple[str, Sid] | None:
    key = _key(name)
    if key == _key(directory.domain_name):
        return directory.domain_name, directory.machine_sid
    if key == _key(BUILTIN):
        return BUILTIN, BUILTIN_SID
    if key == _key(NT_AUTHORITY):
        return NT_AUTHORITY, NT_AUTHORITY_SID
    return None


def _in_domain(directory: Directory, domain_sid: Sid, domain_name: str, bare: str) -> Lookup | None:
    """``bare`` within one domain: its accounts, or the domain's own row (3.1.1.1.5)."""
    if domain_sid in (directory.machine_sid, BUILTIN_SID):
        account = directory.by_name(domain_sid, bare)
        if account is not None:
            return directory.lookup_sid(account.sid)
        if _key(bare) == _key(domain_name):
            return directory.lookup_sid(domain_sid)
        return None
    return next((w for w in WELL_KNOWN if w.domain_sid == domain_sid and w.kind != SidType.DOMAIN
                 and _key(w.name) == _key(bare)), None)


def _isolated(directory: Directory, name: str) -> Lookup | None:
    """An isolated name, searched in the LsapLookupWksta order (rule 4)."""
    key = _key(name)
    predefined = next((w for w in WELL_KNOWN if _key(w.name) == key), None)
    if predefined is not None:
        return predefined
    for domain_sid in (BUILTIN_SID, directory.machine_sid):
        account = directory.by_name(domain_sid, name)
        if account is not None:
            return directory.lookup_sid(account.sid)
    if key == _key(directory.domain_name):
        return directory.lookup_sid(directory.machine_sid)
    return None


def _resolve(directory: Directory, name: str) -> tuple[Lookup | None, tuple[str, Sid] | None]:
    """(the principal, or None; the composite name's domain when known)."""
    if name == "":
        return directory.lookup_sid(BUILTIN_SID), None
    domain, sep, bare = name.rpartition("\\")
    if not sep:
        return _isolated(directory, name), None
    if domain == "":  # "\Everyone": the well-known SIDs that have no domain name
        match = next((w for w in WELL_KNOWN if w.domain == "" and _key(w.name) == _key(bare)), None)
        return match, None
    dom = _domain_by_name(directory, domain)
    if dom is None:
        return None, None
    if bare == "":
        return directory.lookup_sid(dom[1]) if dom[1] != NT_AUTHORITY_SID else None, dom
    return _in_domain(directory, dom[1], dom[0], bare), dom


def translate_names(directory: Directory, names: Sequence[str], level: int
                    ) -> tuple[RefDomains, list[NameResult], int]:
    """Translate ``names`` at lookup ``level`` (1..7): the domains, one result per name, the
    mapped count. Levels other than LsapLookupWksta search nothing on a standalone server."""
    domains = RefDomains()
    results: list[NameResult] = []
    mapped = 0
    for name in names:
        found, dom = _resolve(directory, name) if level == LOOKUP_WKSTA else (None, None)
        if found is not None:
            dname, dsid = _domain_of(found)
            results.append(NameResult(found.kind, found.sid, domains.add(dname, dsid), True))
            mapped += 1
        elif dom is not None:
            results.append(NameResult(SidType.UNKNOWN, None, domains.add(*dom), False))
        else:
            results.append(NameResult(SidType.UNKNOWN, None, -1, False))
    return domains, results, mapped
