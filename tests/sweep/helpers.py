"""Shared by the sweep tests: a small real config and capture, and rows compared as the engine tests do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.helpers import config_with, trimmed_capture  # tests/engine/helpers.py
from engine.test_simulation import _rows  # rows compared as the determinism test does

from arb.config import Config, load_config

__all__ = ["_rows", "small_config", "trimmed_capture"]


def small_config(tmp_path: Path, capture: Path) -> tuple[Path, Config]:
    """The shipped config on ``capture``, fees 0 and low thresholds (so it trades), no status view."""
    path = config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    })
    return path, load_config(path)


def rows_of(db: str, run_id: int) -> dict[str, list[tuple[Any, ...]]]:
    return _rows(db, run_id)
