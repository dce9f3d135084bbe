"""Quote pricing against an exact rational oracle: the price is on the maker's tick, pays ``min_profit_bps``
after both fees exactly, and is the farthest such price (one tick closer to the market would not pay)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.domain.market import Side
from arb.quoting.pricing import NoQuote, Quote, QuoteTerms, hedge_limit, price_quote, walk

D = Decimal
BPS = Fraction(10_000)


def terms(**overrides) -> QuoteTerms:
    base = dict(min_profit_bps=D("5"), slippage_buffer_bps=D("2"), maker_fee=D("0.0002"), taker_fee=D("0.001"),
                maker_tick=D("0.01"))
    return QuoteTerms(**(base | overrides))


def pays(side: Side, price: Decimal, amount: Decimal, notional: Fraction, t: QuoteTerms) -> bool:
    """The module's inequality, in exact rationals."""
    p, a, mf, tf = Fraction(price), Fraction(amount), Fraction(t.maker_fee), Fraction(t.taker_fee)
    mp, buf = Fraction(t.min_profit_bps) / BPS, Fraction(t.slippage_buffer_bps) / BPS
    if side is Side.BUY:
        return notional * (1 - buf) * (1 - tf) - a * p * (1 + mf) >= mp * a * p
    return a * p * (1 - mf) - notional * (1 + buf) * (1 + tf) >= mp * a * p


def test_a_bid_is_what_the_taker_bids_pay_less_both_fees_profit_and_buffer():
    # 1.5 walked through 100 x 1 and 99 x 1: proceeds 100 + 49.5 = 149.5, average 99.666...
    bids = [(D("100"), D("1")), (D("99"), D("1"))]
    quote = price_quote(Side.BUY, D("1.5"), bids, terms())
    assert isinstance(quote, Quote)
    # 149.5 * (1 - 0.0002) * (1 - 0.001) / (1.5 * (1 + 0.0002 + 0.0005)) = 99.4774..., down to the tick
    assert quote.price == D("99.47")
    assert quote.hedge.notional == D("149.5") and quote.hedge.worst == D("99")
    assert quote.expected_profit == D("149.5") * D("0.999") - D("99.47") * D("1.5") * D("1.0002")


def test_an_ask_is_the_mirror_image_rounded_up():
    asks = [(D("101"), D("2"))]
    quote = price_quote(Side.SELL, D("1"), asks, terms())
    assert isinstance(quote, Quote)
    # 101 * 1.0002 * 1.001 / (1 - 0.0002 - 0.0005) = 101.1920..., up to the tick
    assert quote.price == D("101.20")


def test_a_rebate_lets_the_quote_sit_closer():
    bids = [(D("100"), D("5"))]
    fee = price_quote(Side.BUY, D("1"), bids, terms(maker_fee=D("0.0002")))
    rebate = price_quote(Side.BUY, D("1"), bids, terms(maker_fee=D("-0.0001")))
    assert isinstance(fee, Quote) and isinstance(rebate, Quote)
    assert rebate.price > fee.price


def test_no_depth_is_no_quote():
    assert price_quote(Side.BUY, D("3"), [(D("100"), D("1"))], terms()) == NoQuote(
        "no_depth", "the taker book holds less than 3")


def test_post_only_keeps_a_bid_below_the_makers_ask_and_join_top_within_a_tick_of_its_bid():
    bids = [(D("100"), D("5"))]
    free = price_quote(Side.BUY, D("1"), bids, terms())
    assert isinstance(free, Quote) and free.price == D("99.81")  # 100 * 0.9998 * 0.999 / 1.0007 = 99.8101...
    capped = price_quote(Side.BUY, D("1"), bids, terms(), maker_best_opposite=D("99.50"))
    assert isinstance(capped, Quote) and capped.price == D("99.49")
    joined = price_quote(Side.BUY, D("1"), bids, terms(join_top=True), maker_best_same=D("99.00"))
    assert isinstance(joined, Quote) and joined.price == D("99.01")
    behind = price_quote(Side.BUY, D("1"), bids, terms(join_top=True), maker_best_same=D("99.90"))
    assert isinstance(behind, Quote) and behind.price == D("99.81")  # never above what pays


def test_the_hedge_limit_keeps_the_whole_buffer():
    w = walk([(D("100"), D("1")), (D("99.5"), D("1"))], D("2"))
    assert w is not None
    assert hedge_limit(Side.BUY, w, D("10"), D("0.01")) == D("99.40")  # 99.5 * 0.999 = 99.4005, down
    w = walk([(D("100"), D("1"))], D("1"))
    assert w is not None
    assert hedge_limit(Side.SELL, w, D("10"), D("0.01")) == D("100.10")


