"""Binance books rebuilt from real recordings (spot, USD-M, COIN-M) agree with Binance's own bookTicker.

Comparable points: a ``bookTicker`` whose update id ``u`` is the final update id of a depth diff the book
applied. The book after that diff is the venue's book at exactly that id; a ticker whose id falls inside a
diff shows an intermediate state the diff stream never shows, so it is not comparable.
"""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from arb.marketdata.book import Health
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent, CaptureWriter, read_capture
from arb.venues.binance.convert import ConvertStats
from arb.venues.binance.convert import raw_events as binance_raw_events

DATA = Path(__file__).resolve().parents[2] / "data"
Top = tuple[tuple[Decimal, Decimal], tuple[Decimal, Decimal]]

# file, symbol asked for, venue and unified symbol it becomes, (used, already in the snapshot) of the updates
MARKETS = {
    "spot": ("binance-spot-btcusdt-20240808.gz", "BTC/USDT", "binance", "BTC/USDT", 3449, 2),
    "usdm": ("binance-usdm-btcusdt-20240808.gz", "BTC/USDT", "binanceusdm", "BTC/USDT:USDT", 2287, 4),
    "coinm": ("binance-coinm-btcusd_perp-20240808.gz", "BTC/USD", "binancecoinm", "BTC/USD:BTC", 4434, 23),
}


def _lines(market: str) -> list[bytes]:
    return gzip.decompress((DATA / MARKETS[market][0]).read_bytes()).splitlines()


def _payload(line: bytes) -> dict:
    return orjson.loads(line.partition(b" ")[2])


def _tickers(lines: list[bytes]) -> list[tuple[int, Top]]:
    out = []
    for line in lines:
        if b"bookTicker" in line:
            d = _payload(line)["data"]
            out.append((d["u"], ((Decimal(d["b"]), Decimal(d["B"])), (Decimal(d["a"]), Decimal(d["A"])))))
    return out


def _replay_tops(events: list[CaptureEvent]) -> tuple[BookStore, dict[int, Top]]:
    """Replay through arb's BookStore; the live book's top after every applied event, by its update id."""
    store = BookStore()
    tops: dict[int, Top] = {}
    for event in events:
        if store.apply(event) and event.seq is not None:
            book = store.book(event.venue, event.symbol)
            if book.usable(store.now_ms):
                tops[event.seq] = (book.levels("bids", 1)[0], book.levels("asks", 1)[0])
    return store, tops


@pytest.mark.parametrize("market", MARKETS)
def test_replayed_book_equals_book_ticker(market: str, tmp_path: Path) -> None:
    _, symbol, venue, unified, used, contained = MARKETS[market]
    lines = _lines(market)
    stats = ConvertStats()
    out = tmp_path / "capture.jsonl.gz"
    with CaptureWriter(out) as writer:
        writer.write_all(binance_raw_events(lines, symbol, stats=stats))
    assert (stats.used, stats.contained, stats.waiting, stats.gaps) == (used, contained, 0, 0), stats.summary()
    events = list(read_capture(out))  # the strict reader takes what the converter wrote
    assert {(e.venue, e.symbol) for e in events} == {(venue, unified)}
    store, tops = _replay_tops(events)
    assert store.book(venue, unified).health(store.now_ms) is Health.LIVE
    comparable = [(top, tops[u]) for u, top in _tickers(lines) if u in tops]
    matching = sum(want == got for want, got in comparable)
    rate = matching / len(comparable)
    print(f"{market}: {matching} of {len(comparable)} comparable bookTicker points match ({rate:.2%})")
    assert len(comparable) >= 150
    assert rate >= 0.995


