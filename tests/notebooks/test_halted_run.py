"""analysis.ipynb on a halted run (tests/engine/helpers.py's ``halted_config``: an unhedged leg, exit 3): the
notebook shows the open position and its unrealized PnL exactly as the run's summary stored them, realized
excluding it, and its equity curve marks the position at the capture's mid."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from engine.helpers import halted_config

from arb.cli import main
from notebooks.nbrun import Project, execute, make_project, records, stream_text
from notebooks.truth import TradingTruth, Truth, capture_mid, check_analysis, check_trading


def test_the_notebook_shows_a_halted_runs_open_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = halted_config(tmp_path)
    root = make_project(tmp_path / "arb", config.read_text(encoding="utf-8"))
    project = Project(root, f"sqlite:///{root / 'arb.db'}", "")
    assert main(["run", "--config", str(root / "config.toml"), "--db", project.db_url]) == 3
    capsys.readouterr()

    nb = execute(root / "notebooks" / "analysis.ipynb", root / "notebooks")
    figures = records(nb)
    check_analysis(figures, Truth(project.db_url, 1))
    truth = TradingTruth(project.db_url, 1)
    check_trading(figures, truth)

    (stored,) = truth.summary["open_positions"]  # the position the halt left, as the run stored it
    equity = figures["equity"]
    (shown,) = equity["open_positions"]
    assert {k: shown[k] for k in ("venue", "symbol")} == {k: stored[k] for k in ("venue", "symbol")}
    assert [Decimal(shown[k]) for k in ("amount", "cost", "mark", "unrealized")] == \
        [Decimal(stored[k]) for k in ("amount", "cost", "mark", "unrealized")]
    unrealized = Decimal(stored["unrealized"])
    assert unrealized != 0 and Decimal(equity["unrealized"]) == unrealized
    # Realized is the closed pairs only: the summary's figure, which the open position is not folded into.
    assert Decimal(equity["realized"]) == Decimal(truth.summary["realized_pnl"]) == truth.realized
    out = stream_text(nb, "stdout")
    assert f"unrealized {Decimal(stored['unrealized']):.6f} = equity {truth.realized + unrealized:.6f} USDT" in out, out
    title = equity["axes"][0]["title"]
    assert f"open: {stored['venue']} +{Decimal(stored['amount'])} LINK" in title and "(not in realized)" in title
    assert "not in it" in figures["pnl_per_hour"]["axes"][0]["title"]

    # At the halting pair's settlement the open lot is marked at the capture's mid then (computed here from the
    # capture, plainly): equity = realized so far + amount * (mid - cost).
    (opened_at, venue, amount, cost), = truth.lots
    capture_venue = {"gate": "binance", "htx": "huobi"}[venue]
    at_mid = capture_mid(tmp_path / "window.jsonl.gz", capture_venue, "LINK/USDT", opened_at)
    points = dict((x, y) for x, y in equity["axes"][0]["points"]["equity"])
    expected = truth.realized + amount * (at_mid - cost)
    assert points[opened_at.replace(tzinfo=None).isoformat()] == pytest.approx(float(expected), abs=1e-9)
    assert at_mid != Decimal(stored["mark"])  # a different instant, a different mark: the curve is not flat
