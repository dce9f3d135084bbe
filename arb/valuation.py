"""What a run did to the desk's holdings, valued at the run's end: defined once, here (pure).

Realized PnL (``arb/accounting.py``) settles each pair on its own; it cannot see what a pair leaves held
across venues that are not the same asset. A spot-perpetual pair that sells spot and buys the perpetual has
no open base in its own books, yet the desk now holds a **basis position**: short spot, long a perpetual,
worth what the two books say at the end, not what they said at entry. This module values the run's change
to every venue's holdings, so the figure a trader reads is what the desk is worth:

- **what changed**, per venue: each asset's wallet change the fills and funding payments imply
  (``arb.inventory.implied_changes``: on a spot venue, base and quote; on a perpetual, the settle currency by
  its fees, what reductions realized and the funding paid or received), and each perpetual's **position**
  (``arb.margin``: signed amount, entry). A linear perpetual settles in its quote; an inverse one (amounts in
  contracts) in its base coin, which is then a currency of the equity of its own: its position's figures and
  its venue's coin change are in that coin, never converted;
- **at mark**: base valued at its venue's mid, a position by its unrealized PnL at that mid;
- **at unwind**: what closing every change would get, walking the end books' depth with the venue's taker
  fee: a base or position held long sold into the bids, one held short bought from the asks (a spot buy's
  fee counted on top of its notional, whichever currency the venue takes it in). A book too thin to
  close what is held gives no unwind value (None), never a partial one.

``equity_at_mark`` and ``equity_at_unwind`` (per quote currency, and per inverse perpetual's settle coin) are
those currencies' changes plus those values. ``realized`` is what **closed**: the quote-currency changes with what is still held put back at its
average cost (each spot market's change and each position run through ``arb.margin.apply_fill``), so
``equity_at_mark = realized + unrealized`` of what is held. A spot-perpetual basis has realized only its
fees (and funding) until it is unwound; a pair's own ``realized_pnl`` (``arb/accounting.py``) counts its
entry spread, the figure the run's pairs are settled by. Assets that are neither a traded market's base nor a quote (a fee token) are listed in ``unvalued``.
A run holding a position against an opposite spot change of the same base holds a **basis**
(:attr:`Valuation.basis`): what the summary says in one line, with what unwinding it costs.

The run summary computes this at the run's end (the books exist then) and keeps it; ``arb report``, the
dashboard and the metrics read the kept figures.
"""

from __future__ import annotations

import dataclasses
import decimal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from arb.accounting import money
from arb.inventory import FillFlow, FundingFlow, implied_changes
from arb.margin import PositionState, apply_fill, position_pnl, settle_value
from arb.positions import mid

ZERO = Decimal(0)
Level = tuple[Decimal, Decimal]
_PRECISION = 60


@dataclass(frozen=True, slots=True)
class EndBook:
    """One venue's book of one market at the valuation instant, and that venue's taker fee."""

    bids: Sequence[Level]
    asks: Sequence[Level]
    taker_fee: Decimal
    stale_ms: int | None = None  # how old the book was, when older than the run's stale bound: said, not hidden


@dataclass(frozen=True, slots=True)
class Held:
    """One venue's change in one market: a spot venue's base change, or a perpetual's position."""

    venue: str
    symbol: str
    linear: bool  # a linear perpetual's position
    amount: Decimal  # base (an inverse position's: contracts): > 0 held long (bought more than sold)
    entry: Decimal | None  # its average cost (a position's entry), to 1e-12; None: unknown
    mark: Decimal | None  # the venue's mid at the end
    at_mark: Decimal | None  # spot: amount x mark; a position: its unrealized PnL at the mark
    at_unwind: Decimal | None  # spot: what closing it gets (< 0: what buying back costs); a position: its PnL closed there
    stale_ms: int | None = None  # its book's age at the end, when stale
    contract_size: Decimal | None = None  # an inverse perpetual's position: quote per contract
    # A position's amount held before the run (a live venue's, left by an earlier run or traded elsewhere):
    # not the run's change, and not valued here; what the desk holds at the end is ``opening + amount``.
    opening: Decimal = ZERO

    @property
    def held_at_end(self) -> Decimal:
        return self.opening + self.amount

    @property
    def position(self) -> bool:
        """A perpetual's position (linear or inverse), not a spot change."""
        return self.linear or self.contract_size is not None

    @property
    def base(self) -> str:
        return self.symbol.partition("/")[0]

    @property
    def settle(self) -> str:
        """The currency its ``at_mark`` and ``at_unwind`` are in: an inverse position's base coin, else the quote."""
        return self.base if self.contract_size is not None else self.symbol.partition("/")[2]


