"""A Binance perpetual's mark price and funding rate recorded as capture funding lines, against a loopback
Binance (``binance_streams.py``): COIN-M serves ``<id>@markPrice@1s`` on the depth connection; USD-M serves it
and the trades under ``/market`` only, so its feed opens a second connection there, reconnected by the same
backoff. A malformed mark-price frame is a counted drop: the feed and its books go on."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from binance_streams import MarketStub, mark_price, trade

from arb.marketdata.book import Health
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureFunding, CaptureTrade, read_capture
from arb.marketdata.feed_setup import FeedSetup
from arb.marketdata.recorder import record
from arb.marketdata.trades import TradeTape
from arb.venues.binance.feed import BinanceBookFeed
from arb.venues.binance.markets import MARKETS

T0 = 1_723_161_600_000
EIGHT_HOURS_MS = 8 * 3600_000
BOOK = ([["2002.95", "10"]], [["2003.05", "10"]])


class Sleeps:
    """Injected sleep: records the backoff delays asked for and only yields."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


@pytest.fixture
async def stubs() -> AsyncIterator[Callable[[str, str], MarketStub]]:
    started: list[MarketStub] = []

    def make(key: str, venue_id: str) -> MarketStub:
        stub = MarketStub(MARKETS[key], venue_id, *BOOK)
        started.append(stub)
        return stub

    yield make
    for stub in started:
        await stub.stop()


async def test_coinm_records_the_mark_price_on_the_depth_connection(
        stubs: Callable[[str, str], MarketStub]) -> None:
    stub = stubs("coinm", "BTCUSD_PERP")
    await stub.start()
    store, tape, got = BookStore(), TradeTape(), []
    tape.add_listener(got.append)
    setup = FeedSetup("binancecoinm", clock_ms=lambda: 7, rng=random.Random(0), sleep=Sleeps(), trades=tape)
    feed = BinanceBookFeed(store, ["BTC/USD:BTC"], setup, market=MARKETS["coinm"], ws_url=stub.ws_url,
                           rest_url=stub.url)
    task = asyncio.create_task(feed.run())
    try:
        await stub.connected("/stream")
        assert stub.streams == {"/stream": ["btcusd_perp@depth@100ms/btcusd_perp@trade/btcusd_perp@markPrice@1s"]}
        assert feed.market_streams is None  # one connection serves all three on COIN-M
        await stub.send("/stream", "markPrice@1s", mark_price("BTCUSD_PERP", "60001.2", "0.00010000", T0, T0 - 5,
                                                              index="60000.9"))
        # malformed: no funding time; a rate the format refuses; another symbol's. Each counted, none a crash.
        no_time = mark_price("BTCUSD_PERP", "60001.3", "0.0001", T0, T0 - 4)
        del no_time["T"]
        await stub.send("/stream", "markPrice@1s", no_time)
        await stub.send("/stream", "markPrice@1s", mark_price("BTCUSD_PERP", "60001.3", "1e-4", T0, T0 - 3))
        await stub.send("/stream", "markPrice@1s", mark_price("ETHUSD_PERP", "2003", "0.0001", T0, T0 - 2))
        await stub.depth(T0 - 2)  # the book syncs alongside
        await stub.send("/stream", "markPrice@1s", mark_price("BTCUSD_PERP", "60001.4", "-0.00002", T0 + EIGHT_HOURS_MS,
                                                              T0 + 1))
        book = store.book("binancecoinm", "BTC/USD:BTC")
        await _until(lambda: tape.funding_lines == 2 and feed.dropped == 3 and book.best_bid() is not None)
        assert book.health(book.received_ts or 0) is Health.LIVE  # no drop resynced it
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert got == [CaptureFunding(7, "binancecoinm", "BTC/USD:BTC", "60001.2", "0.00010000", T0, "60000.9", T0 - 5),
                   CaptureFunding(7, "binancecoinm", "BTC/USD:BTC", "60001.4", "-0.00002", T0 + EIGHT_HOURS_MS, None,
                                  T0 + 1)]
    assert feed.drops.by_venue() == {"binancecoinm": {"missing_field": 2, "unknown_pair": 1}}
    assert (feed.funding, feed.connections, tape.trades) == (2, 1, 0)
    assert sum(feed.counts()["frames"].values()) == 6  # every frame sent, each in one outcome


