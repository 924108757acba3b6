"""lsarpc (rpc/interfaces/lsarpc.py, _lsa_lookup.py, _lsa_ndr.py) driven through an RpcPipe, with
impacket's LSAD/LSAT request and response classes as the independent client codec, the real
request stubs of rpcclient against Samba (shared/captures), every denial path, and malformed
stubs, which must come back as faults, never as exceptions."""

from __future__ import annotations

import random
import struct
import sys
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impacket.dcerpc.v5 import lsad, lsat
from impacket.dcerpc.v5.dtypes import MAXIMUM_ALLOWED, NULL

from rpc_fixtures import DeterministicRandom, bind, call
from nullsmb.config import PolicySettings
from nullsmb.policy.model import Principal, PrincipalKind
from nullsmb.rpc import RpcPipe
from nullsmb.rpc.directory import Directory
from nullsmb.rpc.interfaces import lsarpc
from nullsmb.rpc.ndr import NULL_HANDLE, NdrReader, NdrWriter, Sid
from nullsmb.rpc.pdu import FaultStatus, PType
from nullsmb.rpc.service import policy_check

MACHINE_SID = "S-1-5-21-1111-2222-3333"
OPEN_POLICY = {  # everything a null session may do on lsarpc
    "NullSessionPipes": ("lsarpc",), "TurnOffAnonymousBlock": 1, "LSAAnonymousNameLookup": 1,
    "EveryoneIncludesAnonymous": 1,
}
SUCCESS, SOME_NOT_MAPPED, NONE_MAPPED = 0, 0x00000107, 0xC0000073
ACCESS_DENIED, INVALID_HANDLE, INVALID_PARAMETER = 0xC0000022, 0xC0000008, 0xC000000D
MORE_ENTRIES, NO_MORE_ENTRIES = 0x00000105, 0x8000001A
USER, GROUP, DOMAIN, ALIAS, WKN, UNKNOWN = 1, 2, 3, 4, 5, 8


# -- a server, a pipe and an impacket-speaking client --------------------------------------------------

def make_directory(machine_sid: str = MACHINE_SID, name: str = "NULLSMB") -> Directory:
    return Directory(machine_sid=Sid.parse(machine_sid), domain_name=name,
                     users=[("alice", ["Administrators"]), ("bob", ["Backup Operators", "Staff"])],
                     rids={"alice": 1000, "bob": 1001, "staff": 1002})


class Faulted(Exception):
    def __init__(self, status: int, did_not_execute: bool) -> None:
        super().__init__(f"fault 0x{status:08x}")
        self.status, self.did_not_execute = status, did_not_execute


@dataclass
class Client:
    """The part of impacket's DCERPC_v5 its h* helpers use (``request``), over our pipe."""

    pipe: RpcPipe
    calls: list[Any] = field(default_factory=list)  # (op name, status, returned, level, rule)
    call_id: int = 2

    def raw(self, opnum: int, stub: bytes) -> tuple[Any, Any]:
        self.call_id += 1
        return call(self.pipe, opnum, stub, context_id=0, call_id=self.call_id)

    def request(self, req: Any, *args: Any, **kw: Any) -> Any:
        """impacket's request object (or one of ours with ``parse``) → the parsed response."""
        header, body = self.raw(req.opnum, req.getData())
        if header.ptype == PType.FAULT:
            raise Faulted(body.status, bool(header.flags & 0x20))
        parse = getattr(req, "parse", None)
        if parse is not None:
            return parse(body.stub)
        module = sys.modules[type(req).__module__]
        return getattr(module, type(req).__name__ + "Response")(body.stub)

    @property
    def last(self) -> Any:
        return self.calls[-1]


def lsa_client(kind: PrincipalKind = PrincipalKind.ANONYMOUS, name: str = "", groups: tuple[str, ...] = (),
               directory: Directory | None = None, workgroup: str = "WORKGROUP", **policy: Any) -> Client:
    settings_ = PolicySettings(**{**OPEN_POLICY, **policy})
    server = SimpleNamespace(random_bytes=DeterministicRandom(7), directory=directory or make_directory(),
                             policy=settings_,
                             config=SimpleNamespace(server=SimpleNamespace(workgroup=workgroup)))
    ctx = SimpleNamespace(session=SimpleNamespace(principal=Principal(kind, name, groups)), server=server)
    client: Client

    def on_call(c: Any, status: int) -> None:
        client.calls.append((c.operation.name if c.operation else None, status, c.returned, c.level,
                             c.decision.rule if c.decision else None))

    pipe = RpcPipe("lsarpc", ctx, (lsarpc.INTERFACE,), policy_check=policy_check, on_call=on_call)
    client = Client(pipe)
    bind(pipe, lsarpc.INTERFACE.syntax)
    return client


def alice(**policy: Any) -> Client:
    return lsa_client(PrincipalKind.USER, "alice", ("Administrators",), **policy)


def bob(**policy: Any) -> Client:
    return lsa_client(PrincipalKind.USER, "bob", ("Backup Operators", "Staff"), **policy)


def open2(client: Client, access: int = MAXIMUM_ALLOWED | lsat.POLICY_LOOKUP_NAMES) -> bytes:
    resp = lsad.hLsarOpenPolicy2(client, access)
    assert resp["ErrorCode"] == SUCCESS
    return resp["PolicyHandle"]


def granted(client: Client, handle: bytes) -> int:
    return client.pipe.handles[bytes(handle)].granted


def names_of(resp: Any) -> list[tuple[int, str, int]]:
    return [(n["Use"], n["Name"], n["DomainIndex"]) for n in resp["TranslatedNames"]["Names"]]


def domains_of(resp: Any) -> list[tuple[str, str]]:
    if null(resp["ReferencedDomains"]) or null(resp["ReferencedDomains"]["Domains"]):
        return []
    return [(d["Name"], d["Sid"].formatCanonical()) for d in resp["ReferencedDomains"]["Domains"]]


def sids_of(resp: Any) -> list[tuple[int, Any, int]]:
    out = []
    for s in resp["TranslatedSids"]["Sids"]:
        if "Sid" in s.fields:
            out.append((s["Use"], None if null(s["Sid"]) else s["Sid"].formatCanonical(), s["DomainIndex"]))
        else:
            out.append((s["Use"], s["RelativeId"], s["DomainIndex"]))
    return out


def null(value: Any) -> bool:
    """A NULL pointer as impacket parses one (b"")."""
    return isinstance(value, bytes) and value == b""


def stub_status(stub: bytes) -> int:
    return int(struct.unpack_from("<I", stub, len(stub) - 4)[0])


# -- golden stubs: rpcclient -U% -N against Samba 4.17 (rpcclient-null-srvinfo-shares-users-lsa) ------

SAMBA_HANDLE = bytes.fromhex("010000004739452bfcfa424ead8baa4664d6718d")
OPEN_POLICY_MAX = bytes.fromhex(  # frame 78: lsa_OpenPolicy, SystemName '\', QoS, MAXIMUM_ALLOWED
    "000002005c0000001800000000000000000000000000000000000000040002000c0000000200010000000002")
OPEN_POLICY_LOOKUP = bytes.fromhex(  # frame 90: the same with LSA_POLICY_LOOKUP_NAMES
    "000002005c0000001800000000000000000000000000000000000000040002000c0000000200010000080000")
