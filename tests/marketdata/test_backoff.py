"""Reconnect backoff: a pure function of attempt, base, cap and an injected RNG."""

from __future__ import annotations

import random

import pytest

from arb.backoff import full_jitter as backoff_delay


def Top() -> float:  # noqa: N802 - reads as the RNG it stands for
    """An RNG at the top of its range: shows the ceiling."""
    return 1.0


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(0, 0.5), (1, 1.0), (2, 2.0), (5, 16.0), (6, 30.0), (50, 30.0), (10_000, 30.0)]
)
def test_ceiling_doubles_then_caps(attempt: int, ceiling: float) -> None:
    assert backoff_delay(attempt, 0.5, 30.0, Top) == ceiling


def test_full_jitter_is_reproducible_with_a_seeded_rng() -> None:
    rng_a, rng_b = random.Random(7), random.Random(7)
    a = [backoff_delay(i, 0.5, 30.0, rng_a.random) for i in range(8)]
    b = [backoff_delay(i, 0.5, 30.0, rng_b.random) for i in range(8)]
    assert a == b
    assert all(0 <= d <= min(30.0, 0.5 * 2**i) for i, d in enumerate(a))
    assert len(set(a)) == len(a)  # jittered, not lockstep


@pytest.mark.parametrize(("attempt", "base", "cap"), [(-1, 1, 1), (0, 0, 1), (0, 1, 0)])
def test_bad_parameters(attempt: int, base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        backoff_delay(attempt, base, cap, random.Random().random)
