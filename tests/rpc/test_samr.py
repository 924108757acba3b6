"""samr (rpc/interfaces/samr.py and _samr_*.py) through an RpcPipe, no sockets.

Requests are built and responses decoded by impacket's samr module (an independent NDR
implementation) through a small stand-in for its DCERPC object, so impacket's own hSamr*
helpers drive the pipe. Golden stubs come from rpcclient against Samba 4.17
(shared/captures/rpcclient-null-srvinfo-shares-users-lsa.pcapng, frames 34-71). Covered: every
operation, the policy table's denials (a well-formed stub with STATUS_ACCESS_DENIED and NULL or
zero out parameters), handle kinds and lifetimes, access at open, paging, lookups and their
ranges, information levels, no password material, and truncated or mutated stubs (faults, never
exceptions)."""

from __future__ import annotations

import struct
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impacket.dcerpc.v5 import samr
from impacket.dcerpc.v5.dtypes import MAXIMUM_ALLOWED, NULL, RPC_SID
from impacket.dcerpc.v5.samr import DCERPCSessionError

from rpc_fixtures import DeterministicRandom, bind, call
from nullsmb.auth.md4 import nt_hash
from nullsmb.config import PolicySettings
from nullsmb.policy.model import Principal, PrincipalKind
from nullsmb.rpc import RpcPipe
from nullsmb.rpc.directory import Directory, PasswordPolicy
from nullsmb.rpc.interfaces import samr as samr_iface
from nullsmb.rpc.interfaces._samr_common import (
    DOMAIN,
    STATUS_ACCESS_DENIED,
    STATUS_INVALID_HANDLE,
    STATUS_INVALID_INFO_CLASS,
    STATUS_MORE_ENTRIES,
    STATUS_NO_SUCH_ALIAS,
    STATUS_NO_SUCH_DOMAIN,
    STATUS_NO_SUCH_GROUP,
    STATUS_NO_SUCH_USER,
    STATUS_NONE_MAPPED,
    STATUS_SOME_NOT_MAPPED,
    USER,
)
from nullsmb.rpc.interfaces._samr_account import ACCOUNT_OPS
from nullsmb.rpc.interfaces._samr_domain import DOMAIN_OPS
from nullsmb.rpc.interfaces._samr_info import USER_LEVELS
from nullsmb.rpc.interfaces.samr import SERVER_OPS
from nullsmb.rpc.ndr import NdrReader, NdrWriter, Sid
from nullsmb.rpc.pdu import FaultStatus, PType, SyntaxId
from nullsmb.rpc.service import policy_check

H = bytes.fromhex
SAMR_SYNTAX = SyntaxId.of("12345778-1234-abcd-ef00-0123456789ac", 1, 0)
MACHINE_SID = Sid.parse("S-1-5-21-1111-2222-3333")
BUILTIN = Sid.parse("S-1-5-32")
ANONYMOUS = Principal(PrincipalKind.ANONYMOUS)
ALICE = Principal(PrincipalKind.USER, "alice", ("Administrators",))
BOB = Principal(PrincipalKind.USER, "bob")
OPEN = PolicySettings(NullSessionPipes=("samr",), RestrictAnonymousSAM=0)
DEFAULT = PolicySettings(NullSessionPipes=("samr",))  # RestrictAnonymousSAM = 1
PASSWORDS = {"alice": "Passw0rd!", "bob": "Bobpass1!"}


def directory(**kw: Any) -> Directory:
    return Directory(machine_sid=MACHINE_SID, domain_name="NULLSMB",
                     users=[("alice", ["Administrators", "Staff"]), ("bob", ["Staff"]), ("carol", [])], **kw)


