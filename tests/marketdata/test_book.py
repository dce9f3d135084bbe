"""The normalized book: levels, sequence rule, health, the numpy top view, and a property test."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from arb.marketdata.book import Health, OrderBook
from arb.marketdata.tick_map import exact_size, size_double, size_text

D = Decimal


def _book(depth: int = 5, **kw: int) -> OrderBook:
    book = OrderBook("gate", "BTC/USDT", depth=depth, **kw)
    book.apply_snapshot(
        [["100.0", "1"], ["99.5", "2"], ["99", "3"]],
        [["100.5", "1.5"], ["101", "2.5"]],
        seq=10,
        received_ts=1_000,
    )
    return book


def test_snapshot_levels_best_first_and_exact() -> None:
    book = _book()
    assert book.levels("bids") == [(D("100"), D("1")), (D("99.5"), D("2")), (D("99"), D("3"))]
    assert book.levels("asks", 1) == [(D("100.5"), D("1.5"))]
    assert book.best_bid() == D("100") and book.best_ask() == D("100.5")
    assert book.health(1_000) is Health.LIVE


def test_delta_replaces_removes_and_same_price_spellings_are_one_level() -> None:
    book = _book()
    assert book.apply_delta([["100.00", "0"], ["99.50", "7"]], [["100.4", "0.1"]], seq=11, first_seq=11)
    assert book.levels("bids") == [(D("99.5"), D("7")), (D("99"), D("3"))]
    assert book.levels("asks", 2) == [(D("100.4"), D("0.1")), (D("100.5"), D("1.5"))]
    assert book.seq == 11


def test_removing_an_absent_level_is_a_no_op() -> None:
    book = _book()
    book.apply_delta([["50", "0.000"]], [], seq=11, first_seq=11)
    assert len(book.levels("bids")) == 3


def test_sequence_rule_drops_old_and_detects_gap() -> None:
    book = _book()
    assert not book.apply_delta([["100", "9"]], [], seq=10, first_seq=9)  # already contained
    assert book.levels("bids", 1) == [(D("100"), D("1"))]
    assert book.apply_delta([["100", "9"]], [], seq=12, first_seq=9)  # overlaps: first after snapshot
    assert not book.apply_delta([["100", "8"]], [], seq=20, first_seq=14)  # 13 missing
    assert book.health(1_000) is Health.GAP
    assert not book.apply_delta([["100", "8"]], [], seq=21, first_seq=21)  # unusable until snapshot
    assert book.levels("bids", 1) == [(D("100"), D("9"))]
    book.apply_snapshot([["1", "1"]], [["2", "1"]], seq=30, received_ts=2_000)
    assert book.health(2_000) is Health.LIVE


def test_health_syncing_crossed_stale() -> None:
    book = OrderBook("gate", "BTC/USDT", max_age_ms=500)
    assert book.health(0) is Health.SYNCING
    assert not book.apply_delta([["1", "1"]], [], seq=1)
    book.apply_snapshot([["10", "1"]], [["11", "1"]], received_ts=1_000)
    assert book.health(1_500) is Health.LIVE
    assert book.health(1_501) is Health.STALE
    book.apply_delta([], [["10", "1"]], received_ts=1_600)
    assert book.health(1_600) is Health.CROSSED
    assert not book.usable(1_600)
    book.reset()
    assert book.health(1_600) is Health.SYNCING and book.levels("bids") == []


def test_top_arrays_are_cheap_read_only_views() -> None:
    book = _book(depth=2)
    bid_px, bid_sz, ask_px, ask_sz = book.top_arrays()
    np.testing.assert_array_equal(bid_px, [100.0, 99.5])
    np.testing.assert_array_equal(bid_sz, [1.0, 2.0])
    np.testing.assert_array_equal(ask_px, [100.5, 101.0])
    np.testing.assert_array_equal(ask_sz, [1.5, 2.5])
    assert not bid_px.flags.writeable
    assert book.top_arrays(1)[0].tolist() == [100.0]
    # unchanged book: the very same buffers, no refresh
    assert book.top_arrays()[0] is bid_px
    book.apply_delta([], [["100.5", "0"], ["101", "0"]], seq=11)
    bid_px2, _, ask_px2, ask_sz2 = book.top_arrays()
    assert ask_px2.size == 0 and ask_sz2.size == 0
    assert np.shares_memory(bid_px2, bid_px)


def test_price_with_too_many_digits_is_refused() -> None:
    book = OrderBook("x", "A/B")
    with pytest.raises(ValueError, match="15 significant digits"):
        book.apply_snapshot([["1.0000000000000001", "1"]], [])


def test_deep_book_window_rebuilds_when_drained() -> None:
    # 1,000 bid levels: far more than the sorted window holds; delete the best 900 one at a time.
    book = OrderBook("x", "A/B", depth=3)
    book.apply_snapshot([[str(p), "1"] for p in range(1000, 0, -1)], [["2000", "1"]], seq=1)
    for i, p in enumerate(range(1000, 100, -1)):
        book.apply_delta([[str(p), "0"]], [], seq=i + 2)
    assert [p for p, _ in book.levels("bids", 3)] == [D(100), D(99), D(98)]
    assert book.top_arrays()[0].tolist() == [100.0, 99.0, 98.0]
    book.apply_delta([[str(p), "1"] for p in range(5000, 4000, -1)], [], seq=10_000)
    assert book.top_arrays()[0].tolist() == [5000.0, 4999.0, 4998.0]
    assert len(book.levels("bids")) == 1100


# ------------------------------------------------------------- property test

# Three price regimes of BookSide: one length and decimals (integer ticks), same decimals with another
# length ("0.25" among "10.00": still ticks), and several spellings of one price ("1.5", "1.50", "1":
# float keys).
FIXED = st.integers(min_value=40, max_value=99).map(lambda i: f"{i / 4:.2f}")
SAME_DECIMALS = st.integers(min_value=1, max_value=60).map(lambda i: f"{i / 4:.2f}")
SPELLINGS = st.tuples(
    st.integers(min_value=1, max_value=60), st.sampled_from(["{:.2f}", "{:.3f}", "{:g}"])
).map(lambda t: t[1].format(t[0] / 4))
# 15 digits, the longest price the tick regime keys (a tick is a 64-bit integer)
LONG = st.integers(min_value=10**14, max_value=10**14 + 60).map(lambda i: f"{str(i)[:-6]}.{str(i)[-6:]}")
PRICES = st.one_of(FIXED, SAME_DECIMALS, SPELLINGS)
# Zero in several spellings, and sizes of the same shape as a zero ("0.010" beside "0.000"): a size is zero
# when it has no digit but 0 (book_side._nonzero).
SIZES = st.one_of(
    st.just("0"),
    st.just("0.000"),
    st.integers(1, 999).map(lambda i: f"{i / 10}"),
    st.integers(0, 99).map(lambda i: f"{i / 1000:.3f}"),
)


def _reference_apply(ref: dict[Decimal, Decimal], levels: list[tuple[str, str]]) -> None:
    for price, size in levels:
        if D(size) == 0:
            ref.pop(D(price), None)
        else:
            ref[D(price)] = D(size)


@pytest.mark.parametrize(
    ("prices", "tick_keys"),
    [(FIXED, True), (LONG, True), (SAME_DECIMALS, True), (PRICES, None)],
    ids=["fixed", "fixed-15-digits", "odd", "mixed"],
)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_book_matches_plain_dict_reference(
    prices: st.SearchStrategy[str], tick_keys: bool | None, data: st.DataObject
) -> None:
    levels = st.lists(st.tuples(prices, SIZES), max_size=12)
    book = _check_against_reference(
        data.draw(st.tuples(levels, levels)),
        data.draw(st.lists(st.tuples(levels, levels), max_size=40)),
        data.draw(st.integers(1, 6)),
    )
    if tick_keys is not None:  # one spelling per price never needs float keys
        assert book.bids.fixed is tick_keys and book.asks.fixed is tick_keys


@settings(max_examples=500, deadline=None)
@given(
    whole=st.text("0123456789", min_size=0, max_size=18),
    fraction=st.none() | st.text("0123456789", min_size=0, max_size=25),
)
def test_exact_sizes_spell_the_size_back_and_read_as_float_does(whole: str, fraction: str | None) -> None:
    # A tick-mode side holds each size as its exact integer: it must spell the venue's text back (so the
    # Decimal is the venue's, exponent and all) and give float()'s double exactly, for short and long
    # mantissas, leading and trailing zeros, up to 25 decimals; a text it cannot spell is -1 (kept as text).
    text = whole if fraction is None else f"{whole}.{fraction}"
    exact = exact_size(text)
    if exact < 0:
        digits = (whole + (fraction or "")).lstrip("0")
        padded = len(whole) > 1 and whole[0] == "0"
        assert not whole or fraction == "" or padded or len(digits) > 17, text
        return
    assert size_text(exact) == text
    assert size_double(exact) == float(text)
    assert (exact >> 6 == 0) is (Decimal(text) == 0)


@settings(max_examples=300, deadline=None)
@given(ticks=st.lists(st.integers(1, 10**14 - 1), min_size=1, max_size=8, unique=True), decimals=st.integers(1, 10),
       whole=st.text("0123456789", min_size=1, max_size=9), fraction=st.text("0123456789", max_size=12))
def test_a_level_read_exactly_is_the_decimal_of_the_venue_s_text(ticks: list[int], decimals: int, whole: str,
                                                                   fraction: str) -> None:
    """A tick-mode side's ``levels`` builds each price from its tick and each size from its exact integer, with no
    text between: the same Decimals, exponent and all, as ``Decimal`` of the venue's own strings (``1.50``
    stays ``1.50``)."""
    size = (whole.lstrip("0") or "0") + (f".{fraction}" if fraction else "")
    if Decimal(size) == 0:
        size = "1" + size[1:] if size[0] == "0" and "." not in size else "1.5"
    prices = [f"{t // 10**decimals}.{t % 10**decimals:0{decimals}d}" for t in ticks]
    book = OrderBook("gate", "BTC/USDT", depth=3)
    book.apply_snapshot([[p, size] for p in prices], [], seq=1)
    assert book.bids.fixed
    read = book.levels("bids")
    want = sorted(((Decimal(p), Decimal(size)) for p in prices), reverse=True)
    assert [(p.as_tuple(), s.as_tuple()) for p, s in read] == [(p.as_tuple(), s.as_tuple()) for p, s in want]


@settings(max_examples=500, deadline=None)
@given(whole=st.text("0123456789", min_size=1, max_size=17), fraction=st.none() | st.text("0123456789", max_size=17),
       size_whole=st.text("0123456789", min_size=1, max_size=12), size_fraction=st.text("0123456789", max_size=12))
def test_a_float_keyed_level_reads_as_float_does(whole: str, fraction: str | None, size_whole: str,
                                                  size_fraction: str) -> None:
    """A float-keyed side (a snapshot of mixed decimals, as ccxt spells prices: "1.5" beside "2.25") makes its keys
    and its top view's sizes from each text's digits where it can (``book_side._float_of``): the double must be
    float()'s for every spelling, short or long, padded or not, with a point or without."""
    price = whole if fraction is None else f"{whole}.{fraction}"
    size = f"{size_whole}.{size_fraction}"
    assume(Decimal(size) != 0 and Decimal(price) not in (0, Decimal("1.5"), Decimal("2.25")))
    assume(len(price.replace(".", "").strip("0")) <= 15)  # a book refuses a price with more significant digits
    book = OrderBook("gate", "BTC/USDT", depth=3)
    book.apply_snapshot([["1.5", "7"], ["2.25", "0.125"], [price, size]], [], seq=1)
    assert not book.bids.fixed
    prices, sizes = book.top_arrays()[:2]
    want = sorted([(1.5, 7.0), (2.25, 0.125), (float(price), float(size))], reverse=True)
    assert list(zip(prices.tolist(), sizes.tolist(), strict=True)) == want


