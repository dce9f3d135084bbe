"""The one matching engine of every simulated venue: the paper venue calls it in-process, the Gate sandbox
serves it in Gate's REST and WebSocket protocol. No other code decides a simulated fill.

Pure: no I/O, no clock (``now_ms`` comes in), exact ``Decimal`` math. The book is the recorded market as
the venue saw it (:mod:`arb.venues.sim.book`), not a book of simulated users; the timeline
(:mod:`arb.runtime.arrival`) decides *when* an order is handled, this module *what* it does then.

The rules, one set for every venue:

- **Taking.** An order walks the opposite side best first, up to its limit, each level at the level's price,
  as taker (taker fee). What it takes is gone from that level until the market's next event sets the level
  again (a snapshot sets every level), so two quick orders never take the same displayed liquidity.
- **Time in force.** ``ioc``: the rest is cancelled. ``fok``: all or nothing. ``gtc``: the rest rests.
  ``poc`` (post-only): refused, nothing done, when any of it would take.
- **Funds.** Placing locks what the order may spend (a buy: ``amount * price``, plus the taker fee when the
  venue takes a buy's fee in quote; a sell: ``amount`` base); an order needing more than is available is
  refused. Fills move locked funds, fees come out of what is received (a buy's base, or a sell's quote), and
  what is left locked comes back when the order finishes. On a **perpetual** (``SimMarket.perpetual``: linear,
  settled in the quote; or inverse, amounts in contracts and settled in the base coin) either side holds its
  margin and fee in the settle currency, a fill moves the account's position (``positions``;
  ``arb/margin.py``: the entry averages, a reduction realizes into the wallet) and its margin, and its fee
  comes out of the wallet: there is no base to hold or receive.
- **Resting orders** (the queue rule). A resting order joins the queue at its price behind the displayed
  size there (``queue_ahead``; nothing ahead when its price is not a level of its side). What is ahead only
  ever shrinks, and is never more than the level shows: by trades printed at its price (they take the queue
  first), and by the part of a cancel at its level (the level smaller by more than its prints) that the
  market's queue model puts ahead of it (``SimMarket.queue``, :mod:`arb.venues.sim.queue`): under
  ``conservative``, the default, none that could have been behind it, so ``queue_ahead`` only falls to the
  level's new size (hftbacktest's risk-averse model: the fewest fills); under ``power`` and ``log``, the
  share hftbacktest's ``ProbQueueModel`` gives the cancel ahead of it, by what is ahead of the order and
  behind it. It fills as maker, at its own price (maker fee):
  - by a trade at its price, with what the trade leaves after the queue ahead;
  - by a trade through its price (a sell printed below a resting buy), up to the trade's amount
  (a print's amount is shared: orders at better prices first, then by time; one print never fills more
  than its amount in all);
  - every fill in whole amount steps, rounded down: the part of a print (or of a recorded level) below a
    step that reaches an order goes on to the next order it reaches, and what no order can take whole fills
    nobody (a recording finer than the market's step never makes a fill the venue could not);
  - when the book crosses it (the opposite side at or through its price), taking the crossing liquidity.
  A capture without trades leaves only the last rule: a resting order fills only when the book crosses it.
- **A crossed book** (its own best bid at or above its best ask after a market event) is a recorder's or a
  capture's fault, never the venue's: the matcher counts the events that leave it so (``crossed``) and tells
  ``on_crossed`` where it became so (market, event time, best bid and ask), and goes on matching the book
  as it stands. A deferred event is checked when it is applied.
- **Exact.** Every amount, notional, fee and balance is a sum, difference or product of prices, amounts and fee
  rates, computed in ``arb.domain.market.EXACT`` whatever context the thread is in (each method that moves an
  amount; a market event that only waits for an order pays nothing for it): a step has up to 18 places
  (``arb.domain.market.check_step``), so an account's 10^12 to 18 places is 31 digits and a notional 40, past the
  default context's 28 (which ccxt leaves rounding half up, too). What ``arb/margin.py`` rounds (a perpetual's
  margin and fees to 1e-12, its entry average) it rounds by its own rule.
- **Amending** a resting order (:meth:`Matcher.amend`, Gate's ``PATCH /spot/orders/{id}``): a new amount alone
  keeps the order's place in the queue, more or less than before; a new price puts it last at that price
  (``queue_ahead`` the size shown there, and behind our own orders there), taking first what a ``gtc`` order
  now crosses (a ``poc`` one that would cross is refused, nothing changed). An amount at or below what has
  filled cancels the rest. Funds locked follow the order's new remainder; more than is available is refused.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from arb.domain.ids import next_venue_id
from arb.domain.market import exact
from arb.margin import PositionState, apply_fill, fill_fee, funding_payment, order_margin
from arb.venues.sim.book import Book, BookUpdate, CrossedBook
from arb.venues.sim.orders import ZERO, Balance, FundingPayment, Role, SimMarket, SimOrder, SimTrade


class Refusal(enum.Enum):
    """Why the matcher refused a request; each protocol words it as its venue would."""

    UNKNOWN_MARKET = "unknown market"
    NOT_POSITIVE = "amount and price must be positive"
    TIME_IN_FORCE = "time in force not supported"
    AMOUNT_STEP = "amount off the market's amount step"
    PRICE_STEP = "price off the market's price step"
    BELOW_MINIMUM = "below the market minimum"
    POST_ONLY_WOULD_TAKE = "post-only order would take"
    INSUFFICIENT_FUNDS = "balance too small"
    ORDER_CLOSED = "order already finished"


class Refused(Exception):
    def __init__(self, refusal: Refusal, detail: str = "") -> None:
        super().__init__(detail or refusal.value)
        self.refusal = refusal


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """An order as it stood after a change: ``put`` (accepted), ``update`` (filled some), ``finish``."""

    account: str
    order: SimOrder  # a copy: the live order keeps changing
    event: str


@dataclass(frozen=True, slots=True)
class TradeEvent:
    account: str
    trade: SimTrade


Event = BookUpdate | OrderEvent | TradeEvent
RawLevel = tuple[str | Decimal, str | Decimal]  # a level as a capture has it, or already exact
# Told where a market's book became crossed: (market id, the event's time ms, best bid, best ask).
CrossedListener = Callable[[str, int, Decimal, Decimal], None]
TIMES_IN_FORCE = frozenset(("gtc", "ioc", "poc", "fok"))
# A deferred market holds at most this many events: a snapshot drops those before it, but a capture of
# deltas (Binance's diff stream) has none after its first, and a market no order met held every delta of
# the run (a two-hour replay of one symbol on two venues grew to 1.3 GB). Past it they are applied, in
# order, as an order would have them applied: the same book, each event checked with its own time.
DEFERRED_EVENTS = 64


class Matcher:
    """``deferred_books``: nobody reads the book between orders (the paper venue; the sandbox publishes every
    change), so while a market has no resting order its events are kept as they came and applied, in order,
    when the next order arrives (or ``DEFERRED_EVENTS`` have gathered): the same book at every order, without
    converting and diffing the snapshots no order ever meets. ``on_crossed`` hears where a market's book became crossed."""

    def __init__(self, markets: Iterable[SimMarket], *, new_id: Callable[[], int] = next_venue_id,
                 deferred_books: bool = False, on_crossed: CrossedListener | None = None) -> None:
        self.markets = {m.id: m for m in markets}
        self.books = {mid: Book(mid) for mid in self.markets}
        self.balances: dict[str, dict[str, Balance]] = {}
        self.positions: dict[tuple[str, str], PositionState] = {}  # (account, market) on perpetuals
        # Per perpetual: each funding time announced and not yet reached -> the last (mark, rate) announced
        # for it; and the funding times settled (a late line announcing one again pays nothing twice).
        self._announced: dict[str, dict[int, tuple[Decimal, Decimal]]] = {}
        self._settled: dict[str, set[int]] = {}
        self.orders: dict[int, SimOrder] = {}
        self.trades: list[SimTrade] = []
        self._resting: dict[str, list[SimOrder]] = {mid: [] for mid in self.markets}
        self._new_id = new_id
        self._deferred: dict[str, list[tuple[str, Iterable[RawLevel], Iterable[RawLevel], int]]] | None = (
            {mid: [] for mid in self.markets} if deferred_books else None)
        self.crossed: dict[str, CrossedBook] = {}  # market -> its book crossed after events (never, normally)
        self._crossed_now: set[str] = set()
        self._on_crossed = on_crossed

    # ---- accounts -------------------------------------------------------------------------------------
    def set_balance(self, account: str, currency: str, available: Decimal) -> None:
        self.balance(account, currency).available = available

    def balance(self, account: str, currency: str) -> Balance:
        return self.balances.setdefault(account, {}).setdefault(currency, Balance())

    def market(self, market_id: str) -> SimMarket:
        market = self.markets.get(market_id)
        if market is None:
            raise Refused(Refusal.UNKNOWN_MARKET, f"unknown market {market_id}")
        return market

    # ---- orders ---------------------------------------------------------------------------------------
    @exact
    def check(self, market: SimMarket, side: str, price: Decimal, amount: Decimal, time_in_force: str) -> None:
        """The market's rules, before anything is locked or taken."""
        if side not in ("buy", "sell") or time_in_force not in TIMES_IN_FORCE:
            raise Refused(Refusal.TIME_IN_FORCE, f"side {side!r} / time in force {time_in_force!r} not supported")
        if amount <= 0 or price <= 0:
            raise Refused(Refusal.NOT_POSITIVE)
        if amount % market.amount_step:
            raise Refused(Refusal.AMOUNT_STEP, f"amount {amount} off step {market.amount_step}")
        if price % market.price_step:
            raise Refused(Refusal.PRICE_STEP, f"price {price} off step {market.price_step}")
        if amount < market.min_amount or market.notional(amount, price) < market.min_notional:
            raise Refused(Refusal.BELOW_MINIMUM)

    @exact
    def place(self, account: str, market_id: str, side: str, price: Decimal, amount: Decimal,
              time_in_force: str, client_id: str, now_ms: int) -> tuple[SimOrder, list[Event]]:
        """Accept (or refuse) an order arriving now and execute what it takes; the order and the events."""
        market = self.market(market_id)
        self.check(market, side, price, amount, time_in_force)
        book = self.book(market.id)
        if time_in_force == "poc" and _crossing(book, side, price):
            raise Refused(Refusal.POST_ONLY_WOULD_TAKE)
        pay_currency, need = market.pays_with(side), _holds(market, side, amount, price)
        bal = self.balance(account, pay_currency)
        if bal.available < need:
            raise Refused(Refusal.INSUFFICIENT_FUNDS, f"{pay_currency} balance too small")
        order = SimOrder(self._new_id(), account, market, side, price, amount, time_in_force, client_id,
                         now_ms, now_ms)
        bal.available -= need
        bal.locked += need
        order.locked = need
        self.orders[order.id] = order
        events: list[Event] = [_order_event(order, "put")]
        if time_in_force == "fok" and _depth(book, side, price) < amount:
            self._finish(order, "cancelled", "fok", now_ms, events)
            return order, events
        self._take(order, book, now_ms, events)
        if order.left == 0:
            self._finish(order, "closed", "filled", now_ms, events)
        elif time_in_force in ("ioc", "fok"):
            self._finish(order, "cancelled", "ioc", now_ms, events)
        else:
            order.queue_ahead = _shown(book, order)
            self._resting[market.id].append(order)
        return order, events

    @exact
    def cancel(self, order: SimOrder, now_ms: int) -> list[Event]:
        if not order.is_open:
            raise Refused(Refusal.ORDER_CLOSED, f"order {order.id} is already finished")
        events: list[Event] = []
        self._finish(order, "cancelled", "cancelled", now_ms, events)
        return events

    @exact
    def amend(self, order: SimOrder, now_ms: int, *, amount: Decimal | None = None,
              price: Decimal | None = None) -> list[Event]:
        """Change a resting order's amount and/or price (the module's amending rule); the events, the order's
        ``update`` among them. Refused, with nothing changed, as :meth:`place` refuses."""
        if not order.is_open:
            raise Refused(Refusal.ORDER_CLOSED, f"order {order.id} is already finished")
        market = order.market
        new_amount = order.amount if amount is None else amount
        new_price = order.price if price is None else price
        events: list[Event] = []
        if new_amount <= order.filled_amount:
            if new_amount <= 0 or new_amount % market.amount_step:
                self.check(market, order.side, new_price, new_amount, order.time_in_force)  # raises
            self._finish(order, "cancelled", "cancelled", now_ms, events)
            return events
        self.check(market, order.side, new_price, new_amount, order.time_in_force)
        book = self.book(market.id)
        reprice = new_price != order.price
        if reprice and order.time_in_force == "poc" and _crossing(book, order.side, new_price):
            raise Refused(Refusal.POST_ONLY_WOULD_TAKE)
        left = new_amount - order.filled_amount
        pay_currency, need = market.pays_with(order.side), _holds(market, order.side, left, new_price)
        more = need - order.locked
        bal = self.balance(order.account, pay_currency)
        if more > bal.available:
            raise Refused(Refusal.INSUFFICIENT_FUNDS, f"{pay_currency} balance too small")
        if more > 0:
            bal.available -= more
            bal.locked += more
            order.locked += more
        elif more < 0:
            self._release(order, -more)
        order.amount, order.price, order.update_ms = new_amount, new_price, now_ms
        events.append(_order_event(order, "update"))
        if not reprice:
            return events  # its place in the queue is kept
        resting = self._resting[market.id]
        resting.remove(order)
        self._take(order, book, now_ms, events)
        if order.left == 0:
            self._finish(order, "closed", "filled", now_ms, events)
        else:
            order.queue_ahead, order.queue_traded = _shown(book, order), ZERO
            resting.append(order)  # last at its new price, our own orders there included
        return events

    def rests(self) -> bool:
        """Whether any order rests in any market."""
        return any(self._resting.values())

    def open_orders(self, account: str | None = None, market_id: str | None = None) -> list[SimOrder]:
        return [o for mid, resting in self._resting.items() if market_id in (None, mid)
                for o in resting if account in (None, o.account)]

    def forget_finished(self, before_ms: int) -> list[SimOrder]:
        """Drop every finished order last changed before ``before_ms`` and its trades; the orders dropped. An
        open order and its trades are kept however old (a quote may rest for hours and its fills be asked for).
        For a venue that keeps its history for a while only: a paper run held ~700 B a quote for good."""
        gone = [o for o in self.orders.values() if not o.is_open and o.update_ms < before_ms]
        if gone:
            ids = {o.id for o in gone}
            for order_id in ids:
                del self.orders[order_id]
            self.trades[:] = [t for t in self.trades if t.order_id not in ids]  # in place: read by reference
        return gone

    # ---- the market moves -----------------------------------------------------------------------------
    def on_book(self, market_id: str, kind: str, bids: Iterable[RawLevel], asks: Iterable[RawLevel],
                now_ms: int) -> list[Event]:
        """A market event (``snapshot`` or ``delta``; levels as decimal strings or ``Decimal``s); queues
        shrink with their levels, and resting orders the book now crosses fill."""
        if self._deferred is not None and not self._resting[market_id]:
            waiting = self._deferred[market_id]
            if kind == "snapshot":
                waiting.clear()  # it sets every level: nothing before it matters
            waiting.append((kind, bids, asks, now_ms))
            if len(waiting) >= DEFERRED_EVENTS:
                self.book(market_id)  # applied now, in order: memory stays bounded between orders
            return []
        book = self.book(market_id)
        resting = self._resting[market_id]
        before = [_shown(book, order) for order in resting]
        update = self._apply(book, kind, bids, asks, now_ms)
        events: list[Event] = [update] if update else []
        if resting:
            self._moved(book, resting, before, now_ms, events)
        return events

    @exact
    def _moved(self, book: Book, resting: list[SimOrder], before: list[Decimal], now_ms: int,
               events: list[Event]) -> None:
        """The market's resting orders after its event: each one's queue (``before``: the size its level
        showed), and its fill where the book now crosses it."""
        for order, was in zip(list(resting), before, strict=True):
            shown = _shown(book, order)
            if shown != was:  # its level changed: the market's queue model says how far it moved up
                order.queue_ahead = order.market.queue.ahead_after(order.queue_ahead, was, shown, order.queue_traded,
                                                                   order.market.amount_step)
                order.queue_traded = ZERO
            if shown < order.queue_ahead:
                order.queue_ahead = shown
            if _crossing(book, order.side, order.price):
                self._take(order, book, now_ms, events, role="maker")
                if order.left == 0:
                    self._finish(order, "closed", "filled", now_ms, events)

    def on_trade(self, market_id: str, price: Decimal, amount: Decimal, aggressor: str,
                 now_ms: int) -> list[Event]:
        """A trade printed in the market: its amount goes to the resting orders it reached (a sell aggressor
        reaches buys at or above its price, a buy sellers at or below) in price priority, then time; at the
        trade's own price the queue ahead of an order takes its share first. One print fills no more than
        its amount in all."""
        events: list[Event] = []
        resting = self._resting.get(market_id)
        if resting:
            self._printed(resting, price, amount, aggressor, now_ms, events)
        return events

    @exact
    def _printed(self, resting: list[SimOrder], price: Decimal, amount: Decimal, aggressor: str, now_ms: int,
                 events: list[Event]) -> None:
        """:meth:`on_trade` where orders rest: the print's amount shared among those it reached."""
        side = "buy" if aggressor == "sell" else "sell"  # the resting side the trade hit
        reached = [o for o in resting if o.side == side and (o.price >= price if side == "buy" else o.price <= price)]
        # Price, then time: the resting list is in time order (an amended price goes last), and the sort is stable.
        reached.sort(key=lambda o: -o.price if side == "buy" else o.price)
        for order in reached:
            if order.price == price:  # the whole print left the level, whoever it filled here
                order.queue_traded += amount
        left = amount
        for order in reached:
            if left <= 0:
                break
            if order.price == price:
                through_queue = min(order.queue_ahead, left)
                order.queue_ahead -= through_queue
                left -= through_queue
            qty = _on_step(min(left, order.left), order.market.amount_step)
            if qty <= 0:
                continue
            left -= qty
            self._trade(order, qty, order.price, "maker", now_ms, events)
            if order.left == 0:
                self._finish(order, "closed", "filled", now_ms, events)

    # ---- internals ------------------------------------------------------------------------------------
    def book(self, market_id: str) -> Book:
        """The market's book with every event so far applied."""
        book = self.books[market_id]
        if self._deferred is not None and (waiting := self._deferred[market_id]):
            for kind, bids, asks, now_ms in waiting:
                self._apply(book, kind, bids, asks, now_ms)
            waiting.clear()
        return book

    def _apply(self, book: Book, kind: str, bids: Iterable[RawLevel], asks: Iterable[RawLevel],
               now_ms: int) -> BookUpdate | None:
        """A market event applied to ``book``, and the book checked: crossed, it is counted (and told where it
        became so)."""
        update = _apply(book, kind, bids, asks, now_ms)
        bid, ask = book.best_bid(), book.best_ask()
        market_id = book.market
        if bid is None or ask is None or bid < ask:
            self._crossed_now.discard(market_id)
            return update
        crossed = self.crossed.get(market_id)
        if crossed is None:
            crossed = self.crossed[market_id] = CrossedBook(now_ms, bid, ask)
        crossed.events += 1
        if market_id not in self._crossed_now:
            self._crossed_now.add(market_id)
            crossed.times += 1
            if self._on_crossed is not None:
                self._on_crossed(market_id, now_ms, bid, ask)
        return update

    def _take(self, order: SimOrder, book: Book, now_ms: int, events: list[Event], role: Role = "taker") -> None:
        book_side = "asks" if order.side == "buy" else "bids"
        for level_price, size in book.reachable(book_side, order.price):
            if order.left == 0:
                break
            qty = _on_step(min(order.left, size), order.market.amount_step)
            if qty <= 0:
                continue  # a level holding less than a step (an off-step recording): nothing to fill there
            # A taker gets the book's price; a resting maker order trades at its own limit price.
            self._trade(order, qty, level_price if role == "taker" else order.price, role, now_ms, events)
            update = book.consume(book_side, level_price, qty, now_ms)
            if update:
                events.append(update)

    def _trade(self, order: SimOrder, qty: Decimal, price: Decimal, role: Role, now_ms: int,
               events: list[Event]) -> None:
        market = order.market
        rate = market.taker_fee if role == "taker" else market.maker_fee
        total = qty * price
        if market.perpetual:
            fee = fill_fee(qty, price, rate, market.contract_size)
            self._settle_position(order, qty, price, fee)
        elif order.side == "buy":
            paid, pay_bal, get_bal = total, self.balance(order.account, market.quote), self.balance(order.account, market.base)
            if market.buy_fee_in == "base":
                fee = qty * rate
                received = qty - fee
            else:  # charged in quote on top of the notional, out of what the order locked
                fee = total * rate
                paid, received = total + fee, qty
        else:
            fee = total * rate
            paid, pay_bal, get_bal, received = (qty, self.balance(order.account, market.base),
                                                self.balance(order.account, market.quote), total - fee)
        if not market.perpetual:
            pay_bal.locked -= paid
            order.locked -= paid
            get_bal.available += received
        order.filled_amount += qty
        order.filled_total += total
        order.fee += fee
        order.update_ms = now_ms
        trade = SimTrade(self._new_id(), order.id, order.account, market.id, order.side, role, qty, price, fee,
                         order.fee_currency, order.client_id, now_ms)
        self.trades.append(trade)
        events.append(_order_event(order, "update"))
        events.append(TradeEvent(order.account, trade))
        if order.side == "buy" and order.left > 0 and not market.perpetual:
            # Keep exactly what the rest may still spend locked; a fill below the limit frees the difference.
            excess = order.locked - order.left * order.price * (1 + _fee_on_top(market))
            if excess > 0 and order.time_in_force in ("gtc", "poc"):
                self._release(order, excess)

    def _settle_position(self, order: SimOrder, qty: Decimal, price: Decimal, fee: Decimal) -> None:
        """A perpetual's fill: the order's margin for ``qty`` released, the fee paid out of the wallet (the
        settle currency), the position moved (``arb/margin.py``), what it realized paid in and its margin held."""
        market = order.market
        bal = self.balance(order.account, market.settle)
        rest = order.left - qty
        held = order.locked if not rest else min(order.locked, _holds(market, order.side, qty, order.price))
        self._release(order, held)
        key = (order.account, market.id)
        before = self.positions.get(key) or PositionState(contract_size=market.contract_size)
        after, realized = apply_fill(before, order.side, price, qty)
        self.positions[key] = after
        margin = after.margin(market.leverage) - before.margin(market.leverage)
        bal.available += realized - fee - margin
        bal.locked += margin

    @exact
    def on_funding(self, market_id: str, mark: Decimal, rate: Decimal, funding_ts: int,
                   now_ms: int) -> list[FundingPayment]:
        """A perpetual's mark and the rate announced for the funding time ``funding_ts``. Every funding time
        announced before and reached now (``now_ms`` at or past it) is settled, once: each position in the
        market receives (or pays) ``arb.margin.funding_payment`` at the last mark and rate announced for it,
        into its wallet. The payments made, in funding-time order."""
        market = self.market(market_id)
        announced = self._announced.setdefault(market_id, {})
        payments: list[FundingPayment] = []
        for due in sorted(t for t in announced if t <= now_ms):
            last_mark, last_rate = announced.pop(due)
            for (account, held_in), position in sorted(self.positions.items()):
                if held_in != market_id or not position.amount:
                    continue
                amount = funding_payment(position.amount, last_mark, last_rate, position.contract_size)
                self.balance(account, market.settle).available += amount
                payments.append(FundingPayment(account, market_id, due, last_rate, last_mark, position.amount,
                                               amount, market.settle))
            self._settled.setdefault(market_id, set()).add(due)
        if funding_ts not in self._settled.get(market_id, ()):
            announced[funding_ts] = (mark, rate)
        return payments

    def position(self, account: str, market_id: str) -> PositionState:
        held = self.positions.get((account, market_id))
        if held is not None:
            return held
        market = self.markets.get(market_id)
        return PositionState(contract_size=None if market is None else market.contract_size)

    def _release(self, order: SimOrder, amount: Decimal) -> None:
        bal = self.balance(order.account, order.market.pays_with(order.side))
        bal.locked -= amount
        bal.available += amount
        order.locked -= amount

    def _finish(self, order: SimOrder, status: str, finish_as: str, now_ms: int, events: list[Event]) -> None:
        if order.locked:
            self._release(order, order.locked)
        order.status, order.finish_as, order.update_ms = status, finish_as, now_ms
        resting = self._resting[order.market.id]
        if order in resting:
            resting.remove(order)
        events.append(_order_event(order, "finish"))


