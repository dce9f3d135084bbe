"""When a resting quote is replaced, and why, in the order the rules are checked."""

from __future__ import annotations

from decimal import Decimal

from arb.domain.market import Side
from arb.quoting.pricing import NoQuote, Quote, QuoteTerms, price_quote
from arb.quoting.refresh import RefreshRule, may_quote_again, refresh_reason

D = Decimal
TERMS = QuoteTerms(min_profit_bps=D("5"), slippage_buffer_bps=D("0"), maker_fee=D("0"), taker_fee=D("0.001"),
                   maker_tick=D("0.01"))
RULE = RefreshRule(refresh_bps=D("10"), max_quote_age_ms=30_000)


def bid_against(top: str) -> Quote:
    quote = price_quote(Side.BUY, D("1"), [(D(top), D("10"))], TERMS)
    assert isinstance(quote, Quote)
    return quote


def test_a_quote_keeps_its_place_while_nothing_moved_enough():
    resting = bid_against("100")
    assert refresh_reason(resting, 0, bid_against("100.05"), 1_000, RULE) is None  # 5 bps < 10


def test_a_bid_past_what_pays_now_is_replaced_first():
    resting = bid_against("100")
    assert refresh_reason(resting, 0, bid_against("99.99"), 1_000, RULE) == "no_longer_pays"


def test_a_hedge_that_moved_the_threshold_either_way_reprices():
    resting = bid_against("100")
    assert refresh_reason(resting, 0, bid_against("100.10"), 1_000, RULE) == "hedge_moved"  # 10 bps up


def test_a_stale_taker_book_pulls_it_and_no_quote_means_none_pays():
    resting = bid_against("100")
    assert refresh_reason(resting, 0, bid_against("100"), 1, RULE, taker_book_stale=True) == "stale_book"
    assert refresh_reason(resting, 0, NoQuote("no_depth"), 1, RULE) == "no_quote"


def test_a_quote_never_rests_past_its_age():
    resting = bid_against("100")
    assert refresh_reason(resting, 0, bid_against("100"), 29_999, RULE) is None
    assert refresh_reason(resting, 0, bid_against("100"), 30_000, RULE) == "max_age"


def test_an_ask_below_what_pays_now_is_replaced():
    asks = [(D("101"), D("10"))]
    resting = price_quote(Side.SELL, D("1"), asks, TERMS)
    fresh = price_quote(Side.SELL, D("1"), [(D("101.02"), D("10"))], TERMS)
    assert isinstance(resting, Quote) and isinstance(fresh, Quote)
    assert refresh_reason(resting, 0, fresh, 1, RULE) == "no_longer_pays"


def test_a_refused_slot_quotes_again_once_its_price_moved_refresh_bps_or_the_backoff_passed() -> None:
    rule = RefreshRule(refresh_bps=Decimal("2"), max_quote_age_ms=30_000, refusal_backoff_ms=250)
    refused = Decimal("60000")
    assert not may_quote_again(refused, 1000, refused, 1249, rule)  # the same price, within the backoff
    assert not may_quote_again(refused, 1000, Decimal("60011.99"), 1100, rule)  # moved under 2 bps
    assert may_quote_again(refused, 1000, Decimal("60012"), 1100, rule)  # moved 2 bps
    assert may_quote_again(refused, 1000, Decimal("59988"), 1100, rule)  # either way
    assert may_quote_again(refused, 1000, refused, 1250, rule)  # the backoff passed
