# cython: boundscheck=False, wraparound=False, cdivision=True
# (Compiled, the arrays are checked once on entry, their lengths; inside the loop no index is bounds-checked or
# wrapped, and a division is C's, as numpy's: a zero ask, which no book holds, gives inf, not an exception.)
"""The array screen's first steps for many symbols in one compiled pass over their pairs' tops.

``batch.detect_rows`` screens every ordered venue pair of every symbol with array ops: the crossed pairs
(``_crossed``), their early reasons (``_screen``), each symbol's reported pair (``_reported``) and whether a
pair pays at the top of its books (``_size``). That is ~100 numpy calls a batch; at 100 symbols x 5 venues
they cost ~250 us warm and 700 us at p50 inside a run, where the books' updates between batches leave the
caches cold. This module does the same per pair in one loop over the 2,000 pairs (C when Cython compiled
it, ``top_screen.pxd``; ``batch`` calls it only then), and decides every symbol the screen alone decides:

- no crossed pair: no decision;
- crossed, but no pair that the screen leaves in, nor the reported pair, pays at the top of its books
  (nor has a negative size cap or quote balance, which the kernel answers itself): a rejection with
  nothing to size, the reported pair's early reason or, when it had none, not profitable after fees
  (``_rank``'s answer for a pair that sizes to nothing). The usual decision of a fee-bound market;
- anything else is left to the array path, which sizes it (``SIZED``).

The same float formulas in the same order of operations as the array path, the same pair order and
tie-break (the largest gross edge, first in pair order), so the decisions are the same: the property tests
compare the array path, this pass compiled and this pass run as Python against the reference.
"""

from __future__ import annotations

from typing import Any

from arb.detection.vectorized import HURDLE

try:  # Cython compiles this module when it can (setup.py); ``cython.compiled`` is then true.
    import cython
except ImportError:  # not installed: the module runs as plain Python (and ``batch`` keeps its array path)
    COMPILED = False
else:
    COMPILED = cython.compiled

# A crossed pair's reason code (0: still in). The first three are ``select.screen``'s order.
NOT_LIVE, STALE, ABNORMAL, UNPROFITABLE, NO_BALANCE = range(1, 6)
# A symbol's outcome of the pass.
NONE, PLAIN, SIZED = range(3)

_hurdle = HURDLE  # a C double when compiled


