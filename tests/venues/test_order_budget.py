"""A venue's order budget (``arb/venues/throttle.py``, ``OrderBudget``) on an injected clock: every window holds,
an order waits for room or is refused before it leaves, and what it held back and the headroom are counted."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.domain.market import Side
from arb.domain.venue import DeadMansSwitch, FillStream, OrderRequest
from arb.errors import OrderBudgetExceeded, RateLimited
from arb.venues.guard import BudgetedVenue
from arb.venues.throttle import SEND_JITTER_S, OrderBudget, OrderWindow, budget_text
from tests.execution.fakes import FakeTime
from tests.execution.harness import SYMBOL, ScriptedVenue, make_book, paper
from tests.venues.arrivals import left_at, most_arriving_within

D = Decimal
BINANCE_SPOT = (OrderWindow(100, 10.0), OrderWindow(200_000, 86_400.0))
GATE_SPOT = (OrderWindow(10, 1.0, per_market=True),)


def budget(t: FakeTime, windows: tuple[OrderWindow, ...], *, max_wait_s: float = 5.0,
           held: bool = False) -> OrderBudget:
    return OrderBudget("v", windows, max_wait_s=max_wait_s, clock=t.clock, sleep=t.sleep, held=lambda: held)


async def sent_at(t: FakeTime, b: OrderBudget, markets: list[str]) -> list[float]:
    """When each order, asked for one after the other, left (seconds from the start)."""
    return await left_at(t, b.take, markets)


async def test_a_full_window_holds_the_next_order_until_its_oldest_leaves() -> None:
    t = FakeTime()
    b = budget(t, (OrderWindow(3, 1.0),))
    assert await sent_at(t, b, ["A"] * 3) == [0.0, 0.0, 0.0]
    t.now += 0.25
    assert await sent_at(t, b, ["A"]) == [0.75]  # the first three leave the window at 1.0
    assert t.sleeps == [0.75] and (b.waited, b.refused) == (1, 0)
    assert b.snapshot() == {"waited": 1, "refused": 0, "headroom": {"3/1s": 2}}  # at 1.0: one order in it


async def test_binance_spot_100_per_10_s_and_200000_a_day() -> None:
    t = FakeTime()
    b = budget(t, BINANCE_SPOT, max_wait_s=10.0)
    assert (await sent_at(t, b, ["A", "B"] * 50))[-1] == 0.0  # one account: markets share the windows
    assert b.snapshot()["headroom"] == {"100/10s": 0, "200000/86400s": 199_900}
    assert await sent_at(t, b, ["A"]) == [10.0]  # the 101st waits for the first hundred to leave
    assert b.snapshot()["headroom"] == {"100/10s": 99, "200000/86400s": 199_899}


async def test_the_day_window_refuses_once_it_is_spent() -> None:
    t = FakeTime()
    b = budget(t, (OrderWindow(2, 10.0), OrderWindow(3, 86_400.0)), max_wait_s=10.0)
    assert await sent_at(t, b, ["A"] * 3) == [0.0, 0.0, 10.0]
    with pytest.raises(OrderBudgetExceeded, match=r"v: order budget 3/86400s on A: room in 86390\.000 s"):
        await b.take("A")
    assert (b.waited, b.refused) == (1, 1)
    t.now += 86_390.0  # the day's first order leaves: room again, at once
    assert await sent_at(t, b, ["A"]) == [0.0]


async def test_gate_counts_each_market_on_its_own() -> None:
    t = FakeTime()
    b = budget(t, GATE_SPOT)
    assert await sent_at(t, b, ["LINK/USDT"] * 10 + ["BTC/USDT"] * 5) == [0.0] * 15  # another market: no wait
    assert b.snapshot()["headroom"] == {"10/1s per market": 0}  # on the fullest market
    assert await sent_at(t, b, ["LINK/USDT"]) == [1.0]
    t.now += 0.5
    assert b.snapshot()["headroom"] == {"10/1s per market": 9}  # the first ten left; the eleventh is in


async def test_held_to_the_venues_own_window_a_burst_arrives_over_its_limit_under_jitter() -> None:
    """The defect SEND_JITTER_S answers: ten orders leave at once, the eleventh a second later, as Gate's 10 a
    second allows on send times; the ten arrive 0.1 s late, the eleventh at once: eleven in one second there."""
    t = FakeTime(start=0.0)
    sent = await sent_at(t, budget(t, GATE_SPOT, max_wait_s=5.0), ["LINK/USDT"] * 11)
    assert sent == [0.0] * 10 + [1.0]
    assert most_arriving_within(1.0, sent, [SEND_JITTER_S] * 10 + [0.0]) == 11


@settings(max_examples=200, deadline=None)
@given(gaps=st.lists(st.integers(0, 400), min_size=11, max_size=60),
       delays=st.lists(st.floats(0.0, SEND_JITTER_S, exclude_max=True), min_size=60, max_size=60))
def test_with_the_jitter_allowance_no_window_of_arrivals_holds_more_than_the_venue_allows(
        gaps: list[int], delays: list[float]) -> None:
    """However the orders ask (``gaps`` in ms between asks) and however their one-way latencies differ by less
    than SEND_JITTER_S, a venue counting arrivals never sees more than its window allows."""
    async def sends() -> list[float]:
        t = FakeTime(start=0.0)
        b = OrderBudget("v", GATE_SPOT, max_wait_s=60.0, jitter_s=SEND_JITTER_S, clock=t.clock, sleep=t.sleep,
                        held=lambda: False)
        out = []
        for gap in gaps:
            t.now += gap / 1000
            await b.take("LINK/USDT")
            out.append(t.now)
        return out

    sent = asyncio.run(sends())
    assert most_arriving_within(1.0, sent, delays[:len(sent)]) <= 10


async def test_orders_asking_together_queue_and_each_knows_its_wait_at_once() -> None:
    t, asleep = FakeTime(), asyncio.Event()

    async def sleep(seconds: float) -> None:  # market time stands still while the others ask
        t.sleeps.append(seconds)
        await asleep.wait()

    b = OrderBudget("v", (OrderWindow(1, 1.0),), max_wait_s=1.5, clock=t.clock, sleep=sleep, held=lambda: False)
    await b.take("A")  # the window is full for the next second
    second = asyncio.create_task(b.take("A"))
    await asyncio.sleep(0)
    assert t.sleeps == [1.0]  # it reserved the instant the window has room, and waits for it
    with pytest.raises(OrderBudgetExceeded, match="room in 2.000 s"):  # behind it: 2 s, past 1.5
        await b.take("A")
    asleep.set()
    await second
    assert (b.waited, b.refused) == (1, 1)


async def test_a_refused_order_takes_no_slot() -> None:
    t = FakeTime()
    b = budget(t, (OrderWindow(1, 10.0),), max_wait_s=5.0)
    await b.take("A")
    for _ in range(3):
        with pytest.raises(OrderBudgetExceeded):
            await b.take("A")
    t.now += 10.0
    assert await sent_at(t, b, ["A"]) == [0.0] and b.refused == 3


async def test_while_market_time_stands_still_an_order_is_counted_and_refused_but_never_waits() -> None:
    t = FakeTime()
    b = budget(t, (OrderWindow(1, 1.0),), max_wait_s=1.5, held=True)
    assert await sent_at(t, b, ["A", "A"]) == [0.0, 0.0] and t.sleeps == []  # that clock would never move
    assert b.waited == 1
    with pytest.raises(OrderBudgetExceeded):  # a third would wait 2 s: refused, as on a moving clock
        await b.take("A")


def test_the_refusal_is_definitive_and_no_breaker_failure() -> None:
    # A RateLimited (the executor's legs count no breaker failure for it) that is not retryable: the maker's
    # journal records a non-retryable refusal `rejected`, never `unknown` (an outcome to look up).
    exc = OrderBudgetExceeded("gate", "order budget 10/1s per market on LINK/USDT: room in 0.5 s")
    assert isinstance(exc, RateLimited) and not exc.retryable and exc.reset_at is None


def test_the_surfaces_word_one_snapshot() -> None:
    assert budget_text({"waited": 3, "refused": 1, "headroom": {"100/10s": 97, "200000/86400s": 199_996}}) == (
        "waited 3, refused 1; headroom 97 of 100/10s, 199996 of 200000/86400s")


def venue(t: FakeTime, windows: tuple[OrderWindow, ...], journal: list[str]) -> BudgetedVenue:
    inner = ScriptedVenue(paper("alpha", make_book("alpha", [("19.95", "50")], [("20.00", "50")])), journal=journal)
    return BudgetedVenue(inner, budget(t, windows, max_wait_s=0.5))  # type: ignore[arg-type]


async def test_placements_and_amends_take_slots_before_they_leave_cancels_and_reads_do_not() -> None:
    t, journal = FakeTime(), []
    v = venue(t, (OrderWindow(2, 1.0),), journal)
    first = await v.place(OrderRequest("t-b1", SYMBOL, Side.BUY, D("1"), D("19.00"), "poc"))
    await v.cancel(first.client_order_id, SYMBOL)
    await v.fetch_open_orders(SYMBOL)
    await v.balances()
    await v.prepare(OrderRequest("t-b2", SYMBOL, Side.BUY, D("1"), D("19.00"), "poc"))
    assert v.budget.snapshot()["headroom"] == {"2/1s": 0}
    with pytest.raises(OrderBudgetExceeded):  # an amend counts as a placement (Gate counts it so)
        await v.amend(first.client_order_id, SYMBOL, D("0.5"))
    with pytest.raises(OrderBudgetExceeded):
        await v.place(OrderRequest("t-b3", SYMBOL, Side.BUY, D("1"), D("19.00"), "poc"))
    # The refused placement was never built nor signed, let alone sent.
    assert journal == ["prepare:alpha", "send:alpha", "prepare:alpha"]


def test_what_else_the_venue_offers_is_offered_as_it_is() -> None:
    # A budget changes how orders leave, nothing more: a paper venue's fill stream reads through the wrapper,
    # and a venue without one still has none behind it.
    t = FakeTime()
    inner = paper("alpha", make_book("alpha", [("19.95", "50")], [("20.00", "50")]))
    assert isinstance(inner, FillStream) and isinstance(BudgetedVenue(inner, budget(t, GATE_SPOT)), FillStream)
    scripted = ScriptedVenue(inner)
    assert not isinstance(scripted, FillStream)
    assert not isinstance(BudgetedVenue(scripted, budget(t, GATE_SPOT)), FillStream)  # type: ignore[arg-type]


async def test_a_dead_man_s_switch_reads_through_and_takes_no_slot() -> None:
    class Switched(ScriptedVenue):
        cancels_on_silence = True

        async def arm_cancel_all(self, timeout_s: int, symbol: str | None = None) -> None:
            armed.append(timeout_s)

    t, armed = FakeTime(), []
    v = BudgetedVenue(Switched(paper("alpha", make_book("alpha", [("19.95", "50")], [("20.00", "50")]))),
                      budget(t, (OrderWindow(1, 60.0),)))
    assert isinstance(v, DeadMansSwitch) and v.cancels_on_silence
    for _ in range(3):
        await v.arm_cancel_all(30, SYMBOL)  # not an order: the budget's one slot stays free
    assert armed == [30, 30, 30] and v.budget.snapshot()["headroom"] == {"1/60s": 1}
    assert not isinstance(venue(t, GATE_SPOT, []), DeadMansSwitch)  # a venue without one has none behind it


@pytest.mark.parametrize(("simulated", "jitter_s"), [(False, SEND_JITTER_S), (True, 0.0)])
def test_the_allowance_is_held_where_orders_cross_a_transport_and_nowhere_in_a_simulation(
        simulated: bool, jitter_s: float) -> None:
    """The shipped config's Gate venue behind its budget: live (or a sandbox in another process), its windows
    held SEND_JITTER_S longer; in a simulation, where its venue counts on the run's own clock, as the venue's
    (a replay's rows do not move)."""
    from arb.config import DEFAULT_CONFIG, load_config
    from arb.runtime.venues import _budgeted

    budgets: dict[str, OrderBudget] = {}
    inner = paper("gate", make_book("gate", [("19.95", "50")], [("20.00", "50")]))
    wrapped = _budgeted(load_config(DEFAULT_CONFIG), "gate", inner, budgets, simulated)
    assert isinstance(wrapped, BudgetedVenue) and wrapped.budget is budgets["gate"]
    assert (budgets["gate"].windows, budgets["gate"].jitter_s) == (GATE_SPOT, jitter_s)
