"""The numpy sizing kernel: all ordered venue pairs (of one or many symbols) in a fixed number of array ops.

Sizing works in hedged base ``x`` (see ``candidate``). On the buy venue, ask level ``i`` covers
``[ask_start_i, ask_end_i)`` of ``x`` at an effective cost ``ask_eff_i`` per unit; on the sell venue, bid
level ``j`` covers ``[bid_start_j, bid_end_j)`` at ``bid_eff_j``. Because asks rise and bids fall, no merge
walk is needed:

* the profitable size is the earliest point where some ask level meets some bid level with
  ``bid_eff <= ask_eff``, i.e. ``min(max(ask_start_i, bid_start_j))`` over all such ``(i, j)`` (a
  non-overlapping such pair only bounds it from above), capped by either side's depth; for each ``i`` the
  first such ``j`` is enough, as later bid levels start later;
* quote spent is a function of ``x`` on the buy venue alone, so the quote-balance cap is per venue;
* cost, proceeds, VWAPs and the worst level reached are per-side sums over levels clipped to the final size.

Per venue quantities are computed once (``VenueArrays``); a pair row only gathers two venues' rows. Missing
levels are padded with zero size at a sentinel price (asks ``ASK_PAD``, bids 0) that never pays; the
sentinel is finite so no inf/nan arithmetic (and no warnings) can occur.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arb.detection.candidate import MIN_MARGIN
from arb.detection.types import FloatArray

ASK_PAD = 1e200  # an ask no one can afford: finite, so products with a zero size stay zero
IntArray = np.ndarray
_HURDLE = 1.0 + float(MIN_MARGIN)


@dataclass(frozen=True, slots=True)
class VenueArrays:
    """Per venue ``(venues, levels)`` curves, and per venue scalars ``(venues,)``.

    ``ask``: stacked ``[px, eff, start, end]`` as ``(4, venues, levels)``; ``bid`` likewise.
    ``x_quote``: hedged base the venue's quote balance can buy (inf if it can buy the whole side).
    """

    ask: FloatArray
    bid: FloatArray
    x_quote: FloatArray


@dataclass(frozen=True, slots=True)
class PairSizes:
    """Kernel output, each ``(rows,)``; same meaning as the ``Candidate`` fields (size in hedged base)."""

    gross_edge_bps: FloatArray
    profitable_size: FloatArray
    size: FloatArray
    buy_vwap: FloatArray
    sell_vwap: FloatArray
    buy_worst: FloatArray
    sell_worst: FloatArray
    cost: FloatArray
    proceeds: FloatArray


def venue_arrays(
    ask_px: FloatArray,
    ask_sz: FloatArray,
    bid_px: FloatArray,
    bid_sz: FloatArray,
    net: FloatArray,
    cost_k: FloatArray,
    fee: FloatArray,
    quote_balance: FloatArray,
) -> VenueArrays:
    """Curves of every venue from its padded ``(venues, levels)`` book and fee/balance scalars.

    Each block gets one extra level past the book's depth: zero size, starting where the side runs out,
    priced never to pay. It makes "the first bid level that fails" always exist and caps the profitable
    size at either side's depth without separate steps. Written into preallocated blocks: at a thousand
    venues the copies ``np.stack`` would make cost more than the arithmetic.
    """
    t, n = ask_px.shape
    ask = np.empty((4, t, n + 1))
    ask[0, :, :n] = ask_px
    ask[0, :, n] = ASK_PAD
    np.multiply(ask[0], cost_k[:, None], out=ask[1])
    np.cumsum(ask_sz, axis=1, out=ask[3, :, :n])
    ask[3, :, :n] *= net[:, None]
    ask[3, :, n] = ask[3, :, n - 1]
    ask[2, :, 0] = 0.0
    ask[2, :, 1:] = ask[3, :, :-1]
    # Quote spent by the end of each ask level; the balance runs out inside the first level it exceeds.
    cost_end = np.cumsum(ask[1] * (ask[3] - ask[2]), axis=1)
    over = cost_end > quote_balance[:, None]
    i = over.argmax(axis=1)
    rows = np.arange(t)
    cost_before = np.where(i > 0, cost_end[rows, i - 1], 0.0)
    x_quote = ask[2, rows, i] + (quote_balance - cost_before) / ask[1, rows, i]
    bid = np.zeros((4, t, n + 1))
    bid[0, :, :n] = bid_px
    np.multiply(bid[0], (1.0 - fee)[:, None], out=bid[1])
    np.cumsum(bid_sz, axis=1, out=bid[3, :, :n])
    bid[3, :, n] = bid[3, :, n - 1]
    bid[2, :, 1:] = bid[3, :, :-1]
    return VenueArrays(ask=ask, bid=bid, x_quote=np.where(over.any(axis=1), x_quote, np.inf))


def gross_edge_bps(v: VenueArrays, buy: IntArray, sell: IntArray) -> FloatArray:
    """Top-of-book cross in bps of the best ask (about -1e4 where a side is empty)."""
    best_ask = v.ask[0, buy, 0]
    edge: FloatArray = (v.bid[0, sell, 0] - best_ask) / best_ask * 1e4
    return edge


def size_pairs(
    v: VenueArrays, buy: IntArray, sell: IntArray, x_cap: FloatArray, gross: FloatArray
) -> PairSizes:
    """Size buying on venue rows ``buy`` and selling on rows ``sell``.

    ``x_cap`` bounds the hedged size from outside the books (max size, balances); ``gross`` is passed
    through from ``gross_edge_bps``.
    """
    a_px, a_eff, a_start, a_end = v.ask[:, buy]
    b_px, b_eff, b_start, b_end = v.bid[:, sell]
    rows = np.arange(len(buy))[:, None]
    # For each ask level, the first bid level that no longer pays against it (bids fall, so it is the
    # count of bids that still do); the two levels are both active from the later of their starts on.
    first_fail = (b_eff[:, None, :] > (a_eff * _HURDLE)[:, :, None]).sum(axis=2)
    profitable = np.maximum(a_start, b_start[rows, first_fail]).min(axis=1)
    size = np.minimum(profitable, x_cap)
    col = size[:, None]
    a_take = np.maximum(np.minimum(a_end, col) - a_start, 0.0)
    b_take = np.maximum(np.minimum(b_end, col) - b_start, 0.0)
    a_last = np.maximum((a_start < col).sum(axis=1) - 1, 0)
    b_last = np.maximum((b_start < col).sum(axis=1) - 1, 0)
    has = size > 0
    safe = np.where(has, size, 1.0)
    rows = rows[:, 0]
    return PairSizes(
        gross_edge_bps=gross,
        profitable_size=profitable,
        size=size,
        buy_vwap=(a_px * a_take).sum(axis=1) / safe,
        sell_vwap=(b_px * b_take).sum(axis=1) / safe,
        buy_worst=np.where(has, a_px[rows, a_last], 0.0),
        sell_worst=np.where(has, b_px[rows, b_last], 0.0),
        cost=(a_eff * a_take).sum(axis=1),
        proceeds=(b_eff * b_take).sum(axis=1),
    )
