"""Markets, sides and the per-venue trading rules that every order must respect."""

from __future__ import annotations

import decimal
import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import ParamSpec, TypeVar

# The range of exact numbers arb is built for, checked where they enter (config, venue rules).
MAX_QUANTITY = Decimal("1e15")
"""The largest amount, price, balance or money limit: a quadrillion units, beyond any real one."""
MIN_STEP = Decimal("1e-18")
"""The finest price or amount step: 18 decimals (an ERC-20 token's wei); no venue states more."""
_MAX_STEP_PLACES = -int(MIN_STEP.as_tuple().exponent)  # 18: a step in range may still have more (check_step)
# Digits for rounding to a step: MAX_QUANTITY / MIN_STEP has 34 integer digits, plus the step's own
# digits. Python's default context has 28 and raises InvalidOperation past them.
_ROUNDING_PRECISION = 60
_ROUNDING = decimal.Context(prec=_ROUNDING_PRECISION)  # the default context's traps, at that precision
EXACT = decimal.Context(prec=100, rounding=decimal.ROUND_HALF_EVEN,
                        traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])
"""Where amounts, prices, balances and fee rates are added, subtracted and multiplied and must stay exact: each
has at most 34 digits (``MAX_QUANTITY`` to ``MIN_STEP``), a product of two 68, with a fee rate's a few more.
Python's default context keeps 28 (a balance of 10^10 to 18 places has 29), and ccxt leaves it rounding half
up. Not trapping ``Inexact``: a deliberate rounding (a ``quantize`` with its own rule) may run inside it."""
_P = ParamSpec("_P")
_R = TypeVar("_R")


