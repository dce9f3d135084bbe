"""The levels of one book side in tick mode: a map from a price's integer tick to the venue's size.

Interpreted it is a ``dict`` of the sizes' texts. Compiled (``setup.py``, C types from ``tick_map.pxd``) it is
open addressing on C integers: one ``int64`` buffer of slots, each a tick (``-1``: an empty slot; a tick is
never negative) beside its size, linear probing from a multiplicative hash, deletion by shifting the probe run back (no
tombstones), at most half full. A level is then one multiply, one or two integer compares and one write,
all in the slot's 16 bytes: where a ``dict`` of price strings hashed every fresh string (siphash) and
compared it with the held key's bytes, ~25 ns a level less on the real Binance stream
(``bench/bench_ingest.py``).

A size is held as an integer too, its *exact size* (:func:`exact_size`): the digits read as one integer
beside the number of decimals (``"0.00118000"``: 118000 and 8), which spells it back exactly
(:func:`size_text`) and gives its double by one division (:func:`size_double`). Holding the venue's size
strings instead cost a second and a third buffer (the strings, their doubles once read) and a reference
count on each, so every level touched three places in memory and freed the string it replaced at some later
time, far from the cache: ~1 us a Binance depth frame (``bench/bench_ingest.py``). A size no integer
spells back exactly (more than 17 significant digits, or padded: ``"01.5"``) is kept as its text in a
``dict`` beside the slots; none is on the real streams. ``tests/marketdata/test_tick_map.py`` holds both
builds to a ``dict`` of the texts.
"""

from __future__ import annotations

from array import array
from decimal import Decimal
from typing import Any

try:  # Cython compiles this module when it can (setup.py); ``cython.compiled`` is then true.
    import cython
except ImportError:  # not installed: the module runs as plain Python
    COMPILED = False
else:
    COMPILED = cython.compiled
_compiled = COMPILED  # a C value when compiled (tick_map.pxd): read on every level

_FIRST = 64  # slots of a new map (a power of two)
_GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / phi: Fibonacci hashing spreads consecutive ticks over the slots
_EMPTY = -1  # the tick of an empty slot
_NONE = -2  # no level held at a tick
_TEXT = -1  # a size held as its text (``TickMap.texts``): no exact size spells it
_SIZE_BITS = 6  # an exact size: its digits as an integer, shifted left this far, or its decimals (< 64)
_MAX_SIZE_DIGITS = 17  # significant digits an exact size holds: 10**17 << 6 stays below 2**63
_SIZE_LIMIT = 100_000_000_000_000_000  # 10**_MAX_SIZE_DIGITS
_EXACT_DOUBLE = 9_007_199_254_740_992  # 2**53: every integer below it is exact as a double
_NO_KEY = -(2**63)  # below every key ``best_into`` keeps (a tick or minus a tick: within +-10**16)


