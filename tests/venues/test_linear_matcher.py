"""The matcher on a linear perpetual: a fill moves a position, not base; margin and fees in the settle currency;
a reduction realizes into the wallet (arb/margin.py), and what the wallet ends with is start - fees + realized."""

from decimal import Decimal as D

import pytest

from arb.margin import PositionState, apply_fill
from arb.venues.sim.matching import Matcher, Refused
from arb.venues.sim.orders import SimMarket

PERP = SimMarket("ETH/USDT", "ETH", "USDT", D("0.01"), D("0.001"), taker_fee=D("0.001"), maker_fee=D("0"),
                 linear=True, leverage=D("10"))


def matcher(usdt: str = "1000") -> Matcher:
    m = Matcher([PERP])
    m.set_balance("a", "USDT", D(usdt))
    m.on_book("ETH/USDT", "snapshot", [("99", "5"), ("98", "5")], [("100", "5"), ("101", "5")], 0)
    return m


def test_a_buy_opens_a_long_holding_margin_and_paying_its_fee_in_usdt() -> None:
    m = matcher()
    order, _ = m.place("a", "ETH/USDT", "buy", D("100"), D("1"), "ioc", "c1", 1)
    assert order.filled_amount == 1
    assert m.position("a", "ETH/USDT") == PositionState(D("1"), D("100"))
    usdt = m.balance("a", "USDT")
    assert usdt.locked == D("10")  # 1 x 100 / 10
    assert usdt.available == D("1000") - D("10") - D("0.1")
    assert "ETH" not in m.balances["a"]  # no base anywhere
    assert m.trades[-1].fee_currency == "USDT"


def test_a_sell_needs_no_base_and_a_reduction_realizes() -> None:
    m = matcher()
    m.place("a", "ETH/USDT", "sell", D("99"), D("2"), "ioc", "s1", 1)  # opens a short: no ETH held
    assert m.position("a", "ETH/USDT").amount == D("-2")
    m.on_book("ETH/USDT", "snapshot", [("94", "5")], [("95", "5")], 2)
    m.place("a", "ETH/USDT", "buy", D("95"), D("3"), "ioc", "b1", 3)  # closes 2 (+8 realized), opens 1 long
    assert m.position("a", "ETH/USDT") == PositionState(D("1"), D("95"))
    usdt = m.balance("a", "USDT")
    fees = D("2") * 99 * D("0.001") + D("3") * 95 * D("0.001")
    assert usdt.available + usdt.locked == D("1000") - fees + D("8")
    assert usdt.locked == D("9.5")


def test_margin_beyond_the_wallet_is_refused_and_nothing_moves() -> None:
    m = matcher("5")
    with pytest.raises(Refused):
        m.place("a", "ETH/USDT", "sell", D("99"), D("1"), "ioc", "s1", 1)  # needs 9.9 + 0.099
    assert m.balance("a", "USDT").available == D("5") and not m.positions


def test_a_resting_order_holds_margin_and_gives_it_back_when_cancelled() -> None:
    m = matcher()
    order, _ = m.place("a", "ETH/USDT", "buy", D("97"), D("1"), "poc", "q1", 1)
    assert m.balance("a", "USDT").locked == D("9.797")  # 97 / 10 + 97 x 0.001 (the larger fee)
    m.cancel(order, 2)
    assert m.balance("a", "USDT") .available == D("1000") and m.balance("a", "USDT").locked == 0


@pytest.mark.parametrize(("fills", "position", "realized"), [
    ([("buy", "100", "1"), ("buy", "110", "1")], ("2", "105"), "0"),
    ([("buy", "100", "2"), ("sell", "110", "1")], ("1", "100"), "10"),
    ([("sell", "100", "2"), ("buy", "90", "2")], ("0", "0"), "20"),
    ([("sell", "100", "1"), ("buy", "90", "3")], ("2", "90"), "10"),
])
def test_apply_fill(fills: list[tuple[str, str, str]], position: tuple[str, str], realized: str) -> None:
    state, total = PositionState(), D(0)
    for side, price, amount in fills:
        state, r = apply_fill(state, side, D(price), D(amount))
        total += r
    assert (state.amount, state.entry) == (D(position[0]), D(position[1]))
    assert total == D(realized)


def test_funding_is_settled_once_when_its_time_is_reached_long_pays_short_receives() -> None:
    m = matcher()
    m.set_balance("b", "USDT", D("1000"))
    m.place("a", "ETH/USDT", "buy", D("100"), D("2"), "ioc", "l1", 1)  # a: long 2
    m.place("b", "ETH/USDT", "sell", D("99"), D("3"), "ioc", "s1", 1)  # b: short 3
    before = {acc: m.balance(acc, "USDT").available for acc in "ab"}
    assert m.on_funding("ETH/USDT", D("100"), D("0.001"), 1_000, 10) == []  # announced, not due yet
    assert m.on_funding("ETH/USDT", D("101"), D("0.002"), 1_000, 999) == []  # announced again: these terms count
    paid = m.on_funding("ETH/USDT", D("102"), D("-0.001"), 2_000, 1_000)  # 1000 reached: settled, the next announced
    assert [(p.account, p.position, p.rate, p.mark, p.amount, p.ts_ms) for p in paid] == [
        ("a", D("2"), D("0.002"), D("101"), D("-0.404"), 1_000),  # a long pays a positive rate
        ("b", D("-3"), D("0.002"), D("101"), D("0.606"), 1_000)]  # a short receives it
    assert m.on_funding("ETH/USDT", D("102"), D("-0.001"), 2_000, 1_500) == []
    assert m.on_funding("ETH/USDT", D("102"), D("0.5"), 1_000, 1_600) == []  # a late line for 1000: never twice
    again = m.on_funding("ETH/USDT", D("103"), D("0"), 4_000, 3_000)  # a negative rate: the long receives
    assert [(p.amount, p.ts_ms) for p in again] == [(D("0.204"), 2_000), (D("-0.306"), 2_000)]
    assert m.balance("a", "USDT").available == before["a"] - D("0.404") + D("0.204")
    assert m.balance("b", "USDT").available == before["b"] + D("0.606") - D("0.306")
