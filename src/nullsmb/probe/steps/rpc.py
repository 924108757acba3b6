"""Step 5, RPC: each enumeration operation tried on its own, with its exact return value.

Built on the client's DCE/RPC (client.rpc, client.srvsvc/wkssvc/lsa/samr); this module only
decides what to call and turns answers into ``RpcProbe`` evidence.

Rules:
1. One bound pipe per interface and principal (``_Pipe``). Opening or binding it is evidence
   of its own (operation ``bind``); when it fails, the interface's operations are recorded as
   skipped, naming that failure. A pipe that breaks (a protocol error) is opened again for the
   next operation; handles taken on it are lost, so operations that needed them are skipped.
2. Operations that need a handle (LSA policy, SAMR server/domain) are skipped with the reason
   when the handle could not be had; those that need none (SamrGetDomainPasswordInformation,
   LsarGetUserName, every srvsvc/wkssvc call) always run.
3. Names are MS-* operation names; ``NAME:purpose`` distinguishes two uses of one operation
   (``LsarLookupSids:rid-cycling``, ``SamrEnumerateAliasesInDomain:builtin``).
4. srvsvc and wkssvc answer WERRORs, lsarpc and samr NTSTATUS (MS-SRVS 2.2.1.1, MS-LSAD,
   MS-SAMR); a fault (C706 appendix E) or bind rejection is kept as such.
5. Bounded: every list from the server is capped at ``MAX_NAMES`` in the evidence (the count
   is complete); RID cycling covers --rid-range only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ...client import RpcBindError, RpcConnection, RpcError, RpcFaultError, RpcProtocolError, RpcStatusError
from ...client import lsa, samr, srvsvc, wkssvc
from ...rpc.ndr import Sid
from ...rpc.pdu import FaultStatus, ProviderReason, SyntaxId
from ..evidence import MAX_NAMES, Outcome, Result, RpcProbe
from .common import Link, ProbeOptions, attempt, register_error_mapper

__all__ = ["probe_rpc", "rpc_outcome"]

WELL_KNOWN_SIDS = ("S-1-5-32-544", "S-1-5-32-545", "S-1-1-0")  # Administrators, Users, Everyone
LOOKUP_NAMES = ("Administrator", "Guest")
MAX_PIPE_OPENS = 3
_100NS_PER_DAY = 864_000_000_000
_100NS_PER_MINUTE = 600_000_000


def rpc_outcome(exc: BaseException) -> Outcome:
    """Rule 4: the RPC client's exceptions as evidence (registered with ``attempt``)."""
    if isinstance(exc, RpcStatusError):
        if exc.kind == "werror":
            return Outcome.werror(exc.status, exc.operation)
        return Outcome.ntstatus(exc.status, exc.operation)
    if isinstance(exc, RpcFaultError):
        if exc.status == FaultStatus.ACCESS_DENIED:
            result = Result.DENIED
        elif exc.status in (FaultStatus.NCA_S_OP_RNG_ERROR, FaultStatus.RPC_S_PROCNUM_OUT_OF_RANGE,
                            FaultStatus.NCA_S_UNK_IF):
            result = Result.UNAVAILABLE
        else:
            result = Result.FAILED
        return Outcome(result, exc.name, exc.status, "rpc_fault", exc.operation)
    if isinstance(exc, RpcBindError):
        unavailable = not exc.nak and exc.reason == ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED
        return Outcome(Result.UNAVAILABLE if unavailable else Result.FAILED, exc.name, exc.status, "rpc_bind", str(exc))
    if isinstance(exc, RpcProtocolError):
        return Outcome(Result.FAILED, None, None, "rpc_protocol", str(exc))
    return Outcome(Result.FAILED, None, None, "rpc_protocol", str(exc) or type(exc).__name__)


register_error_mapper(RpcError, rpc_outcome)


