"""What a screen shows: numbers rounded to what they mean, and text from outside made safe for a terminal.

Stored and summed figures stay exact (``arb.accounting``, the database, ``--format json``); everything a
person reads (the status line, the run summary, ``arb report`` table and csv, ``arb trades``, ``arb
balances``) goes through this module, never in exponent notation (``0E-12`` reads as 0) and never with
28 digits of arithmetic residue.

How many decimal places, per asset (:class:`Precision`, derived from the run's market rules, rounded half
to even, trailing zeros dropped):

- a **quote** asset (USDT) and every PnL figure in it: the places of ``price_step * amount_step``, the
  smallest notional an order can change by (Gate LINK/USDT 0.001 * 0.01: 5 places; HTX 0.0001 * 0.01: 6).
  Quote fees are finer (rate * notional), but a millionth of a USDT is below any decision;
- a **base** asset (LINK): the places of ``amount_step * taker_fee``, so a balance that paid a fee in base
  (``0.00032 * 20.00 = 0.0064`` LINK) shows it exactly instead of rounding it into the next amount step;
- an asset the run's rules do not describe (a live venue's market, a fee token): ``DEFAULT_PLACES`` (8);
- prices: the places of ``price_step``; ratios (fill ratio): 4 significant digits (``RATIO_DIGITS``).

An asset on several venues (or in several markets) takes the finest places among them for totals; a
venue's own row uses that venue's.

Text that came from a user or a file (config keys and values, paths, symbols, database messages) may hold
control characters: an escape sequence would drive the terminal, a newline would forge a second line.
:func:`printable` shows them as Python-style escapes instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

# C0 and C1 controls, DEL, and the bidirectional overrides/isolates that reorder what a line appears to say.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character escaped (``\x1b``, ``\n``, ``\u202e``); the rest unchanged."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


# Characters of a user's value (a file name, a revision) an error line shows whole: a deep path is often over
# 100 and is what the user needs to see; a 5,000-character name is not echoed.
SHOWN_MAX = 300


def shorten(text: str, limit: int = SHOWN_MAX) -> str:
    """``text`` as an error line shows it: whole up to ``limit`` characters; longer, its start and end around
    an ellipsis and its length (a 5,000-character file name is not echoed whole)."""
    if len(text) <= limit:
        return text
    tail = max(limit // 4, 1)
    return f"{text[:limit - tail]}...{text[-tail:]} ({len(text):,} characters)"


QUOTE_PLACES = 6  # money()'s default: a millionth of a USDT is below any fee
DEFAULT_PLACES = 8  # an asset no market rule describes
RATIO_DIGITS = 4
MS_PLACES = 3  # latencies: stored to the microsecond


ROUTE = "buy -> sell"
"""The header of a route's column on every surface (``arb report``, ``arb trades``, ``--by route``, the run
summary, the dashboard, the notebooks)."""


def route(buy_venue: str, sell_venue: str) -> str:
    """A route as every surface names it: the venue it buys on, then the one it sells on. A maker pair is
    named so too (a bid quote buys on the maker venue and its hedge sells on the taker; an ask, the other way
    round), never maker -> taker, which reads as the opposite route for an ask."""
    return f"{buy_venue} -> {sell_venue}"


def money(value: Decimal | None, places: int = QUOTE_PLACES) -> str:
    """``-6.168658471655593257`` -> ``-6.168658``; ``0E-12`` -> ``0``; None -> ``-``."""
    if value is None:
        return "-"
    # Enough digits for any magnitude: the default 28 would raise on 1e15 at 14 places.
    context = Context(prec=max(28, value.adjusted() + places + 2), rounding=ROUND_HALF_EVEN)
    return _trim(format(value.quantize(Decimal(1).scaleb(-places), context=context), "f"))


def held_what(held: Mapping[str, Any], places: int) -> str:
    """What one row of a run's kept holdings (``arb/valuation.py``) is, as every table shows it: a spot change,
    a position, or a position's change beside what it held at the run's start and its end (its ``amount`` is
    the change); amounts at ``places``."""
    if not held.get("position", held["linear"]):
        return "spot change"
    opening = Decimal(str(held.get("opening") or 0))  # a summary kept before openings were: none
    if not opening:
        return "position"
    at_end = opening + Decimal(str(held["amount"]))
    return f"position change ({money(opening, places)} held at the start, {money(at_end, places)} at the end)"


def ratio(value: Decimal | None, digits: int = RATIO_DIGITS) -> str:
    """``digits`` significant digits: ``0.93751`` -> ``0.9375``, ``1`` -> ``1``, ``0.000123456`` ->
    ``0.0001235``; None -> ``-``."""
    if value is None:
        return "-"
    if value.is_zero():
        return "0"
    exponent = value.adjusted() - digits + 1
    rounded = value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN)
    if rounded.adjusted() > value.adjusted():  # 9.99995 -> 10.000: one digit too many now
        rounded = rounded.quantize(Decimal(1).scaleb(exponent + 1), rounding=ROUND_HALF_EVEN)
    return _trim(format(rounded, "f"))


def _trim(text: str) -> str:
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def step_places(step: Decimal) -> int:
    """Decimal places a step needs: ``0.001`` -> 3, ``0.00032`` -> 5, ``0.0010`` -> 3, ``5`` -> 0."""
    return max(0, -int(step.normalize().as_tuple().exponent))


@dataclass(frozen=True, slots=True)
class Figure:
    """An exact value and how a screen shows it: at ``places`` decimals, or (``places`` None) as a ratio.

    Tables and csv print ``str(figure)``; json prints :attr:`exact`."""

    value: Decimal
    places: int | None = DEFAULT_PLACES

    def __str__(self) -> str:
        return ratio(self.value) if self.places is None else money(self.value, self.places)

    @property
    def exact(self) -> str:
        return format(self.value, "f")


@dataclass(frozen=True, slots=True)
class Precision:
    """Decimal places per asset (finest across venues), per (venue, asset), and per symbol's price."""

    assets: Mapping[str, int] = field(default_factory=dict)
    venue_assets: Mapping[tuple[str, str], int] = field(default_factory=dict)
    prices: Mapping[str, int] = field(default_factory=dict)

    def asset(self, asset: str, venue: str | None = None) -> int:
        """Places for an amount of ``asset`` (on ``venue``: that venue's, else the finest across venues)."""
        if venue is not None and (venue, asset) in self.venue_assets:
            return self.venue_assets[(venue, asset)]
        return self.assets.get(asset, DEFAULT_PLACES)

    def price(self, symbol: str) -> int:
        return self.prices.get(symbol, DEFAULT_PLACES)

    def quote(self, symbol: str) -> int:
        """Places for money in ``symbol``'s quote currency (its PnL, fees, expected profit)."""
        return self.asset(symbol.partition("/")[2])

    def base(self, symbol: str, *venues: str) -> int:
        """Places for a base amount of ``symbol``: the finest of ``venues``' (all venues' when none given)."""
        base = symbol.partition("/")[0]
        return max((self.asset(base, v) for v in venues), default=self.asset(base))

    def pnl(self) -> int:
        """Places for a run's PnL total: the finest of its quote currencies (``DEFAULT_PLACES`` with no rules)."""
        quotes = {symbol.partition("/")[2] for symbol in self.prices}
        return max((self.asset(q) for q in quotes), default=DEFAULT_PLACES)

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any] | None) -> Precision:
        """From a config snapshot (``Config.snapshot()``, a run's ``config_snapshot``): each venue's
        ``markets`` steps and ``taker_fee``. Anything missing or malformed leaves the default in place."""
        venues = (snapshot or {}).get("venues") or {}
        assets: dict[str, int] = {}
        venue_assets: dict[tuple[str, str], int] = {}
        prices: dict[str, int] = {}

        def finest(table: dict[Any, int], key: Any, places: int) -> None:
            table[key] = max(table.get(key, 0), places)

        for venue, section in venues.items() if isinstance(venues, Mapping) else ():
            if not isinstance(section, Mapping):
                continue
            fee = _decimal(section.get("taker_fee")) or Decimal(0)
            for symbol, market in (section.get("markets") or {}).items():
                price_step = _decimal(market.get("price_step")) if isinstance(market, Mapping) else None
                amount_step = _decimal(market.get("amount_step")) if isinstance(market, Mapping) else None
                base, slash, quote = str(symbol).partition("/")
                if price_step is None or amount_step is None or not slash:
                    continue
                base_places = step_places(amount_step) + step_places(fee)
                quote_places = step_places(price_step) + step_places(amount_step)
                for asset, places in ((base, base_places), (quote, quote_places)):
                    finest(venue_assets, (venue, asset), places)
                    finest(assets, asset, places)
                finest(prices, str(symbol), step_places(price_step))
        return cls(assets, venue_assets, prices)


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, float | bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number > 0 else None
