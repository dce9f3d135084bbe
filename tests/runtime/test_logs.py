"""What arb's log handlers print: no Alembic step lines, no ``[run None]`` before a run exists, no Ctrl-C traceback."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from arb.execution.reconciliation import ReconcileReport
from arb.runtime import logs


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(logs.sys, "stderr", out)
    monkeypatch.setattr(logs.RUN_ID, "run_id", None)  # an in-process run earlier in the session set it
    # Other tests (the alembic command line's fileConfig, in-process runs) may have configured these loggers:
    # this test is about our handler, so their records must reach the root as they do in a fresh process.
    for name in ("alembic", "alembic.runtime.migration", "arb", "arb.engine"):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "propagate", True)
        monkeypatch.setattr(logger, "disabled", False)
        monkeypatch.setattr(logger, "level", logging.NOTSET)
        monkeypatch.setattr(logger, "handlers", [])
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    logs.setup_logging("INFO")
    yield out
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_alembic_steps_are_quiet_and_runs_are_tagged_once_they_exist(stream: io.StringIO) -> None:
    logging.getLogger("alembic.runtime.migration").info("Running upgrade 0002 -> 0003")
    logging.getLogger("alembic.runtime.migration").warning("something alembic wants seen")
    logging.getLogger("arb.engine").info("database schema created: 0003")
    logs.RUN_ID.run_id = 7
    logging.getLogger("arb.engine").info("run 7 started")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert "something alembic wants seen" in lines[0]
    assert lines[1].endswith("INFO arb.engine database schema created: 0003") and "run None" not in lines[1]
    assert lines[2].endswith("INFO arb.engine [run 7] run 7 started")


def test_reconcile_report_reads_as_one_line() -> None:
    assert str(ReconcileReport()) == "nothing in flight, no fills to bring in"
    report = ReconcileReport(resolved=["t-1", "t-2"], unresolved=["t-3"], fills_added=4, settled=[9])
    assert str(report) == "2 resolved, 1 unresolved, 1 settled, 4 fills added"


def test_ctrl_c_while_sqlalchemy_closes_a_connection_is_no_traceback(stream: io.StringIO,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLAlchemy's pool logs an interrupt that lands in a connection's close, with its traceback, then raises
    it on: the interrupt must reach the caller (arb.cli prints "arb: interrupted") and the log must stay
    quiet. Seen once in the Ctrl-C-anywhere sweep test (a SIGINT during the store's close on the way out)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine("sqlite://", poolclass=NullPool)
    monkeypatch.setattr(logging.getLogger("sqlalchemy.pool"), "propagate", True)

    def interrupted(_connection: object) -> None:
        raise KeyboardInterrupt

    with engine.connect() as connection:
        connection.execute(text("select 1"))
        monkeypatch.setattr(engine.dialect, "do_close", interrupted)
        with pytest.raises(KeyboardInterrupt):
            connection.close()
    logging.getLogger("sqlalchemy.pool").error("a real pool error", exc_info=ValueError("boom"))
    lines = stream.getvalue().splitlines()
    assert "KeyboardInterrupt" not in stream.getvalue() and "Exception closing" not in stream.getvalue()
    assert lines[0].endswith("ERROR sqlalchemy.pool a real pool error") and "ValueError: boom" in lines[-1]


def test_a_command_without_logging_set_up_prints_no_interrupt_either(tmp_path: Path) -> None:
    """In the `arb` process, a command that sets up no logging (``arb report``) prints a library's ERROR record
    through Python's last-resort handler: the same interrupt in a connection's close must not print there
    either (arb.cli filters it out of that handler too)."""
    script = tmp_path / "close_interrupted.py"
    script.write_text(textwrap.dedent("""
        import sys
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool
        from arb import cli

        sys.argv = ["arb"]  # the `arb` process itself; no command: its help, nothing set up
        cli.main()
        engine = create_engine("sqlite://", poolclass=NullPool)
        connection = engine.connect()
        connection.execute(text("select 1"))

        def interrupted(_connection):
            raise KeyboardInterrupt

        engine.dialect.do_close = interrupted
        try:
            connection.close()
        except KeyboardInterrupt:
            print("interrupt reached the caller")
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "interrupt reached the caller" in done.stdout, done.stderr
    assert "Traceback" not in done.stderr and "Exception closing" not in done.stderr, done.stderr