async def test_usdm_records_trades_and_the_mark_price_from_a_second_connection_that_reconnects(
        stubs: Callable[[str, str], MarketStub], tmp_path: Path) -> None:
    stub = stubs("usdm", "ETHUSDT")
    await stub.start()
    store, tape, sleeps = BookStore(), TradeTape(), Sleeps()
    clock = iter(range(T0, T0 + 10_000))
    feed = BinanceBookFeed(store, ["ETH/USDT"], FeedSetup("binanceusdm", clock_ms=lambda: next(clock),
                                                          rng=random.Random(0), sleep=sleeps, trades=tape),
                           market=MARKETS["usdm"], ws_url=stub.ws_url, rest_url=stub.url)
    market = feed.market_streams
    assert market is not None
    book = store.book("binanceusdm", "ETH/USDT")
    stop = asyncio.Event()

    async def drive() -> None:
        await stub.connected("/stream")
        await stub.connected("/market/stream")
        # the depth connection carries depth only; trades and the mark price are asked for under /market
        assert stub.streams == {"/stream": ["ethusdt@depth@100ms"],
                                "/market/stream": ["ethusdt@trade/ethusdt@markPrice@1s"]}
        await stub.depth(T0)
        await _until(lambda: book.best_bid() is not None)
        await stub.send("/market/stream", "trade", trade("ETHUSDT", 42, "2003.05", "0.5", False, T0 + 1))
        await stub.send("/market/stream", "markPrice@1s", mark_price("ETHUSDT", "2003.00", "0.00010000", T0 + 60_000,
                                                                     T0 + 2, index="2002.80"))
        await stub.send_raw("/market/stream", "{not json")
        no_mark = mark_price("ETHUSDT", "2003", "0.0001", T0 + 60_000, T0 + 3)
        del no_mark["p"]
        await stub.send("/market/stream", "markPrice@1s", no_mark)
        await _until(lambda: tape.funding_lines == 1 and market.dropped == 2)
        # the market connection drops: it alone reconnects, after the feeds' backoff; the book is untouched
        await stub.close("/market/stream")
        await stub.connected("/market/stream", 2)
        await _until(lambda: market.connected.is_set())
        await stub.send("/market/stream", "markPrice@1s", mark_price("ETHUSDT", "2003.10", "0.00010000",
                                                                     T0 + 60_000, T0 + 4, index="2002.90"))
        await stub.depth(T0 + 5)
        await _until(lambda: tape.funding_lines == 2 and feed.applied == 2)
        stop.set()

    out = tmp_path / "usdm.jsonl"
    async with asyncio.timeout(20):
        driver = asyncio.create_task(drive())
        written = await record([feed], store, out, stop=stop, trades=tape)
        await driver
    lines = list(read_capture(out, trades=True))
    assert written == len(lines)
    assert [line.type for line in lines] == ["snapshot", "trade", "funding", "funding", "delta"]
    funding = [line for line in lines if isinstance(line, CaptureFunding)]
    assert [(f.mark, f.rate, f.funding_ts, f.index, f.exchange_ts) for f in funding] == [
        ("2003.00", "0.00010000", T0 + 60_000, "2002.80", T0 + 2), ("2003.10", "0.00010000", T0 + 60_000, "2002.90",
                                                                     T0 + 4)]
    assert all((f.venue, f.symbol) == ("binanceusdm", "ETH/USDT") for f in funding)
    [traded] = [line for line in lines if isinstance(line, CaptureTrade)]
    assert (traded.price, traded.amount, traded.side, traded.trade_id) == ("2003.05", "0.5", "buy", "42")
    # both connections' drops in the one count; the depth connection never reconnected, its book never reset
    assert feed.drops.by_venue() == {"binanceusdm": {"bad_json": 1, "missing_field": 1}}
    assert (feed.connections, market.connections, len(sleeps.delays)) == (1, 2, 1)
    assert (market.trades, market.funding, tape.trades, tape.funding_lines) == (1, 2, 1, 2)
    assert "reset" not in [line.type for line in lines]


def test_a_proxy_or_stub_for_usdm_serves_the_market_streams_beside_public() -> None:
    tape = TradeTape()
    proxied = BinanceBookFeed(BookStore(), ["BTC/USDT:USDT"], FeedSetup("u", trades=tape),
                              market=MARKETS["usdm"], ws_url="wss://proxy.example/public")
    assert proxied.ws_url == "wss://proxy.example/public/stream?streams=btcusdt@depth@100ms"
    assert proxied.market_streams is not None
    assert proxied.market_streams.ws_url.startswith("wss://proxy.example/market/stream?streams=btcusdt@trade/")
    plain = BinanceBookFeed(BookStore(), ["BTC/USDT:USDT"], FeedSetup("u", trades=tape),
                            market=MARKETS["usdm"], ws_url="ws://127.0.0.1:9")
    assert plain.market_streams is not None
    assert plain.market_streams.ws_url.startswith("ws://127.0.0.1:9/market/stream?")
