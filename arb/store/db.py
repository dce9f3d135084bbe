"""Engines and session factories for the two supported databases.

SQLite (a file, ``sqlite:///arb.db`` by default) is the embedded default; PostgreSQL is reached by URL
(``postgresql+psycopg://...``). Everything else in the store takes a :class:`~sqlalchemy.orm.Session`
made by the factory returned here; there is no global session.

SQLite needs three things switched on per connection, and one driver quirk undone:

- ``foreign_keys=ON``: otherwise SQLite parses but ignores every ``REFERENCES`` / ``ON DELETE``.
- ``journal_mode=WAL``: the report and notebooks can read while the engine writes.
- ``busy_timeout``: a writer waits for a lock instead of failing at once with "database is locked".
- Python's ``sqlite3`` module opens transactions lazily and never before DDL, so a failed migration
  would leave half a schema behind. We take transaction control from the driver and emit ``BEGIN``
  ourselves: DDL becomes transactional and SAVEPOINTs work (SQLAlchemy's documented recipe).

Commands that only read (``arb report``, ``trades``, ``balances``, ``dashboard``, ``db current|check``, the
notebooks) use :func:`make_reader_engine` instead: none of the above, and no byte of any file changed.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from arb.config.secrets import mask_url
from arb.display import shorten
from arb.errors import ArbError, StoreError, UsageError
from arb.store import json_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000
# How every transaction on SQLite begins (see ``_on_begin``); the write-ahead record issues it itself.
SQLITE_BEGIN = "BEGIN IMMEDIATE"


SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def parse_url(url: str | URL) -> URL:
    """``url`` parsed. A malformed URL, or a database arb does not support, is a
    :class:`~arb.errors.UsageError` (exit status 2) showing the URL with its password masked."""
    if isinstance(url, URL):
        parsed = url
    else:
        _check_utf8(url)
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number
            raise UsageError(f"not a database URL: {mask_url(url)!r} "
                             "(expected sqlite:///FILE or postgresql+psycopg://USER@HOST/DB)") from None
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise UsageError(f"{display_url(parsed)}: only SQLite and PostgreSQL databases are supported")
    _check_query(parsed)
    return parsed


def _check_query(url: URL) -> None:
    """A query parameter the driver would ignore (``sqlite:///x.db?mode=ro&foo=bar``: pysqlite takes URI
    parameters only with ``uri=true``) is refused here, where every command parses its URL (``--db``,
    ``$ARB_DB_URL`` and ``[store] url`` alike), as the UsageError the preflight gave ``$ARB_DB_URL`` alone:
    SQLAlchemy's SAWarning was printed raw and the file made, read-write, without the ``mode=ro`` asked for."""
    if not url.query:
        return
    import warnings

    from sqlalchemy.exc import SAWarning

    try:
        dialect = url.get_dialect()
    except (ImportError, ArgumentError):  # an unknown or missing driver: make_engine says so
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", SAWarning)
            dialect().create_connect_args(url)
    except SAWarning as exc:
        raise UsageError(f"{display_url(url)}: {str(exc).split(' (Background')[0]}") from None
    except (ImportError, ArgumentError, TypeError, ValueError):  # the driver's own check happens at connect
        return


def _check_utf8(url: str) -> None:
    """A URL from the environment or the command line may hold bytes that are not UTF-8 (Python keeps them as
    lone surrogates); SQLite and PostgreSQL take UTF-8 only, and failed on them only once connecting, after
    the run's lock file was made. Refused here, where every command parses its URL."""
    try:
        url.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(f"not a database URL: {mask_url(url)!r} holds bytes that are not UTF-8 text (at "
                         f"character {exc.start + 1}); database names and paths must be UTF-8") from None


def display_url(url: str | URL) -> str:
    """``url`` safe to print or log, as SQLAlchemy writes it, its password masked by the one masker
    (``config.secrets.mask_url``, which the config also uses on URLs it does not parse). SQLAlchemy quotes
    every part, so the written URL's only ``@`` ends its user info: the masker finds the password there. A
    long one is shortened (``arb.display.shorten``): an error line does not echo a 5,000-character name."""
    return shorten(mask_url(make_url(url).render_as_string(hide_password=False)), URL_SHOWN)


URL_SHOWN = 200  # characters of a database URL a line shows whole


def sqlite_file(url: str | URL) -> Path | None:
    """The file of an SQLite database URL; None for in-memory SQLite and for other databases."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def require_existing(url: str | URL) -> None:
    """For commands that only read or alter an existing database: an SQLite file that is not there is an
    error (:class:`~arb.errors.StoreError`, exit status 1), never created as a side effect of connecting.
    A PostgreSQL server says for itself that a database does not exist."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise StoreError(f"database {display_url(url)} does not exist ({shorten(str(path))} is not a file; "
                         "`arb run` or `arb db upgrade` creates it)")


