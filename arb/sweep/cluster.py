"""Run a sweep: every grid point a deterministic replay, as a dask.distributed task, merged as it finishes.

Why dask.distributed: a real scheduler with nothing to set up. By default a ``LocalCluster`` of worker
processes (one replay per core, each process its own interpreter and GIL), or a running cluster by URL
(``dask scheduler`` / ``dask worker tcp://host:8786``) with the same code; futures report as they finish,
which drives the progress bar and lets the driver merge each run while the others still replay.

Each replay writes to an SQLite file of its own in ``workdir`` (one engine per database: the engine holds
the database's lease, and SQLite has one writer), and the driver, the only writer of the sweep's database,
merges the finished run there (``arb/store/merge.py``) linked to the sweep. Workers on other machines must
see ``workdir`` (and the captures) at the same paths: a shared filesystem.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import multiprocessing
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from arb.config import Config
from arb.errors import ArbError
from arb.store import migrate
from arb.store.db import make_engine, make_session_factory
from arb.store.merge import merge_run
from arb.store.models import Sweep
from arb.store.repo import one_line
from arb.store.views import run_pnl
from arb.sweep.grid import Grid, Point, apply, describe

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PointResult:
    """One grid point's replay as stored in the sweep's database (``run_id``), or why it failed."""

    index: int
    point: Point
    run_id: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SweepResult:
    sweep_id: int
    points: list[PointResult]  # in grid order

    @property
    def failed(self) -> list[PointResult]:
        return [p for p in self.points if p.error is not None]


# What a replay imports (``replay_point``): a local cluster's worker processes start with them loaded.
WARM_MODULES = ("distributed", "arb.engine", "arb.runtime.status", "arb.domain.ids")

# dask's periodic work, in every worker and in the driver (scheduler, nannies), each wake-up taking the GIL
# from a replay: the statistical profiler samples stacks every 10 ms for a dashboard a sweep does not start;
# the event-loop health tick (20 ms), the nannies' memory checks (100 ms) and the system monitor (500 ms)
# keep doing their jobs at these slower rates. Together about 5% of a replay's CPU (bench/bench_sweep.py).
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}
# Every local worker runs this module's ``dask_setup`` as it starts (dask's worker preload).
LOCAL_WORKERS = {**QUIET_CLUSTER, "distributed.worker.preload": [__name__]}

# (done, running, total): the driver calls it as replays start and finish.
ProgressFn = Callable[[int, int, int], None]

# How long a --scheduler has to answer: a scheduler on a LAN or over an SSH tunnel answers in milliseconds,
# one that is still starting in a second or two; past 10 s nobody is coming, and the user is told at once.
CONNECT_TIMEOUT_S = 10.0
# Replays submitted ahead per worker slot: enough that a worker finishing one finds the next already queued,
# few enough that a grid of any size is a handful of futures at a time (and Ctrl-C cancels only those).
WINDOW_PER_SLOT = 2


# Simulated-venue ids each replay of a sweep may issue (paper and sandbox order and trade ids): point i counts
# from the sweep's start in microseconds plus i blocks, so replays running side by side never share an id. A
# replay of the whole bundled capture issues a few hundred; 100 points reach ~17 minutes of microseconds past
# the sweep's start, where a run started later begins (see arb.domain.ids.VenueIds).
SWEEP_ID_BLOCK = 10_000_000
SCHEMA_FILE = "schema.db"  # in the work directory: the migrated empty database every replay starts from


def replay_point(config: Config, point: Point, workdir: str, index: int, first_venue_id: int) -> tuple[str, int]:
    """The task a worker runs: replay one point into ``workdir/point-<index>.db`` with simulated-venue ids from
    ``first_venue_id``; (its URL, the run id). The database starts as a copy of the sweep's migrated empty
    one (``SCHEMA_FILE``), so no replay pays for running the migrations."""
    from arb.domain.ids import restart_venue_ids
    from arb.engine import Engine
    from arb.runtime.status import StatusReporter

    restart_venue_ids(first_venue_id)
    path = Path(workdir) / f"point-{index:05d}.db"
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)  # a retried task starts clean
    shutil.copyfile(Path(workdir) / SCHEMA_FILE, path)
    url = f"sqlite:///{path}"
    # Each point's in-process sandbox on a port of its own: two workers' points run at once. A point serves
    # no metrics or dashboard and sends no alerts: a research replay is watched through the sweep's table,
    # and every point binding the config's ports (or paging a trader) would collide or mislead.
    config = dataclasses.replace(
        config, sandbox=config.sandbox.model_copy(update={"port": 0}),
        monitoring=config.monitoring.model_copy(update={"metrics_port": None, "dashboard_port": None,
                                                        "alert_urls": ()}))
    engine = Engine(apply(config, point), db_url=url, capture=Path(point["capture"]),
                    mode="replay", install_signal_handlers=False, status=StatusReporter("off"))
    return url, engine.main().run_id


def run_sweep(config: Config, grid: Grid, db_url: str, *, scheduler: str | None = None,
              workers: int | None = None, workdir: str | None = None,
              progress: ProgressFn | None = None, connect_timeout_s: float = CONNECT_TIMEOUT_S) -> SweepResult:
    """Replay every point of ``grid`` on a dask cluster and merge each run into ``db_url``.

    The cluster comes first: a scheduler that cannot be reached within ``connect_timeout_s`` is an error
    before the sweep's database is created or touched."""
    from distributed import Client, as_completed

    with _workdir(workdir) as work, _client(scheduler, workers, Client, connect_timeout_s) as client:
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
            _schema_file(Path(work) / SCHEMA_FILE)
            first_id = time.time_ns() // 1000
            slots = sum(client.nthreads().values()) or 1

            def submit(i: int, point: Point) -> Any:
                return client.submit(replay_point, config, point, work, i, first_id + i * SWEEP_ID_BLOCK,
                                     key=f"arb-sweep-{sweep_id}-{i}", pure=False)

            for i, point, future in dispatch(grid.points(), submit, as_completed(), window=slots * WINDOW_PER_SLOT,
                                             started=lambda n: progress and progress(0, min(slots, n), total)):
                with interrupts_deferred():  # a merge cut short would leave the database locked
                    results[i] = _finish(future, i, point, sessions, sweep_id)
                if progress:
                    progress(len(results), min(slots, total - len(results)), total)
        except BaseException as exc:
            reason = f"stopped: {one_line(str(exc) or type(exc).__name__)}"
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


