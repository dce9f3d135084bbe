"""Gate's USDT perpetuals over the sandbox's one matcher: orders in signed contracts, positions, the futures
wallet, marks and funding (pure: no I/O, ``now_ms`` comes in).

What Gate does and the sandbox does too:

- ``POST /futures/usdt/orders``: ``size`` in contracts, > 0 buys and < 0 sells; ``price`` on the contract's
  ``order_price_round``; ``tif`` ``gtc``/``ioc``/``poc``/``fok``; ``text`` the client id (``t-...``). A price
  of 0 (a market order) is refused: the sandbox matches limit orders only. A ``reduce_only`` order that would
  open or grow the position finishes at once as ``reduce_only``, unfilled; one larger than the position is
  cut to it. Orders hold margin in the futures wallet (``arb.margin.order_margin``); too little:
  ``INSUFFICIENT_AVAILABLE``.
- ``GET/DELETE /futures/usdt/orders/{order_id}``: by id, or by ``text`` (Gate finds futures orders by their
  text after they finish, too).
- a funding time pays each position ``-size x multiplier x mark x rate`` (``arb.margin.funding_payment``) into
  the wallet and writes one ``fund`` entry to the account book, as ``/futures/usdt/account_book`` lists it.

Marks: the last a funding line announced (the capture's ``funding`` lines, pushed as a feed pushes books),
else the contract's book mid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from arb.margin import PositionState
from arb.venues.gate.facts import CLIENT_IDS
from arb.venues.gate.sandbox.apierror import GateApiError, bad_param
from arb.venues.gate.sandbox.contracts import ContractSpec, futures_account, market_id
from arb.venues.sim.matching import Event, Matcher, Refusal, Refused
from arb.venues.sim.orders import SimOrder

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class FundEntry:
    """One ``fund`` line of an account's futures account book."""

    account: str  # the futures account (``futures_account(key)``)
    time_ms: int  # the funding time
    change: Decimal  # settle currency, > 0 received
    balance: Decimal  # the wallet after it
    contract: str


@dataclass(slots=True)
class ContractState:
    mark: Decimal | None = None
    index: Decimal | None = None
    rate: Decimal = ZERO
    next_apply_ms: int = 0


