"""Our Binance book feed against a loopback Binance playing the real recordings (spot, USD-M, COIN-M).

The stub serves the recording's frames, as recorded, on ``/stream`` (depth updates, book tickers, trades)
and depth snapshots on the market's REST path: the recorded snapshot first, then, as Binance would, the
book as of the last update it has sent (rebuilt from the intact recording by the converter). It holds the
stream where the recording received its snapshot (and where a test's resync happens) until the feed's book
is live again, so what follows is applied live, not replayed from the feed's buffer. The feed's book is
checked against Binance's own ``bookTicker`` at every comparable update id (see
``test_binance_book_sync.py``) and, at the end, level for level against the converter's book.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from arb.marketdata.book import Health, OrderBook
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent
from arb.marketdata.feed_setup import FeedSetup
from arb.venues.binance.convert import ConvertStats, raw_events
from arb.venues.binance.feed import HOSTS, BinanceBookFeed, snapshot_limit
from arb.venues.binance.markets import MARKETS, BinanceMarket

DATA = Path(__file__).resolve().parents[2] / "data"
VENUE = "binance_main"  # the configured name: books live under it, whatever the market
Top = tuple[tuple[Decimal, Decimal], tuple[Decimal, Decimal]]
Frame = tuple[bytes, int | None]  # a frame's payload and, for a depth update, its final update id ``u``

# market -> recording, unified symbol, the stream name the feed must ask for
RECORDINGS = {
    "spot": ("binance-spot-btcusdt-20240808.gz", "BTC/USDT", "btcusdt@depth@100ms"),
    "usdm": ("binance-usdm-btcusdt-20240808.gz", "BTC/USDT:USDT", "btcusdt@depth@100ms"),
    "coinm": ("binance-coinm-btcusd_perp-20240808.gz", "BTC/USD:BTC", "btcusd_perp@depth@100ms"),
}


@dataclass
class Recording:
    market: BinanceMarket
    symbol: str
    stream: str
    frames: list[Frame]  # every stream frame as recorded, up to the last depth update
    snapshot: bytes  # the recorded REST snapshot body
    snapshot_frame: int  # how many frames the recording received before it
    events: list[CaptureEvent]  # the intact recording through the converter (our sync, offline)
    converted: tuple[int, int]  # the depth updates the converter used, and found already in a snapshot
    tickers: list[tuple[int, Top]]  # Binance's bookTicker: (update id, top)

    def book_at(self, seq: int) -> OrderBook:
        """The venue's book as of update id ``seq`` (the converter's, replayed up to there)."""
        store = BookStore()
        for event in self.events:
            if event.seq is not None and event.seq > seq:
                break
            store.apply(event)
        return store.book(VENUE, self.symbol)

    def snapshot_at(self, seq: int) -> bytes:
        """A REST depth body of the book as of ``seq``, in the market's shape."""
        book = self.book_at(seq)
        body: dict[str, object] = {"lastUpdateId": book.seq}
        if self.market.futures:
            body |= {"E": 1723161300000, "T": 1723161300000}
        for side in ("bids", "asks"):
            body[side] = [[format(price, "f"), format(size, "f")] for price, size in book.levels(side)]
        return orjson.dumps(body)


@functools.cache
def recording(key: str) -> Recording:
    name, symbol, stream = RECORDINGS[key]
    lines = gzip.decompress((DATA / name).read_bytes()).splitlines()
    frames: list[Frame] = []
    tickers: list[tuple[int, Top]] = []
    snapshot, snapshot_frame = b"", 0
    for line in lines:
        payload = line.partition(b" ")[2]
        msg = orjson.loads(payload)
        if "lastUpdateId" in msg:
            snapshot, snapshot_frame = payload, len(frames)
            continue
        data = msg["data"]
        frames.append((payload, data["u"] if data.get("e") == "depthUpdate" else None))
        if msg["stream"].endswith("@bookTicker"):
            top = ((Decimal(data["b"]), Decimal(data["B"])), (Decimal(data["a"]), Decimal(data["A"])))
            tickers.append((data["u"], top))
    last_depth = max(i for i, (_, u) in enumerate(frames) if u is not None)
    stats = ConvertStats()
    events = list(raw_events(lines, symbol, VENUE, market=key, stats=stats))
    return Recording(MARKETS[key], symbol, stream, frames[:last_depth + 1], snapshot, snapshot_frame, events,
                     (stats.used, stats.contained), tickers)


