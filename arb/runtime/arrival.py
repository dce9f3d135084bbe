"""The arrival rule of a simulation, defined once: **a request reaching a simulated venue at market time t is
handled after every market event at or before t** (events stamped exactly t included).

An order sent 1,000 ms before a snapshot that lands at the same instant therefore meets the new book, as it
would on a venue whose book moved at t (the event's time is when it happened there). Every simulated venue
(paper, the in-process sandbox) is behind :class:`arb.venues.latent.LatentVenue`, which awaits
:meth:`MarketArrival.settled` after the request's trip out; the market source
(:func:`arb.runtime.feeds.market_source`) says when its next events are due and when an instant is applied.

Why a barrier and not timer order: asyncio runs timers due at one instant in the order they were set, so
an order whose trip was set before the source's timer would be handled first and see the old book, and the
answer would depend on which was scheduled earlier.
"""

from __future__ import annotations

import asyncio

# Market time is float seconds: a request sent at 0.3 s with a 1.0 s trip arrives at 1.2999999999999998, an
# event stamped 1,300 ms is due at 1.3. Within a microsecond (captures are stamped in ms) is the same instant.
SAME_INSTANT_S = 1e-6


class MarketArrival:
    def __init__(self) -> None:
        self._next_s: float | None = None  # loop time of the source's next unapplied events, if any
        self._waiters: list[asyncio.Future[None]] = []

    def due_at(self, loop_s: float | None) -> None:
        """The source's earliest unapplied events are due at ``loop_s`` (None: nothing left). Requests arriving
        from then on wait for them; those waiting on an earlier instant are released."""
        self._next_s = loop_s
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def settled(self) -> None:
        """Until every market event at or before now has been applied."""
        loop = asyncio.get_running_loop()
        while self._next_s is not None and self._next_s <= loop.time() + SAME_INSTANT_S:
            waiter = loop.create_future()
            self._waiters.append(waiter)
            await waiter
