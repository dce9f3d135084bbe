"""Fills: the only code that writes ``fills`` and ``fill_conflicts``, and the sum an order's ``filled`` is.

- Fills are idempotent on ``(venue, trade_id)``: the identical fill re-delivered (same order, price,
  amount, fee, fee currency) inserts nothing and says nothing. A *different* fill under a stored
  ``(venue, trade_id)`` is never swallowed: the stored fill stays (it came first), the report is written to
  ``fill_conflicts`` with the fields that differ, and one ERROR line names venue, trade id and fields.
- :func:`add_fills` only inserts fills; ``orders.filled`` (:func:`filled_by_fills`) follows from the transition
  that must come after it in the same transaction (``orders.record_report`` and ``orders.record_fills`` do both).
- Fills carry ``received_at``, the engine's (market) clock when arb recorded them.

Functions take a :class:`~sqlalchemy.orm.Session` inside the caller's ``with factory.begin()``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from arb.domain.venue import FillReport
from arb.store.models import Fill, FillConflict, Order

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FillsAdded:
    """What :func:`add_fills` did with a batch of fill reports."""

    new: int = 0  # inserted
    repeated: int = 0  # identical to a stored fill: nothing written
    conflicts: int = 0  # differ from the stored fill under their (venue, trade_id): one fill_conflicts row each
    amount: Decimal = Decimal(0)  # the new fills' amounts, summed


_FILLS = Fill.__table__
# A fill's INSERT, for each database's upsert dialect, built once: a Core statement on the table, its values
# bound at each execution (built per fill through the ORM, the statement and its ORM bulk-insert path cost
# more than the insert).
_NEW_FILL = {name: dialect.insert(_FILLS).on_conflict_do_nothing(index_elements=["venue", "trade_id"])
             .returning(_FILLS.c.id) for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}

# The fields a re-delivered fill must repeat exactly to be the same fill (``ts`` may be re-rendered; a fee
# token's price is arb's valuation at the time, not the venue's record: the first one stored is kept).
_SAME_FILL = ("order", "price", "amount", "fee", "fee_currency")


def add_fills(
    session: Session, order_id: int, fills: Iterable[FillReport], *, received_at: datetime | None = None
) -> FillsAdded:
    """Insert the fills not stored yet; record a report that differs from a stored fill as a conflict.

    ``received_at``: when arb recorded them (the engine's clock), stored on the new fills and the conflicts.
    This does not touch ``orders.filled``: follow it with a transition in the same transaction (module
    docstring), or use :func:`record_report` / :func:`record_fills`.
    """
    insert = _NEW_FILL[session.get_bind().dialect.name]
    new = repeated = conflicts = 0
    amount = Decimal(0)
    for f in fills:
        row = {
            "order_id": order_id,
            "venue": f.venue,
            "trade_id": f.trade_id,
            "price": f.price,
            "amount": f.amount,
            "fee": f.fee,
            "fee_currency": f.fee_currency,
            "fee_price": f.fee_price,
            "ts": f.ts,
            "received_at": received_at,
        }
        # RETURNING, not rowcount: some drivers report rowcount -1 for inserts.
        if session.execute(insert, row).first() is not None:
            new += 1
            amount += f.amount
            continue
        stored = session.execute(
            select(Fill).where(Fill.venue == f.venue, Fill.trade_id == f.trade_id)
        ).scalar_one()
        differences = _differences(stored, order_id, f)
        if not differences:
            repeated += 1
        elif _record_conflict(session, stored, order_id, f, differences, received_at or f.ts):
            conflicts += 1
    return FillsAdded(new, repeated, conflicts, amount)


def _differences(stored: Fill, order_id: int, f: FillReport) -> list[tuple[str, str, str]]:
    """(field, stored, reported) for each field of :data:`_SAME_FILL` that differs; numbers by value."""
    pairs = {
        "order": (str(stored.order_id), str(order_id)),
        "price": (stored.price, f.price),
        "amount": (stored.amount, f.amount),
        "fee": (stored.fee, f.fee),
        "fee_currency": (stored.fee_currency, f.fee_currency),
    }
    return [(name, _text(pairs[name][0]), _text(pairs[name][1])) for name in _SAME_FILL
            if pairs[name][0] != pairs[name][1]]


def _record_conflict(session: Session, stored: Fill, order_id: int, f: FillReport,
                     differences: list[tuple[str, str, str]], now: datetime) -> bool:
    """One ``fill_conflicts`` row and one ERROR line; False (and a WARNING) if this exact conflict is
    already stored (a reconciliation pass sees the same trades again)."""
    detail = "; ".join(f"{name}: stored {was}, reported {got}" for name, was, got in differences)
    known = session.execute(
        select(FillConflict.id).where(
            FillConflict.fill_id == stored.id, FillConflict.order_id == order_id, FillConflict.detail == detail
        )
    ).first()
    if known is not None:
        log.warning("fill %s %s: conflict already recorded (fill_conflicts %d): %s", f.venue, f.trade_id,
                    known[0], detail)
        return False
    run_id = session.execute(select(Order.run_id).where(Order.id == order_id)).scalar_one()
    reported = {
        "order_id": str(order_id),
        "client_order_id": f.client_order_id,
        "venue_order_id": f.venue_order_id,
        "symbol": f.symbol,
        "side": f.side.value,
        "price": _text(f.price),
        "amount": _text(f.amount),
        "fee": _text(f.fee),
        "fee_currency": f.fee_currency,
        "ts": f.ts.isoformat(),
    }
    session.add(FillConflict(fill_id=stored.id, order_id=order_id, run_id=run_id, venue=f.venue,
                             trade_id=f.trade_id, reported=reported, detail=detail, ts=now))
    session.flush()
    log.error("fill conflict: %s trade %s already stored as fill %d with other values, kept; reported for "
              "order %d: %s", f.venue, f.trade_id, stored.id, order_id, detail)
    return True


def _text(value: object) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


# Built once, the order id bound at each execution, as store/orders.py's _LOCKED: built per call, the statement
# cost ~1.5x its run (SQLite; ~266 against ~108 us in all). Core, on the table: no ORM compile state.
_FILL_AMOUNTS = select(_FILLS.c.amount).where(_FILLS.c.order_id == bindparam("order_id"))


def filled_by_fills(session: Session, order_id: int) -> Decimal:
    """The sum of the order's stored fills, from their amounts alone (no row objects: a maker quote takes a
    fill per print, up to its amount in amount steps, and this is read at each)."""
    amounts = session.execute(_FILL_AMOUNTS, {"order_id": order_id}).scalars()
    return sum(amounts, Decimal(0))
