"""Backoff delays and the retry loop for reads.

The delay itself is :func:`arb.backoff.equal_jitter` (pure; a seeded RNG pins it in tests). When the venue
announces when its window reopens (``Retry-After``, or a reset-timestamp header its adapter names), we never
retry before that instant, whatever the backoff says.

Only reads go through :func:`retry_read`. A submission is never retried here: its outcome is either an
answer, a refusal, or ``unknown`` resolved by lookup under the *same* client order id (executor).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

from arb.backoff import equal_jitter
from arb.errors import ArbError, RateLimited

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    base: float = 0.05  # seconds before the first retry (before jitter)
    cap: float = 5.0  # never wait longer than this between two attempts (announced resets excepted)
    max_attempts: int = 5  # total attempts, the first included




def reset_at_from_headers(headers: Mapping[str, str], now: float, reset_headers: Sequence[str] = ()) -> float | None:
    """Epoch seconds at which the venue says requests may resume, or None when it did not say.

    ``reset_headers``: the venue's own headers holding the reset as an epoch timestamp, in seconds (a
    value that looks like milliseconds is accepted too); its adapter names them. ``Retry-After`` is either
    delta-seconds or an HTTP date (RFC 9110).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    candidates: list[float] = []
    for name in reset_headers:
        raw = lowered.get(name.lower())
        if raw:
            try:
                value = float(raw)
                candidates.append(value / 1000.0 if value > 1e11 else value)
            except ValueError:
                pass
    raw = lowered.get("retry-after")
    if raw:
        try:
            candidates.append(now + float(raw))
        except ValueError:
            try:
                candidates.append(parsedate_to_datetime(raw).timestamp())
            except (TypeError, ValueError):
                pass
    return max(candidates) if candidates else None


def retry_delay(
    attempt: int, policy: BackoffPolicy, rng: Callable[[], float], reset_at: float | None, now: float
) -> float:
    """The backoff delay, stretched to the announced reset when there is one."""
    delay = equal_jitter(attempt, policy.base, policy.cap, rng)
    if reset_at is not None:
        delay = max(delay, reset_at - now)
    return delay


async def retry_read(
    call: Callable[[], Awaitable[T]],
    *,
    policy: BackoffPolicy,
    rng: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    wall: Callable[[], float] = time.time,
    on_rate_limited: Callable[[float], None] | None = None,
) -> T:
    """Run an idempotent read, retrying retryable arb errors with backoff. Re-raises the last error.

    ``on_rate_limited(reset_at)`` lets the venue's throttle block every other caller until the reset.
    """
    attempt = 0
    while True:
        try:
            return await call()
        except ArbError as exc:
            if not exc.retryable or attempt + 1 >= policy.max_attempts:
                raise
            reset_at = exc.reset_at if isinstance(exc, RateLimited) else None
            if reset_at is not None and on_rate_limited is not None:
                on_rate_limited(reset_at)
            await sleep(retry_delay(attempt, policy, rng, reset_at, wall()))
            attempt += 1