def read_failure(url: str | URL, exc: SQLAlchemyError) -> StoreError:
    """One line for a read that failed: the database could not be reached (no statement ran), or it is
    not one arb can read (not arb's, not SQLite, damaged), with the driver's first line."""
    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
    if getattr(exc, "statement", None) is None:
        return StoreError(f"cannot reach database {display_url(url)}: {first}")
    return StoreError(f"cannot read {display_url(url)}: {first} (is it an arb database? "
                      "`arb db current` shows its schema)")


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of ``path``, None if it is gone: the same file, or a deleted or replaced one."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` with arb's per-database settings applied (see module docstring)."""
    parsed = parse_url(url)
    kwargs.setdefault("json_serializer", json_text.dumps)  # json.dumps' text, made quickly (store/json_text.py)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, **kwargs)
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **kwargs)
    except (ImportError, ArgumentError) as exc:  # NoSuchModuleError (an unknown driver) is an ArgumentError
        raise UsageError(f"{display_url(parsed)}: database driver not available ({exc})") from None


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for units of work: ``with factory.begin() as session: ...`` commits or rolls back.

    ``expire_on_commit=False`` so rows returned by a repository function stay readable after the
    transaction that loaded them has ended (the engine hands them to other components).
    """
    # Here, not at the top: the ORM costs ~0.15 s that `arb config check` (checking a URL) never needs.
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(bind=engine, expire_on_commit=False)


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    engine = create_engine(url, **kwargs)
    in_memory = url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: we issue BEGIN ourselves in _on_begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL is durable across application crashes; only an OS crash can lose the
                # last transactions, never corrupt the file.
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE: take the write lock up front. A deferred transaction that read first and then writes
        # fails at once with "database is locked" when another connection committed in between (the busy
        # timeout does not apply to that upgrade); the engine writes from the event loop and from the
        # batched writer's thread, so every transaction waits its turn instead.
        # On the transaction's cursor through SQLAlchemy's own cursor path (as ``store/write_ahead.py`` runs its
        # inserts): listeners still see it and a busy error still arrives wrapped, without the execution
        # context and result ``exec_driver_sql`` builds (~3.6 µs warm, every transaction).
        cursor = connection.connection.cursor()
        try:
            connection._cursor_execute(cursor, SQLITE_BEGIN, ())
        finally:
            cursor.close()

    return engine


def make_reader_engine(url: str | URL) -> Engine:
    """An engine that only reads ``url``: it changes no byte of the database and creates no file beside it
    (no ``-wal``, ``-shm`` or journal), whatever the file holds: an arb database, nothing (0 bytes),
    another program's database or random bytes. Each transaction is one consistent snapshot.

    SQLite: the file is opened through a ``file:...?mode=ro`` URI (``sqlite3.connect(uri=True)``), not
    created when missing; no PRAGMA; a plain deferred ``BEGIN`` (a read snapshot, never the write lock
    a running engine would then wait for). A WAL database is opened by what lies beside it:

    - no ``-wal`` (no process has it open), or an empty one and no ``-shm`` (no writer alive):
      ``immutable=1`` as well, since a ``mode=ro`` connection would create ``-wal`` and ``-shm`` files and,
      being read-only, could not remove them; the file holds every commit.
    - a ``-wal`` and its ``-shm`` (a writer running, or one killed by SIGKILL): ``readonly_shm=1`` as well.
      ``mode=ro`` alone maps the ``-shm`` read-write and rewrites its wal-index (a report on a killed run's
      database changed its ``-shm``); ``immutable=1`` would not read the ``-wal`` at all and lose the
      commits it holds. With ``readonly_shm`` SQLite maps the ``-shm`` read-only: while a writer has it
      open the reader uses that writer's index; otherwise (the writer is dead, the index may be stale) it
      builds a private index in its own memory by reading the whole ``-wal``. The cost: that read, each
      connection, of a ``-wal`` SQLite keeps near 4 MB by checkpointing; and a reader cannot mark in the
      shared index which snapshot it reads, so it retries while the writer checkpoints. One rule to keep:
      SQLite shares a file's ``-shm`` mapping between the connections of one process, so a writer opened in a
      process while such a reader is still connected (and no writer was) gets the read-only mapping and
      fails ("attempt to write a readonly database"). The engine opens its writer before its dashboard's
      reader, and readers here hold no pool, so none stays connected.
    - a ``-wal`` holding frames and no ``-shm``: SQLite cannot read those frames without creating one, so
      the reader refuses in one line (:class:`~arb.errors.StoreError`) instead of answering without them.

    No pool: each connection makes that choice when it opens, so a reader that reconnects (the dashboard,
    every refresh) follows a writer that started since. A reader still connected when the last writer
    closes leaves the writer's ``-wal`` and ``-shm`` in place (SQLite's own rule: only the last connection
    removes them); the next writer uses them.

    PostgreSQL: every transaction is ``REPEATABLE READ`` (one snapshot) and ``READ ONLY`` (psycopg's
    ``read_only``: ``BEGIN ... READ ONLY``), so the server refuses any write.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return make_engine(parsed, isolation_level="REPEATABLE READ", execution_options={"postgresql_readonly": True})
    path = sqlite_file(parsed)
    if path is None:  # in-memory: nothing on disk to protect
        return create_engine(parsed, poolclass=NullPool)

    def connect() -> sqlite3.Connection:
        # The choice is made from the files beside the database, which the last writer removes as it closes: one
        # closing between the choice and the open leaves readonly_shm with no -shm ("unable to open database
        # file", seen when a report followed a run's end). Such a reader is made to open the -wal at once, and
        # on failure the choice is made again (the files are gone: immutable). The failed attempt leaves an
        # empty -wal, which is left alone: a writer may be opening it at that instant.
        for attempt in range(_READER_TRIES):
            uri = readonly_uri(path)
            conn = sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
            if not uri.endswith("&readonly_shm=1"):
                return conn
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return conn
            except sqlite3.OperationalError:
                conn.close()
                if attempt == _READER_TRIES - 1:
                    raise
        raise AssertionError("unreachable")

    engine = create_engine(parsed, creator=connect, poolclass=NullPool)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")  # deferred: a snapshot of the last commit, no lock taken

    return engine


