"""One side of a normalized book: the data structure, chosen by measurement (``bench/bench_ingest.py``).

On the real Binance BTC/USDT diff stream 40% of levels are new, 39% delete an existing level, 12% change
a size and 9% delete a level we do not have; 19% of them land in the top 10, 57% in the top 128. So the
structure must make *inserts and deletes near the top* cheap, not just size updates.

Two key representations, because ``float(price)`` (~170 ns) and hashing the price string cost more than
everything else per level:

- **ticks** (the usual case): every price of the side is a plain decimal with the same number of
  decimals (Binance always sends 8: ``"61737.63000000"``, and ``"200000.00000000"`` for its far ask).
  Such a price is exactly its digits read as one integer, its *tick* (``6173763000000``): equal number
  <=> equal tick, and ticks order as the prices do. The price is read once, in one pass over its
  characters that also checks its format (:func:`_tick`), and nothing keyed by the string is kept:

  - ``table``: every level we hold, ``tick -> size``, the size as its exact integer
    (:func:`~arb.marketdata.tick_map.exact_size`: its digits and decimals, read in the same kind of pass)
    (:class:`~arb.marketdata.tick_map.TickMap`: a C hash table compiled, a ``dict`` interpreted);
  - ``ticks[:wlen]``: the *window*, the best levels only (between half and twice ``window_size``), as
    sort keys ascending with the best last: the tick on the bid side, minus the tick on the ask side. A
    change near the top moves only the few keys above it. Levels worse than the window's edge live in
    the table alone; when deletes drain the window it is rebuilt from the table by one scan that keeps
    the best keys (:meth:`~arb.marketdata.tick_map.TickMap.best_into`).

  A price is shown as the venue spelled it (:meth:`BookSide._text`: the digits with the point put back):
  the format admits one spelling per number (no padding), so ``Decimal`` of it is the venue's exactly.
- **float** (fallback): the first price that breaks the format (other decimals, no point, a padded
  spelling) turns the side into float keys until the next snapshot; a batch whose prices have several
  decimals (a capture recorded through ccxt, whose prices are floats' shortest spellings) from its first
  level. A key is made from the price's digits where they fit a tick (:func:`_float_of`). Two decimal strings with at most 15
  significant digits are the same double iff they are the same number (``DBL_DIG``), so ``"27.1"`` and
  ``"27.10"`` are one level and ``repr(key)`` gives the price back; a price with more digits is refused,
  never merged. Asks are keyed by ``-price``, so both windows have their best last.

Sizes are exact: in tick mode the table's integers spell each size back as the venue sent it (exact
``Decimal`` for execution), in float mode they stay strings; floats are made only for the top view
(:meth:`~arb.marketdata.tick_map.TickMap.size_float`). A size is zero when it has no digit but ``0``
(its exact integer's digits are 0; :func:`_nonzero` for a size no integer spells).

When the package is built with Cython (``setup.py``), this file is compiled as it is, with C types from
``book_side.pxd`` (keep its slot and method declarations in step); without Cython it runs as Python.

One module past ~400 lines on purpose: it is one data structure, the class and the per-level helpers its
apply loop calls (``_tick``, ``_nonzero``, inlined when compiled), and one Cython unit, where its methods
call each other and those helpers as C functions; split across modules, each of those calls would go back
through Python.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from arb.marketdata.held_levels import HeldLevels
from arb.marketdata.tick_map import TickMap, exact_size, pow10

try:  # Cython compiles this module when it can (setup.py); ``cython.compiled`` is then true.
    import cython
except ImportError:  # not installed: the module runs as plain Python
    COMPILED = False
else:
    COMPILED = cython.compiled

LevelIn = Sequence[str]
"""A level as received: ``(price, size)`` decimal strings (a list from JSON or a tuple from a capture)."""

Levels = Iterable[LevelIn] | list[str]
"""A side's changes: levels (:data:`LevelIn`), or, as ``depth_scan`` reads a depth frame, one flat list of the
strings, each level's price then its size (``["61685.99", "0.5", "61685.98", "0"]``): a pair made and freed
for every level cost ~1 µs of a 36-level Binance frame (``bench/bench_ingest.py``). :func:`as_pairs` pairs
one up where a path needs pairs; the tick loop reads it as it is."""

Key = Any
"""A window key: ``tick`` (bids) or ``-tick`` (asks) in tick mode, ``price`` (``-price``) in float mode."""

MAX_PRICE_CHARS = 16  # a tick-mode price: at most 15 digits and the point, so its tick fits a C int64

# The same as C values when compiled (``book_side.pxd``): read on every level.
_compiled = COMPILED

_NEG_INF = float("-inf")
_ALL = ""  # float-mode edge meaning "the window holds every level"
_SHUT_FLOAT = float("inf")  # no float key (bids: price, asks: -price) is >= it
_SHUT = 1 << 62  # no tick-mode key is >= it: a shut window (see ``_shut``); a tick is below 10**16
_ONE = 64  # the least exact size of a nonzero size (``tick_map.exact_size``: 1 << its _SIZE_BITS)


class BookSide:
    """Bids (``ask=False``) or asks (``ask=True``) of one book."""

    __slots__ = (
        "ask",
        "complete",
        "decimals",
        "edge",
        "fixed",
        "levels",
        "table",
        "tedge",
        "ticks",
        "window",
        "window_size",
        "wlen",
    )

    def __init__(self, *, ask: bool, window_size: int = 256) -> None:
        self.ask = ask
        self.window_size = window_size
        self.fixed = True  # tick mode (False: float mode)
        self.decimals = -1  # tick mode: every price has this many decimals (-1: not known yet)
        self.table = TickMap()
        self.ticks = _tick_buffer(4 * window_size + 2)
        self.wlen = 0
        self.complete = True  # the window holds every level ...
        self.tedge = 0  # ... else every level whose key is >= this one (the worst in the window)
        # Float mode: every level (float key -> size), the window's keys and its edge (or ``_ALL``).
        self.levels: dict[float, str] = {}
        self.window: list[float] = []
        self.edge: Any = _ALL

    def clear(self) -> None:
        """Empty the side and forget its price format (a snapshot may bring another)."""
        self.fixed = True
        self.decimals = -1
        self.table.clear()
        self.wlen = 0
        self.complete = True
        self.levels = {}
        self.window = []
        self.edge = _ALL

    def __len__(self) -> int:
        return len(self.table) if self.fixed else len(self.levels)

    # ----------------------------------------------------------------- updates

    def apply(self, changes: Levels) -> None:
        """Apply ``(price, size)`` changes: size zero removes the level, anything else replaces it.

        A batch that brings more than ``4 * window_size`` levels into the window (a deep snapshot) shuts it
        (``_shut``) and the window is rebuilt at the end (``_rebuild``): O(n log n) at most, where inserting
        every level into an ever longer sorted list costs O(n^2) (a 600k-level snapshot: 37 s of blocked
        event loop, instead of well under one).
        """
        if not self.fixed:
            self._apply_float(as_pairs(changes))
            return
        batch: list[Any] = changes if type(changes) is list else list(changes)
        if not batch:
            return
        if self.decimals < 0:  # first price of an empty side: learn the format
            batch = cast("list[Any]", as_pairs(batch))
            self.decimals = _decimals(batch[0][0])
            # A batch whose prices have other decimals than its first (a capture recorded through ccxt: its
            # prices are floats' shortest spellings, "27.1" beside "27.101") takes float keys at once: the tick
            # loop would apply the levels before the first other one, and _to_float spell them back as texts.
            if self.decimals < 0 or not _one_format(batch, self.decimals):
                self._to_float()
                self._apply_float(batch)
                return
        start = self._apply_ticks(batch)
        if start >= 0:  # batch[start] is not of the format: float keys from here on
            self._to_float()
            self._apply_float(as_pairs(batch[start:]))
            return
        n = self.wlen  # the resize test inline: it rarely fires and a call costs ~100 ns per side
        if n > 2 * self.window_size or (n < self.window_size // 2 and not self.complete):
            self._resize()

    def _apply_ticks(self, batch: list[Any]) -> int:
        """The tick-mode loop. Per level: one pass over the price (format and tick), the zero test, one
        map operation (which tells a new level from a size change), and a window insert or delete only
        for a new or removed level at or above the window's edge. Returns the index of the first level
        whose price is not of the format (nothing from it on applied), or -1. ``batch``: pairs, or one flat list
        (:data:`Levels`), whose returned index is then that level's price."""
        table = self.table
        decimals = self.decimals
        sign = -1 if self.ask else 1
        complete, edge = self.complete, self.tedge
        limit = 4 * self.window_size
        n = len(batch)
        flat = type(batch[0]) is str  # batch is not empty (apply)
        at = 0
        while at < n:
            if flat:
                price, size = batch[at], batch[at + 1]
            else:
                level = batch[at]
                price, size = level[0], level[1]
            tick = _tick(price, decimals)
            if tick < 0:
                return at
            key = sign * tick
            exact = exact_size(size) if _compiled else -1  # interpreted, the table keeps texts (tick_map)
            if exact >= _ONE or (exact < 0 and _nonzero(size)):  # held as text when no integer spells it
                if table.put_exact(tick, exact, size) and (complete or key >= edge):
                    self._insert(key)
                    if self.wlen > limit:
                        self._shut()
                        complete, edge = False, _SHUT
            elif table.remove(tick) and (complete or key >= edge):
                self._remove(key)
            at += 2 if flat else 1
        return -1

    def _insert(self, key: int) -> None:
        """Put a key that is not in the window at its place."""
        n = self.wlen
        if n >= len(self.ticks):
            self._grow(2 * n + 2)
        if _compiled:
            # From the top down, moving each better key up one, as insertion sort does: the keys better than
            # a new level are few (it is near the top), and one pass both finds its place and makes room,
            # where a binary search and then a move of the same keys cost ~30 ns more a level.
            # ``self.ticks`` indexed in place: a local memoryview would be acquired and released per call.
            with cython.boundscheck(False), cython.wraparound(False):  # 0 <= j <= n < len(ticks), checked above
                j = n
                while j > 0 and self.ticks[j - 1] > key:
                    self.ticks[j] = self.ticks[j - 1]
                    j -= 1
                self.ticks[j] = key
        else:  # interpreted, C bisect and slice moves over the buffer beat a Python loop
            at = bisect_left(self.ticks, key, 0, n)
            self.ticks[at + 1 : n + 1] = self.ticks[at:n]
            self.ticks[at] = key
        self.wlen = n + 1

    def _remove(self, key: int) -> None:
        """Take a key that is in the window out of it."""
        n = self.wlen
        if _compiled:
            # From the top down to the key, moving each better key down one (see ``_insert``).
            with cython.boundscheck(False), cython.wraparound(False):  # 0 <= j < n <= len(ticks)
                j = n - 1
                above = self.ticks[j]
                while above != key:
                    if j == 0:
                        raise AssertionError(f"window key {key} is not in the window")
                    j -= 1
                    below = self.ticks[j]
                    self.ticks[j] = above
                    above = below
        else:
            at = bisect_left(self.ticks, key, 0, n)
            self.ticks[at : n - 1] = self.ticks[at + 1 : n]
        self.wlen = n - 1

    def _shut(self) -> None:
        """The batch being applied has overfilled the window: no level enters or leaves it until the batch
        ends, when ``apply`` finds it empty and not complete and rebuilds it from the table (``_rebuild``)."""
        self.wlen = 0
        self.complete = False
        self.tedge = _SHUT

    def _resize(self) -> None:
        """Keep the window between half and twice ``window_size`` levels (when the book has them)."""
        n, size = self.wlen, self.window_size
        if n > 2 * size:
            drop = n - size  # the worst levels, at the front
            for i in range(size):
                self.ticks[i] = self.ticks[drop + i]
            self.wlen = size
            self.complete = False
            self.tedge = self.ticks[0]
        elif n < size // 2 and not self.complete:
            self._rebuild()

    def _rebuild(self) -> None:
        """The window from the table: its best ``window_size`` keys, picked in one scan of the table
        (:meth:`TickMap.best_into`) straight into the window's buffer."""
        size = self.window_size
        if size > len(self.ticks):
            self.ticks = _tick_buffer(2 * size + 2)
        n = self.table.best_into(self.ticks, size, self.ask)
        self.wlen = n
        self.complete = n == len(self.table)
        if not self.complete:
            self.tedge = self.ticks[0]

    def _sorted_keys(self) -> npt.NDArray[np.int64]:
        """Every level's window key, ascending, sorted by numpy in C (as Python ints of 13 digits each compare
        is a call): for a read deeper than the window."""
        keys = np.empty(len(self.table), dtype=np.int64)
        self.table.keys_into(keys)
        if self.ask:
            np.negative(keys, out=keys)
        keys.sort()
        return keys

    def _grow(self, n: int) -> None:
        """A window buffer of ``n`` keys, the held ones copied."""
        grown = _tick_buffer(n)
        for i in range(self.wlen):
            grown[i] = self.ticks[i]
        self.ticks = grown

    def _to_float(self) -> None:
        shut = not self.complete and self.tedge == _SHUT
        sign = -1.0 if self.ask else 1.0
        scale = pow10(self.decimals)
        # A tick has at most 15 digits: tick / 10**decimals is the double float() makes of its price.
        levels: dict[float, str] = {sign * (tick / scale): size for tick, size in self.table.items()}
        self.levels = levels
        self.table.clear()
        self.wlen = 0
        self.fixed = False
        if shut:  # in the middle of a large batch: stay shut, the batch's end rebuilds the window
            self.window, self.edge = [], _SHUT_FLOAT
        else:
            self._rebuild_float()

    def _apply_float(self, changes: Iterable[LevelIn]) -> None:
        levels: dict[float, str] = self.levels
        window: list[float] = self.window
        edge = self.edge
        floor = _NEG_INF if edge is _ALL else edge
        sign = -1.0 if self.ask else 1.0
        limit = 4 * self.window_size
        for price, size in changes:
            key = sign * _float_of(price)
            if size.lstrip("0."):
                if key not in levels:
                    if len(price) > MAX_PRICE_CHARS:
                        check_precision(price)
                    if key >= floor:
                        insort(window, key)
                        if len(window) > limit:
                            self.window, self.edge = window, floor = [], _SHUT_FLOAT
                levels[key] = size
            elif levels.pop(key, None) is not None and key >= floor:
                del window[bisect_left(window, key)]
        self._resize_float()

    def _resize_float(self) -> None:
        window, size = self.window, self.window_size
        n = len(window)
        if n > 2 * size:
            del window[: n - size]
            self.edge = window[0]
        elif n < size // 2 and self.edge is not _ALL:
            self._rebuild_float()

    def _rebuild_float(self) -> None:
        keys: list[float] = sorted(self.levels)
        size = self.window_size
        if len(keys) <= size:
            self.window, self.edge = keys, _ALL
        else:
            self.window = keys[-size:]
            self.edge = self.window[0]

    # ------------------------------------------------------------------- reads

    def held_top(self, n: int) -> int:
        """How many of the best ``n`` levels (``n <= window_size``) the window holds, after refilling it if
        deletes drained it (tick mode)."""
        if n > self.wlen and not self.complete:
            self._rebuild()
        return min(n, self.wlen)

    def _best_keys(self, n: int) -> list[Key]:
        """The best ``n`` window keys (float keys in float mode), best first."""
        if not self.fixed:
            window = self.window
            if n > len(window) and self.edge is not _ALL:
                window = sorted(self.levels) if n > self.window_size else self._refilled_float()
            return window[: -n - 1 : -1]
        if n > self.wlen and not self.complete:
            if n > self.window_size:  # a deep read (execution walking the book): sort, keep the window
                return self._sorted_keys()[: -n - 1 : -1].tolist()
            self._rebuild()
        top = self.wlen - 1
        return [self.ticks[top - i] for i in range(min(n, self.wlen))]

    def _refilled_float(self) -> list[float]:
        self._rebuild_float()
        return self.window

    def fill_top(self, flat: Any, at: int, sizes_at: int, depth: int) -> int:
        """Write the best ``depth`` levels of a tick-mode side as doubles: prices into ``flat`` from index
        ``at``, sizes from ``sizes_at``. Returns how many levels were written (the top view,
        ``OrderBook.top_arrays``).

        Each price is its tick over ``10**decimals``, the very division ``float()`` makes of its string
        (at most 15 digits: Clinger's fast path, see :func:`~arb.marketdata.tick_map.size_double`); each
        size is the table's (:meth:`TickMap.size_float`: its exact integer's digits over a power of ten,
        the same division). Nothing is built per
        level."""
        table = self.table
        scale = pow10(self.decimals)
        if depth > self.window_size:  # deeper than the window keeps: the keys, sorted
            keys = self._best_keys(depth)
            n = len(keys)
            for i in range(n):
                tick = -keys[i] if self.ask else keys[i]
                flat[at + i] = tick / scale
                flat[sizes_at + i] = table.size_float(tick)
            return n
        n = self.held_top(depth)
        top = self.wlen - 1
        for i in range(n):
            tick = -self.ticks[top - i] if self.ask else self.ticks[top - i]
            flat[at + i] = tick / scale
            flat[sizes_at + i] = table.size_float(tick)
        return n

    def top(self, n: int) -> tuple[list[float], list[float]]:
        """Prices and sizes of the best ``n`` levels as floats, best first (the detection view)."""
        keys = self._best_keys(n)
        if self.fixed:
            sign = -1 if self.ask else 1
            scale = pow10(self.decimals)
            table = self.table
            return [sign * k / scale for k in keys], [table.size_float(sign * k) for k in keys]
        levels = self.levels
        sizes = [_float_of(levels[k]) for k in keys]
        return (list(map(float.__neg__, keys)) if self.ask else keys), sizes

    def best_price(self) -> float | None:
        keys = self._best_keys(1)
        if not keys:
            return None
        best: float = keys[0] / pow10(self.decimals) if self.fixed else keys[0]
        return -best if self.ask else best

    def exact(self, n: int | None) -> list[tuple[Decimal, Decimal]]:
        """The best ``n`` levels (all when ``None``) as exact ``(price, size)`` Decimals."""
        return list(self.held(n))

    def held(self, n: int | None = None) -> HeldLevels:
        """The best ``n`` levels (all when ``None``) as held now, made exact when read (``held_levels.py``)."""
        keys = self._best_keys(len(self) if n is None else n)
        if self.fixed:
            table = self.table
            if self.ask:  # an ask's key is its tick negated (the window is kept in ascending key order)
                ticks = [-k for k in keys]
                return HeldLevels(ticks, [table.held(t) for t in ticks], self.decimals)
            return HeldLevels(keys, [table.held(k) for k in keys], self.decimals)
        levels = self.levels
        return HeldLevels([-k for k in keys] if self.ask else keys, [levels[k] for k in keys], -1)


