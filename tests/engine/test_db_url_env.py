"""``$ARB_DB_URL`` chooses the database of ``arb run`` / ``arb replay`` when ``--db`` is not given, as the
README says (and as ``arb report`` and ``arb db`` read it), over the config's ``[store] url``."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.cli import main

from .helpers import config_with, trimmed_capture


@pytest.mark.parametrize("command", ["run", "replay"])
def test_arb_db_url_is_where_runs_are_written(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    capture = trimmed_capture(tmp_path, "00:42:00", "00:43:00")
    config = config_with(tmp_path, extra={
        'status = "auto"': 'status = "off"',
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
    })
    monkeypatch.chdir(tmp_path)
    chosen = tmp_path / "chosen.db"
    monkeypatch.setenv("ARB_DB_URL", f"sqlite:///{chosen}")
    args = ["run", "--config", str(config)] if command == "run" else ["replay", str(capture), "--config", str(config)]
    assert main(args) == 0, capsys.readouterr().err
    assert chosen.is_file() and not (tmp_path / "arb.db").exists()
    with create_engine(f"sqlite:///{chosen}").connect() as c:
        assert c.execute(text("SELECT count(*) FROM runs")).scalar() == 1
