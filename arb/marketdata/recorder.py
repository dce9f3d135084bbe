"""Record live books to a capture file: every event the store is fed, written as it arrives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureWriter


class Feed(Protocol):
    async def run(self) -> None: ...


async def record(
    feeds: Sequence[Feed],
    store: BookStore,
    out: str | Path,
    *,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run ``feeds`` into ``store`` and write what they deliver to ``out`` until ``duration_s`` passes,
    ``stop`` is set, or a feed fails (its error is raised). Returns the number of events written."""
    with CaptureWriter(out) as writer:
        remove = store.add_listener(lambda event, _book: writer.write(event))
        tasks = [asyncio.create_task(feed.run()) for feed in feeds]
        stopper = asyncio.create_task((stop or asyncio.Event()).wait())
        try:
            done, _ = await asyncio.wait([*tasks, stopper], timeout=duration_s,
                                         return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper:
                    task.result()  # a feed that ended raised: surface it
        finally:
            for task in [*tasks, stopper]:
                task.cancel()
            for task in [*tasks, stopper]:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            remove()
        return writer.count
