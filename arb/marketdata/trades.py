"""The off-book lines a recording's feeds deliver: a tape the recorder listens to, beside the book store.

Trades and a perpetual's funding lines (mark price, funding rate, funding time) are not book events: no book
changes and nothing reads them in a run, so they do not go through the
:class:`~arb.marketdata.books.BookStore` (whose listeners and watchers see book events only). A feed given a
:class:`TradeTape` subscribes to its venue's public trades, and to a perpetual's mark and funding where the
venue serves them, as well as its books, and hands the tape every line it reads, as a checked
:class:`~arb.marketdata.capture.CaptureTrade` or :class:`~arb.marketdata.capture.CaptureFunding` stamped by
the feed's own receive clock, the clock its book events are stamped by, so they interleave in ``ts`` order in
a capture. A feed given none (every run's) subscribes to neither and pays nothing for them.

A malformed trade or funding frame is dropped and counted like any malformed frame (``drops.FrameDrops``:
``missing_field`` for a field missing or of the wrong shape), never resyncing a book: it cannot have changed
one.
"""

from __future__ import annotations

from collections.abc import Callable

from arb.marketdata.capture import CaptureFunding, CaptureTrade

TapeLine = CaptureTrade | CaptureFunding
TapeListener = Callable[[TapeLine], None]


class TradeTape:
    """Trades and funding lines from any number of feeds, handed to every listener in the order the feeds
    deliver them; ``trades`` and ``funding_lines`` count each kind."""

    def __init__(self) -> None:
        self._listeners: list[TapeListener] = []
        self.trades = 0
        self.funding_lines = 0

    def add_listener(self, listener: TapeListener) -> Callable[[], None]:
        """Call ``listener(line)`` for every trade and funding line; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def trade(self, trade: CaptureTrade) -> None:
        self.trades += 1
        self._hand(trade)

    def funding(self, line: CaptureFunding) -> None:
        self.funding_lines += 1
        self._hand(line)

    def _hand(self, line: TapeLine) -> None:
        for listener in self._listeners:
            listener(line)
