"""A derivative market's position and the margin behind it: defined once, here (pure).

arb trades three kinds of market (``arb.domain.market.MarketKind``): **spot**, where a buy receives base and
pays quote out of a wallet, and two perpetuals, where a fill moves a *position* and money moves only in the
settle currency:

- a **linear perpetual** (Binance USD-M, Gate's USDT futures): an amount is base, and the settle currency is
  the quote (USDT). What ``q`` base is worth at ``p`` (its **value**, :func:`settle_value`) is ``q * p``;
- an **inverse perpetual** (Binance COIN-M, ``BTC/USD:BTC``): an amount is **contracts** of ``C`` quote each
  (the market's contract size: 100 USD on BTC, 10 on the others), and the settle currency is the base coin.
  ``q`` contracts are worth ``q * C / p`` coin at ``p``. A position carries its contract size
  (:attr:`PositionState.contract_size`; None on a linear market).

On either, every figure is one formula in that value:

- a fill of ``q`` at ``p`` adds ``+q`` (buy) or ``-q`` (sell) to the signed position. The part that extends the
  position (or opens it) moves the **entry price** to the average of what is held: weighted by amount on a
  linear market, and harmonic on an inverse one (``1/entry`` the contracts-weighted average of ``1/p``: each
  contract is a fixed quote amount). The part that reduces it **realizes** the position's PnL on what it
  closed (:func:`position_pnl`: ``q * (p - entry)`` for a long, linear; ``q * C * (1/entry - 1/p)``, inverse;
  mirrored for a short) into the wallet;
- its fee is ``value(q, p) * rate`` in the settle currency, out of the wallet (:func:`fill_fee`);
- **initial margin** is ``value(|position|, entry) / leverage``: the part of the wallet the position holds (the
  venue's ``used``); an order waiting to fill holds ``value(amount, price) / leverage`` plus its fee;
- **unrealized PnL** at a mark is :func:`position_pnl` of the whole position there, not in the wallet;
- at each **funding time** a position receives ``-value(amount, mark) * rate`` (:func:`funding_payment`: a
  positive rate, longs pay shorts) into the wallet;
- the account (cross margin: the whole wallet backs every position settled in it) has a **margin balance** =
  wallet + unrealized PnL at the marks and a **maintenance margin** = sum of ``value(|amount|, mark) * rate``;
  their ratio ``maintenance / margin balance`` is the **margin ratio** (Binance's name): the venue liquidates at
  1. A position alone in the account is liquidated at the price where the two meet (:func:`account_margin`).

Every consumer of a position applies fills through :func:`apply_fill`: the simulated venues' matcher, the
inventory check (what a run's fills imply for the wallet) and the valuation of a run's holdings, so the
three cannot disagree by a rounding. Money is kept to 1e-12 settle currency (``arb.accounting.money``'s
precision): realized PnL, fees and funding half-even, margin held rounded up; the entry unrounded at 60
digits (an average of prices, or of their inverses, is a repeating fraction in general).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

from arb.accounting import money

ZERO = Decimal(0)
_EXACT = decimal.Context(prec=60)
_MONEY = Decimal("1e-12")


def settle_value(amount: Decimal, price: Decimal, contract_size: Decimal | None = None) -> Decimal:
    """What ``amount`` (signed) of a perpetual is worth at ``price``, in its settle currency, unrounded: ``amount
    * price`` on a linear market (base, in quote), ``amount * contract_size / price`` on an inverse one
    (contracts, in the base coin)."""
    if contract_size is None:
        return _EXACT.multiply(amount, price)
    return _EXACT.divide(_EXACT.multiply(amount, contract_size), price)


def position_pnl(amount: Decimal, entry: Decimal, price: Decimal, contract_size: Decimal | None = None) -> Decimal:
    """What ``amount`` (signed) held from ``entry`` makes at ``price``, in the settle currency, unrounded:
    ``amount * (price - entry)`` linear, ``amount * contract_size * (1/entry - 1/price)`` inverse."""
    if contract_size is None:
        return _EXACT.multiply(amount, price - entry)
    return settle_value(amount, entry, contract_size) - settle_value(amount, price, contract_size)


@dataclass(frozen=True, slots=True)
class PositionState:
    """One perpetual market's position: signed amount (> 0 long; base on a linear market, contracts on an
    inverse one) and its average entry price; ``contract_size`` (quote per contract) makes it inverse."""

    amount: Decimal = ZERO
    entry: Decimal = ZERO  # 0 when flat
    contract_size: Decimal | None = None  # an inverse market's; None: linear

    @property
    def inverse(self) -> bool:
        return self.contract_size is not None

    def value(self, price: Decimal) -> Decimal:
        """What the position is worth at ``price`` in its settle currency (signed, unrounded)."""
        return settle_value(self.amount, price, self.contract_size)

    def unrealized(self, mark: Decimal) -> Decimal:
        return position_pnl(self.amount, self.entry, mark, self.contract_size) if self.amount else ZERO

    def margin(self, leverage: Decimal) -> Decimal:
        """Initial margin the position holds, in the settle currency, up to 1e-12."""
        if not self.amount:
            return ZERO
        held = settle_value(abs(self.amount), self.entry, self.contract_size)
        return _EXACT.divide(held, leverage).quantize(_MONEY, rounding=ROUND_CEILING)


def apply_fill(position: PositionState, side: str, price: Decimal, amount: Decimal) -> tuple[PositionState, Decimal]:
    """The position after a fill of ``amount`` (base, or contracts on an inverse position) at ``price``
    (``side`` "buy"/"sell"), and the PnL the fill realized (the part that reduced the position), rounded
    half-even to 1e-12 settle currency."""
    signed = amount if side == "buy" else -amount
    held, size = position.amount, position.contract_size
    if not held or (held > 0) == (signed > 0):  # opens or extends: the entry averages
        new = held + signed
        if size is None:
            entry = _EXACT.divide(abs(held) * position.entry + amount * price, abs(new))
        elif not held:
            entry = price
        else:  # harmonic, each contract a fixed quote: (|h| + a) / (|h| / e + a / p), as one division
            entry = _EXACT.divide(abs(new) * position.entry * price, abs(held) * price + amount * position.entry)
        return PositionState(new, entry, size), ZERO
    closed = min(amount, abs(held))
    realized = position_pnl(closed if held > 0 else -closed, position.entry, price, size)
    realized = realized.quantize(_MONEY, rounding=ROUND_HALF_EVEN) or ZERO
    new = held + signed
    if not new:
        return PositionState(contract_size=size), realized
    if (new > 0) == (held > 0):  # reduced: the entry of what is left is unchanged
        return PositionState(new, position.entry, size), realized
    return PositionState(new, price, size), realized  # flipped: what is left was opened at this fill


def fill_fee(amount: Decimal, price: Decimal, rate: Decimal, contract_size: Decimal | None = None) -> Decimal:
    """A perpetual fill's fee in the settle currency: ``value(amount, price) * rate``, half-even to 1e-12."""
    fee = _EXACT.multiply(settle_value(amount, price, contract_size), rate)
    return fee.quantize(_MONEY, rounding=ROUND_HALF_EVEN) or ZERO


