"""A quiet stretch of market time costs nothing (issue #47: a capture whose last line came a year after the rest
replayed for ~1,000 s, its watchers ticking each second of the gap; ``ts`` far enough on never ended): an idle
watcher's ticks (``simloop.tick``) move past the stretch, a busy one's do not, and timers run however far
market time has come."""

from __future__ import annotations

import asyncio

from arb.eventloop.simloop import every, run_simulation, sleep, tick

YEAR = 365 * 86_400.0


def watch(idle: bool, gap: float) -> list[float]:
    """The times a watcher ticking each second looked, over a run whose only other timer is ``gap`` on."""
    looks: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def watcher() -> None:
            while True:
                looks.append(loop.time())
                await tick(1.0, lambda: idle)

        task = asyncio.ensure_future(watcher())
        await asyncio.sleep(gap)  # the capture's next line
        for _ in range(5):  # and a little market after it, an event each half second
            await asyncio.sleep(0.5)
        task.cancel()

    run_simulation(main(), 0)
    return looks


def test_an_idle_watcher_looks_again_only_after_a_years_gap_on_its_grid() -> None:
    assert watch(True, YEAR) == [0.0, YEAR, YEAR + 1, YEAR + 2]  # each second again once the market moves


def test_a_busy_watcher_looks_each_second_of_a_gap() -> None:
    assert watch(False, 100.0) == [float(s) for s in range(103)]


def test_timers_run_a_thousand_years_on() -> None:
    """A float step of market time exceeds asyncio's 1 ns resolution after ~48 days: a timer due now must still
    run (``now + 1e-9`` rounded back to now and the loop spun)."""
    assert watch(True, 1000 * YEAR) == [0.0, 1000 * YEAR, 1000 * YEAR + 1, 1000 * YEAR + 2]


def look_outside(instants: list[float], speed: float = 0) -> list[float]:
    """The times a look outside the run (``every`` with no ``idle``: the kill-switch file's) was made, once a
    second, over a run whose market source sleeps (``simloop.sleep``) to each of ``instants``."""
    looks: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(every(1.0, lambda: looks.append(loop.time())))
        for at in instants:
            await sleep(at - loop.time())
        task.cancel()

    run_simulation(main(), speed)
    return looks


def test_a_look_outside_the_run_is_made_each_second_when_no_instant_falls_on_one() -> None:
    """Moved past each instant as an idle watcher's tick is, a look due at a whole second with an instant in
    every second and none on the grid was never made: a kill-switch file put mid-replay went unseen."""
    instants = [s + f for s in range(10) for f in (0.3, 0.8)]
    assert look_outside(instants) == [float(s) for s in range(10)]
    assert look_outside(instants) == look_outside(instants, speed=1000)  # as a paced run makes them


def test_a_quiet_stretch_takes_one_look_outside_the_run_at_its_end() -> None:
    assert look_outside([0.5, YEAR + 0.5, YEAR + 1.5]) == [0.0, YEAR, YEAR + 1]
