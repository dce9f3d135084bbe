"""``start_now``: a task whose first step runs in the caller's turn, then carries on as an ordinary task."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

import pytest

from arb.eventloop.eager import start_now

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
