"""Money as people read it: exact values rounded, for display only, to the digits that mean something.

Stored and summed figures stay exact (``arb.accounting``); a screen shows a quote amount to 6 decimal
places (a millionth of a USDT is below any fee) and never in exponent notation (``0E-12`` reads as 0).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

QUOTE_PLACES = 6


def money(value: Decimal | None, places: int = QUOTE_PLACES) -> str:
    """``-6.168658471655593257`` -> ``-6.168658``; ``0E-12`` -> ``0``; None -> ``-``."""
    if value is None:
        return "-"
    text = format(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
