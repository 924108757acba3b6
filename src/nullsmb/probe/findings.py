"""The verdict: inferred settings and findings, a pure function of one host's evidence.

Rules:
1. ``assess(evidence)`` reads nothing but its argument: no I/O, no clock. Its tests are tables
   of evidence and the findings/settings they must give (tests/probe/test_findings.py).
2. Findings come from ``RULES``, one row per kind: its severity, the principals it is asked
   for, and a check returning the title and the evidence lines (each naming the operation and
   its exact status) or None. Per-principal findings are prefixed ``anon-`` (null sessions) or
   ``guest-`` (a random user name mapped to Guest); host findings have no prefix. The
   authenticated --user session is a baseline and never yields findings.
3. Severity: high when accounts are exposed (SAMR users, RID cycling), a share is writable, or
   an administrative share is reachable, without a password; medium for other disclosures that
   matter to an attacker (share lists and paths, group lists, password policy, readable shares,
   sessions, SMB1, guest logons); low and info for the rest. The exit code is 1 when any
   finding is high.
4. Settings are named after the Windows values (RestrictAnonymous ...) and describe the
   *behaviour observed*, whatever the server (Samba has no such registry): each has a value
   (None: cannot tell), a certainty ("observed" when one answer shows it, "inferred" when it
   is the likeliest reading) and the evidence it rests on.
5. An unreachable host has no findings and no settings; a host that ran out of time is
   assessed on what it answered.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .evidence import GUEST, NULL, HostEvidence, PrincipalAccess, Result, RpcProbe, SessionProbe, ShareProbe
from .fixes import Fix, fix_for
from .smb1 import SMB1_DIALECT

__all__ = ["RULES", "Finding", "Rule", "Severity", "Setting", "Verdict", "assess"]


class Severity(str, enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return ("info", "low", "medium", "high").index(self.value)


@dataclass(frozen=True, slots=True)
class Finding:
    """``id`` is ``kind`` with the principal's prefix; ``what`` is ``title`` without the
    principal (what the report shows once for several principals)."""

    id: str
    kind: str
    severity: Severity
    title: str
    principal: str | None
    evidence: tuple[str, ...]
    fix: Fix
    what: str = ""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    value: Any
    certainty: str  # "observed", "inferred", "unknown"
    basis: str


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str  # "assessed", "unreachable", "error"
    settings: tuple[Setting, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def highest(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    @property
    def has_high(self) -> bool:
        return any(f.severity is Severity.HIGH for f in self.findings)


# -- evidence lines ---------------------------------------------------------------------------------

def _rpc_line(r: RpcProbe) -> str:
    level = f" level {r.level}" if r.level is not None else ""
    count = f" ({r.count} returned)" if r.count is not None else ""
    return f"{r.interface} {r.operation}{level}: {r.outcome.evidence()}{count}"


def _share_line(s: ShareProbe) -> str:
    parts = [f"TREE_CONNECT {s.name}: {s.connect.evidence()}"]
    if s.listing is not None:
        parts.append(f"root listing: {s.listing.evidence()}" + (f" ({s.entries} entries)" if s.entries is not None else ""))
    if s.write_test is not None:
        parts.append(f"write test: {s.write_test.evidence()}")
    if s.maximal_access is not None:
        parts.append(f"MaximalAccess 0x{s.maximal_access:08x}")
    return "; ".join(parts)


def _ok(access: PrincipalAccess, interface: str, operation: str, level: int | None = None) -> RpcProbe | None:
    r = access.rpc_op(interface, operation, level)
    return r if r is not None and r.outcome.ok else None


def _oks(access: PrincipalAccess, *ops: tuple[str, str, int | None]) -> list[RpcProbe]:
    return [r for op in ops if (r := _ok(access, *op)) is not None]


# -- checks ------------------------------------------------------------------------------------------

Check = Callable[[HostEvidence, PrincipalAccess | None, SessionProbe | None, str], tuple[str, Sequence[str]] | None]
_WRITE_BITS = 0x00000002 | 0x00000004 | 0x00010000 | 0x00000040 | 0x10000000 | 0x40000000  # data, append, delete ...
_ADMIN_SHARES = frozenset({"c$", "d$", "e$", "admin$"})


def _who(principal: str) -> str:
    return "null sessions" if principal == NULL else "guest sessions (any unknown user name)"


def _smb1(ev: HostEvidence, _a: Any, _s: Any, _p: str) -> tuple[str, Sequence[str]] | None:
    t = ev.transport
    if t is None or not t.smb1.offered:
        return None
    return "SMB1 is offered", [f"SMB1-only NEGOTIATE: {t.smb1.outcome.detail or 'accepted'}"]


def _signing(ev: HostEvidence, _a: Any, _s: Any, _p: str) -> tuple[str, Sequence[str]] | None:
    t = ev.transport
    if t is None:
        return None
    lax = [d.dialect for d in t.dialects if d.offered and d.signing_required is False]
    if not lax:
        return None
    return "SMB signing is not required", [f"NEGOTIATE {', '.join(lax)}: SecurityMode without SIGNING_REQUIRED"]


def _ntlm(ev: HostEvidence, _a: Any, _s: Any, _p: str) -> tuple[str, Sequence[str]] | None:
    t = ev.transport
    if t is None or not t.ntlm.outcome.ok:
        return None
    n = t.ntlm
    names = [f"{label} {value}" for label, value in (
        ("NetBIOS computer", n.netbios_computer), ("NetBIOS domain", n.netbios_domain),
        ("DNS computer", n.dns_computer), ("DNS domain", n.dns_domain), ("OS version", n.os_version)) if value]
    if not names:
        return None
    return "the NTLM challenge names the server", ["NTLM CHALLENGE_MESSAGE: " + ", ".join(names)]


def _null_session(ev: HostEvidence, _a: Any, s: SessionProbe | None, _p: str) -> tuple[str, Sequence[str]] | None:
    s = ev.session(NULL)
    if s is None or not s.established:
        return None
    return "null sessions are accepted", [f"SESSION_SETUP with an empty user: {s.outcome.evidence()}"]


def _guest_logon(ev: HostEvidence, _a: Any, _s: Any, _p: str) -> tuple[str, Sequence[str]] | None:
    s = ev.session(GUEST)
    if s is None or not s.established or not s.is_guest:
        return None
    flag = "Action SMB_SETUP_GUEST" if s.dialect == SMB1_DIALECT else "SessionFlags IS_GUEST"
    return ("unknown user names log on as Guest",
            [f"SESSION_SETUP as {s.user} (random password): {s.outcome.evidence()}, {flag}"])


def _any_credentials(ev: HostEvidence, _a: Any, _s: Any, _p: str) -> tuple[str, Sequence[str]] | None:
    s = ev.session(GUEST)
    if s is None or not s.established or s.is_guest:
        return None
    flags = ("Action without SMB_SETUP_GUEST" if s.dialect == SMB1_DIALECT
             else f"SessionFlags 0x{s.session_flags:x} (not IS_GUEST)")
    return ("a random user name and password log on as a user",
            [f"SESSION_SETUP as {s.user} (random password): {s.outcome.evidence()}, {flags}"])


_SENSITIVE_PIPES = ("lsarpc", "samr", "netlogon", "winreg", "spoolss", "eventlog", "srvsvc")


def _pipes(ev: HostEvidence, a: PrincipalAccess | None, _s: Any, p: str) -> tuple[str, Sequence[str]] | None:
    if a is None or p != NULL:
        return None
    opened = [x.name for x in a.pipes if x.outcome.ok]
    if not opened:
        return None
    return f"open named pipes: {', '.join(opened)}", [f"CREATE {n} on IPC$: STATUS_SUCCESS" for n in opened]


def _rpc_rule(ops: tuple[tuple[str, str, int | None], ...], title: Callable[[list[RpcProbe], str], str],
              want: Callable[[list[RpcProbe]], bool] = bool) -> Check:
    def check(ev: HostEvidence, a: PrincipalAccess | None, _s: Any, p: str) -> tuple[str, Sequence[str]] | None:
        if a is None:
            return None
        hits = _oks(a, *ops)
        if not hits or not want(hits):
            return None
        return title(hits, p), [_rpc_line(r) for r in hits]
    return check


def _count(hits: list[RpcProbe]) -> int:
    return max((r.count or 0) for r in hits)


def _password_title(hits: list[RpcProbe], p: str) -> str:
    values = {}
    for r in hits:  # the domain's own policy first, then SamrGetDomainPasswordInformation's
        for k, v in r.data.items():
            if v is not None:
                values.setdefault(k, v)
    bits = []
    if "min_password_length" in values:
        bits.append(f"minimum length {values['min_password_length']}")
    if "lockout_threshold" in values:
        bits.append(f"lockout threshold {values['lockout_threshold']}")
    return "read the password policy" + (f" ({', '.join(bits)})" if bits else "")


def _policy_only(hits: list[RpcProbe]) -> bool:
    return any(r.operation == "SamrQueryInformationDomain" for r in hits)


def _shares_where(pred: Callable[[ShareProbe], bool], title: str) -> Check:
    def check(ev: HostEvidence, a: PrincipalAccess | None, _s: Any, p: str) -> tuple[str, Sequence[str]] | None:
        if a is None:
            return None
        hits = [s for s in a.shares if s.name.upper() != "IPC$" and pred(s)]
        if not hits:
            return None
        return title.format(names=", ".join(s.name for s in hits)), [_share_line(s) for s in hits]
    return check


def _is_disk(s: ShareProbe) -> bool:
    return s.share_type in (None, "disk")


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    severity: Severity
    principals: tuple[str, ...]  # () for a host finding
    check: Check


RULES: tuple[Rule, ...] = (
    Rule("smb1-enabled", Severity.MEDIUM, (), _smb1),
    Rule("signing-not-required", Severity.LOW, (), _signing),
    Rule("ntlm-info", Severity.INFO, (), _ntlm),
    Rule("null-session", Severity.INFO, (), _null_session),
    Rule("guest-logon", Severity.MEDIUM, (), _guest_logon),
    Rule("any-credentials", Severity.HIGH, (), _any_credentials),
    Rule("anon-pipes", Severity.LOW, (NULL,), _pipes),
    Rule("user-enum", Severity.HIGH, (NULL, GUEST), _rpc_rule(
        (("samr", "SamrEnumerateUsersInDomain", None), ("samr", "SamrQueryDisplayInformation2", None)),
        lambda h, p: f"enumerate users: {_count(h)} accounts exposed")),
    Rule("rid-cycling", Severity.HIGH, (NULL, GUEST), _rpc_rule(
        (("lsarpc", "LsarLookupSids:rid-cycling", None),),
        lambda h, p: f"enumerate accounts by RID cycling: {_count(h)} accounts exposed",
        lambda h: _count(h) > 0)),
    Rule("name-lookup", Severity.MEDIUM, (NULL, GUEST), _rpc_rule(
        (("lsarpc", "LsarLookupSids", None), ("lsarpc", "LsarLookupNames", None)),
        lambda h, p: "translate SIDs and names (LSA lookups)")),
    Rule("group-enum", Severity.MEDIUM, (NULL, GUEST), _rpc_rule(
        (("samr", "SamrEnumerateGroupsInDomain", None), ("samr", "SamrEnumerateAliasesInDomain", None),
         ("samr", "SamrEnumerateAliasesInDomain:builtin", None)),
        lambda h, p: "enumerate groups and aliases")),
    Rule("password-policy", Severity.MEDIUM, (NULL, GUEST), _rpc_rule(
        (("samr", "SamrQueryInformationDomain", 1), ("samr", "SamrQueryInformationDomain", 12),
         ("samr", "SamrGetDomainPasswordInformation", None)),
        _password_title, _policy_only)),
    Rule("share-enum", Severity.MEDIUM, (NULL, GUEST), _rpc_rule(
        (("srvsvc", "NetrShareEnum", 1),), lambda h, p: f"list the shares: {_count(h)} shares")),
    Rule("share-paths", Severity.MEDIUM, (NULL, GUEST), _rpc_rule(
        (("srvsvc", "NetrShareEnum", 2),), lambda h, p: "read the shares' local paths (level 2)")),
    Rule("session-enum", Severity.MEDIUM, (NULL, GUEST), _rpc_rule(
        (("srvsvc", "NetrSessionEnum", 10), ("srvsvc", "NetrSessionEnum", 1)),
        lambda h, p: f"list who is connected: {_count(h)} sessions")),
    Rule("server-info", Severity.LOW, (NULL, GUEST), _rpc_rule(
        (("srvsvc", "NetrServerGetInfo", 101),), lambda h, p: "read the server information")),
    Rule("domain-info", Severity.LOW, (NULL, GUEST), _rpc_rule(
        (("lsarpc", "LsarQueryInformationPolicy", None),),
        lambda h, p: "read the domain name and SID")),
    Rule("lsa-accounts", Severity.LOW, (NULL, GUEST), _rpc_rule(
        (("lsarpc", "LsarEnumerateAccounts", None),),
        lambda h, p: f"list the accounts holding privileges: {_count(h)} SIDs")),
    Rule("share-write", Severity.HIGH, (NULL, GUEST), _shares_where(
        lambda s: s.write_test is not None and s.write_test.ok, "can write to shares: {names}")),
    Rule("admin-share", Severity.HIGH, (NULL, GUEST), _shares_where(
        lambda s: s.connect.ok and s.name.casefold() in _ADMIN_SHARES,
        "connect to administrative shares: {names}")),
    Rule("share-write-permitted", Severity.MEDIUM, (NULL, GUEST), _shares_where(
        lambda s: s.connect.ok and _is_disk(s) and s.write_test is None and bool((s.maximal_access or 0) & _WRITE_BITS),
        "are granted write access to shares (not tested; --write-tests checks): {names}")),
    Rule("share-read", Severity.MEDIUM, (NULL, GUEST), _shares_where(
        lambda s: s.access == "readable" and _is_disk(s), "can read shares: {names}")),
    Rule("share-connect", Severity.LOW, (NULL, GUEST), _shares_where(
        lambda s: s.access == "connected", "can connect to shares: {names}")),
)


# -- settings -----------------------------------------------------------------------------------------

def _first(a: PrincipalAccess, *ops: tuple[str, str, int | None]) -> RpcProbe | None:
    """The first of ``ops`` that was answered (not skipped)."""
    for op in ops:
        r = a.rpc_op(*op)
        if r is not None and r.outcome.result is not Result.SKIPPED:
            return r
    return None


def _restrict_anonymous(ev: HostEvidence, a: PrincipalAccess | None) -> Setting:
    name = "RestrictAnonymous"
    if a is None:
        return Setting(name, None, "unknown", "no null session")
    if a.ipc.denied:
        return Setting(name, 2, "observed", f"IPC$ refused to a null session: {a.ipc.evidence()}")
    probes = [r for r in (_first(a, ("srvsvc", "NetrShareEnum", 1)), _first(a, ("srvsvc", "NetrServerGetInfo", 101)))
              if r is not None]
    if any(r.outcome.ok for r in probes):
        return Setting(name, 0, "observed", "; ".join(_rpc_line(r) for r in probes if r.outcome.ok))
    if any(r.outcome.denied for r in probes):
        return Setting(name, 1, "observed", "; ".join(_rpc_line(r) for r in probes if r.outcome.denied))
    pipe = a.pipe("srvsvc")
    why = f"srvsvc not reachable: {pipe.outcome.evidence()}" if pipe is not None else "srvsvc not tried"
    return Setting(name, None, "unknown", why)


def _restrict_anonymous_sam(a: PrincipalAccess | None) -> Setting:
    name = "RestrictAnonymousSAM"
    if a is None:
        return Setting(name, None, "unknown", "no null session")
    enum = _first(a, ("samr", "SamrEnumerateUsersInDomain", None), ("samr", "SamrQueryDisplayInformation2", None))
    if enum is not None and enum.outcome.ok:
        return Setting(name, 0, "observed", _rpc_line(enum))
    for op in ("SamrConnect5", "SamrConnect2", "SamrOpenDomain", "SamrEnumerateUsersInDomain"):
        r = a.rpc_op("samr", op)
        if r is not None and r.outcome.denied:
            return Setting(name, 1, "inferred", f"{_rpc_line(r)} (RestrictAnonymous >= 1 has the same effect)")
    bind = a.rpc_op("samr", "bind")
    if bind is not None and not bind.outcome.ok:
        return Setting(name, None, "unknown", f"samr pipe not reachable: {bind.outcome.evidence()}")
    return Setting(name, None, "unknown", "no SAMR enumeration answered")


def _name_lookup(a: PrincipalAccess | None) -> tuple[Setting, Setting]:
    lookup, block = "LSAAnonymousNameLookup", "TurnOffAnonymousBlock"
    if a is None:
        return Setting(lookup, None, "unknown", "no null session"), Setting(block, None, "unknown", "no null session")
    opened = a.rpc_op("lsarpc", "LsarOpenPolicy2")
    if opened is None or opened.outcome.result is Result.SKIPPED:
        bind = a.rpc_op("lsarpc", "bind")
        why = f"lsarpc pipe not reachable: {bind.outcome.evidence()}" if bind is not None else "lsarpc not tried"
        return Setting(lookup, None, "unknown", why), Setting(block, None, "unknown", why)
    if not opened.outcome.ok:
        return (Setting(lookup, None, "unknown", f"no policy handle: {_rpc_line(opened)}"),
                Setting(block, 0 if opened.outcome.denied else None, "observed" if opened.outcome.denied else "unknown",
                        _rpc_line(opened)))
    block_setting = Setting(block, 1, "observed", _rpc_line(opened))
    tries = [r for r in (_first(a, ("lsarpc", "LsarLookupSids", None)), _first(a, ("lsarpc", "LsarLookupNames", None)),
                         _first(a, ("lsarpc", "LsarLookupSids:rid-cycling", None))) if r is not None]
    if any(r.outcome.ok for r in tries):
        return Setting(lookup, 1, "observed", "; ".join(_rpc_line(r) for r in tries if r.outcome.ok)), block_setting
    if any(r.outcome.denied for r in tries):
        return Setting(lookup, 0, "observed", "; ".join(_rpc_line(r) for r in tries if r.outcome.denied)), block_setting
    return Setting(lookup, None, "unknown", "no lookup answered"), block_setting


def _null_lists(a: PrincipalAccess | None) -> tuple[Setting, Setting]:
    if a is None:
        return (Setting("NullSessionShares", None, "unknown", "no null session"),
                Setting("NullSessionPipes", None, "unknown", "no null session"))
    shares = [s.name for s in a.shares if s.connect.ok and s.name.upper() != "IPC$"]
    tried = [s for s in a.shares if s.name.upper() != "IPC$" and s.connect.result is not Result.SKIPPED]
    pipes = [p.name for p in a.pipes if p.outcome.ok]
    tried_pipes = [p for p in a.pipes if p.outcome.result is not Result.SKIPPED]
    return (
        Setting("NullSessionShares", shares, "observed" if tried else "unknown",
                f"null-session tree connects that succeeded, of {len(tried)} shares tried"),
        Setting("NullSessionPipes", pipes, "observed" if tried_pipes else "unknown",
                f"null-session pipe opens that succeeded, of {len(tried_pipes)} pipes tried"
                + ("" if tried_pipes or a.ipc.ok else f" (IPC$: {a.ipc.evidence()})")),
    )


def _host_settings(ev: HostEvidence) -> list[Setting]:
    out = []
    t = ev.transport
    if t is not None:
        if t.smb1.offered is not None:
            out.append(Setting("SMB1", t.smb1.offered, "observed", f"SMB1-only NEGOTIATE: {t.smb1.outcome.evidence()} "
                               f"{t.smb1.outcome.detail}".strip()))
        if t.signing_required is not None:
            out.append(Setting("RequireSecuritySignature", int(t.signing_required), "observed",
                               "SecurityMode of the SMB2/3 NEGOTIATE responses"))
    guest = ev.session(GUEST)
    if guest is not None:
        mapped = guest.established and guest.is_guest
        out.append(Setting("GuestFallback", mapped, "observed",
                           f"SESSION_SETUP as a random user: {guest.outcome.evidence()}"
                           + (" (IS_GUEST)" if mapped else "")))
    return out


def assess(ev: HostEvidence) -> Verdict:
    """Rule 1: the verdict on one host."""
    if ev.connect.kind == "internal":
        return Verdict("error")
    if not ev.reachable:
        return Verdict("unreachable")
    null = ev.access_for(NULL)
    settings = [*_host_settings(ev), _restrict_anonymous(ev, null), _restrict_anonymous_sam(null),
                *_name_lookup(null), *_null_lists(null)]
    findings: list[Finding] = []
    for rule in RULES:
        if not rule.principals:
            hit = rule.check(ev, None, None, "")
            if hit is not None:
                findings.append(Finding(rule.kind, rule.kind, rule.severity, hit[0], None, tuple(hit[1]),
                                        fix_for(rule.kind, None), hit[0]))
            continue
        for principal in rule.principals:
            access = ev.access_for(principal)
            if access is None:
                continue
            hit = rule.check(ev, access, ev.session(principal), principal)
            if hit is not None:
                prefix = "anon" if principal == NULL else principal
                fid = rule.kind if rule.kind.startswith("anon-") else f"{prefix}-{rule.kind}"
                findings.append(Finding(fid, rule.kind, rule.severity, f"{_who(principal)} {hit[0]}", principal,
                                        tuple(hit[1]), fix_for(rule.kind, principal), hit[0]))
    findings.sort(key=lambda f: -f.severity.rank)
    return Verdict("assessed", tuple(settings), tuple(findings))
