"""SESSION_SETUP (MS-SMB2 3.3.5.5) and LOGOFF (3.3.5.6).

Rules (design.md §4, null-sessions.md §1.3-1.4):
1. Anonymous sessions get SessionFlags 0 (Windows; configurable to IS_NULL), guests IS_GUEST.
2. Keys are derived for every session, anonymous and guest included (a client may sign them),
   but signing is never required of them and the final response is signed for users only.
3. ``encryption = "required"`` refuses anonymous and guest sessions with ACCESS_DENIED.
4. 3.1.1: the session's preauth hash covers every SESSION_SETUP request and every response but
   the final one (MS-SMB2 3.3.5.5.3); keys are derived from it.
5. Re-authentication of a valid session keeps its keys (MS-SMB2 3.3.5.5.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...auth.ntlmssp import AuthFailure, NtlmAcceptor, PrincipalKind as AuthKind
from ...auth.spnego import SpnegoAcceptor
from ...policy.null_session import ANONYMOUS_SID, Principal, PrincipalKind
from ...status import MalformedMessage, NtStatus, SmbError
from ...wire.fscc import filetime
from ...wire.negotiate import DIALECT_NAMES, SecurityMode
from ...wire.session_setup import SESSION_BINDING, SessionFlags, SessionSetupRequest, SessionSetupResponse, simple_body
from .. import crypto
from ..context import Reply, RequestContext
from ..state import Session, SessionState

if TYPE_CHECKING:
    from ..connection import ServerConnection

_KIND = {AuthKind.ANONYMOUS: PrincipalKind.ANONYMOUS, AuthKind.GUEST: PrincipalKind.GUEST,
         AuthKind.USER: PrincipalKind.USER}


def _acceptor(conn: "ServerConnection") -> SpnegoAcceptor:
    cfg = conn.server.config.server
    ntlm = NtlmAcceptor(
        accounts=conn.server.accounts,
        netbios_name=cfg.netbios_name,
        domain=cfg.workgroup,
        dns_name=(cfg.netbios_name.lower() + ("." + cfg.dns_domain if cfg.dns_domain else "")),
        dns_domain=cfg.dns_domain or cfg.workgroup.lower(),
        map_to_guest_bad_user=cfg.map_to_guest == "bad_user",
        server_challenge=conn.server.random_bytes(8),
        now_filetime=filetime(int(conn.server.clock() * 1e9)),
    )
    return SpnegoAcceptor(ntlm)


def identity_fields(conn: "ServerConnection", session: Session) -> dict:
    """The common audit fields for a session's principal (design.md §5)."""
    result = session.result
    kind = session.principal.kind
    if kind is PrincipalKind.ANONYMOUS:
        user, domain, sid = "ANONYMOUS LOGON", "NT AUTHORITY", ANONYMOUS_SID
    else:
        user = result.user if result else session.principal.name
        domain = (result.domain if result and result.domain else conn.server.config.server.netbios_name)
        sid = ""
    return {
        "session_id": f"0x{session.session_id:016x}",
        "user": user,
        "domain": domain,
        "sid": sid,
        "anonymous": kind is PrincipalKind.ANONYMOUS,
        "guest": kind is PrincipalKind.GUEST,
        "client_ip": conn.peer[0],
        "client_port": conn.peer[1],
        "workstation": result.workstation if result else conn.workstation,
        "dialect": DIALECT_NAMES.get(conn.neg.dialect, ""),
    }


def block_key(principal: Principal, client_ip: str) -> tuple[str, str]:
    """The ``ServerContext.blocked`` key of a principal from an address."""
    who = principal.kind.value  # "anonymous", "guest" or "user"
    if principal.kind is PrincipalKind.USER:
        who += ":" + principal.name.casefold()
    return who, client_ip


def is_blocked(server, principal: Principal, client_ip: str) -> bool:
    """True while an administrator's block on this principal from this address lasts."""
    if not server.blocked:
        return False
    key = block_key(principal, client_ip)
    until = server.blocked.get(key)
    if until is not None and until <= server.clock():
        del server.blocked[key]  # expired
        until = None
    return until is not None