@dataclass(frozen=True, slots=True)
class Valuation:
    cash: dict[str, Decimal]  # quote currency -> the run's change in it, every venue's
    held: list[Held]
    unvalued: dict[tuple[str, str], Decimal]  # (venue, asset) changes no market values
    equity_at_mark: dict[str, Decimal | None]
    equity_at_unwind: dict[str, Decimal | None]
    funding: dict[str, Decimal] = dataclasses.field(default_factory=dict)  # currency -> received (< 0: paid), in cash
    # What closed, per quote currency: reductions' realized PnL, fees and funding; what is held is open.
    # ``equity_at_mark = realized + unrealized`` of what is held. None where a held change has no known cost.
    realized: dict[str, Decimal | None] = dataclasses.field(default_factory=dict)

    @property
    def positions(self) -> list[Held]:
        return [h for h in self.held if h.position]

    @property
    def basis(self) -> list[tuple[Held, Held]]:
        """(spot change, position) pairs of one base on opposite sides: the basis the run ends holding."""
        out = []
        for position in self.positions:
            for spot in self.held:  # a position the run leaves held, against the run's opposite spot change
                if not spot.position and spot.base == position.base and spot.amount * position.held_at_end < 0:
                    out.append((spot, position))
        return out


def value_holdings(fills: Iterable[FillFlow], books: Mapping[tuple[str, str], EndBook],
                   funding: Iterable[FundingFlow] = (),
                   opening: Mapping[tuple[str, str], Decimal] | None = None) -> Valuation:
    """The run's change to every venue's holdings from its ``fills`` (in the order they happened) and its
    ``funding`` payments, valued at ``books[(venue, symbol)]`` (the end books). ``opening``: the perpetual
    positions held at the run's start, (venue, symbol) -> amount, said beside the run's change (a position
    held throughout is listed with no change)."""
    with decimal.localcontext() as ctx:
        ctx.prec = _PRECISION
        funding = list(funding)
        valued = _value(list(fills), books, funding, opening or {})
        paid: dict[str, Decimal] = {}
        for payment in funding:
            paid[payment.currency] = paid.get(payment.currency, ZERO) + payment.amount
        return dataclasses.replace(valued, funding=paid)


