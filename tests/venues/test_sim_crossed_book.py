"""A simulated venue's own book is never crossed: the matcher checks it after every market event it applies,
counts the events that leave it crossed and says where it became so (``Matcher.crossed``, ``on_crossed``); the
paper venue says it in one WARNING line. The book's best levels, which that check and every order read, are
kept as levels change and always equal the side's max and min (a property test)."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.domain.market import MarketRules
from arb.venues.paper.venue import PaperVenue
from arb.venues.sim.book import Book, CrossedBook
from arb.venues.sim.matching import Matcher
from arb.venues.sim.orders import SimMarket

SPOT = SimMarket("BTC/USDT", "BTC", "USDT", D("0.01"), D("0.001"))


def watched(deferred: bool = False) -> tuple[Matcher, list[tuple[str, int, D, D]]]:
    told: list[tuple[str, int, D, D]] = []
    m = Matcher([SPOT], deferred_books=deferred, on_crossed=lambda *where: told.append(where))
    m.set_balance("a", "USDT", D("100000"))
    m.on_book("BTC/USDT", "snapshot", [("100", "1"), ("99", "1")], [("101", "1"), ("102", "1")], 1)
    return m, told


def test_a_crossed_book_is_counted_and_told_where_each_time_it_becomes_so() -> None:
    m, told = watched()
    assert m.crossed == {} and told == []
    m.on_book("BTC/USDT", "delta", [("101.5", "2")], [], 2)  # a bid through the best ask
    assert told == [("BTC/USDT", 2, D("101.5"), D("101"))]
    m.on_book("BTC/USDT", "delta", [], [("101", "0")], 3)  # the ask it crossed is gone: 101.5 < 102
    m.on_book("BTC/USDT", "delta", [("102", "1")], [], 4)  # crossed again, at 102 = 102 (a locked book)
    m.on_book("BTC/USDT", "delta", [("99", "3")], [], 5)  # stays crossed: counted, not told again
    assert m.crossed == {"BTC/USDT": CrossedBook(2, D("101.5"), D("101"), events=3, times=2)}
    assert told[1:] == [("BTC/USDT", 4, D("102"), D("102"))]


def test_a_deferred_event_is_checked_when_it_is_applied_with_its_own_time() -> None:
    m, told = watched(deferred=True)
    m.on_book("BTC/USDT", "delta", [("101.5", "2")], [], 2)  # a bid through the best ask
    m.on_book("BTC/USDT", "delta", [("101.5", "0")], [], 3)
    m.on_book("BTC/USDT", "delta", [], [("99.5", "1")], 4)  # an ask through the best bid
    assert told == []  # nothing applied yet: no order has met the book
    m.place("a", "BTC/USDT", "buy", D("90"), D("0.001"), "gtc", "b1", 10)
    assert told == [("BTC/USDT", 2, D("101.5"), D("101")), ("BTC/USDT", 4, D("100"), D("99.5"))]


def test_an_order_in_a_crossed_book_is_matched_as_the_book_stands() -> None:
    """The check says so and changes nothing: a post-only bid at the phantom's price is refused as before."""
    m, _ = watched()
    m.on_book("BTC/USDT", "delta", [], [("99.5", "1")], 2)  # an ask below the best bid
    order, _ = m.place("a", "BTC/USDT", "buy", D("99.5"), D("0.001"), "ioc", "b1", 3)
    assert order.filled_amount == D("0.001") and m.crossed["BTC/USDT"].events == 1


def test_the_paper_venue_says_where_in_one_warning_line(caplog: pytest.LogCaptureFixture) -> None:
    rules = MarketRules("spot", "BTC/USDT", D("0.01"), D("0.00001"))
    paper = PaperVenue("spot", None, {"BTC/USDT": rules}, {"USDT": D("1000")})
    paper.on_book("BTC/USDT", "snapshot", [("61820.99", "1")], [("61821.00", "1")], 1723161254206)
    with caplog.at_level(logging.WARNING, logger="arb.venues.paper.venue"):
        paper.on_book("BTC/USDT", "delta", [], [("61817.40", "1")], 1723161342075)
        paper.on_book("BTC/USDT", "delta", [], [("61817.30", "1")], 1723161342175)
        paper.matcher.book("BTC/USDT")  # deferred events are applied when an order (or a reader) meets the book
    [line] = [r.getMessage() for r in caplog.records]  # once: it stayed crossed
    assert line.startswith("spot BTC/USDT: the simulated book is crossed after the market event at "
                           "2024-08-08T23:55:42.075+00:00: best bid 61820.99 >= best ask 61817.40"), line
    assert paper.crossed_books() == {"BTC/USDT": CrossedBook(1723161342075, D("61820.99"), D("61817.40"), 2, 1)}


levels = st.lists(st.tuples(st.integers(1, 30), st.integers(0, 3)), max_size=8)
steps = st.lists(st.one_of(
    st.tuples(st.just("snapshot"), levels, levels),
    st.tuples(st.just("delta"), levels, levels),
    st.tuples(st.just("consume"), st.sampled_from(["bids", "asks"]), st.integers(1, 30), st.integers(1, 3)),
), max_size=40)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_the_best_levels_are_always_the_sides_max_and_min(script: list[tuple]) -> None:
    book = Book("X")
    for step in script:
        if step[0] == "consume":
            _, side, price, amount = step
            book.consume(side, D(price), D(amount), 0)
        else:
            kind, bids, asks = step
            b = [(D(p), D(s)) for p, s in bids]
            a = [(D(p), D(s)) for p, s in asks]
            (book.replace if kind == "snapshot" else book.apply)(b, a, 0)
        assert book.best_bid() == max(book.bids, default=None)
        assert book.best_ask() == min(book.asks, default=None)
