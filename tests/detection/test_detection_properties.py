"""Property tests: the numpy core agrees with the reference, and every Opportunity is valid on both venues."""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR
from decimal import Decimal as D

import numpy as np
import pytest
from detection_reference import detect_reference, size_pair
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from arb.detection import Decision, DetectionParams, FeeMode, Opportunity, VenueBook, detect, detect_many
from arb.detection.batch import detect_batch
from arb.detection.candidate import Candidate, buy_cost_factor
from arb.detection.core import BATCH_FROM, Params, _Plan, _Rows, per_item
from arb.detection.finalize import walk_exact
from arb.domain.market import MarketRules, quantize_step

SYMBOL = "X/USDT"
PRICE_STEPS = [D("0.0001"), D("0.01"), D("0.5")]
AMOUNT_STEPS = [D("0.0001"), D("0.001"), D("0.1"), D(1)]
FEES = [D(0), D("0.0001"), D("0.0005"), D("0.001"), D("0.002")]
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def crossed_candidates(
    items: Sequence[tuple[str, Sequence[VenueBook]]], params: Params
) -> list[list[Candidate]]:
    """Per symbol, the float sizing of every ordered pair that crosses at the top, in ``(buy, sell)`` order:
    the core's stage before screening and rounding, with the audit numbers, to compare with the reference."""
    per_symbol: list[list[Candidate]] = [[] for _ in items]
    each = per_item(params, len(items))
    plans = [p for p in (_Plan(k, venues, each[k], True) for k, (_, venues) in enumerate(items)) if p.pairs]
    if plans:
        sized = _Rows(plans, each, audit=True)
        for plan in plans:
            per_symbol[plan.item] = [sized.candidate(plan, i) for i in range(len(plan.pairs))]
    return per_symbol


# Every strategy the book generators draw from is built once, here: building them per draw (``st.integers``
# inside a loop, ``st.sampled_from`` of a fresh list) cost hypothesis a cache look-up or a new strategy and its
# validation on every draw, which was most of this file's time (the code under test and the reference took
# under 1%). The books drawn are the same: each strategy below is the one that used to be built in place.
LEVELS = st.integers(min_value=0, max_value=20)
GAP = st.integers(min_value=1, max_value=5)
DECIMAL_SIZE = st.booleans()
# A level's size: a three-place decimal as a float (n / 1000 is the same float as float(Decimal("n.nnn")),
# both correctly rounded from one real) or any float in range, chosen level by level.
SIZE_IN_THOUSANDTHS = st.integers(min_value=1, max_value=50_000)
ANY_SIZE = st.floats(min_value=1e-3, max_value=50.0, allow_nan=False)
PRICE_STEP = st.sampled_from(PRICE_STEPS)
AMOUNT_STEP = st.sampled_from(AMOUNT_STEPS)
MID_OFFSET = st.integers(min_value=-50, max_value=50)
SPREAD = st.integers(min_value=1, max_value=4)
FEE = st.sampled_from(FEES)
FEE_MODE = st.sampled_from(list(FeeMode))
QUOTE_BALANCE = st.sampled_from([D(0), D(5), D("250.5")] + [D("1e9")] * 5)
BASE_BALANCE = st.sampled_from([D(0), D("0.05"), D("3.7")] + [D("1e9")] * 5)
MIN_AMOUNT = {step: st.sampled_from([D(0), D(0), step, D(1)]) for step in AMOUNT_STEPS}
MIN_NOTIONAL = st.sampled_from([D(0), D(1), D(10)])
HEALTH = st.sampled_from(["live"] * 20 + ["syncing"])
AGE_MS = st.sampled_from([0] * 10 + [200, 999, 1000, 1500])
SEQ = st.integers(min_value=0, max_value=10**9)
VENUE_COUNT = st.integers(min_value=2, max_value=5)


