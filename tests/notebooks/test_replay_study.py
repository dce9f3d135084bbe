"""notebooks/replay_study.ipynb runs its sweep top to bottom (small grid, trimmed capture, 2 workers), from
``notebooks/`` as Jupyter does, and writes nothing there."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from notebooks.nbrun import NOTEBOOKS, execute, needs_replay, stream_text, trim_capture


@needs_replay
def test_grid_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = trim_capture(
        tmp_path / "linkusdt-10min.jsonl.gz",
        datetime(2021, 8, 20, 0, 40, tzinfo=UTC),
        datetime(2021, 8, 20, 0, 50, tzinfo=UTC),
    )
    before = sorted(p.name for p in NOTEBOOKS.iterdir())
    nb = execute(
        "replay_study.ipynb",
        {"ARB_NOTEBOOK_CAPTURE": str(capture)},
        monkeypatch,
        parameters={"FEE_RATES": ["0.001", "0.0001"], "MIN_EDGE_BPS": ["0", "2"], "LATENCY_MS": ["0", "250"],
                    "WORKERS": 2},
        cwd=NOTEBOOKS,
        timeout=600,
    )
    assert sorted(p.name for p in NOTEBOOKS.iterdir()) == before  # nothing written next to the notebook
    out = stream_text(nb, "stdout")
    assert "8 replays" in out and "8/8 replays done" in out and "8 runs" in out, out
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2
