"""The simulated venue's money is exact at any step a market may have (18 places, ``check_step``), whatever
decimal context the thread is in: an account's balance of 10^12 at 18 places is 31 digits, a notional of two
18-place figures 40, and Python's default context keeps 28. Before, the matcher's balances came out 1e-17 off
what the fills say, and an amount of 29 digits filled in parts left a remainder rounded up (an order filled
past its own amount: the property test's seed 102 found it through ``arb run``)."""

from __future__ import annotations

import decimal
import functools
from collections.abc import Iterable
from decimal import Decimal as D

import pytest
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, ROUND, decimal_to_precision

from arb.venues.gate.sandbox.matching import Engine
from arb.venues.gate.sandbox.orders import PairSpec
from arb.venues.sim.matching import Matcher
from arb.venues.sim.orders import SimMarket

STEP = D("1e-18")
FEE = D("0.001")
START = D(10**12)
ASK = D("1234.567890123456789012")
AMOUNT = D("12345.678901234567890123")
EXACT = decimal.Context(prec=200)  # the test's own arithmetic: wider than anything here


def _market(buy_fee_in: str = "quote") -> SimMarket:
    return SimMarket("X/USDT", "X", "USDT", STEP, STEP, taker_fee=FEE, maker_fee=FEE, buy_fee_in=buy_fee_in)  # type: ignore[arg-type]


def _matcher(ask_size: str) -> Matcher:
    m = Matcher([_market()])
    m.set_balance("a", "USDT", START)
    m.on_book("X/USDT", "snapshot", [("1", "5")], [(ASK, ask_size)], 1)
    return m


def _paid(m: Matcher) -> D:
    """What the fills say the account paid in quote: each trade's notional and its fee, exactly."""
    return _total(EXACT.multiply(EXACT.multiply(t.amount, t.price), 1 + FEE) for t in m.trades)


def _total(values: Iterable[D]) -> D:
    return functools.reduce(EXACT.add, values, D(0))


@pytest.fixture(params=["default", "left by ccxt"])
def context(request: pytest.FixtureRequest):
    """The thread's context as a run finds it: Python's default, or as ccxt's rounding leaves it (28 digits,
    half up: ``tests/test_decimal_context.py``)."""
    with decimal.localcontext():
        if request.param == "left by ccxt":
            decimal_to_precision("1.5", ROUND, 0, DECIMAL_PLACES)
        yield


@pytest.mark.usefixtures("context")
def test_a_taker_buys_quote_balance_is_what_its_fills_paid_to_the_last_unit() -> None:
    m = _matcher("98765.432109876543210987")
    order, _ = m.place("a", "X/USDT", "buy", ASK + STEP, AMOUNT, "ioc", "c1", 2)
    usdt = m.balance("a", "USDT")
    assert order.filled_amount == AMOUNT and order.locked == 0
    assert usdt.locked == 0
    assert usdt.available == EXACT.subtract(START, _paid(m))


@pytest.mark.usefixtures("context")
def test_a_resting_buy_filled_in_part_and_cancelled_gives_back_exactly_what_it_did_not_spend() -> None:
    m = _matcher("5000.000000000000000001")
    order, _ = m.place("a", "X/USDT", "buy", ASK + STEP, AMOUNT, "gtc", "c1", 2)
    assert order.is_open and order.filled_amount == D("5000.000000000000000001")
    m.cancel(order, 3)
    usdt = m.balance("a", "USDT")
    assert (usdt.locked, order.locked) == (0, 0)
    assert usdt.available == EXACT.subtract(START, _paid(m))


@pytest.mark.usefixtures("context")
def test_an_amount_of_29_digits_filled_in_parts_fills_exactly_its_amount() -> None:
    amount = D("19991999200.010670718828493927")  # 29 digits: the shape seed 102 made
    m = Matcher([_market("base")])
    m.set_balance("a", "X", amount)
    m.set_balance("a", "USDT", D(0))
    order, _ = m.place("a", "X/USDT", "sell", D(1), amount, "gtc", "c1", 1)
    first = D("7777777777.777777777777777777")
    m.on_trade("X/USDT", D(1), first, "buy", 2)
    assert order.left == EXACT.subtract(amount, first)
    m.on_trade("X/USDT", D(1), amount, "buy", 3)
    assert order.filled_amount == amount and not order.is_open
    assert m.balance("a", "X").locked == 0 and m.balance("a", "X").available == 0
    assert m.balance("a", "USDT").available == _total(EXACT.multiply(t.amount, 1 - FEE) for t in m.trades)


