"""At shutdown the engine cancels what rests on its venues and records the venue's answer in the database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select

from arb.config import load_config
from arb.domain.market import Side
from arb.domain.venue import OrderRequest
from arb.engine.ending import cancel_resting
from arb.eventloop.clock import WallClock
from arb.store import orders as repo
from arb.store.models import Order, OrderEvent
from tests.execution.conftest import new_run
from tests.execution.harness import SYMBOL, make_book, paper

from .helpers import config_with


async def test_a_resting_order_cancelled_at_shutdown_is_recorded(session_factory, tmp_path: Path) -> None:
    sessions = session_factory  # both databases
    venue = paper("htx", make_book("htx", [("19.90", "5")], [("20.10", "5")]))
    request = OrderRequest("t-resting-1", SYMBOL, Side.BUY, D("1"), D("19.00"), time_in_force="gtc")
    run_id = new_run(sessions)
    now = datetime.now(UTC)
    with sessions.begin() as s:
        order_id = repo.create_order(s, repo.NewOrder(run_id, None, "htx", SYMBOL, "buy", request.price,
                                                      request.amount, request.client_order_id,
                                                      time_in_force="gtc"), now)
    placed = await venue.place(request)
    with sessions.begin() as s:
        repo.record_report(s, order_id, placed, now)
    symbols = load_config(config_with(tmp_path)).engine.symbols
    await cancel_resting(SimpleNamespace(venues={"htx": venue}), symbols, sessions, WallClock().now)  # type: ignore[arg-type]
    assert await venue.fetch_open_orders(SYMBOL) == []
    with sessions() as s:
        order = s.scalars(select(Order).where(Order.id == order_id)).one()
        last = s.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)).all()[-1]
    assert (order.status, last.to_status, last.detail) == ("canceled", "canceled", "canceled at shutdown")
