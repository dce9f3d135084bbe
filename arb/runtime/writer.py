"""The batched decision writer: keeps database I/O off the hot path without ever dropping a record.

The hot path only appends to an in-memory list (``add``: a row; ``add_rejection``: a detection's rejection,
made a row when its batch is written): nothing else stands between a batch's rejections and an opportunity
decided after them. A background task writes full batches, each ``executemany`` of the rows as the driver's
parameters (``repo.OpportunityRows``; a run of rejections by the columns each sets), not the ORM's bulk insert,
whose Python took the GIL from the decision loop for a switch interval (5 ms) at a time (decision latency
p99 10-16 ms at 100 symbols). Live it writes in a worker thread; a simulation writes on its loop (see
``Engine``). ``flush`` writes whatever is left.

A batch that never fills is written by the clock: once every ``flush_every_s`` (1 s) of **wall** time the
writer's own timer task writes whatever is queued, so rejections reach the database (SQL, notebooks, the
dashboard) at most about a second after they were decided, however slowly they come. Wall time, not market
time, in every mode: the people and programs reading the database watch on the wall clock, and a replay's
market seconds can pass a thousand to the wall second (one commit per market second would slow it for no
reader), while a paced one's can last minutes. The timer waits in a worker thread (``WallSleep``), since a
simulation's loop time is market time; tests give it a clock of their own. A batch that fails to write stays queued, the writer
reports itself unhealthy (the engine stops trading while the store is away) and retries with capped
backoff; rows leave the queue only once their transaction has committed.

Balance snapshots (``add_balances``: run start, after each executed pair, run end) take the same way:
queued without I/O, written in the worker thread right away (with whatever decisions are queued), kept and
retried like them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any, NamedTuple, cast

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from arb.detection.types import Rejection
from arb.domain.venue import FundingReport
from arb.errors import StoreError
from arb.store import repo

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 1.0  # wall seconds a queued row waits at most for its batch to fill before it is written


class WallSleep:
    """``await sleep(seconds)``: wall-clock seconds, waited in a worker thread (so on any loop, a simulation's
    market-time loop too); :meth:`stop` ends the wait under way and every later one at once."""

    def __init__(self) -> None:
        self._stopped = threading.Event()

    async def __call__(self, seconds: float) -> None:
        await asyncio.to_thread(self._stopped.wait, seconds)

    def stop(self) -> None:
        self._stopped.set()


@dataclass(frozen=True, slots=True)
class _Snapshot:
    run_id: int
    ts: datetime
    kind: str
    opportunity_id: int | None
    balances: tuple[repo.BalanceSnapshot, ...]

    def write(self, session: Session) -> None:
        repo.record_balances(session, self.run_id, self.ts, self.balances, kind=self.kind,
                             opportunity_id=self.opportunity_id)


class _Rejected(NamedTuple):
    """A rejection queued as itself: its row's parameters are made when its batch is written."""

    run_id: int
    detected_at: datetime
    rejection: Rejection


@dataclass(frozen=True, slots=True)
class _Funding:
    run_id: int
    payment: FundingReport

    def write(self, session: Session) -> None:
        repo.record_funding(session, self.run_id, self.payment)


def _is_rejected(row: Mapping[str, Any] | _Rejected) -> bool:
    return type(row) is _Rejected


class DecisionWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        batch_size: int = 500,
        retry_base_s: float = 0.05,
        retry_cap_s: float = 2.0,
        inline: bool = False,
        flush_every_s: float = FLUSH_EVERY_S,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._sessions = sessions
        bind = sessions.kw["bind"]
        self._rows = repo.OpportunityRows(bind.dialect)
        self._batch_size = batch_size
        self._pending: list[Mapping[str, Any] | _Rejected] = []  # in decision order: the rows' ids follow it
        self._snapshots: list[_Snapshot | _Funding] = []  # balance snapshots and funding payments, in order
        self._wake = asyncio.Event()
        self._retry_base_s = retry_base_s
        self._retry_cap_s = retry_cap_s
        self._inline = inline
        self.healthy = True
        self.written = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._flush_every_s = flush_every_s
        self._wall_sleep = WallSleep()
        self._sleep = sleep or self._wall_sleep  # the timer's clock: wall time unless a test gives its own
        self._timer: asyncio.Task[None] | None = None
        self._closing = False
        self._lock = asyncio.Lock()

    def add(self, row: Mapping[str, Any]) -> None:
        """Queue one ``opportunities`` row (``repo.record_opportunities``' keys). Cheap: no I/O, no logging."""
        self._pending.append(row)
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    def add_rejection(self, run_id: int, detected_at: datetime, rejection: Rejection) -> None:
        """Queue ``rejection``'s row (``repo.OpportunityRows.write_rejected``). Cheaper than :meth:`add` on the
        hot path's thread: nothing is built until the batch is written."""
        self._pending.append(_Rejected(run_id, detected_at, rejection))
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    def add_balances(self, run_id: int, ts: datetime, balances: Sequence[repo.BalanceSnapshot], *, kind: str,
                     opportunity_id: int | None = None) -> None:
        """Queue one balance snapshot (``repo.record_balances``); written in the background, soon."""
        self._snapshots.append(_Snapshot(run_id, ts, kind, opportunity_id, tuple(balances)))
        self._wake.set()

    def add_funding(self, run_id: int, payment: FundingReport) -> None:
        """Queue one funding payment (``repo.record_funding``); written in the background, soon, in order with
        the balance snapshots."""
        self._snapshots.append(_Funding(run_id, payment))
        self._wake.set()

    def store_failed(self) -> None:
        """Someone else's write failed (the executor's): unhealthy until a batch of ours commits again."""
        self.healthy = False
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def start(self, spawn: Callable[..., asyncio.Task[None]] | None = None) -> None:
        """Start the background loop and its flush timer, as tasks of ``spawn`` (the engine's supervisor: a
        loop that fails is restarted, and queued rows stay queued) or plain tasks."""
        if spawn is None:
            self._task = asyncio.create_task(self._run(), name="decision-writer")
            self._timer = asyncio.create_task(self._tick(), name="decision-writer-timer")
        else:
            self._task = spawn("decision-writer", self._run)
            self._timer = spawn("decision-writer-timer", self._tick)

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            await self._drain()

    async def _tick(self) -> None:
        """Every ``flush_every_s`` of the timer's clock: wake the loop to write what is queued, full batch or
        not. Only wakes it: the write itself is the loop's, one drain at a time, off the decision loop."""
        while not self._closing:
            await self._sleep(self._flush_every_s)
            if self._pending and not self._closing:
                self._wake.set()

    async def _drain(self) -> None:
        # One drain at a time: two drains taking the same head of the queue would write it twice.
        async with self._lock:
            await self._drain_locked()

    async def _drain_locked(self) -> None:
        attempt = 0
        while self._pending or self._snapshots:
            batch = self._pending[: self._batch_size]
            snapshots = self._snapshots[:]
            write = asyncio.ensure_future(self._write_inline(batch, snapshots) if self._inline
                                          else asyncio.to_thread(self._write, batch, snapshots))
            try:
                try:
                    await asyncio.shield(write)
                except asyncio.CancelledError:
                    # The thread commits whether or not we are cancelled: account for what it wrote
                    # before giving up, or the rows would be written again by the next drain.
                    await asyncio.wait([write])
                    if write.exception() is None:
                        del self._pending[: len(batch)]
                        del self._snapshots[: len(snapshots)]
                        self.written += len(batch)
                    raise
            except (SQLAlchemyError, StoreError, OSError) as exc:
                self.healthy = False
                self.failures += 1
                delay = min(self._retry_cap_s, self._retry_base_s * 2**attempt)
                attempt += 1
                log.warning("store unavailable (%s); %d decisions kept, retrying in %.2fs",
                            exc.__class__.__name__, len(self._pending), delay)
                if self._closing and attempt > 8:
                    raise StoreError(f"could not write {len(self._pending)} decisions: {exc}") from None
                await asyncio.sleep(delay)
                continue
            del self._pending[: len(batch)]
            del self._snapshots[: len(snapshots)]
            self.written += len(batch)
            if not self.healthy:
                log.info("store is back; writing resumed")
            self.healthy = True
            attempt = 0

    async def _write_inline(self, batch: list[Mapping[str, Any] | _Rejected],
                            snapshots: list[_Snapshot | _Funding]) -> None:
        self._write(batch, snapshots)

    def _write(self, batch: list[Mapping[str, Any] | _Rejected], snapshots: list[_Snapshot | _Funding]) -> None:
        rows = self._rows
        with self._sessions.begin() as session:
            connection = session.connection()
            instants: dict[datetime, Any] = {}  # a batch's rows share a few times: each converted once
            # Each run of rejections, and each run of other rows, is written in queue order (the ids follow it).
            for rejected, run in groupby(batch, _is_rejected):
                if rejected:
                    rows.write_rejected(connection, cast("Iterator[_Rejected]", run), instants)
                else:
                    rows.write(connection, [rows.params(row, instants)
                                            for row in cast("Iterator[Mapping[str, Any]]", run)])
            for snap in snapshots:
                snap.write(session)

    async def flush(self) -> None:
        """Write everything queued so far (used at shutdown and before end-of-run totals)."""
        await self._drain()

    async def close(self) -> None:
        """Stop the background task (letting a batch in flight finish) and write everything left."""
        self._closing = True
        self._wake.set()
        self._wall_sleep.stop()  # its thread returns now: nothing waits a second for it at the loop's end
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
            self._timer = None
        if self._task is not None:
            await self._task
            self._task = None
        await self._drain()
