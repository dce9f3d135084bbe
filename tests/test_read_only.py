"""Commands that only read change nothing: no byte of any file, no file created (no ``-wal``, ``-shm``,
``.lock`` or journal beside the database), whatever the SQLite file holds.

Every read surface (``arb report``, ``trades``, ``balances``, ``dashboard``, ``db current``, ``db check`` and
the notebooks' loader) on four kinds of file: an arb database, a 0-byte file, another program's database
(one in rollback-journal mode, one in WAL mode) and random bytes. Each read either answers (exit 0) or
fails with one line (exit status per the README: 1, the database is not one arb can read); the directory
holds the same files with the same SHA-256 before and after. Before the read path was opened read-only
(``make_reader_engine``), a report on the 0-byte file left a 4 KB WAL database, and one on the other
program's database switched it to ``journal_mode=wal``.
"""

from __future__ import annotations

import hashlib
import json
import selectors
import signal
import sqlite3
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from engine.procs import arb_command
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from report.sample_run import write_sample_db

from arb.analysis import frames
from arb.analysis.locate import Located, NotebookStop, open_run
from arb.cli import main

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("arb", "empty", "foreign", "foreign-wal", "corrupt")


def _make(kind: str, path: Path) -> None:
    if kind == "arb":
        write_sample_db(path)
    elif kind == "empty":
        path.touch()
    elif kind.startswith("foreign"):
        conn = sqlite3.connect(path)
        if kind == "foreign-wal":
            conn.execute("PRAGMA journal_mode=wal")
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('mine')")
        conn.commit()
        conn.close()
    else:
        path.write_bytes(hashlib.sha256(b"corrupt").digest() * 256)  # 8 KB of noise, the same every time


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(params=KINDS)
def database(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(kind, url) of one database file alone in the working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARB_DB_URL", raising=False)
    _make(request.param, tmp_path / "arb.db")
    assert sorted(_files(tmp_path)) == ["arb.db"]
    return request.param, f"sqlite:///{tmp_path / 'arb.db'}"


NOT_ARB = "no such table: runs (is it an arb database?"
NOT_SQLITE = "file is not a database"
# command -> kind -> (exit status, what stderr's one line holds; None: stderr is empty)
# fmt: off
EXPECTED: dict[str, dict[str, tuple[int, str | None]]] = {
    "report": {"arb": (0, None), "empty": (1, NOT_ARB), "foreign": (1, NOT_ARB), "foreign-wal": (1, NOT_ARB),
               "corrupt": (1, NOT_SQLITE)},
    "db current": {"arb": (0, None), "empty": (0, None),
                   "foreign": (1, "is not an arb database: no schema revision, and tables arb did not make: notes"),
                   "foreign-wal": (1, "is not an arb database"), "corrupt": (1, NOT_SQLITE)},
    # a schema that differs is the answer, on stdout, exit 1
    "db check": {"arb": (0, None), "empty": (1, None), "foreign": (1, None), "foreign-wal": (1, None),
                 "corrupt": (1, NOT_SQLITE)},
}
EXPECTED["trades"] = EXPECTED["balances"] = EXPECTED["report --run 2 --format json"] = EXPECTED["report"]
# fmt: on


@pytest.mark.parametrize("command", list(EXPECTED))
def test_a_read_command_changes_no_file(command: str, database: tuple[str, str], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    kind, url = database
    before = _files(tmp_path)
    code = main([*command.split(), "--db", url])
    out, err = capsys.readouterr()
    assert _files(tmp_path) == before, f"`arb {command}` changed the {kind} database's directory"
    status, words = EXPECTED[command][kind]
    assert code == status, err
    if words is None:
        assert err == ""
    else:
        assert err.count("\n") == 1 and err.startswith("arb: error: ") and words in err, err
    if command == "db check" and kind not in ("arb", "corrupt"):
        assert out.startswith(f"{url}: schema differs from the models:")


def test_the_dashboard_changes_no_file(database: tuple[str, str], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """On an arb database the real command, in its own process, serves the run until SIGINT (its state
    read and streamed); on anything else it exits 1 with one line before it listens."""
    kind, url = database
    before = _files(tmp_path)
    if kind != "arb":
        assert main(["dashboard", "--db", url, "--port", "0"]) == 1
        err = capsys.readouterr().err
        words = NOT_SQLITE if kind == "corrupt" else NOT_ARB
        assert err.count("\n") == 1 and err.startswith("arb: error: ") and words in err, err
    else:
        proc = subprocess.Popen(arb_command("dashboard", "--db", url, "--port", "0"),
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = _first_line(proc, 60)
            assert line.startswith("arb dashboard: run 2 of "), line + proc.communicate(timeout=60)[1]
            page = line.split(" at ")[1].split()[0]
            with urllib.request.urlopen(page + "api/state", timeout=30) as answer:
                assert json.load(answer)["run"]["id"] == 2
            with urllib.request.urlopen(page + "api/events", timeout=30) as stream:
                assert stream.readline() == b"event: state\n"
            proc.send_signal(signal.SIGINT)
            _, rest = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0 and rest == "", rest
    assert _files(tmp_path) == before, f"`arb dashboard` changed the {kind} database's directory"


def test_the_notebooks_loader_changes_no_file(database: tuple[str, str], tmp_path: Path) -> None:
    """``open_run`` and the frames a notebook draws from; anything but an arb database is one line."""
    kind, url = database
    before = _files(tmp_path)
    located = Located(url, "test", tmp_path)
    if kind == "arb":
        engine, factory, run = open_run(located, None)
        try:
            with factory() as session:
                readers: list[Callable[..., object]] = [frames.opportunities, frames.entry_slippage,
                                                        frames.entry_latency, frames.balances]
                assert all(read(session, run.id) is not None for read in readers)
        finally:
            engine.dispose()
    else:
        with pytest.raises(NotebookStop) as stop:
            open_run(located, None)
        assert "\n" not in str(stop.value)
        assert ("file is not a database" if kind == "corrupt" else "has no arb tables") in str(stop.value)
    assert _files(tmp_path) == before, f"the notebooks' loader changed the {kind} database's directory"


def _first_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """The process's first stderr line, waiting at most ``timeout_s`` for it."""
    assert proc.stderr is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stderr, selectors.EVENT_READ)
        assert selector.select(timeout_s), "no line on stderr"
    return proc.stderr.readline()


# ------------------------------------------------------------------ a run killed with its commits in the -wal
_KILLED_WRITER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from report.sample_run import populate
from arb.store.db import make_engine, make_session_factory
from arb.store.migrate import upgrade_to_head
upgrade_to_head({url!r})
engine = make_engine({url!r})
populate(make_session_factory(engine))  # every row in the -wal: the pool keeps its connection open
os.kill(os.getpid(), signal.SIGKILL)
"""


def _stamped(folder: Path) -> dict[str, tuple[str, int]]:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir())}


@pytest.fixture
def killed_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database of a writer killed by SIGKILL: its history only in the ``-wal`` beside it, with the ``-shm``
    the writer left; the URL."""
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARB_DB_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'arb.db'}"
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER.format(tests=str(ROOT / "tests"), url=url)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arb.db", "arb.db-shm", "arb.db-wal"]
    assert (tmp_path / "arb.db-wal").stat().st_size > 0
    return url


@pytest.mark.parametrize("command", [*EXPECTED, "report --run 2"])
def test_a_read_command_on_a_killed_runs_database_reads_its_wal_and_changes_no_file(
        command: str, killed_run: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ``mode=ro`` connection rewrote the ``-shm`` of a database whose writer was killed (a report after a
    SIGKILL changed it); ``immutable=1`` would not read the ``-wal`` and show no runs. Each read command
    answers from the commits in the ``-wal`` (run 2 is there) and no file changes, bytes or mtime."""
    before = _stamped(tmp_path)
    code = main([*command.split(), "--db", killed_run])
    out, err = capsys.readouterr()
    assert _stamped(tmp_path) == before, f"`arb {command}` changed a file beside the killed run's database"
    assert code == 0 and err == "", err
    if command.startswith("report"):
        assert "Run 2" in out or '"id": 2' in out, out


def test_a_wal_without_its_shm_is_one_line_not_a_silent_answer(killed_run: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Commits in a ``-wal`` with no ``-shm`` beside it: SQLite cannot read them without creating one, and
    answering without them would show a history that is not the database's. One line, exit 1, nothing made."""
    (tmp_path / "arb.db-shm").unlink()
    before = _stamped(tmp_path)
    assert main(["report", "--db", killed_run]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "its -wal holds commits not yet in the file and there is no -shm" in err, err
    assert _stamped(tmp_path) == before


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=st.binary(max_size=3000), cut=st.integers(0, 200_000), header=st.booleans(),
       command=st.sampled_from(["report", "db current", "trades"]))
# Found by this test: a header whose read version (byte 19) is 2 and write version (byte 18) is not. SQLite
# opens such a file in WAL mode, and the reader took it for a rollback-journal file (it looked for 2 in both),
# so `arb report` left a -wal and a -shm beside it.
@example(noise=b"\x00\x00\x00\x02", cut=0, header=True, command="report")
def test_a_read_command_on_any_file_answers_or_says_so_and_changes_nothing(
        noise: bytes, cut: int, header: bool, command: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Generated files where the database should be: noise, noise behind SQLite's header, an arb database cut
    at any length (``cut`` bytes), in WAL mode. Each read either answers or fails in one line (exit 1), and
    the directory keeps its files, bytes and mtimes."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("db")
    db = folder / "arb.db"
    if cut and not noise:
        write_sample_db(db)
        with db.open("r+b") as file:
            file.truncate(min(cut, db.stat().st_size))
    else:
        db.write_bytes((b"SQLite format 3\x00" if header else b"") + noise)
    before = _stamped(folder)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([*command.split(), "--db", f"sqlite:///{db}"])
    assert _stamped(folder) == before, f"`arb {command}` changed a file"
    assert code in (0, 1), err.getvalue()
    assert err.getvalue() == "" if code == 0 else err.getvalue().count("\n") == 1, err.getvalue()
    assert "unexpected" not in err.getvalue(), err.getvalue()
