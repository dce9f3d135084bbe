"""The wall clock feeds stamp books with when no other clock is given (receive time, epoch milliseconds)."""

from __future__ import annotations

import time


def wall_ms() -> int:
    return time.time_ns() // 1_000_000
