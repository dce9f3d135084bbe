"""Book sources: a seeded random walk and replay of the bundled real capture (arb/data)."""

from __future__ import annotations

import asyncio
import itertools
import json
from decimal import Decimal
from pathlib import Path

import aiohttp

import arb
from arb.marketdata.capture import read_capture
from arb.venues.gate.sandbox import CaptureFeed, PairSpec, RandomWalkFeed, Sandbox
from arb.venues.gate.sandbox.feeds import capture_events, random_walk

from .conftest import make_config

CAPTURE = Path(arb.__file__).parent / "data" / "linkusdt-binance-huobi-2021-08-20.jsonl.gz"
LINK = PairSpec("LINK_USDT", precision=4, amount_precision=3)


def test_random_walk_is_seeded_and_well_formed() -> None:
    feed = RandomWalkFeed("LINK_USDT", mid=Decimal("27.1"), tick=Decimal("0.001"), levels=5, seed=3)
    a = list(itertools.islice(random_walk(feed), 50))
    b = list(itertools.islice(random_walk(feed), 50))
    assert a == b
    assert list(itertools.islice(random_walk(RandomWalkFeed("LINK_USDT", seed=4)), 5)) != a[:5]
    for ev in a:
        assert ev.kind == "snapshot" and len(ev.bids) == len(ev.asks) == 5
        assert ev.bids[0][0] < ev.asks[0][0]  # never crossed
        assert [p for p, _ in ev.bids] == sorted((p for p, _ in ev.bids), reverse=True)
    mids = [ev.bids[0][0] + ev.asks[0][0] for ev in a]
    assert all(abs(x - y) <= 2 * Decimal("0.001") for x, y in itertools.pairwise(mids))


def test_capture_events_route_one_venue_to_a_sandbox_pair() -> None:
    feed = CaptureFeed(CAPTURE, {("huobi", "LINK/USDT"): "LINK_USDT"}, speed=0)
    events = list(itertools.islice(capture_events(feed), 3))
    source = [e for e in itertools.islice(read_capture(CAPTURE), 10) if e.venue == "huobi"][:3]
    assert [e.ts_ms for e in events] == [e.ts for e in source]
    assert events[0].bids[0] == (Decimal(source[0].bids[0][0]), Decimal(source[0].bids[0][1]))


async def test_sandbox_replays_the_capture_and_rest_shows_its_last_book() -> None:
    feed = CaptureFeed(CAPTURE, {("binance", "LINK/USDT"): "LINK_USDT"}, speed=0)
    last = None
    count = 0
    for ev in read_capture(CAPTURE):
        if ev.venue == "binance":
            last, count = ev, count + 1
    assert last is not None
    async with Sandbox(make_config(pairs=(LINK,), feeds=(feed,))) as sb:
        start_id = sb.engine.books["LINK_USDT"].update_id
        await asyncio.wait_for(sb.feed_done.wait(), 60)
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                sb.rest_url + "/spot/order_book",
                params={"currency_pair": "LINK_USDT", "limit": "10", "with_id": "true"},
            ) as r,
        ):
            book = await r.json()
        assert [[Decimal(p), Decimal(s)] for p, s in book["bids"]] == [
            [Decimal(p), Decimal(s)] for p, s in last.bids[:10]
        ]
        assert [[Decimal(p), Decimal(s)] for p, s in book["asks"]] == [
            [Decimal(p), Decimal(s)] for p, s in last.asks[:10]
        ]
        assert start_id < book["id"] <= start_id + count  # one id per snapshot that changed anything


async def test_random_walk_feed_moves_the_book_and_streams_it() -> None:
    feed = RandomWalkFeed("LINK_USDT", mid=Decimal("27.1"), levels=3, step_s=0.01, seed=1)
    async with (
        Sandbox(make_config(pairs=(LINK,), feeds=(feed,))) as sb,
        aiohttp.ClientSession() as session,
        session.ws_connect(sb.ws_url) as ws,
    ):
        await ws.send_json(
            {
                "time": 0,
                "channel": "spot.order_book_update",
                "event": "subscribe",
                "payload": ["LINK_USDT", "100ms"],
            }
        )
        frames = [json.loads((await asyncio.wait_for(ws.receive(), 5)).data) for _ in range(4)]
    updates = [f["result"] for f in frames if f["event"] == "update"]
    assert len(updates) >= 3
    assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(updates))
