"""A store watch (``runtime/store_watch.py``): a read that fails keeps the figures last read, is said once
however long it lasts, and the watch goes on reading; its end reads the final figures on the caller's thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import OperationalError

from arb.runtime.store_watch import StoreWatch
from arb.store.maker_views import MakerNow

FIRST, LATER, FINAL = (MakerNow((), {("BTC/USDT", "spot"): n}) for n in (1, 2, 3))


async def test_a_failed_read_keeps_the_last_figures_is_said_once_and_the_watch_reads_on(
        caplog: pytest.LogCaptureFixture) -> None:
    def reads() -> Iterator[MakerNow | Exception]:
        yield FIRST
        for _ in range(3):
            yield OperationalError("SELECT", {}, Exception("database is locked"))
        while True:
            yield LATER

    source = reads()

    def read() -> MakerNow:
        value = next(source)
        if isinstance(value, Exception):
            raise value
        return value

    watch = StoreWatch("maker figures", lambda: read, interval_s=0.001)
    watch.read_now()
    assert watch.latest is FIRST
    caplog.set_level(logging.INFO, logger="arb.runtime.store_watch")
    task = asyncio.create_task(watch.run())
    try:
        for _ in range(2000):  # bounded: each read is a thread's wait of 1 ms
            if watch.latest is LATER:
                break
            assert watch.latest is FIRST  # while the reads fail: the last figures, never none
            await asyncio.sleep(0.001)
        assert watch.latest is LATER
        assert not task.done()  # a failing read does not end the watch (nor, under the supervisor, the run)
    finally:
        watch._read = lambda: (lambda: FINAL)  # type: ignore[method-assign]
        watch.finish()
        await asyncio.wait_for(task, 5)
    assert watch.latest is FINAL
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "OperationalError" in warnings[0].getMessage()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "maker figures: the database answers again"]
