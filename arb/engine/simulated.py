"""What only a simulation needs of the engine: its market time zero, the capture's first event
(:func:`origin_ms`), and, when a replay is awaited from an ordinary loop (a test, an embedding program),
a simulated loop of its own in a worker thread (:func:`on_own_loop`), since market time cannot be the
caller's loop time."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from arb.engine.stopping import Stopping
from arb.errors import ArbError
from arb.eventloop.clock import WallClock
from arb.eventloop.simloop import run_simulation
from arb.marketdata.capture import UNREADABLE
from arb.marketdata.timeline import read_timeline

T = TypeVar("T")


def origin_ms(capture: Path | None) -> int:
    """The capture's first event time: market time zero of a simulation (now, when there is none: the
    run then fails with its one line at the start)."""
    if capture is not None:
        try:
            first = next(iter(read_timeline(capture)), None)
        except (ArbError, OSError, *UNREADABLE):
            first = None  # a damaged or missing capture: the run reports it (file:line) when it reads it
        if first is not None:
            return first.ts
    return WallClock().now_ms()


async def on_own_loop(run: Callable[[], Awaitable[T]], stopping: Stopping, speed: float) -> T:
    """``run()`` on its own simulated loop in a worker thread, awaited from the caller's loop. Cancelling
    the caller stops the run as a signal would, and waits for it to end."""
    stopping.install_signals = False  # signals reach the main thread only
    started = threading.Event()

    async def main() -> T:
        stopping.loop = asyncio.get_running_loop()
        started.set()
        return await run()

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="arb-simulation") as pool:
        future = asyncio.wrap_future(pool.submit(run_simulation, main(), speed))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if started.is_set():
                stopping.request("cancelled")
            await asyncio.wait([future])
            raise
