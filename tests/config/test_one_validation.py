"""One validation: what `arb run` cannot honour, `arb config check` refuses first, by the same code.

Each case here passed `config check` once and then crashed `arb run` (issue 13) or would have: a step
finer than any venue's, a step the sandbox cannot list, two venues fed by one side of the capture, a
database URL that does not parse or cannot hold a run, a duration that overflows, a capture that is not
one. Each is now one line naming the file and the key, exit status 2, from `check` and from `run` alike.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest

from arb.cli import main
from arb.domain.market import MAX_QUANTITY, MIN_STEP, check_step, quantize_step
from arb.venues.gate.adapter import sandbox_decimals
from arb.venues.gate.facts import decimals_of_step

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config.toml"
GATE_MARKET = 'markets."LINK/USDT" = { price_step = "0.001", amount_step = "0.01", min_amount = "0.01", min_notional = "1" }'
HTX_MARKET = 'markets."LINK/USDT" = { price_step = "0.0001", amount_step = "0.01", min_amount = "0.01", min_notional = "5" }'
DB = 'url = "sqlite:///arb.db"'

# (id, {old: new} edits of the shipped config, key named, words in the line)
CASES = [
    ("amount step 1e-30", {HTX_MARKET: HTX_MARKET.replace('amount_step = "0.01"', 'amount_step = "1e-30"')},
     "venues.htx.markets.LINK/USDT.amount_step", "finer than 1e-18"),
    # In range, but 27 decimal places (found by test_check_run_agree): its amounts had 29 digits, the fill of
    # a paper order rounded above the order's own amount, and `arb run` failed on a config `check` accepted.
    ("amount step of 27 places", {HTX_MARKET: HTX_MARKET.replace('amount_step = "0.01"',
                                                                 'amount_step = "154353275689598969e-27"')},
     "venues.htx.markets.LINK/USDT.amount_step", "27 decimal places: no venue states more than 18"),
    ("price step 0.003 on a sandbox venue", {GATE_MARKET: GATE_MARKET.replace('"0.001"', '"0.003"')},
     "venues.gate.markets.LINK/USDT.price_step", "not a power of ten"),
    ("price step 10 on a sandbox venue", {GATE_MARKET: GATE_MARKET.replace('"0.001"', '"10"')},
     "venues.gate.markets.LINK/USDT.price_step", "not a power of ten of at most 1"),
    ("price step with 13 decimals on a sandbox venue", {GATE_MARKET: GATE_MARKET.replace('"0.001"', '"1e-13"')},
     "venues.gate.markets.LINK/USDT.price_step", "the sandbox lists at most 12"),
    ("zero step", {HTX_MARKET: HTX_MARKET.replace('"0.0001"', '"0"')},
     "venues.htx.markets.LINK/USDT.price_step", "positive"),
    ("NaN step", {HTX_MARKET: HTX_MARKET.replace('"0.0001"', '"NaN"')},
     "venues.htx.markets.LINK/USDT.price_step", "finite"),
    ("two venues fed by one side of the capture", {'capture_venue = "huobi"': 'capture_venue = "binance"'},
     "venues.htx.capture_venue", "'binance' already feeds venues.gate"),
    ("empty capture_venue", {'capture_venue = "huobi"': 'capture_venue = ""'},
     "venues.htx.capture_venue", "at least 1 character"),
    ("database URL with a port that is not a number", {DB: 'url = "postgresql://u:pw@h:notaport/db"'},
     "store.url", "not a database URL"),
    ("database URL that does not parse", {DB: 'url = "sqlite:foo"'}, "store.url", "not a database URL"),
    ("database driver not installed", {DB: 'url = "postgresql+psycopg2://h/db"'}, "store.url",
     "driver not available"),
    ("in-memory SQLite", {DB: 'url = "sqlite://"'}, "store.url", "in-memory SQLite"),
    ("database directory missing", {DB: 'url = "sqlite:////nonexistent-arb-dir/arb.db"'}, "store.url",
     "does not exist"),
    ("parameter the driver ignores", {DB: 'url = "sqlite:///arb.db?foo=1"'}, "store.url", "not accepted"),
    ("infinite cooldown", {"failure_cooldown_s = 60.0": "failure_cooldown_s = inf"}, "risk.failure_cooldown_s",
     "finite"),
    ("order timeout past any timer", {"order_timeout_s = 5.0": "order_timeout_s = 1e300"},
     "execution.order_timeout_s", "less than or equal to 600"),
    ("lookups without end", {"lookup_attempts = 6": "lookup_attempts = 1000000000000"},
     "execution.lookup_attempts", "less than or equal to 100"),
    ("a balance beyond 1e15", {'balances = { USDT = "5000", LINK = "200" }\nlatency':
                               'balances = { USDT = "1e16", LINK = "200" }\nlatency'},
     "venues.htx.balances.USDT", "less than or equal to 1E+15"),
    ("slippage of 100%", {'slippage_bps = "2"': 'slippage_bps = "10000"'}, "execution.slippage_bps",
     "less than 10000"),
    ("empty kill switch file", {'kill_switch_file = "arb.kill"': 'kill_switch_file = ""'},
     "risk.kill_switch_file", "at least 1 character"),
    ("NUL in the kill switch file", {'kill_switch_file = "arb.kill"': 'kill_switch_file = "a\\u0000b"'},
     "risk.kill_switch_file", "NUL"),
    ("bundled capture that does not exist", {"bundled:linkusdt-binance-huobi-2021-08-20": "bundled:nope"},
     "replay.capture", "no bundled capture 'nope' (bundled: linkusdt-binance-huobi-2021-08-20)"),
    ("sandbox URL that does not parse", {"port = 0 ": 'url = "http://[::1"\nport = 0 '}, "sandbox.url",
     "http(s) URL"),
    ("capture_venue without a capture", {'mode = "replay"': 'mode = "paper"', "[replay]": "# [replay]",
                                         'capture = "bundled:': '# capture = "bundled:', "speed = 0 ": "# speed = 0 "},
     "venues.gate.capture_venue", "no [replay] section"),
    # A live run (its credentials in the environment: the test sets ARB_BITBANK_API_*), so this is the one
    # problem: a replay would first refuse the live venue itself.
    ("venue ccxt cannot stream", {"[venues.htx]": "[venues.bitbank]", 'kind = "paper"': 'kind = "live"',
                                  'mode = "replay"': 'mode = "live"', "speed = 0 ": "speed = 1 "},
     "venues.bitbank", "ccxt.pro"),
    # Issue 46: a rehearsal (the shipped config in live mode) at speed 0 played the capture to its sandbox and
    # paper venue at full speed against orders in wall time: 2.2 s of run, 1,381 abnormal_edge rejections.
    ("live mode on a capture at speed 0", {'mode = "replay"': 'mode = "live"'}, "replay.speed",
     "live mode plays the capture to gate, htx in real time: set a speed > 0"),
    ("paper mode on a capture at speed 0", {'mode = "replay"': 'mode = "paper"'}, "replay.speed",
     "paper mode plays the capture in real time: set a speed > 0"),
    # Issue 32: each passed `check`, then `run` hung, flooded the terminal or failed mid-run.
    ("rate limit below the floor", {'capture_venue = "binance"': 'capture_venue = "binance"\nrate_limit_per_s = 1e-9'},
     "venues.gate.rate_limit_per_s", "greater than or equal to 0.01"),
    ("status every microsecond", {"status_interval_s = 5.0": "status_interval_s = 1e-6"}, "engine.status_interval_s",
     "greater than or equal to 0.1"),
    ("kill switch file name of 300 characters", {'kill_switch_file = "arb.kill"': f'kill_switch_file = "{"k" * 300}"'},
     "risk.kill_switch_file", "a file name of 300 bytes is too long"),
    ("kill switch path of 4,201 bytes", {'kill_switch_file = "arb.kill"': f'kill_switch_file = "{"d/" * 2100}k"'},
     "risk.kill_switch_file", "a path of 4201 bytes is too long"),
    ("metrics and dashboard on one port", {"# metrics_port = 9108": "metrics_port = 9108",
                                           "# dashboard_port = 8050": "dashboard_port = 9108"},
     "monitoring.dashboard_port", "port 9108 is monitoring.metrics_port's too"),
]


def _config(tmp_path: Path, edits: dict[str, str]) -> Path:
    text = SHIPPED.read_text()
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def _one_line(err: str, path: Path, key: str, words: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"arb: error: {path}: {key}: "), lines[0]
    assert words in lines[0], lines[0]
    assert "Traceback" not in err and "pw" not in err  # never a database password either
    return lines[0]


@pytest.mark.parametrize(("edits", "key", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_refuses_in_one_line_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch, edits: dict[str, str],
                                                  key: str, words: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARB_BITBANK_API_KEY", "k")
    monkeypatch.setenv("ARB_BITBANK_API_SECRET", "s")
    path = _config(tmp_path, edits)
    assert main(["config", "check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    _one_line(err, path, key, words)


RUN_REFUSES = ("amount step 1e-30", "price step 0.003 on a sandbox venue", "two venues fed by one side of the capture",
               "database URL with a port that is not a number", "kill switch file name of 300 characters",
               "metrics and dashboard on one port", "live mode on a capture at speed 0")


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in RUN_REFUSES], ids=lambda c: c[0])
def test_run_refuses_with_the_same_line_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, case: tuple
) -> None:
    _, edits, key, words = case
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARB_BITBANK_API_KEY", "k")
    monkeypatch.setenv("ARB_BITBANK_API_SECRET", "s")
    path = _config(tmp_path, edits)
    assert main(["config", "check", str(path)]) == 2
    checked = _one_line(capsys.readouterr().err, path, key, words)
    assert main(["run", "--config", str(path), "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert _one_line(capsys.readouterr().err, path, key, words) == checked
    assert not (tmp_path / "x.db").exists() and not (tmp_path / "arb.db").exists()


@pytest.mark.parametrize(("edits", "why"), [
    ({'mode = "replay"': 'mode = "live"', "speed = 0 ": "speed = 1 "}, "played at the recorded pace"),
    # nothing here plays the capture: the sandbox is another process's (at its own pace), htx paper on live books
    ({'mode = "replay"': 'mode = "live"', 'capture_venue = "huobi"\n': "",
      "port = 0 ": 'url = "http://127.0.0.1:9"\nport = 0 '}, "no venue played from the capture here"),
])
def test_live_mode_is_taken_at_speed_0_only_where_nothing_plays_the_capture(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, edits: dict[str, str],
        why: str) -> None:
    monkeypatch.chdir(tmp_path)
    for venue in ("GATE", "HTX"):
        monkeypatch.setenv(f"ARB_{venue}_API_KEY", "k")
        monkeypatch.setenv(f"ARB_{venue}_API_SECRET", "s" * 40)
    assert main(["config", "check", str(_config(tmp_path, edits))]) == 0, (why, capsys.readouterr().err)


def test_a_malformed_arb_db_url_is_refused_naming_the_variable(capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARB_DB_URL", "postgresql://u:pw@h:notaport/db")
    assert main(["config", "check", str(SHIPPED)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("arb: error: $ARB_DB_URL: not a database URL") and err.count("\n") == 1, err
    assert "pw" not in err


def test_an_arb_db_url_that_is_not_utf8_is_refused_and_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # `ARB_DB_URL=sqlite:///$'\xff'.db`: the byte reaches Python as a lone surrogate. It passed `check`; `run`
    # then said "unexpected UnicodeEncodeError" and left `\xff.db.lock` behind.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARB_DB_URL", "sqlite:///\udcff.db")
    line = ("arb: error: $ARB_DB_URL: not a database URL: 'sqlite:///\\udcff.db' holds bytes that are not UTF-8 "
            "text (at character 11); database names and paths must be UTF-8")
    for args in (["config", "check", str(SHIPPED)], ["run", "--config", str(SHIPPED)]):
        assert main(args) == 2
        assert capsys.readouterr().err.splitlines() == [line]
    assert list(tmp_path.iterdir()) == []


def test_a_capture_that_does_not_open_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, data in [("noise.jsonl.gz", b"not gzip at all"), ("cut.jsonl.gz", b"\x1f\x8b\x08\x00"),
                       ("other.jsonl", b'{"format": "something else"}\n')]:
        capture = tmp_path / name
        capture.write_bytes(data)
        path = _config(tmp_path, {'"bundled:linkusdt-binance-huobi-2021-08-20"': f'"{capture}"'})
        assert main(["config", "check", str(path)]) == 2
        _one_line(capsys.readouterr().err, path, "replay.capture", f"{capture}:1: ")


def test_a_paper_venue_may_use_any_step_arb_can_round_to(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    # Only the sandbox is bound to Gate's decimal places; a paper venue rounds to any step exactly.
    path = _config(tmp_path, {HTX_MARKET: HTX_MARKET.replace('"0.0001"', '"0.0025"')
                              .replace('amount_step = "0.01"', 'amount_step = "1e-18"')})
    assert main(["config", "check", str(path)]) == 0, capsys.readouterr().err


def test_rounding_is_exact_over_the_whole_range() -> None:
    # Python's default context (28 digits) raised InvalidOperation here: 1e15 on a 1e-18 step has 34.
    below_max = Decimal("999999999999999.9999999999999999997")  # MAX_QUANTITY less a third of MIN_STEP
    assert below_max < MAX_QUANTITY
    assert quantize_step(below_max, MIN_STEP, ROUND_DOWN) == Decimal("999999999999999.999999999999999999")
    assert quantize_step(Decimal("20.123"), Decimal("1e-30") * 10**12, ROUND_DOWN) == Decimal("20.123")
    for bad in (Decimal(0), Decimal("-1"), Decimal("NaN"), Decimal("Infinity"), Decimal("1e-19"), Decimal("1e16"),
                Decimal("154353275689598969e-27"), Decimal("0.1234567890123456789")):
        with pytest.raises(ValueError):
            check_step(bad)
    for good in (MIN_STEP, Decimal("0.123456789012345678"), Decimal("0.00100000000000000000000"), Decimal("25")):
        check_step(good)  # 18 places or fewer, trailing zeros not counted


@pytest.mark.parametrize(("step", "decimals"), [("1", 0), ("0.1", 1), ("0.001", 3), ("0.0010", 3),
                                                ("1E-12", 12)])
def test_sandbox_steps_are_gate_decimal_places(step: str, decimals: int) -> None:
    assert decimals_of_step(Decimal(step)) == decimals == sandbox_decimals(Decimal(step))


@pytest.mark.parametrize("step", ["0.003", "0.25", "10", "1E+1", "2"])
def test_steps_gate_cannot_state_are_refused(step: str) -> None:
    with pytest.raises(ValueError, match="not a power of ten"):
        sandbox_decimals(Decimal(step))
