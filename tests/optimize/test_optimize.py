"""``arb optimize`` on a two-file timeline, on a real dask LocalCluster: it fits on the first file and reports
out-of-sample on the second, the figure an ``arb replay`` of the best parameters on the second file gives
alone; the same seed gives the same trials (parameters and values); Ctrl-C keeps the finished trials."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from engine.helpers import config_with, trimmed_capture
from engine.procs import arb_command, cpu_at_exit, cpu_seconds
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from sweep.helpers import rows_of, small_config

from arb.cli import main
from arb.display import money
from arb.store.db import make_engine
from arb.store.models import Sweep
from arb.store.views import run_pnl
from arb.sweep.cluster import local_cluster

optuna = pytest.importorskip("optuna")

RANGES = """capture = "days/"
fee = { low = "0", high = "0.0002", step = "0.0001" }
min_edge_bps = { low = 0.0, high = 1.0 }
leg_policy = ["unwind", "complete"]
"""


def _timeline(tmp_path: Path, minutes: int) -> tuple[Path, Path]:
    """Two files of ``minutes`` each, one after the other, and the ranges file naming them."""
    days = tmp_path / "days"
    days.mkdir()
    trimmed_capture(days, "00:00", f"00:{minutes:02d}", name="part-1.jsonl.gz")
    trimmed_capture(days, f"00:{minutes:02d}", f"00:{2 * minutes:02d}", name="part-2.jsonl.gz")
    ranges = tmp_path / "ranges.toml"
    ranges.write_text(RANGES)
    return days, ranges


def _trials(db: str, study: str) -> list[tuple[int, str, dict[str, Any], str | None, Any]]:
    storage = optuna.storages.RDBStorage(db, engine_kwargs={"poolclass": NullPool})
    return [(t.number, t.state.name, t.params, t.user_attrs.get("value"), t.user_attrs.get("point"))
            for t in optuna.load_study(study_name=study, storage=storage).trials]


def _table(out: str) -> dict[str, str]:
    """The first fold's row of the printed table, by column."""
    rows = [[c.strip() for c in line.strip(line[0]).split(line[0])] for line in out.splitlines()
            if line.startswith(("┃", "│"))]  # the header's rules are heavy, the rows' light
    assert len(rows) == 2, out
    return dict(zip(rows[0], rows[1], strict=True))


@pytest.fixture
def cluster() -> Iterator[str]:
    """One LocalCluster for both optimisations (``--scheduler``, as a user's own cluster)."""
    running = local_cluster(2)
    try:
        yield running.scheduler_address
    finally:
        running.close()