@dataclass
class BinanceStub:
    """A loopback Binance for one market: ``/stream`` plays ``frames`` to every connection (awaiting
    ``hold(i)`` before frame ``i``), the market's depth path answers with ``snapshot(number of earlier
    requests, last depth update id sent)``."""

    market: BinanceMarket
    frames: list[Frame]
    snapshot: Callable[[int, int], bytes]
    hold: Callable[[int], Awaitable[None]]
    streams: list[str] = field(default_factory=list)  # the ``streams`` each connection asked for
    depth_queries: list[dict[str, str]] = field(default_factory=list)
    sent_u: int = 0
    server: TestServer | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/stream", self._stream)
        app.router.add_get(HOSTS[self.market.key].depth, self._depth)
        self.server = TestServer(app)
        await self.server.start_server()

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.streams.append(request.query.get("streams", ""))
        for i, (payload, u) in enumerate(self.frames):
            await self.hold(i)
            if u is not None:  # before sending: a snapshot is never older than what the client may hold
                self.sent_u = u
            await ws.send_str(payload.decode())
        async for _ in ws:  # keep the connection open until the client leaves
            pass
        return ws

    async def _depth(self, request: web.Request) -> web.Response:
        self.depth_queries.append(dict(request.query))
        body = self.snapshot(len(self.depth_queries) - 1, self.sent_u)
        return web.Response(body=body, content_type="application/json")


async def _noop_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


