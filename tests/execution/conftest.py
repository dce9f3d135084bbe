"""Execution test helpers. Databases come from the shared ``db_url``/``session_factory`` fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from arb.store.db import make_engine, make_session_factory
from arb.store.migrate import upgrade_to_head
from arb.store.models import Run


@pytest.fixture
def sqlite_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite file, for tests whose subject is not the database."""
    url = f"sqlite:///{tmp_path / 'arb.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def new_run(factory: sessionmaker[Session], mode: str = "paper") -> int:
    with factory.begin() as s:
        run = Run(started_at=datetime.now(UTC), mode=mode, config_snapshot={}, summary=None)
        s.add(run)
        s.flush()
        return run.id