QUERY_LEVEL3 = SAMBA_HANDLE + bytes.fromhex("0300")  # frame 80: lsa_QueryInfoPolicy level 3
QUERY_LEVEL3_REPLY = bytes.fromhex(  # frame 81: "WORKGROUP", no SID
    "00000200030000001200140004000200000000000a000000000000000900000057004f0052004b00470052004f00"
    "55005000000000000000")
CLOSE = SAMBA_HANDLE  # frame 82
CLOSE_REPLY = bytes(24)  # frame 83: the zeroed handle, STATUS_SUCCESS
LOOKUP_NAMES_ALICE = bytes.fromhex(  # frame 92 without its handle: Count 1, "alice", level 1
    "01000000010000000a000a000000020005000000000000000500000061006c006900630065000000000000000000"
    "00000100000000000000")
LOOKUP_NAMES_ALICE_REPLY = bytes.fromhex(  # frame 93
    "0400020001000000080002002000000001000000160018000c000200100002000c000000000000000b00000041004e"
    "00430048004f005200530041004d00420041000000040000000104000000000005150000005362eab69d9c4e50bddf"
    "a76e01000000140002000100000001000000e8030000000000000100000000000000")
LOOKUP_SIDS_ADMINS = bytes.fromhex(  # frame 102 without its handle: S-1-5-32-544, level 1
    "01000000000002000100000004000200020000000102000000000005200000002002000000000000000000000100"
    "000000000000")
LOOKUP_SIDS_ADMINS_REPLY = bytes.fromhex(  # frame 103
    "08000200010000000c00020020000000010000000e00100010000200140002000800000000000000070000004200"
    "550049004c00540049004e00000001000000010100000000000520000000010000001800020001000000040000001c"
    "001c001c000200000000000e000000000000000e000000410064006d0069006e006900730074007200610074006f00"
    "720073000100000000000000")
SAMBA_DOMAIN = ("S-1-5-21-3068813907-1347329181-1856495549", "ANCHORSAMBA")


class TestGoldenCaptures:
    """The request stubs rpcclient sent to Samba, through our pipe; the replies must say what
    Samba's said (the same bytes where the values are the same)."""

    def test_open_policy_then_query_level3_then_close(self) -> None:
        client = lsa_client()
        header, body = client.raw(6, OPEN_POLICY_MAX)
        assert header.ptype == PType.RESPONSE
        assert len(body.stub) == 24 and stub_status(body.stub) == SUCCESS
        handle = body.stub[:20]
        assert handle != NULL_HANDLE and handle[:4] == bytes(4)
        assert granted(client, handle) == lsarpc.POLICY_VIEW_LOCAL_INFORMATION | lsarpc.POLICY_LOOKUP_NAMES \
            | 0x20000  # MAXIMUM_ALLOWED; Everyone's GENERIC_EXECUTE (EveryoneIncludesAnonymous = 1)
        _, body = client.raw(7, handle + QUERY_LEVEL3[20:])
        assert body.stub == QUERY_LEVEL3_REPLY  # byte for byte: same workgroup, same layout
        _, body = client.raw(0, handle)
        assert body.stub == CLOSE_REPLY
        assert client.calls[-1][:3] == ("LsarClose", SUCCESS, None)

    def test_lookup_names_alice(self) -> None:
        directory = make_directory(*SAMBA_DOMAIN)
        client = lsa_client(directory=directory)
        _, body = client.raw(6, OPEN_POLICY_LOOKUP)
        handle = body.stub[:20]
        _, body = client.raw(14, handle + LOOKUP_NAMES_ALICE)
        ours, samba = lsat.LsarLookupNamesResponse(body.stub), lsat.LsarLookupNamesResponse(LOOKUP_NAMES_ALICE_REPLY)
        for resp in (ours, samba):
            assert domains_of(resp) == [("ANCHORSAMBA", SAMBA_DOMAIN[0])]
            assert sids_of(resp) == [(USER, 1000, 0)]
            assert resp["MappedCount"] == 1 and resp["ErrorCode"] == SUCCESS
        assert len(body.stub) == len(LOOKUP_NAMES_ALICE_REPLY)
        assert client.last[:3] == ("LsarLookupNames", SUCCESS, 1)

    def test_lookup_sids_administrators(self) -> None:
        client = lsa_client()
        _, body = client.raw(6, OPEN_POLICY_LOOKUP)
        _, body = client.raw(15, body.stub[:20] + LOOKUP_SIDS_ADMINS)
        ours, samba = lsat.LsarLookupSidsResponse(body.stub), lsat.LsarLookupSidsResponse(LOOKUP_SIDS_ADMINS_REPLY)
        for resp in (ours, samba):
            assert domains_of(resp) == [("BUILTIN", "S-1-5-32")]
            assert names_of(resp) == [(ALIAS, "Administrators", 0)]
            assert resp["MappedCount"] == 1 and resp["ErrorCode"] == SUCCESS
        # the same bytes but for the referent ids (Samba numbers its pointers from 0x20008)
        assert len(body.stub) == len(LOOKUP_SIDS_ADMINS_REPLY)
        assert body.stub[4:8] == LOOKUP_SIDS_ADMINS_REPLY[4:8]

    def test_domain_names_are_string_large_translated_names_are_not(self) -> None:
        """lsa_StringLarge (MaximumLength = Length + 2) for domains, lsa_String for names."""
        client = lsa_client()
        _, body = client.raw(6, OPEN_POLICY_LOOKUP)
        _, body = client.raw(15, body.stub[:20] + LOOKUP_SIDS_ADMINS)
        assert body.stub[20:24] == LOOKUP_SIDS_ADMINS_REPLY[20:24] == bytes.fromhex("0e001000")
        i = body.stub.index(bytes.fromhex("1c001c00"))
        j = LOOKUP_SIDS_ADMINS_REPLY.index(bytes.fromhex("1c001c00"))
        assert body.stub[i - 4:i] == LOOKUP_SIDS_ADMINS_REPLY[j - 4:j]  # Use = 4, padded to 4


# -- opening and closing the policy -------------------------------------------------------------------

