"""What a venue counting the arrivals of requests sees, for the tests of arb's windows on send times."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.execution.fakes import FakeTime


async def left_at(t: FakeTime, ask: Callable[[str], Awaitable[object]], markets: list[str]) -> list[float]:
    """When each request on ``markets``, asked for one after the other through ``ask`` (an order budget's take,
    a throttle's acquire), left: seconds from the start on ``t``'s clock."""
    start, out = t.now, []
    for market in markets:
        await ask(market)
        out.append(round(t.now - start, 9))
    return out


def most_arriving_within(per_s: float, sent: list[float], delays: list[float]) -> int:
    """The most requests a venue counting arrivals sees in any ``per_s`` (a fixed window holds no more than the
    sliding one from its first arrival), each arriving ``delay`` after it left; 1 ns under ``per_s``, so
    that float rounding of sums that are exactly ``per_s`` apart does not count one twice."""
    arrived = sorted(at + delay for at, delay in zip(sent, delays, strict=True))
    return max(sum(1 for other in arrived if first <= other < first + per_s - 1e-9) for first in arrived)