def test_off_length_prices_stay_exact_ticks() -> None:
    # The real Binance stream: an ask at 200000.00000000 among 61xxx.xx000000 (another length).
    book = OrderBook("binance", "BTC/USDT", depth=3)
    book.apply_snapshot([["61737.63000000", "1.00000000"]], [["61737.64000000", "2.00000000"]], seq=1)
    book.apply_delta([["9999.99000000", "3.00000000"]], [["200000.00000000", "25.42618900"]], seq=2)
    assert book.bids.fixed and book.asks.fixed
    assert book.levels("asks") == [(D("61737.64"), D(2)), (D("200000"), D("25.426189"))]
    assert book.levels("bids") == [(D("61737.63"), D(1)), (D("9999.99"), D(3))]
    assert book.top_arrays()[2].tolist() == [61737.64, 200000.0]
    # a longer bid is better than every main-length one; a shorter ask likewise
    book.apply_delta([["100000.00000000", "1.00000000"]], [["9999.98000000", "1.00000000"]], seq=3)
    assert book.top_arrays()[0].tolist() == [100000.0, 61737.63, 9999.99]
    # both sides full to depth with an off-length level in the top: the packed path reads its size too
    assert [a.tolist() for a in book.top_arrays()[1:]] == [
        [1.0, 1.0, 3.0],
        [9999.98, 61737.64, 200000.0],
        [1.0, 2.0, 25.426189],
    ]
    assert book.best_ask() == D("9999.98") and book.health(0) is Health.CROSSED
    book.apply_delta([["100000.00000000", "0.00000000"]], [["9999.98000000", "0.00000000"]], seq=4)
    assert book.best_bid() == D("61737.63") and book.best_ask() == D("61737.64")
    # a padded or re-decimalled spelling of a held price: float keys, still one level
    book.apply_delta([["061737.6300000", "5"]], [], seq=5)
    assert not book.bids.fixed and book.levels("bids", 1) == [(D("61737.63"), D(5))]