@dataclass
class FuturesEngine:
    matcher: Matcher
    contracts: dict[str, ContractSpec]
    new_id: Callable[[], int]  # the sandbox's order ids (an order refused as reduce-only still gets one)
    states: dict[str, ContractState] = field(default_factory=dict)
    fund_book: list[FundEntry] = field(default_factory=list)
    reduce_only: set[int] = field(default_factory=set)  # order ids placed reduce-only

    @classmethod
    def of(cls, matcher: Matcher, contracts: Iterable[ContractSpec], new_id: Callable[[], int]) -> FuturesEngine:
        listed = {c.name: c for c in contracts}
        return cls(matcher, listed, new_id, {name: ContractState() for name in listed})

    def contract(self, name: object) -> ContractSpec:
        if not name:
            raise GateApiError(400, "MISSING_REQUIRED_PARAM", "contract is required")
        if not isinstance(name, str) or name not in self.contracts:
            raise GateApiError(400, "CONTRACT_NOT_FOUND", f"contract {str(name)[:40]} not found")
        return self.contracts[name]

    def mark(self, spec: ContractSpec) -> Decimal | None:
        state = self.states[spec.name]
        if state.mark is not None:
            return state.mark
        book = self.matcher.books.get(market_id(spec.name))
        if book is None or not book.bids or not book.asks:
            return None
        return (max(book.bids) + min(book.asks)) / 2

    def position(self, key: str, spec: ContractSpec) -> PositionState:
        return self.matcher.position(futures_account(key), market_id(spec.name))

    # ---- orders ---------------------------------------------------------------------------------------
    def place(self, key: str, req: dict[str, object], now_ms: int) -> tuple[SimOrder, list[Event]]:
        spec = self.contract(req.get("contract"))
        size = _contracts(req.get("size"))
        if not size:
            raise GateApiError(400, "SIZE_TOO_SMALL", "size must not be 0")
        price = _price(req.get("price"))
        if -price.as_tuple().exponent > spec.price_decimals:  # type: ignore[operator]  # finite (_decimal): an int exponent
            raise GateApiError(400, "INVALID_PRECISION", f"price precision exceeds {spec.price_decimals}")
        tif = req.get("tif", "gtc")
        if tif not in ("gtc", "ioc", "poc", "fok"):
            raise bad_param(f"invalid tif {tif!r}")
        text = req.get("text") or "api"
        if not isinstance(text, str) or (text != "api" and not CLIENT_IDS.is_valid(text)):
            raise bad_param("text must start with t- and have at most 28 of [0-9A-Za-z_.-] after it")
        account, side = futures_account(key), "buy" if size > 0 else "sell"
        if text != "api" and any(o.client_id == text for o in self.matcher.open_orders(account, market_id(spec.name))):
            raise GateApiError(400, "REPEATED_CREATION", f"an open order already uses text {text}")
        amount = abs(size) * spec.quanto_multiplier
        reduce_only = req.get("reduce_only") is True
        if reduce_only:
            held = self.position(key, spec).amount
            if not held or (held > 0) == (size > 0):
                return self._unfilled(account, spec, side, price, amount, str(tif), text, now_ms), []
            amount = min(amount, abs(held))
        try:
            order, events = self.matcher.place(account, market_id(spec.name), side, price, amount, str(tif), text,
                                               now_ms)
        except Refused as exc:
            raise _futures_error(exc) from None
        if reduce_only:
            self.reduce_only.add(order.id)
        return order, events

    def _unfilled(self, account: str, spec: ContractSpec, side: str, price: Decimal, amount: Decimal, tif: str,
                  text: str, now_ms: int) -> SimOrder:
        """A reduce-only order with nothing to reduce: recorded, finished as ``reduce_only``, never matched."""
        order = SimOrder(self.new_id(), account, spec.market, side, price, amount, tif, text, now_ms)
        order.status, order.finish_as, order.update_ms = "closed", "reduce_only", now_ms
        self.matcher.orders[order.id] = order
        self.reduce_only.add(order.id)
        return order

    def find(self, key: str, ref: str, contract: object = None) -> SimOrder:
        """By id, or by ``text`` (the newest with it)."""
        account = futures_account(key)
        order: SimOrder | None = None
        if ref.isascii() and ref.isdigit() and len(ref) <= 20:
            order = self.matcher.orders.get(int(ref))
        elif ref.startswith("t-"):
            order = next((o for o in sorted(self.matcher.orders.values(), key=lambda o: -o.id)
                          if o.account == account and o.client_id == ref), None)
        if order is None or order.account != account or (contract and order.market.id != market_id(str(contract))):
            raise GateApiError(404, "ORDER_NOT_FOUND", f"Order {ref} not found")
        return order

    def cancel(self, key: str, ref: str, now_ms: int) -> tuple[SimOrder, list[Event]]:
        order = self.find(key, ref)
        try:
            return order, self.matcher.cancel(order, now_ms)
        except Refused as exc:
            raise _futures_error(exc) from None

    def orders(self, key: str, spec: ContractSpec | None, status: str) -> list[SimOrder]:
        account = futures_account(key)
        return sorted((o for o in self.matcher.orders.values() if o.account == account
                       and (spec is None or o.market.id == market_id(spec.name))
                       and (o.status == "open") == (status == "open")), key=lambda o: -o.id)

    # ---- marks and funding ----------------------------------------------------------------------------
    def on_funding(self, contract: str, mark: Decimal, rate: Decimal, funding_ts: int, now_ms: int,
                   index: Decimal | None = None) -> None:
        """A funding line: the contract's mark and the rate announced for ``funding_ts``; every funding time
        reached is paid (the matcher's rule) and written to the account book."""
        spec = self.contract(contract)
        state = self.states[spec.name]
        state.mark, state.index, state.rate, state.next_apply_ms = mark, index, rate, funding_ts
        for paid in self.matcher.on_funding(market_id(spec.name), mark, rate, funding_ts, now_ms):
            wallet = self.matcher.balance(paid.account, spec.quote)
            self.fund_book.append(FundEntry(paid.account, paid.ts_ms, paid.amount, wallet.total,
                                            spec.name))


def _futures_error(exc: Refused) -> GateApiError:
    if exc.refusal is Refusal.INSUFFICIENT_FUNDS:
        return GateApiError(400, "INSUFFICIENT_AVAILABLE", "insufficient available balance")
    if exc.refusal is Refusal.BELOW_MINIMUM:
        return GateApiError(400, "SIZE_TOO_SMALL", "order size below the minimum")
    if exc.refusal is Refusal.POST_ONLY_WOULD_TAKE:
        return GateApiError(400, "ORDER_POC_IMMEDIATE", "order would match and take immediately")
    if exc.refusal is Refusal.ORDER_CLOSED:
        return GateApiError(400, "ORDER_FINISHED", str(exc))
    return GateApiError(400, "INVALID_PARAM_VALUE", str(exc))


def _contracts(value: object) -> Decimal:
    """``size``: a whole number of contracts, as a JSON integer or a decimal string (``X-Gate-Size-Decimal``)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise bad_param("size must be an integer number of contracts")
    try:
        size = Decimal(value)
    except ArithmeticError:
        raise bad_param("size must be an integer number of contracts") from None
    if not size.is_finite() or size != size.to_integral_value() or abs(size) > Decimal("1e9"):
        raise bad_param("size must be an integer number of contracts")
    return size


def _price(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise bad_param("price must be a decimal string")
    try:
        price = Decimal(value)
    except ArithmeticError:
        raise bad_param("price must be a decimal string") from None
    if not price.is_finite() or price < 0 or price > Decimal("1e15"):
        raise bad_param("price must be a positive decimal")
    if price == 0:
        raise bad_param("the sandbox matches limit orders only (price 0 is a market order)")
    return price
