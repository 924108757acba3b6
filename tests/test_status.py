"""Status names: one table (nullsmb.status) for the server's audit, the policy, the client and the probe."""

from nullsmb.client.rpc import NTSTATUS, WERROR, fault_name, status_name
from nullsmb.policy.model import status_name as policy_status_name
from nullsmb.status import NtStatus, ntstatus_name, werror_name


def test_ntstatus_names_follow_ms_erref() -> None:
    assert ntstatus_name(0) == "STATUS_SUCCESS"
    assert ntstatus_name(0x00000107) == "STATUS_SOME_NOT_MAPPED"  # a partial LsarLookupSids2
    assert ntstatus_name(0x8000001A) == "STATUS_NO_MORE_ENTRIES"
    assert ntstatus_name(0xC0000234) == "STATUS_ACCOUNT_LOCKED_OUT"  # only remote servers send it
    assert ntstatus_name(0xC0DEC0DE) == "NTSTATUS 0xC0DEC0DE"
    assert NtStatus.STATUS_MORE_ENTRIES == 0x105


def test_werror_names_as_samba_spells_them() -> None:
    assert werror_name(5) == "WERR_ACCESS_DENIED"
    assert werror_name(2310) == "NERR_NetNameNotFound"
    assert werror_name(0x1234) == "WERROR 0x00001234"


def test_every_layer_names_a_status_the_same_way() -> None:
    for code in (0, 0x107, 0xC0000022, 0xC00000DF, 0xDEADBEEF):
        assert status_name(code, NTSTATUS) == policy_status_name(code) == ntstatus_name(code)
    for code in (0, 5, 124, 0x1234):
        assert status_name(code, WERROR) == policy_status_name(code, WERROR) == werror_name(code)
    assert fault_name(5) == "ACCESS_DENIED" and fault_name(0x1C00FFFF) == "0x1C00FFFF"
