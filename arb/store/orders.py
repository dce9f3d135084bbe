"""Order repository: the only code that writes ``orders`` and ``order_events``; their fills are ``fills.py``'s.

Rules it enforces, each for a failure arbitrage bots are known for:

- An order row exists in ``created`` **before** its request is sent (:func:`create_order`), so a crash
  between sending and recording leaves a client id to look up, never an order nobody knows about.
- Every status change goes through :func:`arb.domain.orders.apply` against the row as stored (locked
  ``FOR UPDATE`` where the database supports it), and writes the ``orders`` update and its
  ``order_events`` row in the caller's one transaction. The row is read as the few columns a transition
  needs and written with Core statements built once (``core_rows.py``): loading it as an ORM object and
  flushing it through the unit of work cost about a quarter of a maker replay's CPU.
- ``orders.filled`` is the sum of the order's stored fills, after every transaction of this module. A
  venue's ``filled`` is a claim, its trades are the facts: :func:`record_transition` takes no ``filled``,
  it derives it from the stored fills. A report whose ``filled`` is more than the fills it brings plus
  those already stored is not applied as reported: an order still in flight goes to ``unknown`` (the
  executor halts the pair; reconciliation looks it up again and fetches its trades), a final one keeps its
  status; the event says how much is missing. Callers fetch a report's missing trades *before* recording
  it (``execution/order_runner.py``, ``execution/reconciliation.py``), so a normal answer is recorded once,
  complete. (The alternative, trusting the venue's number and back-filling fills later, leaves a counter
  no stored fact supports whenever the trades never come.)
- Fills (``fills.py``) are idempotent on ``(venue, trade_id)``, and a different fill under a stored one is a
  ``fill_conflicts`` row, never swallowed. :func:`record_report` and :func:`record_fills` add a report's
  fills and then make the transition they imply, in one transaction; the fills' ``received_at`` is their
  ``now``.

Functions take a :class:`~sqlalchemy.orm.Session` inside the caller's ``with factory.begin()``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from arb.domain.opportunity import sized_columns
from arb.domain.orders import TERMINAL, OrderSnapshot, OrderStatus, Transition, apply, status_from_report
from arb.domain.venue import FillReport, OrderReport
from arb.store.core_rows import update_row
from arb.store.fills import FillsAdded, add_fills, filled_by_fills
from arb.store.models import Opportunity, Order, OrderEvent

if TYPE_CHECKING:
    from sqlalchemy import Row

    from arb.domain.opportunity import OpportunityLike

    # The order's row as a transition reads it (``_LOCKED``'s columns).
    _Locked = Row[str, Decimal, Decimal, str | None, datetime | None, datetime | None]

log = logging.getLogger(__name__)


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
    reference_price: Decimal | None = None  # a maker hedge's walked price on the taker book when sent


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
        reference_price=new.reference_price,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    add_first_event(session, order.id, now, detail=detail)
    return order.id


def add_first_event(session: Session, order_id: int, ts: datetime, *, detail: str | None = None) -> None:
    """The order's first event (``created``), at ``ts``, the row's ``created_at``.

    :func:`create_order` writes it with the row. An entry's write-ahead record (``store/write_ahead.py``)
    commits only the rows before its legs are sent; the leg writes this event in its first transaction,
    before its first transition, so an order's events still start at ``created`` and ids keep their order."""
    _event(session, order_id, ts, None, OrderStatus.CREATED.value, None, detail)


def restore_first_event(session: Session, order_id: int, created_at: datetime) -> None:
    """The first event of an order found still ``created`` (reconciliation), if it has none: a crash, or a
    store failure, between an entry's write-ahead record and its leg's first transaction left it out."""
    if session.scalar(select(OrderEvent.id).where(OrderEvent.order_id == order_id).limit(1)) is None:
        add_first_event(session, order_id, created_at, detail="restored by reconciliation")


_ORDERS, _EVENTS = Order.__table__, OrderEvent.__table__

# Built once, the order id bound at each execution: building the statement anew (its operator, a literal
# bound parameter, the coercions) cost about as much as running it (SQLite: ~316 against ~155 us in all), and
# every transition of every order runs it. The columns a transition reads, not an ORM object of the row.
_LOCKED = (select(_ORDERS.c.status, _ORDERS.c.amount, _ORDERS.c.filled, _ORDERS.c.venue_order_id,
                  _ORDERS.c.sent_at, _ORDERS.c.acked_at)
           .where(_ORDERS.c.id == bindparam("order_id")).with_for_update())
_EVENT = insert(_EVENTS)


def _locked(session: Session, order_id: int) -> _Locked:
    return session.execute(_LOCKED, {"order_id": order_id}).one()


