"""A capture through the same store path as live: gaps in captures, listeners, the bundled capture."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from arb.marketdata.book import Health
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent, CaptureWriter, read_capture

from .apply_events import apply_events


def _ev(ts: int, kind: str, bids=(), asks=(), seq=None, first=None) -> CaptureEvent:  # type: ignore[no-untyped-def]
    return CaptureEvent(ts, "gate", "BTC/USDT", kind, tuple(bids), tuple(asks), None, seq, first)  # type: ignore[arg-type]


EVENTS = [
    _ev(1_000, "snapshot", [("100", "1")], [("101", "1")], seq=10),
    _ev(1_500, "delta", [("100", "2")], [], seq=11, first=11),
    _ev(3_500, "delta", [], [("101", "0"), ("102", "3")], seq=13, first=12),
]


def test_seq_gap_in_a_capture_marks_the_book_gap_until_next_snapshot(tmp_path: Path) -> None:
    events = [
        EVENTS[0],
        _ev(1_100, "delta", [("100", "2")], [], seq=12, first=12),  # 11 is missing
        _ev(1_200, "delta", [("99", "2")], [], seq=13, first=13),
    ]
    store = BookStore(max_age_ms=60_000)
    stats = apply_events(events, store)
    book = store.book("gate", "BTC/USDT")
    assert book.health(store.now_ms) is Health.GAP and stats.applied == 1
    apply_events([_ev(1_300, "snapshot", [("98", "1")], [("99.5", "1")], seq=20)], store)
    assert book.health(store.now_ms) is Health.LIVE


def test_store_listeners_see_every_event_and_can_record_it(tmp_path: Path) -> None:
    store = BookStore()
    out = tmp_path / "rec.jsonl"
    with CaptureWriter(out) as writer:
        store.add_listener(lambda event, _book: writer.write(event))
        store.snapshot("gate", "BTC/USDT", [["100", "1"]], [["101", "1"]], ts=5, seq=1)
        store.delta(store.book("gate", "BTC/USDT"), [["100", "0"]], [], ts=6, seq=2, first_seq=2, exchange_ts=4)
    events = list(read_capture(out))
    assert [e.type for e in events] == ["snapshot", "delta"]
    assert events[1] == CaptureEvent(6, "gate", "BTC/USDT", "delta", (("100", "0"),), (), 4, 2, 2)
    again = BookStore()
    apply_events(events, again)
    assert again.book("gate", "BTC/USDT").levels("bids") == store.book("gate", "BTC/USDT").levels("bids")


def test_bundled_capture_replays_to_live_books() -> None:
    store = BookStore(depth=10, max_age_ms=2_000)
    path = files("arb") / "data" / "linkusdt-binance-huobi-2021-08-20.jsonl.gz"
    stats = apply_events(read_capture(str(path)), store)
    assert stats.events == 14_400
    health = store.health()
    assert health == {("binance", "LINK/USDT"): Health.LIVE, ("huobi", "LINK/USDT"): Health.LIVE}
    bid_px, _, ask_px, _ = store.book("huobi", "LINK/USDT").top_arrays()
    assert len(bid_px) == 10 and bid_px[0] < ask_px[0]
