"""Entry points: ``detect`` for one symbol over N venues, ``detect_many`` for many symbols in one numpy pass.

Per symbol, in plain Python over the venues' top of book (a few scalar reads, no arrays): which ordered
pairs cross, and which of those fail a screen that needs no sizing (book health, book age, abnormal edge).
In a quiet market nothing crosses and the call ends there. Only the pairs that can still trade, plus the
crossed pair with the largest gross edge (whose rejection is reported when nothing trades), are sized, all
symbols' rows in one kernel call, except rows whose best levels no longer pay after fees: those size to
nothing without it (``vectorized.pays_at_top``; ``batch`` skips them too). ``_decide`` then picks exactly what the reference's ``select.choose``
picks, but builds a ``Candidate`` only for the pairs it finalizes or reports.

``params`` is one ``DetectionParams`` for every item, or one per item (symbols differ at least in
``max_size``): each item is decided exactly as ``detect`` decides it with its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache

import numpy as np

from arb.detection.batch import detect_batch, per_item
from arb.detection.candidate import Candidate, buy_cost_factor, buy_net_factor
from arb.detection.finalize import finalize, rejection
from arb.detection.types import LIVE, Decision, DetectionParams, FeeMode, Opportunity, Reason, VenueBook
from arb.detection.vectorized import pays_at_top, size_rows, stack_rows

# From this many symbols on, ``batch`` (array ops across symbols) beats the per-symbol Python screen here.
BATCH_FROM = 8
Pair = tuple[int, int, float]  # (buy venue index, sell venue index, top-of-book gross edge in bps)
Params = DetectionParams | Sequence[DetectionParams]  # one for every item, or one per item


def detect(symbol: str, venues: Sequence[VenueBook], params: DetectionParams) -> Decision:
    """The best executable cross for ``symbol``: an ``Opportunity``, a ``Rejection`` of the most attractive
    crossed pair, or ``None`` when no two books cross at the top."""
    return detect_many([(symbol, venues)], params)[0]


def detect_many(items: Sequence[tuple[str, Sequence[VenueBook]]], params: Params) -> list[Decision]:
    """``detect`` for each ``(symbol, venues)``, in order, sizing all symbols' crossed pairs in one pass;
    ``params`` is shared or one per item."""
    if len(items) >= BATCH_FROM:
        return detect_batch(items, params)
    each = per_item(params, len(items))
    results: list[Decision] = [None] * len(items)
    plans = [p for p in (_Plan(k, venues, each[k]) for k, (_, venues) in enumerate(items)) if p.pairs]
    if not plans:
        return results
    sized = _Rows(plans, each, audit=False)
    for plan in plans:
        symbol, venues = items[plan.item]
        results[plan.item] = _decide(symbol, venues, plan, sized, each[plan.item])
    return results


class _Plan:
    """One symbol's crossed pairs, the reason each fails before sizing (``None``: it must be sized), the
    pair a rejection would report (largest gross edge, first in pair order on ties) and, once ``_Rows``
    has placed them, the kernel row of each sized pair (``-1``: not sized)."""

    __slots__ = ("early", "item", "pairs", "rows", "top", "venues")

    def __init__(
        self, item: int, venues: Sequence[VenueBook], params: DetectionParams, every_pair: bool = False
    ) -> None:
        self.item = item
        self.venues = venues
        asks = [float(v.ask_px[0]) if len(v.ask_px) else _INF for v in venues]
        bids = [float(v.bid_px[0]) if len(v.bid_px) else -_INF for v in venues]
        top_bid = max(bids, default=-_INF)
        pairs: list[Pair] = []
        for b, ask in enumerate(asks):
            if ask >= top_bid:
                continue
            for s, bid in enumerate(bids):
                if bid > ask and s != b:
                    gross = (bid - ask) / ask * 1e4  # the reference's formula, so both screen the same value
                    if gross > 0:
                        pairs.append((b, s, gross))
        self.pairs = pairs
        self.rows: list[int] = []
        self.early: list[Reason | None] = []
        self.top = -1
        if not pairs:
            return
        state = [_state(v, params.max_book_age_ms) for v in venues]
        max_edge = float(params.max_edge_bps)
        early = self.early
        for b, s, gross in pairs:
            worst = max(state[b], state[s])
            if worst:
                early.append(_NOT_LIVE if worst == 2 else _STALE)
            else:
                early.append(Reason.ABNORMAL_EDGE if gross > max_edge else None)
        self.top = max(range(len(pairs)), key=lambda i: pairs[i][2])
        if every_pair:
            self.early = [None] * len(pairs)

    def to_size(self) -> list[int]:
        """Indices of the pairs the kernel must size."""
        need = [i for i, why in enumerate(self.early) if why is None]
        if self.early[self.top] is not None:
            need.append(self.top)
        return need


class _Rows:
    """The kernel run over every pair of every plan that needs sizing, as Python floats per row."""

    def __init__(self, plans: Sequence[_Plan], params: Sequence[DetectionParams], *, audit: bool) -> None:
        buys: list[VenueBook] = []
        sells: list[VenueBook] = []
        factors = []
        kernel: list[int] = []  # the rows the kernel sizes
        for plan in plans:
            max_size = _float(params[plan.item].max_size)
            plan.rows = [-1] * len(plan.pairs)
            venues = plan.venues
            for i in plan.to_size():
                b, s, _ = plan.pairs[i]
                buy, sell = venues[b], venues[s]
                kb, net, _fee = _fee_factors(buy.taker_fee, buy.fee_mode)
                sell_net = _fee_factors(sell.taker_fee, sell.fee_mode)[2]
                cap = min(max_size * net, _float(sell.base_balance))
                quote = _float(buy.quote_balance)
                plan.rows[i] = len(buys)
                # The audit sizes every row; deciding, a row whose best levels do not pay after fees is
                # known to size to nothing without the kernel (``pays_at_top``).
                if audit or cap < 0 or quote < 0 or pays_at_top(float(buy.ask_px[0]), float(sell.bid_px[0]),
                                                                 kb, sell_net):
                    kernel.append(len(buys))
                buys.append(buy)
                sells.append(sell)
                factors.append((kb, sell_net, net, 1.0, cap, quote))
        self.net = [f[2] for f in factors]
        self.profitable = [0.0] * len(buys)
        self.size = [0.0] * len(buys)
        self.cost = [0.0] * len(buys)
        self.proceeds = [0.0] * len(buys)
        self.audit: list[tuple[float, float, float, float]] | None = [] if audit else None
        # In blocks: a kernel temporary for a thousand rows is big enough that the allocator maps fresh
        # pages for it on every call, and touching them cost as much as the arithmetic (measured ~2x).
        for lo in range(0, len(kernel), _BLOCK):
            at = kernel[lo : lo + _BLOCK]
            out = size_rows(stack_rows([buys[r] for r in at], [sells[r] for r in at]),
                            np.array([factors[r] for r in at]), audit=audit)
            columns = (out.profitable_size, out.size, out.cost, out.proceeds)
            for r, profitable, size, cost, proceeds in zip(at, *(c.tolist() for c in columns), strict=True):
                self.profitable[r], self.size[r], self.cost[r], self.proceeds[r] = profitable, size, cost, proceeds
            if self.audit is not None:  # every row, in order
                assert out.buy_vwap is not None and out.sell_vwap is not None
                assert out.buy_worst is not None and out.sell_worst is not None
                columns = (out.buy_vwap, out.sell_vwap, out.buy_worst, out.sell_worst)
                self.audit += zip(*(c.tolist() for c in columns), strict=True)

    def candidate(self, plan: _Plan, i: int) -> Candidate:
        b, s, gross = plan.pairs[i]
        r = plan.rows[i]
        size, cost, proceeds = self.size[r], self.cost[r], self.proceeds[r]
        audit = _UNAUDITED if self.audit is None else self.audit[r]
        return Candidate(
            b, s, gross, self.profitable[r], size, size / self.net[r], *audit, cost, proceeds, proceeds - cost
        )


def _decide(
    symbol: str, venues: Sequence[VenueBook], plan: _Plan, sized: _Rows, params: DetectionParams
) -> Decision:
    """``select.choose`` over the plan's pairs: the first viable pair (best float profit first, ties in pair
    order) that finalizes to an ``Opportunity``, else the rejection of the pair with the largest gross edge."""
    reasons = list(plan.early)
    viable: list[tuple[float, int]] = []
    for i, why in enumerate(reasons):
        if why is None:
            r = plan.rows[i]
            if sized.profitable[r] <= 0.0:
                reasons[i] = Reason.UNPROFITABLE_AFTER_FEES
            elif sized.size[r] <= 0.0:
                reasons[i] = Reason.BALANCE_INSUFFICIENT
            else:
                viable.append((sized.cost[r] - sized.proceeds[r], i))
    viable.sort(key=lambda v: v[0])  # stable: ties keep pair order
    top_decided = None
    for _, i in viable:
        b, s, _ = plan.pairs[i]
        decided = finalize(symbol, venues[b], venues[s], sized.candidate(plan, i), params)
        if isinstance(decided, Opportunity):
            return decided
        if i == plan.top:
            top_decided = decided
    if top_decided is not None:
        return top_decided
    b, s, _ = plan.pairs[plan.top]
    why = reasons[plan.top]
    assert why is not None  # every viable pair was finalized above
    return rejection(why, symbol, venues[b], venues[s], sized.candidate(plan, plan.top), params)


def _state(venue: VenueBook, max_age_ms: int) -> int:
    """0: eligible, 1: live but too old, 2: not live (checked first, as in ``select.screen``)."""
    if venue.health != LIVE:
        return 2
    return 1 if venue.age_ms > max_age_ms else 0


_INF = float("inf")
_BLOCK = 256  # kernel rows per call
# Balances as floats: a few distinct values per venue that change only with fills.
_float = lru_cache(maxsize=1024)(float)
# VWAPs and worst prices of a detect-path candidate: not computed, no decision reads them (finalize
# re-walks the books exactly for the rounded legs).
_UNAUDITED = (math.nan, math.nan, math.nan, math.nan)
_NOT_LIVE = Reason.BOOK_NOT_LIVE
_STALE = Reason.BOOK_STALE


@lru_cache(maxsize=256)
def _fee_factors(fee: Decimal, mode: FeeMode) -> tuple[float, float, float]:
    """``(buy cost factor, buy net factor, sell net factor)`` as floats; a handful of distinct fee tiers."""
    f = float(fee)
    return buy_cost_factor(mode, f), buy_net_factor(mode, f), 1.0 - f
