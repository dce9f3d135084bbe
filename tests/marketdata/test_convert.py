"""Converters on real recordings: Binance diff-book rule and Gate's update-id rule, end to end."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from arb.marketdata.book import Health
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureWriter, read_capture
from arb.venues.binance.convert import last_book_ticker as binance_last_book_ticker
from arb.venues.binance.convert import raw_events as binance_raw_events
from arb.venues.gate.convert import gate_ws_sample_events

from .apply_events import apply_events
from .conftest import BINANCE_SPOT, GATE_HTTP, GATE_WS

GATE_PAIRS = {
    "HAI/ETH", "QTUM3S/USDT", "FAST/USDT", "OMG/USDT", "ZKS/ETH",
    "NEO/BTC", "INK/USDT", "DIS/USDT", "BTC/USDC", "NANO/USDT",
}


def _binance_lines() -> list[bytes]:
    return gzip.decompress(BINANCE_SPOT.read_bytes()).splitlines()


def test_binance_spot_replay_ends_on_last_book_ticker(tmp_path: Path) -> None:
    lines = _binance_lines()
    out = tmp_path / "btc.jsonl.gz"
    with CaptureWriter(out) as writer:
        writer.write_all(binance_raw_events(lines, "BTC/USDT"))
    events = list(read_capture(out))  # the strict reader accepts what the converter wrote
    assert events[0].type == "snapshot" and events[0].seq == 50093239218
    assert sum(e.type == "delta" for e in events) == 3449  # 2 diffs were already in the snapshot
    store = BookStore()
    stats = apply_events(events, store)
    assert stats.applied == len(events)
    book = store.book("binance", "BTC/USDT")
    assert book.health(store.now_ms) is Health.LIVE
    ticker = binance_last_book_ticker(lines)
    assert ticker == ("61685.99000000", "61686.00000000")
    assert (book.best_bid(), book.best_ask()) == (Decimal("61685.99"), Decimal("61686.00"))
    assert book.top_arrays(1)[0][0] == 61685.99 and book.top_arrays(1)[2][0] == 61686.0


def test_binance_missing_diff_is_a_gap() -> None:
    lines = _binance_lines()
    diffs = [i for i, line in enumerate(lines) if b"depthUpdate" in line]
    del lines[diffs[1000]]
    store = BookStore()
    apply_events(binance_raw_events(lines, "BTC/USDT"), store)
    assert store.book("binance", "BTC/USDT").health(store.now_ms) is Health.GAP


def _gate_events(ws: list[str] | None = None) -> list:
    ws_lines = ws if ws is not None else GATE_WS.read_text().splitlines()
    return list(gate_ws_sample_events(ws_lines, GATE_HTTP.read_text().splitlines()))


def test_gate_every_pair_rebuilt_from_snapshots_without_gap() -> None:
    events = _gate_events()
    assert {e.symbol for e in events if e.type == "snapshot"} == GATE_PAIRS
    store = BookStore()
    seen_seq: dict[str, int] = {}
    for event in events:
        assert store.apply(event), f"{event.symbol} seq {event.seq} not applied"
        book = store.book("gate", event.symbol)
        assert book.health(event.ts) is Health.LIVE
        if event.type == "delta":
            # the update-id rule: the first diff straddles the snapshot id, then U == last u + 1
            assert event.first_seq is not None and event.seq is not None
            assert event.first_seq <= seen_seq[event.symbol] + 1 <= event.seq
        seen_seq[event.symbol] = event.seq  # type: ignore[assignment]
    assert sum(e.type == "delta" for e in events) >= 150
    for book in store:
        assert book.best_bid() is not None and book.best_ask() is not None
        assert book.best_bid() < book.best_ask()  # type: ignore[operator]


@pytest.mark.parametrize("pair", ["OMG_USDT", "NEO_BTC", "DIS_USDT"])
def test_gate_deleting_one_frame_is_detected_and_book_unusable(pair: str) -> None:
    ws = GATE_WS.read_text().splitlines()
    frames = [i for i, line in enumerate(ws) if '"event":"update"' in line and f'"s":"{pair}"' in line]
    del ws[frames[len(frames) // 2]]
    events = _gate_events(ws)
    store = BookStore()
    apply_events(events, store)
    symbol = pair.replace("_", "/")
    book = store.book("gate", symbol)
    assert book.health(store.now_ms) is Health.GAP
    assert not book.usable(store.now_ms)
    # the other pairs are untouched
    others = [b for b in store if b.symbol != symbol]
    assert all(b.health(b.received_ts or 0) is Health.LIVE for b in others)