def _check_against_reference(
    snapshot: tuple[list[tuple[str, str]], list[tuple[str, str]]],
    deltas: list[tuple[list[tuple[str, str]], list[tuple[str, str]]]],
    depth: int,
) -> OrderBook:
    book = OrderBook("x", "A/B", depth=depth)
    # a tiny window so the property also exercises window truncation and rebuilds
    book.bids.window_size = book.asks.window_size = 4
    ref_b: dict[Decimal, Decimal] = {}
    ref_a: dict[Decimal, Decimal] = {}
    _reference_apply(ref_b, snapshot[0])
    _reference_apply(ref_a, snapshot[1])
    # snapshots list each price once, best first
    book.apply_snapshot(
        sorted(((str(p), str(s)) for p, s in ref_b.items()), key=lambda lv: -D(lv[0])),
        sorted(((str(p), str(s)) for p, s in ref_a.items()), key=lambda lv: D(lv[0])),
        seq=0,
    )
    for i, (bids, asks) in enumerate(deltas, start=1):
        assert book.apply_delta(bids, asks, seq=i, first_seq=i)
        _reference_apply(ref_b, bids)
        _reference_apply(ref_a, asks)
        want_b = sorted(ref_b.items(), reverse=True)
        want_a = sorted(ref_a.items())
        assert book.levels("bids") == want_b
        assert book.levels("asks") == want_a
        bid_px, bid_sz, ask_px, ask_sz = book.top_arrays()
        assert bid_px.tolist() == [float(p) for p, _ in want_b[:depth]]
        assert bid_sz.tolist() == [float(s) for _, s in want_b[:depth]]
        assert ask_px.tolist() == [float(p) for p, _ in want_a[:depth]]
        assert ask_sz.tolist() == [float(s) for _, s in want_a[:depth]]
    return book