class TickMap:
    """``tick -> size`` (``tick >= 0``) for the levels of one book side; see the module doc."""

    __slots__ = ("map", "mask", "slots", "texts", "used")

    def __init__(self) -> None:
        self.map: dict[int, str] = {}  # interpreted only: tick -> size text
        self.texts: dict[int, str] = {}  # compiled: the sizes held as text (_TEXT in the slot)
        self.used = 0
        self.mask = 0
        self.slots = array("q")  # compiled only: tick, exact size, slot by slot (tick _EMPTY: none)
        if _compiled:
            self._allocate(_FIRST)

    def __len__(self) -> int:
        return self.used if _compiled else len(self.map)

    def clear(self) -> None:
        if not _compiled:
            self.map = {}
            return
        if self.texts:
            self.texts = {}
        if self.mask + 1 != _FIRST:  # grown with a deep book: back to a new map's size
            self.used = 0
            self._allocate(_FIRST)
        elif self.used:  # every slot emptied in place: a book side is cleared at every snapshot, and a fresh
            for i in range(_FIRST):  # buffer each time was ~5% of replaying a capture of snapshots
                self.slots[2 * i] = _EMPTY
            self.used = 0

    def get(self, tick: int) -> str | None:
        """The size held at ``tick`` as the venue spelled it, or None."""
        if not _compiled:
            return self.map.get(tick)
        exact = self._exact(tick)
        if exact == _NONE:
            return None
        return self.texts[tick] if exact == _TEXT else size_text(exact)

    def held(self, tick: int) -> int | str:
        """The size held at ``tick`` (there must be one) as held: its exact size (:func:`exact_decimal` makes it a
        Decimal), or its text where none spells it (always, interpreted)."""
        if not _compiled:
            return self.map[tick]  # the map holds texts
        exact = self._exact(tick)
        return self.texts[tick] if exact == _TEXT else exact

    def size_float(self, tick: int) -> float:
        """The size held at ``tick`` (there must be one) as a double: ``float()`` of its text."""
        if not _compiled:
            return float(self.map[tick])
        exact = self._exact(tick)
        return float(self.texts[tick]) if exact == _TEXT else size_double(exact)

    def put(self, tick: int, size: str) -> bool:
        """Hold ``size`` at ``tick``; returns whether the level is new."""
        return self.put_exact(tick, exact_size(size) if _compiled else _TEXT, size)

    def put_exact(self, tick: int, exact: int, size: str) -> bool:
        """:meth:`put` with ``exact`` already :func:`exact_size` of ``size`` (the book side's apply loop reads
        it to tell a zero size); ``size`` is kept only when ``exact`` cannot spell it (-1). Interpreted the
        map keeps every size's text: reading an exact integer in Python costs more than the ``dict`` saves."""
        if not _compiled:
            new = tick not in self.map
            self.map[tick] = size
            return new
        if exact < 0:
            self.texts[tick] = size
            exact = _TEXT
        at = 2 * self._slot(tick)
        with cython.boundscheck(False), cython.wraparound(False):  # at + 1 <= 2 * mask + 1 < len(slots)
            if self.slots[at] == tick:
                if self.slots[at + 1] == _TEXT and exact != _TEXT:
                    del self.texts[tick]
                self.slots[at + 1] = exact
                return False
            self.slots[at] = tick
            self.slots[at + 1] = exact
        self.used += 1
        if 2 * self.used > self.mask:
            self._allocate(2 * (self.mask + 1))
        return True

    def remove(self, tick: int) -> bool:
        """Forget the level at ``tick``; returns whether it was held."""
        if not _compiled:
            return self.map.pop(tick, None) is not None
        mask = self.mask
        hole = self._slot(tick)
        with cython.boundscheck(False), cython.wraparound(False):  # every index is masked, times 2
            if self.slots[2 * hole] == _EMPTY:
                return False
            if self.slots[2 * hole + 1] == _TEXT:
                del self.texts[tick]
            # Backward shift: an entry further along the run moves into the hole unless its home slot lies
            # cyclically after the hole (it would then be found before reaching it).
            at = hole
            while True:
                at = (at + 1) & mask
                moved = self.slots[2 * at]
                if moved == _EMPTY:
                    break
                home = _home(moved, mask)
                if ((at - home) & mask) >= ((at - hole) & mask):
                    self.slots[2 * hole] = moved
                    self.slots[2 * hole + 1] = self.slots[2 * at + 1]
                    hole = at
            self.slots[2 * hole] = _EMPTY
        self.used -= 1
        return True

    def keys_into(self, out: Any) -> int:
        """Write every held tick, in no order, into ``out`` (an int64 buffer with room for them all);
        returns how many (a window rebuild sorts them in C, not as Python ints)."""
        n = 0
        if not _compiled:
            for tick in self.map:
                out[n] = tick
                n += 1
            return n
        if len(out) < self.used:
            raise ValueError(f"room for {len(out)} ticks, {self.used} held")
        with cython.boundscheck(False), cython.wraparound(False):  # 2 * i <= 2 * mask; n < used <= len(out)
            for i in range(self.mask + 1):
                tick = self.slots[2 * i]
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
        if not _compiled:
            ordered = sorted([-tick if negate else tick for tick in self.map])  # a list: a cpdef may hold no generator
            best = ordered[max(len(ordered) - n, 0) :]
            for i in range(len(best)):
                out[i] = best[i]
            return len(best)
        if n <= 0:
            return 0
        slots = self.slots  # the slots as a local buffer: checked once, not once a slot
        empty, no_key = _EMPTY, _NO_KEY  # as C locals, so the compiler picks ``key`` below without a branch
        with cython.boundscheck(False), cython.wraparound(False):  # 2 * i <= 2 * mask; 0 <= j < n <= len(out)
            for j in range(n):
                out[j] = no_key  # below every key: a slot of ``out`` not filled yet
            for i in range(self.mask + 1):
                tick = slots[2 * i]
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
        if not _compiled:
            return list(self.map.items())
        pairs = [(self.slots[2 * i], self.slots[2 * i + 1]) for i in range(self.mask + 1)
                 if self.slots[2 * i] != _EMPTY]
        return [(tick, self.texts[tick] if exact == _TEXT else size_text(exact)) for tick, exact in pairs]

    def _exact(self, tick: int) -> int:
        """The exact size held at ``tick`` (``_TEXT``: see ``texts``), or ``_NONE`` (compiled only)."""
        at = 2 * self._slot(tick)
        with cython.boundscheck(False), cython.wraparound(False):  # at + 1 <= 2 * mask + 1 < len(slots)
            return _NONE if self.slots[at] == _EMPTY else self.slots[at + 1]

    def _slot(self, tick: int) -> int:
        """The slot holding ``tick``, or the empty slot where it would go (compiled only)."""
        mask = self.mask
        slot = _home(tick, mask)
        with cython.boundscheck(False), cython.wraparound(False):  # every index is masked, times 2
            while True:
                held = self.slots[2 * slot]
                if held == tick or held == _EMPTY:
                    return slot
                slot = (slot + 1) & mask

    def _allocate(self, slots: int) -> None:
        """Move every level into ``slots`` new slots (a power of two; compiled only)."""
        held = [(self.slots[2 * i], self.slots[2 * i + 1]) for i in range(self.mask + 1)
                if self.slots[2 * i] != _EMPTY] if self.used else []
        self.slots = array("q", [_EMPTY, 0]) * slots
        self.mask = slots - 1
        self.used = 0
        for tick, exact in held:
            at = 2 * self._slot(tick)
            self.slots[at] = tick
            self.slots[at + 1] = exact
            self.used += 1


