"""Client-side rate limits, declared as data, enforced before the venue has to say 429.

Each venue's adapter declares a :class:`VenueLimits` table (``arb/venues/<name>/``): one global budget, a
budget per endpoint, budgets per (endpoint, market) where the venue counts per market (ccxt's own throttle
is one global bucket and does not know this), and a request rate where the venue weighs every HTTP request
by its endpoint's cost (ccxt's ``rateLimit`` and endpoint ``cost``: :meth:`VenueThrottle.acquire_cost`,
called by the venue's ccxt instance for each request it makes). Buckets are asyncio-throttle sliding
windows (and a ccxt-style leaky bucket for costs) with an injected clock and sleep so tests can drive time.

After a venue announces a reset (429 with a reset timestamp), :meth:`VenueThrottle.block_until` holds
*every* request to that venue until the reset: nothing is sent inside an announced window.

Every bucket runs on the run's loop (:func:`loop_time`, ``asyncio.sleep``): wall time live, market time in a
simulation, where a throttled order waits in market time like any latency. A request made while market time
stands still (a simulation's start and end: reconciliation, balance reads, cancels; ``simloop.time_held``)
is no part of the market's timeline and is not paced: a wait there would be for a clock that does not move,
and the loop would let it pass only after a second of wall time (a replay at ``rate_limit_per_s = 0.5``
took 9 s instead of 4.5 s). Such requests are counted, not put in the windows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from asyncio_throttle import Throttler

from arb.eventloop.simloop import is_time_held


def loop_time() -> float:
    """The running event loop's clock, the one ``asyncio.sleep`` waits on (market time in a simulation)."""
    return asyncio.get_running_loop().time()


PLACE = "place"
CANCEL = "cancel"
FETCH_ORDER = "fetch_order"
FETCH_OPEN = "fetch_open_orders"
FETCH_FILLS = "fetch_fills"
BALANCES = "balances"
ENDPOINTS = (PLACE, CANCEL, FETCH_ORDER, FETCH_OPEN, FETCH_FILLS, BALANCES)


@dataclass(frozen=True, slots=True)
class Budget:
    requests: int
    period: float  # seconds


def per_second(rate: float) -> Budget:
    """``rate`` requests per second as a budget: ``n`` per second for a whole ``n``, else one per period."""
    return Budget(int(rate), 1.0) if rate >= 1 and rate == int(rate) else Budget(1, 1.0 / rate)


@dataclass(frozen=True, slots=True)
class VenueLimits:
    global_budget: Budget | None
    per_endpoint: Mapping[str, Budget] = field(default_factory=dict)
    per_market: Mapping[str, Budget] = field(default_factory=dict)  # endpoint -> budget per market
    # Cost units per second over every HTTP request (ccxt: ``1000 / rateLimit``), each request at its
    # endpoint's cost; None: requests are not weighed.
    request_rate: float | None = None


class ClockedThrottler(Throttler):
    """asyncio-throttle's sliding window with an injectable clock and sleep."""

    def __init__(
        self,
        budget: Budget,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        retry_interval: float = 0.002,
    ) -> None:
        super().__init__(rate_limit=budget.requests, period=budget.period, retry_interval=retry_interval)
        self._clock = clock
        self._sleep = sleep

    def flush(self) -> None:
        now = self._clock()
        while self._task_logs and now - self._task_logs[0] >= self.period:
            self._task_logs.popleft()

    def ready(self) -> bool:
        self.flush()
        return len(self._task_logs) < self.rate_limit

    async def acquire(self) -> None:
        while not self.ready():
            # Sleep until the oldest request leaves the window rather than polling blindly.
            wait = self.period - (self._clock() - self._task_logs[0])
            await self._sleep(max(wait, self.retry_interval))
        self._task_logs.append(self._clock())


