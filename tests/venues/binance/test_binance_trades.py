"""Binance trades into captures: the converter writes every ``trade`` of the symbol (counted here straight from
the raw recording), with the aggressor's side; the live feed reads the same frames the same way."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import orjson
import pytest

from arb.cli import main
from arb.errors import CaptureFormatError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent, CaptureTrade, read_capture
from arb.marketdata.feed_setup import FeedSetup
from arb.marketdata.trades import TradeTape
from arb.venues.binance.convert import ConvertStats, raw_events
from arb.venues.binance.feed import BinanceBookFeed
from arb.venues.binance.markets import MARKETS

DATA = Path(__file__).resolve().parents[2] / "data"
RECORDINGS = {  # market -> recording, unified symbol, Binance's id
    "spot": ("binance-spot-btcusdt-20240808.gz", "BTC/USDT", "BTCUSDT"),
    "usdm": ("binance-usdm-btcusdt-20240808.gz", "BTC/USDT:USDT", "BTCUSDT"),
    "coinm": ("binance-coinm-btcusd_perp-20240808.gz", "BTC/USD:BTC", "BTCUSD_PERP"),
}


@functools.cache
def _lines(key: str) -> list[bytes]:
    return gzip.decompress((DATA / RECORDINGS[key][0]).read_bytes()).splitlines()


def _raw_trades(key: str) -> list[dict[str, object]]:
    """The recording's trade events of the symbol, read directly (not through the converter)."""
    found = []
    for line in _lines(key):
        if b'"e":"trade"' in line:
            data = orjson.loads(line.partition(b" ")[2])["data"]
            if data["s"] == RECORDINGS[key][2]:
                found.append(data)
    return found


@pytest.mark.parametrize("key", RECORDINGS)
def test_every_trade_of_the_symbol_is_converted_with_the_aggressors_side(key: str) -> None:
    _, symbol, _ = RECORDINGS[key]
    stats = ConvertStats()
    lines = list(raw_events(_lines(key), symbol, stats=stats, trades=True))
    trades = [line for line in lines if isinstance(line, CaptureTrade)]
    raw = _raw_trades(key)
    assert len(trades) == stats.trades == len(raw) > 0
    print(f"{key}: {len(trades)} trades")
    # each as Binance sent it: the strings untouched, the id, the trade time; m (the buyer made) -> a seller took
    for trade, data in zip(trades, raw, strict=True):
        assert (trade.price, trade.amount, trade.trade_id, trade.exchange_ts) == (data["p"], data["q"], str(data["t"]),
                                                                                  data["T"])
        assert trade.side == ("sell" if data["m"] else "buy")
        assert (trade.venue, trade.symbol) == (MARKETS[key].ccxt_id, MARKETS[key].unified(symbol))
    # the book events are those of a conversion without trades, to the millisecond
    assert [line for line in lines if isinstance(line, CaptureEvent)] == list(raw_events(_lines(key), symbol))
    assert [line.ts for line in lines] == sorted(line.ts for line in lines)
    assert f"; {len(trades)} trades" in stats.summary()


def test_aggressor_side_on_two_recorded_lines() -> None:
    trades = [t for t in raw_events(_lines("spot"), "BTC/USDT", trades=True) if isinstance(t, CaptureTrade)]
    by_id = {t.trade_id: t for t in trades}
    # 1723161254087896568 {..."t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true...}
    assert by_id["3735683259"] == CaptureTrade(1723161254087, "binance", "BTC/USDT", "61837.63000000", "0.02000000",
                                               "sell", "3735683259", 1723161255342)
    buy = next(data for data in _raw_trades("spot") if data["m"] is False)
    assert by_id[str(buy["t"])].side == "buy" and by_id[str(buy["t"])].price == buy["p"]


def test_a_converted_capture_with_trades_reads_back_strictly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "btc.jsonl.gz"
    assert main(["convert", "binance", str(DATA / RECORDINGS["spot"][0]), "--symbol", "BTC/USDT", "--out", str(out)]) == 0
    count = len(_raw_trades("spot"))
    said = capsys.readouterr().out
    assert f"; {count} trades" in said
    lines = list(read_capture(out, trades=True))
    assert sum(line.type == "trade" for line in lines) == count
    assert list(read_capture(out)) == list(raw_events(_lines("spot"), "BTC/USDT"))  # readers see books only
    assert f"wrote {len(lines)} events" in said


