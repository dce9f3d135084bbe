import asyncio

from arb.execution.throttle import PLACE, Budget, VenueLimits, VenueThrottle
from arb.venues.gate.facts import GATE_SPOT_LIMITS

from .fakes import FakeTime


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
