"""What a screen shows: money rounded for reading, and text from outside made safe for a terminal.

Stored and summed figures stay exact (``arb.accounting``); a screen shows a quote amount to 6 decimal
places (a millionth of a USDT is below any fee) and never in exponent notation (``0E-12`` reads as 0).

Text that came from a user or a file (config keys and values, paths, symbols, database messages) may hold
control characters: an escape sequence would drive the terminal, a newline would forge a second line.
:func:`printable` shows them as Python-style escapes instead.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal

# C0 and C1 controls, DEL, and the bidirectional overrides/isolates that reorder what a line appears to say.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character escaped (``\x1b``, ``\n``, ``\u202e``); the rest unchanged."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)

QUOTE_PLACES = 6


def money(value: Decimal | None, places: int = QUOTE_PLACES) -> str:
    """``-6.168658471655593257`` -> ``-6.168658``; ``0E-12`` -> ``0``; None -> ``-``."""
    if value is None:
        return "-"
    text = format(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
