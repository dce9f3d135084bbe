"""The watchdog wired to the feeds: a venue silent past ``stale_after_ms`` is marked stale and its feed
resubscribes (Gate: a new connection and fresh snapshots; ccxt: ccxt's connection dropped, a new full book).

The clock the watchdog judges staleness by is injected: no test waits for time to pass.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from arb.marketdata.book import Health
from arb.marketdata.books import BookStore
from arb.marketdata.ccxt_feed import CcxtBookFeed
from arb.marketdata.feed_setup import FeedSetup
from arb.marketdata.watchdog import check_once
from arb.runtime.feeds import FeedSet
from arb.runtime.supervisor import Supervisor
from arb.venues.gate.feed import GateBookFeed
from arb.venues.gate.sandbox import PairSpec, Sandbox, SandboxConfig

from .test_feed_fuzz import gate_pro
from .test_gate_feed import Sleeps, Waiter

PAIR, SYMBOL = "LINK_USDT", "LINK/USDT"
STALE_AFTER_MS = 5_000


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxConfig(pairs=(PairSpec(PAIR),))) as sb:
        sb.push_book(PAIR, [("27.095", "10")], [("27.101", "2")])
        yield sb


@pytest.mark.parametrize("kind", ["gate", "ccxt"])
async def test_a_silent_feed_is_marked_stale_and_resubscribed(sandbox: Sandbox, kind: str) -> None:
    store = BookStore(max_age_ms=STALE_AFTER_MS)
    waiter = Waiter(store)
    now = [0]  # the watchdog's clock (ms), moved by hand
    feed: GateBookFeed | CcxtBookFeed
    exchange = None
    if kind == "gate":
        setup = FeedSetup("gate", rng=random.Random(0), sleep=Sleeps(), clock_ms=lambda: now[0])
        feed = GateBookFeed(store, [SYMBOL], setup, ws_url=sandbox.ws_url, rest_url=sandbox.rest_url)
    else:
        exchange = gate_pro(sandbox)
        feed = CcxtBookFeed(store, exchange, [SYMBOL], FeedSetup("gate", rng=random.Random(0), sleep=Sleeps(),
                                                                 clock_ms=lambda: now[0]), limit=5)
    feeds = FeedSet(feeds={"gate": feed}, now_ms=lambda: now[0])
    supervisor = Supervisor(sleep=Sleeps())
    task = supervisor.spawn("feed-gate", feed.run, venue="gate")
    book = store.book("gate", SYMBOL)
    try:
        if kind == "gate":
            async with asyncio.timeout(5):
                await sandbox.hub.wait_for_book_subscriptions(1)
            sandbox.push_book(PAIR, [("27.096", "1")], [], kind="delta")
        await waiter.until(lambda: book.health(now[0]) is Health.LIVE, timeout=10)
        old = set(sandbox.hub.connections)

        assert await check_once(store, STALE_AFTER_MS, feeds.on_stale) == []  # not silent long enough
        now[0] = (book.received_ts or 0) + STALE_AFTER_MS + 1
        assert book.health(now[0]) is Health.STALE
        assert await check_once(store, now[0], feeds.on_stale) == [book]
        assert feeds.resubscribes == {"gate": 1}
        # The feed dropped its connection and is back with a new one, subscribed again...
        async with asyncio.timeout(10):
            while not any(c not in old and (c.book_update or c.obu) for c in sandbox.hub.connections):
                await asyncio.sleep(0.005)  # the sandbox has no event for "a new subscription": poll, bounded
        assert await check_once(store, now[0], feeds.on_stale) == []  # resubscribed once, not every round
        # ...and the book follows the venue again.
        sandbox.push_book(PAIR, [("27.097", "2")], [], kind="delta")
        await waiter.until(lambda: book.health(now[0]) is Health.LIVE and book.best_bid() == Decimal("27.097"),
                           timeout=10)
        assert not task.done() and not supervisor.restarts
    finally:
        await supervisor.close()
        if exchange is not None:
            await exchange.close()
