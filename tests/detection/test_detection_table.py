"""Hand-checkable cases, each run through both the numpy core and the reference."""

from __future__ import annotations

from decimal import Decimal as D
from functools import partial

import pytest
from detection_books import SYMBOL, book, rules
from detection_reference import detect_reference

from arb.detection import DetectionParams, FeeMode, Opportunity, Reason, Rejection, detect, detect_many
from arb.domain.market import Side

PARAMS = DetectionParams(max_size=D(10), max_edge_bps=D(150), max_book_age_ms=1000)
IMPLS = [
    pytest.param(detect, id="numpy"),
    pytest.param(detect_reference, id="reference"),
    pytest.param(partial(detect_reference, exact=False), id="reference-float"),
]


@pytest.mark.parametrize("impl", IMPLS)
def test_one_level_each_side_quote_fee(impl):
    # Buy 1 @ 100 paying 0.1% in quote, sell 1 @ 101 paying 0.1%: 101*0.999 - 100*1.001 = 0.799.
    cheap = book("a", [(99.0, 1.0)], [(100.0, 1.0)])
    rich = book("b", [(101.0, 1.0)], [(102.0, 1.0)])
    opp = impl(SYMBOL, [cheap, rich], PARAMS)
    assert isinstance(opp, Opportunity)
    assert (opp.buy_venue, opp.sell_venue) == ("a", "b")
    assert opp.buy_amount == opp.sell_amount == opp.size == D("1.000")
    assert (opp.buy_vwap, opp.sell_vwap) == (D(100), D(101))
    assert (opp.buy_limit, opp.sell_limit) == (D("100.00"), D("101.00"))
    assert opp.buy_cost == D("100.1")
    assert opp.sell_proceeds == D("100.899")
    assert opp.expected_profit == D("0.799")
    assert opp.edge_bps == D("79.8201")  # 0.799 / 100.1 * 1e4, floored
    assert opp.gross_edge_bps == D(100)
    assert opp.crossed
    assert (opp.buy_book_seq, opp.buy_book_age_ms, opp.buy_fee_rate) == (7, 10, D("0.001"))


@pytest.mark.parametrize("impl", IMPLS)
def test_fee_in_base_on_the_buy_leg_shrinks_what_can_be_sold(impl):
    # Buying 1 LINK with a 0.1% fee in LINK delivers 0.999: only 0.999 can be sold, no quote fee on the buy.
    cheap = book("a", [(99.0, 1.0)], [(100.0, 1.0)], mode=FeeMode.BASE)
    rich = book("b", [(101.0, 5.0)], [(102.0, 1.0)])
    opp = impl(SYMBOL, [cheap, rich], PARAMS)
    assert isinstance(opp, Opportunity)
    assert opp.buy_amount == D("1.000")
    assert opp.sell_amount == D("0.999")
    assert opp.buy_fee_mode is FeeMode.BASE
    assert opp.buy_cost == D(100)
    assert opp.sell_proceeds == D("100.798101")  # 0.999 * 101 * 0.999
    assert opp.expected_profit == D("0.798101")


@pytest.mark.parametrize("impl", IMPLS)
def test_depth_walk_stops_where_the_marginal_unit_stops_paying(impl):
    # Second ask level (100.5 * 1.001 = 100.6005) still below 100.8 * 0.999 = 100.6992; third bid (100.0) not.
    cheap = book("a", [(99.0, 1.0)], [(100.0, 1.0), (100.5, 2.0)])
    rich = book("b", [(101.0, 0.5), (100.8, 1.0), (100.0, 5.0)], [(102.0, 1.0)])
    opp = impl(SYMBOL, [cheap, rich], PARAMS)
    assert isinstance(opp, Opportunity)
    assert opp.size == D("1.500")
    assert (opp.buy_limit, opp.sell_limit) == (D("100.50"), D("100.80"))
    assert opp.buy_cost == D("150.40025")  # (100 + 0.5 * 100.5) * 1.001
    assert opp.sell_proceeds == D("151.1487")  # (0.5 * 101 + 1 * 100.8) * 0.999
    assert opp.expected_profit == D("0.74845")


@pytest.mark.parametrize("impl", IMPLS)
def test_max_size_caps_the_buy_order(impl):
    cheap = book("a", [(99.0, 1.0)], [(100.0, 50.0)])
    rich = book("b", [(101.0, 50.0)], [(102.0, 1.0)])
    opp = impl(SYMBOL, [cheap, rich], PARAMS)
    assert isinstance(opp, Opportunity)
    assert opp.buy_amount == opp.sell_amount == D("10.000")


