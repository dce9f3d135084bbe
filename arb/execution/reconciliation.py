"""Bringing the database to the venues' truth: on start, after a reconnect, and for a run's own orders at its
end (:func:`resolve_own`, the first pass below on the run's orders).

It uses the runtime path (venue reports -> :func:`arb.store.orders.record_report` -> the state machine),
so reconciliation can never write a state the live executor would have refused. Three passes per venue:

1. every order the database has in flight (``created``, ``submitted``, ``open``, ``partially_filled``,
   ``unknown``) is looked up by client id with spaced retries; found -> its report is applied and its
   fills recorded (a quote the venue holds at a smaller amount was cut in place by an amend whose answer
   was lost: its row takes the venue's amount); provably absent (not found, no trades) -> closed with the
   reason: ``rejected`` if no answer ever said the venue had it, ``canceled`` if one did (an acknowledged
   order the venue no longer holds and that never traded: it closed unfilled; the state machine has no
   ``open -> rejected``); otherwise stays ``unknown``. A venue that starts empty in every run (a paper
   venue, an in-process sandbox: ``forgetful``) knows none of an earlier run's orders: they are closed so without asking it.
2. open orders on the venue that the database does not know are recorded and flagged.
3. fills since ``since`` are recorded idempotently on ``(venue, trade_id)`` and matched to their order
   by client id (or venue order id); an order whose fills exceed its recorded ``filled`` is advanced.

An order's ``filled`` is always the sum of its stored fills (:mod:`arb.store.fills`): a venue report
claiming more than the trades found leaves an in-flight order ``unknown`` (listed as unresolved). A trade
stored earlier with other values is a fill conflict: recorded and counted, never dropped silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arb.domain.market import Side
from arb.domain.orders import OrderStatus
from arb.domain.venue import FillReport, OrderRequest, Venue
from arb.errors import OrderNotFound, VenueError
from arb.execution.lookup import LookupPolicy, lookup_by_client_id
from arb.store import orders as repo
from arb.store.fills import add_fills
from arb.store.maker_pairs import quote_amended
from arb.store.models import Order
from arb.store.settlement import settle_pending

LOOKBACK = timedelta(seconds=5)


@dataclass
class ReconcileReport:
    resolved: list[str] = field(default_factory=list)  # in-flight orders brought to a venue-reported state
    rejected: list[str] = field(default_factory=list)  # in-flight orders the venue provably never had
    closed: list[str] = field(default_factory=list)  # acknowledged, no longer on the venue: closed unfilled
    unresolved: list[str] = field(default_factory=list)  # still unknown: trading must not assume either way
    adopted: list[str] = field(default_factory=list)  # on the venue, not in the database: recorded, flagged
    fills_added: int = 0
    fill_conflicts: int = 0  # trades already stored with other values: recorded in fill_conflicts, logged
    orphan_fills: list[str] = field(default_factory=list)  # trade ids with no order to attach to
    settled: list[int] = field(default_factory=list)  # opportunities settled by this pass

    @property
    def found_in_flight(self) -> bool:
        """Whether its first pass found any order in flight (brought to an answer, closed or left unknown)."""
        return bool(self.resolved or self.rejected or self.closed or self.unresolved)

    def __str__(self) -> str:
        """One line for people: what the pass found, or that nothing was in flight."""
        parts = [f"{len(v)} {k}" for k, v in (("resolved", self.resolved), ("rejected", self.rejected),
                                              ("closed", self.closed),
                                              ("unresolved", self.unresolved), ("adopted", self.adopted),
                                              ("orphan fills", self.orphan_fills), ("settled", self.settled)) if v]
        parts += [f"{n} {k}" for k, n in (("fills added", self.fills_added),
                                          ("fill conflicts", self.fill_conflicts)) if n]
        return ", ".join(parts) if parts else "nothing in flight, no fills to bring in"


def _request(order: Order) -> OrderRequest:
    return OrderRequest(order.client_order_id, order.symbol, Side(order.side), order.amount, order.price,
                        order.time_in_force)


async def reconcile(
    venues: Mapping[str, Venue],
    sessions: sessionmaker[Session],
    run_id: int,
    *,
    symbols: Iterable[str],
    since: datetime,
    lookup: LookupPolicy = LookupPolicy(),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    forgetful: Collection[str] = (),
) -> ReconcileReport:
    """``forgetful``: the venues that start empty in every run (paper venues, in-process sandboxes)."""
    report = ReconcileReport()
    symbols = list(symbols)
    for venue in venues.values():
        if venue.name in forgetful:
            _forget_earlier(venue.name, sessions, report, clock)
            continue
        await _in_flight(venue, sessions, report, lookup, sleep, clock)
        await _unknown_open_orders(venue, sessions, run_id, report, clock)
        for symbol in symbols:
            await _fills(venue, symbol, since, sessions, run_id, report, clock)
    # Pairs whose orders are final only now (a leg that was unknown when the pair finished, fills that came
    # in after it settled) are settled here, through the same definition the executor uses.
    with sessions.begin() as s:
        report.settled = settle_pending(s, clock())
    return report


async def resolve_own(
    venues: Mapping[str, Venue],
    sessions: sessionmaker[Session],
    run_id: int,
    *,
    lookup: LookupPolicy = LookupPolicy(),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReconcileReport:
    """The run's own orders still in flight as it ends, once what rested was cancelled
    (``engine/ending.cancel_resting``, which sees only what the venue still lists as open): each looked up by
    client id on its venue, which still knows it (a paper venue or in-process sandbox too, until the process
    ends), and brought to the venue's answer as the start's first pass does. A cancel whose answer was lost
    leaves a quote closed on the venue and ``open`` in its row; a completed run no longer leaves that for the
    next start's reconciliation to find."""
    report = ReconcileReport()
    for venue in venues.values():
        await _in_flight(venue, sessions, report, lookup, sleep, clock, run_id=run_id, why="at the run's end")
    if report.found_in_flight:  # pairs whose orders are final only now
        with sessions.begin() as s:
            report.settled = settle_pending(s, clock())
    return report