def _finish(future: Any, index: int, point: Point, sessions: Any, sweep_id: int) -> PointResult:
    try:
        source_url, run_id = future.result()
    except Exception as exc:  # the replay failed on its worker: recorded, the sweep goes on
        message = str(exc) if isinstance(exc, ArbError) else f"{type(exc).__name__}: {exc}"
        log.warning("sweep %d: %s failed: %s", sweep_id, describe(point), message)
        return PointResult(index, point, error=one_line(message))
    source = make_engine(source_url, poolclass=NullPool)
    try:
        with Session(source) as src, sessions.begin() as dst:
            new_id = merge_run(src, dst, run_id, sweep_id=sweep_id, grid_point={"index": index, **point})
    except ArbError as exc:
        return PointResult(index, point, error=one_line(str(exc)))
    finally:
        source.dispose()
    _remove_sqlite(source_url)
    return PointResult(index, point, run_id=new_id)


def _schema_file(path: Path) -> None:
    """An empty database at the newest schema, in one file (no WAL beside it), for each replay to copy:
    migrating a fresh file takes about 60 ms, copying this one about 1 ms."""
    _remove_sqlite(f"sqlite:///{path}")
    migrate.upgrade_to_head(f"sqlite:///{path}")
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=DELETE")  # folds the WAL into the file; each copy turns WAL back on


