"""Where each venue's books come from outside a replay (modes ``paper`` and ``live``).

- a ``sandbox`` venue: over the sandbox's WebSocket through its adapter's own book feed (for the Gate
  sandbox, arb's Gate update-id sync), exactly the path a real connection takes; the sandbox itself plays
  its side of the capture (``capture_venue``) at the configured speed;
- a ``paper`` venue with a ``capture_venue``: that side of the capture, paced in real time at the same
  speed, through the same :class:`BookStore`;
- a ``live`` venue, or a ``paper`` one without a capture (dry run): the venue's public feed as its adapter
  builds it (a package's own sync, or ccxt.pro ``watch_order_book`` with REST polling fallback for any
  other ccxt exchange).

Every feed stores books under the venue's configured name, whatever its adapter or ccxt id.

Every source ends up in ``BookStore.snapshot``/``delta``: health rules (gap, crossed, stale) are the same
whatever the source.

Each source runs as a task of the engine's supervisor (``runtime/supervisor.py``): a feed that fails is
logged, counted and restarted (it resyncs from fresh snapshots); a capture pacer is not restarted (a
capture cannot be replayed twice), so its error ends the run. All feeds count malformed frames in one
:class:`FrameDrops`. The watchdog (``marketdata/watchdog.py``) calls :meth:`FeedSet.on_stale` for a book
silent past ``stale_after_ms``: its venue's feed resubscribes, and the resubscription is counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arb.config import Config
from arb.marketdata.book import Health, OrderBook
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent
from arb.marketdata.drops import FrameDrops
from arb.marketdata.timeline import read_timeline
from arb.runtime.simloop import stop_market_time
from arb.runtime.supervisor import Spawn
from arb.runtime.venues import VenueSet
from arb.venues.adapter import Feed

log = logging.getLogger(__name__)


@dataclass
class FeedSet:
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    finite: list[asyncio.Task[Any]] = field(default_factory=list)  # capture-driven: they end
    feeds: dict[str, Any] = field(default_factory=dict)  # venue -> Feed (for the watchdog, status, tests)
    drops: FrameDrops = field(default_factory=FrameDrops)  # malformed frames, every feed's
    resubscribes: Counter[str] = field(default_factory=Counter)  # venue -> watchdog resubscriptions
    now_ms: Callable[[], int] = field(default=lambda: 0)

    async def on_stale(self, book: OrderBook) -> None:
        """The watchdog found ``book`` silent: its venue's feed resubscribes (once, however many of its books
        went stale together). A capture-paced book has no feed to ask; the watchdog's log line is all."""
        feed: Feed | None = self.feeds.get(book.venue)
        if feed is None or book.health(self.now_ms()) is not Health.STALE:
            return  # no feed, or an earlier call this round already reset it
        self.resubscribes[book.venue] += 1
        log.warning("%s: resubscribing its silent book feed", book.venue)
        await feed.resubscribe()

    async def finished(self, stop: asyncio.Event) -> None:
        """Until every capture-driven source has ended (never, if all sources are live) or ``stop``."""
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        if self.finite:
            waiters.append(asyncio.gather(*self.finite, return_exceptions=True))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            # Retrieve what the waiters ended with: a cancelled gather otherwise logs "_GatheringFuture
            # exception was never retrieved ... CancelledError" when the loop collects it (Ctrl-C).
            await asyncio.wait(waiters)
            for w in waiters:
                if not w.cancelled():
                    w.exception()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        # Supervised tasks log and count their own failures; what is left here is their cancellation.
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for feed in self.feeds.values():
            exchange = getattr(feed, "exchange", None)  # a ccxt feed's own exchange
            if exchange is not None:
                try:
                    await exchange.close()
                except Exception as exc:  # noqa: BLE001 - closing goes on for the other feeds
                    log.debug("closing %s: %s", getattr(feed, "venue", "?"), exc)


async def paced_capture(path: Path, routes: dict[tuple[str, str], str], books: BookStore, speed: float,
                        now_ms: Callable[[], int], sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                        ) -> None:
    """Feed the routed events of a capture into ``books`` in real time (``speed`` x recorded pace)."""
    start = time.monotonic()
    first: int | None = None
    for event in read_timeline(path):
        venue = routes.get((event.venue, event.symbol))
        if venue is None:
            continue
        if speed > 0:
            first = event.ts if first is None else first
            delay = start + (event.ts - first) / 1000 / speed - time.monotonic()
            if delay > 0:
                await sleep(delay)
        else:
            await sleep(0)
        # received now: ages are judged in real time in this mode; the store's one entry, any event type
        books.apply(dataclasses.replace(event, venue=venue, ts=now_ms(), exchange_ts=None))