def side(draw: st.DrawFn, start: int, direction: int) -> tuple[list[int], list[float]]:
    """Up to 20 levels as tick counts moving away from ``start``, with sizes.

    Drawn level by level with plain draws (no fixed-size ``st.lists`` of ``st.one_of``): the same books (0..20
    levels, gaps 1..5 ticks, either kind of size on any level) with a third of hypothesis's bookkeeping.
    """
    ticks: list[int] = []
    sizes: list[float] = []
    t = start
    for _ in range(draw(LEVELS)):
        ticks.append(t)
        t += direction * draw(GAP)
        sizes.append(draw(SIZE_IN_THOUSANDTHS) / 1000 if draw(DECIMAL_SIZE) else draw(ANY_SIZE))
    return ticks, sizes


@st.composite
def venue_book(draw: st.DrawFn, name: str, fee_above: D | None = None) -> VenueBook:
    price_step = draw(PRICE_STEP)
    amount_step = draw(AMOUNT_STEP)
    # Mids scatter ~0.5% around 100 so that venues cross each other often.
    mid = int(draw(MID_OFFSET) * D("0.01") / price_step + D(100) / price_step)
    spread = draw(SPREAD)
    bid_ticks, bid_sz = side(draw, mid, -1)
    ask_ticks, ask_sz = side(draw, mid + spread, 1)

    def px(ticks: list[int]) -> np.ndarray:
        return np.array([float(t * price_step) for t in ticks], dtype=np.float64)

    fee = draw(FEE) if fee_above is None else fee_above
    return VenueBook(
        venue=name,
        bid_px=px(bid_ticks),
        bid_sz=np.array(bid_sz, dtype=np.float64),
        ask_px=px(ask_ticks),
        ask_sz=np.array(ask_sz, dtype=np.float64),
        taker_fee=fee,
        fee_mode=draw(FEE_MODE),
        quote_balance=draw(QUOTE_BALANCE),
        base_balance=draw(BASE_BALANCE),
        rules=MarketRules(
            name,
            SYMBOL,
            price_step,
            amount_step,
            min_amount=draw(MIN_AMOUNT[amount_step]),
            min_notional=draw(MIN_NOTIONAL),
        ),
        health=draw(HEALTH),
        age_ms=draw(AGE_MS),
        seq=draw(SEQ),
    )


@st.composite
def venues(draw: st.DrawFn, fee: D | None = None) -> list[VenueBook]:
    return [draw(venue_book(f"v{i}", fee)) for i in range(draw(VENUE_COUNT))]


params_st = st.builds(
    DetectionParams,
    max_size=st.sampled_from([D("0.5"), D(7), D(1000)]),
    min_edge_bps=st.sampled_from([D(0), D(2)]),
    min_profit=st.sampled_from([D(0), D("0.01")]),
    max_edge_bps=st.sampled_from([D(30)] + [D(1000)] * 4),
    max_book_age_ms=st.just(1000),
)


def close(a: float, b: float, scale: float = 0.0) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * scale + 1e-12)


@PROPS
@given(books=venues(), params=params_st)
def test_numpy_sizing_agrees_with_the_reference(books: list[VenueBook], params: DetectionParams) -> None:
    (fast,) = crossed_candidates([(SYMBOL, books)], params)
    for c in fast:
        ref = size_pair(books[c.buy], books[c.sell], c.buy, c.sell, params.max_size)
        assert ref.crossed and close(c.gross_edge_bps, ref.gross_edge_bps)
        assert close(c.profitable_size, ref.profitable_size)
        assert close(c.size, ref.size)
        assert close(c.buy_amount, ref.buy_amount)
        assert close(c.buy_vwap, ref.buy_vwap)
        assert close(c.sell_vwap, ref.sell_vwap)
        assert (c.buy_worst, c.sell_worst) == (ref.buy_worst, ref.sell_worst)
        assert close(c.cost, ref.cost)
        # Profit is a difference of two sums; its float error scales with the sums, not with itself.
        assert close(c.profit, ref.profit, scale=ref.cost)
    crossed_pairs = {
        (b, s)
        for b in range(len(books))
        for s in range(len(books))
        if b != s and size_pair(books[b], books[s], b, s, D(1)).crossed
    }
    assert {(c.buy, c.sell) for c in fast} == crossed_pairs


@PROPS
@given(books=venues(), params=params_st)
def test_numpy_and_reference_make_the_same_decision(books: list[VenueBook], params: DetectionParams) -> None:
    decided = detect(SYMBOL, books, params)
    event("none" if decided is None else getattr(decided, "reason", "opportunity"))
    assert decided == detect_reference(SYMBOL, books, params)


