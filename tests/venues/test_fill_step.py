"""A simulated fill is on the market's amount step (issue #47): a print or a book level finer than the step
fills what it holds in whole steps, rounded down; the part below a step fills nobody at that price."""

from __future__ import annotations

from decimal import Decimal as D

from arb.venues.sim.matching import Matcher
from arb.venues.sim.orders import SimMarket

STEP = D("0.00001")


def resting(side: str = "buy") -> Matcher:
    m = Matcher([SimMarket("BTC/USDT", "BTC", "USDT", D("0.01"), STEP)])
    m.set_balance("a", "USDT", D(10**6))
    m.set_balance("a", "BTC", D(10))
    m.on_book("BTC/USDT", "snapshot", [("60000", "1")], [("60001", "1")], 1)
    price = D("59999") if side == "buy" else D("60002")
    m.place("a", "BTC/USDT", side, price, D("0.002"), "poc", "q1", 2)
    return m


def test_a_print_finer_than_the_step_fills_nothing_and_a_coarser_one_whole_steps() -> None:
    m = resting()
    m.on_trade("BTC/USDT", D("1"), D("0.00000001"), "sell", 3)  # through the bid, far below a step
    assert m.trades == []
    m.on_trade("BTC/USDT", D("1"), D("0.0000234"), "sell", 4)  # 2.34 steps
    assert [t.amount for t in m.trades] == [D("0.00002")]
    assert all(t.amount % STEP == 0 for t in m.trades)


def test_the_rest_of_a_print_below_a_step_goes_to_the_next_order_and_then_nowhere() -> None:
    m = resting()
    m.place("a", "BTC/USDT", "buy", D("59998"), D("0.00001"), "poc", "q2", 3)
    m.on_trade("BTC/USDT", D("1"), D("0.0020099"), "sell", 4)  # fills q1 (0.002), q2 gets 0.0000099: nothing
    assert [(t.client_id, t.amount) for t in m.trades] == [("q1", D("0.002"))]
    assert [o.client_id for o in m.open_orders()] == ["q2"]


def test_a_book_crossing_a_resting_order_with_an_off_step_size_fills_whole_steps() -> None:
    m = resting("sell")
    m.on_book("BTC/USDT", "delta", [("60003", "0.0000157")], [], 3)  # crosses the ask at 60002
    assert [t.amount for t in m.trades] == [D("0.00001")]
