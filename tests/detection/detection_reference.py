"""The straightforward implementation: one ordered venue pair at a time, one level at a time.

This is the oracle the numpy core is tested against and ``bench/bench_detection.py``'s baseline; arb itself
never calls it, so it lives with the tests. It is written to be obviously right, not fast: walk the buy
venue's asks and the sell venue's bids together, take the smaller of the two levels' remaining size, stop when
the marginal unit no longer pays after fees or a cap is reached. By default it computes in exact ``Decimal``
(book floats converted by their shortest repr), so the tests compare numpy's float64 sums against exact
arithmetic rather than against the same float operations done in a different order; ``exact=False`` runs the
identical loop on floats (the benchmark reports both).

Only the top-of-book gross edge is computed in float, with numpy's formula: it is an audit number and the
abnormal-edge screen compares it, so both implementations must see the same value.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from arb.detection.candidate import MIN_MARGIN, Candidate
from arb.detection.finalize import dec
from arb.detection.types import Decision, DetectionParams, FeeMode, VenueBook
from tests.detection.reference_select import choose


def size_pair(
    buy: VenueBook, sell: VenueBook, buy_index: int, sell_index: int, max_size: Decimal, exact: bool = True
) -> Candidate:
    """Size buying on ``buy`` and selling on ``sell``; see ``Candidate`` for what each field means."""
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        money: Callable[[Decimal], Any] = (lambda d: d) if exact else float
        return _size_pair(buy, sell, buy_index, sell_index, max_size, dec if exact else float, money)


def _size_pair(
    buy: VenueBook,
    sell: VenueBook,
    buy_index: int,
    sell_index: int,
    max_size: Decimal,
    num: Callable[[float], Any],
    money: Callable[[Decimal], Any],
) -> Candidate:
    if len(buy.ask_px) == 0 or len(sell.bid_px) == 0:
        return _empty(buy_index, sell_index, float("-inf"))
    best_ask, best_bid = float(buy.ask_px[0]), float(sell.bid_px[0])
    gross = (best_bid - best_ask) / best_ask * 1e4
    if gross <= 0:
        return _empty(buy_index, sell_index, gross)
    one = num(1.0)
    fb, fs = money(buy.taker_fee), money(sell.taker_fee)
    base_fee = buy.fee_mode is FeeMode.BASE
    nf = one - fb if base_fee else one  # base arriving per base bought
    kb = one / (one - fb) if base_fee else one + fb  # quote paid per hedged base per unit of ask
    hurdle = one + money(MIN_MARGIN)
    asks = [(num(p), num(q)) for p, q in zip(buy.ask_px.tolist(), buy.ask_sz.tolist(), strict=True)]
    bids = [(num(p), num(q)) for p, q in zip(sell.bid_px.tolist(), sell.bid_sz.tolist(), strict=True)]
    zero = num(0.0)

    def walk(x_limit: Any, quote_limit: Any) -> tuple[Any, ...]:
        x = cost = proceeds = buy_raw = sell_raw = buy_worst = sell_worst = zero
        i = j = 0
        a_raw, b_end = asks[0][1], bids[0][1]  # level ends as cumulative sizes
        a_end = a_raw * nf
        while i < len(asks) and j < len(bids) and (x_limit is None or x < x_limit):
            a_px, b_px = asks[i][0], bids[j][0]
            a_eff, b_eff = a_px * kb, b_px * (one - fs)
            if b_eff <= a_eff * hurdle:
                break
            nxt = min(a_end, b_end) if x_limit is None else min(a_end, b_end, x_limit)
            if nxt > x:
                out_of_quote = quote_limit is not None and cost + a_eff * (nxt - x) > quote_limit
                if out_of_quote:
                    nxt = x + (quote_limit - cost) / a_eff
                take = nxt - x
                if take > 0:
                    cost += a_eff * take
                    proceeds += b_eff * take
                    buy_raw += a_px * take
                    sell_raw += b_px * take
                    buy_worst, sell_worst = a_px, b_px
                    x = nxt
                if out_of_quote:
                    break
            if x >= a_end:
                i += 1
                if i < len(asks):
                    a_raw += asks[i][1]
                    a_end = a_raw * nf
            if x >= b_end:
                j += 1
                if j < len(bids):
                    b_end += bids[j][1]
        return x, cost, proceeds, buy_raw, sell_raw, buy_worst, sell_worst

    profitable = walk(None, None)[0]
    cap = min(money(max_size) * nf, money(sell.base_balance), profitable)
    x, cost, proceeds, buy_raw, sell_raw, buy_worst, sell_worst = walk(cap, money(buy.quote_balance))
    if x <= 0:
        return Candidate(buy_index, sell_index, gross, float(profitable), *([0.0] * 9))
    return Candidate(
        buy=buy_index,
        sell=sell_index,
        gross_edge_bps=gross,
        profitable_size=float(profitable),
        size=float(x),
        buy_amount=float(x / nf),
        buy_vwap=float(buy_raw / x),
        sell_vwap=float(sell_raw / x),
        buy_worst=float(buy_worst),
        sell_worst=float(sell_worst),
        cost=float(cost),
        proceeds=float(proceeds),
        profit=float(proceeds - cost),
    )


def detect_reference(
    symbol: str, venues: Sequence[VenueBook], params: DetectionParams, exact: bool = True
) -> Decision:
    """Same contract as ``arb.detection.detect``: every ordered pair, the best decision."""
    candidates = [
        size_pair(venues[b], venues[s], b, s, params.max_size, exact)
        for b in range(len(venues))
        for s in range(len(venues))
        if b != s
    ]
    return choose(symbol, venues, candidates, params)


def _empty(buy_index: int, sell_index: int, gross: float) -> Candidate:
    return Candidate(buy_index, sell_index, gross, *([0.0] * 10))
