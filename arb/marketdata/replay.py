"""Replay a capture through the same book store live feeds use, as fast as possible or in recorded time.

Time is injected (``clock`` in seconds, ``sleep``), so tests replay at "recorded speed" without sleeping
and the engine can run a replay on a simulated clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
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


async def replay(
    events: Iterable[CaptureEvent],
    store: BookStore,
    *,
    speed: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    yield_every: int = 1000,
) -> ReplayStats:
    """Feed ``events`` into ``store``.

    ``speed`` 0 replays as fast as possible (yielding to the loop every ``yield_every`` events so other
    tasks run); ``speed`` 1 keeps the recorded spacing, 10 is ten times faster. An event is applied once
    ``(event.ts - first.ts) / speed`` seconds have passed on ``clock`` since the first one.
    """
    if speed < 0:
        raise ValueError("speed must be >= 0 (0 = as fast as possible)")
    n = applied = 0
    first = last = None
    start = clock()
    for event in events:
        if first is None:
            first = event.ts
        last = event.ts
        if speed > 0:
            due = start + (event.ts - first) / 1000.0 / speed
            delay = due - clock()
            if delay > 0:
                await sleep(delay)
        elif yield_every and n % yield_every == yield_every - 1:
            await sleep(0)
        applied += store.apply(event)
        n += 1
    return ReplayStats(n, applied, first, last)