def test_a_fee_and_profit_that_leave_no_ask_are_refused():
    with pytest.raises(ValueError, match="no ask that pays"):
        terms(maker_fee=D("0.5"), min_profit_bps=D("5000"))


prices = st.integers(min_value=1, max_value=10**7).map(lambda n: D(n).scaleb(-4))
sizes = st.integers(min_value=1, max_value=10**6).map(lambda n: D(n).scaleb(-3))


@st.composite
def books(draw, side: Side):
    levels = sorted(set(draw(st.lists(prices, min_size=1, max_size=12))), reverse=side is Side.BUY)
    return [(p, draw(sizes)) for p in levels]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(Side)), st.data(),
       st.sampled_from([D("0.01"), D("0.0001"), D("0.5"), D("1e-8")]),
       st.integers(-3, 30).map(lambda n: D(n).scaleb(-4)),  # maker fee -0.0003 .. 0.003
       st.integers(0, 30).map(lambda n: D(n).scaleb(-4)),
       st.integers(0, 200).map(D), st.integers(0, 50).map(D))
def test_the_price_is_the_farthest_tick_that_pays(side, data, tick, maker_fee, taker_fee, profit_bps, buffer_bps):
    """A bid hedged by the taker's bids, an ask by its asks: on the tick, paying, and one tick further toward
    the market would not pay (exact rationals)."""
    levels = data.draw(books(side))
    amount = data.draw(sizes)
    t = terms(maker_tick=tick, maker_fee=maker_fee, taker_fee=taker_fee, min_profit_bps=profit_bps,
              slippage_buffer_bps=buffer_bps)
    quote = price_quote(side, amount, levels, t)
    held = sum(size for _, size in levels)
    if held < amount:
        assert quote == NoQuote("no_depth", f"the taker book holds less than {amount}")
        return
    notional = Fraction(0)
    left = Fraction(amount)
    for price, size in levels:
        took = min(Fraction(size), left)
        notional += Fraction(price) * took
        left -= took
    if isinstance(quote, NoQuote):
        assert quote.reason == "no_price" and side is Side.BUY
        assert not pays(side, tick, amount, notional, t)
        return
    assert Fraction(quote.hedge.notional) == notional
    assert quote.price % tick == 0 and quote.price > 0
    assert pays(side, quote.price, amount, notional, t)
    closer = quote.price + tick if side is Side.BUY else quote.price - tick
    assert closer <= 0 or not pays(side, closer, amount, notional, t)
    assert Fraction(quote.expected_profit) >= Fraction(t.min_profit_bps) / BPS * Fraction(amount * quote.price)


def test_a_deeper_level_is_priced_on_the_taker_depth_behind_the_levels_in_front():
    # Level 1 of a 1.5 quote hedges the next 1.5 of these bids, after level 0's: 0.5 x 99 + 1 x 98 = 147.5.
    bids = [(D("100"), D("1")), (D("99"), D("1")), (D("98"), D("5"))]
    front = price_quote(Side.BUY, D("1.5"), bids, terms())
    behind = price_quote(Side.BUY, D("1.5"), bids, terms(), behind=D("1.5"))
    assert isinstance(front, Quote) and isinstance(behind, Quote)
    assert (behind.hedge.notional, behind.hedge.worst) == (D("147.5"), D("98"))
    assert pays(Side.BUY, behind.price, D("1.5"), Fraction(147.5), terms())
    assert not pays(Side.BUY, behind.price + D("0.01"), D("1.5"), Fraction(147.5), terms())
    assert behind.price < front.price
    # Both filled, their hedges together walk 3 of the book: each level paid on its own slice of it.
    assert front.hedge.notional + behind.hedge.notional == walk(bids, D("3")).notional  # type: ignore[union-attr]
    asks = [(D("101"), D("2")), (D("102"), D("2"))]
    ask_behind = price_quote(Side.SELL, D("1.5"), asks, terms(), behind=D("1.5"))
    assert isinstance(ask_behind, Quote) and ask_behind.hedge.notional == D("0.5") * 101 + 1 * D("102")
    assert price_quote(Side.BUY, D("1.5"), bids, terms(), behind=D("6")) == NoQuote(
        "no_depth", "the taker book holds less than 7.5")
