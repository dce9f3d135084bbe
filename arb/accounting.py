"""The money of an executed opportunity: realized PnL and its attribution, defined once, here.

Every surface (the run summary, ``arb report``, the SQL views, the README's queries, the notebooks, the
status line, the risk gate's daily loss) reads the figures this module computes and
:func:`arb.store.settlement.settle` stores on the opportunity row. Nothing else implements the formula.

**Realized PnL** of one opportunity, over the fills of all its orders (entry, unwind, complete), is what it
*closed*. The base it leaves behind (``residual = base bought - base sold - base fees``) is two parts:

- the **planned** part: the dust the plan itself leaves (a buy sized so that what its base fee takes still
  covers the sell: ``buy_amount - sell_amount - buy_amount * buy_fee_rate`` when the buy pays its fee in
  base, else ``buy_amount - sell_amount``), in the proportion ``f`` of the plan both legs filled. It is
  valued at ``mark_price``, as detection valued it;
- the **open position**: the rest, ``open_base``, base the pair bought or sold without its other side (a
  halted pair's naked leg, an unwind that left some). It is *not* realized: it is carried at its cost,
  ``open_price`` (the average price of the side it came from: buys for a long, sells for a short), and its
  unrealized PnL is ``open_base * (mark now - open_price)`` (:mod:`arb.positions`)::

    realized = quote received - quote paid - quote fees + planned * mark_price + open_base * open_price

``mark_price`` is the rule detection values its expected profit with (``arb.detection.finalize``): the buy
venue's best bid at decision time, net of that venue's taker fee, i.e. what the leftover would fetch if sold
there. So a pair that fills exactly as planned realizes exactly its expected profit (up to detection's 1e-12
rounding), and a pair with a naked leg realizes only its fees (a loss), not a profit at a decision-time mark.
A fee charged in a third currency (a fee token: Gate's GT) is valued at the token's price in the quote the
fill carries (``fee_price``, the venue's mark at the fill: ``arb/venues/fee_tokens.py``) and counted as a
quote fee from there on, in ``realized``, ``fees`` and ``fees_quote``; the fees term then shows what paying
in the token saved (or cost) against the expected rate. One with no known price is not valued (it stays in
its token, in the inventory) and is counted in ``fees_unpriced``.

**Attribution**, each term the change it made to the PnL (negative: it cost money), so that exactly::

    realized - expected = slippage + fees + unfilled + imbalance

With ``pb``/``ps`` the VWAPs detection expected, ``qb``/``q`` the entry buy/sell order amounts, ``Bq``/``Sq``
the base the entry buy/sell filled and ``f = min(Bq/qb, Sq/q)`` the fraction of the plan both legs filled:

- ``slippage``  = (Bq * pb - entry buy cost) + (entry sell proceeds - Sq * ps): prices better or worse than
  expected, on the amounts that filled. For a maker pair (whose hedges carry the taker book's walked price
  when each was sent, its ``reference``) it is two parts: ``adverse`` (adverse selection: what the taker
  book's move between quote and hedge made, ``(reference - ps) * amount`` for a hedge sell, mirrored for a
  buy) and the rest, the hedges' own slippage against their reference.
- ``fees``      = fees the entry fills would have paid at the expected rates - fees they paid (each fill's
  expected fee in the currency the venue charged it: base fees valued at ``mark_price``).
- ``unfilled``  = -(1 - f) * expected: the expected profit of the part of the plan that did not fill on
  both legs.
- ``imbalance`` = the rest: the entry excess beyond ``f`` of the plan valued at expected prices and fees,
  plus everything the unwind / complete orders did (their cash, fees and base), less the open position's
  difference from the mark (``open_base * (open_price - mark_price)``, realized at cost). It also carries
  detection's own rounding of ``expected`` (under 1e-8 quote per pair), which is why it is computed as
  the remainder rather than from its formula; ``tests/test_accounting.py`` checks the two agree within
  that bound.

All arithmetic is exact ``Decimal``; stored figures are rounded half-even to 1e-12 quote (the precision
detection writes ``expected_profit`` with), ``imbalance`` after the others so the identity is exact on the
stored values too.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

MONEY_EXP = Decimal("1e-12")
ZERO = Decimal(0)
_PRECISION = 60


@dataclass(frozen=True, slots=True)
class Plan:
    """What detection expected of an executed opportunity (as stored on its row and its entry orders)."""

    base: str
    quote: str
    buy_amount: Decimal  # entry buy order amount (qb)
    sell_amount: Decimal  # entry sell order amount (q, the opportunity's size)
    buy_price: Decimal  # expected buy VWAP (pb)
    sell_price: Decimal  # expected sell VWAP (ps)
    buy_fee_rate: Decimal
    sell_fee_rate: Decimal
    expected_profit: Decimal
    mark_price: Decimal


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill of one of the opportunity's orders."""

    purpose: str  # "entry" | "unwind" | "complete"
    side: str  # "buy" | "sell"
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_currency: str
    # A maker pair's hedge: the taker book's walked price when it was sent (None for every other order).
    reference: Decimal | None = None
    # A fee in a third currency: that currency's price in the quote at the fill (None: unpriced).
    fee_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    realized_pnl: Decimal
    slippage: Decimal
    fees: Decimal
    unfilled: Decimal
    imbalance: Decimal
    fees_quote: Decimal  # every priced fee of the pair, in quote (base fees at mark_price)
    residual_base: Decimal  # base bought - sold - base fees: everything the pair left behind
    fees_unpriced: int  # fills whose fee was charged in a third currency with no price known (not in the PnL)
    open_base: Decimal = ZERO  # the part of residual_base the plan did not mean: an open position, unrealized
    open_price: Decimal | None = None  # its cost: the average price of the side it came from
    # Of ``slippage``, the part made by the taker book moving between quote and hedge (a maker pair's
    # adverse selection: the hedge's reference price against the one the quote was priced on); None
    # without hedges. ``slippage - adverse`` is the hedges' own slippage against their reference.
    adverse: Decimal | None = None


