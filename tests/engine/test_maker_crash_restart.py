"""A maker run killed while its quotes rest never keeps a later start from starting (#44).

A maker run, stopped hard while at least two quotes rest (SIGKILL, or a double Ctrl-C), then ``arb run``
twice on the same database: both runs complete, and no order of any run is left ``created``, ``open``,
``partially_filled``, ``submitted`` or ``unknown``. Two kinds of maker venue:

- paper: the Binance recordings (``maker_capture``) paced at speed 5;
- sandbox: a live rehearsal quoting LINK/USDT on arb's in-process Gate sandbox (real time, the sandbox's
  private WebSocket), hedging on htx paper, as ``test_maker_rehearsal.py``; restarted as 8 s rehearsals on
  the same venues.

Either venue started with the killed run and ended with it, knowing none of an earlier run's orders: each
quote left is closed with a reason that says so (it read ``open -> rejected is not an allowed transition``
at every start before). A killed arb's quotes on a venue that outlives it are the venue's dead man's
switch's to cancel (``tests/execution/test_maker_sigkill.py``)."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from .helpers import config_with, trimmed_capture
from .maker_capture import binance_maker_capture, first_seconds, maker_config
from .procs import Proc
from .test_maker_rehearsal import MAKER

IN_FLIGHT = ("created", "submitted", "open", "partially_filled", "unknown")


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return first_seconds(binance_maker_capture(tmp_path_factory.mktemp("maker-capture")), 150)


SANDBOX_MAKER = MAKER + 'levels = 2\nlevel_step_bps = "1"\n'  # the rehearsal's route, two levels a side


def _sandbox_configs(tmp_path: Path) -> tuple[Path, Path]:
    """The live rehearsal to kill, and the one to start again with (8 s of data: a simulation cannot quote on a
    sandbox, whose private stream runs on wall time)."""
    def config(name: str, mode: str, speed: str, capture: Path) -> Path:
        return config_with(tmp_path, fee="0", name=name, extra={
            'mode = "replay"': f'mode = "{mode}"',
            'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
            "speed = 0 ": f"speed = {speed} ",
            'status = "auto"': 'status = "off"',
            'kill_switch_file = "arb.kill"': f'kill_switch_file = "{(tmp_path / "arb.kill").as_posix()}"',
            '[symbols."LINK/USDT"]\nmax_size = "20"              # base units per opportunity\n': SANDBOX_MAKER})
    return (config("live.toml", "live", "1", trimmed_capture(tmp_path, "00:40", "00:50", name="live.jsonl.gz")),
            config("again.toml", "live", "1", trimmed_capture(tmp_path, "00:50:00", "00:50:08", name="again.jsonl.gz")))


def _resting(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2) as c:
            return c.execute("SELECT count(*) FROM orders WHERE purpose = 'quote' AND status = 'open'").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet, or the run holds a write lock
        return 0


@pytest.mark.parametrize("venue", ["paper", "sandbox"])
@pytest.mark.parametrize("stop", ["sigkill", "double-sigint"])
def test_a_maker_run_stopped_hard_with_quotes_resting_leaves_every_later_start_clean(
        capture: Path, tmp_path: Path, stop: str, venue: str) -> None:
    if venue == "paper":  # two levels a side: four quotes rest at once; speed 5 holds each for a while
        config = maker_config(tmp_path, capture, mode="paper", speed="5", levels=2)
        fast = maker_config(tmp_path, first_seconds(capture, 20), name="again.toml", mode="replay")
    else:
        config, fast = _sandbox_configs(tmp_path)
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

    outputs = []
    for attempt in (1, 2):
        again = Proc(["run", "--config", str(fast), "--db", f"sqlite:///{db}"], cwd=tmp_path)
        assert again.finish(timeout=180) == 0, f"start {attempt} after the {stop}:\n{again.text()}"
        outputs.append(f"start {attempt}:\n{again.text()}")
    with sqlite3.connect(db) as c:
        stuck = c.execute(f"SELECT run_id, client_order_id, status FROM orders WHERE status IN {IN_FLIGHT}"
                          ).fetchall()
        # What a failure shows (CI's one failure here said only which rows were left): each left order's events.
        events = c.execute(f"SELECT o.client_order_id, e.from_status, e.to_status, e.detail FROM order_events e "
                           f"JOIN orders o ON o.id = e.order_id WHERE o.status IN {IN_FLIGHT} ORDER BY e.id"
                           ).fetchall()
        runs = c.execute("SELECT id, status FROM runs ORDER BY id").fetchall()
        reasons = [r for (r,) in c.execute(
            "SELECT e.detail FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.run_id = 1 "
            "AND e.detail LIKE 'reconciliation%'")]
    assert stuck == [], "\n".join([*map(str, events), *outputs])
    assert [status for _, status in runs][1:] == ["completed", "completed"]
    # What the stop left resting was closed by the next start's reconciliation, saying why (a double Ctrl-C
    # may have had time to cancel them itself: then there is nothing to close).
    assert len(reasons) == left and all("knows none of an earlier run's orders" in r for r in reasons), reasons
