"""Malformed venue input: the checks a level passes before any book sees it, and the per-venue drop counts.

A feed never lets a frame it cannot read stop it. The frame is dropped, counted per venue and reason in a
:class:`FrameDrops`, and the feed carries on; when the lost frame may have changed a book, the feed
resyncs that book (gap -> fresh snapshot), so a dropped update never leaves a silently wrong book.

Reasons (one frame each, except ``over_precise``, which counts levels):

- ``bad_json``       not JSON (or not UTF-8)
- ``not_object``     JSON, but not an object
- ``missing_field``  a book update without a field it needs, or one of the wrong shape
- ``bad_id``         an update id that is not an integer in ``[0, 2**63)``, or ``U > u``
- ``bad_level``      a level that is not a ``[price, size]`` pair
- ``bad_number``     a price or size that is not a plain decimal (no sign, exponent, NaN or infinity, at most
                     40 characters), or a price of zero
- ``over_precise``   a price with more than 15 significant digits (``"27.0500000000000000001"``). A double
                     cannot tell it from its neighbours, so the book cannot key it (``book_side``): the
                     *level* is left out and counted, the rest of the frame applies. Levels carry absolute
                     sizes, so leaving out a level we never hold keeps the update-id sequence intact; the
                     book is the venue's book without levels no real venue quotes, which can only make it
                     look less favourable than the venue (never a phantom cross).
- ``unknown_pair``   an update for a pair the feed did not subscribe to
- ``venue_error``    an error frame on the book channel that is not a refused subscription
- ``unparsable``     (ccxt feeds) the exchange's own message parser raised on the frame
- ``book_refused``   the book refused a level that passed these checks (should not happen; guarded anyway)

The first drop of each (venue, reason) is logged at WARNING with its cause, then the 10th, 100th, ...:
hostile input cannot flood the log, and the counts reach the status view and the run summary.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence

try:  # Cython compiles this module when it can (setup.py); ``cython.compiled`` is then true.
    import cython
except ImportError:  # not installed: the module runs as plain Python
    COMPILED = False
else:
    COMPILED = cython.compiled

log = logging.getLogger(__name__)

MAX_NUMBER_CHARS = 40
MAX_PRICE_DIGITS = 15  # DBL_DIG: what book_side.check_precision accepts
MAX_ID = 2**63  # update ids are stored as BIGINT (opportunities.*_book_seq)

# The same as C integers when compiled (``drops.pxd``): every number of every frame is checked against them.
_max_chars, _max_digits, _compiled = MAX_NUMBER_CHARS, MAX_PRICE_DIGITS, COMPILED

_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# A capture's prices and sizes: plain decimals of at most 15 integer digits, leading zeros aside (1e15 and more
# is beyond arb.domain.market.MAX_QUANTITY, the largest arb's arithmetic is sized for).
BOUNDED_DECIMAL = re.compile(r"0*[0-9]{1,15}(?:\.[0-9]+)?")

Level = Sequence[str]
"""A checked ``[price, size]`` pair of decimal strings: the list JSON gave (no copy is made), or a tuple."""


class Dropped(Exception):
    """A frame (or snapshot) that is dropped: ``reason`` is one of the module's reasons, ``detail`` the cause.

    ``resync``: whether the lost input may have changed a book (so the book must be resynced).
    """

    def __init__(self, reason: str, detail: str, *, resync: bool = True) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.resync = resync


def significant_digits(number: str) -> int:
    """Significant digits of a plain decimal string (the rule of ``book_side.check_precision``)."""
    return len(number.replace(".", "").strip("0"))


def plain_decimal(value: object) -> bool:
    """Whether ``value`` is a plain non-negative decimal string a book can hold (``"27.05"``, ``"0"``)."""
    return isinstance(value, str) and len(value) <= MAX_NUMBER_CHARS and _PLAIN_DECIMAL.fullmatch(value) is not None


def decimal_digits(value: object) -> int:
    """:func:`significant_digits` of ``value`` if it is a :func:`plain_decimal` (0: zero), else -1.

    Compiled (``setup.py``) it is one pass over the characters in C, with the limits as C integers (the regex
    and the strip it replaced took ~28 us a Binance depth frame); interpreted, the regex is the faster way.
    Both are the same rule (``tests/marketdata/test_drops.py`` holds them to it). :func:`checked_levels`
    reads a JSON pair's strings with :func:`_ascii_plain`, the same pass without the digit count (a
    depth frame's 36 levels: ~0.75 us, ~1.6 us through this function)."""
    if not isinstance(value, str):
        return -1
    text: str = value if type(value) is str else str.__str__(value)  # a subclass: its characters as a str
    if len(text) > _max_chars:
        return -1
    if not _compiled:
        return significant_digits(text) if _PLAIN_DECIMAL.fullmatch(text) is not None else -1
    return _ascii_digits(text)


