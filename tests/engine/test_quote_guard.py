"""Safety on the run's clock, not on the next book update (#44): a simulated maker run whose feeds all go
silent pulls every resting quote within ``stale_after_ms`` (plus one check interval) of market time, though
no book update comes to trigger it; each cancel stores its reason.

The capture is the Binance maker recording's first 20 s, then nothing but one trade 30 s later (far from
any quote): the feeds are frozen for 30 s of market time while quotes rest."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from arb.cli import main

from .maker_capture import binance_maker_capture, first_seconds, maker_config
from .test_maker_replay import _readme_maker_queries

STALE_AFTER_MS = 2000
CHECK_MS = STALE_AFTER_MS // 4  # the guard's interval: a quarter of stale_after_ms, at most a second


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The capture, and the market time (ms) of its last book event before the silence."""
    directory = tmp_path_factory.mktemp("frozen")
    capture = first_seconds(binance_maker_capture(directory), 20)
    lines = capture.read_text().splitlines()
    last_book = max(json.loads(line)["ts"] for line in lines if json.loads(line)["type"] != "trade")
    last = json.loads(lines[-1])
    lonely = {"ts": last["ts"] + 30_000, "venue": "binance", "symbol": "BTC/USDT", "type": "trade",
              "side": "buy", "price": "1", "amount": "0.001", "id": "frozen-1"}
    capture.write_text("\n".join([*lines, json.dumps(lonely)]) + "\n")
    return capture, last_book


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_frozen_feeds_pull_every_quote_within_stale_after_ms_of_market_time(
        frozen: tuple[Path, int], tmp_path: Path) -> None:
    capture, last_book = frozen
    config = maker_config(tmp_path, capture, levels=2)
    config.write_text(config.read_text().replace('status = "off"', f'status = "off"\nstale_after_ms = {STALE_AFTER_MS}'))
    db = tmp_path / "frozen.db"
    assert main(["run", "--config", str(config), "--db", f"sqlite:///{db}"]) == 0
    with sqlite3.connect(db) as c:
        quotes = c.execute(
            "SELECT o.client_order_id, o.created_at, e.ts, e.detail FROM orders o JOIN order_events e "
            "ON e.order_id = o.id AND e.to_status = 'canceled' WHERE o.purpose = 'quote'").fetchall()
        open_ = c.execute("SELECT count(*) FROM orders WHERE status IN ('open', 'partially_filled')").fetchone()[0]
    assert open_ == 0
    # Every cancel says why (the refresh rule's word, the guard's, the run's stop), and README's query says so.
    assert quotes and all((detail or "").startswith("cancelled: ") for *_, detail in quotes), quotes
    with sqlite3.connect(db) as c:
        by_reason = dict(c.execute(_readme_maker_queries()[1]).fetchall())
    assert by_reason == dict(Counter(detail for *_, detail in quotes)) and by_reason["cancelled: stale"] > 0
    stale = [(coid, _ms(ts)) for coid, _, ts, detail in quotes if detail.startswith("cancelled: stale") and
             _ms(ts) > last_book]
    # Every quote resting when the feeds went silent was pulled for it, without a book update, in time.
    resting_then = [coid for coid, created, ts, _ in quotes if _ms(created) <= last_book < _ms(ts)]
    assert resting_then and sorted(coid for coid, _ in stale) == sorted(resting_then)
    for coid, at in stale:
        assert STALE_AFTER_MS < at - last_book <= STALE_AFTER_MS + CHECK_MS + 50, (coid, at - last_book)
