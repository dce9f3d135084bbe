"""A capture's events applied to a book store in one loop, with no event loop: what the tests of captures and
converters check books with. (A run replays a capture through ``arb/runtime/feeds.market_source`` on the
simulated loop; nothing in arb needs this loop, so it lives with the tests.)"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent


@dataclass(frozen=True, slots=True)
class Applied:
    events: int  # read
    applied: int  # that changed a book (``BookStore.apply`` said so)


def apply_events(events: Iterable[CaptureEvent], store: BookStore) -> Applied:
    """Apply every event to ``store`` through ``BookStore.apply``, the one path every source feeds."""
    n = applied = 0
    for event in events:
        applied += store.apply(event)
        n += 1
    return Applied(n, applied)