class Fault(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(hex(status))
        self.status = status


class Dce:
    """What impacket's hSamr* helpers use of a DCERPC object: ``request``. Responses are decoded
    whatever the status (a denial must be a well-formed stub too) before the error is raised."""

    def __init__(self, principal: Principal = ANONYMOUS, policy: Any = OPEN, sam: Directory | None = None) -> None:
        self.events: list[tuple[Any, int]] = []
        ctx = SimpleNamespace(session=SimpleNamespace(principal=principal),
                              server=SimpleNamespace(random_bytes=DeterministicRandom(7), policy=policy,
                                                     directory=sam or directory()))
        self.server = ctx.server
        self.pipe = RpcPipe("samr", ctx, [samr_iface.INTERFACE], policy_check=policy_check,
                            on_call=lambda c, s: self.events.append((c, s)))
        bind(self.pipe, SAMR_SYNTAX)
        self.call_id = 1

    def raw(self, opnum: int, stub: bytes) -> tuple[Any, Any]:
        self.call_id += 1
        return call(self.pipe, opnum, stub, context_id=0, call_id=self.call_id)

    def stub(self, opnum: int, stub: bytes) -> bytes:
        header, body = self.raw(opnum, stub)
        if header.ptype == PType.FAULT:
            raise Fault(body.status)
        assert header.ptype == PType.RESPONSE
        return bytes(body.stub)

    def request(self, request: Any, uuid: Any = None, checkError: bool = True) -> Any:  # noqa: N803
        answer = self.stub(request.opnum, request.getData())
        response = getattr(samr, type(request).__name__ + "Response")(answer)
        status = struct.unpack("<I", answer[-4:])[0]
        assert response["ErrorCode"] == status
        if status and checkError:
            raise DCERPCSessionError(packet=response, error_code=status)
        return response

    def answer(self, request: Any) -> Any:
        """The decoded response whatever its status."""
        return self.request(request, checkError=False)

    # the usual walk
    def connect(self) -> bytes:
        return samr.hSamrConnect5(self)["ServerHandle"]

    def domain(self, sid: Sid = MACHINE_SID, access: int = MAXIMUM_ALLOWED) -> bytes:
        return samr.hSamrOpenDomain(self, self.connect(), access, rpc_sid(sid))["DomainHandle"]

    def user(self, rid: int, access: int = MAXIMUM_ALLOWED) -> bytes:
        return samr.hSamrOpenUser(self, self.domain(), access, rid)["UserHandle"]

    @property
    def last(self) -> Any:
        return self.events[-1][0]


def rpc_sid(sid: Sid) -> RPC_SID:
    out = RPC_SID()
    out.fromCanonical(str(sid))
    return out


def status_of(exc: pytest.ExceptionInfo[DCERPCSessionError]) -> int:
    return exc.value.get_error_code()


def is_null(response: Any, field: str) -> bool:
    """A [unique] out pointer sent as NULL."""
    return response.fields[field].fields["ReferentID"] == 0


def ulongs(array: Any) -> list[int]:
    """SAMPR_ULONG_ARRAY.Element as ints."""
    return [e["Data"] if hasattr(e, "fields") else e for e in (array["Element"] or [])]


class SamrGetAliasMembership(samr.SamrGetAliasMembership):  # type: ignore[misc]
    """The request encoded by our own NDR writer (MS-SAMR SAMPR_PSID_ARRAY, as rpcclient's
    queryuseraliases sends it), so that the tests choose the SIDs without impacket's structures;
    impacket's own hSamrGetAliasMembership is driven in tests/integration/test_rpc_samr.py."""

    def __init__(self, handle: bytes, sids: tuple[Sid, ...]) -> None:
        super().__init__()
        self.stub_data = alias_membership_stub(handle, sids)

    def getData(self) -> bytes:  # noqa: N802
        return self.stub_data


def alias_membership_stub(handle: bytes, sids: tuple[Sid, ...]) -> bytes:
    w = NdrWriter()
    w.handle(handle)
    with w.struct():  # SAMPR_PSID_ARRAY {Count, [size_is(Count)] PSAMPR_SID_INFORMATION}
        w.u32(len(sids))
        w.unique(list(sids) or None, lambda w, v: w.conformant_array(v, lambda w, s: w.unique(s, NdrWriter.sid)))
    return w.getvalue()


def alias_membership(dce: Dce, handle: bytes, *sids: Sid) -> list[int]:
    return ulongs(dce.request(SamrGetAliasMembership(handle, sids))["Membership"])


def names(buffer: Any) -> list[tuple[int, str]]:
    return [(e["RelativeId"], e["Name"]) for e in buffer["Buffer"]["Buffer"]]


# -- golden stubs: rpcclient against Samba 4.17 ------------------------------------------------------

GOLDEN_SID = Sid.parse("S-1-5-21-3068813907-1347329181-1856495549")
SAMBA_HANDLE = H("000000003591b20eda12834db439711679415ceb")
# frame 34: SamrConnect5("\\127.0.0.1", MAXIMUM_ALLOWED, InVersion 1, {Revision 2, features 0})
CONNECT5_REQ = H("00000200" "0c000000" "00000000" "0c000000" "5c005c003100320037002e0030002e0030002e0031000000"
                 "00000002" "01000000" "01000000" "02000000" "00000000")
# frame 35: OutVersion 1, {1: Revision 3, features 0}, handle, STATUS_SUCCESS
CONNECT5_RSP = H("01000000" "01000000" "03000000" "00000000") + SAMBA_HANDLE + H("00000000")
# frames 36/37: SamrEnumerateDomainsInSamServer(handle, context 0, 0xffff)
ENUM_DOMAINS_REQ = SAMBA_HANDLE + H("00000000" "ffff0000")
ENUM_DOMAINS_RSP = H(
    "00000000" "00000200"  # EnumerationContext, *Buffer
    "02000000" "04000200" "02000000"  # EntriesRead, *Buffer, max_count
    "00000000" "1600" "1600" "08000200" "01000000" "0e00" "0e00" "0c000200"
    "0b000000" "00000000" "0b000000" "41004e00430048004f005200530041004d0042004100" "0000"
    "07000000" "00000000" "07000000" "4200750069006c00740069006e00" "0000"
    "02000000" "00000000")  # CountReturned, STATUS_SUCCESS
# frames 38/39: SamrLookupDomainInSamServer(handle, "ANCHORSAMBA") -> the SID
LOOKUP_DOMAIN_REQ = SAMBA_HANDLE + H(
    "1600" "1600" "00000200" "0b000000" "00000000" "0b000000" "41004e00430048004f005200530041004d0042004100")
LOOKUP_DOMAIN_RSP = H("04000200" "04000000" "01" "04" "000000000005" "15000000" "5362eab6" "9d9c4e50" "bddfa76e"
                      "00000000")
# frames 40/41: SamrOpenDomain(handle, MAXIMUM_ALLOWED, SID)
OPEN_DOMAIN_REQ = SAMBA_HANDLE + H("00000002" "04000000" "01" "04" "000000000005" "15000000" "5362eab6"
                                   "9d9c4e50" "bddfa76e")
SAMBA_DOMAIN_HANDLE = H("010000007ae42368d4fe9f498ce2fa7ce37252fb")
# frames 42/43: SamrEnumerateUsersInDomain(handle, 0, ACB_NORMAL, 0xffff) -> alice (1000)
ENUM_USERS_REQ = SAMBA_DOMAIN_HANDLE + H("00000000" "10000000" "ffff0000")
ENUM_USERS_RSP = H("01000000" "00000200" "01000000" "04000200" "01000000" "e8030000" "0a00" "0a00" "08000200"
                   "05000000" "00000000" "05000000" "61006c006900630065000000" "01000000" "00000000")
# frames 58/59: SamrQueryDisplayInformation(handle, 1, index 0, 512 entries, 0x3fff bytes)
DISPLAY_REQ = SAMBA_DOMAIN_HANDLE + H("0100" "0000" "00000000" "00020000" "ff3f0000")
DISPLAY_RSP = H(
    "20000000" "00400000" "0100" "0000" "01000000" "00000200" "01000000"
    "01000000" "e8030000" "10000000" "0a000a00" "04000200" "00000000" "08000200" "00000000" "0c000200"
    "05000000" "00000000" "05000000" "61006c0069006300650000" "00" "00000000" "00000000" "00000000"
    "00000000" "00000000" "00000000" "00000000")
# frames 44/45: SamrCloseHandle -> zero handle, STATUS_SUCCESS
CLOSE_RSP = bytes(20) + H("00000000")
# frames 70/71: SamrGetDomainPasswordInformation(Unused = {0, 0, NULL}) -> {5, 0}
GET_PW_INFO_REQ = H("00000200" "0000" "0000" "00000000")
GET_PW_INFO_RSP = H("0500" "0000" "00000000" "00000000")


def golden_dce() -> Dce:
    sam = Directory(machine_sid=GOLDEN_SID, domain_name="ANCHORSAMBA", users=[("alice", ["Administrators"])],
                    password_policy=PasswordPolicy(min_length=5))
    return Dce(sam=sam)


def test_golden_connect_enumerate_lookup_open_close() -> None:
    dce = golden_dce()
    rsp = dce.stub(64, CONNECT5_REQ)
    handle = rsp[16:36]
    assert rsp[:16] + rsp[36:] == CONNECT5_RSP[:16] + CONNECT5_RSP[36:] and handle != bytes(20)
    rsp = dce.stub(6, handle + ENUM_DOMAINS_REQ[20:])
    assert rsp[4:] == ENUM_DOMAINS_RSP[4:]  # Samba's EnumerationContext is 0, ours where to resume (2)
    assert struct.unpack("<I", rsp[:4]) == (2,)
    rsp = dce.stub(5, handle + LOOKUP_DOMAIN_REQ[20:])
    assert rsp[4:] == LOOKUP_DOMAIN_RSP[4:] and rsp[:4] != bytes(4)  # referent ids are the writer's
    rsp = dce.stub(7, handle + OPEN_DOMAIN_REQ[20:])
    domain_handle = rsp[:20]
    assert len(rsp) == 24 and rsp[20:] == bytes(4) and domain_handle != bytes(20)
    assert dce.stub(1, domain_handle) == CLOSE_RSP
    assert dce.stub(1, handle) == CLOSE_RSP


def test_golden_enumerate_users_and_display_information_decode_alike() -> None:
    dce = golden_dce()
    handle = dce.domain(GOLDEN_SID)
    ours = samr.SamrEnumerateUsersInDomainResponse(dce.stub(13, handle + ENUM_USERS_REQ[20:]))
    samba = samr.SamrEnumerateUsersInDomainResponse(ENUM_USERS_RSP)
    assert (1000, "alice") in names(ours) and names(samba) == [(1000, "alice")]
    # ours also lists the built-in accounts Samba's passdb does not have
    assert names(ours) == [(500, "Administrator"), (501, "Guest"), (1000, "alice")]
    assert ours["ErrorCode"] == samba["ErrorCode"] == 0 and ours["CountReturned"] == 3

    def entries(rsp: Any) -> dict[int, tuple]:
        return {e["Rid"]: (e["AccountControl"], e["AccountName"], e["AdminComment"], e["FullName"])
                for e in rsp["Buffer"]["UserInformation"]["Buffer"]}

    ours = samr.SamrQueryDisplayInformationResponse(dce.stub(40, handle + DISPLAY_REQ[20:]))
    samba = samr.SamrQueryDisplayInformationResponse(DISPLAY_RSP)
    assert entries(ours)[1000] == entries(samba)[1000] == (0x10, "alice", "", "")
    assert [(e["Index"], e["AccountName"]) for e in ours["Buffer"]["UserInformation"]["Buffer"]] == [
        (1, "Administrator"), (2, "alice"), (3, "Guest")]
    assert ours["ErrorCode"] == 0 and ours["Buffer"]["tag"] == 1


def test_golden_get_domain_password_information() -> None:
    assert golden_dce().stub(56, GET_PW_INFO_REQ) == GET_PW_INFO_RSP


# -- the walks the tools make ------------------------------------------------------------------------------

def test_samrdump_sequence_anonymously() -> None:
    """impacket samrdump.py: Connect, EnumerateDomains, LookupDomain, OpenDomain, EnumerateUsers,
    then per user OpenUser + QueryInformationUser2(UserAllInformation) + CloseHandle."""
    dce = Dce()
    server = samr.hSamrConnect(dce)["ServerHandle"]
    domains = names(samr.hSamrEnumerateDomainsInSamServer(dce, server))
    assert domains == [(0, "NULLSMB"), (1, "Builtin")]
    sid = samr.hSamrLookupDomainInSamServer(dce, server, "nullsmb")["DomainId"]
    assert sid.formatCanonical() == str(MACHINE_SID)
    domain = samr.hSamrOpenDomain(dce, server, domainId=sid)["DomainHandle"]
    users = names(samr.hSamrEnumerateUsersInDomain(dce, domain))
    assert users == [(500, "Administrator"), (501, "Guest"), (1000, "alice"), (1001, "bob"), (1002, "carol")]
    assert dce.last.returned == 5 and dce.last.op_name == "samr:SamrEnumerateUsersInDomain"
    for rid, name in users:
        user = samr.hSamrOpenUser(dce, domain, MAXIMUM_ALLOWED, rid)["UserHandle"]
        info = samr.hSamrQueryInformationUser2(dce, user, samr.USER_INFORMATION_CLASS.UserAllInformation)
        everything = info["Buffer"]["All"]
        assert (everything["UserName"], everything["UserId"], everything["PrimaryGroupId"]) == (name, rid, 513)
        samr.hSamrCloseHandle(dce, user)
    flags = {rid: samr.hSamrQueryInformationUser2(dce, samr.hSamrOpenUser(dce, domain, MAXIMUM_ALLOWED, rid)[
        "UserHandle"], 16)["Buffer"]["Control"]["UserAccountControl"] for rid, _ in users}
    assert flags[500] == 0x211 and flags[501] == 0x215 and flags[1000] == flags[1001] == 0x10


def test_connect_variants_and_enum4linux_password_policy() -> None:
    dce = Dce()
    for handle in (samr.hSamrConnect(dce)["ServerHandle"], samr.hSamrConnect2(dce)["ServerHandle"],
                   samr.hSamrConnect4(dce)["ServerHandle"], samr.hSamrConnect5(dce)["ServerHandle"]):
        assert len(handle) == 20 and handle != bytes(20)
    rsp = samr.hSamrConnect5(dce)
    assert (rsp["OutVersion"], rsp["OutRevisionInfo"]["V1"]["Revision"]) == (1, 3)
    # enum4linux-ng: Connect2 ... OpenDomain, QueryInformationDomain2 1 / 12 / 3
    policy = PasswordPolicy(min_length=7, history_length=24, properties=1, max_age_s=90 * 86400,
                            min_age_s=86400, lockout_threshold=5, lockout_duration_s=600,
                            lockout_window_s=300, force_logoff_s=0)
    dce = Dce(sam=directory(password_policy=policy))
    domain = dce.domain()
    pw = samr.hSamrQueryInformationDomain2(dce, domain, 1)["Buffer"]["Password"]
    assert (pw["MinPasswordLength"], pw["PasswordHistoryLength"], pw["PasswordProperties"]) == (7, 24, 1)
    age = (pw["MaxPasswordAge"]["HighPart"] << 32) | pw["MaxPasswordAge"]["LowPart"]
    assert age == -90 * 86400 * 10**7
    lockout = samr.hSamrQueryInformationDomain2(dce, domain, 12)["Buffer"]["Lockout"]
    assert (lockout["LockoutDuration"], lockout["LockoutObservationWindow"], lockout["LockoutThreshold"]) == (
        -600 * 10**7, -300 * 10**7, 5)
    logoff = samr.hSamrQueryInformationDomain2(dce, domain, 3)["Buffer"]["Logoff"]["ForceLogoff"]
    assert (logoff["HighPart"], logoff["LowPart"]) == (-(1 << 31), 0)  # 0x8000000000000000: never
    assert samr.hSamrGetDomainPasswordInformation(dce)["PasswordInformation"]["MinPasswordLength"] == 7


def test_every_domain_level() -> None:
    dce = Dce()
    domain = dce.domain()
    general = samr.hSamrQueryInformationDomain(dce, domain, 2)["Buffer"]["General"]
    assert (general["DomainName"], general["UserCount"], general["GroupCount"], general["AliasCount"]) == (
        "NULLSMB", 5, 1, 1)  # Administrator, Guest, alice, bob, carol; None; Staff
    assert (general["DomainServerState"], general["DomainServerRole"]) == (1, 3)
    tags = {1: "Password", 2: "General", 3: "Logoff", 4: "Oem", 5: "Name", 6: "Replication", 7: "Role",
            8: "Modified", 9: "State", 11: "General2", 12: "Lockout", 13: "Modified2"}
    for level, arm in tags.items():
        rsp = samr.hSamrQueryInformationDomain2(dce, domain, level)
        assert rsp["Buffer"]["tag"] == level and rsp["Buffer"][arm] is not None
    assert samr.hSamrQueryInformationDomain(dce, domain, 5)["Buffer"]["Name"]["DomainName"] == "NULLSMB"
    assert samr.hSamrQueryInformationDomain(dce, domain, 7)["Buffer"]["Role"]["DomainServerRole"] == 3
    g2 = samr.hSamrQueryInformationDomain2(dce, domain, 11)["Buffer"]["General2"]
    assert g2["I1"]["DomainName"] == "NULLSMB" and g2["LockoutDuration"] == -1800 * 10**7
    builtin = dce.domain(BUILTIN)
    general = samr.hSamrQueryInformationDomain(dce, builtin, 2)["Buffer"]["General"]
    assert (general["DomainName"], general["UserCount"], general["AliasCount"]) == ("Builtin", 0, 6)
    for level in (0, 10, 14, 0xFFFF):
        with pytest.raises(DCERPCSessionError) as exc:
            samr.hSamrQueryInformationDomain2(dce, domain, level)
        assert status_of(exc) == STATUS_INVALID_INFO_CLASS and is_null(exc.value.get_packet(), "Buffer")


def test_every_user_level_and_no_password_material() -> None:
    dce = Dce()
    user = dce.user(1000)
    for level in USER_LEVELS:
        rsp = samr.hSamrQueryInformationUser(dce, user, level)
        assert rsp["Buffer"]["tag"] == level
        assert dce.last.level == level and dce.last.returned == 1
    general = samr.hSamrQueryInformationUser(dce, user, 1)["Buffer"]["General"]
    assert (general["UserName"], general["PrimaryGroupId"]) == ("alice", 513)
    account = samr.hSamrQueryInformationUser(dce, user, 5)["Buffer"]["Account"]
    assert (account["UserName"], account["UserId"], account["UserAccountControl"]) == ("alice", 1000, 0x10)
    assert account["LogonHours"]["UnitsPerWeek"] == 168 and len(account["LogonHours"]["LogonHours"]) == 21
    everything = samr.hSamrQueryInformationUser2(dce, user, 21)["Buffer"]["All"]
    assert everything["WhichFields"] & 0x3F000000 == 0  # no password/private/descriptor bits
    assert everything["LmPasswordPresent"] == everything["NtPasswordPresent"] == 0
    for blob in ("LmOwfPassword", "NtOwfPassword"):
        assert (everything[blob]["Length"], everything[blob]["MaximumLength"]) == (0, 0)
    assert everything["SecurityDescriptor"]["Length"] == 0
    for level in (15, 18, 19, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 0):
        with pytest.raises(DCERPCSessionError) as exc:
            samr.hSamrQueryInformationUser2(dce, user, level)
        assert status_of(exc) == STATUS_INVALID_INFO_CLASS


class Recorder(Dce):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.answers: list[bytes] = []

    def stub(self, opnum: int, stub: bytes) -> bytes:
        self.answers.append(super().stub(opnum, stub))
        return self.answers[-1]


def test_no_hash_ever_leaves_whoever_asks() -> None:
    """Even an administrator's: no NT hash of any user in any answer, at any level, 18 included."""
    hashes = [nt_hash(p) for p in PASSWORDS.values()]
    for principal in (ANONYMOUS, ALICE):
        dce = Recorder(principal)
        domain = dce.domain()
        for rid in (500, 501, 1000, 1001):
            user = samr.hSamrOpenUser(dce, domain, MAXIMUM_ALLOWED, rid)["UserHandle"]
            for level in (*USER_LEVELS, 18):
                req = samr.SamrQueryInformationUser2()
                req["UserHandle"], req["UserInformationClass"] = user, level
                assert dce.answer(req)["ErrorCode"] == (STATUS_INVALID_INFO_CLASS if level == 18 else 0)
        assert len(dce.answers) > 40 and not any(h in stub for h in hashes for stub in dce.answers)


# -- rpcclient's commands ---------------------------------------------------------------------------------

def test_groups_aliases_and_memberships() -> None:
    dce = Dce()
    domain, builtin = dce.domain(), dce.domain(BUILTIN)
    assert names(samr.hSamrEnumerateGroupsInDomain(dce, domain)) == [(513, "None")]
    assert names(samr.hSamrEnumerateGroupsInDomain(dce, builtin)) == []
    assert names(samr.hSamrEnumerateAliasesInDomain(dce, domain)) == [(1003, "Staff")]
    assert [n for _, n in names(samr.hSamrEnumerateAliasesInDomain(dce, builtin))] == [
        "Administrators", "Users", "Guests", "Power Users", "Backup Operators", "Remote Desktop Users"]
    assert dce.last.returned == 6
    # queryaliasmem builtin 544
    alias = samr.hSamrOpenAlias(dce, builtin, MAXIMUM_ALLOWED, 544)["AliasHandle"]
    members = samr.hSamrGetMembersInAlias(dce, alias)["Members"]
    assert [m["SidPointer"].formatCanonical() for m in members["Sids"]] == [
        f"{MACHINE_SID}-500", f"{MACHINE_SID}-1000"]
    info = samr.hSamrQueryInformationAlias(dce, alias, 1)["Buffer"]["General"]
    assert (info["Name"], info["MemberCount"]) == ("Administrators", 2)
    # queryusergroups 1000
    user = samr.hSamrOpenUser(dce, domain, MAXIMUM_ALLOWED, 1000)["UserHandle"]
    groups = samr.hSamrGetGroupsForUser(dce, user)["Groups"]
    assert [(g["RelativeId"], g["Attributes"]) for g in groups["Groups"]] == [(513, 7)]
    # queryuseraliases builtin|domain <sid>
    alice = MACHINE_SID.child(1000)
    assert alias_membership(dce, builtin, alice) == [544, 545] and dce.last.returned == 2
    assert alias_membership(dce, domain, alice) == [1003]
    assert alias_membership(dce, builtin, MACHINE_SID.child(1001), MACHINE_SID.child(500)) == [544, 545]
    assert alias_membership(dce, builtin, MACHINE_SID.child(1002)) == [545]  # carol: Users only
    assert alias_membership(dce, domain) == [] and dce.last.returned == 0
    # rpcclient's queryuseraliases stub as it sends it to Samba (one SID, by pointer), with our SID
    rpcclient = builtin + H("01000000" "00000200" "01000000" "04000200" "05000000" "010500000000000515000000"
                            "57040000" "ae080000" "050d0000" "e8030000")
    assert samr.SamrGetAliasMembershipResponse(dce.stub(16, rpcclient))["Membership"]["Count"] == 2
    # querygroup / querygroupmem 513
    group = samr.hSamrOpenGroup(dce, domain, MAXIMUM_ALLOWED, 513)["GroupHandle"]
    general = samr.hSamrQueryInformationGroup(dce, group, 1)["Buffer"]["General"]
    assert (general["Name"], general["Attributes"], general["MemberCount"]) == ("None", 7, 5)
    members = samr.hSamrGetMembersInGroup(dce, group)["Members"]
    assert [m["Data"] for m in members["Members"]] == [500, 501, 1000, 1001, 1002]
    assert [a["Data"] for a in members["Attributes"]] == [7] * 5
    for level in (2, 3, 4, 5):
        assert samr.hSamrQueryInformationGroup(dce, group, level)["Buffer"]["tag"] == level
    with pytest.raises(DCERPCSessionError) as exc:
        samr.hSamrQueryInformationAlias(dce, alias, 4)
    assert status_of(exc) == STATUS_INVALID_INFO_CLASS


def test_lookups_and_their_statuses() -> None:
    dce = Dce()
    domain, builtin = dce.domain(), dce.domain(BUILTIN)
    rsp = samr.hSamrLookupNamesInDomain(dce, domain, ["ALICE", "None", "Staff"])
    assert ulongs(rsp["RelativeIds"]) == [1000, 513, 1003] and ulongs(rsp["Use"]) == [1, 2, 4]
    assert dce.last.returned == 3
    assert ulongs(samr.hSamrLookupNamesInDomain(dce, builtin, ["administrators"])["RelativeIds"]) == [544]
    with pytest.raises(DCERPCSessionError) as exc:
        samr.hSamrLookupNamesInDomain(dce, domain, ["alice", "nobody"])
    assert status_of(exc) == STATUS_SOME_NOT_MAPPED
    assert ulongs(exc.value.get_packet()["RelativeIds"]) == [1000, 0]
    assert ulongs(exc.value.get_packet()["Use"]) == [1, 8]
    with pytest.raises(DCERPCSessionError) as exc:
        samr.hSamrLookupNamesInDomain(dce, builtin, ["alice"])  # alice is not a Builtin account
    assert status_of(exc) == STATUS_NONE_MAPPED and dce.last.returned == 0
    assert samr.hSamrLookupNamesInDomain(dce, domain, [])["RelativeIds"]["Count"] == 0
    rsp = samr.hSamrLookupIdsInDomain(dce, domain, [1000, 500, 513])
    assert [n["Data"] for n in rsp["Names"]["Element"]] == ["alice", "Administrator", "None"]
    assert ulongs(rsp["Use"]) == [1, 1, 2]
    with pytest.raises(DCERPCSessionError) as exc:
        samr.hSamrLookupIdsInDomain(dce, domain, [1000, 77])
    assert status_of(exc) == STATUS_SOME_NOT_MAPPED and ulongs(exc.value.get_packet()["Use"]) == [1, 8]
    unmapped = exc.value.get_packet()["Names"]["Element"][1]
    assert (unmapped["Length"], unmapped.fields["Data"].fields["ReferentID"]) == (0, 0)  # a NULL name
    with pytest.raises(DCERPCSessionError) as exc:
        samr.hSamrLookupIdsInDomain(dce, domain, [77])
    assert status_of(exc) == STATUS_NONE_MAPPED


def test_lookup_ranges_are_the_idls() -> None:
    dce = Dce()
    domain = dce.domain()
    req = samr.SamrLookupIdsInDomain()
    req["DomainHandle"], req["Count"] = domain, 1000
    for rid in range(1000):
        entry = samr.ULONG()
        entry["Data"] = rid
        req["RelativeIds"].append(entry)
    req.fields["RelativeIds"].fields["MaximumCount"] = 1000
    rsp = dce.answer(req)
    assert rsp["ErrorCode"] == STATUS_SOME_NOT_MAPPED and len(ulongs(rsp["Use"])) == 1000
    assert dce.last.returned == 3  # 500, 501 and 513
    stub = lookup_ids_stub(domain, 1001, 1001)
    with pytest.raises(Fault) as exc:
        dce.stub(18, stub)
    assert exc.value.status == FaultStatus.NCA_S_FAULT_INVALID_BOUND
    with pytest.raises(Fault) as exc:  # Count 2, length_is 3: inconsistent
        dce.stub(18, lookup_ids_stub(domain, 2, 3))
    assert exc.value.status == FaultStatus.NCA_S_FAULT_NDR
    with pytest.raises(Fault) as exc:  # a conformance above [size_is(1000)]
        dce.stub(18, domain + struct.pack("<IIII", 1, 0x7FFFFFFF, 0, 1) + bytes(4))
    assert exc.value.status == FaultStatus.NCA_S_FAULT_NDR
    with pytest.raises(Fault) as exc:  # GetAliasMembership: [range(0,1024)]
        dce.stub(16, domain + struct.pack("<II", 1025, 0x20000) + struct.pack("<I", 1025) + bytes(4 * 1025))
    assert exc.value.status == FaultStatus.NCA_S_FAULT_INVALID_BOUND


def lookup_ids_stub(handle: bytes, count: int, actual: int) -> bytes:
    return handle + struct.pack("<IIII", count, 1000, 0, actual) + b"".join(
        struct.pack("<I", 1000 + i) for i in range(actual))


# -- paging ------------------------------------------------------------------------------------------------

def test_enumeration_pages_with_more_entries() -> None:
    dce = Dce()
    domain = dce.domain()
    seen, context, pages = [], 0, 0
    while True:
        req = samr.SamrEnumerateUsersInDomain()
        req["DomainHandle"], req["EnumerationContext"] = domain, context
        req["UserAccountControl"], req["PreferedMaximumLength"] = 0, 30
        rsp = dce.answer(req)
        pages += 1
        seen += names(rsp)
        context = rsp["EnumerationContext"]
        if rsp["ErrorCode"] != STATUS_MORE_ENTRIES:
            assert rsp["ErrorCode"] == 0
            break
        assert rsp["CountReturned"] >= 1
    assert [rid for rid, _ in seen] == [500, 501, 1000, 1001, 1002] and pages > 1
    # a context past the end: an empty, successful page
    rsp = samr.hSamrEnumerateUsersInDomain(dce, domain, enumerationContext=99)
    assert rsp["CountReturned"] == 0 and rsp["Buffer"]["EntriesRead"] == 0
    # the account-control filter (rpcclient asks for ACB_NORMAL, everything here is normal)
    assert len(names(samr.hSamrEnumerateUsersInDomain(dce, domain, userAccountControl=0x10))) == 5
    assert names(samr.hSamrEnumerateUsersInDomain(dce, domain, userAccountControl=0x80)) == []


def test_display_information_index_and_counts() -> None:
    dce = Dce()
    domain = dce.domain()
    full = samr.hSamrQueryDisplayInformation3(dce, domain, 1)
    users = full["Buffer"]["UserInformation"]["Buffer"]
    assert [u["AccountName"] for u in users] == ["Administrator", "alice", "bob", "carol", "Guest"]
    assert [u["Index"] for u in users] == [1, 2, 3, 4, 5]
    assert full["TotalAvailable"] == full["TotalReturned"] > 0
    # two at a time, from index 1
    req = samr.SamrQueryDisplayInformation2()
    req["DomainHandle"], req["DisplayInformationClass"] = domain, 1
    req["Index"], req["EntryCount"], req["PreferredMaximumLength"] = 1, 2, 0xFFFF
    rsp = dce.answer(req)
    assert rsp["ErrorCode"] == STATUS_MORE_ENTRIES and dce.last.returned == 2
    assert [(u["Index"], u["AccountName"]) for u in rsp["Buffer"]["UserInformation"]["Buffer"]] == [
        (2, "alice"), (3, "bob")]
    assert rsp["TotalAvailable"] == full["TotalAvailable"] > rsp["TotalReturned"]
    # a byte limit of 1 still returns one entry; the last page is STATUS_SUCCESS
    req["Index"], req["EntryCount"], req["PreferredMaximumLength"] = 4, 10, 1
    rsp = dce.answer(req)
    assert rsp["ErrorCode"] == 0 and [u["AccountName"] for u in rsp["Buffer"]["UserInformation"]["Buffer"]] == ["Guest"]
    req["Index"] = 50
    assert dce.answer(req)["Buffer"]["UserInformation"]["EntriesRead"] == 0
    # machines (none), groups, OEM users and groups
    assert samr.hSamrQueryDisplayInformation(dce, domain, 2)["Buffer"]["MachineInformation"]["EntriesRead"] == 0
    groups = samr.hSamrQueryDisplayInformation(dce, domain, 3)["Buffer"]["GroupInformation"]["Buffer"]
    assert [(g["Rid"], g["AccountName"], g["AccountControl"]) for g in groups] == [(513, "None", 7)]
    oem = samr.hSamrQueryDisplayInformation(dce, domain, 4)["Buffer"]["OemUserInformation"]["Buffer"]
    assert [u["OemAccountName"] for u in oem] == ["Administrator", "alice", "bob", "carol", "Guest"]
    oem = samr.hSamrQueryDisplayInformation(dce, domain, 5)["Buffer"]["OemGroupInformation"]["Buffer"]
    assert [g["OemAccountName"] for g in oem] == ["None"]
    assert samr.hSamrQueryDisplayInformation(dce, dce.domain(BUILTIN), 1)["Buffer"]["UserInformation"][
        "EntriesRead"] == 0
    with pytest.raises(Fault) as exc:  # a class the [ref] union has no arm for
        dce.stub(40, domain + H("0600" "0000") + struct.pack("<III", 0, 10, 0xFFFF))
    assert exc.value.status == FaultStatus.RPC_S_INVALID_TAG


# -- handles and access ----------------------------------------------------------------------------------------

def test_wrong_closed_and_foreign_handles_are_invalid() -> None:
    dce = Dce()
    server = dce.connect()
    domain = samr.hSamrOpenDomain(dce, server, MAXIMUM_ALLOWED, rpc_sid(MACHINE_SID))["DomainHandle"]
    user = samr.hSamrOpenUser(dce, domain, MAXIMUM_ALLOWED, 1000)["UserHandle"]
    cases = [
        lambda: samr.hSamrEnumerateUsersInDomain(dce, server),
        lambda: samr.hSamrEnumerateDomainsInSamServer(dce, domain),
        lambda: samr.hSamrQueryInformationUser2(dce, domain, 21),
        lambda: samr.hSamrQueryInformationDomain2(dce, user, 1),
        lambda: samr.hSamrOpenUser(dce, user, MAXIMUM_ALLOWED, 1000),
        lambda: samr.hSamrGetGroupsForUser(dce, domain),
        lambda: samr.hSamrGetMembersInAlias(dce, user),
        lambda: samr.hSamrQueryDisplayInformation(dce, server, 1),
        lambda: samr.hSamrLookupNamesInDomain(dce, bytes(20), ["alice"]),
        lambda: samr.hSamrOpenDomain(dce, b"\x00" * 4 + b"\x01" * 16, MAXIMUM_ALLOWED, rpc_sid(MACHINE_SID)),
    ]
    for case in cases:
        with pytest.raises(DCERPCSessionError) as exc:
            case()
        assert status_of(exc) == STATUS_INVALID_HANDLE
    # another interface's handle on the same pipe (lsarpc shares the lsass endpoint)
    foreign = dce.pipe.new_handle(object())
    with pytest.raises(DCERPCSessionError) as exc:
        samr.hSamrCloseHandle(dce, foreign)
    assert status_of(exc) == STATUS_INVALID_HANDLE
    assert exc.value.get_packet()["SamHandle"] == foreign  # [in, out]: given back unchanged
    # closed handles
    assert samr.hSamrCloseHandle(dce, user)["SamHandle"] == bytes(20)
    for case in (lambda: samr.hSamrQueryInformationUser2(dce, user, 21), lambda: samr.hSamrCloseHandle(dce, user)):
        with pytest.raises(DCERPCSessionError) as exc:
            case()
        assert status_of(exc) == STATUS_INVALID_HANDLE
    # closing the server handle leaves the domain handle usable (MS-SAMR 3.1.5.13.1)
    samr.hSamrCloseHandle(dce, server)
    assert samr.hSamrEnumerateUsersInDomain(dce, domain)["CountReturned"] == 5


def test_unknown_accounts_and_domains() -> None:
    dce = Dce()
    server = dce.connect()
    domain, builtin = dce.domain(), dce.domain(BUILTIN)
    for opener, status in ((samr.hSamrOpenUser, STATUS_NO_SUCH_USER), (samr.hSamrOpenGroup, STATUS_NO_SUCH_GROUP),
                           (samr.hSamrOpenAlias, STATUS_NO_SUCH_ALIAS)):
        with pytest.raises(DCERPCSessionError) as exc:
            opener(dce, domain, MAXIMUM_ALLOWED, 4242)
        assert status_of(exc) == status
        assert exc.value.get_packet().fields  # decodes, with a zero handle
    with pytest.raises(DCERPCSessionError) as exc:  # a group is not a user
        samr.hSamrOpenUser(dce, domain, MAXIMUM_ALLOWED, 513)
    assert status_of(exc) == STATUS_NO_SUCH_USER
    with pytest.raises(DCERPCSessionError) as exc:  # 1000 is not in Builtin
        samr.hSamrOpenUser(dce, builtin, MAXIMUM_ALLOWED, 1000)
    assert status_of(exc) == STATUS_NO_SUCH_USER
    with pytest.raises(DCERPCSessionError) as exc:
        samr.hSamrLookupDomainInSamServer(dce, server, "ELSEWHERE")
    assert status_of(exc) == STATUS_NO_SUCH_DOMAIN
    assert exc.value.get_packet().fields["DomainId"].fields["ReferentID"] == 0  # a NULL pointer
    with pytest.raises(DCERPCSessionError) as exc:
        samr.hSamrOpenDomain(dce, server, MAXIMUM_ALLOWED, rpc_sid(Sid.parse("S-1-5-21-9-9-9")))
    assert status_of(exc) == STATUS_NO_SUCH_DOMAIN
    assert exc.value.get_packet()["DomainHandle"] == bytes(20)


def test_access_granted_at_open() -> None:
    for principal, admin in ((ANONYMOUS, False), (BOB, False), (ALICE, True)):
        dce = Dce(principal)
        server = dce.connect()
        granted = dce.pipe.handles[server].granted
        assert granted == (0xF003F if admin else 0x20031)
        domain = dce.domain()
        assert dce.pipe.handles[domain].granted == (DOMAIN.all if admin else DOMAIN.everyone)
        # a write right: refused to non-administrators at open
        req = samr.SamrOpenUser()
        req["DomainHandle"], req["DesiredAccess"], req["UserId"] = domain, USER.all, 1000
        rsp = dce.answer(req)
        assert rsp["ErrorCode"] == (0 if admin else STATUS_ACCESS_DENIED)
        assert (rsp["UserHandle"] == bytes(20)) is not admin
    # generic rights are mapped; no access asked means none granted, and calls need it
    dce = Dce()
    read_domain = dce.domain(access=0x80000000)  # GENERIC_READ: DOMAIN_READ, no LIST_ACCOUNTS
    assert dce.pipe.handles[read_domain].granted == DOMAIN.read
    with pytest.raises(DCERPCSessionError) as exc:
        samr.hSamrEnumerateUsersInDomain(dce, read_domain)
    assert status_of(exc) == STATUS_ACCESS_DENIED
    empty = dce.domain(access=0)
    assert dce.pipe.handles[empty].granted == 0
    for case in (lambda: samr.hSamrQueryInformationDomain2(dce, empty, 1),
                 lambda: samr.hSamrLookupNamesInDomain(dce, empty, ["alice"]),
                 lambda: samr.hSamrOpenUser(dce, empty, MAXIMUM_ALLOWED, 1000)):
        with pytest.raises(DCERPCSessionError) as exc:
            case()
        assert status_of(exc) == STATUS_ACCESS_DENIED
    user = samr.hSamrOpenUser(dce, dce.domain(), 0x1, 1000)["UserHandle"]  # USER_READ_GENERAL only
    assert samr.hSamrQueryInformationUser(dce, user, 1)["Buffer"]["General"]["UserName"] == "alice"
    with pytest.raises(DCERPCSessionError) as exc:
        samr.hSamrQueryInformationUser(dce, user, 21)
    assert status_of(exc) == STATUS_ACCESS_DENIED
    with pytest.raises(DCERPCSessionError) as exc:  # ACCESS_SYSTEM_SECURITY
        samr.hSamrConnect(dce, desiredAccess=0x01000000)
    assert status_of(exc) == STATUS_ACCESS_DENIED


def test_handles_are_bounded_per_pipe() -> None:
    dce = Dce()
    dce.pipe.max_handles = 3
    for _ in range(3):
        dce.connect()
    with pytest.raises(Fault):
        dce.connect()
    assert dce.pipe.state.value == "bound"


# -- the policy table's denials ---------------------------------------------------------------------------------

def every_request(handle: bytes = b"\x00" * 4 + b"\x55" * 16) -> dict[int, Any]:
    """A valid request for every opnum served (any handle: a denial comes before it is read)."""
    def make(cls: type, **fields: Any) -> Any:
        req = cls()
        for k, v in fields.items():
            req[k] = v
        return req

    connect5 = make(samr.SamrConnect5, ServerName="\\\\srv\x00", DesiredAccess=MAXIMUM_ALLOWED, InVersion=1)
    connect5["InRevisionInfo"]["tag"] = 1
    connect5["InRevisionInfo"]["V1"]["Revision"] = 3
    names_req = make(samr.SamrLookupNamesInDomain, DomainHandle=handle, Count=1)
    entry = samr.RPC_UNICODE_STRING()
    entry["Data"] = "alice"
    names_req["Names"].append(entry)
    names_req.fields["Names"].fields["MaximumCount"] = 1000
    ids_req = make(samr.SamrLookupIdsInDomain, DomainHandle=handle, Count=1)
    rid = samr.ULONG()
    rid["Data"] = 1000
    ids_req["RelativeIds"].append(rid)
    ids_req.fields["RelativeIds"].fields["MaximumCount"] = 1000
    membership = SamrGetAliasMembership(handle, (MACHINE_SID.child(1000),))
    display = dict(DomainHandle=handle, DisplayInformationClass=1, Index=0, EntryCount=10,
                   PreferredMaximumLength=0xFFFF)
    return {
        0: make(samr.SamrConnect, ServerName="\x00", DesiredAccess=MAXIMUM_ALLOWED),
        1: make(samr.SamrCloseHandle, SamHandle=handle),
        5: make(samr.SamrLookupDomainInSamServer, ServerHandle=handle, Name="NULLSMB"),
        6: make(samr.SamrEnumerateDomainsInSamServer, ServerHandle=handle, EnumerationContext=0,
                PreferedMaximumLength=0xFFFF),
        7: make(samr.SamrOpenDomain, ServerHandle=handle, DesiredAccess=MAXIMUM_ALLOWED, DomainId=rpc_sid(MACHINE_SID)),
        8: make(samr.SamrQueryInformationDomain, DomainHandle=handle, DomainInformationClass=1),
        11: make(samr.SamrEnumerateGroupsInDomain, DomainHandle=handle, EnumerationContext=0,
                 PreferedMaximumLength=0xFFFF),
        13: make(samr.SamrEnumerateUsersInDomain, DomainHandle=handle, EnumerationContext=0, UserAccountControl=0,
                 PreferedMaximumLength=0xFFFF),
        15: make(samr.SamrEnumerateAliasesInDomain, DomainHandle=handle, EnumerationContext=0,
                 PreferedMaximumLength=0xFFFF),
        16: membership,
        17: names_req,
        18: ids_req,
        19: make(samr.SamrOpenGroup, DomainHandle=handle, DesiredAccess=MAXIMUM_ALLOWED, GroupId=513),
        20: make(samr.SamrQueryInformationGroup, GroupHandle=handle, GroupInformationClass=1),
        25: make(samr.SamrGetMembersInGroup, GroupHandle=handle),
        27: make(samr.SamrOpenAlias, DomainHandle=handle, DesiredAccess=MAXIMUM_ALLOWED, AliasId=544),
        28: make(samr.SamrQueryInformationAlias, AliasHandle=handle, AliasInformationClass=1),
        33: make(samr.SamrGetMembersInAlias, AliasHandle=handle),
        34: make(samr.SamrOpenUser, DomainHandle=handle, DesiredAccess=MAXIMUM_ALLOWED, UserId=1000),
        36: make(samr.SamrQueryInformationUser, UserHandle=handle, UserInformationClass=21),
        39: make(samr.SamrGetGroupsForUser, UserHandle=handle),
        40: make(samr.SamrQueryDisplayInformation, **display),
        46: make(samr.SamrQueryInformationDomain2, DomainHandle=handle, DomainInformationClass=1),
        47: make(samr.SamrQueryInformationUser2, UserHandle=handle, UserInformationClass=21),
        48: make(samr.SamrQueryDisplayInformation2, **display),
        51: make(samr.SamrQueryDisplayInformation3, **display),
        56: make(samr.SamrGetDomainPasswordInformation, Unused=NULL),
        57: make(samr.SamrConnect2, ServerName="\\\\srv\x00", DesiredAccess=MAXIMUM_ALLOWED),
        62: make(samr.SamrConnect4, ServerName="\\\\srv\x00", ClientRevision=3, DesiredAccess=MAXIMUM_ALLOWED),
        64: connect5,
    }


def test_every_operation_is_served_and_has_a_policy_row() -> None:
    from nullsmb.policy.rpc_rules import find_operation
    assert sorted(samr_iface.OPERATIONS) == sorted(every_request())
    for opnum, op in samr_iface.OPERATIONS.items():
        assert find_operation("samr", op.name) is not None, op.name
        assert type(every_request()[opnum]).__name__ == op.name, opnum


def zeroed(value: Any) -> bool:
    """Every field NULL, zero, empty (a denial's out parameters), recursively."""
    if value is None or value in (0, b"", "", bytes(20)):
        return True
    if isinstance(value, (list, tuple)):
        return all(zeroed(v) for v in value)
    fields = getattr(value, "fields", None)
    if isinstance(fields, dict):
        if fields.get("ReferentID", 1) == 0:
            return True
        return all(zeroed(v) for k, v in fields.items() if k not in ("tag", "ErrorCode", "ReferentID"))
    return False


@pytest.mark.parametrize("policy", [DEFAULT, PolicySettings(RestrictAnonymous=1, RestrictAnonymousSAM=0),
                                    PolicySettings(RestrictAnonymous=2, RestrictAnonymousSAM=0),
                                    PolicySettings(RestrictAnonymousSAM=0, NullSessionOperations=("srvsvc:NetrShareEnum",))],
                         ids=["RestrictAnonymousSAM=1", "RestrictAnonymous=1", "RestrictAnonymous=2",
                              "NullSessionOperations"])
def test_denials_are_well_formed_access_denied(policy: Any) -> None:
    dce = Dce(ANONYMOUS, policy)
    for opnum, req in every_request().items():
        if opnum == 1:
            continue  # a handle close is never refused (rpc_rules rule 3); its denial form below
        rsp = dce.answer(req)
        name = type(req).__name__
        assert rsp["ErrorCode"] == STATUS_ACCESS_DENIED, name
        call_ctx, status = dce.events[-1]
        assert status == STATUS_ACCESS_DENIED and call_ctx.decision is not None and not call_ctx.decision.allowed
        assert not call_ctx.returned
        outs = {k: v for k, v in rsp.fields.items() if k != "ErrorCode"}
        if opnum in (40, 48, 51):  # the [ref] union keeps its discriminant
            assert rsp["Buffer"]["tag"] == 1
        if opnum == 64:
            assert (rsp["OutVersion"], rsp["ServerHandle"]) == (1, bytes(20))
            continue
        assert zeroed(list(outs.values())), (name, rsp.dump())
    assert dce.pipe.handles == {}
    close = samr_iface.OPERATIONS[1]
    handle = b"\x00" * 4 + b"\x07" * 16
    assert close.deny(dce.last, NdrReader(handle), STATUS_ACCESS_DENIED) == handle + struct.pack("<I", STATUS_ACCESS_DENIED)


def test_users_are_not_subject_to_the_null_session_rules() -> None:
    for principal in (BOB, ALICE):
        dce = Dce(principal, DEFAULT)
        assert names(samr.hSamrEnumerateUsersInDomain(dce, dce.domain()))[2] == (1000, "alice")
        assert dce.last.decision.rule == "authenticated"


def test_a_reload_applies_to_handles_already_open() -> None:
    dce = Dce()
    domain = dce.domain()
    dce.server.policy = DEFAULT
    with pytest.raises(DCERPCSessionError) as exc:
        samr.hSamrEnumerateUsersInDomain(dce, domain)
    assert status_of(exc) == STATUS_ACCESS_DENIED
    assert dce.last.decision.rule == "RestrictAnonymousSAM"
    samr.hSamrCloseHandle(dce, domain)  # closes still work


def test_audit_counts_what_was_disclosed() -> None:
    dce = Dce()
    domain = dce.domain()
    samr.hSamrEnumerateAliasesInDomain(dce, dce.domain(BUILTIN))
    assert (dce.last.returned, dce.events[-1][1]) == (6, 0)
    samr.hSamrQueryDisplayInformation(dce, domain, 1)
    assert dce.last.returned == 5 and dce.last.level == 1
    with pytest.raises(DCERPCSessionError):
        samr.hSamrOpenUser(dce, domain, MAXIMUM_ALLOWED, 4242)
    assert dce.events[-1][1] == STATUS_NO_SUCH_USER and dce.last.returned is None


# -- malformed stubs ------------------------------------------------------------------------------------------

OPS = {**SERVER_OPS, **DOMAIN_OPS, **ACCOUNT_OPS}

def valid_stubs(dce: Dce) -> dict[int, bytes]:
    """Real handles of the right kinds, so the full stub is meaningful to each operation."""
    server = dce.connect()
    domain = samr.hSamrOpenDomain(dce, server, MAXIMUM_ALLOWED, rpc_sid(MACHINE_SID))["DomainHandle"]
    user = samr.hSamrOpenUser(dce, domain, MAXIMUM_ALLOWED, 1000)["UserHandle"]
    group = samr.hSamrOpenGroup(dce, domain, MAXIMUM_ALLOWED, 513)["GroupHandle"]
    alias = samr.hSamrOpenAlias(dce, dce.domain(BUILTIN), MAXIMUM_ALLOWED, 544)["AliasHandle"]
    kinds = {5: server, 6: server, 7: server, 19: domain, 27: domain, 34: domain, 20: group, 25: group,
             28: alias, 33: alias, 36: user, 39: user, 47: user, 1: server}
    return {opnum: req.getData() for opnum, req in every_request(domain).items() if opnum not in kinds} | {
        opnum: every_request(handle)[opnum].getData() for opnum, handle in kinds.items()}


def test_every_request_is_read_exactly() -> None:
    """Each operation's parser consumes a whole valid stub: so every strict prefix must fault."""
    dce = Dce()
    for opnum, stub in valid_stubs(dce).items():
        assert consumed(OPS[opnum], stub) >= len(stub) - 4, opnum  # impacket pads some stubs to 8


def consumed(op: Any, stub: bytes) -> int:
    r = NdrReader(stub)
    op.parse(r)
    return r.offset


def test_truncated_stubs_fault_and_the_pipe_goes_on() -> None:
    dce = Dce()
    for opnum, stub in valid_stubs(dce).items():
        for cut in range(consumed(OPS[opnum], stub)):
            header, body = dce.raw(opnum, stub[:cut])
            assert header.ptype == PType.FAULT, (opnum, cut)
            assert body.status in (FaultStatus.NCA_S_FAULT_NDR, FaultStatus.NCA_S_FAULT_INVALID_BOUND,
                                   FaultStatus.RPC_S_INVALID_TAG), (opnum, cut, hex(body.status))
        assert dce.raw(opnum, stub)[0].ptype == PType.RESPONSE
    assert samr.hSamrConnect5(dce)["ErrorCode"] == 0


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_stubs_answer_or_fault(data: st.DataObject) -> None:
    dce, stubs = fuzz_target()
    opnum = data.draw(st.sampled_from(sorted(stubs)))
    stub = bytearray(stubs[opnum])
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(stub) - 1))
        stub[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        stub += data.draw(st.binary(max_size=64))
    header, _body = dce.raw(opnum, bytes(stub))
    assert header.ptype in (PType.RESPONSE, PType.FAULT)
    samr.hSamrCloseHandle(dce, samr.hSamrConnect(dce)["ServerHandle"])  # the pipe goes on


_FUZZ: list[tuple[Dce, dict[int, bytes]]] = []


def fuzz_target() -> tuple[Dce, dict[int, bytes]]:
    """One administrator's pipe and valid stubs for every operation, shared by the examples."""
    if not _FUZZ:
        dce = Dce(ALICE)
        _FUZZ.append((dce, valid_stubs(dce)))
    return _FUZZ[0]


@settings(max_examples=200, deadline=None)
@given(opnum=st.sampled_from(sorted(samr_iface.OPERATIONS)), stub=st.binary(max_size=300))
def test_any_bytes_answer_or_fault(opnum: int, stub: bytes) -> None:
    dce = Dce()
    header, _body = dce.raw(opnum, stub)
    assert header.ptype in (PType.RESPONSE, PType.FAULT)


def test_connect5_revision_union() -> None:
    dce = Dce()
    base = CONNECT5_REQ[:-16]
    with pytest.raises(Fault) as exc:  # InVersion 2: no such arm
        dce.stub(64, base + struct.pack("<IIII", 2, 2, 3, 0))
    assert exc.value.status == FaultStatus.RPC_S_INVALID_TAG
    with pytest.raises(Fault) as exc:  # InVersion and the discriminant disagree
        dce.stub(64, base + struct.pack("<IIII", 1, 2, 3, 0))
    assert exc.value.status == FaultStatus.NCA_S_FAULT_NDR
