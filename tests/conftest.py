"""Shared test fixtures: a fresh database on SQLite and on PostgreSQL, and a populated one.

``db_url`` is parametrized over both databases, so every test using it (or ``engine`` /
``session_factory`` / ``populated``) runs twice. PostgreSQL comes from ``$ARB_TEST_POSTGRES_URL``; each
test gets its own schema (via ``search_path`` in the URL), dropped afterwards, so tests never see each
other's rows. Without that variable the PostgreSQL cases skip locally but FAIL under CI (``$CI`` set):
CI must prove the PostgreSQL suite ran.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from arb.store.db import make_engine, make_session_factory
from arb.store.migrate import upgrade_to_head

POSTGRES_ENV = "ARB_TEST_POSTGRES_URL"


def _postgres_url_or_skip() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"${POSTGRES_ENV} is not set: CI must run the PostgreSQL tests", pytrace=False)
    pytest.skip(f"${POSTGRES_ENV} not set (set it, or run .ci/start-postgres)")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database of each kind; no schema yet (see ``engine`` for a migrated one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'arb.db'}"
        return
    base = make_url(_postgres_url_or_skip())
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        options = f"-csearch_path={schema}"
        yield base.update_query_dict({"options": options}).render_as_string(hide_password=False)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to head."""
    upgrade_to_head(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)
