"""`arb config check` and `arb run` agree: every config `run` would refuse, `check` refuses first.

The fuzzer replaces values the engine acts on (steps, minimums, balances, fees, sizes, limits, timeouts,
routes, the database URL) with hostile ones. Each config `check` accepts is then run, in-process, on 16 s
of the real capture where low fees execute pairs (00:42:18-00:42:34), status off, into a temporary SQLite
database: it must end `completed`. A config `check` refuses is not run (`check` refusing is the point);
so a config that only fails once trading starts shows up here as a run that raised. `check` here is what
`arb config check` does: the config loaded, then the machine's preflight (its ports free).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import os
import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from engine.helpers import trimmed_capture  # tests/engine/helpers.py
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from arb.config import ReplaySection, load_config
from arb.engine import Engine
from arb.errors import ConfigError
from arb.runtime.preflight import preflight
from tests.config.checked import checked_config

from .tomlgen import NUMERIC, Raw, shipped, to_toml

RUN_CASES = int(os.environ.get("ARB_FUZZ_RUNS", "60"))
# (path, values): where the fuzzer writes, and what; numbers that are plausible for the key and hostile
# ones of every kind.
MARKET = ("venues", "{venue}", "markets", "LINK/USDT")
PLAUSIBLE = st.one_of(
    st.sampled_from(["1e-18", "1e-19", "1e-12", "0.003", "0.25", "0.5", "1", "10", "100", "1e15", "1e16",
                     "0", "5", "0.1", "1E+2", "1e-8", "0.0000001", "20", "1000", "0.00001", "0.049"]),
    # log-uniform from 1e-22 to 1e22: steps, sizes and limits of every magnitude
    st.builds(lambda m, e: str(Decimal(m).scaleb(e)), st.integers(1, 999), st.integers(-22, 20)),
)
VALUES = st.one_of(PLAUSIBLE, PLAUSIBLE, NUMERIC)
HELD = "<a port another process listens on>"  # replaced by the `held_port` fixture's port
PORTS = st.sampled_from([0, HELD])
TARGETS: list[tuple[tuple[str, ...], st.SearchStrategy[Any]]] = [
    (("engine", "book_depth"), st.one_of(st.integers(-5, 2000), VALUES)),
    (("engine", "status_interval_s"), st.one_of(st.floats(allow_nan=True, allow_infinity=True), VALUES)),
    (("monitoring", "metrics_port"), PORTS),
    (("monitoring", "dashboard_port"), PORTS),
    (("sandbox", "port"), PORTS),
    (("engine", "stale_after_ms"), st.one_of(st.integers(-5, 10**12), VALUES)),
    (("detection", "min_edge_bps"), VALUES),
    (("detection", "min_profit"), VALUES),
    (("detection", "abnormal_edge_bps"), VALUES),
    (("detection", "max_book_age_ms"), st.one_of(st.integers(-5, 10**12), VALUES)),
    (("symbols", "LINK/USDT", "max_size"), VALUES),
    (("risk", "max_notional_per_trade"), VALUES),
    (("risk", "max_exposure_per_asset"), VALUES),
    (("risk", "daily_loss_limit"), VALUES),
    (("risk", "max_consecutive_failures"), st.one_of(st.integers(-2, 10**7), VALUES)),
    (("risk", "failure_cooldown_s"), st.one_of(st.floats(allow_nan=True, allow_infinity=True), VALUES)),
    (("risk", "kill_switch_file"), st.sampled_from(["", ".", "\x00x", "arb.kill", "/", "k" * 300, "d/" * 2100 + "k"])),
    (("execution", "slippage_bps"), VALUES),
    (("execution", "imbalance_max_slippage_bps"), VALUES),
    (("execution", "leg_policy"), st.sampled_from(["unwind", "complete", "halt"])),
    (("execution", "order_timeout_s"), st.one_of(st.floats(allow_nan=True, allow_infinity=True), VALUES)),
    (("execution", "lookup_attempts"), st.one_of(st.integers(-2, 10**7), VALUES)),
    (("store", "url"), st.sampled_from(["sqlite://", "sqlite:///", "sqlite:foo", "sqlite:///sub/x.db",
                                        "sqlite:///x.db?mode=ro", "postgresql+psycopg2://h/db",
                                        "postgresql://u@h:notaport/db", "mysql://h/db"])),
    *(
        (path, values)
        for venue in ("gate", "htx")
        for path, values in [
            (("venues", venue, "taker_fee"), VALUES),
            (("venues", venue, "kind"), st.sampled_from(["sandbox", "paper", "live"])),
            (("venues", venue, "buy_fee_in"), st.sampled_from(["base", "quote"])),
            (("venues", venue, "capture_venue"), st.sampled_from(["binance", "huobi", "okx", ""])),
            (("venues", venue, "latency_ms"), st.one_of(st.integers(-5, 10**9), VALUES)),
            (("venues", venue, "rate_limit_per_s"), st.one_of(st.floats(allow_nan=True, allow_infinity=True), VALUES)),
            (("venues", venue, "balances", "USDT"), VALUES),
            (("venues", venue, "balances", "LINK"), VALUES),
            *(((*(p.format(venue=venue) for p in MARKET), key), VALUES)
              for key in ("price_step", "amount_step", "min_amount", "min_notional")),
        ]
    ),
]


@st.composite
def run_configs(draw: st.DrawFn) -> list[tuple[tuple[str, ...], Any]]:
    picks = draw(st.permutations(range(len(TARGETS))))[: draw(st.integers(1, 3))]
    return [(TARGETS[i][0], draw(TARGETS[i][1])) for i in picks]


def _write(tmp: Path, capture: Path, edits: list[tuple[tuple[str, ...], Any]], held_port: int = 0) -> Path:
    doc = json.loads(json.dumps(shipped()))
    doc["engine"]["status"] = "off"
    doc["replay"]["capture"] = str(capture)
    doc["store"]["url"] = f"sqlite:///{tmp / 'run.db'}"
    doc["risk"]["kill_switch_file"] = str(tmp / "arb.kill")
    for venue in doc["venues"].values():
        venue["taker_fee"] = "0.0001"  # low enough that the window executes pairs
    for path, value in edits:
        node = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = held_port if value == HELD else value
    config = tmp / "config.toml"
    config.write_text(to_toml(doc))
    return config


@pytest.fixture(scope="module")
def held_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield int(server.getsockname()[1])


@pytest.fixture(scope="module")
def window(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trimmed_capture(tmp_path_factory.mktemp("capture"), "00:42:18", "00:42:34")


def test_the_window_trades_with_the_base_config(window: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    # Otherwise the agreement below would prove little: the fuzzed runs must reach execution.
    monkeypatch.chdir(tmp_path)
    config = load_config(_write(tmp_path, window, []), environ={})
    result = asyncio.run(Engine(config, install_signal_handlers=False).run())
    assert result.funnel.executed >= 5


@settings(max_examples=RUN_CASES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=run_configs())
# The reproductions of issue 13: each passed `check` and then crashed the run.
@example(edits=[(("venues", "htx", "markets", "LINK/USDT", "amount_step"), "1e-30")])
@example(edits=[(("venues", "gate", "markets", "LINK/USDT", "price_step"), "0.003")])
@example(edits=[(("venues", "htx", "capture_venue"), "binance")])
@example(edits=[(("store", "url"), "postgresql://u@h:notaport/db")])
@example(edits=[(("venues", "htx", "markets", "LINK/USDT", "amount_step"), "1e-18"),
                (("symbols", "LINK/USDT", "max_size"), "1e15"),
                (("venues", "htx", "balances", "LINK"), "1e15")])
# Found by this test (seed 102): a step in range with 27 decimal places made 29-digit amounts, and a paper
# order's fill, rounded to 28 digits, came out above its own amount: the run failed. Now refused by `check`.
@example(edits=[(("venues", "htx", "markets", "LINK/USDT", "amount_step"), "154353275689598969e-27")])
# Issue 32's: each passed `check`, then the run hung, failed mid-way, or failed after its row was written.
@example(edits=[(("venues", "gate", "rate_limit_per_s"), 1e-9)])
@example(edits=[(("venues", "gate", "rate_limit_per_s"), 0.5)])  # throttled in market time, not wall time
@example(edits=[(("risk", "kill_switch_file"), "k" * 300)])
@example(edits=[(("monitoring", "metrics_port"), HELD)])
@example(edits=[(("monitoring", "dashboard_port"), HELD)])
@example(edits=[(("engine", "status_interval_s"), 1e-9)])
def test_every_config_check_accepts_runs_to_completion(
    edits: list[tuple[tuple[str, ...], Any]], window: Path, held_port: int,
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    tmp = tmp_path_factory.mktemp("agree")
    monkeypatch.chdir(tmp)  # relative database and kill-switch paths land here
    path = _write(tmp, window, edits, held_port)
    try:
        config = load_config(path, environ={})
        preflight(config)
    except ConfigError as exc:
        event(f"refused by check: {exc.key}")
        return  # `check` refuses: nothing to agree on
    event("accepted by check: run")
    engine = Engine(config, install_signal_handlers=False)
    try:
        result = asyncio.run(engine.run())  # raises if `run` refuses
    finally:
        if engine.monitor is not None:  # its metrics endpoint outlives the run until closed
            engine.monitor.close()
    with create_engine(config.store.url).connect() as c:  # a file: check refuses in-memory SQLite
        status = c.execute(text("SELECT status FROM runs WHERE id = :r"), {"r": result.run_id}).scalar_one()
    assert status == "completed"


def _empty_capture(kind: str, tmp: Path, window: Path) -> Path:
    if kind == "a timeline with an empty day":  # `check` reads the first event only: the empty day is later
        days = tmp / "days"
        days.mkdir()
        (days / "2021-08-20.jsonl.gz").write_bytes(window.read_bytes())
        (days / "2021-08-21.jsonl.gz").write_bytes(gzip.compress(b""))
        return days
    path = tmp / ("empty.jsonl" if kind == "0 bytes" else "empty.jsonl.gz")
    path.write_bytes(gzip.compress(b"") if kind == "a gzip of nothing" else b"")
    return path


@pytest.mark.parametrize("kind", ["0 bytes", "a 0-byte .gz", "a gzip of nothing", "a timeline with an empty day"])
def test_an_empty_capture_is_refused_by_check_as_by_run(kind: str, window: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 32: `check` passed these and `run` replayed them "successfully", 0 events (the empty day too).
    monkeypatch.chdir(tmp_path)
    capture = _empty_capture(kind, tmp_path, window)
    with pytest.raises(ConfigError, match=r"replay\.capture: .*:1: empty: a capture holds at least one event"):
        checked_config(_write(tmp_path, capture, []), environ={})
    # `run` on the same capture (one `check` never saw: set after loading) refuses it with the same line,
    # in its preflight, before its lease or its row.
    config = load_config(_write(tmp_path, window, []), environ={})
    config = dataclasses.replace(config, replay=ReplaySection(capture=str(capture), speed=0))
    with pytest.raises(ConfigError, match=r"replay\.capture: .*:1: empty: a capture holds at least one event"):
        asyncio.run(Engine(config, install_signal_handlers=False).run())


# ------------------------------------------------------------------ maker keys (issue 47)
# The maker route's keys, its venues' markets and fees, with values of every type TOML has: a run on 20 s of
# the Binance BTC/USDT recording with trades (tests/engine/maker_capture.py), which quotes and hedges.
MAKER_RUN_CASES = int(os.environ.get("ARB_FUZZ_MAKER_RUNS", "25"))
MAKER = ("symbols", "BTC/USDT", "maker")
WRONG_TYPES = st.one_of(st.booleans(), st.sampled_from(["yes", "true", "1", "", "0.5"]), st.floats(-2, 10),
                        st.integers(-3, 8))
COUNTS = st.one_of(st.integers(-5, 10**9), WRONG_TYPES, VALUES)
SWITCHES = st.one_of(st.booleans(), WRONG_TYPES)
MAKER_TARGETS: list[tuple[tuple[str, ...], st.SearchStrategy[Any]]] = [
    ((*MAKER, "levels"), st.one_of(st.integers(-1, 7), WRONG_TYPES)),
    ((*MAKER, "join_top"), SWITCHES),
    ((*MAKER, "both_ways"), SWITCHES),
    ((*MAKER, "cancel_at_start"), SWITCHES),
    ((*MAKER, "sides"), st.sampled_from(["both", "bid", "ask", "none", "BID"])),
    ((*MAKER, "leg_policy"), st.sampled_from(["halt", "flatten", "unwind"])),
    ((*MAKER, "quote_size"), st.one_of(VALUES, st.sampled_from(["1000000000000000", "0.00000000000001",
                                                                 "100000000000000.123456789012345"]))),
    *(((*MAKER, key), VALUES) for key in ("min_profit_bps", "slippage_buffer_bps", "refresh_bps", "level_step_bps",
                                          "max_unhedged", "hedge_widen_bps", "flatten_slippage_bps")),
    *(((*MAKER, key), COUNTS) for key in ("max_quote_age_ms", "hedge_attempts", "hedge_retry_ms")),
    (("venues", "spot", "maker_fee"), VALUES),
    (("venues", "perp", "taker_fee"), VALUES),
    *((("venues", venue, "markets", "BTC/USDT", key), VALUES)
      for venue in ("spot", "perp") for key in ("price_step", "amount_step", "min_amount", "min_notional")),
]


@pytest.fixture(scope="module")
def maker_window(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.maker_capture import binance_maker_capture, first_seconds  # tests/engine/maker_capture.py

    return first_seconds(binance_maker_capture(tmp_path_factory.mktemp("maker")), 20)


@st.composite
def maker_edits(draw: st.DrawFn) -> list[tuple[tuple[str, ...], Any]]:
    picks = draw(st.permutations(range(len(MAKER_TARGETS))))[: draw(st.integers(1, 3))]
    return [(MAKER_TARGETS[i][0], draw(MAKER_TARGETS[i][1])) for i in picks]


def _write_maker(tmp: Path, capture: Path, edits: list[tuple[tuple[str, ...], Any]]) -> Path:
    import tomllib

    from engine.maker_capture import maker_config

    doc = tomllib.loads(maker_config(tmp, capture).read_text())
    doc["store"] = {"url": f"sqlite:///{tmp / 'run.db'}"}
    for path, value in edits:
        node = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    config = tmp / "maker.toml"
    config.write_text(to_toml(doc))
    return config


def _held(config: Any, path: tuple[str, ...]) -> Any:
    node = config
    for part in path:
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def _as_written(value: Any, held: Any) -> bool:
    """``held`` is the value the file wrote, of its type: a switch a boolean, a count an integer, a TOML float
    the decimal written (issue 47: ``levels = true`` ran as 1, ``join_top = "yes"`` as True, and a fee of 19
    significant digits as 17)."""
    if isinstance(held, bool) or isinstance(value, bool):
        return type(held) is type(value) and held == value
    if isinstance(held, int):
        return type(value) is int and held == value
    if isinstance(held, Decimal) and isinstance(value, Raw):
        return held == Decimal(value)
    return True


@settings(max_examples=MAKER_RUN_CASES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=maker_edits())
# Issue 47's: each passed `check` (coerced), or crashed it with DivisionImpossible.
@example(edits=[((*MAKER, "refresh_bps"), "1e-18")])
@example(edits=[((*MAKER, "levels"), True)])
@example(edits=[((*MAKER, "join_top"), "yes")])
@example(edits=[((*MAKER, "quote_size"), "100000000000000.123456789012345"),
                (("venues", "spot", "markets", "BTC/USDT", "amount_step"), "0.00000000000001")])
def test_every_maker_config_check_accepts_runs_to_completion(
    edits: list[tuple[tuple[str, ...], Any]], maker_window: Path, tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tmp = tmp_path_factory.mktemp("maker-agree")
    monkeypatch.chdir(tmp)
    path = _write_maker(tmp, maker_window, edits)
    try:
        config = load_config(path, environ={})
        preflight(config, ports=False)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        event(f"refused by check: {exc.key}")
        return
    for key, value in edits:  # accepted as written: no boolean made a number or text made a boolean
        held = _held(config, key)
        assert _as_written(value, held), f"{'.'.join(key)} = {value!r} was taken as {held!r}"
    event("accepted by check: run")
    result = asyncio.run(Engine(config, install_signal_handlers=False).run())  # raises if `run` refuses
    with create_engine(config.store.url).connect() as c:
        status, reason = c.execute(text("SELECT status, status_reason FROM runs WHERE id = :r"),
                                   {"r": result.run_id}).one()
    # A halt by the leg policy is the run's answer to the market, not a refusal `check` could have made. (Found
    # here: a quote sized to the funds on a 1e-18 tick leaves its hedge short of margin, refused
    # InsufficientFunds, and the side halts: `quote_size = "251408"` with spot's `price_step = "1e-18"`.)
    if status == "halted" and "hedges failed" in (reason or ""):
        event("run halted by the leg policy")
        return
    assert status == "completed", reason


# ------------------------------------------------------------------ arb sandbox --config (issue 47)
SANDBOX_CASES = int(os.environ.get("ARB_FUZZ_SANDBOX_RUNS", "60"))


@settings(max_examples=SANDBOX_CASES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=run_configs())
def test_every_config_check_accepts_starts_its_sandbox(
    edits: list[tuple[tuple[str, ...], Any]], window: Path, held_port: int,
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`arb sandbox --config` builds the sandbox a config's sandbox venues describe, after the same preflight
    (its port is --port's): every config check accepts builds one, its markets, balances and feed."""
    from arb.cli import build_parser
    from arb.commands.sandbox import sandbox_config
    from arb.venues.gate.sandbox.server import Sandbox

    tmp = tmp_path_factory.mktemp("sandbox-agree")
    monkeypatch.chdir(tmp)
    path = _write(tmp, window, edits, held_port)
    try:
        config = load_config(path, environ={})
        preflight(config, ports=False)
    except ConfigError as exc:
        event(f"refused by check: {exc.key}")
        return
    if not any(section.kind == "sandbox" for section in config.venues.values()):
        event("accepted by check: no sandbox venue")
        return
    event("accepted by check: sandbox built")
    Sandbox(sandbox_config(build_parser().parse_args(["sandbox", "--config", str(path), "--port", "0"]))[0])
