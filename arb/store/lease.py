"""One engine per database: the lease ``arb run`` holds for its whole life.

Two engines on one database corrupt each other: the second one's start-up reconciliation judges the
first one's in-flight orders. So the engine takes a lease before it reconciles, and a second engine that
cannot take it stops with :class:`DatabaseInUse`, which names the holder (pid, host, run id,
since).

The lease is never a database transaction or table lock, so ``arb report``, ``sqlite3``/``psql`` and the
notebooks read (and even write) as usual while an engine runs. And it dies with its process, however the
process dies, so a SIGKILL never leaves a database locked; a later start that takes the lease knows every
run still marked ``running`` is dead.

- **PostgreSQL**: a session-level advisory lock (``pg_try_advisory_lock``) held by a dedicated
  autocommit connection for the life of the run; the server drops it when that session ends. The key is
  ``("arb!", hash of database/schema)``: arb's tables live in one schema, so two schemas are two stores.
  The holder names itself in the connection's ``application_name`` (``arb pid=... run=... host=...``,
  cut to PostgreSQL's 63 bytes); another process finds it through ``pg_locks`` and
  ``pg_stat_activity``, and "since" is that connection's ``backend_start``. Should that connection be
  lost (a server restart), the lock goes with it, as do the engine's own connections.
- **SQLite** (a file): ``flock`` on a file beside the database (``arb.db`` -> ``arb.db.lock``); the
  kernel drops it when the process ends. The holder is written into the file as JSON. The lock file is
  opened without following a link (``arb/outfiles.py``): a link planted there is refused, one line, exit 1
  (the database's surroundings are unusable, as a damaged file is), never emptied and written through. A lease
  that created the file removes it when released, so a run that fails on a database it cannot use leaves
  nothing beside it; removing is safe against a process that opened the file just before, because a taker
  holds the lease only once its flock is on the inode the name still points to (else it opens again).
- **In-memory SQLite**: nothing to share, no lease.

Usage::

    with acquire(url) as lease:       # raises DatabaseInUse when another engine holds it
        ...                           # record the run
        lease.record_run(run_id)      # so a second engine can name the run
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from arb.display import shorten
from arb.errors import ArbError, StoreError
from arb.outfiles import open_fd
from arb.store.db import display_url, make_engine, parse_url

# First half of the advisory-lock key: ASCII "arb!", so arb's locks are recognizable in pg_locks.
ADVISORY_NAMESPACE = 0x61726221
_APP_NAME_MAX = 63  # PostgreSQL keeps NAMEDATALEN - 1 bytes of application_name
_APP_NAME = re.compile(r"^arb pid=(?P<pid>\d+) run=(?P<run>\d+|-) host=(?P<host>.*)$")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lease. Fields another process could not learn are ``None``."""

    pid: int | None
    host: str | None
    run_id: int | None  # None until the holder has recorded its run
    since: datetime | None  # when the lease was taken (wall clock, UTC)

    def __str__(self) -> str:
        if self.pid is None and self.host is None:
            who = "an unnamed process"  # just starting (SQLite), or another role's session (PostgreSQL)
        else:
            who = f"pid {self.pid if self.pid is not None else '?'} on host {self.host or '?'}"
        run = f"run {self.run_id}" if self.run_id is not None else "run not recorded yet"
        since = f"since {self.since.astimezone(UTC).isoformat(timespec='seconds')}" if self.since else "since ?"
        return f"{who}, {run}, {since}"


class DatabaseInUse(ArbError):
    """Another engine holds the database's lease; the message names it. Here, not in ``arb/errors.py``, with
    the :class:`Holder` it carries: the error tree imports nothing above it."""

    exit_status = 2

    def __init__(self, database: str, holder: Holder) -> None:
        self.database = database
        self.holder = holder
        super().__init__(f"{database} is in use by another arb run: {holder}")


