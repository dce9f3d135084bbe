"""One engine per database, and every run ends, as users meet them: a second `arb run` on a held database
exits 2 naming the holder while `arb report` still reads; the holder's run ends `completed` with its pid,
host and market span; an unexpected error mid-run ends it `failed`, in one line."""

from __future__ import annotations

import signal
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.detection import Opportunity, Rejection
from arb.engine import Engine
from arb.errors import ArbError
from arb.runtime.decisions import DecisionLoop
from arb.store.lease import acquire

from .helpers import config_with, trimmed_capture
from .procs import Proc


def test_a_second_engine_on_a_held_database_exits_2_naming_the_holder(db_url: str, tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:40:00", "00:50:00")
    config = config_with(tmp_path, extra={  # a replay at recorded speed: it runs until it is stopped
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        "speed = 0                    # 0 = as fast as possible; 1 = recorded speed": "speed = 1",
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    })
    db = create_engine(db_url)

    first = Proc(["run", "--config", str(config), "--db", db_url], cwd=tmp_path)
    try:
        # Logged once the run's row is written and the lease names it.
        first.wait_for("the first run's start", lambda: any(" started: " in line for line in first.err), 120)
        with db.connect() as c:
            [(run_id, pid, host)] = c.execute(text("SELECT id, pid, host FROM runs WHERE status = 'running'")).all()
        assert (pid, host) == (first.popen.pid, socket.gethostname())

        second = Proc(["run", "--config", str(config), "--db", db_url], cwd=tmp_path)
        assert second.finish(60) == 2, second.text()
        err = "".join(second.err).strip().splitlines()
        assert len(err) == 1, second.text()
        assert err[0].startswith("arb: error: ") and "is in use by another arb run: " in err[0], err
        assert f"pid {pid} on host {host}, run {run_id}, since 20" in err[0], err

        # Readers are never blocked: the report reads the held database while the first engine trades.
        report = Proc(["report", "--last", "--db", db_url], cwd=tmp_path)
        assert report.finish(60) == 0, report.text()

        first.popen.send_signal(signal.SIGTERM)
        assert first.finish(60) == 0, first.text()
    finally:
        first.kill()

    with db.connect() as c:
        rows = c.execute(text("SELECT id, status, status_reason, pid, host, started_at, ended_at, "
                              "market_started_at, market_ended_at FROM runs")).all()
    db.dispose()
    [row] = rows  # the refused engine recorded nothing
    assert (row.id, row.status, row.status_reason, row.pid, row.host) == (run_id, "completed", None, pid, host)
    assert row.ended_at is not None
    # Wall clock for started/ended; the capture's time (2021-08-20 00:40-00:50) for the market span.
    market_start, market_end = (_utc(row.market_started_at), _utc(row.market_ended_at))
    assert datetime(2021, 8, 20, 0, 40, tzinfo=UTC) <= market_start <= market_end < datetime(2021, 8, 20, 0, 50,
                                                                                              tzinfo=UTC)
    assert _utc(row.started_at).year >= 2026


class BrokenLoop(DecisionLoop):
    """The real decision loop, with a bug that strikes at the 100th book update (after the run is recorded)."""

    def detect(self, symbol: str) -> Opportunity | Rejection | None:
        if self.funnel.book_updates >= 100:
            raise ZeroDivisionError("decimal division by zero")
        return super().detect(symbol)


class BrokenMidRun(Engine):
    decision_loop = BrokenLoop


async def test_an_unexpected_error_mid_run_ends_it_failed_with_one_line(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:40:00", "00:41:00")
    config = load_config(config_with(tmp_path, extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    }))
    url = f"sqlite:///{tmp_path / 'arb.db'}"
    with pytest.raises(ArbError) as caught:
        await BrokenMidRun(config, db_url=url, force_paper=True, install_signal_handlers=False).run()
    assert str(caught.value) == "run 1 failed: ZeroDivisionError: decimal division by zero"
    assert isinstance(caught.value.__cause__, ZeroDivisionError)  # the traceback is kept for debugging
    db = create_engine(url)
    with db.connect() as c:
        row = c.execute(text("SELECT status, status_reason, ended_at, market_started_at, market_ended_at "
                             "FROM runs")).one()
    db.dispose()
    assert (row.status, row.status_reason) == ("failed", "ZeroDivisionError: decimal division by zero")
    assert row.ended_at is not None
    assert datetime(2021, 8, 20, 0, 40, tzinfo=UTC) <= _utc(row.market_started_at) <= _utc(row.market_ended_at)
    with acquire(url):  # and the lease was given back
        pass


def _utc(value: object) -> datetime:
    """A timestamp as read back by plain SQL: an aware datetime on PostgreSQL, ISO text on SQLite."""
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
