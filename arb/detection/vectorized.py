"""The numpy sizing kernel: every row (one ordered venue pair, of one or many symbols) in a fixed number of ops.

A row's input is the buy venue's asks and the sell venue's bids stacked as ``(rows, 4, levels)``:
``[ask_px, ask_sz, bid_px, bid_sz]`` (``stack_rows`` builds it with one ``np.concatenate``). The two sides
are processed together as ``(rows, 2, levels)`` blocks (``[:, ::2]`` prices, ``[:, 1::2]`` sizes), so each
step is one array op for both legs: at a handful of rows an op costs ~1 us whatever its size, and the op
count is the cost.

Sizing works in hedged base ``x`` (see ``candidate``). On the buy venue, ask level ``i`` covers
``[ask_start_i, ask_end_i)`` of ``x`` at an effective cost ``ask_eff_i`` per unit; on the sell venue, bid
level ``j`` covers ``[bid_start_j, bid_end_j)`` at ``bid_eff_j``. Because asks rise and bids fall, no merge
walk is needed:

* the profitable size is the earliest point where some ask level meets some bid level with
  ``bid_eff <= ask_eff``, i.e. ``min(max(ask_start_i, bid_start_j))`` over all such ``(i, j)`` (a
  non-overlapping such pair only bounds it from above), capped by the ask side's depth; for each ``i`` the
  first such ``j`` is enough, as later bid levels start later (when no bid level fails, ``j`` is one past
  the last level, which starts at the bid side's depth);
* quote spent is a function of ``x`` on the buy venue alone; it binds rarely, so it is only solved for
  the rows whose capped size would overspend;
* cost, proceeds, VWAPs and the worst level reached are per-side sums over levels clipped to the final size.

Books shorter than the row's depth are padded with zero-size levels at a sentinel price that never pays
(asks ``ASK_PAD``, bids 0); the sentinel is finite so no inf/nan arithmetic (and no warnings) can occur.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from arb.detection.candidate import MIN_MARGIN
from arb.detection.types import FloatArray, VenueBook

ASK_PAD = 1e200  # an ask no one can afford: finite, so products with a zero size stay zero
HURDLE = 1.0 + float(MIN_MARGIN)  # a level pays when its net proceeds exceed its cost times this
_TRIM_FROM = 20_000  # level-pair comparisons above which cutting them to the crossed corner pays
_CORNER = 4  # levels per side compared for rows that cross no deeper
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

# Columns of the per-row factor table ``stack_rows`` callers pass to ``size_rows``.
F_BUY_COST, F_SELL_NET, F_BUY_NET, F_ONE, F_X_CAP, F_QUOTE = range(6)


@dataclass(frozen=True, slots=True)
class RowSizes:
    """Kernel output, each ``(rows,)``; same meaning as the ``Candidate`` fields (size in hedged base).

    VWAPs and worst prices are audit numbers no decision reads: computed only when asked (``audit``).
    """

    profitable_size: FloatArray
    size: FloatArray
    cost: FloatArray
    proceeds: FloatArray
    buy_vwap: FloatArray | None = None
    sell_vwap: FloatArray | None = None
    buy_worst: FloatArray | None = None
    sell_worst: FloatArray | None = None


def stack_rows(buys: Sequence[VenueBook], sells: Sequence[VenueBook]) -> FloatArray:
    """``(rows, 4, levels)``: row ``k`` holds ``buys[k]``'s asks and ``sells[k]``'s bids.

    One ``np.concatenate`` when every side has the same depth (books are cut to a fixed depth upstream, so
    that is the usual case); otherwise padded into a preallocated block.
    """
    depth = len(buys[0].ask_px)
    if depth and all(len(b.ask_px) == depth for b in buys) and all(len(s.bid_px) == depth for s in sells):
        parts: list[FloatArray] = []
        for b, s in zip(buys, sells, strict=True):
            parts += (b.ask_px, b.ask_sz, s.bid_px, s.bid_sz)
        return np.concatenate(parts).reshape(len(buys), 4, depth)
    depth = max(1, *(len(b.ask_px) for b in buys), *(len(s.bid_px) for s in sells))
    block = np.zeros((len(buys), 4, depth))
    block[:, 0] = ASK_PAD
    for k, (b, s) in enumerate(zip(buys, sells, strict=True)):
        block[k, 0, : len(b.ask_px)] = b.ask_px
        block[k, 1, : len(b.ask_sz)] = b.ask_sz
        block[k, 2, : len(s.bid_px)] = s.bid_px
        block[k, 3, : len(s.bid_sz)] = s.bid_sz
    return block


@overload
def pays_at_top(ask: float, bid: float, buy_cost: float, sell_net: float) -> bool: ...
@overload
def pays_at_top(ask: FloatArray, bid: FloatArray, buy_cost: FloatArray, sell_net: FloatArray) -> BoolArray: ...
def pays_at_top(ask: Any, bid: Any, buy_cost: Any, sell_net: Any) -> Any:
    """Whether a row's best ask and best bid still pay after fees: the kernel's first comparison, in its
    order of operations. Where they do not, the row sizes to nothing (profitable size 0, and size, cost and
    proceeds 0 given a non-negative cap and quote balance), so callers skip the kernel for it: after fees,
    most crossed pairs end there."""
    return bid * sell_net > ask * buy_cost * HURDLE


def size_rows(books: FloatArray, factors: FloatArray, *, audit: bool = False) -> RowSizes:
    """Size every row of ``books`` (from ``stack_rows``); ``factors`` is ``(rows, 6)`` by the ``F_*`` columns:
    buy cost factor, sell net factor, buy net factor, 1.0, the size cap from outside the books (max size,
    base balance) and the buy venue's quote balance.
    """
    px = books[:, ::2]  # (rows, 2, levels): ask prices, bid prices
    eff = px * factors[:, 0:2, None]  # ask cost per hedged unit incl. fee; bid proceeds net of fee
    # Level boundaries in hedged base with a leading 0: level i spans [edges[..., i], edges[..., i + 1]).
    rows, _, depth = books.shape
    edges = np.empty((rows, 2, depth + 1))
    edges[:, :, 0] = 0.0
    np.cumsum(books[:, 1::2], axis=2, out=edges[:, :, 1:])
    edges[:, :, 1:] *= factors[:, 2:4, None]
    starts, ends = edges[:, :, :-1], edges[:, :, 1:]
    # For each ask level, the first bid level that no longer pays against it (bids fall, so it is the
    # count of bids that still do); the two levels are both active from the later of their starts on.
    hurdle = eff[:, 0] * HURDLE
    if rows * depth * depth > _TRIM_FROM:
        first_fail = _first_fail_trimmed(eff[:, 1], hurdle)
    else:
        first_fail = (eff[:, 1, None, :] > hurdle[:, :, None]).sum(axis=2)
    asks = first_fail.shape[1]
    meets = np.maximum(starts[:, 0, :asks], np.take_along_axis(edges[:, 1], first_fail, axis=1))
    profitable = np.minimum(meets.min(axis=1), edges[:, 0, -1])
    size = np.minimum(profitable, factors[:, F_X_CAP])
    take, spent = _take(starts, ends, eff, size)
    quote = factors[:, F_QUOTE]
    over = np.flatnonzero(spent[:, 0] > quote)
    if len(over):  # re-size only the rows whose quote balance binds
        size[over] = np.minimum(size[over], _quote_cap(edges[over, 0], eff[over, 0], quote[over]))
        take[over], spent[over] = _take(starts[over], ends[over], eff[over], size[over])
    sizes = RowSizes(profitable, size, spent[:, 0], spent[:, 1])
    if not audit:
        return sizes
    has = size > 0
    vwap = (px * take).sum(axis=2) / np.where(has, size, 1.0)[:, None]
    last = np.maximum((starts < size[:, None, None]).sum(axis=2) - 1, 0)
    worst = np.where(has[:, None], np.take_along_axis(px, last[:, :, None], axis=2)[:, :, 0], 0.0)
    return RowSizes(
        profitable, size, spent[:, 0], spent[:, 1], vwap[:, 0], vwap[:, 1], worst[:, 0], worst[:, 1]
    )


def _first_fail_trimmed(bid_eff: FloatArray, hurdle: FloatArray) -> IntArray:
    """``first_fail`` for many rows, comparing only the level pairs that can matter.

    Only the ask levels up to the first one the best bid does not pay (``paid`` of them) can hold the
    minimum, and only bid levels that pay the best ask can pay any ask level. Most rows cross a few levels
    deep, a few much deeper: those are compared in full, the rest in a small corner. A column left at 0
    past a row's ``paid`` level is harmless: it yields that level's own start, never below the minimum.
    """
    rows, depth = hurdle.shape
    paid = (hurdle < bid_eff[:, :1]).sum(axis=1)
    paying = (bid_eff > hurdle[:, :1]).sum(axis=1)
    asks = min(int(paid.max()) + 1, depth)
    bids = int(paying.max())
    corner = min(_CORNER, asks)
    deep = np.flatnonzero((paid >= corner) | (paying > corner))
    if len(deep) * 2 > rows:  # mostly deep: splitting would not pay for its gathers
        full: IntArray = (bid_eff[:, None, :bids] > hurdle[:, :asks, None]).sum(axis=2)
        return full
    first_fail = np.zeros((rows, asks), dtype=np.intp)
    first_fail[:, :corner] = (bid_eff[:, None, :corner] > hurdle[:, :corner, None]).sum(axis=2)
    if len(deep):
        first_fail[deep] = (bid_eff[deep, None, :bids] > hurdle[deep, :asks, None]).sum(axis=2)
    return first_fail


def _take(
    starts: FloatArray, ends: FloatArray, eff: FloatArray, size: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Hedged base taken from each level of both sides for ``size``, and ``[cost, proceeds]`` per row."""
    take = np.minimum(ends, size[:, None, None])
    take -= starts
    np.maximum(take, 0.0, out=take)
    return take, np.einsum("rsl,rsl->rs", eff, take)


def _quote_cap(edges: FloatArray, eff: FloatArray, quote: FloatArray) -> FloatArray:
    """Hedged base the quote balance buys, per row: inside the first ask level whose cumulative cost
    exceeds it (at or past the side's depth when none does)."""
    depth = eff.shape[1]
    spent = np.zeros_like(edges)
    np.cumsum(eff * (edges[:, 1:] - edges[:, :-1]), axis=1, out=spent[:, 1:])
    level = (spent[:, 1:] <= quote[:, None]).sum(axis=1)
    at = np.arange(len(quote))
    cap: FloatArray = edges[at, level] + (quote - spent[at, level]) / eff[at, np.minimum(level, depth - 1)]
    return cap
