"""Config loading: the shipped file is valid, and each kind of mistake gives one clear line and exit 2."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from arb.cli import main
from arb.config import load_config
from arb.config.secrets import Credentials

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config.toml"
SECRET = "s3cr3t-VALUE-never-printed"


def test_shipped_config_is_valid_and_exact() -> None:
    config = load_config(SHIPPED, environ={})
    assert config.engine.mode == "replay"
    assert config.venues["gate"].taker_fee == Decimal("0.000175")
    assert config.symbols["LINK/USDT"].max_size == Decimal("20")
    assert config.capture_path() is not None and config.capture_path().is_file()
    assert config.credentials == {}


def test_float_in_toml_becomes_the_decimal_the_user_wrote(tmp_path: Path) -> None:
    text = SHIPPED.read_text().replace('taker_fee = "0.000175"', "taker_fee = 0.000175")
    path = tmp_path / "c.toml"
    path.write_text(text)
    # Decimal(0.000175) would be 0.000174999999999999...; we keep what was written.
    assert load_config(path, environ={}).venues["gate"].taker_fee == Decimal("0.000175")


def test_credentials_come_from_environment_and_never_show(tmp_path: Path) -> None:
    env = {"ARB_GATE_API_KEY": "k-123", "ARB_GATE_API_SECRET": SECRET}
    config = load_config(SHIPPED, environ=env)
    assert config.credentials["gate"].secret == SECRET
    assert SECRET not in repr(config) and SECRET not in str(config.credentials)
    assert SECRET not in str(config.snapshot()) and "k-123" not in str(config.snapshot())
    assert repr(Credentials("a", "b")) == "Credentials(***)"


# (description, text edit applied to the shipped file, key expected in the message, words expected)
BAD_CONFIGS = [
    ("unknown top-level key", lambda t: t + "\n[engin]\nmode = 'x'\n", "engin",
     "unknown key (did you mean 'engine'?)"),
    ("unknown nested key", lambda t: t.replace("book_depth = 20", "book_depht = 20"), "engine.book_depht",
     "unknown key (did you mean 'book_depth'?)"),
    ("mistyped venue key", lambda t: t.replace("latency_ms = 20 ", "latncy_ms = 20 "), "venues.htx.latncy_ms",
     "unknown key (did you mean 'latency_ms'?)"),
    ("mistyped market rule", lambda t: t.replace('min_notional = "5"', 'min_notionl = "5"'),
     "venues.htx.markets.LINK/USDT.min_notionl", "unknown key (did you mean 'min_notional'?)"),
    ("mistyped required key", lambda t: t.replace("daily_loss_limit =", "daily_los_limit ="),
     "risk.daily_los_limit", "unknown key (did you mean 'daily_loss_limit'?)"),
    ("unknown key with nothing close", lambda t: t.replace("book_depth = 20", "book_depth = 20\nzzz = 1"),
     "engine.zzz", "unknown key"),
    ("wrong type", lambda t: t.replace("book_depth = 20", 'book_depth = "twenty"'), "engine.book_depth",
     "integer"),
    ("negative fee", lambda t: t.replace('taker_fee = "0.000175"', 'taker_fee = "-0.001"'),
     "venues.gate.taker_fee", "greater than or equal to 0"),
    ("absurd fee", lambda t: t.replace('taker_fee = "0.000175"', 'taker_fee = "0.2"'),
     "venues.gate.taker_fee", "less than 0.05"),
    ("zero size", lambda t: t.replace('max_size = "20"', 'max_size = "0"'), 'symbols.LINK/USDT.max_size',
     "greater than 0"),
    ("not a number", lambda t: t.replace('max_size = "20"', 'max_size = "twenty"'),
     "symbols.LINK/USDT.max_size", "not a decimal number: 'twenty'"),
    ("unknown venue id", lambda t: t.replace("[venues.htx]", "[venues.huobii]"), "venues.huobii",
     "not a ccxt exchange id"),
    ("malformed symbol", lambda t: t.replace('symbols = ["LINK/USDT"]', 'symbols = ["LINKUSDT"]'),
     "engine.symbols", "malformed symbol"),
    ("lower-case symbol", lambda t: t.replace('symbols = ["LINK/USDT"]', 'symbols = ["link/usdt"]'),
     "engine.symbols", "malformed symbol"),
    ("symbol without section", lambda t: t.replace('symbols = ["LINK/USDT"]', 'symbols = ["LINK/USDT", "BTC/USDT"]'),
     "engine.symbols", "BTC/USDT has no"),
    ("bad mode", lambda t: t.replace('mode = "replay"', 'mode = "yolo"'), "engine.mode", "'replay', 'paper' or 'live'"),
    ("bad leg policy", lambda t: t.replace('leg_policy = "unwind"', 'leg_policy = "hope"'),
     "execution.leg_policy", "'unwind', 'complete' or 'halt'"),
    ("secret in file", lambda t: t.replace('kind = "paper"', f'kind = "paper"\napi_secret = "{SECRET}"'),
     "venues.htx.api_secret", "ARB_HTX_API_SECRET"),
    ("api key in file", lambda t: t.replace('kind = "sandbox"', 'kind = "sandbox"\napiKey = "abc"'),
     "venues.gate.apiKey", "secrets are not allowed"),
    ("missing required", lambda t: t.replace("[risk]\n", "[risk]\n#").replace("max_notional_per_trade", "#x", 1),
     "risk.max_notional_per_trade", "required key is missing"),
    ("missing capture", lambda t: t.replace('"bundled:linkusdt-binance-huobi-2021-08-20"', '"nope.jsonl.gz"'),
     "replay.capture", "capture file not found"),
    ("replay needs capture_venue", lambda t: t.replace('capture_venue = "huobi"', ""),
     "venues.htx.capture_venue", "required in replay mode"),
    ("bad store url", lambda t: t.replace('url = "sqlite:///arb.db"', 'url = "mysql://x"'), "store.url",
     "only sqlite"),
    ("bad asset code", lambda t: t.replace('balances = { USDT = "5000", LINK = "200" }\nlatency',
                                           'balances = { usdt = "5000" }\nlatency'),
     "venues.htx.balances", "upper-case"),
    ("negative latency", lambda t: t.replace("latency_ms = 20", "latency_ms = -5"), "venues.htx.latency_ms",
     "greater than or equal to 0"),
    ("not TOML", lambda t: t + "\nthis is = = not toml\n", "", "not valid TOML"),
]


@pytest.mark.parametrize(("what", "edit", "key", "words"), BAD_CONFIGS, ids=[b[0] for b in BAD_CONFIGS])
def test_bad_config_gives_one_clear_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str, edit, key: str, words: str
) -> None:
    path = tmp_path / "bad.toml"
    text = SHIPPED.read_text().replace(
        '"bundled:linkusdt-binance-huobi-2021-08-20"', f'"{(ROOT / "arb/data/linkusdt-binance-huobi-2021-08-20.jsonl.gz").as_posix()}"'
    ) if what != "missing capture" else SHIPPED.read_text()
    path.write_text(edit(text))
    assert main(["config", "check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith(f"arb: error: {path}")
    assert f": {key}:" in line if key else True, line
    assert words in line, line
    assert "Traceback" not in err and SECRET not in err
    message = line.split(f": {key}:", 1)[1] if key else line
    got = re.search(r"\(got ('.*')\)$", message)  # a string value, quoted
    assert got is None or message.count(got[1]) == 1, line  # named once, not echoed twice


def test_exit_status_and_no_traceback_from_the_real_command(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(SHIPPED.read_text().replace("book_depth = 20", "book_depth = 0"))
    proc = subprocess.run(
        [sys.executable, "-m", "arb.cli", "config", "check", str(path)], capture_output=True, text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "engine.book_depth" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["config", "check", str(tmp_path / "absent.toml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_shipped_config_parses_as_plain_toml() -> None:
    # Users edit this file by hand; keep it plain TOML with no arb-specific syntax.
    assert "engine" in tomllib.loads(SHIPPED.read_text())
