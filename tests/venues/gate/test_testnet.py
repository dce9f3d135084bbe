"""``testnet = true``: a live Gate venue's ccxt class on Gate's testnet URLs (no request made), refused on a
venue that is not live or whose ccxt class has no test environment, and said on every surface of the run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from arb.config import Config, load_config, model
from arb.engine import Engine
from arb.engine.lifecycle import started_line
from arb.errors import ConfigError
from arb.monitoring.dashboard.page import _header
from arb.runtime.preflight import preflight
from arb.runtime.status import _testnet
from arb.runtime.summary import render_summary
from arb.store.models import Run
from arb.venues.gate.adapter import live_exchange
from tests.engine.helpers import config_with, trimmed_capture

LIVE = {
    'mode = "replay"              # replay | paper | live': 'mode = "live"',
    'kind = "sandbox"': 'kind = "live"\ntestnet = true',
    "speed = 0                    # 0 = as fast as possible; 1 = recorded speed": "speed = 1",
}
KEYS = {"ARB_GATE_API_KEY": "k", "ARB_GATE_API_SECRET": "s", "ARB_HTX_API_KEY": "k", "ARB_HTX_API_SECRET": "s"}
TESTNET = "https://api-testnet.gateapi.io/api/v4"


def _live(tmp_path: Path, extra: dict[str, str] | None = None) -> Config:
    return load_config(config_with(tmp_path, extra={**LIVE, **(extra or {})}), environ=KEYS)


async def test_a_gate_testnet_venue_builds_an_exchange_on_the_testnets_urls(tmp_path: Path) -> None:
    config = _live(tmp_path)
    assert config.testnet_venues == ("gate",)
    on_test = live_exchange(config, "gate", {"apiKey": "k", "secret": "s"})
    main = live_exchange(_live(tmp_path, {"testnet = true": "testnet = false"}), "gate", {"apiKey": "k", "secret": "s"})
    try:
        for access in ("public", "private"):
            assert {on_test.urls["api"][access][s] for s in ("spot", "futures", "wallet")} == {TESTNET}
            assert TESTNET not in set(main.urls["api"][access].values())
    finally:
        await on_test.close()
        await main.close()


def test_testnet_on_a_venue_that_is_not_live_is_one_line_naming_the_key(tmp_path: Path) -> None:
    path = config_with(tmp_path, extra={'kind = "sandbox"': 'kind = "sandbox"\ntestnet = true'})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "venues.gate.testnet" in str(caught.value) and 'kind = "sandbox"' in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


def test_testnet_on_a_venue_whose_ccxt_class_has_none_is_refused_by_the_preflight(tmp_path: Path) -> None:
    # bitget: ccxt streams it, but its class has no urls['test'] to point at.
    config = load_config(config_with(tmp_path, extra={
        **LIVE, "[venues.htx]": '[venues.htx]\nadapter = "bitget"', 'kind = "paper"': 'kind = "live"\ntestnet = true',
        "dry_run = false": "dry_run = true"}), environ=KEYS)
    with pytest.raises(ConfigError) as caught:
        preflight(config, ports=False)
    assert str(caught.value).endswith("venues.htx.testnet: ccxt's bitget has no test environment (no urls['test'] "
                                      "to point it at)")


def test_every_surface_says_testnet(tmp_path: Path) -> None:
    config = _live(tmp_path)
    assert model.mode_shown("live", config.testnet_venues) == "live (testnet: gate)"
    assert model.mode_shown("replay", ()) == "replay"
    assert started_line(7, "live", {"gate": "live", "htx": "live"}, ("gate",)) == (
        "run 7 started: live (testnet: gate) mode, venues gate (live, testnet), htx (live)")
    snapshot = config.snapshot()
    assert model.testnet_venues(snapshot) == ("gate",)  # the run's mode records it: its stored config
    run = Run(id=7, mode="live", status="running", config_snapshot=snapshot)
    assert _header(run)["mode"] == "live (testnet: gate)"
    assert _testnet(SimpleNamespace(testnet=("gate",))) == " testnet gate"  # type: ignore[arg-type]  # the view's field


async def test_the_run_summary_says_testnet_first(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:42:18", "00:42:20")
    config = load_config(config_with(tmp_path, extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"'}), environ={})
    result = await Engine(config, db_url=f"sqlite:///{tmp_path / 'x.db'}", install_signal_handlers=False).run()
    assert "testnet" not in result.summary  # a replay trades on no venue's test environment
    assert render_summary(result.summary).splitlines()[1].startswith("book updates")
    lines = render_summary({**result.summary, "testnet": ["gate"]}).splitlines()
    assert lines[:2] == ["== arb run summary ==", "testnet                 gate"]
