"""The feed watchdog: notices books that went silent and asks their feed to resubscribe.

A book is ``stale`` by definition once nothing arrived for ``max_age_ms`` (``OrderBook.health``), so
detection already refuses it; the watchdog is what *acts* on it, on an injected clock.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable

from arb.eventloop.clock import wall_ms
from arb.marketdata.book import Health, OrderBook
from arb.marketdata.books import BookStore

log = logging.getLogger(__name__)

OnStale = Callable[[OrderBook], Awaitable[None] | None]


def stale_books(store: BookStore, now_ms: int) -> list[OrderBook]:
    return [book for book in store if book.health(now_ms) is Health.STALE]


async def check_once(store: BookStore, now_ms: int, on_stale: OnStale) -> list[OrderBook]:
    stale = stale_books(store, now_ms)
    for book in stale:
        log.warning("%s %s silent for %d ms: stale", book.venue, book.symbol, now_ms - (book.received_ts or 0))
        result = on_stale(book)
        if inspect.isawaitable(result):
            await result
    return stale


async def run_watchdog(
    store: BookStore,
    on_stale: OnStale,
    *,
    interval_s: float = 1.0,
    clock_ms: Callable[[], int] = wall_ms,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Check every ``interval_s`` until cancelled."""
    while True:
        await check_once(store, clock_ms(), on_stale)
        await sleep(interval_s)
