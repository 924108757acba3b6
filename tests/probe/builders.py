"""Evidence built by hand, for the verdict and output tests (no sockets, no servers)."""

from __future__ import annotations

from typing import Any

from nullsmb.probe.evidence import (
    DialectProbe,
    HostEvidence,
    NtlmInfo,
    Outcome,
    PipeProbe,
    PrincipalAccess,
    RpcProbe,
    SessionProbe,
    ShareProbe,
    Smb1Probe,
    Transport,
)
from nullsmb.probe.steps.pipes import PIPES

OK = Outcome.success("ntstatus")
WOK = Outcome.success("werror")
DENIED = Outcome.ntstatus(0xC0000022)  # STATUS_ACCESS_DENIED
WDENIED = Outcome.werror(5)  # WERR_ACCESS_DENIED
LOGON_FAILURE = Outcome.ntstatus(0xC000006D)
NOT_FOUND = Outcome.ntstatus(0xC0000034)  # STATUS_OBJECT_NAME_NOT_FOUND
BAD_NAME = Outcome.ntstatus(0xC00000CC)  # STATUS_BAD_NETWORK_NAME
REFUSED = Outcome.from_oserror(ConnectionRefusedError(111, "Connection refused"))


def skipped(why: str) -> Outcome:
    return Outcome.skipped(why)


def rpc(interface: str, operation: str, outcome: Outcome, level: int | None = None, count: int | None = None,
        **data: Any) -> RpcProbe:
    return RpcProbe(interface, operation, outcome, level, count, data)


def pipes(open_: tuple[str, ...] = (), other: Outcome = DENIED) -> tuple[PipeProbe, ...]:
    return tuple(PipeProbe(n, OK if n in open_ else other) for n in PIPES)


def disk(name: str, *, connect: Outcome = OK, listing: Outcome | None = OK, entries: int | None = 2,
         write: Outcome | None = None, maximal: int = 0x001200A9, source: str = "listed") -> ShareProbe:
    if not connect.ok:
        return ShareProbe(name, source, connect)
    return ShareProbe(name, source, connect, 0, "", "disk", 0, maximal, listing, entries if listing and listing.ok
                      else None, ("a.txt",), write)


def ipc(connect: Outcome = OK) -> ShareProbe:
    if not connect.ok:
        return ShareProbe("IPC$", "ipc", connect)
    return ShareProbe("IPC$", "ipc", connect, None, None, "pipe", 0, 0x001F01FF)


def access(principal: str = "null", *, ipc_outcome: Outcome = OK, open_pipes: tuple[str, ...] = (),
           rpcs: tuple[RpcProbe, ...] = (), shares: tuple[ShareProbe, ...] = ()) -> PrincipalAccess:
    if not ipc_outcome.ok:
        pipe_list = tuple(PipeProbe(n, skipped(f"no IPC$: {ipc_outcome.evidence()}")) for n in PIPES)
    else:
        pipe_list = pipes(open_pipes)
    return PrincipalAccess(principal, ipc_outcome, pipe_list, rpcs, (ipc(ipc_outcome), *shares))


def transport(*, smb1: bool | None = False, signing_required: bool = False,
              dialects: tuple[str, ...] = ("2.0.2", "2.1", "3.0", "3.0.2", "3.1.1")) -> Transport:
    every = ("2.0.2", "2.1", "3.0", "3.0.2", "3.1.1")
    probes = tuple(
        DialectProbe(d, OK, offered=True, signing_required=signing_required, capabilities=0,
                     encryption=d >= "3", cipher="AES-128-GCM" if d == "3.1.1" else None,
                     server_guid="a7795014-03d2-43c7-bad1-3f5f6c54697d")
        if d in dialects else DialectProbe(d, Outcome.ntstatus(0xC00000BB), offered=False)
        for d in every)
    one = Smb1Probe(Outcome.success("protocol", "dialect NT LM 0.12"), offered=True, signing_enabled=True,
                    signing_required=False, extended_security=True, capabilities=0x80000000) if smb1 else \
        Smb1Probe(Outcome.ntstatus(0xC00000BB), offered=smb1)
    ntlm = NtlmInfo(Outcome(OK.result, "STATUS_MORE_PROCESSING_REQUIRED", 0xC0000016, "ntstatus"), "SRV", "SRV",
                    "WORKGROUP", "srv", "example.test", None, "10.0 build 20348")
    return Transport(one, probes, ntlm)


def sessions(*, null: bool = True, guest: str = "refused", user: bool = False) -> tuple[SessionProbe, ...]:
    """guest: "refused", "guest" (IS_GUEST) or "user" (accepted as a real user)."""
    out = [SessionProbe("null", "", OK if null else DENIED, established=null, dialect="3.1.1" if null else None)]
    if guest == "refused":
        out.append(SessionProbe("guest", "nullsmb-0011223344", LOGON_FAILURE))
    else:
        flags = 1 if guest == "guest" else 0
        out.append(SessionProbe("guest", "nullsmb-0011223344", OK, established=True, is_guest=bool(flags),
                                session_flags=flags, dialect="3.1.1"))
    if user:
        out.append(SessionProbe("user", "alice", OK, established=True, dialect="3.1.1"))
    return tuple(out)


