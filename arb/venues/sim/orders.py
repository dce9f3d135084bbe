"""What the one matcher keeps: markets, orders, trades and balances of a simulated venue.

Protocol-free: the paper venue reports them as :mod:`arb.domain.venue` reports, the Gate sandbox as
Gate v4 JSON (``arb/venues/gate/sandbox/orders.py``). Every amount is an exact ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

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

    def fee_currency(self, side: str) -> str:
        return self.base if side == "buy" and self.buy_fee_in == "base" else self.quote


@dataclass(slots=True)
class Balance:
    available: Decimal = ZERO
    locked: Decimal = ZERO


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

    @property
    def left(self) -> Decimal:
        return self.amount - self.filled_amount

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
