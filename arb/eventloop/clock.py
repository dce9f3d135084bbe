"""Clocks the engine hands to everything that timestamps: wall time live, market time in a simulation.

In a simulation (a replay, or paper mode on a capture) the run's event loop is a
:class:`~arb.eventloop.simloop.SimulatedLoop` whose time is market time: "now" is the capture's origin plus
the loop's time, so book ages, staleness, latencies and every timestamp the engine, the executor and the
simulated venues write are in market time, and the same capture gives the same timestamps whatever the
speed. Before the loop runs "now" is the origin, the capture's first event; after it, the last time seen.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from arb.eventloop.simloop import MarketTime, running_market


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)


def wall_ms() -> int:
    """Wall time, epoch milliseconds: a live run's now, and what feeds stamp books with when given no clock."""
    return time.time_ns() // 1_000_000


class WallClock:
    now_ms = staticmethod(wall_ms)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def epoch_s(self) -> float:
        return time.time()

    def watched_ms(self) -> int:
        return self.now_ms()


class MarketClock:
    """Market time on the running simulation: ``origin_ms`` + the loop's time (microsecond resolution)."""

    def __init__(self, origin_ms: int) -> None:
        self.origin_ms = origin_ms
        self._last_us = origin_ms * 1000
        self._last_ms = origin_ms
        self._last_time = 0.0  # the loop's time ``_last_us`` was worked out at (its own origin: the run's)
        self._market: MarketTime | None = None  # the run's market time, for watchers on other threads
        # The last ``now()`` made, by its microsecond: every row decided at one market instant asks for the
        # same time (a hundred symbols' rejections at one instant), and a datetime is immutable.
        self._made: tuple[int, datetime] = (-1, datetime.min.replace(tzinfo=UTC))

    def _now_us(self) -> int:
        market = running_market()
        if market is None:
            # Not on a simulation's loop: before the run (the origin), after it (where it ended), or from
            # another thread's loop (a test or program awaiting the run, a dashboard): that loop's time() is
            # its own wall clock (seconds since boot), not market time.
            return self._last_us
        self._market = market
        now = market.now
        if now != self._last_time:  # asked again and again at one instant: worked out once (~1 µs)
            self._last_time = now
            self._last_us = self.origin_ms * 1000 + round(now * 1_000_000)
            self._last_ms = self._last_us // 1000
        return self._last_us

    def now_ms(self) -> int:
        self._now_us()
        return self._last_ms

    def watched_ms(self) -> int:
        """What the live surfaces show as now (status view, metrics, alerts): market time, moving with the
        wall clock while a paced run waits for its next event (``SimulatedLoop.watched_time``)."""
        market = running_market() or self._market  # the status view reads it from its own thread
        if market is None or market.loop.is_closed():
            return self._now_us() // 1000
        return max(self._last_us // 1000, self.origin_ms + round(market.loop.watched_time() * 1000))

    def now(self) -> datetime:
        us = self._now_us()
        made_us, made = self._made
        if us != made_us:
            made = datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)
            self._made = (us, made)
        return made

    def epoch_s(self) -> float:
        return self._now_us() / 1e6
