"""Clocks the engine hands to everything that timestamps: wall time live, market time in replay.

In a replay, "now" is the capture's receive time of the event being processed plus the real time spent
since it started processing. Book ages and staleness are then judged in market time (a book one second
old in the capture is one second old), while latencies measured inside one event (decision -> sent ->
acknowledged) are real. The clock never goes backwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


class WallClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def now(self) -> datetime:
        return datetime.now(UTC)

    def epoch_s(self) -> float:
        return time.time()


class ReplayClock:
    def __init__(self, perf_ns: Callable[[], int] = time.perf_counter_ns) -> None:
        self._perf_ns = perf_ns
        self._base_ns = 0
        self._anchor_ns = perf_ns()
        self._last_ns = 0
        self.first_ms: int | None = None  # the first event's time: before it, "now" means nothing (1970)

    def advance(self, event_ts_ms: int) -> None:
        """Called as each event starts processing: market time jumps to the event's receive time."""
        if self.first_ms is None:
            self.first_ms = event_ts_ms
        self._base_ns = max(event_ts_ms * 1_000_000, self._now_ns())
        self._anchor_ns = self._perf_ns()

    def _now_ns(self) -> int:
        now = self._base_ns + (self._perf_ns() - self._anchor_ns)
        self._last_ns = max(self._last_ns, now)
        return self._last_ns

    def now_ms(self) -> int:
        return self._now_ns() // 1_000_000

    def now(self) -> datetime:
        ns = self._now_ns()
        return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(microsecond=(ns // 1000) % 1_000_000)

    def epoch_s(self) -> float:
        return self._now_ns() / 1e9
