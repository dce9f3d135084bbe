"""A run's stored config snapshot is a config again (``config_from_snapshot``, what ``arb audit`` reaches the
run's venues with): the same snapshot back, its keys read from the environment as ``arb run`` reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arb.config import load_config
from arb.config.load import config_from_snapshot
from arb.errors import ConfigError
from arb.store.repo import jsonable

ROOT = Path(__file__).resolve().parents[2]


def _stored(path: Path) -> dict:
    """A snapshot as the runs table gives it back: through JSON, Decimals and durations as text."""
    return json.loads(json.dumps(jsonable(load_config(path, environ={}).snapshot())))


def test_the_shipped_configs_snapshot_is_the_same_config_again() -> None:
    stored = _stored(ROOT / "config.toml")
    again = config_from_snapshot(stored, "run 1's stored config", environ={})
    assert json.loads(json.dumps(jsonable(again.snapshot()))) == stored
    assert isinstance(again.engine.status_interval_s, float) and again.engine.status_interval_s == 5.0


def test_keys_come_from_the_environment_and_their_absence_names_the_variables(tmp_path: Path) -> None:
    text = (ROOT / "config.toml").read_text().replace('mode = "replay"', 'mode = "live"').replace(
        'kind = "sandbox"', 'kind = "live"').replace("speed = 0 ", "speed = 1 ")
    (tmp_path / "live.toml").write_text(text)
    stored = json.loads(json.dumps(jsonable(load_config(
        tmp_path / "live.toml", environ={"ARB_GATE_API_KEY": "key-at-run", "ARB_GATE_API_SECRET": "secret-at-run"}).snapshot())))
    assert "-at-run" not in json.dumps(stored)  # the snapshot holds no key
    config = config_from_snapshot(stored, "run 2's stored config",
                                  environ={"ARB_GATE_API_KEY": "k2", "ARB_GATE_API_SECRET": "s2"})
    assert config.credentials["gate"].api_key == "k2"
    with pytest.raises(ConfigError, match="^run 2's stored config: venues.gate: live venue needs ARB_GATE_API_KEY"):
        config_from_snapshot(stored, "run 2's stored config", environ={})