def _remove_sqlite(url: str) -> None:
    path = Path(url.removeprefix("sqlite:///"))
    for name in (path.name, path.name + "-wal", path.name + "-shm", path.name + ".lock"):
        path.with_name(name).unlink(missing_ok=True)


class _workdir:
    """``workdir`` as given (kept), or a temporary directory removed at the end."""

    def __init__(self, given: str | None) -> None:
        self._temp = None if given else tempfile.TemporaryDirectory(prefix="arb-sweep-")
        self.path = given or (self._temp.name if self._temp else "")

    def __enter__(self) -> str:
        os.makedirs(self.path, exist_ok=True)
        return os.path.abspath(self.path)

    def __exit__(self, *exc: object) -> None:
        if self._temp is not None:
            self._temp.cleanup()


class _client:
    """A dask ``Client`` on ``scheduler`` (reached within ``timeout_s``: :func:`check_scheduler`), or on a
    LocalCluster of worker processes it starts and stops."""

    def __init__(self, scheduler: str | None, workers: int | None, client_cls: Any,
                 timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self._scheduler, self._workers = scheduler, workers
        self._client_cls = client_cls
        self._timeout_s = timeout_s
        self._cluster: Any = None
        self._client: Any = None

    def __enter__(self) -> Any:
        if self._scheduler:
            check_scheduler(self._scheduler, self._timeout_s)
            self._client = self._client_cls(self._scheduler, timeout=f"{self._timeout_s}s")
        else:
            self._cluster = local_cluster(self._workers)
            self._client = self._client_cls(self._cluster)
        return self._client

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        interrupted = kind is not None and not issubclass(kind, Exception)  # Ctrl-C, SystemExit
        if interrupted and self._cluster is not None:
            stop_workers_now(self._cluster)
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()


# How long an interrupted sweep's local workers get to stop before they are killed. A replay runs in a
# worker's thread and cannot be cancelled mid-way, and dask would wait up to 4 s for it to finish; its
# database is a scratch file in the work directory, removed with it, so nothing is lost by not waiting.
STOP_WORKERS_S = 0.5


def stop_workers_now(cluster: Any, grace_s: float = STOP_WORKERS_S) -> None:
    """Stop a LocalCluster's worker processes within about ``grace_s`` (killed past it), all at once."""
    import asyncio

    async def stop() -> None:
        # Closing (not only killing) each nanny: a nanny whose worker dies while it is open starts another.
        await asyncio.gather(*(w.close(timeout=grace_s, reason="arb-sweep-interrupted")
                               for w in list(cluster.workers.values())), return_exceptions=True)

    try:
        cluster.sync(stop)
    except Exception:  # noqa: BLE001 - stopping them is best effort: cluster.close() follows either way
        log.debug("stopping the sweep's workers at once failed", exc_info=True)


def check_scheduler(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """An :class:`~arb.errors.ArbError` naming ``address`` unless a dask server there completes dask's
    handshake and answers within ``timeout_s`` seconds.

    dask's own ``Client`` cannot be trusted with this: it retries a refused connection until its timeout,
    and against a port that accepts and never speaks it waits in the handshake (which dask leaves without
    a timeout) and then in closing, past any timeout given (over 120 s seen). One attempt here, bounded."""
    import asyncio

    try:
        asyncio.run(asyncio.wait_for(_handshake(address), timeout_s))
    except TimeoutError:
        raise ArbError(f"scheduler {address}: no answer from a dask scheduler within {timeout_s:g} s") from None
    except OSError as exc:  # refused, unreachable, unknown host; dask's CommClosedError is one too
        raise ArbError(f"scheduler {address}: cannot connect ({_os_reason(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - something answered, but not as a dask scheduler does
        raise ArbError(f"scheduler {address}: not a dask scheduler ({type(exc).__name__}: {one_line(str(exc))})"
                       ) from None


def _os_reason(exc: BaseException) -> str:
    """``Connection refused``: the system's words for why, from under dask's wrapping when it wrapped them."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return one_line(str(exc)) or type(exc).__name__


async def _handshake(address: str) -> None:
    """Connect once (no retries), exchange dask's handshake and ask the server who it is."""
    from distributed.comm import registry
    from distributed.comm.addressing import parse_address
    from distributed.security import Security

    scheme, location = parse_address(address)
    connector = registry.get_backend(scheme).get_connector()
    comm = await connector.connect(location, deserialize=True, **Security().get_connection_args("client"))
    try:
        await comm.write(comm.handshake_info())
        await comm.read()  # the server's handshake
        await comm.write({"op": "identity", "reply": True})
        await comm.read()
    finally:
        comm.abort()


def local_cluster(workers: int | None = None) -> Any:
    """A dask ``LocalCluster`` of ``workers`` worker processes (default: one per core), one replay at a time
    each, started warm (:func:`_warm_workers`). The caller closes it."""
    from distributed import LocalCluster

    with _warm_workers():
        # No dashboard; the scheduler's own HTTP routes (health, metrics) on any free port, not dask's default
        # 8787: a second cluster on the machine (another sweep) would otherwise find it taken.
        return LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                            dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},
                            silence_logs=logging.ERROR)


def start_worker_server() -> None:
    """Start the server the local cluster's workers are forked from now, not when the cluster starts: it
    imports arb (about 2 s of CPU) on the other core while this process reads the config and the grid."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        with _warm_workers():
            forkserver.ensure_running()


@contextmanager
def _warm_workers() -> Iterator[None]:
    """Start the local cluster's processes from a forkserver that has imported what a replay needs, and with
    dask's background work (``QUIET_CLUSTER``) kept off the cores the replays need.

    A spawned worker (dask's default) is a fresh interpreter that imports distributed, then arb on its first
    task: about 2 s of CPU per worker (ccxt, SQLAlchemy, numpy), on the very cores the replays need, and a
    nanny that is slow to stop. Forked from one server that imported them once, every worker starts warm and
    stops at once. Where there is no forkserver (Windows), dask's default start is kept.
    """
    import dask

    if "forkserver" not in multiprocessing.get_all_start_methods():
        with dask.config.set(LOCAL_WORKERS):
            yield
        return
    from distributed.utils import get_mp_context

    with dask.config.set({**LOCAL_WORKERS, "distributed.worker.multiprocessing-method": "forkserver"}):
        # Replaces dask's own preload list (it has just set it); takes effect if the server is not yet
        # running in this process (a later sweep reuses the running one, which has them already).
        get_mp_context().set_forkserver_preload(list(WARM_MODULES))
        yield


def dask_setup(worker: Any) -> None:
    """A local worker ignores Ctrl-C: it belongs to the sweep that started it. Ctrl-C at a terminal reaches
    every process of the group, and the sweep stops its workers itself, at once (:func:`stop_workers_now`);
    a worker stopped by the signal on its own only printed its traceback over the sweep's last lines."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():  # where a worker process runs its loop
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass(frozen=True, slots=True)
class PointTotals:
    """A merged run's figures as stored: executed count and the sums of its stored settlement."""

    executed: int
    expected: Decimal
    realized: Decimal
    unsettled: int


def point_totals(db_url: str, run_ids: Sequence[int]) -> dict[int, PointTotals]:
    """Per run, read from the sweep's database through ``arb.store.views.run_pnl`` (never recomputed)."""
    engine = make_engine(db_url, poolclass=NullPool)
    try:
        with Session(engine) as s:
            out = {}
            for run_id in run_ids:
                pnl = run_pnl(s, run_id)
                out[run_id] = PointTotals(pnl.executed, pnl.totals["expected_pnl"], pnl.totals["realized_pnl"],
                                          pnl.unsettled)
            return out
    finally:
        engine.dispose()
