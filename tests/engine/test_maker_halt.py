"""A maker run its leg policy halts looks halted on every surface (``maker_capture.maker_halt_config``: the
first fill's hedge fails, ``leg_policy = "halt"``): ``arb run`` exits 3 and its run row is ``halted``; the
summary says what halted it and shows the base left open; the risk gate's kill switch is engaged, so the
status view, the metrics, the incidents say halt; ``arb trades`` calls the pair ``halted``; ``arb report``
names the halt and the open position; and no surface shows the naked pair as a profit. No later start hedges
what the halt left to the operator; and a second replay into the same database takes nothing over from the
first (its paper venues were another simulated market)."""

from __future__ import annotations

import json
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from arb.cli import main
from arb.config import load_config
from arb.engine import Engine
from arb.store.db import make_engine, make_session_factory
from arb.store.maker_pairs import unfinished_quotes
from arb.store.models import Opportunity
from tests.monitoring.scrape import by_label, run_and_scrape

from .maker_capture import binance_maker_capture, first_seconds, maker_config, maker_halt_config
from .test_simulation import _rows

D = Decimal


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return first_seconds(binance_maker_capture(tmp_path_factory.mktemp("maker-capture")), 150)


def test_arb_run_of_a_maker_config_that_halts_exits_3_and_says_so(
        capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "halt.db"
    assert main(["run", "--config", str(maker_halt_config(tmp_path, capture)), "--db", f"sqlite:///{db}"]) == 3
    out, err = capsys.readouterr()
    assert "halted after the BTC/USDT maker sell side's hedges failed, 0.002 BTC owed a hedge" in out
    assert "UNHEDGED              0.002 BTC filled on spot with no hedge" in out
    assert "OPEN POSITION           spot -0.002 BTC" in out
    assert "arb: halted: halted after the BTC/USDT maker sell side's hedges failed" in err
    assert "open: spot -0.002 BTC" in err and "flatten it on the venue, then start again" in err
    with sqlite3.connect(db) as c:
        status, reason, summary = c.execute("SELECT status, status_reason, summary FROM runs").fetchone()
        pairs = c.execute("SELECT realized_pnl, detail FROM opportunities WHERE strategy = 'maker'").fetchall()
    assert status == "halted" and "maker sell side's hedges failed" in reason
    (realized, detail), = pairs  # the one pair, its hedge failed: nothing realized, its base open
    assert D(realized) == 0 and json.loads(detail)["halted"] is True
    summary = json.loads(summary)
    assert [p["amount"] for p in summary["open_positions"]] == ["-0.002"]
    assert summary["funnel"]["outcomes"] == {"halted": 1}
    assert [i["kind"] for i in summary["incidents"]] == ["halt"]

    assert main(["trades", "--db", f"sqlite:///{db}", "--format", "json"]) == 0
    (trade,) = json.loads(capsys.readouterr().out)["trades"]["rows"]
    assert trade["outcome"] == "halted" and D(trade["realized_pnl"]) == 0
    assert main(["report", "--db", f"sqlite:///{db}"]) == 0
    report = " ".join(capsys.readouterr().out.split())  # the table wraps its lines at the terminal's width
    assert "halted: halted after the BTC/USDT maker sell side's hedges failed" in report
    assert "Open positions at the run's end" in report

    # The halt told the operator to flatten the base by hand: no later start may hedge it again (that would
    # open the opposite position). Found by the start's take-over on a venue that persists, it is left alone;
    # the same quote not marked as the halt's would be taken over.
    sessions = make_session_factory(make_engine(f"sqlite:///{db}"))
    with sessions() as s:
        assert unfinished_quotes(s, "spot", "BTC/USDT") == []
    with sessions.begin() as s:
        pair = s.scalars(select(Opportunity)).one()
        pair.detail = {k: v for k, v in (pair.detail or {}).items() if k != "halted"}
    with sessions() as s:
        (found,) = unfinished_quotes(s, "spot", "BTC/USDT")
    assert (found.filled, found.hedged, found.resting) == (D("0.002"), 0, False)


def test_a_second_replay_into_the_same_database_takes_nothing_over_from_the_first(
        capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A paper maker venue is new in every run: what the first replay left unhedged (at two levels, dust below
    the perpetual's 0.001 BTC step on three quotes) is in a simulated market that is gone. The second replay
    took those quotes over and hedged them in its own market (232 quotes instead of 233, -0.00026 BTC
    'unhedged'); it now replays the same capture into the same rows."""
    config, db = maker_config(tmp_path, capture, levels=2), f"sqlite:///{tmp_path / 'twice.db'}"
    assert main(["run", "--config", str(config), "--db", db]) == 0
    first_out = capsys.readouterr().out
    assert re.search(r"UNHEDGED +0\.000\d+ BTC filled on spot", first_out), first_out  # something to take over
    assert main(["run", "--config", str(config), "--db", db]) == 0
    out, err = capsys.readouterr()
    assert "taken over" not in out + err and "took over" not in out + err
    first, second = _rows(db, 1), _rows(db, 2)
    assert first["orders"]
    for table in first:
        assert first[table] == second[table], table


async def test_a_halted_maker_runs_metrics_and_status_say_halt(capture: Path, tmp_path: Path) -> None:
    path = maker_halt_config(tmp_path, capture, extra="[monitoring]\nmetrics_port = 0\n")
    engine = Engine(load_config(path), db_url=f"sqlite:///{tmp_path / 'halt.db'}", install_signal_handlers=False)
    result, after = await run_and_scrape(engine)
    assert result.halted
    assert after["arb_kill_switch"][0].value == 1
    assert by_label(after["arb_trades_total"], "outcome") == {("halted",): 1}
    assert by_label(after["arb_open_position"], "venue", "asset") == {("spot", "BTC"): -0.002}
    assert by_label(after["arb_maker_unhedged_base"], "symbol", "maker_venue", "taker_venue") == {
        ("BTC/USDT", "spot", "perp"): 0.002}
    line = engine.status.line()
    assert "KILL SWITCH (halt:maker_hedge_failed:BTC/USDT sell: 0.002 BTC owed a hedge)" in line, line
    assert "unhedged 0.002 BTC" in line
