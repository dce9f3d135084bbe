"""The sandbox matching engine: balances, limit orders and fills against the replayed book.

Pure (no I/O, no clock: ``now_ms`` comes in), exact ``Decimal`` math. The book is the recorded or
simulated market, not an order book of sandbox users: a taker order walks the opposite side up to its limit
price and the liquidity it takes stays gone until the next book event sets those levels again. A resting
GTC order is not shown in the public book; it fills as maker at its own price when the market moves
through it (the opposite side crosses its price), consuming the crossing liquidity.

Order and trade ids come from the injected ``new_id`` (default :func:`arb.domain.ids.next_venue_id`):
numeric like Gate's, and unique across sandbox restarts, so a database that outlives a sandbox never
sees one trade id twice.

Every state change returns :data:`Event` values (book updates, order and trade pushes) for the
WebSocket layer to publish, so the engine never knows who listens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from arb.domain.ids import next_venue_id
from arb.sandbox.apierror import GateApiError, bad_param
from arb.sandbox.book import Book, BookUpdate, Level
from arb.sandbox.orders import ZERO, Order, PairSpec, Trade
from arb.venues.gate.facts import CLIENT_IDS


@dataclass(frozen=True, slots=True)
class OrderEvent:
    key: str
    order: dict[str, object]  # the order's JSON at that moment, with its ``event`` (put/update/finish)


@dataclass(frozen=True, slots=True)
class TradeEvent:
    key: str
    trade: Trade


Event = BookUpdate | OrderEvent | TradeEvent


@dataclass(slots=True)
class Balance:
    available: Decimal = ZERO
    locked: Decimal = ZERO


class Engine:
    def __init__(self, pairs: Iterable[PairSpec], *, new_id: Callable[[], int] = next_venue_id) -> None:
        self.pairs = {p.id: p for p in pairs}
        self.books = {pid: Book(pid) for pid in self.pairs}
        self.balances: dict[str, dict[str, Balance]] = {}
        self.orders: dict[int, Order] = {}
        self.trades: list[Trade] = []
        self._new_id = new_id

    # ---- accounts -------------------------------------------------------------------------------------
    def set_balance(self, key: str, currency: str, available: Decimal) -> None:
        self.balances.setdefault(key, {}).setdefault(currency, Balance()).available = available

    def balance(self, key: str, currency: str) -> Balance:
        return self.balances.setdefault(key, {}).setdefault(currency, Balance())

    def pair(self, pair_id: str | None) -> PairSpec:
        if not pair_id:
            raise GateApiError(400, "MISSING_REQUIRED_PARAM", "currency_pair is required")
        if pair_id not in self.pairs:
            raise GateApiError(400, "INVALID_CURRENCY_PAIR", f"Invalid currency pair {pair_id}")
        return self.pairs[pair_id]

    # ---- orders ---------------------------------------------------------------------------------------
    def place(self, key: str, req: dict[str, object], now_ms: int) -> tuple[Order, list[Event]]:
        """Validate and execute ``POST /spot/orders``; the order as answered plus what to publish."""
        pair = self.pair(_str(req.get("currency_pair"), "currency_pair"))
        side = _str(req.get("side"), "side")
        if side not in ("buy", "sell"):
            raise bad_param(f"invalid side {side!r}")
        if _str(req.get("type", "limit"), "type") != "limit":
            raise bad_param("the sandbox only supports limit orders; use time_in_force=ioc")
        if _str(req.get("account", "spot"), "account") not in ("spot", "cross_margin", "unified"):
            raise bad_param("invalid account")
        tif = _str(req.get("time_in_force", "gtc"), "time_in_force")
        if tif not in ("gtc", "ioc", "poc", "fok"):
            raise bad_param(f"invalid time_in_force {tif!r}")
        amount = _decimal(req.get("amount"), "amount")
        price = _decimal(req.get("price"), "price")
        if -amount.as_tuple().exponent > pair.amount_precision:  # type: ignore[operator]
            raise GateApiError(400, "INVALID_PRECISION", f"amount precision exceeds {pair.amount_precision}")
        if -price.as_tuple().exponent > pair.precision:  # type: ignore[operator]
            raise GateApiError(400, "INVALID_PRECISION", f"price precision exceeds {pair.precision}")
        if amount < pair.min_base_amount or amount * price < pair.min_quote_amount:
            raise GateApiError(400, "AMOUNT_TOO_LITTLE", "order size below the minimum")
        text = _str(req.get("text", ""), "text") or "apiv4"
        if text != "apiv4":
            if not CLIENT_IDS.is_valid(text):  # Gate's rule, stated once in its adapter
                raise bad_param("text must start with t- and have at most 28 of [0-9A-Za-z_.-] after it")
            if any(o.text == text and o.key == key and o.status == "open" for o in self.orders.values()):
                raise GateApiError(400, "REPEATED_CREATION", f"an open order already uses text {text}")
        pay_currency, need = (pair.quote, amount * price) if side == "buy" else (pair.base, amount)
        book = self.books[pair.id]
        if tif == "poc" and self._crossing(book, side, price):
            raise GateApiError(400, "POC_FILL_IMMEDIATELY", "Order would match and take immediately")
        bal = self.balance(key, pay_currency)
        if bal.available < need:
            raise GateApiError(400, "BALANCE_NOT_ENOUGH", "Not enough balance")
        order = Order(self._new_id(), key, pair, side, price, amount, tif, text, now_ms, now_ms)
        bal.available -= need
        bal.locked += need
        order.locked = need
        self.orders[order.id] = order
        events: list[Event] = [OrderEvent(key, order.to_json("put"))]
        if tif == "fok" and self._depth(book, side, price) < amount:
            self._finish(order, "cancelled", "fok", now_ms, events)
            return order, events
        self._fill(order, book, "taker", now_ms, events)
        if order.left == 0:
            self._finish(order, "closed", "filled", now_ms, events)
        elif tif in ("ioc", "fok"):
            self._finish(order, "cancelled", "ioc", now_ms, events)
        return order, events

    def cancel(self, key: str, pair_id: str | None, ref: str, now_ms: int) -> tuple[Order, list[Event]]:
        order = self.find(key, pair_id, ref)
        if order.status != "open":
            raise GateApiError(400, "ORDER_CLOSED", f"Order {ref} is already finished")
        events: list[Event] = []
        self._finish(order, "cancelled", "cancelled", now_ms, events)
        return order, events

    def cancel_all(
        self, key: str, pair_id: str | None, side: str | None, now_ms: int
    ) -> tuple[list[Order], list[Event]]:
        pair = self.pair(pair_id)
        events: list[Event] = []
        done = []
        for order in list(self.open_orders(key, pair.id)):
            if side in (None, "", order.side):
                self._finish(order, "cancelled", "cancelled", now_ms, events)
                done.append(order)
        return done, events

    def find(self, key: str, pair_id: str | None, ref: str) -> Order:
        """By id, or by ``text`` while the order is open (as on Gate)."""
        pair = self.pair(pair_id)
        order: Order | None = None
        if ref.isascii() and ref.isdigit() and len(ref) <= 20:  # int() refuses '²' and 5000-digit strings
            order = self.orders.get(int(ref))
        elif ref.startswith("t-"):
            order = next((o for o in self.open_orders(key, pair.id) if o.text == ref), None)
        if order is None or order.key != key or order.pair.id != pair.id:
            raise GateApiError(404, "ORDER_NOT_FOUND", f"Order {ref} not found")
        return order

    def open_orders(self, key: str, pair_id: str | None = None) -> list[Order]:
        return [
            o
            for o in self.orders.values()
            if o.key == key and o.status == "open" and pair_id in (None, o.pair.id)
        ]

    # ---- the market moves -----------------------------------------------------------------------------
    def on_book(
        self, pair_id: str, kind: str, bids: Iterable[Level], asks: Iterable[Level], now_ms: int
    ) -> list[Event]:
        """A feed event (``snapshot`` or ``delta``); resting orders the market moved through then fill."""
        book = self.books[pair_id]
        update = book.replace(bids, asks, now_ms) if kind == "snapshot" else book.apply(bids, asks, now_ms)
        events: list[Event] = [update] if update else []
        for order in sorted(self.open_orders_all(pair_id), key=lambda o: o.id):
            if self._crossing(book, order.side, order.price):
                self._fill(order, book, "maker", now_ms, events)
                if order.left == 0:
                    self._finish(order, "closed", "filled", now_ms, events)
        return events

    def open_orders_all(self, pair_id: str) -> list[Order]:
        return [o for o in self.orders.values() if o.status == "open" and o.pair.id == pair_id]

    # ---- internals ------------------------------------------------------------------------------------
    @staticmethod
    def _crossing(book: Book, side: str, price: Decimal) -> bool:
        if side == "buy":
            return any(p <= price for p in book.asks)
        return any(p >= price for p in book.bids)

    @staticmethod
    def _depth(book: Book, side: str, price: Decimal) -> Decimal:
        if side == "buy":
            return sum((s for p, s in book.asks.items() if p <= price), ZERO)
        return sum((s for p, s in book.bids.items() if p >= price), ZERO)

    def _fill(self, order: Order, book: Book, role: str, now_ms: int, events: list[Event]) -> None:
        levels = book.sorted_asks() if order.side == "buy" else book.sorted_bids()
        book_side = "asks" if order.side == "buy" else "bids"
        rate = order.pair.taker_fee if role == "taker" else order.pair.maker_fee
        for level_price, size in levels:
            if order.left == 0:
                break
            if (order.side == "buy" and level_price > order.price) or (
                order.side == "sell" and level_price < order.price
            ):
                break
            qty = min(order.left, size)
            # A taker gets the book's price; a resting maker order trades at its own limit price.
            deal = level_price if role == "taker" else order.price
            self._trade(order, qty, deal, rate, role, now_ms, events)
            update = book.consume(book_side, level_price, qty, now_ms)
            if update:
                events.append(update)

    def _trade(
        self,
        order: Order,
        qty: Decimal,
        price: Decimal,
        rate: Decimal,
        role: str,
        now_ms: int,
        events: list[Event],
    ) -> None:
        base, quote = order.pair.base, order.pair.quote
        total = qty * price
        if order.side == "buy":
            fee = qty * rate
            paid, pay_bal, get_bal, received = (
                total,
                self.balance(order.key, quote),
                self.balance(order.key, base),
                qty - fee,
            )
        else:
            fee = total * rate
            paid, pay_bal, get_bal, received = (
                qty,
                self.balance(order.key, base),
                self.balance(order.key, quote),
                total - fee,
            )
        pay_bal.locked -= paid
        order.locked -= paid
        get_bal.available += received
        order.filled_amount += qty
        order.filled_total += total
        order.fee += fee
        order.update_ms = now_ms
        trade = Trade(
            self._new_id(),
            order.id,
            order.key,
            order.pair.id,
            order.side,
            role,
            qty,
            price,
            fee,
            order.fee_currency,
            order.text,
            now_ms,
        )
        self.trades.append(trade)
        events.append(OrderEvent(order.key, order.to_json("update")))
        events.append(TradeEvent(order.key, trade))
        if order.side == "buy" and order.time_in_force in ("gtc", "poc") and order.left > 0:
            # Keep exactly left * limit price locked; a fill below the limit frees the difference now.
            excess = order.locked - order.left * order.price
            if excess > 0:
                self._release(order, excess)

    def _release(self, order: Order, amount: Decimal) -> None:
        currency = order.pair.quote if order.side == "buy" else order.pair.base
        bal = self.balance(order.key, currency)
        bal.locked -= amount
        bal.available += amount
        order.locked -= amount

    def _finish(self, order: Order, status: str, finish_as: str, now_ms: int, events: list[Event]) -> None:
        if order.locked:
            self._release(order, order.locked)
        order.status, order.finish_as, order.update_ms = status, finish_as, now_ms
        events.append(OrderEvent(order.key, order.to_json("finish")))


# Larger amounts or prices are refused before any arithmetic, so no product can overflow the context.
MAX_NUMBER = Decimal("1e15")
# A plain decimal as Gate's clients send it ("1.5"); Decimal() alone would also take "1_0", " 1", "1e9",
# non-ASCII digits and "NaN".
DECIMAL_RE = re.compile(r"[0-9]{1,40}(?:\.[0-9]{1,40})?")


def _str(value: object, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_param(f"{name} must be a string")
    return value


def _decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise bad_param(f"{name} must be a decimal string")
    if isinstance(value, str) and not DECIMAL_RE.fullmatch(value):
        raise bad_param(f"{name} must be a plain decimal string such as 1.5")
    number = Decimal(value)
    if not number.is_finite() or number <= 0:
        raise bad_param(f"{name} must be positive")
    if number > MAX_NUMBER:
        raise bad_param(f"{name} must not exceed {MAX_NUMBER:f}")
    return number