def test_levels_read_again_are_the_book_as_it_is_now() -> None:
    """``levels`` is kept between reads of an unchanged book: every change (snapshot, delta, reset) is seen by
    the next read, and the list a caller gets is its own."""
    book = OrderBook("gate", "BTC/USDT")
    book.apply_snapshot([["100", "1"], ["99", "2"]], [["101", "1"]], seq=1)
    first = book.levels("bids")
    first.clear()  # the caller's list: the book's answer stays as it was
    assert book.levels("bids") == book.levels("buy") == [(D("100"), D("1")), (D("99"), D("2"))]
    assert book.levels("bids", 1) == [(D("100"), D("1"))]
    book.apply_delta([["100", "0"]], [["101", "3"]], seq=2)
    assert book.levels("bids") == [(D("99"), D("2"))] and book.levels("bids", 1) == [(D("99"), D("2"))]
    assert book.levels("asks") == [(D("101"), D("3"))]
    assert not book.apply_delta([["99", "5"]], [], seq=2)  # already contained: nothing changes
    assert book.levels("bids") == [(D("99"), D("2"))]
    book.apply_snapshot([["98", "4"]], [["102", "1"]], seq=5)
    assert book.levels("bids") == [(D("98"), D("4"))] and book.levels("asks", 1) == [(D("102"), D("1"))]
    book.reset()
    assert book.levels("bids") == [] and book.levels("asks", 1) == []


