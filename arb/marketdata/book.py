"""The normalized level-2 order book: one per (venue, symbol), the same for live feeds and replay.

Each side is a :class:`~arb.marketdata.book_side.BookSide` (see there for the data structure and why).
Detection reads :meth:`OrderBook.top_arrays`: preallocated float64 arrays of the top ``depth`` levels,
refreshed lazily (only when read after a change), so an update never copies the book; each float is the
double ``float()`` gives the venue's string (:func:`decimal_float`). Execution and
paper fills read :meth:`OrderBook.levels`: exact ``Decimal`` levels rebuilt from the venue's strings.
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
from collections.abc import Iterable
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from arb.domain.market import Side
from arb.marketdata.book_side import COMPILED, BookSide, LevelIn

FloatArray = npt.NDArray[np.float64]
TopArrays = tuple[FloatArray, FloatArray, FloatArray, FloatArray]

_MEMO_MAX = 1 << 16  # distinct price/size strings remembered for the top view (~5 MB at most)


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
        "_flat",
        "_gap",
        "_memo",
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
        window = max(4 * depth, 128)
        self.bids = BookSide(ask=False, window_size=window)
        self.asks = BookSide(ask=True, window_size=window)
        self._synced = False
        self._gap = False
        self._dirty = True
        self._arrays: FloatArray = np.zeros((4, depth), dtype=np.float64)
        self._views: TopArrays | None = None
        # Interpreted only (see ``_fill``): ``float(text)`` remembered per string (a pure function, so never
        # stale; cleared when it grows).
        self._memo: dict[str, float] = {}
        # The same memory as ``_arrays``, flat: the top view writes each float straight into it (compiled,
        # a C store; ``_arrays[row, i] = x`` would go through numpy's indexing).
        self._flat = self._arrays.data.cast("B").cast("d")

    # ----------------------------------------------------------------- updates

    def apply_snapshot(
        self,
        bids: Iterable[LevelIn],
        asks: Iterable[LevelIn],
        *,
        seq: int | None = None,
        exchange_ts: int | None = None,
        received_ts: int | None = None,
    ) -> None:
        """Replace the whole book. Clears ``gap`` and ``syncing``."""
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
        bids: Iterable[LevelIn],
        asks: Iterable[LevelIn],
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
        if side in ("bids", "bid", Side.BUY):
            return self.bids.exact(n)
        if side in ("asks", "ask", Side.SELL):
            return self.asks.exact(n)
        raise ValueError(f"unknown book side {side!r}")

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
        if bids.fixed and asks.fixed:  # the usual case: exact price strings
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
        """Write the best levels of a fixed-mode ``side`` into the flat buffer: prices from index ``at``,
        sizes ``depth`` further on. Returns how many levels were written.

        Compiled, each string is read by :func:`decimal_float` in C (~15 ns). Interpreted, through the memo:
        ``float()`` costs ~180 ns, a memo hit a dict lookup, and only a few strings per frame are new
        (prices recur, sizes change a few at a time)."""
        if COMPILED and not side.odd and self.depth <= side.window_size:
            return self._fill_window(side, at)
        keys = side.top_keys(self.depth)
        levels, memo, flat = side.levels, self._memo, self._flat
        sizes_at = at + self.depth
        n = len(keys)
        for i in range(n):
            price = keys[i]
            size = levels.get(price)
            if size is None:  # an off-length level in the top: it lives outside ``levels``
                size = side.odd[price]
            if COMPILED:
                flat[at + i] = decimal_float(price)
                flat[sizes_at + i] = decimal_float(size)
                continue
            value = memo.get(price)
            if value is None:
                value = self._parse(price)
            flat[at + i] = value
            value = memo.get(size)
            if value is None:
                value = self._parse(size)
            flat[sizes_at + i] = value
        return n

    def _fill_window(self, side: BookSide, at: int) -> int:
        """:meth:`_fill` straight from the side's window (compiled, fixed mode, no odd level): each price is
        its integer tick over ``10**decimals``, the very division :func:`decimal_float` makes of its string
        (a fixed-mode price has at most 15 digits), and no list of keys is built."""
        n = side.held_top(self.depth)
        window, ticks, levels, flat = side.window, side.ticks, side.levels, self._flat
        top = len(window) - 1  # both sides' ticks hold the best last (asks negated)
        sizes_at = at + self.depth
        scale = 1.0
        for _decimal in range(-side.dpos - 1):  # 10**decimals by exact steps, as decimal_float does
            scale *= 10.0
        if side.ask:
            for i in range(n):
                flat[at + i] = -ticks[top - i] / scale
                flat[sizes_at + i] = decimal_float(levels[window[i]])
        else:
            for i in range(n):
                flat[at + i] = ticks[top - i] / scale
                flat[sizes_at + i] = decimal_float(levels[window[top - i]])
        return n

    def _parse(self, text: str) -> float:
        """``float(text)``, remembered."""
        memo = self._memo
        if len(memo) > _MEMO_MAX:
            memo.clear()
        value = memo[text] = float(text)
        return value

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.venue!r}, {self.symbol!r}, seq={self.seq}, bids={len(self.bids)}, "
            f"asks={len(self.asks)}, best={self.best_bid()}/{self.best_ask()})"
        )



def decimal_float(text: str) -> float:
    """``float(text)`` of a plain decimal string: the same double, read digit by digit (fast compiled).

    A decimal with at most 15 significant digits and 22 decimals is ``mantissa / 10**decimals`` with both
    exact as doubles, and IEEE division rounds that quotient correctly, which is what ``float()`` returns
    (Clinger's fast path). Anything else (more digits, an exponent, a sign, no digit) goes to ``float()``.
    """
    mantissa = 0
    significant = 0  # digits from the first nonzero one on
    digits = 0
    decimals = -1  # digits after the point; -1: no point yet
    for char in text:
        if "0" <= char <= "9":
            if mantissa or char != "0":
                significant += 1
                if significant > 15:
                    return float(text)
            mantissa = mantissa * 10 + (ord(char) - 48)
            digits += 1
            if decimals >= 0:
                decimals += 1
        elif char == "." and decimals < 0:
            decimals = 0
        else:
            return float(text)
    if not digits or decimals > 22:
        return float(text)
    scale = 1.0
    for _ in range(decimals):  # 10**k by exact steps: every 10**k up to 10**22 is a double
        scale *= 10.0
    return mantissa / scale
