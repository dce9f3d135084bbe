"""Order repository: the only code that writes ``orders``, ``order_events`` and ``fills``.

Rules it enforces, each for a failure arbitrage bots are known for:

- An order row exists in ``created`` **before** its request is sent (:func:`create_order`), so a crash
  between sending and recording leaves a client id to look up, never an order nobody knows about.
- Every status change goes through :func:`arb.domain.orders.apply` against the row as stored (locked
  ``FOR UPDATE`` where the database supports it), and writes the ``orders`` update and its
  ``order_events`` row in the caller's one transaction.
- Fills are idempotent on ``(venue, trade_id)``: a replayed report or a reconciliation pass that sees the
  same trade again inserts nothing (``ON CONFLICT DO NOTHING``).

Functions take a :class:`~sqlalchemy.orm.Session` inside the caller's ``with factory.begin()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from arb.domain.orders import TERMINAL, OrderSnapshot, OrderStatus, Transition, apply
from arb.store.models import Fill, Opportunity, Order, OrderEvent
from arb.venues.protocol import FillReport, OrderReport

if TYPE_CHECKING:
    from arb.execution.plan import OpportunityLike


@dataclass(frozen=True, slots=True)
class NewOrder:
    run_id: int
    opportunity_id: int | None
    venue: str
    symbol: str
    side: str
    price: Decimal
    amount: Decimal
    client_order_id: str
    purpose: str = "entry"
    type: str = "limit"
    time_in_force: str = "ioc"


def create_order(session: Session, new: NewOrder, now: datetime, *, detail: str | None = None) -> int:
    """Insert the order in ``created`` with its first event; returns the order id."""
    order = Order(
        run_id=new.run_id,
        opportunity_id=new.opportunity_id,
        venue=new.venue,
        symbol=new.symbol,
        side=new.side,
        type=new.type,
        time_in_force=new.time_in_force,
        purpose=new.purpose,
        client_order_id=new.client_order_id,
        price=new.price,
        amount=new.amount,
        filled=Decimal(0),
        status=OrderStatus.CREATED.value,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    session.add(OrderEvent(order_id=order.id, ts=now, from_status=None, to_status=order.status, detail=detail))
    return order.id


def _locked(session: Session, order_id: int) -> Order:
    stmt = select(Order).where(Order.id == order_id).with_for_update()
    order = session.execute(stmt).scalar_one()
    return order


def record_transition(
    session: Session,
    order_id: int,
    to_status: OrderStatus,
    now: datetime,
    *,
    filled: Decimal | None = None,
    venue_status: str | None = None,
    detail: str | None = None,
    venue_order_id: str | None = None,
    sent_at: datetime | None = None,
    acked_at: datetime | None = None,
) -> Transition:
    """Apply one change through the state machine and persist it with its event row.

    A report that changes nothing (same status, same filled) writes no event: replays are idempotent.
    Raises :class:`arb.domain.orders.IllegalTransition` (and writes nothing) for an edge not in the table.
    """
    order = _locked(session, order_id)
    snap = OrderSnapshot(OrderStatus(order.status), order.amount, order.filled)
    t = apply(snap, to_status, filled=filled, venue_status=venue_status, detail=detail)
    if venue_order_id and not order.venue_order_id:
        order.venue_order_id = venue_order_id
    if sent_at and not order.sent_at:
        order.sent_at = sent_at
    if acked_at and not order.acked_at:
        order.acked_at = acked_at
    if t.changes_anything or t.filled != order.filled:
        order.status = t.to_status.value
        order.filled = t.filled
        order.updated_at = now
        session.add(
            OrderEvent(
                order_id=order.id,
                ts=now,
                from_status=t.from_status.value,
                to_status=t.to_status.value,
                venue_status=venue_status,
                detail=detail,
            )
        )
    return t


def add_fills(session: Session, order_id: int, fills: Iterable[FillReport]) -> int:
    """Insert fills not seen before; returns how many were new."""
    rows = [
        {
            "order_id": order_id,
            "venue": f.venue,
            "trade_id": f.trade_id,
            "price": f.price,
            "amount": f.amount,
            "fee": f.fee,
            "fee_currency": f.fee_currency,
            "ts": f.ts,
        }
        for f in fills
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    new = 0
    for row in rows:
        stmt = (
            insert(Fill)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["venue", "trade_id"])
            .returning(Fill.id)
        )
        # RETURNING, not rowcount: the ORM reports rowcount -1 for inserts on some drivers.
        new += len(session.execute(stmt).all())
    return new


def record_report(session: Session, order_id: int, report: OrderReport, now: datetime, *, detail: str | None = None,
                  sent_at: datetime | None = None) -> Transition:
    """A venue report (ack, lookup, reconciliation): its fills, then its status, in one transaction."""
    add_fills(session, order_id, report.fills)
    return record_transition(
        session,
        order_id,
        report.status,
        now,
        filled=report.filled,
        venue_status=report.venue_status,
        detail=detail,
        venue_order_id=report.venue_order_id,
        sent_at=sent_at,
        # When *we* learned of it, on the engine's clock: comparable with sent_at, whatever the venue's
        # own clock says (the venue's timestamps stay on the fills and in the venue's report).
        acked_at=now,
    )


def adopt_order(session: Session, report: OrderReport, run_id: int, now: datetime, *, purpose: str = "entry") -> int:
    """Record an order the venue knows and the database does not, flagged for a human to look at."""
    order_id = create_order(
        session,
        NewOrder(
            run_id=run_id,
            opportunity_id=None,
            venue=report.venue,
            symbol=report.symbol,
            side=report.side.value,
            price=report.price,
            amount=report.amount,
            client_order_id=report.client_order_id,
            purpose=purpose,
        ),
        now,
        detail="adopted by reconciliation",
    )
    session.get_one(Order, order_id).flagged = "found on venue, not in database"
    record_report(session, order_id, report, now, detail="reconciliation")
    return order_id


def order_by_client_id(session: Session, client_order_id: str) -> Order | None:
    return session.execute(select(Order).where(Order.client_order_id == client_order_id)).scalar_one_or_none()


def in_flight_orders(session: Session, venue: str | None = None) -> list[Order]:
    """Orders that may still be live on a venue: every status that is not terminal."""
    stmt = select(Order).where(Order.status.not_in([s.value for s in TERMINAL])).order_by(Order.id)
    if venue is not None:
        stmt = stmt.where(Order.venue == venue)
    return list(session.execute(stmt).scalars())


def fills_of(session: Session, order_id: int) -> list[Fill]:
    return list(session.execute(select(Fill).where(Fill.order_id == order_id).order_by(Fill.id)).scalars())


def filled_by_fills(session: Session, order_id: int) -> Decimal:
    return sum((f.amount for f in fills_of(session, order_id)), Decimal(0))


def known_trade_ids(session: Session, venue: str) -> set[str]:
    return set(session.execute(select(Fill.trade_id).where(Fill.venue == venue)).scalars())


def insert_opportunity(
    session: Session,
    run_id: int,
    opp: OpportunityLike,
    detected_at: datetime,
    *,
    decision: str,
    reason: str | None = None,
    buy_limit: Decimal | None = None,
    sell_limit: Decimal | None = None,
    detail: dict[str, object] | None = None,
) -> int:
    """One ``opportunities`` row for a pair the executor decided on (executed, or refused with a reason)."""
    row = Opportunity(
        run_id=run_id,
        detected_at=detected_at,
        symbol=opp.symbol,
        buy_venue=opp.buy_venue,
        sell_venue=opp.sell_venue,
        size=opp.size,
        buy_price=opp.buy_vwap,
        sell_price=opp.sell_vwap,
        buy_limit=buy_limit if buy_limit is not None else opp.buy_limit,
        sell_limit=sell_limit if sell_limit is not None else opp.sell_limit,
        expected_profit=opp.expected_profit,
        edge_bps=opp.edge_bps,
        decision=decision,
        reason=reason,
        buy_fee_rate=opp.buy_fee_rate,
        sell_fee_rate=opp.sell_fee_rate,
        buy_book_seq=opp.buy_book_seq,
        sell_book_seq=opp.sell_book_seq,
        buy_book_age_ms=opp.buy_book_age_ms,
        sell_book_age_ms=opp.sell_book_age_ms,
        detail=detail,
    )
    session.add(row)
    session.flush()
    return row.id


def set_opportunity_outcome(session: Session, opportunity_id: int, detail: dict[str, object]) -> None:
    """Attach the pair's outcome (policy, exposure, realized PnL) to its opportunity row."""
    row = session.get_one(Opportunity, opportunity_id)
    row.detail = {**(row.detail or {}), **detail}
