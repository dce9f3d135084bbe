"""A capture through the same book store live feeds use, as fast as possible, with no event loop: for
checking what a capture or a converter produces. A run's replay is the engine's simulation
(``arb/runtime/feeds.market_source`` on ``arb/eventloop/simloop.py``), which paces by market time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent


@dataclass(frozen=True, slots=True)
class ReplayStats:
    events: int
    applied: int
    first_ts: int | None
    last_ts: int | None


def replay_sync(events: Iterable[CaptureEvent], store: BookStore) -> ReplayStats:
    """Apply every event as fast as possible (no event loop needed)."""
    n = applied = 0
    first = last = None
    for event in events:
        if first is None:
            first = event.ts
        last = event.ts
        applied += store.apply(event)
        n += 1
    return ReplayStats(n, applied, first, last)
