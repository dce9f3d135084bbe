"""One answer per config: a sweep point, ``arb replay`` and ``arb run`` (mode = "replay", the Gate venue on the
in-process sandbox as shipped) write the same rows, for every point of a fee x latency grid. Latencies 1,000
and 1,300 ms land orders exactly on, and between, the capture's one-second snapshots (the arrival rule)."""

from __future__ import annotations

import csv
import io
import json
import socket
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from arb.cli import main
from arb.store.db import make_engine
from arb.store.models import Run, Sweep

from .helpers import config_with, rows_of, trimmed_capture

FEES = ("0.0001", "0")
LATENCIES_MS = ("0", "300", "1000", "1300")


def _config(tmp_path: Path, capture: Path, fee: str, latency_ms: str | None, name: str) -> Path:
    extra = {
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    }
    if latency_ms is not None:  # every venue's, as the grid's latency_ms sets it
        extra['[venues.gate]\nkind = "sandbox"'] = f'[venues.gate]\nkind = "sandbox"\nlatency_ms = {latency_ms}'
        extra['latency_ms = 20 '] = f'latency_ms = {latency_ms} '
    return config_with(tmp_path, fee=fee, name=name, extra=extra)


def test_a_sweep_point_replay_and_run_of_one_config_write_the_same_rows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Five minutes: at fee 0 every latency still trades and each gets different fills (both asserted
    # below), and 1,000 / 1,300 ms still land on and between the one-second snapshots; ten only lengthened
    # 24 replays.
    capture = trimmed_capture(tmp_path, "00:00", "00:05")
    base = _config(tmp_path, capture, "0", None, "base.toml")
    sweep_db = f"sqlite:///{tmp_path / 'sweep.db'}"
    status = main(["sweep", "--config", str(base), "--db", sweep_db, "--workers", "2", "--capture", str(capture),
                   "--fee", ",".join(FEES), "--latency-ms", ",".join(LATENCIES_MS)])
    _, err = capsys.readouterr()
    assert status == 0, err
    engine = make_engine(sweep_db)
    try:
        with Session(engine) as s:
            sweep = s.scalars(select(Sweep)).one()
            runs = s.scalars(select(Run).where(Run.sweep_id == sweep.id)).all()
            points = {(r.grid_point["fee"], str(r.grid_point["latency_ms"])): r.id for r in runs}  # type: ignore[index]
    finally:
        engine.dispose()
    assert set(points) == {(f, lat) for f in FEES for lat in LATENCIES_MS}
    realized: dict[tuple[str, str], list[object]] = {}
    for (fee, latency), run_id in sorted(points.items()):
        path = _config(tmp_path, capture, fee, latency, f"point-{fee}-{latency}.toml")
        replay_db = f"sqlite:///{tmp_path / f'replay-{fee}-{latency}.db'}"
        run_db = f"sqlite:///{tmp_path / f'run-{fee}-{latency}.db'}"
        assert main(["replay", str(capture), "--config", str(path), "--db", replay_db]) == 0
        assert main(["run", "--config", str(path), "--db", run_db]) == 0
        swept, replayed, ran = rows_of(sweep_db, run_id), rows_of(replay_db, 1), rows_of(run_db, 1)
        for table in swept:
            assert swept[table] == replayed[table] == ran[table], (fee, latency, table)
        realized[(fee, latency)] = [row for row in swept["fills"]]
    # Not a comparison of empty tables: every latency traded at the lower fee, and latency changed what it got.
    assert all(realized[(FEES[1], lat)] for lat in LATENCIES_MS), realized
    assert len({repr(realized[(FEES[1], lat)]) for lat in LATENCIES_MS}) == len(LATENCIES_MS)


def test_a_sweep_of_a_config_on_an_external_sandbox_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A live rehearsal's config (an external sandbox) swept: its points would share one sandbox's balances and
    orders. One line naming the key, nothing created."""
    monkeypatch.setenv("ARB_GATE_API_KEY", "k")
    monkeypatch.setenv("ARB_GATE_API_SECRET", "s")
    capture = trimmed_capture(tmp_path, "00:00", "00:01")
    path = _config(tmp_path, capture, "0", None, "external.toml")
    path.write_text(path.read_text().replace("[sandbox]\n", '[sandbox]\nurl = "http://127.0.0.1:9"\n')
                    .replace('mode = "replay"', 'mode = "live"', 1).replace("speed = 0 ", "speed = 1 ", 1))
    db = tmp_path / "sweep.db"
    assert main(["sweep", "--config", str(path), "--db", f"sqlite:///{db}", "--fee", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sandbox.url" in err[0] and "own in-process sandbox" in err[0], err
    assert not db.exists()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_sweep_results_as_csv_and_json_are_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    """Piped, the table cut fees and PnL to ``0.000…``; csv and json hold every figure exact, as stored."""
    capture = trimmed_capture(tmp_path, "00:00", "00:05")
    base = _config(tmp_path, capture, "0", None, "fmt.toml")
    db = f"sqlite:///{tmp_path / 'fmt.db'}"
    assert main(["sweep", "--config", str(base), "--db", db, "--workers", "1", "--capture", str(capture),
                 "--fee", "0,0.0001", "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        doc = json.loads(out)
        rows = doc["points"]
        assert isinstance(doc["sweep_id"], int) and all(isinstance(r["run_id"], int) for r in rows)
    else:
        rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["fee"] for r in rows] == ["0", "0.0001"]
    engine = make_engine(db)
    with engine.connect() as c:
        stored = c.exec_driver_sql("SELECT run_id, CAST(realized_pnl AS TEXT) FROM opportunities "
                                   "WHERE decision = 'executed'").all()
    engine.dispose()
    for row in rows:
        mine = [Decimal(v) for run_id, v in stored if run_id == int(row["run_id"])]
        assert Decimal(row["realized"]) == sum(mine, Decimal(0)) and len(mine) == int(row["executed"]), row


def test_sweep_points_serve_no_monitoring_of_their_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A config that serves metrics and a dashboard on fixed ports (here held by someone else): its points,
    two at a time, bind neither, and replay."""
    with socket.socket() as held, socket.socket() as held_too:
        held.bind(("127.0.0.1", 0))
        held.listen()
        held_too.bind(("127.0.0.1", 0))
        held_too.listen()
        port, other = held.getsockname()[1], held_too.getsockname()[1]
        capture = trimmed_capture(tmp_path, "00:00", "00:02")
        path = _config(tmp_path, capture, "0", None, "watched.toml")
        path.write_text(path.read_text().replace("[monitoring]\n", f"[monitoring]\nmetrics_port = {port}\n"
                                                 f"dashboard_port = {other}\n", 1))
        db = f"sqlite:///{tmp_path / 'watched.db'}"
        status = main(["sweep", "--config", str(path), "--db", db, "--workers", "2", "--capture", str(capture),
                       "--fee", "0,0.0001", "--format", "json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert all(p["run_id"] for p in json.loads(out)["points"])