def _event(session: Session, order_id: int, ts: datetime, from_status: str | None, to_status: str,
           venue_status: str | None, detail: str | None) -> None:
    session.execute(_EVENT, {"order_id": order_id, "ts": ts, "from_status": from_status, "to_status": to_status,
                             "venue_status": venue_status, "detail": detail})


def record_transition(
    session: Session,
    order_id: int,
    to_status: OrderStatus,
    now: datetime,
    *,
    venue_status: str | None = None,
    detail: str | None = None,
    venue_order_id: str | None = None,
    sent_at: datetime | None = None,
    acked_at: datetime | None = None,
    filled: Decimal | None = None,
) -> Transition:
    """Apply one change through the state machine and persist it with its event row.

    ``filled`` becomes the sum of the order's stored fills (add fills first, in the same transaction); a
    caller that already knows that sum passes it as ``filled``, saving the read.
    A report that changes nothing (same status, same filled) writes no event: replays are idempotent.
    Raises :class:`arb.domain.orders.IllegalTransition` (and writes nothing) for an edge not in the table,
    and for fills that make ``filled`` impossible for ``to_status`` (``filled`` without every unit filled,
    ``rejected`` with fills, more than the order's amount).
    """
    row = _locked(session, order_id)
    if filled is None:
        filled = filled_by_fills(session, order_id)
    return _transition(session, order_id, row, to_status, now, filled, venue_status=venue_status, detail=detail,
                       venue_order_id=venue_order_id, sent_at=sent_at, acked_at=acked_at)


def _transition(session: Session, order_id: int, row: _Locked, to_status: OrderStatus, now: datetime,
                filled: Decimal, *, venue_status: str | None = None, detail: str | None = None,
                venue_order_id: str | None = None, sent_at: datetime | None = None,
                acked_at: datetime | None = None) -> Transition:
    """:func:`record_transition` on the order's ``row`` as :func:`_locked` read it in this transaction."""
    t = apply(OrderSnapshot(OrderStatus(row.status), row.amount, row.filled), to_status, filled=filled,
              venue_status=venue_status, detail=detail)
    values: dict[str, Any] = {}
    if venue_order_id and not row.venue_order_id:
        values["venue_order_id"] = venue_order_id
    if sent_at and not row.sent_at:
        values["sent_at"] = sent_at
    if acked_at and not row.acked_at:
        values["acked_at"] = acked_at
    changed = t.changes_anything or t.filled != row.filled
    if changed:
        values.update(status=t.to_status.value, filled=t.filled, updated_at=now)
    if values:
        update_row(session, Order, order_id, values)
    if changed:
        _event(session, order_id, now, t.from_status.value, t.to_status.value, venue_status, detail)
    return t


def record_sent(session: Session, order_id: int, sent_at: datetime, *, created_at: datetime | None = None) -> None:
    """The order left at ``sent_at``: ``submitted``, written first in the transaction of its first answer (or
    fill, or failure). ``created_at``: its row was written without its first event (a write-ahead record,
    :func:`add_first_event`), which is written before.

    Nothing of the order is stored in this transaction before it, so its stored fills' sum is its row's
    ``filled`` (module docstring): not read again."""
    if created_at is not None:
        add_first_event(session, order_id, created_at)
    row = _locked(session, order_id)
    _transition(session, order_id, row, OrderStatus.SUBMITTED, sent_at, row.filled, sent_at=sent_at)


def link_to_opportunity(session: Session, order_id: int, opportunity_id: int) -> None:
    """The order joins an opportunity's row (a maker hedge the pair of the quote it answers, a quote its pair)."""
    update_row(session, Order, order_id, {"opportunity_id": opportunity_id})


def record_report(session: Session, order_id: int, report: OrderReport, now: datetime, *, detail: str | None = None,
                  sent_at: datetime | None = None, acked_at: datetime | None = None) -> Transition:
    """A venue report (ack, lookup, reconciliation): its fills, then its status, in one transaction.

    ``now`` is when arb learned of it (engine clock): the fills' ``received_at``, the event's time and the
    order's ``acked_at`` unless ``acked_at`` is given (a caller that fetched the trades first passes the
    time the answer came). The status is the venue's state applied to the *stored* fills; a report
    claiming more than those is not applied as reported (module docstring).
    """
    add_fills(session, order_id, report.fills, received_at=now)
    row = _locked(session, order_id)
    # Read, not the row's ``filled`` plus what was just added: reconciliation adds a report's fills itself
    # before recording it.
    recorded = filled_by_fills(session, order_id)
    if recorded >= report.filled:
        to_status = status_from_report(row.amount, recorded, report.state)
    else:
        current = OrderStatus(row.status)
        to_status = current if current.is_terminal else OrderStatus.UNKNOWN
        missing = f"fills incomplete: the venue reports {report.filled} filled, {recorded} recorded"
        detail = f"{detail}; {missing}" if detail else missing
        log.warning("%s order %s (%s): %s", report.venue, order_id, report.client_order_id, missing)
    return _transition(
        session,
        order_id,
        row,
        to_status,
        now,
        recorded,
        venue_status=report.venue_status,
        detail=detail,
        venue_order_id=report.venue_order_id,
        sent_at=sent_at,
        # When *we* learned of it, on the engine's clock: comparable with sent_at, whatever the venue's
        # own clock says (the venue's timestamps stay on the fills and in the venue's report).
        acked_at=acked_at or now,
    )


