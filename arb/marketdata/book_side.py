"""One side of a normalized book: the data structure, chosen by measurement (``bench/bench_ingest.py``).

On the real Binance BTC/USDT diff stream 40% of levels are new, 39% delete an existing level, 12% change
a size and 9% delete a level we do not have; new and removed levels are spread over a ~3,000-level book.
So the structure must make *inserts and deletes anywhere* cheap, not just size updates:

- ``levels``: a ``dict`` from a float key to the size string as the venue sent it: every level we hold.
- ``window``: a plain ``list`` of the keys of the best levels only (between ``window_size`` and twice
  that), kept sorted with :func:`bisect.insort` (C). Keys are oriented so the list is ascending and the
  best level is *last* (bids: price; asks: -price). Levels worse than ``floor`` live in the dict alone,
  so a deep level costs one dict operation, and a window insert/delete moves at most a few KB. When
  deletes drain the window below what a reader needs, it is rebuilt from the dict by one sort.
  This measured about 2x faster per level than ``sortedcontainers.SortedDict`` and than one sorted list
  of the whole book (a front insert into 3,000 floats is a 1 us ``memmove``).
- float keys are exact identifiers: two decimal strings with at most 15 significant digits are the same
  double iff they are the same number (``DBL_DIG`` = 15), so ``"27.1"`` and ``"27.10"`` are one level and
  ``repr(key)`` gives the price back exactly. A price with more digits is refused, never merged.
- sizes stay strings: exact ``Decimal`` for execution, ``float`` only when the top is read.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from decimal import Decimal

LevelIn = Sequence[str]
"""A level as received: ``(price, size)`` decimal strings (a list from JSON or a tuple from a capture)."""

_NEG_INF = float("-inf")


class BookSide:
    """Bids (``ask=False``) or asks (``ask=True``) of one book."""

    __slots__ = ("ask", "levels", "window", "floor", "window_size")

    def __init__(self, *, ask: bool, window_size: int = 256) -> None:
        self.ask = ask
        self.window_size = window_size
        self.levels: dict[float, str] = {}
        self.window: list[float] = []
        self.floor = _NEG_INF  # keys >= floor are in the window; -inf: the window holds every level

    def clear(self) -> None:
        self.levels.clear()
        self.window.clear()
        self.floor = _NEG_INF

    def __len__(self) -> int:
        return len(self.levels)

    def apply(self, changes: Iterable[LevelIn]) -> None:
        """Apply ``(price, size)`` changes: size zero removes the level, anything else replaces it."""
        # Hot path of ingest: the two loops differ only in the key's sign (a multiply costs more than
        # the duplication). Per level: one float(), one strip(), one or two dict operations.
        levels, window, floor = self.levels, self.window, self.floor
        if self.ask:
            for price, size in changes:
                key = -float(price)
                if size.strip("0."):
                    if key not in levels:
                        if len(price) > 16:
                            check_precision(price)
                        if key >= floor:
                            insort(window, key)
                    levels[key] = size
                elif levels.pop(key, None) is not None and key >= floor:
                    del window[bisect_left(window, key)]
        else:
            for price, size in changes:
                key = float(price)
                if size.strip("0."):
                    if key not in levels:
                        if len(price) > 16:
                            check_precision(price)
                        if key >= floor:
                            insort(window, key)
                    levels[key] = size
                elif levels.pop(key, None) is not None and key >= floor:
                    del window[bisect_left(window, key)]
        n = len(window)
        if n > 2 * self.window_size:
            del window[: n - self.window_size]
            self.floor = window[0]
        elif n < self.window_size // 2 and floor != _NEG_INF:
            self._rebuild()

    def _rebuild(self) -> None:
        keys = sorted(self.levels)
        if len(keys) > self.window_size:
            self.window = keys[-self.window_size :]
            self.floor = self.window[0]
        else:
            self.window = keys
            self.floor = _NEG_INF

    def top_keys(self, n: int) -> list[float]:
        """Keys of the best ``n`` levels, best first."""
        if n > len(self.window) and self.floor != _NEG_INF:
            if n > self.window_size:  # a deep read (execution walking the book): sort, keep the window
                return sorted(self.levels)[: -n - 1 : -1]
            self._rebuild()
        return self.window[: -n - 1 : -1]

    def best_price(self) -> float | None:
        window = self.window
        if not window:
            return None
        return -window[-1] if self.ask else window[-1]

    def price_of(self, key: float) -> float:
        return -key if self.ask else key

    def exact(self, n: int | None) -> list[tuple[Decimal, Decimal]]:
        """The best ``n`` levels (all when ``None``) as exact ``(price, size)`` Decimals."""
        if n is None:
            n = len(self.levels)
        sign = -1 if self.ask else 1
        levels = self.levels
        return [(Decimal(repr(sign * k)), Decimal(levels[k])) for k in self.top_keys(n)]


def check_precision(price: str) -> None:
    """Refuse prices a double cannot tell apart from their neighbours (more than 15 significant digits)."""
    if len(price.replace(".", "").strip("0")) > 15:
        raise ValueError(f"price {price!r} has more than 15 significant digits; the book cannot key it")
