"""How to close each exposure the probe reports: Windows, Samba and nullsmb, one table.

Rules:
1. Every finding kind has a row; a test checks that ``findings.RULES`` and ``FIXES`` match.
2. Windows: the registry value (with its key) and the Group Policy name as the Security
   Options page spells it (null-sessions.md §2.3). Samba: the smb.conf(5) option and section.
   nullsmb: the configuration key (design.md §2).
3. Where nothing can be configured the text says so and why, rather than inventing a setting.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FIXES", "Fix"]

_LANMAN = r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters"
_LSA = r"HKLM\SYSTEM\CurrentControlSet\Control\Lsa"


@dataclass(frozen=True, slots=True)
class Fix:
    windows: str
    samba: str
    nullsmb: str


_RA1 = Fix(
    windows=f'{_LSA}\\RestrictAnonymous = 1 (GPO "Network access: Do not allow anonymous enumeration of SAM '
            'accounts and shares" = Enabled)',
    samba="[global] restrict anonymous = 1",
    nullsmb="[policy] RestrictAnonymous = 1 (or remove \"srvsvc\" from [policy] NullSessionPipes)",
)
_SAM = Fix(
    windows=f'{_LSA}\\RestrictAnonymousSAM = 1 (GPO "Network access: Do not allow anonymous enumeration of SAM '
            f'accounts" = Enabled) and RestrictAnonymous = 1; remove samr from {_LANMAN}\\NullSessionPipes (GPO '
            '"Network access: Named Pipes that can be accessed anonymously"); on Windows 10 1607 / Server 2016 and '
            'later also "Network access: Restrict clients allowed to make remote calls to SAM"',
    samba="[global] restrict anonymous = 1",
    nullsmb="[policy] RestrictAnonymousSAM = 1 (the default) and remove \"samr\" from [policy] NullSessionPipes",
)
_LOOKUP = Fix(
    windows='GPO "Network access: Allow anonymous SID/Name translation" = Disabled (LSAAnonymousNameLookup = 0), '
            f'{_LSA}\\TurnOffAnonymousBlock = 0 (or absent), and remove lsarpc from {_LANMAN}\\NullSessionPipes',
    samba="[global] restrict anonymous = 2 (level 1 does not stop LSA lookups in Samba)",
    nullsmb="[policy] LSAAnonymousNameLookup = 0 (the default) or TurnOffAnonymousBlock = 0",
)
_LSA_INFO = Fix(
    windows=f'{_LSA}\\TurnOffAnonymousBlock = 0 (or absent) and RestrictAnonymous = 1 (GPO "Network access: Do '
            'not allow anonymous enumeration of SAM accounts and shares")',
    samba="[global] restrict anonymous = 2",
    nullsmb="[policy] RestrictAnonymous = 1 or TurnOffAnonymousBlock = 0 (the default)",
)
_SHARE_ANON = Fix(
    windows=f'remove the share from {_LANMAN}\\NullSessionShares (GPO "Network access: Shares that can be '
            f'accessed anonymously"), keep {_LANMAN}\\RestrictNullSessAccess = 1 (GPO "Network access: Restrict '
            'anonymous access to Named Pipes and Shares" = Enabled), remove ANONYMOUS LOGON from the share and '
            f'NTFS permissions and keep {_LSA}\\EveryoneIncludesAnonymous = 0',
    samba="[share] guest ok = no (and [global] map to guest = Never)",
    nullsmb="remove the share from [policy] NullSessionShares, or \"ANONYMOUS LOGON\" from shares.NAME.access",
)
_GUEST = Fix(
    windows='disable the Guest account (GPO "Accounts: Guest account status" = Disabled) so that unknown users '
            'fail to log on; remove Guest, Guests and Everyone from share permissions',
    samba="[global] map to guest = Never (the default); [share] guest ok = no",
    nullsmb='[server] map_to_guest = "never" (the default), or remove "Everyone"/"Guests" from shares.NAME.access',
)
_ADMIN_SHARE = Fix(
    windows=f"check the share permissions of the administrative share; {_LANMAN}\\RestrictNullSessAccess = 1 and "
            "no administrative share in NullSessionShares",
    samba="[share] guest ok = no on the share (administrative names are ordinary shares in Samba)",
    nullsmb="remove the share from [policy] NullSessionShares and \"ANONYMOUS LOGON\"/\"Everyone\" from its access",
)

FIXES: dict[str, Fix] = {
    "smb1-enabled": Fix(
        windows=f"Set-SmbServerConfiguration -EnableSMB1Protocol $false ({_LANMAN}\\SMB1 = 0; MS Security Guide "
                'GPO "Configure SMB v1 server" = Disabled), or remove the SMB1 feature',
        samba="[global] server min protocol = SMB2_02 (the default since Samba 4.11)",
        nullsmb="nothing to do: nullsmb speaks SMB 2/3 only",
    ),
    "signing-not-required": Fix(
        windows=f'{_LANMAN}\\RequireSecuritySignature = 1 (GPO "Microsoft network server: Digitally sign '
                'communications (always)" = Enabled)',
        samba="[global] server signing = mandatory",
        nullsmb='[server] signing = "required"',
    ),
    "ntlm-info": Fix(
        windows="none: every NTLM CHALLENGE carries the target names (MS-NLMP 2.2.1.2); only Kerberos-only "
                "servers avoid it",
        samba="none for NTLM; the names come from [global] netbios name and workgroup",
        nullsmb="none; the names come from [server] netbios_name and workgroup",
    ),
    "null-session": Fix(
        windows="Windows always accepts the logon itself (KB3034016); limit what it reaches with RestrictAnonymous, "
                "RestrictAnonymousSAM, RestrictNullSessAccess, NullSessionPipes and NullSessionShares",
        samba="[global] restrict anonymous = 2 (null sessions get no IPC$)",
        nullsmb="[policy] RestrictAnonymous = 2 (null sessions get no IPC$)",
    ),
    "guest-logon": Fix(
        windows='GPO "Accounts: Guest account status" = Disabled',
        samba="[global] map to guest = Never (the default)",
        nullsmb='[server] map_to_guest = "never" (the default)',
    ),
    "any-credentials": Fix(
        windows="check the authentication configuration: a random user and password must fail with "
                "STATUS_LOGON_FAILURE",
        samba="[global] map to guest = Never; check the auth methods and passdb backend",
        nullsmb="check [users]: nullsmb refuses unknown users unless map_to_guest = \"bad_user\"",
    ),
    "anon-pipes": Fix(
        windows=f'{_LANMAN}\\NullSessionPipes empty on member servers (GPO "Network access: Named Pipes that can be '
                f'accessed anonymously"), {_LANMAN}\\RestrictNullSessAccess = 1',
        samba="[global] restrict anonymous = 2 (Samba has no per-pipe list for null sessions)",
        nullsmb="[policy] NullSessionPipes = [] (the default) and RestrictNullSessAccess = 1",
    ),
    "share-enum": _RA1,
    "share-paths": Fix(
        windows="NetShareEnum level 2 must need Administrators (the default); check the SrvsvcShareInfo "
                r"security descriptor under HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\DefaultSecurity",
        samba="[global] restrict anonymous = 1",
        nullsmb="nothing to configure: levels 2/502 are Administrators only in nullsmb",
    ),
    "server-info": _RA1,
    "session-enum": Fix(
        windows="restrict the SrvsvcSessionInfo security descriptor under "
                r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\DefaultSecurity to Administrators "
                "(the default from Windows 10 1709 / Server 2019; NetCease does it on older systems)",
        samba="nothing to configure: Samba answers NetSessionEnum to BUILTIN\\Administrators only",
        nullsmb="nothing to configure: NetrSessionEnum is Administrators only in nullsmb",
    ),
    "user-enum": _SAM,
    "group-enum": _SAM,
    "password-policy": _SAM,
    "rid-cycling": _LOOKUP,
    "name-lookup": _LOOKUP,
    "domain-info": _LSA_INFO,
    "lsa-accounts": Fix(
        windows='keep "Network access: Let Everyone permissions apply to anonymous users" Disabled '
                f"({_LSA}\\EveryoneIncludesAnonymous = 0) and TurnOffAnonymousBlock = 0",
        samba="[global] restrict anonymous = 2",
        nullsmb="[policy] EveryoneIncludesAnonymous = 0 (the default)",
    ),
    "share-read": _SHARE_ANON,
    "share-write": _SHARE_ANON,
    "share-write-permitted": _SHARE_ANON,
    "share-connect": _SHARE_ANON,
    "admin-share": _ADMIN_SHARE,
}


def fix_for(kind: str, principal: str | None) -> Fix:
    """The row of a finding kind. What guest sessions reach is closed by refusing the guest
    logon itself, so every guest finding gets that fix."""
    if principal == "guest":
        return _GUEST
    return FIXES[kind]
