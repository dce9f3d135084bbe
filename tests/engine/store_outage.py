"""A database outage on demand: the DB-API answers ``database is locked`` for a while, as SQLite does when
another process holds the lock (or PostgreSQL while it restarts).

The failure is raised where the driver would raise it (``before_cursor_execute``), so SQLAlchemy wraps it
into ``OperationalError`` exactly as it does a real one, and everything above (repository functions, the
executor, the batched writer) sees what it would see in production. Only connections to ``database`` are
affected; the listener is removed on exit.

The outage starts at the ``after``-th single-row ``INSERT INTO opportunities`` from an event loop's thread
(the executor's first statement for a pair, before any order exists; a replay's loop runs in a thread of
its own when a test awaits it, the writer's statements in worker threads with no loop), so no pair is in flight when the
store goes away, and lasts ``failures`` statements, whichever thread runs them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from types import TracebackType
from typing import Any, Self

from sqlalchemy import event
from sqlalchemy.engine import Engine


def on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class StoreOutage:
    def __init__(self, database: str, *, after: int, failures: int) -> None:
        self.database = database
        self.after = after
        self.failures = failures
        self.failed = 0
        self.seen = 0  # executor opportunity inserts seen so far
        self.started = threading.Event()
        self.ended = threading.Event()

    @property
    def active(self) -> bool:
        return self.started.is_set() and not self.ended.is_set()

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
        if conn.engine.url.database != self.database or self.ended.is_set():
            return
        if not self.started.is_set():
            if (statement.lstrip().upper().startswith("INSERT INTO OPPORTUNITIES") and not executemany
                    and on_a_loop()):
                self.seen += 1
                if self.seen >= self.after:
                    self.started.set()
            if not self.started.is_set():
                return
        self.failed += 1
        if self.failed >= self.failures:
            self.ended.set()
        raise sqlite3.OperationalError("database is locked")

    def __enter__(self) -> Self:
        event.listen(Engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        event.remove(Engine, "before_cursor_execute", self._before)