def _ascii_digits(text: str) -> int:
    """:func:`decimal_digits` of an exact ``str`` of at most ``_max_chars`` characters (compiled only)."""
    # A plain decimal is ASCII; an ASCII str (every number a JSON parser makes) keeps one byte per character,
    # read here straight from the string's buffer (``drops.pxd``): a third of the time of reading it
    # character by character through the str's kind. Names from drops.pxd exist compiled only.
    if not PyUnicode_IS_ASCII(text):  # type: ignore[name-defined]  # noqa: F821 - drops.pxd's, from Python.h: compiled only
        return -1
    data = PyUnicode_1BYTE_DATA(text)  # type: ignore[name-defined]  # noqa: F821 - drops.pxd's, from Python.h: compiled only
    seen = 0  # digits so far
    first = -1  # index (among the digits) of the first nonzero digit ...
    last = -1  # ... and of the last one
    point = False
    after = 0  # digits after the point
    for i in range(len(text)):
        char = data[i]
        if 48 <= char <= 57:  # "0" to "9"
            if char != 48:
                if first < 0:
                    first = seen
                last = seen
            seen += 1
            if point:
                after += 1
        elif char == 46 and seen and not point:  # "."
            point = True
        else:
            return -1
    if not seen or (point and not after):
        return -1
    return 0 if first < 0 else last - first + 1


def _ascii_plain(text: str) -> int:
    """Whether an exact ``str`` is a plain decimal: -1 not, 0 zero, 1 not zero (compiled only). The check of
    :func:`_ascii_digits` without counting significant digits: all a size needs, and all a price of at most
    ``_max_digits`` characters needs (it cannot have more digits than that)."""
    if not PyUnicode_IS_ASCII(text):  # type: ignore[name-defined]  # noqa: F821 - drops.pxd's, from Python.h: compiled only
        return -1
    data = PyUnicode_1BYTE_DATA(text)  # type: ignore[name-defined]  # noqa: F821 - drops.pxd's, from Python.h: compiled only
    n = len(text)
    digits = 0  # the OR of every digit's value: nonzero iff some digit is
    point = -1
    for i in range(n):
        digit = data[i] - 48
        if digit > 9:  # unsigned: below "0" wraps above 9
            if data[i] != 46 or point >= 0 or i == 0:  # one ".", after a digit
                return -1
            point = i
        else:
            digits |= digit
    if not n or point == n - 1:  # empty, or nothing after the point
        return -1
    return 1 if digits else 0


