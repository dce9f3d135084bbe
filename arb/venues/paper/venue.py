"""A paper venue: the same protocol as a live one, filling against the current normalized book.

A buy walks the asks from the best level up to its limit (a sell walks the bids down), against the book
*as it is when the order arrives*: the order's trip there (and the answer's back) is
:class:`arb.venues.latent.LatentVenue`'s, in the run's clock.
The shared book is market data and is never modified; instead the venue remembers how much of each
level its own orders took and forgets it when the book changes (``book.updates`` moves), so two quick
orders cannot both take the same displayed liquidity.

Fees follow the real spot venues by default: a sell pays its fee in quote (out of the proceeds), a buy in
the asset it receives, base (Gate, Binance and HTX spot all take a taker buy's fee from the base bought),
so buying 2 LINK at 0.1% leaves 1.998 LINK. ``PaperConfig.buy_fee_in = "quote"`` charges the buy in
quote instead (the buy then needs ``price * amount * (1 + fee)`` quote). Fees are exact, not rounded to
a currency precision. Balances are *derived from the fills*: initial balances plus every fill's traded
amounts, minus every fill's fee in its own currency; never a separately maintained number.

Order ids and trade ids (``<venue>-<n>``) come from :func:`arb.domain.ids.next_venue_id`: unique across
processes, so a second run into the same database never repeats a trade id of the first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, Protocol

from arb.domain.ids import ClientIdFormat, next_venue_id
from arb.domain.market import MarketRules, Side, Symbol
from arb.domain.orders import VenueState
from arb.errors import InsufficientFunds, InvalidOrder, OrderNotFound
from arb.venues.protocol import BalanceReport, FillReport, OrderReport, OrderRequest, PreparedOrder

ZERO = Decimal(0)
BuyFeeIn = Literal["base", "quote"]


class BookView(Protocol):
    """What the paper venue reads from a normalized book (``arb.marketdata.book.OrderBook``)."""

    updates: int

    def levels(self, side: str, n: int | None = None) -> list[tuple[Decimal, Decimal]]: ...


@dataclass(frozen=True, slots=True)
class PaperConfig:
    fee_rate: Decimal = Decimal("0.001")  # taker, on every fill
    depth: int = 50  # levels walked at most
    buy_fee_in: BuyFeeIn = "base"  # the asset a buy's fee is taken from; a sell always pays in quote

    def __post_init__(self) -> None:
        if self.buy_fee_in not in ("base", "quote"):
            raise ValueError(f"buy_fee_in must be 'base' or 'quote', not {self.buy_fee_in!r}")


@dataclass(slots=True)
class _Order:
    report: OrderReport


class PaperVenue:
    """Implements :class:`arb.venues.protocol.Venue` against live or replayed books."""

    def __init__(
        self,
        name: str,
        books: Mapping[str, BookView],
        rules: Mapping[str, MarketRules],
        initial_balances: Mapping[str, Decimal],
        *,
        config: PaperConfig = PaperConfig(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ids: Callable[[], int] = next_venue_id,
        client_ids: ClientIdFormat = ClientIdFormat(),
    ) -> None:
        self.name = name
        self.client_ids = client_ids  # the real venue's format, so a paper run issues the ids it would
        self._books = books
        self._rules = rules
        self._initial = {asset: Decimal(v) for asset, v in initial_balances.items()}
        self.config = config
        self._clock = clock
        self._orders: dict[str, _Order] = {}
        self._fills: list[FillReport] = []
        self._taken: dict[tuple[str, str, Decimal], Decimal] = {}
        self._taken_at: dict[str, int] = {}
        self._ids: Callable[[], int] = ids
        self.requests = 0

    # -- protocol -------------------------------------------------------------------------------
    def market_rules(self, symbol: str) -> MarketRules:
        return self._rules[symbol]

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Validate against the market rules; nothing to sign, and nothing reaches the venue."""
        self._validate(request)
        return PreparedOrder(self.name, request)

    async def place(self, request: OrderRequest) -> OrderReport:
        return await self.send(await self.prepare(request))

    async def send(self, prepared: PreparedOrder) -> OrderReport:
        if prepared.venue != self.name:
            raise ValueError(f"{self.name}: not an order prepared by this venue")
        request = prepared.request
        self.requests += 1
        if request.client_order_id in self._orders:
            # Same behaviour as Gate: a duplicate `text` is refused, so a resend can never double-fill.
            raise InvalidOrder(self.name, f"duplicate client order id {request.client_order_id}")
        self._validate(request)
        self._check_funds(request)
        venue_order_id = str(self._ids())
        fills = self._match(request, venue_order_id)
        filled = sum((f.amount for f in fills), ZERO)
        resting = request.time_in_force == "gtc" and filled < request.amount
        state = VenueState.OPEN if resting else VenueState.CLOSED
        notional = sum((f.price * f.amount for f in fills), ZERO)
        report = OrderReport(
            venue=self.name,
            client_order_id=request.client_order_id,
            venue_order_id=venue_order_id,
            symbol=request.symbol,
            side=request.side,
            price=request.price,
            amount=request.amount,
            filled=filled,
            state=state,
            venue_status="open" if resting else ("closed" if filled == request.amount else "cancelled/ioc"),
            average=(notional / filled) if filled else None,
            ts=self._clock(),
            fills=tuple(fills),
        )
        self._orders[request.client_order_id] = _Order(report)
        self._fills.extend(fills)
        return report

    async def cancel(self, client_order_id: str, symbol: str) -> OrderReport:
        self.requests += 1
        order = self._find(client_order_id)
        if order.report.state is VenueState.OPEN:
            order.report = replace(order.report, state=VenueState.CLOSED, venue_status="cancelled", fills=())
        return order.report

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport:
        self.requests += 1
        return replace(self._find(client_order_id).report, fills=())

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        self.requests += 1
        return [
            replace(o.report, fills=())
            for o in self._orders.values()
            if o.report.state is VenueState.OPEN and symbol in (None, o.report.symbol)
        ]

    async def fetch_fills(self, symbol: str, since: datetime, order_id: str | None = None) -> list[FillReport]:
        self.requests += 1
        return [f for f in self._fills
                if f.symbol == symbol and f.ts >= since and order_id in (None, f.venue_order_id)]

    async def balances(self) -> dict[str, BalanceReport]:
        self.requests += 1
        return self._balances_now()

    # -- matching -------------------------------------------------------------------------------
    def _find(self, client_order_id: str) -> _Order:
        order = self._orders.get(client_order_id)
        if order is None:
            raise OrderNotFound(self.name, f"no order {client_order_id}", label="ORDER_NOT_FOUND")
        return order

    def _validate(self, request: OrderRequest) -> None:
        rules = self._rules.get(request.symbol)
        if rules is None or request.symbol not in self._books:
            raise InvalidOrder(self.name, f"unknown symbol {request.symbol}")
        if request.amount <= 0 or request.price <= 0:
            raise InvalidOrder(self.name, "amount and price must be positive")
        if rules.round_amount(request.amount) != request.amount:
            raise InvalidOrder(self.name, f"amount {request.amount} off step {rules.amount_step}")
        if request.amount < rules.min_amount or request.amount * request.price < rules.min_notional:
            raise InvalidOrder(self.name, "below the market minimum", label="AMOUNT_TOO_LITTLE")
        if request.time_in_force not in ("ioc", "gtc"):
            raise InvalidOrder(self.name, f"time in force {request.time_in_force} not supported")

    def _check_funds(self, request: OrderRequest) -> None:
        sym = Symbol.parse(request.symbol)
        free = {a: b.free for a, b in self._balances_now().items()}
        if request.side is Side.BUY:
            # A base-paid fee comes out of what the buy receives: only the notional must be there.
            fee_factor = 1 + self.config.fee_rate if self.config.buy_fee_in == "quote" else Decimal(1)
            need, asset = request.amount * request.price * fee_factor, sym.quote
        else:
            need, asset = request.amount, sym.base
        if free.get(asset, ZERO) < need:
            raise InsufficientFunds(self.name, f"{asset} balance too small", label="BALANCE_NOT_ENOUGH")

    def _match(self, request: OrderRequest, venue_order_id: str) -> list[FillReport]:
        book = self._books[request.symbol]
        if self._taken_at.get(request.symbol) != book.updates:
            self._taken = {k: v for k, v in self._taken.items() if k[0] != request.symbol}
            self._taken_at[request.symbol] = book.updates
        book_side = "asks" if request.side is Side.BUY else "bids"
        remaining = request.amount
        fills: list[FillReport] = []
        now = self._clock()
        sym = Symbol.parse(request.symbol)
        for price, size in book.levels(book_side, self.config.depth):
            if remaining <= 0:
                break
            if price > request.price if request.side is Side.BUY else price < request.price:
                break
            key = (request.symbol, book_side, price)
            available = size - self._taken.get(key, ZERO)
            qty = min(available, remaining)
            if qty <= 0:
                continue
            self._taken[key] = self._taken.get(key, ZERO) + qty
            remaining -= qty
            if request.side is Side.BUY and self.config.buy_fee_in == "base":
                fee, fee_currency = qty * self.config.fee_rate, sym.base
            else:
                fee, fee_currency = price * qty * self.config.fee_rate, sym.quote
            fills.append(
                FillReport(
                    venue=self.name,
                    trade_id=f"{self.name}-{self._ids()}",
                    client_order_id=request.client_order_id,
                    venue_order_id=venue_order_id,
                    symbol=request.symbol,
                    side=request.side,
                    price=price,
                    amount=qty,
                    fee=fee,
                    fee_currency=fee_currency,
                    ts=now,
                )
            )
        return fills

    # -- balances derived from fills -------------------------------------------------------------
    def _derived_totals(self) -> dict[str, Decimal]:
        totals = dict(self._initial)
        for f in self._fills:
            sym = Symbol.parse(f.symbol)
            sign = 1 if f.side is Side.BUY else -1
            totals[sym.base] = totals.get(sym.base, ZERO) + sign * f.amount
            totals[sym.quote] = totals.get(sym.quote, ZERO) - sign * f.price * f.amount
            totals[f.fee_currency] = totals.get(f.fee_currency, ZERO) - f.fee
        return totals

    def _reserved(self) -> dict[str, Decimal]:
        used: dict[str, Decimal] = {}
        for o in self._orders.values():
            r = o.report
            if r.state is not VenueState.OPEN:
                continue
            sym = Symbol.parse(r.symbol)
            left = r.amount - r.filled
            asset, qty = (sym.quote, left * r.price) if r.side is Side.BUY else (sym.base, left)
            used[asset] = used.get(asset, ZERO) + qty
        return used

    def _balances_now(self) -> dict[str, BalanceReport]:
        totals = self._derived_totals()
        used = self._reserved()
        return {a: BalanceReport(a, totals[a] - used.get(a, ZERO), used.get(a, ZERO)) for a in totals}