def _home(tick: int, mask: int) -> int:
    """A tick's first slot: bits 32 and up of ``tick * 2**64/phi`` mod 2**64 (compiled only: ``product`` is a
    C unsigned 64-bit integer, whose arithmetic wraps as the hash needs)."""
    product = tick
    product *= _GOLDEN
    return (product >> 32) & mask


def exact_size(text: str) -> int:
    """A size's exact value as one integer: its digits read as an integer, shifted left ``_SIZE_BITS``, or
    the number of its decimals (``"0.00118000"``: ``118000 << 6 | 8``); zero sizes give their decimals alone
    (below ``1 << _SIZE_BITS``). -1 when no such integer spells ``text`` back (:func:`size_text`): not a plain
    decimal, padded (``"01.5"``), more than 17 significant digits or 63 decimals. One pass, compiled over the
    string's ASCII buffer (names from tick_map.pxd)."""
    n = len(text)
    if not _compiled:
        whole, dot, fraction = text.partition(".")
        digits = whole + fraction
        if (not (digits.isascii() and digits.isdigit()) or not whole or (dot and not fraction)
                or (whole[0] == "0" and len(whole) > 1)):
            return -1
        mantissa = int(digits)
        if mantissa >= _SIZE_LIMIT or len(fraction) >= 1 << _SIZE_BITS:
            return -1
        return mantissa << _SIZE_BITS | len(fraction)
    if not PyUnicode_IS_ASCII(text):  # type: ignore[name-defined]  # noqa: F821 - tick_map.pxd's, from Python.h: compiled only
        return -1
    data = PyUnicode_1BYTE_DATA(text)  # type: ignore[name-defined]  # noqa: F821 - tick_map.pxd's, from Python.h: compiled only
    if not n or (data[0] == 48 and n > 1 and data[1] != 46):  # empty, or a "0" before another digit
        return -1
    mantissa = 0
    significant = 0  # digits from the first nonzero one on (counted only where they could overflow)
    point = -1
    for i in range(n):
        digit = data[i] - 48
        if digit <= 9:  # unsigned: below "0" wraps above 9
            if n > 18 and (mantissa or digit):  # 18 characters hold at most 18 digits: below 2**63
                significant += 1
                if significant > _MAX_SIZE_DIGITS:
                    return -1
            mantissa = mantissa * 10 + digit
        elif data[i] == 46 and point < 0 and i:  # one ".", after a digit
            point = i
        else:
            return -1
    decimals = 0 if point < 0 else n - point - 1
    if point == n - 1 or decimals >= 1 << _SIZE_BITS or mantissa >= _SIZE_LIMIT:
        return -1
    return mantissa << _SIZE_BITS | decimals


def size_text(exact: int) -> str:
    """The size an :func:`exact_size` stands for, spelled as the venue spelled it."""
    decimals = exact & ((1 << _SIZE_BITS) - 1)
    digits = str(exact >> _SIZE_BITS)
    if not decimals:
        return digits
    digits = digits.rjust(decimals + 1, "0")
    return f"{digits[: len(digits) - decimals]}.{digits[len(digits) - decimals :]}"


def exact_decimal(exact: int) -> Decimal:
    """``Decimal(size_text(exact))``, exponent and all: the digits scaled by the decimals, with no text made."""
    return Decimal(exact >> _SIZE_BITS).scaleb(-(exact & ((1 << _SIZE_BITS) - 1)))


def size_double(exact: int) -> float:
    """``float()`` of the size an :func:`exact_size` stands for: its digits over ``10**decimals``.

    With at most 15 significant digits and 22 decimals both are exact as doubles, and IEEE division rounds the
    quotient correctly, which is what ``float()`` returns (Clinger's fast path); anything else goes through
    the text."""
    mantissa = exact >> _SIZE_BITS
    decimals = exact & ((1 << _SIZE_BITS) - 1)
    if mantissa < _EXACT_DOUBLE and decimals <= 22:
        return mantissa / pow10(decimals)
    return float(size_text(exact))


def pow10(decimals: int) -> float:
    """``10**decimals`` as a double, by exact steps (every power of ten up to 10**22 is one)."""
    scale = 1.0
    for _ in range(decimals):
        scale *= 10.0
    return scale
