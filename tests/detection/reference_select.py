"""The reference's choice of one decision per symbol from the float-sized candidates of all its ordered venue
pairs: the rule the numpy core applies in its own vectorized form (``arb.detection.core._decide``), which the
property tests hold it to.

* No pair crossed at the top of the book: ``None`` (nothing happened worth a row).
* Crossed pairs are screened in ``Reason`` order (book health, book age, abnormal edge, profit after fees,
  balances); survivors are finalized in ``Decimal`` best float profit first, and the first that passes
  every venue rule and threshold is the ``Opportunity``.
* Otherwise the ``Rejection`` of the crossed pair with the largest gross edge: the cross that looked best
  is the one whose reason matters (a stale book's phantom cross must show up as ``book_stale``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from arb.detection.candidate import Candidate
from arb.detection.finalize import finalize, rejection
from arb.detection.types import LIVE, Decision, DetectionParams, Opportunity, Reason, Rejection, VenueBook


def screen(buy: VenueBook, sell: VenueBook, cand: Candidate, params: DetectionParams) -> Reason | None:
    """The first float-level reason a crossed pair cannot trade, or None if it goes on to rounding."""
    if buy.health != LIVE or sell.health != LIVE:
        return Reason.BOOK_NOT_LIVE
    if buy.age_ms > params.max_book_age_ms or sell.age_ms > params.max_book_age_ms:
        return Reason.BOOK_STALE
    if cand.gross_edge_bps > float(params.max_edge_bps):
        return Reason.ABNORMAL_EDGE
    if cand.profitable_size <= 0.0:
        return Reason.UNPROFITABLE_AFTER_FEES
    if cand.size <= 0.0:
        return Reason.BALANCE_INSUFFICIENT
    return None


def choose(
    symbol: str, venues: Sequence[VenueBook], candidates: Iterable[Candidate], params: DetectionParams
) -> Decision:
    crossed = [c for c in candidates if c.crossed]
    if not crossed:
        return None
    failed: list[tuple[Candidate, Reason | Rejection]] = []
    viable: list[Candidate] = []
    for cand in crossed:
        reason = screen(venues[cand.buy], venues[cand.sell], cand, params)
        if reason is None:
            viable.append(cand)
        else:
            failed.append((cand, reason))
    viable.sort(key=lambda c: c.profit, reverse=True)  # stable: ties keep pair order
    for cand in viable:
        decided = finalize(symbol, venues[cand.buy], venues[cand.sell], cand, params)
        if isinstance(decided, Opportunity):
            return decided
        failed.append((cand, decided))
    cand, why = max(failed, key=lambda f: (f[0].gross_edge_bps, -f[0].buy, -f[0].sell))
    if isinstance(why, Rejection):
        return why
    return rejection(why, symbol, venues[cand.buy], venues[cand.sell], cand, params)