class TestOpenPolicy:
    @pytest.mark.parametrize("kind, groups, policy, expected", [
        (PrincipalKind.ANONYMOUS, (), {"EveryoneIncludesAnonymous": 0}, 0x00000801),
        (PrincipalKind.ANONYMOUS, (), {"EveryoneIncludesAnonymous": 1}, 0x00020801),
        (PrincipalKind.GUEST, (), {}, 0x00020801),
        (PrincipalKind.USER, ("Backup Operators",), {}, 0x00020801),
        (PrincipalKind.USER, ("Administrators",), {}, 0x000F0FFF),
    ])
    def test_maximum_allowed_grants_what_the_default_descriptor_allows(
            self, kind: PrincipalKind, groups: tuple[str, ...], policy: dict[str, int], expected: int) -> None:
        client = lsa_client(kind, "someone", groups, **policy)
        for opener in (lsad.hLsarOpenPolicy2, lsad.hLsarOpenPolicy):
            resp = opener(client, MAXIMUM_ALLOWED)
            assert resp["ErrorCode"] == SUCCESS
            assert granted(client, resp["PolicyHandle"]) == expected

    def test_explicit_access_is_granted_exactly(self) -> None:
        client = lsa_client(EveryoneIncludesAnonymous=0)
        handle = open2(client, lsat.POLICY_LOOKUP_NAMES)
        assert granted(client, handle) == lsat.POLICY_LOOKUP_NAMES
        handle = open2(client, MAXIMUM_ALLOWED | lsat.POLICY_LOOKUP_NAMES)  # impacket's lookupsid
        assert granted(client, handle) == 0x801

    @pytest.mark.parametrize("access", [
        0x000F0FFF,  # POLICY_ALL_ACCESS
        0x10000000,  # GENERIC_ALL
        0x80000000,  # GENERIC_READ: POLICY_VIEW_AUDIT_INFORMATION | GET_PRIVATE | READ_CONTROL
        0x20000000,  # GENERIC_EXECUTE includes READ_CONTROL, which ANONYMOUS LOGON lacks
        0x00000004,  # POLICY_GET_PRIVATE_INFORMATION
        MAXIMUM_ALLOWED | 0x00000010,  # MAXIMUM_ALLOWED does not excuse a bit it cannot grant
        0x01000000,  # ACCESS_SYSTEM_SECURITY
    ])
    def test_anonymous_beyond_its_ace_is_denied_with_a_zero_handle(self, access: int) -> None:
        client = lsa_client(EveryoneIncludesAnonymous=0)
        for opener in (lsad.hLsarOpenPolicy2, lsad.hLsarOpenPolicy):
            resp = opener(client, access)
            assert (resp["ErrorCode"], resp["PolicyHandle"]) == (ACCESS_DENIED, NULL_HANDLE)
        assert client.pipe.handles == {}
        # the table allowed it (its last rule, RestrictAnonymous < 2, passed); the descriptor did not
        assert client.last[1:] == (ACCESS_DENIED, None, None, "RestrictAnonymous")

    def test_generic_rights_are_mapped(self) -> None:
        client = alice()
        assert granted(client, open2(client, 0x10000000)) == 0x000F0FFF
        assert granted(client, open2(client, 0x80000000)) == 0x00020006
        assert granted(client, open2(client, 0x01000000 | 1)) == 0x01000001  # SeSecurityPrivilege
        assert lsad.hLsarOpenPolicy2(bob(), 0x01000000)["ErrorCode"] == ACCESS_DENIED

    def test_zero_access_and_a_root_directory_are_invalid(self) -> None:
        client = alice()
        assert lsad.hLsarOpenPolicy2(client, 0)["ErrorCode"] == INVALID_PARAMETER
        _, body = client.raw(44, _open2_stub(root_directory=True))
        assert body.stub == NULL_HANDLE + struct.pack("<I", INVALID_PARAMETER)

    def test_object_attributes_with_every_pointer_are_read_through(self) -> None:
        """ObjectName, SecurityDescriptor (owner, group, SACL, DACL) and QoS are ignored, but
        DesiredAccess comes after them."""
        w = NdrWriter()
        w.unique("\\\\srv", NdrWriter.wstr)
        with w.struct():
            w.u32(24)
            w.unique(None, NdrWriter.u8)
            w.unique(b"name", lambda w, b: _string(w, b))
            w.u32(0)
            w.unique(1, lambda w, _: _security_descriptor(w))
            w.unique(1, lambda w, _: _qos(w))
        w.u32(lsat.POLICY_LOOKUP_NAMES)
        client = alice()
        _, body = client.raw(44, w.getvalue())
        assert stub_status(body.stub) == SUCCESS
        assert granted(client, body.stub[:20]) == lsat.POLICY_LOOKUP_NAMES

    def test_the_table_denies_anonymous_while_turn_off_anonymous_block_is_0(self) -> None:
        client = lsa_client(TurnOffAnonymousBlock=0)
        for opener, name in ((lsad.hLsarOpenPolicy2, "LsarOpenPolicy2"), (lsad.hLsarOpenPolicy, "LsarOpenPolicy")):
            resp = opener(client, MAXIMUM_ALLOWED)
            assert (resp["ErrorCode"], resp["PolicyHandle"]) == (ACCESS_DENIED, NULL_HANDLE)
            assert client.last == (name, ACCESS_DENIED, None, None, "TurnOffAnonymousBlock")
        assert client.pipe.handles == {}
        assert open2(alice(TurnOffAnonymousBlock=0))  # users are not null sessions

    def test_restrict_anonymous_2_denies_the_open(self) -> None:
        resp = lsad.hLsarOpenPolicy2(lsa_client(RestrictAnonymous=2), MAXIMUM_ALLOWED)
        assert (resp["ErrorCode"], resp["PolicyHandle"]) == (ACCESS_DENIED, NULL_HANDLE)


def _string(w: NdrWriter, data: bytes) -> None:
    with w.struct():
        w.u16(len(data))
        w.u16(len(data))
        w.unique(data, lambda w, d: (w.u32(len(d)), w.u32(0), w.u32(len(d)), w.raw(d)))


def _acl(w: NdrWriter) -> None:
    w.u32(4)
    w.u8(2)
    w.u8(0)
    w.u16(8)
    w.raw(bytes(4))


def _security_descriptor(w: NdrWriter) -> None:
    with w.struct():
        w.u8(1)
        w.u8(0)
        w.u16(0x8004)
        w.unique(Sid.parse("S-1-5-32-544"), NdrWriter.sid)
        w.unique(Sid.parse("S-1-5-18"), NdrWriter.sid)
        w.unique(1, lambda w, _: _acl(w))
        w.unique(1, lambda w, _: _acl(w))


def _qos(w: NdrWriter) -> None:
    w.u32(12)
    w.u16(2)
    w.u8(1)
    w.u8(0)


class TestHandles:
    def test_close_zeroes_and_forgets_the_handle(self) -> None:
        client = alice()
        handle = open2(client)
        resp = lsad.hLsarClose(client, handle)
        assert (resp["ErrorCode"], resp["ObjectHandle"]) == (SUCCESS, NULL_HANDLE)
        assert client.pipe.handles == {}
        again = lsad.hLsarClose(client, handle)
        assert (again["ErrorCode"], again["ObjectHandle"]) == (INVALID_HANDLE, handle)

    @pytest.mark.parametrize("which", ["closed", "zero", "random", "foreign"])
    def test_every_operation_refuses_a_handle_that_is_not_an_open_policy(self, which: str) -> None:
        client = alice()
        handle = open2(client)
        if which == "closed":
            lsad.hLsarClose(client, handle)
        elif which == "zero":
            handle = NULL_HANDLE
        elif which == "random":
            handle = bytes(4) + random.Random(3).randbytes(16)
        else:  # a samr handle: same pipe (lsass endpoint), another kind of object
            handle = client.pipe.new_handle(object())
        resp = lsad.hLsarQueryInformationPolicy2(client, handle, 5)
        assert (resp["ErrorCode"], null(resp["PolicyInformation"])) == (INVALID_HANDLE, True)
        resp = lsad.hLsarQueryInformationPolicy(client, handle, 3)
        assert (resp["ErrorCode"], null(resp["PolicyInformation"])) == (INVALID_HANDLE, True)
        resp = lsat.hLsarLookupSids(client, handle, ["S-1-5-32-544"])
        assert resp["ErrorCode"] == INVALID_HANDLE and null(resp["ReferencedDomains"])
        assert resp["TranslatedNames"]["Entries"] == 0 and resp["MappedCount"] == 0
        for fn in (lsat.hLsarLookupNames, lsat.hLsarLookupNames2, lsat.hLsarLookupNames3):
            resp = fn(client, handle, ["alice"])
            assert resp["ErrorCode"] == INVALID_HANDLE and null(resp["ReferencedDomains"])
            assert resp["TranslatedSids"]["Entries"] == 0
        resp = lsat.hLsarLookupSids2(client, handle, ["S-1-5-32-544"])
        assert resp["ErrorCode"] == INVALID_HANDLE
        resp = lsad.hLsarEnumerateAccounts(client, handle)
        assert resp["ErrorCode"] == INVALID_HANDLE and resp["EnumerationBuffer"]["EntriesRead"] == 0
        assert lsad.hLsarClose(client, handle)["ErrorCode"] == INVALID_HANDLE
        assert client.last[2] is None

    def test_granted_access_is_enforced_per_operation(self) -> None:
        client = alice()
        view_only = open2(client, lsarpc.POLICY_VIEW_LOCAL_INFORMATION)
        lookup_only = open2(client, lsat.POLICY_LOOKUP_NAMES)
        resp = lsat.hLsarLookupSids(client, view_only, ["S-1-5-32-544"])
        assert resp["ErrorCode"] == ACCESS_DENIED and null(resp["ReferencedDomains"])
        assert lsat.hLsarLookupSids2(client, view_only, ["S-1-5-32-544"])["ErrorCode"] == ACCESS_DENIED
        for fn in (lsat.hLsarLookupNames, lsat.hLsarLookupNames2, lsat.hLsarLookupNames3):
            assert fn(client, view_only, ["alice"])["ErrorCode"] == ACCESS_DENIED
        resp = lsad.hLsarQueryInformationPolicy2(client, lookup_only, 5)
        assert (resp["ErrorCode"], null(resp["PolicyInformation"])) == (ACCESS_DENIED, True)
        assert lsad.hLsarEnumerateAccounts(client, lookup_only)["ErrorCode"] == ACCESS_DENIED
        assert lsat.hLsarLookupSids(client, lookup_only, ["S-1-5-32-544"])["ErrorCode"] == SUCCESS
        assert lsad.hLsarQueryInformationPolicy2(client, view_only, 5)["ErrorCode"] == SUCCESS

    def test_a_handle_limit_is_a_fault_not_a_crash(self) -> None:
        client = alice()
        client.pipe.max_handles = 2
        open2(client)
        open2(client)
        with pytest.raises(Faulted):
            lsad.hLsarOpenPolicy2(client, MAXIMUM_ALLOWED)


