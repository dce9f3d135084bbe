"""Client-side rate limits, declared as data, enforced before the venue has to say 429.

Each venue's adapter declares a :class:`VenueLimits` table (``arb/venues/<name>/``): one global budget, a
budget per endpoint, budgets per (endpoint, market) where the venue counts per market (ccxt's own throttle
is one global bucket and does not know this), and a request rate where the venue weighs every HTTP request
by its endpoint's cost (ccxt's ``rateLimit`` and endpoint ``cost``: :meth:`VenueThrottle.acquire_cost`,
called by the venue's ccxt instance for each request it makes). Buckets are asyncio-throttle sliding
windows (and a ccxt-style leaky bucket for costs) with an injected clock and sleep so tests can drive time.

After a venue announces a reset (429 with a reset timestamp), :meth:`VenueThrottle.block_until` holds
*every* request to that venue until the reset: nothing is sent inside an announced window.

Venues also count *orders* apart from request weight (Binance spot: 100 per 10 s and 200,000 a day per
account; Gate: 10 placements or amends a second per market). :class:`OrderBudget` keeps those windows for one
venue: a placement (or an amend) takes a slot in every window, waiting for one as a throttled request waits,
unless the wait is longer than the order can afford, when it is refused before it leaves
(:class:`~arb.errors.OrderBudgetExceeded`). It counts what it held back and gives each window's headroom, the
one definition the status view, the metrics and the run summary show.

Every bucket runs on the run's loop (:func:`loop_time`, ``asyncio.sleep``): wall time live, market time in a
simulation, where a throttled order waits in market time like any latency. A request made while market time
stands still (a simulation's start and end: reconciliation, balance reads, cancels; ``simloop.time_held``)
is no part of the market's timeline and is not paced: a wait there would be for a clock that does not move,
and the loop would let it pass only after a second of wall time (a replay at ``rate_limit_per_s = 0.5``
took 9 s instead of 4.5 s). Such requests are not put in the windows.

A request the throttle held back (a bucket full, an announced window) is counted once per cause
(:meth:`VenueThrottle.held`): the metrics' ``arb_requests_held_total`` and the status view read it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncio_throttle import Throttler

from arb.errors import OrderBudgetExceeded
from arb.eventloop.simloop import is_time_held


def loop_time() -> float:
    """The running event loop's clock, the one ``asyncio.sleep`` waits on (market time in a simulation)."""
    return asyncio.get_running_loop().time()


# How much longer than its venue's window arb holds each order window, and each request window of a venue's
# table, when orders cross a real transport (a live venue, a sandbox in another process): arb counts the
# instants its orders leave, the venue the instants they arrive, and arrivals spread by as much as the one-way
# latencies differ. With ``orders`` in any ``per_s + SEND_JITTER_S`` of sends, no fixed or sliding ``per_s`` of
# arrivals holds more than ``orders`` while the latencies differ by at most this (tests/venues/
# test_order_budget.py, test_throttle.py). Held to the venue's own window, a burst of Gate's 10 a second per
# market was refused 429 on a loaded machine (an entry leg, its pair unwound). 0.1 s: Gate's 10 a second kept
# as a burst, 9.1 a second sustained; Binance's 100 per 10 s, 99 per 10 s. A simulation's venues count on the
# run's own clock, which no transport spreads: none there.
SEND_JITTER_S = 0.1

PLACE = "place"
CANCEL = "cancel"
FETCH_ORDER = "fetch_order"
FETCH_OPEN = "fetch_open_orders"
FETCH_FILLS = "fetch_fills"
BALANCES = "balances"


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
    """asyncio-throttle's sliding window with an injectable clock and sleep, each request in it for its budget's
    period and ``jitter_s`` more (:data:`SEND_JITTER_S`, for requests that cross a real transport)."""

    def __init__(
        self,
        budget: Budget,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        jitter_s: float = 0.0,
        retry_interval: float = 0.002,
    ) -> None:
        super().__init__(rate_limit=budget.requests, period=budget.period + jitter_s, retry_interval=retry_interval)
        self._clock = clock
        self._sleep = sleep

    def flush(self) -> None:
        now = self._clock()
        while self._task_logs and now - self._task_logs[0] >= self.period:
            self._task_logs.popleft()

    def ready(self) -> bool:
        self.flush()
        return len(self._task_logs) < self.rate_limit

    async def until_room(self) -> None:
        """Sleep until the oldest request leaves the window (not polling blindly); it may be full again by then."""
        wait = self.period - (self._clock() - self._task_logs[0])
        await self._sleep(max(wait, self.retry_interval))

    def stamp(self, now: float) -> None:
        """A request leaves at ``now``: it takes its slot."""
        self._task_logs.append(now)


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

    async def take(self, cost: float) -> bool:
        """Take ``cost``, waiting for the debt before it to drain; whether it waited."""
        async with self._lock:
            now = self._clock()
            waited = self._free_at is not None and self._free_at > now
            if self._free_at is not None and self._free_at > now:
                await self._sleep(self._free_at - now)
                now = self._free_at
            self._free_at = now + cost / self.rate
            return waited


