"""``arb sweep`` on a real dask LocalCluster (2 worker processes): each replay in the merged database is the
replay ``arb replay`` gives alone, and the sweep row and run links say what ran."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from engine.procs import arb_command  # tests/engine/procs.py
from sqlalchemy import select
from sqlalchemy.orm import Session

from arb.cli import main
from arb.store.db import make_engine
from arb.store.models import Run, Sweep
from arb.sweep.point import SWEEP_ID_BLOCK

from .helpers import config_with, rows_of, small_config, trimmed_capture

FEES = ("0", "0.0001")
EDGES = ("0.1", "0.5")


def test_sweep_matches_replays_run_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Ten minutes: all four points trade in it (asserted) and each replay still runs for over a second, so
    # the two workers' replays overlap (the trade-id blocks below); twenty only made every replay longer.
    capture = trimmed_capture(tmp_path, "00:00", "00:10")
    config, _ = small_config(tmp_path, capture)
    db = f"sqlite:///{tmp_path / 'sweep.db'}"
    started = time.monotonic()
    status = main(["sweep", "--config", str(config), "--db", db, "--workers", "2", "--capture", str(capture),
                   "--fee", ",".join(FEES), "--min-edge-bps", ",".join(EDGES)])
    swept_s = time.monotonic() - started
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "sweep: 4/4 replays done" in err
    engine = make_engine(db)
    try:
        with Session(engine) as s:
            sweep = s.scalars(select(Sweep)).one()
            runs = s.scalars(select(Run).where(Run.sweep_id == sweep.id).order_by(Run.id)).all()
            assert (sweep.status, sweep.status_reason) == ("completed", None) and sweep.ended_at is not None
            assert sweep.grid == {"capture": [str(capture.resolve())], "fee": list(FEES), "min_edge_bps": list(EDGES),
                                  "captures_as": "runs"}
            points = {(r.grid_point["fee"], r.grid_point["min_edge_bps"]): r.id for r in runs}  # type: ignore[index]
            assert len(runs) == 4 and set(points) == {(f, e) for f in FEES for e in EDGES}
    finally:
        engine.dispose()
    alone_s = 0.0
    traded = 0
    for (fee, edge), run_id in sorted(points.items()):
        path = config_with(tmp_path, fee=fee, name=f"alone-{fee}-{edge}.toml", extra={
            'min_edge_bps = "0.5"': f'min_edge_bps = "{edge}"',
            'min_profit = "0.01"': 'min_profit = "0.001"',
            'status = "auto"': 'status = "off"',
            'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        })
        alone = f"sqlite:///{tmp_path / f'alone-{fee}-{edge}.db'}"
        t0 = time.monotonic()
        assert main(["replay", str(capture), "--config", str(path), "--db", alone]) == 0
        alone_s += time.monotonic() - t0
        expected = rows_of(alone, 1)
        traded += bool(expected["fills"])
        assert rows_of(db, run_id) == expected, (fee, edge)
        assert f" {run_id} " in out  # the table names each run
    assert traded >= 2  # fee 0 trades: the comparison is not of empty tables
    # Replays run side by side never share a simulated trade id: each point counts in its own block (two
    # workers starting replays microseconds apart used to count through the same numbers, and the merge
    # refused the second one's trades).
    with make_engine(db).connect() as c:
        ids = c.exec_driver_sql("SELECT o.run_id, f.trade_id FROM fills f JOIN orders o ON o.id = f.order_id").all()
    per_run: dict[int, list[int]] = {}
    for run_id, trade_id in ids:
        per_run.setdefault(run_id, []).append(int(trade_id.rsplit("-", 1)[-1]))
    starts = sorted(min(v) for v in per_run.values())
    assert len(starts) >= 2 and all(max(v) - min(v) < SWEEP_ID_BLOCK for v in per_run.values())
    assert all(b - a >= SWEEP_ID_BLOCK for a, b in zip(starts, starts[1:], strict=False)), starts
    print(f"sweep of 4 on 2 workers {swept_s:.1f}s; the same 4 replays one after another {alone_s:.1f}s")


def test_each_line_a_points_replay_logs_names_its_point(tmp_path: Path) -> None:
    """A worker's replay logs its warnings (here each point's feed latency left unread) on the sweep's stderr, as
    several points run at once: each line names its point, not one comes bare. A real ``arb sweep`` process: its
    workers fork from its own worker server, so their stderr is the command's."""
    capture = trimmed_capture(tmp_path, "00:00", "00:02")
    config, _ = small_config(tmp_path, capture)
    done = subprocess.run(arb_command("sweep", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'sweep.db'}",
                                      "--workers", "2", "--capture", str(capture), "--fee", ",".join(FEES)),
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if line and not line.startswith("sweep: ")]
    points = {f"[capture={capture.name} fee={fee}]" for fee in FEES}
    unread = [line for line in said if "feed latency unread" in line]
    assert {line.split("] ")[0] + "]" for line in unread} == points, done.stderr  # one a point, each tagged
    assert all(line.split("] ")[0] + "]" in points for line in said), done.stderr


