"""Run a sweep: every grid point a deterministic replay, as a dask.distributed task, merged as it finishes.

The driver: the cluster (``cluster.py``) and the sweep's database (a scheduler reached before the database is
touched; a local cluster's database migrated while its worker server imports arb), then its ``sweeps`` row; points go
out a window at a time (``dispatch.py``), each replayed into a file of its own on a worker (``point.py``),
and the driver, the only writer of the sweep's database, merges each finished run there (``results.py``)
linked to the sweep, while the others still replay.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.pool import NullPool

from arb import signals
from arb.config import Config
from arb.store import migrate
from arb.store.db import make_engine, make_session_factory
from arb.store.models import Sweep
from arb.store.repo import one_line
from arb.sweep.cluster import CONNECT_TIMEOUT_S, connected
from arb.sweep.dispatch import WINDOW_PER_SLOT, dispatch, interrupts_deferred
from arb.sweep.grid import Grid, Point, describe
from arb.sweep.point import SCHEMA_FILE, SWEEP_ID_BLOCK, replay_point, schema_file
from arb.sweep.results import PointResult, merge_point


@dataclass(frozen=True, slots=True)
class SweepResult:
    sweep_id: int
    points: list[PointResult]  # in grid order

    @property
    def failed(self) -> list[PointResult]:
        return [p for p in self.points if p.error is not None]


# (done, running, total): the driver calls it as replays start and finish.
ProgressFn = Callable[[int, int, int], None]

def run_sweep(config: Config, grid: Grid, db_url: str, *, scheduler: str | None = None,
              workers: int | None = None, workdir: str | None = None,
              progress: ProgressFn | None = None, connect_timeout_s: float = CONNECT_TIMEOUT_S) -> SweepResult:
    """Replay every point of ``grid`` on a dask cluster and merge each run into ``db_url``.

    A scheduler comes first: one that cannot be reached within ``connect_timeout_s`` is an error before the
    sweep's database is created or touched."""
    from distributed import Client, as_completed

    if scheduler is None:
        # The local cluster's worker server is still importing arb (``worker_server.py``): the sweep's database
        # is made ready meanwhile, where it would hold up the workers' first points.
        migrate.upgrade_to_head(db_url)
    with Workdir(workdir) as work, connected(scheduler, workers, Client, connect_timeout_s) as client:
        if scheduler is not None:
            migrate.upgrade_to_head(db_url)
        target = make_engine(db_url, poolclass=NullPool)
        sessions = make_session_factory(target)
        with sessions.begin() as s:
            sweep = Sweep(started_at=datetime.now(UTC), status="running", grid=grid.as_json())
            s.add(sweep)
            s.flush()
            sweep_id = sweep.id
        results: dict[int, PointResult] = {}
        reason: str | None = None
        total = grid.size
        try:
            schema_file(Path(work) / SCHEMA_FILE)
            first_id = time.time_ns() // 1000
            slots = sum(client.nthreads().values()) or 1

            def submit(i: int, point: Point) -> Any:
                return client.submit(replay_point, config, point, work, i, first_id + i * SWEEP_ID_BLOCK,
                                     key=f"arb-sweep-{sweep_id}-{i}", pure=False)

            for i, point, future in dispatch(grid.points(), submit, as_completed(), window=slots * WINDOW_PER_SLOT,
                                             started=lambda n: progress and progress(0, min(slots, n), total)):
                with interrupts_deferred():  # a merge cut short would leave the database locked
                    results[i] = merge_point(future, i, point, sessions, sweep_id)
                if progress:
                    progress(len(results), min(slots, total - len(results)), total)
        except BaseException as exc:
            reason = stop_reason(exc)
            raise
        finally:
            failed = [r for r in results.values() if r.error]
            if reason is None and failed:
                reason = (f"{len(failed)} of {total} replays failed; first: {describe(failed[0].point)}: "
                          f"{failed[0].error}")
            with sessions.begin() as s:
                row = s.get_one(Sweep, sweep_id)
                row.ended_at = datetime.now(UTC)
                row.status = "failed" if reason else "completed"
                row.status_reason = one_line(reason) if reason else None
            target.dispose()
    return SweepResult(sweep_id, [results[i] for i in sorted(results)])


def stop_reason(exc: BaseException) -> str:
    """A sweep's (an optimisation's) status reason when ``exc`` ended it early: Ctrl-C and SIGTERM by the
    signal's name, as ``arb run`` says it (their KeyboardInterrupt said "KeyboardInterrupt")."""
    said = signals.interrupted_by() if isinstance(exc, KeyboardInterrupt) else str(exc) or type(exc).__name__
    return f"stopped: {one_line(said)}"


class Workdir:
    """``workdir`` as given (kept), or a temporary directory removed at the end (a sweep's, an optimisation's)."""

    def __init__(self, given: str | None) -> None:
        self._temp = None if given else tempfile.TemporaryDirectory(prefix="arb-sweep-")
        self.path = given or (self._temp.name if self._temp else "")

    def __enter__(self) -> str:
        os.makedirs(self.path, exist_ok=True)
        return os.path.abspath(self.path)

    def __exit__(self, *exc: object) -> None:
        if self._temp is not None:
            self._temp.cleanup()
