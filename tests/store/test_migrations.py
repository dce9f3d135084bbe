"""Migrations: the full up/down/up cycle and models == migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import contextlib
import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from arb.commands import db as db_command
from arb.errors import StoreError
from arb.store import migrate
from arb.store.db import make_engine, sqlite_file
from arb.store.models import Base

TABLES = {"sweeps", "runs", "opportunities", "orders", "order_events", "fills", "fill_conflicts", "balances",
          "funding_payments", "opening_positions", "transfers"}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {migrate.VERSION_TABLE}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    assert migrate.current_revision(db_url) is None

    assert migrate.upgrade_to_head(db_url) == (None, migrate.head_revision())
    assert _tables(db_url) == TABLES

    assert migrate.downgrade(db_url, "base") == (migrate.head_revision(), None)
    assert _tables(db_url) == set()

    migrate.upgrade_to_head(db_url)
    assert _tables(db_url) == TABLES
    assert migrate.current_revision(db_url) == migrate.head_revision()


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in ("runs", "opportunities", "orders", "order_events", "fills", "balances")}
    finally:
        engine.dispose()


def test_migrating_down_and_up_keeps_every_row(db_url: str, tmp_path: Path) -> None:
    # SQLite rebuilds a table to alter it; with foreign keys enforced, dropping the old ``runs`` cascaded
    # through every opportunity, order and fill: an upgrade from 0002 to 0003 emptied a database's history.
    from engine.helpers import config_with, trimmed_capture

    from arb.config import load_config
    from arb.engine import Engine
    from arb.runtime.status import StatusReporter

    capture = trimmed_capture(tmp_path, "00:00", "00:01")
    config = load_config(config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'min_edge_bps = "0.5"': 'min_edge_bps = "0.1"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    }))
    Engine(config, db_url=db_url, status=StatusReporter("off"), install_signal_handlers=False).main()
    before = _counts(db_url)
    assert before["fills"] > 0 and before["opportunities"] > 0, before
    migrate.downgrade(db_url, "0002")
    assert {k: v for k, v in _counts(db_url).items() if k != "balances"} == {
        k: v for k, v in before.items() if k != "balances"}  # 0002 has no balance kinds; its rows stay too
    migrate.upgrade_to_head(db_url)
    assert _counts(db_url) == before


def test_upgrade_is_idempotent(db_url: str) -> None:
    migrate.upgrade_to_head(db_url)
    head = migrate.head_revision()
    assert migrate.upgrade_to_head(db_url) == (head, head)


def test_models_match_migrations(db_url: str) -> None:
    """The ``alembic check`` equivalent: autogenerate finds nothing to add, drop or alter."""
    migrate.upgrade_to_head(db_url)
    assert migrate.check(db_url) == []


def test_check_notices_a_missing_schema(db_url: str) -> None:
    """The compare is not vacuous: against an empty database it reports every table."""
    added = {item[1].name for item in migrate.check(db_url) if item[0] == "add_table"}
    assert added == set(Base.metadata.tables) == TABLES


def test_every_table_is_in_the_migrations() -> None:
    assert set(Base.metadata.tables) == TABLES


def test_migrations_do_not_import_arb() -> None:
    """A migration is a frozen record; importing arb's current types would let history drift."""
    scripts = list((migrate.migrations_dir() / "versions").glob("*.py"))
    assert scripts
    for script in scripts:
        imports = [line for line in script.read_text().splitlines() if re.match(r"(from|import) ", line)]
        assert not [line for line in imports if re.match(r"(from|import) arb\b", line)], script


def test_db_commands(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*argv: str) -> tuple[int, str]:
        parser = argparse.ArgumentParser()
        db_command.register(parser.add_subparsers())
        args = parser.parse_args(["db", *argv, "--db", db_url])
        status = args.func(args)
        return status, capsys.readouterr().out

    head = migrate.head_revision()
    file = sqlite_file(db_url)
    if file is not None:  # reading an SQLite database that is not there says so and creates nothing
        with pytest.raises(StoreError, match="does not exist"):
            run("current")
        assert not file.exists()
    else:
        assert "empty database" in run("current")[1]
    status, out = run("upgrade")
    assert status == 0 and f"from base to {head}" in out
    status, out = run("check")
    assert status == 0 and "matches" in out
    assert f"revision {head} (up to date)" in run("current")[1]
    status, out = run("downgrade", "base")
    assert status == 0 and f"from {head} to base" in out
    status, out = run("check")
    assert status == 1 and "add_table runs" in out


def test_a_wheel_ships_the_migrations() -> None:
    """``arb/store/_migrations`` (what package-data ships) is the repository's ``migrations/``."""
    packaged = Path(migrate.__file__).parent / "_migrations"
    assert (packaged / "env.py").resolve() == (migrate.migrations_dir() / "env.py").resolve()
    assert sorted(p.name for p in (packaged / "versions").glob("*.py")) == sorted(
        p.name for p in (migrate.migrations_dir() / "versions").glob("*.py")
    )


def _schema(path: Path) -> tuple[object, ...]:
    """Every table, index, view and trigger with its definition, each table's columns in order, the version
    and the file's settings. A definition's lines are compared as a set: SQLite's rebuild of a table in a
    migration writes its constraints in no fixed order (two migrations of one process differ there)."""
    with contextlib.closing(sqlite3.connect(path)) as c:
        master = [(kind, name, table, sorted(line.strip().rstrip(",").strip() for line in (sql or "").splitlines()))
                  for kind, name, table, sql in
                  c.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")]
        columns = {table: c.execute(f"PRAGMA table_info({table})").fetchall()
                   for kind, table, *_ in master if kind == "table"}
        version = c.execute(f"SELECT * FROM {migrate.VERSION_TABLE}").fetchall()
        pragmas = tuple(c.execute(f"PRAGMA {p}").fetchone()[0]
                        for p in ("journal_mode", "user_version", "page_size", "auto_vacuum", "encoding"))
    return master, columns, version, pragmas


def test_a_new_sqlite_database_at_head_is_what_the_migrations_make(tmp_path: Path) -> None:
    # A new file upgraded to head is copied from one the process migrated once (~0.25 s of Alembic a
    # fresh database otherwise): the same schema, views, version and settings as migrating it step by step
    # (an upgrade named by its revision, not "head", always migrates).
    copied, migrated = tmp_path / "copied.db", tmp_path / "migrated.db"
    assert migrate._database_at_head() is not None
    before = migrate._database_at_head.cache_info().hits
    assert migrate.upgrade_to_head(f"sqlite:///{copied}") == (None, migrate.head_revision())
    assert migrate._database_at_head.cache_info().hits == before + 1  # the copy, not a migration
    assert migrate.upgrade(f"sqlite:///{migrated}", migrate.head_revision()) == (None, migrate.head_revision())
    assert _schema(copied) == _schema(migrated)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing staged left
    assert migrate.check(f"sqlite:///{copied}") == []


def test_a_new_database_that_cannot_be_copied_is_migrated_and_fails_as_before(tmp_path: Path) -> None:
    # A directory that is not there: no copy, no staged file; the migration says what SQLite says.
    missing = tmp_path / "nowhere" / "arb.db"
    with pytest.raises(StoreError, match="unable to open database file"):
        migrate.upgrade_to_head(f"sqlite:///{missing}")
    assert not (tmp_path / "nowhere").exists()
