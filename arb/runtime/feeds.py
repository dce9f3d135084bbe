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
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from heapq import heappop, heappush
from pathlib import Path
from typing import Any

from arb.config import Config
from arb.eventloop import simloop
from arb.eventloop.simloop import SimulatedLoop, stop_market_time
from arb.marketdata.book import Health, OrderBook
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent, CaptureFunding, CaptureLine, CaptureTrade
from arb.marketdata.drops import FrameDrops
from arb.marketdata.feed_setup import FeedSetup
from arb.marketdata.funding import FundingBoard
from arb.marketdata.timeline import read_timeline
from arb.runtime.arrival import MarketArrival
from arb.runtime.feed_latency import MAX_FROM_DATA_MS, FeedClock, feed_clocks, unread_line
from arb.runtime.supervisor import Spawn
from arb.runtime.venues import SimulatedMarket, VenueSet
from arb.venues.adapter import Feed
from arb.venues.latency_profile import venue_profile

log = logging.getLogger(__name__)


@dataclass
class FeedSet:
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    finite: list[asyncio.Task[Any]] = field(default_factory=list)  # capture-driven: they end
    feeds: dict[str, Any] = field(default_factory=dict)  # venue -> Feed (for the watchdog, status, tests)
    drops: FrameDrops = field(default_factory=FrameDrops)  # malformed frames, every feed's
    resubscribes: Counter[str] = field(default_factory=Counter)  # venue -> watchdog resubscriptions
    # A simulation's recorded trades handed to its simulated venues: none, and resting orders can fill only
    # when the book crosses them (the matcher's fallback rule, which the run's summary names).
    market_trades: int = 0
    # A simulation's venues whose feed latency the capture cannot say (no exchange times, none configured).
    unread_latency: list[str] = field(default_factory=list)
    now_ms: Callable[[], int] = field(default=lambda: 0)

    def count_trade(self) -> None:
        self.market_trades += 1

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
                        feed: Mapping[str, FeedClock] | None = None,
                        delivered: Callable[[], None] | None = None,
                        markets: Mapping[str, SimulatedMarket] | None = None,
                        arrival: MarketArrival | None = None, traded: Callable[[], None] | None = None,
                        funding: FundingBoard | None = None) -> None:
    """A simulation's market data: the routed events of a capture, at their market time, on the running
    :class:`~arb.eventloop.simloop.SimulatedLoop` (whose pacing is the run's speed), delivered twice:

    - to the venue itself (``markets``: each simulated venue's matcher), when it happened there: its book
      events, its trades and a perpetual's funding lines. This is the market orders are matched against;
    - to arb's ``books``, when arb received it, the book's age counting from when it happened at the venue;
      a funding line to ``funding`` instead (what the basis decision reads), also when arb received it.

    Both instants are the venue's :class:`~arb.runtime.feed_latency.FeedClock`'s (``feed``): a configured
    feed latency, one drawn from its latency profile, or one read from the capture's exchange times, or none
    (both at the capture's time).

    Every event due at one market instant is delivered before the loop runs anything else (the venues'
    before arb's books; with no feed latency and no order resting, line by line as it is read), so no
    decision ever compares two venues at different instants, and ``arrival`` (the
    arrival rule, ``arb/runtime/arrival.py``) holds a request arriving at an instant until its events are in.
    ``progress`` hears how many book lines were read (the progress bar's unit: ``timeline.count_events``;
    a paper venue's trade lines are read too, and not counted) and the market time reached. ``delivered`` hears
    that an instant's events are all applied; the source then lets the loop run (the decision loop decides
    that instant) before it reads the next lines, so reading ahead never delays a decision. At the end the
    market stops: time is held from then on (the run's end takes no market time, and timers left on the
    loop cannot carry it past it). ``traded`` hears each recorded trade handed to a venue.
    """
    loop = asyncio.get_running_loop()
    # A simulation's market time (the loop's, and whether a turn of it now would only come back here).
    market = loop.market if isinstance(loop, SimulatedLoop) else None
    markets = markets or {}
    clocks = {venue: (feed or {}).get(venue, FeedClock()) for venue in set(routes.values())}
    # How much earlier than its line's time a delivery can be due: read that far ahead of it.
    least = min((-MAX_FROM_DATA_MS if c.reads_ahead else 0 if v in markets else (c.fixed_ms or 0))
                for v, c in clocks.items()) if clocks else 0
    same_time = {venue for venue, clock in clocks.items() if clock.unread}  # a line's time is its delivery's
    pending = _Deliveries()
    read = 0
    book_lines = 0
    reached = origin_ms

    def due_s(due: int) -> float:
        return (due - origin_ms) / 1000

    async def open_instant(due: int) -> None:
        """Market time brought to ``due``, the arrival rule told that its events are coming."""
        if arrival is not None:
            arrival.due_at(due_s(due))
        delay = due_s(due) - (loop.time() if market is None else market.now)
        if delay > 0:
            await simloop.sleep(delay)

    def venue_hears(venue: str, event: CaptureLine, due: int) -> None:
        _to_venue(markets[venue], event, due)
        if traded is not None and event.type == "trade":
            traded()

    def arb_hears(venue: str, event: CaptureLine, at_venue: int) -> None:
        if event.type not in OFF_BOOK:
            # The store's one entry (snapshot, delta, or a recorded reset/gap), applied when arb receives it
            # (now), stamped with when it happened at the venue (its age counts from then), as its venue's: the
            # line itself where that is its own time (the store renames it only for listeners), else built here
            # directly, a third of what the store's dataclasses.replace for its listeners cost.
            assert isinstance(event, CaptureEvent)
            if at_venue == event.ts:
                books.apply(event, venue)
            else:
                books.apply(CaptureEvent(at_venue, venue, event.symbol, event.type, event.bids, event.asks,
                                         event.exchange_ts, event.seq, event.first_seq))
        elif funding is not None and isinstance(event, CaptureFunding):
            funding.announce(venue, event)

    def instant_delivered() -> None:
        """The instant at ``reached`` applied in full: the arrival rule, the decisions, the progress told."""
        if arrival is not None:
            arrival.due_at(None if (after := pending.first_due()) is None else due_s(after))
        if delivered is not None:
            delivered()
        if progress is not None:
            progress(book_lines, reached)

    async def apply_due(before: int | None) -> None:
        """Make the pending deliveries due before ``before`` (all of them at the end), instant by instant."""
        nonlocal reached
        while (due := pending.first_due()) is not None and (before is None or due < before):
            await open_instant(due)
            instant = pending.take(due)
            # Every venue's lines of the instant before arb's: a venue's market has moved before arb hears it.
            for _, _, venue, event, _, to in instant:
                if to & _TO_VENUE:
                    venue_hears(venue, event, due)
            for _, _, venue, event, at_venue, to in instant:
                if to & _TO_ARB:
                    arb_hears(venue, event, at_venue)
            reached = due
            instant_delivered()

    def deliver_now(venue: str, event: CaptureLine) -> None:
        """One line of the open instant as it is read: to arb, then to its venue, while its levels are in the
        caches. The venue lets go of the line its market held before, whose memory the next line's parse then
        takes while it is still in the caches too."""
        arb_hears(venue, event, event.ts)
        if venue in markets:
            venue_hears(venue, event, event.ts)

    # Every line due at its own time (no feed latency anywhere, nothing read ahead): an instant whose start
    # finds no order resting on any venue is delivered as it is read (``open_at``), not read in full first.
    # Its ~500 lines (100 symbols x 5 venues) read ahead were ~2 MB of parsed levels, cold by the time they
    # were applied and pushing everything else out of the core's cache. With nothing resting a venue's line
    # makes no event, nor does anything run between two lines, so that arb has each line before its venue is
    # not seen (with an order resting, a fill's listener reads arb's books: the instant goes the batched way).
    rests = [market.resting for market in markets.values() if market.resting is not None]
    streams = all(clock.unread or clock.fixed_ms == 0 for clock in clocks.values()) and len(rests) == len(markets)
    open_at: int | None = None
    try:
        for read, event in enumerate(read_timeline(path, trades=bool(markets)), 1):
            book_lines += event.type not in OFF_BOOK
            venue = routes.get((event.venue, event.symbol))
            if venue is None:
                continue
            if open_at is not None:
                if event.ts == open_at:
                    deliver_now(venue, event)
                    continue
                open_at = None
                instant_delivered()
                if not (market is not None and market.nothing_due()):
                    await asyncio.sleep(0)  # the instant's decisions, as after a batched one
            # Nothing read from here on is due before this event's time plus the smallest lag.
            first = pending.first_due()
            if first is not None and first < event.ts + least:
                await apply_due(event.ts + least)
                # The instant's decisions before the next instant's lines are read: a turn of the loop, unless
                # it would run nothing (the decisions were made in ``delivered``, nothing else is due now).
                if not (market is not None and market.nothing_due()):
                    await asyncio.sleep(0)
            if streams and pending.first_due() is None:
                await open_instant(event.ts)
                if not any(resting() for resting in rests):
                    open_at = reached = event.ts
                    deliver_now(venue, event)
                    continue
            to_arb = event.type not in OFF_BOOK or (funding is not None and isinstance(event, CaptureFunding))
            if venue in same_time:
                at_venue = at_arb = event.ts
            else:
                at_venue, at_arb = clocks[venue].times(event, to_arb=to_arb)
            to_venue = _TO_VENUE if venue in markets else 0
            if to_arb and at_arb == at_venue:
                pending.push((at_arb, read, venue, event, at_venue, to_venue | _TO_ARB))
                continue
            if to_venue:
                pending.push((at_venue, read, venue, event, at_venue, _TO_VENUE))
            if to_arb:
                pending.push((at_arb, read, venue, event, at_venue, _TO_ARB))
        if open_at is not None:
            instant_delivered()
        await apply_due(None)
        stop_market_time()  # held for good: the loop ends with the run
        if progress is not None:
            progress(book_lines, reached)
    finally:
        # However the source ends (its capture's end, or the run stopped meanwhile: Ctrl-C, the kill
        # switch, a test's stop), no event will be applied any more: a request waiting on the arrival rule
        # (the run's end cancelling resting quotes) meets the market as it stands instead of waiting forever.
        if arrival is not None:
            arrival.due_at(None)