def _value(fills: list[FillFlow], books: Mapping[tuple[str, str], EndBook], funding: list[FundingFlow],
           opening: Mapping[tuple[str, str], Decimal]) -> Valuation:
    changes = implied_changes(fills, funding)
    markets: dict[tuple[str, str], FillFlow] = {}  # (venue, symbol) -> its first fill, in first-fill order
    positions: dict[tuple[str, str], PositionState] = {}
    spot: dict[tuple[str, str], PositionState] = {}  # each spot market's base change, at its average cost
    for fill in fills:
        key = (fill.venue, fill.symbol)
        markets.setdefault(key, fill)
        ledger = positions if fill.position else spot
        before = ledger.get(key) or PositionState(contract_size=fill.contract_size)
        ledger[key] = apply_fill(before, fill.side, fill.price, fill.amount)[0]
        if not fill.position and fill.fee_currency == fill.symbol.partition("/")[0] and fill.fee:
            # A fee taken in base leaves less base at the same cost: what it was worth is spent, not realized.
            ledger[key] = PositionState(ledger[key].amount - fill.fee, ledger[key].entry)
    # The currencies the equity is in: every market's quote but an inverse perpetual's, whose settle coin (its
    # base, on its venue only) is one instead.
    quotes = {symbol.partition("/")[2] for (_, symbol), first in markets.items() if first.contract_size is None}
    settles = {(venue, symbol.partition("/")[0]) for (venue, symbol), first in markets.items()
               if first.contract_size is not None}
    base_market: dict[tuple[str, str], str] = {}  # (venue, base asset) -> the symbol whose book values it
    for (venue, symbol), first in markets.items():
        if not first.position:
            base_market.setdefault((venue, symbol.partition("/")[0]), symbol)

    cash: dict[str, Decimal] = {q: ZERO for q in sorted(quotes | {coin for _, coin in settles})}
    held: list[Held] = []
    unvalued: dict[tuple[str, str], Decimal] = {}
    for (venue, asset), change in sorted(changes.items()):
        if asset in quotes or (venue, asset) in settles:
            cash[asset] += change
        elif (venue, asset) in base_market:
            symbol = base_market[(venue, asset)]
            if change:
                bought = spot.get((venue, symbol))
                # Its cost: the market's average, when that market holds all of the asset's change here.
                cost = bought.entry if bought is not None and bought.amount == change else None
                held.append(_spot(venue, symbol, change, cost, books.get((venue, symbol))))
        elif change:
            unvalued[(venue, asset)] = change
    for key in sorted(set(positions) | {k for k, amount in opening.items() if amount}):
        position = positions.get(key) or PositionState()
        if position.amount or opening.get(key):
            held.append(dataclasses.replace(_position(*key, position, books.get(key)), opening=opening.get(key, ZERO)))

    at_mark: dict[str, Decimal | None] = dict(cash)
    at_unwind: dict[str, Decimal | None] = dict(cash)
    # What closed: the cash change with what is still held put back at its cost (a position's cost is in no
    # cash: it realizes only as it reduces). The rest of the equity is the unrealized PnL of what is held.
    realized: dict[str, Decimal | None] = dict(cash)
    for h in held:
        currency = h.settle
        at_cost = ZERO if h.position else None if h.entry is None else h.amount * h.entry
        for totals, value in ((at_mark, h.at_mark), (at_unwind, h.at_unwind), (realized, at_cost)):
            current = totals[currency]
            totals[currency] = None if current is None or value is None else current + value
    return Valuation({q: money(v) for q, v in cash.items()}, held, unvalued,
                     {q: None if v is None else money(v) for q, v in at_mark.items()},
                     {q: None if v is None else money(v) for q, v in at_unwind.items()},
                     realized={q: None if v is None else money(v) for q, v in realized.items()})


def _spot(venue: str, symbol: str, amount: Decimal, cost: Decimal | None, book: EndBook | None) -> Held:
    mark = None if book is None else mid(_best(book.bids), _best(book.asks))
    unwind = None if book is None else _close(amount, book)
    return Held(venue, symbol, False, amount, None if cost is None else money(cost), mark, None if mark is None else money(amount * mark),
                None if unwind is None else money(unwind), None if book is None else book.stale_ms)


def _position(venue: str, symbol: str, position: PositionState, book: EndBook | None) -> Held:
    mark = None if book is None else mid(_best(book.bids), _best(book.asks))
    pnl = None if book is None else _unwind(position, book)
    return Held(venue, symbol, not position.inverse, position.amount, money(position.entry), mark,
                None if mark is None else money(position.unrealized(mark)), None if pnl is None else money(pnl),
                None if book is None else book.stale_ms, position.contract_size)


def _unwind(position: PositionState, book: EndBook) -> Decimal | None:
    """The PnL of closing ``position`` into ``book`` (a long sold into the bids, a short bought from the asks),
    each level's part realized against the entry (``arb.margin.position_pnl``), the taker fee on its value
    paid; None when the book cannot take it all."""
    levels = book.bids if position.amount > 0 else book.asks
    sign = 1 if position.amount > 0 else -1
    left, pnl, value = abs(position.amount), ZERO, ZERO
    for price, size in levels:
        take = min(left, size)
        pnl += position_pnl(sign * take, position.entry, price, position.contract_size)
        value += settle_value(take, price, position.contract_size)
        left -= take
        if not left:
            break
    return None if left else pnl - value * book.taker_fee


def _close(amount: Decimal, book: EndBook) -> Decimal | None:
    """Selling ``amount`` (> 0) into the bids gets what it returns net of the fee; buying ``-amount`` from the
    asks, minus what it costs with the fee. None when the book cannot take it all."""
    levels = book.bids if amount > 0 else book.asks
    left, notional = abs(amount), ZERO
    for price, size in levels:
        take = min(left, size)
        notional += take * price
        left -= take
        if not left:
            break
    if left:
        return None
    return notional * (1 - book.taker_fee) if amount > 0 else -notional * (1 + book.taker_fee)


def _best(levels: Sequence[Level]) -> Decimal | None:
    return levels[0][0] if levels else None
