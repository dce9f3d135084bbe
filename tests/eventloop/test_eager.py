"""``start_now``: a task whose first step runs in the caller's turn, then carries on as an ordinary task."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

import pytest

from arb.eventloop.eager import in_own_task, start_now
from arb.venues.live.capture import install_capture

_VAR: ContextVar[str] = ContextVar("test_eager_var", default="outside")


async def test_the_first_step_runs_before_start_now_returns_and_the_rest_on_the_loop() -> None:
    steps: list[str] = []
    gate = asyncio.get_running_loop().create_future()

    async def leg() -> str:
        steps.append("first")
        await gate
        steps.append("second")
        return "done"

    task = start_now(leg())
    assert steps == ["first"]  # no loop turn was needed for the first step
    assert not task.done()
    gate.set_result(None)
    assert await task == "done"
    assert steps == ["first", "second"]


async def test_two_legs_each_reach_their_first_await_in_order_before_any_other_task_runs() -> None:
    order: list[str] = []

    async def other() -> None:
        order.append("other task")

    async def leg(name: str) -> None:
        order.append(f"{name} written")
        await asyncio.sleep(0)
        order.append(f"{name} answered")

    ordinary = asyncio.ensure_future(other())  # ready before the legs: an ordinary task runs at the next turn
    legs = [start_now(leg("a")), start_now(leg("b"))]
    assert order == ["a written", "b written"]
    await asyncio.gather(ordinary, *legs)
    assert order[:3] == ["a written", "b written", "other task"]


async def test_results_and_failures_of_a_coroutine_that_never_suspends() -> None:
    async def value() -> int:
        return 7

    async def failing() -> None:
        raise ValueError("refused")

    assert await start_now(value()) == 7
    with pytest.raises(ValueError, match="refused"):
        await start_now(failing())


async def test_a_failure_after_the_first_await_reaches_the_awaiter() -> None:
    async def leg() -> None:
        await asyncio.sleep(0)
        raise ConnectionResetError("lost")

    with pytest.raises(ConnectionResetError):
        await start_now(leg())


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits() -> None:
    cleaned: list[str] = []
    started = asyncio.Event()

    async def leg() -> None:
        try:
            started.set()
            await asyncio.Event().wait()
        finally:
            cleaned.append("finally ran")

    task = start_now(leg())
    assert started.is_set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["finally ran"]
    assert task.cancelled()


async def test_a_context_variable_set_in_the_first_step_is_reset_later_in_the_same_context() -> None:
    seen: list[str] = []

    async def leg() -> None:
        token = _VAR.set("inside")
        await asyncio.sleep(0)
        seen.append(_VAR.get())
        _VAR.reset(token)  # raises ValueError if the second step ran in another context
        seen.append(_VAR.get())

    await start_now(leg())
    assert seen == ["inside", "outside"]
    assert _VAR.get() == "outside"  # the caller's context was never touched


async def test_cancelling_after_the_task_took_over_reaches_the_coroutine_too() -> None:
    cleaned: list[str] = []

    async def leg() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append("finally ran")

    task = start_now(leg())
    await asyncio.sleep(0)  # the task has run its first step: it now waits on the coroutine's future
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["finally ran"]


async def test_a_timeout_entered_after_in_own_task_is_the_leg_s_and_never_cancels_the_caller() -> None:
    # On 3.11 the current task in a first step is still the caller's (a maker fill's hedge starts inside the
    # fill stream's task): a timeout entered there would cancel the caller. ``in_own_task`` (which ccxt's every
    # request awaits, venues/live/capture.py) yields once there, so the timeout is the leg's own.
    caller = asyncio.current_task()
    seen: list[object] = []

    async def leg() -> None:
        await in_own_task()
        seen.append(asyncio.current_task())
        async with asyncio.timeout(0):  # due at once: fires at the loop's next turn, on the task entered in
            await asyncio.Event().wait()

    task = start_now(leg())
    assert seen == [] and asyncio.current_task() is caller  # the first step ended at in_own_task
    with pytest.raises(TimeoutError):
        await task
    assert seen == [task]  # the timeout was entered in the leg's own task ...
    assert caller is not None and not caller.cancelling()  # ... and cancelled nothing else


async def test_in_own_task_outside_a_first_step_does_not_yield() -> None:
    steps: list[str] = []

    async def later() -> None:
        await asyncio.sleep(0)  # past its first step
        await in_own_task()
        steps.append("went on")

    other = asyncio.ensure_future(asyncio.sleep(0))
    await in_own_task()  # the test's own task: no turn of the loop taken
    assert not other.done()
    await start_now(later())
    await other
    assert steps == ["went on"]


async def test_ccxts_fetch_runs_in_the_leg_s_own_task_when_the_leg_started_at_once() -> None:
    # Every request ccxt makes goes through the fetch install_capture returns (and through its intercepting
    # fetch): aiohttp's timeout inside binds to the task current there, which must be the leg's.
    class Exchange:
        async def fetch(self, url: str, method: str = "GET", headers: object = None, body: object = None) -> object:
            return asyncio.current_task()

    exchange = Exchange()
    ccxt_fetch = install_capture(exchange)
    for fetch in (ccxt_fetch, exchange.fetch):
        leg = start_now(fetch("https://venue.test/api/v4/spot/orders", "GET", None, None))
        assert await leg is leg
