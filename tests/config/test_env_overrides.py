"""``ARB__SECTION__KEY`` environment overrides (``arb/config/overrides.py``): every key can be set from the
environment, is held to the file's rules, and a bad one is one line naming the variable."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arb.cli import main
from arb.config import load_config
from arb.config.overrides import parse_value

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config.toml"


def _load(env: dict[str, str], path: Path = SHIPPED) -> Any:
    return load_config(path, environ=env)


# (variable, value, how to read the effective value, expected)
APPLIED = [
    ("ARB__RISK__DAILY_LOSS_LIMIT", "40", lambda c: c.risk.daily_loss_limit, Decimal("40")),
    ("ARB__VENUES__GATE__LATENCY_MS", "20", lambda c: c.venues["gate"].latency_ms, 20),
    ("ARB__ENGINE__MODE", "live", lambda c: c.engine.mode, "live"),
    ("ARB__ENGINE__MODE", '"live"', lambda c: c.engine.mode, "live"),  # a TOML string is the same string
    ("ARB__ENGINE__DRY_RUN", "true", lambda c: c.engine.dry_run, True),
    ("ARB__ENGINE__STATUS_INTERVAL_S", "2.5", lambda c: c.engine.status_interval_s, 2.5),
    # A TOML float is read as the decimal it was written as, as in the file.
    ("ARB__VENUES__HTX__TAKER_FEE", "0.000175", lambda c: c.venues["htx"].taker_fee, Decimal("0.000175")),
    ("ARB__DETECTION__MIN_EDGE_BPS", '"0.3"', lambda c: c.detection.min_edge_bps, Decimal("0.3")),
    ("arb__execution__leg_policy".upper(), "halt", lambda c: c.execution.leg_policy, "halt"),
    ("ARB__execution__Leg_Policy", "halt", lambda c: c.execution.leg_policy, "halt"),  # parts in any case
    # A named table by its name with anything but letters and digits as "_".
    ("ARB__SYMBOLS__LINK_USDT__MAX_SIZE", "5", lambda c: c.symbols["LINK/USDT"].max_size, Decimal(5)),
    ("ARB__VENUES__HTX__MARKETS__LINK_USDT__MIN_NOTIONAL", '"7"',
     lambda c: c.venues["htx"].markets["LINK/USDT"].min_notional, Decimal(7)),
    # A whole table, and one entry of a table of values (added when the file does not have it).
    ("ARB__VENUES__HTX__BALANCES", '{ USDT = "7" }', lambda c: dict(c.venues["htx"].balances),
     {"USDT": Decimal(7)}),
    ("ARB__VENUES__HTX__BALANCES__BTC", '"1.5"', lambda c: c.venues["htx"].balances.get("BTC"), Decimal("1.5")),
    ("ARB__VENUES__GATE__MARKET_NAMES__LINK_USDT", "LNK/USDT", lambda c: c.venue_markets("gate").market("LINK/USDT"),
     "LNK/USDT"),
    ("ARB__VENUES__HTX__SYMBOLS", '["LINK/USDT"]', lambda c: c.venues["htx"].symbols, ("LINK/USDT",)),
    ("ARB__STORE__URL", "sqlite:///other.db", lambda c: c.store.url, "sqlite:///other.db"),
]


@pytest.mark.parametrize(("variable", "value", "read", "expected"), APPLIED,
                         ids=[f"{a[0]}={a[1]}" for a in APPLIED])
def test_an_override_sets_its_key(variable: str, value: str, read: Any, expected: Any) -> None:
    # A live run plays the shipped config's capture in real time: not at its speed 0 (config/load.py).
    config = _load({variable: value, **({"ARB__REPLAY__SPEED": "1"} if variable == "ARB__ENGINE__MODE" else {})})
    assert read(config) == expected
    assert read(_load({})) != expected  # the file says otherwise: the override made the difference
    assert variable in config.overrides.values()


# (variable, value, key the line names, words in it)
REFUSED = [
    ("ARB__RISK__MAX_DAILY_LOSS", "50", "risk.max_daily_loss", "unknown key (did you mean 'daily_loss_limit'?)"),
    ("ARB__ENGIN__MODE", "paper", "engin", "unknown key (did you mean 'engine'?)"),
    ("ARB__VENUES__GATE__LATNCY_MS", "5", "venues.gate.latncy_ms", "unknown key (did you mean 'latency_ms'?)"),
    ("ARB__VENUES__GATEX__LATENCY_MS", "5", "venues.gatex", "it has gate, htx (did you mean 'gate'?)"),
    ("ARB__VENUES__GATE__LATENCY_MS", "-5", "venues.gate.latency_ms", "greater than or equal to 0 (got -5)"),
    ("ARB__VENUES__GATE__LATENCY_MS", "soon", "venues.gate.latency_ms", "valid integer"),
    ("ARB__ENGINE__MODE", "yolo", "engine.mode", "'replay', 'paper' or 'live' (got 'yolo')"),
    ("ARB__RISK__DAILY_LOSS_LIMIT", "nan", "risk.daily_loss_limit", "finite"),
    ("ARB__SYMBOLS__LINK_USDT__MAX_SIZE", "0", "symbols.LINK/USDT.max_size", "greater than 0"),
    ("ARB__ENGINE__MODE__FAST", "1", "engine.mode", "a single value, not a table: set ARB__ENGINE__MODE"),
    ("ARB__VENUES__GATE__API_SECRET", "s3cr3t", "venues.gate.api_secret",
     "set ARB_GATE_API_KEY and ARB_GATE_API_SECRET instead"),
    ("ARB__VENUES__HTX__BALANCES", '{ link = "1" }', "venues.htx.balances", "must be upper-case"),
    # Refused by the checks after validation, still blamed on the variable that set the key.
    ("ARB__VENUES__HTX__CAPTURE_VENUE", "binance", "venues.htx.capture_venue", "already feeds venues.gate"),
    ("ARB__VENUES__HTX__SYMBOLS", '["BTC/USDT"]', "venues.htx.symbols", "BTC/USDT is not one of [engine] symbols"),
    ("ARB__VENUES__HTX__MARKET_NAMES", '{ "LINK/USDT" = "link-usdt" }', "venues.htx.market_names.LINK/USDT",
     "malformed symbol"),
    ("ARB__STORE__URL", "postgresql://u:pw@h:notaport/db", "store.url", "not a database URL"),
    ("ARB__", "1", "", "expected ARB__SECTION__KEY"),
]


@pytest.mark.parametrize(("variable", "value", "key", "words"), REFUSED, ids=[f"{r[0]}={r[1]}" for r in REFUSED])
def test_a_bad_override_is_one_line_naming_the_variable(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        variable: str, value: str, key: str, words: str) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["config", "check", str(SHIPPED)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    where = f"${variable}: {key}: " if key else f"${variable}: "
    assert err.startswith(f"arb: error: {where}"), err
    assert words in err, err
    assert "pw" not in err and "s3cr3t" not in err  # a password or secret is never echoed


def test_two_variables_for_one_key_are_refused() -> None:
    with pytest.raises(Exception, match=r"\$ARB__ENGINE__mode: engine.mode: already set by \$ARB__ENGINE__MODE"):
        _load({"ARB__ENGINE__MODE": "paper", "ARB__ENGINE__mode": "live"})


def test_config_check_marks_what_came_from_the_environment_and_masks_it(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARB__STORE__URL", "postgresql+psycopg://trader:hunter2@db.internal/arb")
    monkeypatch.setenv("ARB__RISK__DAILY_LOSS_LIMIT", "40")
    monkeypatch.setenv("ARB__VENUES__HTX__BALANCES", '{ USDT = "7" }')
    monkeypatch.setenv("ARB_GATE_API_KEY", "key-123")
    monkeypatch.setenv("ARB_GATE_API_SECRET", "hunter3")
    assert main(["config", "check", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and "hunter3" not in out and "key-123" not in out
    lines = out.splitlines()
    assert lines[1] == ("# set from the environment: ARB__RISK__DAILY_LOSS_LIMIT, ARB__STORE__URL, "
                        "ARB__VENUES__HTX__BALANCES")
    assert 'url = "postgresql+psycopg://trader:***@db.internal/arb"  # from $ARB__STORE__URL' in lines
    assert 'daily_loss_limit = "40"  # from $ARB__RISK__DAILY_LOSS_LIMIT' in lines
    assert "[venues.htx.balances]  # from $ARB__VENUES__HTX__BALANCES" in lines
    assert sum("# from $" in line for line in lines) == 3  # nothing else is marked
    assert "[venues.gate]  # credentials: *** (from environment)" in lines  # ARB_<VENUE>_API_KEY keeps working
    assert "[venues.htx]  # credentials: (not set)" in lines


def test_config_check_prints_a_config_that_config_check_accepts_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARB_GATE_API_KEY", "key-123")
    monkeypatch.setenv("ARB_GATE_API_SECRET", "hunter3")
    monkeypatch.chdir(SHIPPED.parent)  # the shipped capture and relative paths resolve as they did
    assert main(["config", "check", str(SHIPPED)]) == 0
    first = capsys.readouterr().out
    printed = tmp_path / "printed.toml"
    printed.write_text(first)
    assert main(["config", "check", str(printed)]) == 0, capsys.readouterr().err
    second = capsys.readouterr().out
    # The same effective config, line for line, after the first line (which names the file), but for where the
    # kill-switch file is watched: beside each config, so the copy in another directory watches another file.
    watched = {text: f"watched at {directory.resolve() / 'arb.kill'}" for text, directory in
               ((first, SHIPPED.parent), (second, tmp_path))}
    assert [line.replace(watched[second], "watched at ...") for line in second.splitlines()[1:]] == [
        line.replace(watched[first], "watched at ...") for line in first.splitlines()[1:]]
    assert all(watched[text] in text for text in (first, second))


def test_the_older_variables_keep_their_meaning() -> None:
    # ARB_DB_URL and credentials are single-underscore names: not overrides, and still read.
    env = {"ARB_DB_URL": "sqlite:///x.db", "ARB_GATE_API_KEY": "k", "ARB_GATE_API_SECRET": "s"}
    config = _load(env)
    assert config.overrides == {} and config.store.url == "sqlite:///arb.db"
    assert config.credentials["gate"].api_key == "k"


@pytest.mark.parametrize(("text", "value"), [
    ("50", 50), ("0.5", 0.5), ("true", True), ('"x y"', "x y"), ("[1, 2]", [1, 2]), ("{ a = 1 }", {"a": 1}),
    ("replay", "replay"), ("sqlite:///a.db", "sqlite:///a.db"), ("", ""),
    ("1\nx = 2", "1\nx = 2"),  # one value, never a second key smuggled in
])
def test_values_are_toml_where_they_are_toml(text: str, value: Any) -> None:
    assert parse_value(text) == value
