"""``nullsmb probe`` usage: one ``error:`` line and exit 2 for every mistake, never a traceback."""

from __future__ import annotations

import pytest

from nullsmb.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["probe"], "the following arguments are required: TARGET"),
    (["probe", "h", "--concurrency", "0"], "argument --concurrency: must be a whole number from 1 to 4096"),
    (["probe", "h", "--timeout", "soon"], "argument --timeout: must be a number of seconds"),
    (["probe", "h", "--port", "70000"], "argument --port: must be a port number 1-65535"),
    (["probe", "h", "--json", "--jsonl"], "argument --jsonl: not allowed with argument --json"),
    (["probe", "h", "--write-tests", "--no-write-tests"], "not allowed with argument --write-tests"),
    (["probe", "10.0.0.0/8"], "has 16777214 addresses"),
    (["probe", "h:0"], "bad port '0'"),
    (["probe", "@/nonexistent/hosts.txt"], "cannot read target file"),
    (["probe", "h", "--rid-range", "9-1"], "bad --rid-range '9-1'"),
    (["probe", "h", "--password", "x"], "--password needs --user"),
    (["probe", "h", "--user", "CORP\\"], "names no user"),
    (["probe", "h", "--timeout", "30", "--host-timeout", "10"], "--host-timeout (10) is shorter than --timeout (30)"),
])
def test_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert message in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""


def test_unknown_option_is_exit_2_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown options are refused by nullsmb's top-level parser (its usage line, then the error)."""
    with pytest.raises(SystemExit) as info:
        main(["probe", "h", "--bogus"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.splitlines() == ["error: unrecognized arguments: --bogus (see `nullsmb --help`)"]
    assert "Traceback" not in err


def test_help_has_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["probe", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for text in ("examples:", "nullsmb probe 10.0.0.0/24", "--write-tests", "exit codes:", "probe-schema.json",
                 "NULLSMB_PROBE_PASSWORD"):
        assert text in out, text


def test_probe_is_listed_by_nullsmb_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "probe" in capsys.readouterr().out


def test_targets_may_follow_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """`nullsmb probe a --json b` probes a and b (argparse alone would refuse b)."""
    from nullsmb.probe import cli as probe_cli

    seen: list[list[str]] = []
    monkeypatch.setattr(probe_cli, "_run", lambda args: seen.append(list(args.targets)) or 0)
    parser_run = main(["probe", "h1", "--json", "--timeout", "3", "h2", "h3:4450"])
    assert parser_run == 0 and seen == [["h1", "h2", "h3:4450"]]
