"""One side of a normalized book: the data structure, chosen by measurement (``bench/bench_ingest.py``).

On the real Binance BTC/USDT diff stream 40% of levels are new, 39% delete an existing level, 12% change
a size and 9% delete a level we do not have; 19% of them land in the top 10, 57% in the top 128. So the
structure must make *inserts and deletes near the top* cheap, not just size updates:

- ``levels``: a ``dict`` from the price key to the size string as the venue sent it: every level we hold.
- ``window``: a plain ``list`` of the keys of the best levels only (between ``window_size`` and twice
  that), kept sorted. Levels worse than the window edge live in the dict alone; when deletes drain the
  window it is rebuilt from the dict by one sort. Compiled (``setup.py``), fixed-mode windows are searched
  through ``ticks``, the same prices as C integers (a binary search over strings spent ~100 ns per insert
  or delete comparing them); interpreted, :func:`bisect.insort` over the strings is the faster way.

Two key representations, because ``float(price)`` (~170 ns) cost more than everything else per level:

- **fixed** (the usual case): every price of the side is a decimal string of the same length with the
  point at the same place (Binance always sends 8 decimals: ``"61737.63000000"``). Such strings are
  exact keys as they come (equal number <=> equal string) and compare like the numbers they spell, so
  the raw string is the dict key and the sort key: no conversion at all on the hot path. Both windows
  ascend by price: bids' best is last, asks' best is first (a front insert moves at most a few KB).
- **float** (fallback): the first price that breaks the format (another length, another number of
  decimals, no point) turns the side into float keys until the next snapshot. Two decimal strings with
  at most 15 significant digits are the same double iff they are the same number (``DBL_DIG``), so
  ``"27.1"`` and ``"27.10"`` are one level and ``repr(key)`` gives the price back; a price with more
  digits is refused, never merged. Asks are keyed by ``-price``, so both windows have their best last.

The format is only checked for a new price: a held one has the format. Sizes stay strings (exact
``Decimal`` for execution); floats are made only for the top view. A zero size is told by its shape, not
parsed (see :func:`_zero_shape`).

When the package is built with Cython (``setup.py``), this file is compiled as it is, with C types from
``book_side.pxd`` (keep its slot and method declarations in step); without Cython it runs as Python.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from decimal import Decimal
from itertools import chain
from typing import Any

try:  # Cython compiles this module when it can (setup.py); ``cython.compiled`` is then true.
    import cython  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # not installed: the module runs as plain Python
    COMPILED = False
else:
    COMPILED = cython.compiled

LevelIn = Sequence[str]
"""A level as received: ``(price, size)`` decimal strings (a list from JSON or a tuple from a capture)."""

Key = Any
"""A price key: the price string in fixed mode, ``float`` (``-price`` for asks) in float mode."""

_NEG_INF = float("-inf")
_ALL = ""  # fixed-mode bid floor / ask ceiling meaning "the window holds every level"
# Edges no price passes: a batch that would overfill the window shuts it (see ``_shut``).
_SHUT_BIDS = "\x7f"  # above every digit string: no fixed-mode bid is >= it
_SHUT_ASKS = "\x00"  # below every digit string: no fixed-mode ask is <= it
_SHUT_FLOAT = float("inf")  # no float key (bids: price, asks: -price) is >= it


class BookSide:
    """Bids (``ask=False``) or asks (``ask=True``) of one book."""

    __slots__ = (
        "ask",
        "dpos",
        "edge",
        "fixed",
        "lead0",
        "levels",
        "odd",
        "odd_better",
        "odd_worse",
        "plen",
        "ticks",
        "window",
        "window_size",
        "zero",
        "zlen",
        "zpoint",
    )

    def __init__(self, *, ask: bool, window_size: int = 256) -> None:
        self.ask = ask
        self.window_size = window_size
        self.levels: dict[Key, str] = {}
        self.window: list[Key] = []
        # Compiled, fixed mode: the window's prices as integers (the digits without the point), so its
        # binary searches compare C integers instead of strings (see ``_retick``).
        self.ticks = _tick_buffer(4 * window_size + 2)
        # The worst key in the window (bids: lowest price; asks: highest), or "all levels are in it".
        self.edge: Key = _ALL
        self.fixed = True
        self.plen = 0  # fixed mode: every price has this length (0: not known yet) ...
        self.dpos = 0  # ... and its point at this (negative) index
        self.lead0 = False  # ... and a leading "0" only when the integer part is one digit
        # The last zero size seen, and its shape (see ``_zero_shape``): most sizes are told zero or not
        # without a strip().
        self.zero, self.zlen, self.zpoint = _zero_shape("0")
        # Fixed mode: levels of the same decimals but another length (Binance's far ask at 200000.00000000
        # among 61737.63000000). They are outside ``levels``, so a hit there always has the main length.
        self.odd: dict[str, str] = {}
        self.odd_better: list[str] = []  # odd prices better than every main one, best first
        self.odd_worse: list[str] = []  # odd prices worse than every main one, best first

    def clear(self) -> None:
        """Empty the side and forget its price format (a snapshot may bring another)."""
        self.levels = {}
        self.window = []
        self.edge = _ALL
        self.fixed = True
        self.plen = 0
        self.odd = {}
        self.odd_better = []
        self.odd_worse = []

    def __len__(self) -> int:
        return len(self.levels) + len(self.odd)

    # ----------------------------------------------------------------- updates

    def apply(self, changes: Iterable[LevelIn]) -> None:
        """Apply ``(price, size)`` changes: size zero removes the level, anything else replaces it.

        A batch that brings more than ``4 * window_size`` levels into the window (a deep snapshot) shuts it
        (``_shut``) and the window is rebuilt by one sort at the end: O(n log n) in all, where inserting
        every level into an ever longer sorted list costs O(n^2) (a 600k-level snapshot: 37 s of blocked
        event loop, instead of well under one).
        """
        if not self.fixed:
            self._apply_float(changes)
            return
        batch = changes if type(changes) is list else list(changes)
        if not batch:
            return
        if not self.plen:  # first price of an empty side: learn the format
            price = batch[0][0]
            point = price.rfind(".")
            if (
                point <= 0
                or len(price) > 16
                or not price.replace(".", "", 1).isdigit()
                or (price[0] == "0" and point > 1)
            ):
                self._to_float()
                self._apply_float(batch)
                return
            self.plen, self.dpos, self.lead0 = len(price), point - len(price), point == 1
        if self.ask:
            self._apply_fixed_asks(batch)
        else:
            self._apply_fixed_bids(batch)
        n = len(self.window)  # the resize test inline: it rarely fires and a call costs ~100 ns per side
        if n > 2 * self.window_size or (n < self.window_size // 2 and self.edge is not _ALL):
            self._resize()

    # The two hot loops are spelled out per side (one comparison flipped): a shared loop would pay a
    # sign test or a key function per level. Per level: the zero test (see ``_zero_shape``), one dict
    # operation (an insert tells a new level from a size change by the dict's length) and a string
    # comparison with the window's edge; insort/del only inside the window; the format test only for a new
    # price (a held one has the format).

    def _apply_fixed_bids(self, batch: list[LevelIn]) -> None:
        levels, window, edge = self.levels, self.window, self.edge
        plen, dpos, lead0 = self.plen, self.dpos, self.lead0
        zero, zlen, zpoint = self.zero, self.zlen, self.zpoint
        limit = 4 * self.window_size
        at = 0
        for price, size in batch:
            at += 1
            if size != zero and ((len(size) == zlen and size[zpoint] == ".") or size.lstrip("0.")):
                held = len(levels)
                levels[price] = size
                if len(levels) == held:
                    continue  # a new size for a level we hold
                if len(price) != plen or price[dpos] != "." or (price[0] == "0" and not lead0):
                    del levels[price]
                    if self._odd_level(price, size):
                        return self._degrade(batch, at - 1)
                    continue
                if price >= edge:
                    if COMPILED:
                        self._insert(window, price)
                    else:  # interpreted, C bisect over the strings beats a search over the ticks
                        insort(window, price)
                    if len(window) > limit:
                        window, edge = self._shut()
                continue
            if size != zero:
                zero, zlen, zpoint = _zero_shape(size)
            if levels.pop(price, None) is not None:
                if price >= edge:
                    if COMPILED:
                        self._remove(window, price)
                    else:
                        del window[bisect_left(window, price)]
            elif (
                len(price) != plen or price[dpos] != "." or (price[0] == "0" and not lead0)
            ) and self._odd_level(price, size):  # another spelling may name a level we hold
                return self._degrade(batch, at - 1)
        self.zero, self.zlen, self.zpoint = zero, zlen, zpoint
        return None

    def _apply_fixed_asks(self, batch: list[LevelIn]) -> None:
        # Asks' window ascends with the best (lowest) price first; edge is its highest price.
        levels, window, edge = self.levels, self.window, self.edge
        plen, dpos, lead0 = self.plen, self.dpos, self.lead0
        if edge is _ALL:
            edge = "\x7f"  # above every digit string
        zero, zlen, zpoint = self.zero, self.zlen, self.zpoint
        limit = 4 * self.window_size
        at = 0
        for price, size in batch:
            at += 1
            if size != zero and ((len(size) == zlen and size[zpoint] == ".") or size.lstrip("0.")):
                held = len(levels)
                levels[price] = size
                if len(levels) == held:
                    continue
                if len(price) != plen or price[dpos] != "." or (price[0] == "0" and not lead0):
                    del levels[price]
                    if self._odd_level(price, size):
                        return self._degrade(batch, at - 1)
                    continue
                if price <= edge:
                    if COMPILED:
                        self._insert(window, price)
                    else:  # interpreted, C bisect over the strings beats a search over the ticks
                        insort(window, price)
                    if len(window) > limit:
                        window, edge = self._shut()
                continue
            if size != zero:
                zero, zlen, zpoint = _zero_shape(size)
            if levels.pop(price, None) is not None:
                if price <= edge:
                    if COMPILED:
                        self._remove(window, price)
                    else:
                        del window[bisect_left(window, price)]
            elif (
                len(price) != plen or price[dpos] != "." or (price[0] == "0" and not lead0)
            ) and self._odd_level(price, size):
                return self._degrade(batch, at - 1)
        self.zero, self.zlen, self.zpoint = zero, zlen, zpoint
        return None

    def _insert(self, window: list[str], price: str) -> None:
        """Insert a fixed-mode price that is not in the window at its place (compiled only)."""
        n = len(window)
        if n >= len(self.ticks):
            self.ticks = _tick_buffer(2 * n + 2)
            self._retick()
        tick = -_tick(price) if self.ask else _tick(price)
        at = self._place(tick, n)
        # ``self.ticks`` indexed in place: a local memoryview would be acquired and released on every call.
        with cython.boundscheck(False), cython.wraparound(False):  # at <= n < len(ticks), checked above
            for j in range(n, at, -1):  # the levels better than the new one: few, near the top
                self.ticks[j] = self.ticks[j - 1]
            self.ticks[at] = tick
        window.insert(n - at if self.ask else at, price)

    def _remove(self, window: list[str], price: str) -> None:
        """Remove a fixed-mode price that is in the window (compiled only)."""
        n = len(window)
        at = self._place(-_tick(price) if self.ask else _tick(price), n)
        with cython.boundscheck(False), cython.wraparound(False):  # n <= len(ticks)
            for j in range(at, n - 1):
                self.ticks[j] = self.ticks[j + 1]
        del window[n - 1 - at if self.ask else at]

    def _place(self, tick: int, n: int) -> int:
        """Where ``tick`` is or belongs among the first ``n`` ticks (ascending). Compiled only: the name
        ``cython`` below exists only then.

        Branch-free (the step is a multiply, compiled to a conditional move): whether a moving price lies
        above or below a window's midpoint is a coin toss for the branch predictor, and a mispredicted
        step cost more than the comparison itself."""
        if n == 0:
            return 0
        base, length = 0, n
        with cython.boundscheck(False), cython.wraparound(False):  # base + half < n <= len(ticks)
            while length > 1:
                half = length >> 1
                base += half * (self.ticks[base + half] < tick)
                length -= half
            return base + (self.ticks[base] < tick)

    def _retick(self) -> None:
        """Recompute ``ticks`` from a window that was rebuilt or trimmed (compiled, fixed mode).

        Fixed-mode prices have one length and one point position, so their digits read as integers order
        them as the strings (and the numbers) do. ``ticks`` holds the window's best last on both sides
        (asks: negated, in reverse), so a change near the top moves only the few ticks above it."""
        if not COMPILED or not self.fixed:
            return
        window = self.window
        n = len(window)
        if n >= len(self.ticks):
            self.ticks = _tick_buffer(2 * n + 2)
        ticks = self.ticks
        if self.ask:
            for i in range(n):
                ticks[n - 1 - i] = -_tick(window[i])
        else:
            for i in range(n):
                ticks[i] = _tick(window[i])

    def _odd_level(self, price: str, size: str) -> bool:
        """Apply a level whose price is not of the main length. Returns whether to degrade instead.

        Same decimals, another length and no leading zero: the number is above (longer) or below
        (shorter) every main-length price, so odd levels sort apart from the window, exactly. Anything
        else (other decimals, no point, a padded spelling) goes to float keys.
        """
        dpos = self.dpos
        if (
            len(price) < 1 - dpos
            or price[dpos] != "."
            or (price[0] == "0" and len(price) != 1 - dpos)
            or not price.replace(".", "", 1).isdigit()
            or len(price) > 16
        ):
            return True
        if len(price) == self.plen:
            return True  # a main-length price with a leading zero: its short spelling could alias
        odd = self.odd
        if size.lstrip("0."):
            odd[price] = size
        elif odd.pop(price, None) is None:
            return False
        longer = sorted((p for p in odd if len(p) > self.plen), key=_numeric, reverse=True)
        shorter = sorted((p for p in odd if len(p) < self.plen), key=_numeric, reverse=True)
        if self.ask:  # asks: lower is better
            self.odd_better, self.odd_worse = shorter[::-1], longer[::-1]
        else:
            self.odd_better, self.odd_worse = longer, shorter
        return False

    def _degrade(self, batch: list[LevelIn], start: int) -> None:
        """A price outside the fixed format (``batch[start]``): switch to float keys and apply it and the
        rest of the batch there."""
        self._to_float()
        self._apply_float(batch[start:])

    def _to_float(self) -> None:
        shut = self.edge == (_SHUT_ASKS if self.ask else _SHUT_BIDS)
        sign = -1.0 if self.ask else 1.0
        levels: dict[float, str] = {}
        for price, size in chain(self.levels.items(), self.odd.items()):
            check_precision(price)
            levels[sign * float(price)] = size
        self.levels = levels
        self.odd, self.odd_better, self.odd_worse = {}, [], []
        self.fixed = False
        if shut:  # in the middle of a large batch: stay shut, the batch's end rebuilds the window
            self.window, self.edge = [], _SHUT_FLOAT
        else:
            self._rebuild()

    def _shut(self) -> tuple[list[Key], Key]:
        """The batch being applied has overfilled the window: no level enters or leaves it until the batch
        ends, when ``apply`` finds it empty with an edge set and rebuilds it from the levels by one sort.
        Returns the new ``(window, edge)`` for the loop's locals."""
        self.window = []
        self.edge = _SHUT_FLOAT if not self.fixed else _SHUT_ASKS if self.ask else _SHUT_BIDS
        return self.window, self.edge

    def _apply_float(self, changes: Iterable[LevelIn]) -> None:
        levels: dict[float, str] = self.levels
        window: list[float] = self.window
        edge = self.edge
        floor = _NEG_INF if edge is _ALL else edge
        sign = -1.0 if self.ask else 1.0
        limit = 4 * self.window_size
        for price, size in changes:
            key = sign * float(price)
            if size.lstrip("0."):
                if key not in levels:
                    if len(price) > 16:
                        check_precision(price)
                    if key >= floor:
                        insort(window, key)
                        if len(window) > limit:
                            window, floor = self._shut()
                levels[key] = size
            elif levels.pop(key, None) is not None and key >= floor:
                del window[bisect_left(window, key)]
        self._resize()

    def _resize(self) -> None:
        """Keep the window between half and twice ``window_size`` levels (when the book has them)."""
        window, size = self.window, self.window_size
        n = len(window)
        if n > 2 * size:
            if self.fixed and self.ask:
                del window[size:]
                self.edge = window[-1]
            else:
                del window[: n - size]
                self.edge = window[0]
            self._retick()
        elif n < size // 2 and self.edge is not _ALL:
            self._rebuild()

    def _rebuild(self) -> None:
        keys: list[Key] = sorted(self.levels)
        size = self.window_size
        if len(keys) <= size:
            self.window, self.edge = keys, _ALL
        elif self.fixed and self.ask:
            self.window = keys[:size]
            self.edge = self.window[-1]
        else:
            self.window = keys[-size:]
            self.edge = self.window[0]
        self._retick()

    # ------------------------------------------------------------------- reads

    def top_keys(self, n: int) -> list[Key]:
        """Keys of the best ``n`` levels, best first."""
        window = self.window
        complete = self.edge is _ALL  # the window holds every main level
        if n > len(window) and not complete:
            if n > self.window_size:  # a deep read (execution walking the book): sort, keep the window
                window, complete = sorted(self.levels), True
            else:
                self._rebuild()
                window, complete = self.window, self.edge is _ALL
        if not self.fixed:
            return window[: -n - 1 : -1]
        keys: list[str] = window[:n] if self.ask else window[: -n - 1 : -1]
        if self.odd:
            if self.odd_better:
                keys = (self.odd_better + keys)[:n]
            if len(keys) < n and complete:
                keys = keys + self.odd_worse[: n - len(keys)]
        return keys

    def held_top(self, n: int) -> int:
        """How many of the best ``n`` levels (``n <= window_size``) the window holds, after refilling it if
        deletes drained it: for a top view read straight from ``window`` and ``ticks`` (compiled, fixed
        mode, no odd level; see ``OrderBook._fill``)."""
        if n > len(self.window) and self.edge is not _ALL:
            self._rebuild()
        return min(n, len(self.window))

    def sizes_of(self, keys: list[Key]) -> list[str]:
        """The size strings of ``keys`` (from :meth:`top_keys`)."""
        levels = self.levels
        try:
            return list(map(levels.__getitem__, keys))
        except KeyError:  # an odd-length level among them (rare: it must be in the top to be asked for)
            odd = self.odd
            return [levels[k] if k in levels else odd[k] for k in keys]

    def top(self, n: int) -> tuple[list[float], list[float]]:
        """Prices and sizes of the best ``n`` levels as floats, best first (the detection view)."""
        keys = self.top_keys(n)
        sizes = list(map(float, self.sizes_of(keys)))
        if self.fixed:
            return list(map(float, keys)), sizes
        return (list(map(float.__neg__, keys)) if self.ask else keys), sizes

    def best_price(self) -> float | None:
        window = self.window
        if not window and not self.odd:
            return None
        if self.fixed:
            return float(self.top_keys(1)[0])
        best: float = window[-1]
        return -best if self.ask else best

    def exact(self, n: int | None) -> list[tuple[Decimal, Decimal]]:
        """The best ``n`` levels (all when ``None``) as exact ``(price, size)`` Decimals."""
        if n is None:
            n = len(self)
        keys = self.top_keys(n)
        if self.fixed:
            return [(Decimal(k), Decimal(s)) for k, s in zip(keys, self.sizes_of(keys), strict=True)]
        sign = -1 if self.ask else 1
        levels = self.levels
        return [(Decimal(repr(sign * k)), Decimal(levels[k])) for k in keys]


