"""Alembic environment for arb: arb's metadata, arb's engine settings, the configured database URL.

The URL, first found wins: a connection passed in ``config.attributes["connection"]`` (tests, code that
already holds one), ``alembic -x db=URL``, ``config.attributes["db_url"]`` (set by arb.store.migrate),
``$ARB_DB_URL``, then ``sqlite:///arb.db``. Options shared with the models-vs-migrations check come from
:func:`arb.store.migrate.context_options`, so ``alembic check`` and the test compare the same way.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from arb.store.db import make_engine
from arb.store.location import resolve_url
from arb.store.migrate import context_options

config = context.config

# Only the command-line ``alembic`` has an ini file; arb's own commands leave logging alone.
if config.config_file_name is not None and config.file_config.has_section("loggers"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    explicit = context.get_x_argument(as_dictionary=True).get("db") or config.attributes.get("db_url")
    return resolve_url(explicit)


def _run_on(connection: Connection) -> None:
    context.configure(connection=connection, **context_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Foreign keys were off for the migration (see run_migrations_online): check them before the
            # transaction commits, so a migration that broke one rolls back instead of landing.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left {len(broken)} rows with a broken foreign key, e.g. "
                                   f"{tuple(broken[0])}: rolled back")


def _foreign_keys_off(connection: Connection) -> None:
    """SQLite: no foreign-key enforcement while migrating. A batch migration rebuilds a table (create a copy,
    drop the original, rename the copy); with enforcement on, dropping ``runs`` is an implicit DELETE that
    cascades through every opportunity, order and fill of the database. SQLite documents this procedure
    (https://www.sqlite.org/lang_altertable.html, "other kinds of table schema changes"): foreign keys off,
    rebuild, ``PRAGMA foreign_key_check``. The pragma is a no-op inside a transaction, so it is set on the
    driver connection before our engine's BEGIN."""
    if connection.dialect.name == "sqlite":
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("PRAGMA foreign_keys=OFF")
        finally:
            cursor.close()


def run_migrations_offline() -> None:
    """``alembic upgrade --sql``: print the DDL instead of running it."""
    url = _url()
    options = context_options(make_url(url).get_backend_name())
    context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **options)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = make_engine(_url(), poolclass=NullPool)  # NullPool: this connection, pragma and all, is not reused
    try:
        with engine.connect() as connection:
            _foreign_keys_off(connection)
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
