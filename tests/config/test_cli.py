"""The `arb` command: every command is listed and every command (and sub-command) has --help."""

from __future__ import annotations

import pytest

from arb.cli import build_parser, main

COMMANDS = ["run", "replay", "config", "db", "sandbox", "record", "report"]
NESTED = [["config", "check"], ["db", "upgrade"], ["db", "downgrade"], ["db", "current"]]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert f"    {command}" in out, f"{command} missing from arb --help:\n{out}"


@pytest.mark.parametrize("argv", [[c] for c in COMMANDS] + NESTED, ids=lambda a: " ".join(a))
def test_each_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: arb " + " ".join(argv)), out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: arb" in capsys.readouterr().out


def test_parser_builds_without_optional_modules_missing() -> None:
    # Every module a command names exists: none is silently skipped.
    import importlib

    from arb.cli import COMMANDS

    for name in {module for module, _ in COMMANDS.values()}:
        importlib.import_module(name)
    assert build_parser().prog == "arb"
