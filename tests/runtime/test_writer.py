"""The decision writer's timer flush (``arb/runtime/writer.py``): a batch that never fills is written once a
second of the timer's clock, by the writer's own task (``add`` does no I/O), and close still writes the rest.
The timer's clock is the test's (``StepClock``): no test here waits on real time."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arb.runtime.writer import FLUSH_EVERY_S, DecisionWriter, WallSleep
from arb.store.models import Opportunity
from arb.store.repo import start_run
from tests.conftest import T0, at


class StepClock:
    """A clock the test moves: ``await sleep(s)`` returns once :meth:`advance` has passed ``now + s``."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeping: list[tuple[float, asyncio.Future[None]]] = []

    async def sleep(self, seconds: float) -> None:
        due = asyncio.get_running_loop().create_future()
        self.sleeping.append((self.now + seconds, due))
        await due

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        woken = [(t, f) for t, f in self.sleeping if t <= self.now]
        self.sleeping = [(t, f) for t, f in self.sleeping if t > self.now]
        for _, due in woken:
            if not due.done():
                due.set_result(None)
        await settle()


async def settle() -> None:
    """Let every task run until none is ready (the writer's inline writes finish in one turn each)."""
    for _ in range(20):
        await asyncio.sleep(0)


def stored(sessions: sessionmaker[Session], run_id: int) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Opportunity).where(Opportunity.run_id == run_id)) or 0


def rejection(run_id: int, i: int) -> dict[str, Any]:
    return {"run_id": run_id, "detected_at": at(i), "symbol": "LINK/USDT", "buy_venue": "gate", "sell_venue": "htx",
            "size": Decimal(0), "buy_price": Decimal("26.8"), "sell_price": Decimal("26.79"),
            "expected_profit": Decimal(0), "decision": "rejected", "reason": "unprofitable_after_fees"}


async def test_a_batch_that_never_fills_is_written_once_a_second_of_the_timers_clock(
        session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        run_id = start_run(s, mode="paper", config_snapshot={}, started_at=T0).id
    clock = StepClock()
    writer = DecisionWriter(session_factory, batch_size=500, inline=True, sleep=clock.sleep)
    writer.start()
    await settle()
    for i in range(3):
        writer.add(rejection(run_id, i))
    await settle()
    assert stored(session_factory, run_id) == 0  # 3 of 500: no batch yet, and add() wrote nothing
    await clock.advance(FLUSH_EVERY_S * 0.9)
    assert stored(session_factory, run_id) == 0  # not yet a second
    await clock.advance(FLUSH_EVERY_S * 0.1)
    assert stored(session_factory, run_id) == 3 and writer.pending == 0
    # Each later second writes what came in during it; a quiet second writes nothing and costs nothing.
    writer.add(rejection(run_id, 3))
    await clock.advance(FLUSH_EVERY_S)
    assert stored(session_factory, run_id) == 4
    await clock.advance(FLUSH_EVERY_S)
    assert stored(session_factory, run_id) == 4 and writer.written == 4
    # Close writes what is queued whatever the clock says, and stops the timer.
    writer.add(rejection(run_id, 4))
    await writer.close()
    assert stored(session_factory, run_id) == 5 and writer.pending == 0
    assert clock.sleeping == [] or all(f.cancelled() for _, f in clock.sleeping)


async def test_a_full_batch_is_written_at_once_without_the_timer(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        run_id = start_run(s, mode="paper", config_snapshot={}, started_at=T0).id
    clock = StepClock()
    writer = DecisionWriter(session_factory, batch_size=4, inline=True, sleep=clock.sleep)
    writer.start()
    for i in range(6):
        writer.add(rejection(run_id, i))
    await settle()
    assert stored(session_factory, run_id) == 6  # the batch filled: the loop drained everything queued
    assert clock.now == 0
    await writer.close()


async def test_the_wall_timer_stops_at_once_when_the_writer_closes(session_factory: sessionmaker[Session]) -> None:
    # The real clock's sleep waits in a thread: close ends it, so the loop's end never waits out a second.
    sleep = WallSleep()
    waiting = asyncio.ensure_future(sleep(3600))
    await asyncio.sleep(0)
    sleep.stop()
    await asyncio.wait_for(waiting, timeout=timedelta(minutes=1).total_seconds())
    assert waiting.done() and waiting.exception() is None


async def test_rejections_and_other_rows_are_stored_in_the_order_they_were_queued(
        session_factory: sessionmaker[Session]) -> None:
    """A rejection queued as itself (``add_rejection``) and a row queued as columns (``add``: an opportunity a
    later stage turned down) go through two statements; the ids still follow the queue, across batches."""
    from arb.detection.types import Reason, Rejection

    with session_factory.begin() as s:
        run_id = start_run(s, mode="paper", config_snapshot={}, started_at=T0).id
    writer = DecisionWriter(session_factory, batch_size=3, inline=True, sleep=StepClock().sleep)

    def detected(i: int) -> Rejection:
        return Rejection(Reason.UNPROFITABLE_AFTER_FEES, f"S{i}/USDT", "gate", "htx", Decimal("26.8"),
                         Decimal("26.79"), Decimal("0.002"), Decimal("0.002"), Decimal("-3.73"), False, i, i, 0, 0)

    queued = ["row", "rejection", "rejection", "row", "row", "rejection", "rejection"]
    for i, kind in enumerate(queued):
        if kind == "row":
            writer.add(rejection(run_id, i))
        else:
            writer.add_rejection(run_id, at(i), detected(i))
    await writer.close()
    with session_factory() as s:
        got = s.execute(select(Opportunity.symbol, Opportunity.detected_at, Opportunity.detail)
                        .where(Opportunity.run_id == run_id).order_by(Opportunity.id)).all()
    assert [(symbol, ts) for symbol, ts, _ in got] == [
        ("LINK/USDT" if kind == "row" else f"S{i}/USDT", at(i)) for i, kind in enumerate(queued)]
    assert [detail is None for _, _, detail in got] == [kind == "row" for kind in queued]
    assert writer.written == len(queued) and writer.pending == 0
