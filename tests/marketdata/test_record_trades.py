"""`arb record` records trades: the recorder writes what feeds put on the trade tape among the book events, in
one ``ts`` order; a ccxt.pro venue's trades come from ``watch_trades`` (here a hand-written fake exchange);
a Gate sandbox, which serves no ``spot.trades``, still records its books."""

from __future__ import annotations

import asyncio
import random
from itertools import count
from pathlib import Path
from typing import Any

import ccxt

from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureTrade, read_capture
from arb.marketdata.ccxt_feed import CcxtBookFeed
from arb.marketdata.feed_setup import FeedSetup
from arb.marketdata.recorder import record
from arb.marketdata.trades import TradeTape
from arb.venues.gate.feed import GateBookFeed
from arb.venues.gate.sandbox import PairSpec, Sandbox, SandboxConfig

from .test_gate_feed import Sleeps


class FakePro:
    """A ccxt.pro exchange as the feed uses it: each watch returns what a test puts in its queue (an
    exception is raised), and waits while the queue is empty."""

    id = "fakex"
    has = {"watchOrderBook": True, "watchTrades": True}

    def __init__(self) -> None:
        self.books: asyncio.Queue[Any] = asyncio.Queue()
        self.trades: asyncio.Queue[Any] = asyncio.Queue()

    async def watch_order_book(self, symbol: str, limit: int) -> Any:
        return await self.books.get()

    async def watch_trades(self, symbol: str) -> Any:
        item = await self.trades.get()
        if isinstance(item, Exception):
            raise item
        return item


def _unified(trade_id: object, price: object, amount: object, side: object, timestamp: object = None) -> dict[str, Any]:
    return {"id": trade_id, "price": price, "amount": amount, "side": side, "timestamp": timestamp,
            "symbol": "LINK/USDT", "info": {}}


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0)


async def test_a_ccxt_venues_trades_are_recorded_among_its_books(tmp_path: Path) -> None:
    exchange, store, tape, sleeps = FakePro(), BookStore(), TradeTape(), Sleeps()
    clock = count(1_000)
    feed = CcxtBookFeed(store, exchange, ["LINK/USDT"], FeedSetup("fakex", clock_ms=lambda: next(clock),
                                                                  sleep=sleeps, rng=random.Random(0),
                                                                  trades=tape))
    stop = asyncio.Event()
    out = tmp_path / "rec.jsonl"

    async def drive() -> None:
        exchange.trades.put_nowait([_unified("t1", 27.1, 0.5, "buy", 1629417600001)])  # before any book
        await _until(lambda: tape.trades == 1)
        exchange.books.put_nowait({"bids": [[27.095, 10.0]], "asks": [[27.101, 2.0]], "nonce": None})
        await _until(lambda: store.book("fakex", "LINK/USDT").best_bid() is not None)
        exchange.trades.put_nowait(ccxt.NetworkError("connection reset"))  # backs off, books untouched
        exchange.trades.put_nowait([_unified(None, 27.1, 1.0, "sell"),  # no id: dropped, counted
                                    _unified("t2", 27.095, 1e-05, "sell"), _unified("t3", 27.1, 3, None)])
        await _until(lambda: tape.trades == 2 and feed.drops.total() == 2)
        stop.set()

    async with asyncio.timeout(10):
        async with asyncio.timeout(10):
            driver = asyncio.create_task(drive())
            written = await record([feed], store, out, stop=stop, trades=tape)
            await driver
    lines = list(read_capture(out, trades=True))
    assert written == len(lines) == 3
    assert [line.type for line in lines] == ["trade", "snapshot", "trade"]
    assert lines[0] == CaptureTrade(lines[0].ts, "fakex", "LINK/USDT", "27.1", "0.5", "buy", "t1", 1629417600001)
    assert (lines[2].trade_id, lines[2].amount, lines[2].side, lines[2].exchange_ts) == ("t2", "0.00001", "sell", None)
    assert [line.type for line in read_capture(out)] == ["snapshot"]
    assert len(sleeps.delays) == 1 and feed.errors == 0  # the one failed trade watch backed off, no book's
    assert feed.drops.by_venue() == {"fakex": {"missing_field": 2}}


async def test_a_venue_without_trades_records_books_only(tmp_path: Path) -> None:
    exchange, store, tape = FakePro(), BookStore(), TradeTape()
    exchange.has = {"watchOrderBook": True, "watchTrades": False}
    feed = CcxtBookFeed(store, exchange, ["LINK/USDT"], FeedSetup("fakex", trades=tape))
    exchange.books.put_nowait({"bids": [["1", "1"]], "asks": [["2", "1"]]})
    exchange.trades.put_nowait([_unified("never", 1, 1, "buy")])
    out = tmp_path / "books.jsonl"
    assert await record([feed], store, out, duration_s=0.2, trades=tape) == 1
    assert exchange.trades.qsize() == 1  # never watched


async def test_a_gate_sandbox_refusing_spot_trades_still_records_its_books(tmp_path: Path) -> None:
    pair, symbol = "LINK_USDT", "LINK/USDT"
    async with Sandbox(SandboxConfig(pairs=(PairSpec(pair),))) as sandbox:
        sandbox.push_book(pair, [("27.095", "10")], [("27.101", "2")])
        store, tape = BookStore(), TradeTape()
        setup = FeedSetup("gate", rng=random.Random(0), sleep=Sleeps(), trades=tape)
        feed = GateBookFeed(store, [symbol], setup, ws_url=sandbox.ws_url, rest_url=sandbox.rest_url)
        stop = asyncio.Event()
        book = store.book("gate", symbol)

        async def drive() -> None:
            await sandbox.hub.wait_for_book_subscriptions(1)
            sandbox.push_book(pair, [("27.097", "1")], [], kind="delta")  # the first diff: the feed syncs
            await _until(lambda: book.best_bid() is not None and feed.drops.total() >= 1)
            stop.set()

        out = tmp_path / "gate.jsonl"
        async with asyncio.timeout(10):
            driver = asyncio.create_task(drive())
            written = await record([feed], store, out, stop=stop, trades=tape)
            await driver
    lines = list(read_capture(out, trades=True))
    assert written == len(lines) >= 1 and lines[0].type == "snapshot"
    assert not any(line.type == "trade" for line in lines) and tape.trades == 0
    assert feed.drops.by_venue() == {"gate": {"venue_error": 1}}  # the refused subscription, counted once
    assert feed.connections == 1  # the feed went on: no reconnect, no failure
