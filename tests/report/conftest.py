"""A migrated database (SQLite and PostgreSQL, from tests/conftest.py) holding the sample history."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from report.sample_run import populate


@pytest.fixture
def runs(session_factory: sessionmaker[Session]) -> tuple[int, int]:
    """(run 1 id, run 2 id) of the sample history, inserted through the models."""
    return populate(session_factory)
