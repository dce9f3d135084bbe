"""Read-side aggregates the run report needs: the funnel, profit expected vs realized, slippage.

Sums are done in Python over ``Decimal`` rows, not with SQL ``SUM``: on SQLite the amounts are exact text
and ``SUM`` would go through float. The volumes involved (one run's orders and fills) are small.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arb.store.models import Fill, Opportunity, Order


@dataclass(frozen=True, slots=True)
class Funnel:
    """How many opportunities a run detected, executed and rejected, and why they were rejected."""

    detected: int
    executed: int
    rejected: int
    reasons: dict[str, int] = field(default_factory=dict)  # most frequent first


@dataclass(frozen=True, slots=True)
class Slippage:
    """One order's average fill price against the price detection expected for that leg.

    ``cost`` is in quote and positive when the fill was worse than expected (paid more / received less).
    """

    order_id: int
    client_order_id: str
    venue: str
    side: str
    expected_price: Decimal
    average_price: Decimal
    filled: Decimal
    cost: Decimal


def funnel(session: Session, run_id: int) -> Funnel:
    rows = session.execute(
        select(Opportunity.decision, Opportunity.reason, func.count())
        .where(Opportunity.run_id == run_id)
        .group_by(Opportunity.decision, Opportunity.reason)
    ).all()
    decisions: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for decision, reason, count in rows:
        decisions[decision] += count
        if decision == "rejected":
            reasons[reason] += count
    return Funnel(
        detected=sum(decisions.values()),
        executed=decisions["executed"],
        rejected=decisions["rejected"],
        reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def expected_profit(session: Session, run_id: int) -> Decimal:
    """Sum of ``expected_profit`` over the run's executed opportunities (quote, net of fees)."""
    values = session.scalars(
        select(Opportunity.expected_profit).where(
            Opportunity.run_id == run_id, Opportunity.decision == "executed"
        )
    )
    return sum(values, Decimal(0))


def asset_flows(session: Session, run_id: int) -> dict[tuple[str, str], Decimal]:
    """Net change per (venue, asset) caused by the run's fills, fees included.

    A buy adds ``amount`` base and spends ``price * amount`` quote, a sell the reverse; the fee leaves in
    its own currency. Summed over venues, the quote asset's change is the realized PnL when the base
    changes cancel out; a non-zero base change is inventory the run left behind.
    """
    rows = session.execute(
        select(Fill.venue, Fill.price, Fill.amount, Fill.fee, Fill.fee_currency, Order.side, Order.symbol)
        .join(Order, Fill.order_id == Order.id)
        .where(Order.run_id == run_id)
    ).all()
    flows: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for venue, price, amount, fee, fee_currency, side, symbol in rows:
        base, quote = split_symbol(symbol)
        sign = 1 if side == "buy" else -1
        flows[(venue, base)] += sign * amount
        flows[(venue, quote)] -= sign * price * amount
        flows[(venue, fee_currency)] -= fee
    return dict(sorted(flows.items()))


def realized_by_asset(session: Session, run_id: int) -> dict[str, Decimal]:
    """:func:`asset_flows` summed over venues: the run's net change per asset."""
    totals: defaultdict[str, Decimal] = defaultdict(Decimal)
    for (_venue, asset), change in asset_flows(session, run_id).items():
        totals[asset] += change
    return dict(sorted(totals.items()))


def slippage(session: Session, run_id: int) -> list[Slippage]:
    """Per filled order linked to an opportunity: average fill price vs the leg's depth-walked VWAP."""
    rows = session.execute(
        select(Order, Opportunity.buy_price, Opportunity.sell_price)
        .join(Opportunity, Order.opportunity_id == Opportunity.id)
        .where(Order.run_id == run_id)
        .order_by(Order.id)
    ).all()
    fills_by_order: defaultdict[int, list[tuple[Decimal, Decimal]]] = defaultdict(list)
    for order_id, price, amount in session.execute(
        select(Fill.order_id, Fill.price, Fill.amount).join(Order).where(Order.run_id == run_id)
    ):
        fills_by_order[order_id].append((price, amount))
    result = []
    for order, buy_price, sell_price in rows:
        fills = fills_by_order.get(order.id)
        if not fills:
            continue
        filled = sum((amount for _, amount in fills), Decimal(0))
        average = sum((price * amount for price, amount in fills), Decimal(0)) / filled
        expected = buy_price if order.side == "buy" else sell_price
        worse = (average - expected) if order.side == "buy" else (expected - average)
        result.append(
            Slippage(order.id, order.client_order_id, order.venue, order.side, expected, average, filled,
                     worse * filled)
        )
    return result


def split_symbol(symbol: str) -> tuple[str, str]:
    """``"BTC/USDT"`` -> ``("BTC", "USDT")``; a settle suffix (``"BTC/USDT:USDT"``) is ignored."""
    base, _, rest = symbol.partition("/")
    quote = rest.split(":", 1)[0]
    if not base or not quote:
        raise ValueError(f"not a unified symbol: {symbol!r}")
    return base, quote
