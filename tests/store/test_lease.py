"""The database lease (arb/store/lease.py) on SQLite and PostgreSQL: one holder, named; never a lock on the
data; gone with its process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from arb.store import repo
from arb.store.lease import DatabaseInUse, Holder, acquire

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def refused(url: str) -> DatabaseInUse:
    with pytest.raises(DatabaseInUse) as caught:
        acquire(url)
    return caught.value


def test_a_held_lease_refuses_another_and_names_its_holder(db_url: str) -> None:
    before = datetime.now(UTC)
    with acquire(db_url, now=lambda: T0) as lease:
        assert (lease.holder.pid, lease.holder.host, lease.holder.run_id) == (os.getpid(), socket.gethostname(), None)
        first = refused(db_url)
        assert first.holder == lease.holder and first.holder.run_id is None
        lease.record_run(7)
        error = refused(db_url)
    assert error.holder.run_id == 7 and error.holder == lease.holder
    if db_url.startswith("sqlite"):
        assert error.holder.since == T0  # SQLite: the holder's own clock
    else:  # PostgreSQL: when the lease connection started
        assert error.holder.since is not None and before - timedelta(seconds=5) <= error.holder.since <= datetime.now(UTC)
    message = str(error)
    assert "\n" not in message
    assert f"is in use by another arb run: pid {os.getpid()} on host {socket.gethostname()}, run 7, since " in message
    if db_url.startswith("sqlite"):
        assert message.endswith("since 2026-03-01T09:30:00+00:00")


def test_release_frees_the_lease_and_is_idempotent(db_url: str) -> None:
    lease = acquire(db_url)
    lease.release()
    lease.release()
    with acquire(db_url) as again:
        assert not again.released
    assert again.released
    acquire(db_url).release()


def test_the_lease_never_blocks_readers_or_writers(db_url: str, engine: Engine,
                                                   session_factory: sessionmaker[Session]) -> None:
    # The report, sqlite3/psql and notebooks read while an engine runs; the lease must not be a database lock.
    with acquire(db_url):
        with session_factory.begin() as s:  # SQLite: BEGIN IMMEDIATE, the write lock
            run_id = repo.start_run(s, mode="replay", config_snapshot={}, started_at=T0).id
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM runs")).scalar() == 1
        with session_factory.begin() as s:
            repo.end_run(s, run_id, ended_at=T0, summary={})


def test_in_memory_sqlite_needs_no_lease() -> None:
    with acquire("sqlite://"), acquire("sqlite:///:memory:"), acquire("sqlite://"):
        pass


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # only PostgreSQL has schemas
def test_postgresql_leases_are_per_schema(db_url: str) -> None:
    url = make_url(db_url)
    other = url.update_query_dict({"options": url.query["options"] + "_other"})  # a schema not created yet
    with acquire(db_url), acquire(other.render_as_string(hide_password=False)):
        pass


CHILD = """
import sys
from arb.store.lease import acquire
lease = acquire(sys.argv[1])
lease.record_run(42)
print("held", flush=True)
sys.stdin.read()  # hold until killed
"""


def wait_until(what: str, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)  # poll interval of a bounded wait


def test_the_lease_dies_with_its_process(db_url: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line == "held\n", child.stderr.read() if child.stderr else line
        held = refused(db_url).holder
        assert (held.pid, held.host, held.run_id) == (child.pid, socket.gethostname(), 42)
        child.kill()
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()

    def free() -> bool:  # PostgreSQL ends the dead client's session as soon as it sees the socket close
        try:
            acquire(db_url).release()
        except DatabaseInUse:
            return False
        return True

    wait_until("the dead holder's lease to go", free)


def test_holder_of_a_process_that_has_not_named_itself() -> None:
    assert str(Holder(None, None, None, None)) == "an unnamed process, run not recorded yet, since ?"


def test_a_lease_removes_the_lock_file_it_made_and_keeps_one_it_found(tmp_path: Path) -> None:
    """A run that fails on a database it cannot use left ``arb.db.lock`` behind; the lease that made the file
    removes it (holding its flock). One it found there (an older arb's, another holder's) stays."""
    url = f"sqlite:///{tmp_path / 'arb.db'}"
    lock = tmp_path / "arb.db.lock"
    with acquire(url):
        assert lock.is_file()
    assert not lock.exists()
    lock.write_text("")
    with acquire(url):
        pass
    assert lock.is_file() and lock.read_text() == ""


def test_lock_files_made_and_removed_by_turns_never_give_two_holders(tmp_path: Path) -> None:
    """The race that made removing a lock file unsafe: B opens the file, A (holding it) removes it and
    releases, C creates a new one and takes it; B's flock on the removed inode must not count. Three processes
    taking and releasing the lease for a second, each logging in and out while it holds it: the log never shows
    two holders at once. (The window is microseconds wide, so this guards against regressions broadly; the
    inode check itself is what closes it.)"""
    url = f"sqlite:///{tmp_path / 'arb.db'}"
    code = (
        "import sys, time\n"
        "from arb.store.lease import DatabaseInUse, acquire\n"
        "held = 0\n"
        "end = time.monotonic() + 1\n"
        "while time.monotonic() < end:\n"
        "    try:\n"
        "        with acquire(sys.argv[1]):\n"
        f"            with open({str(tmp_path / 'log')!r}, 'a') as log:\n"
        "                log.write('in\\n'); log.flush(); time.sleep(0.001); log.write('out\\n')\n"
        "            held += 1\n"
        "    except DatabaseInUse:\n"
        "        pass\n"
        "print(held)\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    held = [int(proc.communicate(timeout=60)[0]) for proc in procs]
    lines = (tmp_path / "log").read_text().split()
    assert sum(held) > 10 and len(lines) == 2 * sum(held)
    assert lines == ["in", "out"] * sum(held), "two processes held the lease at once"
