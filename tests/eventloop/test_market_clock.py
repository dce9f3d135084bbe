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


def test_now_follows_market_time_to_the_microsecond() -> None:
    """``now()`` keeps the datetime it last made for the same microsecond (every row of an instant asks for
    it): a later microsecond, however close, makes a new one."""
    clock = MarketClock(int(ORIGIN.timestamp() * 1000))

    async def steps() -> list[datetime]:
        seen = [clock.now(), clock.now()]
        for wait in (0.000_001, 0.5, 0.000_001, 3600):
            await asyncio.sleep(wait)
            seen += [clock.now(), clock.now()]
        return seen

    seen = run_simulation(steps(), 0)
    assert seen[0::2] == seen[1::2]
    assert [round((t - ORIGIN).total_seconds() * 1e6) for t in seen[0::2]] == [0, 1, 500_001, 500_002, 3_600_500_002]
