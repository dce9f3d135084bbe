import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.eventloop.simloop import run_simulation, time_held
from arb.venues.gate.facts import GATE_SPOT_LIMITS
from arb.venues.throttle import PLACE, SEND_JITTER_S, Budget, VenueLimits, VenueThrottle, per_second
from tests.execution.fakes import FakeTime
from tests.venues.arrivals import left_at, most_arriving_within


def throttle(t: FakeTime, limits: VenueLimits = GATE_SPOT_LIMITS, jitter_s: float = 0.0) -> VenueThrottle:
    return VenueThrottle("gate", limits, clock=t.clock, wall=t.clock, sleep=t.sleep, jitter_s=jitter_s)


async def placed_at(t: FakeTime, th: VenueThrottle, markets: list[str]) -> list[float]:
    """When each placement, asked for one after the other, left (seconds from the start)."""
    return await left_at(t, lambda market: th.acquire(PLACE, market), markets)


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


async def test_a_request_counts_in_its_markets_window_from_when_it_left() -> None:
    """Two placements a second per market, three a second in all. Three placements on other markets fill the
    second; the first on LINK waits for it to pass. Stamped in LINK's window when LINK had room (at 0) and
    then held by the global budget, it left LINK's window at 1.0, as it left: two more went at once, three
    arriving on LINK in one second. Stamped when it leaves, the third waits for 2.0."""
    t = FakeTime(start=0.0)
    th = throttle(t, VenueLimits(global_budget=Budget(3, 1.0), per_market={PLACE: Budget(2, 1.0)}))
    sent = await placed_at(t, th, ["BTC/USDT", "BTC/USDT", "ETH/USDT", "LINK/USDT", "LINK/USDT", "LINK/USDT"])
    assert sent == [0.0, 0.0, 0.0, 1.0, 1.0, 2.0]
    assert most_arriving_within(1.0, sent[3:], [0.0] * 3) == 2


async def test_with_the_jitter_allowance_gates_eleventh_placement_waits_a_tenth_longer() -> None:
    """Gate's ten a second per market, held SEND_JITTER_S longer: ten leave at once, the eleventh at 1.1, so
    ten arriving up to 0.1 s late and the eleventh at once are never eleven in one second at Gate."""
    t = FakeTime(start=0.0)
    sent = await placed_at(t, throttle(t, jitter_s=SEND_JITTER_S), ["LINK/USDT"] * 11)
    assert sent == [0.0] * 10 + [1.1]
    assert most_arriving_within(1.0, sent, [SEND_JITTER_S - 1e-6] * 10 + [0.0]) == 10


@settings(max_examples=200, deadline=None)
@given(asks=st.lists(st.tuples(st.integers(0, 300), st.sampled_from(["LINK/USDT", "BTC/USDT"])),
                     min_size=11, max_size=60),
       delays=st.lists(st.floats(0.0, SEND_JITTER_S, exclude_max=True), min_size=60, max_size=60))
def test_with_the_jitter_allowance_no_window_of_arrivals_holds_more_than_the_venue_allows(
        asks: list[tuple[int, str]], delays: list[float]) -> None:
    """However the placements ask (ms between asks, on two markets, the global budget binding at times) and
    however their one-way latencies differ by less than SEND_JITTER_S, a venue counting arrivals never sees more
    than a market's window or the global one allows."""
    limits = VenueLimits(global_budget=Budget(12, 1.0), per_market={PLACE: Budget(10, 1.0)})

    async def sends() -> list[tuple[float, str]]:
        t = FakeTime(start=0.0)
        th = throttle(t, limits, jitter_s=SEND_JITTER_S)
        out = []
        for gap, market in asks:
            t.now += gap / 1000
            await th.acquire(PLACE, market)
            out.append((t.now, market))
        return out

    sent = asyncio.run(sends())
    delay_of = delays[:len(sent)]
    assert most_arriving_within(1.0, [at for at, _ in sent], delay_of) <= 12
    for market in ("LINK/USDT", "BTC/USDT"):
        mine = [(at, delay) for (at, m), delay in zip(sent, delay_of, strict=True) if m == market]
        if mine:
            assert most_arriving_within(1.0, [at for at, _ in mine], [delay for _, delay in mine]) <= 10


@pytest.mark.parametrize(("simulated", "jitter_s"), [(False, SEND_JITTER_S), (True, 0.0)])
def test_gates_request_table_holds_the_allowance_wherever_requests_cross_a_transport(
        simulated: bool, jitter_s: float) -> None:
    """The shipped config's Gate venue as the adapter guards it: live, an external sandbox or one on the wall
    clock, its request windows held SEND_JITTER_S longer; an in-process sandbox on a simulation's market clock
    (its requests take no market time) as Gate's own."""
    from arb.config import DEFAULT_CONFIG, load_config
    from arb.venues.gate.adapter import _guarded
    from arb.venues.gate.exchange import GateExchange
    from arb.venues.guard import GuardedVenue

    exchange = GateExchange.for_endpoint("http://127.0.0.1:9/api/v4", None, "key", "secret", enableRateLimit=False)
    venue = _guarded(load_config(DEFAULT_CONFIG), "gate", exchange, simulated=simulated)
    assert isinstance(venue, GuardedVenue)
    assert venue.throttle.jitter_s == jitter_s
    assert venue.throttle._chain(PLACE, "LINK_USDT")[0].period == 1.0 + jitter_s
