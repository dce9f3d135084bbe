"""The read-only engine (``make_reader_engine``: the dashboard, reports, ``db current|check``, notebooks) never
holds up the engine's writes, and cannot write.

On SQLite the store's own engine begins every transaction with ``BEGIN IMMEDIATE`` (the write lock): a
dashboard reading through it would make the engine's next write wait. The reader's transaction is a
deferred snapshot instead.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from arb.store.db import make_reader_engine
from arb.store.models import Run
from arb.store.repo import start_run
from tests.conftest import T0


def test_a_read_in_progress_does_not_hold_up_a_write_and_sees_one_moment(engine: Engine, db_url: str) -> None:
    reader = make_reader_engine(db_url)
    writer = engine.execution_options()  # the store's engine, as the running engine writes through it
    try:
        with reader.begin() as read:
            before = read.scalar(select(func.count()).select_from(Run))
            # The write would wait for the reader's lock (busy timeout, then "database is locked") if the
            # reader held one: it commits at once.
            with writer.begin() as conn:
                conn.execute(Run.__table__.insert().values(
                    mode="paper", config_snapshot={}, started_at=T0, status="running"))
            assert read.scalar(select(func.count()).select_from(Run)) == before  # its snapshot
        with reader.begin() as read:
            assert read.scalar(select(func.count()).select_from(Run)) == before + 1
    finally:
        reader.dispose()


def test_the_reader_cannot_write(engine: Engine, db_url: str) -> None:
    from sqlalchemy.orm import Session

    reader = make_reader_engine(db_url)
    try:
        with pytest.raises(DBAPIError, match="(?i)read.only|readonly|query_only"):
            with Session(reader) as session, session.begin():
                start_run(session, mode="paper", config_snapshot={}, started_at=T0)
        with reader.begin() as read:
            assert read.execute(text("SELECT count(*) FROM runs")).scalar() == 0
    finally:
        reader.dispose()


def test_a_writer_closing_between_the_readers_choice_and_its_open_is_read_all_the_same(
        tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader chooses how to open from the files beside the database; the last writer removes them as it
    closes. Closed between the choice (readonly_shm: a -shm was there) and the open, SQLite said 'unable to
    open database file' (a report right after a run's end, on a loaded machine): the choice is made again."""
    import sqlite3

    from arb.store import db as store_db

    path = tmp_path / "a.db"  # type: ignore[operator]
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (1)")
    writer.commit()
    stale = store_db.readonly_uri(path)  # the writer is open: -wal and -shm beside it
    assert stale.endswith("&readonly_shm=1")
    writer.close()  # the last connection: both removed
    assert not (tmp_path / "a.db-shm").exists()  # type: ignore[operator]
    choices = iter([stale])
    real = store_db.readonly_uri
    monkeypatch.setattr(store_db, "readonly_uri", lambda p: next(choices, None) or real(p))
    before = path.read_bytes()
    reader = make_reader_engine(f"sqlite:///{path}")
    try:
        with reader.connect() as conn:
            assert conn.execute(text("SELECT x FROM t")).scalar_one() == 1
    finally:
        reader.dispose()
    assert path.read_bytes() == before
    # The failed attempt leaves SQLite's empty -wal (no commit in it, the next writer's to use): removing it
    # could pull it from under a writer opening it at that instant.
    assert {p.name: p.stat().st_size for p in tmp_path.iterdir()} == {"a.db": len(before), "a.db-wal": 0}  # type: ignore[attr-defined]