def host(*, connect: Outcome = OK, transport_: Transport | None = None, sessions_: tuple[SessionProbe, ...] | None = None,
         accesses: tuple[PrincipalAccess, ...] = (), incomplete: str | None = None) -> HostEvidence:
    if not connect.ok:
        return HostEvidence("10.0.0.5", "10.0.0.5", 445, connect, "2026-01-01T00:00:00Z", 0.01)
    return HostEvidence("10.0.0.5", "10.0.0.5", 445, connect, "2026-01-01T00:00:00Z", 1.5,
                        transport_ if transport_ is not None else transport(),
                        sessions_ if sessions_ is not None else sessions(), accesses, incomplete)


# -- typical RPC answers ------------------------------------------------------------------------------

def srvsvc_open(shares: int = 2) -> tuple[RpcProbe, ...]:
    return (rpc("srvsvc", "bind", Outcome.success(None)),
            rpc("srvsvc", "NetrServerGetInfo", WOK, 101, None, name="SRV"),
            rpc("srvsvc", "NetrShareEnum", WOK, 1, shares,
                shares=[{"name": f"s{i}", "type": 0, "remark": ""} for i in range(shares)]),
            rpc("srvsvc", "NetrShareEnum", WDENIED, 2),
            rpc("srvsvc", "NetrSessionEnum", WDENIED, 10), rpc("srvsvc", "NetrSessionEnum", WDENIED, 1))


def srvsvc_ra1() -> tuple[RpcProbe, ...]:
    return (rpc("srvsvc", "NetrServerGetInfo", WDENIED, 101), rpc("srvsvc", "NetrShareEnum", WDENIED, 1),
            rpc("srvsvc", "NetrShareEnum", WDENIED, 2), rpc("srvsvc", "NetrSessionEnum", WDENIED, 10))


def srvsvc_closed(why: Outcome = DENIED) -> tuple[RpcProbe, ...]:
    skip = skipped(f"no srvsvc pipe: {why.evidence()}")
    return (rpc("srvsvc", "bind", why), rpc("srvsvc", "NetrServerGetInfo", skip, 101),
            rpc("srvsvc", "NetrShareEnum", skip, 1), rpc("srvsvc", "NetrShareEnum", skip, 2))


def lsa_open(accounts: int = 3) -> tuple[RpcProbe, ...]:
    return (rpc("lsarpc", "LsarGetUserName", OK, user="ANONYMOUS LOGON"), rpc("lsarpc", "LsarOpenPolicy2", OK),
            rpc("lsarpc", "LsarQueryInformationPolicy", OK, 5, None, domain="SRV", sid="S-1-5-21-1-2-3"),
            rpc("lsarpc", "LsarLookupNames", Outcome.ntstatus(0x107), None, 1),
            rpc("lsarpc", "LsarLookupSids", OK, None, 3),
            rpc("lsarpc", "LsarLookupSids:rid-cycling", OK, None, accounts,
                accounts=[{"rid": 500 + i, "name": f"SRV\\u{i}", "type": "USER"} for i in range(accounts)]),
            rpc("lsarpc", "LsarEnumerateAccounts", DENIED))


def lsa_blocked() -> tuple[RpcProbe, ...]:
    skip = skipped("needs a policy handle (LsarOpenPolicy2: STATUS_ACCESS_DENIED)")
    return (rpc("lsarpc", "LsarOpenPolicy2", DENIED), rpc("lsarpc", "LsarQueryInformationPolicy", skip, 5),
            rpc("lsarpc", "LsarLookupSids", skip), rpc("lsarpc", "LsarLookupNames", skip))


def lsa_no_lookup() -> tuple[RpcProbe, ...]:
    return (rpc("lsarpc", "LsarOpenPolicy2", OK), rpc("lsarpc", "LsarQueryInformationPolicy", DENIED, 5),
            rpc("lsarpc", "LsarLookupNames", DENIED), rpc("lsarpc", "LsarLookupSids", DENIED),
            rpc("lsarpc", "LsarLookupSids:rid-cycling", skipped("no domain SID")))


def samr_open(users: int = 3) -> tuple[RpcProbe, ...]:
    return (rpc("samr", "SamrGetDomainPasswordInformation", OK, min_password_length=5, password_properties=0),
            rpc("samr", "SamrConnect5", OK), rpc("samr", "SamrEnumerateDomainsInSamServer", OK, None, 2),
            rpc("samr", "SamrLookupDomainInSamServer", OK), rpc("samr", "SamrOpenDomain", OK),
            rpc("samr", "SamrEnumerateUsersInDomain", OK, None, users,
                users=[{"rid": 1000 + i, "name": f"u{i}"} for i in range(users)]),
            rpc("samr", "SamrEnumerateGroupsInDomain", OK, None, 1),
            rpc("samr", "SamrQueryDisplayInformation2", OK, 1, users),
            rpc("samr", "SamrQueryInformationDomain", OK, 1, None, min_password_length=7),
            rpc("samr", "SamrQueryInformationDomain", OK, 12, None, lockout_threshold=0))


def samr_denied() -> tuple[RpcProbe, ...]:
    skip = skipped("needs a server handle (SamrConnect: STATUS_ACCESS_DENIED)")
    return (rpc("samr", "SamrGetDomainPasswordInformation", DENIED), rpc("samr", "SamrConnect5", DENIED),
            rpc("samr", "SamrEnumerateUsersInDomain", skip), rpc("samr", "SamrQueryDisplayInformation2", skip, 1))
