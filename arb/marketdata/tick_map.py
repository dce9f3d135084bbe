"""The levels of one book side in tick mode: a map from a price's integer tick to the venue's size string.

Interpreted it is a ``dict``. Compiled (``setup.py``, C types from ``tick_map.pxd``) it is open addressing
on C integers: the ticks in one ``int64`` buffer (``-1``: an empty slot; a tick is never negative), the
sizes in a list of the same length, linear probing from a multiplicative hash, deletion by shifting the
probe run back (no tombstones), at most half full. A probe, and the scan of a window rebuild, read only
the tick buffer; the sizes are touched on a hit. A level is then one multiply, one or two integer compares
and one list slot, where a ``dict`` of price strings hashed every fresh string (siphash) and compared it
with the held key's bytes: ~25 ns a level less on the real Binance stream (``bench/bench_ingest.py``).
Compiled, each size's double for the top view (:func:`decimal_float`) is kept in a third buffer once read
(:meth:`TickMap.size_float`). ``tests/marketdata/test_tick_map.py`` holds both to a ``dict``.
"""

from __future__ import annotations

from array import array
from typing import Any

try:  # Cython compiles this module when it can (setup.py); ``cython.compiled`` is then true.
    import cython
except ImportError:  # not installed: the module runs as plain Python
    COMPILED = False
else:
    COMPILED = cython.compiled

_FIRST = 64  # slots of a new map (a power of two)
_GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / phi: Fibonacci hashing spreads consecutive ticks over the slots
_EMPTY = -1  # the tick of an empty slot
_UNREAD = float("nan")  # a size's double not read yet (no size is NaN)
_NO_KEY = -(2**63)  # below every key ``best_into`` keeps (a tick or minus a tick: within +-10**16)