# -- QueryInformationPolicy ---------------------------------------------------------------------------

class TestQueryInformationPolicy:
    @pytest.mark.parametrize("query", [lsad.hLsarQueryInformationPolicy, lsad.hLsarQueryInformationPolicy2])
    def test_the_domain_classes(self, query: Any) -> None:
        client = lsa_client(workgroup="CORP")
        handle = open2(client)
        info = query(client, handle, 3)["PolicyInformation"]["PolicyPrimaryDomainInfo"]
        assert (info["Name"], null(info["Sid"])) == ("CORP", True)
        for level, arm in ((5, "PolicyAccountDomainInfo"), (14, "PolicyLocalAccountDomainInfo")):
            resp = query(client, handle, level)
            info = resp["PolicyInformation"][arm]
            assert (info["DomainName"], info["DomainSid"].formatCanonical()) == ("NULLSMB", MACHINE_SID)
            assert client.last[1:4] == (SUCCESS, 1, level)
        for level, arm in ((12, "PolicyDnsDomainInfo"), (13, "PolicyDnsDomainInfoInt")):
            info = query(client, handle, level)["PolicyInformation"][arm]
            assert info["Name"] == "CORP"
            assert null(info["DnsDomainName"]) and null(info["DnsForestName"])  # empty: no Buffer
            assert info["DomainGuid"] == bytes(16) and null(info["Sid"])

    def test_level_is_recorded_for_the_policy_and_the_audit(self) -> None:
        client = lsa_client()
        lsad.hLsarQueryInformationPolicy2(client, open2(client), 5)
        assert client.last == ("LsarQueryInformationPolicy2", SUCCESS, 1, 5, "RestrictAnonymous")

    @pytest.mark.parametrize("level", [0, 1, 2, 4, 6, 7, 8, 9, 10, 11, 15, 16, 0x7FFF, 0xFFFF])
    def test_other_classes_are_invalid(self, level: int) -> None:
        client = alice()
        handle = open2(client)
        w = NdrWriter()
        w.handle(handle)
        w.u16(level)
        for opnum in (7, 46):
            _, body = client.raw(opnum, w.getvalue())
            assert body.stub == bytes(4) + struct.pack("<I", INVALID_PARAMETER)

    def test_restrict_anonymous_1_hides_domain_information_from_null_sessions(self) -> None:
        client = lsa_client(RestrictAnonymous=1)
        handle = open2(client)  # the open itself is allowed below RestrictAnonymous 2
        for query in (lsad.hLsarQueryInformationPolicy, lsad.hLsarQueryInformationPolicy2):
            resp = query(client, handle, 5)
            assert (resp["ErrorCode"], null(resp["PolicyInformation"])) == (ACCESS_DENIED, True)
            # denied by the table before the level was read: the class has one rule for all levels
            assert client.last[1:] == (ACCESS_DENIED, None, None, "RestrictAnonymous")
        user = alice(RestrictAnonymous=1)  # RestrictAnonymous concerns null sessions only
        assert lsad.hLsarQueryInformationPolicy2(user, open2(user), 5)["ErrorCode"] == SUCCESS


# -- translation ---------------------------------------------------------------------------------------

DOM = MACHINE_SID


