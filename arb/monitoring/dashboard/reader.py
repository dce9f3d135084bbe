"""A read-only database connection for the dashboard, which must never hold up the engine's writes.

The store's own SQLite engine (``arb.store.db.make_engine``) starts every transaction with ``BEGIN
IMMEDIATE``, taking the write lock so that the engine's writers queue instead of failing. A reader must not:
while it held that lock, the engine's next write would wait. Here a transaction is a plain deferred
``BEGIN``: in WAL mode that is a snapshot of the last commit, read while the engine keeps writing, and all
the queries of one dashboard refresh see the same moment. ``query_only`` makes any write an error.
PostgreSQL readers never block writers (MVCC); there the transaction is ``REPEATABLE READ`` (one snapshot)
and read-only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

from arb.store.db import SQLITE_BUSY_TIMEOUT_MS, make_engine, parse_url


def reader_engine(url: str) -> Engine:
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        # REPEATABLE READ: every query of one transaction sees the same snapshot (as SQLite's WAL read).
        return make_engine(parsed, isolation_level="REPEATABLE READ",
                           execution_options={"postgresql_readonly": True})
    engine = create_engine(parsed)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA query_only=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")  # deferred: a read snapshot, no lock a writer waits for

    return engine
