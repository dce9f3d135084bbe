"""``detect_many`` for many symbols at once: the per-symbol Python of ``core`` done as array ops over all of them.

``core`` screens each symbol's top of book in plain Python, which is the cheapest way for one symbol (a
few scalar reads beat a dozen array ops of ~1 us each). Over hundreds of symbols that per-pair Python is
most of the time, so here every venue book of every symbol is stacked once, and the crossed-pair screen,
the early reasons, the reported pair, the gathering of kernel rows and their fee/balance factors, and the
ordering of viable pairs are array ops over all pairs of all symbols. What remains per symbol in Python is
finalizing in ``Decimal`` the pairs ``select.choose`` would finalize, in the order it would.

The decisions are exactly ``core``'s (and so the reference's): the same float formulas in the same order
of operations, the same pair order, the same tie-breaks (the property tests compare them on random books),
with one shared ``DetectionParams`` or one per item (the thresholds then become per-item arrays).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from itertools import chain, repeat, starmap
from operator import attrgetter
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from arb.detection.candidate import Candidate, buy_cost_factor, buy_net_factor
from arb.detection.finalize import BookFacts, finalize, rejection, unsized_rejection
from arb.detection.types import (
    LIVE,
    Decision,
    DetectionParams,
    FeeMode,
    FloatArray,
    Opportunity,
    Reason,
    Rejection,
    VenueBook,
)
from arb.detection.vectorized import (
    ASK_PAD,
    F_BUY_COST,
    F_BUY_NET,
    F_ONE,
    F_QUOTE,
    F_SELL_NET,
    F_X_CAP,
    pays_at_top,
    size_rows,
)

IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

# Reason codes per crossed pair; 0: still viable. Order of the first three is ``select.screen``'s.
_CODES = (
    None,
    Reason.BOOK_NOT_LIVE,
    Reason.BOOK_STALE,
    Reason.ABNORMAL_EDGE,
    Reason.UNPROFITABLE_AFTER_FEES,
    Reason.BALANCE_INSUFFICIENT,
)
_NOT_LIVE, _STALE, _ABNORMAL, _UNPROFITABLE, _NO_BALANCE = range(1, 6)
_BLOCK = 256  # kernel rows per call (see ``core``)
_NAN4 = (float("nan"),) * 4
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

    def factors(self, rows: IntArray) -> FloatArray:
        """``(len(rows), 5)``: buy cost, buy net and sell net factors of the venue's fee, then its base and
        quote balances, as floats."""

    def venue_book(self, row: int) -> VenueBook:
        """The row as a ``VenueBook`` (for the pairs finalized in ``Decimal``)."""

    def facts(self) -> FactsOf:
        """What a rejection with nothing to size records of a row (its ``VenueBook``'s fields), for any row, as
        of now: taken once per detection, read when the rejection's record is built."""


def detect_batch(
    items: Sequence[tuple[str, Sequence[VenueBook]]], params: DetectionParams | Sequence[DetectionParams]
) -> list[Decision]:
    """``detect`` for each ``(symbol, venues)``, in order; identical decisions, array ops across symbols.
    ``params``: shared, or one per item."""
    flat: list[VenueBook] = []
    bounds = [0]  # each item's rows are flat[bounds[k]:bounds[k + 1]]
    for _, venues in items:
        flat += venues
        bounds.append(len(flat))
    per_item(params, len(items))  # refuses a params list of another length, whatever the books
    if len(flat) < 2:
        return [None] * len(items)
    return records(detect_rows([symbol for symbol, _ in items], bounds, _VenueBookRows(flat), params))


def detect_rows(
    symbols: Sequence[str],
    bounds: Sequence[int],
    source: BookRows,
    params: DetectionParams | Sequence[DetectionParams],
    *,
    defer: bool = False,
    limits: ScreenLimits | None = None,
) -> list[Decision | PendingRejection]:
    """``detect`` for each symbol, whose venue books are ``rows`` ``bounds[k]`` to ``bounds[k + 1]``: the same
    decisions as ``detect`` on those books as ``VenueBook`` lists (a row without sides counts as no venue).

    ``defer``: a rejection decided by the array screen with nothing to size (the usual one: not profitable
    after fees) is returned as a :class:`PendingRejection`, its ``Rejection`` record built by
    :func:`records` later; without, every decision is complete. ``limits``: ``ScreenLimits.of(params)``, when
    the caller keeps it (a run's symbols have fixed parameters), instead of building it on every call."""
    shared = params if isinstance(params, DetectionParams) else None  # scalar thresholds, no arrays
    each = per_item(params, len(symbols))
    results: list[Decision | PendingRejection] = [None] * len(symbols)
    first = bounds[:-1]
    books, best, has_ask, has_bid = source.books, source.best, source.has_ask, source.has_bid
    pair_b, pair_s, pair_item = _pairs(bounds)
    # The screen reads only the tops: from their own small array, not one cache line per row of ``books``.
    ask = best[pair_b, 0]
    bid = best[pair_s, 1]
    gross = (bid - ask) / ask * 1e4  # core's and the reference's formula, so all screen the same value
    crossed = np.flatnonzero(has_ask[pair_b] & has_bid[pair_s] & (bid > ask) & (gross > 0))
    if not len(crossed):
        return results
    cb, cs, item, gross = pair_b[crossed], pair_s[crossed], pair_item[crossed], gross[crossed]

    # Health, age, fees and balances of the venues some crossed pair involves (few in a quiet market).
    seen = np.zeros(len(books), dtype=np.bool_)
    seen[cb] = seen[cs] = True
    involved = np.flatnonzero(seen)  # sorted, once each: np.unique's answer without its sort
    state = np.zeros(len(books), dtype=np.intp)
    factors = np.zeros((len(books), 5))  # buy cost, buy net, sell net factors; base, quote balances
    live, age = source.screen(involved)
    if shared is not None:
        over_age: BoolArray = age > shared.max_book_age_ms
        max_edge: float | FloatArray = float(shared.max_edge_bps)
        max_size: float | FloatArray = float(shared.max_size)
    else:
        limits = limits or ScreenLimits.of(each)
        if isinstance(bounds, range):  # items of ``bounds.step`` rows each
            owner = (involved - bounds.start) // bounds.step
        else:
            owner = np.searchsorted(first, involved, side="right") - 1  # each venue's item
        over_age = age > limits.max_age[owner]
        max_edge = limits.max_edge[item]
        max_size = limits.max_size[item]
    state[involved] = np.where(live, over_age, 2)
    factors[involved] = source.factors(involved)
    worst = np.maximum(state[cb], state[cs])
    code = np.where(worst == 2, _NOT_LIVE, np.where(worst == 1, _STALE, 0))
    code[(worst == 0) & (gross > max_edge)] = _ABNORMAL

    # Segments of crossed pairs per item (``crossed`` is in item order, then pair order).
    starts = np.empty(len(item), dtype=np.bool_)
    starts[0] = True
    np.not_equal(item[1:], item[:-1], out=starts[1:])
    seg_start = np.flatnonzero(starts)
    seg_id = np.cumsum(starts) - 1
    top_gross = np.maximum.reduceat(gross, seg_start)
    at = np.arange(len(gross))
    # The reported pair: largest gross edge, first in pair order on ties.
    top = np.minimum.reduceat(np.where(gross == top_gross[seg_id], at, len(gross)), seg_start)

    need = code == 0
    need[top] = True
    rows = np.flatnonzero(need)
    rb, rs = cb[rows], cs[rows]
    table = np.empty((len(rows), 6))
    table[:, F_BUY_COST] = factors[rb, 0]
    table[:, F_SELL_NET] = factors[rs, 2]
    table[:, F_BUY_NET] = factors[rb, 1]
    table[:, F_ONE] = 1.0
    row_max_size = max_size if isinstance(max_size, float) else max_size[rows]
    np.minimum(row_max_size * factors[rb, 1], factors[rs, 3], out=table[:, F_X_CAP])
    table[:, F_QUOTE] = factors[rb, 4]
    profitable, size, cost, proceeds = (np.zeros(len(rows)) for _ in range(4))
    pays = pays_at_top(best[rb, 0], best[rs, 1], table[:, F_BUY_COST], table[:, F_SELL_NET])
    pays |= (table[:, F_X_CAP] < 0) | (table[:, F_QUOTE] < 0)  # the kernel's own answer, whatever it is
    sized_rows = np.flatnonzero(pays)
    for lo in range(0, len(sized_rows), _BLOCK):
        at = sized_rows[lo : lo + _BLOCK]
        row_books = np.concatenate((books[rb[at], :2], books[rs[at], 2:]), axis=1)
        out = size_rows(row_books, table[at])
        profitable[at], size[at] = out.profitable_size, out.size
        cost[at], proceeds[at] = out.cost, out.proceeds

    sized = code[rows] == 0
    row_of = np.full(len(gross), -1, dtype=np.intp)
    row_of[rows] = np.arange(len(rows))
    seg_items = item[seg_start]
    if len(sized_rows):
        code[rows[sized & (profitable <= 0.0)]] = _UNPROFITABLE
        code[rows[sized & (profitable > 0.0) & (size <= 0.0)]] = _NO_BALANCE
        # Viable pairs per item, best float profit first (cost - proceeds ascending), ties in pair order.
        viable = np.flatnonzero(code == 0)
        key = cost[row_of[viable]] - proceeds[row_of[viable]]
        viable = viable[np.lexsort((viable, key, item[viable]))]
        viable_from = np.searchsorted(item[viable], seg_items)
        viable_to = np.searchsorted(item[viable], seg_items, side="right")
        top_sized = size[row_of[top]] > 0
    else:  # nothing pays even at the top of its books: every pair still in is unprofitable, none viable
        code[rows[sized]] = _UNPROFITABLE
        viable = np.zeros(0, dtype=np.intp)
        viable_from = viable_to = np.zeros(len(seg_items), dtype=np.intp)
        top_sized = np.zeros(len(seg_items), dtype=np.bool_)
    # The usual item of a fee-bound market: nothing viable, its reported pair not sized. Its decision is a
    # rejection with nothing to size, made here for all such items at once, from their reported pairs.
    plain = (viable_from == viable_to) & ~top_sized
    facts: FactsOf | None = None
    if plain.any():
        facts = source.facts()
        at = top[plain]
        made = starmap(PendingRejection, zip(
            map(_CODES.__getitem__, code[at].tolist()), map(symbols.__getitem__, seg_items[plain].tolist()),
            repeat(facts), cb[at].tolist(), cs[at].tolist(), ask[crossed[at]].tolist(), bid[crossed[at]].tolist(),
            gross[at].tolist()))
        for seg_item, pending in zip(seg_items[plain].tolist(), made, strict=True):
            results[seg_item] = pending if defer else pending.rejection()
    if plain.all():
        return results

    # The other items, one by one: the viable pairs finalized in ``Decimal`` in ``select.choose``'s order.
    rows_py = _Columns(row_of, profitable, size, cost, proceeds, factors[rb, 1])
    venue_book = source.venue_book
    first_py = np.array(first, dtype=np.intp)
    local_b, local_s = (cb - first_py[item]).tolist(), (cs - first_py[item]).tolist()
    global_b, global_s, gross_py, viable_py = cb.tolist(), cs.tolist(), gross.tolist(), viable.tolist()
    rest = np.flatnonzero(~plain)
    viable_from_py, viable_to_py = viable_from.tolist(), viable_to.tolist()
    for k, seg_item, t, sized_top in zip(rest.tolist(), seg_items[rest].tolist(), top[rest].tolist(),
                                         top_sized[rest].tolist(), strict=True):
        symbol = symbols[seg_item]
        decided: Decision | PendingRejection = None
        top_decided: Decision | PendingRejection = None
        for i in viable_py[viable_from_py[k] : viable_to_py[k]]:
            b, s = local_b[i], local_s[i]
            buy, sell = venue_book(global_b[i]), venue_book(global_s[i])
            decided = finalize(symbol, buy, sell, rows_py.candidate(i, b, s, gross_py[i]), each[seg_item])
            if isinstance(decided, Opportunity):
                break
            if i == t:
                top_decided = decided
            decided = None
        if decided is None:
            if top_decided is None:
                why = _CODES[int(code[t])]
                assert why is not None  # every viable pair was finalized above
                at_b, at_s = global_b[t], global_s[t]
                if sized_top:
                    cand = rows_py.candidate(t, local_b[t], local_s[t], gross_py[t])
                    top_decided = rejection(why, symbol, venue_book(at_b), venue_book(at_s), cand, each[seg_item])
                else:  # viable pairs, none of them the reported one, all rejected in ``Decimal``
                    facts = facts or source.facts()
                    unsized = PendingRejection(why, symbol, facts, at_b, at_s, float(ask[crossed[t]]),
                                               float(bid[crossed[t]]), gross_py[t])
                    top_decided = unsized if defer else unsized.rejection()
            decided = top_decided
        results[seg_item] = decided
    return results


class PendingRejection(NamedTuple):
    """A symbol's decision made in the array screen, a rejection with nothing to size: the reason and the pair
    are decided; the exact ``Rejection`` record of it (``Decimal`` prices and edge, the books' facts as they
    were at detection, from the batch's :class:`FactsOf`) is :meth:`rejection`."""

    reason: Reason
    symbol: str
    facts: FactsOf
    buy_row: int
    sell_row: int
    best_ask: float
    best_bid: float
    gross_edge_bps: float

    def rejection(self) -> Rejection:
        return unsized_rejection(self.reason, self.symbol, self.facts(self.buy_row), self.facts(self.sell_row),
                                 self.best_ask, self.best_bid, self.gross_edge_bps)


class FactsOf(Protocol):
    """The ``BookFacts`` of any row as they were when this was taken (later book updates do not change it)."""

    def __call__(self, row: int) -> BookFacts: ...


def records(decided: Sequence[Decision | PendingRejection]) -> list[Decision]:
    """``decided`` with every :class:`PendingRejection` replaced by its ``Rejection``."""
    return [d.rejection() if isinstance(d, PendingRejection) else d for d in decided]


def per_item(params: DetectionParams | Sequence[DetectionParams], n: int) -> Sequence[DetectionParams]:
    """``params`` as one ``DetectionParams`` per item (a shared one repeated)."""
    if isinstance(params, DetectionParams):
        return [params] * n
    if len(params) != n:
        raise ValueError(f"{len(params)} DetectionParams for {n} items")
    return params


class _Columns:
    """Kernel outputs as Python floats, looked up by crossed-pair index."""

    __slots__ = ("cost", "net", "proceeds", "profitable", "row_of", "size")

    def __init__(
        self, row_of: IntArray, profitable: FloatArray, size: FloatArray, cost: FloatArray, proceeds: FloatArray,
        net: FloatArray,
    ) -> None:
        self.row_of = row_of.tolist()
        self.profitable = profitable.tolist()
        self.size = size.tolist()
        self.cost = cost.tolist()
        self.proceeds = proceeds.tolist()
        self.net = net.tolist()

    def candidate(self, i: int, b: int, s: int, gross: float) -> Candidate:
        r = self.row_of[i]
        size, cost, proceeds = self.size[r], self.cost[r], self.proceeds[r]
        return Candidate(
            b, s, gross, self.profitable[r], size, size / self.net[r], *_NAN4, cost, proceeds, proceeds - cost
        )


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


class _VenueBookRows:
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

    def venue_book(self, row: int) -> VenueBook:
        return self.flat[row]

    def facts(self) -> FactsOf:
        return self._facts  # the VenueBooks are frozen: they are their own snapshot

    def _facts(self, row: int) -> BookFacts:
        v = self.flat[row]
        return BookFacts(v.venue, v.taker_fee, v.seq, v.age_ms)


def _pairs(bounds: Sequence[int]) -> tuple[IntArray, IntArray, IntArray]:
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
    """``_pairs`` of ``items`` items of ``venues`` rows each from row ``start``; kept, read-only, for the next
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
