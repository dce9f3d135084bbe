"""The local cluster's worker server imports this, and only this, before any worker is forked from it
(``sweep/worker_server.py``): what every replay would otherwise do the first time in each worker, done once and
shared by every worker.

What a replay's code imports (:data:`~arb.sweep.worker_server.REPLAY_MODULES`), and what a worker's first replay
still imported or set up: ccxt (every exchange class: ~190 modules, as ``ccxt.async_support`` does), the
configured venues' packages and sandboxes, SQLAlchemy's mappers configured; about a second of CPU per worker
that the one-process replay pays once (``bench/bench_sweep.py``).

With the cyclic collector off meanwhile: the imports make about half a million objects, and the collections they
set off walked them all again and again, ~0.7 s of the server's ~4 s, which the workers wait for. Then frozen
(``gc.freeze``), the recipe of Python's ``gc`` documentation for a process that forks without exec: left where the
disabled collector left them, in the youngest generation, each worker's first collections would walk them all to
age them, and copy their pages in doing so. (The engine freezes what it holds itself when trading starts and gives
it back at the run's end, ``engine/lifecycle.py``: from a worker's first run's end they are collected as any
process's imports are.)
"""

from __future__ import annotations

import gc
import importlib

from arb.sweep.worker_server import REPLAY_MODULES


def _warm() -> None:
    gc.disable()
    try:
        for name in REPLAY_MODULES:
            importlib.import_module(name)
        from sqlalchemy.orm import configure_mappers

        import arb.store.models  # noqa: F401 - the mappers configure_mappers configures
        from arb.venues.generic.adapter import ADAPTER as GENERIC
        from arb.venues.registry import ADAPTERS

        for adapter in (*ADAPTERS.values(), GENERIC):
            for module in adapter.opened_modules:
                importlib.import_module(module)
        configure_mappers()
    finally:
        gc.enable()
    gc.freeze()


_warm()