@PROPS
@given(books=venues(), params=params_st)
def test_every_opportunity_is_valid_on_both_venues(books: list[VenueBook], params: DetectionParams) -> None:
    opp = detect(SYMBOL, books, params)
    if not isinstance(opp, Opportunity):
        return
    buy = next(v for v in books if v.venue == opp.buy_venue)
    sell = next(v for v in books if v.venue == opp.sell_venue)
    for venue, amount, limit in (
        (buy, opp.buy_amount, opp.buy_limit),
        (sell, opp.sell_amount, opp.sell_limit),
    ):
        rules = venue.rules
        assert amount % rules.amount_step == 0 and limit % rules.price_step == 0
        assert amount >= rules.min_amount and amount > 0
        assert amount * limit >= rules.min_notional
        assert venue.health == "live" and venue.age_ms <= params.max_book_age_ms
    net = 1 - opp.buy_fee_rate if opp.buy_fee_mode is FeeMode.BASE else D(1)
    assert opp.sell_amount <= opp.buy_amount * net  # never sell more than the buy delivers
    assert opp.buy_amount <= params.max_size and opp.sell_amount <= sell.base_balance
    assert opp.buy_cost <= buy.quote_balance
    # Profit recomputed independently from the books for the rounded amounts.
    bought, sold = (
        walk_exact(buy.ask_px, buy.ask_sz, opp.buy_amount),
        walk_exact(sell.bid_px, sell.bid_sz, opp.sell_amount),
    )
    assert bought is not None and sold is not None
    assert (bought[1], sold[1]) == (opp.buy_limit, opp.sell_limit)
    cost = bought[0] * (1 + opp.buy_fee_rate if opp.buy_fee_mode is FeeMode.QUOTE else 1)
    # The leftover the hedge cannot sell is valued at the buy venue's best bid net of its taker fee.
    leftover = opp.buy_amount * net - opp.sell_amount
    leftover_value = (
        leftover * D(repr(float(buy.bid_px[0]))) * (1 - opp.buy_fee_rate)
        if leftover and len(buy.bid_px)
        else D(0)
    )
    exact_profit = sold[0] * (1 - opp.sell_fee_rate) + leftover_value - cost
    assert opp.expected_profit <= exact_profit < opp.expected_profit + D("3e-12")
    assert opp.expected_profit > 0 and opp.expected_profit >= params.min_profit
    assert opp.edge_bps >= params.min_edge_bps
    assert opp.gross_edge_bps <= params.max_edge_bps


@PROPS
@given(books=venues(fee=D("0.01")), params=params_st)
def test_no_profit_when_fees_exceed_the_gross_cross(books: list[VenueBook], params: DetectionParams) -> None:
    # Fees of 1% a leg against mids scattered +-0.5%: the top-of-book cross never pays for both fees
    # (the rare example where it does, with the widest tick, is not the case under test).
    def pays_at_top(b: VenueBook, s: VenueBook) -> bool:
        kb = buy_cost_factor(b.fee_mode, 0.01)
        return bool(len(b.ask_px) and len(s.bid_px) and s.bid_px[0] * 0.99 > b.ask_px[0] * kb)

    assume(not any(pays_at_top(b, s) for b in books for s in books if b is not s))
    (fast,) = crossed_candidates([(SYMBOL, books)], params)
    assert all(c.size == 0 and c.profit == 0 for c in fast)
    for b in range(len(books)):
        for s in range(len(books)):
            if b != s:
                ref = size_pair(books[b], books[s], b, s, params.max_size)
                assert ref.size == 0 and ref.profit == 0
    for impl in (detect, detect_reference):
        decided = impl(SYMBOL, books, params)
        assert not isinstance(decided, Opportunity)
        assert decided is None or decided.expected_profit is None