class VenueThrottle:
    """All buckets of one venue. ``await acquire(endpoint, market)`` right before each request.

    ``jitter_s``: each bucket's window held that much longer than its budget's (:data:`SEND_JITTER_S`, where
    requests cross a real transport to a venue counting their arrivals), as :class:`OrderBudget` holds its own."""

    def __init__(
        self,
        venue: str,
        limits: VenueLimits,
        *,
        clock: Callable[[], float] = loop_time,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        held: Callable[[], bool] = is_time_held,
        jitter_s: float = 0.0,
    ) -> None:
        self.venue = venue
        self.limits = limits
        self.jitter_s = jitter_s  # each window held this much longer than the venue's (SEND_JITTER_S, live)
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._held = held  # market time stands still for this request: it is not paced (module docstring)
        self._global = self._make(limits.global_budget) if limits.global_budget is not None else None
        self._costs = (CostBucket(limits.request_rate, clock=clock, sleep=sleep)
                       if limits.request_rate is not None else None)
        self._buckets: dict[tuple[str, str | None], ClockedThrottler] = {}
        self.blocked_until = 0.0  # wall-clock epoch seconds
        # Requests the throttle held back before they left, each counted once (the metrics' and status
        # view's figures, ``requests_held``): by a window the venue announced (a 429's reset), and by a
        # bucket of our own limits that was full (a request held by both counts in both).
        self.held_by_reset = 0
        self.held_by_budget = 0

    def _make(self, budget: Budget) -> ClockedThrottler:
        return ClockedThrottler(budget, clock=self._clock, sleep=self._sleep, jitter_s=self.jitter_s)

    def _chain(self, endpoint: str, market: str | None) -> list[ClockedThrottler]:
        # Most specific first: of several full buckets, a request waits on its market's first (acquire).
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

    async def _wait_for_reset(self) -> bool:
        """Until the window the venue announced has passed; whether there was one to wait for."""
        waited = False
        while (remaining := self.blocked_until - self._wall()) > 0:
            waited = True
            await self._sleep(remaining)
        return waited

    async def acquire(self, endpoint: str, market: str | None = None) -> None:
        if self._held():
            return
        chain = self._chain(endpoint, market)
        by_reset = by_budget = False
        # The request is stamped in every bucket at the instant it leaves, once no announced window holds it and
        # every bucket has room at that one instant (nothing is awaited from that check to the stamps). Stamped
        # in a bucket as it got room there and then held by the next one (a market's slot taken, then a wait on
        # the global budget), it would count in the first from before it left, and leave its window early: the
        # venue, counting arrivals, would see more than the window lets through.
        while True:
            by_reset = await self._wait_for_reset() or by_reset
            for bucket in chain:
                if not bucket.ready():
                    await bucket.until_room()
                    by_budget = True
                    break
            else:
                break
        now = self._clock()
        for bucket in chain:
            bucket.stamp(now)
        self._count_held(by_reset, by_budget)

    async def acquire_cost(self, cost: float | None = None) -> None:
        """One HTTP request of ``cost`` (ccxt calls this as its ``throttle``): announced windows are
        honoured, and the request rate's bucket is taken when the venue declares one."""
        if self._held():
            return
        by_reset = await self._wait_for_reset()
        by_budget = False
        if self._costs is not None:
            by_budget = await self._costs.take(1.0 if cost is None else float(cost))
            by_reset = await self._wait_for_reset() or by_reset
        self._count_held(by_reset, by_budget)

    def _count_held(self, by_reset: bool, by_budget: bool) -> None:
        self.held_by_reset += by_reset
        self.held_by_budget += by_budget

    def held(self) -> dict[str, int]:
        """Requests held back so far, by what held them: ``reset`` (a window the venue announced), ``budget``
        (our own limits' buckets)."""
        return {"reset": self.held_by_reset, "budget": self.held_by_budget}


@dataclass(frozen=True, slots=True)
class OrderWindow:
    """At most ``orders`` orders (placements; an amend counts as one) in any ``per_s`` seconds, on the whole
    account or on each market (``per_market``)."""

    orders: int
    per_s: float
    per_market: bool = False

    @property
    def label(self) -> str:
        """How every surface names the window: ``100/10s``, ``10/1s per market``."""
        return f"{self.orders}/{self.per_s:g}s" + (" per market" if self.per_market else "")


