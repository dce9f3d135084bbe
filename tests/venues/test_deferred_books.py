"""A paper venue's matcher defers a market's events while nothing rests there: the same book at every order
as applying each event on arrival, and memory bounded however long no order comes."""

from __future__ import annotations

import random
import tracemalloc
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from arb.venues.sim.matching import DEFERRED_EVENTS, Matcher
from arb.venues.sim.orders import SimMarket

SPOT = SimMarket("BTC/USDT", "BTC", "USDT", D("0.01"), D("0.001"))


def matcher(deferred: bool) -> tuple[Matcher, list[tuple[str, int, D, D]]]:
    told: list[tuple[str, int, D, D]] = []
    m = Matcher([SPOT], deferred_books=deferred, on_crossed=lambda *where: told.append(where))
    m.set_balance("a", "USDT", D("1000000"))
    return m, told


levels = st.lists(st.tuples(st.integers(90, 110), st.integers(0, 3)), max_size=6)
delta = st.tuples(st.just("delta"), levels, levels)
# A diff stream's capture: runs of deltas longer than the bound (no order meets the market meanwhile), then
# a snapshot or an order, and so on.
events = st.tuples(
    st.lists(delta, min_size=DEFERRED_EVENTS + 1, max_size=2 * DEFERRED_EVENTS + 5),
    st.lists(st.one_of(delta, st.tuples(st.just("snapshot"), levels, levels),
                       st.tuples(st.just("order"), st.integers(90, 110), st.integers(1, 3))), max_size=80),
).map(lambda parts: [("snapshot", [(99, 1)], [(101, 1)]), *parts[0], *parts[1]])


@settings(max_examples=60, deadline=None)
@given(events)
def test_deferred_events_give_the_book_of_applying_each_on_arrival(script: list[tuple]) -> None:
    """Runs longer than ``DEFERRED_EVENTS`` without an order, so the held events are applied on the bound too.
    The crossed-book record is the same too where no snapshot came after the first: a snapshot drops the
    events held before it unchecked (it sets every level), so a crossing among them is not counted."""
    eager, eager_told = matcher(deferred=False)
    deferred, deferred_told = matcher(deferred=True)
    for ts, step in enumerate(script):
        for m in (eager, deferred):
            if step[0] == "order":  # an IOC buy: it meets (and takes from) the book as it stands
                m.place("a", "BTC/USDT", "buy", D(step[1]), D(step[2]) / 1000, "ioc", f"o{ts}", ts)
            else:
                kind, bids, asks = step
                m.on_book("BTC/USDT", kind, [(str(p), str(s)) for p, s in bids],
                          [(str(p), str(s)) for p, s in asks], ts)
    eager_book, deferred_book = eager.book("BTC/USDT"), deferred.book("BTC/USDT")
    assert (deferred_book.bids, deferred_book.asks) == (eager_book.bids, eager_book.asks)
    assert (deferred_book.best_bid(), deferred_book.best_ask()) == (eager_book.best_bid(), eager_book.best_ask())
    if not any(step[0] == "snapshot" for step in script[1:]):
        assert deferred.crossed == eager.crossed and deferred_told == eager_told
    assert [(t.price, t.amount) for t in deferred.trades] == [(t.price, t.amount) for t in eager.trades]


def test_a_market_no_order_meets_holds_a_bounded_number_of_deltas() -> None:
    """A capture of deltas has no snapshot after its first: held until an order came, a two-hour replay of one
    symbol on two venues grew to 1.3 GB. 5,000 deltas of 40 levels each (~8 KB apiece as parsed) would hold
    ~40 MB; bounded, the held ones and the book's 200 levels stay within a few."""
    m, _ = matcher(deferred=True)
    rnd = random.Random(7)

    def side(sign: int) -> list[tuple[str, str]]:
        return [(f"{100 + sign * 0.01 * (i + 1):.2f}", str(rnd.randint(1, 9))) for i in rnd.sample(range(100), 20)]

    m.on_book("BTC/USDT", "snapshot", side(-1) * 5, side(1) * 5, 0)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for ts in range(1, 5_001):
            m.on_book("BTC/USDT", "delta", side(-1), side(1), ts)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 4_000_000, f"{held:,} bytes held after 5,000 deltas"
    book = m.book("BTC/USDT")
    assert book.best_bid() is not None and book.best_bid() < book.best_ask()  # type: ignore[operator]
