"""What the engine shows while it runs: plain status lines when stderr is not a terminal, JSON log lines
tagged with the run id, and no secret anywhere in what it prints or stores."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.engine import Engine
from arb.runtime.logs import RUN_ID, setup_logging
from arb.runtime.status import RunView, StatusReporter

from .helpers import config_with, trimmed_capture
from .paper_rig import SpyEngine, rehearsal_config, until
from .store_outage import StoreOutage

STATUS = re.compile(r"^arb: run (\d+) market \S+ \S+Z elapsed \d+:\d\d:\d\d updates (\d+) \((\d+)/s\) crossed \d+ "
                    r"executed \d+ rejected \d+(?: \([^)]*\))? pnl \S+ "
                    r"books (\S+:\w+\(-?\d+ms\)( |$))+")


@pytest.fixture
def arb_logging() -> Iterator[None]:
    """Undo ``setup_logging`` afterwards: its handler writes to the stream captured for this test."""
    root = logging.getLogger()
    level = root.level
    yield
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_arb", False)]
    root.setLevel(level)
    RUN_ID.run_id = None


async def test_plain_status_lines_when_stderr_is_not_a_terminal(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    capture = trimmed_capture(tmp_path, "00:40:00", "00:41:00")
    config = load_config(config_with(tmp_path, extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture}"',
        "speed = 0 ": "speed = 30 ",  # 2 s of replay: time for several status ticks
        "status_interval_s = 5.0": "status_interval_s = 0.1",
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    }))
    assert config.engine.status == "auto"  # the shipped default: pytest's captured stderr is no terminal
    result = await Engine(config, db_url=f"sqlite:///{tmp_path / 's.db'}", install_signal_handlers=False).run()
    err = capsys.readouterr().err
    assert "\x1b[" not in err  # no terminal control sequences: a log file stays readable
    lines = [line for line in err.splitlines() if STATUS.match(line)]
    assert len(lines) >= 5, err
    runs = {int(STATUS.match(line).group(1)) for line in lines}  # type: ignore[union-attr]
    updates = [int(STATUS.match(line).group(2)) for line in lines]  # type: ignore[union-attr]
    assert runs == {result.run_id}
    assert updates == sorted(updates) and updates[-1] > updates[0] > 0  # counts advance while it runs
    assert "gate:live" in lines[-1] and "htx:live" in lines[-1]


async def test_json_logs_carry_the_run_id(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          arb_logging: None) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:03")
    config = load_config(config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture}"',
        "speed = 0 ": "speed = 100 ",
        'min_edge_bps = "0.5"': 'min_edge_bps = "0.1"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'log_format = "text"': 'log_format = "json"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    }))
    setup_logging(config.engine.log_level, config.engine.log_format)
    path = tmp_path / "j.db"
    # A brief store outage makes the engine and its writer log mid-run (an error and warnings).
    with StoreOutage(str(path), after=1, failures=2):
        result = await Engine(config, db_url=f"sqlite:///{path}", install_signal_handlers=False).run()
    err = capsys.readouterr().err
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert records and all(set(r) >= {"ts", "level", "logger", "run_id", "msg"} for r in records)
    engine = [r for r in records if r["logger"] in ("arb.engine", "arb.runtime.writer")]
    started = next(i for i, r in enumerate(engine) if r["msg"].startswith(f"run {result.run_id} started"))
    before, during = engine[:started], engine[started:]
    assert {r["level"] for r in during} >= {"ERROR", "WARNING"}, during
    assert all(r["run_id"] == result.run_id for r in during), [(r["run_id"], r["msg"]) for r in during]
    # Before its row exists (the schema created) a line carries no run id, never the last run's: a process
    # that ran an engine before (a sweep worker, this test's worker) used to tag it with that run's id.
    assert all(r["run_id"] is None for r in before), before
    # Every line of that stream is a JSON record or one of the engine's own plain status notes: nothing
    # else leaks into a log shipper's input.
    assert all(line.startswith(("{", "arb: ")) for line in err.splitlines() if line), err


async def test_secrets_never_appear_in_logs_or_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            arb_logging: None) -> None:
    config = rehearsal_config(tmp_path, "00:00", "00:01", speed=30, extra={"log_level = \"INFO\"": "log_level = \"DEBUG\""})
    setup_logging(config.engine.log_level, "text")
    db = tmp_path / "secret.db"
    engine = SpyEngine(config, db_url=f"sqlite:///{db}", install_signal_handlers=False)
    run = asyncio.create_task(engine.run())
    await until(lambda: engine.venues is not None and bool(engine.venues.sandboxes), "sandbox started", run=run)
    sandbox = engine.sandbox("gate")
    secret = sandbox.config.accounts[0].secret
    # Something to log about mid-run, at every level (DEBUG included): the WebSocket drops and resyncs.
    feed_up = until(lambda: engine.feeds is not None and engine.feeds.feeds["gate"].connections >= 1,
                    "feed connected", run=run)
    await feed_up
    await sandbox.close_websockets()
    result = await asyncio.wait_for(run, 60)
    out = capsys.readouterr()
    logged = out.err + out.out
    assert f"[run {result.run_id}]" in logged  # the text format carries the run id too
    assert engine.funnel.executed > 0  # signed requests were made, so there was something to leak
    assert len(secret) >= 32 and secret not in logged
    with create_engine(f"sqlite:///{db}").connect() as c:
        tables = [t for (t,) in c.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))]
        for table in tables:
            for row in c.execute(text(f'SELECT * FROM "{table}"')):
                assert secret not in repr(tuple(row)), table


def _view_with_a_trading_history() -> RunView:
    """A run's view built from the real objects: a breaker open on gate, exposure, a trade, balances."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal as D
    from types import MappingProxyType

    from arb.detection import Opportunity
    from arb.domain.market import Side
    from arb.domain.orders import OrderStatus
    from arb.domain.venue import FillReport, OrderRequest
    from arb.eventloop.clock import WallClock
    from arb.execution.executor import PairResult
    from arb.execution.order_runner import OrderOutcome
    from arb.execution.risk import RiskGate, RiskLimits
    from arb.marketdata.books import BookStore
    from arb.runtime.funnel import Funnel
    from arb.runtime.trades import TradeLog

    at = datetime(2021, 8, 20, tzinfo=UTC)
    risk = RiskGate(RiskLimits(D(1000), D(25), D(50), max_consecutive_failures=1, cooldown=timedelta(hours=1)),
                    clock=lambda: datetime.now(UTC))
    risk.record_failure("gate")
    risk.add_exposure("gate", "LINK", D("0.0100000000001"))
    risk.record_pnl(D("-1.23456789"))
    opp = Opportunity.__new__(Opportunity)
    for name, value in {"symbol": "LINK/USDT", "buy_venue": "gate", "sell_venue": "htx", "size": D("1.5"),
                        "expected_profit": D("0.004123456789")}.items():
        object.__setattr__(opp, name, value)
    fill = FillReport(venue="gate", trade_id="t1", client_order_id="c1", venue_order_id="v1", symbol="LINK/USDT",
                      side=Side.BUY, price=D("20"), amount=D("1.5"), fee=D(0), fee_currency="LINK", ts=at)
    leg = OrderOutcome(1, OrderRequest("c1", "LINK/USDT", Side.BUY, D("1.5"), D("20")), "gate", OrderStatus.FILLED,
                     D("1.5"), (fill,), sent_ns=1_000, answered_ns=3_001_000)
    trades = TradeLog()
    trades.record(opp, PairResult(12, True, legs=(leg,), outcome="hedged", realized_pnl=D("0.0039876543")), at)
    funnel = Funnel()
    books = BookStore()
    books.book("gate", "LINK/USDT")
    return RunView(funnel, books, WallClock(), lambda: {"feed_drops": {}, "task_restarts": {}, "stale_resubscribes": {}},
                   run_id=5, balances=MappingProxyType({"gate": {"USDT": D("4970.123456789"), "LINK": D("201.5")}}),
                   stale_balances=lambda: frozenset({"gate"}), risk=risk.state, trades=trades,
                   stop_reason=lambda: None)


