"""A paced simulation keeps to its speed: market time reaches each event when the wall clock says it is due
on one schedule, whatever the selector's resolution. The wall clock is injected, and the selector under the
pacer rounds each wait up to the millisecond as epoll does (nothing here sleeps)."""

from __future__ import annotations

import asyncio
import math
import selectors
from typing import Any

from arb.eventloop.simloop import MAX_LAG_S, SimulatedLoop


class Wall:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class MillisecondSelector:
    """The real selector, whose waits take whole milliseconds of the injected wall clock (epoll_wait's
    timeout is in milliseconds, rounded up) and return at once."""

    def __init__(self, inner: selectors.BaseSelector, wall: Wall) -> None:
        self._inner, self._wall = inner, wall

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout > 0:
            self._wall.now += math.ceil(timeout * 1000) / 1000
        return self._inner.select(0)


def _paced(speed: float, events: int, gap_s: float, *, stall_after: int | None = None, stall_s: float = 0.0
           ) -> tuple[Wall, list[tuple[float, float]]]:
    """``events`` timers ``gap_s`` of market time apart on a loop paced at ``speed``; (market, wall) at each,
    the wall clock jumping ``stall_s`` (the engine busy) after event ``stall_after``."""
    wall = Wall()
    loop = SimulatedLoop(speed=speed, wall=wall)
    loop._selector._inner = MillisecondSelector(loop._selector._inner, wall)  # type: ignore[attr-defined]
    seen: list[tuple[float, float]] = []

    async def events_apart() -> None:
        for i in range(events):
            await asyncio.sleep(gap_s)
            seen.append((loop.time(), wall.now))
            if i == stall_after:
                wall.now += stall_s

    try:
        loop.run_until_complete(events_apart())
    finally:
        loop.close()
    return wall, seen


def test_a_thousand_events_a_millisecond_apart_at_speed_1000_take_a_millisecond_not_a_second() -> None:
    # One second of market at speed 1000 is due in 1 ms of wall time. Waited from now per jump, each 1 us
    # wait took epoll's whole millisecond: 1000 ms, a thousandth of the speed asked for.
    wall, seen = _paced(1000, 1000, 0.001)
    start = 50.0
    assert abs(seen[-1][0] - 1.0) < 1e-9  # a second of market
    assert wall.now - start <= 0.002  # its millisecond, and at most one more of rounding
    # never ahead of the speed: each event reached no earlier than its market time / speed
    assert all(w - start >= m / 1000 - 1e-12 for m, w in seen)


def test_a_run_far_behind_its_schedule_paces_on_from_where_it_is() -> None:
    # Speed 1, events 10 ms apart; the engine is busy 5 s after the tenth. Past MAX_LAG_S behind, the
    # schedule starts again from there: the ninety events after it take their 0.9 s, not an instant burst.
    assert 5.0 > MAX_LAG_S
    wall, seen = _paced(1, 100, 0.010, stall_after=9, stall_s=5.0)
    (m10, w10), (m100, w100) = seen[9], seen[-1]
    assert abs((w100 - w10) - (5.0 + (m100 - m10))) < 0.02  # the stall, then the rest at recorded pace
    # and before the stall, recorded pace too: 10 events, 0.1 s
    assert abs((seen[9][1] - 50.0) - 0.1) < 0.011


def test_a_turn_would_run_nothing_only_with_nothing_ready_due_now_or_on_the_wire() -> None:
    """The market source skips its turn between instants on ``nothing_due``: each thing a turn would run
    makes it False."""
    loop = SimulatedLoop(0)
    seen: dict[str, bool] = {}

    async def look() -> None:
        seen["idle"] = loop.market.nothing_due()
        later = loop.call_at(loop.time() + 1.0, lambda: None)
        seen["a timer later"] = loop.market.nothing_due()
        now = loop.call_at(loop.time(), lambda: None)
        seen["a timer due now"] = loop.market.nothing_due()
        now.cancel()
        seen["a cancelled timer at the head"] = loop.market.nothing_due()  # asyncio drops it on its turn: a turn
        await asyncio.sleep(0)  # that turn
        seen["after its turn"] = loop.market.nothing_due()
        soon = loop.call_soon(lambda: None)
        seen["a callback ready"] = loop.market.nothing_due()
        soon.cancel()
        await asyncio.sleep(0)
        loop.market.in_flight += 1
        seen["a request on the wire"] = loop.market.nothing_due()
        loop.market.in_flight -= 1
        later.cancel()

    try:
        loop.run_until_complete(look())
    finally:
        loop.close()
    assert seen == {"idle": True, "a timer later": True, "a timer due now": False,
                    "a cancelled timer at the head": False, "after its turn": True, "a callback ready": False,
                    "a request on the wire": False}
