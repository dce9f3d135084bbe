"""Where each venue's books come from outside a replay (modes ``paper`` and ``live``).

- a ``sandbox`` venue: over the sandbox's WebSocket through arb's own Gate update-id sync
  (:class:`GateBookFeed`), exactly the path a real Gate connection takes; the sandbox itself plays its
  side of the capture (``capture_venue``) at the configured speed;
- a ``paper`` venue with a ``capture_venue``: that side of the capture, paced in real time at the same
  speed, through the same :class:`BookStore`;
- a ``live`` venue, or a ``paper`` one without a capture (dry run): the venue's public feed, our Gate
  sync for Gate and ccxt.pro ``watch_order_book`` (REST polling fallback) for any other ccxt exchange.

Every source ends up in ``BookStore.snapshot``/``delta``: health rules (gap, crossed, stale) are the same
whatever the source.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arb.config import Config
from arb.marketdata.books import BookStore
from arb.marketdata.capture import read_capture
from arb.runtime.venues import VenueSet


@dataclass
class FeedSet:
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    finite: list[asyncio.Task[Any]] = field(default_factory=list)  # capture-driven: they end
    feeds: dict[str, object] = field(default_factory=dict)  # venue -> feed object (for status/tests)

    async def finished(self, stop: asyncio.Event) -> None:
        """Until every capture-driven source has ended (never, if all sources are live) or ``stop``."""
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        if self.finite:
            waiters.append(asyncio.gather(*self.finite, return_exceptions=True))
        done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in pending:
            w.cancel()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def paced_capture(path: Path, routes: dict[tuple[str, str], str], books: BookStore, speed: float,
                        now_ms: Callable[[], int], sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                        ) -> None:
    """Feed the routed events of a capture into ``books`` in real time (``speed`` x recorded pace)."""
    start = time.monotonic()
    first: int | None = None
    for event in read_capture(path):
        venue = routes.get((event.venue, event.symbol))
        if venue is None:
            continue
        first = event.ts if first is None else first
        if speed > 0:
            delay = start + (event.ts - first) / 1000 / speed - time.monotonic()
            if delay > 0:
                await sleep(delay)
        else:
            await sleep(0)
        ts = now_ms()  # received now: ages are judged in real time in this mode
        if event.type == "snapshot":
            books.snapshot(venue, event.symbol, event.bids, event.asks, ts=ts, seq=event.seq)
        else:
            books.delta(venue, event.symbol, event.bids, event.asks, ts=ts, seq=event.seq, first_seq=event.first_seq)


def start_feeds(config: Config, venues: VenueSet, books: BookStore, now_ms: Callable[[], int]) -> FeedSet:
    from arb.marketdata.ccxt_feed import CcxtBookFeed
    from arb.marketdata.gate_feed import GateBookFeed

    out = FeedSet()
    symbols = list(config.engine.symbols)
    speed = config.replay.speed if config.replay else 1.0
    for name, kind in venues.kinds.items():
        section = config.venues[name]
        if kind == "sandbox":
            link = venues.sandboxes[name]
            feed = GateBookFeed(books, symbols, ws_url=link.ws_url, rest_url=link.rest_url, clock_ms=now_ms)
            out.feeds[name] = feed
            out.tasks.append(asyncio.create_task(feed.run(), name=f"feed-{name}"))
            if link.feed_done is not None:
                out.finite.append(asyncio.create_task(_wait(link.feed_done), name=f"capture-{name}"))
        elif kind == "paper" and section.capture_venue and config.capture_path() is not None:
            routes = {(section.capture_venue, s): name for s in symbols}
            task = asyncio.create_task(paced_capture(config.capture_path(), routes, books, speed, now_ms),  # type: ignore[arg-type]
                                       name=f"capture-{name}")
            out.tasks.append(task)
            out.finite.append(task)
        else:
            live_feed: GateBookFeed | CcxtBookFeed
            if name == "gate":
                live_feed = GateBookFeed(books, symbols, clock_ms=now_ms)
            else:
                import ccxt.pro

                live_feed = CcxtBookFeed(books, getattr(ccxt.pro, name)({"enableRateLimit": True}), symbols,
                                    limit=config.engine.book_depth, clock_ms=now_ms)
            out.feeds[name] = live_feed
            out.tasks.append(asyncio.create_task(live_feed.run(), name=f"feed-{name}"))
    return out


async def _wait(event: asyncio.Event) -> None:
    await event.wait()
