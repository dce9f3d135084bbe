"""The event loop of a run on wall-clock time: uvloop's (libuv's loop, written in C).

Between a decision and its two orders on the wire, part of the work is the loop's own: a leg's task, its
answer's future and deadline timer, the bytes handed to the socket; after the wire, the answers read and
their callbacks run. In asyncio's own loop that is Python, in uvloop's C: less code to run and less to
bring back into the caches on a pair's cold path (``bench/bench_executor.py``, which runs the executor on
this loop). ccxt already depends on uvloop, pinned, so this brings in no new package.

A run in market time (a replay, or paper trading on a capture) keeps its own loop,
``eventloop/simloop.py``: asyncio's, with the market's clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def new_live_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop()


def run_live(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on a live loop (signals, shutdown and cleanup as ``asyncio.run``)."""
    with asyncio.Runner(loop_factory=new_live_loop) as runner:
        return runner.run(main)