def checked_levels(raw: object, field: str) -> tuple[list[Level], int]:
    """``raw`` levels checked: the ``(price, size)`` pairs a book may apply, and how many ``over_precise``
    ones were left out. Raises :class:`Dropped` for anything malformed (the whole frame is dropped).

    The usual frame leaves nothing out: the pairs are then ``raw`` itself, not a copy (it is the caller's
    freshly parsed frame; copying 36 levels cost more than checking them)."""
    if not isinstance(raw, list):
        raise Dropped("missing_field", f"{field!r} is not a list of levels")
    levels: list[object] = raw
    over = 0
    for level in levels:
        if type(level) is list:  # a JSON pair: read by index from the typed list, no generic unpacking
            pair: list[object] = level
            if len(pair) != 2:
                raise Dropped("bad_level", f"{field!r} level {_short(level)} is not [price, size]")
            price, size = pair[0], pair[1]
        elif (isinstance(level, tuple) or isinstance(level, list)) and len(level) == 2:  # noqa: SIM101 - no tuple built
            price, size = level
        else:
            raise Dropped("bad_level", f"{field!r} level {_short(level)} is not [price, size]")
        if _compiled and type(price) is str and type(size) is str:
            # As typed str (drops.pxd) their lengths are read in C, not by a generic len() (~5 ns each).
            text: str = price
            amount: str = size
            digits = (_ascii_plain(text) if len(text) <= _max_digits
                      else _ascii_digits(text) if len(text) <= _max_chars else -1)
            size_digits = _ascii_plain(amount) if len(amount) <= _max_chars else -1
        else:
            digits, size_digits = decimal_digits(price), decimal_digits(size)
        if digits < 0 or size_digits < 0:
            raise Dropped("bad_number", f"{field!r} level {_short(level)} is not two plain decimal strings")
        if not digits:
            raise Dropped("bad_number", f"{field!r} level {_short(level)} has a zero price")
        if digits > _max_digits:
            over += 1
    if not over:
        return raw, 0
    return [level for level in raw if decimal_digits(level[0]) <= _max_digits], over


def checked_id(value: object, field: str) -> int:
    """An update id: an integer (not a bool) in ``[0, 2**63)``; else :class:`Dropped` (``bad_id``)."""
    if value is None:
        raise Dropped("missing_field", f"no update id {field!r}")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_ID:
        raise Dropped("bad_id", f"update id {field!r} is {_short(value)}, not an integer in [0, 2**63)")
    return value


def update_ids(first: object, last: object) -> tuple[int, int]:
    """A diff's first and last update ids, checked (``U <= u``); :class:`Dropped` if not."""
    first_id, last_id = checked_id(first, "U"), checked_id(last, "u")
    if first_id > last_id:
        raise Dropped("bad_id", f"U {first_id} > u {last_id}")
    return first_id, last_id


def checked_diff(payload: object, time_key: str, prev_key: str | None) -> tuple[
        list[Level], list[Level], int, int, int | None, int | None, int]:
    """A book update in the shape Binance's ``depthUpdate`` and Gate v4's ``spot.order_book_update`` share,
    checked: update ids ``U`` and ``u`` (:func:`update_ids`), where the venue chains diffs by it the previous
    diff's last id (``prev_key``: Binance futures ``pu``), levels ``b`` then ``a`` (:func:`checked_levels`),
    and the venue's time (``time_key``: Binance ``E``, Gate ``t``; :func:`optional_int`). Returns
    ``(bids, asks, first, last, exchange_ts, prev, over_precise)``, what ``DiffSync.on_diff`` takes
    (``diff_feed.Diff``); :class:`Dropped` as those checks raise it, in that order.

    One compiled call a frame, where a feed's own reading (five lookups and five calls, interpreted) cost ~0.4
    us of a Binance depth frame (``bench/bench_ingest.py``)."""
    if not isinstance(payload, dict):
        raise Dropped("missing_field", "the update is not an object")
    fields: dict[str, object] = payload
    first, last = update_ids(fields.get("U"), fields.get("u"))
    prev = None if prev_key is None else checked_id(fields.get(prev_key), prev_key)
    bids, over_bids = checked_levels(fields.get("b"), "b")
    asks, over_asks = checked_levels(fields.get("a"), "a")
    return bids, asks, first, last, optional_int(fields.get(time_key)), prev, over_bids + over_asks


