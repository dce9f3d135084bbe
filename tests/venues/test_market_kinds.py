"""Market kinds from the venue: a ccxt market says what it is (live), a venue's adapter what a paper venue of it
must be configured with (preflight), and the run keeps what its venues reported."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import pytest

from arb.config import load_config
from arb.domain.market import MarketKind
from arb.errors import ConfigError, VenueError
from arb.runtime.preflight import preflight
from arb.venues.live.normalize import market_rules

PRECISION = {"precision": {"price": 0.01, "amount": 0.001}, "limits": {}}


@pytest.mark.parametrize(("market", "kind"), [
    ({"type": "spot", "spot": True}, MarketKind.SPOT),
    ({}, MarketKind.SPOT),
    ({"type": "swap", "spot": False, "swap": True, "linear": True, "settle": "USDT"}, MarketKind.LINEAR_PERPETUAL),
    ({"type": "swap", "spot": False, "swap": True, "inverse": True, "settle": "ETH", "contractSize": 10.0},
     MarketKind.INVERSE_PERPETUAL),
])
def test_a_ccxt_market_says_its_kind(market: dict, kind: MarketKind) -> None:
    rules = market_rules("v", "ETH/USDT", {**PRECISION, **market})
    assert rules.kind is kind
    # An inverse perpetual's amounts are contracts of ccxt's contractSize quote; the others' are base.
    assert rules.contract_size == (D(10) if kind is MarketKind.INVERSE_PERPETUAL else None)


@pytest.mark.parametrize(("market", "said"), [
    ({"type": "future", "spot": False, "future": True, "linear": True},
     "ETH/USDT is a future market, which arb does not book yet"),
    ({"type": "future", "spot": False, "future": True, "inverse": True, "contractSize": 10.0},
     "ETH/USDT is a future market, which arb does not book yet"),
    ({"type": "swap", "spot": False, "swap": True, "inverse": True},
     "ETH/USDT is an inverse perpetual whose contract size ccxt does not state"),
])
def test_a_market_arb_does_not_book_is_refused_naming_it(market: dict, said: str) -> None:
    with pytest.raises(VenueError, match=said):
        market_rules("v", "ETH/USDT", {**PRECISION, **market})


def _config(tmp_path: Path, edit: Callable[[str], str]) -> Path:
    """The README's maker config with ``edit`` applied to its perpetual venue's section."""
    from engine.maker_capture import maker_config

    path = maker_config(tmp_path, tmp_path / "c.jsonl")
    (tmp_path / "c.jsonl").write_text('{"ts":1,"venue":"binance","symbol":"BTC/USDT","type":"snapshot",'
                                      '"bids":[["1","1"]],"asks":[["2","1"]]}\n')
    text = path.read_text()
    head, tail = text.split("[venues.perp]")
    path.write_text(f"{head}[venues.perp]{edit(tail)}")
    return path


@pytest.mark.parametrize(("edit", "key", "said"), [
    (lambda t: t.replace('kind = "linear_perpetual", ', ""), "venues.perp.markets.BTC/USDT.kind",
     'binanceusdm trades linear_perpetual markets, not spot: set kind = "linear_perpetual"'),
    (lambda t: t.replace('ccxt_id = "binanceusdm"', 'ccxt_id = "binancecoinm"'), "venues.perp.markets.BTC/USDT.kind",
     'binancecoinm trades inverse_perpetual markets, not linear_perpetual: set kind = "inverse_perpetual"'),
    (lambda t: t.replace('ccxt_id = "binanceusdm"', 'ccxt_id = "binancecoinm"')
     .replace('kind = "linear_perpetual", ', 'kind = "inverse_perpetual", contract_size = "100", ')
     .replace('balances = { USDT = "10000" }', 'balances = { BTC = "1" }'), "venues.perp.markets.BTC/USDT.kind",
     "an inverse perpetual is booked by the simulated venue (arb/margin.py) but a run does not trade one yet"),
])
def test_a_paper_venue_s_kinds_are_its_adapter_s(tmp_path: Path, edit: Callable[[str], str], key: str, said: str) -> None:
    config = load_config(_config(tmp_path, edit))
    with pytest.raises(ConfigError) as caught:
        preflight(config, ports=False)
    assert key in str(caught.value) and said in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(("edit", "key", "said"), [
    (lambda t: t.replace('balances = { USDT = "10000" }', 'balances = { USDT = "10000", BTC = "1" }'),
     "venues.perp.balances", "a perpetual venue is a margin account: it holds its settle currency (USDT), not BTC"),
    (lambda t: t.replace('ccxt_id = "binanceusdm"', 'ccxt_id = "binanceusdm"\nbuy_fee_in = "base"'),
     "venues.perp.buy_fee_in", "a perpetual charges every fee in its settle currency"),
    (lambda t: t.replace('ccxt_id = "binanceusdm"', 'ccxt_id = "binanceusdm"\nleverage = "200"'),
     "venues.perp.leverage", "less than or equal to 125"),
    # An inverse perpetual is a margin account in its base coin, its contract size said; only it has one.
    (lambda t: t.replace('kind = "linear_perpetual", ', 'kind = "inverse_perpetual", contract_size = "100", '),
     "venues.perp.balances", "a perpetual venue is a margin account: it holds its settle currency (BTC), not USDT"),
    (lambda t: t.replace('kind = "linear_perpetual", ', 'kind = "inverse_perpetual", '),
     "venues.perp.markets", "an inverse_perpetual market needs contract_size"),
    (lambda t: t.replace('kind = "linear_perpetual", ', 'kind = "linear_perpetual", contract_size = "100", '),
     "venues.perp.markets", "contract_size is an inverse_perpetual market's; this one is linear_perpetual"),
    (lambda t: t.replace('kind = "linear_perpetual", ', 'kind = "future", '),
     "venues.perp.markets", "future markets are not simulated yet"),
])
def test_a_margin_account_s_config_is_checked_in_one_line(tmp_path: Path, edit: Callable[[str], str], key: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, edit))
    assert key in str(caught.value) and said in str(caught.value) and "\n" not in str(caught.value)


def test_leverage_sets_the_margin_a_paper_perpetual_holds(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, lambda t: t.replace('ccxt_id = "binanceusdm"',
                                                             'ccxt_id = "binanceusdm"\nleverage = "20"')))
    preflight(config, ports=False)
    assert config.venues["perp"].leverage == D(20) and config.venues["perp"].market_kind("BTC/USDT") == "linear_perpetual"
