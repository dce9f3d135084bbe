"""Reconnect delays: capped exponential backoff with full jitter, as a pure function.

Randomness is injected so tests pin it; full jitter (uniform in ``[0, min(cap, base * 2**attempt)]``)
keeps many feeds that dropped together from reconnecting in lockstep.
"""

from __future__ import annotations

import random
from typing import Protocol


class Uniform(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


def backoff_delay(attempt: int, base: float, cap: float, rng: Uniform) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (0 = the first retry)."""
    if attempt < 0 or base <= 0 or cap <= 0:
        raise ValueError("attempt must be >= 0, base and cap > 0")
    ceiling = cap if attempt >= 64 else min(cap, base * (2**attempt))
    return rng.uniform(0.0, ceiling)


def default_rng() -> random.Random:
    return random.Random()