async def _in_flight(venue: Venue, sessions: sessionmaker[Session], out: ReconcileReport, lookup: LookupPolicy,
                     sleep: Callable[[float], Awaitable[None]], clock: Callable[[], datetime], *,
                     run_id: int | None = None, why: str = "reconciliation") -> None:
    """Every order in flight on ``venue`` (of ``run_id``) looked up and recorded as it found it; ``why`` begins
    each event's detail."""
    with sessions() as s:
        pending = [(o.id, _request(o), o.created_at, o.status == OrderStatus.CREATED.value, o.purpose == "quote")
                   for o in repo.in_flight_orders(s, venue.name, run_id)]
    for order_id, request, created_at, still_created, is_quote in pending:
        # Still ``created``: its run stopped between the write-ahead record and the leg's first transaction,
        # which would have written the order's first event (store/write_ahead.py).
        first_event = created_at if still_created else None
        try:
            result = await lookup_by_client_id(venue, request, since=created_at - LOOKBACK, policy=lookup,
                                               sleep=sleep)
        except VenueError:
            _mark_unknown(sessions, order_id, clock, f"{why}: lookup failed", first_event)
            out.unresolved.append(request.client_order_id)
            continue
        if result.report is not None:
            fills = list(result.report.fills)
            if result.report.filled > sum((f.amount for f in fills), Decimal(0)):
                try:
                    found = await venue.fetch_fills(request.symbol, created_at - LOOKBACK,
                                                    result.report.venue_order_id)
                    fills = [f for f in found if f.client_order_id == request.client_order_id
                             or (f.venue_order_id and f.venue_order_id == result.report.venue_order_id)]
                except VenueError:
                    pass
            now = clock()
            with sessions.begin() as s:
                if first_event is not None:
                    repo.restore_first_event(s, order_id, first_event)
                added = add_fills(s, order_id, [*result.report.fills, *fills], received_at=now)
                if is_quote and result.report.amount < request.amount:
                    # A quote cut in place whose answer was lost with the run that sent it (killed in the
                    # amend's flight): the venue's amount is the truth, and its status is judged on it.
                    repo.record_amend(s, order_id, result.report.amount, now, source=why)
                    pair_id = s.get_one(Order, order_id).opportunity_id
                    if pair_id is not None:
                        quote_amended(s, pair_id, result.report.amount)
                t = repo.record_report(s, order_id, replace(result.report, fills=()), now,
                                       detail=why)
            out.fills_added += added.new
            out.fill_conflicts += added.conflicts
            # Still unknown: the venue reports more filled than the trades found (arb.store.orders).
            done = out.unresolved if t.to_status is OrderStatus.UNKNOWN else out.resolved
            done.append(request.client_order_id)
        elif "not_found" in result.errors:
            to = _close_absent(sessions, order_id, clock, f"{why}: not on the venue, no trades",
                               first_event)
            (out.closed if to is OrderStatus.CANCELED else out.rejected).append(request.client_order_id)
        else:
            _mark_unknown(sessions, order_id, clock, f"{why}: no answer", first_event)
            out.unresolved.append(request.client_order_id)