@pytest.mark.parametrize(
    ("buy_quote", "sell_base", "size"),
    [
        ("50.05", "1000", D("0.500")),  # 50.05 quote buys 0.5 at 100 * 1.001
        ("1000000", "0.3", D("0.300")),  # only 0.3 base to sell on b
    ],
)
@pytest.mark.parametrize("impl", IMPLS)
def test_balances_cap_the_legs(impl, buy_quote, sell_base, size):
    cheap = book("a", [(99.0, 1.0)], [(100.0, 1.0)], quote=buy_quote)
    rich = book("b", [(101.0, 1.0)], [(102.0, 1.0)], base=sell_base)
    opp = impl(SYMBOL, [cheap, rich], PARAMS)
    assert isinstance(opp, Opportunity)
    assert opp.size == size
    assert opp.buy_cost <= D(buy_quote)


@pytest.mark.parametrize("impl", IMPLS)
def test_no_balance_at_all_is_rejected(impl):
    cheap = book("a", [(99.0, 1.0)], [(100.0, 1.0)], quote="0")
    rich = book("b", [(101.0, 1.0)], [(102.0, 1.0)])
    rej = impl(SYMBOL, [cheap, rich], PARAMS)
    assert isinstance(rej, Rejection)
    assert rej.reason is Reason.BALANCE_INSUFFICIENT


@pytest.mark.parametrize(
    ("market", "quote", "base"),
    [
        (rules("a"), "0.05", "1000"),  # 0.05 USDT buys 0.0005 at 100: floored to the 0.001 step, nothing
        (rules("a", min_amount="0.1"), "5.005", "1000"),  # 5.005 buys 0.05, under a's minimum of 0.1
        (rules("a", min_notional="10"), "5.005", "1000"),  # 0.05 x 100 = 5 USDT, under a's minimum of 10
        (rules("a", min_amount="0.1"), "1000000", "0.05"),  # b holds 0.05 LINK to sell: under 0.1 bought
    ],
    ids=["quote-rounds-to-nothing", "quote-below-min-amount", "quote-below-min-notional", "base-below-min"],
)
@pytest.mark.parametrize("impl", IMPLS)
def test_a_minimum_missed_because_the_balance_ran_down_is_balance_insufficient(impl, market, quote, base):
    # The books alone would trade 1 LINK (well above every minimum): the balance is what stops the pair, so
    # the reason names it (inventory), not the venue's minimum.
    cheap = book("a", [(99.0, 1.0)], [(100.0, 1.0)], quote=quote, market=market)
    rich = book("b", [(101.0, 1.0)], [(102.0, 1.0)], base=base)
    rej = impl(SYMBOL, [cheap, rich], PARAMS)
    assert isinstance(rej, Rejection)
    assert rej.reason is Reason.BALANCE_INSUFFICIENT


@pytest.mark.parametrize(
    ("market", "quote", "reason"),
    [
        # The books themselves are too shallow for a's minimum: the balance is not why.
        (rules("a", min_amount="2"), "5.005", Reason.BELOW_MIN_AMOUNT),
        (rules("a", min_notional="150"), "5.005", Reason.BELOW_MIN_NOTIONAL),
        # A balance that funds every minimum: the legs are smaller, and trade.
        (rules("a", min_amount="0.01"), "5.005", None),
    ],
)
@pytest.mark.parametrize("impl", IMPLS)
def test_a_minimum_the_books_miss_anyway_is_still_the_venues(impl, market, quote, reason):
    cheap = book("a", [(99.0, 1.0)], [(100.0, 1.0)], quote=quote, market=market)
    rich = book("b", [(101.0, 1.0)], [(102.0, 1.0)])
    decided = impl(SYMBOL, [cheap, rich], PARAMS)
    if reason is None:
        assert isinstance(decided, Opportunity) and decided.size == D("0.050")
    else:
        assert isinstance(decided, Rejection) and decided.reason is reason


@pytest.mark.parametrize("impl", IMPLS)
def test_precision_kills_the_edge(impl):
    # Whole-unit steps with the buy fee in base: buying 2 delivers 1.998, of which only 1 can be sold; the
    # 0.5% cross pays for one unit, not for two.
    whole = {"amount_step": "1"}
    cheap = book("a", [(99.0, 5.0)], [(100.0, 5.0)], mode=FeeMode.BASE, market=rules("a", **whole))
    rich = book("b", [(100.5, 2.5)], [(102.0, 5.0)], market=rules("b", **whole))
    rej = impl(SYMBOL, [cheap, rich], PARAMS)
    assert isinstance(rej, Rejection)
    assert rej.reason is Reason.PRECISION_KILLS_EDGE
    assert (rej.buy_amount, rej.size) == (D(2), D(1))
    assert rej.expected_profit is not None and rej.expected_profit < 0


