"""A sweep's maker keys: ``min_profit_bps`` and ``quote_size`` set every maker symbol's value; a value the run
would refuse (off a venue's amount step) and a config with no maker symbol are one line each, before any
replay or database exists."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from engine.maker_capture import maker_config  # tests/engine/maker_capture.py

from arb.config import load_config
from arb.errors import UsageError
from arb.sweep.grid import apply, build_grid
from sweep.helpers import small_config  # tests/sweep/helpers.py


def test_maker_keys_set_every_maker_symbols_value(tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    capture.write_text('{"ts":1,"venue":"binance","symbol":"BTC/USDT","type":"snapshot","bids":[],"asks":[]}\n')
    base = load_config(maker_config(tmp_path, capture))
    grid = build_grid(base, {"min_profit_bps": ["1.5"], "quote_size": ["0.004"]})
    [point] = list(grid.points())
    maker = apply(base, point).symbols["BTC/USDT"].maker
    assert maker is not None and (maker.min_profit_bps, maker.quote_size) == (Decimal("1.5"), Decimal("0.004"))


@pytest.mark.parametrize(("key", "value", "says"), [
    ("quote_size", "0.0025", "quote_size: 0.0025 is not a multiple of perp's amount step 0.001"),
    ("quote_size", "-1", "quote_size: Input should be greater than 0"),
    ("min_profit_bps", "10000", "min_profit_bps: Input should be less than 10000"),
])
def test_a_maker_value_the_run_would_refuse_is_refused_by_the_grid(tmp_path: Path, key: str, value: str,
                                                                    says: str) -> None:
    capture = tmp_path / "c.jsonl"
    capture.write_text('{"ts":1,"venue":"binance","symbol":"BTC/USDT","type":"snapshot","bids":[],"asks":[]}\n')
    base = load_config(maker_config(tmp_path, capture))
    with pytest.raises(UsageError) as caught:
        build_grid(base, {key: [value]})
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_maker_keys_on_a_taker_config_are_refused(tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    capture.write_text('{"ts":1,"venue":"binance","symbol":"LINK/USDT","type":"snapshot","bids":[],"asks":[]}\n')
    _, base = small_config(tmp_path, capture)
    with pytest.raises(UsageError, match="min_profit_bps: the config has no maker symbol"):
        build_grid(base, {"min_profit_bps": ["1"]})


def test_a_quote_size_on_a_very_fine_step_is_one_line(tmp_path: Path) -> None:
    # Issue 47: 1e29 steps of 1e-14 is past the default decimal context: DivisionImpossible, not a line.
    capture = tmp_path / "c.jsonl"
    capture.write_text('{"ts":1,"venue":"binance","symbol":"BTC/USDT","type":"snapshot","bids":[],"asks":[]}\n')
    path = maker_config(tmp_path, capture)
    path.write_text(path.read_text().replace('amount_step = "0.00001"', 'amount_step = "0.00000000000001"')
                    .replace('amount_step = "0.001"', 'amount_step = "0.00000000000001"'))
    base = load_config(path)
    assert build_grid(base, {"quote_size": ["1000000000000000"]}).size == 1
    with pytest.raises(UsageError, match=r"quote_size: 100000000000000\.123456789012345 is not a multiple"):
        build_grid(base, {"quote_size": ["100000000000000.123456789012345"]})
