"""Maker-taker quote pricing: what a resting quote on the maker venue may ask, given what the taker venue
would pay to hedge it. Pure and exact: ``Decimal`` in, ``Decimal`` out, no clock, no I/O.

A **bid** on the maker venue buys ``amount``; its hedge sells ``amount`` into the taker venue's bids. With
``N`` the proceeds of walking those bids for ``amount`` (sum of price x size, best first), ``tf`` the taker
fee, ``mf`` the maker fee (negative for a rebate), ``mp`` the required profit and ``buf`` the slippage
buffer (both as fractions of notional), the bid pays when

    N (1 - buf) (1 - tf)  -  amount * bid * (1 + mf)  >=  mp * amount * bid

so ``bid <= N (1 - buf) (1 - tf) / (amount (1 + mf + mp))``, rounded **down** to the maker's tick. An **ask**
is the mirror image: its hedge buys ``amount`` from the taker's asks at cost ``N``, and

    amount * ask * (1 - mf)  -  N (1 + buf) (1 + tf)  >=  mp * amount * ask

so ``ask >= N (1 + buf) (1 + tf) / (amount (1 - mf - mp))``, rounded **up**. The division is done at 60
digits and the rounded price is then checked against the inequality with exact products (one tick further
out if the 60-digit quotient sat on a tick it does not reach), so a quote never promises less than
``min_profit_bps`` by a rounding.

Fees are rates on notional here. Where a venue takes a buy's fee in base (the maker buy receives
``amount * (1 - mf)``), the hedge of the full ``amount`` leaves a base shortfall of ``amount * mf`` that the
accounting settles exactly; the pricing counts it as notional at the quote's price, which is the same
money to first order (the difference is ``mf`` times the spread, under 1e-7 of notional at real fees).

A quote is **post-only**: a bid at or above the maker's best ask would take, so it is pulled to one tick
below that ask (and must still pay); with ``join_top``, it never improves the maker's own best bid by more
than one tick (a quote far inside the spread only invites the next mover to trade against it).
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from arb.domain.market import Side, quantize_step

BPS = Decimal(10_000)
EXACT = decimal.Context(prec=60)  # products and sums of prices and sizes stay exact at 60 digits
ZERO = Decimal(0)
ONE = Decimal(1)

Level = tuple[Decimal, Decimal]  # (price, size), best first


@dataclass(frozen=True, slots=True)
class QuoteTerms:
    """What a maker symbol asks of every quote (the config's ``[symbols.X.maker]`` with both venues' fees)."""

    min_profit_bps: Decimal  # after both fees, in bps of the quote's notional
    slippage_buffer_bps: Decimal  # the hedge may fill this much worse than its walked price
    maker_fee: Decimal  # rate on the maker venue; negative for a rebate
    taker_fee: Decimal  # rate on the taker venue
    maker_tick: Decimal  # the maker venue's price step
    join_top: bool = False  # never improve the maker's own best on the quote's side by more than one tick

    def __post_init__(self) -> None:
        if self.min_profit_bps < 0 or self.slippage_buffer_bps < 0:
            raise ValueError("min_profit_bps and slippage_buffer_bps must not be negative")
        if not ZERO <= self.taker_fee < ONE or not -ONE < self.maker_fee < ONE:
            raise ValueError("fees are rates below 1 (maker_fee may be negative: a rebate)")
        if ONE - self.maker_fee - self.min_profit_bps / BPS <= 0:
            raise ValueError("maker_fee plus min_profit_bps leave no ask that pays")


@dataclass(frozen=True, slots=True)
class Walk:
    """``amount`` walked through one side of the taker's book: what it would fetch or cost, best first."""

    amount: Decimal
    notional: Decimal  # sum of price x size over the walked levels
    worst: Decimal  # the last level's price: the hedge's limit before its buffer

    @property
    def average(self) -> Decimal:
        return EXACT.divide(self.notional, self.amount)


@dataclass(frozen=True, slots=True)
class Quote:
    """A resting order the maker venue would take, and the hedge it was priced on."""

    side: Side  # on the maker venue; the hedge is the opposite side on the taker venue
    price: Decimal  # on the maker's tick
    amount: Decimal
    hedge: Walk  # the taker book as it stood at quote time
    expected_profit: Decimal  # quote currency, after both fees, if filled and hedged at ``hedge``
    # The farthest price that still pays ``min_profit_bps`` on this hedge, before the post-only and join_top
    # pulls moved ``price`` away from the market: what a resting quote is checked against (``refresh.py``).
    limit: Decimal


@dataclass(frozen=True, slots=True)
class NoQuote:
    """Why no quote pays on this side now (one word, as the funnel counts it, and the detail)."""

    reason: str  # "no_depth" | "no_price" | "below_minimum"
    detail: str = ""


def walk(levels: Sequence[Level], amount: Decimal, behind: Decimal = ZERO) -> Walk | None:
    """``amount`` through ``levels`` best first, after the first ``behind`` of them (what the quotes of the
    levels in front would hedge first); None when the side holds less than ``behind + amount``."""
    if amount <= 0:
        raise ValueError(f"amount must be positive, got {amount}")
    left = amount
    notional = ZERO
    skip = behind
    for price, size in levels:
        if skip >= size:
            skip -= size
            continue
        size, skip = size - skip, ZERO
        took = size if size < left else left
        notional = EXACT.fma(price, took, notional)
        left -= took
        if left == 0:
            return Walk(amount, notional, price)
    return None


