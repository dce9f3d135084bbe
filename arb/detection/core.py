"""Entry points: ``detect`` for one symbol over N venues, ``detect_many`` for many symbols in one numpy pass.

Every ordered venue pair of every symbol becomes one kernel row. Pairs whose books do not cross at the top
are dropped before sizing (in a quiet market that is nearly all of them, so the common call is one
vectorized comparison and ``None``); the crossed rows of all symbols are sized together, then each symbol's
candidates go through the same screening, rounding and choice as the reference (``select.choose``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache

import numpy as np

from arb.detection.candidate import Candidate, buy_cost_factor, buy_net_factor
from arb.detection.select import choose
from arb.detection.types import LIVE, Decision, DetectionParams, FeeMode, FloatArray, VenueBook
from arb.detection.vectorized import ASK_PAD, gross_edge_bps, size_pairs, venue_arrays


def detect(symbol: str, venues: Sequence[VenueBook], params: DetectionParams) -> Decision:
    """The best executable cross for ``symbol``: an ``Opportunity``, a ``Rejection`` of the most attractive
    crossed pair, or ``None`` when no two books cross at the top."""
    return detect_many([(symbol, venues)], params)[0]


def detect_many(items: Sequence[tuple[str, Sequence[VenueBook]]], params: DetectionParams) -> list[Decision]:
    """``detect`` for each ``(symbol, venues)``, in order, sizing all symbols' crossed pairs in one pass."""
    results: list[Decision] = [None] * len(items)
    # Most of the time nothing crosses: settle that with a few scalar reads before building any arrays.
    live = [k for k, (_, venues) in enumerate(items) if _top_crosses(venues)]
    if not live:
        return results
    batch = [items[k] for k in live]
    for k, cands in zip(live, _candidates(batch, params, shortlist=True), strict=True):
        if cands:
            symbol, venues = items[k]
            results[k] = choose(symbol, venues, cands, params)
    return results


def _top_crosses(venues: Sequence[VenueBook]) -> bool:
    """Whether some venue's best bid is above another venue's best ask (one pass, no pairs)."""
    best_ask = second_ask = _INF
    best_at = -1
    bids = []
    for k, v in enumerate(venues):
        ask = float(v.ask_px[0]) if len(v.ask_px) else _INF
        if ask < best_ask:
            best_ask, second_ask, best_at = ask, best_ask, k
        elif ask < second_ask:
            second_ask = ask
        bids.append(float(v.bid_px[0]) if len(v.bid_px) else -_INF)
    return any(bid > (second_ask if k == best_at else best_ask) for k, bid in enumerate(bids))


def crossed_candidates(
    items: Sequence[tuple[str, Sequence[VenueBook]]], params: DetectionParams
) -> list[list[Candidate]]:
    """Per symbol, the float sizing of every ordered pair that crosses at the top, in ``(buy, sell)`` order.

    The stage before screening and rounding: what the property tests compare against the reference.
    """
    return _candidates(items, params, shortlist=False)


def _candidates(
    items: Sequence[tuple[str, Sequence[VenueBook]]], params: DetectionParams, *, shortlist: bool
) -> list[list[Candidate]]:
    """``crossed_candidates``; with ``shortlist``, only what ``choose`` can pick: the pairs that pass the
    float screen, plus per symbol the screened-out pair with the largest gross edge (its rejection if
    nothing trades). Building a Python object per crossed pair is what a busy market would otherwise pay.
    """
    per_symbol: list[list[Candidate]] = [[] for _ in items]
    books = [v for _, venues in items for v in venues]
    if not books:
        return per_symbol
    buy_rows, sell_rows, owner = _pair_index(items)
    if len(buy_rows) == 0:
        return per_symbol
    stack = _Stack(books)
    gross = gross_edge_bps(stack.curves, buy_rows, sell_rows)
    crossed = np.flatnonzero(gross > 0)
    if len(crossed) == 0:
        return per_symbol
    b, s, owners = buy_rows[crossed], sell_rows[crossed], owner[crossed]
    net = stack.net[b]
    x_cap = np.minimum(np.minimum(float(params.max_size) * net, stack.base_bal[s]), stack.curves.x_quote[b])
    sizes = size_pairs(stack.curves, b, s, x_cap, gross[crossed])
    rows: slice | np.ndarray = slice(None)
    if shortlist and len(crossed) > _SHORTLIST_FROM:
        eligible = stack.eligible(params)
        passing = (
            eligible[b]
            & eligible[s]
            & (sizes.gross_edge_bps <= float(params.max_edge_bps))
            & (sizes.profitable_size > 0)
            & (sizes.size > 0)
        )
        failed = np.flatnonzero(~passing)
        if len(failed):
            if len(items) == 1:
                passing[failed[sizes.gross_edge_bps[failed].argmax()]] = True
            else:
                ranked = failed[np.lexsort((failed, -sizes.gross_edge_bps[failed], owners[failed]))]
                first = np.flatnonzero(np.diff(owners[ranked], prepend=-1))
                passing[ranked[first]] = True
        rows = np.flatnonzero(passing)
    offsets = np.cumsum([0] + [len(venues) for _, venues in items])
    table = np.stack(
        [
            b - offsets[owners],
            s - offsets[owners],
            owners,
            sizes.gross_edge_bps,
            sizes.profitable_size,
            sizes.size,
            sizes.size / net,
            sizes.buy_vwap,
            sizes.sell_vwap,
            sizes.buy_worst,
            sizes.sell_worst,
            sizes.cost,
            sizes.proceeds,
        ]
    )[:, rows]
    for bi, si, sym, g, prof, x, amt, bv, sv, bw, sw, cost, proc in table.T.tolist():
        per_symbol[int(sym)].append(
            Candidate(int(bi), int(si), g, prof, x, amt, bv, sv, bw, sw, cost, proc, proc - cost)
        )
    return per_symbol


