"""A paced simulation's market time as the status view sees it: it moves with the wall clock while the loop
waits out the jump to its next event, so a book updating once a second ages on screen (it read 0 ms always).
The run itself never reads it: its decisions keep the loop's own time."""

from __future__ import annotations

import threading

from arb.eventloop.clock import MarketClock
from arb.eventloop.simloop import SimulatedLoop

ORIGIN = 1_629_417_600_000


class Wall:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_watchers_see_market_time_move_while_a_jump_is_paced() -> None:
    wall = Wall()
    loop = SimulatedLoop(speed=2.0, wall=wall)
    clock = MarketClock(ORIGIN)
    try:
        seen: list[tuple[int, int]] = []

        async def at_one_second() -> None:
            clock.now_ms()  # the run reads its clock on its loop: the clock learns which loop is the run's
            # The selector is pacing a jump from 1 s to 3 s of market time (1 s of wall at speed 2) ...
            selector = loop._selector
            selector._target, selector._deadline = 3.0, wall.now + 1.0  # type: ignore[attr-defined]
            wall.now += 0.25  # ... a quarter of the wall time has passed
            seen.append((clock.now_ms(), clock.watched_ms()))
            reader = threading.Thread(target=lambda: seen.append((clock.now_ms(), clock.watched_ms())))
            reader.start()  # the status view's thread
            reader.join()
            selector._target = None  # type: ignore[attr-defined]

        loop.market.now = 1.0
        loop.run_until_complete(at_one_second())
    finally:
        loop.close()
    # On the loop and from another thread: the run's time stays at 1 s, the watched one is at 1.5 s.
    assert seen == [(ORIGIN + 1000, ORIGIN + 1500), (ORIGIN + 1000, ORIGIN + 1500)]
    # Not paced (speed 0) or not waiting: both are the run's time.
    fast = SimulatedLoop(speed=0.0)
    try:
        fast.market.now = 4.0
        assert fast.watched_time() == 4.0
    finally:
        fast.close()