def _close_absent(sessions: sessionmaker[Session], order_id: int, clock: Callable[[], datetime], why: str,
                  first_event: datetime | None) -> OrderStatus:
    """An in-flight order its venue does not hold and never traded: ``rejected`` when nothing ever said the
    venue had it, ``canceled`` when it was acknowledged (or holds fills): it closed with what it filled."""
    with sessions.begin() as s:
        if first_event is not None:
            repo.restore_first_event(s, order_id, first_event)
        order = s.get_one(Order, order_id)
        acknowledged = order.status in (OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value) or order.filled
        to = OrderStatus.CANCELED if acknowledged else OrderStatus.REJECTED
        repo.record_transition(s, order_id, to, clock(), venue_status="not_found", detail=why)
    return to


def _forget_earlier(venue: str, sessions: sessionmaker[Session], out: ReconcileReport,
                    clock: Callable[[], datetime]) -> None:
    """``venue`` starts empty in every run: what earlier runs left in flight on it is gone with their
    simulated market. Closed, saying so, so that no start trips over it or takes it over."""
    with sessions() as s:
        pending = [(o.id, o.client_order_id, o.created_at if o.status == OrderStatus.CREATED.value else None)
                   for o in repo.in_flight_orders(s, venue)]
    for order_id, client_order_id, first_event in pending:
        to = _close_absent(sessions, order_id, clock, "reconciliation: a paper venue or in-process sandbox knows "
                           "none of an earlier run's orders (its market ended with that run)", first_event)
        (out.closed if to is OrderStatus.CANCELED else out.rejected).append(client_order_id)


def _mark_unknown(sessions: sessionmaker[Session], order_id: int, clock: Callable[[], datetime], why: str,
                  first_event: datetime | None) -> None:
    with sessions.begin() as s:
        if first_event is not None:
            repo.restore_first_event(s, order_id, first_event)
        repo.record_transition(s, order_id, OrderStatus.UNKNOWN, clock(), detail=why)


async def _unknown_open_orders(venue: Venue, sessions: sessionmaker[Session], run_id: int,
                               out: ReconcileReport, clock: Callable[[], datetime]) -> None:
    for open_report in await venue.fetch_open_orders():
        with sessions.begin() as s:
            if repo.order_by_client_id(s, open_report.client_order_id) is None:
                repo.adopt_order(s, open_report, run_id, clock())
                out.adopted.append(open_report.client_order_id)


async def _fills(venue: Venue, symbol: str, since: datetime, sessions: sessionmaker[Session], run_id: int,
                 out: ReconcileReport, clock: Callable[[], datetime]) -> None:
    fills = await venue.fetch_fills(symbol, since)
    by_order: dict[int, list[FillReport]] = {}
    for fill in fills:
        with sessions() as s:
            order = _order_for(s, venue.name, fill)
        if order is None and fill.client_order_id:
            try:
                found = await venue.fetch_order(fill.client_order_id, symbol)
            except (OrderNotFound, VenueError):
                found = None
            if found is not None:
                with sessions.begin() as s:
                    repo.adopt_order(s, found, run_id, clock())
                out.adopted.append(fill.client_order_id)
                with sessions() as s:
                    order = _order_for(s, venue.name, fill)
        if order is None:
            out.orphan_fills.append(fill.trade_id)
            continue
        by_order.setdefault(order.id, []).append(fill)
    for order_id, order_fills in by_order.items():
        with sessions.begin() as s:
            added = repo.record_fills(s, order_id, order_fills, clock(), detail="reconciliation: fills")
        out.fills_added += added.new
        out.fill_conflicts += added.conflicts


def _order_for(s: Session, venue: str, fill: FillReport) -> Order | None:
    if fill.client_order_id:
        order = repo.order_by_client_id(s, fill.client_order_id)
        if order is not None:
            return order
    if fill.venue_order_id:
        return s.execute(
            select(Order).where(Order.venue == venue, Order.venue_order_id == fill.venue_order_id)
        ).scalar_one_or_none()
    return None
