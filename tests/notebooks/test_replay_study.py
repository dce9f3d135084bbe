"""notebooks/replay_study.ipynb opened as a user opens it (from notebooks/ of a project, no ARB_* variable)
runs its sweep with a small grid on a trimmed capture; its heatmaps hold exactly each run's stored results."""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from sqlalchemy import text

from arb.store.db import make_engine
from notebooks.nbrun import execute, images, make_project, records, stream_text, trim_capture

FEES, LATENCIES, EDGES = ["0.00005", "0.0003"], ["0", "1000"], ["0.5", "2"]


def _database_results(url: str) -> dict[tuple[str, str, str], tuple[int, Decimal, Decimal]]:
    """(fee, latency_ms, min_edge_bps) -> (executed, expected, realized) of the latest sweep, by SQL."""
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT r.grid_point, o.decision, o.expected_profit, o.realized_pnl FROM runs r "
            "LEFT JOIN opportunities o ON o.run_id = r.id AND o.decision = 'executed' "
            "WHERE r.sweep_id = (SELECT max(id) FROM sweeps)")).all()
    engine.dispose()
    out: dict[tuple[str, str, str], tuple[int, Decimal, Decimal]] = {}
    for grid_point, decision, expected, realized in rows:
        point = json.loads(grid_point) if isinstance(grid_point, str) else grid_point
        key = (point["fee"], point["latency_ms"], point["min_edge_bps"])
        n, e, r = out.get(key, (0, Decimal(0), Decimal(0)))
        if decision is not None:
            n, e = n + 1, e + Decimal(str(expected))
            r += Decimal(str(realized)) if realized is not None else 0
        out[key] = (n, e, r)
    return out


@dataclass(frozen=True)
class Swept:
    db: Path
    capture: Path
    nb: nbformat.NotebookNode
    unchanged: bool  # nothing written in the project while it ran


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Swept:
    """The notebook as committed, run on a small grid over a trimmed capture into its own database."""
    tmp_path = tmp_path_factory.mktemp("study")
    project = make_project(tmp_path / "arb")
    # Ten minutes: the low fee tier executes at both latencies and 1,000 ms slips (both asserted below);
    # thirty only made eight replays longer.
    capture = trim_capture(project / "linkusdt-10min.jsonl.gz", datetime(2021, 8, 20, 0, 30, tzinfo=UTC),
                           datetime(2021, 8, 20, 0, 40, tzinfo=UTC))
    db = tmp_path / "study.db"
    before = sorted(p.name for p in project.iterdir()), sorted(p.name for p in project.joinpath("notebooks").iterdir())
    nb = execute(project / "notebooks" / "replay_study.ipynb", project / "notebooks",
                 {"DB_URL": f"sqlite:///{db}", "CAPTURE": "../linkusdt-10min.jsonl.gz", "FEE_RATES": FEES,
                  "LATENCY_MS": LATENCIES, "MIN_EDGE_BPS": EDGES, "WORKERS": 2}, timeout=900)
    after = sorted(p.name for p in project.iterdir()), sorted(p.name for p in project.joinpath("notebooks").iterdir())
    return Swept(db, capture, nb, after == before)


def _cells(figure: dict[str, Any]) -> dict[tuple[str, str, str, str], float | None]:
    cells = {}
    for ax in figure["axes"]:
        assert ax["xlabel"] == "order latency (ms, each way)" and ax["ylabel"] == "taker fee (rate, every venue)"
        for gid, table in ax["cells"].items():
            metric, edge = gid.split("|")
            for i, fee in enumerate(FEES):
                for j, latency in enumerate(LATENCIES):
                    cells[(metric, fee, latency, edge)] = table[i][j]
    return cells


def test_sweep_heatmaps_hold_each_runs_results(swept: Swept) -> None:
    assert swept.unchanged  # nothing written in the project: the sweep ran in a temporary directory
    out = stream_text(swept.nb, "stdout")
    assert f"8 replays of {swept.capture} into sqlite:///{swept.db}" in out, out
    assert images(swept.nb) == 1

    truth = _database_results(f"sqlite:///{swept.db}")
    assert len(truth) == 8
    assert any(n for n, _, _ in truth.values()), "the low fee tier should execute something in this window"
    # 1000 ms lands every order on the capture's next one-second snapshot, which it meets (the arrival rule):
    # the heatmap shows slippage there, where it used to show realized = expected.
    assert any(e != r for (_, latency, _), (n, e, r) in truth.items() if latency == "1000" and n), truth
    (figure,) = records(swept.nb).values()
    cells = _cells(figure)
    for (fee, latency, edge), (executed, expected, realized) in truth.items():
        assert cells[("executed", fee, latency, edge)] == executed
        assert math.isclose(cells[("expected_pnl", fee, latency, edge)], float(expected), abs_tol=1e-12)
        assert math.isclose(cells[("realized_pnl", fee, latency, edge)], float(realized), abs_tol=1e-12)
    assert len(cells) == 3 * len(truth)
    # The bracket: per fee and minimum edge, realized across the two latencies, low / central / high.
    lines = out[out.index("realized PnL (USDT) across latency_ms"):].splitlines()[2:2 + len(FEES) * len(EDGES)]
    shown = {(fee, edge): tuple(Decimal(x) for x in rest[-3:]) for fee, edge, *rest in (ln.split() for ln in lines)}
    for (fee, edge), (low, central, high) in shown.items():
        across = sorted(truth[(fee, latency, edge)][2] for latency in LATENCIES)
        assert all(abs(a - b) < Decimal("1e-6") for a, b in zip((low, central, high), (across[0], across[0], across[1]),
                                                                 strict=True)), (fee, edge, shown, truth)
    assert len(shown) == len(FEES) * len(EDGES)


