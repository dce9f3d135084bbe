"""A venue seen under the engine's names: its markets and assets translated at its edge.

:class:`RenamedVenue` wraps any :class:`~arb.domain.venue.Venue` whose config renames a market or
trades only some of the engine's symbols (:class:`~arb.domain.market_names.MarketNames`). The engine asks
with its own symbols and reads its own symbols and assets back; the venue inside (live, sandbox or paper)
only ever sees its own names. Nothing past this module knows a venue names things differently.

A symbol the venue does not trade has no orders or fills of arb's there (arb never sends it one), so the
per-symbol reads that reconciliation and shutdown make for every engine symbol answer empty for it
without asking the venue, which may not list that market at all.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

from arb.domain.market import MarketRules
from arb.domain.market_names import MarketNames
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


class RenamedVenue:
    """``inner`` under the engine's names; implements :class:`arb.domain.venue.Venue`."""

    def __init__(self, inner: Venue, names: MarketNames) -> None:
        self.inner = inner
        self.name = inner.name
        self.client_ids = inner.client_ids
        self.amends = inner.amends
        self.cancels_on_silence = isinstance(inner, DeadMansSwitch) and inner.cancels_on_silence
        self.names = names
        self._symbol = {market: symbol for symbol, market in names.markets.items()}  # venue -> engine
        self._asset = {theirs: ours for ours, theirs in names.assets.items()}  # venue -> engine

    def __repr__(self) -> str:
        return f"RenamedVenue({self.inner!r})"

    def _trades(self, symbol: str) -> bool:
        return symbol in self.names.markets

    def _engine_symbol(self, market: str) -> str:
        return self._symbol.get(market, market)  # a market arb does not trade keeps the venue's name

    def _engine_asset(self, asset: str) -> str:
        return self._asset.get(asset, asset)

    def _report(self, report: OrderReport) -> OrderReport:
        return dataclasses.replace(report, symbol=self._engine_symbol(report.symbol),
                                   fills=tuple(self._fill(f) for f in report.fills))

    def _fill(self, fill: FillReport) -> FillReport:
        return dataclasses.replace(fill, symbol=self._engine_symbol(fill.symbol),
                                   fee_currency=self._engine_asset(fill.fee_currency))

    # -- protocol -------------------------------------------------------------------------------
    def market_rules(self, symbol: str) -> MarketRules:
        return dataclasses.replace(self.inner.market_rules(self.names.market(symbol)), symbol=symbol)

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        """The engine's request outside (it is what the executor stores); the venue's inside, as ``wire``."""
        inner = await self.inner.prepare(dataclasses.replace(request, symbol=self.names.market(request.symbol)))
        return PreparedOrder(self.name, request, inner)

    async def send(self, prepared: PreparedOrder) -> OrderReport:
        if not isinstance(prepared.wire, PreparedOrder) or prepared.venue != self.name:
            raise ValueError(f"{self.name}: not an order prepared by this venue")
        return self._report(await self.inner.send(prepared.wire))

    async def place(self, request: OrderRequest) -> OrderReport:
        return await self.send(await self.prepare(request))

    async def cancel(self, client_order_id: str, symbol: str) -> OrderReport:
        return self._report(await self.inner.cancel(client_order_id, self.names.market(symbol)))

    async def amend(self, client_order_id: str, symbol: str, amount: Decimal) -> OrderReport:
        return self._report(await self.inner.amend(client_order_id, self.names.market(symbol), amount))

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport:
        return self._report(await self.inner.fetch_order(client_order_id, self.names.market(symbol)))

    async def arm_cancel_all(self, timeout_s: int, symbol: str | None = None) -> datetime | None:
        inner = self.inner
        if not (isinstance(inner, DeadMansSwitch) and inner.cancels_on_silence):
            raise VenueError(self.name, "this venue has no dead man's switch")
        return await inner.arm_cancel_all(timeout_s, None if symbol is None else self.names.market(symbol))

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        if symbol is not None and not self._trades(symbol):
            return []
        market = None if symbol is None else self.names.market(symbol)
        return [self._report(r) for r in await self.inner.fetch_open_orders(market)]

    async def fetch_fills(self, symbol: str, since: datetime, order_id: str | None = None) -> list[FillReport]:
        if not self._trades(symbol):
            return []
        return [self._fill(f) for f in await self.inner.fetch_fills(self.names.market(symbol), since, order_id)]

    async def balances(self) -> dict[str, BalanceReport]:
        out: dict[str, BalanceReport] = {}
        for asset, report in (await self.inner.balances()).items():
            ours = self._asset.get(asset)
            if ours is None:
                # An asset arb does not rename keeps the venue's name, unless arb reads another of the
                # venue's assets under that name (the venue holds XBT and BTC, and XBT is arb's BTC):
                # then it is kept apart, under a name no engine asset can have.
                ours = f"{asset}@{self.name}" if asset in self.names.assets else asset
            out[ours] = dataclasses.replace(report, asset=ours)
        return out

    def watch_fills(self, listener: FillListener) -> None:
        """The inner venue's fill stream under the engine's names (TypeError: it has none)."""
        if not isinstance(self.inner, FillStream):
            raise TypeError(f"{self.name}: the venue has no fill stream")
        self.inner.watch_fills(lambda fill: listener(self._fill(fill)))
