"""One supervisor for the engine's long-lived tasks: a task that fails is logged, counted and restarted.

The engine starts each of its long-lived tasks through :meth:`Supervisor.spawn`: every venue's book feed,
a paper venue's capture pacer, the decision writer's loop, the feed watchdog and the status view. Nothing
of theirs can end silently:

- an unexpected exception (anything but cancellation) is logged at ERROR with the task, its venue and the
  cause (the traceback at DEBUG), counted in :attr:`Supervisor.restarts` (the run summary's
  ``task_restarts``), and the task is started again after a full-jitter delay from ``arb/backoff.py`` that
  grows with its recent failures. Starting again calls its factory again: a feed reconnects and resyncs
  its books from fresh snapshots;
- a task that failed more than ``max_restarts`` times within ``window_s``, or one spawned with
  ``restart=False`` (a capture pacer: a capture cannot be replayed twice), is not started again: the
  supervisor records a :class:`TaskFailed` (one line naming task, venue and cause) and calls ``on_fatal``.
  The engine then stops, and its run ends ``failed`` with that line, printed once by ``arb`` (the supervisor
  logs it at DEBUG then; at ERROR only when no ``on_fatal`` will report it);
- a task that returns has finished and is not restarted.

Time and randomness are injected (``clock``, ``sleep``, ``rng``), so tests pin every delay without
sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from arb.backoff import full_jitter
from arb.errors import ArbError

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Awaitable[object]]
Spawn = Callable[..., "asyncio.Task[None]"]
"""``spawn(name, factory, *, venue=None, restart=True)``: how a component asks for a supervised task."""


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How often a task may fail before the run gives up on it, and how long to wait before each restart."""

    max_restarts: int = 5  # restarts allowed within ``window_s``; one more failure ends the run
    window_s: float = 60.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0


class TaskFailed(ArbError):
    """A supervised task failed and will not be restarted; ``str()`` is the one line the user sees."""

    def __init__(self, name: str, venue: str | None, cause: BaseException, *, failures: int,
                 window_s: float | None) -> None:
        self.name = name
        self.venue = venue
        self.cause = cause
        self.failures = failures
        where = f"task {name}" + (f" (venue {venue})" if venue else "")
        if window_s is None:
            super().__init__(f"{where} failed and cannot be restarted: {describe(cause)}")
        else:
            super().__init__(f"{where} failed {failures} times within {window_s:g} s, giving up: "
                             f"{describe(cause)}")


def describe(exc: BaseException) -> str:
    """``KeyError: 'u'``: an exception as one short line (a lone exception in a group is unwrapped)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Supervisor:
    def __init__(
        self,
        policy: RestartPolicy | None = None,
        *,
        on_fatal: Callable[[TaskFailed], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: Callable[[], float] | None = None,
    ) -> None:
        self.policy = policy or RestartPolicy()
        self.on_fatal = on_fatal
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random().random
        self.restarts: Counter[str] = Counter()  # task name -> restarts so far
        self.failure: TaskFailed | None = None  # the first task given up on
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def spawn(self, name: str, factory: TaskFactory, *, venue: str | None = None,
              restart: bool = True) -> asyncio.Task[None]:
        """Run ``factory()`` as task ``name`` (unique among running tasks) under supervision."""
        running = self.tasks.get(name)
        if running is not None and not running.done():
            raise ValueError(f"a task named {name!r} is already running")
        task = asyncio.get_running_loop().create_task(self._supervise(name, factory, venue, restart), name=name)
        self.tasks[name] = task
        return task

    async def _supervise(self, name: str, factory: TaskFactory, venue: str | None, restart: bool) -> None:
        failures: deque[float] = deque()  # times of recent failures, within the window
        policy = self.policy
        while True:
            try:
                await factory()
                return
            except Exception as exc:  # noqa: BLE001 - every failure is logged, counted and acted on
                now = self.clock()
                failures.append(now)
                while now - failures[0] > policy.window_s:
                    failures.popleft()
                log.debug("task %s failed", name, exc_info=exc)
                if not restart:
                    self._give_up(TaskFailed(name, venue, exc, failures=1, window_s=None))
                    return
                if len(failures) > policy.max_restarts:
                    self._give_up(TaskFailed(name, venue, exc, failures=len(failures), window_s=policy.window_s))
                    return
                delay = full_jitter(len(failures) - 1, policy.backoff_base_s, policy.backoff_cap_s, self.rng)
                self.restarts[name] += 1
                log.error("task %s%s failed (%s); restart %d in %.2f s", name, f" (venue {venue})" if venue else "",
                          describe(exc), self.restarts[name], delay)
            await self.sleep(delay)

    def _give_up(self, failure: TaskFailed) -> None:
        # With an ``on_fatal`` (the engine) the failure ends the run, whose error is printed once, at the top
        # (``arb: error: ...``): logged here too it was printed two or three times. Without one, this line is
        # all anyone sees of it.
        log.log(logging.DEBUG if self.on_fatal is not None else logging.ERROR, "%s", failure)
        if self.failure is None:
            self.failure = failure
        if self.on_fatal is not None:
            self.on_fatal(failure)

    async def close(self) -> None:
        """Cancel every task still running and wait for them (nothing is left behind the engine)."""
        tasks = [t for t in self.tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
