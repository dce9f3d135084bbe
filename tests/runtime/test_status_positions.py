"""While a run goes, the status view and the view's snapshot show the open position a settled pair left, its
unrealized PnL at the book's mid now and the equity (``arb.positions``), realized per route, and the
directions a venue's inventory cannot fund."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal as D
from types import MappingProxyType

from arb.detection import Opportunity
from arb.display import Precision
from arb.eventloop.clock import WallClock
from arb.execution.executor import PairResult
from arb.marketdata.books import BookStore
from arb.runtime.depletion import InventoryWatch
from arb.runtime.funnel import Funnel
from arb.runtime.status import StatusReporter
from arb.runtime.trades import TradeLog
from arb.runtime.view import RunView


def _view() -> RunView:
    opp = Opportunity.__new__(Opportunity)
    for name, value in {"symbol": "LINK/USDT", "buy_venue": "htx", "sell_venue": "gate", "size": D("19.99"),
                        "expected_profit": D("0.27")}.items():
        object.__setattr__(opp, name, value)
    trades = TradeLog()
    # A halted pair: gate sold 19.99 LINK at 27.01 that htx never bought; realized is only its fee.
    trades.record(opp, PairResult(7, True, outcome="halted", realized_pnl=D("-0.05"), open_base=D("-19.99"),
                                  open_price=D("27.01")), datetime(2021, 8, 20, tzinfo=UTC))
    funnel = Funnel()
    funnel.executed_pair(D("0.27"), D("-0.05"), "halted")
    books = BookStore()
    books.snapshot("gate", "LINK/USDT", [("27.03", "5")], [("27.04", "5")], ts=0)  # mid 27.035
    watch = InventoryWatch({"LINK/USDT": D(20)}, ["gate", "htx"], hold_s=0)
    balances = {"gate": {"USDT": D(5000), "LINK": D(200)}, "htx": {"USDT": D("0.236265"), "LINK": D(200)}}
    watch.update(0, balances, {("htx", "LINK/USDT"): D("27.04")})
    return RunView(funnel, books, WallClock(), lambda: {"feed_drops": {}, "task_restarts": {}, "stale_resubscribes": {}},
                   run_id=3, balances=MappingProxyType(balances), trades=trades, mode="paper", host="box1",
                   inventory=watch)


def test_the_status_line_and_table_show_the_open_position_equity_and_depletion() -> None:
    reporter = StatusReporter("plain", stream=io.StringIO(),
                              precision=Precision({"USDT": 6, "LINK": 2}, {}, {"LINK/USDT": 3}))
    reporter._engine, reporter._run_id = _view(), 3  # as start() sets them, without its timer
    line = reporter.line()
    # -19.99 x (27.035 - 27.01) = -0.49975; equity = -0.05 + -0.49975
    assert " OPEN gate -19.99 LINK at cost 27.01 unrealized -0.49975 " in line, line
    assert " equity -0.54975 USDT " in line, line
    assert " DEPLETED htx USDT 0.236265 (buys of LINK/USDT)" in line, line
    table = reporter._table()
    assert "OPEN" in table.columns[0]._cells and "equity" in table.columns[0]._cells


def test_the_snapshot_carries_positions_equity_routes_and_inventory() -> None:
    snap = json.loads(json.dumps(_view().snapshot()))
    (position,) = snap["positions"]  # exact strings, at the stored money precision (1e-12)
    assert {k: D(v) if k in ("amount", "cost", "mark", "unrealized") else v for k, v in position.items()} == {
        "venue": "gate", "symbol": "LINK/USDT", "amount": D("-19.99"), "cost": D("27.01"), "mark": D("27.035"),
        "unrealized": D("-0.49975")}
    assert D(snap["unrealized_pnl"]["USDT"]) == D("-0.49975") and D(snap["equity"]["USDT"]) == D("-0.54975")
    assert snap["realized_by_route"] == [{"symbol": "LINK/USDT", "buy_venue": "htx", "sell_venue": "gate",
                                          "realized": "-0.05"}]
    assert (snap["mode"], snap["host"]) == ("paper", "box1")
    assert snap["inventory"]["depleted"] == [{"venue": "htx", "symbol": "LINK/USDT", "side": "buy", "asset": "USDT",
                                              "balance": "0.236265", "needed": "540.80"}]
