"""Hostile frames into both feeds (hypothesis): nothing escapes, the feed lives, every drop names its cause.

Gate's own sync (``GateBookFeed.on_message``, the function its WebSocket loop calls for every frame) and the
ccxt-based feed (every frame through ccxt's client, the way ccxt receives it; every book ccxt hands us
through ``CcxtBookFeed.on_orderbook``). Three kinds of input: random bytes, random JSON, and valid frames
with one thing broken, whose drop reason is known in advance.

Generated cases per test are stated in its ``settings(max_examples=...)``.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import ccxt.pro as ccxt_pro
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arb.marketdata.book import Health, OrderBook
from arb.marketdata.books import BookStore
from arb.marketdata.ccxt_feed import CcxtBookFeed
from arb.marketdata.drops import significant_digits
from arb.marketdata.feed_setup import FeedSetup
from arb.runtime.supervisor import Supervisor
from arb.venues.gate.feed import GateBookFeed
from arb.venues.gate.sandbox import PairSpec, Sandbox, SandboxConfig

from .test_gate_feed import Sleeps, Waiter

PAIR, SYMBOL = "LINK_USDT", "LINK/USDT"


def cases(n: int) -> settings:
    """``n`` generated cases; no deadline (the first cases pay for imports and a loopback round trip)."""
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --------------------------------------------------------------------------------------------- inputs


def json_like(floats: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | floats | st.text(max_size=12),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )


json_values = json_like(st.floats())
strict_json_values = json_like(st.floats(allow_nan=False, allow_infinity=False))  # dumps to strict JSON
random_json = json_values.map(lambda v: json.dumps(v))  # NaN/Infinity tokens included: not JSON to Gate
random_bytes = st.binary(max_size=120)
not_a_number = st.sampled_from(["", "abc", "-1", "1e5", "NaN", "inf", " 27.1", "27.1 ", "27,1", "0x1b", "+3",
                                "1" * 41, "27.", ".5", "\u0661"])
not_an_id = st.sampled_from(["12", 1.5, -1, True, 2**63, 2**70, None, [], {}])
over_precise_price = st.integers(16, 30).map(lambda n: "27." + "0" * (n - 3) + "1")


def update(first: int, last: int, bids: list[Any] | None = None, asks: list[Any] | None = None) -> dict[str, Any]:
    """A valid ``spot.order_book_update`` frame, as Gate (and the sandbox) sends it."""
    return {"time": 1, "time_ms": 1000, "channel": "spot.order_book_update", "event": "update",
            "result": {"t": 1000, "e": "depthUpdate", "E": 1, "s": PAIR, "U": first, "u": last,
                       "b": [["27.096", "1"]] if bids is None else bids, "a": [] if asks is None else asks}}


Frame = Callable[[int], str | bytes]  # the next update id in, the frame's bytes out
NEXT = -10**6  # placeholder update id (no id the strategies draw is this low)


@st.composite
def broken_updates(draw: st.DrawFn, *, valid_too: bool = True) -> tuple[Frame, str | None]:
    """A frame for the feed (given the next update id) and the drop reason it must be counted under (None:
    no drop expected)."""
    kinds = ["missing", "bad_id", "bad_number", "bad_level", "not_object", "bad_json", "no_result", "first_after_last",
             "unknown_pair", "zero_price"]
    if valid_too:
        kinds += ["valid", "over_precise"]
    kind = draw(st.sampled_from(kinds))
    frame = update(NEXT, NEXT)  # filled in with the next update id when the frame is sent
    result = frame["result"]
    if kind == "missing":
        del result[draw(st.sampled_from(["s", "U", "u", "b", "a"]))]
        reason = "missing_field"
    elif kind == "bad_id":
        result[draw(st.sampled_from(["U", "u"]))] = draw(not_an_id)
        reason = "missing_field" if None in (result["U"], result["u"]) else "bad_id"
    elif kind == "first_after_last":
        result["U"] = NEXT - draw(st.integers(1, 10))  # later than u
        reason = "bad_id"
    elif kind == "bad_number":
        side, index = draw(st.sampled_from(["b", "a"])), draw(st.sampled_from([0, 1]))
        result[side] = [["27.1", "1"], ["27.2", "1"]]
        result[side][draw(st.integers(0, 1))][index] = draw(not_a_number)
        reason = "bad_number"
    elif kind == "zero_price":
        result["a"] = [[draw(st.sampled_from(["0", "0.000", "00.0"])), "1"]]
        reason = "bad_number"
    elif kind == "bad_level":
        result["b"] = [draw(st.sampled_from([["27.1"], ["27.1", "1", "2"], "27.1", 27.1, None, {"p": "27.1"},
                                             [27.1, 1]]))]
        reason = "bad_level" if not (isinstance(result["b"][0], list) and len(result["b"][0]) == 2) else "bad_number"
    elif kind == "no_result":
        frame["result"] = draw(st.sampled_from([None, [], "x", 5]))
        reason = "missing_field"
    elif kind == "unknown_pair":
        result["s"] = draw(st.text(max_size=10).filter(lambda s: s != PAIR))
        reason = "unknown_pair"
    elif kind == "not_object":
        text = json.dumps(draw(st.lists(strict_json_values, max_size=3) | st.integers() | st.text(max_size=5)))
        return (lambda _next: text), "not_object"
    elif kind == "bad_json":
        cut = draw(st.integers(0, 150))
        return (lambda next_id: json.dumps(with_ids(frame, next_id))[:cut]), "bad_json"
    elif kind == "over_precise":
        result["b"] = [[draw(over_precise_price), "5"], ["27.096", "1"]]
        reason = "over_precise"
    else:
        reason = None
    as_bytes = draw(st.booleans())

    def make(next_id: int) -> str | bytes:
        text = json.dumps(with_ids(frame, next_id))  # not orjson: it refuses integers past 64 bits
        return text.encode() if as_bytes else text

    return make, reason


def with_ids(frame: dict[str, Any], next_id: int) -> dict[str, Any]:
    """``frame`` with its placeholder ids replaced: ``NEXT`` is ``next_id``, ``NEXT - k`` is ``next_id + k``."""
    result = frame.get("result")
    if not isinstance(result, dict):
        return frame
    ids = {k: next_id + NEXT - v for k in ("U", "u") if type(v := result.get(k)) is int and v <= NEXT}
    return {**frame, "result": {**result, **ids}}


def assert_book_sound(book: OrderBook) -> None:
    """Whatever happened, a book is either unusable (gap/syncing) or holds only levels it can key."""
    health = book.health(book.received_ts or 0)
    assert health in (Health.LIVE, Health.GAP, Health.SYNCING, Health.CROSSED), health
    for side in ("bids", "asks"):
        for price, size in book.levels(side):
            assert price > 0 and size > 0 and significant_digits(format(price, "f")) <= 15
    for array in book.top_arrays():
        assert all(math.isfinite(x) for x in array)


# ------------------------------------------------------------------------------------ Gate: offline
def offline_gate_feed() -> GateBookFeed:
    """A feed that is not connected (so it fetches nothing) whose book is live from a snapshot."""
    feed = GateBookFeed(BookStore(), [SYMBOL], FeedSetup("gate"))
    assert not feed.on_snapshot(PAIR, orjson.dumps({"id": 10**6 - 1, "bids": [["27.095", "10"]],
                                                    "asks": [["27.101", "2"]], "update": 1}))
    return feed


def resync_offline(feed: GateBookFeed) -> None:
    """Stand in for the REST fetch a connected feed makes after a drop: the next snapshot lines up."""
    book = feed.syncs[PAIR].book
    if book.health(book.received_ts or 0) is not Health.LIVE:
        feed.on_snapshot(PAIR, orjson.dumps({"id": 10**6 - 1, "bids": [["27.095", "10"]], "asks": [["27.101", "2"]]}))


@cases(1500)
@given(frames=st.lists(random_bytes | random_json | broken_updates().map(lambda f: f[0]), min_size=1, max_size=8))
def test_gate_feed_counts_every_frame_it_cannot_read(frames: list[str | bytes | Frame]) -> None:
    feed = offline_gate_feed()
    book = feed.syncs[PAIR].book
    for sent, frame in enumerate(frames, 1):
        data = frame((book.seq or 0) + 1) if callable(frame) else frame
        feed.on_message(data)  # never raises on malformed input
        assert sum(feed.counts()["frames"].values()) == sent  # each frame in exactly one outcome
        assert feed.dropped <= feed.drops.total()
        assert_book_sound(feed.syncs[PAIR].book)
        resync_offline(feed)


@cases(1500)
@given(cases=st.lists(broken_updates(), min_size=1, max_size=6))
def test_gate_feed_drops_each_broken_frame_for_its_reason_and_resyncs(cases: list[tuple[Frame, str | None]]) -> None:
    feed = offline_gate_feed()
    book = feed.syncs[PAIR].book
    for frame, reason in cases:
        before = feed.drops.counts.copy()
        applied, seq = feed.applied, book.seq or 0
        feed.on_message(frame(seq + 1))
        counted = feed.drops.counts - before
        if reason is None:  # valid: applied
            assert not counted and feed.applied == applied + 1 and book.seq == seq + 1
        elif reason == "over_precise":  # the level is left out and counted, the rest applies
            assert counted == {("gate", "over_precise"): 1} and feed.applied == applied + 1
            assert book.best_bid() == Decimal("27.096")
        else:
            assert counted == {("gate", reason): 1}
            if reason != "unknown_pair":  # it may have been an update: never a silently wrong book
                assert book.health(book.received_ts or 0) is Health.GAP
        assert_book_sound(book)
        resync_offline(feed)
        # the next valid frame carries on from the snapshot the resync installed (or the stream)
        book_seq = book.seq or 0
        feed.on_message(orjson.dumps(update(book_seq + 1, book_seq + 1)))
        assert book.health(book.received_ts or 0) is Health.LIVE


@cases(500)
@given(body=random_bytes | random_json | st.builds(
    lambda id_, bids, asks: json.dumps({"id": id_, "bids": bids, "asks": asks}).encode(),
    st.integers(-5, 2**64) | not_an_id,
    st.lists(st.lists(st.sampled_from(["27.1", "1", "x", "27.0500000000000000001", "0"]), max_size=3), max_size=3),
    st.lists(st.lists(st.sampled_from(["27.2", "1", "-1", "1e3"]), max_size=3), max_size=3)))
def test_gate_snapshot_bodies_are_checked_before_the_book(body: bytes) -> None:
    feed = GateBookFeed(BookStore(), [SYMBOL], FeedSetup("gate"))
    feed.on_message(orjson.dumps(update(5, 5)))  # a diff is waiting for a snapshot
    again = feed.on_snapshot(PAIR, body.encode() if isinstance(body, str) else body)
    book = feed.syncs[PAIR].book
    if again:  # refused (counted) or too old for the waiting diff: still unusable
        assert book.health(book.received_ts or 0) is not Health.LIVE
    assert_book_sound(book)


# ---------------------------------------------------------------------------------- Gate: connected
@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxConfig(pairs=(PairSpec(PAIR),))) as sb:
        sb.push_book(PAIR, [("27.095", "10"), ("27.090", "20")], [("27.101", "2"), ("27.105", "3")])
        yield sb


def live_with(book: OrderBook, bid: str) -> Callable[[], bool]:
    return lambda: book.health(book.received_ts or 0) is Health.LIVE and book.best_bid() == Decimal(bid)


async def test_connected_gate_feed_survives_fuzzed_frames_and_recovers_by_itself(sandbox: Sandbox) -> None:
    store = BookStore()
    waiter = Waiter(store)
    supervisor = Supervisor(sleep=Sleeps())
    feed = GateBookFeed(store, [SYMBOL], FeedSetup("gate", rng=random.Random(3), sleep=Sleeps()),
                        ws_url=sandbox.ws_url, rest_url=sandbox.rest_url)
    task = supervisor.spawn("feed-gate", feed.run, venue="gate")
    book = store.book("gate", SYMBOL)
    try:
        async with asyncio.timeout(5):
            await sandbox.hub.wait_for_book_subscriptions(1)
        sandbox.push_book(PAIR, [("27.096", "1")], [], kind="delta")
        await waiter.until(live_with(book, "27.096"))

        # Only frames that must be dropped: a valid forged frame would move the update ids away from the
        # sandbox's (the watchdog's case, not this test's).
        @cases(400)
        @given(frame=random_bytes | random_json.filter(lambda t: "spot.order_book_update" not in t)
               | broken_updates(valid_too=False).map(lambda f: f[0]))
        def fuzz(frame: str | bytes | Frame) -> None:
            frames, applied = sum(feed.counts()["frames"].values()), feed.applied
            feed.on_message(frame((book.seq or 0) + 1) if callable(frame) else frame)  # as the connection loop
            assert sum(feed.counts()["frames"].values()) == frames + 1 and feed.applied == applied
            assert not task.done()

        fuzz()
        assert feed.dropped > 0 and feed.drops.total() >= feed.dropped
        # Still running, never restarted, and back in sync with the sandbox by itself (resync snapshots).
        sandbox.push_book(PAIR, [("27.097", "4")], [], kind="delta")
        await waiter.until(live_with(book, "27.097"))
        assert not task.done() and not supervisor.restarts and feed.connections == 1
    finally:
        await supervisor.close()


# ------------------------------------------------------------------------------------------ ccxt
class FakeExchange:
    """Just what CcxtBookFeed reads of an exchange when it is handed books (no network, no ccxt client)."""

    id = "binance"
    has = {"watchOrderBook": True}
    clients: dict[str, Any] = {}


ccxt_numbers = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 10**20) | st.none()
                | st.text(max_size=6) | st.booleans() | st.sampled_from(["27.1", "1e-5", "27.0500000000000000001"]))


@cases(1500)
@given(orderbook=st.dictionaries(
    st.sampled_from(["bids", "asks", "nonce", "timestamp", "symbol"]),
    st.lists(st.lists(ccxt_numbers, max_size=4) | ccxt_numbers, max_size=5) | ccxt_numbers,
    max_size=5) | json_values)
def test_ccxt_feed_checks_every_book_ccxt_hands_it(orderbook: Any) -> None:
    store = BookStore()
    feed = CcxtBookFeed(store, FakeExchange(), [SYMBOL], FeedSetup("binance"), limit=5)
    store.snapshot("binance", SYMBOL, [("27.0", "1")], [("27.2", "1")], ts=1)
    published = feed.on_orderbook(SYMBOL, orderbook)  # never raises
    book = store.book("binance", SYMBOL)
    if not published:  # dropped: counted, and the book is not usable until a good one arrives
        assert feed.drops.total() >= 1 and book.health(1) is Health.SYNCING
    assert_book_sound(book)


def gate_pro(sb: Sandbox) -> Any:
    exchange = ccxt_pro.gate({"enableRateLimit": False})
    for access in ("public", "private"):
        for section in exchange.urls["api"][access]:
            exchange.urls["api"][access][section] = sb.rest_url
    exchange.urls["api"]["spot"] = sb.ws_url
    exchange.options["unifiedAccount"] = False
    exchange.options["fetchMarkets"] = {"types": ["spot"]}
    return exchange


@st.composite
def obu_frames(draw: st.DrawFn) -> str:
    """``spot.obu`` frames (the channel ccxt's gate feed reads), each with something broken or garbled."""
    result: dict[str, Any] = {"t": 1000, "s": f"ob.{PAIR}.5", "U": 10**6, "u": 10**6,
                              "b": [["27.096", "1"]], "a": []}
    for key in draw(st.lists(st.sampled_from(sorted(result)), max_size=3)):
        if draw(st.booleans()):
            result.pop(key, None)
        else:
            result[key] = draw(json_values)
    frame: dict[str, Any] = {"time": 1, "channel": "spot.obu", "event": "update", "result": result}
    if draw(st.booleans()):
        frame[draw(st.sampled_from(["channel", "event", "result"]))] = draw(json_values)
    return json.dumps(frame)


async def test_ccxt_feed_survives_fuzzed_frames_and_resubscribes(sandbox: Sandbox) -> None:
    exchange = gate_pro(sandbox)
    store = BookStore()
    waiter = Waiter(store)
    supervisor = Supervisor(sleep=Sleeps())
    feed = CcxtBookFeed(store, exchange, [SYMBOL], FeedSetup("gate", rng=random.Random(5), sleep=Sleeps()),
                        limit=5)
    task = supervisor.spawn("feed-gate", feed.run, venue="gate")
    book = store.book("gate", SYMBOL)
    try:
        await waiter.until(live_with(book, "27.095"), timeout=10)
        client = next(iter(exchange.clients.values()))

        @cases(400)
        @given(data=random_json | st.text(max_size=40) | obu_frames())
        def fuzz(data: str) -> None:
            before = feed.drops.total()
            client.handle_text_or_binary_message(data)  # what ccxt's receive loop calls for each frame
            if len(data) >= 2 and data[0] in "{[" and not _is_json(data):  # ccxt decodes it, and raises
                assert feed.drops.counts[("gate", "bad_json")] >= 1 and feed.drops.total() == before + 1
            assert not task.done()

        fuzz()
        # Whatever the generator drew, one frame ccxt cannot decode is always in the mix: it is counted and
        # makes ccxt drop the connection and resubscribe (without it the check below depends on the draw).
        before = feed.drops.total()
        client.handle_text_or_binary_message('{"truncated": ')
        assert feed.drops.counts[("gate", "bad_json")] >= 1 and feed.drops.total() == before + 1
        assert client.error is not None  # ccxt's connection dropped: the next watch subscribes again
        # Still running, never restarted; ccxt resubscribed (a fresh full book) and the book follows again.
        sandbox.push_book(PAIR, [("27.097", "4")], [], kind="delta")
        await waiter.until(live_with(book, "27.097"), timeout=10)
        assert not task.done() and not supervisor.restarts
        assert_book_sound(book)
    finally:
        await supervisor.close()
        await exchange.close()


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
