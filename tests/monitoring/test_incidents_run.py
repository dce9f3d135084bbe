"""Incidents from real replays, alerting to a webhook receiver on loopback (apprise's ``json://``):

- the kill-switch file exists at the start and is removed a minute of market time in: the run trades after,
  its stop reason is not the kill switch (it ended as it would have), its incident has a start and an end,
  and the receiver got the kill switch and its clearing;
- a halt on a naked leg: its alert names each leg's venue, side and filled amount, the unhedged size and
  its notional, the run's mode and host."""

from __future__ import annotations

import asyncio
import re
import socket
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from arb.config import load_config
from arb.engine import Engine
from arb.runtime.decisions import DecisionLoop
from tests.engine.helpers import config_with, trimmed_capture

from .receiver import Receiver

CLEARED_AFTER_S = 60.0


class RemovesTheKillFile(DecisionLoop):
    """The engine's decision loop, which removes ``kill_file`` a minute of market time after it starts."""

    def __init__(self, kill_file: Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kill_file = kill_file

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        asyncio.get_running_loop().call_later(CLEARED_AFTER_S, self._kill_file.unlink)  # market time
        return await super().run(*args, **kwargs)


def _config(tmp_path: Path, url: str, extra: dict[str, str] | None = None) -> Any:
    capture = trimmed_capture(tmp_path, "00:00", "00:20")
    path = config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        "[monitoring]": f'[monitoring]\nalert_urls = ["{url}"]',
        **(extra or {}),
    })
    return load_config(path)


async def test_a_kill_switch_removed_mid_run_clears_and_says_so(tmp_path: Path) -> None:
    kill = tmp_path / "arb.kill"
    kill.write_text("stop")
    async with Receiver() as receiver:
        engine = Engine(_config(tmp_path, receiver.url), db_url=f"sqlite:///{tmp_path / 'k.db'}",
                        install_signal_handlers=False)
        engine.decision_loop = partial(RemovesTheKillFile, kill)  # type: ignore[assignment]
        result = await engine.run()
        titles = [p["title"] for p in receiver.posts]
    assert not kill.exists() and result.funnel.executed > 0  # it traded once the file was gone
    assert result.summary["stop_reason"] is None  # the kill switch cleared: not why the run ended
    # Inventory the 20 minutes of trading ran down (runtime/depletion.py) is its own kind of incident.
    (incident,) = [i for i in result.summary["incidents"] if i["kind"] != "inventory_depleted"]
    started, ended = (datetime.fromisoformat(incident[k]) for k in ("started_at", "ended_at"))
    assert incident["kind"] == "kill_switch" and 0 < (ended - started).total_seconds() <= CLEARED_AFTER_S + 1
    host = socket.gethostname()
    assert [t.split(": ", 1)[1] for t in titles if "inventory" not in t] == ["kill switch", "kill switch cleared"], titles
    assert all(t.startswith(f"arb run {result.run_id} (replay on {host})") for t in titles)
    (cleared,) = [p for p in receiver.posts if p["title"].endswith(": kill switch cleared")]
    assert "removed: trading resumes" in cleared["message"]


async def test_a_halt_alert_says_what_is_unhedged_where(tmp_path: Path) -> None:
    async with Receiver() as receiver:
        config = _config(tmp_path, receiver.url, {
            'leg_policy = "unwind"': 'leg_policy = "halt"', "latency_ms = 20 ": "latency_ms = 1500\n#"})
        result = await Engine(config, db_url=f"sqlite:///{tmp_path / 'h.db'}", install_signal_handlers=False).run()
        halts = [p for p in receiver.posts if p["title"].endswith(": halt")]
    assert result.halted and len(halts) == 1, receiver.posts
    message = halts[0]["message"]
    # e.g. "halt:leg_imbalance:1: htx buy filled 0 of 20 LINK; gate sell filled 20 of 20 LINK;
    #       unhedged -20 LINK on gate (notional 541.78 USDT)"
    legs = re.findall(r"(gate|htx) (buy|sell) filled ([0-9.]+) of ([0-9.]+) LINK", message)
    assert {venue for venue, *_ in legs} == {"gate", "htx"} and {side for _, side, *_ in legs} == {"buy", "sell"}
    unhedged = re.search(r"unhedged ([+-][0-9.]+) LINK on (gate|htx) \(notional ([0-9.]+) USDT\)", message)
    assert unhedged is not None, message
    # The unhedged amount is what the legs filled apart, on the venue whose leg filled.
    filled = {side: Decimal(f) for _, side, f, _ in legs}
    assert Decimal(unhedged.group(1)) == filled["buy"] - filled["sell"] != 0
    assert halts[0]["title"].startswith(f"arb run {result.run_id} (replay on ")
    assert message.endswith("Next: the run has stopped; flatten the unhedged amount on that venue, then start arb again")


@pytest.fixture(autouse=True)
def _no_env_alerts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARB_ALERT_URLS", raising=False)
