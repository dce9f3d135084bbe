"""The normalized level-2 order book: one per (venue, symbol), the same for live feeds and replay.

Each side is a :class:`~arb.marketdata.book_side.BookSide` (see there for the data structure and why).
Detection reads :meth:`OrderBook.top_arrays`: preallocated float64 arrays of the top ``depth`` levels,
refreshed lazily (only when read after a change), so an update never copies the book; each float is the
double ``float()`` gives the venue's string (:func:`~arb.marketdata.tick_map.size_double`). Execution and
paper fills read :meth:`OrderBook.levels`: exact ``Decimal`` levels, spelled as the venue spelled them.
The book keeps every level the venue sent, not just ``depth``: a diff stream changes levels anywhere, and
a level outside the top today is inside it after the price moves.

Sequence rule (Binance ``U``/``u`` and Gate ``U``/``u`` alike, and CAPTURE.md): after a snapshot with id
``S``, a delta whose ``seq <= S`` is already contained and is dropped; a delta whose ``first_seq`` is
greater than the last applied ``seq + 1`` is a gap: the book turns ``gap`` and ignores deltas until the
next snapshot. Amounts are absolute, so overlapping deltas are harmless.

Built with Cython (``setup.py``), this file is compiled as it is with C types from ``book.pxd``.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from arb.domain.market import Side
from arb.marketdata.book_side import BookSide, Levels
from arb.marketdata.held_levels import HeldLevels

FloatArray = npt.NDArray[np.float64]
TopArrays = tuple[FloatArray, FloatArray, FloatArray, FloatArray]


class Health(enum.StrEnum):
    """Whether a book may be used. Only ``live`` books are fit for detection and execution."""

    SYNCING = "syncing"  # no snapshot yet (or resyncing after a reconnect)
    LIVE = "live"
    STALE = "stale"  # no update for longer than max_age_ms
    GAP = "gap"  # an update id was skipped: unusable until the next snapshot
    CROSSED = "crossed"  # own best bid >= own best ask: unusable


class OrderBook:
    """The normalized book of one (venue, symbol). Not thread-safe; owned by one event loop."""

    __slots__ = (
        "_arrays",
        "_dirty",
        "_exact",
        "_flat",
        "_gap",
        "_synced",
        "_views",
        "asks",
        "bids",
        "depth",
        "exchange_ts",
        "max_age_ms",
        "received_ts",
        "seq",
        "symbol",
        "updates",
        "venue",
    )

    def __init__(self, venue: str, symbol: str, *, depth: int = 20, max_age_ms: int = 10_000) -> None:
        if depth < 1:
            raise ValueError("depth must be >= 1")
        self.venue = venue
        self.symbol = symbol
        self.depth = depth
        self.max_age_ms = max_age_ms
        self.seq: int | None = None
        self.exchange_ts: int | None = None
        self.received_ts: int | None = None
        self.updates = 0
        # The window holds between half and twice this many of the best levels: every level entering or
        # leaving it shifts the better ones, and a rebuild (deletes drained it) is one numpy sort of the
        # side's ticks. With rebuilds that cheap a small window wins: on the Binance depth stream 128 (the
        # size while rebuilds sorted strings) cost ~0.4 us a frame more than 32-40 (bench_ingest).
        window = max(4 * depth, 32)
        self.bids = BookSide(ask=False, window_size=window)
        self.asks = BookSide(ask=True, window_size=window)
        self._synced = False
        self._gap = False
        self._dirty = True
        # ``levels`` as last built, per (bids?, n), until the book changes: a maker route reads the same
        # unchanged book several times between its updates (84% of the reads in a maker replay), and each
        # read builds two Decimals per level.
        self._exact: dict[tuple[bool, int | None], list[tuple[Decimal, Decimal]]] = {}
        self._arrays: FloatArray = np.zeros((4, depth), dtype=np.float64)
        self._views: TopArrays | None = None
        # The same memory as ``_arrays``, flat: the top view writes each float straight into it (compiled,
        # a C store; ``_arrays[row, i] = x`` would go through numpy's indexing).
        self._flat = self._arrays.data.cast("B").cast("d")

    # ----------------------------------------------------------------- updates

    def apply_snapshot(
        self,
        bids: Levels,
        asks: Levels,
        *,
        seq: int | None = None,
        exchange_ts: int | None = None,
        received_ts: int | None = None,
    ) -> None:
        """Replace the whole book. Clears ``gap`` and ``syncing``."""
        if self._exact:
            self._exact.clear()
        self.bids.clear()
        self.asks.clear()
        self.bids.apply(bids)
        self.asks.apply(asks)
        self.seq = seq
        self.exchange_ts = exchange_ts
        self.received_ts = received_ts
        self._synced = True
        self._gap = False
        self._dirty = True
        self.updates += 1

    def apply_delta(
        self,
        bids: Levels,
        asks: Levels,
        *,
        seq: int | None = None,
        first_seq: int | None = None,
        exchange_ts: int | None = None,
        received_ts: int | None = None,
    ) -> bool:
        """Apply changed levels (size zero removes). Returns whether the delta was applied.

        Not applied: before any snapshot or after a gap (the book stays unusable), an already contained
        update (``seq <= self.seq``), or a gap (``first_seq > self.seq + 1``), which marks the book ``gap``.
        """
        if not self._synced or self._gap:
            return False
        last = self.seq
        if last is not None and seq is not None:
            if seq <= last:
                return False
            if first_seq is not None and first_seq > last + 1:
                self._gap = True
                return False
        if self._exact:
            self._exact.clear()
        self.bids.apply(bids)
        self.asks.apply(asks)
        if seq is not None:
            self.seq = seq
        if exchange_ts is not None:
            self.exchange_ts = exchange_ts
        if received_ts is not None:
            self.received_ts = received_ts
        self._dirty = True
        self.updates += 1
        return True

    def mark_gap(self) -> None:
        """A feed saw a gap the book cannot see itself (dropped connection, failed resync)."""
        self._gap = True

    def reset(self) -> None:
        """Forget everything: back to ``syncing`` (on reconnect, before the new snapshot)."""
        self._exact.clear()
        self.bids.clear()
        self.asks.clear()
        self.seq = None
        self.exchange_ts = None
        self._synced = False
        self._gap = False
        self._dirty = True

    # ------------------------------------------------------------------- reads

    def health(self, now_ms: int) -> Health:
        """The book's health at ``now_ms`` (injected, so tests and replay control time)."""
        if self._gap:
            return Health.GAP
        if not self._synced:
            return Health.SYNCING
        bid, ask = self.bids.best_price(), self.asks.best_price()
        if bid is not None and ask is not None and bid >= ask:
            return Health.CROSSED
        if self.received_ts is not None and now_ms - self.received_ts > self.max_age_ms:
            return Health.STALE
        return Health.LIVE

    def usable(self, now_ms: int) -> bool:
        return self.health(now_ms) is Health.LIVE

    def best_bid(self) -> Decimal | None:
        price = self.bids.best_price()
        return None if price is None else Decimal(repr(price))

    def best_ask(self) -> Decimal | None:
        price = self.asks.best_price()
        return None if price is None else Decimal(repr(price))

    def levels(self, side: Side | str, n: int | None = None) -> list[tuple[Decimal, Decimal]]:
        """The best ``n`` levels (all when ``None``) of one book side, exact ``(price, size)`` Decimals.

        ``side`` names the book side: ``bids`` (also ``buy``/``bid``) or ``asks`` (``sell``/``ask``).
        A taker buy walks ``asks``.
        """
        bid = _is_bid(side)
        built = self._exact.get((bid, n))
        if built is None:
            built = self._exact[bid, n] = (self.bids if bid else self.asks).exact(n)
        return list(built)  # the caller's own list: the kept one stays as built

    def held(self, side: Side | str) -> HeldLevels:
        """Every level of one book side as held now, made exact ``(price, size)`` Decimals only when read
        (``held_levels.py``): what the run's end keeps of every book, to value the few it holds something in."""
        return (self.bids if _is_bid(side) else self.asks).held()

    def top_arrays(self, n: int | None = None) -> TopArrays:
        """``(bid_px, bid_sz, ask_px, ask_sz)`` of the best ``min(n, depth)`` levels, best first.

        Read-only views of preallocated buffers, refreshed only when the book changed since the last
        read: valid until the next update (copy to keep). Each side's pair is as long as that side has
        levels (up to ``n``), so an empty side gives empty arrays.
        """
        if self._dirty:
            self._refresh()
        views = self._views
        assert views is not None
        if n is None or n >= self.depth:
            return views
        return views[0][:n], views[1][:n], views[2][:n], views[3][:n]

    def _refresh(self) -> None:
        arr = self._arrays
        depth = self.depth
        bids, asks = self.bids, self.asks
        if bids.fixed and asks.fixed:  # the usual case: integer ticks
            nb = self._fill(bids, 0)
            na = self._fill(asks, 2 * depth)
        else:
            bpx, bsz = bids.top(depth)
            apx, asz = asks.top(depth)
            nb, na = len(bpx), len(apx)
            arr[0, :nb] = bpx
            arr[1, :nb] = bsz
            arr[2, :na] = apx
            arr[3, :na] = asz
        views = self._views
        if views is None or len(views[0]) != nb or len(views[2]) != na:
            views = (arr[0, :nb], arr[1, :nb], arr[2, :na], arr[3, :na])
            for view in views:
                view.flags.writeable = False
            self._views = views
        self._dirty = False

    def _fill(self, side: BookSide, at: int) -> int:
        """Write the best levels of a tick-mode ``side`` into the flat buffer: prices from index ``at``,
        sizes ``depth`` further on (:meth:`BookSide.fill_top`). Returns how many levels were written."""
        return side.fill_top(self._flat, at, at + self.depth, self.depth)

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.venue!r}, {self.symbol!r}, seq={self.seq}, bids={len(self.bids)}, "
            f"asks={len(self.asks)}, best={self.best_bid()}/{self.best_ask()})"
        )


def _is_bid(side: Side | str) -> bool:
    """Whether ``side`` names the bids (``bids``, ``bid``, ``buy``) rather than the asks (``asks``, ``ask``, ``sell``)."""
    if side in ("bids", "bid", Side.BUY):
        return True
    if side in ("asks", "ask", Side.SELL):
        return False
    raise ValueError(f"unknown book side {side!r}")
