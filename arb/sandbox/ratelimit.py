"""Fixed-window request budgets answering with Gate's ``X-Gate-RateLimit-*`` headers.

Gate allows 10 spot order placements per second per account per market, and other private endpoints a
per-endpoint budget. Windows run on the sandbox clock (which tests shift instead of sleeping) and their
length is configurable so tests can exhaust and reopen them quickly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remain: int
    reset_at_s: int  # epoch seconds when the current window reopens

    def headers(self) -> dict[str, str]:
        return {
            "X-Gate-RateLimit-Requests-Remain": str(self.remain),
            "X-Gate-RateLimit-Limit": str(self.limit),
            "X-Gate-RateLimit-Reset-Timestamp": str(self.reset_at_s),
        }


class WindowLimiter:
    """``limit`` hits per ``window_s`` per bucket key; windows aligned to multiples of ``window_s``."""

    def __init__(self, limit: int, window_s: float) -> None:
        if limit <= 0 or window_s <= 0:
            raise ValueError("rate limit and window must be positive")
        self.limit = limit
        self.window_s = window_s
        self._windows: dict[object, tuple[int, int]] = {}  # bucket -> (window index, hits)

    def hit(self, bucket: object, now_s: float) -> Verdict:
        index = math.floor(now_s / self.window_s)
        start, hits = self._windows.get(bucket, (index, 0))
        if start != index:
            hits = 0
        allowed = hits < self.limit
        if allowed:
            hits += 1
        self._windows[bucket] = (index, hits)
        reset = math.ceil((index + 1) * self.window_s)
        return Verdict(allowed, self.limit, self.limit - hits, reset)
