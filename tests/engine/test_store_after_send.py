"""The store fails *after* a pair's legs were sent: no crash, no trading until a reconciliation has
brought the database to the venues' truth, then trading resumes; every order ends resolved with its fills."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine as SAEngine

from arb.config import load_config
from arb.engine import Engine
from engine.store_outage import on_a_loop

from .helpers import config_with, trimmed_capture


class FailAfterSend:
    """From the first fill insert on the event loop's thread (a leg's answer being recorded, so its order is
    already on the venue), the next ``failures`` statements fail like a locked SQLite database."""

    def __init__(self, database: str, failures: int) -> None:
        self.database, self.failures, self.failed = database, failures, 0
        self.started = False

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if conn.engine.url.database != self.database or self.failed >= self.failures:
            return
        if not self.started:
            if statement.lstrip().upper().startswith("INSERT INTO FILLS") and on_a_loop():
                self.started = True
            else:
                return
        self.failed += 1
        raise sqlite3.OperationalError("database is locked")


async def test_store_failure_after_send_pauses_trading_until_reconciled(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:06")
    config = load_config(config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture}"',
        "speed = 0 ": "speed = 100 ",  # real time passes, so the store can come back mid-run
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        'status = "auto"': 'status = "off"',
    }))
    path = tmp_path / "after-send.db"
    engine = Engine(config, db_url=f"sqlite:///{path}", force_paper=True, install_signal_handlers=False)
    fault = FailAfterSend(str(path), failures=3)
    event.listen(SAEngine, "before_cursor_execute", fault)
    try:
        result = await asyncio.wait_for(engine.run(), 90)
    finally:
        event.remove(SAEngine, "before_cursor_execute", fault)
    assert fault.started and fault.failed == 3

    funnel = result.funnel.as_dict()
    assert funnel["rejected"].get("store_failed_after_send") == 1
    with create_engine(f"sqlite:///{path}").connect() as c:
        orders = c.execute(text("SELECT id, status, filled FROM orders")).all()
        fills = dict(c.execute(text("SELECT order_id, sum(CAST(amount AS REAL)) FROM fills GROUP BY order_id")).all())
        # The pair whose answers were lost was resolved by reconciliation, not by its own leg runner.
        reconciled = c.execute(text(
            "SELECT DISTINCT o.opportunity_id FROM order_events e JOIN orders o ON o.id = e.order_id "
            "WHERE e.detail LIKE 'reconciliation%'")).scalars().all()
        later = c.execute(text("SELECT count(*) FROM opportunities WHERE decision='executed' AND id > :i"),
                          {"i": max(reconciled, default=10**9)}).scalar()
    # Reconciliation resolved the orders whose answers were lost: none is left in flight, and each order's
    # filled amount is exactly what its fills add up to.
    assert orders and all(o.status in ("filled", "canceled", "rejected") for o in orders), orders
    for o in orders:
        assert Decimal(o.filled) == Decimal(str(fills.get(o.id, 0))).quantize(Decimal(o.filled)), o
    assert len(reconciled) == 1
    assert engine.state.reconcile_pending is False
    # Trading went on after the store came back and the reconciliation ran.
    assert later >= 1