async def handle_session_setup(ctx: RequestContext, req: SessionSetupRequest) -> Reply:
    conn = ctx.conn
    server = conn.server
    if req.flags & SESSION_BINDING:
        _refuse_binding(ctx)
    session = ctx.session
    if session is None and server.audit_refusing():  # no new sessions while auditing fails
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "audit log unavailable")
    if session is None:
        session = Session(server.new_session_id(), created_at=server.clock())
        session.last_activity = session.created_at
        conn.sessions[session.session_id] = session
        server.sessions[session.session_id] = session
        ctx.session = session
    if session.auth is None:
        session.reauthenticating = session.state is SessionState.VALID
        session.auth = _acceptor(conn)
        if conn.preauth is not None and not session.reauthenticating:
            session.preauth = conn.preauth.copy()
    reauth = session.reauthenticating
    if session.preauth is not None and not reauth:
        session.preauth.update(ctx.message)
    try:
        token, result = session.auth.step(req.token)
    except AuthFailure as failure:
        _fail(conn, session, failure.status, failure.sub_status, failure.reason,
              user=failure.user, domain=failure.domain, workstation=failure.workstation, reauth=reauth)
        if reauth:  # a failed re-authentication ends the session (MS-SMB2 3.3.5.5.3)
            await destroy_session(conn, session, "reauth_failed")
        raise SmbError(failure.status) from None
    except MalformedMessage:
        _fail(conn, session, NtStatus.STATUS_INVALID_PARAMETER, 0, "malformed security token",
              reauth=reauth)
        if reauth:
            await destroy_session(conn, session, "reauth_failed")
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER) from None
    if result is not None and not reauth and req.previous_session_id not in (0, session.session_id):
        await _end_previous(server, session, result, req.previous_session_id)
    if result is None:
        if session.preauth is not None and not reauth:
            ctx.on_response = session.preauth.update
        return Reply.of(SessionSetupResponse(0, token).encode(), NtStatus.STATUS_MORE_PROCESSING_REQUIRED)
    return _complete(ctx, session, result, token, req, reauth)


def _refuse_binding(ctx: RequestContext) -> None:
    """MS-SMB2 3.3.5.5 step 4 without multichannel: every binding is refused, after the checks
    that decide which error a client sees (the order Windows and Samba follow). The answer is
    signed with the named session's key, as its client expects."""
    conn = ctx.conn
    session = ctx.session
    if session is None or session.conn is conn or session.state is not SessionState.VALID:
        raise SmbError(NtStatus.STATUS_REQUEST_NOT_ACCEPTED, "binding a session to its own connection")
    if not ctx.header.is_signed:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "unsigned binding")
    ctx.sign_response = True
    mine, theirs = conn.neg.signing_algorithm, session.signing_algorithm
    if conn.neg.dialect < 0x0300:
        mine = crypto.SIGNING_HMAC_SHA256
    if theirs >= crypto.SIGNING_AES_GMAC and mine != theirs:
        raise SmbError(NtStatus.STATUS_REQUEST_OUT_OF_SEQUENCE)
    if mine >= crypto.SIGNING_AES_GMAC and mine != theirs:
        raise SmbError(NtStatus.STATUS_NOT_SUPPORTED)
    if conn.neg.dialect < 0x0300:
        raise SmbError(NtStatus.STATUS_REQUEST_NOT_ACCEPTED, "binding needs SMB 3")
    if session.cipher != conn.neg.cipher or session.dialect != conn.neg.dialect:
        raise SmbError(NtStatus.STATUS_INVALID_PARAMETER, "binding across dialects or ciphers")
    raise SmbError(NtStatus.STATUS_REQUEST_NOT_ACCEPTED, "multichannel is not offered")


