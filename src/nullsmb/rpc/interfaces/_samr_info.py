"""samr information classes as tables: which fields each level of SamrQueryInformationDomain,
SamrQueryInformationUser, SamrQueryInformationGroup and SamrQueryInformationAlias carries,
in wire order, and the access each needs.

Rules:
1. A level is a tuple of field names (MS-SAMR 2.2: the DOMAIN_*, USER_*, GROUP_* and ALIAS_*
   information structures, with Samba's samr.idl for the enums MS-SAMR leaves implicit:
   DOMAIN_SERVER_ENABLE_STATE and DOMAIN_SERVER_ROLE are 32-bit on the wire). A field name maps
   to its NDR kind and to its value for one object; the writer walks the tuple.
2. The union arm is written after its 16-bit discriminant, aligned as its first member needs
   (8 when the structure holds a LARGE_INTEGER, else 4), inside one construct so the string
   bodies follow the whole arm (C706 14.3.12.3).
3. No password material: UserAllInformation's LmOwfPassword and NtOwfPassword are empty
   RPC_SHORT_BLOBs (Length 0, NULL buffer), LmPasswordPresent and NtPasswordPresent are 0,
   and WhichFields leaves USER_ALL_NTPASSWORDPRESENT, USER_ALL_LMPASSWORDPRESENT,
   USER_ALL_PRIVATEDATA, USER_ALL_SECURITYDESCRIPTOR and USER_ALL_OWFPASSWORD clear
   (MS-SAMR 3.1.5.5.5). UserInternal1Information (18, the OWF hashes) and the
   password-carrying internal levels are not served: STATUS_INVALID_INFO_CLASS for every caller.
4. Times are OLD_LARGE_INTEGER/LARGE_INTEGER 100 ns units. Durations are negative (MS-SAMR
   DOMAIN_PASSWORD_INFORMATION, DOMAIN_LOCKOUT_INFORMATION); "never" is 0x8000000000000000 for a maximum age or forced logoff, and
   0x7FFFFFFFFFFFFFFF for an account expiry or a forced password change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..directory import SamObject, SidType
from ..ndr import NdrWriter
from ._samr_common import (
    ALIAS_READ_INFORMATION,
    DOMAIN_READ_OTHER_PARAMETERS,
    DOMAIN_READ_PASSWORD_PARAMETERS,
    GROUP_ATTRIBUTES,
    GROUP_READ_INFORMATION,
    USER_READ_ACCOUNT,
    USER_READ_GENERAL,
    USER_READ_LOGON,
    USER_READ_PREFERENCES,
)

__all__ = ["ALIAS_LEVELS", "DOMAIN_LEVELS", "GROUP_LEVELS", "USER_LEVELS", "Level", "write_info"]

NEVER = -(1 << 63)  # 0x8000000000000000
FOREVER = (1 << 63) - 1  # 0x7FFFFFFFFFFFFFFF
UNITS_PER_WEEK = 168  # SAMPR_LOGON_HOURS counted in hours
LOGON_HOURS_MAX = 1260  # [size_is(1260)]

# USER_ALL_* bits of WhichFields for the fields this server returns (USER_ALL_* of MS-SAMR 2.2.1): every
# bit up to USER_ALL_CODEPAGE, none of the password, private data or descriptor bits.
USER_ALL_RETURNED = 0x00FFFFFF
USER_ALL_PASSWORD_BITS = 0x3F000000


def duration(seconds: int, *, zero_is_never: bool = False) -> int:
    """Seconds as a negative 100 ns interval (rule 4)."""
    if seconds == 0:
        return NEVER if zero_is_never else 0
    return max(NEVER + 1, -seconds * 10_000_000)


# -- NDR kinds --------------------------------------------------------------------------------------

def _ustr(w: NdrWriter, v: str | None) -> None:
    w.unicode_string(v)


def _logon_hours(w: NdrWriter, v: bytes) -> None:
    """SAMPR_LOGON_HOURS: UnitsPerWeek, [size_is(1260), length_is((units+7)/8)] unsigned char*."""
    w.u16(UNITS_PER_WEEK)

    def bits(w: NdrWriter, data: bytes) -> None:
        w.u32(LOGON_HOURS_MAX)
        w.u32(0)
        w.u32(len(data))
        w.raw(data)

    w.unique(v, bits)


def _empty_blob(w: NdrWriter, _v: Any) -> None:
    """RPC_SHORT_BLOB with nothing in it (rule 3)."""
    w.u16(0)
    w.u16(0)
    w.unique(None, NdrWriter.u16)


def _no_security_descriptor(w: NdrWriter, _v: Any) -> None:
    """SAMPR_SR_SECURITY_DESCRIPTOR {Length 0, NULL}."""
    w.u32(0)
    w.unique(None, NdrWriter.u8)


_KINDS: Mapping[str, Callable[[NdrWriter, Any], None]] = {
    "ustr": _ustr,
    "u8": NdrWriter.u8,
    "u16": NdrWriter.u16,
    "u32": NdrWriter.u32,
    "old": NdrWriter.old_large_integer,  # OLD_LARGE_INTEGER: two longs, 4-aligned
    "large": NdrWriter.i64,  # LARGE_INTEGER: a hyper, 8-aligned
    "hours": _logon_hours,
    "blob": _empty_blob,
    "sd": _no_security_descriptor,
}

Values = Callable[[Any], Mapping[str, Any]]


class Level:
    """One information level: its fields, the right it needs, its alignment (rule 2)."""

    __slots__ = ("fields", "need", "align")

    def __init__(self, need: int, *fields: str, align: int = 4) -> None:
        self.need, self.fields, self.align = need, fields, align


def write_info(w: NdrWriter, level: int, spec: Level, kinds: Mapping[str, str], values: Mapping[str, Any]) -> None:
    """The union (discriminant ``level``, arm ``spec``) with its strings deferred to its end."""
    with w.struct():
        w.u16(level)
        w.align(spec.align)
        for name in spec.fields:
            _KINDS[kinds[name]](w, values[name])


# -- domain (MS-SAMR 2.2 DOMAIN_*; 3.1.5.5.2 for the access each level needs) ---------------------------

DOMAIN_KINDS: Mapping[str, str] = {
    "MinPasswordLength": "u16", "PasswordHistoryLength": "u16", "PasswordProperties": "u32",
    "MaxPasswordAge": "old", "MinPasswordAge": "old", "ForceLogoff": "old",
    "OemInformation": "ustr", "DomainName": "ustr", "ReplicaSourceNodeName": "ustr",
    "DomainModifiedCount": "old", "DomainServerState": "u32", "DomainServerRole": "u32",
    "UasCompatibilityRequired": "u8", "UserCount": "u32", "GroupCount": "u32", "AliasCount": "u32",
    "CreationTime": "old", "ModifiedCountAtLastPromotion": "old",
    "LockoutDuration": "large", "LockoutObservationWindow": "large", "LockoutThreshold": "u16",
}
_P, _O = DOMAIN_READ_PASSWORD_PARAMETERS, DOMAIN_READ_OTHER_PARAMETERS
_GENERAL = ("ForceLogoff", "OemInformation", "DomainName", "ReplicaSourceNodeName", "DomainModifiedCount",
            "DomainServerState", "DomainServerRole", "UasCompatibilityRequired", "UserCount", "GroupCount",
            "AliasCount")
_LOCKOUT = ("LockoutDuration", "LockoutObservationWindow", "LockoutThreshold")
DOMAIN_LEVELS: Mapping[int, Level] = {
    1: Level(_P, "MinPasswordLength", "PasswordHistoryLength", "PasswordProperties", "MaxPasswordAge",
             "MinPasswordAge"),  # DomainPasswordInformation
    2: Level(_O, *_GENERAL),  # DomainGeneralInformation
    3: Level(_O, "ForceLogoff"),  # DomainLogoffInformation
    4: Level(_O, "OemInformation"),  # DomainOemInformation
    5: Level(_O, "DomainName"),  # DomainNameInformation
    6: Level(_O, "ReplicaSourceNodeName"),  # DomainReplicationInformation
    7: Level(_O, "DomainServerRole"),  # DomainServerRoleInformation
    8: Level(_O, "DomainModifiedCount", "CreationTime"),  # DomainModifiedInformation
    9: Level(_O, "DomainServerState"),  # DomainStateInformation
    11: Level(_O, *_GENERAL, *_LOCKOUT, align=8),  # DomainGeneralInformation2
    12: Level(_O, *_LOCKOUT, align=8),  # DomainLockoutInformation
    13: Level(_O, "DomainModifiedCount", "CreationTime", "ModifiedCountAtLastPromotion"),  # DomainModifiedInformation2
}


def domain_values(directory: Any, domain_sid: Any, server_name: str) -> dict[str, Any]:
    pp = directory.password_policy
    accounts = directory.in_domain(domain_sid)
    count = lambda kind: sum(1 for a in accounts if a.kind == kind)  # noqa: E731
    return {
        "MinPasswordLength": pp.min_length, "PasswordHistoryLength": pp.history_length,
        "PasswordProperties": pp.properties,
        "MaxPasswordAge": duration(pp.max_age_s, zero_is_never=True), "MinPasswordAge": duration(pp.min_age_s),
        "ForceLogoff": duration(pp.force_logoff_s, zero_is_never=True),
        "OemInformation": "", "DomainName": directory.domain_name_of(domain_sid) or "",
        "ReplicaSourceNodeName": server_name,
        "DomainModifiedCount": 1, "CreationTime": 0, "ModifiedCountAtLastPromotion": 0,
        "DomainServerState": 1,  # DomainServerEnabled
        "DomainServerRole": 3,  # DomainServerRolePrimary: a non-DC is its own domain's primary (3.1.5.5.1.2)
        "UasCompatibilityRequired": 1,
        "UserCount": count(SidType.USER), "GroupCount": count(SidType.GROUP), "AliasCount": count(SidType.ALIAS),
        "LockoutDuration": duration(pp.lockout_duration_s), "LockoutObservationWindow": duration(pp.lockout_window_s),
        "LockoutThreshold": pp.lockout_threshold,
    }


# -- user (MS-SAMR 2.2 USER_*; 3.1.5.5.5 for the access each level needs) ------------------------------

USER_KINDS: Mapping[str, str] = {
    **{name: "ustr" for name in (
        "UserName", "FullName", "HomeDirectory", "HomeDirectoryDrive", "ScriptPath", "ProfilePath",
        "AdminComment", "WorkStations", "UserComment", "Parameters", "PrivateData", "Reserved1")},
    **{name: "old" for name in (
        "LastLogon", "LastLogoff", "PasswordLastSet", "AccountExpires", "PasswordCanChange", "PasswordMustChange")},
    **{name: "u32" for name in ("UserId", "PrimaryGroupId", "UserAccountControl", "WhichFields")},
    **{name: "u16" for name in ("BadPasswordCount", "LogonCount", "CountryCode", "CodePage")},
    **{name: "u8" for name in ("LmPasswordPresent", "NtPasswordPresent", "PasswordExpired", "PrivateDataSensitive")},
    "LmOwfPassword": "blob", "NtOwfPassword": "blob", "SecurityDescriptor": "sd", "LogonHours": "hours",
}
_G, _R, _L, _A = USER_READ_GENERAL, USER_READ_PREFERENCES, USER_READ_LOGON, USER_READ_ACCOUNT
_GRLA = _G | _R | _L | _A
USER_LEVELS: Mapping[int, Level] = {
    1: Level(_G, "UserName", "FullName", "PrimaryGroupId", "AdminComment", "UserComment"),  # UserGeneralInformation
    2: Level(_G | _R, "UserComment", "Reserved1", "CountryCode", "CodePage"),  # UserPreferencesInformation
    3: Level(_GRLA, "UserName", "FullName", "UserId", "PrimaryGroupId", "HomeDirectory", "HomeDirectoryDrive",
             "ScriptPath", "ProfilePath", "WorkStations", "LastLogon", "LastLogoff", "PasswordLastSet",
             "PasswordCanChange", "PasswordMustChange", "LogonHours", "BadPasswordCount", "LogonCount",
             "UserAccountControl"),  # UserLogonInformation
    4: Level(_L, "LogonHours"),  # UserLogonHoursInformation
    5: Level(_GRLA, "UserName", "FullName", "UserId", "PrimaryGroupId", "HomeDirectory", "HomeDirectoryDrive",
             "ScriptPath", "ProfilePath", "AdminComment", "WorkStations", "LastLogon", "LastLogoff", "LogonHours",
             "BadPasswordCount", "LogonCount", "PasswordLastSet", "AccountExpires",
             "UserAccountControl"),  # UserAccountInformation
    6: Level(_G, "UserName", "FullName"),  # UserNameInformation
    7: Level(_G, "UserName"),  # UserAccountNameInformation
    8: Level(_G, "FullName"),  # UserFullNameInformation
    9: Level(_G, "PrimaryGroupId"),  # UserPrimaryGroupInformation
    10: Level(_L, "HomeDirectory", "HomeDirectoryDrive"),  # UserHomeInformation
    11: Level(_L, "ScriptPath"),  # UserScriptInformation
    12: Level(_L, "ProfilePath"),  # UserProfileInformation
    13: Level(_G, "AdminComment"),  # UserAdminCommentInformation
    14: Level(_L, "WorkStations"),  # UserWorkStationsInformation
    16: Level(_A, "UserAccountControl"),  # UserControlInformation
    17: Level(_A, "AccountExpires"),  # UserExpiresInformation
    20: Level(_A, "Parameters"),  # UserParametersInformation
    21: Level(_GRLA, "LastLogon", "LastLogoff", "PasswordLastSet", "AccountExpires", "PasswordCanChange",
              "PasswordMustChange", "UserName", "FullName", "HomeDirectory", "HomeDirectoryDrive", "ScriptPath",
              "ProfilePath", "AdminComment", "WorkStations", "UserComment", "Parameters", "LmOwfPassword",
              "NtOwfPassword", "PrivateData", "SecurityDescriptor", "UserId", "PrimaryGroupId",
              "UserAccountControl", "WhichFields", "LogonHours", "BadPasswordCount", "LogonCount",
              "CountryCode", "CodePage", "LmPasswordPresent", "NtPasswordPresent", "PasswordExpired",
              "PrivateDataSensitive"),  # UserAllInformation
}
assert not USER_ALL_RETURNED & USER_ALL_PASSWORD_BITS


def user_values(user: SamObject) -> dict[str, Any]:
    """One user's fields. Logon statistics are not kept: zero, as for an account never used."""
    return {
        "UserName": user.name, "FullName": user.full_name, "AdminComment": user.description,
        "UserComment": "", "Reserved1": "", "HomeDirectory": "", "HomeDirectoryDrive": "", "ScriptPath": "",
        "ProfilePath": "", "WorkStations": "", "Parameters": "", "PrivateData": None,
        "LastLogon": 0, "LastLogoff": 0, "PasswordLastSet": 0, "AccountExpires": FOREVER,
        "PasswordCanChange": 0, "PasswordMustChange": FOREVER,
        "UserId": user.rid, "PrimaryGroupId": user.primary_group, "UserAccountControl": int(user.flags),
        "WhichFields": USER_ALL_RETURNED,
        "BadPasswordCount": 0, "LogonCount": 0, "CountryCode": 0, "CodePage": 0,
        "LmPasswordPresent": 0, "NtPasswordPresent": 0, "PasswordExpired": 0, "PrivateDataSensitive": 0,
        "LmOwfPassword": None, "NtOwfPassword": None, "SecurityDescriptor": None,
        "LogonHours": b"\xff" * ((UNITS_PER_WEEK + 7) // 8),  # every hour allowed
    }


# -- group and alias (MS-SAMR 2.2 GROUP_*, ALIAS_*; 3.1.5.5.3, 3.1.5.5.4) ----------------------------------

GROUP_KINDS: Mapping[str, str] = {"Name": "ustr", "AdminComment": "ustr", "Attributes": "u32", "MemberCount": "u32"}
GROUP_LEVELS: Mapping[int, Level] = {
    1: Level(GROUP_READ_INFORMATION, "Name", "Attributes", "MemberCount", "AdminComment"),  # GroupGeneralInformation
    2: Level(GROUP_READ_INFORMATION, "Name"),  # GroupNameInformation
    3: Level(GROUP_READ_INFORMATION, "Attributes"),  # GroupAttributeInformation
    4: Level(GROUP_READ_INFORMATION, "AdminComment"),  # GroupAdminCommentInformation
    5: Level(GROUP_READ_INFORMATION, "Name", "Attributes", "MemberCount", "AdminComment"),  # GroupReplicationInformation
}
ALIAS_LEVELS: Mapping[int, Level] = {
    1: Level(ALIAS_READ_INFORMATION, "Name", "MemberCount", "AdminComment"),  # AliasGeneralInformation
    2: Level(ALIAS_READ_INFORMATION, "Name"),  # AliasNameInformation
    3: Level(ALIAS_READ_INFORMATION, "AdminComment"),  # AliasAdminCommentInformation
}


def group_values(obj: SamObject) -> dict[str, Any]:
    return {"Name": obj.name, "AdminComment": obj.description, "Attributes": GROUP_ATTRIBUTES,
            "MemberCount": len(obj.members)}
