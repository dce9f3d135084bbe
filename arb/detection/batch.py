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

``detect_rows`` runs in named steps, each over all symbols at once: :func:`_crossed` (the crossed pairs of
every symbol, from the tops alone), :func:`_screen` (the early reasons from the involved venues' health,
age and thresholds), :func:`_reported` (each symbol's reported pair), :func:`_size` (the kernel's depth walk
of the pairs still in), :func:`_rank` (the late reasons; viable pairs in ``select.choose``'s order),
:func:`_reject_unsized` (the symbols whose decision is a rejection with nothing to size) and
:func:`_finalize_rest` (the other symbols, one by one, in ``Decimal``). The rows they read are ``rows.py``'s.
Compiled, :mod:`~arb.detection.top_screen` first does the first four steps in one loop over every pair
(:func:`_decide_tops`, items of as many rows each): it decides every symbol the screen alone decides, and the
steps run only on the symbols it leaves, those with a pair to size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np

from arb.detection import top_screen
from arb.detection.candidate import Candidate
from arb.detection.finalize import finalize, rejection, unsized_rejection
from arb.detection.rows import (
    BookRows,
    BoolArray,
    FactsOf,
    IntArray,
    ScreenLimits,
    TopInputs,
    VenueBookRows,
    row_pairs,
)
from arb.detection.types import (
    Decision,
    DetectionParams,
    FloatArray,
    Opportunity,
    Reason,
    Rejection,
    VenueBook,
)
from arb.detection.vectorized import (
    F_BUY_COST,
    F_BUY_NET,
    F_ONE,
    F_QUOTE,
    F_SELL_NET,
    F_X_CAP,
    pays_at_top,
    size_rows,
)

# Reason codes per crossed pair, ``top_screen``'s (1 to 5 in this order); 0: still viable. Order of the first
# three is ``select.screen``'s.
_NOT_LIVE, _STALE, _ABNORMAL, _UNPROFITABLE, _NO_BALANCE = (top_screen.NOT_LIVE, top_screen.STALE,
                                                            top_screen.ABNORMAL, top_screen.UNPROFITABLE,
                                                            top_screen.NO_BALANCE)
_CODES = (
    None,
    Reason.BOOK_NOT_LIVE,
    Reason.BOOK_STALE,
    Reason.ABNORMAL_EDGE,
    Reason.UNPROFITABLE_AFTER_FEES,
    Reason.BALANCE_INSUFFICIENT,
)
_STATE_CODES = np.array([0, _STALE, _NOT_LIVE], dtype=np.intp)
_BLOCK = 256  # kernel rows per call (see ``core``)
_NAN4 = (float("nan"),) * 4
# Compiled, ``top_screen``'s one pass decides what the screen alone decides; run as Python it would be slower
# than the array ops it replaces, so without the build the array path does everything.
_TopScreen = top_screen.TopScreen if top_screen.COMPILED else None
KeptScreen = tuple[top_screen.TopScreen, int]  # a caller's screen over its rows (``top_screen_of``), and now


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
    return records(detect_rows([symbol for symbol, _ in items], bounds, VenueBookRows(flat), params))


def detect_rows(
    symbols: Sequence[str],
    bounds: Sequence[int],
    source: BookRows,
    params: DetectionParams | Sequence[DetectionParams],
    *,
    defer: bool = False,
    limits: ScreenLimits | None = None,
    kept: KeptScreen | None = None,
) -> list[Decision | PendingRejection]:
    """``detect`` for each symbol, whose venue books are ``rows`` ``bounds[k]`` to ``bounds[k + 1]``: the same
    decisions as ``detect`` on those books as ``VenueBook`` lists (a row without sides counts as no venue).

    ``defer``: a rejection decided by the array screen with nothing to size (the usual one: not profitable
    after fees) is returned as a :class:`PendingRejection`, its ``Rejection`` record built by
    :func:`records` later; without, every decision is complete. ``limits``: ``ScreenLimits.of(params)``, when
    the caller keeps it (a run's symbols have fixed parameters), instead of building it on every call; ``kept``
    likewise the compiled pass over ``source`` with those limits (:func:`top_screen_of`) and the rows' clock."""
    each = per_item(params, len(symbols))
    results: list[Decision | PendingRejection] = [None] * len(symbols)
    only: BoolArray | None = None  # the items left to the array path (None: all)
    venues = _uniform(bounds, source)
    if venues and (kept is not None or _TopScreen is not None):
        only = _decide_tops(results, symbols, venues, source, params, each, limits, defer, kept)
        if only is None:
            return results
    crossed = _crossed(bounds, source, only)
    if crossed is None:
        return results
    code, factors, max_size = _screen(crossed, bounds, source, params, each, limits)
    seg_start, top = _reported(crossed)
    sized = _size(crossed, code, top, source.books, factors, max_size)
    seg_items = crossed.item[seg_start]
    ranked = _rank(crossed, code, sized, top, seg_items)
    plain, facts = _reject_unsized(results, crossed, code, top, seg_items, ranked, symbols, source, defer)
    if not plain.all():
        _finalize_rest(results, crossed, code, sized, factors, top, seg_items, ranked, plain, facts,
                       symbols, bounds, source, each, defer)
    return results


class _Crossed(NamedTuple):
    """The crossed pairs of every item, in item order then pair order: buy and sell rows, item, gross edge;
    ``at`` each one's index into ``ask``/``bid`` (every pair's top of book)."""

    at: IntArray
    buy: IntArray
    sell: IntArray
    item: IntArray
    gross: FloatArray
    ask: FloatArray
    bid: FloatArray


def _uniform(bounds: Sequence[int], source: BookRows) -> int:
    """The rows per item when every item has as many and they are all of ``source``'s rows; else 0."""
    if isinstance(bounds, range):
        step = bounds.step if bounds.start == 0 and len(bounds) > 1 else 0
    else:
        counts = set(np.diff(bounds).tolist())
        step = counts.pop() if bounds[0] == 0 and len(counts) == 1 else 0
    return step if step and bounds[-1] == len(source.best) else 0


def _decide_tops(
    results: list[Decision | PendingRejection], symbols: Sequence[str], venues: int, source: BookRows,
    params: DetectionParams | Sequence[DetectionParams], each: Sequence[DetectionParams],
    limits: ScreenLimits | None, defer: bool, kept: KeptScreen | None,
) -> BoolArray | None:
    """``top_screen.TopScreen`` over items of ``venues`` rows each (the caller's ``kept`` one, or one built on
    ``source``'s tops now): the rejections it decides into ``results``, as ``_reject_unsized`` makes them;
    returns which items need sizing (the array path's), None when none does."""
    if kept is not None:
        screen, now = kept
    else:
        items = len(source.best) // venues
        if isinstance(params, DetectionParams):
            limits = ScreenLimits(np.full(items, float(params.max_edge_bps)), np.full(items, float(params.max_size)),
                                  np.full(items, params.max_book_age_ms, dtype=np.intp))
        else:
            limits = limits or ScreenLimits.of(each)
        tops = source.tops()
        built = top_screen_of(tops, venues, limits)
        assert built is not None  # called only where the pass is built
        screen, now = built, tops.now
    items = screen.items
    outcome = np.empty(items, dtype=np.uint8)
    rejected, prices = np.empty((4, items), dtype=np.intp), np.empty((3, items))
    batch = UnsizedRejections(symbols, source.facts(), rejected, prices)
    batch.count, sized = screen.screen(now, outcome, rejected, prices, results, _pending, batch)
    if not defer and batch.count:
        for k in rejected[1, :batch.count].tolist():
            results[k] = results[k].rejection()
    return outcome == top_screen.SIZED if sized else None


def top_screen_of(tops: TopInputs, venues: int, limits: ScreenLimits) -> top_screen.TopScreen | None:
    """The compiled pass over ``tops``, items of ``venues`` rows with ``limits``; None where the pass is not
    built. Rows whose arrays stay the same objects (updated in place, as a run's tracked rows are) keep it and
    pass it to :func:`detect_rows` with each detection's clock (``kept``)."""
    if _TopScreen is None:
        return None
    return _TopScreen(tops.best, tops.has_ask, tops.has_bid, tops.received, tops.live_at_update, tops.max_age_ms,
                      tops.factors, venues, limits.max_age, limits.max_edge, limits.max_size)


def _crossed(bounds: Sequence[int], source: BookRows, only: BoolArray | None = None) -> _Crossed | None:
    """Every ordered pair of every item (of the items ``only`` marks, if given) whose books cross at the top;
    None when none does."""
    best, has_ask, has_bid = source.best, source.has_ask, source.has_bid
    pair_b, pair_s, pair_item = row_pairs(bounds)
    # The screen reads only the tops: from their own small array, not one cache line per row of ``books``.
    ask = best[:, 0][pair_b]  # a column's view, then one flat gather: ~1 us less than best[pair_b, 0]
    bid = best[:, 1][pair_s]
    gross = (bid - ask) / ask * 1e4  # core's and the reference's formula, so all screen the same value
    mask = has_ask[pair_b] & has_bid[pair_s] & (bid > ask) & (gross > 0)
    if only is not None:
        mask &= only[pair_item]
    crossed = np.flatnonzero(mask)
    if not len(crossed):
        return None
    return _Crossed(crossed, pair_b[crossed], pair_s[crossed], pair_item[crossed], gross[crossed], ask, bid)


def _screen(
    c: _Crossed, bounds: Sequence[int], source: BookRows, params: DetectionParams | Sequence[DetectionParams],
    each: Sequence[DetectionParams], limits: ScreenLimits | None,
) -> tuple[IntArray, FloatArray, float | FloatArray]:
    """Each crossed pair's early reason code (not live, stale, abnormal edge; 0 when still in), from the
    health, age, fees and balances of the venues some crossed pair involves (few in a quiet market); those
    venues' factors (``source.factors``, by row) and the max size each pair is sized to."""
    n = len(source.books)
    seen = np.zeros(n, dtype=np.bool_)
    seen[c.buy] = seen[c.sell] = True
    involved = np.flatnonzero(seen)  # sorted, once each: np.unique's answer without its sort
    state = np.zeros(n, dtype=np.intp)
    factors = np.zeros((n, 5))  # buy cost, buy net, sell net factors; base, quote balances
    live, age = source.screen(involved)
    if isinstance(params, DetectionParams):  # scalar thresholds, no arrays
        over_age: BoolArray = age > params.max_book_age_ms
        max_edge: float | FloatArray = float(params.max_edge_bps)
        max_size: float | FloatArray = float(params.max_size)
    else:
        limits = limits or ScreenLimits.of(each)
        if isinstance(bounds, range):  # items of ``bounds.step`` rows each
            owner = (involved - bounds.start) // bounds.step
        else:
            owner = np.searchsorted(bounds[:-1], involved, side="right") - 1  # each venue's item
        over_age = age > limits.max_age[owner]
        max_edge = limits.max_edge[c.item]
        max_size = limits.max_size[c.item]
    state[involved] = np.where(live, over_age, 2)
    factors[involved] = source.factors(involved)
    worst = np.maximum(state[c.buy], state[c.sell])
    code = _STATE_CODES[worst]
    code[(worst == 0) & (c.gross > max_edge)] = _ABNORMAL
    return code, factors, max_size


def _reported(c: _Crossed) -> tuple[IntArray, IntArray]:
    """Each item's segment of crossed pairs (where it starts), and its reported pair: the largest gross edge,
    first in pair order on ties."""
    starts = np.empty(len(c.item), dtype=np.bool_)
    starts[0] = True
    np.not_equal(c.item[1:], c.item[:-1], out=starts[1:])
    seg_start = np.flatnonzero(starts)
    seg_id = np.cumsum(starts) - 1
    top_gross = np.maximum.reduceat(c.gross, seg_start)
    at = np.arange(len(c.gross))
    top = np.minimum.reduceat(np.where(c.gross == top_gross[seg_id], at, len(c.gross)), seg_start)
    return seg_start, top


class _Sized(NamedTuple):
    """The kernel's answers for ``rows`` (the crossed pairs still in, and every reported pair); ``row_of``
    maps a crossed pair to its row (-1: not sized); ``walked``: whether any row paid at its top."""

    rows: IntArray
    row_of: IntArray
    buy_rows: IntArray
    profitable: FloatArray
    size: FloatArray
    cost: FloatArray
    proceeds: FloatArray
    walked: bool


def _size(c: _Crossed, code: IntArray, top: IntArray, books: FloatArray, factors: FloatArray,
          max_size: float | FloatArray) -> _Sized:
    """The depth walk (``vectorized.size_rows``) of the pairs still in and of every reported pair, those
    that pay at the top of their books only, ``_BLOCK`` rows per call. After fees usually none does: the
    kernel's factor table is then never built (a dozen array ops of a batch's ~100)."""
    need = code == 0
    need[top] = True
    rows = np.flatnonzero(need)
    rb, rs = c.buy[rows], c.sell[rows]
    buy_cost, sell_net = factors[rb, 0], factors[rs, 2]
    row_max_size = max_size if isinstance(max_size, float) else max_size[rows]
    x_cap = np.minimum(row_max_size * factors[rb, 1], factors[rs, 3])
    quote = factors[rb, 4]
    at = c.at[rows]
    pays = pays_at_top(c.ask[at], c.bid[at], buy_cost, sell_net)
    pays |= (x_cap < 0) | (quote < 0)  # the kernel's own answer, whatever it is
    sized_rows = np.flatnonzero(pays)
    profitable, size, cost, proceeds = (np.zeros(len(rows)) for _ in range(4))
    if len(sized_rows):
        table = np.empty((len(rows), 6))
        table[:, F_BUY_COST], table[:, F_SELL_NET], table[:, F_BUY_NET] = buy_cost, sell_net, factors[rb, 1]
        table[:, F_ONE] = 1.0
        table[:, F_X_CAP], table[:, F_QUOTE] = x_cap, quote
        for lo in range(0, len(sized_rows), _BLOCK):
            block = sized_rows[lo : lo + _BLOCK]
            row_books = np.concatenate((books[rb[block], :2], books[rs[block], 2:]), axis=1)
            out = size_rows(row_books, table[block])
            profitable[block], size[block] = out.profitable_size, out.size
            cost[block], proceeds[block] = out.cost, out.proceeds
    row_of = np.full(len(c.gross), -1, dtype=np.intp)
    row_of[rows] = np.arange(len(rows))
    return _Sized(rows, row_of, rb, profitable, size, cost, proceeds, bool(len(sized_rows)))


class _Ranked(NamedTuple):
    """Viable crossed pairs, each item's best float profit first; item ``k``'s are ``viable[start[k]:end[k]]``.
    ``top_sized``: whether each item's reported pair was sized to something."""

    viable: IntArray
    start: IntArray
    end: IntArray
    top_sized: BoolArray


def _rank(c: _Crossed, code: IntArray, s: _Sized, top: IntArray, seg_items: IntArray) -> _Ranked:
    """The late reasons (unprofitable after fees, balance insufficient) into ``code``; the viable pairs per
    item, best float profit first (cost - proceeds ascending), ties in pair order."""
    sized = code[s.rows] == 0
    if s.walked:
        code[s.rows[sized & (s.profitable <= 0.0)]] = _UNPROFITABLE
        code[s.rows[sized & (s.profitable > 0.0) & (s.size <= 0.0)]] = _NO_BALANCE
        viable = np.flatnonzero(code == 0)
        key = s.cost[s.row_of[viable]] - s.proceeds[s.row_of[viable]]
        viable = viable[np.lexsort((viable, key, c.item[viable]))]
        return _Ranked(viable, np.searchsorted(c.item[viable], seg_items),
                       np.searchsorted(c.item[viable], seg_items, side="right"), s.size[s.row_of[top]] > 0)
    # Nothing pays even at the top of its books: every pair still in is unprofitable, none viable.
    code[s.rows[sized]] = _UNPROFITABLE
    none = np.zeros(len(seg_items), dtype=np.intp)
    return _Ranked(np.zeros(0, dtype=np.intp), none, none, np.zeros(len(seg_items), dtype=np.bool_))


def _reject_unsized(
    results: list[Decision | PendingRejection], c: _Crossed, code: IntArray, top: IntArray, seg_items: IntArray,
    r: _Ranked, symbols: Sequence[str], source: BookRows, defer: bool,
) -> tuple[BoolArray, FactsOf | None]:
    """The usual item of a fee-bound market: nothing viable, its reported pair not sized. Its decision is a
    rejection with nothing to size, made here for all such items at once, from their reported pairs, into
    ``results``. Which items those were, and the facts taken for them (if any)."""
    plain = (r.start == r.end) & ~r.top_sized
    if not plain.any():
        return plain, None
    facts = source.facts()
    at = top[plain]
    item = seg_items[plain]
    at_top = c.at[at]
    batch = UnsizedRejections(symbols, facts, np.stack((code[at], item, c.buy[at], c.sell[at])),
                              np.stack((c.ask[at_top], c.bid[at_top], c.gross[at])), len(item))
    _place(results, item, batch, defer)
    return plain, facts


def _place(results: list[Decision | PendingRejection], items: IntArray, batch: UnsizedRejections, defer: bool) -> None:
    """Rejection ``k`` of ``batch`` into ``results`` as item ``items[k]``'s decision (``defer``: pending)."""
    # A symbol's decision is only (batch, its index), made in C by ``tuple.__new__`` (as namedtuple's own
    # ``_make``); its fields are read from the batch's columns when its record is built, after the hot path.
    pending = map(_pending, zip(repeat(batch), range(len(items))))
    made: Iterable[PendingRejection | Rejection] = pending if defer else map(PendingRejection.rejection, pending)
    for k, decided in zip(items.tolist(), made, strict=True):
        results[k] = decided


def _finalize_rest(
    results: list[Decision | PendingRejection], c: _Crossed, code: IntArray, s: _Sized, factors: FloatArray,
    top: IntArray, seg_items: IntArray, r: _Ranked, plain: BoolArray, facts: FactsOf | None,
    symbols: Sequence[str], bounds: Sequence[int], source: BookRows, each: Sequence[DetectionParams], defer: bool,
) -> None:
    """The other items, one by one, into ``results``: the viable pairs finalized in ``Decimal`` in
    ``select.choose``'s order until one is an opportunity; else the reported pair's rejection."""
    rows_py = _Columns(s.row_of, s.profitable, s.size, s.cost, s.proceeds, factors[s.buy_rows, 1])
    venue_book = source.venue_book
    first_py = np.array(bounds[:-1], dtype=np.intp)
    local_b, local_s = (c.buy - first_py[c.item]).tolist(), (c.sell - first_py[c.item]).tolist()
    global_b, global_s, gross_py, viable_py = c.buy.tolist(), c.sell.tolist(), c.gross.tolist(), r.viable.tolist()
    rest = np.flatnonzero(~plain)
    viable_from_py, viable_to_py = r.start.tolist(), r.end.tolist()
    for k, seg_item, t, sized_top in zip(rest.tolist(), seg_items[rest].tolist(), top[rest].tolist(),
                                         r.top_sized[rest].tolist(), strict=True):
        symbol = symbols[seg_item]
        decided: Decision | PendingRejection = None
        top_decided: Decision | PendingRejection = None
        for i in viable_py[viable_from_py[k] : viable_to_py[k]]:
            b, s_ = local_b[i], local_s[i]
            buy, sell = venue_book(global_b[i]), venue_book(global_s[i])
            decided = finalize(symbol, buy, sell, rows_py.candidate(i, b, s_, gross_py[i]), each[seg_item])
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
                    one = UnsizedRejections(symbols, facts, np.array([[code[t]], [seg_item], [at_b], [at_s]]),
                                            np.array([[c.ask[c.at[t]]], [c.bid[c.at[t]]], [c.gross[t]]]), 1)
                    unsized = PendingRejection(one, 0)
                    top_decided = unsized if defer else unsized.rejection()
            decided = top_decided
        results[seg_item] = decided


class UnsizedRejections:
    """The rejections with nothing to size that one detection decided in its array screen, column by column
    (the first ``count`` columns): in ``rejected`` each one's reason code, item, buy and sell rows, in
    ``prices`` its best ask and bid and gross edge, with the books' facts as they were at detection
    (:class:`FactsOf`). The columns become Python values when the first record is built, after the hot path."""

    __slots__ = ("_prices", "_read", "_rejected", "count", "facts", "symbols")

    def __init__(self, symbols: Sequence[str], facts: FactsOf, rejected: IntArray, prices: FloatArray,
                 count: int = 0) -> None:
        self.symbols, self.facts, self._rejected, self._prices, self.count = symbols, facts, rejected, prices, count
        self._read: list[list[Any]] | None = None

    def rejection(self, k: int) -> Rejection:
        """The exact ``Rejection`` record of rejection ``k`` (``Decimal`` prices and edge)."""
        read = self._read
        if read is None:
            n = self.count
            read = self._read = self._rejected[:, :n].tolist() + self._prices[:, :n].tolist()
        code, item, buy, sell, ask, bid, gross = read
        reason, facts = _CODES[code[k]], self.facts
        assert reason is not None  # a rejection's code
        return unsized_rejection(reason, self.symbols[item[k]], facts(buy[k]), facts(sell[k]), ask[k], bid[k],
                                 gross[k])


class PendingRejection(NamedTuple):
    """A symbol's decision made in the array screen, a rejection with nothing to size: the reason and the pair
    are decided (rejection ``k`` of ``batch``); the exact ``Rejection`` record of it is :meth:`rejection`."""

    batch: UnsizedRejections
    k: int

    def rejection(self) -> Rejection:
        return self.batch.rejection(self.k)


_pending = partial(tuple.__new__, PendingRejection)  # (fields) -> PendingRejection, a C call


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
