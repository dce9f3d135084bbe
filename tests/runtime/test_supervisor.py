"""The supervisor of the engine's long-lived tasks: restart with backoff, count, give up past the bound.

Time is injected: ``sleep`` records the backoff delays and only yields, ``clock`` is a list of readings.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterator

import pytest

from arb.backoff import full_jitter
from arb.errors import ArbError
from arb.runtime.supervisor import RestartPolicy, Supervisor, TaskFailed


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


def clock(readings: Iterator[float]) -> Callable[[], float]:
    return lambda: next(readings)


def failing(*errors: Exception) -> tuple[Callable[[], object], list[int]]:
    """A task factory raising ``errors`` in turn, then returning; and the list of its calls."""
    calls: list[int] = []

    async def run() -> None:
        calls.append(len(calls))
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]

    return run, calls


async def test_a_failing_task_is_logged_counted_and_restarted_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    sleeps = Sleeps()
    policy = RestartPolicy(max_restarts=5, window_s=60, backoff_base_s=0.5, backoff_cap_s=30)
    sup = Supervisor(policy, clock=clock(iter([0.0, 1.0])), sleep=sleeps, rng=random.Random(7).random)
    factory, calls = failing(RuntimeError("boom"), KeyError("u"))
    with caplog.at_level(logging.ERROR, "arb.runtime.supervisor"):
        await sup.spawn("feed-gate", factory, venue="gate")
    assert calls == [0, 1, 2]  # started, restarted twice, then it returned: finished, not restarted
    assert sup.restarts == {"feed-gate": 2} and sup.failure is None
    rng = random.Random(7).random  # the same pure function of (attempt, base, cap, rng): delays grow
    assert sleeps.delays == [full_jitter(0, 0.5, 30, rng), full_jitter(1, 0.5, 30, rng)]
    logged = [r.getMessage() for r in caplog.records]
    assert logged[0].startswith("task feed-gate (venue gate) failed (RuntimeError: boom); restart 1 in ")
    assert logged[1].startswith("task feed-gate (venue gate) failed (KeyError: 'u'); restart 2 in ")


async def test_a_task_failing_past_the_bound_ends_with_one_clear_line() -> None:
    fatal: list[TaskFailed] = []
    policy = RestartPolicy(max_restarts=2, window_s=60)
    sup = Supervisor(policy, on_fatal=fatal.append, clock=clock(iter(range(100))), sleep=Sleeps(),
                     rng=random.Random(1).random)
    factory, calls = failing(*[ValueError("bad\nframe")] * 10)
    await sup.spawn("feed-gate", factory, venue="gate")
    assert len(calls) == 3 and sup.restarts == {"feed-gate": 2}
    assert fatal == [sup.failure] and isinstance(sup.failure, ArbError)
    assert str(sup.failure) == "task feed-gate (venue gate) failed 3 times within 60 s, giving up: ValueError: bad frame"


async def test_failures_spread_wider_than_the_window_never_add_up() -> None:
    fatal: list[TaskFailed] = []
    sup = Supervisor(RestartPolicy(max_restarts=1, window_s=60), on_fatal=fatal.append,
                     clock=clock(iter([0.0, 61.0, 122.0, 183.0])), sleep=Sleeps(), rng=random.Random(2).random)
    factory, calls = failing(*[OSError("flaky")] * 4)
    await sup.spawn("watchdog", factory)
    assert len(calls) == 5 and sup.restarts == {"watchdog": 4} and not fatal


async def test_a_task_that_cannot_be_restarted_fails_at_once() -> None:
    fatal: list[TaskFailed] = []
    sup = Supervisor(on_fatal=fatal.append, clock=clock(iter([0.0])), sleep=Sleeps())
    factory, calls = failing(ValueError("capture.jsonl:7: not JSON"))
    await sup.spawn("capture-htx", factory, venue="htx", restart=False)
    assert calls == [0] and not sup.restarts
    assert [str(f) for f in fatal] == [
        "task capture-htx (venue htx) failed and cannot be restarted: ValueError: capture.jsonl:7: not JSON"]


async def test_cancellation_is_a_stop_not_a_failure() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    sup = Supervisor(on_fatal=lambda f: pytest.fail(str(f)))
    task = sup.spawn("status", forever)
    await started.wait()
    with pytest.raises(ValueError, match="already running"):
        sup.spawn("status", forever)
    await sup.close()
    assert task.cancelled() and not sup.restarts and sup.failure is None