class TestLookupSids:
    def test_every_kind_of_sid(self) -> None:
        client = lsa_client()
        sids = [f"{DOM}-1000", f"{DOM}-500", f"{DOM}-513", f"{DOM}-1002", "S-1-5-32-544", "S-1-5-32-551",
                "S-1-1-0", "S-1-5-7", "S-1-5-32", DOM, f"{DOM}-1234", "S-1-5-32-999", "S-1-5-21-1-2-3-500",
                "S-1-5-99"]
        resp = lsat.hLsarLookupSids(client, open2(client), sids)
        assert domains_of(resp) == [("NULLSMB", DOM), ("BUILTIN", "S-1-5-32"), ("", "S-1-1"),
                                    ("NT AUTHORITY", "S-1-5")]
        assert names_of(resp) == [
            (USER, "alice", 0), (USER, "Administrator", 0), (GROUP, "None", 0), (ALIAS, "Staff", 0),
            (ALIAS, "Administrators", 1), (ALIAS, "Backup Operators", 1), (WKN, "Everyone", 2),
            (WKN, "ANONYMOUS LOGON", 3), (DOMAIN, "BUILTIN", 1), (DOMAIN, "NULLSMB", 0),
            (UNKNOWN, f"{DOM}-1234", -1), (UNKNOWN, "S-1-5-32-999", -1), (UNKNOWN, "S-1-5-21-1-2-3-500", -1),
            (UNKNOWN, "S-1-5-99", -1)]
        assert (resp["MappedCount"], resp["ErrorCode"]) == (10, SOME_NOT_MAPPED)
        assert client.last[:3] == ("LsarLookupSids", SOME_NOT_MAPPED, 10)

    def test_none_mapped_still_returns_the_names_and_domains(self) -> None:
        client = lsa_client()
        resp = lsat.hLsarLookupSids(client, open2(client), [f"{DOM}-4000", "S-1-5-21-9-9-9-1"])
        assert resp["ErrorCode"] == NONE_MAPPED and resp["MappedCount"] == 0
        assert names_of(resp) == [(UNKNOWN, f"{DOM}-4000", -1), (UNKNOWN, "S-1-5-21-9-9-9-1", -1)]
        assert domains_of(resp) == [] and resp["ReferencedDomains"]["Entries"] == 0
        assert client.last[:3] == ("LsarLookupSids", NONE_MAPPED, 0)

    def test_all_mapped_and_none_asked(self) -> None:
        client = lsa_client()
        handle = open2(client)
        assert lsat.hLsarLookupSids(client, handle, ["S-1-1-0", f"{DOM}-1001"])["ErrorCode"] == SUCCESS
        resp = lsat.hLsarLookupSids(client, handle, [])
        assert (resp["ErrorCode"], resp["MappedCount"], resp["TranslatedNames"]["Entries"]) == (SUCCESS, 0, 0)
        assert domains_of(resp) == []
        w = NdrWriter()  # Entries 0 with a NULL SidInfo: SidInfo is ignored then (MS-LSAT 2.2.18)
        w.handle(handle)
        _, body = client.raw(15, w.getvalue() + _sid_enum(0, None) + _translated_names_in()
                             + struct.pack("<HHI", 1, 0, 0))
        assert stub_status(body.stub) == SUCCESS

    def test_lookup_sids2_has_flags(self) -> None:
        client = alice()
        resp = lsat.hLsarLookupSids2(client, open2(client), ["S-1-5-32-545", f"{DOM}-1001"])
        assert [(n["Use"], n["Name"], n["DomainIndex"], n["Flags"]) for n in resp["TranslatedNames"]["Names"]] \
            == [(ALIAS, "Users", 0, 0), (USER, "bob", 1, 0)]
        assert resp["ErrorCode"] == SUCCESS and client.last[:3] == ("LsarLookupSids2", SUCCESS, 2)

    @pytest.mark.parametrize("level", [0, 2, 3, 6, 7, 8])
    def test_only_the_workstation_level_on_a_standalone_server(self, level: int) -> None:
        client = alice()
        for fn in (lsat.hLsarLookupSids, lsat.hLsarLookupSids2):
            resp = fn(client, open2(client), ["S-1-5-32-544"], level)
            assert resp["ErrorCode"] == INVALID_PARAMETER and null(resp["ReferencedDomains"])
            assert resp["TranslatedNames"]["Entries"] == 0

    def test_invalid_sids(self) -> None:
        client = alice()
        handle = open2(client)
        for body in (_sid_enum(1, [None]), _sid_enum(1, [Sid(2, 5, (32, 544))]), _sid_enum(2, None)):
            w = NdrWriter()
            w.handle(handle)
            w.raw(body)
            _, resp = client.raw(15, w.getvalue() + _translated_names_in() + struct.pack("<HHI", 1, 0, 0))
            assert stub_status(resp.stub) == INVALID_PARAMETER, body.hex()

    def test_rid_cycling_as_impacket_lookupsid_does_it(self) -> None:
        client = lsa_client()
        handle = open2(client)
        domain = lsad.hLsarQueryInformationPolicy2(client, handle, 5)["PolicyInformation"][
            "PolicyAccountDomainInfo"]["DomainSid"].formatCanonical()
        found = {}
        resp = lsat.hLsarLookupSids(client, handle, [f"{domain}-{rid}" for rid in range(500, 1011)])
        assert resp["ErrorCode"] == SOME_NOT_MAPPED
        doms = resp["ReferencedDomains"]["Domains"]
        for rid, item in zip(range(500, 1011), resp["TranslatedNames"]["Names"]):
            if item["Use"] != UNKNOWN:
                found[rid] = (doms[item["DomainIndex"]]["Name"], item["Name"], item["Use"])
        assert found == {500: ("NULLSMB", "Administrator", USER), 501: ("NULLSMB", "Guest", USER),
                         513: ("NULLSMB", "None", GROUP), 1000: ("NULLSMB", "alice", USER),
                         1001: ("NULLSMB", "bob", USER), 1002: ("NULLSMB", "Staff", ALIAS)}
        assert client.last[2] == 6

    def test_the_range_is_20480_sids(self) -> None:
        """Built and checked without impacket, whose NDR would take seconds at this size."""
        client = lsa_client()
        handle = open2(client)

        def stub(sids: list[Sid]) -> bytes:
            w = NdrWriter()
            w.handle(handle)
            return w.getvalue() + _sid_enum(len(sids), sids) + _translated_names_in() + struct.pack("<HHI", 1, 0, 0)

        sids = [Sid.parse(DOM).child(rid) for rid in range(20480)]
        _, body = client.raw(15, stub(sids))
        assert stub_status(body.stub) == SOME_NOT_MAPPED
        assert struct.unpack_from("<I", body.stub, len(body.stub) - 8)[0] == 6  # MappedCount
        assert f"{DOM}-20479".encode("utf-16-le") in body.stub  # the last one was answered too
        assert client.last[:3] == ("LsarLookupSids", SOME_NOT_MAPPED, 6)
        header, body = client.raw(15, stub(sids + [Sid.parse(DOM).child(99999)]))
        assert (header.ptype, body.status) == (PType.FAULT, FaultStatus.NCA_S_FAULT_NDR)

    def test_entries_must_match_the_array(self) -> None:
        client = alice()
        w = NdrWriter()
        w.handle(open2(client))
        w.raw(_sid_enum(3, [Sid.parse("S-1-5-32-544")]))
        with pytest.raises(Faulted):
            client.request(_Raw(15, w.getvalue() + _translated_names_in() + struct.pack("<HHI", 1, 0, 0)))

    def test_the_in_translated_names_are_read_and_ignored(self) -> None:
        client = alice()
        req = lsat.LsarLookupSids()
        req["PolicyHandle"] = open2(client)
        item = lsat.LSAPR_SID_INFORMATION()
        item["Sid"].fromCanonical("S-1-5-32-544")
        req["SidEnumBuffer"]["SidInfo"].append(item)
        req["SidEnumBuffer"]["Entries"] = 1
        name = lsat.LSAPR_TRANSLATED_NAME()
        name["Use"] = 1
        name["Name"] = "garbage the server ignores"
        name["DomainIndex"] = 7
        req["TranslatedNames"]["Names"].append(name)
        req["TranslatedNames"]["Entries"] = 1
        req["LookupLevel"] = 1
        req["MappedCount"] = 99
        resp = client.request(req)
        assert names_of(resp) == [(ALIAS, "Administrators", 0)] and resp["MappedCount"] == 1


class _Raw:
    """A request given as its stub (for Client.request); the reply comes back as its stub."""

    def __init__(self, opnum: int, stub: bytes) -> None:
        self.opnum, self.stub = opnum, stub

    def getData(self) -> bytes:  # noqa: N802 (impacket's name)
        return self.stub

    @staticmethod
    def parse(stub: bytes) -> bytes:
        return stub


def _sid_enum(entries: int, sids: list[Sid | None] | None) -> bytes:
    w = NdrWriter()
    with w.struct():
        w.u32(entries)
        w.unique(sids, lambda w, items: w.conformant_array(items, lambda w, s: w.unique(s, NdrWriter.sid)))
    return w.getvalue()


def _translated_names_in() -> bytes:
    return bytes(8)  # Entries 0, Names NULL


