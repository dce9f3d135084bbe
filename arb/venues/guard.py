"""A venue behind its throttle: every call takes its bucket first; announced resets block everyone.

:class:`GuardedVenue` implements the same :class:`~arb.domain.venue.Venue` protocol, so the executor
and reconciliation talk to it exactly as to a bare venue. Reads (open orders, fills, balances) are retried
with backoff; placements are never retried and ``fetch_order`` is left to the lookup loop, which spaces
its own attempts. Any ``RateLimited`` that carries a reset time blocks the whole venue until then.

A placement takes its bucket in ``prepare`` (waiting there costs nothing on the wire) and is written by
``send``. Should a 429 announce a window between the two, ``send`` waits for it to end and prepares the
order again, so the signature it writes is fresh and nothing is sent inside the window.

:class:`BudgetedVenue` puts a venue behind its order budget (:class:`~arb.venues.throttle.OrderBudget`) the
same way: a placement takes its slot in ``prepare``, an amend (which Gate counts as a placement) before it is
sent; an order the budget refuses raises there, before anything leaves.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from arb.domain.market import MarketRules
from arb.domain.venue import (
    BalanceReport,
    DeadMansSwitch,
    FillReport,
    OrderReport,
    OrderRequest,
    PreparedOrder,
    Venue,
)
from arb.errors import RateLimited, VenueError
from arb.venues.retry import BackoffPolicy, retry_read
from arb.venues.throttle import (  # alike to venues/gate/facts.py's: the same keys, per request
    BALANCES,
    CANCEL,
    FETCH_FILLS,
    FETCH_OPEN,
    FETCH_ORDER,
    PLACE,
    OrderBudget,
    VenueThrottle,
)

T = TypeVar("T")
# A dead man's switch has no budget of its own in any venue's table: the venue's global one.
ARM_CANCEL_ALL = "arm_cancel_all"


class GuardedVenue:
    def __init__(
        self,
        venue: Venue,
        throttle: VenueThrottle,
        *,
        backoff: BackoffPolicy = BackoffPolicy(),
        rng: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.inner = venue
        self.name = venue.name
        self.client_ids = venue.client_ids
        self.amends = venue.amends
        self.cancels_on_silence = isinstance(venue, DeadMansSwitch) and venue.cancels_on_silence
        self.throttle = throttle
        self._backoff = backoff
        self._rng = rng
        self._sleep = sleep
        self._wall = wall

    def market_rules(self, symbol: str) -> MarketRules:
        return self.inner.market_rules(symbol)

    async def _once(self, endpoint: str, market: str | None, call: Callable[[], Awaitable[T]]) -> T:
        await self.throttle.acquire(endpoint, market)
        return await self._noting_resets(call)

    async def _read(self, endpoint: str, market: str | None, call: Callable[[], Awaitable[T]]) -> T:
        return await retry_read(
            lambda: self._once(endpoint, market, call),
            policy=self._backoff,
            rng=self._rng,
            sleep=self._sleep,
            wall=self._wall,
            on_rate_limited=self.throttle.block_until,
        )

    async def _noting_resets(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except RateLimited as exc:
            if exc.reset_at is not None:
                self.throttle.block_until(exc.reset_at)
            raise

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        await self.throttle.acquire(PLACE, request.symbol)
        return await self._noting_resets(lambda: self.inner.prepare(request))

    async def send(self, prepared: PreparedOrder) -> OrderReport:
        if self.throttle.blocked():
            await self.throttle.acquire(PLACE, prepared.request.symbol)
            prepared = await self._noting_resets(lambda: self.inner.prepare(prepared.request))
        return await self._noting_resets(lambda: self.inner.send(prepared))

    async def place(self, request: OrderRequest) -> OrderReport:
        return await self.send(await self.prepare(request))

    async def cancel(self, client_order_id: str, symbol: str) -> OrderReport:
        return await self._once(CANCEL, symbol, lambda: self.inner.cancel(client_order_id, symbol))

    async def amend(self, client_order_id: str, symbol: str, amount: Decimal) -> OrderReport:
        # Gate counts an amend against the placement budget (10/s per market), so it waits as a placement.
        return await self._once(PLACE, symbol, lambda: self.inner.amend(client_order_id, symbol, amount))

    async def arm_cancel_all(self, timeout_s: int, symbol: str | None = None) -> datetime | None:
        inner = self.inner
        if not (isinstance(inner, DeadMansSwitch) and inner.cancels_on_silence):
            raise VenueError(self.name, "this venue has no dead man's switch")
        return await self._once(ARM_CANCEL_ALL, symbol, lambda: inner.arm_cancel_all(timeout_s, symbol))

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport:
        return await self._once(FETCH_ORDER, symbol, lambda: self.inner.fetch_order(client_order_id, symbol))

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        return await self._read(FETCH_OPEN, symbol, lambda: self.inner.fetch_open_orders(symbol))

    async def fetch_fills(self, symbol: str, since: datetime, order_id: str | None = None) -> list[FillReport]:
        return await self._read(FETCH_FILLS, symbol, lambda: self.inner.fetch_fills(symbol, since, order_id))

    async def balances(self) -> dict[str, BalanceReport]:
        return await self._read(BALANCES, None, self.inner.balances)


class BudgetedVenue:
    """``inner`` behind its order budget; implements :class:`arb.domain.venue.Venue`. Only orders take a slot:
    placements (in ``prepare``, before they are built and signed) and amends; cancels and reads pass."""

    def __init__(self, inner: Venue, budget: OrderBudget) -> None:
        self.inner = inner
        self.name = inner.name
        self.client_ids = inner.client_ids
        self.amends = inner.amends
        self.budget = budget

    def market_rules(self, symbol: str) -> MarketRules:
        return self.inner.market_rules(symbol)

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        await self.budget.take(request.symbol)
        return await self.inner.prepare(request)

    async def send(self, prepared: PreparedOrder) -> OrderReport:
        return await self.inner.send(prepared)

    async def place(self, request: OrderRequest) -> OrderReport:
        return await self.send(await self.prepare(request))

    async def cancel(self, client_order_id: str, symbol: str) -> OrderReport:
        return await self.inner.cancel(client_order_id, symbol)

    async def amend(self, client_order_id: str, symbol: str, amount: Decimal) -> OrderReport:
        await self.budget.take(symbol)
        return await self.inner.amend(client_order_id, symbol, amount)

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport:
        return await self.inner.fetch_order(client_order_id, symbol)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        return await self.inner.fetch_open_orders(symbol)

    async def fetch_fills(self, symbol: str, since: datetime, order_id: str | None = None) -> list[FillReport]:
        return await self.inner.fetch_fills(symbol, since, order_id)

    async def balances(self) -> dict[str, BalanceReport]:
        return await self.inner.balances()

    def __getattr__(self, name: str) -> Any:
        # Whatever else the venue inside offers beside the protocol (a fill stream, ...) this offers as it is,
        # and what it lacks this lacks (``isinstance(venue, FillStream)`` reads through): a budget changes how
        # orders leave, nothing more. Called only for names this class does not define.
        try:
            inner = self.__dict__["inner"]
        except KeyError:  # not built yet (a copy): no venue inside to ask
            raise AttributeError(name) from None
        return getattr(inner, name)
