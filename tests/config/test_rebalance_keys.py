"""``[rebalance]``: a valid section loads as written (defaults: plan, a 30 s delay, no fee), and each bad value
is one line naming its key, in the schema, the file's own checks or the preflight (``auto`` where arb does not
hold the wallet)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from engine.maker_capture import maker_config  # tests/engine/maker_capture.py

from arb.config import load_config
from arb.errors import ConfigError
from arb.runtime.preflight import preflight

SNAPSHOT = '{"ts":1,"venue":"binance","symbol":"BTC/USDT","type":"snapshot","bids":[],"asks":[]}\n'
GOOD = 'assets.USDT = { targets = { spot = "0.5", perp = "0.5" }, band = "0.2" }'


def _config(tmp_path: Path, section: str, mode: str = "replay") -> Path:
    capture = tmp_path / "c.jsonl"
    capture.write_text(SNAPSHOT)
    path = maker_config(tmp_path, capture, mode=mode, speed="0" if mode == "replay" else "1")
    path.write_text(path.read_text() + f"\n[rebalance]\n{section}\n")
    return path


def test_a_section_loads_as_written_with_its_defaults(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, GOOD.replace('band = "0.2"', 'band = "0.2", routes."spot->perp" = '
                                                        '{ fee = "1.5", delay_s = 600, network = "TRC20" }')), {})
    preflight(config, ports=False, environ={})
    section = config.rebalance
    usdt = section.assets["USDT"]
    assert section.transfers == "plan" and section.check_s == 1.0
    assert (usdt.targets, usdt.band, usdt.delay_s, usdt.fee, usdt.minimum) == (
        {"spot": Decimal("0.5"), "perp": Decimal("0.5")}, Decimal("0.2"), 30.0, Decimal(0), Decimal(0))
    assert (usdt.route("spot", "perp").fee, usdt.route("spot", "perp").delay_s) == (Decimal("1.5"), 600.0)
    assert usdt.route("perp", "spot") is usdt
    assert config.snapshot()["rebalance"]["assets"]["USDT"]["band"] == "0.2"


@pytest.mark.parametrize(("section", "key", "says"), [
    ('transfers = "yes"\n' + GOOD, "rebalance.transfers", "'off', 'plan' or 'auto'"),
    (GOOD.replace('"0.5" }', '"0.6" }'), "rebalance.assets.USDT", "targets add up to 1.1, not 1"),
    (GOOD.replace('band = "0.2"', 'band = "1"'), "rebalance.assets.USDT.band", "less than 1"),
    (GOOD.replace('band = "0.2"', 'band = "0.2", fee = "-1"'), "rebalance.assets.USDT.fee", "greater than or equal to 0"),
    (GOOD.replace('band = "0.2"', 'band = "0.2", routes."spot->gate" = { fee = "1" }'), "rebalance.assets.USDT",
     "route 'spot->gate' is not"),
    (GOOD.replace("perp =", "gate ="), "rebalance.assets.USDT.targets.gate", "no venue 'gate'"),
    (GOOD.replace("USDT", "ETH"), "rebalance.assets.ETH.targets.spot", "spot trades no symbol in ETH (BTC/USDT)"),
])
def test_a_bad_value_is_one_line_naming_its_key(tmp_path: Path, section: str, key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, section), {})
    assert caught.value.key == key, str(caught.value)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_auto_is_refused_on_a_venue_arb_does_not_hold_the_wallet_of(tmp_path: Path) -> None:
    path = _config(tmp_path, 'transfers = "auto"\n' + GOOD, mode="live")
    preflight(load_config(path, {}), ports=False, environ={})  # paper venues: arb holds their wallets
    path.write_text(path.read_text().replace('[venues.perp]\nkind = "paper"', '[venues.perp]\nkind = "sandbox"')
                    + '[sandbox]\nurl = "http://127.0.0.1:9"\n')
    keys = {"ARB_PERP_API_KEY": "k", "ARB_PERP_API_SECRET": "s"}
    with pytest.raises(ConfigError) as caught:
        preflight(load_config(path, keys), ports=False, environ=keys)
    assert caught.value.key == "rebalance.transfers"
    assert '"auto" transfers USDT on perp, a sandbox in another process' in str(caught.value)
