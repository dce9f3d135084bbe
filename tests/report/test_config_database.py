"""Read commands read the database ``arb run`` wrote: ``--config`` (or ``config.toml`` where they run) names
it through its ``[store] url``, as it does for ``arb run``; ``--db`` and ``$ARB_DB_URL`` still come first."""

from __future__ import annotations

from pathlib import Path

import pytest

from arb.cli import main
from tests.engine.helpers import config_with, trimmed_capture


@pytest.fixture
def paper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("ARB_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    capture = trimmed_capture(tmp_path, "00:00", "00:02")
    config = config_with(tmp_path, fee="0", name="paper.toml", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
        'url = "sqlite:///arb.db"': f'url = "sqlite:///{tmp_path / "paper.db"}"',
    })
    assert main(["run", "--config", str(config)]) == 0
    return config


@pytest.mark.parametrize("command", ["report", "trades", "balances"])
def test_a_read_command_reads_the_configs_database(paper: Path, command: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main([command, "--config", str(paper)]) == 0
    assert capsys.readouterr().out.startswith("Run 1 (replay)")
    # Without it, here (no config.toml in this directory), the default arb.db is not there: one line, exit 1.
    assert main([command]) == 1
    assert "arb.db" in capsys.readouterr().err
    # config.toml where the command runs is read as arb run reads it.
    (paper.parent / "config.toml").write_text(paper.read_text())
    assert main([command]) == 0
    assert capsys.readouterr().out.startswith("Run 1 (replay)")


@pytest.mark.parametrize("command", ["report", "trades", "balances", "dashboard"])
def test_every_read_command_takes_config_and_defaults_to_its_store_url(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from arb.cli import build_parser
    from arb.commands.tables import database_url

    monkeypatch.delenv("ARB_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    config = config_with(tmp_path, name="other.toml",
                         extra={'url = "sqlite:///arb.db"': f'url = "sqlite:///{tmp_path / "other.db"}"'})
    args = build_parser().parse_args([command, "--config", str(config)])
    assert database_url(args) == f"sqlite:///{tmp_path / 'other.db'}"
    args = build_parser().parse_args([command, "--config", str(config), "--db", "sqlite:///first.db"])
    assert database_url(args) == "sqlite:///first.db"  # --db still comes first
