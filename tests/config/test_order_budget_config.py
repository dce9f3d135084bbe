"""``[venues.X] order_budget``: each venue's documented default, the config's override, and one line naming
the key (exit 2) for anything arb could not honour."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from arb.cli import main
from arb.config.schema import VenueSection
from arb.venues.gate.facts import GATE
from arb.venues.registry import order_budget
from arb.venues.throttle import OrderWindow
from tests.engine.helpers import config_with

GATE_TABLE = "[venues.gate]\n"
HTX_TABLE = "[venues.htx]\n"


def _venue(**keys: Any) -> Any:
    """A config of one venue (what :func:`order_budget` reads of it: the section, resolved by name)."""
    section = VenueSection.model_validate({"kind": "live", "taker_fee": "0.001", "fee_tier": "t", **keys})
    name = keys.get("ccxt_id") or "v"
    return SimpleNamespace(venues={name: section}), name


@pytest.mark.parametrize(("keys", "windows"), [
    # Gate spot: placements and amends, 10 a second per account and market (its facts' number).
    ({"adapter": "gate"}, (OrderWindow(GATE.order_placements_per_second_per_market, 1.0, per_market=True),)),
    # Binance spot's ORDERS limits: 100 per 10 s and 200,000 a day per account.
    ({"adapter": "binance"}, (OrderWindow(100, 10.0), OrderWindow(200_000, 86_400.0))),
    ({"adapter": "binance", "ccxt_id": "binanceusdm"}, ()),  # futures count other numbers: none unless configured
    ({"adapter": "ccxt", "ccxt_id": "okx"}, ()),  # a generic ccxt venue: none unless configured
    ({"adapter": "ccxt", "ccxt_id": "okx", "order_budget": [{"orders": 60, "per_s": 2}]}, (OrderWindow(60, 2.0),)),
    ({"adapter": "gate", "order_budget": [{"orders": 20, "per_s": 1, "per": "market"}, {"orders": 900, "per_s": 60}]},
     (OrderWindow(20, 1.0, per_market=True), OrderWindow(900, 60.0))),  # a VIP tier's own numbers
    ({"adapter": "binance", "order_budget": []}, ()),  # switched off
], ids=["gate", "binance spot", "binance usd-m", "generic", "generic configured", "gate configured", "off"])
def test_each_venue_s_default_and_the_config_s_override(keys: dict[str, Any], windows: tuple[OrderWindow, ...]) -> None:
    config, name = _venue(**keys)
    assert order_budget(config, name) == windows


BAD = [
    ("no order", "[{ orders = 0, per_s = 10 }]", "venues.gate.order_budget[0].orders", "greater than or equal to 1"),
    ("a window of nothing", "[{ orders = 5, per_s = 0 }]", "venues.gate.order_budget[0].per_s",
     "greater than or equal to 0.001"),
    ("an endless window", "[{ orders = 5, per_s = inf }]", "venues.gate.order_budget[0].per_s", "finite"),
    ("a window past a week", "[{ orders = 5, per_s = 1e9 }]", "venues.gate.order_budget[0].per_s",
     "less than or equal to 604800"),
    ("a scope arb does not know", '[{ orders = 5, per_s = 1, per = "pair" }]', "venues.gate.order_budget[0].per",
     "'account' or 'market'"),
    ("a mistyped key", "[{ orders = 5, per_sec = 1 }]", "venues.gate.order_budget[0].per_sec",
     "unknown key (did you mean 'per_s'?)"),
    ("the second window's count missing", "[{ orders = 5, per_s = 1 }, { per_s = 60 }]",
     "venues.gate.order_budget[1].orders", "required key is missing"),
    ("one window twice", "[{ orders = 5, per_s = 10 }, { orders = 9, per_s = 10 }]", "venues.gate.order_budget",
     "two windows of 10 s per account"),
    ("a table, not a list", "{ orders = 5, per_s = 10 }", "venues.gate.order_budget", "a list of windows"),
]


@pytest.mark.parametrize(("value", "key", "words"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_budget_arb_cannot_honour_is_one_line_naming_the_key(value: str, key: str, words: str, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = config_with(tmp_path, extra={GATE_TABLE: f"{GATE_TABLE}order_budget = {value}\n"})
    assert main(["config", "check", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"arb: error: {config}: {key}: ") and words in err and err.count("\n") == 1, err


def test_a_paper_venue_has_no_budget_to_give(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = config_with(tmp_path, extra={HTX_TABLE: f"{HTX_TABLE}order_budget = []\n"})
    assert main(["config", "check", str(config)]) == 2
    assert capsys.readouterr().err == (f"arb: error: {config}: venues.htx.order_budget: a paper venue sends no orders "
                                       "to a venue; an order budget applies to sandbox and live venues\n")


def test_a_bad_override_names_its_variable(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARB__VENUES__GATE__ORDER_BUDGET", "[{ orders = -1, per_s = 1 }]")
    assert main(["config", "check", str(config_with(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("arb: error: $ARB__VENUES__GATE__ORDER_BUDGET: venues.gate.order_budget[0].orders: "), err


def test_config_check_prints_the_budget_as_a_config_it_accepts_again(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    written = '[{ orders = 100, per_s = 10 }, { orders = 10, per_s = 1, per = "market" }]'
    config = config_with(tmp_path, extra={GATE_TABLE: f"{GATE_TABLE}order_budget = {written}\n"})
    assert main(["config", "check", str(config)]) == 0
    printed = capsys.readouterr().out
    line = 'order_budget = [{ orders = 100, per_s = 10.0, per = "account" }, { orders = 10, per_s = 1.0, per = "market" }]'
    assert line in printed.splitlines()
    again = tmp_path / "printed.toml"
    again.write_text(printed)
    assert main(["config", "check", str(again)]) == 0
    assert line in capsys.readouterr().out.splitlines()
