import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from arb.backoff import equal_jitter as backoff_delay
from arb.errors import InvalidOrder, RateLimited, TransientVenueError
from arb.venues.retry import (
    BackoffPolicy,
    reset_at_from_headers,
    retry_delay,
    retry_read,
)
from tests.execution.fakes import FakeTime


@pytest.mark.parametrize(
    ("attempt", "rng", "expected"),
    [(0, 0.0, 0.05), (0, 1.0, 0.1), (1, 0.0, 0.1), (3, 0.5, 0.6), (10, 0.0, 2.5), (10, 1.0, 5.0)],
)
def test_backoff_is_exponential_with_equal_jitter_and_capped(attempt: int, rng: float, expected: float) -> None:
    assert backoff_delay(attempt, 0.1, 5.0, lambda: rng) == pytest.approx(expected)


def test_backoff_with_seeded_rng_is_reproducible_and_within_bounds() -> None:
    a = [backoff_delay(i, 0.05, 2.0, random.Random(7).random) for i in range(12)]
    b = [backoff_delay(i, 0.05, 2.0, random.Random(7).random) for i in range(12)]
    assert a == b
    for i, d in enumerate(a):
        step = min(2.0, 0.05 * 2**i)
        assert step / 2 <= d <= step


def test_headers_gate_reset_timestamp_seconds_and_ms() -> None:
    names = ("X-Gate-RateLimit-Reset-Timestamp",)  # a venue's own header, named by its adapter
    assert reset_at_from_headers({"X-Gate-RateLimit-Reset-Timestamp": "1700000005"}, 1_700_000_000, names) == 1700000005
    assert reset_at_from_headers({"x-gate-ratelimit-reset-timestamp": "1700000005500"}, 0, names) == 1700000005.5
    assert reset_at_from_headers({"X-Gate-RateLimit-Reset-Timestamp": "1700000005"}, 0) is None


def test_headers_retry_after_seconds_and_http_date() -> None:
    assert reset_at_from_headers({"Retry-After": "3"}, 100.0) == 103.0
    when = datetime(2024, 8, 8, 23, 55, tzinfo=UTC)
    assert reset_at_from_headers({"Retry-After": format_datetime(when, usegmt=True)}, 0) == when.timestamp()
    assert reset_at_from_headers({"Retry-After": "soon"}, 0) is None
    assert reset_at_from_headers({}, 0) is None


def test_retry_delay_never_before_announced_reset() -> None:
    assert retry_delay(0, BackoffPolicy(base=0.05), lambda: 0.0, 110.0, 100.0) == 10.0
    assert retry_delay(0, BackoffPolicy(base=0.05), lambda: 0.0, 90.0, 100.0) == pytest.approx(0.025)


async def test_retry_read_retries_retryable_errors_and_honours_reset() -> None:
    t = FakeTime()
    blocked: list[float] = []
    outcomes: list[Exception | str] = [
        RateLimited("gate", "429", reset_at=t.now + 2.0),
        TransientVenueError("gate", "502"),
        "ok",
    ]

    async def call() -> str:
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    result = await retry_read(
        call, policy=BackoffPolicy(), rng=lambda: 0.0, sleep=t.sleep, wall=t.clock, on_rate_limited=blocked.append
    )
    assert result == "ok"
    assert t.sleeps[0] == pytest.approx(2.0)
    assert blocked == [1_700_000_002.0]


async def test_retry_read_gives_up_after_max_attempts_and_never_retries_non_retryable() -> None:
    t = FakeTime()
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        raise TransientVenueError("gate", "503")

    with pytest.raises(TransientVenueError):
        await retry_read(flaky, policy=BackoffPolicy(max_attempts=3), rng=lambda: 0.5, sleep=t.sleep, wall=t.clock)
    assert calls == 3

    calls = 0

    async def invalid() -> None:
        nonlocal calls
        calls += 1
        raise InvalidOrder("gate", "INVALID_PRECISION")

    with pytest.raises(InvalidOrder):
        await retry_read(invalid, policy=BackoffPolicy(), rng=lambda: 0.5, sleep=t.sleep, wall=t.clock)
    assert calls == 1
