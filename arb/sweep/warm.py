"""Imported once by a local sweep's worker server (``sweep/cluster.py``), before any worker is forked from it:
what every replay would otherwise do the first time in each worker, done once and shared by every worker.

A worker's first replay imported ccxt (every exchange class: ~190 modules, as ``ccxt.async_support`` does),
the configured venues' packages and sandboxes, and had SQLAlchemy configure its mappers: about a second of
CPU per worker that the one-process replay pays once (``bench/bench_sweep.py``).
"""

from __future__ import annotations

import importlib

from sqlalchemy.orm import configure_mappers

import arb.store.models  # noqa: F401 - the mappers configure_mappers configures
from arb.venues.generic.adapter import ADAPTER as GENERIC
from arb.venues.registry import ADAPTERS

for adapter in (*ADAPTERS.values(), GENERIC):
    for module in adapter.opened_modules:
        importlib.import_module(module)
configure_mappers()
