"""notebooks/replay_study.ipynb runs its grid of replays top to bottom (small grid, trimmed capture)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from notebooks.nbrun import execute, needs_replay, stream_text, trim_capture


@needs_replay
def test_grid_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = trim_capture(
        tmp_path / "linkusdt-10min.jsonl.gz",
        datetime(2021, 8, 20, 0, 40, tzinfo=UTC),
        datetime(2021, 8, 20, 0, 50, tzinfo=UTC),
    )
    env = {"ARB_NOTEBOOK_DB_URL": f"sqlite:///{tmp_path / 'grid'}", "ARB_NOTEBOOK_CAPTURE": str(capture)}
    nb = execute(
        "replay_study.ipynb",
        env,
        monkeypatch,
        parameters={"FEE_RATES": ["0.001", "0.0001"], "MIN_EDGE_BPS": ["0", "2"]},
    )
    assert sorted(p.name for p in (tmp_path / "grid").glob("*.db")) == [
        "fee0.0001_edge0.db", "fee0.0001_edge2.db", "fee0.001_edge0.db", "fee0.001_edge2.db",
    ]  # fmt: skip
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2
    assert "4 replays" in stream_text(nb, "stdout")
