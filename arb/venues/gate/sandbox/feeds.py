"""Where the sandbox book comes from: a seeded random walk or a recorded capture.

Both are plain iterators of :class:`BookEvent` (pure, testable without a server); the server paces them
(``asyncio.sleep`` between events, scaled by the replay speed) and hands them to the engine.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from arb.venues.gate.sandbox.config import CaptureFeed, RandomWalkFeed
from arb.venues.sim.book import Level


@dataclass(frozen=True, slots=True)
class BookEvent:
    ts_ms: int  # recorded time (capture) or offset from the start (random walk)
    pair: str
    kind: str  # snapshot | delta
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class FundingEvent:
    """A capture's funding line for a routed perpetual: its mark, and the rate announced for ``funding_ts``."""

    ts_ms: int
    pair: str  # the contract's market (``usdt:ETH_USDT``), where its books are routed
    mark: Decimal
    rate: Decimal
    funding_ts: int
    index: Decimal | None = None


def random_walk(feed: RandomWalkFeed) -> Iterator[BookEvent]:
    """Snapshots whose mid moves by -1/0/+1 tick each step; sizes vary, all seeded. The mid never walks so
    low that a bid would be priced at or below 0: a book Gate would never show."""
    rng = random.Random(feed.seed)
    floor = feed.levels + 1  # in ticks: the lowest bid then stays at one tick or more
    mid_ticks = max(int(feed.mid / feed.tick), floor)
    step = 0
    while True:
        mid_ticks = max(mid_ticks + rng.choice((-1, 0, 1)), floor)
        bids = tuple(
            ((mid_ticks - 1 - i) * feed.tick, Decimal(rng.randint(1, 5000)) / 10) for i in range(feed.levels)
        )
        asks = tuple(
            ((mid_ticks + 1 + i) * feed.tick, Decimal(rng.randint(1, 5000)) / 10) for i in range(feed.levels)
        )
        yield BookEvent(int(step * feed.step_s * 1000), feed.pair, "snapshot", bids, asks)
        step += 1


def capture_events(feed: CaptureFeed) -> Iterator[BookEvent | FundingEvent]:
    """The capture's events for the routed (venue, symbol) streams, in file order: book events, and a
    perpetual's funding lines (what the sandbox pays its positions by). Trade lines are passed over."""
    from arb.marketdata.capture.events import CaptureFunding, CaptureTrade
    from arb.marketdata.timeline import read_timeline  # built in parallel; imported only when used

    for ev in read_timeline(feed.path, trades=True):  # one file, or a timeline of them as the engine reads it
        pair = feed.routes.get((ev.venue, ev.symbol))
        if pair is None or isinstance(ev, CaptureTrade):
            continue
        if isinstance(ev, CaptureFunding):
            yield FundingEvent(ev.ts, pair, Decimal(ev.mark), Decimal(ev.rate), ev.funding_ts,
                               Decimal(ev.index) if ev.index is not None else None)
            continue
        yield BookEvent(
            ev.ts,
            pair,
            ev.type,
            tuple((Decimal(p), Decimal(s)) for p, s in ev.bids),
            tuple((Decimal(p), Decimal(s)) for p, s in ev.asks),
        )
