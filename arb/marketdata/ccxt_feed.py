"""Books for any ccxt exchange id: ccxt.pro ``watch_order_book``, or REST polling where there is no WS.

ccxt keeps the venue's book in sync itself (for venues where it checks sequence numbers); we take its top
``limit`` levels as a snapshot into the store after every update, so detection, recording and replay see
the same normalized form as our own Gate feed. ccxt holds floats: each is written back as the shortest
decimal string that round-trips (exact for venue prices, which have at most 15 significant digits).
A failure resets the book to ``syncing`` and retries after a capped, jittered backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

import ccxt

from arb.backoff import full_jitter
from arb.marketdata.books import BookStore
from arb.marketdata.gate_feed import wall_ms

log = logging.getLogger(__name__)


def decimal_str(value: float | int | str) -> str:
    """A ccxt number as a plain decimal string (no exponent: ``1e-05`` -> ``0.00001``)."""
    text = format(Decimal(repr(value) if isinstance(value, float) else str(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".") or "0"
    return text


def ccxt_levels(side: Sequence[Sequence[Any]], limit: int) -> list[tuple[str, str]]:
    return [(decimal_str(level[0]), decimal_str(level[1])) for level in side[:limit]]


class CcxtBookFeed:
    """Keeps ``store`` books of ``symbols`` on a ccxt (pro) exchange until cancelled."""

    def __init__(
        self,
        store: BookStore,
        exchange: Any,
        symbols: Sequence[str],
        *,
        limit: int = 20,
        poll_interval_s: float = 1.0,
        clock_ms: Callable[[], int] = wall_ms,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        self.store = store
        self.exchange = exchange
        self.venue: str = exchange.id
        self.symbols = list(symbols)
        self.limit = limit
        self.poll_interval_s = poll_interval_s
        self.clock_ms = clock_ms
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.errors = 0

    @property
    def streaming(self) -> bool:
        return bool(self.exchange.has.get("watchOrderBook"))

    async def run(self) -> None:
        await asyncio.gather(*(self._run_symbol(symbol) for symbol in self.symbols))

    async def _run_symbol(self, symbol: str) -> None:
        attempt = 0
        while True:
            try:
                if self.streaming:
                    orderbook = await self.exchange.watch_order_book(symbol, self.limit)
                else:
                    orderbook = await self.exchange.fetch_order_book(symbol, self.limit)
                self._publish(symbol, orderbook)
                attempt = 0
                if not self.streaming:
                    await self.sleep(self.poll_interval_s)
            except (ccxt.NetworkError, ccxt.ExchangeError) as exc:
                self.errors += 1
                log.warning("%s %s book: %s: %s", self.venue, symbol, type(exc).__name__, exc)
                self.store.book(self.venue, symbol).reset()
                await self.sleep(full_jitter(attempt, self.backoff_base, self.backoff_cap, self.rng.random))
                attempt += 1

    def _publish(self, symbol: str, orderbook: Any) -> None:
        self.store.snapshot(
            self.venue,
            symbol,
            ccxt_levels(orderbook["bids"], self.limit),
            ccxt_levels(orderbook["asks"], self.limit),
            ts=self.clock_ms(),
            seq=orderbook.get("nonce"),
            exchange_ts=orderbook.get("timestamp"),
        )