def exact(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """``function`` run in :data:`EXACT`, whatever context its caller's thread is in (~0.4 µs a call)."""
    @functools.wraps(function)
    def in_exact(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with decimal.localcontext(EXACT):
            return function(*args, **kwargs)
    return in_exact


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class MarketKind(enum.StrEnum):
    """What a market is (ccxt's market ``type``/``linear``/``inverse``): a spot wallet market, or a perpetual
    whose fills move a position (``arb/margin.py``): a linear one settled in its quote, amounts in base; an
    inverse one (Binance COIN-M) settled in its base coin, amounts in contracts of ``MarketRules.contract_size``
    quote each. Dated futures are not simulated: the config refuses them with a line saying so."""

    SPOT = "spot"
    LINEAR_PERPETUAL = "linear_perpetual"
    INVERSE_PERPETUAL = "inverse_perpetual"

    @property
    def derivative(self) -> bool:
        return self is not MarketKind.SPOT


@dataclass(frozen=True, slots=True)
class Symbol:
    """A ccxt unified spot symbol, ``BASE/QUOTE``."""

    base: str
    quote: str

    @staticmethod
    def parse(text: str) -> Symbol:
        """``BASE/QUOTE`` -> its Symbol. Kept per text (a run trades a handful of symbols and the executor
        asks once per pair, on its way to the wire); a malformed one raises every time."""
        return _parse_symbol(text)

    @staticmethod
    def parse_market(text: str) -> Symbol:
        """A venue's name for a market as ccxt spells it: ``BASE/QUOTE``, or a contract's ``BASE/QUOTE:SETTLE``
        (``ETH/USDT:USDT``, a USDT perpetual); the pair it trades."""
        pair, _, settle = text.partition(":")
        if settle and not (settle.isalnum() and settle.upper() == settle):
            raise ValueError(f"malformed market {text!r}: expected BASE/QUOTE or BASE/QUOTE:SETTLE in upper case")
        return _parse_symbol(pair)

    def __str__(self) -> str:
        return f"{self.base}/{self.quote}"


@functools.lru_cache(maxsize=1024)
def _parse_symbol(text: str) -> Symbol:
    parts = text.split("/")
    if len(parts) != 2 or not all(p and p.isalnum() and p.upper() == p for p in parts):
        raise ValueError(f"malformed symbol {text!r}: expected BASE/QUOTE in upper case, e.g. BTC/USDT")
    return Symbol(parts[0], parts[1])


@dataclass(frozen=True, slots=True)
class MarketRules:
    """What a venue accepts for one symbol. All values exact.

    ``price_step`` and ``amount_step`` are the tick sizes (e.g. ``Decimal("0.01")``); Gate states them as
    decimal counts (``precision``, ``amount_precision``), ccxt as ticks: both normalize to a step.
    """

    venue: str
    symbol: str
    price_step: Decimal
    amount_step: Decimal
    min_amount: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    kind: MarketKind = MarketKind.SPOT
    # An inverse perpetual's contract: the quote one contract is worth (Binance COIN-M: 100 USD on BTC, 10 on
    # the others); its amounts, steps and minimum are in contracts. None on spot and linear markets (base).
    contract_size: Decimal | None = None

    def __post_init__(self) -> None:
        if (self.kind is MarketKind.INVERSE_PERPETUAL) != (self.contract_size is not None):
            raise ValueError(f"{self.venue} {self.symbol}: an inverse perpetual, and only one, has a contract size "
                             f"({self.kind}, contract_size {self.contract_size})")
        if self.contract_size is not None and not (self.contract_size.is_finite() and self.contract_size > 0):
            raise ValueError(f"{self.venue} {self.symbol}: contract size must be positive, got {self.contract_size}")

    def round_amount(self, amount: Decimal) -> Decimal:
        """Amounts always round down: never trade more than was sized."""
        return quantize_step(amount, self.amount_step, ROUND_DOWN)

    def round_price(self, price: Decimal, side: Side) -> Decimal:
        """Limit prices round toward the safe side: a buy limit down, a sell limit up.

        Rounding a buy limit up would allow paying more than detection priced.
        """
        return quantize_step(price, self.price_step, ROUND_FLOOR if side is Side.BUY else ROUND_CEILING)


BPS = Decimal(10_000)


def widen(price: Decimal, side: Side, allowance_bps: Decimal) -> Decimal:
    """Allow ``allowance_bps`` worse than ``price``: higher for a buy, lower for a sell (an IOC limit)."""
    factor = allowance_bps / BPS
    return price * (1 + factor) if side is Side.BUY else price * (1 - factor)


def check_step(step: Decimal) -> None:
    """A price or amount step arb can trade on, checked where a step enters (config validation, a venue's rules
    at open): :func:`check_step_range`, and no more than 18 decimal places, as :data:`MIN_STEP` says. A step
    in range with more places (``1.54353275689598969e-10``: 27) made amounts of 29 digits, which the default
    context's 28-digit arithmetic rounded: a paper order's fill came out above its own amount and the run
    failed. Raises ValueError saying what is wrong."""
    check_step_range(step)
    # as_tuple() only here, not in check_step_range: rounding checks the step every time it rounds.
    if int(step.as_tuple().exponent) < -_MAX_STEP_PLACES:  # finite (checked): an int exponent
        places = -int(step.normalize().as_tuple().exponent)
        if places > _MAX_STEP_PLACES:
            raise ValueError(f"step {step} has {places} decimal places: no venue states more than 18")


def check_step_range(step: Decimal) -> None:
    """A price or amount step arb can round to: finite, from :data:`MIN_STEP` to :data:`MAX_QUANTITY`.
    Raises ValueError saying what is wrong."""
    if not step.is_finite() or step <= 0:
        raise ValueError(f"step must be a positive number, got {step}")
    if step < MIN_STEP:
        raise ValueError(f"step {step} is finer than 1e-18: no venue states more than 18 decimals")
    if step > MAX_QUANTITY:
        raise ValueError(f"step {step} is larger than 1e15")


def on_step(value: Decimal, step: Decimal) -> bool:
    """Whether ``value`` is a whole multiple of ``step``, exactly. ``value % step`` in the default context (28
    digits) raises DivisionImpossible when the quotient has more digits than that (a quote size of 1e15 on a
    1e-14 step: 1e29 steps); arb's range (:data:`MAX_QUANTITY` over :data:`MIN_STEP`, 33 digits) fits the
    rounding context's 60. A quotient past even those is no multiple arb could trade: False."""
    try:
        return not _ROUNDING.remainder(value, step)
    except decimal.InvalidOperation:
        return False


def quantize_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """Round ``value`` to a multiple of ``step`` with the given rounding mode, exactly.

    Detection's finalize and every order's plan round here, four times a pair on the way to the wire: the
    context is passed to each operation rather than entered (``localcontext`` cost ~0.5 µs a call), and a
    step below 1, whose exponent is negative, is told by ``adjusted()`` without building ``as_tuple()``."""
    check_step_range(step)
    units = _ROUNDING.divide(value, step).to_integral_value(rounding=rounding, context=_ROUNDING)
    multiple = _ROUNDING.multiply(units, step)
    if step.adjusted() < 0:
        return multiple.quantize(step, context=_ROUNDING)
    exponent = step.as_tuple().exponent
    assert isinstance(exponent, int)  # finite decimals have an int exponent ('n'/'N'/'F' are NaN/inf)
    return multiple.quantize(step, context=_ROUNDING) if exponent < 0 else multiple


def step_from_decimals(decimals: int) -> Decimal:
    """Gate's ``precision: 2`` -> ``Decimal('0.01')``."""
    return Decimal(1).scaleb(-decimals)
