"""Queue models (``arb/venues/sim/queue.py``): each against its formula on a small hand-built book (a cancel ahead
of a resting order or behind it, trades at its price, a level that grows, an order at a price no level held),
the estimate never below zero and never raised by a book event whatever the events (a property), and on the
same orders and the same recorded stream the conservative model never fills more than a probabilistic one."""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal
from decimal import Decimal as D

import pytest
from engine.maker_capture import DATA  # tests/engine/maker_capture.py
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.cli import main
from arb.marketdata.capture import read_capture
from arb.venues.sim.matching import Matcher, Refused
from arb.venues.sim.orders import SimMarket, SimOrder
from arb.venues.sim.queue import CONSERVATIVE, LOG, POWER, QueueModel

STEP = D("0.0001")
MODELS = [QueueModel(), QueueModel(POWER, 2.0), QueueModel(POWER, 3.0), QueueModel(LOG)]


def market(model: QueueModel, step: Decimal = STEP) -> SimMarket:
    return SimMarket("ETH/USDT", "ETH", "USDT", D("0.01"), step, queue=model)


def resting_buy(model: QueueModel, shown: str, price: str = "100") -> tuple[Matcher, SimOrder]:
    """A buy of 1 resting at ``price``, behind ``shown`` there (the best bid 100, the best ask 101)."""
    m = Matcher([market(model)])
    m.set_balance("a", "USDT", D(10_000))
    m.on_book("ETH/USDT", "snapshot", [("100", shown), ("99", "50")], [("101", "5")], 1)
    order, _ = m.place("a", "ETH/USDT", "buy", D(price), D(1), "poc", "b1", 2)
    return m, order


def bid(m: Matcher, price: str, size: str, ts: int) -> None:
    m.on_book("ETH/USDT", "delta", [(price, size)], [], ts)


def formula(model: QueueModel, front: float, back: float, cancelled: float) -> Decimal:
    """hftbacktest's ProbQueueModel.depth written out: est = front - (1 - p) c + min(back - p c, 0), p =
    f(back) / (f(back) + f(front)); here the move, ``front - est``, rounded down to the step."""
    f = {CONSERVATIVE: lambda x: 0.0 if x == 0 else math.inf,  # p = 1 whenever anything is behind
         POWER: lambda x: x ** (model.power or 0), LOG: math.log1p}[model.name]
    p = 1.0 if f(back) == math.inf else f(back) / (f(back) + f(front))
    est = front - (1 - p) * cancelled + min(back - p * cancelled, 0.0)
    return (D(front - est) / STEP).to_integral_value(rounding=ROUND_FLOOR) * STEP


@pytest.mark.parametrize("model", MODELS, ids=str)
def test_a_cancel_behind_and_ahead_moves_the_order_up_by_the_formula(model: QueueModel) -> None:
    m, order = resting_buy(model, "10")
    assert order.queue_ahead == 10
    bid(m, "100", "16", 3)  # 6 joined behind it: nothing ahead changes
    assert order.queue_ahead == 10
    bid(m, "100", "13", 4)  # a cancel of 3: 10 ahead of it, 6 behind
    moved = formula(model, 10, 6, 3)
    assert order.queue_ahead == 10 - moved
    pinned = {"conservative": D(0), "power n=2": D("2.2058"), "power n=3": D("2.4671"), "log": D("1.6560")}
    assert moved == pinned[str(model)]  # the formula's figures, as worked by hand
    ahead = order.queue_ahead
    bid(m, "100", "5", 5)  # a cancel of 8: more than is behind it (3 left there), so at least 5 was ahead
    assert order.queue_ahead == min(ahead - formula(model, float(ahead), float(13 - ahead), 8), D(5))
    assert order.filled_amount == 0


@pytest.mark.parametrize("model", MODELS, ids=str)
def test_a_trade_moves_the_order_up_once_and_its_print_is_no_cancel(model: QueueModel) -> None:
    m, order = resting_buy(model, "10")
    bid(m, "100", "14", 3)  # 4 behind
    m.on_trade("ETH/USDT", D(100), D(3), "sell", 4)  # takes 3 of the 10 ahead
    assert order.queue_ahead == 7
    bid(m, "100", "11", 5)  # the level shows the print now: 14 - 3, no cancel
    assert order.queue_ahead == 7
    m.on_trade("ETH/USDT", D(100), D(2), "sell", 6)
    bid(m, "100", "8", 7)  # the print of 2 and a cancel of 1, with 5 ahead and 4 behind
    assert order.queue_ahead == 5 - formula(model, 5, 4, 1)
    m.on_trade("ETH/USDT", D(100), order.queue_ahead + D("0.25"), "sell", 8)  # through the queue into it
    assert (order.queue_ahead, order.filled_amount) == (0, D("0.25"))


@pytest.mark.parametrize("model", MODELS, ids=str)
def test_an_order_at_a_new_price_is_first_and_no_cancel_moves_it(model: QueueModel) -> None:
    m, order = resting_buy(model, "10", price="100.5")
    assert order.queue_ahead == 0
    bid(m, "100.5", "4", 3)  # others join behind it
    bid(m, "100.5", "1", 4)  # and cancel: all of it behind (nothing is ahead)
    assert order.queue_ahead == 0
    m.on_trade("ETH/USDT", D("100.5"), D("0.4"), "sell", 5)
    assert order.filled_amount == D("0.4")