def money(value: Decimal) -> Decimal:
    """A stored money figure: half-even to 1e-12 quote (zero as plain 0, never ``0E-12``)."""
    rounded = value.quantize(MONEY_EXP, rounding=ROUND_HALF_EVEN)
    return rounded if rounded else ZERO


def mark_price(best_bid: Decimal | None, taker_fee: Decimal) -> Decimal:
    """The buy venue's best bid net of its taker fee; 0 when it had no bid (leftover valued at nothing)."""
    if best_bid is None:
        return ZERO
    return best_bid * (1 - taker_fee)


def settle(plan: Plan, trades: Iterable[Trade]) -> Settlement:
    with decimal.localcontext() as ctx:
        ctx.prec = _PRECISION
        return _settle(plan, list(trades))


def _settle(plan: Plan, trades: list[Trade]) -> Settlement:
    m = plan.mark_price
    quote_flow = base_flow = quote_fees = base_fees = ZERO
    bq = sq = buy_cost = sell_proceeds = expected_entry_fees = paid_entry_fees = ZERO
    unpriced = 0
    adverse: Decimal | None = None
    for t in trades:
        notional = t.price * t.amount
        buying = t.side == "buy"
        quote_flow += -notional if buying else notional
        base_flow += t.amount if buying else -t.amount
        if t.fee_currency == plan.quote:
            quote_fees += t.fee
            fee_value = t.fee
        elif t.fee_currency == plan.base:
            base_fees += t.fee
            fee_value = t.fee * m
        elif t.fee_price is not None:  # a fee token, valued at its price at the fill
            fee_value = t.fee * t.fee_price
            quote_fees += fee_value
        else:
            unpriced += 1 if t.fee else 0
            fee_value = ZERO
        if t.purpose != "entry":
            continue
        if buying:
            bq += t.amount
            buy_cost += notional
            rate, expected_price = plan.buy_fee_rate, plan.buy_price
        else:
            sq += t.amount
            sell_proceeds += notional
            rate, expected_price = plan.sell_fee_rate, plan.sell_price
        if t.reference is not None:  # the move from the quote's hedge price to the hedge's reference
            moved = (expected_price - t.reference) if buying else (t.reference - expected_price)
            adverse = (adverse or ZERO) + moved * t.amount
        paid_entry_fees += fee_value
        if t.fee_currency == plan.base:
            expected_entry_fees += t.amount * rate * m
        elif t.fee_currency == plan.quote or t.fee_price is not None:  # a valued token fee stands for quote
            expected_entry_fees += t.amount * expected_price * rate

    residual = base_flow - base_fees
    filled, of = _filled(plan, bq, sq)
    buy_fee_in_base = any(t.side == "buy" and t.fee_currency == plan.base for t in trades if t.purpose == "entry")
    kept = plan.buy_amount - plan.sell_amount - (plan.buy_amount * plan.buy_fee_rate if buy_fee_in_base else ZERO)
    planned = filled * kept / of
    # To 1e-12 base, as money is to 1e-12 quote: ``f`` may be a repeating fraction (1/3 of the plan filled).
    open_base = (residual - planned).quantize(MONEY_EXP, rounding=ROUND_HALF_EVEN) or ZERO
    open_side = "buy" if open_base > 0 else "sell"
    open_price = _average(trades, open_side) if open_base else None
    # Summed as exact rationals: the planned share and the average price repeat (1/3 of a plan filled), and a
    # sum of their 60-digit roundings can land beside a half-unit tie the exact figure sits on.
    open_value = Fraction(open_base) * _cost_per_unit(trades, open_side) if open_base else Fraction(0)
    planned_value = Fraction(filled) * Fraction(kept) * Fraction(m) / Fraction(of)
    realized = _money_of(Fraction(quote_flow - quote_fees) + planned_value + open_value)
    slippage = money((bq * plan.buy_price - buy_cost) + (sell_proceeds - sq * plan.sell_price))
    fees = money(expected_entry_fees - paid_entry_fees)
    unfilled = money(-(of - filled) * plan.expected_profit / of)
    imbalance = (realized - plan.expected_profit - slippage - fees - unfilled) or ZERO
    return Settlement(
        realized_pnl=realized,
        slippage=slippage,
        fees=fees,
        unfilled=unfilled,
        imbalance=imbalance,
        fees_quote=money(quote_fees + base_fees * m),
        residual_base=residual,
        fees_unpriced=unpriced,
        open_base=open_base,
        open_price=open_price,
        adverse=None if adverse is None else money(adverse),
    )


