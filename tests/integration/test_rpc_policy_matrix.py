"""The null-session policy end to end: Samba's ``rpcclient -U% -N`` against real servers, one per
policy, every setting at every value that changes an answer (design.md §4).

Each row of ``COMMANDS`` is one rpcclient command, the pipe it opens and the rule that admits a
null session to it, written out as design.md §4's table says ("allowed when"), not computed by
nullsmb's policy code. ``expected()`` combines the row with the gates every pipe call meets first:
IPC$ (RestrictAnonymous < 2) and the pipe (RestrictNullSessAccess = 0 or the pipe in
NullSessionPipes). The test runs the command and reads which of the four outcomes rpcclient
printed: the IPC$ tree connect refused, the pipe open refused, the call refused, or real data.
An administrator (alice) gets data under the strictest policy. docs/null-session-policy.md §7 has
the same commands against Samba side by side.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from .conftest import HOST, PASSWORD, free_port, running_server, rpcclient as run_rpcclient


CONFIG = """\
[server]
listen = ["{host}:{port}"]
[admin]
enabled = false
[audit]
enabled = false
[users.alice]
password = "{password}"
groups = ["Administrators"]
[users.bob]
password = "{password}"
[shares.public]
path = "./share"
access = {{ "Everyone" = "read", "ANONYMOUS LOGON" = "read", "alice" = "full" }}
[policy]
NullSessionShares = ["public"]
{policy}
"""


@dataclass(frozen=True)
class Policy:
    RestrictNullSessAccess: int = 1
    NullSessionPipes: tuple[str, ...] = ("srvsvc", "wkssvc", "lsarpc", "samr")
    RestrictAnonymous: int = 0
    RestrictAnonymousSAM: int = 1
    EveryoneIncludesAnonymous: int = 0
    LSAAnonymousNameLookup: int = 0
    TurnOffAnonymousBlock: int = 0

    def toml(self) -> str:
        pipes = ", ".join(f'"{p}"' for p in self.NullSessionPipes)
        return "\n".join([f"NullSessionPipes = [{pipes}]"] + [
            f"{name} = {getattr(self, name)}" for name in (
                "RestrictNullSessAccess", "RestrictAnonymous", "RestrictAnonymousSAM",
                "EveryoneIncludesAnonymous", "LSAAnonymousNameLookup", "TurnOffAnonymousBlock")])


# The policies the matrix runs under: every setting at each of its values at least once.
POLICIES: dict[str, Policy] = {
    "defaults": Policy(),
    "open": Policy(RestrictAnonymousSAM=0, TurnOffAnonymousBlock=1, LSAAnonymousNameLookup=1,
                   EveryoneIncludesAnonymous=1),
    "RA1": Policy(RestrictAnonymous=1, RestrictAnonymousSAM=0, TurnOffAnonymousBlock=1,
                  LSAAnonymousNameLookup=1, EveryoneIncludesAnonymous=1),
    "RA2": Policy(RestrictAnonymous=2, RestrictAnonymousSAM=0, TurnOffAnonymousBlock=1,
                  LSAAnonymousNameLookup=1, EveryoneIncludesAnonymous=1),
    "SAM1-lookup0": Policy(RestrictAnonymousSAM=1, TurnOffAnonymousBlock=1, LSAAnonymousNameLookup=0),
    "no-pipes": Policy(NullSessionPipes=(), RestrictAnonymousSAM=0, TurnOffAnonymousBlock=1,
                       LSAAnonymousNameLookup=1),
    "no-pipes-RNSA0": Policy(RestrictNullSessAccess=0, NullSessionPipes=(), RestrictAnonymousSAM=0,
                             TurnOffAnonymousBlock=1, LSAAnonymousNameLookup=1),
    "lsa-only": Policy(NullSessionPipes=("lsarpc",), RestrictAnonymousSAM=0, TurnOffAnonymousBlock=1,
                       LSAAnonymousNameLookup=1),
}

# "allowed when" of design.md §4, one per class of operation.
Rule = Callable[[Policy], bool]
RA0: Rule = lambda p: p.RestrictAnonymous == 0  # noqa: E731
NEVER: Rule = lambda p: False  # noqa: E731  Administrators only
ALWAYS: Rule = lambda p: True  # noqa: E731
SAM: Rule = lambda p: p.RestrictAnonymous == 0 and p.RestrictAnonymousSAM == 0  # noqa: E731
LSA_OPEN: Rule = lambda p: p.TurnOffAnonymousBlock == 1 and p.RestrictAnonymous < 2  # noqa: E731
LSA_QUERY: Rule = lambda p: LSA_OPEN(p) and p.RestrictAnonymous == 0  # noqa: E731
LSA_LOOKUP: Rule = lambda p: LSA_OPEN(p) and p.LSAAnonymousNameLookup == 1  # noqa: E731
LSA_ENUM: Rule = lambda p: LSA_OPEN(p) and p.EveryoneIncludesAnonymous == 1  # noqa: E731


@dataclass(frozen=True)
class Command:
    text: str
    pipe: str
    allowed: Rule
    data: str  # a regular expression the output matches when the call returned data


COMMANDS: tuple[Command, ...] = (
    Command("srvinfo", "srvsvc", RA0, r"platform_id\s*:\s*500"),
    Command("netshareenumall 1", "srvsvc", RA0, r"netname: public"),
    Command("netshareenumall 2", "srvsvc", NEVER, r"path:"),
    Command("netsharegetinfo public 1", "srvsvc", RA0, r"netname: public"),
    Command("netsessenum", "srvsvc", NEVER, r"Received [1-9]\d* entries"),
    Command("enumdomusers", "samr", SAM, r"user:\[alice\] rid:\[0x3e"),
    Command("querydispinfo", "samr", SAM, r"Account: bob"),
    Command("enumalsgroups builtin", "samr", SAM, r"group:\[Administrators\] rid:\[0x220\]"),
    Command("getdompwinfo", "samr", SAM, r"min_password_length"),
    Command("lsaquery", "lsarpc", LSA_QUERY, r"Domain Name: WORKGROUP|Domain Name: NULLSMB"),
    Command("lookupnames alice", "lsarpc", LSA_LOOKUP, r"alice S-1-5-21-\d+-\d+-\d+-\d+ \(User: 1\)"),
    Command("lookupsids S-1-5-32-544", "lsarpc", LSA_LOOKUP, r"BUILTIN\\Administrators \(4\)"),
    Command("lsaenumsid", "lsarpc", LSA_ENUM, r"found \d+ SIDs"),
    Command("getusername", "lsarpc", ALWAYS, r"Account Name: ANONYMOUS LOGON"),
)

IPC_REFUSED, PIPE_REFUSED, CALL_REFUSED, DATA = "IPC$ refused", "pipe refused", "call refused", "data"


def expected(policy: Policy, command: Command) -> str:
    """What a null session gets: the SMB gates first (design.md §4's first rows), then the call."""
    if policy.RestrictAnonymous >= 2:
        return IPC_REFUSED
    if policy.RestrictNullSessAccess and command.pipe not in policy.NullSessionPipes:
        return PIPE_REFUSED
    return DATA if command.allowed(policy) else CALL_REFUSED


def outcome(output: str, command: Command) -> str:
    """Which of the four outcomes rpcclient's output shows (anything else fails the test)."""
    if re.search(r"Cannot connect to server\.\s+Error was NT_STATUS_ACCESS_DENIED", output):
        return IPC_REFUSED
    if re.search(r"Could not initialise \w+\. Error was NT_STATUS_ACCESS_DENIED", output):
        return PIPE_REFUSED
    if re.search(r"(result was|failed:?|Error was|error:) ?(WERR|NT_STATUS)_ACCESS_DENIED", output):
        return CALL_REFUSED
    if re.search(command.data, output):
        return DATA
    return f"unrecognised output: {output.strip()[:400]!r}"


def rpcclient(port: int, command: str, auth: list[str]) -> str:
    return run_rpcclient(port, command, auth)


@pytest.fixture(scope="module", params=list(POLICIES), ids=list(POLICIES))
def policy_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[Policy, int]]:
    policy = POLICIES[request.param]
    workdir = tmp_path_factory.mktemp(f"matrix-{request.param}")
    (workdir / "share").mkdir()
    port = free_port()
    config = workdir / "server.toml"
    config.write_text(CONFIG.format(host=HOST, port=port, password=PASSWORD, policy=policy.toml()))
    with running_server(workdir, config=config, port=port):
        yield policy, port


