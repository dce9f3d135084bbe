"""Market time is read from the simulation's loop only: another loop's time() is that loop's own clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from arb.eventloop.clock import MarketClock
from arb.eventloop.simloop import run_simulation

ORIGIN = datetime(2021, 8, 20, tzinfo=UTC)


def test_market_time_on_the_simulation_and_where_it_ended_everywhere_else() -> None:
    clock = MarketClock(int(ORIGIN.timestamp() * 1000))
    assert clock.now() == ORIGIN  # before the run: the origin

    async def two_hours_of_market() -> datetime:
        await asyncio.sleep(7200)  # market time: speed 0 jumps there at once
        return clock.now()

    ended = run_simulation(two_hours_of_market(), 0)
    assert ended == datetime(2021, 8, 20, 2, tzinfo=UTC)

    async def read_from_another_loop() -> tuple[datetime, float]:
        # An ordinary loop (a test awaiting a run from its thread, the dashboard's server): its time() is
        # seconds of its own monotonic clock, which a market clock must not add to the origin.
        return clock.now(), asyncio.get_running_loop().time()

    seen, other_time = asyncio.run(read_from_another_loop())
    assert other_time != 7200  # the other loop's clock is not the market's
    assert seen == ended
