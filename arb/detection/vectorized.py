"""The numpy sizing kernel: every row is one (buy venue, sell venue) pair, all rows in one pass.

Per row, the buy side is a step curve of effective ask price over hedged base ``x`` (level ``i`` ends at
``cumsum(ask_sz * net)``), the sell side a step curve of effective bid price (ends at ``cumsum(bid_sz)``).
Sorting the union of both sides' level ends cuts ``x`` into segments on which both prices are constant; in
segment ``k`` the ask level is the number of ask ends sorted before it, the bid level likewise. Then:

* the marginal profit of segment ``k`` is ``bid_eff - ask_eff``; the profitable size is where the first
  non-positive segment starts (books are monotone, so profitability is a prefix);
* the quote-balance cap is where the running cost crosses the balance (linear inside its segment);
* VWAPs, cost, proceeds and profit are sums over segments clipped to the final size.

Rows may come from many symbols at once: only the level count must match (pad shorter books with
``pad_levels``). Exhausted sides read a sentinel level (ask at +inf, bid at 0) that is never profitable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arb.detection.types import FloatArray

IntArray = np.ndarray


@dataclass(frozen=True, slots=True)
class PairRows:
    """Kernel input, one row per ordered pair; ``*_px``/``*_sz`` are ``(rows, levels)``, the rest ``(rows,)``.

    ``ask_sz`` is already in hedged base (``size * net``); ``ask_kb`` multiplies an ask price into quote
    cost per hedged base, ``bid_kf`` a bid price into quote proceeds (``1 - fee``). ``x_cap`` is the
    hedged-base cap from max size and base balance, ``quote_cap`` the buy venue's quote balance.
    """

    ask_px: FloatArray
    ask_sz: FloatArray
    bid_px: FloatArray
    bid_sz: FloatArray
    ask_kb: FloatArray
    bid_kf: FloatArray
    x_cap: FloatArray
    quote_cap: FloatArray


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


def gross_edge_bps(best_ask: FloatArray, best_bid: FloatArray) -> FloatArray:
    """Top-of-book cross in bps of the ask; -inf where a side is empty (NaN or +inf ask, 0 bid)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        edge = (best_bid - best_ask) / best_ask * 1e4
    return np.where(np.isfinite(edge), edge, -np.inf)


def size_rows(rows: PairRows) -> PairSizes:
    n_rows, n_levels = rows.ask_px.shape
    r = np.arange(n_rows)[:, None]
    ask_ends = np.cumsum(rows.ask_sz, axis=1)
    bid_ends = np.cumsum(rows.bid_sz, axis=1)
    ends = np.concatenate([ask_ends, bid_ends], axis=1)
    order = np.argsort(ends, axis=1, kind="stable")
    seg_end = ends[r, order]
    seg_start = np.concatenate([np.zeros((n_rows, 1)), seg_end[:, :-1]], axis=1)
    is_ask_end = order < n_levels
    ask_done = np.cumsum(is_ask_end, axis=1)
    ask_lvl = ask_done - is_ask_end  # ask ends sorted strictly before segment k
    bid_lvl = np.arange(2 * n_levels)[None, :] - ask_lvl

    ask_px = np.concatenate([rows.ask_px, np.full((n_rows, 1), np.inf)], axis=1)[r, ask_lvl]
    bid_px = np.concatenate([rows.bid_px, np.zeros((n_rows, 1))], axis=1)[r, bid_lvl]
    ask_eff = ask_px * rows.ask_kb[:, None]
    bid_eff = bid_px * rows.bid_kf[:, None]
    pays = np.logical_and.accumulate(bid_eff > ask_eff, axis=1)
    profitable = np.where(pays, seg_end, 0.0).max(axis=1)

    seg_len = seg_end - seg_start
    with np.errstate(invalid="ignore"):
        seg_cost = np.where(seg_len > 0, ask_eff * seg_len, 0.0)
    run_cost = np.cumsum(seg_cost, axis=1)
    over = run_cost > rows.quote_cap[:, None]
    k = over.argmax(axis=1)
    kk = k[:, None]
    cost_before = np.concatenate([np.zeros((n_rows, 1)), run_cost[:, :-1]], axis=1)[r, kk][:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        x_quote = seg_start[r, kk][:, 0] + (rows.quote_cap - cost_before) / ask_eff[r, kk][:, 0]
    x_quote = np.where(over.any(axis=1), x_quote, np.inf)
    size = np.maximum(np.minimum(np.minimum(profitable, rows.x_cap), x_quote), 0.0)

    take = np.clip(np.minimum(seg_end, size[:, None]) - seg_start, 0.0, None)
    used = take > 0
    with np.errstate(invalid="ignore"):
        cost = np.where(used, ask_eff * take, 0.0).sum(axis=1)
        proceeds = np.where(used, bid_eff * take, 0.0).sum(axis=1)
        buy_raw = np.where(used, ask_px * take, 0.0).sum(axis=1)
        sell_raw = np.where(used, bid_px * take, 0.0).sum(axis=1)
        last = np.where(used, np.arange(2 * n_levels)[None, :], -1).max(axis=1)
        has = last >= 0
        last_k = np.maximum(last, 0)[:, None]
        safe = np.where(has, size, 1.0)
        return PairSizes(
            gross_edge_bps=gross_edge_bps(rows.ask_px[:, 0], rows.bid_px[:, 0]),
            profitable_size=profitable,
            size=size,
            buy_vwap=np.where(has, buy_raw / safe, 0.0),
            sell_vwap=np.where(has, sell_raw / safe, 0.0),
            buy_worst=np.where(has, ask_px[r, last_k][:, 0], 0.0),
            sell_worst=np.where(has, bid_px[r, last_k][:, 0], 0.0),
            cost=cost,
            proceeds=proceeds,
        )


def pad_levels(px: FloatArray, sz: FloatArray, n: int, empty_px: float) -> tuple[FloatArray, FloatArray]:
    """Pad (or cut) one side to ``n`` levels with zero-size levels at ``empty_px`` (+inf asks, 0 bids)."""
    m = len(px)
    if m >= n:
        return px[:n], sz[:n]
    return (
        np.concatenate([px, np.full(n - m, empty_px)]),
        np.concatenate([sz, np.zeros(n - m)]),
    )
