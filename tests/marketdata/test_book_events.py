"""One way into a book: resets and resyncs reach BookStore listeners as events, and replay as they happened."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from arb.marketdata.book import Health
from arb.marketdata.books import BookStore
from arb.marketdata.capture import read_capture
from arb.marketdata.ccxt_feed import CcxtBookFeed
from arb.marketdata.feed_setup import FeedSetup
from arb.marketdata.recorder import record
from arb.venues.gate.feed import GateBookFeed
from arb.venues.gate.sandbox import PairSpec, Sandbox, SandboxConfig

PAIR, SYMBOL = "LINK_USDT", "LINK/USDT"


async def _until(store: BookStore, predicate: Any, timeout: float = 5.0) -> None:
    changed = asyncio.Event()
    remove = store.add_listener(lambda _e, _b: changed.set())
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                changed.clear()
                await changed.wait()
    finally:
        remove()


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


async def test_a_resync_during_a_live_feed_is_recorded(tmp_path: Path) -> None:
    """A malformed frame on the live Gate feed resyncs the book: the recorder records the ``gap`` event and
    the fresh snapshot, and the recording replays through the gap as the live book went through it."""
    out = tmp_path / "rec.jsonl"
    store = BookStore()
    seen: list[str] = []
    store.add_listener(lambda event, _book: seen.append(event.type))
    async with Sandbox(SandboxConfig(pairs=(PairSpec(PAIR),))) as sb:
        sb.push_book(PAIR, [("27.095", "10")], [("27.101", "2")])
        feed = GateBookFeed(store, [SYMBOL], FeedSetup("gate", rng=random.Random(1), sleep=_no_sleep),
                            ws_url=sb.ws_url, rest_url=sb.rest_url)
        book = store.book("gate", SYMBOL)
        stop = asyncio.Event()
        final: list[Any] = []

        async def drive() -> None:
            await sb.hub.wait_for_book_subscriptions(1)
            sb.push_book(PAIR, [("27.096", "1")], [], kind="delta")
            await _until(store, lambda: book.usable(store.now_ms))
            feed.on_message(b"{not json")  # dropped and counted; whose update it was cannot be told: resync
            assert book.health(store.now_ms) is Health.GAP
            sb.push_book(PAIR, [("27.097", "2")], [], kind="delta")
            await _until(store, lambda: book.usable(store.now_ms) and seen.count("snapshot") == 2)
            final.extend(book.levels("bids"))
            stop.set()

        driver = asyncio.create_task(drive())
        count = await record([feed], store, out, stop=stop, connect_timeout_s=5)
        await driver
    events = list(read_capture(out))
    assert len(events) == count
    kinds = [e.type for e in events]
    assert kinds.count("gap") == 1 and kinds.index("gap") < len(kinds) - 1 - kinds[::-1].index("snapshot")
    replayed = BookStore()
    health = []
    for event in events:
        replayed.apply(event)
        health.append(replayed.book("gate", SYMBOL).health(event.ts))
    assert health[kinds.index("gap")] is Health.GAP and health[-1] is Health.LIVE
    assert replayed.book("gate", SYMBOL).levels("bids") == final


class _Exchange:
    id = "fakex"
    has = {"watchOrderBook": True}


def test_ccxt_feed_reset_reaches_listeners() -> None:
    store = BookStore()
    seen: list[tuple[str, str]] = []
    store.add_listener(lambda event, _book: seen.append((event.type, event.venue)))
    feed = CcxtBookFeed(store, _Exchange(), ["BTC/USDT"], FeedSetup("fakex", clock_ms=lambda: 1_000))
    assert not store.reset("fakex", "BTC/USDT")  # nothing to lose yet: not an event
    assert feed.on_orderbook("BTC/USDT", {"bids": [[1.0, 2.0]], "asks": [[1.5, 1.0]]})
    assert not feed.on_orderbook("BTC/USDT", {"bids": [["x", 1]], "asks": []})  # dropped: the book resets
    assert seen == [("snapshot", "fakex"), ("reset", "fakex")]
    assert store.book("fakex", "BTC/USDT").health(1_000) is Health.SYNCING


def test_watchers_see_every_event_without_one_being_built(monkeypatch: Any) -> None:
    """A watcher (the engine's detection trigger) is told every event by its book, applied or not, and no
    event is built for it; a listener still gets the event, with levels it may keep."""
    from arb.marketdata import books

    store = BookStore()
    told: list[tuple[str, str, int | None]] = []
    store.add_watcher(lambda book: told.append((book.venue, book.symbol, book.seq)))

    def no_event(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("an event was built with no listener")

    monkeypatch.setattr(books, "CaptureEvent", no_event)
    store.snapshot("v", SYMBOL, [["27.1", "1"]], [["27.2", "1"]], ts=1, seq=10)
    assert store.delta(store.book("v", SYMBOL), [["27.1", "2"]], [], ts=2, seq=11, first_seq=11)
    assert not store.delta(store.book("v", SYMBOL), [["27.1", "3"]], [], ts=3, seq=13, first_seq=13)  # a gap: told anyway
    assert store.reset("v", SYMBOL, ts=4)
    assert told == [("v", SYMBOL, 10), ("v", SYMBOL, 11), ("v", SYMBOL, 11), ("v", SYMBOL, None)]

    monkeypatch.undo()
    levels = [["27.1", "5"]]
    events: list[Any] = []
    store.add_listener(lambda event, _book: events.append(event))
    store.snapshot("v", SYMBOL, levels, [["27.2", "1"]], ts=5, seq=20)
    levels[0][1] = "6"  # the caller's lists are not the event's
    assert events[0].bids == (("27.1", "5"),) and told[-1] == ("v", SYMBOL, 20)
