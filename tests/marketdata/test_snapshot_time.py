"""A snapshot the venue sent without its time takes one from the first diff on it (``capture/snapshot_time.py``):
the rule on hand-built streams, the converters on every Binance recording in ``tests/data`` (each book's
events in the recorder's order on its venue's clock as a replay reads it), and ``arb record``."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest

from arb.cli import main
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent, CaptureLine, CaptureTrade, SnapshotTimes, read_capture
from arb.marketdata.recorder import record
from arb.marketdata.timeline import read_timeline
from arb.marketdata.trades import TradeTape
from arb.runtime.feed_latency import feed_clocks
from arb.venues.binance.markets import SPOT
from arb.venues.binance.sync import book_sync, on_depth_snapshot, on_depth_update
from arb.venues.binance.trades import trade_of

from .conftest import BINANCE_COINM, BINANCE_SPOT, BINANCE_USDM, DATA

BTC = ("binance", "BTC/USDT")


def snap(ts: int, exchange_ts: int | None = None, key: tuple[str, str] = BTC) -> CaptureEvent:
    return CaptureEvent(ts, *key, "snapshot", (("100", "1"),), (("101", "1"),), exchange_ts, seq=10)


def delta(ts: int, exchange_ts: int | None, key: tuple[str, str] = BTC, kind: str = "delta") -> CaptureEvent:
    levels = (("100", "0"),) if kind == "delta" else ()
    return CaptureEvent(ts, *key, kind, levels, (), exchange_ts)  # type: ignore[arg-type]


def trade(ts: int, key: tuple[str, str] = BTC) -> CaptureTrade:
    return CaptureTrade(ts, *key, "100.5", "0.1", "buy", str(ts), ts + 1000)


def through(lines: list[CaptureLine], hold_ms: int = 5_000) -> tuple[list[CaptureLine], list[int]]:
    """The lines out of :class:`SnapshotTimes`, and how many had come out after each line went in."""
    times, out, counts = SnapshotTimes(hold_ms), [], []
    for line in lines:
        out += times.push(line)
        counts.append(len(out))
    out += times.flush()
    return out, counts


ETH = ("binance", "ETH/USDT")
CASES = {
    # (lines in, the snapshot's exchange time out, lines out after each line went in)
    "diff received with it (synced from the buffer): 1 ms before":
        ([snap(200), delta(200, 1408)], 1407, [0, 2]),
    "diff received 84 ms later: as late as the diff travelled":
        ([snap(152), trade(180), delta(236, 1508)], 1424, [0, 0, 3]),
    "diff received later but stamped earlier: still 1 ms before":
        ([snap(152), delta(236, 1000)], 916, [0, 2]),
    "the venue stamped it: as it is": ([snap(200, 1300), delta(200, 1408)], 1300, [1, 2]),
    "a diff without exchange time: none": ([snap(200), delta(300, None)], None, [0, 2]),
    "a reset first: none": ([snap(200), delta(250, None, kind="reset"), delta(300, 1400)], None, [0, 2, 3]),
    "another book's lines wait in their place": (
        [trade(190, ETH), snap(200), delta(210, 999, ETH), trade(220), delta(300, 1400)], 1300, [1, 1, 1, 1, 5]),
    "no diff within the hold: none, and what waited goes on": (
        [snap(200), trade(300), delta(5_201, 5_000, ETH), delta(5_300, 6_000)], None, [0, 0, 3, 4]),
    "no diff before the end: none": ([snap(200), trade(300)], None, [0, 0]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_snapshot_without_exchange_time_takes_one_from_its_first_diff(case: str) -> None:
    lines, when, counts = CASES[case]
    out, released = through(lines)
    [snapshot] = [e for e in out if e.type == "snapshot"]
    assert snapshot.exchange_ts == when
    # Nothing else changes, nothing is lost, and the order is the order the lines came in.
    assert [(e.ts, e.venue, e.type) for e in out] == [(e.ts, e.venue, e.type) for e in lines]
    assert [e for e in out if e.type != "snapshot"] == [e for e in lines if e.type != "snapshot"]
    assert released == counts


def test_the_rule_never_places_a_snapshot_at_or_after_its_diff_nor_faster_than_it() -> None:
    for snap_ts, diff_ts, diff_ex in [(200, 200, 1408), (152, 236, 1508), (100, 5_000, 2_000), (7, 7, 7)]:
        [snapshot, diff], _ = through([snap(snap_ts), delta(diff_ts, diff_ex)], hold_ms=10_000)
        assert snapshot.exchange_ts is not None and snapshot.exchange_ts < diff_ex
        assert snapshot.ts - snapshot.exchange_ts >= diff.ts - diff_ex  # the clock offset is not lowered


RECORDINGS = [(BINANCE_SPOT, "BTC/USDT"), (DATA / "binance-spot-ethusdt-20240808.gz", "ETH/USDT"),
              (BINANCE_USDM, "BTC/USDT:USDT"), (BINANCE_COINM, "BTC/USD:BTC")]


@pytest.mark.parametrize(("raw", "symbol"), RECORDINGS, ids=lambda v: v.name if isinstance(v, Path) else v)
def test_a_converted_recording_keeps_its_books_in_the_recorders_order_at_the_venue(
        raw: Path, symbol: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every book event carries an exchange time, and on the venue's clock as a replay places them (feed
    latency read from the data) each book's events come in the order the recorder received them. Before, the
    BTC and ETH spot snapshots had none: BTC's was placed 72 ms after the diff it is synced against (which it
    then overwrote at the venue), ETH's left spot's feed latency unread."""
    out = tmp_path / "capture.jsonl"
    assert main(["convert", "binance", str(raw), "--symbol", symbol, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    spot = "spot" in raw.name
    assert ("1 snapshot without exchange time timed by the first diff on it" in said) == spot, said
    lines = list(read_timeline(out, trades=True))
    books = [e for e in lines if isinstance(e, CaptureEvent)]
    assert books and all(e.exchange_ts is not None for e in books if e.type in ("snapshot", "delta"))
    venue, unified = books[0].venue, books[0].symbol
    clock = feed_clocks(out, {(venue, unified): "v"}, {"v": None})["v"]
    assert clock.offset_ms is not None  # read from the data
    at_venue = [clock.times(e)[0] for e in books if e.type in ("snapshot", "delta")]
    assert at_venue == sorted(at_venue)
    if spot:  # the snapshot comes just before its first diff at the venue, as it did there
        first = next(i for i, e in enumerate(books) if e.type == "snapshot")
        assert at_venue[first] < at_venue[first + 1]


class RecordedBinanceSpot:
    """The first lines of the ETH spot recording played through Binance's own sync code into a store and
    trade tape, as the live feed would (its snapshot comes before the diff it is synced against)."""

    venue = "binance"

    def __init__(self, store: BookStore, tape: TradeTape, lines: int = 40) -> None:
        self.store, self.tape, self.lines = store, tape, lines

    async def run(self) -> None:
        sync = book_sync(self.store, SPOT, "binance", "ETH/USDT")
        raw = gzip.decompress((DATA / "binance-spot-ethusdt-20240808.gz").read_bytes()).splitlines()
        for line in raw[:self.lines]:
            ns, _, payload = line.partition(b" ")
            ts, msg = int(ns) // 1_000_000, json.loads(payload)
            data = msg.get("data", msg)
            if "lastUpdateId" in msg:
                on_depth_snapshot(sync, msg, ts)
            elif data.get("e") == "depthUpdate":
                on_depth_update(sync, data, ts, futures=False)
            elif data.get("e") == "trade":
                self.tape.trade(trade_of(data, ts, "binance", "ETH/USDT"))
            await asyncio.sleep(0)
        await asyncio.Event().wait()


async def test_record_writes_a_spot_snapshot_with_the_time_of_its_first_diff(tmp_path: Path) -> None:
    store, tape = BookStore(), TradeTape()
    out = tmp_path / "rec.jsonl"
    count = await record([RecordedBinanceSpot(store, tape)], store, out, duration_s=0.5, trades=tape)
    lines = list(read_timeline(out, trades=True))
    assert count == len(lines) > 3
    books = [e for e in lines if isinstance(e, CaptureEvent)]
    assert books[0].type == "snapshot" and books[1].type == "delta"
    assert books[0].exchange_ts == books[1].exchange_ts - (books[1].ts - books[0].ts)  # 84 ms apart: as late
    assert [e.ts for e in lines] == sorted(e.ts for e in lines)
    assert list(read_capture(out)) == books
