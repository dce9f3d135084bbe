"""The server a local cluster's worker processes are forked from: multiprocessing's forkserver, started having
imported what a replay needs (``sweep/warm.py``) and deaf to Ctrl-C and SIGTERM.

The standard library only, at import and in :func:`start_worker_server`: ``arb sweep`` and ``arb optimize``
start it before they import their own modules (``arb/cli.py``). It imports arb in its own process, about 4 s of
CPU, while the command imports its modules (about 2 s) and reads its config, grid and database on the other core;
the cluster's workers fork from it as soon as it is up, where started by the command it had only begun importing
when the cluster was wanted (``bench/bench_sweep.py``'s "including start-up").
"""

from __future__ import annotations

import multiprocessing
import signal
import threading

# What a replay's code imports (``point.replay_point``). The server imports them, and the rest a worker's first
# replay would, by importing ``sweep/warm.py``, its one preloaded module.
REPLAY_MODULES = ("distributed", "arb.engine", "arb.runtime.status", "arb.domain.ids", "arb.sweep.point")
WARM_MODULE = "arb.sweep.warm"


def start_worker_server() -> None:
    """Start the server the local cluster's workers are forked from, if it is not running (a no-op where there is
    no forkserver: Windows, where dask spawns its workers)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    from multiprocessing import forkserver

    # Set before the server starts, which is when it imports them. dask sets its own list when it first makes its
    # multiprocessing context (``sweep/cluster.py`` sets this one back): a running server keeps what it imported.
    multiprocessing.get_context("forkserver").set_forkserver_preload([WARM_MODULE])
    if threading.current_thread() is not threading.main_thread():  # signals are the main thread's to set
        forkserver.ensure_running()
        return
    # Started with SIGINT ignored, which an exec keeps, so Python there installs no KeyboardInterrupt for it, and
    # which the server hands to every process forked from it (dask's nannies and workers): Ctrl-C at a terminal
    # reaches the whole process group, and a worker or the server caught by it while importing printed its
    # KeyboardInterrupt over the sweep's last lines. They belong to the sweep, which stops them itself
    # (``cluster.stop_workers_now``). Blocked here meanwhile: Linux keeps a blocked signal pending whatever its
    # action, so a Ctrl-C during the fork reaches this process once it is unblocked.
    # SIGTERM likewise (``timeout``, a service manager: to the whole group, which the sweep takes as Ctrl-C): a
    # worker it reached before dask_setup ran died by it, and its nanny logged the loss with a traceback.
    deaf = {signal.SIGINT, signal.SIGTERM}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, deaf)
    handlers = {sig: signal.signal(sig, signal.SIG_IGN) for sig in deaf}
    try:
        forkserver.ensure_running()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
