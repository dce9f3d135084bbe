"""A sweep over day-files: ``captures_as = "runs"`` makes a run per file, ``"timeline"`` one run replaying
the files in order as one market timeline (the rows of the whole capture), on a real 2-worker LocalCluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from arb.cli import main
from arb.errors import UsageError
from arb.marketdata.capture import CaptureWriter, read_capture
from arb.store.db import make_engine
from arb.store.models import Run, Sweep
from arb.sweep.grid import build_grid

from .helpers import rows_of, small_config, trimmed_capture


def _day_files(tmp_path: Path, capture: Path) -> Path:
    """``capture`` cut in two at its middle instant, as ``days/part-1.jsonl.gz`` and ``part-2.jsonl.gz``."""
    events = list(read_capture(capture))
    cut = events[len(events) // 2].ts
    days = tmp_path / "days"
    days.mkdir()
    with CaptureWriter(days / "part-1.jsonl.gz") as first, CaptureWriter(days / "part-2.jsonl.gz") as second:
        for event in events:
            (first if event.ts < cut else second).write(event)
    return days


def test_the_grid_makes_a_run_per_file_or_one_timeline(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:02")
    days = _day_files(tmp_path, capture)
    _, config = small_config(tmp_path, capture)
    files = [str(p) for p in sorted(days.iterdir())]
    assert build_grid(config, {"capture": [str(days)]}).values["capture"] == tuple(files)  # the default
    assert build_grid(config, {"capture": [str(days / "*.gz")], "captures_as": ["runs"]}).values["capture"] \
        == tuple(files)
    timeline = build_grid(config, {"capture": [str(days), str(days / "part-2.*")], "captures_as": ["timeline"]})
    assert list(timeline.points()) == [{"capture": str(days)}, {"capture": str(days / "part-2.*")}]
    assert timeline.as_json()["captures_as"] == "timeline"
    for bad in (["both"], ["runs", "timeline"]):
        with pytest.raises(UsageError, match=r"^grid: captures_as: one of 'runs', 'timeline' \(got"):
            build_grid(config, {"captures_as": bad})


def test_a_sweep_over_day_files_as_runs_and_as_one_timeline(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:20")
    days = _day_files(tmp_path, capture)
    config, _ = small_config(tmp_path, capture)
    db = f"sqlite:///{tmp_path / 'sweep.db'}"
    for captures_as in ("runs", "timeline"):
        status = main(["sweep", "--config", str(config), "--db", db, "--workers", "2", "--capture", str(days),
                       "--captures-as", captures_as, "--fee", "0"])
        assert status == 0, capsys.readouterr().err
    alone = f"sqlite:///{tmp_path / 'alone.db'}"
    assert main(["replay", str(capture), "--config", str(config), "--db", alone]) == 0
    capsys.readouterr()
    engine = make_engine(db)
    try:
        with Session(engine) as s:
            sweeps = s.scalars(select(Sweep).order_by(Sweep.id)).all()
            assert [w.grid["captures_as"] for w in sweeps] == ["runs", "timeline"]
            per_file, timeline = ([r for r in s.scalars(select(Run).where(Run.sweep_id == w.id).order_by(Run.id))]
                                  for w in sweeps)
            files = sorted(str(p) for p in days.iterdir())
            assert sorted(r.grid_point["capture"] for r in per_file) == files  # type: ignore[index]
            assert [r.grid_point["capture"] for r in timeline] == [str(days)]  # type: ignore[index]
            # The runs split the market time between them; the timeline spans it all.
            first, second = sorted(per_file, key=lambda r: r.market_started_at)  # type: ignore[arg-type, return-value]
            assert first.market_ended_at < second.market_started_at  # type: ignore[operator]
            assert timeline[0].market_started_at == first.market_started_at
            assert timeline[0].market_ended_at == second.market_ended_at
            timeline_id = timeline[0].id
    finally:
        engine.dispose()
    expected = rows_of(alone, 1)
    assert len(expected["fills"]) >= 4  # it traded: the rows compared are not empty
    assert rows_of(db, timeline_id) == expected
