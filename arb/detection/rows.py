"""Many symbols' venue books as rows, what the batch (``batch.py``) reads: the :class:`BookRows` protocol (a
run's tracked rows, ``runtime/detector.py``, or :class:`VenueBookRows` over ``VenueBook`` lists), the
thresholds the screen reads per symbol, each venue's fee and balances as float factors, and every ordered
(buy, sell) row pair of every symbol in the reference's pair order.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from itertools import chain
from operator import attrgetter
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from arb.detection.candidate import buy_cost_factor, buy_net_factor
from arb.detection.finalize import BookFacts
from arb.detection.types import LIVE, DetectionParams, FeeMode, FloatArray, VenueBook
from arb.detection.vectorized import ASK_PAD

IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

_SIDES = attrgetter("ask_px", "ask_sz", "bid_px", "bid_sz")


class BookRows(Protocol):
    """Every venue book of many symbols as rows: what :func:`detect_rows` reads. Row ``k`` is one venue's book
    of one symbol; a symbol's rows are consecutive.

    ``books`` is ``(rows, 4, levels)``: ``[ask_px, ask_sz, bid_px, bid_sz]`` best first, a short side padded
    as ``vectorized.stack_rows`` pads it (asks at ``ASK_PAD``, zero sizes); ``has_ask``/``has_bid`` say which
    rows have a side at all (a row with neither never crosses: a venue with no book yet). The rest is read
    only for the rows some crossed pair involves, few in a quiet market.
    """

    books: FloatArray
    best: FloatArray  # (rows, 2): each row's best ask and best bid, ``books[:, (0, 2), 0]``, kept contiguous
    has_ask: BoolArray
    has_bid: BoolArray

    def screen(self, rows: IntArray) -> tuple[BoolArray, IntArray]:
        """Whether each of ``rows`` is live (``VenueBook.health``), and its ``VenueBook.age_ms``."""

    def tops(self) -> TopInputs:
        """Every row's part of what :meth:`screen` and :meth:`factors` give, as ``top_screen`` reads it."""

    def factors(self, rows: IntArray) -> FloatArray:
        """``(len(rows), 5)``: buy cost, buy net and sell net factors of the venue's fee, then its base and
        quote balances, as floats."""

    def venue_book(self, row: int) -> VenueBook:
        """The row as a ``VenueBook`` (for the pairs finalized in ``Decimal``)."""

    def facts(self) -> FactsOf:
        """What a rejection with nothing to size records of a row (its ``VenueBook``'s fields), for any row, as
        of now: taken once per detection, read when the rejection's record is built."""


class TopInputs(NamedTuple):
    """What ``top_screen.TopScreen`` reads of every row, the arrays as the rows keep them where they can
    (no copies on a run's hot path). A row's age is ``now - received`` (0 when negative); it is live when it
    was at its last update (``live_at_update``) and its age is at most ``max_age_ms``: ``screen``'s answer."""

    best: FloatArray  # (rows, 2), C-contiguous
    has_ask: npt.NDArray[np.uint8]
    has_bid: npt.NDArray[np.uint8]
    received: IntArray
    live_at_update: npt.NDArray[np.uint8]
    now: int
    max_age_ms: int
    factors: FloatArray  # (rows, 5), C-contiguous: ``factors`` of every row


class FactsOf(Protocol):
    """The ``BookFacts`` of any row as they were when this was taken (later book updates do not change it)."""

    def __call__(self, row: int) -> BookFacts: ...


class ScreenLimits:
    """The thresholds the array screen reads per item (abnormal edge, max size, max book age), as arrays."""

    __slots__ = ("max_age", "max_edge", "max_size")

    def __init__(self, max_edge: FloatArray, max_size: FloatArray, max_age: IntArray) -> None:
        self.max_edge, self.max_size, self.max_age = max_edge, max_size, max_age

    @classmethod
    def of(cls, each: Sequence[DetectionParams]) -> ScreenLimits:
        return cls(np.array([float(p.max_edge_bps) for p in each]), np.array([float(p.max_size) for p in each]),
                   np.array([p.max_book_age_ms for p in each], dtype=np.intp))

    def subset(self, at: IntArray) -> ScreenLimits:
        """The limits of items ``at``, in that order."""
        return ScreenLimits(self.max_edge[at], self.max_size[at], self.max_age[at])