# Lines the simulated venues hear and arb's books never see: the tape's trades, a perpetual's mark and funding.
OFF_BOOK = frozenset(("trade", "funding"))
_TO_VENUE, _TO_ARB = 1, 2  # whom a pending delivery is for

# One delivery: (due, read order, venue, line, when it happened at the venue, _TO_VENUE | _TO_ARB). One entry
# gives a line to its venue, to arb, or to both when both are due at one instant (no feed latency: every line
# of a capture without exchange times).
_Delivery = tuple[int, int, str, CaptureLine, int, int]


class _Deliveries:
    """The market source's deliveries not yet made, taken by (due, read order): a later line can be due
    earlier when feeds lag unevenly. Lines are read in time order, so nearly every delivery is due no earlier
    than the one pushed before it: those wait in a queue (an append, and a pop from its front); only one
    due earlier than the queue's last goes to a heap. A heap alone cost a sift through ~500 entries (an
    instant of 100 symbols x 5 venues) for every line."""

    __slots__ = ("_heap", "_queue")

    def __init__(self) -> None:
        self._queue: deque[_Delivery] = deque()  # in (due, read) order: each pushed no earlier than the last
        self._heap: list[_Delivery] = []

    def push(self, delivery: _Delivery) -> None:
        queue = self._queue
        if not queue or delivery[0] >= queue[-1][0]:  # read order rises: not before the last, by due alone
            queue.append(delivery)
        else:
            heappush(self._heap, delivery)

    def first_due(self) -> int | None:
        """When the next delivery is due; None when none is left."""
        queue, heap = self._queue, self._heap
        if not heap:
            return queue[0][0] if queue else None
        return min(queue[0][0], heap[0][0]) if queue else heap[0][0]

    def take(self, due: int) -> list[_Delivery]:
        """Every delivery due at ``due`` (:meth:`first_due`), in read order: the queue's, then the heap's. One
        went to the heap because the queue held a later due, which stays there until ``due`` is taken, and
        the queue's entries at ``due`` all came before that one: so before any of the heap's."""
        queue, heap = self._queue, self._heap
        taken = []
        while queue and queue[0][0] == due:
            taken.append(queue.popleft())
        while heap and heap[0][0] == due:
            taken.append(heappop(heap))
        return taken