def test_trades_of_another_symbol_are_passed_over_and_a_malformed_one_is_named() -> None:
    lines = list(_lines("spot"))
    at = next(i for i, line in enumerate(lines) if b'"e":"trade"' in line)
    lines.insert(at, lines[at].replace(b'"s":"BTCUSDT"', b'"s":"ETHUSDT"'))
    stats = ConvertStats()
    trades = [t for t in raw_events(lines, "BTC/USDT", stats=stats, trades=True) if isinstance(t, CaptureTrade)]
    assert (len(trades), stats.other_trades) == (len(_raw_trades("spot")), 1)
    assert "(passed over 1 of other symbols)" in stats.summary()
    lines[at] = lines[at + 1].replace(b'"m":true', b'"m":"yes"')
    with pytest.raises(CaptureFormatError, match=rf"^<binance recording>:{at + 1}: a malformed trade: .*'m'"):
        list(raw_events(lines, "BTC/USDT", trades=True))
    list(raw_events(lines, "BTC/USDT"))  # not asked for, trade lines are passed over as before


@pytest.mark.parametrize("key", ["spot", "coinm"])
def test_the_feed_subscribes_to_trades_and_reads_them_as_the_converter_does(key: str) -> None:
    _, symbol, venue_id = RECORDINGS[key]
    tape, got = TradeTape(), []
    tape.add_listener(got.append)
    feed = BinanceBookFeed(BookStore(), [symbol], FeedSetup("binance_main", trades=tape, clock_ms=lambda: 7),
                           market=MARKETS[key])
    mark = "/" + venue_id.lower() + "@markPrice@1s" if MARKETS[key].futures else ""  # a perpetual's funding too
    assert feed.ws_url.endswith(f"streams={venue_id.lower()}@depth@100ms/{venue_id.lower()}@trade{mark}")
    for line in _lines(key):
        if b"lastUpdateId" not in line:
            feed.on_message(line.partition(b" ")[2])
    want = [t for t in raw_events(_lines(key), symbol, "binance_main", trades=True) if isinstance(t, CaptureTrade)]
    assert got == [CaptureTrade(7, t.venue, t.symbol, t.price, t.amount, t.side, t.trade_id, t.exchange_ts)
                   for t in want]
    sent = sum(b"lastUpdateId" not in line for line in _lines(key))
    assert feed.trades == len(got) and feed.applied + feed.trades + feed.ignored + feed.dropped == sent
    # a malformed trade is dropped and counted; it resyncs no book
    feed.on_message(b'{"stream":"x@trade","data":{"e":"trade","s":"%s","t":1,"p":"1","q":"0","m":true}}'
                    % venue_id.encode())
    assert feed.drops.by_venue() == {"binance_main": {"missing_field": 1}} and feed.trades == len(got)


def test_without_a_tape_no_trade_stream_is_asked_for_and_usdm_asks_on_market() -> None:
    spot = BinanceBookFeed(BookStore(), ["BTC/USDT"], FeedSetup("binance"), market=MARKETS["spot"])
    assert spot.ws_url.endswith("streams=btcusdt@depth@100ms") and spot.tape is None
    assert spot.market_streams is None
    usdm = BinanceBookFeed(BookStore(), ["BTC/USDT:USDT"], FeedSetup("binanceusdm", trades=TradeTape()),
                           market=MARKETS["usdm"])
    # served on /market only: the depth connection asks for none, a second one for the trades and the mark
    assert usdm.ws_url.endswith("/public/stream?streams=btcusdt@depth@100ms") and usdm.tape is None
    assert usdm.market_streams is not None
    assert usdm.market_streams.ws_url == ("wss://fstream.binance.com/market/stream?streams="
                                          "btcusdt@trade/btcusdt@markPrice@1s")