@PROPS
@given(
    value=st.decimals(D("-1e6"), D("1e6"), places=8),
    step=st.sampled_from([*PRICE_STEPS, *AMOUNT_STEPS, D("0.25"), D("1.0"), D(5), D("1E+1"), D("2.50")]),
    rounding=st.sampled_from([ROUND_FLOOR, ROUND_CEILING, ROUND_DOWN]),
)
def test_step_rounding_is_the_plain_definition_to_the_exponent(value: D, step: D, rounding: str) -> None:
    # quantize_step passes its context to each operation and skips as_tuple() for steps below 1
    # (domain/market.py); the plain definition, in a context entered for it, must give the same text.
    with decimal.localcontext(prec=60):
        units = (value / step).to_integral_value(rounding=rounding)
        exponent = step.as_tuple().exponent
        plain = (units * step).quantize(step) if exponent < 0 else units * step
    assert str(quantize_step(value, step, rounding)) == str(plain)


def _cut(book: VenueBook, depth: int) -> VenueBook:
    return replace(
        book,
        bid_px=book.bid_px[:depth],
        bid_sz=book.bid_sz[:depth],
        ask_px=book.ask_px[:depth],
        ask_sz=book.ask_sz[:depth],
    )


@pytest.mark.parametrize("impl", [detect_many, detect_batch], ids=["per_symbol_screen", "across_symbols"])
@PROPS
@given(
    symbols=st.lists(venues(), min_size=1, max_size=6),
    even=st.booleans(),
    same_count=st.booleans(),
    params=params_st,
    per_symbol=st.booleans(),
    data=st.data(),
)
def test_batched_detection_agrees_with_the_reference_per_symbol(
    impl: Callable[..., list[Decision]],
    symbols: list[list[VenueBook]],
    even: bool,
    same_count: bool,
    params: DetectionParams,
    per_symbol: bool,
    data: st.DataObject,
) -> None:
    # ``detect_many`` below ``BATCH_FROM`` symbols screens each symbol in Python (``core``); ``detect_batch``
    # is what it runs from there on. Both must decide exactly as the reference does, with one shared
    # ``DetectionParams`` or one per symbol (each its own max size, edges and book age, as in a config).
    if same_count:  # every symbol on as many venues: ``batch`` builds its pairs without a per-item loop
        n = min(len(books) for books in symbols)
        symbols = [books[:n] for books in symbols]
    if even:  # every non-empty side equally deep: the kernel's one-concatenate stacking
        depth = min(
            [len(a) for books in symbols for b in books for a in (b.bid_px, b.ask_px) if len(a)] or [0]
        )
        symbols = [[_cut(b, depth) for b in books] for books in symbols]
    items = [(f"S{k}/USDT", books) for k, books in enumerate(symbols)]
    if not per_symbol:
        assert impl(items, params) == [detect_reference(s, books, params) for s, books in items]
        return
    each = data.draw(st.lists(params_st, min_size=len(items), max_size=len(items)))
    assert impl(items, each) == [detect_reference(s, books, p) for (s, books), p in zip(items, each, strict=True)]


@PROPS
@given(books=venues(), params=params_st)
def test_batch_handles_symbols_on_fewer_than_two_venues(
    books: list[VenueBook], params: DetectionParams
) -> None:
    items = [("NONE/USDT", []), ("ONE/USDT", books[:1]), (SYMBOL, books), ("ONE/USDT", books[1:2])]
    assert detect_batch(items, params) == [None, None, detect_reference(SYMBOL, books, params), None]


@PROPS
@given(books=venues(), data=st.data())
def test_batch_with_per_symbol_params_decides_each_symbol_with_its_own(
    books: list[VenueBook], data: st.DataObject
) -> None:
    # Many copies of one symbol's books, each with its own params, through the across-symbols path (from
    # ``BATCH_FROM`` items): each must be what ``detect`` says alone with that symbol's params.
    each = data.draw(st.lists(params_st, min_size=BATCH_FROM, max_size=2 * BATCH_FROM))
    items = [(f"S{k}/USDT", books) for k in range(len(each))]
    assert detect_many(items, each) == [detect(s, v, p) for (s, v), p in zip(items, each, strict=True)]


def test_per_symbol_params_must_match_the_items() -> None:
    params = DetectionParams(max_size=D(1))
    for impl in (detect_many, detect_batch):
        with pytest.raises(ValueError, match="2 DetectionParams for 1 items"):
            impl([(SYMBOL, [])], [params, params])
