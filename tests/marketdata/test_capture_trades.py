"""Trades in captures (docs/CAPTURE.md): exact round trips, strict refusals naming file:line, and readers that
yield trades only when asked, while checking every trade line and its place in time either way."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.errors import CaptureFormatError
from arb.marketdata.capture import (
    CaptureEvent,
    CaptureLine,
    CaptureTrade,
    CaptureWriter,
    checked_trade,
    read_capture,
)
from arb.marketdata.timeline import count_lines, read_timeline

from .capture_text import dumps_events

DOCS = Path(__file__).resolve().parents[2] / "docs" / "CAPTURE.md"
SNAP = (b'{"ts":1000,"venue":"binance","symbol":"BTC/USDT","type":"snapshot",'
        b'"bids":[["61837.62","1.5"]],"asks":[["61837.63","0.2"]]}')
TRADE = (b'{"ts":1000,"venue":"binance","symbol":"BTC/USDT","type":"trade","price":"61837.63000000",'
         b'"amount":"0.02000000","side":"sell","id":"3735683259","exchange_ts":1723161255342}')
DELTA = (b'{"ts":1001,"venue":"binance","symbol":"BTC/USDT","type":"delta","seq":7,"first_seq":6,'
         b'"bids":[["61837.62","0"]],"asks":[]}')
BARE = b'{"ts":1002,"venue":"gate","symbol":"DIS/USDT","type":"trade","price":"121.58","amount":"0.201","side":"buy","id":"9"}'


def _write(tmp_path: Path, *lines: bytes, name: str = "c.jsonl") -> Path:
    path = tmp_path / name
    data = b"".join(line + b"\n" for line in lines)
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def test_a_trade_line_reads_as_the_venue_sent_it(tmp_path: Path) -> None:
    lines = list(read_capture(_write(tmp_path, TRADE, SNAP, DELTA, BARE), trades=True))
    assert lines[0] == CaptureTrade(1000, "binance", "BTC/USDT", "61837.63000000", "0.02000000", "sell", "3735683259",
                                    1723161255342)
    assert lines[3] == CaptureTrade(1002, "gate", "DIS/USDT", "121.58", "0.201", "buy", "9")
    assert [line.type for line in lines] == ["trade", "snapshot", "delta", "trade"]  # file order, both kinds
    assert lines[0].to_json() == TRADE and lines[3].to_json() == BARE


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz"])
def test_trades_and_books_round_trip_byte_for_byte(tmp_path: Path, name: str) -> None:
    src = _write(tmp_path, TRADE, SNAP, DELTA, BARE, name="src.jsonl")
    lines = list(read_capture(src, trades=True))
    out = tmp_path / name
    with CaptureWriter(out) as writer:
        writer.write_all(lines)
    raw = gzip.decompress(out.read_bytes()) if name.endswith(".gz") else out.read_bytes()
    assert raw == src.read_bytes() == dumps_events(lines)
    assert list(read_capture(out, trades=True)) == lines


def test_readers_yield_no_trades_unless_asked(tmp_path: Path) -> None:
    path = _write(tmp_path, TRADE, SNAP, DELTA, BARE)
    books = list(read_capture(path))
    assert books == [e for e in read_capture(path, trades=True) if isinstance(e, CaptureEvent)]
    assert [e.type for e in books] == ["snapshot", "delta"]
    assert list(read_timeline(path)) == books
    assert [e.type for e in read_timeline(path, trades=True)] == ["trade", "snapshot", "delta", "trade"]


def test_the_documented_example_reads(tmp_path: Path) -> None:
    text = DOCS.read_text()
    example = text[text.index("## Example"):].split("```")[1].strip().encode().splitlines()
    lines = list(read_capture(_write(tmp_path, *example), trades=True))
    assert [line.type for line in lines] == ["trade", "snapshot", "snapshot", "delta", "trade", "reset"]
    assert dumps_events(lines) == b"".join(line + b"\n" for line in example)  # written in the documented order


BAD_TRADES = [
    (TRADE.replace(b'"61837.63000000"', b'"0"'), "'price' must be a positive plain decimal"),
    (TRADE.replace(b'"61837.63000000"', b'"0.000"'), "'price' must be a positive plain decimal"),
    (TRADE.replace(b'"61837.63000000"', b'"-1"'), "'price' must be a positive plain decimal"),
    (TRADE.replace(b'"61837.63000000"', b'"6.1e4"'), "'price' must be a positive plain decimal"),
    (TRADE.replace(b'"61837.63000000"', b"61837.63"), "'price' must be a positive plain decimal"),
    (TRADE.replace(b'"61837.63000000"', b'"1' + b"0" * 15 + b'"'), "'price' must be a positive plain decimal"),
    (TRADE.replace(b'"0.02000000"', b'" 0.02"'), "'amount' must be a positive plain decimal"),
    (TRADE.replace(b'"0.02000000"', b'"0"'), "'amount' must be a positive plain decimal"),
    (TRADE.replace(b'"sell"', b'"SELL"'), "'side' must be 'buy' or 'sell'"),
    (TRADE.replace(b'"sell"', b'"maker"'), "'side' must be 'buy' or 'sell'"),
    (TRADE.replace(b'"sell"', b'["sell"]'), "'side' must be 'buy' or 'sell'"),
    (TRADE.replace(b',"id":"3735683259"', b""), "missing field(s) of a trade: id"),
    (TRADE.replace(b'"3735683259"', b"3735683259"), "'id' must be a non-empty string"),
    (TRADE.replace(b'"3735683259"', b'""'), "'id' must be a non-empty string"),
    (TRADE.replace(b'"side"', b'"taker":1,"side"'), "unknown field(s) of a trade: taker"),
    (TRADE.replace(b'"side"', b'"seq":1,"side"'), "unknown field(s) of a trade: seq"),
    (TRADE.replace(b'"side"', b'"bids":[],"asks":[],"side"'), "unknown field(s) of a trade: asks, bids"),
    (TRADE.replace(b"1723161255342", b'"1723161255342"'), "'exchange_ts' must be an integer"),
    (TRADE.replace(b'"ts":1000', b'"ts":-1'), "'ts' must be a non-negative integer"),
    (TRADE.replace(b'"ts":1000', b'"ts":999'), "ts 999 is before the previous line's ts 1000"),
    (TRADE.replace(b'"BTC/USDT"', b'"BTCUSDT"'), "BASE/QUOTE"),
    (TRADE.replace(b'"venue":"binance"', b'"venue":""'), "'venue' must be a non-empty string"),
]


@pytest.mark.parametrize("trades", [False, True])
@pytest.mark.parametrize(("line", "problem"), BAD_TRADES)
def test_a_bad_trade_line_names_file_and_line_whether_trades_are_read_or_not(
    tmp_path: Path, line: bytes, problem: str, trades: bool
) -> None:
    path = _write(tmp_path, SNAP, line)
    with pytest.raises(CaptureFormatError) as err:
        list(read_capture(path, trades=trades))
    assert (err.value.source, err.value.line_no) == (str(path), 2)
    assert problem in err.value.problem, err.value.problem
    assert str(err.value).startswith(f"{path}:2: ")
    with pytest.raises(CaptureFormatError, match=re.escape(f"{path}:2: ")):
        list(read_timeline(path, trades=trades))


def test_time_order_spans_both_kinds(tmp_path: Path) -> None:
    later_trade = BARE.replace(b'"ts":1002', b'"ts":1500')
    with pytest.raises(CaptureFormatError, match=r":3: ts 1001 is before the previous line's ts 1500"):
        list(read_capture(_write(tmp_path, SNAP, later_trade, DELTA)))  # the trade is not yielded, yet it counts
    with CaptureWriter(tmp_path / "o.jsonl") as writer:
        writer.write(next(read_capture(_write(tmp_path, later_trade, name="t.jsonl"), trades=True)))
        with pytest.raises(ValueError, match="ts order"):
            writer.write(next(read_capture(_write(tmp_path, SNAP, name="s.jsonl"))))


def test_a_trade_needs_no_snapshot_but_a_delta_still_does(tmp_path: Path) -> None:
    assert len(list(read_capture(_write(tmp_path, BARE), trades=True))) == 1
    with pytest.raises(CaptureFormatError, match=r":2: delta for binance BTC/USDT before any snapshot"):
        list(read_capture(_write(tmp_path, TRADE, DELTA), trades=True))  # a trade is no snapshot


def test_a_timeline_file_may_not_start_with_a_trade_before_the_previous_file_ends(tmp_path: Path) -> None:
    first = _write(tmp_path, SNAP, BARE, name="day-1.jsonl")  # ends with a trade at 1002
    second = _write(tmp_path, TRADE.replace(b'"ts":1000', b'"ts":1001'), name="day-2.jsonl")
    for trades in (False, True):  # the same timeline is valid or not whoever reads it
        with pytest.raises(CaptureFormatError) as err:
            list(read_timeline(tmp_path / "day-*.jsonl", trades=trades))
        assert str(err.value) == (f"{second}:1: starts at ts 1001, before {first} ends (ts 1002): the files of one "
                                  "timeline must follow each other in time, in name order")
    second.write_bytes(TRADE.replace(b'"ts":1000', b'"ts":1002') + b"\n" + DELTA.replace(b"1001", b"1003") + b"\n")
    assert [e.type for e in read_timeline(tmp_path / "day-*.jsonl", trades=True)] == [
        "snapshot", "trade", "trade", "delta"]
    assert [e.type for e in read_timeline(tmp_path / "day-*.jsonl")] == ["snapshot", "delta"]


def test_checked_trade_is_the_readers_rule() -> None:
    trade = checked_trade(5, "gate", "A/B", "1.50", "2", "buy", "x1", None)
    assert trade == CaptureTrade(5, "gate", "A/B", "1.50", "2", "buy", "x1") and trade.type == "trade"
    for bad, problem in ((("0", "2", "buy", "x"), "'price'"), (("1", "2", "bid", "x"), "'side'"),
                         (("1", "2", "buy", ""), "'id'"), (("1", "1e3", "buy", "x"), "'amount'")):
        with pytest.raises(ValueError, match=problem):
            checked_trade(5, "gate", "A/B", *bad)


def test_the_progress_count_leaves_trade_lines_out(tmp_path: Path) -> None:
    assert count_lines(_write(tmp_path, TRADE, SNAP, DELTA, BARE, name="c.jsonl.gz")) == 2
    # a trade's type straddling two 1 MiB chunks is still seen
    pad = b"x" * ((1 << 20) - len(b'{"ts":1000,"venue":"binance","symbol":"BTC/USDT","type":"tr'))
    path = tmp_path / "big.jsonl"
    path.write_bytes(pad + TRADE + b"\n" + SNAP + b"\n")
    assert count_lines(path) == 1


# --------------------------------------------------------------------------- a property

_DECIMALS = st.builds(lambda whole, frac: whole + (f".{frac}" if frac else ""),
                      st.from_regex(r"[0-9]{1,15}", fullmatch=True), st.from_regex(r"[0-9]{0,12}", fullmatch=True)
                      ).filter(lambda text: text.strip("0."))
_IDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
_TRADES = st.builds(CaptureTrade, ts=st.integers(0, 2**40), venue=st.sampled_from(["gate", "binance", "okx"]),
                    symbol=st.sampled_from(["BTC/USDT", "ETH/BTC", "BTC/USD:BTC"]), price=_DECIMALS, amount=_DECIMALS,
                    side=st.sampled_from(["buy", "sell"]), trade_id=_IDS,
                    exchange_ts=st.none() | st.integers(-(2**62), 2**62))


@settings(max_examples=200, deadline=None)
@given(trades=st.lists(_TRADES, max_size=12), at=st.lists(st.integers(0, 12), max_size=4))
def test_any_trades_among_book_events_round_trip_exactly(tmp_path_factory: pytest.TempPathFactory,
                                                         trades: list[CaptureTrade], at: list[int]) -> None:
    """Trades with any plain decimals, ids and times, snapshots put among them: read back as written, and
    written again byte for byte."""
    lines: list[CaptureLine] = sorted(trades, key=lambda t: t.ts)
    for i in sorted(at, reverse=True):
        i = min(i, len(lines))
        ts = lines[i - 1].ts if i else 0
        lines.insert(i, CaptureEvent(ts, "gate", "BTC/USDT", "snapshot", (("1", "1"),), ()))
    data = dumps_events(lines)
    path = tmp_path_factory.mktemp("prop") / "p.jsonl"
    path.write_bytes(data)
    if not lines:  # nothing written: an empty file, which the reader refuses
        with pytest.raises(CaptureFormatError, match=":1: empty"):
            list(read_capture(path, trades=True))
        return
    read = list(read_capture(path, trades=True))
    assert read == lines and dumps_events(read) == data
    assert list(read_capture(path)) == [line for line in lines if line.type != "trade"]
