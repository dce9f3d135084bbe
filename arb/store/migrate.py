"""Alembic, driven from code: what ``arb db ...`` and ``arb run`` call.

The migration scripts live in ``migrations/`` at the repository root (where Alembic users look for
them). ``arb`` must not depend on being started from the checkout, or on ``alembic.ini``: the
configuration is built here with ``script_location`` found relative to the package. The repository's
``alembic.ini`` exists only so the plain ``alembic`` command works too; both end in the same
``migrations/env.py``, which takes its settings from :func:`context_options`.

The URL travels in ``Config.attributes`` (not ``sqlalchemy.url``): configparser would try to
interpolate the ``%`` of URL-encoded passwords and options.

arb keeps its revision in a version table of its own, ``arb_alembic_version`` (:data:`VERSION_TABLE`), not in
Alembic's default ``alembic_version``: ``arb optimize`` keeps its Optuna studies in the run's database, and
Optuna's storage is an Alembic-managed schema too, which reads and stamps ``alembic_version`` as its own (it
refused a database whose ``alembic_version`` held arb's revision, and one it had stamped first was a revision
arb's scripts do not know). Two schemas in one database, each with its own version table, is what Alembic's
``version_table`` option is for. A database made before keeps arb's revision in ``alembic_version``: it is
read there, and moved to arb's table by the next upgrade or downgrade (:func:`_adopt_legacy_version`).
Optuna's tables (:data:`OPTUNA_TABLES`) are another program's schema and are left out of arb's
models-vs-database check.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

import arb
from arb.display import shorten
from arb.errors import StoreError, UsageError
from arb.store.db import display_url, make_engine, make_reader_engine, sqlite_file
from arb.store.location import resolve_url
from arb.store.models import Base
from arb.store.types import ExactDecimal, UTCDateTime

# Checked in order: the source checkout (editable installs, CI), then the copy a wheel ships inside the
# package (``arb/store/_migrations`` is a symlink to ``migrations/`` that the build follows).
_CANDIDATE_DIRS = (
    Path(arb.__file__).resolve().parent.parent / "migrations",
    Path(__file__).resolve().parent / "_migrations",
)


# Where arb's revision is kept, and where it was kept before (see the module's docstring).
VERSION_TABLE = "arb_alembic_version"
LEGACY_VERSION_TABLE = "alembic_version"

# Optuna's RDB storage (optuna/storages/_rdb/models.py, and its Alembic version table): the tables ``arb
# optimize``'s studies add to the run's database. Not arb's models, so not in arb's schema check; listed by
# name (a test holds the list equal to the installed Optuna's) rather than "anything arb did not make", so the
# check still reports a table arb's own migrations left behind.
OPTUNA_TABLES = frozenset({
    "alembic_version", "studies", "study_directions", "study_user_attributes", "study_system_attributes",
    "trials", "trial_user_attributes", "trial_system_attributes", "trial_params", "trial_values",
    "trial_intermediate_values", "trial_heartbeats", "version_info",
})


def migrations_dir() -> Path:
    """The directory holding ``env.py`` and ``versions/``."""
    for candidate in _CANDIDATE_DIRS:
        if (candidate / "env.py").is_file():
            return candidate
    tried = ", ".join(str(c) for c in _CANDIDATE_DIRS)
    raise StoreError(f"cannot find arb's migration scripts (looked in {tried})")


def context_options(dialect_name: str) -> dict[str, Any]:
    """Options for ``context.configure`` shared by ``env.py`` and :func:`schema_diff`.

    ``render_as_batch`` on SQLite: it cannot ALTER most things, so Alembic rebuilds the table (copy and
    rename) instead. ``compare_type`` so a changed column type shows up in autogenerate and in the
    models-vs-migrations test, not only added or dropped columns. ``version_table``: arb's own (see the
    module's docstring); ``include_name`` leaves Optuna's tables out of the comparison.
    """
    return {
        "target_metadata": Base.metadata,
        "version_table": VERSION_TABLE,
        "include_name": _not_optuna,
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
        "compare_server_default": True,
        # Our SQLite engine issues BEGIN itself (see arb.store.db), so its DDL is transactional too.
        "transactional_ddl": True,
        "render_item": _render_item,
    }


def _not_optuna(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate's ``include_name``: every name but an Optuna table's (:data:`OPTUNA_TABLES`)."""
    return not (type_ == "table" and name in OPTUNA_TABLES)


