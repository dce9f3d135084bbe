"""The database itself enforces uniqueness, enumerations and foreign keys, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from arb.store.models import Fill, Opportunity, Order, OrderEvent, Run

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _order(run_id: int, coid: str, **overrides: Any) -> Order:
    fields: dict[str, Any] = dict(
        run_id=run_id, venue="gate", symbol="BTC/USDT", side="buy", type="limit", time_in_force="IOC",
        client_order_id=coid, price=Decimal("100"), amount=Decimal("1"), status="created", created_at=NOW,
        updated_at=NOW,
    )
    fields.update(overrides)
    return Order(**fields)


def _fill(order_id: int, venue: str, trade_id: str) -> Fill:
    return Fill(order_id=order_id, venue=venue, trade_id=trade_id, price=Decimal("100"), amount=Decimal("1"),
                fee=Decimal("0.1"), fee_currency="USDT", ts=NOW)


@pytest.fixture
def run_id(session_factory: sessionmaker[Session]) -> int:
    with session_factory.begin() as s:
        run = Run(mode="paper", config_snapshot={}, started_at=NOW)
        s.add(run)
        s.flush()
        return run.id


def _insert(factory: sessionmaker[Session], *rows: object) -> None:
    with factory.begin() as s:
        for row in rows:
            s.add(row)
            s.flush()  # one at a time, so the failing row is the one we meant


def test_client_order_id_is_unique(session_factory: sessionmaker[Session], run_id: int) -> None:
    _insert(session_factory, _order(run_id, "t-1"))
    with pytest.raises(IntegrityError, match="(?i)unique|duplicate"):
        _insert(session_factory, _order(run_id, "t-1", venue="okx"))


def test_trade_id_is_unique_per_venue(session_factory: sessionmaker[Session], run_id: int) -> None:
    with session_factory.begin() as s:
        order = _order(run_id, "t-1")
        s.add(order)
        s.flush()
        order_id = order.id
    _insert(session_factory, _fill(order_id, "gate", "42"), _fill(order_id, "okx", "42"))  # other venue: fine
    with pytest.raises(IntegrityError, match="(?i)unique|duplicate"):
        _insert(session_factory, _fill(order_id, "gate", "42"))
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Fill)) == 2


CHECKS: list[tuple[str, Callable[[int], object]]] = [
    ("ck_runs_mode", lambda run_id: Run(mode="backtest", config_snapshot={}, started_at=NOW)),
    ("ck_orders_side", lambda run_id: _order(run_id, "c-1", side="long")),
    ("ck_orders_status", lambda run_id: _order(run_id, "c-2", status="done")),
    ("ck_orders_purpose", lambda run_id: _order(run_id, "c-3", purpose="yolo")),
    ("ck_opportunities_decision", lambda run_id: _opp(run_id, decision="maybe", reason="x")),
    ("ck_opportunities_rejected_has_reason", lambda run_id: _opp(run_id, decision="rejected", reason=None)),
]


def _opp(run_id: int, decision: str, reason: str | None) -> Opportunity:
    return Opportunity(run_id=run_id, detected_at=NOW, symbol="BTC/USDT", buy_venue="gate", sell_venue="okx",
                       size=Decimal(1), buy_price=Decimal(100), sell_price=Decimal(101),
                       expected_profit=Decimal("0.8"), decision=decision, reason=reason)


@pytest.mark.parametrize(("constraint", "make"), CHECKS, ids=[c for c, _ in CHECKS])
def test_check_constraints(session_factory: sessionmaker[Session], run_id: int, constraint: str,
                           make: Callable[[int], object]) -> None:
    with pytest.raises(IntegrityError) as info:
        _insert(session_factory, make(run_id))
    # Both name the constraint that failed (SQLite: "CHECK constraint failed: <name>"), so this proves
    # the CHECK we meant fired, not some other error.
    assert constraint in str(info.value.orig)


def test_valid_rows_pass_the_checks(session_factory: sessionmaker[Session], run_id: int) -> None:
    """The CHECK tests are not passing because everything fails: the same rows, corrected, insert."""
    _insert(session_factory, _order(run_id, "ok-1"), _opp(run_id, "rejected", "book_stale"),
            _opp(run_id, "executed", None))


def test_order_event_statuses_are_checked(session_factory: sessionmaker[Session], run_id: int) -> None:
    with session_factory.begin() as s:
        order = _order(run_id, "t-1")
        s.add(order)
        s.flush()
        order_id = order.id
    _insert(session_factory, OrderEvent(order_id=order_id, ts=NOW, from_status=None, to_status="created"))
    with pytest.raises(IntegrityError):
        _insert(session_factory, OrderEvent(order_id=order_id, ts=NOW, from_status="created", to_status="gone"))


def test_foreign_keys_are_enforced(session_factory: sessionmaker[Session]) -> None:
    """SQLite ignores REFERENCES unless told otherwise; arb's engine turns the check on."""
    with pytest.raises(IntegrityError, match="(?i)foreign key"):
        _insert(session_factory, _order(9_999, "orphan"))


def test_deleting_a_run_cascades(session_factory: sessionmaker[Session], run_id: int) -> None:
    with session_factory.begin() as s:
        order = _order(run_id, "t-1")
        s.add(order)
        s.flush()
        s.add(_fill(order.id, "gate", "1"))
    with session_factory.begin() as s:
        s.execute(delete(Run).where(Run.id == run_id))
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0
        assert s.scalar(select(func.count()).select_from(Fill)) == 0
