"""A quiet stretch of market time costs nothing (issue #47: a capture whose last line came a year after the rest
replayed for ~1,000 s, its watchers ticking each second of the gap; ``ts`` far enough on never ended): an idle
watcher's ticks (``simloop.tick``) move past the stretch, a busy one's do not, and timers run however far
market time has come."""

from __future__ import annotations

import asyncio

from arb.eventloop.simloop import run_simulation, tick

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
