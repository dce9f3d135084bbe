"""The basis strategy's decision (pure, exact): open a spot-perpetual position when the basis pays, close it
when it has come back. The anchor is Hummingbot's ``spot_perpetual_arbitrage``; every leg is an IOC pair
through the paired executor, as a taker opportunity's.

A ``carry`` position is long spot and short the perpetual: it **opens** by buying ``size`` on spot and selling
it on the perpetual, and **closes** by the reverse. A ``reverse`` position is the mirror image (sell spot, buy
the perpetual to open). Each side's price is its book walked for the pair's amount; the **edge** of a pair is
what it would make net of both taker fees, in bps of what the buy costs::

    edge = (amount x sell VWAP x (1 - sell fee) - amount x buy VWAP x (1 + buy fee)) / (amount x buy VWAP)

A pair opens while the position is below ``max_position`` and the open pair's edge is at least ``open_bps``;
it closes what is held (``size`` at a time) once the close pair's edge is at least ``close_bps``, which is
usually negative: closing a basis pays both spreads and both fees, and is worth it once the basis has shrunk
by more. Closing comes first. ``held`` is the position the perpetual venue reports in the rule's direction.
Nothing is decided (None) on a book too thin for the amount, below a venue's minimum, or that the funds
cannot pay for; nor is anything recorded then: a basis that does not pay is the usual state, not a rejection.

**Funding.** The perpetual's next funding, as last announced (:class:`Funding`: the rate it settles at
``funding_ts``, the mark), is what a position held then receives, ``-amount x mark x rate``
(``arb/margin.py``): a positive rate pays a short, so a carry position receives it and a reverse one pays it.
Per base unit and in bps of the pair's buy price, as the edge is, that is the **funding term**::

    funding = (+1 carry, -1 reverse) x mark x rate / buy VWAP x 10,000      (< 0: the position pays)

counted once (the next payment only, never the ones after it), and only while the funding time is ahead of
``now_ms`` by at most a window; else it is 0, and so it is when no funding is known (a capture without
funding lines, a live venue): the decision is then the one above.

- Open: ``edge + funding >= open_bps``, the funding term counted within ``funding_horizon_ms`` of the funding
  time. A pair opened now holds the position through that payment; its sign helps or hurts.
- Close: ``edge + adverse >= close_bps``, where ``adverse`` is what the position would pay (``-funding`` when
  the funding term is negative, else 0), counted within ``close_before_funding_ms`` of the funding time. That
  is: inside the lead, close once the payment it avoids is at least the extra cost of closing now
  (``close_bps - edge``, how far the close is from the price it would otherwise wait for). A favourable
  payment never holds a close back: a basis that came back is closed.

The lead is at most the horizon (the config checks it), so a pair closed to avoid a payment is never opened
again for the same funding time: the open counts the same payment against it.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from arb.accounting import mark_price, money
from arb.detection.types import FeeMode, Opportunity
from arb.domain.market import BPS, MarketRules, quantize_step

Level = tuple[Decimal, Decimal]
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BasisRule:
    symbol: str
    spot_venue: str
    perp_venue: str
    size: Decimal
    max_position: Decimal
    open_bps: Decimal
    close_bps: Decimal
    carry: bool  # long spot / short perpetual (else the reverse)
    funding_horizon_ms: int = 0  # an announced payment this near counts in the open (0: never)
    close_before_funding_ms: int = 0  # an adverse payment this near counts in the close (0: never)


@dataclass(frozen=True, slots=True)
class Funding:
    """The perpetual's next funding as last announced: ``rate`` settles at ``funding_ts`` (ms), at ``mark``."""

    rate: Decimal
    funding_ts: int
    mark: Decimal


@dataclass(frozen=True, slots=True)
class BasisBook:
    """One venue's side of the basis: its book now (exact levels, best first), rules, fee and free funds."""

    venue: str
    bids: Sequence[Level]
    asks: Sequence[Level]
    rules: MarketRules
    taker_fee: Decimal
    fee_mode: FeeMode
    free_base: Decimal  # what a sell there may sell (a perpetual's: what its margin can hold)
    free_quote: Decimal  # what a buy there may spend
    seq: int | None
    age_ms: int