def funding_payment(amount: Decimal, mark: Decimal, rate: Decimal, contract_size: Decimal | None = None) -> Decimal:
    """What a position of ``amount`` (signed) receives at a funding time whose rate is ``rate``, settled at
    ``mark``: ``-value(amount, mark) * rate`` (``-amount * mark * rate`` linear, ``-amount * contract_size /
    mark * rate`` inverse), half-even to 1e-12 settle currency. A positive rate: longs pay, shorts receive; a
    negative one the other way round."""
    paid = _EXACT.multiply(-settle_value(amount, mark, contract_size), rate)
    return paid.quantize(_MONEY, rounding=ROUND_HALF_EVEN) or ZERO


def order_margin(amount: Decimal, price: Decimal, leverage: Decimal, fee_rate: Decimal,
                 contract_size: Decimal | None = None) -> Decimal:
    """What an order on a perpetual holds while it waits: its initial margin and its largest fee, up to
    1e-12 settle currency (what the venue's wallet shows)."""
    per_value = _EXACT.divide(Decimal(1), leverage) + max(fee_rate, ZERO)
    held = _EXACT.multiply(settle_value(amount, price, contract_size), per_value)
    return held.quantize(_MONEY, rounding=ROUND_CEILING)


def buying_power(free_settle: Decimal, leverage: Decimal, fee_rate: Decimal) -> Decimal:
    """The largest value (:func:`settle_value`) an order on a perpetual can hold margin for out of
    ``free_settle``: what sizing (detection, quoting) takes as the venue's funds for either side. On a linear
    market that is a quote notional; on an inverse one a coin amount, ``power * price / contract_size``
    contracts at ``price``."""
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
    """A cross-margin account's figures from its wallet and its positions settled in it, each with its mark
    (None: no book)."""
    lines = []
    balance: Decimal | None = wallet
    maintenance: Decimal | None = ZERO
    for symbol, position, mark in positions:
        if not position.amount:
            continue
        unrealized = None if mark is None else money(position.unrealized(mark))
        held = None if mark is None else settle_value(abs(position.amount), mark, position.contract_size) * maintenance_rate
        balance = None if balance is None or unrealized is None else balance + unrealized
        maintenance = None if maintenance is None or held is None else maintenance + held
        price = _liquidation(wallet, position, maintenance_rate)
        lines.append(PositionMargin(symbol, position.amount, money(position.entry), mark, unrealized,
                                    None if price is None or price <= 0 else money(price)))
    return AccountMargin(wallet, balance, maintenance, tuple(lines))


def _liquidation(wallet: Decimal, position: PositionState, rate: Decimal) -> Decimal | None:
    """The mark ``P`` at which ``position``, alone in an account of ``wallet``, has a margin balance equal to its
    maintenance margin; None where no ``P`` solves it. A ``P`` at or below 0 means never (the caller drops it).

    Linear: ``wallet + a (P - e) = |a| P r``, so ``P = (a e - wallet) / (a - |a| r)`` (a short whose wallet
    covers any rise is still liquidated, at the ``P`` that gives). Inverse, ``a`` contracts of ``C``:
    ``wallet + a C (1/e - 1/P) = |a| C r / P``, so ``P = C (a + |a| r) / (wallet + a C / e)``: a long always has
    one, a short whose wallet covers its value at entry (a 1x short, a coin's value hedged in quote) never."""
    a, e = position.amount, position.entry
    if position.contract_size is None:
        denominator = a - abs(a) * rate
        return (a * e - wallet) / denominator if denominator else None
    denominator = wallet + settle_value(a, e, position.contract_size)
    return _EXACT.divide(position.contract_size * (a + abs(a) * rate), denominator) if denominator else None