def _apply(book: Book, kind: str, bids: Iterable[RawLevel], asks: Iterable[RawLevel], now_ms: int) -> BookUpdate | None:
    b = [(Decimal(p), Decimal(q)) for p, q in bids]
    a = [(Decimal(p), Decimal(q)) for p, q in asks]
    return book.replace(b, a, now_ms) if kind == "snapshot" else book.apply(b, a, now_ms)


def _on_step(qty: Decimal, step: Decimal) -> Decimal:
    """``qty`` rounded down to the market's amount step: a fill is always whole steps, as on a venue."""
    return qty - qty % step


def _order_event(order: SimOrder, event: str) -> OrderEvent:
    return OrderEvent(order.account, dataclasses.replace(order), event)


def _holds(market: SimMarket, side: str, amount: Decimal, price: Decimal) -> Decimal:
    """What an order of ``amount`` at ``price`` holds while it waits: a spot buy its notional (and its fee
    when a buy pays it in quote), a spot sell its base, a perpetual's order its margin and fee."""
    if market.perpetual:
        return order_margin(amount, price, market.leverage, max(market.taker_fee, market.maker_fee),
                            market.contract_size)
    return amount * price * (1 + _fee_on_top(market)) if side == "buy" else amount


def _fee_on_top(market: SimMarket) -> Decimal:
    """What a buy locks per unit of notional beyond it: the larger fee rate, when a buy's fee is paid in quote."""
    return max(market.taker_fee, market.maker_fee, ZERO) if market.buy_fee_in == "quote" else ZERO


def _shown(book: Book, order: SimOrder) -> Decimal:
    """The size the book shows at ``order``'s price on its side."""
    return (book.bids if order.side == "buy" else book.asks).get(order.price, ZERO)


def _crossing(book: Book, side: str, price: Decimal) -> bool:
    """Whether an order at ``price`` would take: the opposite side's best level at or through it."""
    if side == "buy":
        ask = book.best_ask()
        return ask is not None and ask <= price
    bid = book.best_bid()
    return bid is not None and bid >= price


def _depth(book: Book, side: str, price: Decimal) -> Decimal:
    if side == "buy":
        return sum((s for p, s in book.asks.items() if p <= price), ZERO)
    return sum((s for p, s in book.bids.items() if p >= price), ZERO)