class CostBucket:
    """ccxt's leaky bucket with an injected clock: a request of cost ``c`` may go once the debt of the ones
    before it has drained, and adds ``c / rate`` seconds of its own. ``n`` requests of cost ``c`` therefore
    span ``(n - 1) * c / rate`` seconds, as with ccxt's own throttler. Kept as the instant the bucket is
    free again, and a sleep is trusted once (a clock at 1.7e9 s cannot resolve float dust)."""

    def __init__(self, rate: float, *, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]]) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._free_at: float | None = None
        self._lock = asyncio.Lock()  # first come, first served

    async def take(self, cost: float) -> None:
        async with self._lock:
            now = self._clock()
            if self._free_at is not None and self._free_at > now:
                await self._sleep(self._free_at - now)
                now = self._free_at
            self._free_at = now + cost / self.rate


class VenueThrottle:
    """All buckets of one venue. ``await acquire(endpoint, market)`` right before each request."""

    def __init__(
        self,
        venue: str,
        limits: VenueLimits,
        *,
        clock: Callable[[], float] = loop_time,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        held: Callable[[], bool] = is_time_held,
    ) -> None:
        # Alike in shape to other constructors' attribute lists (venues/gate/sandbox/rest.py): plain
        # assignments of what it was given.
        self.venue = venue
        self.limits = limits
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._held = held  # market time stands still for this request: it is not paced (module docstring)
        self._global = self._make(limits.global_budget) if limits.global_budget is not None else None
        self._costs = (CostBucket(limits.request_rate, clock=clock, sleep=sleep)
                       if limits.request_rate is not None else None)
        self._buckets: dict[tuple[str, str | None], ClockedThrottler] = {}
        self.blocked_until = 0.0  # wall-clock epoch seconds
        self.acquired = 0
        self.cost_acquired = 0
        self.waited_for_reset = 0

    def _make(self, budget: Budget) -> ClockedThrottler:
        return ClockedThrottler(budget, clock=self._clock, sleep=self._sleep)

    def _chain(self, endpoint: str, market: str | None) -> list[ClockedThrottler]:
        # Most specific first: a saturated market must not hold a slot of the global budget while it waits.
        chain = []
        if market is not None and endpoint in self.limits.per_market:
            market_key: tuple[str, str | None] = (endpoint, market)
            if market_key not in self._buckets:
                self._buckets[market_key] = self._make(self.limits.per_market[endpoint])
            chain.append(self._buckets[market_key])
        if endpoint in self.limits.per_endpoint:
            key = (endpoint, None)
            if key not in self._buckets:
                self._buckets[key] = self._make(self.limits.per_endpoint[endpoint])
            chain.append(self._buckets[key])
        if self._global is not None:
            chain.append(self._global)
        return chain

    def block_until(self, reset_at: float) -> None:
        """The venue announced a window: hold every request until ``reset_at`` (epoch seconds)."""
        self.blocked_until = max(self.blocked_until, reset_at)

    def blocked(self) -> bool:
        """Inside a window the venue announced (``block_until``)."""
        return self.blocked_until > self._wall()

    async def _wait_for_reset(self) -> None:
        while (remaining := self.blocked_until - self._wall()) > 0:
            self.waited_for_reset += 1
            await self._sleep(remaining)

    async def acquire(self, endpoint: str, market: str | None = None) -> None:
        if self._held():
            self.acquired += 1
            return
        await self._wait_for_reset()
        for bucket in self._chain(endpoint, market):
            await bucket.acquire()
        # A 429 may have announced a window while we waited on a bucket: check again, last thing.
        await self._wait_for_reset()
        self.acquired += 1

    async def acquire_cost(self, cost: float | None = None) -> None:
        """One HTTP request of ``cost`` (ccxt calls this as its ``throttle``): announced windows are
        honoured, and the request rate's bucket is taken when the venue declares one."""
        if self._held():
            self.cost_acquired += 1
            return
        await self._wait_for_reset()
        if self._costs is not None:
            await self._costs.take(1.0 if cost is None else float(cost))
            await self._wait_for_reset()
        self.cost_acquired += 1
