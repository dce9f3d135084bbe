"""Turn a float-sized candidate into exact, venue-valid order amounts and prices, or a rejection.

Both legs are rounded together, then validated together, so that neither could be sent alone:

* The buy amount is the float-sized amount floored to the buy venue's amount step (snapped to the step
  first when float noise left it a hair below one, e.g. ``0.7 + 0.1 = 0.7999999999999999``). The sell amount
  is what that buy delivers (net of a base fee) floored to the sell venue's step, and the buy is then cut
  back to the least amount on its step that still delivers the sell (never more than before, so no cap can
  break). The hedge never sells more base than it buys; the leftover, less than one buy step, stays long
  on the buy venue and is valued at what it would fetch there (best bid net of the taker fee): dust costs
  its spread, a leftover as big as the trade (coarse steps with a base fee) can still make the pair lose:
  ``precision_kills_edge``.
* Every hard cap is re-checked exactly in ``Decimal`` (max size, quote balance including fee, base balance,
  book depth); float rounding that overshoots one steps the buy down by one amount step.
* Limit prices are the worst levels the walk reaches, rounded with ``MarketRules.round_price`` (buy down,
  sell up: never pay more / accept less than priced). A book price is normally on the venue's tick, so the
  rounding is a no-op; if it is not, the rounded limit would no longer cover the walked levels (an IOC that
  does not fill what was priced), which means our rules and the venue disagree: rejected ``price_off_tick``
  rather than rounded the unsafe way.
* Profit is recomputed exactly from the walked levels for the rounded amounts. Money leaves with 12 decimal
  places, rounded against us (cost up, proceeds and profit down); VWAPs with six digits below the tick.
  ``expected_profit = sell_proceeds + leftover_value - buy_cost``.
* A pair whose rounded legs fall below a venue's minimum amount or notional *because the balances shrank
  them* (the legs sized on depth, fees and ``max_size`` alone would meet every minimum, and would not fit
  the balances) is ``balance_insufficient``, not ``below_min_amount``/``below_min_notional``: what stops it
  is inventory (a venue's quote or base run down), which trading more cannot fix, not the market's size.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import NamedTuple, Protocol

from arb.accounting import mark_price
from arb.detection.candidate import Candidate
from arb.detection.types import (
    DetectionParams,
    FeeMode,
    FloatArray,
    Opportunity,
    Reason,
    Rejection,
    VenueBook,
)
from arb.domain.market import Side, quantize_step, widen

MONEY_EXP = Decimal("1e-12")
BPS_EXP = Decimal("1e-4")
_SNAP_REL = Decimal("1e-9")  # a float this close below a step multiple is that multiple plus noise
_BPS = Decimal(10_000)
_PRECISION = 60  # enough digits that sums of price*amount products stay exact
_ZERO = Decimal(0)
_MINIMUMS = (Reason.BELOW_MIN_AMOUNT, Reason.BELOW_MIN_NOTIONAL)  # a venue's; the balances may be why


def dec(value: float) -> Decimal:
    """The shortest decimal that round-trips ``value``: book prices parsed from ``"0.1"`` come back as 0.1."""
    return Decimal(repr(float(value)))


def snap_floor(value: float, step: Decimal) -> Decimal:
    """Floor ``value`` to ``step``, treating a value within float noise below a multiple as that multiple."""
    exact = dec(value)
    units = (exact / step).to_integral_value(rounding=ROUND_FLOOR)
    if (units + 1) * step - exact <= exact * _SNAP_REL:
        units += 1
    return quantize_step(units * step, step, ROUND_FLOOR)


def walk_exact(px: FloatArray, sz: FloatArray, amount: Decimal) -> tuple[Decimal, Decimal] | None:
    """``(notional, worst price)`` of taking ``amount`` from levels best first, or None if too shallow."""
    left = amount
    notional = _ZERO
    for p, q in zip(px.tolist(), sz.tolist(), strict=True):
        price = Decimal(repr(p))
        size = Decimal(repr(q))
        if size >= left:  # the last level touched: take what is left of it
            return notional + left * price, price
        notional += size * price
        left -= size
    return None


def audit_price(value: Decimal, step: Decimal) -> Decimal:
    return value.quantize(step.scaleb(-6), rounding=ROUND_HALF_EVEN)


def finalize(
    symbol: str, buy: VenueBook, sell: VenueBook, cand: Candidate, params: DetectionParams
) -> Opportunity | Rejection:
    with decimal.localcontext() as ctx:
        ctx.prec = _PRECISION
        return _finalize(symbol, buy, sell, cand, params)


@dataclass(frozen=True, slots=True)
class _Legs:
    """Rounded amounts of both legs and what exactly walking the books for them costs and yields."""

    buy_amount: Decimal
    sell_amount: Decimal
    buy_notional: Decimal
    buy_worst: Decimal
    sell_notional: Decimal
    sell_worst: Decimal
    cost: Decimal  # buy notional plus a quote fee


def _round_legs(
    buy: VenueBook, sell: VenueBook, cand: Candidate, params: DetectionParams
) -> _Legs | tuple[Reason, Decimal, Decimal]:
    net = 1 - buy.taker_fee if buy.fee_mode is FeeMode.BASE else Decimal(1)
    quote_fee = 1 + buy.taker_fee if buy.fee_mode is FeeMode.QUOTE else Decimal(1)
    b_step = buy.rules.amount_step
    buy_amount = snap_floor(cand.buy_amount, b_step)
    if buy_amount > params.max_size:  # else it is on the step, so at most max size rounded down to it
        buy_amount = buy.rules.round_amount(params.max_size)
    sell_amount = Decimal(0)
    for _ in range(3):  # float overshoot is at most a step; three tries covers every cap at once
        sell_amount = quantize_step(buy_amount * net, sell.rules.amount_step, ROUND_DOWN)  # rules.round_amount
        # The least buy on the buy venue's step that still delivers the sell: never more than before.
        buy_amount = quantize_step(sell_amount / net, b_step, ROUND_CEILING)
        if buy_amount <= 0 or sell_amount <= 0:
            return Reason.BELOW_MIN_AMOUNT, buy_amount, sell_amount
        bought = walk_exact(buy.ask_px, buy.ask_sz, buy_amount)
        sold = walk_exact(sell.bid_px, sell.bid_sz, sell_amount)
        if bought is not None and sold is not None:
            cost = bought[0] * quote_fee
            # What the buy venue holds back for the order: amount x its IOC limit (the walked worst price
            # on the tick, widened as the executor will), not the notional the walk costs.
            limit = _buy_limit(buy, bought[1], params)
            reserved = buy_amount * limit * quote_fee
            if reserved <= buy.quote_balance and sell_amount <= sell.base_balance:
                return _Legs(buy_amount, sell_amount, *bought, *sold, cost)
            if reserved > buy.quote_balance:  # the most this balance reserves at this limit (less is cheaper)
                buy_amount = min(buy_amount, quantize_step(buy.quote_balance / (limit * quote_fee), b_step,
                                                     ROUND_FLOOR) + b_step)
        buy_amount -= b_step
    return Reason.BALANCE_INSUFFICIENT, buy_amount, sell_amount


def _buy_limit(buy: VenueBook, worst: Decimal, params: DetectionParams) -> Decimal:
    """The buy order's IOC limit for a walk whose worst level is ``worst``: on the tick, widened as the
    executor will widen it. A venue holds back amount x this (not the walked notional) for the order."""
    return buy.rules.round_price(widen(buy.rules.round_price(worst, Side.BUY), Side.BUY,
                                       params.limit_allowance_bps), Side.BUY)


def _balance_shrank(buy: VenueBook, sell: VenueBook, cand: Candidate, params: DetectionParams) -> bool:
    """Whether the balances, not the books or ``max_size``, took the pair below a venue minimum: the legs
    sized without the balances (the candidate's depth- and fee-limited ``profitable_size``, capped at
    ``max_size``, rounded as ``_round_legs`` rounds) would not fit them and would meet both venues' minimum
    amounts and notionals. Runs only on a pair already rejected for a minimum (no hot-path cost)."""
    net = 1 - buy.taker_fee if buy.fee_mode is FeeMode.BASE else Decimal(1)
    quote_fee = 1 + buy.taker_fee if buy.fee_mode is FeeMode.QUOTE else Decimal(1)
    if cand.profitable_size <= 0.0:
        return False
    buy_amount = min(snap_floor(cand.profitable_size / float(net), buy.rules.amount_step),
                     buy.rules.round_amount(params.max_size))
    sell_amount = quantize_step(buy_amount * net, sell.rules.amount_step, ROUND_DOWN)
    buy_amount = quantize_step(sell_amount / net, buy.rules.amount_step, ROUND_CEILING)
    if sell_amount < max(sell.rules.min_amount, sell.rules.amount_step) or buy_amount < buy.rules.min_amount:
        return False
    bought = walk_exact(buy.ask_px, buy.ask_sz, buy_amount)
    sold = walk_exact(sell.bid_px, sell.bid_sz, sell_amount)
    if bought is None or sold is None:
        return False
    if buy_amount * bought[1] < buy.rules.min_notional or sell_amount * sold[1] < sell.rules.min_notional:
        return False
    reserved = buy_amount * _buy_limit(buy, bought[1], params) * quote_fee
    return reserved > buy.quote_balance or sell_amount > sell.base_balance


@dataclass(frozen=True, slots=True)
class _Sized:
    """The audit fields of rounded legs; money rounded against us, so ``profit = proceeds - cost``."""

    size: Decimal
    buy_amount: Decimal
    buy_vwap: Decimal
    sell_vwap: Decimal
    buy_cost: Decimal
    sell_proceeds: Decimal
    expected_profit: Decimal
    edge_bps: Decimal
    mark_price: Decimal

    def audit(self) -> dict[str, Decimal | None]:
        """The fields a ``Rejection`` carries."""
        keep = ("size", "buy_amount", "buy_vwap", "sell_vwap", "expected_profit", "edge_bps")
        return {k: getattr(self, k) for k in keep}


def _sized(legs: _Legs, buy: VenueBook, sell: VenueBook) -> _Sized:
    buy_cost = legs.cost.quantize(MONEY_EXP, rounding=ROUND_CEILING)
    proceeds = (legs.sell_notional * (1 - sell.taker_fee)).quantize(MONEY_EXP, rounding=ROUND_FLOOR)
    # The leftover the hedge cannot sell (under one buy step) stays on the buy venue. It is valued at what
    # it would fetch there, the buy venue's best bid net of its taker fee: dust costs only its spread and
    # fee, while a leftover as large as the trade itself (whole-unit steps) still kills the edge. Valuing
    # it at zero turned every base-fee pair with fine prices but coarse amount steps into a loss.
    received = legs.buy_amount * (1 - buy.taker_fee) if buy.fee_mode is FeeMode.BASE else legs.buy_amount
    leftover = received - legs.sell_amount
    mark = mark_price(dec(float(buy.bid_px[0])) if len(buy.bid_px) else None, buy.taker_fee)
    leftover_value = (leftover * mark).quantize(MONEY_EXP, rounding=ROUND_FLOOR)
    profit = proceeds + leftover_value - buy_cost
    return _Sized(
        size=legs.sell_amount,
        buy_amount=legs.buy_amount,
        buy_vwap=audit_price(legs.buy_notional / legs.buy_amount, buy.rules.price_step),
        sell_vwap=audit_price(legs.sell_notional / legs.sell_amount, sell.rules.price_step),
        buy_cost=buy_cost,
        sell_proceeds=proceeds,
        expected_profit=profit,
        edge_bps=(profit / buy_cost * _BPS).quantize(BPS_EXP, rounding=ROUND_FLOOR),
        mark_price=mark,
    )


def _finalize(
    symbol: str, buy: VenueBook, sell: VenueBook, cand: Candidate, params: DetectionParams
) -> Opportunity | Rejection:
    def reject(reason: Reason, sized: dict[str, Decimal | None]) -> Rejection:
        return _rejection(reason, symbol, buy, sell, buy.ask_px[0], sell.bid_px[0], cand, sized)

    legs = _round_legs(buy, sell, cand, params)
    if not isinstance(legs, _Legs):
        reason, buy_amount, sell_amount = legs
        if reason is Reason.BELOW_MIN_AMOUNT and _balance_shrank(buy, sell, cand, params):
            reason = Reason.BALANCE_INSUFFICIENT
        return reject(reason, {"size": sell_amount, "buy_amount": buy_amount})
    money = _sized(legs, buy, sell)
    buy_worst, sell_worst = legs.buy_worst, legs.sell_worst
    buy_amount, sell_amount = legs.buy_amount, legs.sell_amount
    buy_limit = quantize_step(buy_worst, buy.rules.price_step, ROUND_FLOOR)  # rules.round_price, buy side
    sell_limit = quantize_step(sell_worst, sell.rules.price_step, ROUND_CEILING)
    if buy_limit != buy_worst or sell_limit != sell_worst:
        return reject(Reason.PRICE_OFF_TICK, money.audit())
    profit, edge_bps = money.expected_profit, money.edge_bps
    why: Reason | None = None
    if buy_amount < buy.rules.min_amount or sell_amount < sell.rules.min_amount:
        why = Reason.BELOW_MIN_AMOUNT
    elif (
        buy_amount * buy_limit < buy.rules.min_notional or sell_amount * sell_limit < sell.rules.min_notional
    ):
        why = Reason.BELOW_MIN_NOTIONAL
    elif profit <= 0:
        why = Reason.PRECISION_KILLS_EDGE
    elif edge_bps < params.min_edge_bps:
        why = Reason.BELOW_MIN_EDGE
    elif profit < params.min_profit:
        why = Reason.BELOW_MIN_PROFIT
    if why in _MINIMUMS and _balance_shrank(buy, sell, cand, params):
        why = Reason.BALANCE_INSUFFICIENT
    if why is not None:
        return reject(why, money.audit() | {"buy_limit": buy_limit, "sell_limit": sell_limit})
    return Opportunity(
        symbol=symbol,
        buy_venue=buy.venue,
        sell_venue=sell.venue,
        size=sell_amount,
        buy_amount=buy_amount,
        sell_amount=sell_amount,
        buy_vwap=money.buy_vwap,
        sell_vwap=money.sell_vwap,
        buy_limit=buy_limit,
        sell_limit=sell_limit,
        buy_fee_rate=buy.taker_fee,
        sell_fee_rate=sell.taker_fee,
        buy_fee_mode=buy.fee_mode,
        buy_cost=money.buy_cost,
        sell_proceeds=money.sell_proceeds,
        expected_profit=profit,
        edge_bps=edge_bps,
        gross_edge_bps=gross_bps(cand.gross_edge_bps),
        crossed=cand.crossed,
        buy_book_seq=buy.seq,
        sell_book_seq=sell.seq,
        buy_book_age_ms=buy.age_ms,
        sell_book_age_ms=sell.age_ms,
        mark_price=money.mark_price,
    )


def gross_bps(gross_edge_bps: float) -> Decimal:
    """A candidate's float gross edge as recorded: 4 places (a quantize far below 28 digits: no wide context)."""
    return dec(gross_edge_bps).quantize(BPS_EXP, rounding=ROUND_HALF_EVEN)


