"""The book store: the one place normalized book events become books, for live feeds and replay alike.

Feeds (ccxt.pro, our Gate sync, REST polling) and replay all call :meth:`BookStore.snapshot` /
:meth:`BookStore.delta` (or :meth:`BookStore.apply` with a :class:`CaptureEvent`), so a recorded stream
replays through exactly the code that built the live books: same sequence rule, same health.

Listeners (the recorder, a capture conversion) see every event the feeds delivered, applied or not: a
recorded gap must replay as a gap. A :class:`CaptureEvent` is only built when someone listens, because
building one (a frozen dataclass, and the levels copied into tuples it may keep) costs about as much as
parsing the message it came from. Watchers (the engine's detection trigger, the batched detector's rows)
are told the same events by the book they touched, and need no event: a run that records nothing builds
none (``bench/bench_ingest.py``: ~2 us of a depth frame's ~12 us after parsing).

Resets and resyncs go through here too, never straight to an :class:`OrderBook`: :meth:`BookStore.reset`
(a lost connection: back to ``syncing``) and :meth:`BookStore.gap` (a feed lost an update the book could
not see itself: unusable until the next snapshot) change the book and tell every listener with a ``reset``
or ``gap`` event, so the recorder records them and the engine and status view see them. They are events
only for a book that had something to lose (a snapshot, and not already in that state): a connection
that keeps failing before its first snapshot is silence, not a stream of resets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from arb.marketdata.book import Health, OrderBook
from arb.marketdata.book_side import Levels, as_pairs
from arb.marketdata.capture import CaptureEvent, EventType

"""The normalized book event is the capture line: recording is writing what the store was fed."""

Listener = Callable[[CaptureEvent, OrderBook], None]
Watcher = Callable[[OrderBook], None]


def _levels(levels: Levels) -> tuple[tuple[str, str], ...]:
    # compiled, a list comprehension is a C loop; a generator is not
    return tuple([(p, s) for p, s in as_pairs(levels)])


class BookStore:
    """Books per (venue, symbol), created on first use with the configured depth and max age."""

    def __init__(self, *, depth: int = 20, max_age_ms: int = 10_000) -> None:
        self.depth = depth
        self.max_age_ms = max_age_ms
        self.books: dict[tuple[str, str], OrderBook] = {}
        self.now_ms = 0  # the latest receive time seen: replay's clock for health checks
        self._listeners: list[Listener] = []
        self._watchers: list[Watcher] = []

    def book(self, venue: str, symbol: str) -> OrderBook:
        key = (venue, symbol)
        book = self.books.get(key)
        if book is None:
            book = self.books[key] = OrderBook(venue, symbol, depth=self.depth, max_age_ms=self.max_age_ms)
        return book

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event, book)`` after every event; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def add_watcher(self, watcher: Watcher) -> Callable[[], None]:
        """Call ``watcher(book)`` after every event (snapshot, delta applied or not, reset, gap) with the book
        it was for, after the listeners; no event is built for it. Returns a function that removes it."""
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher)

    def __iter__(self) -> Iterator[OrderBook]:
        return iter(self.books.values())

    def health(self, now_ms: int | None = None) -> dict[tuple[str, str], Health]:
        now = self.now_ms if now_ms is None else now_ms
        return {key: book.health(now) for key, book in self.books.items()}

    # ------------------------------------------------------------------ feeding

    def apply(self, event: CaptureEvent, venue: str | None = None) -> bool:
        """Apply one normalized event of any type; returns whether the book changed (a snapshot or an
        applied delta, see ``OrderBook.apply_delta``). ``venue`` books the event under another venue name
        (a capture routed to a configured venue); listeners then see the event as that venue's."""
        name = venue or event.venue
        kind = event.type
        if kind == "snapshot":
            self._snapshot(name, event.symbol, event.bids, event.asks, event.ts, event.seq, event.exchange_ts)
            applied = True
        elif kind == "delta":
            applied = self._delta(name, event.symbol, event.bids, event.asks, event.ts, event.seq,
                                  event.first_seq, event.exchange_ts)
        else:  # reset / gap: replayed as they happened, even on a book that had nothing to lose
            self._lose(name, event.symbol, kind, event.ts)
            applied = False
        if self._listeners or self._watchers:
            # Renamed only for listeners: a replay routes every event to another venue name, and the hot
            # path (no listener in a replay) must not pay for a copy of each event.
            if self._listeners and name != event.venue:
                event = dataclasses.replace(event, venue=name)
            self._notify(event, self.book(name, event.symbol))
        return applied

    def reset(self, venue: str, symbol: str, *, ts: int | None = None) -> bool:
        """Back to ``syncing`` (a lost connection, a feed stopping); returns whether it was an event."""
        return self._lost(venue, symbol, "reset", ts)

    def gap(self, venue: str, symbol: str, *, ts: int | None = None) -> bool:
        """Unusable until the next snapshot (an update lost where the book could not see it: a dropped
        frame, an update-id chain the book's own rule does not check); returns whether it was an event."""
        return self._lost(venue, symbol, "gap", ts)

    def _lost(self, venue: str, symbol: str, kind: EventType, ts: int | None) -> bool:
        book = self.book(venue, symbol)
        if not book._synced or (kind == "gap" and book._gap):  # nothing to lose: not an event
            if kind == "reset":
                book.reset()  # still forget a half-built state
            return False
        at = self.now_ms if ts is None else ts
        self._lose(venue, symbol, kind, at)
        if self._listeners:
            self._notify(CaptureEvent(at, venue, symbol, kind, (), ()), book)
        else:
            self._notify_watchers(book)
        return True

    def _lose(self, venue: str, symbol: str, kind: str, ts: int) -> None:
        if ts > self.now_ms:  # noqa: PLR1730 - max() is a call, this is a compare
            self.now_ms = ts
        book = self.book(venue, symbol)
        if kind == "reset":
            book.reset()
        else:
            book.mark_gap()

    def snapshot(
        self,
        venue: str,
        symbol: str,
        bids: Levels,
        asks: Levels,
        *,
        ts: int,
        seq: int | None = None,
        exchange_ts: int | None = None,
    ) -> OrderBook:
        if self._listeners:
            bids, asks = _levels(bids), _levels(asks)
        book = self._snapshot(venue, symbol, bids, asks, ts, seq, exchange_ts)
        if self._listeners:
            self._notify(CaptureEvent(ts, venue, symbol, "snapshot", bids, asks,  # type: ignore[arg-type]  # with listeners, _levels made them tuples above
                                      exchange_ts, seq, None), book)
        else:
            self._notify_watchers(book)
        return book

    def delta(
        self,
        book: OrderBook,
        bids: Levels,
        asks: Levels,
        ts: int,
        seq: int | None = None,
        first_seq: int | None = None,
        exchange_ts: int | None = None,
    ) -> bool:
        """Apply an update to ``book``, one of this store's (:meth:`book`). Taken as the book, not by venue and
        symbol: ``DiffSync`` holds its own, and once a frame the lookup cost ~0.1 us."""
        if not self._listeners:  # the hot path (a live feed with nothing recording, the benchmark)
            if ts > self.now_ms:  # noqa: PLR1730 - max() is a call, this is a compare
                self.now_ms = ts
            applied = book.apply_delta(bids, asks, seq=seq, first_seq=first_seq, exchange_ts=exchange_ts,
                                       received_ts=ts)
            for watcher in self._watchers:
                watcher(book)
            return applied
        venue, symbol = book.venue, book.symbol
        b, a = _levels(bids), _levels(asks)  # listeners keep the event: no venue lists in it
        applied = self._delta(venue, symbol, b, a, ts, seq, first_seq, exchange_ts)
        self._notify(CaptureEvent(ts, venue, symbol, "delta", b, a, exchange_ts, seq, first_seq), book)
        return applied

    def _snapshot(self, venue: str, symbol: str, bids: Levels, asks: Levels,
                  ts: int, seq: int | None, exchange_ts: int | None) -> OrderBook:
        if ts > self.now_ms:  # noqa: PLR1730 - max() is a call, this is a compare
            self.now_ms = ts
        book = self.book(venue, symbol)
        book.apply_snapshot(bids, asks, seq=seq, exchange_ts=exchange_ts, received_ts=ts)
        return book

    def _delta(self, venue: str, symbol: str, bids: Levels, asks: Levels, ts: int,
               seq: int | None, first_seq: int | None, exchange_ts: int | None) -> bool:
        if ts > self.now_ms:  # noqa: PLR1730 - max() is a call, this is a compare
            self.now_ms = ts
        book = self.books.get((venue, symbol)) or self.book(venue, symbol)
        return book.apply_delta(bids, asks, seq=seq, first_seq=first_seq, exchange_ts=exchange_ts,
                                received_ts=ts)

    def _notify(self, event: CaptureEvent, book: OrderBook) -> None:
        for listener in self._listeners:
            listener(event, book)
        self._notify_watchers(book)

    def _notify_watchers(self, book: OrderBook) -> None:
        for watcher in self._watchers:
            watcher(book)
