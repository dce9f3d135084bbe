"""Finding out what happened to an order whose outcome proved nothing.

After a timeout, a 5xx or a dropped response the order may or may not be live. We ask for it by its
client order id, several times with spacing (a just-placed order can briefly answer "not found"), and
as a last resort look for its trades (an IOC that closed may no longer be queryable by id; on Gate, by
``text`` only while open). Only when all of that finds nothing do we conclude it never landed. We never
send it again under a new id while any of this is unresolved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from arb.domain.orders import VenueState
from arb.domain.venue import FillReport, OrderReport, OrderRequest, Venue
from arb.errors import OrderNotFound, VenueError


@dataclass(frozen=True, slots=True)
class LookupPolicy:
    delays: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0, 2.0)  # before each retry after the first attempt


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