class _Stack:
    """All venues' books as padded ``(venues, levels)`` curves, plus the per-venue scalars screening needs."""

    def __init__(self, books: Sequence[VenueBook]) -> None:
        depths = {len(a) for v in books for a in (v.ask_px, v.bid_px)}
        if len(depths) == 1 and 0 not in depths:  # the usual case: every book as deep as asked for
            flat = np.concatenate([a for v in books for a in (v.ask_px, v.ask_sz, v.bid_px, v.bid_sz)])
            ask_px, ask_sz, bid_px, bid_sz = flat.reshape(len(books), 4, -1).transpose(1, 0, 2)
        else:
            n, t = max(1, *depths), len(books)
            ask_px, ask_sz = np.full((t, n), ASK_PAD), np.zeros((t, n))
            bid_px, bid_sz = np.zeros((t, n)), np.zeros((t, n))
            for i, v in enumerate(books):
                ask_px[i, : len(v.ask_px)] = v.ask_px
                ask_sz[i, : len(v.ask_sz)] = v.ask_sz
                bid_px[i, : len(v.bid_px)] = v.bid_px
                bid_sz[i, : len(v.bid_sz)] = v.bid_sz
        scalars = [
            (
                *_fee_factors(v.taker_fee, v.fee_mode),
                float(v.base_balance),
                float(v.quote_balance),
                v.age_ms if v.health == LIVE else -1,
            )
            for v in books
        ]
        fee_, net, cost_k, self.base_bal, quote_bal, self.live_age = np.array(scalars).T
        self.net: FloatArray = net
        self.curves = venue_arrays(ask_px, ask_sz, bid_px, bid_sz, net, cost_k, fee_, quote_bal)

    def eligible(self, params: DetectionParams) -> np.ndarray:
        """Live and no older than the age limit (non-live books carry age -1)."""
        ok: np.ndarray = (self.live_age >= 0) & (self.live_age <= params.max_book_age_ms)
        return ok


def _pair_index(
    items: Sequence[tuple[str, Sequence[VenueBook]]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stacked-row indices ``(buy, sell, symbol)`` of every ordered pair, pairs in ``(buy, sell)`` order."""
    counts = {len(venues) for _, venues in items}
    if len(counts) == 1:  # every symbol on the same number of venues: tile one pattern
        (n,) = counts
        b, s = _ordered_pairs(n)
        offsets = np.arange(len(items))[:, None] * n
        owner = np.repeat(np.arange(len(items)), len(b))
        return (b + offsets).ravel(), (s + offsets).ravel(), owner
    buys, sells, owners = [], [], []
    offset = 0
    for sym, (_, venues) in enumerate(items):
        b, s = _ordered_pairs(len(venues))
        buys.append(b + offset)
        sells.append(s + offset)
        owners.append(np.full(len(b), sym))
        offset += len(venues)
    return np.concatenate(buys), np.concatenate(sells), np.concatenate(owners)


_INF = float("inf")
_SHORTLIST_FROM = 16  # below this many crossed pairs, screening them in choose() is cheaper than in numpy


@lru_cache(maxsize=256)
def _fee_factors(fee: Decimal, mode: FeeMode) -> tuple[float, float, float]:
    """``(fee, net, cost factor)`` as floats; a handful of distinct fee tiers across all venues."""
    f = float(fee)
    return f, buy_net_factor(mode, f), buy_cost_factor(mode, f)


@lru_cache(maxsize=64)
def _ordered_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    b, s = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    keep = b != s
    return b[keep], s[keep]
