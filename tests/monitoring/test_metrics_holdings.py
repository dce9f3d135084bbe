"""A run that traded a perpetual: what its metrics serve at the end is its summary's holdings (equity at mark
and at unwind, realized (closed), funding), one figure each, and its margin account's ratio and position as
the last balance read found them; the status view says the same equity."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from arb.config import load_config
from arb.engine import Engine
from tests.engine.maker_capture import DATA, binance_maker_capture
from tests.engine.test_perp_valuation import eth_config

from .scrape import by_label, run_and_scrape


async def test_a_perpetual_run_s_metrics_at_the_end_are_its_summary_s_holdings(tmp_path: Path) -> None:
    capture = binance_maker_capture(tmp_path, spot_file=DATA / "binance-spot-ethusdt-20240808.gz",
                                    usdm_file=DATA / "binance-usdm-ethusdt-20240808.gz", symbol="ETH/USDT")
    path = eth_config(tmp_path, capture)
    path.write_text(path.read_text() + "\n[monitoring]\nmetrics_port = 0\n")
    engine = Engine(load_config(path), db_url=f"sqlite:///{tmp_path / 'm.db'}", install_signal_handlers=False)
    result, after = await run_and_scrape(engine)

    h = result.summary["holdings"]
    for family, figures in (("arb_equity_quote", h["equity_at_mark"]), ("arb_equity_at_unwind_quote", h["equity_at_unwind"]),
                            ("arb_realized_closed_quote", h["realized"])):
        assert by_label(after[family], "quote") == {(q,): float(v) for q, v in figures.items()}, family
    assert by_label(after["arb_equity_quote"], "quote")[("USDT",)] < 0 < float(result.summary["realized_pnl"])
    [position] = [p for p in h["held"] if p["linear"]]
    assert by_label(after["arb_perp_position"], "venue", "symbol") == {("perp", "ETH/USDT"): float(position["amount"])}
    [ratio] = after["arb_margin_ratio"]
    assert 0 < ratio.value < Decimal("0.05")  # 6.8 ETH at 5x on 10,000 USDT: far from liquidation
    assert ("perp", "ETH/USDT") in by_label(after["arb_liquidation_distance"], "venue", "symbol")
    assert engine.holdings_watch is not None and engine.holdings_watch.latest == h  # the view's last read
