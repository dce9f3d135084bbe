"""When a resting quote must be replaced: pure, on market time.

A quote is repriced (cancelled, and a fresh one placed if any pays) when

- ``no_longer_pays``: the taker book moved so that the resting price is past what pays now (a bid above the
  fresh quote's limit, an ask below it: the limit, not the fresh price, which the post-only rule may have
  pulled further out: a resting ask one tick above a bid that has since risen still pays, and keeps its
  place in the queue);
- ``hedge_moved``: the hedge's average price moved by ``refresh_bps`` or more either way since quote time
  (the quote may now be too cautious: a better one would fill first);
- ``stale_book``: the taker book is older than the detection's ``max_book_age_ms`` (its prices are no basis
  for a promise: the quote is pulled, not repriced, until the book is fresh);
- ``smaller``: what may be quoted now is less than rests (a pair spent the funds its hedge would need, or the
  risk limit cut it): the rest of the resting quote could fill with no hedge to answer it;
- ``max_age``: the quote has rested ``max_quote_age_ms`` (market time), so a stuck one cannot rest forever;
- ``no_quote``: no quote pays or fits at all now (no depth, a minimum, the balances).

Checked in this order: the first that holds is the reason recorded.

A quote the venue refused (post-only would have taken: arb's view of the maker book is behind the venue's)
is not sent again at every book update, at the same price into the same refusal (about 30 a second, for
minutes): its side waits until the price it would quote has moved by ``refresh_bps`` from the refused one,
or ``refusal_backoff_ms`` has passed (:func:`may_quote_again`): long enough to stop the
hammering, short enough that one refusal does not cost a side its next fills (at 1 s, the worked example
of the README lost 3 of its 28 filled quotes).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arb.domain.market import Side
from arb.quoting.pricing import BPS, NoQuote, Quote


@dataclass(frozen=True, slots=True)
class RefreshRule:
    refresh_bps: Decimal
    max_quote_age_ms: int
    refusal_backoff_ms: int = 250


def may_quote_again(refused_price: Decimal, refused_at_ms: int, price: Decimal, now_ms: int,
                    rule: RefreshRule) -> bool:
    """Whether a slot whose quote at ``refused_price`` was refused at ``refused_at_ms`` may quote ``price`` now."""
    moved = abs(price - refused_price) * BPS >= rule.refresh_bps * refused_price
    return moved or now_ms - refused_at_ms >= rule.refusal_backoff_ms


def refresh_reason(
    resting: Quote,
    quoted_at_ms: int,
    fresh: Quote | NoQuote,
    now_ms: int,
    rule: RefreshRule,
    *,
    taker_book_stale: bool = False,
) -> str | None:
    """Why ``resting`` (placed at ``quoted_at_ms``) must go now, given the ``fresh`` quote the books give
    at ``now_ms``; None while it may keep its place in the queue."""
    if taker_book_stale:
        return "stale_book"
    if isinstance(fresh, NoQuote):
        return "no_quote"
    past = resting.price > fresh.limit if resting.side is Side.BUY else resting.price < fresh.limit
    if past:
        return "no_longer_pays"
    if fresh.amount < resting.amount:
        return "smaller"
    then, now = resting.hedge.average, fresh.hedge.average
    if abs(now - then) * BPS >= rule.refresh_bps * then:
        return "hedge_moved"
    if now_ms - quoted_at_ms >= rule.max_quote_age_ms:
        return "max_age"
    return None
