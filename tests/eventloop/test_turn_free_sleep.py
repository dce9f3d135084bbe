"""The market source's sleep between instants (``simloop.sleep``) is done without the loop's turns where only
watchers' ticks fall before its end (``MarketTime.advance``): everything that runs, runs at the same
market time and in the same order as with its sleep on a timer, whatever else is on the loop (other timers,
ties with the ticks, looks that leave work to run, idle watchers over a quiet stretch); at the same market
times as with ``asyncio.sleep``; and a capture of sparse instants takes a few turns of the loop instead of two
an instant."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from arb.eventloop import simloop
from arb.eventloop.simloop import POLL_EVERY, Advanced, MarketTime, SimulatedLoop, every

Trace = list[tuple[float, str]]


@dataclass(frozen=True)
class Watcher:
    every_s: float
    idle_until: float  # idle (a quiet stretch may skip its ticks) before this market time, busy after
    work_at: frozenset[int]  # the looks (by count) that leave work to run: a call_soon, and one from it


@dataclass(frozen=True)
class Scenario:
    watchers: tuple[Watcher, ...]
    timers: tuple[float, ...]  # other timers' market times (a venue's latency, a client's timeout)
    sleeper: tuple[float, ...]  # another task's sleeps (a leg on its latency)
    instants: tuple[float, ...]  # the source's sleeps between instants


def _run(scenario: Scenario, sleep: Callable[[float], Awaitable[None]], *, turn_free: bool = True
         ) -> tuple[Trace, int]:
    """What ran, at which market time, in order; and how many turns the loop took. Not ``turn_free``: the
    source's sleep always on its timer."""
    trace: Trace = []
    turns = 0

    class OnItsTimer(MarketTime):
        def advance(self, timer: asyncio.TimerHandle) -> Advanced:
            return Advanced.WAIT

    class Counted(SimulatedLoop):
        market_time = MarketTime if turn_free else OnItsTimer

        def _run_once(self) -> None:
            nonlocal turns
            turns += 1
            super()._run_once()  # type: ignore[misc]  # asyncio's private turn

    loop = Counted(0)

    def watcher(n: int, w: Watcher) -> Callable[[], Awaitable[None]]:
        looks = 0

        def look() -> None:
            nonlocal looks
            looks += 1
            trace.append((loop.time(), f"look {n}"))
            if looks in w.work_at:
                def work() -> None:
                    trace.append((loop.time(), f"work {n}"))
                    loop.call_soon(lambda: trace.append((loop.time(), f"more work {n}")))
                loop.call_soon(work)

        return lambda: every(w.every_s, look, lambda: loop.time() < w.idle_until)

    async def sleeper() -> None:
        for delay in scenario.sleeper:
            await asyncio.sleep(delay)
            trace.append((loop.time(), "sleeper"))

    async def main() -> None:
        tasks = [asyncio.ensure_future(watcher(n, w)()) for n, w in enumerate(scenario.watchers)]
        tasks.append(asyncio.ensure_future(sleeper()))
        for n, at in enumerate(scenario.timers):
            loop.call_at(at, lambda n=n: trace.append((loop.time(), f"timer {n}")))
        await asyncio.sleep(0)  # the watchers' first looks, as the engine's start-up runs them
        for delay in scenario.instants:
            await sleep(delay)
            trace.append((loop.time(), "instant"))
        # The capture's end: the run goes on until what the looks left has run (a loop stopped at once leaves
        # whatever its last turn had not reached).
        await asyncio.sleep(10.0)
        for task in tasks:
            task.cancel()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return trace, turns


_times = st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 7.0, 0.001, 1.0000001])
_watchers = st.builds(Watcher, every_s=st.sampled_from([0.5, 1.0, 2.5]),
                      idle_until=st.sampled_from([0.0, 5.0, 1e9]),
                      work_at=st.frozensets(st.integers(1, 12), max_size=3))
_scenarios = st.builds(Scenario, watchers=st.lists(_watchers, max_size=3).map(tuple),
                       timers=st.lists(st.sampled_from([0.5, 1.0, 2.0, 2.25, 3.0, 4.0, 6.5, 9.0]), max_size=4).map(tuple),
                       sleeper=st.lists(_times, max_size=4).map(tuple),
                       instants=st.lists(_times, min_size=1, max_size=40).map(tuple))


@settings(max_examples=300, deadline=None)
@given(_scenarios)
def test_the_source_s_sleep_without_turns_runs_everything_when_and_in_the_order_its_timer_does(scenario: Scenario
                                                                                             ) -> None:
    free, on_timer = _run(scenario, simloop.sleep)[0], _run(scenario, simloop.sleep, turn_free=False)[0]
    assert free == on_timer == _run(scenario, asyncio.sleep)[0]


def test_sparse_instants_with_watchers_take_a_turn_of_the_loop_only_to_poll_now_and_then() -> None:
    # A capture's instants a second apart, two watchers looking each second (the kill switch, the inventory):
    # with the sleep on its timer two turns an instant (a jump to its timer, its task woken).
    scenario = Scenario(watchers=(Watcher(1.0, 0.0, frozenset()),) * 2, timers=(), sleeper=(),
                        instants=(1.0,) * 1000)
    (free, free_turns), (slept, slept_turns) = _run(scenario, simloop.sleep), _run(scenario, simloop.sleep,
                                                                                     turn_free=False)
    assert free == slept and len(free) == 2 * (1 + 1000 + 10) + 1000  # the same looks (and 10 s after), instants
    assert slept_turns >= 2 * 1000
    # Two turns for every POLL_EVERY-th sleep (so I/O is still polled), the 10 s after the last instant (on
    # asyncio.sleep: a turn a second for the looks, one to wake) and the start
    assert free_turns <= 2 * (1000 // POLL_EVERY) + 2 * 10 + 5