def decide(rule: BasisRule, spot: BasisBook, perp: BasisBook, held: Decimal, funding: Funding | None = None,
           now_ms: int = 0) -> Opportunity | None:
    """The basis pair to send now (market time ``now_ms``), or None."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        open_buy, open_sell = (spot, perp) if rule.carry else (perp, spot)
        if held > 0:
            close = _pair(rule.symbol, open_sell, open_buy, min(rule.size, held))
            if close is not None:
                adverse = -min(ZERO, funding_bps(rule, funding, close.buy_vwap, now_ms, rule.close_before_funding_ms))
                if close.edge_bps + adverse >= rule.close_bps:
                    return close
        if held < rule.max_position:
            opened = _pair(rule.symbol, open_buy, open_sell, min(rule.size, rule.max_position - held))
            if opened is not None:
                expected = funding_bps(rule, funding, opened.buy_vwap, now_ms, rule.funding_horizon_ms)
                if opened.edge_bps + expected >= rule.open_bps:
                    return opened
        return None


def funding_bps(rule: BasisRule, funding: Funding | None, buy_vwap: Decimal, now_ms: int,
                window_ms: int) -> Decimal:
    """The funding term (the module's docstring): what the rule's position receives per base unit at the next
    funding time, in bps of ``buy_vwap`` (< 0: it pays), when that time is ahead by at most ``window_ms``;
    else 0."""
    if funding is None or not 0 < funding.funding_ts - now_ms <= window_ms:
        return ZERO
    received = funding.mark * funding.rate if rule.carry else -funding.mark * funding.rate
    return received / buy_vwap * BPS


def _pair(symbol: str, buy: BasisBook, sell: BasisBook, amount: Decimal) -> Opportunity | None:
    """``amount`` bought on ``buy`` and sold on ``sell``. A buy whose fee is taken in base buys enough more
    (on its step) that it delivers ``amount``: what a carry sells back on spot at its close is then there, and
    the dust above it (under one step) is valued as the taker pair's leftover is (``detection/finalize.py``)."""
    amount = sell.rules.round_amount(buy.rules.round_amount(amount))
    if amount <= 0 or amount < buy.rules.min_amount or amount < sell.rules.min_amount:
        return None
    quote_fee = buy.fee_mode is FeeMode.QUOTE
    net = 1 if quote_fee else 1 - buy.taker_fee
    buy_amount = amount if quote_fee else quantize_step(amount / net, buy.rules.amount_step, ROUND_CEILING)
    bought, sold = _walk(buy.asks, buy_amount), _walk(sell.bids, amount)
    if bought is None or sold is None:
        return None
    (buy_notional, buy_worst), (sell_notional, sell_worst) = bought, sold
    if buy_notional < buy.rules.min_notional or sell_notional < sell.rules.min_notional:
        return None
    if buy_amount * buy_worst * (1 + buy.taker_fee) > buy.free_quote or amount > sell.free_base:
        return None
    mark = mark_price(buy.bids[0][0] if buy.bids else None, buy.taker_fee)
    buy_cost = buy_notional * (1 + buy.taker_fee) if quote_fee else buy_notional
    leftover_value = (buy_amount * net - amount) * mark  # < 0 never: a base fee's buy delivers at least amount
    sell_proceeds = sell_notional * (1 - sell.taker_fee)
    expected = sell_proceeds + leftover_value - buy_cost
    buy_vwap, sell_vwap = buy_notional / buy_amount, sell_notional / amount
    return Opportunity(
        symbol=symbol, buy_venue=buy.venue, sell_venue=sell.venue, size=amount, buy_amount=buy_amount,
        sell_amount=amount, buy_vwap=buy_vwap, sell_vwap=sell_vwap, buy_limit=buy_worst, sell_limit=sell_worst,
        buy_fee_rate=buy.taker_fee, sell_fee_rate=sell.taker_fee, buy_fee_mode=buy.fee_mode,
        buy_cost=money(buy_cost), sell_proceeds=money(sell_proceeds), expected_profit=money(expected),
        edge_bps=(expected / buy_notional * BPS).quantize(Decimal("0.0001")),
        gross_edge_bps=((sell_vwap - buy_vwap) / buy_vwap * BPS).quantize(Decimal("0.0001")),
        crossed=bool(buy.asks and sell.bids and sell.bids[0][0] >= buy.asks[0][0]), mark_price=money(mark),
        buy_book_seq=buy.seq, sell_book_seq=sell.seq, buy_book_age_ms=buy.age_ms, sell_book_age_ms=sell.age_ms)


def _walk(levels: Sequence[Level], amount: Decimal) -> tuple[Decimal, Decimal] | None:
    """The notional of ``amount`` taken from ``levels`` best first, and the worst price reached; None when the
    book is too thin."""
    left, notional, worst = amount, ZERO, ZERO
    for price, size in levels:
        take = min(left, size)
        notional += take * price
        worst = price
        left -= take
        if not left:
            return notional, worst
    return None
