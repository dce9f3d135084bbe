"""Quote sizing: the configured size cut by both venues' balances and the notional limit, on a step both
venues accept, at both venues' minimums; a cut quote keeps a price that still pays."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arb.domain.market import MarketRules, Side
from arb.quoting.pricing import NoQuote, Quote, QuoteTerms, price_quote
from arb.quoting.sizing import Funds, common_step, size_quote

D = Decimal
TERMS = QuoteTerms(min_profit_bps=D("5"), slippage_buffer_bps=D("2"), maker_fee=D("0"), taker_fee=D("0.001"),
                   maker_tick=D("0.01"))
MAKER = MarketRules("maker", "BTC/USDT", D("0.01"), D("0.001"), min_amount=D("0.001"), min_notional=D("1"))
TAKER = MarketRules("taker", "BTC/USDT", D("0.01"), D("0.0001"), min_amount=D("0.0001"), min_notional=D("5"))
BIDS = [(D("100"), D("0.5")), (D("99"), D("5"))]
ASKS = [(D("101"), D("0.5")), (D("102"), D("5"))]
RICH = Funds(maker_base=D("100"), maker_quote=D("1e6"), taker_base=D("100"), taker_quote=D("1e6"))


@pytest.mark.parametrize(("a", "b", "lcm"), [
    (D("0.01"), D("0.001"), D("0.010")), (D("0.04"), D("0.06"), D("0.12")), (D("1"), D("0.3"), D("3")),
    (D("5"), D("2"), D("10")), (D("1e-8"), D("1e-8"), D("1e-8")),
])
def test_common_step_is_the_least_common_multiple(a, b, lcm):
    assert common_step(a, b) == lcm and (common_step(a, b) % a, common_step(a, b) % b) == (0, 0)


def test_the_configured_size_when_everything_allows_it():
    quote = size_quote(Side.BUY, D("1"), BIDS, TERMS, RICH, D("1e6"), MAKER, TAKER)
    assert isinstance(quote, Quote) and quote.amount == D("1")
    assert quote == price_quote(Side.BUY, D("1"), BIDS, TERMS)


def test_a_bid_is_cut_to_the_base_its_hedge_can_sell_and_the_quote_it_can_spend():
    by_base = size_quote(Side.BUY, D("1"), BIDS, TERMS, Funds(D("100"), D("1e6"), D("0.3456"), D("1e6")), D("1e6"),
                         MAKER, TAKER)
    assert isinstance(by_base, Quote) and by_base.amount == D("0.345")  # the maker's coarser step
    by_quote = size_quote(Side.BUY, D("1"), BIDS, TERMS, Funds(D("100"), D("50"), D("100"), D("1e6")), D("1e6"),
                          MAKER, TAKER)
    assert isinstance(by_quote, Quote)
    full = price_quote(Side.BUY, D("1"), BIDS, TERMS)
    assert isinstance(full, Quote)
    assert by_quote.price == full.price  # priced on the larger walk: the cut one still pays
    assert by_quote.amount == D("0.503") and by_quote.amount * by_quote.price <= D("50")
    assert by_quote.hedge.notional == D("50") + D("0.003") * D("99")


def test_an_ask_is_cut_to_the_maker_base_and_to_what_its_hedge_can_buy():
    quote = size_quote(Side.SELL, D("1"), ASKS, TERMS, Funds(D("0.2"), D("0"), D("0"), D("1e6")), D("1e6"),
                       MAKER, TAKER)
    assert isinstance(quote, Quote) and quote.amount == D("0.2")
    poor = size_quote(Side.SELL, D("1"), ASKS, TERMS, Funds(D("100"), D("0"), D("0"), D("30")), D("1e6"),
                      MAKER, TAKER)
    assert isinstance(poor, Quote)
    # the hedge may pay up to 102 * 1.0002 with the 0.1 % fee on top: 30 / 102.1224... = 0.2937...
    assert poor.amount == D("0.293")


def test_the_notional_limit_cuts_too():
    quote = size_quote(Side.BUY, D("1"), BIDS, TERMS, RICH, D("20"), MAKER, TAKER)
    assert isinstance(quote, Quote) and quote.amount * quote.price <= D("20") and quote.amount == D("0.201")


def test_below_either_minimum_is_no_quote():
    assert size_quote(Side.BUY, D("1"), BIDS, TERMS, Funds(D("1"), D("1e6"), D("0.0009"), D("1")), D("1e6"),
                      MAKER, TAKER) == NoQuote("below_minimum", "0.000 is below maker's minimum amount 0.001")
    small = size_quote(Side.BUY, D("0.04"), BIDS, TERMS, RICH, D("1e6"), MAKER, TAKER)
    assert isinstance(small, NoQuote) and small.reason == "below_minimum" and "taker's minimum notional" in small.detail
