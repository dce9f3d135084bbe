"""Entry points: ``detect`` for one symbol over N venues, ``detect_many`` for many symbols in one numpy pass.

Every ordered venue pair of every symbol becomes one kernel row. Pairs whose books do not cross at the top
are dropped before sizing (in a quiet market that is nearly all of them, so the common call is one
vectorized comparison and ``None``); the crossed rows of all symbols are sized together, then each symbol's
candidates go through the same screening, rounding and choice as the reference (``select.choose``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from arb.detection.candidate import Candidate, buy_cost_factor, buy_net_factor
from arb.detection.select import choose
from arb.detection.types import Decision, DetectionParams, FloatArray, VenueBook
from arb.detection.vectorized import PairRows, gross_edge_bps, size_rows


def detect(symbol: str, venues: Sequence[VenueBook], params: DetectionParams) -> Decision:
    """The best executable cross for ``symbol``: an ``Opportunity``, a ``Rejection`` of the most attractive
    crossed pair, or ``None`` when no two books cross at the top."""
    return detect_many([(symbol, venues)], params)[0]


def detect_many(
    items: Sequence[tuple[str, Sequence[VenueBook]]], params: DetectionParams
) -> list[Decision]:
    """``detect`` for each ``(symbol, venues)``, in order, sizing all symbols' crossed pairs in one pass."""
    results: list[Decision] = [None] * len(items)
    for sym, cands in enumerate(crossed_candidates(items, params)):
        if cands:
            symbol, venues = items[sym]
            results[sym] = choose(symbol, venues, cands, params)
    return results


def crossed_candidates(
    items: Sequence[tuple[str, Sequence[VenueBook]]], params: DetectionParams
) -> list[list[Candidate]]:
    """Per symbol, the float sizing of every ordered pair that crosses at the top, in ``(buy, sell)`` order.

    The stage before screening and rounding: what the property tests compare against the reference.
    """
    per_symbol: list[list[Candidate]] = [[] for _ in items]
    books = [v for _, venues in items for v in venues]
    if not books:
        return per_symbol
    stack = _Stack(books)
    buy_rows, sell_rows, owner = _pair_index(items)
    if len(buy_rows) == 0:
        return per_symbol
    gross = gross_edge_bps(stack.ask_px[buy_rows, 0], stack.bid_px[sell_rows, 0])
    crossed = np.flatnonzero(gross > 0)
    if len(crossed) == 0:
        return per_symbol
    b, s = buy_rows[crossed], sell_rows[crossed]
    net = stack.net[b]
    sizes = size_rows(
        PairRows(
            ask_px=stack.ask_px[b],
            ask_sz=stack.ask_sz[b] * net[:, None],
            bid_px=stack.bid_px[s],
            bid_sz=stack.bid_sz[s],
            ask_kb=stack.cost_k[b],
            bid_kf=1.0 - stack.fee[s],
            x_cap=np.minimum(float(params.max_size) * net, stack.base_bal[s]),
            quote_cap=stack.quote_bal[b],
        )
    )
    offsets = np.cumsum([0] + [len(venues) for _, venues in items])
    columns = (
        sizes.gross_edge_bps.tolist(),
        sizes.profitable_size.tolist(),
        sizes.size.tolist(),
        (sizes.size / net).tolist(),
        sizes.buy_vwap.tolist(),
        sizes.sell_vwap.tolist(),
        sizes.buy_worst.tolist(),
        sizes.sell_worst.tolist(),
        sizes.cost.tolist(),
        sizes.proceeds.tolist(),
    )
    for row, (bi, si, sym) in enumerate(zip(b.tolist(), s.tolist(), owner[crossed].tolist(), strict=True)):
        g, prof, x, amt, bv, sv, bw, sw, cost, proc = (col[row] for col in columns)
        base = int(offsets[sym])
        per_symbol[sym].append(
            Candidate(bi - base, si - base, g, prof, x, amt, bv, sv, bw, sw, cost, proc, proc - cost)
        )
    return per_symbol


class _Stack:
    """All venues' books as ``(venues, levels)`` arrays, padded to a common depth, plus per-venue scalars."""

    def __init__(self, books: Sequence[VenueBook]) -> None:
        n = max(1, max(max(len(v.ask_px), len(v.bid_px)) for v in books))
        t = len(books)
        self.ask_px = np.full((t, n), np.inf)
        self.ask_sz = np.zeros((t, n))
        self.bid_px = np.zeros((t, n))
        self.bid_sz = np.zeros((t, n))
        fee, net, cost_k, quote, base = [], [], [], [], []
        for i, v in enumerate(books):
            self.ask_px[i, : len(v.ask_px)] = v.ask_px
            self.ask_sz[i, : len(v.ask_sz)] = v.ask_sz
            self.bid_px[i, : len(v.bid_px)] = v.bid_px
            self.bid_sz[i, : len(v.bid_sz)] = v.bid_sz
            f = float(v.taker_fee)
            fee.append(f)
            net.append(buy_net_factor(v.fee_mode, f))
            cost_k.append(buy_cost_factor(v.fee_mode, f))
            quote.append(float(v.quote_balance))
            base.append(float(v.base_balance))
        self.fee: FloatArray = np.array(fee)
        self.net: FloatArray = np.array(net)
        self.cost_k: FloatArray = np.array(cost_k)
        self.quote_bal: FloatArray = np.array(quote)
        self.base_bal: FloatArray = np.array(base)


def _pair_index(
    items: Sequence[tuple[str, Sequence[VenueBook]]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stacked-row indices ``(buy, sell, symbol)`` of every ordered pair, pairs in ``(buy, sell)`` order."""
    buys, sells, owners = [], [], []
    offset = 0
    for sym, (_, venues) in enumerate(items):
        b, s = _ordered_pairs(len(venues))
        buys.append(b + offset)
        sells.append(s + offset)
        owners.append(np.full(len(b), sym))
        offset += len(venues)
    return np.concatenate(buys), np.concatenate(sells), np.concatenate(owners)


@lru_cache(maxsize=64)
def _ordered_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    b, s = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    keep = b != s
    return b[keep], s[keep]
