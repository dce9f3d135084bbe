"""What every book feed is given, whichever venue it reads (:class:`FeedSetup`).

A feed's own settings (where to connect, how deep a snapshot, how often to poll) stay its constructor's
arguments; this is the rest, which the engine, ``arb record`` and the tests decide alike for every feed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from arb.backoff import full_jitter
from arb.eventloop.clock import wall_ms
from arb.marketdata.drops import FrameDrops
from arb.marketdata.trades import TradeTape


@dataclass(frozen=True, slots=True)
class FeedSetup:
    """``venue``: the configured name the books go under. ``clock_ms`` stamps what arrives; ``drops`` counts
    malformed frames (shared, so the engine reads every feed's counts in one place); ``market_names``: engine
    symbol -> the venue's market, where they differ (the feed subscribes by the venue's); ``trades``: a tape
    for the venue's public trades and funding lines too (``arb record``), None for books only. ``sleep``,
    ``rng`` and the backoff bounds pace reconnects (capped, jittered; tests pass their own to run without
    waiting)."""

    venue: str
    clock_ms: Callable[[], int] = wall_ms
    drops: FrameDrops = field(default_factory=FrameDrops)
    market_names: Mapping[str, str] = field(default_factory=dict)
    trades: TradeTape | None = None
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    backoff_base: float = 0.5
    backoff_cap: float = 30.0

    async def wait_to_retry(self, attempt: int) -> None:
        """Sleep the capped, jittered backoff before reconnect ``attempt`` (0 first)."""
        await self.sleep(full_jitter(attempt, self.backoff_base, self.backoff_cap, self.rng.random))

    def market(self, symbol: str) -> str:
        """The venue's market for the engine's ``symbol``."""
        return self.market_names.get(symbol, symbol)
