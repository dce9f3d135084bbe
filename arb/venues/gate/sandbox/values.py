"""What the sandbox accepts as a pair id, a currency, an amount, a number of seconds: one rule for each, used
by ``arb sandbox``'s arguments, the control API and the fault knobs alike.

Pure (no aiohttp, no matcher): every ``arb`` command's parser imports the sandbox's CLI. Each check raises
``ValueError`` naming the value's name and what it must be; the CLI turns that into a usage error (exit 2),
the control API into a 400.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

# The largest amount or price the sandbox holds: the bound its order API puts on an order's amount and price
# (``arb/venues/gate/sandbox/matching.py``'s ``MAX_NUMBER``), so a balance or a book level can never hold what no order
# could be sized against, and no product of two of them leaves the decimal context's exact range.
MAX_AMOUNT = Decimal("1e15")
# How far the sandbox clock may be moved from its injected clock, in total. It drives Gate's 60 s signature
# window, the rate-limit windows and the orders' and trades' timestamps; tests move it by a minute or so to
# make a client's timestamps stale. A year is far past anything that tests, and keeps every timestamp the
# sandbox writes (milliseconds, as integers) a real date: 1e308 s made every request fail on an overflow.
MAX_CLOCK_OFFSET_S = 365 * 86_400.0
# The longest injected delay (latency, held order response): past any client's timeout, short of a hang.
MAX_DELAY_S = 3_600.0
MAX_COUNT = 1_000  # drop_order_responses: orders to accept and leave unanswered

# Gate's currencies and pairs: upper-case letters and digits ("1INCH", "BTC3L"), a pair BASE_QUOTE.
CURRENCY_RE = re.compile(r"[A-Z0-9]{1,20}")
PAIR_RE = re.compile(r"([A-Z0-9]{1,20})_([A-Z0-9]{1,20})")
# A plain decimal as Gate writes and its clients send it ("1.5"): no sign, exponent, spaces, underscores,
# non-ASCII digits, NaN or Infinity, all of which ``Decimal()`` alone would take.
PLAIN_DECIMAL_RE = re.compile(r"[0-9]{1,40}(?:\.[0-9]{1,40})?")
SIGNED_DECIMAL_RE = re.compile(r"-?[0-9]{1,40}(?:\.[0-9]{1,40})?")


def pair_id(value: object, name: str = "pair") -> str:
    if not isinstance(value, str) or not PAIR_RE.fullmatch(value) or len(set(value.split("_"))) != 2:
        raise ValueError(
            f"{name} must be a Gate currency pair BASE_QUOTE of two different currencies in "
            f"upper-case letters and digits (e.g. LINK_USDT), got {shown(value)}"
        )
    return value


def currency(value: object, name: str = "currency") -> str:
    if not isinstance(value, str) or not CURRENCY_RE.fullmatch(value):
        raise ValueError(
            f"{name} must be a Gate currency: upper-case letters and digits such as USDT, got {shown(value)}"
        )
    return value


def amount(
    value: object,
    name: str,
    *,
    positive: bool = False,
    low: Decimal | None = None,
    high: Decimal = MAX_AMOUNT,
) -> Decimal:
    """A finite decimal in ``[low or 0, high]`` (``> 0`` if ``positive``): a string must be a plain decimal
    ("100", "0.5"); a JSON number arrives as ``int`` or ``Decimal``. Booleans and floats are refused (a float
    is not exact)."""
    if isinstance(value, str):
        if not PLAIN_DECIMAL_RE.fullmatch(value):
            if not _is_decimal(value):
                raise ValueError(f"{name} is not a decimal number: {shown(value)}")
            raise ValueError(
                f"{name} must be a plain decimal number such as 100 or 0.5 (no sign, exponent, NaN "
                f"or Infinity), got {shown(value)}"
            )
        number = Decimal(value)
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        number = Decimal(value)
    else:
        raise ValueError(f"{name} must be a decimal number, got {shown(value)}")
    floor = low if low is not None else Decimal(0)
    if not number.is_finite() or number < floor or (positive and number <= 0) or number > high:
        bound = f"> {floor}" if positive and low is None else f">= {floor}"
        raise ValueError(f"{name} must be a finite number {bound} and at most {high:f}, got {shown(value)}")
    return number


def number(value: object, name: str, low: float, high: float) -> float:
    """A finite number in ``[low, high]`` (seconds, a fraction): a JSON number or a decimal string."""
    if isinstance(value, str):
        if not SIGNED_DECIMAL_RE.fullmatch(value):
            raise ValueError(f"{name} must be a number, got {shown(value)}")
        number = float(value)
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer past any float
            number = math.inf
    else:
        raise ValueError(f"{name} must be a number, got {shown(value)}")
    if not (math.isfinite(number) and low <= number <= high):
        raise ValueError(f"{name} must be a finite number in [{low:g}, {high:g}], got {shown(value)}")
    return number


def count(value: object, name: str, high: int = MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ValueError(f"{name} must be an integer in [0, {high}], got {shown(value)}")
    return value


def flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):  # bool("false") is True: only JSON's true and false
        raise ValueError(f"{name} must be true or false, got {shown(value)}")
    return value


def _is_decimal(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def shown(value: object, limit: int = 40) -> str:
    """A refused value as an error message shows it: its repr, cut short (a body may hold a megabyte)."""
    if isinstance(value, int) and value.bit_length() > 128:  # repr of a 4000-digit integer is slow and long
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
