"""Leg imbalance: what is left unhedged after a pair, what to do about it, and what the pair earned.

All pure and exact. Quantities are *net base*: base bought minus base sold minus base paid as fees (Gate
and Binance take a taker buy's fee from the base received). A hedged pair nets to zero across venues up
to less than one amount step (detection grosses the buy up in base-fee mode; the leftover is recorded
as exposure, never ignored).

Policies, for an excess ``e`` (``e > 0``: long, bought more than sold):

- ``unwind``:   close the excess where it was acquired, IOC at a bounded worse price
                (long: sell ``e`` on the buy venue at ``buy_vwap * (1 - bound)``).
- ``complete``: send the missing quantity on the leg that under-filled, within a price bound
                (long: sell ``e`` on the sell venue at ``sell_limit * (1 - bound)``).
- ``halt``:     send nothing; stop trading (kill switch) and leave the exposure recorded.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from arb.domain.market import BPS, MarketRules, Side
from arb.domain.venue import FillReport
from arb.execution.plan import PairPlan

ZERO = Decimal(0)


class ImbalancePolicy(enum.StrEnum):
    UNWIND = "unwind"
    COMPLETE = "complete"
    HALT = "halt"


@dataclass(frozen=True, slots=True)
class Corrective:
    venue: str
    side: Side
    amount: Decimal
    price: Decimal
    purpose: str  # "unwind" | "complete"


def net_base(fills: Iterable[FillReport], base_asset: str) -> Decimal:
    total = ZERO
    for f in fills:
        total += f.amount if f.side is Side.BUY else -f.amount
        if f.fee_currency == base_asset:
            total -= f.fee
    return total


def net_base_by_venue(fills: Iterable[FillReport], base_asset: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for f in fills:
        out[f.venue] = out.get(f.venue, ZERO) + net_base([f], base_asset)
    return out


def corrective_order(
    policy: ImbalancePolicy,
    excess: Decimal,
    plan: PairPlan,
    rules: dict[str, MarketRules],
    bound_bps: Decimal,
) -> Corrective | None:
    """The one order a policy sends for ``excess`` (net base), or None (halt, or below one step)."""
    if policy is ImbalancePolicy.HALT or excess == 0:
        return None
    factor = bound_bps / BPS
    if excess > 0:  # long: something must be sold
        side = Side.SELL
        if policy is ImbalancePolicy.UNWIND:
            venue, ref = plan.buy.venue, plan.buy_vwap
        else:
            venue, ref = plan.sell.venue, plan.sell.price
        raw_price = ref * (1 - factor)
    else:  # short: something must be bought back
        side = Side.BUY
        if policy is ImbalancePolicy.UNWIND:
            venue, ref = plan.sell.venue, plan.sell_vwap
        else:
            venue, ref = plan.buy.venue, plan.buy.price
        raw_price = ref * (1 + factor)
    r = rules[venue]
    amount = r.round_amount(abs(excess))
    price = r.round_price(raw_price, side)
    if amount <= 0 or amount < r.min_amount or amount * price < r.min_notional:
        return None
    return Corrective(venue, side, amount, price, policy.value)
