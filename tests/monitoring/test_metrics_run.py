"""A real engine run (paper mode: the in-process Gate sandbox and a paper HTX on a real capture) with
``[monitoring] metrics_port = 0``: /metrics is scraped over HTTP while the run trades and after it ends,
and every family holds the run's numbers: at the end, the summary's (read back from the database)."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, text

from arb.engine import Engine
from arb.marketdata.book import Health
from tests.engine.paper_rig import paper_config, until

from .scrape import by_label, running, scrape

FAMILIES = (
    "arb_book_health", "arb_book_age_seconds", "arb_book_updates_total", "arb_funnel_total", "arb_pnl_quote",
    "arb_unsettled_pairs", "arb_balance", "arb_breaker_state", "arb_kill_switch", "arb_daily_pnl_quote",
    "arb_daily_loss_limit_quote", "arb_hot_path_latency_seconds_count", "arb_orders_total", "arb_fills_total",
    "arb_trades_total", "arb_order_latency_seconds_count", "arb_rejections_total", "arb_run_info", "arb_equity_quote",
    "arb_inventory_seconds_to_empty", "arb_inventory_depleted", "arb_decisions_written_total",
)


async def test_metrics_while_running_and_at_the_end_equal_the_run_summary(tmp_path: Path) -> None:
    # A window longer than the test needs: it stops the run itself once it has scraped a trading run.
    config = paper_config(tmp_path, "00:00", "05:00", speed=20, extra={"[monitoring]": "[monitoring]\nmetrics_port = 0"})
    db = f"sqlite:///{tmp_path / 'metrics.db'}"
    engine = Engine(config, db_url=db, install_signal_handlers=False)
    async with running(engine) as run:
        await until(lambda: engine.monitor is not None and engine.funnel.executed >= 2, "trading", 60, run=run)
        assert engine.monitor is not None and engine.monitor.metrics is not None
        port = engine.monitor.metrics.port
        assert port

        def traded(samples: dict) -> bool:
            return by_label(samples["arb_funnel_total"], "stage").get(("executed",), 0) >= 1

        during = await asyncio.to_thread(scrape, port)
        deadline = asyncio.get_running_loop().time() + 20
        while not traded(during):  # the monitor publishes once a second
            assert asyncio.get_running_loop().time() < deadline, "no executed pair in the scraped metrics"
            await asyncio.sleep(0.2)
            during = await asyncio.to_thread(scrape, port)
        assert not run.done(), "scraped after the run ended: not a scrape during the run"
        assert set(FAMILIES) <= set(during), set(FAMILIES) - set(during)
        assert during["arb_book_updates_total"][0].value > 0
        engine.request_stop("test done")
        result = await asyncio.wait_for(run, 60)
        after = await asyncio.to_thread(scrape, port)  # the endpoint serves the finished run's numbers

    s = result.summary
    f = s["funnel"]
    assert f["executed"] >= 2
    assert after["arb_book_updates_total"][0].value == f["book_updates"] >= during["arb_book_updates_total"][0].value
    assert by_label(after["arb_funnel_total"], "stage") == {
        (stage,): f[stage] for stage in ("evaluations", "crossed", "profitable_after_fees", "approved", "executed")}
    assert by_label(after["arb_rejections_total"], "reason") == {(r,): n for r, n in f["rejected"].items()}
    assert by_label(after["arb_trades_total"], "outcome") == {(o,): n for o, n in f["outcomes"].items()}
    # Orders and fills: the executor's, counted in memory, equal the stored rows the summary counts.
    per_status: Counter[str] = Counter()
    for (_venue, status), n in by_label(after["arb_orders_total"], "venue", "status").items():
        per_status[status] += int(n)
    assert dict(per_status) == s["orders_by_status"] and sum(per_status.values()) == s["orders"]
    assert sum(by_label(after["arb_fills_total"], "venue").values()) == s["fills"] > 0
    for clock in ("market", "host"):  # the same orders on each clock: those the summary's latencies count
        assert {venue: n for (venue, c), n in by_label(after["arb_order_latency_seconds_count"], "venue",
                                                       "clock").items() if c == clock} == {
            venue: lat["n"] for venue, lat in s["venue_latency_ms"].items()}
    # Equity: realized plus the open positions' unrealized PnL, as the summary values them at the end.
    unrealized = s["unrealized_pnl"].get("USDT") or Decimal(0)
    assert by_label(after["arb_equity_quote"], "quote") == {("USDT",): float(s["realized_pnl"] + unrealized)}
    assert after["arb_hot_path_latency_seconds_count"][0].value == s["hot_path_us"]["count"]
    pnl = by_label(after["arb_pnl_quote"], "kind")
    assert pnl == {("expected",): float(s["expected_profit"]), ("realized",): float(s["realized_pnl"])}
    assert after["arb_unsettled_pairs"][0].value == s["unsettled"] == 0
    # Balances: the end snapshot the run stored.
    with create_engine(db).connect() as c:
        stored = {(venue, asset): float(Decimal(free)) for venue, asset, free in c.execute(text(
            "SELECT venue, asset, free FROM balances WHERE run_id = :r AND kind = 'end'"), {"r": result.run_id})}
    assert stored and by_label(after["arb_balance"], "venue", "asset") == stored
    # Risk and books: one state per breaker and per book, the exposure the risk gate holds.
    risk = engine.monitor.view.risk()  # type: ignore[union-attr, misc]
    assert by_label(after.get("arb_exposure", []), "venue", "asset") == {k: float(q) for k, q in risk.exposure.items()}
    breakers = by_label(after["arb_breaker_state"], "venue", "state")
    assert {venue for venue, _ in breakers} == {"gate", "htx"}
    assert all(sum(v for (venue, _), v in breakers.items() if venue == name) == 1 for name in ("gate", "htx"))
    health = by_label(after["arb_book_health"], "venue", "symbol", "health")
    assert len(health) == 2 * len(Health) and sum(health.values()) == 2
    assert after["arb_kill_switch"][0].value == 0
    assert after["arb_daily_loss_limit_quote"][0].value == float(config.risk.daily_loss_limit)
    assert after["arb_daily_pnl_quote"][0].value == float(risk.pnl_today)
    # The plumbing (Engine.counters), each figure its one counter's as the run ended (a simulation: no book
    # feed; tests/monitoring/test_counters_metrics.py has a run with one).
    counters = engine.counters()
    assert counters["feeds"] == {} and "arb_feed_frames_total" not in after
    assert by_label(after.get("arb_requests_held_total", []), "venue", "by") == {
        (venue, by): n for venue, held in counters["requests_held"].items() for by, n in held.items()}
    with create_engine(db).connect() as c:
        decisions = c.execute(text("SELECT COUNT(*) FROM opportunities WHERE run_id = :r AND decision = 'rejected'"),
                              {"r": result.run_id}).scalar_one()  # the writer's; a traded pair's: the executor's
    assert after["arb_decisions_written_total"][0].value == counters["decisions_written"] == decisions > 0