def _render_item(kind: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Autogenerate writes arb's column types as plain SQLAlchemy types.

    A migration is a frozen record of the schema at its revision: it must not import ``arb.store.types``
    (which may change later) and must not change meaning if it does.
    """
    if kind == "type" and isinstance(obj, ExactDecimal):
        return "sa.String(length=64).with_variant(sa.Numeric(), 'postgresql')"
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def alembic_config(url: str | None = None, *, connection: Connection | None = None) -> Config:
    """An Alembic :class:`Config` for ``url`` (resolved as in :func:`arb.store.location.resolve_url`).

    With ``connection``, migrations run on it (inside the caller's transaction, if any).
    """
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["db_url"] = resolve_url(url)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the scripts know about."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the initial migration ships with the package
        raise StoreError("no migration scripts found")
    return head


def current_revision(url: str | None = None) -> str | None:
    """The revision the database at ``url`` is at; ``None`` for an empty (never migrated) database. Read only
    (see :func:`_read`)."""
    with _read(url) as connection:
        return _revision(connection)


# The targets ``arb db upgrade`` and ``arb db downgrade`` take, besides a revision of the scripts: the newest
# (``head``), no schema (``base``, downgrade only), and N revisions below the database's (``-N``, downgrade only).
_UPGRADE_NAMES = ("head", "heads")
_DOWNGRADE_NAMES = ("base",)
_STEPS_DOWN = re.compile(r"-[1-9][0-9]{0,3}")


def check_target(revision: str, direction: Literal["upgrade", "downgrade"]) -> None:
    """:class:`~arb.errors.UsageError` (exit 2) unless ``revision`` is a target arb's migrations can go to in
    ``direction``: checked against the scripts before the database is touched, so a target Alembic would
    refuse half-way (``zzz``, ``head+5``, ``0005^``, a range ``0007:0001``) creates and changes nothing. One
    error path for every such argument, naming it and what is known."""
    known = [script.revision for script in reversed(list(_scripts().walk_revisions()))]
    names = _UPGRADE_NAMES if direction == "upgrade" else _DOWNGRADE_NAMES
    if revision in known or revision in names:
        return
    if direction == "downgrade" and _STEPS_DOWN.fullmatch(revision):
        return
    span = f"{known[0]} to {known[-1]}" if known else "none"
    others = f"or head, which is {known[-1] if known else 'none'}" if direction == "upgrade" else \
        "base, or -N for N revisions down"
    raise UsageError(f"arb db {direction}: {shorten(revision)!r} is not a revision arb's migrations know "
                     f"(known: {span}, {others})")


def upgrade(url: str | None = None, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the database to ``revision``; returns (revision before, revision after). An SQLite file the
    upgrade created is removed again, with what SQLite made beside it, when the upgrade fails: failing
    creates nothing (a ``-shm`` that cannot be opened, say, failed after the file was made)."""
    check_target(revision, "upgrade")
    path = sqlite_file(resolve_url(url))
    companions = [] if path is None else [path, *(Path(f"{path}{end}") for end in ("-wal", "-shm", "-journal"))]
    absent = [p for p in companions if not os.path.lexists(p)]
    if revision == "head" and path is not None and len(absent) == len(companions) and _copied_at_head(url, path):
        return None, _revision_of(url)
    try:
        before = _revision_of(url)
        _run(command.upgrade, url, revision)
        return before, _revision_of(url)
    except BaseException:
        if path is not None and path in absent:  # the database is this upgrade's own: nothing of it stays
            for made in absent:
                with contextlib.suppress(OSError):
                    made.unlink()
        raise


def _copied_at_head(url: str | None, path: Path) -> bool:
    """Make the SQLite file ``path`` (nothing there yet) a copy of a database this process migrated to head
    once. Migrating a new file from nothing costs ~0.25 s of Alembic, every run and test that starts on a
    fresh database (the test suite: hundreds); a copy takes a millisecond, and its schema is what the
    migrations made. False, having made nothing, where it cannot (a URL with options, a directory that is
    not there or not writable, a file made meanwhile): the caller then migrates as before, and says what
    fails."""
    if resolve_url(url).partition("?")[2] or path.name.startswith("file:"):
        return False  # SQLite URI options: the file is not simply this path
    at_head = _database_at_head()
    if at_head is None:
        return False
    staged = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        staged.write_bytes(at_head)
        os.link(staged, path)  # made only if nothing is there by now (another process's run)
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            staged.unlink()
    return True


@functools.cache
def _database_at_head() -> bytes | None:
    """The file of a database migrated to head, once per process, kept in memory (its directory is gone
    at once: nothing is left behind however the process ends); None when that fails (each fresh database
    is then migrated)."""
    with tempfile.TemporaryDirectory(prefix="arb-schema-") as directory:
        made = Path(directory) / "head.db"
        try:
            _run(command.upgrade, f"sqlite:///{made}", "head")
        except (StoreError, UsageError):
            return None
        # Every connection closed: SQLite has checkpointed the write-ahead log into the file and removed it.
        if any(Path(directory).glob("head.db-*")):
            return None
        return made.read_bytes()


def upgrade_to_head(url: str | None = None) -> tuple[str | None, str | None]:
    """Bring the database to the newest schema (``arb run`` calls this before it starts)."""
    return upgrade(url, "head")


def downgrade(url: str | None = None, revision: str = "-1") -> tuple[str | None, str | None]:
    """Downgrade the database to ``revision`` (``base`` drops every table); returns (before, after)."""
    check_target(revision, "downgrade")
    before = _revision_of(url)
    _run(command.downgrade, url, revision)
    return before, _revision_of(url)


def schema_diff(connection: Connection) -> list[Any]:
    """Differences between the models and the database (``alembic check``); empty when they agree."""
    context = MigrationContext.configure(connection, opts=context_options(connection.dialect.name))
    return list(compare_metadata(context, Base.metadata))


def check(url: str | None = None) -> list[Any]:
    """:func:`schema_diff` for the database at ``url``, read only (see :func:`_read`)."""
    with _read(url) as connection:
        return schema_diff(connection)


def table_names(url: str | None = None) -> list[str]:
    """The tables of the database at ``url`` (Alembic's own included), read only (see :func:`_read`)."""
    with _read(url) as connection:
        return sorted(inspect(connection).get_table_names())


def _revision(connection: Connection) -> str | None:
    """arb's revision: in :data:`VERSION_TABLE`, else (a database made before it) in the legacy table."""
    current = _context(connection).get_current_revision()
    return current if current is not None else _legacy_revision(connection)


def _context(connection: Connection) -> MigrationContext:
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})


