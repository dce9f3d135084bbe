"""What the engine shows while it runs: plain status lines when stderr is not a terminal, JSON log lines
tagged with the run id, and no secret anywhere in what it prints or stores."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.engine import Engine
from arb.runtime.logs import RUN_ID, setup_logging

from .helpers import config_with, trimmed_capture
from .paper_rig import SpyEngine, rehearsal_config, until
from .store_outage import StoreOutage

STATUS = re.compile(r"^arb: run (\d+) market \S+ \S+Z elapsed \d+:\d\d:\d\d updates (\d+) \((\d+)/s\) crossed \d+ "
                    r"executed \d+ rejected \d+(?: \([^)]*\))? pnl \S+ "
                    r"books (\S+:\w+\(-?\d+ms\)( |$))+")


@pytest.fixture
def arb_logging() -> Iterator[None]:
    """Undo ``setup_logging`` afterwards: its handler writes to the stream captured for this test."""
    root = logging.getLogger()
    level = root.level
    yield
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_arb", False)]
    root.setLevel(level)
    RUN_ID.run_id = None


async def test_plain_status_lines_when_stderr_is_not_a_terminal(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    capture = trimmed_capture(tmp_path, "00:40:00", "00:41:00")
    config = load_config(config_with(tmp_path, extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture}"',
        "speed = 0 ": "speed = 30 ",  # 2 s of replay: time for several status ticks
        "status_interval_s = 5.0": "status_interval_s = 0.1",
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    }))
    assert config.engine.status == "auto"  # the shipped default: pytest's captured stderr is no terminal
    result = await Engine(config, db_url=f"sqlite:///{tmp_path / 's.db'}", install_signal_handlers=False).run()
    err = capsys.readouterr().err
    assert "\x1b[" not in err  # no terminal control sequences: a log file stays readable
    lines = [line for line in err.splitlines() if STATUS.match(line)]
    assert len(lines) >= 5, err
    runs = {int(STATUS.match(line).group(1)) for line in lines}  # type: ignore[union-attr]
    updates = [int(STATUS.match(line).group(2)) for line in lines]  # type: ignore[union-attr]
    assert runs == {result.run_id}
    assert updates == sorted(updates) and updates[-1] > updates[0] > 0  # counts advance while it runs
    assert "gate:live" in lines[-1] and "htx:live" in lines[-1]


async def test_json_logs_carry_the_run_id(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          arb_logging: None) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:03")
    config = load_config(config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture}"',
        "speed = 0 ": "speed = 100 ",
        'min_edge_bps = "0.5"': 'min_edge_bps = "0.1"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'log_format = "text"': 'log_format = "json"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    }))
    setup_logging(config.engine.log_level, config.engine.log_format)
    path = tmp_path / "j.db"
    # A brief store outage makes the engine and its writer log mid-run (an error and warnings).
    with StoreOutage(str(path), after=1, failures=2):
        result = await Engine(config, db_url=f"sqlite:///{path}", install_signal_handlers=False).run()
    err = capsys.readouterr().err
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert records and all(set(r) >= {"ts", "level", "logger", "run_id", "msg"} for r in records)
    during = [r for r in records if r["logger"] in ("arb.engine", "arb.runtime.writer")]
    assert {r["level"] for r in during} >= {"ERROR", "WARNING"}, during
    assert all(r["run_id"] == result.run_id for r in during), during
    # Every line of that stream is a JSON record or one of the engine's own plain status notes: nothing
    # else leaks into a log shipper's input.
    assert all(line.startswith(("{", "arb: ")) for line in err.splitlines() if line), err


async def test_secrets_never_appear_in_logs_or_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            arb_logging: None) -> None:
    config = rehearsal_config(tmp_path, "00:00", "00:01", speed=30, extra={"log_level = \"INFO\"": "log_level = \"DEBUG\""})
    setup_logging(config.engine.log_level, "text")
    db = tmp_path / "secret.db"
    engine = SpyEngine(config, db_url=f"sqlite:///{db}", install_signal_handlers=False)
    run = asyncio.create_task(engine.run())
    await until(lambda: engine.venues is not None and bool(engine.venues.sandboxes), "sandbox started", run=run)
    sandbox = engine.sandbox("gate")
    secret = sandbox.config.accounts[0].secret
    # Something to log about mid-run, at every level (DEBUG included): the WebSocket drops and resyncs.
    feed_up = until(lambda: engine.feeds is not None and engine.feeds.feeds["gate"].connections >= 1,
                    "feed connected", run=run)
    await feed_up
    await sandbox.close_websockets()
    result = await asyncio.wait_for(run, 60)
    out = capsys.readouterr()
    logged = out.err + out.out
    assert f"[run {result.run_id}]" in logged  # the text format carries the run id too
    assert engine.funnel.executed > 0  # signed requests were made, so there was something to leak
    assert len(secret) >= 32 and secret not in logged
    with create_engine(f"sqlite:///{db}").connect() as c:
        tables = [t for (t,) in c.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))]
        for table in tables:
            for row in c.execute(text(f'SELECT * FROM "{table}"')):
                assert secret not in repr(tuple(row)), table
