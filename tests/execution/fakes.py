"""Hand-written test doubles for time: a clock that only moves when someone sleeps on it."""

from __future__ import annotations

import asyncio


class FakeTime:
    """Monotonic and wall clock in one; ``sleep`` advances time instead of waiting."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)