class Lease:
    """A lease this process holds, until :meth:`release` (or the end of its ``with`` block, or death).

    This base class is also the whole lease of an in-memory SQLite database: no other process can see it."""

    def __init__(self, database: str, holder: Holder) -> None:
        self.database = database  # for messages: the URL with any password masked
        self.holder = holder
        self.released = False

    def record_run(self, run_id: int) -> None:
        """Name the run holding the lease, so a second engine's error can say which run it is."""
        self.holder = replace(self.holder, run_id=run_id)
        if not self.released:
            self._publish()

    def release(self) -> None:
        """Give the lease up (idempotent)."""
        if not self.released:
            self.released = True
            self._release()

    def _publish(self) -> None:
        """Make :attr:`holder` visible to other processes."""

    def _release(self) -> None:
        """Give the lease up for real."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def acquire(url: str | URL, *, now: Callable[[], datetime] = _utcnow) -> Lease:
    """Take the lease on the database at ``url`` for this process, without waiting.

    Raises :class:`DatabaseInUse` (naming the holder) when another process or connection
    holds it, :class:`~arb.errors.StoreError` when the database cannot be reached. ``now`` is the clock
    for "since" (PostgreSQL reports its own: the lease connection's ``backend_start``).
    """
    parsed = parse_url(url)  # a malformed or unsupported URL: one line, exit 2
    me = Holder(pid=os.getpid(), host=socket.gethostname(), run_id=None, since=None)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            return Lease(display_url(parsed), replace(me, since=now()))
        return _FileLease.acquire(parsed, replace(me, since=now()))
    if parsed.get_backend_name() == "postgresql":
        return _AdvisoryLease.acquire(parsed, me)
    raise StoreError(f"no lease for {parsed.get_backend_name()} databases (arb supports SQLite and PostgreSQL)")


# --- SQLite: flock on a file beside the database ----------------------------------------------------------


def lock_path(url: str | URL) -> Path:
    """The lock file of an SQLite database file: the database's path plus ``.lock``."""
    database = make_url(url).database
    assert database, "in-memory SQLite has no lock file"
    return Path(database + ".lock")


class _FileLease(Lease):
    def __init__(self, database: str, holder: Holder, fd: int, path: Path, created: bool) -> None:
        super().__init__(database, holder)
        self._fd = fd
        self._path = path
        self._created = created  # this lease made the file, so it removes it

    @classmethod
    def acquire(cls, url: URL, me: Holder) -> _FileLease:
        path = lock_path(url)
        for _ in range(_OPEN_ATTEMPTS):
            fd, created = _open_lock_file(path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise DatabaseInUse(display_url(url), holder) from None
            except BaseException:
                os.close(fd)
                raise
            if _same_inode(fd, path):
                lease = cls(display_url(url), me, fd, path, created)
                lease._publish()
                return lease
            os.close(fd)  # the holder removed the file between our open and our flock: open the name again
        raise StoreError(f"cannot take the lock file {shorten(str(path))}: it kept being replaced")

    def _publish(self) -> None:
        data = json.dumps({"pid": self.holder.pid, "host": self.holder.host, "run_id": self.holder.run_id,
                           "since": self.holder.since.isoformat() if self.holder.since else None}).encode()
        # One write after the truncate: a reader sees nothing or the whole record (it then says "not named").
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def _release(self) -> None:
        try:
            if self._created and _same_inode(self._fd, self._path):
                self._path.unlink()  # still holding the flock: a taker that opened it first sees it gone
            else:
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)


_OPEN_ATTEMPTS = 20


def _open_lock_file(path: Path) -> tuple[int, bool]:
    """The lock file's descriptor, and whether this call created it; never through a link (``outfiles``)."""
    try:
        for _ in range(_OPEN_ATTEMPTS):
            try:
                return open_fd(path, os.O_RDWR | os.O_CREAT | os.O_EXCL), True
            except FileExistsError:
                pass
            try:
                return open_fd(path, os.O_RDWR), False
            except FileNotFoundError:  # removed between the two opens (a holder releasing): create it again
                continue
    except OSError as exc:
        raise StoreError(f"cannot open the lock file {shorten(str(path))}: {exc.strerror}") from exc
    raise StoreError(f"cannot open the lock file {shorten(str(path))}: it kept being removed")


def _same_inode(fd: int, path: Path) -> bool:
    """Whether ``path`` (not followed) still names the file open on ``fd``."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)


def _read_holder(fd: int) -> Holder:
    try:
        record = json.loads(os.pread(fd, 4096, 0) or b"null")
        since = datetime.fromisoformat(record["since"]) if record.get("since") else None
        return Holder(pid=record.get("pid"), host=record.get("host"), run_id=record.get("run_id"), since=since)
    except (ValueError, TypeError, AttributeError, KeyError):  # empty (the holder is just starting) or torn
        return Holder(pid=None, host=None, run_id=None, since=None)


# --- PostgreSQL: a session-level advisory lock on a dedicated connection ----------------------------------


class _AdvisoryLease(Lease):
    def __init__(self, database: str, holder: Holder, connection: Connection, key: tuple[int, int]) -> None:
        super().__init__(database, holder)
        self._connection = connection
        self._key = key

    @classmethod
    def acquire(cls, url: URL, me: Holder) -> _AdvisoryLease:
        engine = make_engine(url, poolclass=NullPool)
        shown = display_url(url)
        try:
            connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(f"cannot use database {shown}: {_first_line(exc)}") from exc
        try:
            db, schema, started = connection.execute(text(
                "SELECT current_database(), COALESCE(current_schema(), current_setting('search_path')), "
                "backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")).one()
            key = (ADVISORY_NAMESPACE, _key32(f"{db}/{schema}"))
            if not connection.execute(text("SELECT pg_try_advisory_lock(:a, :b)"),
                                      {"a": key[0], "b": key[1]}).scalar_one():
                raise DatabaseInUse(shown, _pg_holder(connection, key))
            lease = cls(shown, replace(me, since=started.astimezone(UTC)), connection, key)
            lease._publish()
            return lease
        except BaseException as exc:
            connection.close()
            engine.dispose()
            if isinstance(exc, SQLAlchemyError):
                raise StoreError(f"cannot take the lease on {shown}: {_first_line(exc)}") from exc
            raise

    def _publish(self) -> None:
        run = self.holder.run_id if self.holder.run_id is not None else "-"
        name = f"arb pid={self.holder.pid} run={run} host={self.holder.host}"
        name = name.encode("ascii", "replace")[:_APP_NAME_MAX].decode()
        self._connection.execute(text("SELECT set_config('application_name', :n, false)"), {"n": name})

    def _release(self) -> None:
        engine = self._connection.engine
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": self._key[0], "b": self._key[1]})
        except SQLAlchemyError:
            pass  # the session is gone already, and its lock with it
        finally:
            self._connection.close()
            engine.dispose()


def _key32(name: str) -> int:
    """A stable signed 32-bit key for ``name`` (Python's ``hash`` changes between processes)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big", signed=True)


def _pg_holder(connection: Connection, key: tuple[int, int]) -> Holder:
    # pg_locks shows the two int4 halves of a two-key advisory lock as unsigned oids, with objsubid 2.
    row = connection.execute(text(
        "SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
        "AND l.classid::bigint = :c AND l.objid::bigint = :o "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
        {"c": key[0] & 0xFFFFFFFF, "o": key[1] & 0xFFFFFFFF}).first()
    if row is None:  # released between our attempt and this look
        return Holder(pid=None, host=None, run_id=None, since=None)
    match = _APP_NAME.match(row.application_name or "")
    if match is None:  # another role's session: PostgreSQL hides its application_name from us
        return Holder(pid=None, host=None, run_id=None, since=row.backend_start.astimezone(UTC))
    run = match["run"]
    return Holder(pid=int(match["pid"]), host=match["host"], run_id=None if run == "-" else int(run),
                  since=row.backend_start.astimezone(UTC))


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__
