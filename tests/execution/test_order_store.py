"""The order repository on real databases (SQLite and PostgreSQL)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arb.domain.market import Side
from arb.domain.orders import IllegalTransition, OrderStatus, VenueState
from arb.domain.venue import FillReport, OrderReport
from arb.store import orders as repo
from arb.store.fills import FillsAdded, add_fills, filled_by_fills
from arb.store.models import Fill, Order, OrderEvent

from .conftest import new_run

D = Decimal
NOW = datetime(2024, 8, 8, 23, 55, tzinfo=UTC)


def _new(run_id: int, cid: str = "t-abc1") -> repo.NewOrder:
    return repo.NewOrder(
        run_id=run_id, opportunity_id=None, venue="gate", symbol="LINK/USDT", side="buy",
        price=D("20.5"), amount=D("2"), client_order_id=cid,
    )


def _fill(trade_id: str, amount: str) -> FillReport:
    return FillReport("gate", trade_id, "t-abc1", "9", "LINK/USDT", Side.BUY, D("20.4"), D(amount), D("0.01"), "USDT", NOW)


def test_order_is_created_then_every_transition_writes_an_event(session_factory: sessionmaker[Session]) -> None:
    run_id = new_run(session_factory)
    with session_factory.begin() as s:
        oid = repo.create_order(s, _new(run_id), NOW)
    with session_factory.begin() as s:
        repo.record_transition(s, oid, OrderStatus.SUBMITTED, NOW, sent_at=NOW)
    report = OrderReport("gate", "t-abc1", "9", "LINK/USDT", Side.BUY, D("20.5"), D("2"), D("1.5"),
                         VenueState.CLOSED, "cancelled/ioc", fills=(_fill("1", "1"), _fill("2", "0.5")))
    with session_factory.begin() as s:
        t = repo.record_report(s, oid, report, NOW)
    assert (t.from_status, t.to_status, t.filled) == (OrderStatus.SUBMITTED, OrderStatus.CANCELED, D("1.5"))
    with session_factory() as s:
        order = s.get_one(Order, oid)
        assert (order.status, order.filled, order.venue_order_id) == ("canceled", D("1.5"), "9")
        events = [(e.from_status, e.to_status) for e in order.events]
        assert events == [(None, "created"), ("created", "submitted"), ("submitted", "canceled")]
        assert filled_by_fills(s, oid) == D("1.5")


def test_fills_are_idempotent_on_venue_and_trade_id(session_factory: sessionmaker[Session]) -> None:
    run_id = new_run(session_factory)
    with session_factory.begin() as s:
        oid = repo.create_order(s, _new(run_id), NOW)
    with session_factory.begin() as s:
        assert add_fills(s, oid, [_fill("1", "1"), _fill("2", "0.5")]) == FillsAdded(new=2, amount=D("1.5"))
    with session_factory.begin() as s:
        added = add_fills(s, oid, [_fill("2", "0.5"), _fill("3", "0.5"), _fill("1", "1")])
        assert added == FillsAdded(new=1, repeated=2, amount=D("0.5"))  # only the new fill's amount
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Fill)) == 3
        assert filled_by_fills(s, oid) == D("2")


def test_illegal_transition_writes_nothing(session_factory: sessionmaker[Session]) -> None:
    run_id = new_run(session_factory)
    with session_factory.begin() as s:
        oid = repo.create_order(s, _new(run_id), NOW)
        repo.record_transition(s, oid, OrderStatus.SUBMITTED, NOW)
        add_fills(s, oid, [_fill("1", "2")])
        repo.record_transition(s, oid, OrderStatus.FILLED, NOW)
    with pytest.raises(IllegalTransition):
        with session_factory.begin() as s:
            repo.record_transition(s, oid, OrderStatus.CANCELED, NOW, detail="late cancel")
    with session_factory() as s:
        assert s.get_one(Order, oid).status == "filled"
        assert s.scalar(select(func.count()).select_from(OrderEvent)) == 3


def test_repeated_report_writes_no_second_event(session_factory: sessionmaker[Session]) -> None:
    run_id = new_run(session_factory)
    with session_factory.begin() as s:
        oid = repo.create_order(s, _new(run_id), NOW)
    for _ in range(3):
        with session_factory.begin() as s:
            repo.record_transition(s, oid, OrderStatus.UNKNOWN, NOW, detail="timeout")
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(OrderEvent)) == 2
        assert [o.client_order_id for o in repo.in_flight_orders(s, "gate")] == ["t-abc1"]


def test_client_order_id_is_unique(session_factory: sessionmaker[Session]) -> None:
    run_id = new_run(session_factory)
    with session_factory.begin() as s:
        repo.create_order(s, _new(run_id), NOW)
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        with session_factory.begin() as s:
            repo.create_order(s, _new(run_id), NOW)


def test_adopted_order_is_flagged(session_factory: sessionmaker[Session]) -> None:
    run_id = new_run(session_factory)
    report = OrderReport("gate", "t-zzz9", "77", "LINK/USDT", Side.SELL, D("20"), D("1"), D("1"),
                         VenueState.CLOSED, "closed", fills=(_fill("x1", "1"),))
    with session_factory.begin() as s:
        oid = repo.adopt_order(s, report, run_id, NOW)
    with session_factory() as s:
        order = s.get_one(Order, oid)
        assert order.flagged and order.status == "filled" and order.filled == D("1")
