"""How much a maker quote may offer: the configured quote size, cut by both venues' balances and the risk
limit on notional, on a step both venues accept, and at least both venues' minimums. Pure and exact.

A bid on the maker venue spends the maker's quote currency and its hedge sells base on the taker venue; an
ask sells the maker's base and its hedge spends the taker's quote currency. The quote is priced (depth
walked) for the amount the base-side limits allow; the quote-side limits, which depend on that price, may
then cut it further. The cut quote keeps the price it was given: a smaller hedge walks fewer levels, each as
good or better, so a price that paid for the larger amount pays for the smaller one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from arb.domain.market import MarketRules, Side, quantize_step
from arb.quoting.pricing import (
    BPS,
    EXACT,
    ONE,
    Level,
    NoQuote,
    Quote,
    QuoteTerms,
    price_quote,
    quote_profit,
    walk,
)


@dataclass(frozen=True, slots=True)
class Funds:
    """Free balances a quote may use (what resting quotes and pending hedges hold is already taken out)."""

    maker_base: Decimal
    maker_quote: Decimal
    taker_base: Decimal
    taker_quote: Decimal


def common_step(a: Decimal, b: Decimal) -> Decimal:
    """The least step that is a whole multiple of both ``a`` and ``b`` (their exact least common multiple)."""
    exponent = min(a.as_tuple().exponent, b.as_tuple().exponent, 0)
    assert isinstance(exponent, int)
    scale = Decimal(1).scaleb(exponent)
    return Decimal(math.lcm(int(a / scale), int(b / scale))).scaleb(exponent).normalize()


def size_quote(
    side: Side,
    size: Decimal,
    taker_levels: list[Level],
    terms: QuoteTerms,
    funds: Funds,
    max_notional: Decimal,
    maker: MarketRules,
    taker: MarketRules,
    *,
    maker_best_same: Decimal | None = None,
    maker_best_opposite: Decimal | None = None,
    behind: Decimal = Decimal(0),
) -> Quote | NoQuote:
    """The quote on ``side`` of the maker venue: sized, priced (:func:`~arb.quoting.pricing.price_quote`,
    on the taker depth ``behind`` the levels in front of it) and checked against both venues' minimums, or
    why there is none."""
    step = common_step(maker.amount_step, taker.amount_step)
    base_cap = funds.taker_base if side is Side.BUY else funds.maker_base
    amount = quantize_step(min(size, base_cap), step, ROUND_DOWN)
    short = _below_minimum(amount, maker, taker)
    if short:
        return NoQuote("below_minimum", short)
    quote = price_quote(side, amount, taker_levels, terms,
                        maker_best_same=maker_best_same, maker_best_opposite=maker_best_opposite, behind=behind)
    if isinstance(quote, NoQuote):
        return quote
    if side is Side.BUY:  # pays price x (1 + maker fee) in the maker's quote currency
        spend_per_unit = quote.price * (ONE + max(terms.maker_fee, Decimal(0)))
        quote_cap = EXACT.divide(funds.maker_quote, spend_per_unit)
    else:  # the hedge buys up to its limit, taker fee on top
        limit = quote.hedge.worst * (ONE + terms.slippage_buffer_bps / BPS)
        quote_cap = EXACT.divide(funds.taker_quote, limit * (ONE + terms.taker_fee))
    cut = quantize_step(min(amount, quote_cap, EXACT.divide(max_notional, quote.price)), step, ROUND_DOWN)
    if cut == amount:
        return _checked_notional(quote, maker, taker)
    short = _below_minimum(cut, maker, taker)
    if short:
        return NoQuote("below_minimum", f"{short} (balances or max_notional_per_trade)")
    hedge = walk(taker_levels, cut, behind)
    assert hedge is not None  # less than an amount the book held
    # The limit priced for the larger amount: the smaller hedge's is as good or better (kept conservative).
    return _checked_notional(Quote(side, quote.price, cut, hedge, quote_profit(side, quote.price, hedge, terms),
                                   quote.limit), maker, taker)


def _below_minimum(amount: Decimal, maker: MarketRules, taker: MarketRules) -> str:
    for rules in (maker, taker):
        if amount <= 0 or amount < rules.min_amount:
            return f"{amount:f} is below {rules.venue}'s minimum amount {rules.min_amount:f}"
    return ""


def _checked_notional(quote: Quote, maker: MarketRules, taker: MarketRules) -> Quote | NoQuote:
    if quote.price * quote.amount < maker.min_notional:
        return NoQuote("below_minimum", f"{quote.amount} at {quote.price} is below {maker.venue}'s "
                       f"minimum notional {maker.min_notional}")
    if quote.hedge.notional < taker.min_notional:
        return NoQuote("below_minimum", f"the hedge of {quote.amount} is below {taker.venue}'s "
                       f"minimum notional {taker.min_notional}")
    return quote