def test_an_existing_sweep_database_is_read_not_run_again(swept: Swept, tmp_path: Path) -> None:
    """SWEEP_DB: the sweep the first test ran, shown again from its database, which is only read. The grid
    parameters given are not the sweep's: they are ignored, the sweep's own grid is drawn."""
    project = make_project(tmp_path / "arb")
    content = swept.db.read_bytes()
    nb = execute(project / "notebooks" / "replay_study.ipynb", project / "notebooks",
                 {"SWEEP_DB": f"sqlite:///{swept.db}", "FEE_RATES": ["0.5"], "LATENCY_MS": ["7"]})
    out = stream_text(nb, "stdout")
    assert f"reading the sweeps in sqlite:///{swept.db} (SWEEP_DB): no sweep is run" in out, out
    assert "replays of" not in out and "sweep 1: 8 runs over fee, latency_ms, min_edge_bps" in out, out
    assert swept.db.read_bytes() == content  # read-only: no run, no sweep, no byte changed
    assert sorted(p.name for p in swept.db.parent.iterdir() if p.name.startswith("study.db")) == ["study.db"]
    (figure,) = records(nb).values()
    (first,) = records(swept.nb).values()
    assert _cells(figure) == _cells(first)


def test_an_existing_database_without_that_sweep_says_so(swept: Swept, tmp_path: Path) -> None:
    project = make_project(tmp_path / "arb")
    with pytest.raises(CellExecutionError) as info:
        execute(project / "notebooks" / "replay_study.ipynb", project / "notebooks",
                {"SWEEP_DB": f"sqlite:///{swept.db}", "SWEEP_ID": 9})
    (line,) = [ln for ln in str(info.value).splitlines() if ln.startswith("NotebookStop: ")]
    assert line.startswith(f"NotebookStop: sqlite:///{swept.db}: ") and "9" in line, line


def test_sweep_db_and_sweep_id_from_the_environment_are_read(swept: Swept, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The parameters cell offers ``$SWEEP_DB`` (and ``$SWEEP_ID``): set in the environment Jupyter starts
    with, the notebook reads that sweep and runs nothing (it used to ignore them and run its own grid)."""
    project = make_project(tmp_path / "arb")
    monkeypatch.setenv("SWEEP_DB", f"sqlite:///{swept.db}")
    monkeypatch.setenv("SWEEP_ID", "1")
    nb = execute(project / "notebooks" / "replay_study.ipynb", project / "notebooks")
    out = stream_text(nb, "stdout")
    assert f"reading the sweeps in sqlite:///{swept.db} (SWEEP_DB): no sweep is run" in out, out
    assert "replays of" not in out and "sweep 1: 8 runs" in out, out
    monkeypatch.setenv("SWEEP_ID", "9")
    with pytest.raises(CellExecutionError) as info:
        execute(project / "notebooks" / "replay_study.ipynb", project / "notebooks")
    assert f"NotebookStop: sqlite:///{swept.db}: " in str(info.value)


def test_the_temporary_study_database_is_removed_at_the_end(swept: Swept, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            request: pytest.FixtureRequest) -> None:
    """Without DB_URL the sweep's database lives in a temporary directory; every run of the notebook left it
    there (a 9.8 MB study.db each time). The last cell removes the directory, and says so."""
    project = make_project(tmp_path / "arb")
    # The kernel's tempfile.gettempdir(). Not under tmp_path: dask's workers listen on AF_UNIX sockets in it,
    # whose paths may not pass 107 bytes, and pytest's directory for this test's long name is already ~100.
    temp = Path(tempfile.mkdtemp(prefix="study-"))
    request.addfinalizer(lambda: shutil.rmtree(temp, ignore_errors=True))
    monkeypatch.setenv("TMPDIR", str(temp))
    nb = execute(project / "notebooks" / "replay_study.ipynb", project / "notebooks",
                 {"CAPTURE": str(swept.capture), "FEE_RATES": ["0.00005"], "LATENCY_MS": ["0"],
                  "MIN_EDGE_BPS": ["0.5"], "WORKERS": 1}, timeout=300)
    out = stream_text(nb, "stdout")
    assert "1 replays of" in out and "sweep 1: 1 runs" in out, out
    assert re.search(r"removed \S+arb-replay-study-\S+ and the study's database in it", out), out
    # Nothing of the study's is left. dask's own dask-scratch-space (shared by every dask program on the
    # machine, reused, holding its purge.lock and global.lock) may stay, with no database in it.
    assert [p.name for p in temp.iterdir() if p.name != "dask-scratch-space"] == []
    assert not [p for p in temp.rglob("*") if ".db" in p.name], list(temp.rglob("*"))