def test_the_status_shows_balances_exposure_risk_and_recent_trades_at_display_precision() -> None:
    import io

    from rich.console import Console

    from arb.display import Precision

    view = _view_with_a_trading_history()
    precision = Precision({"USDT": 5, "LINK": 7}, {("gate", "USDT"): 5, ("gate", "LINK"): 7}, {"LINK/USDT": 3})
    reporter = StatusReporter("plain", stream=io.StringIO(), precision=precision)
    reporter._engine, reporter._run_id = view, 5  # as start() sets them, without its timer
    line = reporter.line()
    assert " balances gate LINK 201.5 USDT 4970.12346 (stale) " in line
    assert " exposure gate LINK 0.01 " in line
    assert " risk breaker gate open (1 failures), daily -1.23457 / limit -50 " in line
    assert " last #12 LINK/USDT gate>htx 1.5 exp 0.00412 real 0.00399 filled" in line
    assert "fill stream" not in line and "requests held" not in line  # nothing happened there
    out = io.StringIO()
    Console(file=out, width=160, force_terminal=False).print(reporter._table())
    table = out.getvalue()
    for row in ("balances gate", "LINK 201.5 USDT 4970.12346 (stale)", "exposure", "breaker gate open",
                "recent trades", "#12 LINK/USDT gate>htx 1.5 exp 0.00412 real 0.00399 filled"):
        assert row in table, table


