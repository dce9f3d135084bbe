"""``arb report --by``: a run's opportunities grouped by UTC day, hour, symbol or route, and per group what
they made, from the stored figures (the settled ``realized_pnl``, the fills' fees, the open lots, which
:mod:`arb.positions` values)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from arb.positions import OpenLot
from arb.store.models import Fill, Opportunity, Order
from arb.store.views import ZERO, open_lot, run_opportunities

GROUPINGS: dict[str, tuple[str, ...]] = {
    "day": ("day",),
    "hour": ("hour",),
    "symbol": ("symbol",),
    "route": ("symbol", "buy -> sell"),
}
"""``arb report --by``: each grouping's key columns. Day and hour are the UTC day and hour of the
opportunity's ``detected_at`` (the run's clock: market time in a simulation); a route is buy venue -> sell
venue of one symbol."""


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One group of a run's opportunities and what they made, from the stored figures: the settled
    ``realized_pnl`` of its executed opportunities, the fees of their orders' fills per currency, and the open
    positions they opened (``open_base`` at ``open_price``: valued by :mod:`arb.positions`, not here)."""

    key: tuple[str, ...]
    seen: int
    rejected: int
    executed: int
    unsettled: int  # executed with an order not final: not in realized_pnl
    orders: int
    fills: int
    realized_pnl: Decimal
    fees: dict[str, Decimal]  # currency -> sum of fills' fees
    lots: tuple[OpenLot, ...]


def group_key(by: str, opp: Opportunity) -> tuple[str, ...]:
    """The group ``opp`` belongs to in grouping ``by`` (:data:`GROUPINGS`)."""
    at = opp.detected_at.astimezone(UTC)
    if by == "day":
        return (at.strftime("%Y-%m-%d"),)
    if by == "hour":
        return (at.strftime("%Y-%m-%dT%H:00Z"),)
    if by == "symbol":
        return (opp.symbol,)
    if by == "route":
        return (opp.symbol, f"{opp.buy_venue} -> {opp.sell_venue}")
    raise ValueError(f"unknown grouping {by!r}: one of {', '.join(GROUPINGS)}")


def grouped(session: Session, run_id: int, by: str) -> tuple[list[GroupRow], int, int]:
    """The run's opportunities grouped ``by`` day, hour, symbol or route, sorted by key; and the orders and
    fills of the run that belong to no opportunity (in no group)."""
    opps = {o.id: o for o in run_opportunities(session, run_id)}
    keys = {oid: group_key(by, o) for oid, o in opps.items()}
    orders: Counter[tuple[str, ...]] = Counter()
    fills: Counter[tuple[str, ...]] = Counter()
    fees: dict[tuple[str, ...], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    loose_orders = loose_fills = 0
    for (opp_id,) in session.execute(select(Order.opportunity_id).where(Order.run_id == run_id)):
        if opp_id in keys:
            orders[keys[opp_id]] += 1
        else:
            loose_orders += 1
    stmt = (select(Order.opportunity_id, Fill.fee, Fill.fee_currency).join(Order, Fill.order_id == Order.id)
            .where(Order.run_id == run_id))
    for opp_id, fee, currency in session.execute(stmt):
        if opp_id in keys:
            fills[keys[opp_id]] += 1
            fees[keys[opp_id]][currency] += fee
        else:
            loose_fills += 1
    members: dict[tuple[str, ...], list[Opportunity]] = defaultdict(list)
    for oid, o in opps.items():
        members[keys[oid]].append(o)
    rows = []
    for key in sorted(members):
        group = members[key]
        executed = [o for o in group if o.decision == "executed"]
        rows.append(GroupRow(
            key=key, seen=len(group), rejected=len(group) - len(executed), executed=len(executed),
            unsettled=sum(1 for o in executed if o.settled_at is None), orders=orders[key], fills=fills[key],
            realized_pnl=sum((o.realized_pnl for o in executed if o.realized_pnl is not None), ZERO),
            fees=dict(sorted(fees[key].items())),
            lots=tuple(open_lot(o) for o in group if o.open_base),
        ))
    return rows, loose_orders, loose_fills
