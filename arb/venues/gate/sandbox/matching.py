"""Gate's order API over the one matcher (``arb/venues/sim/matching.py``, with the sandbox's accounts trading
with one another: ``accounts.py``): requests parsed and refused as Gate refuses them, the matcher's answers in
Gate's words; and each account's dead man's switch (``countdown.py``).

Pure (no I/O, no clock: ``now_ms`` comes in). Order and trade ids come from the injected ``new_id`` (default
:func:`arb.domain.ids.next_venue_id`): numeric like Gate's, and unique across sandbox restarts, so a database
that outlives a sandbox never sees one trade id twice. Every state change returns the matcher's
:data:`Event` values (book updates, order and trade pushes) for the WebSocket layer to publish, so the
engine never knows who listens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import ROUND_UP, Decimal

from arb.domain.ids import next_venue_id
from arb.domain.market import EXACT, exact
from arb.venues.gate.facts import CLIENT_IDS
from arb.venues.gate.sandbox.accounts import AccountsMatcher
from arb.venues.gate.sandbox.apierror import GateApiError, bad_param
from arb.venues.gate.sandbox.contracts import ContractSpec
from arb.venues.gate.sandbox.countdown import MAX_TIMEOUT_S, MIN_TIMEOUT_S, Countdowns
from arb.venues.gate.sandbox.futures import FuturesEngine
from arb.venues.gate.sandbox.orders import PairSpec
from arb.venues.sim.book import Book, Level
from arb.venues.sim.matching import Event, OrderEvent, Refusal, Refused, TradeEvent
from arb.venues.sim.orders import Balance, SimOrder, SimTrade

__all__ = ["Engine", "Event", "OrderEvent", "TradeEvent"]

ZERO = Decimal(0)
GT = "GT"
GT_STEP = Decimal("1e-8")  # GT amounts to 8 decimals, as Gate shows them
_UP = EXACT.copy()  # a fee's value in GT: the matcher's digits, rounded up (Gate's rounding of it)
_UP.rounding = ROUND_UP

# The matcher's refusals as Gate labels them.
_GATE_LABELS = {
    Refusal.BELOW_MINIMUM: (400, "AMOUNT_TOO_LITTLE", "order size below the minimum"),
    Refusal.INSUFFICIENT_FUNDS: (400, "BALANCE_NOT_ENOUGH", "Not enough balance"),
    Refusal.POST_ONLY_WOULD_TAKE: (400, "POC_FILL_IMMEDIATELY", "Order would match and take immediately"),
    Refusal.AMOUNT_STEP: (400, "INVALID_PRECISION", "amount precision exceeds the pair's"),
    Refusal.PRICE_STEP: (400, "INVALID_PRECISION", "price precision exceeds the pair's"),
}


def _gate_error(exc: Refused) -> GateApiError:
    if exc.refusal is Refusal.ORDER_CLOSED:
        return GateApiError(400, "ORDER_CLOSED", str(exc))
    status, label, message = _GATE_LABELS.get(exc.refusal, (400, "INVALID_PARAM_VALUE", str(exc)))
    return GateApiError(status, label, message)


class Engine:
    def __init__(self, pairs: Iterable[PairSpec], *, contracts: Iterable[ContractSpec] = (),
                 new_id: Callable[[], int] = next_venue_id) -> None:
        self.pairs = {p.id: p for p in pairs}
        listed = tuple(contracts)
        self.matcher = AccountsMatcher([*(p.market for p in self.pairs.values()), *(c.market for c in listed)],
                                       new_id=new_id)
        # USDT perpetuals (``futures.py``): their markets in the same matcher, under ``usdt:<contract>``.
        self.futures = FuturesEngine.of(self.matcher, listed, new_id)
        self.amend_texts: dict[int, str] = {}  # an order's last ``amend_text`` (Gate answers ``-`` for none)
        # GT fee deduction (Gate's "pay fees with GT"): the accounts that have it on, and what each side of
        # their trades paid in GT, by (account, trade id): both sides of a trade between two accounts share its
        # id. See :meth:`_pay_in_gt`.
        self.gt_accounts: set[str] = set()
        self.gt_fees: dict[tuple[str, int], Decimal] = {}
        self.countdowns = Countdowns()

    def gt_fee(self, trade: SimTrade) -> Decimal:
        """What the trade paid in GT (0: its fee was charged as usual)."""
        return self.gt_fees.get((trade.account, trade.id), ZERO)

    def _deducted(self, events: list[Event]) -> list[Event]:
        for event in events:
            if isinstance(event, TradeEvent) and event.account in self.gt_accounts and event.trade.fee:
                self._pay_in_gt(event.trade)
        return events

    @exact
    def _pay_in_gt(self, trade: SimTrade) -> None:
        """The trade's fee paid in GT instead, as on Gate with deduction on: its value in the quote at the
        trade's price (a base fee) converted at the mid of the sandbox's ``GT_<quote>`` book, rounded up to
        1e-8 GT, taken from the account's GT and the fee given back. Gate's own discount for paying in GT is
        not modelled (the sandbox charges the fee's full value). No ``GT_<quote>`` pair, a one-sided GT
        book or too little GT: charged as usual, as Gate does when it cannot deduct."""
        quote = self.pairs[trade.market].quote
        book = self.books.get(f"{GT}_{quote}")
        if book is None or not book.bids or not book.asks:
            return
        mid = (max(book.bids) + min(book.asks)) / 2
        value = trade.fee if trade.fee_currency == quote else trade.fee * trade.price
        gt = _UP.divide(value, mid).quantize(GT_STEP, rounding=ROUND_UP)  # up at every digit: up, once
        paying = self.balance(trade.account, GT)
        if paying.available < gt:
            return
        paying.available -= gt
        self.balance(trade.account, trade.fee_currency).available += trade.fee
        self.gt_fees[(trade.account, trade.id)] = gt

    @property
    def books(self) -> dict[str, Book]:
        return self.matcher.books

    @property
    def balances(self) -> dict[str, dict[str, Balance]]:
        return self.matcher.balances

    @property
    def orders(self) -> dict[int, SimOrder]:
        return self.matcher.orders

    @property
    def trades(self) -> list[SimTrade]:
        return self.matcher.trades

    # ---- accounts -------------------------------------------------------------------------------------
    def set_balance(self, key: str, currency: str, available: Decimal) -> None:
        self.matcher.set_balance(key, currency, available)

    def balance(self, key: str, currency: str) -> Balance:
        return self.matcher.balance(key, currency)

    def pair(self, pair_id: str | None) -> PairSpec:
        if not pair_id:
            raise GateApiError(400, "MISSING_REQUIRED_PARAM", "currency_pair is required")
        if pair_id not in self.pairs:
            raise GateApiError(400, "INVALID_CURRENCY_PAIR", f"Invalid currency pair {pair_id}")
        return self.pairs[pair_id]

    # ---- orders ---------------------------------------------------------------------------------------
    def place(self, key: str, req: dict[str, object], now_ms: int) -> tuple[SimOrder, list[Event]]:
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
        if -amount.as_tuple().exponent > pair.amount_precision:  # type: ignore[operator]  # finite (_decimal): an int exponent
            raise GateApiError(400, "INVALID_PRECISION", f"amount precision exceeds {pair.amount_precision}")
        if -price.as_tuple().exponent > pair.precision:  # type: ignore[operator]  # finite (_decimal): an int exponent
            raise GateApiError(400, "INVALID_PRECISION", f"price precision exceeds {pair.precision}")
        text = _str(req.get("text", ""), "text") or "apiv4"
        if text != "apiv4":
            if not CLIENT_IDS.is_valid(text):  # Gate's rule, stated once in its adapter
                raise bad_param("text must start with t- and have at most 28 of [0-9A-Za-z_.-] after it")
            if any(o.client_id == text for o in self.matcher.open_orders(key, pair.id)):
                raise GateApiError(400, "REPEATED_CREATION", f"an open order already uses text {text}")
        try:
            order, events = self.matcher.place(key, pair.id, side, price, amount, tif, text, now_ms)
        except Refused as exc:
            raise _gate_error(exc) from None
        return order, self._deducted(events)

    def amend(self, key: str, pair_id: str | None, ref: str, req: dict[str, object],
              now_ms: int) -> tuple[SimOrder, list[Event]]:
        """``PATCH /spot/orders/{order_id}``: a new ``amount`` and/or ``price`` of an open order (by id, or by
        ``text`` while open), with an optional ``amend_text``. The matcher's amending rule
        (``arb/venues/sim/matching.py``) is Gate's: only the amount changed keeps the order's priority, a new
        price puts it last at that price, an amount below what has filled cancels it."""
        order = self.find(key, pair_id, ref)
        pair = self.pairs[order.market.id]
        amount = price = None
        if req.get("amount") is not None:
            amount = _decimal(req.get("amount"), "amount")
            if -amount.as_tuple().exponent > pair.amount_precision:  # type: ignore[operator]  # finite (_decimal): an int exponent
                raise GateApiError(400, "INVALID_PRECISION", f"amount precision exceeds {pair.amount_precision}")
        if req.get("price") is not None:
            price = _decimal(req.get("price"), "price")
            if -price.as_tuple().exponent > pair.precision:  # type: ignore[operator]  # finite (_decimal): an int exponent
                raise GateApiError(400, "INVALID_PRECISION", f"price precision exceeds {pair.precision}")
        if amount is None and price is None:
            raise bad_param("either amount or price must be specified")
        amend_text = _str(req.get("amend_text", ""), "amend_text")
        if amend_text and not AMEND_TEXT_RE.fullmatch(amend_text):
            raise bad_param("amend_text must be at most 31 of [0-9A-Za-z_.-]")
        try:
            events = self.matcher.amend(order, now_ms, amount=amount, price=price)
        except Refused as exc:
            raise _gate_error(exc) from None
        if amend_text:
            self.amend_texts[order.id] = amend_text
        return order, self._deducted(events)

    def amend_text(self, order_id: int) -> str:
        return self.amend_texts.get(order_id, "-")

    def cancel(self, key: str, pair_id: str | None, ref: str, now_ms: int) -> tuple[SimOrder, list[Event]]:
        order = self.find(key, pair_id, ref)
        try:
            return order, self.matcher.cancel(order, now_ms)
        except Refused as exc:
            raise _gate_error(exc) from None

    def cancel_all(
        self, key: str, pair_id: str | None, side: str | None, now_ms: int
    ) -> tuple[list[SimOrder], list[Event]]:
        pair = self.pair(pair_id)
        events: list[Event] = []
        done = []
        for order in sorted(self.matcher.open_orders(key, pair.id), key=lambda o: o.id):
            if side in (None, "", order.side):
                events += self.matcher.cancel(order, now_ms)
                done.append(order)
        return done, events

    def countdown_cancel_all(self, key: str, req: dict[str, object], now_ms: int) -> int:
        """``POST /spot/countdown_cancel_all``: arm, reset or (``timeout`` 0) end the account's countdown for
        ``currency_pair`` (every pair when none is named); its trigger time in ms, 0 once ended."""
        timeout = req.get("timeout")
        if timeout is None:
            raise GateApiError(400, "MISSING_REQUIRED_PARAM", "timeout is required")
        if isinstance(timeout, bool) or not isinstance(timeout, int):
            raise bad_param("timeout must be a whole number of seconds")
        named = _str(req.get("currency_pair"), "currency_pair")
        pair_id = self.pair(named).id if named else None
        if timeout == 0:
            self.countdowns.disarm(key, pair_id)
            return 0
        if not MIN_TIMEOUT_S <= timeout <= MAX_TIMEOUT_S:
            raise bad_param(f"timeout must be at least {MIN_TIMEOUT_S} seconds (at most {MAX_TIMEOUT_S}), "
                            "or 0 to cancel the countdown")
        return self.countdowns.arm(key, pair_id, timeout, now_ms)

    def expire_countdowns(self, now_ms: int) -> list[Event]:
        """Every countdown whose trigger time has come by ``now_ms`` cancels its account's open orders (of its
        pair) as the account's own cancel would, at the trigger time."""
        events: list[Event] = []
        for countdown in self.countdowns.run_out(now_ms):
            for order in self.open_orders(countdown.account, countdown.pair):
                events += self.matcher.cancel(order, countdown.trigger_ms)
        return events

    def find(self, key: str, pair_id: str | None, ref: str) -> SimOrder:
        """By id, or by ``text`` while the order is open (as on Gate)."""
        pair = self.pair(pair_id)
        order: SimOrder | None = None
        if ref.isascii() and ref.isdigit() and len(ref) <= 20:  # int() refuses '²' and 5000-digit strings
            order = self.matcher.orders.get(int(ref))
        elif ref.startswith("t-"):
            order = next((o for o in self.matcher.open_orders(key, pair.id) if o.client_id == ref), None)
        if order is None or order.account != key or order.market.id != pair.id:
            raise GateApiError(404, "ORDER_NOT_FOUND", f"Order {ref} not found")
        return order

    def open_orders(self, key: str, pair_id: str | None = None) -> list[SimOrder]:
        return sorted(self.matcher.open_orders(key, pair_id), key=lambda o: o.id)

    # ---- the market moves -----------------------------------------------------------------------------
    def on_book(
        self, pair_id: str, kind: str, bids: Iterable[Level], asks: Iterable[Level], now_ms: int
    ) -> list[Event]:
        """A feed event (``snapshot`` or ``delta``); resting orders the market moved through then fill."""
        return self._deducted(self.matcher.on_book(pair_id, kind, bids, asks, now_ms))

    def on_trade(self, pair_id: str, price: Decimal, amount: Decimal, aggressor: str, now_ms: int) -> list[Event]:
        """A trade printed in the market: resting orders it reached fill (the matcher's queue rule)."""
        return self._deducted(self.matcher.on_trade(pair_id, price, amount, aggressor, now_ms))


# Larger amounts or prices are refused before any arithmetic, so no product can overflow the context.
MAX_NUMBER = Decimal("1e15")
# A plain decimal as Gate's clients send it ("1.5"); Decimal() alone would also take "1_0", " 1", "1e9",
# non-ASCII digits and "NaN".
DECIMAL_RE = re.compile(r"[0-9]{1,40}(?:\.[0-9]{1,40})?")
# ``amend_text``: Gate documents it only as "custom info during amending order"; held to its ``text``
# characters, without the ``t-`` prefix (an assumption: Gate states no rule).
AMEND_TEXT_RE = re.compile(r"[0-9A-Za-z_.\-]{1,31}")


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
