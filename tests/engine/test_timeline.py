"""Day-files replayed as one timeline: the bundled real capture split in two and replayed by `arb replay`
(a glob) and `arb run` (a config whose capture is a directory) gives the rows, the book-update count and the
market span of the whole file, through every reader (the market source, the in-process Gate sandbox's own
copy, the run's market-time origin)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.cli import main
from arb.marketdata.capture import CaptureWriter, read_capture

from .helpers import config_with, ms, summary_number, trimmed_capture
from .test_simulation import _rows

SPLIT_AT = ms("2021-08-20T00:10")


def _day_files(tmp_path: Path, capture: Path) -> Path:
    days = tmp_path / "days"
    days.mkdir()
    with CaptureWriter(days / "part-1.jsonl.gz") as first, CaptureWriter(days / "part-2.jsonl.gz") as second:
        for event in read_capture(capture):
            (first if event.ts < SPLIT_AT else second).write(event)
    assert first.count > 0 and second.count > 0
    return days


def _config(tmp_path: Path, capture: str, name: str) -> Path:
    return config_with(tmp_path, fee="0", name=name, extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture}"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    })


def _span(db: str) -> tuple[object, ...]:
    with create_engine(db).connect() as c:
        return tuple(c.execute(text("SELECT market_started_at, market_ended_at, status FROM runs")).one())


def test_replay_of_a_glob_of_day_files_is_the_whole_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:20")
    days = _day_files(tmp_path, capture)
    config = _config(tmp_path, capture.as_posix(), "config.toml")
    whole, split = f"sqlite:///{tmp_path / 'whole.db'}", f"sqlite:///{tmp_path / 'split.db'}"
    assert main(["replay", str(capture), "--config", str(config), "--db", whole]) == 0
    whole_out = capsys.readouterr().out
    assert main(["replay", str(days / "*.jsonl.gz"), "--config", str(config), "--db", split]) == 0
    split_out = capsys.readouterr().out
    assert summary_number(split_out, "book updates") == summary_number(whole_out, "book updates") == "2400"
    expected = _rows(whole, 1)
    assert len(expected["fills"]) >= 4  # it traded on both sides of the split: there is something to compare
    assert _rows(split, 1) == expected
    assert _span(split) == _span(whole)


def test_run_with_a_directory_as_the_configured_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:20")
    _day_files(tmp_path, capture)
    whole, split = f"sqlite:///{tmp_path / 'whole.db'}", f"sqlite:///{tmp_path / 'split.db'}"
    # `arb run` in replay mode: gate is the in-process sandbox, which plays its own copy of the capture.
    assert main(["run", "--config", str(_config(tmp_path, capture.as_posix(), "whole.toml")), "--db", whole]) == 0
    assert main(["run", "--config", str(_config(tmp_path, "days", "split.toml")), "--db", split]) == 0
    capsys.readouterr()
    expected = _rows(whole, 1)
    assert len(expected["fills"]) >= 4
    assert _rows(split, 1) == expected
    assert _span(split) == _span(whole)


def test_day_files_out_of_time_order_fail_the_replay_with_one_line(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:20")
    days = _day_files(tmp_path, capture)
    (days / "part-1.jsonl.gz").rename(days / "part-3.jsonl.gz")  # the earlier half now sorts last
    config = _config(tmp_path, capture.as_posix(), "config.toml")
    status = main(["replay", str(days), "--config", str(config), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    err = capsys.readouterr().err
    assert status != 0
    lines = [line for line in err.splitlines() if line.startswith("arb: error:")]
    assert len(lines) == 1, err
    assert f"{days / 'part-3.jsonl.gz'}:1: starts at ts {ms('2021-08-20T00:00')}, before {days / 'part-2.jsonl.gz'} ends" \
        in lines[0], lines
