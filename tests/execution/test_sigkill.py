"""SIGKILL between a leg's send and the recording of its answer; reconciliation finds everything, once.

A child process (``sigkill_child.py``) runs the real executor over loopback HTTP against this test's two
sandboxes and the test's database (SQLite and PostgreSQL). Both legs reach their venue and are answered;
the child then freezes before recording and is killed. ``reconcile`` on the same database and sandboxes
must bring both orders to the venues' truth with their fills equal to the venues' trades, and a second
``reconcile`` must add nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arb.execution.lookup import LookupPolicy
from arb.execution.reconciliation import reconcile
from arb.store.db import make_engine, make_session_factory
from arb.store.migrate import upgrade_to_head
from arb.store.models import Fill, Order, OrderEvent
from arb.venues.gate.sandbox import Sandbox

from .conftest import new_run
from .sandbox_rig import SYMBOL, live_gate, sandbox_config

D = Decimal
TESTS_DIR = Path(__file__).resolve().parents[1]
DEADLINE_S = 60.0  # the child imports ccxt and SQLAlchemy first; generous, never a fixed wait
POLL_S = 0.02


async def wait_for_markers(markers: Path, count: int, child: asyncio.subprocess.Process, log: Path) -> list[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        found = sorted(p.stem for p in markers.glob("*.sent"))
        if len(found) >= count:
            return found
        if child.returncode is not None:
            pytest.fail(f"child exited with {child.returncode} before sending:\n{log.read_text()[-3000:]}")
        if loop.time() > deadline:
            pytest.fail(f"no {count} markers after {DEADLINE_S} s (found {found}):\n{log.read_text()[-3000:]}")
        await asyncio.sleep(POLL_S)  # poll interval of a bounded loop; the sandboxes serve meanwhile


async def test_sigkill_after_sending_before_recording_then_reconcile_finds_every_fill_once(
    db_url: str, tmp_path: Path
) -> None:
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    run_id = new_run(sessions)
    markers = tmp_path / "markers"
    markers.mkdir()
    log = tmp_path / "child.log"
    since = datetime.now(UTC) - timedelta(minutes=1)
    try:
        async with Sandbox(sandbox_config()) as sb_a, Sandbox(sandbox_config()) as sb_b:
            # Buy 2 at <= 20.00 on A: 0.7 + 0.5 within the limit, an IOC partial over two trades.
            sb_a.push_book("LINK_USDT", [("19.90", "50")], [("19.99", "0.7"), ("20.00", "0.5"), ("20.30", "50")])
            # Sell 2 at >= 20.20 on B: 0.5 @ 20.25 + 1.5 @ 20.20, filled over two trades.
            sb_b.push_book("LINK_USDT", [("20.25", "0.5"), ("20.20", "5")], [("20.30", "50")])
            args = {
                "db_url": db_url,
                "run_id": run_id,
                "markers": str(markers),
                "venues": {name: {"rest": sb.rest_url, "ws": sb.ws_url}
                           for name, sb in (("gate_a", sb_a), ("gate_b", sb_b))},
            }
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS_DIR),
                                                                              os.environ.get("PYTHONPATH")]))}
            with log.open("wb") as out:
                child = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "execution.sigkill_child", json.dumps(args),
                    env=env, cwd=TESTS_DIR, stdout=out, stderr=out,
                )
            try:
                sent = await wait_for_markers(markers, 2, child, log)
                child.send_signal(signal.SIGKILL)
                assert await asyncio.wait_for(child.wait(), timeout=10) == -signal.SIGKILL
            finally:
                if child.returncode is None:
                    child.kill()
                    await child.wait()

            # What the crash left: both orders stored before sending, no answer recorded.
            with sessions() as s:
                rows = {o.client_order_id: o for o in s.scalars(select(Order))}
                assert sorted(rows) == sent and {o.status for o in rows.values()} == {"created"}
                assert s.scalar(select(func.count()).select_from(Fill)) == 0

            async with live_gate("gate_a", sb_a) as venue_a, live_gate("gate_b", sb_b) as venue_b:
                venues = {"gate_a": venue_a, "gate_b": venue_b}
                lookup = LookupPolicy((0.02, 0.05, 0.1))
                report = await reconcile(venues, sessions, run_id, symbols=[SYMBOL], since=since, lookup=lookup)
                assert sorted(report.resolved) == sent
                assert (report.rejected, report.unresolved, report.adopted, report.orphan_fills) == ([], [], [], [])

                with sessions() as s:
                    for sb in (sb_a, sb_b):
                        texts = [o.client_id for o in sb.engine.orders.values()]
                        assert len(texts) == 1 and texts[0] in sent  # one order per client id, never resent
                        venue_order = next(iter(sb.engine.orders.values()))
                        row = s.scalars(select(Order).where(Order.client_order_id == venue_order.client_id)).one()
                        expected_status = "filled" if venue_order.left == 0 else "canceled"
                        assert (row.status, row.filled, row.venue_order_id) == (
                            expected_status, venue_order.filled_amount, str(venue_order.id))
                        db_fills = sorted(
                            (f.trade_id, f.price, f.amount, f.fee, f.fee_currency)
                            for f in s.scalars(select(Fill).where(Fill.order_id == row.id)))
                        venue_fills = sorted(
                            (str(t.id), t.price, t.amount, t.fee, t.fee_currency)
                            for t in sb.engine.trades if t.client_id == venue_order.client_id)
                        assert db_fills == venue_fills and len(venue_fills) == 2
                        assert sum((f[2] for f in db_fills), D(0)) == row.filled
                    statuses = sorted(o.status for o in s.scalars(select(Order)))
                    assert statuses == ["canceled", "filled"]  # buy 1.2 of 2 (IOC), sell 2 of 2
                    counts = (s.scalar(select(func.count()).select_from(Fill)),
                              s.scalar(select(func.count()).select_from(OrderEvent)))
                assert counts[0] == 4

                again = await reconcile(venues, sessions, run_id, symbols=[SYMBOL], since=since, lookup=lookup)
                assert again.fills_added == 0 and again.resolved == again.adopted == again.orphan_fills == []
                with sessions() as s:
                    assert (s.scalar(select(func.count()).select_from(Fill)),
                            s.scalar(select(func.count()).select_from(OrderEvent))) == counts
    finally:
        engine.dispose()
