"""Turning an approved opportunity into two validated IOC legs, before anything is sent.

Both legs are built and checked together: if either cannot be sent as built (below a minimum, rounds to
nothing, over the slippage allowance), neither is. Limits start from the worst price detection reached
on each side and may be widened by a configured slippage allowance, then rounded toward the safe side
(a buy limit down, a sell limit up) so rounding can never pay more than allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from arb.domain.market import MarketRules, Side, widen
from arb.domain.opportunity import OpportunityLike


@dataclass(frozen=True, slots=True)
class LegPlan:
    venue: str
    side: Side
    amount: Decimal
    price: Decimal  # IOC limit, on the venue's tick


@dataclass(frozen=True, slots=True)
class PairPlan:
    symbol: str
    buy: LegPlan
    sell: LegPlan
    buy_vwap: Decimal
    sell_vwap: Decimal
    expected_profit: Decimal
    detected_at: datetime
    opportunity: OpportunityLike | None = None


class PlanRefused(Exception):
    """The pair cannot be sent as built; ``reason`` is short and stable (``opportunities.reason``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def prepare_leg(venue: str, side: Side, amount: Decimal, limit: Decimal, rules: MarketRules,
                slippage_bps: Decimal) -> LegPlan:
    rounded_amount = rules.round_amount(amount)
    price = rules.round_price(widen(limit, side, slippage_bps), side)
    if rounded_amount <= 0 or rounded_amount < rules.min_amount:
        raise PlanRefused(f"leg_below_min_amount:{venue}")
    if price <= 0:
        raise PlanRefused(f"leg_bad_price:{venue}")
    if rounded_amount * price < rules.min_notional:
        raise PlanRefused(f"leg_below_min_notional:{venue}")
    return LegPlan(venue, side, rounded_amount, price)


def plan_pair(
    opp: OpportunityLike,
    buy_rules: MarketRules,
    sell_rules: MarketRules,
    *,
    slippage_bps: Decimal,
    detected_at: datetime,
) -> PairPlan:
    """Both legs or neither. Raises :class:`PlanRefused`."""
    if opp.buy_venue == opp.sell_venue:
        raise PlanRefused("same_venue")
    buy = prepare_leg(opp.buy_venue, Side.BUY, opp.buy_amount, opp.buy_limit, buy_rules, slippage_bps)
    sell = prepare_leg(opp.sell_venue, Side.SELL, opp.sell_amount, opp.sell_limit, sell_rules, slippage_bps)
    return PairPlan(
        symbol=opp.symbol,
        buy=buy,
        sell=sell,
        buy_vwap=opp.buy_vwap,
        sell_vwap=opp.sell_vwap,
        expected_profit=opp.expected_profit,
        detected_at=detected_at,
        opportunity=opp,
    )
