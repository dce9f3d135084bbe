"""Optuna's study storage and arb's schema share a database (``arb optimize`` keeps its studies in the run's
database): each keeps its revision in its own version table, so neither's check is upset by the other.

Before arb kept its own version table, Optuna refused an arb database ("the runtime optuna version ... is no
longer compatible with the table schema": it read arb's revision as its own), and a database Optuna had
stamped first was a revision arb's scripts did not know.
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.pool import NullPool

from arb.store import migrate
from arb.store.db import make_engine

optuna = pytest.importorskip("optuna")


def test_the_list_of_optuna_tables_is_the_installed_optunas() -> None:
    from optuna.storages._rdb.models import BaseModel

    assert set(BaseModel.metadata.tables) | {migrate.LEGACY_VERSION_TABLE} == migrate.OPTUNA_TABLES


def _storage(url: str) -> optuna.storages.RDBStorage:
    """The URL as Optuna opens it (NullPool: no connection outlives the test, on PostgreSQL either)."""
    return optuna.storages.RDBStorage(url, engine_kwargs={"poolclass": NullPool})


def _study(url: str, name: str) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=_storage(url), direction="maximize")
    study.optimize(lambda trial: trial.suggest_int("x", 0, 9), n_trials=2)


def _trials(url: str, name: str) -> int:
    return len(optuna.load_study(study_name=name, storage=_storage(url)).trials)


def test_an_optuna_study_and_arbs_schema_share_a_database(db_url: str) -> None:
    migrate.upgrade_to_head(db_url)
    _study(db_url, "shared")
    # arb: its revision, and a schema check that sees only its own tables
    assert migrate.current_revision(db_url) == migrate.head_revision()
    assert migrate.check(db_url) == []
    assert migrate.upgrade_to_head(db_url) == (migrate.head_revision(), migrate.head_revision())
    # Optuna: the study opens through its own version check (a user, optuna-dashboard), nothing skipped
    assert _trials(db_url, "shared") == 2
    # arb's schema down and up again leaves the study alone
    migrate.downgrade(db_url, "base")
    assert migrate.current_revision(db_url) is None
    migrate.upgrade_to_head(db_url)
    assert _trials(db_url, "shared") == 2
    assert migrate.check(db_url) == []


def test_an_arb_table_left_behind_is_still_reported(db_url: str) -> None:
    """The check leaves out Optuna's tables by name, not every table arb's models do not have."""
    migrate.upgrade_to_head(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as c:
            c.execute(text("CREATE TABLE leftover (id INTEGER PRIMARY KEY)"))
    finally:
        engine.dispose()
    assert [(item[0], item[1].name) for item in migrate.check(db_url)] == [("remove_table", "leftover")]


def test_a_database_made_before_moves_arbs_revision_to_its_own_table(db_url: str) -> None:
    # A database as arb left it before: its revision (one behind head) in alembic_version.
    migrate.upgrade_to_head(db_url)
    previous = migrate.downgrade(db_url, "-1")[1]
    engine = make_engine(db_url)
    try:
        with engine.begin() as c:
            c.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
            c.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": previous})
            c.execute(text(f"DROP TABLE {migrate.VERSION_TABLE}"))
        assert migrate.current_revision(db_url) == previous  # read where it is, read-only
        assert migrate.upgrade_to_head(db_url) == (previous, migrate.head_revision())
        tables = set(inspect(engine).get_table_names())
        assert migrate.VERSION_TABLE in tables and migrate.LEGACY_VERSION_TABLE not in tables
    finally:
        engine.dispose()
    _study(db_url, "after")  # alembic_version is Optuna's now
    assert migrate.check(db_url) == [] and migrate.current_revision(db_url) == migrate.head_revision()
