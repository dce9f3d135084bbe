"""The dask cluster a sweep runs on: a running scheduler reached by one bounded handshake
(:func:`check_scheduler`), or a ``LocalCluster`` of worker processes forked warm from a forkserver that
imported arb once, with dask's periodic work slowed (``QUIET_CLUSTER``), and stopped at once on Ctrl-C.

Why dask.distributed: a real scheduler with nothing to set up. By default a ``LocalCluster`` of worker
processes (one replay per core, each process its own interpreter and GIL), or a running cluster by URL
(``dask scheduler`` / ``dask worker tcp://host:8786``) with the same code; futures report as they finish,
which drives the progress bar and lets the driver merge each run while the others still replay.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from arb.errors import ArbError
from arb.store.repo import one_line
from arb.sweep.dispatch import interrupts_deferred
from arb.sweep.worker_server import WARM_MODULE, start_worker_server

log = logging.getLogger(__name__)

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

# How long a --scheduler has to answer: a scheduler on a LAN or over an SSH tunnel answers in milliseconds,
# one that is still starting in a second or two; past 10 s nobody is coming, and the user is told at once.
CONNECT_TIMEOUT_S = 10.0
class connected:
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
        # Ctrl-C while a finished sweep closes its cluster is raised once it is closed: landing in dask's
        # clean-up (its callbacks, finalizers), Python printed it as "Exception ignored" and the sweep exited 0.
        with interrupts_deferred():
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
    import signal
    import threading

    from distributed import LocalCluster

    start_worker_server()  # its processes deaf to Ctrl-C from their start, before any is forked
    # Ctrl-C waits while the cluster starts (a second or two): a sweep interrupted mid-start left a nanny
    # half-forked, whose traceback (its parent's semaphore gone) came after "arb: interrupted", and dask's exit
    # hook failing to close workers still starting. Delivered as soon as the cluster is up, when the sweep
    # stops it at once (:func:`stop_workers_now`).
    main = threading.current_thread() is threading.main_thread()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if main else None
    try:
        with _warm_workers():
            # No dashboard; the scheduler's own HTTP routes (health, metrics) on any free port, not dask's
            # default 8787: a second cluster on the machine (another sweep) would otherwise find it taken.
            cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                   dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},
                                   silence_logs=logging.ERROR)
    finally:
        if blocked is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    _no_gc_diagnosis()
    return cluster


def _no_gc_diagnosis() -> None:
    """Take the scheduler's garbage-collector hook out of the sweep's own process.

    The scheduler of a local cluster runs in the sweep's process and hooks every full collection to log its
    timings (at levels the sweep silences). A Ctrl-C raised while the main thread ran that hook was swallowed
    by Python ("Exception ignored in: GCDiagnosis._gc_callback"): the sweep went on as if never interrupted.
    Forced off (dask counts its users), the scheduler's own switching off at close is then a no-op."""
    from distributed.gc import disable_gc_diagnosis

    disable_gc_diagnosis(force=True)


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
        # Replaces dask's own preload list (it has just set it), should the server have to be started again.
        get_mp_context().set_forkserver_preload([WARM_MODULE])
        yield


def dask_setup(worker: Any) -> None:
    """A local worker does not stop on Ctrl-C, nor on SIGTERM: it belongs to the sweep that started it. Ctrl-C
    at a terminal (and ``timeout``'s SIGTERM, which the sweep takes as Ctrl-C: ``arb/cli.py``) reaches every
    process of the group, and the sweep stops its workers itself, at once
    (:func:`stop_workers_now`); a worker stopped by the signal on its own only printed its traceback over the
    sweep's last lines. From the signal on, the worker logs nothing: what it would still say is that stop (its
    scheduler gone mid-heartbeat, a traceback seen on a busy machine), which the sweep reports in one line.

    Nor does it report a heartbeat cut short (:func:`_not_a_heartbeat_cut_short`)."""
    import signal
    import threading

    logging.getLogger("distributed.worker").addFilter(_not_a_heartbeat_cut_short)
    if threading.current_thread() is threading.main_thread():  # where a worker process runs its loop
        signal.signal(signal.SIGINT, _stopping_quietly)
        signal.signal(signal.SIGTERM, _stopping_quietly)


# dask's words (distributed/worker.py, Worker.heartbeat) for a heartbeat whose connection closed under it.
HEARTBEAT_CUT_SHORT = "Failed to communicate with scheduler during heartbeat"


def _not_a_heartbeat_cut_short(record: logging.LogRecord) -> bool:
    """False for a local worker's failed heartbeat, logged at ERROR with its ``CommClosedError`` traceback.

    A local worker's scheduler runs in the sweep's own process, over loopback: a heartbeat to it fails only
    when that process closes the cluster (its workers closing their connections, then the scheduler, while
    a heartbeat is in flight: seen once at the end of a finished sweep, on a busy machine) or is gone, and
    the sweep says which itself. dask carries on to the next heartbeat either way; the traceback only landed
    after the sweep's summary."""
    return not record.getMessage().startswith(HEARTBEAT_CUT_SHORT)


def _stopping_quietly(signum: int, frame: object) -> None:
    logging.disable(logging.CRITICAL)
