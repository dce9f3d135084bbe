"""One connection of the engine's pool kept open for the component that writes on the hot path (the
executor), with ORM sessions on it.

Two costs it removes, both measured in ``bench/bench_executor.py``:

- a pool checkout and check-in per transaction (checkout, reset on return, on PostgreSQL the liveness
  ping): ~16 µs warm for an empty transaction (29 vs 13 µs), several times that on a pair's cold caches;
- on SQLite, a commit made on *another* connection makes SQLite drop a connection's whole page cache at its
  next transaction (the WAL index changed), so a pair's write-ahead record, coming after the previous
  pair's legs and settlement wrote through other pooled connections, read every page it touched again:
  +6 µs warm per transaction in isolation, ~20 µs of a cold pair's record.

So the executor's write-ahead record and the sessions of its legs and settlement all run on this one
connection, one transaction at a time: they run on the event loop's thread and never await inside a
transaction. Everything else (the batched writer's threads, reports, reconciliation) keeps the pool.

A connection that died while idle (a PostgreSQL restart, an idle timeout) fails the transaction that finds
it, uncommitted, and SQLAlchemy opens a new one for the next (an invalidated ``Connection`` outside a
transaction procures a fresh DB-API connection): what ``pool_pre_ping`` did per checkout, one transaction
later. :meth:`KeptConnection.close` returns it to the pool; a finalizer does if its owner is dropped without
closing it.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker


class KeptConnection:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._finalizer: weakref.finalize | None = None

    def connection(self) -> Connection:
        """The kept connection, opened at the first call (and again after :meth:`close`)."""
        connection = self._connection
        if connection is None or connection.closed:
            connection = self._connection = self.engine.connect()
            self._finalizer = weakref.finalize(self, connection.close)
        return connection

    def close(self) -> None:
        """Return the connection to the pool."""
        if self._finalizer is not None:
            self._finalizer()  # closes the connection, once
        self._connection = self._finalizer = None


class KeptSessions(sessionmaker[Session]):
    """A ``sessionmaker`` (``expire_on_commit=False``, as ``store.db.make_session_factory``) whose sessions
    run on ``kept``'s connection. ``with sessions.begin() as s:`` begins and commits on it as usual."""

    def __init__(self, kept: KeptConnection) -> None:
        super().__init__(bind=kept.engine, expire_on_commit=False)
        self.kept = kept

    def __call__(self, **local_kw: Any) -> Session:
        local_kw.setdefault("bind", self.kept.connection())
        return super().__call__(**local_kw)
