"""One simulated venue's order book: absolute price levels plus consecutive update ids.

The venue's own market, as the matcher (:mod:`arb.venues.sim.matching`) sees it: set by the recorded
market's events, and reduced where a simulated order took liquidity (until the next event sets that level
again). Every change bumps the update id by one and yields a :class:`BookUpdate` carrying the absolute sizes
of the levels that changed (``0`` deletes): what a diff-stream protocol publishes (Gate's
``spot.order_book_update``, served by the sandbox, whose REST ``with_id`` snapshot reports the current id so
a client splices snapshot and stream together as it would against Gate).

Its best bid and ask are kept as levels change (found again over the side only when the best level itself
goes): the matcher asks for them after every event (is the book crossed?) and at every order.

Pure: no clock, no I/O. Time comes in as ``ts_ms``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter

Level = tuple[Decimal, Decimal]
ZERO = Decimal(0)
_PRICE = itemgetter(0)  # a level's price


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """Changed levels with absolute sizes; ``first_id``..``last_id`` are Gate's ``U``/``u``."""

    market: str
    first_id: int
    last_id: int
    ts_ms: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    full: bool = False  # True when the change replaced the whole book (sent as ``full`` on spot.obu)


@dataclass(slots=True)
class CrossedBook:
    """A market's book found crossed (best bid at or above best ask) after a market event: how many events
    left it so, how many times it became so, and where it first did. A venue's own book is never crossed (it
    would have matched); a simulated one is when its events were applied out of the venue's order."""

    first_ms: int
    bid: Decimal
    ask: Decimal
    events: int = 0
    times: int = 0


class Book:
    """Bids and asks of one market. ``skip_next`` makes the next update leave a gap of one id (fault knob)."""

    def __init__(self, market: str, start_id: int = 1000) -> None:
        self.market = market
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.update_id = start_id
        self.ts_ms = 0
        self.skip_next = False
        # The best levels, or None with ``_best_known`` False: found again when next asked (a best level went).
        self._best: dict[str, Decimal | None] = {"bids": None, "asks": None}
        self._best_known = {"bids": True, "asks": True}

    def best_bid(self) -> Decimal | None:
        return self._best_of("bids")

    def best_ask(self) -> Decimal | None:
        return self._best_of("asks")

    def _best_of(self, side: str) -> Decimal | None:
        if not self._best_known[side]:
            levels = self.bids if side == "bids" else self.asks
            self._best[side] = (max if side == "bids" else min)(levels, default=None)
            self._best_known[side] = True
        return self._best[side]

    def sorted_bids(self, limit: int | None = None) -> list[Level]:
        levels = sorted(self.bids.items(), key=lambda lv: lv[0], reverse=True)
        return levels[:limit] if limit is not None else levels

    def sorted_asks(self, limit: int | None = None) -> list[Level]:
        levels = sorted(self.asks.items(), key=lambda lv: lv[0])
        return levels[:limit] if limit is not None else levels

    def reachable(self, side: str, price: Decimal) -> list[Level]:
        """The levels of ``side`` ('bids' or 'asks') an order crossing it at limit ``price`` can trade, best
        first: only those are sorted, not the whole side (a recorded book holds thousands of levels)."""
        if side == "asks":
            return sorted(((p, s) for p, s in self.asks.items() if p <= price), key=_PRICE)
        return sorted(((p, s) for p, s in self.bids.items() if p >= price), key=_PRICE, reverse=True)

    def replace(self, bids: Iterable[Level], asks: Iterable[Level], ts_ms: int) -> BookUpdate | None:
        """A snapshot: the whole book becomes ``bids``/``asks``; the update lists every changed level."""
        new_bids = {p: s for p, s in bids if s > 0}
        new_asks = {p: s for p, s in asks if s > 0}
        bid_changes = _diff(self.bids, new_bids)
        ask_changes = _diff(self.asks, new_asks)
        self.bids, self.asks = new_bids, new_asks
        self._best_known = {"bids": False, "asks": False}
        return self._emit(bid_changes, ask_changes, ts_ms, full=True)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level], ts_ms: int) -> BookUpdate | None:
        """A delta: each level is set to its absolute size, ``0`` removes it."""
        return self._emit(self._set_side("bids", bids), self._set_side("asks", asks), ts_ms)

    def _set_side(self, side: str, levels: Iterable[Level]) -> list[Level]:
        """Each of ``levels`` set on ``side`` (a size of 0 or less removes its level), and the side's best kept: a
        level better than it becomes it; the best removed leaves it unknown, found again when next asked. One
        pass: a deferred market's deltas all come through here (``matching.DEFERRED_EVENTS``)."""
        book = self.bids if side == "bids" else self.asks
        known, best, higher = self._best_known[side], self._best[side], side == "bids"
        changes = []
        for price, size in levels:
            if size > 0:
                book[price] = size
                if known and (best is None or (price > best if higher else price < best)):
                    best = price
            else:
                book.pop(price, None)
                size = ZERO
                if known and price == best:
                    known = False
            changes.append((price, size))
        if self._best_known[side]:  # else already unknown: found again when next asked
            self._best[side], self._best_known[side] = best, known
        return changes

    def consume(self, side: str, price: Decimal, amount: Decimal, ts_ms: int) -> BookUpdate | None:
        """A fill took ``amount`` at ``price`` from ``side`` ('bids' or 'asks'); it stays gone until a feed
        event sets that level again."""
        levels = self.bids if side == "bids" else self.asks
        left = levels.get(price, ZERO) - amount
        [change] = self._set_side(side, [(price, left)])
        if side == "bids":
            return self._emit([change], [], ts_ms)
        return self._emit([], [change], ts_ms)

    def _emit(
        self, bids: list[Level], asks: list[Level], ts_ms: int, full: bool = False
    ) -> BookUpdate | None:
        self.ts_ms = max(self.ts_ms, ts_ms)
        if not bids and not asks and not full:
            return None
        if self.skip_next:
            self.update_id += 1  # the id that is never published: subscribers see U > last_u + 1
            self.skip_next = False
        first = self.update_id + 1
        self.update_id = first
        return BookUpdate(self.market, first, first, self.ts_ms, tuple(bids), tuple(asks), full)


def _diff(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal]) -> list[Level]:
    changes = [(p, s) for p, s in new.items() if old.get(p) != s]
    changes += [(p, ZERO) for p in old if p not in new]
    return changes
