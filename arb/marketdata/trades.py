"""The trades a recording's feeds deliver: a tape the recorder listens to, beside the book store.

Trades are not book events: no book changes and nothing reads them in a run, so they do not go through the
:class:`~arb.marketdata.books.BookStore` (whose listeners and watchers see book events only). A feed given a
:class:`TradeTape` subscribes to its venue's public trades as well as its books and hands the tape every
trade it reads, as a checked :class:`~arb.marketdata.capture.CaptureTrade` stamped by the feed's own receive
clock, the clock its book events are stamped by, so the two interleave in ``ts`` order in a capture. A feed
given none (every run's) subscribes to no trades and pays nothing for them.

A malformed trade is dropped and counted like any malformed frame (``drops.FrameDrops``: ``missing_field``
for a field missing or of the wrong shape), never resyncing a book: a trade cannot have changed one.
"""

from __future__ import annotations

from collections.abc import Callable

from arb.marketdata.capture import CaptureTrade

TradeListener = Callable[[CaptureTrade], None]


class TradeTape:
    """Trades from any number of feeds, handed to every listener in the order the feeds deliver them."""

    def __init__(self) -> None:
        self._listeners: list[TradeListener] = []
        self.count = 0

    def add_listener(self, listener: TradeListener) -> Callable[[], None]:
        """Call ``listener(trade)`` for every trade; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def trade(self, trade: CaptureTrade) -> None:
        self.count += 1
        for listener in self._listeners:
            listener(trade)