def _tick_buffer(n: int) -> array[int]:
    """Room for ``n`` window ticks (64-bit: a fixed-mode price has at most 15 digits)."""
    return array("q", bytes(8 * n))


def _tick(price: str) -> int:
    """A fixed-mode price's digits as one integer (``"61737.63000000"`` -> 6173763000000)."""
    tick = 0
    for char in price:
        if char != ".":
            tick = tick * 10 + (ord(char) - 48)
    return tick


def _zero_shape(zero: str) -> tuple[str, int, int]:
    """``(zero, length, point)`` for a zero size string: a size of that length with its point at that index
    that is not the zero string itself has a digit other than 0, so it is not zero (Binance spells every
    size with the same 8 decimals). ``length`` is -1 (no size has it) when ``zero`` has no point."""
    point = zero.find(".")
    return zero, (len(zero) if point > 0 else -1), point


def _numeric(price: str) -> tuple[int, str]:
    """Sort key of same-decimals, unpadded price strings: longer is larger, then digit by digit."""
    return len(price), price


def check_precision(price: str) -> None:
    """Refuse prices a double cannot tell apart from their neighbours (more than 15 significant digits)."""
    if len(price.replace(".", "").strip("0")) > 15:
        raise ValueError(f"price {price!r} has more than 15 significant digits; the book cannot key it")