@pytest.mark.usefixtures("context")
def test_the_gate_sandbox_trading_between_its_accounts_is_as_exact() -> None:
    pair = PairSpec("X_USDT", precision=18, amount_precision=18, min_base_amount=STEP, taker_fee=FEE, maker_fee=FEE)
    engine = Engine([pair])
    for account in ("maker", "taker"):
        engine.set_balance(account, "USDT", START)
        engine.set_balance(account, "X", START)
    seller = engine.matcher.place("maker", "X_USDT", "sell", ASK, AMOUNT, "gtc", "s1", 1)[0]
    engine.matcher.place("taker", "X_USDT", "buy", ASK, AMOUNT, "ioc", "b1", 2)
    assert not seller.is_open
    notional = EXACT.multiply(AMOUNT, ASK)
    assert engine.balance("maker", "USDT").available == EXACT.add(START, EXACT.multiply(notional, 1 - FEE))
    assert engine.balance("maker", "X").available == EXACT.subtract(START, AMOUNT)
    assert engine.balance("taker", "USDT").available == EXACT.subtract(START, notional)
    assert engine.balance("taker", "X").available == EXACT.add(START, EXACT.multiply(AMOUNT, 1 - FEE))


@pytest.mark.usefixtures("context")
def test_a_perpetual_opened_and_closed_at_one_price_costs_its_wallet_exactly_its_two_fees() -> None:
    m = Matcher([SimMarket("X/USDT:USDT", "X", "USDT", STEP, STEP, taker_fee=FEE, maker_fee=FEE, linear=True)])
    m.set_balance("a", "USDT", START)
    m.on_book("X/USDT:USDT", "snapshot", [("1", "5")], [(ASK, "98765.432109876543210987")], 1)
    m.place("a", "X/USDT:USDT", "buy", ASK, AMOUNT, "ioc", "open", 2)
    m.on_book("X/USDT:USDT", "snapshot", [(ASK, "98765.432109876543210987")], [(ASK + 1, "5")], 3)
    m.place("a", "X/USDT:USDT", "sell", ASK, AMOUNT, "ioc", "close", 4)
    usdt = m.balance("a", "USDT")
    assert m.position("a", "X/USDT:USDT").amount == 0
    assert usdt.locked == 0
    # A perpetual's fee is money, half-even to 1e-12 (arb/margin.py); the wallet pays exactly those two.
    one_fee = EXACT.quantize(EXACT.multiply(EXACT.multiply(AMOUNT, ASK), FEE), D("1e-12"))
    assert [t.fee for t in m.trades] == [one_fee, one_fee]
    assert usdt.available == EXACT.subtract(START, EXACT.multiply(one_fee, 2))


@pytest.mark.usefixtures("context")
def test_a_sandbox_fee_paid_in_gt_gives_the_whole_fee_back_and_takes_gt_rounded_up_once() -> None:
    pair = PairSpec("X_USDT", precision=18, amount_precision=18, min_base_amount=STEP, taker_fee=FEE, maker_fee=FEE)
    engine = Engine([pair, PairSpec("GT_USDT", precision=18, amount_precision=18)])
    engine.on_book("GT_USDT", "snapshot", [("3.000000000000000001", "1")], [("3.000000000000000002", "1")], 1)
    engine.on_book("X_USDT", "snapshot", [("1", "5")], [(ASK, "98765.432109876543210987")], 1)
    engine.set_balance("a", "USDT", START)
    engine.set_balance("a", "GT", START)
    engine.set_balance("a", "X", START)
    engine.gt_accounts.add("a")
    engine.place("a", {"currency_pair": "X_USDT", "side": "buy", "amount": str(AMOUNT), "price": str(ASK),
                       "time_in_force": "ioc", "text": "t-b1"}, 2)
    [trade] = engine.trades
    fee_value = EXACT.multiply(EXACT.multiply(AMOUNT, FEE), ASK)  # a buy's fee is base: its value in quote
    mid = D("3.0000000000000000015")
    gt = EXACT.divide(fee_value, mid).quantize(D("1e-8"), rounding=decimal.ROUND_UP, context=EXACT)
    assert engine.gt_fee(trade) == gt
    assert engine.balance("a", "GT").available == EXACT.subtract(START, gt)
    assert engine.balance("a", "X").available == EXACT.add(START, AMOUNT)  # the fee given back, to the last unit
    assert engine.balance("a", "USDT").available == EXACT.subtract(START, EXACT.multiply(AMOUNT, ASK))