def _to_venue(market: SimulatedMarket, event: CaptureLine, now_ms: int) -> None:
    """One capture line to a simulated venue's matcher, under the venue's name for its market."""
    market_id = market.markets[event.symbol]
    if type(event) is CaptureEvent:  # nearly every line: asked first
        kind = event.type  # read once: each read of a line's field is a generic attribute lookup in compiled code
        if kind == "delta" or kind == "snapshot":
            market.on_book(market_id, kind, event.bids, event.asks, now_ms)  # the venue reads the levels
        # A recorded reset or gap is arb's feed losing the book; the venue's market went on.
    elif isinstance(event, CaptureTrade):
        market.on_trade(market_id, Decimal(event.price), Decimal(event.amount), event.side, now_ms)
    elif isinstance(event, CaptureFunding):
        market.on_funding(market_id, Decimal(event.mark), Decimal(event.rate), event.funding_ts, now_ms)


def _unsupervised(name: str, factory: Callable[[], Awaitable[object]], **_: object) -> asyncio.Task[Any]:
    return asyncio.create_task(factory(), name=name)  # type: ignore[arg-type]  # every feed factory is a coroutine function


def start_feeds(config: Config, venues: VenueSet, books: BookStore, now_ms: Callable[[], int], *,
                spawn: Spawn = _unsupervised, drops: FrameDrops | None = None, capture: Path | None = None,
                origin_ms: int | None = None, progress: Callable[[int, int], None] | None = None,
                delivered: Callable[[], None] | None = None, funding: FundingBoard | None = None) -> FeedSet:
    """Start every venue's book source as a task from ``spawn`` (the engine's supervisor).

    ``origin_ms`` set: a simulation. One source, :func:`market_source`, plays ``capture`` for every routed
    venue on the market timeline,
    calling ``delivered`` after each instant, and feeds each simulated venue its own side of it, and
    ``funding`` the funding lines arb receives. Elsewhere no funding line is read (``funding`` stays empty)."""
    out = FeedSet(drops=drops or FrameDrops(), now_ms=now_ms)
    speed = config.replay.speed if config.replay else 1.0
    capture = capture or config.capture_path()
    if origin_ms is not None:
        if capture is None:
            raise ValueError("a simulation needs a capture")
        routes = {(section.capture_venue, s): name for name, section in config.venues.items()
                  if section.capture_venue for s in config.venue_markets(name).symbols}
        profiles = {name: venue_profile(config, name) for name in config.venues}
        clocks = feed_clocks(capture, routes, {name: s.feed_latency_ms for name, s in config.venues.items()},
                             {name: p.feed for name, p in profiles.items() if p is not None and p.feed is not None})
        out.unread_latency = sorted(name for name, clock in clocks.items() if clock.unread)
        if out.unread_latency:
            log.warning("%s", unread_line(out.unread_latency))
        task = spawn("market", lambda: market_source(capture, routes, books, origin_ms, progress, clocks, delivered,
                                                     venues.markets, venues.arrival, out.count_trade,
                                                     funding),
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
            setup = FeedSetup(name, clock_ms=now_ms, drops=out.drops, market_names=names.markets)
            feed = ref.adapter.book_feed(ref, books, symbols, setup, depth=config.engine.book_depth,
                                         endpoint=link.endpoint)
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
            setup = FeedSetup(name, clock_ms=now_ms, drops=out.drops, market_names=names.markets)
            live_feed = ref.adapter.book_feed(ref, books, symbols, setup, depth=config.engine.book_depth)
            out.feeds[name] = live_feed
            out.tasks.append(spawn(f"feed-{name}", live_feed.run, venue=name))
    return out