@pytest.mark.parametrize("impl", IMPLS)
def test_rounding_to_zero_is_below_min_amount(impl):
    cheap = book("a", [(99.0, 5.0)], [(100.0, 0.9)], market=rules("a", amount_step="1"))
    rich = book("b", [(101.0, 5.0)], [(102.0, 5.0)])
    rej = impl(SYMBOL, [cheap, rich], PARAMS)
    assert isinstance(rej, Rejection)
    assert rej.reason is Reason.BELOW_MIN_AMOUNT


@pytest.mark.parametrize(
    ("market", "reason"),
    [
        (rules("b", min_amount="2"), Reason.BELOW_MIN_AMOUNT),
        (rules("b", min_notional="150"), Reason.BELOW_MIN_NOTIONAL),
        (rules("b", price_step="1"), Reason.PRICE_OFF_TICK),  # 100.5 is not on a 1.0 tick
    ],
)
@pytest.mark.parametrize("impl", IMPLS)
def test_venue_rules_of_the_sell_leg_are_checked_before_sending_either(impl, market, reason):
    cheap = book("a", [(99.0, 1.0)], [(100.0, 1.0)])
    rich = book("b", [(100.5, 1.0)], [(102.0, 1.0)], market=market)
    rej = impl(SYMBOL, [cheap, rich], DetectionParams(max_size=D(10)))
    assert isinstance(rej, Rejection)
    assert rej.reason is reason
    assert rej.size == D("1.000")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (DetectionParams(max_size=D(10), min_edge_bps=D(30)), Reason.BELOW_MIN_EDGE),
        (DetectionParams(max_size=D(10), min_profit=D("0.5")), Reason.BELOW_MIN_PROFIT),
    ],
)
@pytest.mark.parametrize("impl", IMPLS)
def test_thresholds(impl, params, reason):
    # 100.5 * 0.999 - 100 * 1.001 = 0.2995 profit, 29.92 bps of cost.
    cheap = book("a", [(99.0, 1.0)], [(100.0, 1.0)])
    rich = book("b", [(100.5, 1.0)], [(102.0, 1.0)])
    rej = impl(SYMBOL, [cheap, rich], params)
    assert isinstance(rej, Rejection)
    assert rej.reason is reason
    assert rej.expected_profit == D("0.2995")
    assert rej.edge_bps == D("29.9200")


@pytest.mark.parametrize("impl", IMPLS)
def test_fees_above_the_gross_cross_are_unprofitable(impl):
    cheap = book("a", [(99.0, 1.0)], [(100.0, 1.0)])
    rich = book("b", [(100.1, 1.0)], [(102.0, 1.0)])  # 10 bps gross, 20 bps of fees
    rej = impl(SYMBOL, [cheap, rich], PARAMS)
    assert isinstance(rej, Rejection)
    assert rej.reason is Reason.UNPROFITABLE_AFTER_FEES
    assert rej.crossed and rej.gross_edge_bps == D(10)
    assert rej.size is None


@pytest.mark.parametrize("impl", IMPLS)
def test_abnormal_edge(impl):
    cheap = book("a", [(99.0, 1.0)], [(100.0, 1.0)])
    rich = book("b", [(102.0, 1.0)], [(103.0, 1.0)])  # 200 bps gross > 150 ceiling
    rej = impl(SYMBOL, [cheap, rich], PARAMS)
    assert isinstance(rej, Rejection)
    assert rej.reason is Reason.ABNORMAL_EDGE
    assert rej.gross_edge_bps == D(200)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"age_ms": 1001}, Reason.BOOK_STALE),
        ({"health": "syncing"}, Reason.BOOK_NOT_LIVE),
        ({"health": "gap", "age_ms": 5000}, Reason.BOOK_NOT_LIVE),
    ],
)
@pytest.mark.parametrize("impl", IMPLS)
def test_only_fresh_live_books_are_eligible(impl, changes, reason):
    cheap = book("a", [(99.0, 1.0)], [(100.0, 1.0)], **changes)
    rich = book("b", [(101.0, 1.0)], [(102.0, 1.0)])
    rej = impl(SYMBOL, [cheap, rich], PARAMS)
    assert isinstance(rej, Rejection)
    assert rej.reason is reason
    # The sizing it would have had is kept for the audit trail.
    assert rej.expected_profit == D("0.799") and rej.size == D(1)