class _Pipe:
    """Rule 1: one interface's pipe on a principal's link."""

    def __init__(self, link: Link, name: str, syntax: SyntaxId, kind: str, out: list[RpcProbe]) -> None:
        self.link, self.name, self.syntax, self.kind, self.out = link, name, syntax, kind, out
        self.rpc: RpcConnection | None = None
        self.client: Any = None
        self.failure: Outcome | None = None
        self.opens = 0

    async def _open(self) -> Outcome | None:
        if self.rpc is not None and self.client is self.link.client and self.rpc.broken is None:
            return None
        await self.close()
        if self.opens >= MAX_PIPE_OPENS:
            return self.failure or Outcome.skipped(f"{self.name} pipe broke {self.opens} times; not reopened")
        self.opens += 1
        ipc, tid = await self.link.ipc()
        if tid is None:
            return self._record(Outcome(ipc.result, ipc.status, ipc.code, ipc.kind, f"IPC$: {ipc.detail}"))
        out, pipe = await self.link.open_pipe(tid, self.name)
        if pipe is None:
            return self._record(out)
        rpc = RpcConnection(pipe)
        out, bound = await attempt(rpc.bind([self.syntax]), timeout=2 * self.link.timeout)
        if bound is not None:
            ctx = bound.contexts[0]
            if not ctx.accepted:
                out = rpc_outcome(RpcBindError(ctx.reason, nak=False, result=ctx.result, syntax=self.syntax))
        if not out.ok:
            await _quiet(pipe.close())
            return self._record(out)
        if self.opens == 1:
            self.out.append(RpcProbe(self.name, "bind", Outcome.success(None, f"{self.name} bound")))
        self.rpc, self.client, self.failure = rpc, self.link.client, None
        return None

    def _record(self, out: Outcome) -> Outcome:
        if self.failure is None:
            self.out.append(RpcProbe(self.name, "bind", out))
        self.failure = out
        return out

    async def call(self, op: Callable[[RpcConnection], Awaitable[Any]], *, answers: int = 4) -> tuple[Outcome, Any]:
        """``op(rpc)`` within ``answers`` times --timeout (an RPC call may take a few SMB round
        trips: TRANSCEIVE, READ continuations, enumeration rounds)."""
        failed = await self._open()
        if failed is not None:
            return Outcome.skipped(f"no {self.name} pipe: {_why(failed)}"), None
        assert self.rpc is not None
        out, value = await attempt(op(self.rpc), kind=self.kind, timeout=answers * self.link.timeout)
        if out.result in (Result.TIMEOUT, Result.DISCONNECTED):
            await self.link.close()
            self.rpc = None
        return out, value

    async def close(self) -> None:
        rpc, self.rpc = self.rpc, None
        if rpc is not None and self.client is self.link.client and self.link.client is not None:
            await _quiet(rpc.close())


async def _quiet(op: Awaitable[Any], timeout: float = 10.0) -> None:
    """Closing a handle or pipe: best effort, its answer is not evidence."""
    await attempt(op, timeout=timeout)


def _cap(items: Sequence[Any]) -> list[Any]:
    return list(items[:MAX_NAMES])


def _days(value: int) -> float | None:
    if value in (0, -0x8000000000000000, 0x7FFFFFFFFFFFFFFF):
        return None  # never / not set
    return round(abs(value) / _100NS_PER_DAY, 2)


def _minutes(value: int) -> float | None:
    if value in (-0x8000000000000000, 0x7FFFFFFFFFFFFFFF):
        return None
    return round(abs(value) / _100NS_PER_MINUTE, 2)


def _why(o: Outcome) -> str:
    """A prerequisite's failure as the reason of a skip: its status, or its own reason."""
    return o.detail if o.result is Result.SKIPPED else o.evidence()


def _skip(interface: str, operation: str, why: str, out: list[RpcProbe], level: int | None = None) -> None:
    out.append(RpcProbe(interface, operation, Outcome.skipped(why), level))


# -- srvsvc and wkssvc ------------------------------------------------------------------------------

def _unc(link: Link) -> str:
    """ServerName as Windows and rpcclient send it (impacket's server fails a NULL one)."""
    return f"\\\\{link.host}"


async def _srvsvc(link: Link, out: list[RpcProbe]) -> None:
    pipe = _Pipe(link, srvsvc.PIPE, srvsvc.SYNTAX, "werror", out)
    server = _unc(link)
    try:
        res, info = await pipe.call(lambda rpc: srvsvc.server_get_info(rpc, 101, server=server))
        data = {} if info is None else {
            "name": info.name, "platform_id": info.platform_id, "comment": info.comment, "type": info.type,
            "version": f"{info.version_major}.{info.version_minor}"}
        out.append(RpcProbe("srvsvc", "NetrServerGetInfo", res, 101, None, data))
        for level in (1, 2):
            res, shares = await pipe.call(lambda rpc, level=level: srvsvc.share_enum(rpc, level, server=server))
            if shares is not None and shares.level != level:  # impacket's smbserver: level 1 whatever was asked
                res = Outcome(Result.UNAVAILABLE, None, None, "protocol", f"answered at level {shares.level}")
                shares = None
            data, count = {}, None
            if shares is not None:
                count = len(shares.shares)
                rows = [{"name": s.name, "type": s.type, "remark": s.remark} if level == 1
                        else {"name": s.name, "type": s.type, "path": s.path} for s in shares.shares]
                data = {"shares": _cap(rows)}
            out.append(RpcProbe("srvsvc", "NetrShareEnum", res, level, count, data))
        for level in (10, 1):
            res, sessions = await pipe.call(lambda rpc, level=level: srvsvc.session_enum(rpc, level, server=server))
            data, count = {}, None
            if sessions is not None:
                count = len(sessions.sessions)
                data = {"sessions": _cap([{"client": s.client_name, "user": s.user_name} for s in sessions.sessions])}
            out.append(RpcProbe("srvsvc", "NetrSessionEnum", res, level, count, data))
    finally:
        await pipe.close()


