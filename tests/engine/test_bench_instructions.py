"""``bench/bench_instructions.py``'s simulated second-level cache (``--last-level``): checked as valgrind's
``--LL`` takes it before any valgrind starts, and refused without ``--cache`` (which alone simulates caches)."""

from __future__ import annotations

import argparse
import subprocess
import sys

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


def test_floor_on_the_single_workload_is_refused_before_anything_runs() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_instructions.py"), "--workload", "single",
                           "--floor"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--floor is bench_multisymbol.py's: it needs --workload multi" in done.stderr
    assert "workload:" not in done.stdout  # nothing was started


def test_an_empty_workload_is_refused_before_anything_runs() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_instructions.py"), "--minutes", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--minutes 0: at least 1 symbol, 2 to 8 venues, more than 0 minutes" in done.stderr
    assert "workload:" not in done.stdout  # nothing was started