class OrderBudget:
    """One venue's order windows in use, on the run's clock (``loop_time``: market time in a simulation).

    An order reserves its slot when it asks: the instant it will leave (now, or once every window it counts in
    has room, after the orders that asked before it there) is written into those windows at once, so orders
    asking together queue in order and each knows its whole wait before it waits. One whose wait would pass
    ``max_wait_s`` takes no slot and is refused (:class:`OrderBudgetExceeded`), before anything is sent.
    Windows slide: stricter than a venue counting in fixed intervals (Binance's), never looser. An order made while market time stands
    still (``simloop.time_held``: a simulation's start, and after its market ended) is counted and refused as
    any other, but never waits: that clock will not move (as :class:`VenueThrottle` does not pace it).

    ``jitter_s``: each window is held that much longer than the venue's (:data:`SEND_JITTER_S`, for orders that
    cross a real transport); the labels still name the venue's windows, the headroom is counted in arb's."""

    def __init__(
        self,
        venue: str,
        windows: Sequence[OrderWindow],
        *,
        max_wait_s: float,
        jitter_s: float = 0.0,
        clock: Callable[[], float] = loop_time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        held: Callable[[], bool] = is_time_held,
    ) -> None:
        self.venue = venue
        self.windows = tuple(windows)
        self.max_wait_s = max_wait_s
        self.jitter_s = jitter_s
        self._clock = clock
        self._sleep = sleep
        self._held = held
        # (window, market or None for the account) -> the instants its orders leave, oldest first.
        self._sent: dict[tuple[OrderWindow, str | None], deque[float]] = {}
        self.waited = 0  # orders held back until their window had room, then sent
        self.refused = 0  # orders held back and refused: the wait was longer than they could afford

    def _key(self, window: OrderWindow, market: str) -> tuple[OrderWindow, str | None]:
        return window, (market if window.per_market else None)

    def _span(self, window: OrderWindow) -> float:
        """How long an order stays in ``window`` on arb's clock: the venue's window and the jitter allowance."""
        return window.per_s + self.jitter_s

    def _in_window(self, key: tuple[OrderWindow, str | None], now: float) -> deque[float]:
        sent = self._sent.setdefault(key, deque())
        per_s = self._span(key[0])
        while sent and now - sent[0] >= per_s:
            sent.popleft()
        return sent

    def _wait(self, market: str, now: float) -> tuple[float, OrderWindow | None]:
        """How long an order on ``market`` asking at ``now`` waits, and the window that holds it longest
        (None: it goes at once). In each window it counts in it leaves after the orders that asked before it
        (which keeps each window's instants in order, so its room is read off its ``orders``-th last), and
        once that window has room."""
        leave, binding = now, None
        for window in self.windows:
            sent = self._in_window(self._key(window, market), now)
            at = sent[-1] if sent else now
            if len(sent) >= window.orders:  # room once the order ``orders`` places from the end has left
                at = max(at, sent[len(sent) - window.orders] + self._span(window))
            if at > leave:
                leave, binding = at, window
        return leave - now, binding

    async def take(self, market: str) -> None:
        """A slot for one order on ``market`` (the venue's name for it): at once, after the wait for room, or
        :class:`OrderBudgetExceeded` when that wait passes ``max_wait_s``."""
        now = self._clock()
        wait, binding = self._wait(market, now)
        if binding is not None and wait > self.max_wait_s:
            self.refused += 1
            raise OrderBudgetExceeded(
                self.venue, f"order budget {binding.label} on {market}: room in {wait:.3f} s, longer than an "
                f"order waits ({self.max_wait_s:g} s, [execution] order_timeout_s); refused before it was sent")
        for window in self.windows:
            self._in_window(self._key(window, market), now).append(now + wait)
        if binding is not None:
            self.waited += 1
            if not self._held():
                await self._sleep(wait)

    def headroom(self, window: OrderWindow) -> int:
        """The room left in the window now: its ``orders`` less those in it (sent, or reserved and waiting to
        leave); on a market window, on its fullest market."""
        now = self._clock()
        used = [len(self._in_window(key, now)) for key in list(self._sent) if key[0] == window]
        return max(window.orders - max(used, default=0), 0)

    def snapshot(self) -> dict[str, Any]:
        """What every surface shows of the budget: orders held back (``waited``, then sent; ``refused``) and
        each window's headroom now, by its label."""
        return {"waited": self.waited, "refused": self.refused,
                "headroom": {window.label: self.headroom(window) for window in self.windows}}


def budget_text(snapshot: Mapping[str, Any]) -> str:
    """One venue's :meth:`OrderBudget.snapshot` as the status view and the run summary word it:
    ``waited 3, refused 1; headroom 97 of 100/10s, 199997 of 200000/86400s``."""
    room = ", ".join(f"{n} of {label}" for label, n in snapshot["headroom"].items())
    return f"waited {snapshot['waited']}, refused {snapshot['refused']}; headroom {room}"
