"""analysis.ipynb on a maker run (``tests/engine/maker_capture.py``: Binance BTC/USDT spot quoted, the USD-M
perpetual hedged, replayed by ``arb run`` in a project laid out like a checkout): the maker section shows every
pair as the database holds it, its route table is the run summary's maker row, its times are the summary's,
and the funnel is the quotes' (the summary prints no detection stages for a run that only quoted)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from engine.maker_capture import binance_maker_capture, first_seconds, maker_config, maker_halt_config
from sqlalchemy import create_engine, text

from arb.cli import main
from notebooks.nbrun import execute, make_project, records
from notebooks.truth import Truth

ROUTE = "BTC/USDT spot -> perp, perp -> spot"  # its bids, then its asks (buy -> sell)


def _notebook_on(tmp_path: Path, config: Callable[[Path, Path], Path], exit_status: int,
                 ) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``config`` (of the Binance capture's first 150 s) run by ``arb run`` in a project laid out like a
    checkout, exiting ``exit_status``; then analysis.ipynb executed there: the database, the figures' records
    and the run's stored summary."""
    capture = first_seconds(binance_maker_capture(tmp_path), 150)
    root = make_project(tmp_path / "arb", config(tmp_path, capture).read_text(encoding="utf-8"))
    db_url = f"sqlite:///{root / 'arb.db'}"
    assert main(["run", "--config", str(root / "config.toml"), "--db", db_url]) == exit_status
    figures = records(execute(root / "notebooks" / "analysis.ipynb", root / "notebooks"))
    return db_url, figures, Truth(db_url, 1).summary


def test_the_notebook_shows_a_maker_runs_pairs_as_stored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_url, figures, summary = _notebook_on(tmp_path, maker_config, 0)
    (row,) = summary["maker"]
    engine = create_engine(db_url)
    with engine.connect() as c:
        pairs = c.execute(text("SELECT expected_profit, realized_pnl, pnl_adverse FROM opportunities "
                               "WHERE run_id = 1 AND strategy = 'maker' ORDER BY id")).all()
        answers = c.execute(text("SELECT o.purpose, count(*) FROM orders o WHERE o.run_id = 1 "
                                 "AND o.purpose IN ('hedge', 'flatten') GROUP BY 1")).all()
    engine.dispose()
    assert len(pairs) >= 20  # something to show

    maker = figures["maker"]
    (shown,) = maker["routes"]
    assert shown == {"route": ROUTE, **{k: row[k] for k in ("quotes", "refused", "quotes_filled", "maker_fills",
                                                             "hedges", "flattens")},
                     "unhedged_base": shown["unhedged_base"]}
    assert Decimal(shown["unhedged_base"]) == Decimal(row["unhedged_base"])
    top, bottom = maker["axes"]
    # Every pair drawn once per series, at the stored values (in first-fill order, here the id order).
    assert top["series"] == {f"{s}:{ROUTE}": len(pairs) for s in ("expected", "realized", "adverse")}
    for series, column in (("expected", 0), ("realized", 1), ("adverse", 2)):
        drawn = sorted(y for _, y in top["points"][f"{series}:{ROUTE}"])
        assert drawn == pytest.approx(sorted(float(p[column] or 0) for p in pairs), abs=1e-12), series
    assert f"{len(pairs)} maker-taker pairs ({len(pairs)} settled)" in top["title"]
    assert f"realized {Decimal(summary['realized_pnl']):.7f} USDT" in top["title"], top["title"]
    assert f"adverse selection {Decimal(row['adverse'])}" in top["title"]
    # Each hedge sent after a fill of its quote is one fill -> hedge point; each completed pair one unhedged one.
    hedges = sum(n for _, n in answers)
    assert bottom["series"][f"fill_to_hedge:{ROUTE}"] == hedges == row["hedges"] + row["flattens"]
    assert bottom["series"][f"unhedged:{ROUTE}"] == len(pairs)
    latency, unhedged = row["fill_to_hedge_ms"], row["unhedged_ms"]
    assert (f"fill -> hedge median {latency['median']} ms, max {latency['max']} ms; "
            f"unhedged median {unhedged['median']} ms, max {unhedged['max']} ms") == bottom["title"]
    assert max(y for _, y in bottom["points"][f"unhedged:{ROUTE}"]) == float(Decimal(unhedged["max"]))
    assert Counter(y == 0 for _, y in bottom["points"][f"fill_to_hedge:{ROUTE}"])[True] >= 1  # replay: arb takes 0

    # Its perpetual is a margin account: the holdings section shows the summary's holdings, the desk's figures.
    holdings, kept = figures["holdings"], summary["holdings"]
    assert {k: holdings[k] for k in ("held", "equity_at_mark", "equity_at_unwind", "realized", "basis")} == {
        k: kept[k] for k in ("held", "equity_at_mark", "equity_at_unwind", "realized", "basis")}
    assert [h["linear"] for h in holdings["held"]] == [False, True] and holdings["basis"]

    funnel, _ = figures["funnel"]["axes"]
    assert funnel["title"] == "Quote funnel"
    assert dict(zip(funnel["yticks"], funnel["bars"]["funnel"], strict=True)) == {
        "quotes sent": row["quotes"], "quotes filled": row["quotes_filled"], "executed": summary["funnel"]["executed"]}


def test_the_notebook_shows_a_halted_maker_run_halted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The leg policy halted the run on its first pair (``maker_halt_config``): the notebook shows the pair's base
    unhedged and the position it left open, as the summary stored them, and realized PnL without it."""
    _, figures, summary = _notebook_on(tmp_path, maker_halt_config, 3)
    (row,) = summary["maker"]
    (shown,) = figures["maker"]["routes"]
    assert Decimal(shown["unhedged_base"]) == Decimal(row["unhedged_base"]) == Decimal("0.002")
    top, _ = figures["maker"]["axes"]
    assert top["title"].startswith("1 maker-taker pairs (1 settled): expected ") and "-> realized 0 USDT" in top["title"]
    (position,) = summary["open_positions"]
    (drawn,) = figures["equity"]["open_positions"]
    assert {k: drawn[k] for k in ("venue", "symbol")} == {"venue": "spot", "symbol": "BTC/USDT"} == {
        k: position[k] for k in ("venue", "symbol")}
    assert Decimal(drawn["amount"]) == Decimal(position["amount"]) == Decimal("-0.002")
    assert Decimal(figures["equity"]["realized"]) == Decimal(summary["realized_pnl"]) == 0
