import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest

from arb.eventloop.simloop import run_simulation, time_held
from arb.venues.gate.facts import GATE_SPOT_LIMITS
from arb.venues.throttle import PLACE, Budget, VenueLimits, VenueThrottle, per_second
from tests.execution.fakes import FakeTime


def throttle(t: FakeTime, limits: VenueLimits = GATE_SPOT_LIMITS) -> VenueThrottle:
    return VenueThrottle("gate", limits, clock=t.clock, wall=t.clock, sleep=t.sleep)


async def test_gate_placements_are_limited_to_ten_per_second_per_market() -> None:
    t = FakeTime()
    th = throttle(t)
    start = t.now
    stamps = []
    for _ in range(25):
        await th.acquire(PLACE, "LINK/USDT")
        stamps.append(t.now - start)
    # Any 1-second window holds at most 10 placements on one market.
    for i in range(len(stamps) - 10):
        assert stamps[i + 10] - stamps[i] >= 1.0
    assert stamps[9] == 0.0 and stamps[10] >= 1.0


async def test_other_markets_are_not_held_by_a_saturated_one() -> None:
    t = FakeTime()
    th = throttle(t)
    for _ in range(10):
        await th.acquire(PLACE, "LINK/USDT")
    before = t.now
    await th.acquire(PLACE, "BTC/USDT")
    assert t.now == before


async def test_global_budget_applies_across_endpoints() -> None:
    t = FakeTime()
    th = throttle(t, VenueLimits(global_budget=Budget(3, 1.0)))
    for endpoint in ("place", "cancel", "fetch_order"):
        await th.acquire(endpoint, "LINK/USDT")
    assert t.sleeps == []
    await th.acquire("balances")
    assert t.now - 1_700_000_000.0 >= 1.0


async def test_no_request_passes_inside_an_announced_reset_window() -> None:
    t = FakeTime()
    th = throttle(t)
    th.block_until(t.now + 3.0)
    await th.acquire("fetch_order")
    assert t.now >= 1_700_000_003.0
    # An earlier reset never shortens a later one.
    th.block_until(t.now + 5.0)
    th.block_until(t.now + 1.0)
    assert th.blocked_until == t.now + 5.0


async def test_block_raised_while_waiting_on_a_bucket_is_honoured() -> None:
    t = FakeTime()
    th = throttle(t, VenueLimits(global_budget=Budget(1, 1.0)))
    await th.acquire("fetch_order")
    waiter = asyncio.create_task(th.acquire("fetch_order"))
    await asyncio.sleep(0)  # the waiter is now parked on the global bucket
    th.block_until(t.now + 4.0)
    await asyncio.wait_for(waiter, timeout=5)
    assert t.now >= 1_700_000_004.0
    assert th.held() == {"reset": 1, "budget": 1}  # the waiter, held by both, counted once for each


async def test_held_counts_each_request_held_once_by_what_held_it() -> None:
    t = FakeTime()
    th = throttle(t, VenueLimits(global_budget=Budget(2, 1.0), request_rate=10.0))
    for _ in range(3):  # two pass, the third waits for the window
        await th.acquire("fetch_order")
    assert th.held() == {"reset": 0, "budget": 1}
    th.block_until(t.now + 2.0)
    await th.acquire_cost(1.0)  # waits for the announced window; the cost bucket was free
    await th.acquire_cost(5.0)  # the one before's debt: 0.1 s
    await th.acquire_cost()  # 0.5 s of debt
    assert th.held() == {"reset": 1, "budget": 3}
    with time_held():  # not paced, not counted
        await th.acquire("fetch_order")
    assert th.held() == {"reset": 1, "budget": 3}


def _in_simulation(acquire: Callable[[VenueThrottle], Awaitable[None]], *, held: bool) -> float:
    """Three requests through a 0.5/s throttle built as the adapters build it (the run's loop for its clock
    and sleep), on a simulation's loop; the market time they took."""
    throttle = VenueThrottle("gate", VenueLimits(global_budget=per_second(0.5), request_rate=0.5))

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with time_held() if held else contextlib.nullcontext():
            for _ in range(3):
                await acquire(throttle)
        return loop.time() - start

    return float(run_simulation(main(), speed=0))


@pytest.mark.parametrize("acquire", [lambda th: th.acquire("balances"), lambda th: th.acquire_cost(1)],
                         ids=["bucket", "cost"])
def test_in_a_simulation_throttles_wait_in_market_time(acquire: Callable[[VenueThrottle], Awaitable[None]]
                                                       ) -> None:
    assert _in_simulation(acquire, held=False) == 4.0  # one per 2 s of the capture's time


@pytest.mark.parametrize("acquire", [lambda th: th.acquire("balances"), lambda th: th.acquire_cost(1)],
                         ids=["bucket", "cost"])
def test_requests_while_market_time_stands_still_are_not_paced(acquire: Callable[[VenueThrottle], Awaitable[None]]
                                                              ) -> None:
    # A simulation's start and end take no market time: paced there, each wait was for a clock that does not
    # move, passed after a second of wall time (a replay at 0.5/s took 9 s instead of 4.5 s) and moved the
    # market's clock before its first event.
    assert _in_simulation(acquire, held=True) == 0.0