def record_quote_report(session: Session, order_id: int, report: OrderReport, now: datetime, *,
                        reason: str | None = None) -> Transition:
    """A maker quote's answer (placement, cancel: ``reason`` is why arb cancelled it, stored as the event's
    ``cancelled: <reason>``). Its fills come from the venue's fill stream, which may deliver them after the
    answer (a fill during the cancel's flight): a report claiming more than is stored is recorded at what is
    stored, with the rest named as awaited, and the stream's fills then move the order on (``canceled`` ->
    ``filled`` is the table's edge for exactly this race)."""
    added = add_fills(session, order_id, report.fills, received_at=now)
    row = _locked(session, order_id)
    recorded = row.filled + added.amount  # the stored fills' sum, as in record_fills
    detail = None if reason is None else f"cancelled: {reason}"
    if report.filled > recorded:
        awaited = f"the venue reports {report.filled} filled, {recorded} recorded: the rest awaited from its fills"
        detail = awaited if detail is None else f"{detail}; {awaited}"
    return _transition(session, order_id, row, status_from_report(row.amount, recorded, report.state), now,
                       recorded, venue_status=report.venue_status, detail=detail,
                       venue_order_id=report.venue_order_id, acked_at=now)


def record_amend(session: Session, order_id: int, amount: Decimal, now: datetime, *, source: str | None = None) -> None:
    """A resting quote's amount cut in place (the venue's amend answered it, or ``source`` found it so): the
    order's amount from now on, and an event saying from what, in the order's current status (an amend
    changes no status by itself)."""
    row = _locked(session, order_id)
    if amount == row.amount:
        return
    detail = f"amended: amount {row.amount.normalize():f} -> {amount.normalize():f}"
    update_row(session, Order, order_id, {"amount": amount, "updated_at": now})
    _event(session, order_id, now, row.status, row.status, None, f"{source}: {detail}" if source else detail)


def record_fills(session: Session, order_id: int, fills: Iterable[FillReport], now: datetime, *,
                 detail: str | None = None) -> FillsAdded:
    """Fills found without an order report (reconciliation): store them and move the order to what they
    imply: ``filled`` once every unit is there, else ``partially_filled`` (``canceled`` stays ``canceled``)."""
    added = add_fills(session, order_id, fills, received_at=now)
    row = _locked(session, order_id)
    # ``filled`` is the sum of the stored fills after every transaction (each fill added is followed by its
    # transition in the same one), so the new sum is it plus what was just added: a cost per fill that does
    # not grow with the order's fills so far (a maker quote may take one per print, in amount steps).
    total = row.filled + added.amount
    if total != row.filled:
        current = OrderStatus(row.status)
        if total >= row.amount:
            to_status = OrderStatus.FILLED
        elif current is OrderStatus.CANCELED:
            to_status = current
        else:
            to_status = OrderStatus.PARTIALLY_FILLED
        _transition(session, order_id, row, to_status, now, total, detail=detail)
    return added


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


def in_flight_orders(session: Session, venue: str | None = None, run_id: int | None = None) -> list[Order]:
    """Orders that may still be live on a venue (of one run): every status that is not terminal."""
    stmt = select(Order).where(Order.status.not_in([s.value for s in TERMINAL])).order_by(Order.id)
    if venue is not None:
        stmt = stmt.where(Order.venue == venue)
    if run_id is not None:
        stmt = stmt.where(Order.run_id == run_id)
    return list(session.execute(stmt).scalars())


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
    columns = sized_columns(opp)
    if buy_limit is not None:
        columns["buy_limit"] = buy_limit
    if sell_limit is not None:
        columns["sell_limit"] = sell_limit
    row = Opportunity(run_id=run_id, detected_at=detected_at, decision=decision, reason=reason, detail=detail,
                      **columns)
    session.add(row)
    session.flush()
    return row.id


def set_opportunity_outcome(session: Session, opportunity_id: int, detail: dict[str, object]) -> None:
    """Attach the pair's outcome (policy, exposure, realized PnL) to its opportunity row."""
    row = session.get_one(Opportunity, opportunity_id)
    row.detail = {**(row.detail or {}), **detail}