def _filled(plan: Plan, bq: Decimal, sq: Decimal) -> tuple[Decimal, Decimal]:
    """``f`` as a fraction (filled, of): the side whose share of the plan filled least, compared exactly.
    Kept as a fraction and divided last, so a figure that is exact (1.841 of 9.95 bought, of a plan whose
    dust is 4.975: 0.9205 base) stays exact, and a money figure on a tie at half a unit rounds as its exact
    value does; ``bq / qb`` first is a repeating decimal, and the tie would round by its 28th digit."""
    if not (plan.buy_amount and plan.sell_amount):
        return ZERO, Decimal(1)
    if bq * plan.sell_amount <= sq * plan.buy_amount:
        return bq, plan.buy_amount
    return sq, plan.sell_amount


def _cost_per_unit(trades: list[Trade], side: str) -> Fraction:
    """``_average`` as an exact rational (the side has fills)."""
    amount = sum((t.amount for t in trades if t.side == side), ZERO)
    return Fraction(sum((t.price * t.amount for t in trades if t.side == side), ZERO)) / Fraction(amount)


def _money_of(value: Fraction) -> Decimal:
    """An exact rational as stored money: half-even to 1e-12 quote, as :func:`money` rounds a Decimal."""
    rounded = Decimal(round(value * 10**12)).scaleb(-12)
    return rounded if rounded else ZERO


def _average(trades: list[Trade], side: str) -> Decimal | None:
    """The average price of ``side``'s fills (None: it has none, and the open base came from fees alone)."""
    amount = sum((t.amount for t in trades if t.side == side), ZERO)
    return sum((t.price * t.amount for t in trades if t.side == side), ZERO) / amount if amount else None
