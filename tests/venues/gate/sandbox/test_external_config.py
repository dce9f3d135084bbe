"""An external `arb sandbox` is a simulated venue of the config that points at it: arb refuses one whose fees,
market rules or starting balances differ (one line naming each difference and the command that starts it
right), and ``arb sandbox --config`` starts one that matches."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from arb.commands.sandbox import register, sandbox_config
from arb.config import Config, load_config
from arb.errors import ConfigError
from arb.eventloop.clock import WallClock
from arb.venues.gate.adapter import ADAPTER
from arb.venues.gate.sandbox import Sandbox, SandboxConfig
from arb.venues.registry import ref_for

ROOT = Path(__file__).resolve().parents[4]


def _config(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, mode: str = "live") -> Config:
    text = (ROOT / "config.toml").read_text().replace('mode = "replay"', f'mode = "{mode}"')
    text = text.replace("speed = 0 ", "speed = 1 ")
    text = text.replace("port = 0 ", f'url = "{url}"\nport = 0 ')
    path = tmp_path / "config.toml"
    path.write_text(text)
    monkeypatch.setenv("ARB_GATE_API_KEY", "sandbox-key")
    monkeypatch.setenv("ARB_GATE_API_SECRET", "sandbox-secret")
    return load_config(path)


async def _open(config: Config) -> None:
    closers: list[Any] = []
    try:
        await ADAPTER.open_sandbox(config, ref_for(config, "gate"), WallClock(), closers)
    finally:
        for close in reversed(closers):
            await close()


async def test_a_sandbox_started_with_its_own_defaults_is_refused_naming_each_difference(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with Sandbox(SandboxConfig()) as sandbox:  # `arb sandbox` defaults: 0.2% fee, 3-decimal amounts
        config = _config(tmp_path, sandbox.base_url, monkeypatch)
        with pytest.raises(ConfigError) as caught:
            await _open(config)
    line = str(caught.value)
    assert "\n" not in line and "venues.gate" in line
    for difference in ("LINK/USDT taker fee 0.002 (config 0.000175)", "amount_step 0.001 (config 0.01)",
                       "USDT balance 10000 (config 5000)", "LINK balance 100 (config 200)"):
        assert difference in line, line
    assert f"arb sandbox --config {config.path} --venue gate" in line


async def test_arb_sandbox_config_starts_the_sandbox_the_config_describes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = _config(tmp_path, "http://127.0.0.1:1", monkeypatch)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["sandbox", "--config", str(probe.path), "--port", "0"])
    async with Sandbox(sandbox_config(args)[0]) as sandbox:
        await _open(_config(tmp_path, sandbox.base_url, monkeypatch))  # matches: opens without a word


def test_a_replay_cannot_use_a_sandbox_in_another_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="market time, which a sandbox in another process cannot follow"):
        _config(tmp_path, "http://127.0.0.1:1", monkeypatch, mode="replay")
