"""A derivative market's position and the margin behind it: defined once, here (pure).

arb trades two kinds of market (``arb.domain.market.MarketKind``): **spot**, where a buy receives base and
pays quote out of a wallet, and a **linear perpetual** (Binance USD-M, Gate's USDT futures), where a fill
moves a *position* and money moves only in the settle currency (the quote: USDT). On a linear market:

- a fill of ``q`` base at ``p`` adds ``+q`` (buy) or ``-q`` (sell) to the signed position. The part that
  extends the position (or opens it) moves the **entry price** to the average of what is held; the part that
  reduces it **realizes** ``q * (p - entry)`` for a long (``q * (entry - p)`` for a short) into the wallet;
- its fee is ``p * q * rate`` in the settle currency, out of the wallet;
- **initial margin** is ``|position| * entry / leverage``: the part of the wallet the position holds (the
  venue's ``used``); an order waiting to fill holds ``amount * price / leverage`` plus its fee;
- **unrealized PnL** at a mark is ``position * (mark - entry)``, not in the wallet;
- at each **funding time** a position receives ``-amount * mark * rate`` (:func:`funding_payment`: a
  positive rate, longs pay shorts) into the wallet;
- the account (cross margin: the whole wallet backs every position) has a **margin balance** = wallet +
  unrealized PnL at the marks and a **maintenance margin** = sum of ``|amount| * mark * rate``; their ratio
  ``maintenance / margin balance`` is the **margin ratio** (Binance's name): the venue liquidates at 1. A
  position alone in the account is liquidated at the price ``P`` where ``wallet + amount * (P - entry) =
  |amount| * P * rate`` (:func:`account_margin`).

Every consumer of a position applies fills through :func:`apply_fill`: the simulated venues' matcher, the
inventory check (what a run's fills imply for the wallet) and the valuation of a run's holdings, so the
three cannot disagree by a rounding. Realized PnL is kept to 1e-12 (``arb.accounting.money``'s precision)
and the entry unrounded at 60 digits: an average of prices is a repeating fraction in general.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

from arb.accounting import money

ZERO = Decimal(0)
_EXACT = decimal.Context(prec=60)
_MONEY = Decimal("1e-12")


@dataclass(frozen=True, slots=True)
class PositionState:
    """One linear market's position: signed base amount (> 0 long) and its average entry price."""

    amount: Decimal = ZERO
    entry: Decimal = ZERO  # 0 when flat

    def unrealized(self, mark: Decimal) -> Decimal:
        return _EXACT.multiply(self.amount, mark - self.entry)

    def margin(self, leverage: Decimal) -> Decimal:
        """Initial margin the position holds, in the settle currency, up to 1e-12."""
        return _EXACT.divide(abs(self.amount) * self.entry, leverage).quantize(_MONEY, rounding=ROUND_CEILING)



def apply_fill(position: PositionState, side: str, price: Decimal, amount: Decimal) -> tuple[PositionState, Decimal]:
    """The position after a fill of ``amount`` base at ``price`` (``side`` "buy"/"sell"), and the PnL the
    fill realized (the part that reduced the position), rounded half-even to 1e-12 settle currency."""
    signed = amount if side == "buy" else -amount
    held = position.amount
    if not held or (held > 0) == (signed > 0):  # opens or extends: the entry averages
        new = held + signed
        entry = _EXACT.divide(abs(held) * position.entry + amount * price, abs(new))
        return PositionState(new, entry), ZERO
    closed = min(amount, abs(held))
    realized = closed * (price - position.entry) if held > 0 else closed * (position.entry - price)
    realized = realized.quantize(_MONEY, rounding=ROUND_HALF_EVEN) or ZERO
    new = held + signed
    if not new:
        return PositionState(), realized
    if (new > 0) == (held > 0):  # reduced: the entry of what is left is unchanged
        return PositionState(new, position.entry), realized
    return PositionState(new, price), realized  # flipped: what is left was opened at this fill


