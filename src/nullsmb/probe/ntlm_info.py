"""What the NTLM CHALLENGE tells about a server before any logon (sans-I/O).

The first SESSION_SETUP leg carries an NTLM NEGOTIATE_MESSAGE (in SPNEGO, MS-SPNG 3.1.5); the
server's STATUS_MORE_PROCESSING_REQUIRED answer carries its CHALLENGE_MESSAGE (MS-NLMP
2.2.1.2), whose TargetInfo AV_PAIRs name the computer and domain in NetBIOS and DNS form
(MS-NLMP 2.2.2.1) and whose VERSION field gives the OS version (MS-NLMP 2.2.2.10). This works
whatever the server later decides about the logon, which is why enumeration tools start with it.

Rules:
1. The token is parsed with the same bounded codecs as the server's (auth.spnego,
   auth.ntlmssp); a malformed token is an Outcome (failed, kind "protocol"), never an exception.
2. Names are decoded as UTF-16LE with replacement; an AV_PAIR that is absent is None.
3. The request is built from ``auth`` public classes with injected randomness; nothing here
   sends or receives.
"""

from __future__ import annotations

from ..auth.ntlmssp import AvId, ChallengeMessage, NtlmInitiator
from ..auth.spnego import NTLMSSP_SIGNATURE, NegTokenResp, SpnegoInitiator, decode_token
from ..status import MalformedMessage
from .evidence import NtlmInfo, Outcome, Result

__all__ = ["challenge_request_token", "parse_challenge"]


def challenge_request_token(random_bytes) -> bytes:  # type: ignore[no-untyped-def]
    """The SPNEGO NegTokenInit with an NTLM NEGOTIATE_MESSAGE (an anonymous initiator: it is
    never completed, so no credentials are involved)."""
    ntlm = NtlmInitiator(user="", client_challenge=random_bytes(8), exported_session_key=random_bytes(16))
    return SpnegoInitiator(ntlm).initial()


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw.decode("utf-16-le", "replace")


def parse_challenge(token: bytes, status: Outcome) -> NtlmInfo:
    """The SESSION_SETUP response's security token → ``NtlmInfo``. ``status`` is the outcome
    of the SESSION_SETUP itself (MORE_PROCESSING_REQUIRED is the expected, successful one)."""
    if not token:
        return NtlmInfo(Outcome(Result.FAILED, status.status, status.code, status.kind,
                                "no security token in the SESSION_SETUP response"))
    try:
        raw = bytes(token)
        if not raw.startswith(NTLMSSP_SIGNATURE):
            msg = decode_token(raw)
            if not isinstance(msg, NegTokenResp) or not msg.response_token:
                raise MalformedMessage("SPNEGO answer without an NTLM token")
            raw = bytes(msg.response_token)
        chal = ChallengeMessage.decode(raw)
    except MalformedMessage as exc:
        return NtlmInfo(Outcome(Result.FAILED, None, None, "protocol", f"bad CHALLENGE_MESSAGE: {exc}"))
    pairs = dict(chal.target_info)
    version = None
    if chal.version is not None:
        version = f"{chal.version.major}.{chal.version.minor} build {chal.version.build}"
    return NtlmInfo(
        Outcome(Result.OK, status.status, status.code, status.kind, "NTLM CHALLENGE_MESSAGE"),
        target_name=chal.target_name or None,
        netbios_computer=_text(pairs.get(AvId.NB_COMPUTER_NAME)),
        netbios_domain=_text(pairs.get(AvId.NB_DOMAIN_NAME)),
        dns_computer=_text(pairs.get(AvId.DNS_COMPUTER_NAME)),
        dns_domain=_text(pairs.get(AvId.DNS_DOMAIN_NAME)),
        dns_tree=_text(pairs.get(AvId.DNS_TREE_NAME)),
        os_version=version,
    )