def _legacy_revision(connection: Connection) -> str | None:
    """The revision ``alembic_version`` holds when it is one of arb's (a database made before arb kept its
    own version table); None when the table is not there or holds another schema's (Optuna's)."""
    if not inspect(connection).has_table(LEGACY_VERSION_TABLE):
        return None
    heads = MigrationContext.configure(connection).get_current_heads()
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    return heads[0] if len(heads) == 1 and heads[0] in known else None


def _adopt_legacy_version(url: str) -> None:
    """A database whose arb revision is in ``alembic_version`` gets it in :data:`VERSION_TABLE` instead, and
    ``alembic_version`` (which held only that row) is dropped, in one transaction: the table is then free
    for Optuna's storage. Nothing happens to a database already moved, or never migrated."""
    with _connect(url) as connection, connection.begin():
        legacy = _legacy_revision(connection)
        if legacy is None or _context(connection).get_current_revision() is not None:
            return
        _context(connection).stamp(ScriptDirectory.from_config(alembic_config()), legacy)
        connection.execute(text(f"DROP TABLE {LEGACY_VERSION_TABLE}"))


def _revision_of(url: str | None) -> str | None:
    """The revision, through the read-write engine the migration itself uses (it may create the file)."""
    with _connect(url) as connection:
        return _revision(connection)


def _run(fn: Any, url: str | None, revision: str) -> None:
    resolved = resolve_url(url)
    try:
        _adopt_legacy_version(resolved)
        fn(alembic_config(resolved), revision)
    except SQLAlchemyError as exc:
        raise StoreError(f"migrating {display_url(resolved)} failed: {_first_line(exc)}") from exc
    except CommandError as exc:  # a known target that is no step from where the database is (-5 from 0002)
        raise UsageError(f"{display_url(resolved)}: cannot go to {shorten(revision)!r}: {_first_line(exc)}") from None


def _read(url: str | None) -> AbstractContextManager[Connection]:
    """A read-only connection (:func:`arb.store.db.make_reader_engine`: nothing created or changed). An
    SQLite file that is not there reads as the empty database connecting would have made of it, without
    making it (``arb db current|check`` say first that it does not exist)."""
    path = sqlite_file(resolve_url(url))
    missing = path is not None and not path.exists()
    return _connect("sqlite://" if missing else url, read_only=True)


@contextmanager
def _connect(url: str | None, *, read_only: bool = False) -> Iterator[Connection]:
    resolved = resolve_url(url)
    engine = make_reader_engine(resolved) if read_only else make_engine(resolved, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot use database {display_url(resolved)}: {_first_line(exc)}") from exc
    finally:
        engine.dispose()


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _first_line(exc: Exception) -> str:
    # SQLAlchemy appends the SQL and a docs link; the driver's own first line is the useful part.
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