def capture_side(raw: object, order: int) -> tuple[tuple[str, str], ...] | None:
    """One side of a capture line as the capture reader keeps it (``capture.parse_event``), when it is plainly
    well formed; ``None`` when anything is not, or is not proven by this one pass, and the reader checks the
    side level by level and says what is wrong.

    Plainly well formed: a list of ``[price, size]`` lists of two strings, each a plain decimal of at most 15
    integer digits (leading zeros aside: :data:`BOUNDED_DECIMAL`), each price at most 16 characters (shorter,
    it has at most 15 significant digits: no precision check), and with ``order`` 1 (a snapshot's bids) or
    -1 (its asks), prices strictly descending or ascending as floats (rounding to a float never reverses an
    order, so strictly ordered floats prove the decimals strictly ordered). Compiled, one pass in C over
    each side (``tests/marketdata/test_capture.py`` holds it to the reader's regex rule); the reader calls it
    only then, as interpreted its regex over the joined side is faster."""
    if type(raw) is not list:
        return None
    levels: list[object] = raw
    out: list[tuple[str, str]] = []
    previous = 0.0
    for i in range(len(levels)):
        level = levels[i]
        if type(level) is not list:
            return None
        pair: list[object] = level
        if len(pair) != 2:
            return None
        price, size = pair[0], pair[1]
        if type(price) is not str or type(size) is not str:
            return None
        text: str = price
        if len(text) > 16 or not _bounded_decimal(text) or not _bounded_decimal(size):
            return None
        if order:
            value = float(text)
            if i and (value >= previous if order > 0 else value <= previous):
                return None
            previous = value
        out.append((text, size))
    return tuple(out)


def _bounded_decimal(text: str) -> bool:
    """Whether ``text`` is a plain decimal of at most 15 integer digits, leading zeros aside (``0007.5``)."""
    if not _compiled:
        return BOUNDED_DECIMAL.fullmatch(text) is not None
    if not PyUnicode_IS_ASCII(text):  # type: ignore[name-defined]  # noqa: F821 - drops.pxd's, from Python.h: compiled only
        return False
    data = PyUnicode_1BYTE_DATA(text)  # type: ignore[name-defined]  # noqa: F821 - drops.pxd's, from Python.h: compiled only
    n = len(text)
    i = 0
    while i < n and data[i] == 48:  # leading zeros
        i += 1
    zeros = i
    while i < n and 48 <= data[i] <= 57:
        i += 1
    if i == 0 or i - zeros > 15:  # no integer digit, or 16 or more after the zeros
        return False
    if i == n:
        return True
    if data[i] != 46:  # "."
        return False
    i += 1
    start = i
    while i < n and 48 <= data[i] <= 57:
        i += 1
    return i == n and i > start


def optional_int(value: object) -> int | None:
    """An optional integer (a timestamp in ms, a nonce): kept when in ``[0, 2**63)``, else left out (no drop)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_ID:
        return value
    return None


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class FrameDrops:
    """Dropped frames (and ``over_precise`` levels) per venue and reason; shared by an engine's feeds."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def count(self, venue: str, reason: str, detail: str, n: int = 1) -> None:
        if n <= 0:
            return
        key = (venue, reason)
        before = self.counts[key]
        after = self.counts[key] = before + n
        if _log_point(before, after):
            log.warning("%s: dropped malformed input (%s: %s); %d so far", venue, reason, _short(detail, 200),
                        after)

    def total(self, venue: str | None = None) -> int:
        return sum(n for (v, _r), n in self.counts.items() if venue is None or v == venue)

    def by_venue(self) -> dict[str, dict[str, int]]:
        """``{venue: {reason: count}}``, sorted: the run summary's ``feed_drops``."""
        out: dict[str, dict[str, int]] = {}
        for (venue, reason), n in sorted(self.counts.items()):
            out.setdefault(venue, {})[reason] = n
        return out


def _log_point(before: int, after: int) -> bool:
    """Whether ``(before, after]`` contains 1, 10, 100, ...: the counts worth a log line."""
    point = 1
    while point <= after:
        if point > before:
            return True
        point *= 10
    return False