class TestLookupNames:
    def test_every_form_of_name(self) -> None:
        client = lsa_client()
        names = ["alice", "NULLSMB\\Bob", "nullsmb\\staff", "Administrators", "BUILTIN\\Users", "Everyone",
                 "\\Everyone", "NT AUTHORITY\\ANONYMOUS LOGON", "anonymous logon", "BUILTIN", "NULLSMB",
                 "BUILTIN\\BUILTIN", "", "nosuch", "NULLSMB\\nosuch", "OTHER\\alice", "alice@NULLSMB",
                 "Administrator", "None"]
        resp = lsat.hLsarLookupNames(client, open2(client), names)
        assert domains_of(resp) == [("NULLSMB", DOM), ("BUILTIN", "S-1-5-32"), ("", "S-1-1"),
                                    ("NT AUTHORITY", "S-1-5")]
        assert sids_of(resp) == [
            (USER, 1000, 0), (USER, 1001, 0), (ALIAS, 1002, 0), (ALIAS, 544, 1), (ALIAS, 545, 1),
            (WKN, 0, 2), (WKN, 0, 2), (WKN, 7, 3), (WKN, 7, 3), (DOMAIN, 0xFFFFFFFF, 1),
            (DOMAIN, 0xFFFFFFFF, 0), (DOMAIN, 0xFFFFFFFF, 1), (DOMAIN, 0xFFFFFFFF, 1), (UNKNOWN, 0, -1),
            (UNKNOWN, 0, 0), (UNKNOWN, 0, -1), (UNKNOWN, 0, -1), (USER, 500, 0), (GROUP, 513, 0)]
        assert (resp["MappedCount"], resp["ErrorCode"]) == (15, SOME_NOT_MAPPED)
        assert client.last[:3] == ("LsarLookupNames", SOME_NOT_MAPPED, 15)

    def test_lookup_names2_and_3(self) -> None:
        client = alice()
        handle = open2(client)
        resp = lsat.hLsarLookupNames2(client, handle, ["alice", "Everyone", "nosuch"])
        assert [(s["Use"], s["RelativeId"], s["DomainIndex"], s["Flags"]) for s in resp["TranslatedSids"]["Sids"]] \
            == [(USER, 1000, 0, 0), (WKN, 0, 1, 0), (UNKNOWN, 0, -1, 0)]
        resp = lsat.hLsarLookupNames3(client, handle, ["alice", "BUILTIN", "nosuch"])
        assert sids_of(resp) == [(USER, f"{DOM}-1000", 0), (DOMAIN, "S-1-5-32", 1), (UNKNOWN, None, -1)]
        assert [s["Flags"] for s in resp["TranslatedSids"]["Sids"]] == [0, 0, 0]
        assert (resp["ErrorCode"], client.last[:3]) == (SOME_NOT_MAPPED, ("LsarLookupNames3", SOME_NOT_MAPPED, 2))

    def test_none_mapped_and_all_mapped(self) -> None:
        client = alice()
        handle = open2(client)
        resp = lsat.hLsarLookupNames(client, handle, ["nobody", "BUILTIN\\nobody"])
        assert (resp["ErrorCode"], sids_of(resp)) == (NONE_MAPPED, [(UNKNOWN, 0, -1), (UNKNOWN, 0, 0)])
        assert lsat.hLsarLookupNames(client, handle, ["ALICE"])["ErrorCode"] == SUCCESS
        resp = lsat.hLsarLookupNames(client, handle, [])
        assert (resp["ErrorCode"], resp["TranslatedSids"]["Entries"]) == (SUCCESS, 0)

    @pytest.mark.parametrize("level", range(2, 8))
    def test_other_levels_search_nothing_on_a_standalone_server(self, level: int) -> None:
        client = alice()
        resp = lsat.hLsarLookupNames3(client, open2(client), ["alice", "Everyone"], level)
        assert resp["ErrorCode"] == NONE_MAPPED and domains_of(resp) == []
        assert sids_of(resp) == [(UNKNOWN, None, -1)] * 2

    @pytest.mark.parametrize("level", [0, 8, 0xFFFF])
    def test_unknown_levels_are_invalid(self, level: int) -> None:
        client = alice()
        for fn in (lsat.hLsarLookupNames, lsat.hLsarLookupNames2, lsat.hLsarLookupNames3):
            resp = fn(client, open2(client), ["alice"], level)
            assert resp["ErrorCode"] == INVALID_PARAMETER and null(resp["ReferencedDomains"])

    def test_no_isolated_option_needs_the_workstation_level(self) -> None:
        client = alice()
        handle = open2(client)
        assert lsat.hLsarLookupNames3(client, handle, ["alice"], 1, 0x80000000)["ErrorCode"] == SUCCESS
        assert lsat.hLsarLookupNames3(client, handle, ["alice"], 2, 0x80000000)["ErrorCode"] == INVALID_PARAMETER
        assert lsat.hLsarLookupNames2(client, handle, ["alice"], 2, 0x80000000)["ErrorCode"] == NONE_MAPPED

    def test_an_odd_length_is_an_invalid_parameter(self) -> None:
        client = alice()
        w = NdrWriter()
        w.handle(open2(client))
        w.u32(1)
        with w.struct():
            w.u32(1)
            w.u16(3)
            w.u16(4)
            w.unique(b"a\x00", lambda w, d: (w.u32(2), w.u32(0), w.u32(1), w.raw(d)))
        w.align(4)
        w.raw(bytes(8))
        w.u16(1)
        w.u32(0)
        _, body = client.raw(14, w.getvalue())
        assert stub_status(body.stub) == INVALID_PARAMETER

    def test_the_range_is_1000_names(self) -> None:
        client = alice()
        handle = open2(client)
        assert lsat.hLsarLookupNames(client, handle, ["alice"] * 1000)["MappedCount"] == 1000
        with pytest.raises(Faulted) as fault:
            lsat.hLsarLookupNames(client, handle, ["alice"] * 1001)
        assert fault.value.status == FaultStatus.NCA_S_FAULT_NDR


class TestSecureChannelOnly:
    @pytest.mark.parametrize("policy", [{}, {"LSAAnonymousNameLookup": 0}, {"TurnOffAnonymousBlock": 0}])
    def test_lookup_sids3_and_names4_fault_access_denied_on_a_pipe(self, policy: dict[str, int]) -> None:
        client = lsa_client(**policy)
        req = lsat.LsarLookupSids3()
        item = lsat.LSAPR_SID_INFORMATION()
        item["Sid"].fromCanonical("S-1-5-32-544")
        req["SidEnumBuffer"]["SidInfo"].append(item)
        req["SidEnumBuffer"]["Entries"] = 1
        req["TranslatedNames"]["Names"] = NULL
        req["LookupLevel"] = 1
        req["ClientRevision"] = 2
        with pytest.raises(Faulted) as fault:
            client.request(req)
        assert (fault.value.status, fault.value.did_not_execute) == (FaultStatus.ACCESS_DENIED, True)
        with pytest.raises(Faulted) as fault:
            lsat.hLsarLookupNames4(client, ["alice"])
        assert fault.value.status == FaultStatus.ACCESS_DENIED
        assert client.last[0] == "LsarLookupNames4" and client.last[2] is None