def _decimals(price: str) -> int:
    """The decimals of a price that can start a tick-mode side (a plain decimal with a point, at most 15
    digits, not padded: a leading ``0`` only before the point), else -1."""
    decimals = _places(price)
    return decimals if _tick(price, decimals) >= 0 else -1


def _places(text: str) -> int:
    """The characters after a decimal text's last point: its decimals (no point: its length, which ``_tick``
    refuses as the decimals of any text)."""
    return len(text) - text.rfind(".") - 1


def as_pairs(levels: Levels) -> Iterable[LevelIn]:
    """``levels`` as ``(price, size)`` pairs: a flat list (:data:`Levels`) paired up, anything else as it is."""
    if type(levels) is list and levels and type(levels[0]) is str:
        return list(zip(levels[::2], levels[1::2], strict=True))
    return levels  # pairs: a flat list is the only list of strings


def _one_format(batch: list[LevelIn], decimals: int) -> bool:
    """Whether every price of ``batch`` has ``decimals`` decimals (:func:`_places`). Only a first
    look: a price that passes can still break the format (the tick loop reads each one), and one that fails
    would break it (its point is not where ``decimals`` puts it)."""
    for level in batch:
        price = level[0]
        if _places(price) != decimals:
            return False
    return True


def _float_of(text: str) -> float:
    """``float(text)``, for a plain decimal of at most 15 digits (every price a book keys, most sizes) worked out
    from its digits: its tick over a power of ten, two doubles each exact (below 2**53, at most 10**15) and one
    correctly rounded division, so the very double CPython's correctly rounded parser makes. That parser (~390
    instructions a text, callgrind) sets the x87 control word around every call: 6% of books and detection's
    time on the bundled capture, whose books take float keys. Any other spelling (no point, padded, longer):
    float()."""
    if not _compiled:
        return float(text)
    decimals = _places(text)
    tick = _tick(text, decimals)
    if tick < 0:
        return float(text)
    return tick / pow10(decimals)


