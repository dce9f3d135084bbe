"""ccxt feeds (watch and REST polling) against the sandbox, the watchdog, the recorder, the CLI."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import ccxt.pro as ccxt_pro
import pytest

from arb.cli import main
from arb.marketdata.book import Health, OrderBook
from arb.marketdata.books import BookStore
from arb.marketdata.capture import read_capture
from arb.marketdata.ccxt_feed import CcxtBookFeed, decimal_str
from arb.marketdata.feed_setup import FeedSetup
from arb.marketdata.recorder import record
from arb.marketdata.watchdog import check_once, run_watchdog
from arb.venues.gate.feed import GateBookFeed
from arb.venues.gate.sandbox import PairSpec, Sandbox, SandboxConfig

from .apply_events import apply_events
from .conftest import BINANCE_SPOT, GATE_HTTP, GATE_WS
from .test_gate_feed import Sleeps, Waiter

D = Decimal
PAIR, SYMBOL = "LINK_USDT", "LINK/USDT"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxConfig(pairs=(PairSpec(PAIR),))) as sb:
        sb.push_book(PAIR, [("27.095", "10"), ("27.09", "20")], [("27.101", "2"), ("27.105", "3")])
        yield sb


def _gate_pro(sb: Sandbox) -> ccxt_pro.gate:
    exchange = ccxt_pro.gate({"enableRateLimit": False})
    for access in ("public", "private"):
        for section in exchange.urls["api"][access]:
            exchange.urls["api"][access][section] = sb.rest_url
    exchange.urls["api"]["spot"] = sb.ws_url
    exchange.options["unifiedAccount"] = False
    exchange.options["fetchMarkets"] = {"types": ["spot"]}
    return exchange


@pytest.mark.parametrize("streaming", [True, False])
async def test_ccxt_feed_watch_and_polling_fallback(sandbox: Sandbox, streaming: bool) -> None:
    exchange = _gate_pro(sandbox)
    if not streaming:
        exchange.has["watchOrderBook"] = False  # a venue without WebSocket books: REST polling
    store = BookStore()
    waiter = Waiter(store)
    sleeps = Sleeps()
    feed = CcxtBookFeed(store, exchange, [SYMBOL], FeedSetup("gate", sleep=sleeps, rng=random.Random(0)),
                        limit=5)
    assert feed.streaming is streaming
    task = asyncio.create_task(feed.run())
    book = store.book("gate", SYMBOL)
    try:
        await waiter.until(lambda: book.best_bid() == D("27.095"), timeout=10)
        assert book.levels("asks") == [(D("27.101"), D(2)), (D("27.105"), D(3))]
        assert book.health(book.received_ts or 0) is Health.LIVE
        sandbox.push_book(PAIR, [("27.097", "1")], [], kind="delta")
        await waiter.until(lambda: book.best_bid() == D("27.097"), timeout=10)
        if not streaming:
            assert sleeps.delays and set(sleeps.delays) == {1.0}  # the poll interval
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await exchange.close()


def test_decimal_str_never_writes_exponents() -> None:
    assert [decimal_str(v) for v in (1e-05, 61685.99, 100.0, 3, 0.1 + 0.2)] == [
        "0.00001", "61685.99", "100", "3", "0.30000000000000004",
    ]


async def test_watchdog_marks_silent_books_and_asks_to_resubscribe() -> None:
    store = BookStore(max_age_ms=5_000)
    store.snapshot("gate", "A/B", [["1", "1"]], [["2", "1"]], ts=1_000)
    store.snapshot("binance", "A/B", [["1", "1"]], [["2", "1"]], ts=4_000)
    seen: list[OrderBook] = []
    assert await check_once(store, 6_000, seen.append) == []
    stale = await check_once(store, 6_001, seen.append)
    assert [b.venue for b in stale] == ["gate"] and seen == stale
    # the loop form on an injected clock and sleep
    now = iter([9_000, 20_000])
    calls: list[str] = []

    async def on_stale(book: OrderBook) -> None:
        calls.append(book.venue)

    class Stop(Exception):
        pass

    ticks = 0

    async def sleep(_s: float) -> None:
        nonlocal ticks
        ticks += 1
        if ticks == 2:
            raise Stop

    with pytest.raises(Stop):
        await run_watchdog(store, on_stale, clock_ms=lambda: next(now), sleep=sleep)
    assert calls == ["gate", "gate", "binance"]


async def test_record_from_sandbox_then_replay_gives_identical_books(sandbox: Sandbox, tmp_path: Path) -> None:
    store = BookStore()
    feed = GateBookFeed(store, [SYMBOL], FeedSetup("gate", rng=random.Random(0), sleep=Sleeps()),
                        ws_url=sandbox.ws_url, rest_url=sandbox.rest_url)
    stop = asyncio.Event()
    book = store.book("gate", SYMBOL)
    snapshots: list[tuple[object, ...]] = []

    async def drive() -> None:
        await sandbox.hub.wait_for_book_subscriptions(1)
        changed = asyncio.Event()
        store.add_listener(lambda _e, _b: changed.set())
        for i in range(20):
            sandbox.push_book(PAIR, [(f"27.{100 + i}", str(i + 1))], [(f"27.{300 - i}", "1")], kind="delta")
            while book.seq is None or book.best_bid() != D(f"27.{100 + i}"):
                changed.clear()
                await changed.wait()
        snapshots.append((book.levels("bids"), book.levels("asks"), book.seq))
        stop.set()

    out = tmp_path / "rec.jsonl.gz"
    async with asyncio.timeout(10):
        driver = asyncio.create_task(drive())
        count = await record([feed], store, out, stop=stop)
        await driver
    events = list(read_capture(out))
    assert count == len(events) >= 20
    replayed = BookStore()
    apply_events(events, replayed)
    again = replayed.book("gate", SYMBOL)
    assert (again.levels("bids"), again.levels("asks"), again.seq) == snapshots[0]


def test_cli_convert_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "btc.jsonl.gz"
    assert main(["convert", "binance", str(BINANCE_SPOT), "--symbol", "BTC/USDT", "--out", str(out)]) == 0
    store = BookStore()
    apply_events(read_capture(out), store)
    assert store.book("binance", "BTC/USDT").best_bid() == D("61685.99")
    gate_out = tmp_path / "gate.jsonl"
    assert main(["convert", "gate", str(GATE_WS), str(GATE_HTTP), "--out", str(gate_out)]) == 0
    assert len(list(read_capture(gate_out))) == 169  # book events; the file holds the recording's 9 trades too
    assert len(list(read_capture(gate_out, trades=True))) == 178
    assert "wrote 178 events" in capsys.readouterr().out.splitlines()[-1]


def test_cli_record_refuses_unknown_venue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["record", "--venues", "nosuchvenue", "--symbols", "BTC/USDT", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "unknown venue 'nosuchvenue': not a ccxt exchange id" in capsys.readouterr().err