class TestLookupPolicy:
    def test_lsa_anonymous_name_lookup_0_refuses_every_translation(self) -> None:
        client = lsa_client(LSAAnonymousNameLookup=0)
        handle = open2(client)  # TurnOffAnonymousBlock = 1: the open is allowed
        resp = lsat.hLsarLookupSids(client, handle, ["S-1-5-32-544"])
        assert (resp["ErrorCode"], null(resp["ReferencedDomains"]), resp["TranslatedNames"]["Entries"],
                null(resp["TranslatedNames"]["Names"]), resp["MappedCount"]) == (ACCESS_DENIED, True, 0, True, 0)
        assert client.last == ("LsarLookupSids", ACCESS_DENIED, 0, None, "LSAAnonymousNameLookup")
        resp = lsat.hLsarLookupSids2(client, handle, ["S-1-5-32-544"])
        assert resp["ErrorCode"] == ACCESS_DENIED and null(resp["TranslatedNames"]["Names"])
        for fn, name in ((lsat.hLsarLookupNames, "LsarLookupNames"), (lsat.hLsarLookupNames2, "LsarLookupNames2"),
                         (lsat.hLsarLookupNames3, "LsarLookupNames3")):
            resp = fn(client, handle, ["alice"])
            assert (resp["ErrorCode"], null(resp["ReferencedDomains"]), resp["TranslatedSids"]["Entries"],
                    null(resp["TranslatedSids"]["Sids"])) == (ACCESS_DENIED, True, 0, True)
            assert client.last == (name, ACCESS_DENIED, 0, None, "LSAAnonymousNameLookup")
        # the domain itself is still visible (RestrictAnonymous = 0), and users translate freely
        assert lsad.hLsarQueryInformationPolicy2(client, handle, 5)["ErrorCode"] == SUCCESS
        user = alice(LSAAnonymousNameLookup=0)
        assert lsat.hLsarLookupSids(user, open2(user), ["S-1-5-32-544"])["ErrorCode"] == SUCCESS

    def test_a_policy_reload_applies_to_an_open_handle(self) -> None:
        client = lsa_client()
        handle = open2(client)
        assert lsat.hLsarLookupNames(client, handle, ["alice"])["ErrorCode"] == SUCCESS
        client.pipe.ctx.server.policy = PolicySettings(**{**OPEN_POLICY, "LSAAnonymousNameLookup": 0})
        assert lsat.hLsarLookupNames(client, handle, ["alice"])["ErrorCode"] == ACCESS_DENIED

    def test_null_session_operations_allow_list(self) -> None:
        client = lsa_client(NullSessionOperations=("lsarpc:LsarOpenPolicy2", "lsarpc:LsarLookupSids"))
        handle = open2(client)
        assert lsat.hLsarLookupSids(client, handle, ["S-1-1-0"])["ErrorCode"] == SUCCESS
        resp = lsat.hLsarGetUserName(client)
        assert (resp["ErrorCode"], null(resp["UserName"]), null(resp["DomainName"])) == (ACCESS_DENIED, True, True)
        assert client.last[4] == "NullSessionOperations"
        assert lsad.hLsarClose(client, handle)["ErrorCode"] == SUCCESS  # closes are exempt


# -- GetUserName ----------------------------------------------------------------------------------------

class TestGetUserName:
    @pytest.mark.parametrize("kind, name, expected", [
        (PrincipalKind.ANONYMOUS, "", ("ANONYMOUS LOGON", "NT AUTHORITY")),
        (PrincipalKind.GUEST, "whoever", ("Guest", "NULLSMB")),
        (PrincipalKind.USER, "ALICE", ("alice", "NULLSMB")),  # the account's own spelling
        (PrincipalKind.USER, "bob", ("bob", "NULLSMB")),
    ])
    def test_the_caller(self, kind: PrincipalKind, name: str, expected: tuple[str, str]) -> None:
        client = lsa_client(kind, name)
        resp = client.request(_get_user_name(domain=True))
        assert resp == (*expected, SUCCESS, True)
        resp = client.request(_get_user_name(domain=False))
        assert resp == (expected[0], None, SUCCESS, False)
        assert lsat.hLsarGetUserName(client)["UserName"] == expected[0]  # impacket, DomainName NULL

    def test_denied_under_restrict_anonymous_2(self) -> None:
        client = lsa_client(RestrictAnonymous=2)
        assert client.request(_get_user_name(domain=True)) == (None, None, ACCESS_DENIED, True)
        assert client.request(_get_user_name(domain=False)) == (None, None, ACCESS_DENIED, False)


class _get_user_name:  # noqa: N801 (a request "class", as impacket's are)
    """LsarGetUserName as MS-LSAT 3.1.4.4 and rpcclient spell it: DomainName is a pointer to a
    pointer (impacket's class has one level too few)."""

    opnum = 45

    def __init__(self, *, domain: bool) -> None:
        self.domain = domain

    def getData(self) -> bytes:  # noqa: N802
        w = NdrWriter()
        w.unique("127.0.0.1", NdrWriter.wstr)
        w.u32(0)  # *UserName NULL
        w.unique(0 if self.domain else None, lambda w, _: w.u32(0))  # DomainName → NULL
        return w.getvalue()

    @staticmethod
    def parse(stub: bytes) -> tuple[str | None, str | None, int, bool]:
        """(UserName, DomainName, status, whether DomainName's outer pointer is non-NULL)."""
        r = NdrReader(stub)
        user = r.unique(NdrReader.unicode_string)
        outer = r.ptr()
        domain = r.unique(NdrReader.unicode_string) if outer else None
        status = r.u32()
        assert r.remaining == 0
        return user, domain, status, bool(outer)


# -- EnumerateAccounts ---------------------------------------------------------------------------------

EXPECTED_ACCOUNTS = ["S-1-5-32-544", "S-1-5-32-545", "S-1-5-32-551", "S-1-5-32-555", "S-1-1-0", "S-1-5-6",
                     "S-1-5-19", "S-1-5-20", f"{DOM}-501"]


def _accounts(resp: Any) -> list[str]:
    buf = resp["EnumerationBuffer"]
    return [] if null(buf["Information"]) else [i["Sid"].formatCanonical() for i in buf["Information"]]


class TestEnumerateAccounts:
    def test_the_accounts_with_rights_all_translatable(self) -> None:
        client = lsa_client()
        handle = open2(client)
        resp = lsad.hLsarEnumerateAccounts(client, handle)
        assert (resp["ErrorCode"], resp["EnumerationContext"]) == (SUCCESS, len(EXPECTED_ACCOUNTS))
        assert _accounts(resp) == EXPECTED_ACCOUNTS
        assert client.last == ("LsarEnumerateAccounts", SUCCESS, 9, None, "EveryoneIncludesAnonymous")
        names = lsat.hLsarLookupSids(client, handle, EXPECTED_ACCOUNTS)
        assert names["ErrorCode"] == SUCCESS
        assert [n[1] for n in names_of(names)] == ["Administrators", "Users", "Backup Operators",
                                                    "Remote Desktop Users", "Everyone", "SERVICE",
                                                    "LOCAL SERVICE", "NETWORK SERVICE", "Guest"]

    def test_paging_by_preferred_length(self) -> None:
        client = alice()
        handle = open2(client)
        seen: list[str] = []
        context, statuses = 0, []
        while True:
            req = lsad.LsarEnumerateAccounts()
            req["PolicyHandle"] = handle
            req["EnumerationContext"] = context
            req["PreferedMaximumLength"] = 40
            resp = client.request(req)
            statuses.append(resp["ErrorCode"])
            if resp["ErrorCode"] == NO_MORE_ENTRIES:
                break
            got = _accounts(resp)
            assert 1 <= len(got) <= 2
            seen += got
            context = resp["EnumerationContext"]
            if resp["ErrorCode"] == SUCCESS:
                break
        assert seen == EXPECTED_ACCOUNTS
        assert set(statuses[:-1]) == {MORE_ENTRIES} and statuses[-1] == SUCCESS

    def test_past_the_end(self) -> None:
        client = alice()
        req = lsad.LsarEnumerateAccounts()
        req["PolicyHandle"] = open2(client)
        req["EnumerationContext"] = 9
        req["PreferedMaximumLength"] = 0
        resp = client.request(req)
        assert (resp["ErrorCode"], resp["EnumerationContext"], _accounts(resp)) == (NO_MORE_ENTRIES, 9, [])

    def test_null_sessions_need_everyone_includes_anonymous(self) -> None:
        client = lsa_client(EveryoneIncludesAnonymous=0)
        req = lsad.LsarEnumerateAccounts()
        req["PolicyHandle"] = open2(client)
        req["EnumerationContext"] = 3
        req["PreferedMaximumLength"] = 0xFFFFFFFF
        resp = client.request(req)
        assert (resp["ErrorCode"], resp["EnumerationContext"], _accounts(resp)) == (ACCESS_DENIED, 3, [])
        assert client.last == ("LsarEnumerateAccounts", ACCESS_DENIED, None, None, "EveryoneIncludesAnonymous")