def test_with_json_logs_each_line_a_points_replay_logs_is_json_naming_its_point(tmp_path: Path) -> None:
    """``log_format = "json"``: the workers' lines are the engine's JSON objects, the point under ``"point"``, as
    the sweep's own lines are JSON (a log shipper reads one format); before, they came as tagged text."""
    capture = trimmed_capture(tmp_path, "00:00", "00:02")
    config, _ = small_config(tmp_path, capture)
    text = config.read_text()
    assert 'log_format = "text"' in text
    config.write_text(text.replace('log_format = "text"', 'log_format = "json"'))
    done = subprocess.run(arb_command("sweep", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'sweep.db'}",
                                      "--workers", "2", "--capture", str(capture), "--fee", ",".join(FEES)),
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    said = [json.loads(line) for line in done.stderr.splitlines() if line and not line.startswith("sweep: ")]
    points = {f"capture={capture.name} fee={fee}" for fee in FEES}
    unread = [record for record in said if "feed latency unread" in record["msg"]]
    assert {record["point"] for record in unread} == points and len(unread) == len(points), done.stderr
    assert all(record["point"] in points and record["level"] == "WARNING" for record in said), done.stderr


def test_a_points_depletion_is_followed_by_its_clearing_in_the_workers_lines(tmp_path: Path) -> None:
    """The workers show WARNING and up, and each depletion's clearing (INFO): a point that runs short and recovers
    printed the depletion alone, and the next depletion of the same venue came with nothing between. The
    shipped config at fee 0 on the capture's first 22 minutes: gate's USDT and htx's LINK run short at 00:10
    and fund max_size again at 00:19-00:20 (said 30 s later)."""
    capture = trimmed_capture(tmp_path, "00:00", "00:22")
    config = config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"'})
    db = f"sqlite:///{tmp_path / 'sweep.db'}"
    done = subprocess.run(arb_command("sweep", "--config", str(config), "--db", db, "--workers", "1",
                                      "--fee", "0"), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    tag = f"[capture={capture.name} fee=0] inventory "
    said = [line.removeprefix(tag) for line in done.stderr.splitlines() if line.startswith(tag)]
    depleted = [line.removeprefix("depleted: ").split(" cannot fund")[0].rsplit(" ", 1)[0]
                for line in said if line.startswith("depleted: ")]
    cleared = [line.removeprefix("cleared: ").split(" funds")[0].rsplit(" ", 1)[0]
               for line in said if line.startswith("cleared: ")]
    assert sorted(depleted) == sorted(cleared) == ["gate USDT", "htx LINK"], done.stderr
    for venue_asset in depleted:  # each clearing after its own depletion
        lines = [line for line in said if f": {venue_asset} " in line]
        assert [line.split(":")[0] for line in lines] == ["depleted", "cleared"], done.stderr
    # The same changes as the run's summary keeps them: each incident started and ended within the run.
    with Session(make_engine(db)) as s:
        [summary] = s.scalars(select(Run.summary)).all()
    incidents = [i for i in summary["incidents"] if i["kind"] == "inventory_depleted"]
    assert len(incidents) == 2 and all(i["ended_at"] for i in incidents), incidents


@pytest.mark.parametrize(("args", "line"), [
    (["--fee", "0.0001,-1"], "arb sweep: fee: Input should be greater than or equal to 0 (got '-1')"),
    (["--leg-policy", "unwind,sideways"], "arb sweep: leg_policy: Input should be 'unwind', 'complete' or 'halt'"),
    (["--latency-ms", "0,fast"], "arb sweep: latency_ms: Input should be a valid integer"),
    (["--capture", "nowhere/*.jsonl.gz"], "arb sweep: capture: no capture file matches: 'nowhere/*.jsonl.gz'"),
])
def test_a_bad_grid_value_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 args: list[str], line: str) -> None:
    db = tmp_path / "never.db"
    assert main(["sweep", "--db", f"sqlite:///{db}", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"arb: error: {line}") and err.count("\n") == 1, err
    assert not db.exists()


def test_a_bad_grid_file_key_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text('fee = ["0.0001"]\nspeed = [1]\n')
    assert main(["sweep", str(grid), "--db", f"sqlite:///{tmp_path / 'never.db'}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"arb: error: {grid}: unknown grid key 'speed'") and err.count("\n") == 1, err


def test_without_dask_it_says_which_extra_to_install(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # as on a machine that installed only `-e .`
    assert main(["sweep", "--db", f"sqlite:///{tmp_path / 's.db'}", "--fee", "0"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert lines == ['arb: error: arb sweep needs dask.distributed, an optional extra: '
                     '.venv/bin/pip install -e ".[sweep]"'], lines
    assert not (tmp_path / "s.db").exists()



def test_local_cluster_workers_start_warm_without_the_profiler() -> None:
    from distributed import Client

    from arb.sweep.cluster import check_scheduler, local_cluster

    def worker_state() -> tuple[bool, bool, str, bool]:  # nested: sent by value, so the worker imports no test module
        import signal
        import sys

        import dask

        return ("arb.engine" in sys.modules, dask.config.get("distributed.worker.profile.enabled"),
                dask.config.get("distributed.worker.multiprocessing-method"),
                getattr(signal.getsignal(signal.SIGINT), "__name__", None) == "_stopping_quietly")

    cluster = local_cluster(2)
    try:
        check_scheduler(cluster.scheduler_address, 10)  # a real scheduler passes the bounded handshake
        with Client(cluster) as client:
            states = client.run(worker_state)
    finally:
        cluster.close()
    # Forked from a server that imported a replay's modules: no worker imports arb on its first replay. Ctrl-C
    # is the sweep's to handle: its workers do not stop on it, only fall silent (the sweep stops them itself).
    assert list(states.values()) == [(True, False, "forkserver", True)] * 2, states