@pytest.mark.parametrize("model", [QueueModel(POWER, 2.0), QueueModel(POWER, 3.0)], ids=str)
def test_a_cancel_never_fills(model: QueueModel) -> None:
    """With 10 ahead and 3 behind, a cancel of 12.5 is behind with p = 9/109 (n = 2): hftbacktest's estimate
    10 - (1 - p) 12.5 is -1.47, and it fills the order by that much. A cancel trades nothing here: the order
    is first, unfilled. (Only a power above 1 can go below zero: log's p is never under back / (front + back).)"""
    m, order = resting_buy(model, "10")
    bid(m, "100", "13", 3)
    assert formula(model, 10, 3, 12.5) > 10  # the formula's estimate is below zero
    bid(m, "100", "0.5", 4)
    assert (order.queue_ahead, order.filled_amount) == (0, 0)


def test_a_model_and_its_exponent_go_together() -> None:
    assert str(QueueModel(POWER, 2.0)) == "power n=2" and str(QueueModel()) == "conservative"
    for name, power in ((POWER, None), (LOG, 2.0), ("fifo", None), (POWER, 0.0), (POWER, math.inf)):
        with pytest.raises(ValueError):
            QueueModel(name, power)


def test_huge_queues_and_exponents_keep_the_probability_in_range() -> None:
    model = QueueModel(POWER, 100.0)
    assert model.behind(D("1e30"), D("1")) == 0.0 and model.behind(D(1), D("1e30")) == 1.0
    assert 0.0 < QueueModel(LOG).behind(D("1e30"), D("1e30")) < 1.0


# ---- a property: any stream of book events and trades at the order's level ---------------------------------
SIZE = st.integers(0, 200_000).map(lambda n: D(n).scaleb(-4))
EVENT = st.one_of(st.tuples(st.just("level"), SIZE),
                  st.tuples(st.just("trade"), st.integers(1, 30_000).map(lambda n: D(n).scaleb(-4)),
                            st.sampled_from(["100", "99.99"])))  # at its price, or through it


@settings(max_examples=150, deadline=None)
@given(first=SIZE, events=st.lists(EVENT, max_size=40), power=st.floats(0.1, 10))
def test_queue_ahead_never_goes_negative_nor_up_and_no_model_fills_less_than_the_conservative(
        first: Decimal, events: list[tuple], power: float) -> None:
    models = [QueueModel(), QueueModel(POWER, power), QueueModel(LOG)]
    rigs = [resting_buy(model, str(first)) for model in models]
    for ts, event in enumerate(events, start=3):
        for m, order in rigs:
            before = order.queue_ahead
            if event[0] == "level":
                bid(m, "100", str(event[1]), ts)
            else:
                m.on_trade("ETH/USDT", D(event[2]), event[1], "sell", ts)
            assert 0 <= order.queue_ahead <= before
        (_, conservative), *others = rigs
        for _, order in others:
            assert order.queue_ahead <= conservative.queue_ahead
            assert order.filled_amount >= conservative.filled_amount


# ---- on the recorded stream ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def eth_spot(tmp_path_factory: pytest.TempPathFactory) -> list:
    out = tmp_path_factory.mktemp("eth") / "spot.jsonl"
    assert main(["convert", "binance", str(DATA / "binance-spot-ethusdt-20240808.gz"), "--symbol", "ETH/USDT",
                 "--out", str(out)]) == 0
    return list(read_capture(out, trades=True))


def quote_along(events: list, model: QueueModel, every_ms: int = 2_000, size: Decimal = D("0.05")) -> Decimal:
    """A bid at the best bid and an ask at the best ask, replaced every ``every_ms`` of the recording whatever
    they filled (so every model rests the same orders over the same events); the base they filled."""
    m = Matcher([market(model)])
    m.set_balance("a", "USDT", D(10) ** 9)
    m.set_balance("a", "ETH", D(10) ** 6)
    next_ms, n = 0, 0
    for event in events:
        if event.type == "trade":
            m.on_trade("ETH/USDT", D(event.price), D(event.amount), event.side, event.ts)
            continue
        m.on_book("ETH/USDT", event.type, event.bids, event.asks, event.ts)
        if event.ts < next_ms:
            continue
        next_ms = event.ts + every_ms
        for order in m.open_orders("a"):
            m.cancel(order, event.ts)
        book = m.book("ETH/USDT")
        for side, price in (("buy", book.best_bid()), ("sell", book.best_ask())):
            if price is None:
                continue
            n += 1
            try:
                m.place("a", "ETH/USDT", side, price, size, "poc", f"q{n}", event.ts)
            except Refused:
                pass
    return sum((t.amount for t in m.trades), D(0))


def test_on_the_eth_recording_the_conservative_model_fills_least(eth_spot: list) -> None:
    filled = {str(model): quote_along(eth_spot, model) for model in MODELS}
    least = filled["conservative"]
    assert least > 0 and all(amount >= least for amount in filled.values()), filled
    assert filled["log"] > least and filled["power n=2"] > least, filled  # the models differ on real cancels