def _tick(price: str, decimals: int) -> int:
    """A price's tick when it has the side's format (``decimals`` decimals, at most 15 digits, no padding),
    else -1. One pass, compiled over the string's ASCII buffer (names from book_side.pxd)."""
    n = len(price)
    point = n - decimals - 1
    if point < 1 or n > MAX_PRICE_CHARS:
        return -1
    if not _compiled:
        digits = price[:point] + price[point + 1 :]
        if price[point] != "." or (price[0] == "0" and point != 1) or not (digits.isascii() and digits.isdigit()):
            return -1
        return int(digits)
    if not PyUnicode_IS_ASCII(price):  # type: ignore[name-defined]  # noqa: F821 - book_side.pxd's, from Python.h: compiled only
        return -1
    data = PyUnicode_1BYTE_DATA(price)  # type: ignore[name-defined]  # noqa: F821 - book_side.pxd's, from Python.h: compiled only
    if data[point] != 46 or (data[0] == 48 and point != 1):  # "." where the format has it; "0" unpadded
        return -1
    # The digits before the point and after it as two integers: two chains of multiply-adds the CPU runs side
    # by side, where one through every digit waited on each multiply in turn (~4 ns a level less).
    whole = 0
    for i in range(point):
        digit = data[i] - 48
        if digit > 9:  # unsigned: below "0" wraps above 9
            return -1
        whole = whole * 10 + digit
    fraction = 0
    scale = 1
    for i in range(point + 1, n):
        digit = data[i] - 48
        if digit > 9:
            return -1
        fraction = fraction * 10 + digit
        scale *= 10
    return whole * scale + fraction


def _nonzero(size: str) -> bool:
    """Whether a size (a plain decimal) is not zero: it has a digit other than ``0``."""
    if not _compiled or not PyUnicode_IS_ASCII(size):  # type: ignore[name-defined]  # noqa: F821 - book_side.pxd's, from Python.h: compiled only
        return bool(size.lstrip("0."))
    data = PyUnicode_1BYTE_DATA(size)  # type: ignore[name-defined]  # noqa: F821 - book_side.pxd's, from Python.h: compiled only
    for i in range(len(size)):
        if data[i] != 48 and data[i] != 46:
            return True
    return False


def _tick_buffer(n: int) -> array[int]:
    """Room for ``n`` window keys (64-bit: a tick-mode price has at most 15 digits)."""
    return array("q", bytes(8 * n))


def check_precision(price: str) -> None:
    """Refuse prices a double cannot tell apart from their neighbours (more than 15 significant digits)."""
    if len(price.replace(".", "").strip("0")) > 15:
        raise ValueError(f"price {price!r} has more than 15 significant digits; the book cannot key it")
