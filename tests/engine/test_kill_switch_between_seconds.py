"""A kill-switch file put mid-replay is seen within a market second on a capture whose instants fall between
whole seconds (the Binance BTC/USDT spot/perpetual recording: an event in every second, few on the grid), its
incident started and its alert sent then, in a taker config that finds nothing to trade and in a maker one.
The watcher's once-a-second look was moved past each instant as an idle watcher's tick is and never made
again: a taker run that tried no trade (whose risk gate reads the file only then) never saw the file."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from arb.config import load_config
from arb.engine import Engine
from arb.runtime.decisions import DecisionLoop

from .maker_capture import binance_maker_capture, first_seconds, maker_config, taker_config

PUT_AT_S = 20.25  # market seconds from the capture's first line: between two whole seconds


class PutsTheKillFile(DecisionLoop):
    """The engine's decision loop, which puts ``kill_file`` :data:`PUT_AT_S` of market time after it starts."""

    def __init__(self, kill_file: Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kill_file = kill_file

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        asyncio.get_running_loop().call_at(PUT_AT_S, self._kill_file.write_text, "stop")  # market time
        return await super().run(*args, **kwargs)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return first_seconds(binance_maker_capture(tmp_path_factory.mktemp("maker-capture")), 40)


@pytest.mark.parametrize("strategy", ["taker", "maker"])
async def test_a_kill_switch_file_put_between_two_seconds_is_seen_within_one(
        capture: Path, tmp_path: Path, strategy: str) -> None:
    with capture.open() as f:
        first_ms = json.loads(f.readline())["ts"]
        ts = [json.loads(line)["ts"] for line in f]
    assert sum(1 for t in ts if (t - first_ms) % 1000 == 0) < len(ts) / 100  # few instants on the grid
    config = load_config((taker_config if strategy == "taker" else maker_config)(tmp_path, capture))
    engine = Engine(config, db_url=f"sqlite:///{tmp_path / 'k.db'}", install_signal_handlers=False)
    engine.decision_loop = partial(PutsTheKillFile, tmp_path / "arb.kill")  # type: ignore[assignment]
    result = await engine.run()
    assert result.funnel.executed == 0 or strategy == "maker"
    (incident,) = [i for i in result.summary["incidents"] if i["kind"] == "kill_switch"]
    put = datetime.fromtimestamp(first_ms / 1000, UTC) + timedelta(seconds=PUT_AT_S)
    started = datetime.fromisoformat(incident["started_at"])
    assert timedelta(0) <= started - put <= timedelta(seconds=1)
