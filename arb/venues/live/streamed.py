"""A live venue with its private fill stream: what a maker route quotes on (:class:`StreamedVenue`).

The order API is the venue's (``LiveVenue`` over the venue's ccxt class, or any
:class:`~arb.domain.venue.Venue`); the account's trades come from the venue's own private stream, a
:class:`TrackedFillStream` (Gate's ``venues/gate/private_stream.py``, Binance's
``venues/binance/private_stream.py``). The one thing joining them: every order the venue acknowledges is
``track``-ed, so a fill the stream never heard of (made while its socket was down, even for an order placed
while it was down) is found by the REST reconciliation after the reconnect. An order the stream heard of
first (a fill pushed before the placement's answer) is tracked already; tracking it again changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from arb.domain.market import MarketRules
from arb.domain.venue import (
    BalanceReport,
    FillListener,
    FillReport,
    OrderReport,
    OrderRequest,
    PreparedOrder,
    Venue,
)


class TrackedFillStream(Protocol):
    """A venue's private fill stream that reconciles, after each reconnect, the orders it was told of."""

    def watch_fills(self, listener: FillListener) -> None: ...

    def track(self, order_id: str, symbol: str, client_order_id: str | None = None) -> None: ...


class StreamedVenue:
    """:class:`~arb.domain.venue.Venue` and :class:`~arb.domain.venue.FillStream`: ``venue``'s orders,
    ``stream``'s fills. Run ``stream.run()`` beside it (the engine's supervisor does)."""

    def __init__(self, venue: Venue, stream: TrackedFillStream) -> None:
        self.venue = venue
        self.stream = stream
        self.name = venue.name
        self.client_ids = venue.client_ids
        self.amends = venue.amends

    def __repr__(self) -> str:
        return f"StreamedVenue({self.name!r})"

    # -- the fill stream ------------------------------------------------------------------------------
    def watch_fills(self, listener: FillListener) -> None:
        self.stream.watch_fills(listener)

    # -- orders: the venue's, each acknowledged one tracked ---------------------------------------------
    def market_rules(self, symbol: str) -> MarketRules:
        return self.venue.market_rules(symbol)

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        return await self.venue.prepare(request)

    async def send(self, prepared: PreparedOrder) -> OrderReport:
        return self._tracked(await self.venue.send(prepared))

    async def place(self, request: OrderRequest) -> OrderReport:
        return self._tracked(await self.venue.place(request))

    # The rest is the venue's as it is, delegated one by one as every Venue wrapper does (the guarded and
    # latent venues, the tests' fault injectors): a Protocol has no implementation to inherit.
    async def cancel(self, client_order_id: str, symbol: str) -> OrderReport:
        return await self.venue.cancel(client_order_id, symbol)

    async def amend(self, client_order_id: str, symbol: str, amount: Decimal) -> OrderReport:
        return await self.venue.amend(client_order_id, symbol, amount)

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport:
        return await self.venue.fetch_order(client_order_id, symbol)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        return await self.venue.fetch_open_orders(symbol)

    async def fetch_fills(self, symbol: str, since: datetime, order_id: str | None = None) -> list[FillReport]:
        return await self.venue.fetch_fills(symbol, since, order_id)

    async def balances(self) -> dict[str, BalanceReport]:
        return await self.venue.balances()

    def _tracked(self, report: OrderReport) -> OrderReport:
        if report.venue_order_id is not None:
            self.stream.track(report.venue_order_id, report.symbol, report.client_order_id)
        return report

    def __getattr__(self, name: str) -> Any:  # the venue's extras (keep_warm, ping, line, exchange)
        return getattr(self.venue, name)
