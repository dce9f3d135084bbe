"""What the one matcher keeps: markets, orders, trades and balances of a simulated venue.

Protocol-free: the paper venue reports them as :mod:`arb.domain.venue` reports, the Gate sandbox as
Gate v4 JSON (``arb/venues/gate/sandbox/orders.py``). Every amount is an exact ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from arb.domain.market import EXACT
from arb.venues.sim.queue import QueueModel

ZERO = Decimal(0)
BuyFeeIn = Literal["base", "quote"]
Role = Literal["taker", "maker"]


@dataclass(frozen=True, slots=True)
class SimMarket:
    """One market of a simulated venue, under the venue's own name for it (``LINK_USDT`` on Gate)."""

    id: str
    base: str
    quote: str
    price_step: Decimal
    amount_step: Decimal
    min_amount: Decimal = ZERO
    min_notional: Decimal = ZERO
    taker_fee: Decimal = ZERO  # rates: 0.001 == 0.1 %
    maker_fee: Decimal = ZERO  # negative: a rebate
    # The asset a buy's fee is taken from: the base it receives (Gate, Binance and HTX spot), or quote on top
    # of the notional. A sell always pays in quote, out of its proceeds.
    buy_fee_in: BuyFeeIn = "base"
    # A perpetual (``arb/margin.py``): fills move the account's position in this market, orders hold margin in
    # the settle currency and every fee is charged there; ``leverage`` sets the margin. A linear one settles in
    # the quote, amounts in base; an inverse one (``contract_size``: quote per contract) in the base coin,
    # amounts in contracts.
    linear: bool = False
    leverage: Decimal = Decimal(1)
    contract_size: Decimal | None = None
    # Whether a cancel at a resting order's level was ahead of it (``arb/venues/sim/queue.py``): the venue's.
    queue: QueueModel = QueueModel()

    @property
    def perpetual(self) -> bool:
        return self.linear or self.contract_size is not None

    @property
    def settle(self) -> str:
        """The currency a perpetual's margin, fees, PnL and funding are in: the base coin on an inverse market."""
        return self.base if self.contract_size is not None else self.quote

    def notional(self, amount: Decimal, price: Decimal) -> Decimal:
        """What ``amount`` at ``price`` is worth in quote, as the market's minimum reads it: an inverse
        market's contracts are a fixed quote amount each."""
        return amount * self.contract_size if self.contract_size is not None else amount * price

    def fee_currency(self, side: str) -> str:
        if self.perpetual:
            return self.settle
        return self.base if side == "buy" and self.buy_fee_in == "base" else self.quote

    def pays_with(self, side: str) -> str:
        """The currency an order holds while it waits: a spot buy's quote, a spot sell's base, a perpetual's
        settle currency on either side."""
        if self.perpetual:
            return self.settle
        return self.quote if side == "buy" else self.base


@dataclass(slots=True)
class Balance:
    available: Decimal = ZERO
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return EXACT.add(self.available, self.locked)


@dataclass(slots=True)
class SimOrder:
    id: int
    account: str
    market: SimMarket
    side: str  # "buy" | "sell"
    price: Decimal
    amount: Decimal
    time_in_force: str  # gtc | ioc | fok | poc (post-only)
    client_id: str
    create_ms: int
    update_ms: int = 0
    filled_amount: Decimal = ZERO
    filled_total: Decimal = ZERO
    fee: Decimal = ZERO
    status: str = "open"  # open | closed | cancelled
    finish_as: str = "open"  # filled | cancelled | ioc | fok
    locked: Decimal = ZERO  # what this order still holds locked, in the currency it pays with
    # Resting only: how much displayed size at its price is ahead of it in the venue's queue (the queue rule,
    # ``arb/venues/sim/matching.py``).
    queue_ahead: Decimal = ZERO
    # What was printed at its price since its level last changed: the prints moved it up already, and the
    # level shows them only at its next change (the market's queue model, ``arb/venues/sim/queue.py``).
    queue_traded: Decimal = ZERO

    @property
    def left(self) -> Decimal:
        return EXACT.subtract(self.amount, self.filled_amount)  # read outside the matcher too (Gate's "left")

    @property
    def fee_currency(self) -> str:
        return self.market.fee_currency(self.side)

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True, slots=True)
class SimTrade:
    """One fill of one order (an order taking several levels has a trade per level)."""

    id: int
    order_id: int
    account: str
    market: str
    side: str
    role: Role
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    client_id: str
    create_ms: int


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """One account's funding at one funding time of a perpetual: ``amount`` (settle currency) paid into its
    wallet, negative when it paid (``arb.margin.funding_payment``)."""

    account: str
    market: str
    ts_ms: int  # the funding time
    rate: Decimal
    mark: Decimal
    position: Decimal  # signed, held at the funding time: base (contracts on an inverse market)
    amount: Decimal
    currency: str