class VenueBookRows:
    """``BookRows`` over ``VenueBook`` lists: the sides stacked once, the rest read from the books."""

    __slots__ = ("best", "books", "flat", "has_ask", "has_bid")

    def __init__(self, flat: Sequence[VenueBook]) -> None:
        self.flat = flat
        parts: list[FloatArray] = list(chain.from_iterable(map(_SIDES, flat)))
        depth = len(parts[0])
        if depth and set(map(len, parts)) == {depth}:
            self.books = np.concatenate(parts).reshape(len(flat), 4, depth)
            self.best = self.books[:, (0, 2), 0]
            self.has_ask = self.has_bid = np.ones(len(flat), dtype=np.bool_)
            return
        depth = max(1, *(len(v.ask_px) for v in flat), *(len(v.bid_px) for v in flat))
        books = np.zeros((len(flat), 4, depth))
        books[:, 0] = ASK_PAD
        for k, v in enumerate(flat):
            books[k, 0, : len(v.ask_px)] = v.ask_px
            books[k, 1, : len(v.ask_sz)] = v.ask_sz
            books[k, 2, : len(v.bid_px)] = v.bid_px
            books[k, 3, : len(v.bid_sz)] = v.bid_sz
        self.books = books
        self.best = books[:, (0, 2), 0]
        self.has_ask = np.array([len(v.ask_px) > 0 for v in flat])
        self.has_bid = np.array([len(v.bid_px) > 0 for v in flat])

    def screen(self, rows: IntArray) -> tuple[BoolArray, IntArray]:
        picked = [self.flat[k] for k in rows.tolist()]
        return np.array([v.health == LIVE for v in picked]), np.array([v.age_ms for v in picked], dtype=np.intp)

    def factors(self, rows: IntArray) -> FloatArray:
        picked = [self.flat[k] for k in rows.tolist()]
        return np.array([venue_factors(v.taker_fee, v.fee_mode, v.base_balance, v.quote_balance) for v in picked])

    def tops(self) -> TopInputs:
        # A VenueBook's health is taken already: received ``age_ms`` before a clock at 0, no age limit on top.
        flat = self.flat
        return TopInputs(np.ascontiguousarray(self.best), self.has_ask.view(np.uint8), self.has_bid.view(np.uint8),
                         np.array([-v.age_ms for v in flat], dtype=np.intp),
                         np.array([v.health == LIVE for v in flat]).view(np.uint8), 0, np.iinfo(np.intp).max,
                         np.ascontiguousarray(self.factors(np.arange(len(flat)))))

    def venue_book(self, row: int) -> VenueBook:
        return self.flat[row]

    def facts(self) -> FactsOf:
        return self._facts  # the VenueBooks are frozen: they are their own snapshot

    def _facts(self, row: int) -> BookFacts:
        v = self.flat[row]
        return BookFacts(v.venue, v.taker_fee, v.seq, v.age_ms)


def row_pairs(bounds: Sequence[int]) -> tuple[IntArray, IntArray, IntArray]:
    """Every ordered row pair of every item, in item order then ``(buy, sell)`` order: both sides' rows and
    the item index."""
    if isinstance(bounds, range) and bounds.start == 0 and len(bounds) > 1:  # the tracked rows: every item alike
        return _uniform_pairs(len(bounds) - 1, bounds.step)
    counts = np.diff(bounds).tolist()
    if len(set(counts)) == 1:
        return _uniform_pairs(len(counts), counts[0], bounds[0])
    parts_b, parts_s, parts_item = [], [], []
    for k, (n, at) in enumerate(zip(counts, bounds, strict=False)):
        local_b, local_s = _local_pairs(n)
        parts_b.append(local_b + at)
        parts_s.append(local_s + at)
        parts_item.append(np.full(len(local_b), k, dtype=np.intp))
    return np.concatenate(parts_b), np.concatenate(parts_s), np.concatenate(parts_item)


@lru_cache(maxsize=64)
def _uniform_pairs(items: int, venues: int, start: int = 0) -> tuple[IntArray, IntArray, IntArray]:
    """``row_pairs`` of ``items`` items of ``venues`` rows each from row ``start``; kept, read-only, for the next
    call with as many items (a run's batches repeat a few sizes)."""
    local_b, local_s = _local_pairs(venues)
    base = (start + venues * np.arange(items, dtype=np.intp))[:, None]
    out = (base + local_b).ravel(), (base + local_s).ravel(), np.repeat(np.arange(items), len(local_b))
    for array in out:
        array.setflags(write=False)
    return out


@lru_cache(maxsize=64)
def _local_pairs(n: int) -> tuple[IntArray, IntArray]:
    """Ordered pairs ``b != s`` of ``n`` venues, ``b`` major: the reference's and ``core``'s pair order."""
    b, s = np.divmod(np.arange(n * n, dtype=np.intp), n)
    keep = b != s
    return b[keep], s[keep]


@lru_cache(maxsize=1024)
def venue_factors(
    fee: Decimal, mode: FeeMode, base: Decimal, quote: Decimal
) -> tuple[float, float, float, float, float]:
    """``(buy cost factor, buy net factor, sell net factor, base balance, quote balance)`` as floats: a few
    distinct fee tiers and balances that change only with fills."""
    f = float(fee)
    return buy_cost_factor(mode, f), buy_net_factor(mode, f), 1.0 - f, float(base), float(quote)
