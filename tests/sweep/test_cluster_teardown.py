"""Ctrl-C while a sweep's cluster runs or closes is never swallowed (the sweep exiting 0 as if never interrupted).

Seen once in `tests/engine/test_interrupt_anywhere.py`: SIGINT landed in the local scheduler's garbage-collector
hook, run by the sweep's main thread, where Python prints "Exception ignored" and drops it."""

from __future__ import annotations

import gc
import os
import signal
from typing import Any

import pytest

from arb.sweep.cluster import connected, local_cluster

pytest.importorskip("distributed")


def test_the_local_scheduler_leaves_no_hook_on_the_sweeps_garbage_collector() -> None:
    before = list(gc.callbacks)
    cluster = local_cluster(1)
    try:
        hooks = [cb for cb in gc.callbacks if cb not in before]
        assert hooks == [], hooks
    finally:
        cluster.close()  # the scheduler switching its hook off again is then harmless
    assert list(gc.callbacks) == before


class _Closing:
    """A client or cluster whose close is interrupted by Ctrl-C half-way, as a terminal's would be."""

    def __init__(self, log: list[str], name: str, interrupt: bool) -> None:
        self._log, self._name, self._interrupt = log, name, interrupt

    def close(self) -> None:
        if self._interrupt:
            os.kill(os.getpid(), signal.SIGINT)
        self._log.append(f"{self._name} closed")


def test_ctrl_c_while_a_finished_sweep_closes_its_cluster_is_raised_once_it_is_closed() -> None:
    log: list[str] = []
    ctx: Any = connected(None, 1, client_cls=None)
    ctx._client = _Closing(log, "client", interrupt=True)
    ctx._cluster = _Closing(log, "cluster", interrupt=False)
    ctx._cluster.workers = {}
    with pytest.raises(KeyboardInterrupt):
        ctx.__exit__(None, None, None)
    assert log == ["client closed", "cluster closed"]


async def _heartbeat_cut_short(dask_worker: Any) -> list[str]:
    """In a worker: its heartbeat's connection closed under it, as when the sweep closes the cluster mid-beat;
    what the worker's logger lets through (and one other error, which it must)."""
    import logging

    from distributed.comm.core import CommClosedError

    async def closed(**_: Any) -> None:
        raise CommClosedError("in <TCP (closed) ConnectionPool.heartbeat_worker local=tcp://127.0.0.1:1>")

    seen: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("distributed.worker")
    logger.addHandler(handler)
    dask_worker.scheduler.heartbeat_worker = closed
    try:
        await dask_worker.heartbeat()
        logger.error("another error")
    finally:
        del dask_worker.scheduler.heartbeat_worker
        logger.removeHandler(handler)
    return seen


def test_a_local_workers_heartbeat_cut_short_is_not_printed_over_the_sweeps_summary() -> None:
    """Seen once in `tests/engine/test_interrupt_anywhere.py`: a finished sweep's worker printed dask's
    "Failed to communicate with scheduler during heartbeat" and a CommClosedError traceback after the sweep's
    summary, its scheduler closed while a heartbeat was in flight."""
    from distributed import Client

    with connected(None, 1, Client) as client:
        seen = client.run(_heartbeat_cut_short)
    assert list(seen.values()) == [["another error"]], seen
