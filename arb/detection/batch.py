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
from itertools import chain
from operator import attrgetter

import numpy as np
import numpy.typing as npt

from arb.detection.candidate import Candidate, buy_cost_factor, buy_net_factor
from arb.detection.finalize import finalize, rejection
from arb.detection.types import (
    LIVE,
    Decision,
    DetectionParams,
    FeeMode,
    FloatArray,
    Opportunity,
    Reason,
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
    size_rows,
)

IntArray = npt.NDArray[np.intp]

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


def detect_batch(
    items: Sequence[tuple[str, Sequence[VenueBook]]], params: DetectionParams | Sequence[DetectionParams]
) -> list[Decision]:
    """``detect`` for each ``(symbol, venues)``, in order; identical decisions, array ops across symbols.
    ``params``: shared, or one per item."""
    shared = params if isinstance(params, DetectionParams) else None  # scalar thresholds, no arrays
    each = per_item(params, len(items))
    results: list[Decision] = [None] * len(items)
    flat: list[VenueBook] = []
    first: list[int] = []  # index in ``flat`` of each item's first venue
    for _, venues in items:
        first.append(len(flat))
        flat += venues
    if len(flat) < 2:
        return results
    books, has_ask, has_bid = _stack(flat)
    pair_b, pair_s, pair_item = _pairs(items, first)
    ask = books[pair_b, 0, 0]
    bid = books[pair_s, 2, 0]
    gross = (bid - ask) / ask * 1e4  # core's and the reference's formula, so all screen the same value
    crossed = np.flatnonzero(has_ask[pair_b] & has_bid[pair_s] & (bid > ask) & (gross > 0))
    if not len(crossed):
        return results
    cb, cs, item, gross = pair_b[crossed], pair_s[crossed], pair_item[crossed], gross[crossed]

    # Health, age, fees and balances of the venues some crossed pair involves (few in a quiet market).
    involved = np.unique(np.concatenate((cb, cs)))
    state = np.zeros(len(flat), dtype=np.intp)
    factors = np.zeros((len(flat), 5))  # buy cost, buy net, sell net factors; base, quote balances
    picked = [flat[k] for k in involved.tolist()]
    if shared is not None:
        max_age = shared.max_book_age_ms
        state[involved] = [2 if v.health != LIVE else int(v.age_ms > max_age) for v in picked]
        max_edge: float | FloatArray = float(shared.max_edge_bps)
        max_size: float | FloatArray = float(shared.max_size)
    else:
        owner = (np.searchsorted(first, involved, side="right") - 1).tolist()  # each venue's item
        ages = [p.max_book_age_ms for p in each]
        state[involved] = [
            2 if v.health != LIVE else int(v.age_ms > ages[k]) for v, k in zip(picked, owner, strict=True)
        ]
        max_edge = np.array([float(p.max_edge_bps) for p in each])[item]
        max_size = np.array([float(p.max_size) for p in each])[item]
    factors[involved] = [_venue(v.taker_fee, v.fee_mode, v.base_balance, v.quote_balance) for v in picked]
    worst = np.maximum(state[cb], state[cs])
    code = np.where(worst == 2, _NOT_LIVE, np.where(worst == 1, _STALE, 0))
    code[(worst == 0) & (gross > max_edge)] = _ABNORMAL

    # Segments of crossed pairs per item (``crossed`` is in item order, then pair order).
    seg_start = np.flatnonzero(np.r_[True, item[1:] != item[:-1]])
    seg_id = np.cumsum(np.r_[False, item[1:] != item[:-1]])
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
    profitable, size, cost, proceeds = (np.empty(len(rows)) for _ in range(4))
    for lo in range(0, len(rows), _BLOCK):
        hi = lo + _BLOCK
        row_books = np.concatenate((books[rb[lo:hi], :2], books[rs[lo:hi], 2:]), axis=1)
        out = size_rows(row_books, table[lo:hi])
        profitable[lo:hi], size[lo:hi] = out.profitable_size, out.size
        cost[lo:hi], proceeds[lo:hi] = out.cost, out.proceeds

    sized = code[rows] == 0
    code[rows[sized & (profitable <= 0.0)]] = _UNPROFITABLE
    code[rows[sized & (profitable > 0.0) & (size <= 0.0)]] = _NO_BALANCE
    row_of = np.full(len(gross), -1, dtype=np.intp)
    row_of[rows] = np.arange(len(rows))
    # Viable pairs per item, best float profit first (cost - proceeds ascending), ties in pair order.
    viable = np.flatnonzero(code == 0)
    key = cost[row_of[viable]] - proceeds[row_of[viable]]
    viable = viable[np.lexsort((viable, key, item[viable]))]
    viable_from = np.searchsorted(item[viable], item[seg_start]).tolist()
    viable_to = np.searchsorted(item[viable], item[seg_start], side="right").tolist()

    rows_py = _Columns(rows, row_of, profitable, size, cost, proceeds, factors[rb, 1])
    first_py = np.array(first)
    local_b = (cb - first_py[item]).tolist()
    local_s = (cs - first_py[item]).tolist()
    gross_py = gross.tolist()
    viable_py = viable.tolist()
    code_py = code.tolist()
    for k, (seg_item, t) in enumerate(zip(item[seg_start].tolist(), top.tolist(), strict=True)):
        symbol, venues = items[seg_item]
        decided: Decision = None
        top_decided = None
        for i in viable_py[viable_from[k] : viable_to[k]]:
            b, s = local_b[i], local_s[i]
            decided = finalize(symbol, venues[b], venues[s], rows_py.candidate(i, b, s, gross_py[i]), each[seg_item])
            if isinstance(decided, Opportunity):
                break
            if i == t:
                top_decided = decided
            decided = None
        if decided is None:
            if top_decided is None:
                b, s = local_b[t], local_s[t]
                cand = rows_py.candidate(t, b, s, gross_py[t])
                why = _CODES[code_py[t]]
                assert why is not None  # every viable pair was finalized above
                top_decided = rejection(why, symbol, venues[b], venues[s], cand, each[seg_item])
            decided = top_decided
        results[seg_item] = decided
    return results


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
        self,
        rows: IntArray,
        row_of: IntArray,
        profitable: FloatArray,
        size: FloatArray,
        cost: FloatArray,
        proceeds: FloatArray,
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