@pytest.mark.parametrize("command", COMMANDS, ids=[c.text for c in COMMANDS])
def test_null_session_gets_what_the_policy_table_says(policy_server: tuple[Policy, int],
                                                      command: Command) -> None:
    policy, port = policy_server
    output = rpcclient(port, command.text, ["-U%", "-N"])
    assert outcome(output, command) == expected(policy, command), output


def test_every_setting_is_exercised_at_every_value() -> None:
    """The matrix covers each setting at each of its values (so no rule goes untested)."""
    values = {
        "RestrictNullSessAccess": {0, 1}, "RestrictAnonymous": {0, 1, 2}, "RestrictAnonymousSAM": {0, 1},
        "EveryoneIncludesAnonymous": {0, 1}, "LSAAnonymousNameLookup": {0, 1}, "TurnOffAnonymousBlock": {0, 1},
    }
    for name, wanted in values.items():
        assert {getattr(p, name) for p in POLICIES.values()} == wanted, name
    pipes = {p.NullSessionPipes for p in POLICIES.values()}
    assert () in pipes and any("samr" in p for p in pipes) and any(p == ("lsarpc",) for p in pipes)
    outcomes = {expected(p, c) for p in POLICIES.values() for c in COMMANDS}
    assert outcomes == {IPC_REFUSED, PIPE_REFUSED, CALL_REFUSED, DATA}


ADMIN_COMMANDS = ("srvinfo", "netshareenumall 2", "netsessenum", "enumdomusers", "lsaquery",
                  "lookupnames alice", "lsaenumsid")


@pytest.mark.parametrize("text", ADMIN_COMMANDS)
def test_an_administrator_is_not_fenced_by_the_null_session_policy(text: str, strict_server: int) -> None:
    command = next(c for c in COMMANDS if c.text == text)
    output = rpcclient(strict_server, text, ["-U", f"alice%{PASSWORD}"])
    assert re.search(command.data, output), output
    assert "ACCESS_DENIED" not in output


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """RestrictAnonymous = 2, nothing open to null sessions."""
    workdir = tmp_path_factory.mktemp("matrix-strict")
    (workdir / "share").mkdir()
    port = free_port()
    config = workdir / "server.toml"
    config.write_text(CONFIG.format(host=HOST, port=port, password=PASSWORD,
                                    policy=Policy(RestrictAnonymous=2, NullSessionPipes=()).toml()))
    with running_server(workdir, config=config, port=port):
        yield port
