"""Executor test harness: two paper venues on real books, a real database, and a scripted edge wrapper.

``ScriptedVenue`` wraps a real venue and misbehaves on request, the way a network or a venue does:
refuse, time out before or after the venue accepted, answer "not found" to the first lookups, hold a
placement until released. Everything else passes through to the real paper venue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from arb.domain.ids import ClientIdFormat
from arb.domain.market import MarketRules
from arb.domain.venue import BalanceReport, FillReport, OrderReport, OrderRequest, PreparedOrder, Venue
from arb.errors import OrderNotFound, TransientVenueError
from arb.marketdata.book import OrderBook
from arb.venues.paper import PaperConfig, PaperVenue

D = Decimal
SYMBOL = "LINK/USDT"


@dataclass(frozen=True)
class Opp:
    """Stands in for ``arb.detection.types.Opportunity`` (same field names)."""

    symbol: str = SYMBOL
    buy_venue: str = "alpha"
    sell_venue: str = "beta"
    size: Decimal = D("2")
    buy_amount: Decimal = D("2")
    sell_amount: Decimal = D("2")
    buy_vwap: Decimal = D("20.00")
    sell_vwap: Decimal = D("20.20")
    buy_limit: Decimal = D("20.00")
    sell_limit: Decimal = D("20.20")
    buy_fee_rate: Decimal = D("0.001")
    sell_fee_rate: Decimal = D("0.001")
    expected_profit: Decimal = D("0.3196")  # 40.4 - 40 - fees 0.0404 + 0.04 (quote-fee buy)
    edge_bps: Decimal = D("80")
    mark_price: Decimal = D("19.98")  # buy venue's best bid net of its fee
    buy_book_seq: int | None = 1
    sell_book_seq: int | None = 1
    buy_book_age_ms: int = 5
    sell_book_age_ms: int = 5


def rules(venue: str) -> MarketRules:
    return MarketRules(venue, SYMBOL, price_step=D("0.01"), amount_step=D("0.01"), min_notional=D("1"))


def make_book(venue: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> OrderBook:
    b = OrderBook(venue, SYMBOL, depth=20)
    b.apply_snapshot(bids=bids, asks=asks, seq=1, received_ts=0)
    return b


def paper(venue: str, book: OrderBook, fee: str = "0.001", buy_fee_in: str = "quote") -> PaperVenue:
    """Buy fees in quote unless asked: most executor tables are easier to read with equal base legs."""
    return PaperVenue(venue, {SYMBOL: book}, {SYMBOL: rules(venue)}, {"USDT": D("10000"), "LINK": D("100")},
                      config=PaperConfig(fee_rate=D(fee), buy_fee_in=buy_fee_in))  # type: ignore[arg-type]


@dataclass
class ScriptedVenue:
    inner: Venue
    prepare_error: Exception | None = None  # building/signing fails: nothing reaches the venue
    refuse_with: Exception | None = None  # raised instead of placing
    fail_before_send: bool = False  # time out before the venue saw the order
    drop_after_accept: bool = False  # the venue accepted, the answer never arrived
    lookup_not_found: int = 0  # first N fetch_order calls answer "not found"
    lookup_error: Exception | None = None  # every fetch_order fails with this
    hold: asyncio.Event | None = None  # placement waits for this event before reaching the venue
    on_place: Callable[[OrderRequest], None] | None = None
    placed: list[str] = field(default_factory=list)
    journal: list[str] | None = None  # "prepare:<venue>" / "send:<venue>", shared between venues

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def client_ids(self) -> ClientIdFormat:
        return self.inner.client_ids

    @property
    def amends(self) -> bool:
        return self.inner.amends

    def market_rules(self, symbol: str) -> MarketRules:
        return self.inner.market_rules(symbol)

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        if self.prepare_error is not None:
            raise self.prepare_error
        prepared = await self.inner.prepare(request)
        if self.journal is not None:
            self.journal.append(f"prepare:{self.name}")
        return prepared

    async def place(self, request: OrderRequest) -> OrderReport:
        return await self.send(await self.prepare(request))

    async def send(self, prepared: PreparedOrder) -> OrderReport:
        request = prepared.request
        if self.journal is not None:
            self.journal.append(f"send:{self.name}")
        if self.on_place:
            self.on_place(request)
        if self.hold is not None:
            await asyncio.wait_for(self.hold.wait(), timeout=5)
        if self.refuse_with is not None:
            raise self.refuse_with
        if self.fail_before_send:
            raise TransientVenueError(self.name, "timeout before the venue answered")
        report = await self.inner.send(prepared)
        self.placed.append(request.client_order_id)
        if self.drop_after_accept:
            raise TransientVenueError(self.name, "connection closed without a response")
        return report

    async def cancel(self, client_order_id: str, symbol: str) -> OrderReport:
        return await self.inner.cancel(client_order_id, symbol)

    async def amend(self, client_order_id: str, symbol: str, amount: Decimal) -> OrderReport:
        return await self.inner.amend(client_order_id, symbol, amount)

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport:
        if self.lookup_error is not None:
            raise self.lookup_error
        if self.lookup_not_found > 0:
            self.lookup_not_found -= 1
            raise OrderNotFound(self.name, "not yet")
        return await self.inner.fetch_order(client_order_id, symbol)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        return await self.inner.fetch_open_orders(symbol)

    async def fetch_fills(self, symbol: str, since: datetime, order_id: str | None = None) -> list[FillReport]:
        return await self.inner.fetch_fills(symbol, since, order_id)

    async def balances(self) -> dict[str, BalanceReport]:
        return await self.inner.balances()