# Prices of two decimals (one tick format) and a few of three or none (which break it: float keys from there on).
_PRICE = st.from_regex(r"[1-9][0-9]{0,2}\.[0-9]{2}", fullmatch=True) | st.sampled_from(["27.105", "31", "4.5"])
_SIZE = st.sampled_from(["0", "0.000", "1", "2.5", "0.0001", "12345678901234567890.5"])


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.lists(st.tuples(_PRICE, _SIZE), max_size=8), min_size=1, max_size=6),
       ask=st.booleans())
def test_a_side_of_levels_read_flat_applies_as_its_pairs(batches: list[list[tuple[str, str]]], ask: bool) -> None:
    """A depth frame's levels come flat from the one-pass reader (price, size, price, ...: ``book_side.Levels``):
    on an empty side (its format learnt), in tick mode, where a price breaks the format mid-batch, and in float
    mode, a side fed them holds what one fed the same levels as pairs holds (a listener's copy: the test below)."""
    from arb.marketdata.book_side import BookSide, as_pairs

    paired, flat = BookSide(ask=ask, window_size=2), BookSide(ask=ask, window_size=2)
    for batch in batches:
        texts = [text for level in batch for text in level]
        assert as_pairs(texts) == (batch or texts)
        paired.apply(list(batch))
        flat.apply(texts)
        assert (flat.fixed, flat.exact(None), flat.exact(3)) == (paired.fixed, paired.exact(None), paired.exact(3))


def test_a_listener_hears_a_frame_read_flat_as_pairs() -> None:
    """What a recorder writes of a depth frame (``BookStore.delta``'s event to its listeners) is the same
    whether the frame's levels came flat from the one-pass reader or as pairs from the feed's own reading."""
    from arb.marketdata.books import BookStore

    heard = []
    for bids, asks in (([("27.05", "2"), ("27.04", "0")], [("27.10", "1")]), (["27.05", "2", "27.04", "0"], ["27.10", "1"])):
        store = BookStore(depth=5)
        store.add_listener(lambda event, _book: heard.append((event.bids, event.asks)))
        book = store.snapshot("binance", "BTC/USDT", [("27.04", "1")], [("27.11", "1")], ts=1, seq=1)
        assert store.delta(book, bids, asks, 2, 2, 2)
        assert book.levels("bids") == [(Decimal("27.05"), Decimal("2"))]
    assert heard[1] == heard[3] == ((("27.05", "2"), ("27.04", "0")), (("27.10", "1"),))
