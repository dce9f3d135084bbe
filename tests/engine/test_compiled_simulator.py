"""The simulator's per-instant modules compiled by Cython (``arb/compiled.py``'s ``SIMULATOR``) write the rows their
``.py`` source writes, on a taker replay with latency and jitter and on a maker replay. (A build older than its
source stops the test session before it starts: ``tests/conftest.py``.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from arb.cli import main

from .helpers import config_with, trimmed_capture
from .maker_capture import binance_maker_capture, first_seconds, maker_config
from .test_simulation import _rows


def _pure_run(tmp_path: Path, config: Path, db: str) -> dict[str, str]:
    """``arb run`` of ``config`` into ``db`` with the simulator's modules from their ``.py`` files: which
    file each ran from."""
    files = tmp_path / "pure-files.json"
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("pure_simulator.py")), str(files), "run",
                           "--config", str(config), "--db", db],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(files.read_text())


def _same_rows(tmp_path: Path, config: Path) -> dict[str, list[tuple[object, ...]]]:
    compiled_db, pure_db = f"sqlite:///{tmp_path / 'compiled.db'}", f"sqlite:///{tmp_path / 'pure.db'}"
    assert main(["run", "--config", str(config), "--db", compiled_db]) == 0
    files = _pure_run(tmp_path, config, pure_db)
    assert all(path.endswith(".py") for path in files.values()), files
    compiled, pure = _rows(compiled_db, 1), _rows(pure_db, 1)
    for table in compiled:
        assert compiled[table] == pure[table], table
    return compiled


def test_a_taker_replay_with_latency_and_jitter_writes_the_same_rows_compiled_and_from_source(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:10")
    config = config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'min_edge_bps = "0.5"': 'min_edge_bps = "0.1"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        "latency_ms = 20 ": "latency_ms = 20\nlatency_jitter_ms = 15\n#",
        'capture_venue = "binance"\n': 'capture_venue = "binance"\nlatency_ms = 35\nlatency_jitter_ms = 15\n',
    })
    rows = _same_rows(tmp_path, config)
    assert len(rows["orders"]) >= 4 and len(rows["fills"]) >= 4  # it traded: there is something to compare


@pytest.fixture(scope="module")
def maker_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return first_seconds(binance_maker_capture(tmp_path_factory.mktemp("maker-capture")), 150)


def test_a_maker_replay_writes_the_same_rows_compiled_and_from_source(maker_capture: Path, tmp_path: Path) -> None:
    rows = _same_rows(tmp_path, maker_config(tmp_path, maker_capture))
    assert len(rows["orders"]) >= 10, rows["orders"][:3]
    assert {"quote", "hedge"} <= {value for row in rows["orders"] for value in row}  # quotes filled, hedged