class TopScreen:
    """The pass over the tops of items of ``venues`` consecutive rows each (``len(best) // venues`` of them),
    built once on the arrays it reads (compiled, each is checked and typed here, once, not on every pass: a
    run's tracked rows keep theirs and update them in place, so one screen serves the whole run).

    Per row, ``rows.TopInputs``'s arrays (``best`` to ``factors``, the flags as ``uint8``; ``book_max_age``
    the books' max age). Per item: ``max_age``, ``max_edge``, ``max_size`` (``rows.ScreenLimits``)."""

    def __init__(self, best: Any, has_ask: Any, has_bid: Any, received: Any, live_at_update: Any, book_max_age: int,
                 factors: Any, venues: int, max_age: Any, max_edge: Any, max_size: Any) -> None:
        rows = best.shape[0]
        if venues < 1 or rows % venues or factors.shape[0] != rows or factors.shape[1] < 5 or min(
                len(has_ask), len(has_bid), len(received), len(live_at_update)) != rows or min(
                len(max_age), len(max_edge), len(max_size)) != rows // venues:
            raise ValueError("TopScreen: arrays of different lengths")  # compiled, nothing is bounds-checked
        self.best, self.has_ask, self.has_bid, self.received = best, has_ask, has_bid, received
        self.live_at_update, self.book_max_age, self.factors = live_at_update, book_max_age, factors
        self.venues, self.items = venues, rows // venues
        self.max_age, self.max_edge, self.max_size = max_age, max_edge, max_size

    def screen(self, now: int, outcome: Any, rejected: Any, prices: Any, results: list[Any], make: Any,
               batch: Any) -> tuple[int, int]:
        """Screen every item at ``now`` (the rows' clock). Writes each item's ``NONE``, ``PLAIN`` or ``SIZED``
        into ``outcome``, and for the ``PLAIN`` ones, in item order from column 0, its rejection: reason code,
        item, buy and sell rows into ``rejected`` (4 rows), best ask and bid and gross edge into ``prices``
        (3 rows), and as its decision ``make((batch, j))`` into ``results[k]`` (``j``: its column; the
        caller's handle on rejection ``j`` of ``batch``, made here so that the hot path does not walk the
        items again in Python). Returns how many are ``PLAIN`` and how many ``SIZED``.

        The per-pair steps are written out in the loop, and the one helper takes numbers: compiled, passing
        the arrays to a function costs more than the pair's own work."""
        items, venues, book_max_age = self.items, self.venues, self.book_max_age
        if min(len(outcome), len(results)) != items or rejected.shape[0] != 4 or prices.shape[0] != 3 or min(
                rejected.shape[1], prices.shape[1]) < items:
            raise ValueError("TopScreen.screen: arrays of different lengths")
        best, has_ask, has_bid, received = self.best, self.has_ask, self.has_bid, self.received
        live_at_update, factors = self.live_at_update, self.factors
        max_age, max_edge, max_size = self.max_age, self.max_edge, self.max_size
        plain = sized_items = 0
        for k in range(items):
            first = k * venues
            top_gross = -1.0  # a crossed pair's gross edge is above 0
            top_code = top_b = top_s = 0
            top_ask = top_bid = 0.0
            sized = False
            for b in range(first, first + venues):
                if not has_ask[b]:
                    continue
                a = best[b, 0]
                for s in range(first, first + venues):
                    if s == b or not has_bid[s]:
                        continue
                    x = best[s, 1]
                    if not x > a:
                        continue
                    g = (x - a) / a * 1e4  # ``_crossed``'s formula
                    if not g > 0:
                        continue
                    # ``_screen``: the worse venue's state (not live, then older than the item's max book age);
                    # ``BookRows.screen``'s age and liveness, from the receive times.
                    age_b, age_s = now - received[b], now - received[s]
                    if not (live_at_update[b] and live_at_update[s] and age_b <= book_max_age
                            and age_s <= book_max_age):
                        pair_code = NOT_LIVE
                    elif age_b > max_age[k] or age_s > max_age[k]:
                        pair_code = STALE
                    elif g > max_edge[k]:
                        pair_code = ABNORMAL
                    else:
                        pair_code = 0
                    if g > top_gross:  # ``_reported``: the largest gross edge, first in pair order on ties
                        top_gross, top_code, top_b, top_s, top_ask, top_bid = g, pair_code, b, s, a, x
                    if pair_code == 0 and not sized:
                        sized = _sized(a, x, factors[b, 0], factors[b, 1], factors[b, 4], factors[s, 2],
                                       factors[s, 3], max_size[k])
            if top_gross < 0:
                outcome[k] = NONE
                continue
            if not sized and top_code:  # the reported pair is sized whatever its reason
                sized = _sized(top_ask, top_bid, factors[top_b, 0], factors[top_b, 1], factors[top_b, 4],
                               factors[top_s, 2], factors[top_s, 3], max_size[k])
            if sized:
                outcome[k] = SIZED
                sized_items += 1
                continue
            outcome[k] = PLAIN
            rejected[0, plain], rejected[1, plain] = top_code or UNPROFITABLE, k
            rejected[2, plain], rejected[3, plain] = top_b, top_s
            prices[0, plain], prices[1, plain], prices[2, plain] = top_ask, top_bid, top_gross
            results[k] = make((batch, plain))
            plain += 1
        return plain, sized_items


def _sized(ask: float, bid: float, buy_cost: float, buy_net: float, buy_quote: float, sell_net: float,
           sell_base: float, max_size: float) -> bool:
    """Whether ``_size`` runs the kernel on a pair: it pays at the top of its books (``vectorized.pays_at_top``,
    in its order of operations), or its size cap or quote balance is negative (the kernel's own answer; either
    part of the cap: the array path takes the smaller, so this may send a pair to sizing that it would not
    size, never the reverse). The fee factors and balances are the pair's venues' ``rows.BookRows.factors``."""
    return (bid * sell_net > ask * buy_cost * _hurdle or max_size * buy_net < 0 or sell_base < 0
            or buy_quote < 0)
