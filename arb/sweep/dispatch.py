"""Points handed to the cluster a window at a time, and a merge that Ctrl-C cannot cut in half."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from arb.sweep.grid import Point

# Replays submitted ahead per worker slot: enough that a worker finishing one finds the next already queued,
# few enough that a grid of any size is a handful of futures at a time (and Ctrl-C cancels only those).
WINDOW_PER_SLOT = 2


F = TypeVar("F")


def dispatch(points: Iterable[Point], submit: Callable[[int, Point], F], completed: Any, *, window: int,
             started: Callable[[int], object] | None = None) -> Iterator[tuple[int, Point, F]]:
    """Each point submitted (``submit(index, point)``) and yielded with its future as it completes, with at
    most ``window`` submitted and not yet finished: points are taken from ``points`` only as slots free up,
    so a grid of a million points is never a million futures (nor a million dicts) at once.

    ``completed``: a ``distributed.as_completed`` (or anything iterating its futures as they finish, with
    ``add``); ``started(n)`` is called once the first ``n`` are submitted."""
    numbered = enumerate(points)
    pending: dict[F, tuple[int, Point]] = {}
    for i, point in itertools.islice(numbered, window):
        future = submit(i, point)
        pending[future] = (i, point)
        completed.add(future)
    if started is not None:
        started(len(pending))
    for future in completed:
        i, point = pending.pop(future)
        for j, nxt in itertools.islice(numbered, 1):
            following = submit(j, nxt)
            pending[following] = (j, nxt)
            completed.add(following)
        yield i, point, future


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C (SIGINT) inside the block is raised as :class:`KeyboardInterrupt` when the block ends, not in
    the middle of it: an SQLite transaction interrupted half-way keeps its write lock on a connection
    nothing closes, and the sweep's last write (its row, ``stopped``) then waited 10 s for it and failed.
    Outside the main thread, where signals are not delivered, it changes nothing."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and callable(previous):  # what the signal would have done, now (Python's: KeyboardInterrupt)
        previous(signal.SIGINT, None)
