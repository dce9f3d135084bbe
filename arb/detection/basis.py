"""The basis strategy's decision (pure, exact): open a spot-perpetual position when the basis pays, close it
when it has come back. The anchor is Hummingbot's ``spot_perpetual_arbitrage``; every leg is an IOC pair
through the paired executor, as a taker opportunity's.

A ``carry`` position is long spot and short the perpetual: it **opens** by buying ``size`` on spot and selling
it on the perpetual, and **closes** by the reverse. A ``reverse`` position is the mirror image (sell spot, buy
the perpetual to open). Each side's price is its book walked for the pair's amount; the **edge** of a pair is
what it would make net of both taker fees, in bps of what the buy costs::

    edge = (amount x sell VWAP x (1 - sell fee) - amount x buy VWAP x (1 + buy fee)) / (amount x buy VWAP)

A pair opens while the position is below ``max_position`` and the open pair's edge is at least ``open_bps``;
it closes what is held (``size`` at a time) once the close pair's edge is at least ``close_bps``, which is
usually negative: closing a basis pays both spreads and both fees, and is worth it once the basis has shrunk
by more. Closing comes first. ``held`` is the position the perpetual venue reports in the rule's direction.
Nothing is decided (None) on a book too thin for the amount, below a venue's minimum, or that the funds
cannot pay for; nor is anything recorded then: a basis that does not pay is the usual state, not a rejection.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from arb.accounting import mark_price, money
from arb.detection.types import FeeMode, Opportunity
from arb.domain.market import BPS, MarketRules

Level = tuple[Decimal, Decimal]
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BasisRule:
    symbol: str
    spot_venue: str
    perp_venue: str
    size: Decimal
    max_position: Decimal
    open_bps: Decimal
    close_bps: Decimal
    carry: bool  # long spot / short perpetual (else the reverse)


@dataclass(frozen=True, slots=True)
class BasisBook:
    """One venue's side of the basis: its book now (exact levels, best first), rules, fee and free funds."""

    venue: str
    bids: Sequence[Level]
    asks: Sequence[Level]
    rules: MarketRules
    taker_fee: Decimal
    fee_mode: FeeMode
    free_base: Decimal  # what a sell there may sell (a perpetual's: what its margin can hold)
    free_quote: Decimal  # what a buy there may spend
    seq: int | None
    age_ms: int


def decide(rule: BasisRule, spot: BasisBook, perp: BasisBook, held: Decimal) -> Opportunity | None:
    """The basis pair to send now, or None."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        open_buy, open_sell = (spot, perp) if rule.carry else (perp, spot)
        if held > 0:
            close = _pair(rule.symbol, open_sell, open_buy, min(rule.size, held))
            if close is not None and close.edge_bps >= rule.close_bps:
                return close
        if held < rule.max_position:
            opened = _pair(rule.symbol, open_buy, open_sell, min(rule.size, rule.max_position - held))
            if opened is not None and opened.edge_bps >= rule.open_bps:
                return opened
        return None


def _pair(symbol: str, buy: BasisBook, sell: BasisBook, amount: Decimal) -> Opportunity | None:
    amount = sell.rules.round_amount(buy.rules.round_amount(amount))
    if amount <= 0 or amount < buy.rules.min_amount or amount < sell.rules.min_amount:
        return None
    bought, sold = _walk(buy.asks, amount), _walk(sell.bids, amount)
    if bought is None or sold is None:
        return None
    (buy_notional, buy_worst), (sell_notional, sell_worst) = bought, sold
    if buy_notional < buy.rules.min_notional or sell_notional < sell.rules.min_notional:
        return None
    quote_fee = buy.fee_mode is FeeMode.QUOTE
    if amount * buy_worst * (1 + buy.taker_fee) > buy.free_quote or amount > sell.free_base:
        return None
    mark = mark_price(buy.bids[0][0] if buy.bids else None, buy.taker_fee)
    buy_cost = buy_notional * (1 + buy.taker_fee) if quote_fee else buy_notional
    base_fee_value = ZERO if quote_fee else amount * buy.taker_fee * mark  # the base a buy's fee takes
    sell_proceeds = sell_notional * (1 - sell.taker_fee)
    expected = sell_proceeds - buy_cost - base_fee_value
    buy_vwap, sell_vwap = buy_notional / amount, sell_notional / amount
    return Opportunity(
        symbol=symbol, buy_venue=buy.venue, sell_venue=sell.venue, size=amount, buy_amount=amount,
        sell_amount=amount, buy_vwap=buy_vwap, sell_vwap=sell_vwap, buy_limit=buy_worst, sell_limit=sell_worst,
        buy_fee_rate=buy.taker_fee, sell_fee_rate=sell.taker_fee, buy_fee_mode=buy.fee_mode,
        buy_cost=money(buy_cost), sell_proceeds=money(sell_proceeds), expected_profit=money(expected),
        edge_bps=(expected / buy_notional * BPS).quantize(Decimal("0.0001")),
        gross_edge_bps=((sell_vwap - buy_vwap) / buy_vwap * BPS).quantize(Decimal("0.0001")),
        crossed=bool(buy.asks and sell.bids and sell.bids[0][0] >= buy.asks[0][0]), mark_price=money(mark),
        buy_book_seq=buy.seq, sell_book_seq=sell.seq, buy_book_age_ms=buy.age_ms, sell_book_age_ms=sell.age_ms)


def _walk(levels: Sequence[Level], amount: Decimal) -> tuple[Decimal, Decimal] | None:
    """The notional of ``amount`` taken from ``levels`` best first, and the worst price reached; None when the
    book is too thin."""
    left, notional, worst = amount, ZERO, ZERO
    for price, size in levels:
        take = min(left, size)
        notional += take * price
        worst = price
        left -= take
        if not left:
            return notional, worst
    return None
