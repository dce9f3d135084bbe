"""A simulation with no feed latency delivers an instant line by line as it is read, while no order rests on any
venue (``runtime/feeds.market_source``), instead of reading the whole instant first: the rows are the ones the
instant read in full gives, on a taker config that trades and on a maker config whose quotes rest for part of
the run (its instants with a quote resting go the batched way, the others line by line)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from arb.config import load_config
from arb.engine import Engine
from arb.venues.sim.matching import Matcher

from .helpers import config_with, trimmed_capture
from .maker_capture import LATENCY_MS, binance_maker_capture, first_seconds, maker_config
from .test_simulation import _rows


def _replays(config_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
             ) -> tuple[dict[str, list[tuple[object, ...]]], dict[str, list[tuple[object, ...]]], Counter[bool]]:
    """The rows of a replay as the market source delivers it, then with every instant read in full first (each
    venue saying an order rests, always), and what the first replay's venues said at each instant's start."""
    rests = Matcher.rests
    said: Counter[bool] = Counter()

    def counted(matcher: Matcher) -> bool:
        answer = rests(matcher)
        said[answer] += 1
        return answer

    config = load_config(config_path)
    rows = []
    for rule in (counted, lambda matcher: True):
        monkeypatch.setattr(Matcher, "rests", rule)
        db = f"sqlite:///{tmp_path / f'run-{len(rows)}.db'}"
        result = Engine(config, db_url=db, mode="replay", force_paper=True, install_signal_handlers=False).main()
        rows.append(_rows(db, result.run_id))
    return rows[0], rows[1], said


def test_a_taker_replay_delivered_line_by_line_writes_the_rows_of_whole_instants(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:10")
    config = config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"'})
    streamed, whole, said = _replays(config, tmp_path, monkeypatch)
    assert said[False] > 100, said  # instants delivered line by line (an IOC never rests)
    assert len(streamed["fills"]) >= 4, streamed["fills"]  # it traded: something to compare
    for table in streamed:
        assert streamed[table] == whole[table], table


def test_a_maker_replay_delivered_line_by_line_while_no_quote_rests_writes_the_same_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = first_seconds(binance_maker_capture(tmp_path), 150)
    config = maker_config(tmp_path, capture)
    config.write_text(config.read_text().replace(f"feed_latency_ms = {LATENCY_MS}", "feed_latency_ms = 0"))
    streamed, whole, said = _replays(config, tmp_path, monkeypatch)
    assert said[True] > 0 and said[False] > 0, said  # both ways, in one run
    assert len(streamed["fills"]) >= 10, streamed["fills"]
    for table in streamed:
        assert streamed[table] == whole[table], table
