"""The straightforward implementation: one ordered venue pair at a time, one level at a time, plain floats.

This is the oracle the numpy core is tested against and the baseline its benchmark divides by. It is
written to be obviously right, not fast: walk the buy venue's asks and the sell venue's bids together,
take the smaller of the two levels' remaining size, stop when the marginal unit no longer pays after fees or
a cap is reached. Level ends are kept as running cumulative sums (not as "remaining" sizes decremented
per step) so a level is either fully consumed or not, without float crumbs.
"""

from __future__ import annotations

from collections.abc import Sequence

from arb.detection.candidate import Candidate, buy_cost_factor, buy_net_factor
from arb.detection.select import choose
from arb.detection.types import Decision, DetectionParams, VenueBook

_INF = float("inf")


def size_pair(
    buy: VenueBook, sell: VenueBook, buy_index: int, sell_index: int, max_size: float
) -> Candidate:
    """Size buying on ``buy`` and selling on ``sell``; see ``Candidate`` for what each field means."""
    fb, fs = float(buy.taker_fee), float(sell.taker_fee)
    nf, kb = buy_net_factor(buy.fee_mode, fb), buy_cost_factor(buy.fee_mode, fb)
    asks = list(zip(buy.ask_px.tolist(), buy.ask_sz.tolist(), strict=True))
    bids = list(zip(sell.bid_px.tolist(), sell.bid_sz.tolist(), strict=True))
    if not asks or not bids:
        return _empty(buy_index, sell_index, -_INF)
    gross = (bids[0][0] - asks[0][0]) / asks[0][0] * 1e4

    def walk(x_limit: float, quote_limit: float) -> Candidate:
        x = cost = proceeds = buy_raw = sell_raw = 0.0
        buy_worst = sell_worst = 0.0
        i = j = 0
        a_end, b_end = asks[0][1] * nf, bids[0][1]
        while i < len(asks) and j < len(bids) and x < x_limit:
            a_px, b_px = asks[i][0], bids[j][0]
            a_eff, b_eff = a_px * kb, b_px * (1.0 - fs)
            if b_eff <= a_eff:
                break
            nxt = min(a_end, b_end, x_limit)
            if nxt > x:
                out_of_quote = cost + a_eff * (nxt - x) > quote_limit
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
                    a_end += asks[i][1] * nf
            if x >= b_end:
                j += 1
                if j < len(bids):
                    b_end += bids[j][1]
        if x <= 0:
            return _empty(buy_index, sell_index, gross)
        return Candidate(
            buy=buy_index,
            sell=sell_index,
            gross_edge_bps=gross,
            profitable_size=0.0,
            size=x,
            buy_amount=x / nf,
            buy_vwap=buy_raw / x,
            sell_vwap=sell_raw / x,
            buy_worst=buy_worst,
            sell_worst=sell_worst,
            cost=cost,
            proceeds=proceeds,
            profit=proceeds - cost,
        )

    if gross <= 0:
        return _empty(buy_index, sell_index, gross)
    profitable = walk(_INF, _INF).size
    cap = min(max_size * nf, float(sell.base_balance))
    sized = walk(min(profitable, cap), float(buy.quote_balance))
    return _replace_profitable(sized, profitable)


def detect_reference(symbol: str, venues: Sequence[VenueBook], params: DetectionParams) -> Decision:
    """Same contract as ``arb.detection.detect``: every ordered pair, the best decision."""
    max_size = float(params.max_size)
    candidates = [
        size_pair(venues[b], venues[s], b, s, max_size)
        for b in range(len(venues))
        for s in range(len(venues))
        if b != s
    ]
    return choose(symbol, venues, candidates, params)


def _empty(buy_index: int, sell_index: int, gross: float) -> Candidate:
    return Candidate(buy_index, sell_index, gross, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def _replace_profitable(cand: Candidate, profitable: float) -> Candidate:
    return Candidate(
        cand.buy,
        cand.sell,
        cand.gross_edge_bps,
        profitable,
        cand.size,
        cand.buy_amount,
        cand.buy_vwap,
        cand.sell_vwap,
        cand.buy_worst,
        cand.sell_worst,
        cand.cost,
        cand.proceeds,
        cand.profit,
    )
