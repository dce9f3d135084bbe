"""``arb.accounting``: the one definition of realized PnL and its attribution.

- worked examples (the replayed pair of 2021-08-20 00:42:40 among them);
- properties over random plans and fills: the identity ``realized - expected = slippage + fees + unfilled +
  imbalance`` holds exactly; realized equals an independent recomputation from the fills and the mark;
  ``imbalance`` (a remainder) equals its own formula up to detection's rounding of ``expected``;
- through real detection: a pair that fills exactly as detection walked the books realizes its expected
  profit.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from decimal import Decimal
from decimal import Decimal as D
from fractions import Fraction as F

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from arb.accounting import _PRECISION as PRECISION
from arb.accounting import ZERO, Plan, Trade, mark_price, money, settle
from arb.detection import DetectionParams, FeeMode, Opportunity, detect
from tests.detection.detection_books import book, rules

LINK_PLAN = Plan(base="LINK", quote="USDT", buy_amount=D("20.00"), sell_amount=D("19.99"), buy_price=D("27.4"),
                 sell_price=D("27.422"), buy_fee_rate=D("0.00032"), sell_fee_rate=D("0.000175"),
                 expected_profit=D("0.168459063815"), mark_price=D("27.391132032"))


def imbalance_by_formula(plan: Plan, trades: Iterable[Trade]) -> Decimal:
    """``imbalance`` from its definition (entry excess at expected prices and fees + corrective orders),
    without detection's rounding of ``expected``: the reference ``settle``'s remainder is checked against."""
    trades = list(trades)
    with decimal.localcontext() as ctx:
        ctx.prec = PRECISION
        m = plan.mark_price
        entry = [t for t in trades if t.purpose == "entry"]
        bq = sum((t.amount for t in entry if t.side == "buy"), ZERO)
        sq = sum((t.amount for t in entry if t.side == "sell"), ZERO)
        both = min(bq / plan.buy_amount if plan.buy_amount else ZERO,
                   sq / plan.sell_amount if plan.sell_amount else ZERO)
        buy_fee_in_base = any(t.side == "buy" and t.fee_currency == plan.base for t in entry)
        value_buy = m - plan.buy_price - (plan.buy_fee_rate * m if buy_fee_in_base
                                          else plan.buy_price * plan.buy_fee_rate)
        value_sell = plan.sell_price * (1 - plan.sell_fee_rate) - m
        excess = (bq - both * plan.buy_amount) * value_buy + (sq - both * plan.sell_amount) * value_sell
        corrective = ZERO
        for t in trades:
            if t.purpose == "entry":
                continue
            notional = t.price * t.amount
            corrective += (-notional + t.amount * m) if t.side == "buy" else (notional - t.amount * m)
            if t.fee_currency == plan.quote:
                corrective -= t.fee
            elif t.fee_currency == plan.base:
                corrective -= t.fee * m
            elif t.fee_price is not None:
                corrective -= t.fee * t.fee_price
        s = settle(plan, trades)
        at_cost = s.open_base * ((s.open_price or ZERO) - m)  # the open position is realized at cost, not mark
        return excess + corrective + at_cost


def test_the_replayed_pair_of_2021_08_20_00_42_40() -> None:
    """Bought 20 LINK at 27.4 on htx (fee 0.0064 LINK), sold 19.99 at 27.422 on gate (fee 0.0959290115 USDT)."""
    trades = [Trade("entry", "buy", D("27.4"), D("20.00"), D("0.0064"), "LINK"),
              Trade("entry", "sell", D("27.422"), D("19.99"), D("0.0959290115"), "USDT")]
    s = settle(LINK_PLAN, trades)
    # 0.0036 LINK left (20 - 0.0064 fee - 19.99), valued at the mark; the base fee is charged once.
    assert s.residual_base == D("0.0036")
    by_hand = D("548.16578") - D("548.000") - D("0.0959290115") + D("0.0036") * D("27.391132032")
    assert s.realized_pnl == money(by_hand) == D("0.168459063815")
    assert (s.slippage, s.fees, s.unfilled, s.imbalance) == (0, 0, 0, 0)
    assert s.fees_quote == money(D("0.0959290115") + D("0.0064") * D("27.391132032"))


def test_nothing_filled_loses_exactly_the_expected_profit_as_unfilled() -> None:
    s = settle(LINK_PLAN, [])
    assert (s.realized_pnl, s.unfilled, s.slippage, s.fees, s.imbalance) == (0, -LINK_PLAN.expected_profit, 0, 0, 0)


def test_one_leg_filled_and_unwound() -> None:
    """The buy filled, the sell did not; the unwind sold 19.99 back at 27.35 (fee in quote). The 0.0036 LINK
    the unwind could not sell (its amount step) is an open position, carried at its cost: 27.4."""
    trades = [Trade("entry", "buy", D("27.4"), D("20.00"), D("0.0064"), "LINK"),
              Trade("unwind", "sell", D("27.35"), D("19.99"), D("0.0956"), "USDT")]
    s = settle(LINK_PLAN, trades)
    assert (s.open_base, s.open_price) == (D("0.0036"), D("27.4"))
    assert s.realized_pnl == money(D("546.7265") - D("548") - D("0.0956") + D("0.0036") * D("27.4"))
    assert s.unfilled == -LINK_PLAN.expected_profit  # f = min(1, 0) = 0
    assert s.realized_pnl - LINK_PLAN.expected_profit == s.slippage + s.fees + s.unfilled + s.imbalance
    assert s.imbalance == money(imbalance_by_formula(LINK_PLAN, trades))


def test_a_naked_leg_is_an_open_position_and_realizes_only_its_fee() -> None:
    """The halted pair: gate sold 19.99 LINK, the buy on htx never filled. Nothing was closed: realized is the
    fee paid (a loss), and the 19.99 LINK short is open at the price it was sold at, never a profit at a
    decision-time mark."""
    trades = [Trade("entry", "sell", D("27.422"), D("19.99"), D("0.0959290115"), "USDT")]
    s = settle(LINK_PLAN, trades)
    assert (s.open_base, s.open_price, s.residual_base) == (D("-19.99"), D("27.422"), D("-19.99"))
    assert s.realized_pnl == money(-D("0.0959290115"))
    assert s.realized_pnl - LINK_PLAN.expected_profit == s.slippage + s.fees + s.unfilled + s.imbalance


def test_a_pair_filled_as_planned_leaves_no_open_position() -> None:
    trades = [Trade("entry", "buy", D("27.4"), D("20.00"), D("0.0064"), "LINK"),
              Trade("entry", "sell", D("27.422"), D("19.99"), D("0.0959290115"), "USDT")]
    assert settle(LINK_PLAN, trades).open_base == 0  # its 0.0036 LINK is the plan's own dust, at the mark


def test_a_third_currency_fee_with_no_price_is_counted_not_valued() -> None:
    trades = [Trade("entry", "buy", D("27.4"), D("20.00"), D("0.01"), "GT")]
    s = settle(LINK_PLAN, trades)
    assert s.fees_unpriced == 1 and s.fees_quote == 0 and s.residual_base == 20


def test_a_third_currency_fee_with_its_price_is_a_quote_fee_at_that_price() -> None:
    valued = settle(LINK_PLAN, [Trade("entry", "buy", D("27.4"), D("20.00"), D("0.01"), "GT", fee_price=D("18.25"))])
    as_quote = settle(LINK_PLAN, [Trade("entry", "buy", D("27.4"), D("20.00"), D("0.1825"), "USDT")])
    assert valued.fees_unpriced == 0 and valued.fees_quote == D("0.1825") and valued.residual_base == 20
    assert (valued.realized_pnl, valued.fees, valued.imbalance) == (
        as_quote.realized_pnl, as_quote.fees, as_quote.imbalance)


@pytest.mark.parametrize(("bid", "fee", "mark"), [(D("27.4"), D("0.001"), D("27.3726")), (None, D("0.001"), 0)])
def test_mark_price_is_best_bid_net_of_fee(bid: Decimal | None, fee: Decimal, mark: Decimal) -> None:
    assert mark_price(bid, fee) == mark


# -- properties ----------------------------------------------------------------------------------------

prices = st.decimals(min_value=D("1"), max_value=D("50000"), places=4)
amounts = st.decimals(min_value=D("0.001"), max_value=D("100"), places=3)
rates = st.sampled_from([D(0), D("0.000175"), D("0.00032"), D("0.001"), D("0.002")])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Plan, list[Trade], Decimal]:
    base_fee = draw(st.booleans())
    fb, fs = draw(rates), draw(rates)
    qb = draw(amounts)
    net = qb * (1 - fb) if base_fee else qb
    q = (net * draw(st.decimals(min_value=D("0.5"), max_value=D(1), places=2))).quantize(D("0.001"), "ROUND_DOWN")
    q = max(q, D("0.001"))
    pb = draw(prices)
    ps = pb * draw(st.decimals(min_value=D("0.99"), max_value=D("1.02"), places=4))
    m = mark_price(pb * D("0.999"), fb)
    e_acc = q * ps * (1 - fs) - qb * pb * (1 + (0 if base_fee else fb)) + (qb * (1 - (fb if base_fee else 0)) - q) * m
    plan = Plan("B", "Q", qb, q, pb, ps, fb, fs, money(e_acc), m)

    def fills(side: str, planned: Decimal, ref: Decimal, rate: Decimal, in_base: bool) -> list[Trade]:
        out = []
        left = planned * draw(st.sampled_from([D(0), D("0.5"), D(1), D("0.37")]))
        for _ in range(draw(st.integers(1, 3))):
            amount = (left / 2).quantize(D("0.001")) or left
            if amount <= 0:
                break
            price = ref * draw(st.decimals(min_value=D("0.995"), max_value=D("1.005"), places=4))
            fee = amount * rate if in_base else price * amount * rate
            if not in_base and draw(st.booleans()):  # paid in a fee token T (Gate's GT) at its price then
                token_price = draw(st.decimals(min_value=D("0.5"), max_value=D("50"), places=2))
                out.append(Trade("entry", side, price, amount, (fee / token_price).quantize(D("1e-8")), "T",
                                 fee_price=token_price))
            else:
                out.append(Trade("entry", side, price, amount, fee, "B" if in_base else "Q"))
            left -= amount
        return out

    trades = fills("buy", qb, pb, fb, base_fee) + fills("sell", q, ps, fs, False)
    if draw(st.booleans()):
        side = draw(st.sampled_from(["buy", "sell"]))
        amount = draw(amounts)
        price = pb * draw(st.decimals(min_value=D("0.98"), max_value=D("1.02"), places=4))
        trades.append(Trade(draw(st.sampled_from(["unwind", "complete"])), side, price, amount,
                            price * amount * D("0.001"), "Q"))
    return plan, trades, e_acc


def _at_1e12(value: F) -> D:
    """An exact rational to 1e-12, half to even (Python's ``round`` of a Fraction), as settle stores money."""
    return D(round(value * 10**12)).scaleb(-12)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_attribution_identity_is_exact_and_realized_recomputes(case: tuple[Plan, list[Trade], Decimal]) -> None:
    plan, trades, e_acc = case
    s = settle(plan, trades)
    assert s.realized_pnl - plan.expected_profit == s.slippage + s.fees + s.unfilled + s.imbalance

    # Independently, from the fills, the plan and the mark, in exact rational arithmetic (so a figure on a tie
    # at half a unit rounds as its exact value does): the planned dust at the mark, the rest at cost.
    quote = sum((t.price * t.amount * (1 if t.side == "sell" else -1) for t in trades), D(0))
    quote -= sum((t.fee for t in trades if t.fee_currency == "Q"), D(0))
    quote -= sum((t.fee * t.fee_price for t in trades if t.fee_currency == "T" and t.fee_price), D(0))
    base = sum((t.amount * (1 if t.side == "buy" else -1) for t in trades), D(0))
    base -= sum((t.fee for t in trades if t.fee_currency == "B"), D(0))
    entry = [t for t in trades if t.purpose == "entry"]
    filled = min(F(sum((t.amount for t in entry if t.side == "buy"), D(0))) / F(plan.buy_amount),
                 F(sum((t.amount for t in entry if t.side == "sell"), D(0))) / F(plan.sell_amount))
    base_fee = any(t.side == "buy" and t.fee_currency == "B" for t in entry)
    planned = filled * F(plan.buy_amount - plan.sell_amount - (plan.buy_amount * plan.buy_fee_rate if base_fee else 0))
    open_base = _at_1e12(F(base) - planned)
    side = [t for t in trades if t.side == ("buy" if open_base > 0 else "sell")]
    cost = (F(sum((t.price * t.amount for t in side), D(0))) / F(sum((t.amount for t in side), D(0)))
            if side and open_base else F(0))
    assert s.realized_pnl == _at_1e12(F(quote) + planned * F(plan.mark_price) + F(open_base) * cost)
    assert s.residual_base == base and s.open_base == open_base

    # imbalance is the remainder; by its own definition it is the entry excess + corrective orders, plus
    # the share of detection's rounding of expected (E_acc - E) on the part that filled.
    entry = [t for t in trades if t.purpose == "entry"]
    bq = sum((t.amount for t in entry if t.side == "buy"), D(0))
    sq = sum((t.amount for t in entry if t.side == "sell"), D(0))
    both = min(bq / plan.buy_amount, sq / plan.sell_amount)
    by_formula = imbalance_by_formula(plan, trades) + both * (e_acc - plan.expected_profit)
    # ... and the open position is carried at 1e-12 base: up to half of that, valued at its cost in realized
    # and at the mark in the formula's planned part (hypothesis found a case off by that half at the mark:
    # open -0.0000575000754990 carried as -0.000057500075, 4.99e-13 x mark 542.998 = 2.71e-10).
    price = max(abs(s.open_price or 0), abs(plan.mark_price))
    assert abs(s.imbalance - by_formula) <= D("3e-12") + price * D("0.5e-12")


# -- through detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [FeeMode.BASE, FeeMode.QUOTE])
def test_a_pair_filled_as_detection_walked_it_realizes_the_expected_profit(mode: FeeMode) -> None:
    buy = book("htx", bids=[(27.39, 30)], asks=[(27.40, 8), (27.401, 30)], fee="0.00032", mode=mode,
               market=rules("htx", price_step="0.001", amount_step="0.01"))
    sell = book("gate", bids=[(27.43, 5), (27.428, 40)], asks=[(27.44, 10)], fee="0.000175",
                market=rules("gate", price_step="0.001", amount_step="0.01"))
    opp = detect("LINK/USDT", [buy, sell], DetectionParams(max_size=D("20")))
    assert isinstance(opp, Opportunity)
    assert opp.mark_price == D("27.39") * (1 - D("0.00032"))

    def walk(levels: list[tuple[str, str]], amount: Decimal, side: str, rate: Decimal, in_base: bool) -> list[Trade]:
        out = []
        for price, size in levels:
            take = min(D(size), amount)
            fee = take * D(rate) if in_base else D(price) * take * D(rate)
            out.append(Trade("entry", side, D(price), take, fee, "LINK" if in_base else "USDT"))
            amount -= take
            if amount == 0:
                return out
        raise AssertionError("book too shallow")

    trades = (walk([("27.40", "8"), ("27.401", "30")], opp.buy_amount, "buy", D("0.00032"), mode is FeeMode.BASE)
              + walk([("27.43", "5"), ("27.428", "40")], opp.sell_amount, "sell", D("0.000175"), False))
    plan = Plan("LINK", "USDT", opp.buy_amount, opp.sell_amount, opp.buy_vwap, opp.sell_vwap, opp.buy_fee_rate,
                opp.sell_fee_rate, opp.expected_profit, opp.mark_price)
    s = settle(plan, trades)
    # Detection rounds money against us to 1e-12 (cost up, proceeds down) and its VWAPs to 1e-9 here.
    assert abs(s.realized_pnl - opp.expected_profit) <= D("3e-12")
    assert s.unfilled == 0 and abs(s.slippage) <= D("1e-7") and abs(s.imbalance) <= D("1e-7")
