"""Tasks whose first step runs at once, in the caller's turn of the loop (Python 3.12's eager tasks).

A pair's two legs are written to their sockets by the first step of each leg's coroutine: a venue's
``send`` writes before it first awaits. An ordinary task only starts at the loop's next turn, so creating
the two legs' tasks and awaiting them put a loop turn, and whatever else was ready to run, between the
write-ahead record and the first byte, and leg B's write behind leg A's set-up for its answer. Started
eagerly, leg A's bytes are on its socket before leg B's task exists, and leg B's right after
(``bench/bench_executor.py``: "hand to the socket").

On Python 3.12 and later this is ``asyncio.Task(..., eager_start=True)``. On 3.11 the first step runs
here, inside the context the task then runs in (a context variable set before the first ``await`` is
reset in the same context, as ``simloop.time_held`` does), and the task carries the coroutine on from
where it suspended. One difference remains on 3.11: during that first step ``asyncio.current_task()`` is
still the caller's task (a maker fill's hedge starts inside the fill stream's task, a pair's legs inside
the decision loop's). Anything tied to the current task entered there would be the caller's: a timeout
(``asyncio.timeout``, aiohttp's on every request ccxt makes) would cancel the caller. The order line's
answer deadline is a timer on the answer instead (``arb/venues/order_line.py``), and a request through
ccxt's own ``fetch`` (a proxied venue's order, a lookup a build makes) awaits :func:`in_own_task` first
(``arb/venues/live/capture.py``), which yields once when it runs in a first step, so the request is the
task's. (Making the task current for its first step would mean creating it first: ~0.04 ms more before a
hedge's bytes leave, ``bench/bench_maker.py``.)
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")

# True during a first step run by start_now on 3.11, where the current task is still the caller's.
_FIRST_STEP: contextvars.ContextVar[bool] = contextvars.ContextVar("arb_eager_first_step", default=False)


async def in_own_task() -> None:
    """Await before entering anything tied to the current task: in a first step :func:`start_now` runs on
    3.11 it yields once, so what follows runs in the task's own step; anywhere else it does nothing."""
    if _FIRST_STEP.get():
        await asyncio.sleep(0)


def start_now(coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    """Run ``coro`` up to its first suspension now and return the task (or, when it finished in that
    step, a done future) that carries it on."""
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12):  # pragma: no cover - CI runs 3.11; the standard library's own eager start
        return asyncio.Task(coro, loop=loop, eager_start=True)
    context = contextvars.copy_context()
    first_step = context.run(_FIRST_STEP.set, True)
    try:
        suspended_on = context.run(coro.send, None)
    except StopIteration as stop:
        done: asyncio.Future[T] = loop.create_future()
        done.set_result(stop.value)
        return done
    except asyncio.CancelledError:
        cancelled: asyncio.Future[T] = loop.create_future()
        cancelled.cancel()
        return cancelled
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - the coroutine's own failure, delivered when awaited
        failed: asyncio.Future[T] = loop.create_future()
        failed.set_exception(exc)
        return failed
    finally:
        context.run(_FIRST_STEP.reset, first_step)  # the task's own steps that follow are not a first step
    return loop.create_task(_Resumed(coro, suspended_on), context=context)


class _Resumed(Coroutine[Any, Any, T]):
    """``coro`` carried on from where its first step suspended on ``suspended_on`` (a future, or None for
    a bare yield), as if the task had run that step itself: the task's first ``send`` gets what the
    coroutine waits on; everything after, cancellation included (even before that first ``send``), goes
    to the coroutine."""

    __slots__ = ("_coro", "_suspended_on", "_started")

    def __init__(self, coro: Coroutine[Any, Any, T], suspended_on: Any) -> None:
        self._coro = coro
        self._suspended_on = suspended_on
        self._started = False

    def send(self, value: Any) -> Any:
        if not self._started:
            self._started = True
            suspended_on, self._suspended_on = self._suspended_on, None
            return suspended_on  # the task waits on what the coroutine waits on
        return self._coro.send(value)  # what it waited on is done: the task sends None, as into the coroutine

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._started = True
        self._suspended_on = None
        return self._coro.throw(typ, val, tb) if val is not None or tb is not None else self._coro.throw(typ)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, T]:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def __iter__(self) -> _Resumed[T]:
        return self