class BookFacts(NamedTuple):
    """What a rejection records of one venue's book besides its best price: all an unsized rejection reads."""

    venue: str
    taker_fee: Decimal
    seq: int | None
    age_ms: int


class _Recorded(Protocol):
    """A ``VenueBook`` or the ``BookFacts`` of one."""

    @property
    def venue(self) -> str: ...
    @property
    def taker_fee(self) -> Decimal: ...
    @property
    def seq(self) -> int | None: ...
    @property
    def age_ms(self) -> int: ...


def rejection(
    reason: Reason, symbol: str, buy: VenueBook, sell: VenueBook, cand: Candidate, params: DetectionParams
) -> Rejection:
    """A rejection for a pair screened out before rounding, with the rounded sizing it would have had."""
    with decimal.localcontext() as ctx:
        ctx.prec = _PRECISION
        sized: dict[str, Decimal | None] = {}
        if cand.size > 0:
            legs = _round_legs(buy, sell, cand, params)
            if isinstance(legs, _Legs):
                sized = _sized(legs, buy, sell).audit()
        return _rejection(reason, symbol, buy, sell, buy.ask_px[0], sell.bid_px[0], cand, sized)


def unsized_rejection(
    reason: Reason, symbol: str, buy: BookFacts, sell: BookFacts, best_ask: float, best_bid: float,
    gross_edge_bps: float,
) -> Rejection:
    """``rejection`` of a pair with nothing to size (its candidate's size not positive): the same ``Rejection``,
    from the books' facts, best prices and gross edge alone (the batched path builds neither ``VenueBook``
    nor ``Candidate``). No 60-digit context: nothing here sums, and each conversion is exact or a quantize
    to 4 places of a number far below 28 digits."""
    return Rejection(
        reason=reason, symbol=symbol, buy_venue=buy.venue, sell_venue=sell.venue, best_ask=_price(best_ask),
        best_bid=_price(best_bid), buy_fee_rate=buy.taker_fee, sell_fee_rate=sell.taker_fee,
        gross_edge_bps=gross_bps(gross_edge_bps),
        crossed=gross_edge_bps > 0.0, buy_book_seq=buy.seq, sell_book_seq=sell.seq, buy_book_age_ms=buy.age_ms,
        sell_book_age_ms=sell.age_ms,
    )


@lru_cache(maxsize=4096)
def _price(value: float) -> Decimal:
    """``dec`` of a book price: prices sit on a tick grid and repeat from one decision to the next."""
    return dec(value)


def _rejection(
    reason: Reason,
    symbol: str,
    buy: _Recorded,
    sell: _Recorded,
    best_ask: float,
    best_bid: float,
    cand: Candidate,
    sized: dict[str, Decimal | None],
) -> Rejection:
    return Rejection(
        reason=reason,
        symbol=symbol,
        buy_venue=buy.venue,
        sell_venue=sell.venue,
        best_ask=dec(best_ask),
        best_bid=dec(best_bid),
        buy_fee_rate=buy.taker_fee,
        sell_fee_rate=sell.taker_fee,
        gross_edge_bps=gross_bps(cand.gross_edge_bps),
        crossed=cand.crossed,
        buy_book_seq=buy.seq,
        sell_book_seq=sell.seq,
        buy_book_age_ms=buy.age_ms,
        sell_book_age_ms=sell.age_ms,
        **sized,
    )