def funding_payment(amount: Decimal, mark: Decimal, rate: Decimal) -> Decimal:
    """What a position of ``amount`` base (signed) receives at a funding time whose rate is ``rate``, settled
    at ``mark``: ``-amount * mark * rate``, half-even to 1e-12 settle currency. A positive rate: longs pay,
    shorts receive; a negative one the other way round."""
    return (-amount * mark * rate).quantize(_MONEY, rounding=ROUND_HALF_EVEN) or ZERO


def order_margin(amount: Decimal, price: Decimal, leverage: Decimal, fee_rate: Decimal) -> Decimal:
    """What an order on a linear market holds while it waits: its initial margin and its largest fee, up to
    1e-12 (what the venue's wallet shows)."""
    held = _EXACT.multiply(amount * price, _EXACT.divide(Decimal(1), leverage) + max(fee_rate, ZERO))
    return held.quantize(_MONEY, rounding=ROUND_CEILING)


def buying_power(free_settle: Decimal, leverage: Decimal, fee_rate: Decimal) -> Decimal:
    """The largest notional an order on a linear market can hold margin for out of ``free_settle``: what
    sizing (detection, quoting) takes as the venue's funds for either side."""
    return _EXACT.divide(free_settle, _EXACT.divide(Decimal(1), leverage) + max(fee_rate, ZERO))


@dataclass(frozen=True, slots=True)
class PositionMargin:
    """One position of a margin account at its mark: what the status view, the metrics and the risk gate read."""

    symbol: str
    amount: Decimal
    entry: Decimal
    mark: Decimal | None
    unrealized: Decimal | None
    liquidation: Decimal | None  # the mark it is liquidated at, alone in the account; None: no mark, or never

    @property
    def distance(self) -> Decimal | None:
        """How far the mark may move against it before liquidation, as a fraction of the mark."""
        if self.liquidation is None or self.mark is None:
            return None
        return (self.mark - self.liquidation) / self.mark if self.amount > 0 else (self.liquidation - self.mark) / self.mark


@dataclass(frozen=True, slots=True)
class AccountMargin:
    wallet: Decimal  # settle currency: deposits, fees, realized PnL and funding, unrealized not in
    margin_balance: Decimal | None  # wallet + unrealized at the marks; None when a position has no mark
    maintenance: Decimal | None
    positions: tuple[PositionMargin, ...]

    @property
    def ratio(self) -> Decimal | None:
        """Maintenance margin over margin balance: liquidation at 1; 0 when flat; None when unknown."""
        if self.maintenance is None or self.margin_balance is None:
            return None
        if not self.maintenance:
            return ZERO
        return self.maintenance / self.margin_balance if self.margin_balance > 0 else Decimal(1)


def account_margin(wallet: Decimal, positions: list[tuple[str, PositionState, Decimal | None]],
                   maintenance_rate: Decimal) -> AccountMargin:
    """A cross-margin account's figures from its wallet and its positions, each with its mark (None: no book)."""
    lines = []
    balance: Decimal | None = wallet
    maintenance: Decimal | None = ZERO
    for symbol, position, mark in positions:
        if not position.amount:
            continue
        unrealized = None if mark is None else money(position.unrealized(mark))
        held = None if mark is None else abs(position.amount) * mark * maintenance_rate
        balance = None if balance is None or unrealized is None else balance + unrealized
        maintenance = None if maintenance is None or held is None else maintenance + held
        # wallet + a (P - e) = |a| P r  =>  P = (a e - wallet) / (a - |a| r); no positive P: never (a short
        # whose wallet covers any rise is still liquidated, at the P the formula gives).
        denominator = position.amount - abs(position.amount) * maintenance_rate
        price = (position.amount * position.entry - wallet) / denominator if denominator else None
        lines.append(PositionMargin(symbol, position.amount, money(position.entry), mark, unrealized,
                                    None if price is None or price <= 0 else money(price)))
    return AccountMargin(wallet, balance, maintenance, tuple(lines))
