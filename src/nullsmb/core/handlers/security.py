"""Security descriptors of files and directories (MS-SMB2 3.3.5.20.3 and 3.3.5.21.3).

Rules:
1. nullsmb keeps no per-file ACLs on disk: a file's descriptor is synthesized from the share's
   access list (design.md §2): owner BUILTIN\\Administrators, group BUILTIN\\Users, and a DACL
   with one ACE per principal ("read", "change", "full" allow those rights; "deny" denies
   everything). Directory ACEs carry OBJECT_INHERIT|CONTAINER_INHERIT.
2. A descriptor set through SET_INFO is kept in memory with the file's entry (and answered
   until the last open of the file closes); it does not change who may do what: the share's
   access list still decides.
3. QUERY_INFO needs READ_CONTROL (SACL: ACCESS_SYSTEM_SECURITY, never granted); SET_INFO
   needs WRITE_DAC for the DACL and WRITE_OWNER for owner and group (ACCESS_DENIED otherwise).
4. An OutputBufferLength too small for the descriptor is STATUS_BUFFER_TOO_SMALL with the
   needed size as the 4-byte ErrorData (MS-SMB2 3.3.5.20.3), so a client can probe the size.
"""

from __future__ import annotations

import struct

from ...status import MalformedMessage, NtStatus, SmbError
from ...wire.create import AccessMask
from ...wire.security import (
    ACCESS_ALLOWED_ACE_TYPE,
    ACCESS_DENIED_ACE_TYPE,
    CONTAINER_INHERIT_ACE,
    DACL_SECURITY_INFORMATION,
    GROUP_SECURITY_INFORMATION,
    OBJECT_INHERIT_ACE,
    OWNER_SECURITY_INFORMATION,
    SACL_SECURITY_INFORMATION,
    Ace,
    SecurityDescriptor,
    decode_sd,
    encode_acl,
    encode_sd,
    sid_bytes,
)
from ..context import RequestContext, ServerContext
from ..state import Open, Share

ADMINISTRATORS = sid_bytes("S-1-5-32-544")
USERS = sid_bytes("S-1-5-32-545")
WELL_KNOWN = {
    "everyone": "S-1-1-0", "anonymous logon": "S-1-5-7", "authenticated users": "S-1-5-11",
    "administrators": "S-1-5-32-544", "users": "S-1-5-32-545", "guests": "S-1-5-32-546",
    "system": "S-1-5-18",
}
RIGHTS = {"read": 0x001200A9, "change": 0x001301BF, "full": 0x001F01FF}


def _principal_sid(server: ServerContext, name: str) -> bytes | None:
    text = WELL_KNOWN.get(name.casefold())
    if text is None and server.directory is not None:
        found = server.directory.lookup_name(name)
        text = str(found.sid) if found is not None else None
    return sid_bytes(text) if text else None


def share_descriptor(server: ServerContext, share: Share, *, container: bool = False) -> SecurityDescriptor:
    """Rule 1 for ``share``; also the share's own descriptor, which srvsvc returns at
    information levels 502 and 503 (MS-SRVS 2.2.4.26, 2.2.4.27)."""
    flags = OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE if container else 0
    aces = []
    for name, right in share.access:
        sid = _principal_sid(server, name)
        if sid is None:
            continue
        if right == "deny":
            aces.append(Ace(ACCESS_DENIED_ACE_TYPE, flags, 0x001F01FF, sid))
        elif right in RIGHTS:
            mask = RIGHTS["read"] if share.read_only else RIGHTS[right]
            aces.append(Ace(ACCESS_ALLOWED_ACE_TYPE, flags, mask, sid))
    aces.sort(key=lambda a: a.ace_type != ACCESS_DENIED_ACE_TYPE)  # deny ACEs first
    return SecurityDescriptor(0, ADMINISTRATORS, USERS, encode_acl(aces))


def synthesized(ctx: RequestContext, op: Open) -> SecurityDescriptor:
    """Rule 1."""
    return share_descriptor(ctx.server, op.tree.share, container=op.is_dir)


def query(ctx: RequestContext, op: Open, additional: int, limit: int) -> bytes:
    """Rules 3 and 4: the descriptor parts asked for, or BUFFER_TOO_SMALL."""
    if not op.granted_access & AccessMask.READ_CONTROL:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    if additional & SACL_SECURITY_INFORMATION:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "no SACL access")
    stored = op.file.security if op.file is not None else None
    sd = stored or synthesized(ctx, op)
    data = encode_sd(SecurityDescriptor(
        sd.control,
        sd.owner if additional & OWNER_SECURITY_INFORMATION else None,
        sd.group if additional & GROUP_SECURITY_INFORMATION else None,
        sd.dacl if additional & DACL_SECURITY_INFORMATION else None,
    ))
    if len(data) > limit:
        raise SmbError(NtStatus.STATUS_BUFFER_TOO_SMALL, error_data=struct.pack("<I", len(data)))
    return data


def set_security(ctx: RequestContext, op: Open, additional: int, buffer: bytes) -> None:
    """Rules 2 and 3."""
    if additional & DACL_SECURITY_INFORMATION and not op.granted_access & AccessMask.WRITE_DAC:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    if additional & (OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION) \
            and not op.granted_access & AccessMask.WRITE_OWNER:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED)
    if additional & SACL_SECURITY_INFORMATION:
        raise SmbError(NtStatus.STATUS_ACCESS_DENIED, "no SACL access")
    try:
        new = decode_sd(buffer)
    except MalformedMessage:
        raise SmbError(NtStatus.STATUS_INVALID_SECURITY_DESCR) from None
    if op.file is None:
        return
    old = op.file.security or synthesized(ctx, op)
    op.file.security = SecurityDescriptor(
        new.control if additional & DACL_SECURITY_INFORMATION else old.control,
        new.owner if additional & OWNER_SECURITY_INFORMATION and new.owner else old.owner,
        new.group if additional & GROUP_SECURITY_INFORMATION and new.group else old.group,
        new.dacl if additional & DACL_SECURITY_INFORMATION and new.dacl is not None else old.dacl,
    )
