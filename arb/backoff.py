"""Backoff delays as pure functions: attempt, base, cap and an injected RNG in, seconds out.

Two strategies, for two situations:

- :func:`full_jitter` (uniform in ``[0, min(cap, base * 2**attempt)]``) for reconnecting feeds: many
  feeds that dropped together must not come back in lockstep, and a prompt first retry is welcome.
- :func:`equal_jitter` (half the step fixed, half random) for rate-limited requests: a burst of clients
  hit by the same 429 must not come straight back at delay 0.

``rng`` returns a float in ``[0, 1)`` (``random.Random(seed).random`` in tests), so a test pins the delays.
"""

from __future__ import annotations

from collections.abc import Callable


def _step(attempt: int, base: float, cap: float) -> float:
    # 2**attempt overflows a float past ~1024; by then the cap has long since applied.
    return cap if attempt >= 64 else min(cap, base * (2.0**attempt))


def full_jitter(attempt: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Seconds before retry ``attempt`` (0 = the first retry), uniform in ``[0, step]``."""
    if attempt < 0 or base <= 0 or cap <= 0:
        raise ValueError("attempt must be >= 0, base and cap > 0")
    return rng() * _step(attempt, base, cap)


def equal_jitter(attempt: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Seconds before retry ``attempt``, in ``[step / 2, step]``: never less than half the step."""
    if attempt < 0 or base < 0 or cap < 0:
        raise ValueError("attempt, base and cap must be non-negative")
    step = _step(attempt, base, cap)
    return step / 2 + rng() * step / 2