class Watch:
    """Every store event, the book's health after it, and its top after each usable update (by update id);
    wakes waiters on every event instead of sleeping."""

    def __init__(self, store: BookStore, symbol: str) -> None:
        self.book = store.book(VENUE, symbol)
        self.events: list[tuple[str, Health]] = []
        self.tops: dict[int, Top] = {}
        self.changed = asyncio.Event()
        store.add_listener(self._on_event)

    def _on_event(self, event: CaptureEvent, book: OrderBook) -> None:
        if book is not self.book:
            return
        now = book.received_ts or event.ts
        self.events.append((event.type, book.health(now)))
        if event.seq is not None and book.usable(now):
            self.tops[event.seq] = (book.levels("bids", 1)[0], book.levels("asks", 1)[0])
        self.changed.set()

    async def until(self, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@dataclass
class Running:
    stub: BinanceStub
    feed: BinanceBookFeed
    watch: Watch
    task: asyncio.Task[None]


Holds = Mapping[int, Callable[[Running], bool]]  # frame index -> what must be true before it is sent
Start = Callable[[Recording, Iterable[Frame], Holds], Awaitable[Running]]


def live(run: Running) -> bool:
    book = run.watch.book
    return book.health(book.received_ts or 0) is Health.LIVE


@pytest.fixture
async def run_feed() -> AsyncIterator[Start]:
    """Start a stub playing ``frames`` and a feed connected to it; both are stopped after the test."""
    started: list[Running] = []

    async def start(rec: Recording, frames: Iterable[Frame], holds: Holds) -> Running:
        async def hold(i: int) -> None:
            if i in holds:
                await running.watch.until(lambda: holds[i](running))

        def snapshot(earlier: int, sent_u: int) -> bytes:
            return rec.snapshot if earlier == 0 else rec.snapshot_at(sent_u)

        stub = BinanceStub(rec.market, list(frames), snapshot, hold)
        await stub.start()
        store = BookStore()
        watch = Watch(store, rec.symbol)
        feed = BinanceBookFeed(store, [rec.symbol], FeedSetup(VENUE, rng=random.Random(1), sleep=_noop_sleep),
                               market=rec.market, ws_url=stub.url, rest_url=stub.url)
        running = Running(stub, feed, watch, asyncio.create_task(feed.run()))
        started.append(running)
        return running

    yield start
    for running in started:
        running.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running.task
        assert running.stub.server is not None
        await running.stub.server.close()


def _levels(book: OrderBook) -> tuple[object, object]:
    return book.levels("bids"), book.levels("asks")


def _final(rec: Recording) -> OrderBook:
    return rec.book_at(rec.events[-1].seq or 0)


def _live_at(book: OrderBook, seq: int | None) -> Callable[[], bool]:
    return lambda: book.seq == seq and book.health(book.received_ts or 0) is Health.LIVE


@pytest.mark.parametrize("key", RECORDINGS)
async def test_feed_plays_a_recording_to_binances_own_book(key: str, run_feed: Start) -> None:
    rec = recording(key)
    run = await run_feed(rec, rec.frames, {rec.snapshot_frame: live})
    final = _final(rec)
    book = run.watch.book
    await run.watch.until(_live_at(book, final.seq))
    feed, sync = run.feed, run.feed.syncs[rec.market.venue_id(rec.symbol)]

    # what it asked Binance for: one combined depth stream, snapshots of its id at a depth Binance serves
    assert run.stub.streams == [rec.stream]
    assert run.stub.depth_queries == [{"symbol": rec.market.venue_id(rec.symbol), "limit": "1000"}]
    # every frame accounted for: depth updates applied, tickers and trades ignored, nothing dropped
    depth = sum(u is not None for _, u in rec.frames)
    assert feed.counts()["frames"] == {"applied": depth, "trade": 0, "funding": 0, "ignored": len(rec.frames) - depth,
                                       "dropped": 0}
    assert (sync.gaps, feed.snapshots_fetched, feed.connections) == (0, 1, 1)
    assert (sync.applied, sync.contained) == rec.converted  # live, the very diffs the offline conversion used
    assert all(health is Health.LIVE for _, health in run.watch.events)

    # Binance's own top of book at every ticker id our book passed through, and the whole book at the end
    comparable = [(top, run.watch.tops[u]) for u, top in rec.tickers if u in run.watch.tops]
    matching = sum(want == got for want, got in comparable)
    print(f"{key}: {matching} of {len(comparable)} comparable bookTicker points match")
    assert len(comparable) >= 150 and matching / len(comparable) >= 0.995
    assert _levels(book) == _levels(final)


@pytest.mark.parametrize("key", ["spot", "usdm"])
async def test_a_lost_depth_update_is_a_gap_and_a_fresh_snapshot_resyncs(key: str, run_feed: Start) -> None:
    """A depth update deleted halfway: the next one shows the gap, the book is unusable (never silently
    wrong) until a fresh snapshot lines up, and the second half of the stream then applies live on it."""
    rec = recording(key)
    depth_at = [i for i, (_, u) in enumerate(rec.frames) if u is not None]
    lost = depth_at[len(depth_at) // 2]
    damaged = rec.frames[:lost] + rec.frames[lost + 1:]
    reveals = next(i for i in range(lost, len(damaged)) if damaged[i][1] is not None)

    def resynced(run: Running) -> bool:
        return run.feed.syncs[rec.market.venue_id(rec.symbol)].gaps == 1 and live(run)

    run = await run_feed(rec, damaged, {rec.snapshot_frame: live, reveals + 1: resynced})
    final = _final(rec)
    book = run.watch.book
    await run.watch.until(_live_at(book, final.seq))

    assert run.feed.snapshots_fetched == 2 and run.feed.dropped == 0 and run.feed.connections == 1
    assert len(run.stub.depth_queries) == 2
    # listeners saw the book go unusable (spot: the delta that did not chain; futures: a gap event) ...
    kinds = [kind for kind, _ in run.watch.events]
    health = [health for _, health in run.watch.events]
    first_gap = health.index(Health.GAP)
    assert set(health[:first_gap]) == {Health.LIVE} and kinds[first_gap] == ("gap" if rec.market.futures else "delta")
    # ... until the second snapshot, after which the rest of the stream applied live, to Binance's book
    assert kinds.index("snapshot", first_gap) == first_gap + 1 and set(health[first_gap + 1:]) == {Health.LIVE}
    assert len(kinds) - first_gap > len(depth_at) // 3
    assert _levels(book) == _levels(final)


async def test_malformed_frames_are_dropped_counted_and_the_feed_resyncs_by_itself(run_feed: Start) -> None:
    rec = recording("usdm")
    depth_at = [i for i, (_, u) in enumerate(rec.frames) if u is not None]
    at = depth_at[len(depth_at) // 3]
    bad_number = orjson.loads(rec.frames[at][0])
    bad_number["data"]["b"] = [["61000.1", "lots"]]  # one of ours: its book is resynced
    other = orjson.loads(rec.frames[at][0])
    other["stream"], other["data"]["s"] = "ethusdt@depth@100ms", "ETHUSDT"  # not ours: dropped, no resync
    inserted = [(b"{not json", None), (orjson.dumps(bad_number), None), (orjson.dumps(other), None)]
    frames = rec.frames[:at] + inserted + rec.frames[at:]

    def resynced(run: Running) -> bool:
        return run.feed.dropped == 3 and live(run)

    run = await run_feed(rec, frames, {rec.snapshot_frame: live, at + len(inserted): resynced})
    final = _final(rec)
    book = run.watch.book
    await run.watch.until(_live_at(book, final.seq))

    feed = run.feed
    assert feed.drops.counts == {(VENUE, "bad_json"): 1, (VENUE, "bad_number"): 1, (VENUE, "unknown_pair"): 1}
    assert feed.dropped == 3 and feed.applied + feed.ignored + feed.dropped == len(frames)
    # still the first connection; the book went 'gap' (never silently wrong) and a fresh snapshot healed it
    assert not run.task.done() and feed.connections == 1 and feed.snapshots_fetched >= 2
    assert ("gap", Health.GAP) in run.watch.events
    assert _levels(book) == _levels(final)


@pytest.mark.parametrize(("key", "asked", "sent"), [
    ("spot", 1000, 1000), ("spot", 7, 7), ("spot", 20_000, 5000),
    ("usdm", 1000, 1000), ("usdm", 200, 500), ("usdm", 1, 5), ("coinm", 5000, 1000),
])
def test_snapshot_limits_are_ones_the_market_serves(key: str, asked: int, sent: int) -> None:
    assert snapshot_limit(MARKETS[key], asked) == sent


def test_default_endpoints_and_refusals() -> None:
    store = BookStore()
    spot = BinanceBookFeed(store, ["BTC/USDT", "ETH/USDT"], FeedSetup("binance"), market=MARKETS["spot"])
    assert spot.ws_url == "wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms"
    assert spot._snapshot_request("BTCUSDT") == ("https://api.binance.com/api/v3/depth",
                                                 {"symbol": "BTCUSDT", "limit": "1000"})
    usdm = BinanceBookFeed(store, ["BTC/USDT:USDT"], FeedSetup("binanceusdm"), market=MARKETS["usdm"],
                           limit=100)
    assert usdm.ws_url == "wss://fstream.binance.com/public/stream?streams=btcusdt@depth@100ms"
    assert usdm.rest_url == "https://fapi.binance.com/fapi/v1/depth" and usdm.limit == 100
    coinm = BinanceBookFeed(store, ["BTC/USD:BTC"], FeedSetup("binancecoinm"), market=MARKETS["coinm"])
    assert coinm.ws_url == "wss://dstream.binance.com/stream?streams=btcusd_perp@depth@100ms"
    assert coinm.rest_url == "https://dapi.binance.com/dapi/v1/depth"
    assert set(coinm.syncs) == {"BTCUSD_PERP"} and coinm.syncs["BTCUSD_PERP"].symbol == "BTC/USD:BTC"

    from arb.errors import UsageError

    with pytest.raises(UsageError, match="futures symbol"):
        BinanceBookFeed(store, ["BTC/USDT:USDT"], FeedSetup("binance"), market=MARKETS["spot"])
    with pytest.raises(UsageError, match="twice"):
        BinanceBookFeed(store, ["BTC/USDT", "BTC/USDT:USDT"], FeedSetup("b"), market=MARKETS["usdm"])
    with pytest.raises(ValueError, match="positive"):
        BinanceBookFeed(store, ["BTC/USDT"], FeedSetup("binance"), market=MARKETS["spot"], limit=0)
