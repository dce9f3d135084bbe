"""``arb report --by``: a run's opportunities grouped by UTC day, hour, symbol or route, and per group what
they made, from the stored figures (the settled ``realized_pnl``, the fills' fees, the open lots, which
:mod:`arb.positions` values).

A maker route's rows say what quotes are, not what detection is: a quote is placed, not seen, and a pair is
opened by a quote's fill, never rejected, so ``seen`` and ``rejected`` are None for them; ``quotes`` (placed,
in the route's direction: a bid buys on the maker venue, an ask on the taker), ``quotes_filled`` and
``hedges`` say instead what happened. Grouped by route, every quote is in its route's row, filled or not (an
unfilled one has no pair); in the other groupings an unfilled quote is in no group and counted apart.

Over a window of time (``arb report --since/--until``, :class:`Window`) the rows are those of every run whose
own times fall in it, each by its own time on its run's clock, never by which run it is in: an opportunity
by its ``detected_at``, with what belongs to it (its orders, their fills and fees, its stored realized PnL,
the position it opened), so a pair is never split between two days; an order of no opportunity by its
``created_at``, a fill of no opportunity by its ``ts``, a funding payment by its ``ts``. A run partly in the
window counts only its rows inside it; the same rows give the same figures as the run's own report."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from arb.display import ROUTE, route
from arb.positions import OpenLot
from arb.store.maker_views import configured_taker, direction
from arb.store.models import Fill, FundingPayment, Opportunity, Order, Run
from arb.store.runs import run_clock
from arb.store.views import ZERO, open_lot, run_opportunities

GROUPINGS: dict[str, tuple[str, ...]] = {
    "day": ("day",),
    "hour": ("hour",),
    "symbol": ("symbol",),
    "route": ("symbol", ROUTE),
    "run": ("run",),
}
"""``arb report --by``: each grouping's key columns. Day and hour are the UTC day and hour of the
opportunity's ``detected_at`` (the run's clock: market time in a simulation); a route is buy venue -> sell
venue of one symbol; a run is the run's id (the default grouping over a window)."""