def test_walk_forward_on_two_files_is_reproducible_and_scores_the_second_file(
        tmp_path: Path, cluster: str, capsys: pytest.CaptureFixture[str]) -> None:
    days, ranges = _timeline(tmp_path, 5)
    config, _ = small_config(tmp_path, days / "part-1.jsonl.gz")
    db = f"sqlite:///{tmp_path / 'opt.db'}"
    # Four trials, two at a time: the first batch is TPE's random start, the second is drawn from its model
    # of the first two's results.
    argv = ["optimize", str(ranges), "--config", str(config), "--db", db, "--trials", "4", "--batch", "2",
            "--seed", "7", "--scheduler", cluster, "--workdir", str(tmp_path / "work")]
    assert main(argv) == 0, capsys.readouterr().err
    out, err = capsys.readouterr()
    assert "optimize: 5/5 replays done" in err, err
    row = _table(out)
    assert (row["fold"], row["in-sample"], row["out-of-sample"], row["study"], row["trials"]) == (
        "1", "part-1.jsonl.gz", "part-2.jsonl.gz", "optimize-1-fold-1", "4")
    assert 'optuna.load_study(study_name="optimize-1-fold-1", storage="sqlite:///' in out

    # The same seed again (a second study in the same database): the same trials, parameters and values.
    assert main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    first, again = _trials(db, "optimize-1-fold-1"), _trials(db, "optimize-2-fold-1")
    assert first == again
    assert [t[1] for t in first] == ["COMPLETE"] * 4
    assert len({repr(t[2]) for t in first}) == 4 and len({t[3] for t in first}) > 1  # four points, not one

    # In-sample: the best of the study's trials on file 1, as stored.
    best = max(first, key=lambda t: (Decimal(t[3]), -t[0]))
    assert row["best"] == f"#{best[0]}"
    assert row["in realized"] == money(Decimal(best[3]))
    point = best[4]
    assert point["capture"] == str(days / "part-1.jsonl.gz")
    assert (row["fee"], row["min_edge_bps"], row["leg_policy"]) == (
        point["fee"], point["min_edge_bps"], point["leg_policy"])

    # Out-of-sample, computed independently: `arb replay` of file 2 on a config written with the best
    # parameters gives the figure of the table and the rows of the run it names.
    alone_config = config_with(tmp_path, fee=row["fee"], name="alone.toml", extra={
        'min_edge_bps = "0.5"': f'min_edge_bps = "{row["min_edge_bps"]}"',
        'leg_policy = "unwind"': f'leg_policy = "{row["leg_policy"]}"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    })
    alone = f"sqlite:///{tmp_path / 'alone.db'}"
    assert main(["replay", str(days / "part-2.jsonl.gz"), "--config", str(alone_config), "--db", alone]) == 0
    capsys.readouterr()
    engine = make_engine(alone, poolclass=NullPool)
    try:
        with Session(engine) as s:
            realized = run_pnl(s, 1).totals["realized_pnl"]
    finally:
        engine.dispose()
    assert row["out realized"] == money(realized)
    expected = rows_of(alone, 1)
    assert expected["fills"], "the out-of-sample replay traded: the rows compared are not empty"
    assert rows_of(db, int(row["out run"])) == expected


@pytest.mark.parametrize("sigterm", [False, True], ids=["Ctrl-C", "SIGTERM as timeout sends it"])
def test_ctrl_c_stops_at_once_and_keeps_the_finished_trials(tmp_path: Path, sigterm: bool) -> None:
    """And SIGTERM as ``timeout`` sends it (to the process, then to its group): taken as Ctrl-C."""
    days, ranges = _timeline(tmp_path, 2)
    config, _ = small_config(tmp_path, days / "part-1.jsonl.gz")
    db = f"sqlite:///{tmp_path / 'opt.db'}"
    err, stdout_file = tmp_path / "stderr.txt", tmp_path / "stdout.txt"
    with err.open("w") as stderr, stdout_file.open("w") as stdout:
        # Its own session, so a signal to its process group is Ctrl-C at a terminal (test_bounded.py's way).
        # Output to files, not pipes: the test waits for the process itself to exit (below), not for every
        # worker holding a copy of a pipe to let go of it.
        proc = subprocess.Popen(arb_command("optimize", str(ranges), "--config", str(config), "--db", db,
                                            "--workers", "2", "--trials", "500", "--batch", "2"),
                                stdout=stdout, stderr=stderr, cwd=tmp_path, start_new_session=True,
                                text=True, env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    try:
        deadline = time.monotonic() + 120
        while not re.search(r"^optimize: [3-9]/", err.read_text(), re.M):  # a few trials told
            assert proc.poll() is None, err.read_text()
            assert time.monotonic() < deadline, f"no trials done in 120 s: {err.read_text()}"
            time.sleep(0.1)
        cpu_at_signal = cpu_seconds(proc.pid)[1]
        if sigterm:
            proc.send_signal(signal.SIGTERM)
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        cpu_at_end = cpu_at_exit(proc.pid, timeout=30)
        if cpu_at_end is None:  # where it waits: faulthandler prints every thread's stack on SIGABRT
            os.kill(proc.pid, signal.SIGABRT)
            proc.wait(timeout=10)
            raise AssertionError(f"not stopped within 30 s of SIGINT: {err.read_text()[-8000:]}") from None
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines = err.read_text().splitlines()
    assert proc.returncode == 130, lines
    # Its own work from the signal to its exit, not the wall time a loaded machine stretches (CI's disk took
    # 1.9 s for one loopback round trip): 0.2-0.3 s measured; the interpreter's final garbage collections that
    # _exit_quickly spares cost 0.9 s of it. That its workers are not waited for is checked on the calls
    # (tests/sweep/test_bounded.py, the same cluster); a run that never stops fails the 30 s bound above.
    assert cpu_at_end - cpu_at_signal < 0.5, f"{cpu_at_end - cpu_at_signal:.2f} s of CPU to stop"
    out = stdout_file.read_text()
    assert lines[-1] == "arb: interrupted", lines
    # What it had: the table, the fold's best trial so far in-sample, nothing out-of-sample.
    assert "stopped: what was finished" in out, out
    row = _table(out)
    assert row["out run"] == "-" and row["best"].startswith("#"), row
    trials = _trials(db, "optimize-1-fold-1")
    complete = [t for t in trials if t[1] == "COMPLETE"]
    assert len(complete) == int(row["trials"]) >= 3, (row, trials)
    assert {t[1] for t in trials} <= {"COMPLETE", "FAIL"}  # none left RUNNING
    storage = optuna.storages.RDBStorage(db, engine_kwargs={"poolclass": NullPool})
    cut = [t for t in optuna.load_study(study_name="optimize-1-fold-1", storage=storage).trials
           if t.state.name == "FAIL"]
    reason = f"stopped: {'SIGTERM' if sigterm else 'SIGINT'}"  # the signal's name, as arb run says it
    assert all(t.user_attrs["error"] == reason for t in cut), cut
    engine = make_engine(db, poolclass=NullPool)
    try:
        with Session(engine) as s:
            sweep = s.scalars(select(Sweep)).one()
            assert (sweep.status, sweep.status_reason) == ("failed", reason)
    finally:
        engine.dispose()


def test_a_closed_scheduler_port_is_one_line_and_creates_nothing(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    days, ranges = _timeline(tmp_path, 1)
    config, _ = small_config(tmp_path, days / "part-1.jsonl.gz")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    db = tmp_path / "never.db"
    assert main(["optimize", str(ranges), "--config", str(config), "--db", f"sqlite:///{db}",
                 "--scheduler", address]) == 1
    assert capsys.readouterr().err.splitlines() == [f"arb: error: scheduler {address}: cannot connect "
                                                    "(Connection refused)"]
    assert not db.exists()
