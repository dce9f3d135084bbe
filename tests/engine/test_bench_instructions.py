"""``bench/bench_instructions.py``'s simulated second-level cache (``--last-level``): checked as valgrind's
``--LL`` takes it before any valgrind starts, and refused without ``--cache`` (which alone simulates caches); and
the single workload's floor side, counted over the floor's own work."""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from .helpers import ROOT, bench_module


def test_a_geometry_as_valgrind_takes_it_is_kept_as_written() -> None:
    geometry = bench_module("bench_instructions")._geometry
    assert geometry("1048576,8,64") == "1048576,8,64"
    assert geometry("2097152,16,64") == "2097152,16,64"


@pytest.mark.parametrize(("text", "problem"), [
    ("12", "want SIZE,WAYS,LINE"),
    ("1M,8,64", "want SIZE,WAYS,LINE"),
    ("1048576,8", "want SIZE,WAYS,LINE"),
    ("1048576,8,48", "the line \\(48 bytes\\) must be a power of two"),
    ("1000000,8,64", "multiple of ways x line \\(512 bytes\\)"),
    ("0,8,64", "must all be positive"),
    ("1048576,-8,64", "must all be positive"),
])
def test_a_geometry_valgrind_would_refuse_is_one_line_naming_it(text: str, problem: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=problem) as raised:
        bench_module("bench_instructions")._geometry(text)
    assert repr(text) in str(raised.value) and "\n" not in str(raised.value)


def test_last_level_without_cache_is_refused_before_anything_runs() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_instructions.py"), "--workload", "single",
                           "--last-level", "1048576,8,64"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--last-level sets the simulated caches: it needs --cache" in done.stderr
    assert "workload:" not in done.stdout  # nothing was started


def test_the_single_workloads_floor_is_counted_from_its_first_line_to_its_last_row(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--workload single --floor``'s third side, without valgrind: callgrind's counters are zeroed as the floor
    reads the capture's first line and dumped once its rows are written, and it did the floor's work (each
    rejection's row, a look every market second) between the two."""
    instructions = bench_module("bench_instructions")
    seen: list[tuple[str, int, int]] = []
    floors: list[Any] = []
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import bench_engine

    class Watched(bench_engine.Floor):
        def __init__(self, db: Path) -> None:
            super().__init__(db)
            floors.append(self)

    monkeypatch.setattr(bench_engine, "Floor", Watched)

    def control(flag: str) -> None:
        floor = floors[-1] if floors else None
        seen.append((flag, floor.rows if floor else -1, floor.looks if floor else -1))

    monkeypatch.setattr(instructions, "_callgrind_control", control)
    instructions._single_side("floor", tmp_path)
    assert [flag for flag, _, _ in seen] == ["--zero", "--dump"]
    (_, rows_at_zero, looks_at_zero), (_, rows, looks) = seen
    assert (rows_at_zero, looks_at_zero) == (0, 0)  # nothing of the floor's loop before the count starts
    assert rows > 1000 and looks == 7200  # the bundled capture's rejections, one look a market second
    with closing(sqlite3.connect(tmp_path / "floor.db")) as db:
        assert db.execute("SELECT count(*) FROM opportunities").fetchone()[0] == rows


def test_an_empty_workload_is_refused_before_anything_runs() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_instructions.py"), "--minutes", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--minutes 0: at least 1 symbol, 2 to 8 venues, more than 0 minutes" in done.stderr
    assert "workload:" not in done.stdout  # nothing was started
