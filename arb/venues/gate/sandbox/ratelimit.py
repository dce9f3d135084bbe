"""Fixed-window request budgets answering with Gate's ``X-Gate-RateLimit-*`` headers.

Gate allows 10 spot order placements per second per account per market, and other private endpoints a
per-endpoint budget. Windows run on the sandbox clock (which tests shift instead of sleeping) and their
length is configurable so tests can exhaust and reopen them quickly.

A limiter's table is bounded: buckets whose window has passed are forgotten, and past ``max_buckets``
the least recently used bucket is dropped, so callers inventing new bucket keys (addresses) cannot grow
it without limit. Forgetting a bucket can only give its owner a fresh budget, never take one away.
"""

from __future__ import annotations

import math
from collections import OrderedDict
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

    def __init__(self, limit: int, window_s: float, max_buckets: int = 10_000) -> None:
        if limit <= 0 or window_s <= 0 or max_buckets <= 0:
            raise ValueError("rate limit, window and table size must be positive")
        self.limit = limit
        self.window_s = window_s
        self.max_buckets = max_buckets
        # bucket -> (window index, hits), least recently hit first
        self._windows: OrderedDict[object, tuple[int, int]] = OrderedDict()

    def __len__(self) -> int:
        """Buckets currently remembered (never more than ``max_buckets``)."""
        return len(self._windows)

    def hit(self, bucket: object, now_s: float) -> Verdict:
        index = math.floor(now_s / self.window_s)
        start, hits = self._windows.pop(bucket, (index, 0))
        if start != index:
            hits = 0
        allowed = hits < self.limit
        if allowed:
            hits += 1
        self._windows[bucket] = (index, hits)
        # Least recently hit first: the front holds the stale windows, if any. Amortised O(1).
        while len(self._windows) > self.max_buckets or next(iter(self._windows.values()))[0] != index:
            self._windows.popitem(last=False)
        reset = math.ceil((index + 1) * self.window_s)
        return Verdict(allowed, self.limit, self.limit - hits, reset)
