"""Faults while the engine trades in mode ``paper``: Gate is the in-process sandbox (books over its
WebSocket through our update-id sync, orders through GateExchange with real signatures), HTX a paper venue,
both playing a real capture window at 40x.

The faults are injected into the running sandbox (``engine.venues.sandboxes["gate"].sandbox``); every
wait is on a condition with a deadline. A resync after a fault normally takes a loopback round trip, too
short for detection to ever look at the unhealthy book, so while a fault is being observed the sandbox
also answers 502 to REST (the snapshot the resync needs): the book stays unhealthy until we lift it.

The store outage runs as a paced replay (100x): the outage is injected at the DB-API (see store_outage.py)
and must end while the capture still has pairs to trade.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.engine import Engine
from arb.marketdata.book import Health

from .helpers import config_with, trimmed_capture
from .paper_rig import PAIR, SpyEngine, rehearsal_config, until
from .store_outage import StoreOutage

UNFINISHED = ("created", "submitted", "unknown")


async def test_ws_close_gap_and_5xx_burst_never_trade_unhealthy_books_and_the_run_continues(tmp_path: Path) -> None:
    # A long window so the three faults never race the end of the capture; the test stops the run itself
    # once it has seen what it needs (a clean stop: the same path as SIGTERM).
    config = rehearsal_config(tmp_path, "00:00", "01:20", speed=40, extra={
        # One ambiguous placement opens Gate's breaker. The cool-down outlasts the shipped six lookups
        # (3.75 s) that resolve the 5xx'd order, so its refusal is still seen after the pair resolves, and
        # ends well before the capture does. The burst ends as soon as the test sees the placement go
        # unknown (a few polls of 5 ms), long before the last lookup: the pair resolves instead of halting
        # the run (an unresolved leg halts by design). Every second here is a second of wall time.
        "max_consecutive_failures = 3": "max_consecutive_failures = 1",
        "failure_cooldown_s = 60.0": "failure_cooldown_s = 8.0",
    })
    db = f"sqlite:///{tmp_path / 'faults.db'}"
    engine = SpyEngine(config, db_url=db, install_signal_handlers=False)
    run = asyncio.create_task(engine.run())
    reader = create_engine(db)

    def count(sql: str) -> int:
        with reader.connect() as c:
            return int(c.execute(text(sql)).scalar() or 0)

    try:
        await until(lambda: engine.feeds is not None, "feeds started", run=run)
        sandbox = engine.sandbox("gate")
        feed = engine.feeds.feeds["gate"]
        sync = feed.syncs[PAIR]
        await until(lambda: engine.health("gate") is Health.LIVE and engine.funnel.executed >= 2,
                    "gate live and trading", run=run)

        # 1. The sandbox closes every WebSocket: the book is reset to syncing, the feed reconnects.
        connections, snapshots = feed.connections, feed.snapshots_fetched
        syncing = engine.health_at_detection[("gate", Health.SYNCING)]
        sandbox.faults.fraction_5xx = 1.0
        await sandbox.close_websockets()
        await until(lambda: feed.connections > connections
                    and engine.health_at_detection[("gate", Health.SYNCING)] >= syncing + 3,
                    "reconnected, and detection looked at the syncing gate book", run=run)
        sandbox.faults.fraction_5xx = 0.0
        await until(lambda: engine.health("gate") is Health.LIVE and feed.snapshots_fetched > snapshots,
                    "gate book resynced after the reconnect", run=run)
        executed = engine.funnel.executed
        await until(lambda: engine.funnel.executed > executed, "trading resumed after the reconnect", run=run)

        # 2. One update id is skipped: the book is marked gap until a new snapshot lines up.
        gaps, gap_seen = sync.gaps, engine.health_at_detection[("gate", Health.GAP)]
        sandbox.faults.fraction_5xx = 1.0
        sandbox.skip_update_id(PAIR)
        await until(lambda: sync.gaps > gaps and engine.health_at_detection[("gate", Health.GAP)] >= gap_seen + 3,
                    "the gap was seen, and detection looked at the gap book", run=run)
        sandbox.faults.fraction_5xx = 0.0
        await until(lambda: engine.health("gate") is Health.LIVE, "gate book resynced after the gap", run=run)
        executed = engine.funnel.executed
        await until(lambda: engine.funnel.executed > executed, "trading resumed after the gap", run=run)

        # 3. A 5xx burst while the book is live, starting as the next pair goes out: its Gate placement is
        # ambiguous (unknown), resolved by client-id lookup once the burst ends; the breaker then refuses
        # Gate pairs for the cool-down. (A burst that starts between pairs hits the balance read after a
        # pair instead: the pairs that follow are refused as balances_unavailable until a read succeeds.)
        unknown = count("SELECT count(*) FROM order_events WHERE to_status = 'unknown'")
        engine.at_next_handover = lambda: setattr(sandbox.faults, "fraction_5xx", 1.0)
        await until(lambda: count("SELECT count(*) FROM order_events WHERE to_status = 'unknown'") > unknown,
                    "a Gate placement answered 5xx", run=run)
        sandbox.faults.fraction_5xx = 0.0
        await until(lambda: engine.funnel.rejected["circuit_open:gate"] >= 1, "the breaker refused a pair", run=run)
        executed = engine.funnel.executed
        await until(lambda: engine.funnel.executed > executed, "trading resumed after the cool-down", run=run)

        engine.request_stop("test done")
        result = await asyncio.wait_for(run, 60)
    finally:
        if not run.done():
            engine.request_stop("test failed")
            await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)

    # Never handed an opportunity over while either of its books was unhealthy, though detection saw both
    # unhealthy states many times.
    assert engine.handovers and all(h.all_live for h in engine.handovers), [h for h in engine.handovers
                                                                           if not h.all_live]
    assert engine.health_at_detection[("gate", Health.SYNCING)] >= 3
    assert engine.health_at_detection[("gate", Health.GAP)] >= 3

    with reader.connect() as c:
        ended, summary = c.execute(text("SELECT ended_at, summary FROM runs WHERE id = :r"),
                                   {"r": result.run_id}).one()
        assert ended is not None and summary is not None
        assert c.execute(text(f"SELECT count(*) FROM orders WHERE status IN {UNFINISHED}")).scalar() == 0
        # The 5xx'd placements: ambiguous first, then resolved by lookup (they never landed: rejected).
        ambiguous = c.execute(text(
            "SELECT o.venue, o.status, e.detail FROM orders o JOIN order_events e ON e.order_id = o.id "
            "WHERE o.id IN (SELECT order_id FROM order_events WHERE to_status = 'unknown') "
            "AND e.to_status = o.status")).all()
        assert ambiguous and all(venue == "gate" and status == "rejected" and "not found by client id" in detail
                                 for venue, status, detail in ambiguous), ambiguous
        reasons: dict[str, int] = dict(c.execute(text("SELECT reason, count(*) FROM opportunities WHERE run_id = :r "
                                      "AND decision = 'rejected' GROUP BY reason"), {"r": result.run_id}).all())
        executed_rows = c.execute(text("SELECT count(*) FROM opportunities WHERE run_id = :r "
                                       "AND decision = 'executed'"), {"r": result.run_id}).scalar()
    reader.dispose()
    assert reasons.get("circuit_open:gate", 0) == result.funnel.rejected["circuit_open:gate"] >= 1
    # Every decision the funnel counted is a row, and every row is one the funnel counted.
    assert sum(reasons.values()) == result.funnel.as_dict()["rejected_total"]
    assert executed_rows == result.funnel.executed
    assert result.summary["stop_reason"] == "test done"  # stopped on request, not by a halt


async def test_store_outage_stops_trading_keeps_every_decision_and_trading_resumes(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:06")
    config = load_config(config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture}"',
        "speed = 0 ": "speed = 100 ",  # real time must pass for the store to come back mid-run
        'min_edge_bps = "0.5"': 'min_edge_bps = "0.1"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        'status = "auto"': 'status = "off"',
    }))
    path = tmp_path / "outage.db"
    engine = Engine(config, db_url=f"sqlite:///{path}", install_signal_handlers=False)
    # The store goes away as the 3rd pair starts to be recorded, for 3 statements: that pair's first write
    # and the writer's first two attempts; its third (after backoff) finds the store back.
    with StoreOutage(str(path), after=3, failures=3) as outage:
        result = await asyncio.wait_for(engine.run(), 60)
    assert outage.ended.is_set()

    funnel = result.funnel.as_dict()
    refused = funnel["rejected"].get("store_unavailable", 0)
    assert refused >= 1
    with create_engine(f"sqlite:///{path}").connect() as c:
        assert c.execute(text("SELECT ended_at IS NOT NULL FROM runs WHERE id = :r"), {"r": result.run_id}).scalar()
        rows = c.execute(text("SELECT detected_at, decision, reason FROM opportunities WHERE run_id = :r"),
                         {"r": result.run_id}).all()
        orders_of_unexecuted = c.execute(text(
            "SELECT count(*) FROM orders o JOIN opportunities p ON p.id = o.opportunity_id "
            "WHERE p.decision <> 'executed'")).scalar()
    # Nothing lost, nothing twice: one row per decision the funnel counted.
    assert len(rows) == funnel["rejected_total"] + funnel["executed"]
    away = sorted(r.detected_at for r in rows if r.reason == "store_unavailable")
    executed = sorted(r.detected_at for r in rows if r.decision == "executed")
    assert len(away) == refused
    assert executed[0] < away[0], "traded before the outage"
    assert not [t for t in executed if away[0] <= t <= away[-1]], "traded while the store was away"
    assert executed[-1] > away[-1], "trading resumed once the store was back"
    assert orders_of_unexecuted == 0