async def _wkssvc(link: Link, out: list[RpcProbe]) -> None:
    pipe = _Pipe(link, wkssvc.PIPE, wkssvc.SYNTAX, "werror", out)
    try:
        server = _unc(link)
        res, info = await pipe.call(lambda rpc: wkssvc.wksta_get_info(rpc, 100, server=server))
        data = {} if info is None else {
            "computer": info.computer_name, "domain": info.lan_group, "platform_id": info.platform_id,
            "version": f"{info.version_major}.{info.version_minor}"}
        out.append(RpcProbe("wkssvc", "NetrWkstaGetInfo", res, 100, None, data))
    finally:
        await pipe.close()


# -- lsarpc -------------------------------------------------------------------------------------------

async def _lsarpc(link: Link, options: ProbeOptions, names: Sequence[str], out: list[RpcProbe]) -> None:
    pipe = _Pipe(link, lsa.PIPE, lsa.SYNTAX, "ntstatus", out)
    try:
        res, who = await pipe.call(lambda rpc: lsa.get_user_name(rpc))
        data = {} if who is None else {"user": who[0], "domain": who[1]}
        out.append(RpcProbe("lsarpc", "LsarGetUserName", res, None, None, data))
        res, handle = await pipe.call(lambda rpc: lsa.open_policy2(rpc, lsa.MAXIMUM_ALLOWED))
        out.append(RpcProbe("lsarpc", "LsarOpenPolicy2", res))
        later = (("LsarQueryInformationPolicy", lsa.POLICY_ACCOUNT_DOMAIN),
                 ("LsarQueryInformationPolicy", lsa.POLICY_PRIMARY_DOMAIN), ("LsarLookupNames", None),
                 ("LsarLookupSids", None), ("LsarLookupSids:rid-cycling", None), ("LsarEnumerateAccounts", None))
        if handle is None:
            for op, level in later:
                _skip("lsarpc", op, f"needs a policy handle (LsarOpenPolicy2: {_why(res)})", out, level)
            return
        domain_sid: Sid | None = None
        for level in (lsa.POLICY_ACCOUNT_DOMAIN, lsa.POLICY_PRIMARY_DOMAIN):
            res, info = await pipe.call(lambda rpc, level=level: lsa.query_info_policy(rpc, handle, level))
            data = {} if info is None else {"domain": info.name, "sid": None if info.sid is None else str(info.sid)}
            if info is not None and level == lsa.POLICY_ACCOUNT_DOMAIN and info.sid is not None:
                domain_sid = info.sid
            out.append(RpcProbe("lsarpc", "LsarQueryInformationPolicy", res, level, None, data))
        lookup = list(dict.fromkeys(n for n in (*names, *LOOKUP_NAMES) if n))
        res, found = await pipe.call(lambda rpc: lsa.lookup_names(rpc, handle, lookup))
        data, count = {}, None
        if found is not None:
            res = Outcome.ntstatus(found.status)
            count = sum(1 for s in found.sids if s.mapped)
            data = {"names": [{"name": s.name, "sid": None if s.sid is None else str(s.sid), "type": s.use_name}
                              for s in found.sids if s.mapped]}
            if domain_sid is None:
                domain_sid = next((d.sid for d in found.domains if d.sid is not None
                                   and not str(d.sid).startswith("S-1-5-32")
                                   and len(d.sid.sub_authorities) >= 4), None)
        out.append(RpcProbe("lsarpc", "LsarLookupNames", res, None, count, data))
        res, translated = await pipe.call(lambda rpc: lsa.lookup_sids(rpc, handle, list(WELL_KNOWN_SIDS)))
        data, count = {}, None
        if translated is not None:
            res = Outcome.ntstatus(translated.status)
            count = sum(1 for n in translated.names if n.mapped)
            data = {"names": [{"sid": str(n.sid), "name": n.full_name, "type": n.use_name}
                              for n in translated.names if n.mapped]}
        out.append(RpcProbe("lsarpc", "LsarLookupSids", res, None, count, data))
        if domain_sid is None:
            _skip("lsarpc", "LsarLookupSids:rid-cycling", "no domain SID (LsarQueryInformationPolicy and "
                  "LsarLookupNames gave none)", out)
        else:
            sid = domain_sid
            batches = -(-sum(b - a + 1 for a, b in options.rid_ranges) // 500)  # rid_cycle's batch size
            res, accounts = await pipe.call(lambda rpc: lsa.rid_cycle(rpc, handle, sid, options.rid_ranges),
                                            answers=2 + 2 * batches)
            data = {"domain_sid": str(sid), "ranges": ",".join(f"{a}-{b}" for a, b in options.rid_ranges)}
            count = None
            if accounts is not None:
                count = len(accounts)
                data["accounts"] = _cap([{"rid": a.sid.rid, "name": a.full_name, "type": a.use_name} for a in accounts])
            out.append(RpcProbe("lsarpc", "LsarLookupSids:rid-cycling", res, None, count, data))
        res, sids = await pipe.call(lambda rpc: lsa.enumerate_accounts(rpc, handle))
        data = {} if sids is None else {"sids": _cap([str(s) for s in sids])}
        out.append(RpcProbe("lsarpc", "LsarEnumerateAccounts", res, None, None if sids is None else len(sids), data))
        await _quiet(pipe.call(lambda rpc: lsa.close(rpc, handle)))
    finally:
        await pipe.close()


# -- samr ---------------------------------------------------------------------------------------------

_SAMR_DOMAIN_OPS = (("SamrEnumerateUsersInDomain", None), ("SamrEnumerateGroupsInDomain", None),
                    ("SamrEnumerateAliasesInDomain", None), ("SamrQueryDisplayInformation2", samr.DISPLAY_USER),
                    ("SamrQueryInformationDomain", samr.DOMAIN_PASSWORD_INFORMATION),
                    ("SamrQueryInformationDomain", samr.DOMAIN_LOCKOUT_INFORMATION))


async def _samr_domain(pipe: _Pipe, dh: bytes, out: list[RpcProbe]) -> None:
    """The enumerations on an open account-domain handle."""
    for op, call, key in (
        ("SamrEnumerateUsersInDomain", samr.enumerate_users, "users"),
        ("SamrEnumerateGroupsInDomain", samr.enumerate_groups, "groups"),
        ("SamrEnumerateAliasesInDomain", samr.enumerate_aliases, "aliases"),
    ):
        res, items = await pipe.call(lambda rpc, call=call: call(rpc, dh))
        data = {} if items is None else {key: _cap([{"rid": i.rid, "name": i.name} for i in items])}
        out.append(RpcProbe("samr", op, res, None, None if items is None else len(items), data))
    res, rows = await pipe.call(lambda rpc: samr.query_display_information(rpc, dh, samr.DISPLAY_USER))
    data = {} if rows is None else {"users": _cap([{"rid": e.rid, "name": e.account_name, "full_name": e.full_name,
                                                    "comment": e.admin_comment} for e in rows])}
    out.append(RpcProbe("samr", "SamrQueryDisplayInformation2", res, samr.DISPLAY_USER,
                        None if rows is None else len(rows), data))
    res, pw = await pipe.call(lambda rpc: samr.query_information_domain(rpc, dh, samr.DOMAIN_PASSWORD_INFORMATION))
    data = {} if pw is None else {
        "min_password_length": pw.min_password_length, "password_history_length": pw.password_history_length,
        "password_properties": pw.password_properties, "max_password_age_days": _days(pw.max_password_age),
        "min_password_age_days": _days(pw.min_password_age)}
    out.append(RpcProbe("samr", "SamrQueryInformationDomain", res, samr.DOMAIN_PASSWORD_INFORMATION, None, data))
    res, lock = await pipe.call(lambda rpc: samr.query_information_domain(rpc, dh, samr.DOMAIN_LOCKOUT_INFORMATION))
    data = {} if lock is None else {
        "lockout_threshold": lock.lockout_threshold, "lockout_duration_minutes": _minutes(lock.lockout_duration),
        "lockout_observation_window_minutes": _minutes(lock.lockout_observation_window)}
    out.append(RpcProbe("samr", "SamrQueryInformationDomain", res, samr.DOMAIN_LOCKOUT_INFORMATION, None, data))


async def _samr(link: Link, out: list[RpcProbe]) -> None:
    pipe = _Pipe(link, samr.PIPE, samr.SYNTAX, "ntstatus", out)
    try:
        res, pw = await pipe.call(lambda rpc: samr.get_domain_password_information(rpc))
        data = {} if pw is None else {"min_password_length": pw[0], "password_properties": pw[1]}
        out.append(RpcProbe("samr", "SamrGetDomainPasswordInformation", res, None, None, data))
        res, conn = await pipe.call(lambda rpc: samr.connect(rpc))
        out.append(RpcProbe("samr", conn.operation if conn is not None else "SamrConnect5", res))
        after = (("SamrEnumerateDomainsInSamServer", None), ("SamrLookupDomainInSamServer", None),
                 ("SamrOpenDomain", None), *_SAMR_DOMAIN_OPS, ("SamrEnumerateAliasesInDomain:builtin", None))
        if conn is None:
            for op, level in after:
                _skip("samr", op, f"needs a server handle (SamrConnect: {_why(res)})", out, level)
            return
        sh = conn.handle
        res, domains = await pipe.call(lambda rpc: samr.enumerate_domains(rpc, sh))
        names = [d.name for d in domains or () if d.name]
        out.append(RpcProbe("samr", "SamrEnumerateDomainsInSamServer", res, None,
                            None if domains is None else len(domains), {"domains": _cap(names)} if domains else {}))
        account = next((n for n in names if n.casefold() != "builtin"), None)
        for label, name in (("", account), (":builtin", "Builtin")):
            if name is None:
                for op, level in (("SamrLookupDomainInSamServer", None), ("SamrOpenDomain", None), *_SAMR_DOMAIN_OPS):
                    _skip("samr", op, f"no account domain (SamrEnumerateDomainsInSamServer: {_why(res)})", out, level)
                continue
            res_l, sid = await pipe.call(lambda rpc, name=name: samr.lookup_domain(rpc, sh, name))
            if not label:
                out.append(RpcProbe("samr", "SamrLookupDomainInSamServer", res_l, None, None,
                                    {"domain": name, "sid": str(sid)} if sid is not None else {}))
            ops = _SAMR_DOMAIN_OPS if not label else (("SamrEnumerateAliasesInDomain:builtin", None),)
            if sid is None:
                for op, level in ((("SamrOpenDomain", None),) if not label else ()) + ops:
                    _skip("samr", op, f"no SID for domain {name} (SamrLookupDomainInSamServer: {_why(res_l)})", out,
                          level)
                continue
            res_o, dh = await pipe.call(lambda rpc, sid=sid: samr.open_domain(rpc, sh, sid))
            if not label:
                out.append(RpcProbe("samr", "SamrOpenDomain", res_o, None, None, {"domain": name}))
            if dh is None:
                for op, level in ops:
                    _skip("samr", op, f"needs a domain handle (SamrOpenDomain: {_why(res_o)})", out, level)
                continue
            if label:
                res_a, aliases = await pipe.call(lambda rpc, dh=dh: samr.enumerate_aliases(rpc, dh))
                data = {} if aliases is None else {"aliases": _cap([{"rid": a.rid, "name": a.name} for a in aliases])}
                out.append(RpcProbe("samr", "SamrEnumerateAliasesInDomain:builtin", res_a, None,
                                    None if aliases is None else len(aliases), data))
            else:
                await _samr_domain(pipe, dh, out)
            await _quiet(pipe.call(lambda rpc, dh=dh: samr.close_handle(rpc, dh)))
        await _quiet(pipe.call(lambda rpc: samr.close_handle(rpc, sh)))
    finally:
        await pipe.close()


def share_list(rpc: Sequence[RpcProbe]) -> list[tuple[str, int | None, str | None]]:
    """(name, STYPE, remark) of the shares this principal's NetrShareEnum level 1 listed."""
    enum = next((r for r in rpc if r.operation == "NetrShareEnum" and r.level == 1 and r.outcome.ok), None)
    if enum is None:
        return []
    return [(s.get("name") or "", s.get("type"), s.get("remark")) for s in enum.data.get("shares", ())]


async def probe_rpc(link: Link, options: ProbeOptions, names: Sequence[str], out: list[RpcProbe]) -> None:
    """All four interfaces, one after the other on the principal's link; ``names`` are names
    to translate besides Administrator and Guest (the server's NetBIOS names, from step 1)."""
    await _srvsvc(link, out)
    await _wkssvc(link, out)
    await _lsarpc(link, options, names, out)
    await _samr(link, out)

