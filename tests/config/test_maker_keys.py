"""Issue 47: a maker config's hostile values get one line naming the key, in `config check` as in the run.

A quote size on a step too fine for the default decimal context (its quotient past 28 digits) raised
``InvalidOperation: DivisionImpossible``; keys of the wrong type (``levels = true``, ``join_top = "yes"``)
were coerced and passed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from engine.maker_capture import maker_config  # tests/engine/maker_capture.py

from arb.config import load_config
from arb.domain.market import on_step
from arb.errors import ConfigError
from arb.runtime.preflight import preflight

SNAPSHOT = '{"ts":1,"venue":"binance","symbol":"BTC/USDT","type":"snapshot","bids":[],"asks":[]}\n'


def _config(tmp_path: Path, old: str, new: str) -> Path:
    capture = tmp_path / "c.jsonl"
    capture.write_text(SNAPSHOT)
    path = maker_config(tmp_path, capture)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


FINE_STEP = 'amount_step = "0.00000000000001"'


@pytest.mark.parametrize(("size", "accepted"), [
    ("1000000000000000", True),  # 1e29 steps of 1e-14: a multiple, past the default context's 28 digits
    ("100000000000000.123456789012345", False),  # off the step, as far past them
])
def test_a_quote_size_on_a_very_fine_step_is_checked_exactly(tmp_path: Path, size: str, accepted: bool) -> None:
    path = _config(tmp_path, 'amount_step = "0.00001"', FINE_STEP)
    path.write_text(path.read_text().replace('quote_size = "0.002"', f'quote_size = "{size}"')
                    .replace('amount_step = "0.001"', FINE_STEP))
    if accepted:
        preflight(load_config(path, {}), ports=False, environ={})
        return
    with pytest.raises(ConfigError) as caught:
        preflight(load_config(path, {}), ports=False, environ={})
    assert caught.value.key == "symbols.BTC/USDT.maker.quote_size"
    assert "not a multiple of spot's amount step" in str(caught.value)


@pytest.mark.parametrize(("value", "step", "multiple"), [
    (Decimal("1e15"), Decimal("1e-14"), True),
    (Decimal("1e15"), Decimal("1e-18"), True),
    (Decimal("999999999999999.999999999999999999"), Decimal("1e-18"), True),
    (Decimal("999999999999999.999999999999999999"), Decimal("1e-17"), False),
    (Decimal("0.0025"), Decimal("0.001"), False),
    (Decimal("1e100"), Decimal("1e-18"), False),  # past any precision arb needs: not a multiple it trades
])
def test_on_step_is_exact_over_arbs_whole_range(value: Decimal, step: Decimal, multiple: bool) -> None:
    assert on_step(value, step) is multiple


@pytest.mark.parametrize(("line", "key"), [
    ("levels = true", "levels"),
    ('join_top = "yes"', "join_top"),
    ("both_ways = 1", "both_ways"),
    ('cancel_at_start = "true"', "cancel_at_start"),
    ("hedge_attempts = 5.0", "hedge_attempts"),
    ('hedge_retry_ms = "200"', "hedge_retry_ms"),
])
def test_a_maker_key_of_the_wrong_type_is_refused(tmp_path: Path, line: str, key: str) -> None:
    # Issue 47: pydantic's lax mode made `levels = true` 1 and `join_top = "yes"` True, and both ran.
    path = _config(tmp_path, "levels = 1\n", "" if key == "levels" else "levels = 1\n")
    path.write_text(path.read_text().replace('level_step_bps = "1"', f'level_step_bps = "1"\n{line}'))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.key == f"symbols.BTC/USDT.maker.{key}"
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("old", "new", "key"), [
    ("speed = 0", 'speed = "1"', "replay.speed"),
    ("speed = 0", "speed = true", "replay.speed"),
    ('status = "off"', 'status = "off"\nbook_depth = true', "engine.book_depth"),
    ('status = "off"', 'status = "off"\ndry_run = "false"', "engine.dry_run"),
])
def test_every_section_takes_toml_types_strictly(tmp_path: Path, old: str, new: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, old, new), environ={})
    assert caught.value.key == key


LONG = "0.0001234567890123456789"  # 19 significant digits: a binary float keeps 17


def test_a_toml_float_is_kept_exact_in_the_file_and_in_an_override(tmp_path: Path) -> None:
    # Issue 47: read as a binary float, this fee became 0.00012345678901234567, silently.
    path = _config(tmp_path, 'maker_fee = "0"', f"maker_fee = {LONG}")
    assert load_config(path, environ={}).venues["spot"].maker_fee == Decimal(LONG)
    config = load_config(path, environ={"ARB__VENUES__PERP__TAKER_FEE": LONG, "ARB__REPLAY__SPEED": "2.5"})
    assert config.venues["perp"].taker_fee == Decimal(LONG)
    assert config.replay is not None and config.replay.speed == 2.5  # a duration or speed stays a float
