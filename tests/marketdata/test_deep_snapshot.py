"""A snapshot with a very large number of levels ingests in O(n log n), not O(n^2).

Issue 13: a capture line with 600k levels took 37 s (each level ``insort``-ed into the sorted window,
best first, so every bid went to the front of a growing list) and blocked the event loop, so SIGTERM
took effect minutes late. Shown here by a count of work, not by a clock (a timed unit test measures the
machine it runs on; ``bench/bench_deep_snapshot.py`` has the wall-clock figure): ``BookSide`` run from its
``.py`` source (the file Cython compiles as it is), its window moves and rebuilds counted. 100 times the
levels may cost at most 100 * log(300k) / log(3k) ~ 158 times the work; the quadratic way: ~10,000.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.compiled import source_module
from arb.marketdata.book import OrderBook
from arb.marketdata.books import BookStore
from arb.marketdata.capture import parse_event

from .test_book import FIXED, PRICES, SAME_DECIMALS, SIZES, D, _reference_apply


def _line(levels: int) -> bytes:
    half = levels // 2
    bids = [[f"{50_000 - i * 0.01:.2f}", "1.5"] for i in range(half)]
    asks = [[f"{50_000.01 + i * 0.01:.2f}", "2.5"] for i in range(half)]
    return orjson.dumps({"ts": 1, "venue": "binance", "symbol": "BTC/USDT", "type": "snapshot",
                         "bids": bids, "asks": asks})


def _counting_side() -> type:
    """``BookSide`` from its ``.py`` source (interpreted: its methods call each other through Python, so a
    subclass sees every call), counting its work: each key shifted or compared in the window by an insert
    or a delete (``bisect`` and the slice move), and for each rebuild of the window what one sort of the
    whole side would cost (more than its one scan does)."""
    source = source_module("arb.marketdata.book_side")
    assert not source._compiled

    class Counting(source.BookSide):  # type: ignore[name-defined, misc]
        __slots__ = ("work",)

        def __init__(self, *, ask: bool, window_size: int) -> None:
            super().__init__(ask=ask, window_size=window_size)
            self.work = 0

        def _shifted(self, key: int) -> int:
            n = self.wlen
            return n - bisect_left(self.ticks, key, 0, n) + max(n, 1).bit_length()

        def _insert(self, key: int) -> None:
            self.work += self._shifted(key)
            super()._insert(key)

        def _remove(self, key: int) -> None:
            self.work += self._shifted(key)
            super()._remove(key)

        def _rebuild(self) -> None:
            n = len(self.table)
            self.work += n * max(n, 1).bit_length()
            super()._rebuild()

    return Counting


def _snapshot_work(levels: int) -> int:
    """The work of a ``levels``-level snapshot (half bids, half asks, best first) on a depth-20 book's sides."""
    event = parse_event(_line(levels))  # the replay's reader, then the book's two sides
    counting = _counting_side()
    window = max(4 * 20, 32)  # OrderBook's window at depth 20
    bids, asks = counting(ask=False, window_size=window), counting(ask=True, window_size=window)
    bids.apply(list(event.bids))
    asks.apply(list(event.asks))
    assert len(bids) == len(asks) == levels // 2
    assert bids.best_price() == 50_000.0 and asks.best_price() == 50_000.01
    return int(bids.work + asks.work)


def test_600k_level_snapshot_costs_n_log_n_against_a_6k_one() -> None:
    small, large = _snapshot_work(6_000), _snapshot_work(600_000)
    bound = 100 * math.log(300_000) / math.log(3_000)  # n log n, per side
    assert large <= bound * small, f"6k levels: {small} units of work, 600k: {large} ({large / small:.0f}x)"


def test_the_count_sees_the_quadratic_way() -> None:
    # The same count with a window as large as the snapshot (every level inserted into one sorted list, as
    # before issue 13): 100 times the levels cost thousands of times the work, which the bound above fails.
    counting = _counting_side()

    def work(levels: int) -> int:
        side = counting(ask=False, window_size=levels)
        side.apply([[f"{50_000 - i * 0.01:.2f}", "1.5"] for i in range(levels)])
        return int(side.work)

    assert work(30_000) > 1_000 * work(300)


def test_a_deep_delta_is_applied_the_same_way() -> None:
    # A delta larger than the window shuts it too: the book is the same as when built level by level.
    store = BookStore(depth=5)
    store.snapshot("v", "A/B", [("10.00", "1")], [("20.00", "1")], ts=1)
    deep = [(f"{9 - i * 0.001:.3f}", "2") for i in range(2_000)]
    store.delta(store.book("v", "A/B"), deep, [], ts=2)
    one_by_one = BookStore(depth=5)
    one_by_one.snapshot("v", "A/B", [("10.00", "1")], [("20.00", "1")], ts=1)
    for level in deep:
        one_by_one.delta(one_by_one.book("v", "A/B"), [level], [], ts=2)
    got, want = store.book("v", "A/B"), one_by_one.book("v", "A/B")
    assert got.levels("bids") == want.levels("bids")
    assert got.top_arrays()[0].tolist() == want.top_arrays()[0].tolist() == [10.0, 9.0, 8.999, 8.998, 8.997]


@pytest.mark.parametrize(("prices", "string_keys"), [(FIXED, True), (SAME_DECIMALS, True), (PRICES, None)],
                         ids=["fixed", "odd", "mixed"])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_batches_that_overfill_the_window_match_the_reference(
    prices: st.SearchStrategy[str], string_keys: bool | None, data: st.DataObject
) -> None:
    # window_size 2: a batch bringing more than 8 levels into the window shuts it (test_book's property
    # uses batches too small for that), in every key regime, for snapshots and deltas.
    book = OrderBook("x", "A/B", depth=data.draw(st.integers(1, 6)))
    book.bids.window_size = book.asks.window_size = 2
    ref_b: dict[Decimal, Decimal] = {}
    ref_a: dict[Decimal, Decimal] = {}
    levels = st.lists(st.tuples(prices, SIZES), max_size=40)
    for seq in range(data.draw(st.integers(1, 8))):
        bids, asks = data.draw(levels), data.draw(levels)
        if seq == 0 or data.draw(st.booleans()):  # a snapshot: each price once, best first
            ref_b, ref_a = {}, {}
            _reference_apply(ref_b, bids)
            _reference_apply(ref_a, asks)
            book.apply_snapshot(sorted(((str(p), str(s)) for p, s in ref_b.items()), key=lambda lv: -D(lv[0])),
                                sorted(((str(p), str(s)) for p, s in ref_a.items()), key=lambda lv: D(lv[0])),
                                seq=seq)
        else:
            book.apply_delta(bids, asks, seq=seq)
            _reference_apply(ref_b, bids)
            _reference_apply(ref_a, asks)
        want_b, want_a = sorted(ref_b.items(), reverse=True), sorted(ref_a.items())
        assert book.levels("bids") == want_b and book.levels("asks") == want_a
        bid_px, _, ask_px, _ = book.top_arrays()
        assert bid_px.tolist() == [float(p) for p, _ in want_b[: book.depth]]
        assert ask_px.tolist() == [float(p) for p, _ in want_a[: book.depth]]
        assert book.best_bid() == (want_b[0][0] if want_b else None)
        assert book.best_ask() == (want_a[0][0] if want_a else None)
    if string_keys is not None:
        assert book.bids.fixed is string_keys and book.asks.fixed is string_keys
