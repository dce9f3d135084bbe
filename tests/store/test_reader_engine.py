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