@dataclass(frozen=True, slots=True)
class Window:
    """A span of time in UTC, ``since`` included and ``until`` not (so consecutive days partition a history);
    an end left None is open."""

    since: datetime | None = None
    until: datetime | None = None

    def where(self, column: InstrumentedAttribute[datetime]) -> list[ColumnElement[bool]]:
        """The SQL conditions that hold ``column`` in the window."""
        return [*([column >= self.since] if self.since else []), *([column < self.until] if self.until else [])]

    def holds(self, at: datetime) -> bool:
        at = at.astimezone(UTC)
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether the span ``start`` to ``end`` (both included) has an instant in the window."""
        return ((self.until is None or start.astimezone(UTC) < self.until)
                and (self.since is None or end.astimezone(UTC) >= self.since))


def runs_in_window(session: Session, window: Window) -> list[Run]:
    """The runs in ``window``, oldest first: each run with a row in it (an opportunity, order, fill or funding
    payment, by its own time) or whose span on its own clock overlaps it (start to end; a run not ended, a
    crash's, spans its start alone, so it is in a later window only through its rows)."""
    ids: set[int] = set()
    for column, run_id in ((Opportunity.detected_at, Opportunity.run_id), (Order.created_at, Order.run_id),
                           (FundingPayment.ts, FundingPayment.run_id)):
        ids.update(session.scalars(select(run_id).distinct().where(*window.where(column))))
    ids.update(session.scalars(select(Order.run_id).distinct().join(Fill, Fill.order_id == Order.id)
                               .where(*window.where(Fill.ts))))
    runs = []
    for run in session.scalars(select(Run).order_by(Run.started_at, Run.id)):
        start, end = run_span(run)
        if run.id in ids or window.overlaps(start, end or start):
            runs.append(run)
    return runs


def run_span(run: Run) -> tuple[datetime, datetime | None]:
    """When ``run`` traded, on its own clock (:func:`arb.store.runs.run_clock`): a simulation's market span,
    else the process's; its end None while it runs or after a crash."""
    if run_clock(run) == "market" and run.market_started_at is not None:
        return run.market_started_at, run.market_ended_at
    return run.started_at, run.ended_at


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
    lots: tuple[tuple[int, OpenLot], ...]  # (run id, lot): each valued at its own run's marks
    quotes: int | None = None  # a maker group's quotes placed (None: a taker group)
    quotes_filled: int | None = None  # ... that filled at least once
    hedges: int | None = None  # ... and the hedge orders its pairs sent
    funding: dict[str, Decimal] = field(default_factory=dict)  # currency -> funding received (< 0: paid)


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
    if by == "run":
        return (str(opp.run_id),)
    raise ValueError(f"unknown grouping {by!r}: one of {', '.join(GROUPINGS)}")


@dataclass(frozen=True, slots=True)
class Loose:
    """What of the run is in no group: orders of no opportunity (and their fills), and of those the quotes
    that never filled (a maker pair is opened by a fill), except grouped by route, where those are in their
    route's row."""

    orders: int
    fills: int
    quotes: int
    funding: dict[str, Decimal] = field(default_factory=dict)  # grouped by route: a payment has no route


def grouped(session: Session, run_id: int, by: str) -> tuple[list[GroupRow], Loose]:
    """The run's opportunities grouped ``by`` day, hour, symbol, route or run, sorted by key, with its maker
    quotes (see the module doc); and what belongs to no group."""
    return grouped_window(session, (run_id,), by, Window())


def _at(by: str, at: datetime) -> tuple[str, ...]:
    return (at.astimezone(UTC).strftime("%Y-%m-%d" if by == "day" else "%Y-%m-%dT%H:00Z"),)


def _order_of(by: str, key: tuple[str, ...]) -> tuple[Any, ...]:
    return (int(key[0]),) if by == "run" else key  # run 10 after run 9


def grouped_window(session: Session, run_ids: Sequence[int], by: str,
                   window: Window) -> tuple[list[GroupRow], Loose]:
    """The rows of runs ``run_ids`` in ``window`` (each by its own time, see the module doc) grouped ``by``
    day, hour, symbol, route or run, sorted by key; and what of them belongs to no group. Grouped by run, every
    run of ``run_ids`` has its row, if only of zeros."""
    opps: dict[int, Opportunity] = {}
    for run_id in run_ids:
        opps.update((o.id, o) for o in run_opportunities(session, run_id) if window.holds(o.detected_at))
    keys = {oid: group_key(by, o) for oid, o in opps.items()}
    orders: Counter[tuple[str, ...]] = Counter()
    fills: Counter[tuple[str, ...]] = Counter()
    fees: dict[tuple[str, ...], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    quotes: Counter[tuple[str, ...]] = Counter()
    quotes_filled: Counter[tuple[str, ...]] = Counter()
    hedges: Counter[tuple[str, ...]] = Counter()
    funding: dict[tuple[str, ...], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    makers: set[tuple[str, ...]] = {keys[oid] for oid, o in opps.items() if o.strategy == "maker"}
    snapshots: dict[int, Any] = {run_id: snapshot for run_id, snapshot in session.execute(
        select(Run.id, Run.config_snapshot).where(Run.id.in_(run_ids)))}
    filled_orders = set(session.scalars(select(Fill.order_id).join(Order, Fill.order_id == Order.id)
                                        .where(Order.run_id.in_(run_ids))))
    loose_orders = loose_fills = loose_quotes = 0
    for order_id, run_id, opp_id, purpose, symbol, venue, side, created_at in session.execute(
            select(Order.id, Order.run_id, Order.opportunity_id, Order.purpose, Order.symbol, Order.venue,
                   Order.side, Order.created_at).where(Order.run_id.in_(run_ids))):
        # An order in no pair has no opportunity_id: it is in the window by its own time, not a pair's.
        outside = opp_id not in keys if opp_id is not None else not window.holds(created_at)
        if outside:
            continue
        key = keys.get(opp_id) if opp_id is not None else None
        if key is None and purpose == "quote" and by == "route":  # unfilled: its route's, by its direction
            taker_venue = configured_taker(snapshots[run_id], symbol, venue)
            key = (symbol, route(*direction(side, venue, taker_venue)))
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
    stmt = (select(Order.opportunity_id, Fill.fee, Fill.fee_currency, Fill.ts)
            .join(Order, Fill.order_id == Order.id).where(Order.run_id.in_(run_ids)))
    for opp_id, fee, currency, ts in session.execute(stmt):
        if opp_id in keys:
            fills[keys[opp_id]] += 1
            fees[keys[opp_id]][currency] += fee
        elif opp_id is None and window.holds(ts):
            loose_fills += 1
    loose_funding: dict[str, Decimal] = defaultdict(Decimal)
    for run_id, symbol, ts, amount, currency in session.execute(
            select(FundingPayment.run_id, FundingPayment.symbol, FundingPayment.ts, FundingPayment.amount,
                   FundingPayment.currency)
            .where(FundingPayment.run_id.in_(run_ids), *window.where(FundingPayment.ts))):
        if by == "route":
            loose_funding[currency] += amount
            continue
        key = (str(run_id),) if by == "run" else (symbol,) if by == "symbol" else _at(by, ts)
        funding[key][currency] += amount
    members: dict[tuple[str, ...], list[Opportunity]] = {key: [] for key in makers | set(funding)}
    if by == "run":
        members.update({(str(r),): [] for r in run_ids if (str(r),) not in members})
    for oid, o in opps.items():
        members.setdefault(keys[oid], []).append(o)
    rows = []
    for key in sorted(members, key=lambda k: _order_of(by, k)):
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
            lots=tuple((o.run_id, open_lot(o)) for o in group if o.open_base),
            quotes=quotes[key] if maker else None, quotes_filled=quotes_filled[key] if maker else None,
            hedges=hedges[key] if maker else None, funding=dict(sorted(funding[key].items())),
        ))
    return rows, Loose(loose_orders, loose_fills, loose_quotes, dict(sorted(loose_funding.items())))
