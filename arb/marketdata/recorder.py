"""Record live books to a capture file: every event the store is fed, written as it arrives, and every
trade and funding line the feeds put on the tape (``trades.py``), in the one order they arrive in.

A recording leaves a file only when it holds something: events go to a hidden partial file beside the
output, which replaces the output at the end (interrupted or not) when it has at least one event and is
removed otherwise, so a failed recording neither leaves an empty capture nor clobbers an earlier one. When
no venue has delivered anything within ``connect_timeout_s`` the recording gives up with one error naming
the venues, instead of retrying forever. An event the capture reader would refuse (the writer checks every
line with the reader's own rule) ends the recording with one error naming it, keeping what came before: a
recording never holds a line arb cannot read back.

A snapshot the venue sent without its time (Binance spot's REST snapshot) is written with one taken from its
first diff, the capture format's rule (``capture/snapshot_time.py``): the lines after it wait for that diff
(a tenth of a second on Binance), so the file stays in the order they arrived.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from arb.errors import CaptureFormatError, TransientVenueError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureLine, CaptureWriter, RefusedEvent, SnapshotTimes
from arb.marketdata.trades import TradeTape


class Feed(Protocol):
    async def run(self) -> None: ...


def partial_path(out: Path) -> Path:
    """Where a recording to ``out`` is written until it ends (same suffix: gzip stays gzip)."""
    return out.with_name(f".partial-{out.name}")


async def record(
    feeds: Sequence[Feed],
    store: BookStore,
    out: str | Path,
    *,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    connect_timeout_s: float | None = None,
    trades: TradeTape | None = None,
) -> int:
    """Run ``feeds`` into ``store`` (and ``trades``, the tape the feeds were given) and write what they
    deliver to ``out`` until ``duration_s`` passes, ``stop`` is set, or a feed fails (its error is raised).
    Returns the number of events written, trades and funding lines included.

    Raises :class:`TransientVenueError` naming the feeds' venues when nothing was recorded: no event within
    ``connect_timeout_s`` (the recording stops there), or none at all by the end; and
    :class:`CaptureFormatError` naming the line it would have been when a feed delivers an event the capture
    reader would refuse (the recording stops there, keeping what it holds)."""
    out = Path(out)
    partial = partial_path(out)
    venues = ", ".join(sorted({str(getattr(feed, "venue", "?")) for feed in feeds})) or "no venue"
    loop = asyncio.get_running_loop()
    started = loop.time()
    writer = CaptureWriter(partial)
    times = SnapshotTimes()
    first = asyncio.Event()
    refused: list[tuple[CaptureLine, RefusedEvent]] = []
    halt = asyncio.Event()

    def write(lines: list[CaptureLine]) -> None:
        for line in lines:
            if refused:
                return  # the recording ends at a refused event: nothing after it is written
            try:
                writer.write(line)
            except RefusedEvent as exc:  # not raised into the feed, which would count it and carry on
                refused.append((line, exc))
                halt.set()

    def on_event(event: Any, _book: object = None) -> None:
        if not refused:
            first.set()
            write(times.push(event))

    removers = [store.add_listener(on_event)] + ([trades.add_listener(on_event)] if trades is not None else [])
    tasks = [asyncio.create_task(feed.run()) for feed in feeds]
    stopper = asyncio.create_task((stop or asyncio.Event()).wait())
    halter = asyncio.create_task(halt.wait())
    first_waiter = asyncio.create_task(first.wait())
    try:
        while True:
            now = loop.time()
            limits = [] if duration_s is None else [started + duration_s - now]
            if connect_timeout_s is not None and not first.is_set():
                limits.append(started + connect_timeout_s - now)
            timeout = min(limits) if limits else None
            if timeout is not None and timeout <= 0:
                break
            waiters = [*tasks, stopper, halter] + ([] if first.is_set() else [first_waiter])
            done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            ended = [task for task in done if task in tasks]
            for task in ended:
                task.result()  # a feed that ended raised: surface it
            if ended or stopper in done or halter in done:
                break
    finally:
        for remove in removers:  # the recording ends here: the feeds' own teardown (books reset as they stop)
            remove()  # is not in it
        for task in [*tasks, stopper, halter, first_waiter]:
            task.cancel()
        await asyncio.gather(*tasks, stopper, halter, first_waiter, return_exceptions=True)
        write(times.flush())  # lines still waiting for a snapshot's first diff
        writer.close()
        if writer.count:
            os.replace(partial, out)
        else:
            partial.unlink(missing_ok=True)
    if refused:
        event, exc = refused[0]
        kept = f"the {writer.count} events before it kept in {out}" if writer.count else f"{out} not written"
        raise CaptureFormatError(str(out), writer.count + 1, f"{event.venue} {event.symbol}: a {event.type} "
                                 f"arb's capture reader refuses ({exc}): not recorded; recording stopped, {kept}")
    if not writer.count:
        waited = loop.time() - started
        raise TransientVenueError(venues, f"no book data received in {waited:.0f} s (is the venue reachable, "
                                  f"and does it list the symbols?); nothing recorded, {out} not written")
    return writer.count
