"""``bench/bench_sweep.py`` keeps what its replays log (a capture's inventory notices, a hundred lines or more for
eight replays, from this process and from its cluster's workers) out of its figures, in a file it names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.helpers import bench_module


def test_what_the_replays_write_to_stderr_goes_to_the_file_and_stderr_comes_back(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    bench = bench_module("bench_sweep")
    log = tmp_path / "replays.log"
    with bench.stderr_into(log):
        os.write(2, b"inventory depleted: in this process\n")
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('from a process it started\\n')"],
                       check=True)
    os.write(2, b"after\n")
    assert log.read_text().splitlines() == ["inventory depleted: in this process", "from a process it started"]
    assert capfd.readouterr().err == "after\n"


def test_a_failure_inside_shows_the_logs_last_lines_and_is_raised(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    bench = bench_module("bench_sweep")
    with pytest.raises(RuntimeError, match="replays failed"), bench.stderr_into(tmp_path / "replays.log"):
        os.write(2, b"Traceback: the replay's own account\n")
        raise RuntimeError("2 replays failed")
    assert capfd.readouterr().err == "Traceback: the replay's own account\n"
