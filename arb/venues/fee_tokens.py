"""Fees charged in a fee token (a currency that is neither the market's base nor its quote: Gate's GT):
the fill keeps the fee in that token, as charged, and carries the token's price in the quote
(``FillReport.fee_price``) when the venue knows one, so that the accounting values it rather than
counting it as free (``arb/accounting.py``). A venue with fee tokens gives its :class:`FeeMarks`
(``arb/venues/gate/fee_marks.py``); every other venue's fills carry None.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from arb.domain.venue import FillReport


class FeeMarks(Protocol):
    @property
    def stale(self) -> bool: ...

    def price(self, currency: str, quote: str) -> Decimal | None: ...

    async def refresh(self) -> None: ...


def in_token(fill: FillReport) -> bool:
    """Whether the fill's fee was charged in neither of its market's currencies."""
    return bool(fill.fee) and fill.fee_currency not in _currencies(fill.symbol)


def priced(marks: FeeMarks, fill: FillReport) -> FillReport:
    """``fill`` with its fee token's price as ``marks`` have it now (unchanged if its fee is not in one)."""
    if not in_token(fill):
        return fill
    return dataclasses.replace(fill, fee_price=marks.price(fill.fee_currency, _currencies(fill.symbol)[1]))


async def priced_fees(marks: FeeMarks, fills: Sequence[FillReport]) -> list[FillReport]:
    """The fills, those charged in a fee token priced; the prices read first if they are stale."""
    if any(in_token(f) for f in fills) and marks.stale:
        await marks.refresh()
    return [priced(marks, f) for f in fills]


def _currencies(symbol: str) -> tuple[str, str]:
    """Base and quote of a spot symbol, or of a ccxt contract's (``BTC/USDT:USDT``)."""
    base, _, quote = symbol.partition(":")[0].partition("/")
    return base, quote
