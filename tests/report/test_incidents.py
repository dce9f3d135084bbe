"""``arb report`` lists a run's incidents as its summary stored them: the same ones, in the same order, as the
summary ``arb replay`` printed at the end (and the dashboard reads), each with its start and its end (none:
open at the end of the run), in table, csv and json."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from engine.helpers import config_with  # tests/engine/helpers.py
from sqlalchemy import select
from sqlalchemy.orm import Session

from arb.cli import main
from arb.commands.tables import timestamp
from arb.store.db import make_engine
from arb.store.models import Run


def test_the_report_lists_the_incidents_the_run_summary_printed(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # The shipped config at a fee this low trades its venues' balances down: depletions that clear, and some
    # still open at the end.
    config = config_with(tmp_path, fee="0.00002", extra={
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    })
    db = f"sqlite:///{tmp_path / 'run.db'}"
    assert main(["replay", "bundled:linkusdt-binance-huobi-2021-08-20", "--config", str(config), "--db", db]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("incident ")]
    engine = make_engine(db)
    try:
        with Session(engine) as s:
            stored = s.scalars(select(Run)).one().summary["incidents"]
    finally:
        engine.dispose()
    assert len(printed) == len(stored) >= 2
    assert any(i["ended_at"] is None for i in stored) and any(i["ended_at"] for i in stored)

    def at(value: str | None) -> str | None:
        return None if value is None else timestamp(datetime.fromisoformat(value))

    expected = [{"incident": i["kind"], "started_at": at(i["started_at"]), "ended_at": at(i["ended_at"]),
                 "detail": i["detail"]} for i in stored]
    assert main(["report", "--run", "1", "--db", db, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["incidents"]["rows"] == expected
    assert main(["report", "--run", "1", "--db", db, "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    start = rows.index(["incident", "started_at", "ended_at", "detail"])
    assert rows[start + 1:start + 1 + len(expected)] == [
        [e["incident"], e["started_at"], e["ended_at"] or "", e["detail"]] for e in expected]
    assert main(["report", "--run", "1", "--db", db, "--all"]) == 0
    table = capsys.readouterr().out
    assert "Incidents" in table and all(e["detail"] in table for e in expected)
    for line, e in zip(printed, expected, strict=True):  # the summary's line says the same incident
        assert e["detail"] in line and e["incident"].replace("_", " ") in line