@pytest.mark.parametrize("impl", IMPLS)
def test_a_phantom_cross_against_a_stale_book_is_reported_as_stale(impl):
    # Fresh a and c agree; b is a second old and still shows the price from before the move.
    a = book("a", [(100.0, 1.0)], [(100.1, 1.0)])
    b = book("b", [(100.4, 1.0)], [(100.5, 1.0)], age_ms=1000 + 1)
    c = book("c", [(100.0, 1.0)], [(100.1, 1.0)])
    rej = impl(SYMBOL, [a, b, c], PARAMS)
    assert isinstance(rej, Rejection)
    assert rej.reason is Reason.BOOK_STALE
    assert rej.sell_venue == "b"


@pytest.mark.parametrize("impl", IMPLS)
def test_no_cross_is_none(impl):
    a = book("a", [(100.0, 1.0)], [(100.1, 1.0)])
    b = book("b", [(100.05, 1.0)], [(100.2, 1.0)])
    assert impl(SYMBOL, [a, b], PARAMS) is None
    assert impl(SYMBOL, [a], PARAMS) is None
    empty = book("c", [], [])
    assert impl(SYMBOL, [a, empty], PARAMS) is None


@pytest.mark.parametrize("impl", IMPLS)
def test_best_pair_wins_among_many(impl):
    a = book("a", [(99.0, 1.0)], [(100.0, 1.0)])
    b = book("b", [(100.9, 1.0)], [(101.5, 1.0)])
    c = book("c", [(101.2, 1.0)], [(102.0, 1.0)])
    d = book("d", [(98.0, 1.0)], [(99.9, 1.0)])
    opp = impl(SYMBOL, [a, b, c, d], PARAMS)
    assert isinstance(opp, Opportunity)
    assert (opp.buy_venue, opp.sell_venue) == ("d", "c")


@pytest.mark.parametrize("impl", IMPLS)
def test_a_rejected_best_pair_falls_back_to_the_next(impl):
    # d->c is the most profitable but d has no quote; a->c still trades.
    a = book("a", [(99.0, 1.0)], [(100.0, 1.0)])
    c = book("c", [(101.2, 1.0)], [(102.0, 1.0)])
    d = book("d", [(98.0, 1.0)], [(99.9, 1.0)], quote="0")
    opp = impl(SYMBOL, [a, c, d], PARAMS)
    assert isinstance(opp, Opportunity)
    assert (opp.buy_venue, opp.sell_venue) == ("a", "c")


def test_detect_many_matches_detect_per_symbol():
    quiet = [book("a", [(100.0, 1.0)], [(100.1, 1.0)]), book("b", [(100.0, 1.0)], [(100.2, 1.0)])]
    crossed = [
        book("a", [(99.0, 1.0)], [(100.0, 1.0)]),
        book("b", [(101.0, 1.0), (100.9, 3.0)], [(102.0, 1.0)]),
    ]
    stale = [book("a", [(99.0, 1.0)], [(100.0, 1.0)]), book("b", [(101.0, 1.0)], [(102.0, 1.0)], age_ms=2000)]
    items = [("Q/USDT", quiet), ("C/USDT", crossed), ("S/USDT", stale), ("E/USDT", [])]
    many = detect_many(items, PARAMS)
    assert many == [detect(symbol, venues, PARAMS) for symbol, venues in items]
    assert many[0] is None and isinstance(many[1], Opportunity) and isinstance(many[2], Rejection)
    assert many[3] is None


@pytest.mark.parametrize("impl", [detect, lambda s, v, p: detect_many([(s, v)], p)[0]])
def test_the_buy_is_sized_to_what_its_venue_reserves_at_the_ioc_limit(impl):
    # The walk for 1.0 costs 100.5 (+ fee: 100.6005), which 101 covers; but the buy venue holds back
    # amount x limit, the worst level widened by the executor's 2 bps: 1.0 x 101.02 x 1.001 = 101.12 > 101.
    # Sized on the walk, the buy would be refused (InsufficientFunds) and leave the sell leg alone.
    cheap = book("a", [(99.0, 1.0)], [(100.0, 0.5), (101.0, 1.0)], quote="101")
    rich = book("b", [(103.0, 2.0)], [(104.0, 2.0)])
    params = DetectionParams(max_size=D(1), max_edge_bps=D(500), limit_allowance_bps=D(2))
    opp = impl(SYMBOL, [cheap, rich], params)
    assert isinstance(opp, Opportunity)
    assert opp.size == D("0.998")
    limit = cheap.rules.round_price(opp.buy_limit * (1 + D(2) / 10_000), Side.BUY)
    assert opp.size * limit * D("1.001") <= D("101") < (opp.size + D("0.001")) * limit * D("1.001")
    # Without the executor's allowance, the limit is the worst walked price itself: still more than the walk.
    plain = impl(SYMBOL, [cheap, rich], DetectionParams(max_size=D(1), max_edge_bps=D(500)))
    assert plain.size * plain.buy_limit * D("1.001") <= D("101")
