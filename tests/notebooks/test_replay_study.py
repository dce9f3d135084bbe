"""notebooks/replay_study.ipynb opened as a user opens it (from notebooks/ of a project, no ARB_* variable)
runs its sweep with a small grid on a trimmed capture; its heatmaps hold exactly each run's stored results."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

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


def test_sweep_heatmaps_hold_each_runs_results(tmp_path: Path) -> None:
    project = make_project(tmp_path / "arb")
    capture = trim_capture(project / "linkusdt-30min.jsonl.gz", datetime(2021, 8, 20, 0, 30, tzinfo=UTC),
                           datetime(2021, 8, 20, 1, 0, tzinfo=UTC))
    db = tmp_path / "study.db"
    before = sorted(p.name for p in project.iterdir()), sorted(p.name for p in project.joinpath("notebooks").iterdir())
    nb = execute(project / "notebooks" / "replay_study.ipynb", project / "notebooks",
                 {"DB_URL": f"sqlite:///{db}", "CAPTURE": "../linkusdt-30min.jsonl.gz", "FEE_RATES": FEES,
                  "LATENCY_MS": LATENCIES, "MIN_EDGE_BPS": EDGES, "WORKERS": 2}, timeout=900)
    after = sorted(p.name for p in project.iterdir()), sorted(p.name for p in project.joinpath("notebooks").iterdir())
    assert after == before  # nothing written in the project: the sweep ran in a temporary directory
    out = stream_text(nb, "stdout")
    assert f"8 replays of {capture} into sqlite:///{db}" in out, out
    assert images(nb) == 1

    truth = _database_results(f"sqlite:///{db}")
    assert len(truth) == 8
    assert any(n for n, _, _ in truth.values()), "the low fee tier should execute something in this window"
    # 1000 ms lands every order on the capture's next one-second snapshot, which it meets (the arrival rule):
    # the heatmap shows slippage there, where it used to show realized = expected.
    assert any(e != r for (_, latency, _), (n, e, r) in truth.items() if latency == "1000" and n), truth
    (figure,) = records(nb).values()
    cells = {}
    for ax in figure["axes"]:
        assert ax["xlabel"] == "order latency (ms, each way)" and ax["ylabel"] == "taker fee (rate, every venue)"
        for gid, table in ax["cells"].items():
            metric, edge = gid.split("|")
            for i, fee in enumerate(FEES):
                for j, latency in enumerate(LATENCIES):
                    cells[(metric, fee, latency, edge)] = table[i][j]
    for (fee, latency, edge), (executed, expected, realized) in truth.items():
        assert cells[("executed", fee, latency, edge)] == executed
        assert math.isclose(cells[("expected_pnl", fee, latency, edge)], float(expected), abs_tol=1e-12)
        assert math.isclose(cells[("realized_pnl", fee, latency, edge)], float(realized), abs_tol=1e-12)
    assert len(cells) == 3 * len(truth)
