"""The halted run (``tests/engine/helpers.halted_config``: a naked leg, exit 3) scraped at its end: the metrics
hold the open position, its unrealized PnL and the equity the run summary stores in ``runs.summary``;
realized PnL excludes the open position (it is the settled rows' sum, route by route); the run is named with
its mode and host; order latencies on the market clock are the stored ``acked_at - sent_at`` the summary
shows."""

from __future__ import annotations

import json
import socket
import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from arb.config import load_config
from arb.engine import Engine
from tests.engine.helpers import halted_config

from .scrape import by_label, run_and_scrape


async def test_a_halted_runs_metrics_hold_its_open_position_and_equity(tmp_path: Path) -> None:
    path = halted_config(tmp_path)
    path.write_text(path.read_text().replace("[monitoring]", "[monitoring]\nmetrics_port = 0", 1))
    db = tmp_path / "halt.db"
    engine = Engine(load_config(path), db_url=f"sqlite:///{db}", install_signal_handlers=False)
    result, after = await run_and_scrape(engine)
    assert result.halted
    with sqlite3.connect(db) as c:
        summary = json.loads(c.execute("SELECT summary FROM runs").fetchone()[0])
        settled = c.execute("SELECT symbol, buy_venue, sell_venue, realized_pnl FROM opportunities "
                            "WHERE realized_pnl IS NOT NULL").fetchall()
        latencies = c.execute("SELECT venue, sent_at, acked_at FROM orders WHERE sent_at IS NOT NULL "
                              "AND acked_at IS NOT NULL").fetchall()
    (position,) = summary["open_positions"]
    amount = Decimal(position["amount"])
    assert amount != 0 and position["unrealized"] is not None
    assert by_label(after["arb_open_position"], "venue", "asset") == {(position["venue"], "LINK"): float(amount)}
    unrealized = Decimal(summary["unrealized_pnl"]["USDT"])
    assert unrealized == Decimal(position["unrealized"])
    assert by_label(after["arb_unrealized_pnl_quote"], "quote") == {("USDT",): float(unrealized)}
    realized = Decimal(summary["realized_pnl"])
    assert by_label(after["arb_equity_quote"], "quote") == {("USDT",): float(realized + unrealized)}
    # Realized is what the settled pairs closed: the stored rows' sum, the open position not in it.
    assert realized == sum(Decimal(r[3]) for r in settled)
    assert by_label(after["arb_pnl_quote"], "kind")[("realized",)] == float(realized)
    routes: dict[tuple[str, str, str], Decimal] = {}
    for symbol, buy, sell, pnl in settled:
        routes[(symbol, buy, sell)] = routes.get((symbol, buy, sell), Decimal(0)) + Decimal(pnl)
    assert by_label(after["arb_route_realized_pnl_quote"], "symbol", "buy_venue", "sell_venue") == {
        k: float(v) for k, v in routes.items()}
    (info,) = after["arb_run_info"]
    assert info.labels == {"run_id": str(result.run_id), "mode": engine.mode, "host": socket.gethostname()}
    # Latency: the market clock's histogram is the stored latencies, the summary's; the host's counts the same.
    market = {(s.labels["venue"]): s.value for s in after["arb_order_latency_seconds_sum"]
              if s.labels["clock"] == "market"}
    counts = by_label(after["arb_order_latency_seconds_count"], "venue", "clock")
    stored: dict[str, list[float]] = {}
    for venue, sent, acked in latencies:
        delta = datetime.fromisoformat(acked) - datetime.fromisoformat(sent)
        stored.setdefault(venue, []).append(delta.total_seconds())
    assert {v: counts[(v, "market")] for v in stored} == {v: len(s) for v, s in stored.items()}
    assert {v: counts[(v, "host")] for v in stored} == {v: len(s) for v, s in stored.items()}
    assert market == pytest.approx({v: sum(s) for v, s in stored.items()}, abs=1e-9)
    assert {v: n["n"] for v, n in summary["venue_latency_ms"].items()} == {v: len(s) for v, s in stored.items()}
    # The htx leg travels 1,500 ms each way in market time: the market clock shows it, the host's does not.
    assert market["htx"] / counts[("htx", "market")] >= 1.5
