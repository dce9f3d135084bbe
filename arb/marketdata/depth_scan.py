"""One pass over a depth frame in the exact shape its venue sends, in place of JSON parsing, routing and checks.

A venue sends its book updates in one shape, byte for byte: the same keys in the same order, no whitespace,
no escapes, plain integers, prices and sizes as plain decimal strings. A diff feed reads each frame through
``orjson.loads``, its ``_route`` and ``drops.checked_diff``: on a 36-level Binance depth frame ~5.3 us of
parsing that builds a dict per object and a list per level, then ~2 us finding and checking what the book
needs in them. :meth:`FrameShape.scan` reads the same frame once, compiled, and builds only what the book
takes: the level strings, each side one flat list of them (``bench/bench_ingest.py``).

It accepts *only* its shape (:class:`FrameShape`: the literal bytes between the fields, the fields in order)
and returns what the old path returns for such a frame: the book's key and the checked update
(``diff_feed.Diff``), each side's levels as one flat list, price then size (``book_side.Levels``), where the
old path gives a pair per level; ``book_side.as_pairs`` makes them the same. Anything else, or anything
it does not prove, is ``None``: whitespace, another key order, an escape, a number that is not a plain
unsigned integer of at most 18 digits, a level a check would drop or leave out (``over_precise``), a
truncated frame. The feed then reads that frame the old way, so every drop keeps its reason and detail and
every odd frame its old treatment (``tests/marketdata/test_depth_scan.py`` holds the two paths equal on
generated frames and the recordings). Validity is proven by construction: every byte is one of the shape's
literals, a digit, a point, or a printable ASCII character inside a string other than ``"`` and ``\\``,
which is JSON, so orjson reads the same values.

Compiled by Cython when the package is built with it (``setup.py``, types in ``depth_scan.pxd``): the frame is
read straight from its buffer (bytes, or an ASCII ``str`` as aiohttp gives a text frame) and each string is
made by one copy. Interpreted, the same code works on bytes and is slower than orjson: feeds use it only
compiled (:data:`COMPILED`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arb.marketdata.drops import MAX_NUMBER_CHARS, MAX_PRICE_DIGITS

try:  # Cython compiles this module when it can (setup.py); ``cython.compiled`` is then true.
    import cython
except ImportError:  # not installed: the module runs as plain Python
    COMPILED = False
else:
    COMPILED = cython.compiled

if TYPE_CHECKING:
    from arb.marketdata.diff_feed import Diff

# What follows each literal of a shape (:class:`FrameShape`).
SKIP_STRING = 0  # a string whose value no book needs (Binance's stream name)
SKIP_INT = 1  # an integer no book needs (Binance futures' transaction time ``T``)
KEY = 2  # the string naming the book (Binance ``s``): the feed's key
TIME = 3  # the venue's time of the update: ``exchange_ts``
FIRST = 4  # the first update id ``U``
LAST = 5  # the last update id ``u``
PREV = 6  # the previous diff's last id, where the venue chains by it (Binance futures ``pu``)
BIDS = 7  # the ``[[price, size], ...]`` levels of each side
ASKS = 8
END = 9  # nothing: the frame ends after this literal

MAX_INT_DIGITS = 18  # an integer of at most 18 digits is below 2**63: an id or a time drops.py keeps as it is

# The same as C integers when compiled (``depth_scan.pxd``).
_compiled, _max_chars, _max_digits, _max_int = COMPILED, MAX_NUMBER_CHARS, MAX_PRICE_DIGITS, MAX_INT_DIGITS
_skip_string, _skip_int, _key, _time, _first, _last, _prev, _bids, _asks = (
    SKIP_STRING, SKIP_INT, KEY, TIME, FIRST, LAST, PREV, BIDS, ASKS)


class FrameShape:
    """A venue's depth frame, byte for byte: ``parts`` is ``(literal, field)`` pairs in the order of the frame,
    each field one of this module's kinds, the last :data:`END`. Binance spot's combined-stream frame is
    ``((b'{"stream":', SKIP_STRING), (b',"data":{"e":"depthUpdate","E":', TIME), (b',"s":', KEY), ...)``.
    A shape names the book, both ids and both sides; its literals hold every key and bracket."""

    __slots__ = ("parts",)

    def __init__(self, parts: tuple[tuple[bytes, int], ...]) -> None:
        kinds = [kind for _, kind in parts]
        if not kinds or kinds[-1] != END or any(kinds.count(k) != 1 for k in (KEY, FIRST, LAST, BIDS, ASKS)):
            raise ValueError(f"a frame shape names the key, U, u and both sides once and ends with END: {kinds}")
        self.parts = tuple(parts)

    def scan(self, data: str | bytes) -> tuple[str, Diff] | None:
        """``(key, diff)`` for a frame of this exact shape whose every check passes; else ``None``."""
        if type(data) is bytes:
            return _scan(data, len(data), self.parts)
        if type(data) is not str:
            return None
        text: str = data
        if _compiled:  # an ASCII str keeps one byte per character: its buffer is the frame's bytes
            if not PyUnicode_IS_ASCII(text):  # type: ignore[name-defined]  # noqa: F821 - depth_scan.pxd's, from Python.h: compiled only
                return None
            return _scan(PyUnicode_1BYTE_DATA(text), len(text), self.parts)  # type: ignore[name-defined]  # noqa: F821 - likewise
        if not text.isascii():
            return None
        raw = text.encode()
        return _scan(raw, len(raw), self.parts)


def _scan(buf: bytes, n: int, parts: tuple[tuple[bytes, int], ...]) -> tuple[str, Diff] | None:
    """The fields of ``buf[:n]`` read by ``parts`` (compiled, ``buf`` is the frame's C buffer)."""
    at = 0
    key: str | None = None
    exchange_ts: int | None = None
    first = last = -1
    prev: int | None = None
    bids: list[str] | None = None
    asks: list[str] | None = None
    for part in parts:
        literal: bytes = part[0]
        kind: int = part[1]
        lit = literal  # compiled: its C buffer
        m = len(literal)
        if at + m > n:
            return None
        for j in range(m):
            if buf[at + j] != lit[j]:
                return None
        at += m
        if kind == _bids or kind == _asks:
            levels: list[str] = []
            at = _levels(buf, n, at, levels)
            if at < 0:
                return None
            if kind == _bids:
                bids = levels
            else:
                asks = levels
        elif kind == _skip_string or kind == _key:
            end = _string_end(buf, n, at)
            if end < 0:
                return None
            if kind == _key:
                key = _text(buf, at + 1, end)
            at = end + 1
        elif kind != END:  # an integer
            end = at
            while end < n and 48 <= buf[end] <= 57:  # "0" to "9"
                end += 1
            # JSON has no leading zero: "0" is the only integer that starts with one.
            if end == at or end - at > _max_int or (buf[at] == 48 and end > at + 1):
                return None
            value = 0
            for j in range(at, end):
                value = value * 10 + (buf[j] - 48)
            at = end
            if kind == _time:
                exchange_ts = value
            elif kind == _first:
                first = value
            elif kind == _last:
                last = value
            elif kind == _prev:
                prev = value
    if at != n or key is None or bids is None or asks is None or first > last:
        return None  # trailing bytes, or U > u (drops.update_ids says which)
    return key, (bids, asks, first, last, exchange_ts, prev, 0)


def _string_end(buf: bytes, n: int, at: int) -> int:
    """Where the JSON string starting at ``at`` ends (its closing quote), if it is only printable ASCII without
    ``\\`` (no escape: its bytes are its characters); else -1."""
    if at >= n or buf[at] != 34:  # '"'
        return -1
    for i in range(at + 1, n):
        char = buf[i]
        if char == 34:
            return i
        if char < 32 or char > 126 or char == 92:  # a control byte, not ASCII, or "\"
            return -1
    return -1


def _levels(buf: bytes, n: int, at: int, levels: list[str]) -> int:
    """``[["price","size"],...]`` from ``at`` appended to ``levels`` flat (price, size, price, ...), each level
    one ``drops.checked_levels`` passes without leaving it out; the index after the closing ``]``, or -1."""
    if at >= n or buf[at] != 91:  # "["
        return -1
    at += 1
    if at < n and buf[at] == 93:  # "]": no level
        return at + 1
    while True:
        if at + 2 > n or buf[at] != 91 or buf[at + 1] != 34:  # '["'
            return -1
        start = at + 2
        end = _decimal_end(buf, n, start, True)
        if end < 0 or end + 3 > n or buf[end + 1] != 44 or buf[end + 2] != 34:  # '","'
            return -1
        size_start = end + 3
        size_end = _decimal_end(buf, n, size_start, False)
        if size_end < 0 or size_end + 2 >= n or buf[size_end + 1] != 93:  # '"]' and one more byte
            return -1
        levels.append(_text(buf, start, end))
        levels.append(_text(buf, size_start, size_end))
        at = size_end + 2
        if buf[at] == 93:  # "]": the side ends
            return at + 1
        if buf[at] != 44:  # ","
            return -1
        at += 1


def _decimal_end(buf: bytes, n: int, at: int, price: bool) -> int:
    """Where the plain decimal starting at ``at`` ends (the closing quote's index), if it passes the checks
    :func:`drops.checked_levels` makes (digits, at most one point with digits on both sides, at most
    ``MAX_NUMBER_CHARS`` characters) and, for a ``price``, is not zero and has at most ``MAX_PRICE_DIGITS``
    significant digits (not ``over_precise``); else -1."""
    point = -1
    digits = 0  # the OR of every digit's value: nonzero iff some digit is
    i = at
    while i < n:
        digit = (buf[i] - 48) & 255  # "0" to "9" give 0 to 9, any other byte more: one test a byte
        if digit <= 9:
            digits |= digit
        elif buf[i] == 34:  # '"'
            break
        elif buf[i] != 46 or point >= 0 or i == at:  # one ".", after a digit
            return -1
        else:
            point = i
        i += 1
    if i >= n or i == at or point == i - 1 or i - at > _max_chars:
        return -1  # unterminated, empty, nothing after the point, or too long
    if price and (not digits or (i - at > _max_digits and _significant(buf, at, i) > _max_digits)):
        return -1  # a zero price (dropped), or one drops.py leaves out (over_precise)
    return i


def _significant(buf: bytes, start: int, end: int) -> int:
    """Significant digits of the plain decimal ``buf[start:end]``: from its first nonzero digit to its last."""
    first = -1
    last = -1
    seen = 0  # digits so far
    for i in range(start, end):
        if buf[i] != 46:
            if buf[i] != 48:
                if first < 0:
                    first = seen
                last = seen
            seen += 1
    return 0 if first < 0 else last - first + 1


def _text(buf: bytes, start: int, end: int) -> str:
    """The ASCII characters ``buf[start:end]`` as a ``str``; compiled, one copy into a new string."""
    if not _compiled:
        return buf[start:end].decode("ascii")
    text = PyUnicode_New(end - start, 127)  # type: ignore[name-defined]  # noqa: F821 - depth_scan.pxd's, from Python.h: compiled only
    memcpy(PyUnicode_DATA(text), buf + start, end - start)  # type: ignore[name-defined, operator]  # noqa: F821 - likewise
    return text
