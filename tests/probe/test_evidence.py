"""What an answer means (probe.evidence rule 3), as a table of real statuses."""

from __future__ import annotations

import errno

import pytest

from nullsmb.probe.evidence import Outcome, Result, ntstatus_name, werror_name
from nullsmb.probe.steps.common import outcome_of
from nullsmb.client import ClientProtocolError, SmbClientError


@pytest.mark.parametrize(("code", "result", "name"), [
    (0x00000000, Result.OK, "STATUS_SUCCESS"),
    (0x00000107, Result.OK, "STATUS_SOME_NOT_MAPPED"),
    (0x00000105, Result.OK, "STATUS_MORE_ENTRIES"),
    (0xC0000022, Result.DENIED, "STATUS_ACCESS_DENIED"),
    (0xC000006D, Result.DENIED, "STATUS_LOGON_FAILURE"),
    (0xC00000CA, Result.DENIED, "STATUS_NETWORK_ACCESS_DENIED"),
    (0xC0000234, Result.DENIED, "STATUS_ACCOUNT_LOCKED_OUT"),
    (0xC00000CC, Result.UNAVAILABLE, "STATUS_BAD_NETWORK_NAME"),
    (0xC0000034, Result.UNAVAILABLE, "STATUS_OBJECT_NAME_NOT_FOUND"),
    (0xC000000F, Result.UNAVAILABLE, "STATUS_NO_SUCH_FILE"),
    (0xC00000BB, Result.UNAVAILABLE, "STATUS_NOT_SUPPORTED"),
    (0xC0000073, Result.FAILED, "STATUS_NONE_MAPPED"),
    (0xC00000DF, Result.FAILED, "STATUS_NO_SUCH_DOMAIN"),
    (0xC0DEC0DE, Result.FAILED, "NTSTATUS 0xC0DEC0DE"),
])
def test_ntstatus(code: int, result: Result, name: str) -> None:
    o = Outcome.ntstatus(code)
    assert (o.result, o.status, o.code, o.kind) == (result, name, code, "ntstatus")
    assert ntstatus_name(code) == name


@pytest.mark.parametrize(("code", "result", "name"), [
    (0, Result.OK, "WERR_OK"),
    (234, Result.OK, "WERR_MORE_DATA"),
    (5, Result.DENIED, "WERR_ACCESS_DENIED"),
    (124, Result.UNAVAILABLE, "WERR_INVALID_LEVEL"),
    (50, Result.UNAVAILABLE, "WERR_NOT_SUPPORTED"),
    (87, Result.FAILED, "WERR_INVALID_PARAMETER"),
    (0x1234, Result.FAILED, "WERROR 0x00001234"),
])
def test_werror(code: int, result: Result, name: str) -> None:
    o = Outcome.werror(code)
    assert (o.result, o.status, o.kind) == (result, name, "werror")
    assert werror_name(code) == name


def test_client_exceptions_become_evidence() -> None:
    assert outcome_of(SmbClientError(0xC0000022, 5)).status == "STATUS_ACCESS_DENIED"
    assert outcome_of(ClientProtocolError("bad signature")).result is Result.DISCONNECTED
    assert outcome_of(TimeoutError()).result is Result.TIMEOUT
    refused = outcome_of(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
    assert (refused.result, refused.status, refused.kind) == (Result.DISCONNECTED, "ECONNREFUSED", "socket")
    closed = outcome_of(ConnectionError("the server closed the connection"))
    assert closed.result is Result.DISCONNECTED and closed.status is None
    with pytest.raises(ZeroDivisionError):  # a bug is not evidence
        outcome_of(ZeroDivisionError())


def test_rpc_exceptions_become_evidence() -> None:
    from nullsmb.client import RpcBindError, RpcFaultError, RpcProtocolError, RpcStatusError
    from nullsmb.probe.steps.rpc import rpc_outcome

    assert rpc_outcome(RpcStatusError(5, "werror", "NetrShareEnum")).status == "WERR_ACCESS_DENIED"
    assert rpc_outcome(RpcStatusError(0xC0000022, "ntstatus", "SamrConnect5")).result is Result.DENIED
    fault = rpc_outcome(RpcFaultError(0x1C010002, operation="SamrConnect5"))
    assert (fault.result, fault.kind, fault.status) == (Result.UNAVAILABLE, "rpc_fault", "NCA_S_OP_RNG_ERROR")
    assert rpc_outcome(RpcFaultError(5)).result is Result.DENIED
    rejected = rpc_outcome(RpcBindError(1, nak=False, result=2))
    assert (rejected.result, rejected.kind) == (Result.UNAVAILABLE, "rpc_bind")
    assert rpc_outcome(RpcBindError(4, nak=True)).result is Result.FAILED
    assert rpc_outcome(RpcProtocolError("truncated")).kind == "rpc_protocol"


def test_evidence_text() -> None:
    assert Outcome.success("ntstatus").evidence() == "STATUS_SUCCESS"
    assert Outcome.success(None).evidence() == "ok"
    assert Outcome.skipped("no IPC$").evidence() == "skipped"
    assert Outcome.timeout().evidence() == "timeout"
