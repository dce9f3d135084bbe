"""Our Gate book sync against the local Gate sandbox over loopback: sync, gap -> resync, reconnect."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest

from arb.marketdata.book import Health
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureWriter, read_capture
from arb.marketdata.feed_setup import FeedSetup
from arb.venues.gate.feed import GateBookFeed
from arb.venues.gate.sandbox import PairSpec, Sandbox, SandboxConfig

D = Decimal
PAIR = "LINK_USDT"
SYMBOL = "LINK/USDT"


class Waiter:
    """Wakes on every store event; waits for a condition with a timeout instead of sleeping."""

    def __init__(self, store: BookStore) -> None:
        self.changed = asyncio.Event()
        store.add_listener(lambda _e, _b: self.changed.set())

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


class Sleeps:
    """Injected sleep: records backoff delays and only yields."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxConfig(pairs=(PairSpec(PAIR),))) as sb:
        sb.push_book(PAIR, [("27.095", "10"), ("27.090", "20")], [("27.101", "2"), ("27.105", "3")])
        yield sb


async def _start(sb: Sandbox, store: BookStore, sleeps: Sleeps) -> tuple[GateBookFeed, asyncio.Task[None]]:
    feed = GateBookFeed(store, [SYMBOL], FeedSetup("gate", rng=random.Random(1), sleep=sleeps),
                        ws_url=sb.ws_url, rest_url=sb.rest_url)
    task = asyncio.create_task(feed.run())
    async with asyncio.timeout(5):
        await sb.hub.wait_for_book_subscriptions(1)
    return feed, task


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _live(store: BookStore, bid: str) -> Callable[[], bool]:
    book = store.book("gate", SYMBOL)
    return lambda: book.health(book.received_ts or 0) is Health.LIVE and book.best_bid() == D(bid)


async def test_gate_feed_syncs_resyncs_on_gap_reconnects_and_records(sandbox: Sandbox, tmp_path: Path) -> None:
    store = BookStore()
    waiter = Waiter(store)
    out = tmp_path / "gate.jsonl.gz"
    writer = CaptureWriter(out)
    stop_recording = store.add_listener(lambda event, _book: writer.write(event))
    sleeps = Sleeps()
    feed, task = await _start(sandbox, store, sleeps)
    book = store.book("gate", SYMBOL)
    try:
        # 1. the first diff triggers the with_id snapshot; buffered diffs line up: live
        sandbox.push_book(PAIR, [("27.096", "1")], [], kind="delta")
        await waiter.until(_live(store, "27.096"))
        assert feed.snapshots_fetched == 1
        assert book.levels("asks") == [(D("27.101"), D("2")), (D("27.105"), D("3"))]

        # 2. plain diffs apply in order
        sandbox.push_book(PAIR, [("27.096", "0"), ("27.097", "4")], [("27.101", "0")], kind="delta")
        await waiter.until(_live(store, "27.097"))
        assert book.levels("asks", 1) == [(D("27.105"), D("3"))]

        # 3. a skipped update id: the book turns 'gap', never silently wrong; a new snapshot heals it
        sandbox.skip_update_id(PAIR)
        sandbox.push_book(PAIR, [("27.098", "5")], [], kind="delta")
        await waiter.until(lambda: feed.syncs[PAIR].gaps == 1)
        await waiter.until(_live(store, "27.098"))
        assert feed.snapshots_fetched == 2

        # 4. the connection drops: books go 'syncing', the feed reconnects after a jittered backoff
        await sandbox.close_websockets()
        async with asyncio.timeout(5):
            while not (feed.connections == 2 and feed.connected.is_set()):
                feed.state_changed.clear()
                await feed.state_changed.wait()
            await sandbox.hub.wait_for_book_subscriptions(1)  # the new connection's subscription
        sandbox.push_book(PAIR, [("27.099", "6")], [], kind="delta")
        await waiter.until(_live(store, "27.099"))
        assert len(sleeps.delays) == 1 and 0 <= sleeps.delays[0] <= 0.5
        final = (book.levels("bids"), book.levels("asks"), book.seq)
    finally:
        stop_recording()  # as ``arb record`` does: the feed's teardown (a reset) is not recorded
        await _stop(task)
        writer.close()

    # 5. the recording replays to the identical book, gap and resync included
    events = list(read_capture(out))
    assert [e.type for e in events].count("snapshot") == 3
    replayed = BookStore()
    gap_seen = False
    for event in events:
        replayed.apply(event)
        gap_seen |= replayed.book("gate", SYMBOL).health(event.ts) is Health.GAP
    assert gap_seen
    again = replayed.book("gate", SYMBOL)
    assert (again.levels("bids"), again.levels("asks"), again.seq) == final
    assert again.health(events[-1].ts) is Health.LIVE
    # cancelling the feed left the live book 'syncing', never a stale-but-live-looking book
    assert book.health(events[-1].ts) is Health.SYNCING
