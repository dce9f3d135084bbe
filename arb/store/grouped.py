"""``arb report --by``: a run's opportunities grouped by UTC day, hour, symbol or route, and per group what
they made, from the stored figures (the settled ``realized_pnl``, the fills' fees, the open lots, which
:mod:`arb.positions` values).

A maker route's rows say what quotes are, not what detection is: a quote is placed, not seen, and a pair is
opened by a quote's fill, never rejected, so ``seen`` and ``rejected`` are None for them; ``quotes`` (placed,
in the route's direction: a bid buys on the maker venue, an ask on the taker), ``quotes_filled`` and
``hedges`` say instead what happened. Grouped by route, every quote is in its route's row, filled or not (an
unfilled one has no pair); in the other groupings an unfilled quote is in no group and counted apart."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from arb.display import ROUTE, route
from arb.positions import OpenLot
from arb.store.maker_views import configured_taker, direction
from arb.store.models import Fill, Opportunity, Order, Run
from arb.store.views import ZERO, open_lot, run_opportunities

GROUPINGS: dict[str, tuple[str, ...]] = {
    "day": ("day",),
    "hour": ("hour",),
    "symbol": ("symbol",),
    "route": ("symbol", ROUTE),
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
    seen: int | None  # None for a maker group: its quotes are placed, not seen
    rejected: int | None  # None for a maker group: a pair is opened by a fill, never rejected
    executed: int
    unsettled: int  # executed with an order not final: not in realized_pnl
    orders: int
    fills: int
    realized_pnl: Decimal
    fees: dict[str, Decimal]  # currency -> sum of fills' fees
    lots: tuple[OpenLot, ...]
    quotes: int | None = None  # a maker group's quotes placed (None: a taker group)
    quotes_filled: int | None = None  # ... that filled at least once
    hedges: int | None = None  # ... and the hedge orders its pairs sent


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
        return (opp.symbol, route(opp.buy_venue, opp.sell_venue))
    raise ValueError(f"unknown grouping {by!r}: one of {', '.join(GROUPINGS)}")


@dataclass(frozen=True, slots=True)
class Loose:
    """What of the run is in no group: orders of no opportunity (and their fills), and of those the quotes
    that never filled (a maker pair is opened by a fill), except grouped by route, where those are in their
    route's row."""

    orders: int
    fills: int
    quotes: int


def grouped(session: Session, run_id: int, by: str) -> tuple[list[GroupRow], Loose]:
    """The run's opportunities grouped ``by`` day, hour, symbol or route, sorted by key, with its maker quotes
    (see the module doc); and what belongs to no group."""
    opps = {o.id: o for o in run_opportunities(session, run_id)}
    keys = {oid: group_key(by, o) for oid, o in opps.items()}
    orders: Counter[tuple[str, ...]] = Counter()
    fills: Counter[tuple[str, ...]] = Counter()
    fees: dict[tuple[str, ...], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    quotes: Counter[tuple[str, ...]] = Counter()
    quotes_filled: Counter[tuple[str, ...]] = Counter()
    hedges: Counter[tuple[str, ...]] = Counter()
    makers: set[tuple[str, ...]] = {keys[oid] for oid, o in opps.items() if o.strategy == "maker"}
    snapshot = session.get_one(Run, run_id).config_snapshot
    filled_orders = set(session.scalars(select(Fill.order_id).join(Order, Fill.order_id == Order.id)
                                        .where(Order.run_id == run_id)))
    loose_orders = loose_fills = loose_quotes = 0
    for order_id, opp_id, purpose, symbol, venue, side in session.execute(
            select(Order.id, Order.opportunity_id, Order.purpose, Order.symbol, Order.venue, Order.side)
            .where(Order.run_id == run_id)):
        key = keys.get(opp_id) if opp_id is not None else None  # an order in no pair has no opportunity_id
        if key is None and purpose == "quote" and by == "route":  # unfilled: its route's, by its direction
            key = (symbol, route(*direction(side, venue, configured_taker(snapshot, symbol, venue))))
        if key is None:
            loose_orders += 1
            loose_quotes += purpose == "quote" and order_id not in filled_orders
            continue
        orders[key] += 1
        if purpose == "quote":
            makers.add(key)
            quotes[key] += 1
            quotes_filled[key] += order_id in filled_orders
        elif purpose == "hedge":
            hedges[key] += 1
    stmt = (select(Order.opportunity_id, Fill.fee, Fill.fee_currency).join(Order, Fill.order_id == Order.id)
            .where(Order.run_id == run_id))
    for opp_id, fee, currency in session.execute(stmt):
        if opp_id in keys:
            fills[keys[opp_id]] += 1
            fees[keys[opp_id]][currency] += fee
        else:
            loose_fills += 1
    members: dict[tuple[str, ...], list[Opportunity]] = {key: [] for key in makers}
    for oid, o in opps.items():
        members.setdefault(keys[oid], []).append(o)
    rows = []
    for key in sorted(members):
        group = members[key]
        executed = [o for o in group if o.decision == "executed"]
        maker = key in makers
        # Seen and rejected count what detection saw: none for a group of maker pairs alone.
        taker = [o for o in group if o.strategy != "maker"]
        detected = bool(taker) or not maker
        rows.append(GroupRow(
            key=key, seen=len(taker) if detected else None,
            rejected=sum(1 for o in taker if o.decision != "executed") if detected else None,
            executed=len(executed),
            unsettled=sum(1 for o in executed if o.settled_at is None), orders=orders[key], fills=fills[key],
            realized_pnl=sum((o.realized_pnl for o in executed if o.realized_pnl is not None), ZERO),
            fees=dict(sorted(fees[key].items())),
            lots=tuple(open_lot(o) for o in group if o.open_base),
            quotes=quotes[key] if maker else None, quotes_filled=quotes_filled[key] if maker else None,
            hedges=hedges[key] if maker else None,
        ))
    return rows, Loose(loose_orders, loose_fills, loose_quotes)
