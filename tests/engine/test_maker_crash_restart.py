"""A maker run killed while its quotes rest never keeps a later start from starting (#44).

A paper maker run on the Binance recordings (``maker_capture``), paced so its quotes rest for a while, is
stopped hard while at least two quotes rest: SIGKILL, or a double Ctrl-C. Then ``arb run`` twice on the same
database: both runs complete, and no order of any run is left ``created``, ``open``, ``partially_filled``,
``submitted`` or ``unknown``. The killed run's quotes were on a paper venue, which knows none of an earlier
run's orders: each is closed with a reason that says so (it read ``open -> rejected is not an allowed
transition`` at every start before)."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from .maker_capture import binance_maker_capture, first_seconds, maker_config
from .procs import Proc

IN_FLIGHT = ("created", "submitted", "open", "partially_filled", "unknown")


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return first_seconds(binance_maker_capture(tmp_path_factory.mktemp("maker-capture")), 150)


def _resting(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2) as c:
            return c.execute("SELECT count(*) FROM orders WHERE purpose = 'quote' AND status = 'open'").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet, or the run holds a write lock
        return 0


@pytest.mark.parametrize("stop", ["sigkill", "double-sigint"])
def test_a_maker_run_stopped_hard_with_quotes_resting_leaves_every_later_start_clean(
        capture: Path, tmp_path: Path, stop: str) -> None:
    # Two levels a side: four quotes rest at once; speed 5 holds each for a while of wall time.
    config = maker_config(tmp_path, capture, mode="paper", speed="5", levels=2)
    db = tmp_path / "maker.db"
    run = Proc(["run", "--config", str(config), "--db", f"sqlite:///{db}"], cwd=tmp_path)
    try:
        run.wait_for("two quotes resting", lambda: _resting(db) >= 2, timeout=120)
        if stop == "sigkill":
            run.popen.kill()
        else:
            run.popen.send_signal(signal.SIGINT)
            time.sleep(0.05)
            run.popen.send_signal(signal.SIGINT)
        run.finish(timeout=60)
    finally:
        if run.popen.poll() is None:
            run.popen.kill()
    with sqlite3.connect(db) as c:
        left = c.execute(f"SELECT count(*) FROM orders WHERE status IN {IN_FLIGHT}").fetchone()[0]
    if stop == "sigkill":
        assert left >= 2  # the kill left the quotes as they were: what the next start has to resolve

    fast = maker_config(tmp_path, first_seconds(capture, 20), name="again.toml", mode="replay")
    for attempt in (1, 2):
        again = Proc(["run", "--config", str(fast), "--db", f"sqlite:///{db}"], cwd=tmp_path)
        assert again.finish(timeout=180) == 0, f"start {attempt} after the {stop}:\n{again.text()}"
    with sqlite3.connect(db) as c:
        stuck = c.execute(f"SELECT run_id, client_order_id, status FROM orders WHERE status IN {IN_FLIGHT}"
                          ).fetchall()
        runs = c.execute("SELECT id, status FROM runs ORDER BY id").fetchall()
        reasons = [r for (r,) in c.execute(
            "SELECT e.detail FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.run_id = 1 "
            "AND e.detail LIKE 'reconciliation%'")]
    assert stuck == []
    assert [status for _, status in runs][1:] == ["completed", "completed"]
    # What the stop left resting was closed by the next start's reconciliation, saying why (a double Ctrl-C
    # may have had time to cancel them itself: then there is nothing to close).
    assert len(reasons) == left and all("paper venue" in r for r in reasons), reasons
