"""One grid point's replay, the task a worker runs: a deterministic replay into an SQLite file of its own in the
work directory (one engine per database: the engine holds the database's lease, and SQLite has one
writer), which starts as a copy of the sweep's migrated empty database. Workers on other machines must see
the work directory (and the captures) at the same paths: a shared filesystem.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sqlite3
import sys
from contextlib import closing
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from arb.config import Config
from arb.runtime.logs import JsonFormatter
from arb.store import migrate
from arb.sweep.grid import Point, apply, describe

# Simulated-venue ids each replay of a sweep may issue (paper and sandbox order and trade ids): point i counts
# from the sweep's start in microseconds plus i blocks, so replays running side by side never share an id. A
# replay of the whole bundled capture issues a few hundred; 100 points reach ~17 minutes of microseconds past
# the sweep's start, where a run started later begins (see arb.domain.ids.VenueIds).
SWEEP_ID_BLOCK = 10_000_000
SCHEMA_FILE = "schema.db"  # in the work directory: the migrated empty database every replay starts from


# The point a worker is replaying (``describe``'s words), for the lines its replay logs.
_REPLAYING: ContextVar[str | None] = ContextVar("sweep_point", default=None)


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
    _warnings_name_their_point(config.engine.log_format)
    replaying = _REPLAYING.set(describe(point))  # from the engine's construction on: its checks may warn too
    try:
        engine = Engine(apply(config, point), db_url=url, capture=Path(point["capture"]),
                        mode="replay", install_signal_handlers=False, status=StatusReporter("off"))
        return url, engine.main().run_id
    finally:
        _REPLAYING.reset(replaying)


def _warnings_name_their_point(log_format: str) -> None:
    """In a worker process with no logging of its own (a sweep's or an optimisation's: nothing there sets any up),
    each line of WARNING or worse (and each depletion's clearing: :class:`_WorthALine`) goes to stderr as
    Python's last resort would print it, but a replay's names its point:
    ``[fee=0.0001 capture=a.jsonl.gz] inventory depleted: ...``. Printed bare, the dozen lines a point
    can log (a feed latency left unread, each depletion: its run's summary keeps those as incidents) could not
    be told apart, several points running at once. With ``log_format = "json"`` a line is the engine's JSON
    object with the point under ``"point"``, as the sweep's own lines are JSON: a log shipper reads one format.
    A process whose logging is set up (the engine's, a test's) keeps its own."""
    root = logging.getLogger()
    if root.handlers:
        return
    # Imported here: the sweep's driver imports this module, and must not load numpy with it.
    from arb.runtime.depletion import log as depletion

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_WorthALine(depletion.name))
    handler.setFormatter(_PointJsonFormatter() if log_format == "json" else _PointFormatter())
    root.addHandler(handler)
    depletion.setLevel(logging.INFO)  # its clearings are INFO: heard here, above the root's WARNING


class _WorthALine(logging.Filter):
    """WARNING or worse, and the INFO line that ends an ``inventory depleted`` warning (``inventory cleared``):
    without it a point that ran short and recovered again and again printed the same depletion each time, with
    nothing between to say it had ended."""

    def __init__(self, depletion: str) -> None:
        super().__init__()
        self._depletion = depletion

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name == self._depletion


class _PointFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        point = _REPLAYING.get()
        return line if point is None else f"[{point}] {line}"


class _PointJsonFormatter(JsonFormatter):
    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        data = super().fields(record)
        data["point"] = _REPLAYING.get()
        return data


def schema_file(path: Path) -> None:
    """An empty database at the newest schema, in one file (no WAL beside it), for each replay to copy:
    migrating a fresh file takes about 60 ms, copying this one about 1 ms."""
    remove_sqlite(f"sqlite:///{path}")
    migrate.upgrade_to_head(f"sqlite:///{path}")
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=DELETE")  # folds the WAL into the file; each copy turns WAL back on


def remove_sqlite(url: str) -> None:
    """An SQLite database's file and everything SQLite and the lease keep beside it, gone."""
    path = Path(url.removeprefix("sqlite:///"))
    for name in (path.name, path.name + "-wal", path.name + "-shm", path.name + ".lock"):
        path.with_name(name).unlink(missing_ok=True)
