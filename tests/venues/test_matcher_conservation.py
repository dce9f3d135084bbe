"""The one matcher keeps every unit (property test): whatever the market's steps (1 to 1e-18), fee rates (a
maker rebate included), who pays a buy's fee, balances and sizes, and whatever happens (books, prints,
orders of every time in force, amends, cancels), after every step each account's every currency holds
exactly what it started with plus what its trades moved, funds locked are exactly what its open orders
hold, and no order fills past its amount or off its step: on the paper venue's matcher and on the Gate
sandbox's, whose accounts also trade with each other."""

from __future__ import annotations

import decimal
import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal as D

from hypothesis import event, given, settings
from hypothesis import strategies as st

from arb.venues.gate.sandbox.accounts import AccountsMatcher
from arb.venues.sim.matching import Matcher, Refused
from arb.venues.sim.orders import SimMarket, SimTrade

SYMBOL = "X/USDT"
ACCOUNTS = ("a", "b")
EXACT = decimal.Context(prec=200)  # the test's own arithmetic: wider than anything here


@dataclass(frozen=True)
class Setup:
    price_step: D
    amount_step: D
    taker_fee: D
    maker_fee: D
    buy_fee_in: str
    mid: int  # in price steps
    unit: int  # a typical size, in amount steps
    funds: tuple[int, int]  # each account's quote and base, in typical orders' worth (0: only dust)
    dust: tuple[int, int]  # and beyond that, in units of 10^-18


@st.composite
def setups(draw: st.DrawFn) -> Setup:
    price_places, amount_places = draw(st.integers(0, 18)), draw(st.integers(0, 18))
    fee = st.sampled_from([D(0), D("0.001"), D("0.00075"), D("0.002")])
    return Setup(
        D(draw(st.sampled_from([1, 5, 25]))).scaleb(-price_places),
        D(draw(st.sampled_from([1, 5]))).scaleb(-amount_places),
        draw(fee), draw(st.one_of(fee, st.just(D("-0.0001")))),  # a maker rebate: the fee negative
        draw(st.sampled_from(["base", "quote"])),
        draw(st.integers(100, 10**12)), draw(st.integers(1, 10**9)),
        (draw(st.integers(0, 20)), draw(st.integers(0, 20))),
        (draw(st.integers(0, 10**18)), draw(st.integers(0, 10**18))),
    )


STEPS = st.lists(st.tuples(
    st.sampled_from(["snapshot", "delta", "print", "order", "order", "amend", "cancel"]),
    st.sampled_from(ACCOUNTS), st.sampled_from(["buy", "sell"]),
    st.integers(-5, 5),  # price: steps from the mid
    st.integers(0, 40),  # amount: in tenths of the unit, then down to the step
    st.sampled_from(["gtc", "ioc", "poc", "fok"]),
    st.integers(0, 30),  # which earlier order (amend, cancel)
), min_size=20, max_size=60)


def _total(values: Iterable[D]) -> D:
    return functools.reduce(EXACT.add, values, D(0))


def _flows(market: SimMarket, trades: list[SimTrade], account: str, currency: str) -> D:
    """What ``account``'s trades moved in ``currency``: a buy pays quote and receives base, a sell the other
    way round, the fee out of what is received (or on top, in quote, under ``buy_fee_in = "quote"``)."""
    moved: list[D] = []
    for t in trades:
        if t.account != account:
            continue
        notional = EXACT.multiply(t.amount, t.price)
        sign = 1 if t.side == "buy" else -1
        if currency == market.base:
            moved.append(EXACT.multiply(t.amount, sign))
        if currency == market.quote:
            moved.append(EXACT.multiply(notional, -sign))
        if currency == t.fee_currency:
            moved.append(-t.fee)
    return _total(moved)


@settings(max_examples=150, deadline=None)
@given(setups(), STEPS, st.booleans())
def test_every_unit_is_where_the_trades_put_it_after_every_step(setup: Setup, steps: list[tuple],
                                                                 between_accounts: bool) -> None:
    """``between_accounts``: the Gate sandbox's matcher, where the two accounts' orders trade with each other."""
    market = SimMarket(SYMBOL, "X", "USDT", setup.price_step, setup.amount_step, taker_fee=setup.taker_fee,
                       maker_fee=setup.maker_fee, buy_fee_in=setup.buy_fee_in)  # type: ignore[arg-type]
    m = AccountsMatcher([market], new_id=itertools.count(1).__next__) if between_accounts else Matcher([market])
    unit = setup.amount_step * setup.unit
    worth = {"USDT": EXACT.multiply(unit, setup.price_step * (setup.mid + 5)), "X": unit}
    start = {c: EXACT.add(EXACT.multiply(worth[c], n), D(dust).scaleb(-18))
             for c, n, dust in zip(("USDT", "X"), setup.funds, setup.dust, strict=True)}
    for account in ACCOUNTS:
        for currency, amount in start.items():
            m.set_balance(account, currency, amount)
    placed = []
    for t, (kind, account, side, offset, tenths, tif, which) in enumerate(steps, 1):
        price = setup.price_step * max(1, setup.mid + offset)
        amount = (unit * tenths / 10).quantize(setup.amount_step, context=EXACT) if tenths else unit
        amount -= amount % setup.amount_step
        try:
            if kind == "snapshot":  # both sides, a step apart around ``price``
                m.on_book(SYMBOL, kind, [(price - setup.price_step, amount)], [(price, amount)], t)
            elif kind == "delta":  # one level of one side (size 0 at tenths 0: the level removed)
                level = [(price, amount if tenths else D(0))]
                m.on_book(SYMBOL, kind, level if side == "buy" else [], level if side == "sell" else [], t)
            elif kind == "print":
                m.on_trade(SYMBOL, price, amount, side, t)
            elif kind == "order":
                placed.append(m.place(account, SYMBOL, side, price, amount, tif, f"c{t}", t)[0])
            elif placed and kind == "amend":
                m.amend(placed[which % len(placed)], t, amount=amount if which % 2 else None,
                        price=price if which % 3 else None)
            elif placed and kind == "cancel":
                m.cancel(placed[which % len(placed)], t)
        except Refused:
            pass
        for account in ACCOUNTS:
            mine = [o for o in m.orders.values() if o.account == account]
            for currency in ("USDT", "X"):
                held = m.balance(account, currency)
                assert EXACT.add(held.available, held.locked) == EXACT.add(
                    start[currency], _flows(market, m.trades, account, currency)), (account, currency)
                assert held.available >= 0 and held.locked >= 0
                assert held.locked == _total(o.locked for o in mine if o.is_open and market.pays_with(o.side)
                                             == currency)
            for order in mine:
                assert 0 <= order.filled_amount <= order.amount and order.filled_amount % setup.amount_step == 0
                assert order.is_open or order.locked == 0
    event(f"trades: {min(len(m.trades), 5)}{'+' if len(m.trades) >= 5 else ''}")
    event(f"open at the end: {bool(m.open_orders())}")
    shared = len(m.trades) - len({t.id for t in m.trades})  # a trade between accounts: one id, both sides
    event(f"trades between accounts: {min(shared, 3) if between_accounts else '-'}")