def price_quote(
    side: Side,
    amount: Decimal,
    taker_levels: Sequence[Level],
    terms: QuoteTerms,
    *,
    maker_best_same: Decimal | None = None,
    maker_best_opposite: Decimal | None = None,
    behind: Decimal = ZERO,
) -> Quote | NoQuote:
    """The quote on ``side`` of the maker venue for ``amount`` (already on both venues' steps), hedged
    against ``taker_levels``: the taker's bids for a maker bid, its asks for a maker ask. ``maker_best_same``
    and ``maker_best_opposite``: the maker's own best price on the quote's side and across (post-only).
    ``behind``: base the quotes of the levels in front of this one would hedge first, so this one is priced
    on the taker depth after theirs (a quote of level ``k`` walks from ``k x quote_size`` on)."""
    hedge = walk(taker_levels, amount, behind)
    if hedge is None:
        return NoQuote("no_depth", f"the taker book holds less than {behind + amount}")
    tick = terms.maker_tick
    price = limit = _limit(side, hedge, terms)
    if terms.join_top and maker_best_same is not None:
        price = min(price, maker_best_same + tick) if side is Side.BUY else max(price, maker_best_same - tick)
    if maker_best_opposite is not None:  # post-only: never at or through the other side
        price = min(price, maker_best_opposite - tick) if side is Side.BUY else max(price, maker_best_opposite + tick)
    if price <= 0:
        return NoQuote("no_price", "no positive price pays")
    # Moving a quote away from the market (join_top, post-only) only adds to its profit: it still pays.
    return Quote(side, price, amount, hedge, quote_profit(side, price, hedge, terms), limit)


def valued_quote(side: Side, price: Decimal, amount: Decimal, taker_levels: Sequence[Level],
                 terms: QuoteTerms) -> Quote | None:
    """A quote already resting at ``price`` (an earlier run's, found at start) as the taker book values it
    now: its hedge walked (the deepest level's price for what the book does not hold), its profit and limit
    at that hedge. None: the taker book is empty, nothing to value it on yet."""
    if not taker_levels:
        return None
    hedge = walk(taker_levels, amount)
    if hedge is None:
        deepest = taker_levels[-1][0]
        hedge = Walk(amount, deepest * amount, deepest)
    return Quote(side, price, amount, hedge, quote_profit(side, price, hedge, terms), _limit(side, hedge, terms))


def _limit(side: Side, hedge: Walk, terms: QuoteTerms) -> Decimal:
    """The farthest price on the maker's tick that still pays ``min_profit_bps`` (the module's inequality)."""
    buf, mp = terms.slippage_buffer_bps / BPS, terms.min_profit_bps / BPS
    tick = terms.maker_tick
    if side is Side.BUY:
        reach = EXACT.multiply(EXACT.multiply(hedge.notional, ONE - buf), ONE - terms.taker_fee)
        per_unit = EXACT.multiply(hedge.amount, ONE + terms.maker_fee + mp)
        price = quantize_step(EXACT.divide(reach, per_unit), tick, ROUND_FLOOR)
        while EXACT.multiply(price, per_unit) > reach:  # the 60-digit quotient rounded onto a tick above
            price -= tick
        return price
    need = EXACT.multiply(EXACT.multiply(hedge.notional, ONE + buf), ONE + terms.taker_fee)
    per_unit = EXACT.multiply(hedge.amount, ONE - terms.maker_fee - mp)
    price = quantize_step(EXACT.divide(need, per_unit), tick, ROUND_CEILING)
    while EXACT.multiply(price, per_unit) < need:
        price += tick
    return price


def quote_profit(side: Side, price: Decimal, hedge: Walk, terms: QuoteTerms) -> Decimal:
    """Quote-currency profit of the quote filled at ``price`` and hedged at ``hedge`` (no buffer), after fees."""
    maker_notional = EXACT.multiply(price, hedge.amount)
    if side is Side.BUY:
        return (EXACT.multiply(hedge.notional, ONE - terms.taker_fee)
                - EXACT.multiply(maker_notional, ONE + terms.maker_fee))
    return (EXACT.multiply(maker_notional, ONE - terms.maker_fee)
            - EXACT.multiply(hedge.notional, ONE + terms.taker_fee))


def hedge_limit(side: Side, hedge: Walk, buffer_bps: Decimal, taker_tick: Decimal) -> Decimal:
    """The hedge's IOC limit: the walked worst level widened by ``buffer_bps``, rounded to the taker's tick
    on the side that keeps the whole buffer (a hedge sell down, a hedge buy up). ``side``: the maker quote's."""
    widen = buffer_bps / BPS
    if side is Side.BUY:  # the hedge sells
        return quantize_step(EXACT.multiply(hedge.worst, ONE - widen), taker_tick, ROUND_FLOOR)
    return quantize_step(EXACT.multiply(hedge.worst, ONE + widen), taker_tick, ROUND_CEILING)
