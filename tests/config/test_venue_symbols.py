"""A venue's ``symbols`` and ``market_names`` in the config: what holds together is accepted, and each kind
of mistake is one line naming the key (the rules of ``arb/domain/market_names.py``, which the run uses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from arb.cli import main
from arb.config import load_config

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config.toml"
GATE = 'capture_venue = "binance"'
HTX = 'capture_venue = "huobi"'


def _config(tmp_path: Path, edits: dict[str, str]) -> Path:
    text = SHIPPED.read_text()
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_renames_and_a_subset_are_read_as_written(tmp_path: Path) -> None:
    path = _config(tmp_path, {GATE: GATE + '\nmarket_names = { "LINK/USDT" = "LNK/USDT" }',
                              HTX: HTX + '\nsymbols = ["LINK/USDT"]'})
    config = load_config(path, environ={})
    assert config.venue_markets("gate").market("LINK/USDT") == "LNK/USDT"
    assert config.venue_markets("gate").assets == {"LINK": "LNK", "USDT": "USDT"}
    assert config.venue_markets("htx").symbols == ("LINK/USDT",)
    assert config.venues_trading("LINK/USDT") == ("gate", "htx")


# (description, edits, key, words)
CASES = [
    ("symbol the engine does not trade", {HTX: HTX + '\nsymbols = ["BTC/USDT"]'}, "venues.htx.symbols",
     "BTC/USDT is not one of [engine] symbols (LINK/USDT)"),
    ("empty symbol list", {HTX: HTX + "\nsymbols = []"}, "venues.htx.symbols", "at least 1 item"),
    ("rename of a symbol the engine does not trade", {HTX: HTX + '\nmarket_names = { "BTC/USDT" = "XBT/USDT" }'},
     "venues.htx.market_names.BTC/USDT", "not one of [engine] symbols"),
    ("malformed market name", {GATE: GATE + '\nmarket_names = { "LINK/USDT" = "LINK_USDT" }'},
     "venues.gate.market_names.LINK/USDT", "malformed symbol 'LINK_USDT'"),
    ("two symbols on one market",
     {'symbols = ["LINK/USDT"]': 'symbols = ["LINK/USDT", "LNK/USDT"]',
      '[symbols."LINK/USDT"]': '[symbols."LNK/USDT"]\nmax_size = "1"\n[symbols."LINK/USDT"]',
      GATE: GATE + '\nsymbols = ["LINK/USDT", "LNK/USDT"]\nmarket_names = { "LINK/USDT" = "LNK/USDT" }'},
     "venues.gate.market_names.LINK/USDT", "LNK/USDT would be this venue's market for both LINK/USDT and LNK/USDT"),
    ("a symbol only one venue trades",
     {'symbols = ["LINK/USDT"]': 'symbols = ["LINK/USDT", "LINK/BTC"]',
      '[symbols."LINK/USDT"]': '[symbols."LINK/BTC"]\nmax_size = "1"\n[symbols."LINK/USDT"]',
      HTX: HTX + '\nsymbols = ["LINK/USDT"]'},
     "engine.symbols", "LINK/BTC is traded on 1 venue(s) (gate)"),
    ("a balance under both names", {GATE: GATE + '\nmarket_names = { "LINK/USDT" = "LNK/USDT" }',
                                    'balances = { USDT = "5000", LINK = "200" }':
                                    'balances = { USDT = "5000", LINK = "200", LNK = "1" }'},
     "venues.gate.balances", "an asset is given twice"),
]


@pytest.mark.parametrize(("edits", "key", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_names_that_do_not_hold_together_are_one_line_naming_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], edits: dict[str, str], key: str, words: str) -> None:
    path = _config(tmp_path, edits)
    assert main(["config", "check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"arb: error: {path}: {key}: "), err
    assert words in err, err


def test_a_paper_venue_needs_market_rules_only_for_the_symbols_it_trades(tmp_path: Path) -> None:
    path = _config(tmp_path, {
        'symbols = ["LINK/USDT"]': 'symbols = ["LINK/USDT", "LINK/BTC"]',
        '[symbols."LINK/USDT"]': '[symbols."LINK/BTC"]\nmax_size = "1"\n[symbols."LINK/USDT"]',
        '[venues.htx]': '[venues.third]\nkind = "paper"\nadapter = "htx"\ntaker_fee = "0"\nfee_tier = "t"\n'
                        'capture_venue = "okx"\n'
                        'symbols = ["LINK/BTC"]\n'
                        'markets."LINK/BTC" = { price_step = "0.0001", amount_step = "0.01" }\n[venues.htx]',
        'markets."LINK/USDT" = { price_step = "0.001"':
            'markets."LINK/BTC" = { price_step = "0.0001", amount_step = "0.01" }\n'
            'markets."LINK/USDT" = { price_step = "0.001"',
        HTX: HTX + '\nsymbols = ["LINK/USDT"]'})
    config = load_config(path, environ={})
    assert config.venues_trading("LINK/BTC") == ("gate", "third")
    assert config.venues_trading("LINK/USDT") == ("gate", "htx")