async def market_source(path: Path, routes: dict[tuple[str, str], str], books: BookStore, origin_ms: int,
                        progress: Callable[[int, int], None] | None = None,
                        feed_latency_ms: Mapping[str, int] | None = None,
                        delivered: Callable[[], None] | None = None) -> None:
    """A simulation's market data: the routed events of a capture applied to ``books`` at their market time,
    on the running :class:`~arb.runtime.simloop.SimulatedLoop` (whose pacing is the run's speed).

    An event reaches its venue's book ``feed_latency_ms[venue]`` after the capture's timestamp (which is
    already when the recorder received it; the default 0 replays that as it was), so a slower feed to one
    venue can be tried. Every event due at one market instant is applied before the loop runs anything
    else, so no decision ever compares two venues at different instants. ``progress`` hears how many
    capture lines were read and the market time reached. ``delivered`` hears that an instant's events are
    all applied; the source then lets the loop run (the decision loop decides that instant) before it reads
    the next lines, so reading ahead never delays a decision. At the end the market stops: time is held
    from then on (the run's end takes no market time, and timers left on the loop cannot carry it past it).
    """
    loop = asyncio.get_running_loop()
    lag = {venue: (feed_latency_ms or {}).get(venue, 0) for venue in set(routes.values())}
    least = min(lag.values(), default=0)
    # Events not yet applied, by (due, read order): a later line can be due earlier when feeds lag unevenly.
    pending: list[tuple[int, int, str, CaptureEvent]] = []
    read = 0
    reached = origin_ms

    async def apply_due(before: int | None) -> None:
        """Apply the pending events due before ``before`` (all of them at the end), instant by instant."""
        nonlocal reached
        while pending and (before is None or pending[0][0] < before):
            due = pending[0][0]
            delay = (due - origin_ms) / 1000 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            while pending and pending[0][0] == due:
                _, _, venue, event = heapq.heappop(pending)
                # The store's one entry (snapshot, delta, or a recorded reset/gap), received when it is due,
                # as its venue's: built here directly, a third of what the store's dataclasses.replace for
                # its listeners cost.
                books.apply(CaptureEvent(due, venue, event.symbol, event.type, event.bids, event.asks,
                                         event.exchange_ts, event.seq, event.first_seq))
            reached = due
            if delivered is not None:
                delivered()
            if progress is not None:
                progress(read, reached)

    for read, event in enumerate(read_timeline(path), 1):
        venue = routes.get((event.venue, event.symbol))
        if venue is None:
            continue
        # Nothing read from here on is due before this event's time plus the smallest lag.
        if pending and pending[0][0] < event.ts + least:
            await apply_due(event.ts + least)
            await asyncio.sleep(0)  # the instant's decisions before the next instant's lines are read
        heapq.heappush(pending, (event.ts + lag[venue], read, venue, event))
    await apply_due(None)
    stop_market_time()  # held for good: the loop ends with the run
    if progress is not None:
        progress(read, reached)


def _unsupervised(name: str, factory: Callable[[], Awaitable[object]], **_: object) -> asyncio.Task[Any]:
    return asyncio.create_task(factory(), name=name)  # type: ignore[arg-type]


def start_feeds(config: Config, venues: VenueSet, books: BookStore, now_ms: Callable[[], int], *,
                spawn: Spawn = _unsupervised, drops: FrameDrops | None = None, capture: Path | None = None,
                origin_ms: int | None = None, progress: Callable[[int, int], None] | None = None,
                delivered: Callable[[], None] | None = None) -> FeedSet:
    """Start every venue's book source as a task from ``spawn`` (the engine's supervisor).

    ``origin_ms`` set: a simulation. One source, :func:`market_source`, plays ``capture`` for every routed
    venue on the market timeline (a sandbox plays its own copy for its matching, on the same timeline),
    calling ``delivered`` after each instant."""
    out = FeedSet(drops=drops or FrameDrops(), now_ms=now_ms)
    speed = config.replay.speed if config.replay else 1.0
    capture = capture or config.capture_path()
    if origin_ms is not None:
        if capture is None:
            raise ValueError("a simulation needs a capture")
        routes = {(section.capture_venue, s): name for name, section in config.venues.items()
                  if section.capture_venue for s in config.venue_markets(name).symbols}
        lags = {name: section.feed_latency_ms for name, section in config.venues.items()}
        task = spawn("market", lambda: market_source(capture, routes, books, origin_ms, progress, lags, delivered),
                     restart=False)
        out.tasks.append(task)
        out.finite.append(task)
        return out
    for name, kind in venues.kinds.items():
        section = config.venues[name]
        ref = venues.refs[name]
        names = config.venue_markets(name)  # the symbols this venue trades; its feed subscribes by its names
        symbols = list(names.symbols)
        if kind == "sandbox":
            link = venues.sandboxes[name]
            feed = ref.adapter.book_feed(ref, books, symbols, depth=config.engine.book_depth, clock_ms=now_ms,
                                         drops=out.drops, endpoint=link.endpoint, market_names=names.markets)
            out.feeds[name] = feed
            out.tasks.append(spawn(f"feed-{name}", feed.run, venue=name))
            if link.feed_done is not None and link.sandbox is not None:
                # The sandbox plays its side of the capture: its end ends the run, and so does its error
                # (a damaged line: not restarted, like a capture pacer).
                task = spawn(f"capture-{name}", link.sandbox.feeds_finished, venue=name, restart=False)
                out.tasks.append(task)
                out.finite.append(task)
        elif kind == "paper" and section.capture_venue and capture is not None:
            routes = {(section.capture_venue, s): name for s in symbols}
            task = spawn(f"capture-{name}", lambda r=routes: paced_capture(capture, r, books, speed, now_ms),
                         venue=name, restart=False)
            out.tasks.append(task)
            out.finite.append(task)
        else:
            live_feed = ref.adapter.book_feed(ref, books, symbols, depth=config.engine.book_depth, clock_ms=now_ms,
                                              drops=out.drops, market_names=names.markets)
            out.feeds[name] = live_feed
            out.tasks.append(spawn(f"feed-{name}", live_feed.run, venue=name))
    return out
