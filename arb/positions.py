"""Open positions and their unrealized PnL: defined once, here (pure).

A settled pair's ``open_base`` (``arb/accounting.py``) is base it bought or sold without its other side: a
long on its buy venue (bought, never sold) or a short on its sell venue (sold, never bought). It is not in
realized PnL; it is carried at its cost ``open_price``. Valued at a mark, its unrealized PnL is::

    unrealized = amount * (mark - cost)        (amount signed: negative for a short)

**The valuation rule:** the mark is the mid (best bid + best ask) / 2 of the venue's book holding the
position, at the valuation instant: the run's end (or now, live), on the run's clock. In a simulation that is
the capture's book at that instant. No book, no mark: the position is shown, its unrealized PnL is unknown
(None), never 0.

**Equity** of a run = realized PnL + unrealized PnL - transfer fees: what the run made, its open positions
closed at the mark, less what moving its inventory between venues cost (the fees of the transfers that left
their source, ``store/transfers.transfer_fees``, each valued when planned). The fees come off by one rule,
:func:`less_fees`, here and off a perpetual run's holdings (what closed, the equity change at mark and at
unwind); realized PnL stays the pairs' own figure.

Every surface (the run summary, ``arb report``, the status view and metrics) shows positions from
:func:`open_positions`, with the marks the run stored at its end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from arb.accounting import money

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class OpenLot:
    """One pair's open position, as settled."""

    buy_venue: str
    sell_venue: str
    symbol: str  # BASE/QUOTE
    amount: Decimal  # open_base: > 0 long (on the buy venue), < 0 short (on the sell venue)
    cost: Decimal  # open_price

    @property
    def venue(self) -> str:
        return self.buy_venue if self.amount > 0 else self.sell_venue


@dataclass(frozen=True, slots=True)
class Position:
    venue: str
    symbol: str
    amount: Decimal  # base, signed
    cost: Decimal  # average cost, quote per base
    mark: Decimal | None  # the venue's mid at the valuation instant
    unrealized: Decimal | None  # quote; None without a mark

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]

    @property
    def notional(self) -> Decimal:
        """What the position is worth at its mark (at its cost without one), in quote, unsigned."""
        return abs(self.amount) * (self.mark if self.mark is not None else self.cost)


def open_positions(lots: Iterable[OpenLot], marks: Mapping[tuple[str, str], Decimal | None]) -> list[Position]:
    """Lots summed per (venue, symbol), at their average cost, valued at ``marks[(venue, symbol)]``. A
    venue's longs and shorts of one symbol net against each other (the cost of what is left is the
    average of the side that is left)."""
    sums: dict[tuple[str, str], dict[str, Decimal]] = {}
    for lot in lots:
        if not lot.amount:
            continue
        side = "long" if lot.amount > 0 else "short"
        acc = sums.setdefault((lot.venue, lot.symbol), {"long": ZERO, "long_cost": ZERO, "short": ZERO,
                                                       "short_cost": ZERO})
        acc[side] += lot.amount
        acc[f"{side}_cost"] += lot.amount * lot.cost
    out = []
    for (venue, symbol), acc in sorted(sums.items()):
        amount = acc["long"] + acc["short"]
        if not amount:
            continue
        side = "long" if amount > 0 else "short"
        cost = acc[f"{side}_cost"] / acc[side]
        mark = marks.get((venue, symbol))
        unrealized = money(amount * (mark - cost)) if mark is not None else None
        out.append(Position(venue, symbol, amount, money(cost), mark, unrealized))
    return out


def unrealized_total(positions: Iterable[Position]) -> dict[str, Decimal | None]:
    """Unrealized PnL per quote currency; None for a currency where a position has no mark."""
    totals: dict[str, Decimal | None] = {}
    for p in positions:
        if p.quote in totals and totals[p.quote] is None:
            continue
        totals[p.quote] = None if p.unrealized is None else (totals.get(p.quote) or ZERO) + p.unrealized
    return totals


def equity(realized: Decimal, unrealized: Mapping[str, Decimal | None],
           quotes: Iterable[str] = (), transfer_fees: Mapping[str, Decimal] | None = None) -> dict[str, Decimal | None]:
    """Equity per quote currency: ``realized`` + that currency's unrealized PnL (``unrealized_total``) - its
    ``transfer_fees``, for every currency with an open position, with transfer fees, and every one of
    ``quotes`` (with none open: realized); None where a position has no mark."""
    fees = transfer_fees or {}
    out: dict[str, Decimal | None] = {q: realized for q in (*quotes, *fees)}
    for quote, value in unrealized.items():
        out[quote] = None if value is None else realized + value
    return less_fees(out, fees)


def less_fees(values: Mapping[str, Decimal | None], fees: Mapping[str, Decimal]) -> dict[str, Decimal | None]:
    """Figures per currency less that currency's transfer fees (a currency only in ``fees``: from 0; unknown
    stays unknown): the rule by which transfer fees come off a run's equity, here and in a perpetual run's
    holdings (``runtime/summary.holdings_now``)."""
    out = dict(values)
    for currency, fee in fees.items():
        held = out.get(currency, ZERO)
        out[currency] = None if held is None else held - fee
    return out


def mid(best_bid: Decimal | None, best_ask: Decimal | None) -> Decimal | None:
    """The valuation rule's mark: the mid; None when either side is empty."""
    if best_bid is None or best_ask is None:
        return None
    return (best_bid + best_ask) / 2