def _complete(ctx: RequestContext, session: Session, result, token: bytes,
              req: SessionSetupRequest, reauth: bool) -> Reply:
    conn = ctx.conn
    cfg = conn.server.config.server
    kind = _KIND[result.kind]
    account = result.account
    principal = Principal(kind, result.user, tuple(account.groups) if account else ())
    encryption = cfg.encryption
    can_encrypt = conn.neg.dialect >= 0x0300 and conn.neg.cipher != 0
    if encryption == "required" and (kind is not PrincipalKind.USER or not can_encrypt):
        _fail(conn, session, NtStatus.STATUS_ACCESS_DENIED, 0, "encryption required", result=result)
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    if is_blocked(conn.server, principal, conn.peer[0]):  # Server Manager's close --block
        _fail(conn, session, NtStatus.STATUS_ACCESS_DENIED, 0, "blocked by administrator",
              result=result, reauth=reauth)
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    session.result = result
    session.principal = principal
    session.auth = None
    session.reauthenticating = False
    if not reauth:
        session.conn = conn
        session.dialect = conn.neg.dialect
        session.signing_algorithm = (conn.neg.signing_algorithm if conn.neg.dialect >= 0x0300
                                     else crypto.SIGNING_HMAC_SHA256)
        session.cipher = conn.neg.cipher
    if not reauth or session.keys is None:
        session.keys = crypto.derive_session_keys(
            conn.neg.dialect, result.session_key,
            preauth_hash=session.preauth.value if session.preauth is not None else None,
            cipher=conn.neg.cipher,
        )
    flags = 0
    if kind is PrincipalKind.USER:
        session.signing_required = bool(
            cfg.signing == "required" or conn.neg.client_security_mode & SecurityMode.SIGNING_REQUIRED
        )
        if encryption in ("required", "desired") and can_encrypt:
            session.encrypt_data = True
            flags |= SessionFlags.ENCRYPT_DATA
    elif kind is PrincipalKind.GUEST:
        flags |= SessionFlags.IS_GUEST
    elif cfg.anonymous_session_flag == "null":
        flags |= SessionFlags.IS_NULL
    session.state = SessionState.VALID
    if result.workstation:
        conn.workstation = result.workstation
    ctx.sign_response = kind is PrincipalKind.USER and not ctx.encrypted
    if not reauth:
        conn.server.emit(
            "logon", event_id=4624, outcome="success", **identity_fields(conn, session),
            logon_type=3, auth_package="NTLM", lm_package=getattr(result, "lm_package", ""),
            signing=session.signing_required, encryption=session.encrypt_data,
        )
    return Reply.of(SessionSetupResponse(int(flags), token).encode())


def _fail(conn: "ServerConnection", session: Session, status: int, sub_status: int, reason: str,
          *, user: str = "", domain: str = "", workstation: str = "", result=None,
          reauth: bool = False) -> None:
    """A failed logon: audit 4625 and forget the half-made session (MS-SMB2 3.3.5.5.3)."""
    conn.server.emit(
        "logon_failed", event_id=4625, outcome="failure",
        session_id=f"0x{session.session_id:016x}",
        user=result.user if result else user, domain=result.domain if result else domain,
        sid="", anonymous=False, guest=False, client_ip=conn.peer[0], client_port=conn.peer[1],
        workstation=result.workstation if result else workstation,
        dialect=DIALECT_NAMES.get(conn.neg.dialect, ""),
        status=NtStatus.name_of(status), sub_status=NtStatus.name_of(sub_status) if sub_status else "",
        failure_reason=reason,
    )
    session.auth = None
    if not reauth:
        conn.sessions.pop(session.session_id, None)
        conn.server.sessions.pop(session.session_id, None)
        session.state = SessionState.EXPIRED


async def _end_previous(server, session: Session, result, previous_id: int) -> None:
    """MS-SMB2 3.3.5.5.3: PreviousSessionId names the client's earlier session (a reconnect);
    it is logged off when the same user owns it."""
    old = server.sessions.get(previous_id)
    if old is None or old is session or old.state is not SessionState.VALID or old.conn is None:
        return
    same = (old.result is not None and old.principal.kind is PrincipalKind.USER
            and old.result.user.casefold() == result.user.casefold()
            and (old.result.domain or "").casefold() == (result.domain or "").casefold())
    if same:
        await destroy_session(old.conn, old, "reconnect")


async def destroy_session(conn: "ServerConnection", session: Session, reason: str) -> None:
    """Close every open and tree of ``session`` and forget it (logoff, disconnect, admin)."""
    from .tree import disconnect_tree

    was_valid = session.state is SessionState.VALID
    keep = reason in ("disconnect", "reconnect", "client")  # durable opens outlive these
    for _tid, tree in session.tree_connect_table.items():
        await disconnect_tree(conn, session, tree, keep_durable=keep)
    for areq in list(conn.async_requests.values()):
        if areq.session is session:
            areq.cancel()
    session.state = SessionState.EXPIRED
    conn.sessions.pop(session.session_id, None)
    conn.server.sessions.pop(session.session_id, None)
    if was_valid:
        conn.server.emit(
            "logoff", event_id=4634, outcome="success", **identity_fields(conn, session),
            duration_s=round(conn.server.clock() - session.created_at, 3), reason=reason,
        )


async def handle_logoff(ctx: RequestContext, _req: None) -> Reply:
    session = ctx.session
    assert session is not None
    ctx.sign_response = bool(
        session.keys and session.keys.signing_key and (ctx.header.is_signed or session.signing_required)
        and not ctx.encrypted
    )
    await destroy_session(ctx.conn, session, "client")
    return Reply.of(simple_body())
