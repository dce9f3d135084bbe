"""The database a notebook reads, found the way ``arb run`` finds it, and errors as one line.

``arb run`` (from the project's root, as the README says) writes to its config's ``[store] url``; a relative
SQLite path there is relative to the directory ``arb`` ran in, the one holding ``config.toml``. A notebook
opened in Jupyter runs in ``notebooks/``, so it looks for ``config.toml`` in its working directory and
above, reads that URL through :func:`arb.config.load_config` (the same validation and the same environment
overrides as ``arb``) and resolves a relative SQLite path from there. In order of precedence:

1. the notebook's ``DB_URL`` parameter;
2. ``$ARB_NOTEBOOK_DB_URL``, set by whoever starts Jupyter to point every notebook elsewhere;
3. the ``[store] url`` of the nearest ``config.toml``.

Nothing is created or changed: a database that is not there, has no arb tables or holds no runs is a
:class:`NotebookStop` naming the file and what to run, and the database is read through
:func:`arb.store.db.make_reader_engine` (no byte of any file written, no ``-wal`` left beside it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from arb.config import DEFAULT_CONFIG, load_config
from arb.errors import ArbError
from arb.store.db import display_url, make_reader_engine, make_session_factory, parse_url, sqlite_file
from arb.store.models import Run
from arb.store.runs import get_run, latest_run_id

NOTEBOOK_DB_ENV = "ARB_NOTEBOOK_DB_URL"


class NotebookStop(Exception):
    """A notebook cannot go on (no database, no runs, no data for a figure). IPython shows
    ``_render_traceback_`` in place of a traceback: the reader sees this one line, not arb's internals."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


@dataclass(frozen=True)
class Located:
    url: str
    source: str  # where the URL came from, printed with it
    root: Path  # the project directory (config.toml's), else the working directory: relative paths start here

    def __str__(self) -> str:
        return f"{display_url(self.url)} ({self.source})"


def find_config(start: Path) -> Path | None:
    """The nearest ``config.toml`` in ``start`` or a directory above it."""
    for folder in (start, *start.parents):
        candidate = folder / DEFAULT_CONFIG
        if candidate.is_file():
            return candidate
    return None


def locate_database(explicit: str | None, cwd: Path, environ: Mapping[str, str] | None = None) -> Located:
    """The database URL a notebook running in ``cwd`` reads (module docstring: the order)."""
    environ = os.environ if environ is None else environ
    config_path = find_config(cwd)
    root = cwd if config_path is None else config_path.parent
    if explicit:
        return Located(explicit, "DB_URL parameter", root)
    if environ.get(NOTEBOOK_DB_ENV):
        return Located(environ[NOTEBOOK_DB_ENV], f"${NOTEBOOK_DB_ENV}", root)
    if config_path is None:
        raise NotebookStop(f"no config.toml in {cwd} or above it, so no database to read: open the notebook "
                           f"inside the arb project, or set DB_URL (or ${NOTEBOOK_DB_ENV})")
    try:
        with contextlib.chdir(root):  # `arb run` validates a relative SQLite path from where it runs: here
            url = load_config(config_path, environ).store.url
    except ArbError as exc:
        raise NotebookStop(str(exc)) from None
    return Located(_from_root(url, root), f"[store] url of {config_path}", root)


def _from_root(url: str, root: Path) -> str:
    """A relative SQLite path taken from ``root`` (where ``arb run`` ran); any other URL unchanged."""
    path = sqlite_file(url)
    if path is None or path.is_absolute():
        return url
    parsed: URL = parse_url(url)
    return parsed.set(database=str((root / path).resolve())).render_as_string(hide_password=False)


def check_database(located: Located) -> None:
    """:class:`NotebookStop` if the database is missing, not arb's, or holds no run."""
    try:
        path = sqlite_file(located.url)
    except ArbError as exc:
        raise NotebookStop(f"{exc} ({located.source})") from None
    if path is not None and not path.is_file():
        raise NotebookStop(f"no database at {path} ({located.source}): run `arb run` in the project "
                           "directory first, or set DB_URL")
    engine = make_reader_engine(located.url)
    try:
        if not inspect(engine).has_table(Run.__tablename__):
            raise NotebookStop(f"{located} has no arb tables: not a database `arb run` wrote "
                               "(`arb db upgrade` creates an empty one)")
        with make_session_factory(engine)() as session:
            runs = session.scalar(select(func.count()).select_from(Run)) or 0
    except SQLAlchemyError as exc:
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        raise NotebookStop(f"{located}: cannot read it: {type(exc).__name__}: {first}") from None
    finally:
        engine.dispose()
    if runs == 0:
        raise NotebookStop(f"{located} holds no runs: run `arb run` first")


def open_run(located: Located, run_id: int | None) -> tuple[Engine, sessionmaker[Session], Run]:
    """An engine on the checked database, its session factory and the run (the latest when None)."""
    check_database(located)
    engine = make_reader_engine(located.url)
    factory = make_session_factory(engine)
    with factory() as session:
        chosen = run_id if run_id is not None else latest_run_id(session)
        try:
            run = get_run(session, chosen)  # type: ignore[arg-type]  # check_database refused an empty database
        except ArbError as exc:
            engine.dispose()
            raise NotebookStop(f"{located}: {exc}") from None
    return engine, factory, run
