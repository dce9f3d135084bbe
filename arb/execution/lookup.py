"""Finding out what happened to an order whose outcome proved nothing.

After a timeout, a 5xx or a dropped response the order may or may not be live. We ask for it by its
client order id, several times with spacing (a just-placed order can briefly answer "not found"), and
as a last resort look for its trades (an IOC that closed may no longer be queryable by id; on Gate, by
``text`` only while open). Only when all of that finds nothing do we conclude it never landed. We never
send it again under a new id while any of this is unresolved.

:func:`resolve` is what every order kind does after an ambiguous outcome (a taker leg, a quote, a hedge, a
flatten): the lookup, then the trades behind what the venue says filled (:func:`with_trades`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from arb.domain.orders import VenueState
from arb.domain.venue import FillReport, OrderReport, OrderRequest, Venue
from arb.errors import (
    AuthenticationError,
    BadSymbol,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    VenueError,
)


@dataclass(frozen=True, slots=True)
class LookupPolicy:
    delays: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0, 2.0)  # before each retry after the first attempt


FILL_LOOKBACK = timedelta(seconds=5)  # clock skew margin when asking a venue for fills "since sent"
# The refusals that prove the venue did nothing with an order (funds, a rule, the symbol, the key, a 429:
# Gate answers 429 before accepting anything, and arb's own order budget refuses before it leaves). Any
# other failure of a placement (a timeout, a 5xx, a dropped answer, an error arb has no word for) proves
# nothing: the order is looked up by client id before anything is sent in its place.
DEFINITIVE = (InsufficientFunds, InvalidOrder, BadSymbol, AuthenticationError, RateLimited)


@dataclass(frozen=True, slots=True)
class LookupResult:
    report: OrderReport | None  # None: not found anywhere, after every attempt
    attempts: int
    errors: tuple[str, ...] = ()


def report_from_fills(request: OrderRequest, venue: str, fills: list[FillReport]) -> OrderReport:
    filled = sum((f.amount for f in fills), Decimal(0))
    return OrderReport(
        venue=venue,
        client_order_id=request.client_order_id,
        venue_order_id=fills[0].venue_order_id if fills else None,
        symbol=request.symbol,
        side=request.side,
        price=request.price,
        amount=request.amount,
        filled=filled,
        state=VenueState.CLOSED,
        venue_status="closed (from trades)",
        fills=tuple(fills),
    )


async def lookup_by_client_id(
    venue: Venue,
    request: OrderRequest,
    *,
    since: datetime,
    policy: LookupPolicy,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> LookupResult:
    errors: list[str] = []
    attempts = 0
    for delay in (0.0, *policy.delays):
        if delay:
            await sleep(delay)
        attempts += 1
        try:
            return LookupResult(await venue.fetch_order(request.client_order_id, request.symbol), attempts)
        except OrderNotFound:
            errors.append("not_found")
        except VenueError as exc:
            # Rate limits and 5xx prove nothing either: keep looking, with spacing.
            errors.append(type(exc).__name__)
    try:
        fills = [
            f
            for f in await venue.fetch_fills(request.symbol, since)
            if f.client_order_id == request.client_order_id
        ]
    except VenueError as exc:
        errors.append(type(exc).__name__)
        raise
    if fills:
        return LookupResult(report_from_fills(request, venue.name, fills), attempts, tuple(errors))
    return LookupResult(None, attempts, tuple(errors))


@dataclass(frozen=True, slots=True)
class Resolution:
    """What became of an order whose request ended without an answer."""

    report: OrderReport | None  # found: the venue's report, with the trades behind what it filled as found
    absent: bool  # provably never on the venue: not found by client id, no trades (it filled nothing)
    attempts: int
    detail: str  # for the order's event

    @property
    def resolved(self) -> bool:
        return self.report is not None or self.absent


async def resolve(venue: Venue, request: OrderRequest, sent_at: datetime, *, policy: LookupPolicy,
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Resolution:
    """Look ``request`` up by its client id after an ambiguous outcome; never raises for the venue failing
    (a lookup that could not ask is unresolved: the order stays ``unknown`` and nothing is sent again)."""
    try:
        result = await lookup_by_client_id(venue, request, since=sent_at - FILL_LOOKBACK, policy=policy, sleep=sleep)
    except VenueError as exc:
        return Resolution(None, False, 0, f"lookup failed: {type(exc).__name__}")
    if result.report is not None:
        report = await with_trades(venue, request, result.report, sent_at, policy=policy, sleep=sleep)
        return Resolution(report, False, result.attempts, f"resolved by client id after {result.attempts} lookups")
    if "not_found" not in result.errors:  # every lookup failed for another reason: nothing learned
        return Resolution(None, False, result.attempts, f"no answer to {result.attempts} lookups")
    return Resolution(None, True, result.attempts,
                      f"not found by client id after {result.attempts} lookups, no trades")


async def with_trades(venue: Venue, request: OrderRequest, report: OrderReport, sent_at: datetime, *,
                      policy: LookupPolicy, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> OrderReport:
    """The report with the trades behind every unit it says filled: those it carries, plus the venue's
    trades of this order (by client id, else venue order id) while they fall short, with spaced retries."""
    fills = {f.trade_id: f for f in report.fills}
    if report.filled > _total(fills.values()):
        for delay in (0.0, *policy.delays):
            if delay:
                await sleep(delay)
            try:
                # By the venue's order id when the answer gave one: that order's trades, not a page of
                # every trade the account made since (on a busy account the page need not hold them).
                found = await venue.fetch_fills(request.symbol, sent_at - FILL_LOOKBACK, report.venue_order_id)
            except VenueError:
                continue
            for f in found:
                if _belongs(f, request, report):
                    fills.setdefault(f.trade_id, f)
            if _total(fills.values()) >= report.filled:
                break
    return replace(report, fills=tuple(fills.values()))


def _total(fills: Iterable[FillReport]) -> Decimal:
    return sum((f.amount for f in fills), Decimal(0))


def _belongs(fill: FillReport, request: OrderRequest, report: OrderReport) -> bool:
    if fill.client_order_id is not None:
        return fill.client_order_id == request.client_order_id
    return report.venue_order_id is not None and fill.venue_order_id == report.venue_order_id