def _snapshot_line(market: str, ns: int, seq: int, bids: list, asks: list) -> bytes:
    """A REST depth snapshot line in the market's own shape (the shape tells the converter the market)."""
    body: dict = {"lastUpdateId": seq}
    if market != "spot":
        body |= {"E": ns // 1_000_000, "T": ns // 1_000_000}
    if market == "coinm":
        body |= {"symbol": "BTCUSD_PERP", "pair": "BTCUSD"}
    body |= {"bids": [[str(p), str(s)] for p, s in bids], "asks": [[str(p), str(s)] for p, s in asks]}
    return f"{ns} ".encode() + orjson.dumps(body)


@pytest.mark.parametrize("market", MARKETS)
def test_deleted_line_is_a_gap_and_a_later_snapshot_resyncs(market: str) -> None:
    """The recordings hold one snapshot each: a deleted diff leaves the book ``gap`` (never ``live``) to the
    end; a snapshot synthesized from the intact book a few diffs later (as a REST fetch after the gap would
    return) brings it back, to exactly the intact book."""
    _, symbol, venue, unified, _, _ = MARKETS[market]
    lines = _lines(market)
    depth_at = [i for i, line in enumerate(lines) if b"depthUpdate" in line]
    middle = len(depth_at) // 2
    seq = _payload(lines[depth_at[middle + 3]])["data"]["u"]  # the id the synthesized snapshot is taken at
    # The intact book at ``seq`` and at the end. Only those two states are read: copying every level of the
    # book after each of its thousands of events (as this once did) was nearly all of the test's time.
    reference = BookStore()
    at_seq = None
    for event in binance_raw_events(lines, symbol):
        reference.apply(event)
        if event.seq == seq:
            book = reference.book(venue, unified)
            at_seq = (book.levels("bids"), book.levels("asks"))
    assert at_seq is not None, f"no event of the intact recording at update id {seq}"
    final = reference.book(venue, unified)
    intact_end = (final.levels("bids"), final.levels("asks"))
    damaged = lines[:depth_at[middle]] + lines[depth_at[middle] + 1:]

    # 1. only the one snapshot: the gap is detected and the book refuses to be live until the end
    stats = ConvertStats()
    events = list(binance_raw_events(damaged, symbol, stats=stats))
    store = BookStore()
    health = []
    for event in events:
        store.apply(event)
        health.append(store.book(venue, unified).health(event.ts))
    assert stats.gaps == 1 and stats.waiting > 0, stats.summary()
    first_gap = health.index(Health.GAP)
    assert set(health[first_gap:]) == {Health.GAP}

    # 2. a snapshot at the id of the diff 3 after the deleted one, received just after the diff 5 after it
    ns = int(lines[depth_at[middle + 5]].partition(b" ")[0])
    bids, asks = at_seq
    at = depth_at[middle + 5]  # in ``damaged`` this is the line after the diff 5 after the deleted one
    healed = damaged[:at] + [_snapshot_line(market, ns, seq, bids, asks)] + damaged[at:]
    stats = ConvertStats()
    events = list(binance_raw_events(healed, symbol, stats=stats))
    # the diffs from the gap up to ``seq`` were in the new snapshot; every other one was used
    assert (stats.gaps, stats.waiting, stats.snapshots) == (1, 0, 2), stats.summary()
    assert [e.type for e in events].count("snapshot") == 2
    store = BookStore()
    health = []
    for event in events:
        store.apply(event)
        health.append(store.book(venue, unified).health(event.ts))
    first_gap = health.index(Health.GAP)
    assert Health.LIVE in health[first_gap:] and health[-1] is Health.LIVE
    book = store.book(venue, unified)
    assert (book.levels("bids"), book.levels("asks")) == intact_end


def test_coinm_sizes_are_contracts() -> None:
    """COIN-M book sizes stay contracts (as ccxt's unified books have them); base_amount converts."""
    from arb.venues.binance import COINM, base_amount

    assert COINM.contract_size("BTC") == Decimal(100)
    assert base_amount(COINM, "BTC", Decimal(35), Decimal("61804.7")) == Decimal(3500) / Decimal("61804.7")


@pytest.mark.parametrize(("symbol", "market", "problem"), [
    ("BTC/USDT", "coinm", "not of BTC/USDT:BTC"),
    ("BTC/USD:USD", "coinm", "does not settle in BTC"),
])
def test_a_symbol_or_market_the_recording_is_not_is_an_error(symbol: str, market: str, problem: str) -> None:
    from arb.errors import CaptureFormatError, UsageError

    with pytest.raises((CaptureFormatError, UsageError), match=problem):
        list(binance_raw_events(_lines("coinm"), symbol, market=market, source="cm.gz"))


def test_a_line_of_another_market_is_an_error() -> None:
    from arb.errors import CaptureFormatError

    mixed = _lines("usdm")[:60] + _lines("coinm")[:60]
    with pytest.raises(CaptureFormatError, match="COIN-M futures depth update in a USD-M futures recording"):
        list(binance_raw_events(mixed, "BTC/USDT", source="mixed.gz"))