# -- malformed input: a fault or a well-formed reply, never an exception --------------------------------

def _valid_stubs(handle: bytes) -> dict[int, bytes]:
    def data(req: Any) -> bytes:
        return req.getData()

    sids = lsat.LsarLookupSids()
    sids["PolicyHandle"] = handle
    for s in ("S-1-5-32-544", f"{DOM}-1000"):
        item = lsat.LSAPR_SID_INFORMATION()
        item["Sid"].fromCanonical(s)
        sids["SidEnumBuffer"]["SidInfo"].append(item)
    sids["SidEnumBuffer"]["Entries"] = 2
    sids["TranslatedNames"]["Names"] = NULL
    sids["LookupLevel"] = 1
    names3 = lsat.LsarLookupNames3()
    names3["PolicyHandle"] = handle
    names3["Count"] = 2
    for n in ("alice", "BUILTIN\\Users"):
        item = lsat.RPC_UNICODE_STRING()
        item["Data"] = n
        names3["Names"].append(item)
    names3["TranslatedSids"]["Sids"] = NULL
    names3["LookupLevel"] = 1
    names3["ClientRevision"] = 2
    enum = lsad.LsarEnumerateAccounts()
    enum["PolicyHandle"] = handle
    enum["PreferedMaximumLength"] = 100
    return {  # LsarClose last: it closes the handle the others use
        6: OPEN_POLICY_MAX, 44: _open2_stub(), 7: handle + b"\x05\x00", 46: handle + b"\x0c\x00",
        11: data(enum), 14: handle + LOOKUP_NAMES_ALICE, 15: data(sids), 57: _sids2_stub(handle),
        58: _names2_stub(handle), 68: data(names3), 45: _get_user_name(domain=True).getData(), 0: handle,
    }


def _open2_stub(*, root_directory: bool = False) -> bytes:
    w = NdrWriter()
    w.unique("\\\\127.0.0.1", NdrWriter.wstr)
    with w.struct():
        w.u32(24)
        w.unique(7 if root_directory else None, NdrWriter.u8)
        w.unique(None, NdrWriter.u8)
        w.u32(0)
        w.unique(None, NdrWriter.u8)
        w.unique(1, lambda w, _: _qos(w))
    w.u32(MAXIMUM_ALLOWED)
    return w.getvalue()


def _sids2_stub(handle: bytes) -> bytes:
    req = lsat.LsarLookupSids2()
    req["PolicyHandle"] = handle
    item = lsat.LSAPR_SID_INFORMATION()
    item["Sid"].fromCanonical("S-1-1-0")
    req["SidEnumBuffer"]["SidInfo"].append(item)
    req["SidEnumBuffer"]["Entries"] = 1
    req["TranslatedNames"]["Names"] = NULL
    req["LookupLevel"] = 1
    req["ClientRevision"] = 2
    return req.getData()


def _names2_stub(handle: bytes) -> bytes:
    req = lsat.LsarLookupNames2()
    req["PolicyHandle"] = handle
    req["Count"] = 1
    item = lsat.RPC_UNICODE_STRING()
    item["Data"] = "Everyone"
    req["Names"].append(item)
    req["TranslatedSids"]["Sids"] = NULL
    req["LookupLevel"] = 1
    req["ClientRevision"] = 2
    return req.getData()


def _answer(client: Client, opnum: int, stub: bytes) -> None:
    """One call must come back as a response or a fault PDU; the pipe stays usable."""
    header, body = client.raw(opnum, stub)
    assert header.ptype in (PType.RESPONSE, PType.FAULT)
    if header.ptype == PType.FAULT:
        assert body.status in (FaultStatus.NCA_S_FAULT_NDR, FaultStatus.ACCESS_DENIED)


class TestMalformed:
    def test_every_valid_stub_answers(self) -> None:
        client = alice()
        handle = open2(client)
        for opnum, stub in _valid_stubs(handle).items():
            header, body = client.raw(opnum, stub)
            assert header.ptype == PType.RESPONSE, (opnum, body)
            assert stub_status(body.stub) in (SUCCESS, SOME_NOT_MAPPED, MORE_ENTRIES), opnum

    def test_every_truncation_faults_ndr(self) -> None:
        client = alice()
        handle = open2(client)
        for opnum, stub in _valid_stubs(handle).items():
            for cut in range(len(stub)):
                header, body = client.raw(opnum, stub[:cut])
                if header.ptype == PType.RESPONSE:  # a prefix may be a valid stub of its own
                    continue
                assert body.status == FaultStatus.NCA_S_FAULT_NDR, (opnum, cut)
        assert lsat.hLsarLookupSids(client, open2(client), ["S-1-1-0"])["ErrorCode"] == SUCCESS

    @settings(max_examples=300, deadline=None)
    @given(data=st.data())
    def test_mutated_stubs(self, data: st.DataObject) -> None:
        client = alice()
        handle = open2(client)
        stubs = _valid_stubs(handle)
        opnum = data.draw(st.sampled_from(sorted(stubs)))
        stub = bytearray(stubs[opnum])
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(stub) - 1))
            stub[i] = data.draw(st.integers(0, 255))
        _answer(client, opnum, bytes(stub))
        assert lsat.hLsarLookupSids(client, open2(client), ["S-1-1-0"])["ErrorCode"] == SUCCESS

    def test_a_server_without_an_account_database_faults(self) -> None:
        client = alice()
        handle = open2(client)
        client.pipe.ctx.server.directory = None
        with pytest.raises(Faulted) as fault:
            lsat.hLsarLookupSids(client, handle, ["S-1-1-0"])
        assert fault.value.status == FaultStatus.NCA_S_FAULT_UNSPEC
        assert lsad.hLsarClose(client, handle)["ErrorCode"] == SUCCESS

    @pytest.mark.parametrize("count", [0x7FFFFFFF, 0xFFFFFFFF, 20481])
    def test_huge_counts_are_refused_before_anything_is_built(self, count: int) -> None:
        client = alice()
        handle = open2(client)
        w = NdrWriter()
        w.handle(handle)
        with w.struct():
            w.u32(count)
            w.u32(0x20000)
        w.u32(count)  # the array's max_count
        header, body = client.raw(15, w.getvalue() + bytes(64))
        assert (header.ptype, body.status) == (PType.FAULT, FaultStatus.NCA_S_FAULT_NDR)
        w = NdrWriter()
        w.handle(handle)
        w.u32(count)
        w.u32(count)
        header, body = client.raw(14, w.getvalue() + bytes(64))
        assert (header.ptype, body.status) == (PType.FAULT, FaultStatus.NCA_S_FAULT_NDR)