class TickMap:
    """``tick -> size`` (``tick >= 0``) for the levels of one book side; see the module doc."""

    __slots__ = ("floats", "keys", "map", "mask", "used", "values")

    def __init__(self) -> None:
        self.map: dict[int, str] = {}  # interpreted only
        self.used = 0
        self.mask = 0
        self.keys = array("q")  # compiled only: the ticks, slot by slot (_EMPTY: none) ...
        self.values: list[str | None] = []  # ... their sizes ...
        self.floats = array("d")  # ... and the sizes as doubles, once read (_UNREAD: not yet)
        if COMPILED:
            self._allocate(_FIRST)

    def __len__(self) -> int:
        return self.used if COMPILED else len(self.map)

    def clear(self) -> None:
        self.map = {}
        if COMPILED:
            self.used = 0
            self._allocate(_FIRST)

    def get(self, tick: int) -> str | None:
        """The size held at ``tick``, or None."""
        if not COMPILED:
            return self.map.get(tick)
        slot = self._slot(tick)
        with cython.boundscheck(False), cython.wraparound(False):  # slot <= mask < len(values)
            return self.values[slot]

    def put(self, tick: int, size: str) -> bool:
        """Hold ``size`` at ``tick``; returns whether the level is new."""
        if not COMPILED:
            held = len(self.map)
            self.map[tick] = size
            return len(self.map) != held
        slot = self._slot(tick)
        with cython.boundscheck(False), cython.wraparound(False):  # slot <= mask < len(keys), len(values)
            self.values[slot] = size
            self.floats[slot] = _UNREAD
            if self.keys[slot] == tick:
                return False
            self.keys[slot] = tick
        self.used += 1
        if 2 * self.used > self.mask:
            self._allocate(2 * (self.mask + 1))
        return True

    def remove(self, tick: int) -> bool:
        """Forget the level at ``tick``; returns whether it was held."""
        if not COMPILED:
            return self.map.pop(tick, None) is not None
        mask = self.mask
        hole = self._slot(tick)
        with cython.boundscheck(False), cython.wraparound(False):  # every index is masked
            if self.keys[hole] == _EMPTY:
                return False
            # Backward shift: an entry further along the run moves into the hole unless its home slot lies
            # cyclically after the hole (it would then be found before reaching it).
            at = hole
            while True:
                at = (at + 1) & mask
                moved = self.keys[at]
                if moved == _EMPTY:
                    break
                home = _home(moved, mask)
                if ((at - home) & mask) >= ((at - hole) & mask):
                    self.keys[hole] = moved
                    self.values[hole] = self.values[at]
                    self.floats[hole] = self.floats[at]
                    hole = at
            self.keys[hole] = _EMPTY
            self.values[hole] = None
        self.used -= 1
        return True

    def size_float(self, tick: int) -> float:
        """The size held at ``tick`` (there must be one) as a double, :func:`decimal_float` of it.

        Compiled, read once and kept until the level changes: the top view asks for the same sizes frame
        after frame (most of the best levels stay), and reading each again cost ~0.2 us a Binance depth
        frame, most of it in fetching the strings' memory."""
        if not COMPILED:
            return float(self.map[tick])
        slot = self._slot(tick)
        with cython.boundscheck(False), cython.wraparound(False):  # slot <= mask < len(floats), len(values)
            value = self.floats[slot]
            if value != value:  # _UNREAD (NaN): not read since the size was put
                value = self.floats[slot] = decimal_float(self.values[slot])  # type: ignore[arg-type]  # a held slot: a str (None: empty)
        return value

    def keys_into(self, out: Any) -> int:
        """Write every held tick, in no order, into ``out`` (an int64 buffer with room for them all);
        returns how many (a window rebuild sorts them in C, not as Python ints)."""
        n = 0
        if not COMPILED:
            for tick in self.map:
                out[n] = tick
                n += 1
            return n
        if len(out) < self.used:
            raise ValueError(f"room for {len(out)} ticks, {self.used} held")
        with cython.boundscheck(False), cython.wraparound(False):  # i <= mask; n < used <= len(out)
            for i in range(self.mask + 1):
                tick = self.keys[i]
                if tick != _EMPTY:
                    out[n] = tick
                    n += 1
        return n

    def best_into(self, out: Any, n: int, negate: bool) -> int:
        """Write the ``n`` largest keys, a key being the tick (``-tick`` when ``negate``: asks, best last),
        ascending into ``out[:m]`` (an int64 buffer with room for ``n``); returns ``m``, ``min(n, held)``.

        A book side's window rebuild (``BookSide._rebuild``). Compiled, one scan of the slots that keeps the
        best ``n`` in order in ``out``: a key better than the worst kept moves the worse ones down one, as
        insertion sort does. In slot order (hashed, so unrelated to price) few keys are ever that good, and
        the scan itself is free of unpredictable branches, where writing out every key and sorting them all
        took ~10 us on a Binance book of 2,000 levels (the empty slots alone mispredicted half the time)."""
        if not COMPILED:
            ordered = sorted([-tick if negate else tick for tick in self.map])  # a list: a cpdef may hold no generator
            best = ordered[max(len(ordered) - n, 0) :]
            for i in range(len(best)):
                out[i] = best[i]
            return len(best)
        if n <= 0:
            return 0
        keys = self.keys  # the slots as a local buffer: checked once, not once a slot
        empty, no_key = _EMPTY, _NO_KEY  # as C locals, so the compiler picks ``key`` below without a branch
        with cython.boundscheck(False), cython.wraparound(False):  # i <= mask; 0 <= j < n <= len(out)
            for j in range(n):
                out[j] = no_key  # below every key: a slot of ``out`` not filled yet
            for i in range(self.mask + 1):
                tick = keys[i]
                key = -tick if negate else tick
                if tick == empty:
                    key = no_key
                if key > out[0]:  # better than the worst kept: it goes in, the worst goes out
                    j = 0
                    while j + 1 < n and out[j + 1] < key:
                        out[j] = out[j + 1]
                        j += 1
                    out[j] = key
            m = min(n, self.used)
            for j in range(m):  # the kept keys are the last m: move them to the front
                out[j] = out[n - m + j]
        return m

    def items(self) -> list[tuple[int, str]]:
        """Every held ``(tick, size)``, in no order."""
        if not COMPILED:
            return list(self.map.items())
        return [(self.keys[i], self.values[i]) for i in range(self.mask + 1) if self.keys[i] != _EMPTY]  # type: ignore[misc]  # held slots hold str sizes

    def _slot(self, tick: int) -> int:
        """The slot holding ``tick``, or the empty slot where it would go (compiled only)."""
        mask = self.mask
        slot = _home(tick, mask)
        with cython.boundscheck(False), cython.wraparound(False):  # every index is masked
            while True:
                held = self.keys[slot]
                if held == tick or held == _EMPTY:
                    return slot
                slot = (slot + 1) & mask

    def _allocate(self, slots: int) -> None:
        """Move every level into ``slots`` new slots (a power of two; compiled only)."""
        held = self.items() if self.used else []
        self.keys = array("q", [_EMPTY]) * slots
        self.values = [None] * slots
        self.floats = array("d", [_UNREAD]) * slots
        self.mask = slots - 1
        self.used = 0
        for tick, size in held:
            slot = self._slot(tick)
            self.keys[slot] = tick
            self.values[slot] = size
            self.used += 1


def _home(tick: int, mask: int) -> int:
    """A tick's first slot: bits 32 and up of ``tick * 2**64/phi`` mod 2**64 (compiled only: ``product`` is a
    C unsigned 64-bit integer, whose arithmetic wraps as the hash needs)."""
    product = tick
    product *= _GOLDEN
    return (product >> 32) & mask


def pow10(decimals: int) -> float:
    """``10**decimals`` as a double, by exact steps (every power of ten up to 10**22 is one)."""
    scale = 1.0
    for _ in range(decimals):
        scale *= 10.0
    return scale


def decimal_float(text: str) -> float:
    """``float(text)`` of a plain decimal string: the same double, read digit by digit (fast compiled).

    A decimal with at most 15 significant digits and 22 decimals is ``mantissa / 10**decimals`` with both
    exact as doubles, and IEEE division rounds that quotient correctly, which is what ``float()`` returns
    (Clinger's fast path). Anything else (more digits, an exponent, a sign, no digit) goes to ``float()``.
    Interpreted, ``float()`` itself is the faster way (a Python loop over the characters costs ~20x).
    """
    if not COMPILED:
        return float(text)
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
    return mantissa / pow10(decimals)
