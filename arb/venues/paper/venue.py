"""A paper venue: the same protocol as a live one, its orders matched by the one matcher of every
simulated venue (:mod:`arb.venues.sim.matching`), in-process.

The matcher's book is the venue's market, fed one of two ways:

- **in a simulation** (replay, paper mode on a capture) by the market source, event by event at the
  capture's time (:meth:`PaperVenue.on_book`, :meth:`PaperVenue.on_trade`), before any feed latency delays
  arb's own view of it: the venue matches on its own market, as the sandbox does;
- **on live books** (``--dry-run``, a rehearsal) arb's normalized book is all there is: before each request,
  a book that moved since the last is copied into the matcher as a snapshot of its top ``depth`` levels.

The order's trip there (and the answer's back) is :class:`arb.venues.latent.LatentVenue`'s, in the run's
clock. Fees, fee currencies (a sell pays in quote; a buy in the base it receives, or in quote with
``buy_fee_in = "quote"``; a perpetual's every fee in its settle currency: the quote on a linear one, the
base coin on an inverse one), funds, positions and their
funding, time in force and resting orders are the matcher's rules. A client order
id is never accepted twice while its order is known (a resend can never double-fill), and is how orders
are looked up.

A finished order and its fills are known for :data:`FINISHED_KEPT_MS` (an hour) of the venue's clock after
its end, then forgotten (looked up, it is not found; its fills are not listed), as a venue's history window
ends; an open order is kept however long it rests. Everything arb asks of a finished order it asks within
seconds (a lost answer's lookup, a quote's fills), and a paper run of days kept every order it ever placed.

Order ids and trade ids (``<venue>-<n>``) come from :func:`arb.domain.ids.next_venue_id`: unique across
processes, so a second run into the same database never repeats a trade id of the first.

A book the matcher finds crossed after a market event (the matcher's rule) is one WARNING line naming the
venue, symbol, event time and best bid and ask, once each time it becomes so; :meth:`PaperVenue.crossed_books`
counts it for the run's summary. Trading goes on: a recorder's glitch is for the trader to judge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from arb.domain.ids import ClientIdFormat, next_venue_id
from arb.domain.market import MarketKind, MarketRules, Side, Symbol
from arb.domain.orders import VenueState
from arb.domain.venue import BalanceReport, FillListener, FillReport, OrderReport, OrderRequest, PreparedOrder
from arb.errors import InsufficientFunds, InvalidOrder, OrderNotFound
from arb.venues.sim.book import CrossedBook
from arb.venues.sim.matching import Event, Matcher, RawLevel, Refusal, Refused, TradeEvent
from arb.venues.sim.orders import FundingPayment, SimMarket, SimOrder, SimTrade
from arb.venues.sim.queue import QueueModel

log = logging.getLogger(__name__)
ZERO = Decimal(0)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
BuyFeeIn = Literal["base", "quote"]
ACCOUNT = "paper"  # the matcher's one account of this venue
FINISHED_KEPT_MS = 3_600_000
FORGET_EVERY_MS = FINISHED_KEPT_MS // 10  # how often the finished orders past it are looked for: each look is a pass


class BookView(Protocol):
    """What the paper venue mirrors from a normalized book on live data (``arb.marketdata.book.OrderBook``)."""

    updates: int

    def levels(self, side: str, n: int | None = None) -> list[tuple[Decimal, Decimal]]: ...


@dataclass(frozen=True, slots=True)
class PaperConfig:
    fee_rate: Decimal = Decimal("0.001")  # the taker fee
    depth: int = 50  # levels mirrored from a live book
    buy_fee_in: BuyFeeIn = "base"  # the asset a buy's fee is taken from; a sell always pays in quote
    maker_fee_rate: Decimal | None = None  # a resting order's fill; negative for a rebate; None: the taker fee
    leverage: Decimal = Decimal(1)  # a perpetual's margin: its value / leverage (arb/margin.py)
    queue: QueueModel = QueueModel()  # whether a cancel at a resting order's level was ahead of it

    def __post_init__(self) -> None:
        if self.buy_fee_in not in ("base", "quote"):
            raise ValueError(f"buy_fee_in must be 'base' or 'quote', not {self.buy_fee_in!r}")


def sim_market(rules: MarketRules, config: PaperConfig) -> SimMarket:
    sym = Symbol.parse(rules.symbol)
    maker_fee = config.fee_rate if config.maker_fee_rate is None else config.maker_fee_rate
    return SimMarket(rules.symbol, sym.base, sym.quote, rules.price_step, rules.amount_step, rules.min_amount,
                     rules.min_notional, config.fee_rate, maker_fee, config.buy_fee_in,
                     linear=rules.kind is MarketKind.LINEAR_PERPETUAL, leverage=config.leverage,
                     contract_size=rules.contract_size, queue=config.queue)


class PaperVenue:
    """Implements :class:`arb.domain.venue.Venue` on the matcher. ``books``: live books to mirror (none
    in a simulation, whose market source calls :meth:`on_book` and :meth:`on_trade`)."""

    def __init__(
        self,
        name: str,
        books: Mapping[str, BookView] | None,
        rules: Mapping[str, MarketRules],
        initial_balances: Mapping[str, Decimal],
        *,
        config: PaperConfig = PaperConfig(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ids: Callable[[], int] = next_venue_id,
        client_ids: ClientIdFormat = ClientIdFormat(),
        amends: bool = True,
    ) -> None:
        self.name = name
        self.client_ids = client_ids  # the real venue's format, so a paper run issues the ids it would
        # As the real venue: whether it amends an order in place (the matcher's amending rule is Gate's: an
        # amount alone keeps the queue place); a venue that does not (Binance) cancels and places instead.
        self.amends = amends
        self._books = dict(books or {})
        self._mirrored_at: dict[str, int] = {}
        self._rules = rules
        self.config = config
        self._clock = clock
        self.matcher = Matcher((sim_market(r, config) for r in rules.values()), new_id=ids, deferred_books=True,
                               on_crossed=self._crossed)
        for asset, amount in initial_balances.items():
            self.matcher.set_balance(ACCOUNT, asset, Decimal(amount))
        self._by_client: dict[str, SimOrder] = {}
        self._forget_at_ms = 0  # when finished orders past FINISHED_KEPT_MS are next looked for (venue ms)
        self._fill_listeners: list[FillListener] = []
        self.requests = 0

    # -- the market ------------------------------------------------------------------------------
    def on_book(self, symbol: str, kind: str, bids: Iterable[RawLevel], asks: Iterable[RawLevel], now_ms: int) -> None:
        if events := self.matcher.on_book(symbol, kind, bids, asks, now_ms):  # none, while nothing rests
            self._push_fills(events)

    def on_trade(self, symbol: str, price: Decimal, amount: Decimal, aggressor: str, now_ms: int) -> None:
        self._push_fills(self.matcher.on_trade(symbol, price, amount, aggressor, now_ms))

    def on_funding(self, symbol: str, mark: Decimal, rate: Decimal, funding_ts: int, now_ms: int) -> list[FundingPayment]:
        """A perpetual's mark and announced funding rate (a capture's funding line): the funding the account
        was paid (negative: paid out) at a funding time now passed, if any (``Matcher.on_funding``)."""
        return [p for p in self.matcher.on_funding(symbol, mark, rate, funding_ts, now_ms) if p.account == ACCOUNT]

    def _crossed(self, symbol: str, now_ms: int, bid: Decimal, ask: Decimal) -> None:
        log.warning("%s %s: the simulated book is crossed after the market event at %s: best bid %s >= best ask "
                    "%s (events applied out of the venue's order? see docs/CAPTURE.md); counted in the summary",
                    self.name, symbol, (EPOCH + now_ms * MS).isoformat(timespec="milliseconds"), bid, ask)

    def crossed_books(self) -> dict[str, CrossedBook]:
        """Each symbol whose book the matcher found crossed after a market event (none, normally)."""
        return dict(self.matcher.crossed)

    def watch_fills(self, listener: FillListener) -> None:
        """:class:`arb.domain.venue.FillStream`: the fills of resting orders that market events make, pushed
        as the matcher makes them (an order's fills on placement come back with its answer, as a venue's do)."""
        self._fill_listeners.append(listener)

    def _push_fills(self, events: list[Event]) -> None:
        if not self._fill_listeners:
            return
        for event in events:
            if isinstance(event, TradeEvent) and event.account == ACCOUNT:
                fill = self._fill(event.trade)
                for listener in self._fill_listeners:
                    listener(fill)

    def _mirror(self, symbol: str, now_ms: int) -> None:
        book = self._books.get(symbol)
        if book is not None and self._mirrored_at.get(symbol) != book.updates:
            self._mirrored_at[symbol] = book.updates
            depth = self.config.depth
            self.matcher.on_book(symbol, "snapshot", book.levels("bids", depth), book.levels("asks", depth), now_ms)

    # -- protocol -------------------------------------------------------------------------------
    def market_rules(self, symbol: str) -> MarketRules:
        return self._rules[symbol]

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Check against the market rules; nothing to sign, and nothing reaches the venue."""
        try:
            self.matcher.check(self.matcher.market(request.symbol), request.side.value, request.price,
                               request.amount, request.time_in_force)
        except Refused as exc:
            raise _error(self.name, exc) from None
        return PreparedOrder(self.name, request)

    async def place(self, request: OrderRequest) -> OrderReport:
        return await self.send(await self.prepare(request))

    async def send(self, prepared: PreparedOrder) -> OrderReport:
        if prepared.venue != self.name:
            raise ValueError(f"{self.name}: not an order prepared by this venue")
        request = prepared.request
        self.requests += 1
        if request.client_order_id in self._by_client:
            raise InvalidOrder(self.name, f"duplicate client order id {request.client_order_id}")
        now = self._clock()
        now_ms = (now - EPOCH) // MS
        self._forget_finished(now_ms)
        self._mirror(request.symbol, now_ms)
        before = len(self.matcher.trades)
        try:
            order, _ = self.matcher.place(ACCOUNT, request.symbol, request.side.value, request.price,
                                          request.amount, request.time_in_force, request.client_order_id, now_ms)
        except Refused as exc:
            raise _error(self.name, exc) from None
        self._by_client[request.client_order_id] = order
        fills = tuple(self._fill(t, now) for t in self.matcher.trades[before:])
        return self._report(order, now, fills)

    async def cancel(self, client_order_id: str, symbol: str) -> OrderReport:
        self.requests += 1
        order = self._find(client_order_id)
        now = self._clock()
        if order.is_open:
            self.matcher.cancel(order, (now - EPOCH) // MS)
        return self._report(order, now)

    async def amend(self, client_order_id: str, symbol: str, amount: Decimal) -> OrderReport:
        self.requests += 1
        order = self._find(client_order_id)
        now = self._clock()
        if order.is_open:
            try:
                self.matcher.amend(order, (now - EPOCH) // MS, amount=amount)
            except Refused as exc:
                raise _error(self.name, exc) from None
        return self._report(order, now)

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport:
        self.requests += 1
        return self._report(self._find(client_order_id), self._clock())

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        self.requests += 1
        now = self._clock()
        return [self._report(o, now) for o in sorted(self.matcher.open_orders(ACCOUNT, symbol), key=lambda o: o.id)]

    async def fetch_fills(self, symbol: str, since: datetime, order_id: str | None = None) -> list[FillReport]:
        self.requests += 1
        fills = (self._fill(t) for t in self.matcher.trades if t.market == symbol)
        return [f for f in fills if f.ts >= since and order_id in (None, f.venue_order_id)]

    async def balances(self) -> dict[str, BalanceReport]:
        self.requests += 1
        return {a: BalanceReport(a, b.available, b.locked)
                for a, b in self.matcher.balances.get(ACCOUNT, {}).items()}

    def _forget_finished(self, now_ms: int) -> None:
        """At most once every :data:`FORGET_EVERY_MS`: the orders finished over :data:`FINISHED_KEPT_MS` ago forgotten."""
        if now_ms < self._forget_at_ms:
            return
        self._forget_at_ms = now_ms + FORGET_EVERY_MS
        for order in self.matcher.forget_finished(now_ms - FINISHED_KEPT_MS):
            if self._by_client.get(order.client_id) is order:
                del self._by_client[order.client_id]

    # -- reports --------------------------------------------------------------------------------
    def _find(self, client_order_id: str) -> SimOrder:
        order = self._by_client.get(client_order_id)
        if order is None:
            raise OrderNotFound(self.name, f"no order {client_order_id}", label="ORDER_NOT_FOUND")
        return order

    def _fill(self, trade: SimTrade, ts: datetime | None = None) -> FillReport:
        return FillReport(
            venue=self.name,
            trade_id=f"{self.name}-{trade.id}",
            client_order_id=trade.client_id,
            venue_order_id=str(trade.order_id),
            symbol=trade.market,
            side=Side(trade.side),
            price=trade.price,
            amount=trade.amount,
            fee=trade.fee,
            fee_currency=trade.fee_currency,
            ts=ts if ts is not None else EPOCH + trade.create_ms * MS,
        )

    def _report(self, order: SimOrder, now: datetime, fills: tuple[FillReport, ...] = ()) -> OrderReport:
        status = {"filled": "closed", "ioc": "cancelled/ioc", "fok": "cancelled/fok"}.get(order.finish_as,
                                                                                        order.finish_as)
        return OrderReport(
            venue=self.name,
            client_order_id=order.client_id,
            venue_order_id=str(order.id),
            symbol=order.market.id,
            side=Side(order.side),
            price=order.price,
            amount=order.amount,
            filled=order.filled_amount,
            state=VenueState.OPEN if order.is_open else VenueState.CLOSED,
            venue_status=status,
            average=(order.filled_total / order.filled_amount) if order.filled_amount else None,
            ts=now,
            fills=fills,
        )


def _error(venue: str, exc: Refused) -> Exception:
    if exc.refusal is Refusal.INSUFFICIENT_FUNDS:
        return InsufficientFunds(venue, str(exc), label="BALANCE_NOT_ENOUGH")
    if exc.refusal is Refusal.BELOW_MINIMUM:
        return InvalidOrder(venue, str(exc), label="AMOUNT_TOO_LITTLE")
    return InvalidOrder(venue, str(exc))