def test_the_view_snapshot_is_plain_json_with_exact_money() -> None:
    view = _view_with_a_trading_history()
    snap = json.loads(json.dumps(view.snapshot()))  # JSON-able as it is, nothing lost on the way
    assert snap["run_id"] == 5
    assert snap["balances"] == {"gate": {"LINK": "201.5", "USDT": "4970.123456789"}}
    assert snap["stale_balances"] == ["gate"]
    assert snap["exposure"] == {"gate": {"LINK": "0.0100000000001"}}
    assert snap["risk"]["breakers"]["gate"]["state"] == "open" and snap["risk"]["pnl_today"] == "-1.23456789"
    assert snap["risk"]["daily_loss_limit"] == "50" and snap["risk"]["daily_limit_reached"] is False
    assert snap["orders"] == {"gate": {"filled": 1}} and snap["fills"] == {"gate": 1}
    assert snap["recent_trades"] == [{"opportunity_id": 12, "at": "2021-08-20T00:00:00+00:00", "symbol": "LINK/USDT",
                                      "buy_venue": "gate", "sell_venue": "htx", "size": "1.5",
                                      "expected": "0.004123456789", "realized": "0.0039876543", "outcome": "filled"}]
    assert snap["books"] == [{"venue": "gate", "symbol": "LINK/USDT", "health": "syncing", "age_ms": None}]


def test_the_status_names_fill_stream_troubles_and_requests_held_once_they_happen() -> None:
    import dataclasses
    import io

    counters = {"feeds": {}, "fill_streams": {"gate": {"connections": 2, "pushed": 5, "recovered": 1, "duplicates": 2,
                                                       "malformed": 1, "reconciliations": 2}, "bn": {"connections": 1}},
                "requests_held": {"gate": {"reset": 1, "budget": 4}, "htx": {"reset": 0, "budget": 0}},
                "decisions_written": 9}
    view = dataclasses.replace(_view_with_a_trading_history(), counters=lambda: counters)
    reporter = StatusReporter("plain", stream=io.StringIO())
    reporter._engine, reporter._run_id = view, 5
    line = reporter.line()
    assert " fill stream gate duplicates 2, malformed 1" in line and "fill stream bn" not in line
    assert " requests held gate:reset 1 budget 4" in line and "htx:" not in line
