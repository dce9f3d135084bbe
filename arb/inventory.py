"""The inventory check: do a run's recorded balances agree with what its fills imply? Pure: no I/O.

Per venue and asset:

- ``start``, ``end``: the totals (free + used) of the run's ``start`` and ``end`` balance snapshots;
- ``implied``: the change the run's fills imply. A buy adds its amount to base and takes ``price *
  amount`` from quote; a sell does the reverse; every fee comes out of its own currency (base, quote, or a
  third asset such as a fee token, which is then a row of its own). On a perpetual a fill moves a position,
  not a balance: the settle currency (a linear market's quote, an inverse market's base coin) changes by what
  it realized less its fee (``arb/margin.py``), and by each funding payment; a transfer the run made between
  venues (``arb/rebalance.py``) takes its amount from its source and gives its destination what arrived;
- ``external_flow`` = ``(end - start) - implied``: whatever moved that the run's trading does not explain
  (a deposit or withdrawal, a fee charged outside the fills, another client on the same account).

Paper and sandbox venues derive their balances from the same fills, so there ``external_flow`` is zero,
exactly; for a live venue a non-zero value is the thing to look at. Computed in ``arb.domain.market.EXACT``:
a balance of 10^10 to 18 places is past Python's 28 digits.

An asset a venue's snapshot does not list counts as zero (venues omit empty balances). A venue with no
snapshot of a kind at all (its balance read failed) has ``None`` there, and so has ``external_flow``:
a gap is shown, never filled in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from arb.domain.market import exact
from arb.margin import PositionState, apply_fill

ZERO = Decimal(0)


class Holding(Protocol):
    """One asset on one venue in a snapshot (``arb.store.repo.BalanceSnapshot``, a ``Balance`` row)."""

    @property
    def venue(self) -> str: ...
    @property
    def asset(self) -> str: ...
    @property
    def total(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class FillFlow:
    """A fill with what it needs from its order: the symbol and the side."""

    venue: str
    symbol: str  # BASE/QUOTE
    side: str  # "buy" | "sell" (a ``Side`` is a ``str``)
    price: Decimal
    amount: Decimal  # base units; contracts on an inverse perpetual
    fee: Decimal
    fee_currency: str
    linear: bool = False  # a linear perpetual's fill: it moves a position, not base (arb/margin.py)
    contract_size: Decimal | None = None  # an inverse perpetual's fill (quote per contract): a position too

    @property
    def position(self) -> bool:
        """Whether the fill moves a perpetual's position (linear or inverse), not a spot wallet."""
        return self.linear or self.contract_size is not None


@dataclass(frozen=True, slots=True)
class FundingFlow:
    """A perpetual's funding payment: ``amount`` of ``currency`` into the venue's wallet (< 0: paid out)."""

    venue: str
    symbol: str
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class InventoryRow:
    venue: str
    asset: str
    start: Decimal | None  # None: no start snapshot of this venue
    end: Decimal | None  # None: no end snapshot of this venue
    implied: Decimal  # change implied by the fills
    external_flow: Decimal | None  # (end - start) - implied; None when either snapshot is missing


def fill_deltas(fill: FillFlow) -> list[tuple[str, Decimal]]:
    """What one fill does to each asset of its venue: [(base, ...), (quote, ...), (fee asset, ...)?]."""
    base, _, quote = fill.symbol.partition("/")
    notional = fill.price * fill.amount
    buy = fill.side == "buy"
    base_delta = (fill.amount if buy else -fill.amount) - (fill.fee if fill.fee_currency == base else ZERO)
    quote_delta = (-notional if buy else notional) - (fill.fee if fill.fee_currency == quote else ZERO)
    deltas = [(base, base_delta), (quote, quote_delta)]
    if fill.fee_currency not in (base, quote) and fill.fee:
        deltas.append((fill.fee_currency, -fill.fee))
    return deltas


@exact
def implied_changes(fills: Iterable[FillFlow], funding: Iterable[FundingFlow] = (),
                    opening: Mapping[tuple[str, str], PositionState] | None = None) -> dict[tuple[str, str], Decimal]:
    """(venue, asset) -> the net change the fills imply. A perpetual's fills, taken in the order given (the
    order they happened: a reduction realizes against the entry of what came before, starting from the
    position held at the start, ``opening``), change only the settle currency (the fee's): the fee out, what
    each reduction realized in (:func:`arb.margin.apply_fill`)."""
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    held: dict[tuple[str, str], PositionState] = dict(opening or {})
    for fill in fills:
        if fill.position:
            key = (fill.venue, fill.symbol)
            before = held.get(key) or PositionState(contract_size=fill.contract_size)
            held[key], realized = apply_fill(before, fill.side, fill.price, fill.amount)
            out[(fill.venue, fill.fee_currency)] += realized - fill.fee
            continue
        for asset, delta in fill_deltas(fill):
            out[(fill.venue, asset)] += delta
    for payment in funding:
        out[(payment.venue, payment.currency)] += payment.amount
    return dict(out)


@exact
def inventory(start: Iterable[Holding], end: Iterable[Holding], fills: Iterable[FillFlow],
              funding: Iterable[FundingFlow] = (),
              opening: Mapping[tuple[str, str], PositionState] | None = None,
              transfers: Iterable[tuple[str, str, Decimal]] = ()) -> list[InventoryRow]:
    """Per (venue, asset), sorted: start, end, the change the fills (and funding payments, and the run's own
    transfers between venues: (venue, asset, change)) imply, and the external flow; ``opening``: the perpetual
    positions held at the start."""
    starts = _totals(start)
    ends = _totals(end)
    implied = implied_changes(fills, funding, opening)
    for venue, asset, change in transfers:
        implied[(venue, asset)] = implied.get((venue, asset), ZERO) + change
    keys = {*implied, *((venue, asset) for totals in (starts, ends) for venue, assets in totals.items()
                        for asset in assets)}
    rows = []
    for venue, asset in sorted(keys):
        s = _total(starts, venue, asset)
        e = _total(ends, venue, asset)
        change = implied.get((venue, asset), ZERO)
        flow = None if s is None or e is None else (e - s) - change
        rows.append(InventoryRow(venue, asset, s, e, change, flow))
    return rows


def _totals(holdings: Iterable[Holding]) -> dict[str, dict[str, Decimal]]:
    out: dict[str, dict[str, Decimal]] = {}
    for h in holdings:
        out.setdefault(h.venue, {})[h.asset] = h.total
    return out


def _total(totals: dict[str, dict[str, Decimal]], venue: str, asset: str) -> Decimal | None:
    assets = totals.get(venue)
    return None if assets is None else assets.get(asset, ZERO)
