"""A simulated venue seen across a network: each request takes time to arrive, and its answer time to come back.

The latency model of every simulated venue (paper, sandbox), in the run's clock (market time in a
simulation, wall time on live books):

- ``out``: from the moment arb sends a request to the moment the venue handles it. An order is matched
  against the venue's book **as it stands at its arrival**: in a simulation, every market event at or before
  that instant has been applied (the arrival rule, ``arb/runtime/arrival.py``, awaited through ``settled``;
  the capture source runs on the same loop while the order travels);
- ``back``: from the venue's answer (acknowledgement, fills, an error) to arb receiving it.

Each one-way trip is drawn from the venue's :class:`OrderLatency` with a generator seeded per venue: the same
seed gives the same latencies, so a replay is reproducible. Two kinds:

- :class:`Latency` (``latency_ms``, ``ack_latency_ms``, ``latency_jitter_ms``): the configured fixed value plus,
  when ``jitter`` is set, a uniform draw in ``[0, jitter]``, the trip out drawn as the request leaves and the
  trip back as its answer does;
- a latency profile (``latency_profile``, ``arb/venues/latency_profile.py``): distributions, a cancel's apart
  from every other request's, both trips of a request from one draw. ``prepare`` (validation and signing, local) and ``market_rules`` take no time, and neither
does anything the run's start and end do (reconciliation, balance reads, cancels at shutdown, inside their
own ``time_held``), nor anything after the capture's end: they are no part of the market's timeline. The
other leg of a pair holding time while it is on the wire to the sandbox does not make this one's trips free.

While the venue handles a request market time stands still: the in-process sandbox answers over loopback
HTTP in real microseconds, during which the wire call holds the simulated clock
(:func:`arb.eventloop.simloop.time_held`, in ``arb/venues/live/``), so no answer depends on how fast the
machine is.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypeVar

from arb.domain.market import MarketRules
from arb.domain.venue import (
    BalanceReport,
    DeadMansSwitch,
    FillListener,
    FillReport,
    FillStream,
    OrderReport,
    OrderRequest,
    PreparedOrder,
    Venue,
)
from arb.errors import VenueError
from arb.eventloop.simloop import is_time_held

T = TypeVar("T")


class OrderLatency(Protocol):
    """How long a simulated venue's requests and answers travel, in seconds, drawn from ``rng``."""

    @property
    def seed(self) -> int: ...

    @property
    def zero(self) -> bool: ...

    def trip(self, rng: random.Random, kind: str) -> tuple[float, float | None]:
        """(out, back) of one request of ``kind`` (``cancel`` or ``order``); back None: drawn by
        :meth:`pushed` when the answer leaves."""
        ...

    def pushed(self, rng: random.Random) -> float:
        """A trip back drawn on its own: a pushed fill's (or an answer's, where :meth:`trip` left it)."""
        ...


@dataclass(frozen=True, slots=True)
class Latency:
    """One venue's order latency, in seconds (``jitter`` is the width of the uniform part of each trip)."""

    out_s: float = 0.0
    back_s: float = 0.0
    jitter_s: float = 0.0
    seed: int = 0

    @property
    def zero(self) -> bool:
        return not (self.out_s or self.back_s or self.jitter_s)

    def trip(self, rng: random.Random, kind: str) -> tuple[float, float | None]:
        return self._draw(rng, self.out_s), None

    def pushed(self, rng: random.Random) -> float:
        return self._draw(rng, self.back_s)

    def _draw(self, rng: random.Random, fixed: float) -> float:
        return fixed + (rng.uniform(0.0, self.jitter_s) if self.jitter_s else 0.0)


class LatentVenue:
    """``inner`` behind :class:`OrderLatency`; implements :class:`arb.domain.venue.Venue`."""

    def __init__(self, inner: Venue, latency: OrderLatency, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 settled: Callable[[], Awaitable[None]] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.client_ids = inner.client_ids
        self.amends = inner.amends
        self.cancels_on_silence = isinstance(inner, DeadMansSwitch) and inner.cancels_on_silence
        self.latency = latency
        self._rng = random.Random(f"{latency.seed}:{inner.name}")  # per venue: adding one changes no other's
        self._sleep = sleep
        self._settled = settled  # a simulation's arrival rule: the market's events up to now applied first

    async def _over_the_wire(self, call: Callable[[], Awaitable[T]], kind: str = "order") -> T:
        if is_time_held():
            return await call()
        out, drawn_back = self.latency.trip(self._rng, kind)
        if out:
            await self._sleep(out)
        if self._settled is not None:
            await self._settled()
        try:
            result = await call()
        except Exception:
            back = self.latency.pushed(self._rng) if drawn_back is None else drawn_back
            if back:
                await self._sleep(back)  # an error answer travels back too
            raise
        back = self.latency.pushed(self._rng) if drawn_back is None else drawn_back
        if back:
            await self._sleep(back)
        return result

    def market_rules(self, symbol: str) -> MarketRules:
        return self.inner.market_rules(symbol)

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        return await self.inner.prepare(request)

    async def send(self, prepared: PreparedOrder) -> OrderReport:
        return await self._over_the_wire(lambda: self.inner.send(prepared))

    async def place(self, request: OrderRequest) -> OrderReport:
        return await self.send(await self.prepare(request))

    async def cancel(self, client_order_id: str, symbol: str) -> OrderReport:
        return await self._over_the_wire(lambda: self.inner.cancel(client_order_id, symbol), "cancel")

    async def amend(self, client_order_id: str, symbol: str, amount: Decimal) -> OrderReport:
        return await self._over_the_wire(lambda: self.inner.amend(client_order_id, symbol, amount))

    async def arm_cancel_all(self, timeout_s: int, symbol: str | None = None) -> datetime | None:
        inner = self.inner
        if not (isinstance(inner, DeadMansSwitch) and inner.cancels_on_silence):
            raise VenueError(self.name, "this venue has no dead man's switch")
        return await self._over_the_wire(lambda: inner.arm_cancel_all(timeout_s, symbol))

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport:
        return await self._over_the_wire(lambda: self.inner.fetch_order(client_order_id, symbol))

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        return await self._over_the_wire(lambda: self.inner.fetch_open_orders(symbol))

    async def fetch_fills(self, symbol: str, since: datetime, order_id: str | None = None) -> list[FillReport]:
        return await self._over_the_wire(lambda: self.inner.fetch_fills(symbol, since, order_id))

    async def balances(self) -> dict[str, BalanceReport]:
        return await self._over_the_wire(self.inner.balances)

    def watch_fills(self, listener: FillListener) -> None:
        """The inner venue's fill stream, each push arriving a ``back`` trip after the venue made the fill
        (a private stream's frame crosses the same network as an answer)."""
        if not isinstance(self.inner, FillStream):
            raise TypeError(f"{self.name}: the venue has no fill stream")
        loop = asyncio.get_running_loop()

        def arrive(fill: FillReport) -> None:
            back = self.latency.pushed(self._rng)
            if back:
                loop.call_later(back, listener, fill)
            else:
                listener(fill)

        self.inner.watch_fills(arrive)