SQLITE_HEADER = b"SQLite format 3\x00"
_READER_TRIES = 3  # a reader's choice of how to open, made again when the files beside changed under it


def readonly_uri(path: Path) -> str:
    """The ``file:`` URI :func:`make_reader_engine` opens ``path`` with: ``mode=ro``, plus ``immutable=1``
    for a WAL database without a ``-wal`` holding frames, ``readonly_shm=1`` for one with (see there). The
    path is percent-encoded (``?``, ``#`` and ``%`` in a file name are not URI syntax), made absolute first
    (``file://`` and an empty authority). :class:`~arb.errors.StoreError` for a ``-wal`` with frames and no
    ``-shm``, which SQLite cannot read without creating one."""
    uri = f"file://{quote(os.fsencode(path.absolute()))}?mode=ro"
    if not _wal_mode(path):
        return uri
    try:
        wal_bytes = os.stat(f"{path}-wal").st_size
    except FileNotFoundError:
        return uri + "&immutable=1"  # nobody has it open: the file holds every commit
    if os.path.exists(f"{path}-shm"):  # a writer's, alive or killed: read through it, never writing it
        return uri + "&readonly_shm=1"
    if wal_bytes == 0:  # no -shm, so no writer is alive, and the -wal holds nothing
        return uri + "&immutable=1"
    raise StoreError(f"cannot read {shorten(str(path))} without writing beside it: its -wal holds commits "
                     "not yet in the file and there is no -shm to read them through (opening it read-write "
                     "once, e.g. `arb db upgrade`, folds them in)")


def _wal_mode(path: Path) -> bool:
    """Whether SQLite opens ``path`` in WAL mode: its header's read version (byte 19) is 2, whatever the write
    version (byte 18) says, as SQLite decides (a file whose bytes 18 and 19 were 0 and 2 got a ``-wal`` and
    ``-shm`` from a plain ``mode=ro`` open); False for anything else, a file that cannot be read included."""
    try:
        with path.open("rb") as file:
            header = file.read(20)
    except OSError:
        return False
    return len(header) == 20 and header.startswith(SQLITE_HEADER) and header[19] == 2


def check_db_url(url: str) -> None:
    """ValueError unless arb can connect through ``url``: it parses, names SQLite or PostgreSQL with a driver
    that is installed (checked by ``arb.store.db.make_engine``, which every command connects through; no
    connection is made), has no parameter the driver would ignore, and names a database that outlives a
    connection: an SQLite file whose directory exists, not in-memory SQLite (the migrations would build
    their schema in one memory database and the run write to another, empty one)."""
    import warnings

    from sqlalchemy.exc import SAWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", SAWarning)  # e.g. a query parameter the driver would ignore
            make_engine(url).dispose()
        path = sqlite_file(url)
        in_memory = path is None and parse_url(url).get_backend_name() == "sqlite"
    except ArbError as exc:
        raise ValueError(str(exc)) from None
    except SAWarning as exc:
        raise ValueError(str(exc).split(" (Background")[0]) from None
    if in_memory:
        raise ValueError("an in-memory SQLite database is gone when its connection closes: name a file, "
                         "e.g. sqlite:///arb.db")
    if path is not None and not path.parent.is_dir():
        raise ValueError(f"the directory of the database file {shorten(str(path))} does not exist")
