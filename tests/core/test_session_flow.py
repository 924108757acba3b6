"""End-to-end protocol flows, socket-free: the sans-I/O client against ServerConnection.

Each test builds a ``Pair`` (conftest) and moves framed bytes between the two ends, so the
server's validation order, credits, signing, encryption and compound handling run exactly as
they would behind a socket, and the client's checks (signatures, pre-auth hash, MessageIds)
run against them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import struct
from typing import Any

import pytest

from conftest import (
    ALICE,
    ALICE_PASSWORD,
    CLOCK,
    Dropped,
    Pair,
    loopback_streams,
    make_config,
    make_context,
)
from nullsmb.auth.md4 import nt_hash
from nullsmb.client import SmbClient, SmbClientError
from nullsmb.client.connection import (
    FILE_ID_RELATED,
    ClientProtocolError,
    NoCredits,
    Outgoing,
    Response,
    parse_file_directory_information,
)
from nullsmb.config import PolicySettings
from nullsmb.core import crypto
from nullsmb.core.connection import MAX_CREDITS
from nullsmb.status import NtStatus
from nullsmb.wire.create import CloseRequest, CreateRequest, CreateResponse
from nullsmb.wire.fscc import FileInfoClass
from nullsmb.wire.header import HEADER_SIZE, Command, HeaderFlags, pack_header
from nullsmb.wire.info import QueryDirectoryRequest, decode_buffer_response
from nullsmb.wire.io import ReadRequest, WriteRequest, decode_read_response, decode_write_response
from nullsmb.wire.negotiate import Capabilities, Dialect, NegotiateResponse, SecurityMode
from nullsmb.wire.session_setup import SessionFlags, simple_body
from nullsmb.wire.tree import ShareType, TreeConnectRequest, TreeConnectResponse

S = NtStatus
DIALECTS = [Dialect.SMB202, Dialect.SMB210, Dialect.SMB300, Dialect.SMB302, Dialect.SMB311]
IDS = ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"]
HELLO = b"Hello, null session!\n"
GENERIC_RW = 0xC0000000  # GENERIC_READ | GENERIC_WRITE
FILE_READ = 0x00120089
OPEN, CREATE, OVERWRITE_IF = 1, 2, 5


# -- request bodies ------------------------------------------------------------------------------

def echo() -> Outgoing:
    return Outgoing(Command.ECHO, simple_body())


def tree_connect(share: str) -> Outgoing:
    return Outgoing(Command.TREE_CONNECT, TreeConnectRequest(0, f"\\\\nullsmb\\{share}").encode())


def create(tid: int, name: str, *, access: int = FILE_READ, disposition: int = OPEN, options: int = 0) -> Outgoing:
    return Outgoing(Command.CREATE, CreateRequest(0, 2, access, 0, 7, disposition, options, name, ()).encode(),
                    tree_id=tid)


def read(tid: int, fid: bytes, length: int = 4096, offset: int = 0) -> Outgoing:
    return Outgoing(Command.READ, ReadRequest(0, length, offset, fid, 0, 0).encode(), tree_id=tid, payload=length)


def write(tid: int, fid: bytes, data: bytes, offset: int = 0) -> Outgoing:
    body = WriteRequest(offset, fid, 0, 0, memoryview(data)).encode_fixed() + data
    return Outgoing(Command.WRITE, body, tree_id=tid, payload=len(data))


def close(tid: int, fid: bytes) -> Outgoing:
    return Outgoing(Command.CLOSE, CloseRequest(0, fid).encode(), tree_id=tid)


def body_of(rsp: Response, decoder: Any) -> Any:
    return decoder(rsp.reader(), HEADER_SIZE)


async def connected(pair: Pair, share: str = "public", **login: Any) -> int:
    await pair.negotiate()
    await pair.login(**login)
    rsp = await pair.one(tree_connect(share))
    assert rsp.status == S.STATUS_SUCCESS, NtStatus.name_of(rsp.status)
    return rsp.tree_id


async def open_file(pair: Pair, tid: int, name: str, **kw: Any) -> bytes:
    rsp = (await pair.one(create(tid, name, **kw))).raise_for_status()
    return body_of(rsp, CreateResponse.decode).file_id


def user(**extra: Any) -> dict[str, Any]:
    return {"user": ALICE, "password": ALICE_PASSWORD, **extra}


# -- NEGOTIATE --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dialect", DIALECTS, ids=IDS)
async def test_negotiate_each_dialect(dialect: int) -> None:
    pair = Pair(dialects=[dialect])
    rsp = await pair.negotiate()
    assert rsp.status == S.STATUS_SUCCESS and rsp.message_id == 0
    neg = body_of(rsp, NegotiateResponse.decode)
    assert neg.dialect == dialect == pair.client.dialect == pair.server.neg.dialect
    assert neg.server_guid == pair.context.server_guid
    assert neg.security_mode & SecurityMode.SIGNING_ENABLED
    assert neg.system_time == int(CLOCK * 10_000_000) + 116444736000000000
    assert bool(neg.capabilities & Capabilities.LARGE_MTU) == (dialect >= Dialect.SMB210)
    assert neg.max_read == (65536 if dialect == Dialect.SMB202 else 8 * 1024 * 1024)
    assert neg.security_buffer.startswith(b"\x60")  # the SPNEGO NegTokenInit2 hint
    if dialect in (Dialect.SMB300, Dialect.SMB302):
        assert neg.capabilities & Capabilities.ENCRYPTION and pair.client.cipher == crypto.AES_128_CCM
    if dialect == Dialect.SMB311:
        # Server preference: AES-128-GCM and AES-GMAC (the client offered both).
        assert pair.client.cipher == pair.server.neg.cipher == crypto.AES_128_GCM
        assert pair.client.signing_algorithm == pair.server.neg.signing_algorithm == crypto.SIGNING_AES_GMAC
        assert {c.type for c in neg.contexts} == {1, 2, 8}
        assert pair.client.preauth is not None and pair.server.preauth is not None
        assert pair.client.preauth.value == pair.server.preauth.value
    else:
        assert neg.contexts == ()
        assert pair.client.signing_algorithm == crypto.signing_algorithm_for(dialect)


async def test_negotiate_picks_highest_common_dialect() -> None:
    pair = Pair()
    await pair.negotiate()
    assert pair.client.dialect == Dialect.SMB311
    pair = Pair(make_context(make_config(dialects=(0x0202, 0x0210, 0x0300))))
    await pair.negotiate()
    assert pair.client.dialect == Dialect.SMB300


async def test_negotiate_without_common_dialect() -> None:
    pair = Pair(make_context(make_config(dialects=(0x0311,))), dialects=[Dialect.SMB202])
    rsp = await pair.negotiate()
    assert rsp.status == S.STATUS_NOT_SUPPORTED and not pair.client.negotiated


async def test_second_negotiate_drops_the_connection(pair: Pair) -> None:
    await pair.negotiate()
    pair.client.negotiated = False  # make the client send it anyway
    pair.client.negotiate()
    with pytest.raises(Dropped):
        await pair.flush()


# -- SMB1 multi-protocol NEGOTIATE ----------------------------------------------------------------------

async def test_smb1_multiprotocol_negotiate_answers_wildcard() -> None:
    pair = Pair()
    pair.client.smb1_negotiate(("NT LM 0.12", "SMB 2.002", "SMB 2.???"))
    [rsp] = await pair.flush()
    neg = body_of(rsp, NegotiateResponse.decode)
    assert (rsp.command, rsp.status, rsp.message_id) == (Command.NEGOTIATE, S.STATUS_SUCCESS, 0)
    assert neg.dialect == Dialect.WILDCARD and not pair.client.negotiated
    # MS-SMB2 3.2.5.2: an SMB2 NEGOTIATE follows, with MessageId 1.
    mid = pair.client.negotiate()
    assert mid == 1
    [rsp] = await pair.flush()
    assert rsp.status == S.STATUS_SUCCESS and pair.client.dialect == Dialect.SMB311
    assert pair.client.preauth.value == pair.server.preauth.value  # type: ignore[union-attr]
    await pair.login(**user())
    assert (await pair.one(echo())).signed


async def test_smb1_negotiate_smb2002_only() -> None:
    pair = Pair()
    pair.client.smb1_negotiate(("NT LM 0.12", "SMB 2.002"))
    [rsp] = await pair.flush()
    assert body_of(rsp, NegotiateResponse.decode).dialect == Dialect.SMB202
    assert pair.client.negotiated and pair.client.dialect == Dialect.SMB202
    await pair.login()
    assert (await pair.one(echo())).status == S.STATUS_SUCCESS


async def test_smb1_only_negotiate_is_refused_and_closed() -> None:
    pair = Pair()
    pair.client.smb1_negotiate(("PC NETWORK PROGRAM 1.0", "NT LM 0.12"))
    [rsp] = await pair.flush()
    assert rsp.status == S.STATUS_NOT_SUPPORTED
    raw = rsp.message
    assert raw[:4] == b"\xffSMB" and raw[4] == 0x72 and raw[13] & 0x80  # an SMB1 reply
    word_count, dialect_index = struct.unpack_from("<BH", raw, 32)
    assert (word_count, dialect_index) == (1, 0xFFFF)  # MS-CIFS 2.2.4.52.2: no dialect
    assert pair.server.close_after_send


# -- SESSION_SETUP ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dialect", DIALECTS, ids=IDS)
async def test_anonymous_session(dialect: int, events: list) -> None:
    pair = Pair(make_context(events=events), dialects=[dialect])
    await pair.negotiate()
    final = await pair.login()
    session = pair.client.session
    assert session is not None and session.is_null and not session.is_guest
    assert session.session_flags == 0  # Windows: neither IS_NULL nor IS_GUEST
    assert not final.flags & HeaderFlags.SIGNED  # no key to sign with
    assert not session.signing and not session.encrypt
    logon = [f for e, f in events if e == "logon"]
    assert len(logon) == 1 and logon[0]["anonymous"] and logon[0]["user"] == "ANONYMOUS LOGON"
    assert (await pair.one(echo())).status == S.STATUS_SUCCESS


async def test_anonymous_session_flag_null_is_configurable() -> None:
    pair = Pair(make_context(make_config(anonymous_session_flag="null")))
    await pair.negotiate()
    await pair.login()
    assert pair.client.session.session_flags == SessionFlags.IS_NULL  # type: ignore[union-attr]


@pytest.mark.parametrize("dialect", DIALECTS, ids=IDS)
async def test_user_session_signs(dialect: int) -> None:
    pair = Pair(dialects=[dialect])
    await pair.negotiate()
    final = await pair.login(**user())
    session = pair.client.session
    assert session is not None and session.session_flags == 0 and session.signing
    assert final.flags & HeaderFlags.SIGNED  # verified by session_setup_step
    server_session = pair.server.sessions[session.session_id]
    assert server_session.keys.signing_key == session.keys.signing_key  # type: ignore[union-attr]
    for rsp in (await pair.one(echo()), await pair.one(tree_connect("public"))):
        assert rsp.status == S.STATUS_SUCCESS and rsp.signed  # signed and verified


@pytest.mark.parametrize("algorithm", [crypto.SIGNING_AES_GMAC, crypto.SIGNING_AES_CMAC], ids=["GMAC", "CMAC"])
async def test_311_signing_algorithm(algorithm: int) -> None:
    pair = Pair(dialects=[Dialect.SMB311], signing_algorithms=[algorithm])
    await pair.negotiate()
    assert pair.client.signing_algorithm == pair.server.neg.signing_algorithm == algorithm
    await pair.login(**user())
    tid = (await pair.one(tree_connect("public"))).tree_id
    fid = await open_file(pair, tid, "hello.txt")
    rsp = await pair.one(read(tid, fid))
    assert rsp.signed and bytes(body_of(rsp, decode_read_response)) == HELLO


async def test_311_without_signing_context_uses_cmac() -> None:
    pair = Pair(dialects=[Dialect.SMB311], signing_algorithms=[])
    await pair.negotiate()
    assert pair.client.signing_algorithm == pair.server.neg.signing_algorithm == crypto.SIGNING_AES_CMAC
    await pair.login(**user())
    assert (await pair.one(echo())).signed


async def test_login_with_nt_hash() -> None:
    pair = Pair()
    await pair.negotiate()
    await pair.login(user=ALICE, nt_hash=nt_hash(ALICE_PASSWORD))
    assert pair.client.session.signing  # type: ignore[union-attr]
    assert (await pair.one(echo())).signed


async def test_wrong_password_is_logon_failure(events: list) -> None:
    pair = Pair(make_context(events=events))
    await pair.negotiate()
    with pytest.raises(SmbClientError) as info:
        await pair.login(user=ALICE, password="wrong")
    assert info.value.status == S.STATUS_LOGON_FAILURE
    assert pair.server.sessions == {} and pair.client.sessions == {}
    failed = [f for e, f in events if e == "logon_failed"]
    assert failed[0]["sub_status"] == "STATUS_WRONG_PASSWORD"
    await pair.login(**user())  # the connection stays usable
    assert (await pair.one(echo())).signed


async def test_unknown_user_without_guest_mapping() -> None:
    pair = Pair()
    await pair.negotiate()
    with pytest.raises(SmbClientError) as info:
        await pair.login(user="mallory", password="x")
    assert info.value.status == S.STATUS_LOGON_FAILURE


async def test_guest_mapping_gives_is_guest() -> None:
    pair = Pair(make_context(make_config(map_to_guest="bad_user")))
    await pair.negotiate()
    final = await pair.login(user="mallory", password="whatever")
    session = pair.client.session
    assert session is not None and session.session_flags == SessionFlags.IS_GUEST and session.is_guest
    assert not final.flags & HeaderFlags.SIGNED and not session.signing
    # Guests are not anonymous: the private share's "Everyone = read" admits them.
    assert (await pair.one(tree_connect("private"))).status == S.STATUS_SUCCESS
    # A known user with a wrong password is still refused (not mapped to guest).
    pair = Pair(make_context(make_config(map_to_guest="bad_user")))
    await pair.negotiate()
    with pytest.raises(SmbClientError) as info:
        await pair.login(user=ALICE, password="wrong")
    assert info.value.status == S.STATUS_LOGON_FAILURE


async def test_tampered_negotiate_response_is_caught_by_preauth_integrity() -> None:
    """A man in the middle who edits the NEGOTIATE response (here: one salt byte) leaves the
    two pre-auth hashes different, so the signed final SESSION_SETUP response fails."""
    pair = Pair(dialects=[Dialect.SMB311])
    pair.client.negotiate()
    data = pair.client.data_to_send()
    reply = bytearray(await pair.server_handle(data[4:]))
    salt_at = reply.find(b"\x01\x00\x26\x00") + 8 + 6  # preauth context: type 1, 38 bytes
    reply[salt_at] ^= 0xFF
    pair.client.receive_data(bytes(reply))
    assert pair.client.negotiated
    with pytest.raises(ClientProtocolError, match="bad signature"):
        await pair.login(**user())


async def test_unsigned_tree_connect_of_311_user_session_drops() -> None:
    pair = Pair(dialects=[Dialect.SMB311])
    await pair.negotiate()
    await pair.login(**user(sign=False))
    with pytest.raises(Dropped, match="unsigned TREE_CONNECT"):
        await pair.call(tree_connect("public"), sign=False)


async def test_signing_required_by_client_is_required_by_server() -> None:
    pair = Pair(dialects=[Dialect.SMB210], signing_required=True)
    await pair.negotiate()
    await pair.login(**user(sign=False))
    assert pair.client.session.signing  # type: ignore[union-attr]
    rsp = await pair.one(echo(), sign=False)
    assert rsp.status == S.STATUS_ACCESS_DENIED


async def test_wrong_signature_is_access_denied() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    pair.client.send(echo())
    data = bytearray(pair.client.data_to_send())
    data[4 + 48] ^= 0x01  # first signature byte
    [rsp] = pair.client.receive_data(await pair.server_handle(bytes(data[4:])))
    assert rsp.status == S.STATUS_ACCESS_DENIED
    assert (await pair.one(echo())).signed  # the connection survives
    assert tid


async def test_client_rejects_a_tampered_signed_response() -> None:
    pair = Pair()
    await connected(pair, **user())
    pair.client.send(echo())
    reply = bytearray(await pair.server_handle(pair.client.data_to_send()[4:]))
    reply[4 + 64 + 2] ^= 0x01  # the ECHO body's Reserved field
    with pytest.raises(ClientProtocolError, match="bad signature"):
        pair.client.receive_data(bytes(reply))


# -- encryption --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dialect,cipher", [
    (Dialect.SMB311, crypto.AES_128_GCM),
    (Dialect.SMB311, crypto.AES_128_CCM),
    (Dialect.SMB300, crypto.AES_128_CCM),
    (Dialect.SMB302, crypto.AES_128_CCM),
], ids=["3.1.1-GCM", "3.1.1-CCM", "3.0-CCM", "3.0.2-CCM"])
async def test_client_requested_encryption(dialect: int, cipher: int) -> None:
    pair = Pair(dialects=[dialect], ciphers=[cipher])
    await pair.negotiate()
    assert pair.client.cipher == pair.server.neg.cipher == cipher
    await pair.login(**user(encrypt=True))
    rsp = await pair.one(tree_connect("public"))
    assert rsp.encrypted and rsp.status == S.STATUS_SUCCESS
    tid = rsp.tree_id
    fid = await open_file(pair, tid, "secret.bin", access=GENERIC_RW, disposition=CREATE)
    wrote = await pair.one(write(tid, fid, b"top secret" * 100))
    assert wrote.encrypted and body_of(wrote, decode_write_response) == 1000
    got = await pair.one(read(tid, fid))
    assert got.encrypted and bytes(body_of(got, decode_read_response)) == b"top secret" * 100
    assert pair.sent_pdus[-1][:4] == b"\xfdSMB"  # requests went out transformed too
    assert b"top secret" not in b"".join(pair.sent_pdus)


async def test_server_required_encryption_30() -> None:
    pair = Pair(make_context(make_config(encryption="desired")), dialects=[Dialect.SMB300])
    await pair.negotiate()
    await pair.login(**user())
    session = pair.client.session
    assert session is not None and session.session_flags & SessionFlags.ENCRYPT_DATA and session.encrypt
    rsp = await pair.one(tree_connect("public"))
    assert rsp.encrypted and rsp.status == S.STATUS_SUCCESS
    # An unencrypted request on that session is refused.
    assert (await pair.one(echo(), encrypt=False)).status == S.STATUS_ACCESS_DENIED


async def test_server_required_encryption_311() -> None:
    """The final 3.1.1 SESSION_SETUP response is signed even on an encrypting session: that
    signature is what authenticates the pre-auth integrity hash (MS-SMB2 3.2.5.3.1)."""
    pair = Pair(make_context(make_config(encryption="desired")), dialects=[Dialect.SMB311])
    await pair.negotiate()
    final = await pair.login(**user())
    assert final.flags & HeaderFlags.SIGNED and not final.encrypted
    assert pair.client.session.encrypt  # type: ignore[union-attr]
    assert (await pair.one(tree_connect("public"))).encrypted


async def test_encryption_required_refuses_anonymous() -> None:
    pair = Pair(make_context(make_config(encryption="required")), dialects=[Dialect.SMB311])
    await pair.negotiate()
    with pytest.raises(SmbClientError) as info:
        await pair.login()
    assert info.value.status == S.STATUS_ACCESS_DENIED


async def test_encrypt_needs_a_cipher() -> None:
    pair = Pair(dialects=[Dialect.SMB210])
    await pair.negotiate()
    with pytest.raises(ValueError):
        pair.client.session_setup(user=ALICE, password=ALICE_PASSWORD, encrypt=True)


# -- TREE_CONNECT -----------------------------------------------------------------------------------

@pytest.mark.parametrize("login", [{}, user()], ids=["anonymous", "alice"])
async def test_tree_connect_public_ipc_unknown(login: dict) -> None:
    pair = Pair()
    await pair.negotiate()
    await pair.login(**login)
    public = await pair.one(tree_connect("public"))
    assert public.status == S.STATUS_SUCCESS and public.tree_id
    assert body_of(public, TreeConnectResponse.decode).share_type == ShareType.DISK
    ipc = await pair.one(tree_connect("IPC$"))
    assert ipc.status == S.STATUS_SUCCESS and ipc.tree_id not in (0, public.tree_id)
    assert body_of(ipc, TreeConnectResponse.decode).share_type == ShareType.PIPE
    missing = await pair.one(tree_connect("nosuchshare"))
    assert missing.status == S.STATUS_BAD_NETWORK_NAME and not missing.ok
    assert missing.message[HEADER_SIZE:] == b"\x09\x00\x00\x00\x00\x00\x00\x00\x00"  # SMB2 ERROR
    assert missing.error_data() == b""
    with pytest.raises(SmbClientError, match="STATUS_BAD_NETWORK_NAME on TREE_CONNECT"):
        missing.raise_for_status()


async def test_anonymous_refused_share_not_in_null_session_shares(events: list) -> None:
    pair = Pair(make_context(events=events))
    await pair.negotiate()
    await pair.login()
    rsp = await pair.one(tree_connect("private"))
    assert rsp.status == S.STATUS_ACCESS_DENIED
    denied = [f for e, f in events if e == "share_access" and f["outcome"] == "failure"]
    assert denied[-1]["rule"] == "NullSessionShares" and denied[-1]["anonymous"]
    # The same share is fine for a user.
    pair = Pair()
    await connected(pair, "private", **user())


async def test_restrict_anonymous_2_refuses_ipc() -> None:
    policy = PolicySettings(NullSessionShares=("public",), RestrictAnonymous=2)
    pair = Pair(make_context(make_config(policy=policy)))
    await pair.negotiate()
    await pair.login()
    assert (await pair.one(tree_connect("IPC$"))).status == S.STATUS_ACCESS_DENIED


async def test_tree_disconnect_then_use(pair: Pair) -> None:
    tid = await connected(pair)
    rsp = await pair.one(Outgoing(Command.TREE_DISCONNECT, simple_body(), tree_id=tid))
    assert rsp.status == S.STATUS_SUCCESS
    assert (await pair.one(create(tid, "hello.txt"))).status == S.STATUS_NETWORK_NAME_DELETED


# -- files ------------------------------------------------------------------------------------------

async def test_create_write_read_close() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    fid = await open_file(pair, tid, "docs\\new.txt", access=GENERIC_RW, disposition=CREATE)
    payload = bytes(range(256)) * 300  # 76800 bytes: two credits on 2.1+
    assert (await pair.one(write(tid, fid, payload))).raise_for_status().signed
    rsp = await pair.one(read(tid, fid, len(payload)))
    assert bytes(body_of(rsp, decode_read_response)) == payload
    tail = await pair.one(read(tid, fid, 100, offset=len(payload) - 10))
    assert bytes(body_of(tail, decode_read_response)) == payload[-10:]
    assert (await pair.one(read(tid, fid, 10, offset=len(payload)))).status == S.STATUS_END_OF_FILE
    assert (await pair.one(close(tid, fid))).status == S.STATUS_SUCCESS
    assert (await pair.one(read(tid, fid))).status == S.STATUS_FILE_CLOSED
    again = await open_file(pair, tid, "DOCS\\NEW.TXT")  # case-insensitive
    assert bytes(body_of(await pair.one(read(tid, again, 8)), decode_read_response)) == payload[:8]
    assert (await pair.one(create(tid, "docs\\new.txt", disposition=CREATE))).status == \
        S.STATUS_OBJECT_NAME_COLLISION


async def test_anonymous_cannot_write(pair: Pair) -> None:
    tid = await connected(pair)
    assert (await pair.one(create(tid, "x.txt", access=GENERIC_RW, disposition=CREATE))).status == \
        S.STATUS_ACCESS_DENIED
    fid = await open_file(pair, tid, "hello.txt")
    assert (await pair.one(write(tid, fid, b"no"))).status == S.STATUS_ACCESS_DENIED
    assert bytes(body_of(await pair.one(read(tid, fid)), decode_read_response)) == HELLO


async def test_query_directory(pair: Pair) -> None:
    tid = await connected(pair)
    fid = await open_file(pair, tid, "", access=0x00100081, options=1)  # the root directory
    body = QueryDirectoryRequest(FileInfoClass.FileDirectoryInformation, 0x01, 0, fid, "*", 65536).encode()
    rsp = (await pair.one(Outgoing(Command.QUERY_DIRECTORY, body, tree_id=tid, payload=65536))).raise_for_status()
    entries = parse_file_directory_information(body_of(rsp, decode_buffer_response))
    assert [(n, a & 0x10 != 0, s) for n, a, s in entries] == [
        (".", True, 0), ("..", True, 0), ("docs", True, 0), ("hello.txt", False, len(HELLO))]
    more = QueryDirectoryRequest(FileInfoClass.FileDirectoryInformation, 0, 0, fid, "*", 65536).encode()
    rsp = await pair.one(Outgoing(Command.QUERY_DIRECTORY, more, tree_id=tid, payload=65536))
    assert rsp.status == S.STATUS_NO_MORE_FILES
    pattern = QueryDirectoryRequest(FileInfoClass.FileDirectoryInformation, 0x01, 0, fid, "*.TXT", 65536)
    rsp = await pair.one(Outgoing(Command.QUERY_DIRECTORY, pattern.encode(), tree_id=tid, payload=65536))
    assert [e[0] for e in parse_file_directory_information(body_of(rsp, decode_buffer_response))] == ["hello.txt"]
    nothing = QueryDirectoryRequest(FileInfoClass.FileDirectoryInformation, 0x01, 0, fid, "*.exe", 65536)
    rsp = await pair.one(Outgoing(Command.QUERY_DIRECTORY, nothing.encode(), tree_id=tid, payload=65536))
    assert rsp.status == S.STATUS_NO_SUCH_FILE


# -- compounds -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("login", [{}, user()], ids=["anonymous", "signed"])
async def test_compound_create_read_close(login: dict) -> None:
    pair = Pair()
    tid = await connected(pair, **login)
    rsps = await pair.call(create(tid, "hello.txt"), read(0, FILE_ID_RELATED), close(0, FILE_ID_RELATED),
                           related=True)
    assert [(r.command, r.status) for r in rsps] == [
        (Command.CREATE, S.STATUS_SUCCESS), (Command.READ, S.STATUS_SUCCESS), (Command.CLOSE, S.STATUS_SUCCESS)]
    assert bytes(body_of(rsps[1], decode_read_response)) == HELLO
    assert all(r.flags & HeaderFlags.RELATED_OPERATIONS for r in rsps[1:])
    assert all(r.signed for r in rsps) == bool(login)  # each message signed on its own
    fid = body_of(rsps[0], CreateResponse.decode).file_id
    assert (await pair.one(read(tid, fid))).status == S.STATUS_FILE_CLOSED  # really closed


async def test_compound_with_failing_first_request() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    rsps = await pair.call(create(tid, "missing.txt"), read(0, FILE_ID_RELATED), close(0, FILE_ID_RELATED),
                           related=True)
    assert [r.status for r in rsps] == [S.STATUS_OBJECT_NAME_NOT_FOUND] * 3  # MS-SMB2 3.3.5.2.7.2


async def test_unrelated_compound() -> None:
    pair = Pair()
    tid = await connected(pair)
    rsps = await pair.call(echo(), create(tid, "missing.txt"), create(tid, "hello.txt"))
    assert [r.status for r in rsps] == [S.STATUS_SUCCESS, S.STATUS_OBJECT_NAME_NOT_FOUND, S.STATUS_SUCCESS]


async def test_encrypted_compound() -> None:
    pair = Pair(dialects=[Dialect.SMB311])
    await pair.negotiate()
    await pair.login(**user(encrypt=True))
    tid = (await pair.one(tree_connect("public"))).tree_id
    rsps = await pair.call(create(tid, "hello.txt"), read(0, FILE_ID_RELATED), close(0, FILE_ID_RELATED),
                           related=True)
    assert all(r.encrypted and r.status == S.STATUS_SUCCESS for r in rsps)
    assert bytes(body_of(rsps[1], decode_read_response)) == HELLO


# -- ECHO, LOGOFF -----------------------------------------------------------------------------------------

async def test_echo_before_session(pair: Pair) -> None:
    await pair.negotiate()
    rsp = await pair.one(echo())
    assert rsp.status == S.STATUS_SUCCESS and rsp.session_id == 0


async def test_logoff(events: list) -> None:
    pair = Pair(make_context(events=events))
    tid = await connected(pair, **user())
    sid = pair.client.session.session_id  # type: ignore[union-attr]
    fid = await open_file(pair, tid, "hello.txt")
    rsp = await pair.one(Outgoing(Command.LOGOFF, simple_body()))
    assert rsp.status == S.STATUS_SUCCESS and rsp.signed
    assert pair.client.session is None and sid not in pair.server.sessions
    assert [f["reason"] for e, f in events if e == "logoff"] == ["client"]
    rsp = await pair.one(dataclasses.replace(read(tid, fid), session_id=sid), sign=False)
    assert rsp.status == S.STATUS_USER_SESSION_DELETED


async def test_request_before_session_setup(pair: Pair) -> None:
    await pair.negotiate()
    rsp = await pair.one(tree_connect("public"))
    assert rsp.status == S.STATUS_USER_SESSION_DELETED


# -- MessageIds and credits ---------------------------------------------------------------------------

async def test_reused_message_id_drops_the_connection(pair: Pair) -> None:
    await connected(pair)
    pair.client.send(echo())
    data = pair.client.data_to_send()
    pair.client.receive_data(await pair.server_handle(data[4:]))
    with pytest.raises(Dropped, match="MessageId"):
        await pair.server_handle(data[4:])  # the same MessageId again (MS-SMB2 3.3.5.2.3)


async def test_message_id_beyond_the_window_drops(pair: Pair) -> None:
    await pair.negotiate()
    pair.client.next_message_id += 10_000
    pair.client.send(echo())
    with pytest.raises(Dropped):
        await pair.flush()


async def test_credit_grants(pair: Pair) -> None:
    await pair.negotiate()
    await pair.login()
    client = pair.client
    for asked in (1, 10, 100):
        client.credit_target = client.credits - 1 + asked  # ask for exactly `asked`
        rsp = await pair.one(echo())
        assert rsp.credits == asked
    client.credit_target = 100_000  # far beyond the cap
    rsp = await pair.one(echo())
    assert 1 <= rsp.credits <= MAX_CREDITS and rsp.credits < 0xFFFF
    assert client.credits == pair.server.credits.outstanding <= MAX_CREDITS
    rsp = await pair.one(echo())  # at the cap: the request's own credit comes back
    assert rsp.credits == 1 and client.credits == MAX_CREDITS


async def test_zero_credit_request_still_gets_one(pair: Pair) -> None:
    await pair.negotiate()
    pair.client.credit_target = 0
    pair.client.credits = 1
    for _ in range(3):
        rsp = await pair.one(echo())
        assert rsp.credits >= 1
    assert pair.client.credits >= 1


async def test_large_request_is_charged_per_64k() -> None:
    pair = Pair(dialects=[Dialect.SMB210])
    tid = await connected(pair, **user())
    fid = await open_file(pair, tid, "big.bin", access=GENERIC_RW, disposition=CREATE)
    before = pair.client.next_message_id
    assert (await pair.one(write(tid, fid, bytes(200_000)))).status == S.STATUS_SUCCESS
    assert pair.client.next_message_id - before == 4  # CreditCharge 4 for 200,000 bytes
    # Under-charging is refused (MS-SMB2 3.3.5.2.5).
    pair.client.credit_charge = lambda payload: 1  # type: ignore[method-assign]
    assert (await pair.one(write(tid, fid, bytes(70_000)))).status == S.STATUS_INVALID_PARAMETER


async def test_client_runs_out_of_credits(pair: Pair) -> None:
    await pair.negotiate()
    pair.client.credits = 0
    with pytest.raises(NoCredits):
        pair.client.send(echo())


async def test_unknown_message_id_in_a_response_is_a_protocol_error(pair: Pair) -> None:
    await pair.negotiate()
    pair.client.send(echo())
    reply = await pair.server_handle(pair.client.data_to_send()[4:])
    pair.client.receive_data(reply)
    with pytest.raises(ClientProtocolError, match="not outstanding"):
        pair.client.receive_data(reply)  # the same response twice


# -- SmbClient over an in-memory stream ------------------------------------------------------------------

async def test_smb_client_end_to_end(events: list) -> None:
    context = make_context(events=events)
    reader, writer = loopback_streams(context)
    client = await SmbClient.from_streams(reader, writer, server_name="nullsmb", timeout=5)
    assert client.dialect == Dialect.SMB311
    info = await client.login(ALICE, ALICE_PASSWORD)
    assert info.signing and not info.is_guest and not info.is_null
    tid = await client.tree_connect("public")
    assert sorted(await client.list_dir(tid)) == [("docs", 0x10, 0), ("hello.txt", 0x20, len(HELLO))]
    assert await client.list_dir(tid, "docs", "*.md") == [("readme.md", 0x20, 7)]
    fid = await client.create(tid, "out.bin", access=GENERIC_RW, disposition=OVERWRITE_IF)
    data = bytes(range(256)) * 1000
    assert await client.write(tid, fid, 0, data) == len(data)
    assert await client.read(tid, fid, 0, len(data)) == data
    assert await client.read(tid, fid, len(data), 10) == b""
    std = await client.query_info(tid, fid)  # FileStandardInformation
    assert struct.unpack_from("<Q", std, 8)[0] == len(data)
    await client.close(tid, fid)
    with pytest.raises(SmbClientError) as info_:
        await client.close(tid, fid)
    assert info_.value.status == S.STATUS_FILE_CLOSED and info_.value.command == Command.CLOSE
    results = await asyncio.gather(*(client.echo() for _ in range(20)))  # concurrent requests
    assert results == [None] * 20
    ipc = await client.tree_connect("IPC$")
    with pytest.raises(SmbClientError) as info_:
        await client.create(ipc, "srvsvc")  # no pipe factory in these tests
    assert info_.value.status == S.STATUS_OBJECT_NAME_NOT_FOUND
    with pytest.raises(SmbClientError) as info_:
        await client.tree_connect("nosuchshare")
    assert info_.value.status == S.STATUS_BAD_NETWORK_NAME
    await client.logoff()
    await client.disconnect()
    assert [e for e, _ in events].count("logoff") == 1


async def test_smb_client_anonymous_and_dropped_connection() -> None:
    reader, writer = loopback_streams(make_context())
    client = await SmbClient.from_streams(reader, writer, dialects=[Dialect.SMB302], timeout=5)
    info = await client.login()
    assert info.is_null and not info.signing and info.session_flags == 0
    tid = await client.tree_connect("public")
    fid = await client.create(tid, "hello.txt")
    assert await client.read(tid, fid) == HELLO
    with pytest.raises(SmbClientError) as err:
        await client.tree_connect("private")
    assert err.value.status == S.STATUS_ACCESS_DENIED
    # A reused MessageId makes the server drop the connection: pending calls fail at once.
    client.connection.next_message_id -= 1
    with pytest.raises(ConnectionError):
        await client.echo()
    assert writer.dropped is not None and "MessageId" in writer.dropped
    with pytest.raises(ConnectionError):
        await client.echo()
    await client.disconnect()


async def test_smb_client_wrong_password() -> None:
    reader, writer = loopback_streams(make_context())
    async with await SmbClient.from_streams(reader, writer, timeout=5) as client:
        with pytest.raises(SmbClientError) as err:
            await client.login(ALICE, "nope")
        assert err.value.status == S.STATUS_LOGON_FAILURE
        assert "STATUS_LOGON_FAILURE on SESSION_SETUP" in str(err.value)
        assert (await client.login(ALICE, ALICE_PASSWORD)).signing


# -- regressions: server bugs found while writing these tests, now fixed ----------

async def _reauthenticate(pair: Pair, password: str) -> Response:
    """Re-authenticate the current session (MS-SMB2 3.3.5.5: SESSION_SETUP on a valid SessionId)
    as alice; responses are read raw, since the server may sign them with keys we lack."""
    from nullsmb.auth.ntlmssp import NtlmInitiator
    from nullsmb.auth.spnego import SpnegoInitiator
    from nullsmb.wire.session_setup import SessionSetupRequest, SessionSetupResponse

    session = pair.client.session
    assert session is not None
    spnego = SpnegoInitiator(NtlmInitiator(user=ALICE, password=password, client_challenge=b"c" * 8,
                                           exported_session_key=b"k" * 16))
    token = spnego.initial()
    while True:
        pair.client.send(Outgoing(Command.SESSION_SETUP, SessionSetupRequest(0, 1, 0, 0, token).encode(),
                                  session_id=session.session_id), sign=True)
        reply = await pair.server_handle(pair.client.data_to_send()[4:])
        msg = reply[4:]
        pair.client._pending.clear()  # answered here, not by the client's checks
        pair.client.credits += int.from_bytes(msg[14:16], "little")
        status = int.from_bytes(msg[8:12], "little")
        rsp = Response(Command.SESSION_SETUP, status, 0, session.session_id, 0,
                       int.from_bytes(msg[16:20], "little"), 0, bytes(msg))
        if status != S.STATUS_MORE_PROCESSING_REQUIRED:
            return rsp
        token = spnego.step(body_of(rsp, SessionSetupResponse.decode).token)


@pytest.mark.parametrize("dialect", [Dialect.SMB302, Dialect.SMB311], ids=["3.0.2", "3.1.1"])
async def test_encrypted_request_cannot_borrow_another_sessions_key(dialect: int) -> None:
    pair = Pair(make_context(make_config(signing="required")), dialects=[dialect])
    await pair.negotiate()
    await pair.login(**user())
    alice = pair.client.session
    tid = (await pair.one(tree_connect("public"))).tree_id
    await pair.login()  # the intruder's anonymous session on the same connection
    anon = pair.client.session
    assert alice is not None and anon is not None and anon.keys is not None
    mid = pair.client.next_message_id
    pair.client.next_message_id += 1
    header = bytes(pack_header(command=Command.CREATE, status=0, message_id=mid, session_id=alice.session_id,
                               tree_id=tid, credits=1, flags=0))
    body = CreateRequest(0, 2, GENERIC_RW, 0, 7, CREATE, 0, "planted.txt", ()).encode()
    pdu = crypto.encrypt_message(pair.client.cipher, anon.keys.server_in_key, anon.session_id, [header + body],
                                 bytes(crypto.nonce_size(pair.client.cipher)))
    try:
        reply = await pair.server_handle(pdu)
    except Dropped:
        return  # disconnecting is a correct answer
    plain = crypto.decrypt_message(pair.client.cipher, anon.keys.server_out_key, reply[4:])
    assert int.from_bytes(plain[8:12], "little") != S.STATUS_SUCCESS, "the planted CREATE ran as alice"


async def test_related_request_after_tree_disconnect() -> None:
    pair = Pair()
    tid = await connected(pair, **user())
    rsps = await pair.call(Outgoing(Command.TREE_DISCONNECT, simple_body(), tree_id=tid),
                           create(tid, "after.txt", access=GENERIC_RW, disposition=CREATE), related=True)
    assert rsps[0].status == S.STATUS_SUCCESS
    assert rsps[1].status == S.STATUS_NETWORK_NAME_DELETED
    session = pair.server.sessions[pair.client.session.session_id]  # type: ignore[union-attr]
    assert len(session.open_table) == 0


async def test_reauthentication_keeps_keys(events: list) -> None:
    pair = Pair(make_context(events=events), dialects=[Dialect.SMB302])
    await pair.negotiate()
    await pair.login(**user())
    final = await _reauthenticate(pair, ALICE_PASSWORD)
    assert final.status == S.STATUS_SUCCESS
    rsp = await pair.one(echo())  # signed with the keys of the original logon
    assert rsp.status == S.STATUS_SUCCESS and rsp.signed
    assert [e for e, _ in events].count("logon") == 1


async def test_failed_reauthentication_closes_the_sessions_opens(events: list) -> None:
    pair = Pair(make_context(events=events), dialects=[Dialect.SMB302])
    tid = await connected(pair, **user())
    await open_file(pair, tid, "hello.txt")
    sid = pair.client.session.session_id  # type: ignore[union-attr]
    server_session = pair.server.sessions[sid]
    [op] = list(server_session.open_table)
    final = await _reauthenticate(pair, "wrong password")
    assert final.status == S.STATUS_LOGON_FAILURE
    if sid not in pair.server.sessions:  # the session was torn down: its handles must be too
        assert op.handle.closed and len(server_session.open_table) == 0
        assert "logoff" in [e for e, _ in events]


@pytest.mark.parametrize("buffer", [struct.pack("<B7sQI", 1, b"", 0, 3) + b"abc", b"\x01" * 10],
                         ids=["odd-name-length", "short-buffer"])
async def test_bad_rename_buffer_fails_the_request_only(buffer: bytes) -> None:
    from nullsmb.wire.info import SetInfoRequest

    pair = Pair(dialects=[Dialect.SMB302])
    tid = await connected(pair, **user())
    fid = await open_file(pair, tid, "hello.txt", access=0x001F01FF)
    rsp = await pair.one(Outgoing(Command.SET_INFO, SetInfoRequest(1, 10, buffer, 0, fid).encode(), tree_id=tid))
    assert rsp.status in (S.STATUS_INVALID_PARAMETER, S.STATUS_INFO_LENGTH_MISMATCH)
