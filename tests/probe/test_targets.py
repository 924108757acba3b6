"""TARGET and --rid-range parsing (probe.targets): one clear line per mistake."""

from __future__ import annotations

import pytest

from nullsmb.probe.targets import (
    MAX_RANGE,
    Target,
    UsageError,
    count_targets,
    iter_targets,
    parse_rid_ranges,
    parse_targets,
)


def _files(**files: str):  # type: ignore[no-untyped-def]
    def read(path: str) -> str:
        if path not in files:
            raise FileNotFoundError(2, "No such file or directory")
        return files[path]
    return read


def targets(*args: str, port: int = 445, **files: str) -> list[Target]:
    return list(iter_targets(parse_targets(list(args), _files(**files)), port))


@pytest.mark.parametrize(("text", "host", "port"), [
    ("10.0.0.5", "10.0.0.5", 445),
    ("10.0.0.5:4445", "10.0.0.5", 4445),
    ("FileServer.example.com", "fileserver.example.com", 445),
    ("fileserver.example.com.:139", "fileserver.example.com", 139),
    ("::1", "::1", 445),
    ("[::1]:4445", "::1", 4445),
    ("[fe80::1]", "fe80::1", 445),
    ("localhost", "localhost", 445),
])
def test_single_targets(text: str, host: str, port: int) -> None:
    [t] = targets(text)
    assert (t.host, t.port, t.label) == (host, port, text)


def test_default_port_applies_to_targets_without_one() -> None:
    assert [t.address for t in targets("10.0.0.5", "10.0.0.6:1445", "[::1]", port=4445)] == [
        "10.0.0.5:4445", "10.0.0.6:1445", "[::1]:4445"]


def test_cidr_expands_lazily_without_network_and_broadcast() -> None:
    specs = parse_targets(["127.0.0.0/30:4445", "10.1.2.3/32", "192.168.7.0/31"], _files())
    assert count_targets(specs) == 2 + 1 + 2
    assert [t.address for t in iter_targets(specs, 445)] == [
        "127.0.0.1:4445", "127.0.0.2:4445", "10.1.2.3:445", "192.168.7.0:445", "192.168.7.1:445"]
    big = parse_targets(["10.0.0.0/16"], _files())
    it = iter_targets(big, 445)
    assert next(it).host == "10.0.0.1"  # nothing materialised up front
    assert count_targets(big) == MAX_RANGE - 2


def test_ipv6_range_in_brackets_with_port() -> None:
    assert [t.address for t in targets("[fd00::/126]:4445")] == [
        "[fd00::1]:4445", "[fd00::2]:4445", "[fd00::3]:4445"]


def test_target_file_with_comments_and_duplicates() -> None:
    content = "# servers\n10.0.0.5\n10.0.0.6:4445  10.0.0.5   # again\n\n  fs1 \n"
    assert [t.address for t in targets("@hosts.txt", "10.0.0.6:4445", **{"hosts.txt": content})] == [
        "10.0.0.5:445", "10.0.0.6:4445", "fs1:445"]


@pytest.mark.parametrize(("args", "message"), [
    ([], "no TARGET given"),
    (["10.0.0.5:0"], "bad port '0' in target '10.0.0.5:0'"),
    (["10.0.0.5:http"], "bad port 'http'"),
    (["10.0.0.0/33"], "bad CIDR range '10.0.0.0/33'"),
    (["10.0.0.0/8"], "has 16777214 addresses; at most 65536 per range"),
    (["bad_host!"], "not a host name, address or CIDR range"),
    (["[::1"], "missing ']'"),
    (["[::1]4445"], "expected ':PORT' after ']'"),
    (["@"], "'@' needs a file name"),
    (["@missing.txt"], "cannot read target file 'missing.txt': No such file or directory"),
    (["@empty.txt"], "target file 'empty.txt' lists no target"),
    (["@bad.txt"], "bad.txt line 2: bad port '99999'"),
])
def test_mistakes_are_one_line(args: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        list(iter_targets(parse_targets(args, _files(**{"empty.txt": "# nothing\n", "bad.txt": "a\nb:99999\n"})),
                          445))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "ranges"), [
    ("500-550,1000-1050", ((500, 550), (1000, 1050))),
    ("500", ((500, 500),)),
    (" 1000 - 1010 , 7 ", ((1000, 1010), (7, 7))),
])
def test_rid_ranges(text: str, ranges: tuple[tuple[int, int], ...]) -> None:
    assert parse_rid_ranges(text) == ranges


@pytest.mark.parametrize(("text", "message"), [
    ("500-", "'500-' is not N or N-M"),
    ("a-b", "is not N or N-M"),
    ("550-500", "N <= M < 2^32"),
    ("0-4294967296", "N <= M < 2^32"),
    ("0-200000", "more than 100000 RIDs"),
    ("", "is not N or N-M"),
])
def test_bad_rid_ranges(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("^", r"\^").replace("(", r"\(")):
        parse_rid_ranges(text)