def _stack(flat: Sequence[VenueBook]) -> tuple[FloatArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """``(venues, 4, levels)`` ``[ask_px, ask_sz, bid_px, bid_sz]`` for every venue, padded as in
    ``vectorized.stack_rows``, and which venues have an ask / a bid at all."""
    parts: list[FloatArray] = list(chain.from_iterable(map(_SIDES, flat)))
    depth = len(parts[0])
    if depth and set(map(len, parts)) == {depth}:
        books = np.concatenate(parts).reshape(len(flat), 4, depth)
        every = np.ones(len(flat), dtype=np.bool_)
        return books, every, every
    depth = max(1, *(len(v.ask_px) for v in flat), *(len(v.bid_px) for v in flat))
    books = np.zeros((len(flat), 4, depth))
    books[:, 0] = ASK_PAD
    for k, v in enumerate(flat):
        books[k, 0, : len(v.ask_px)] = v.ask_px
        books[k, 1, : len(v.ask_sz)] = v.ask_sz
        books[k, 2, : len(v.bid_px)] = v.bid_px
        books[k, 3, : len(v.bid_sz)] = v.bid_sz
    has_ask = np.array([len(v.ask_px) > 0 for v in flat])
    has_bid = np.array([len(v.bid_px) > 0 for v in flat])
    return books, has_ask, has_bid


def _pairs(
    items: Sequence[tuple[str, Sequence[VenueBook]]], first: list[int]
) -> tuple[IntArray, IntArray, IntArray]:
    """Every ordered venue pair of every item, in item order then ``(buy, sell)`` order: indices into the
    flat venue list for both sides, and the item index."""
    counts = [len(venues) for _, venues in items]
    if len(set(counts)) == 1:
        local_b, local_s = _local_pairs(counts[0])
        base = np.array(first, dtype=np.intp)[:, None]
        pair_item = np.repeat(np.arange(len(items)), len(local_b))
        return (base + local_b).ravel(), (base + local_s).ravel(), pair_item
    parts_b, parts_s, parts_item = [], [], []
    for k, (n, at) in enumerate(zip(counts, first, strict=True)):
        local_b, local_s = _local_pairs(n)
        parts_b.append(local_b + at)
        parts_s.append(local_s + at)
        parts_item.append(np.full(len(local_b), k, dtype=np.intp))
    return np.concatenate(parts_b), np.concatenate(parts_s), np.concatenate(parts_item)


@lru_cache(maxsize=64)
def _local_pairs(n: int) -> tuple[IntArray, IntArray]:
    """Ordered pairs ``b != s`` of ``n`` venues, ``b`` major: the reference's and ``core``'s pair order."""
    b, s = np.divmod(np.arange(n * n, dtype=np.intp), n)
    keep = b != s
    return b[keep], s[keep]


@lru_cache(maxsize=1024)
def _venue(
    fee: Decimal, mode: FeeMode, base: Decimal, quote: Decimal
) -> tuple[float, float, float, float, float]:
    """``(buy cost factor, buy net factor, sell net factor, base balance, quote balance)`` as floats: a few
    distinct fee tiers and balances that change only with fills."""
    f = float(fee)
    return buy_cost_factor(mode, f), buy_net_factor(mode, f), 1.0 - f, float(base), float(quote)
