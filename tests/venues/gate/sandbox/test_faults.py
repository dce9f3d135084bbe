"""Each fault knob, seen the way the engine sees it: through ccxt (and arb's error translation)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from arb.errors import TransientVenueError
from arb.venues.gate.errors import translating
from arb.venues.gate.sandbox import Sandbox

from .conftest import KEY, SECRET, make_config, point_at

S = "LINK/USDT"
# Bounds a hang only (no test here checks how fast an answer comes): ccxt's watchers load markets and
# fetch a REST snapshot before resolving, several loopback round trips that a loaded CI machine stretches.
TIMEOUT = 60


async def test_added_latency_makes_a_short_timeout_client_time_out(
    sandbox: Sandbox, gate: ccxt_async.gate
) -> None:
    await gate.load_markets()
    sandbox.faults.latency_s = 2.0
    gate.timeout = 200  # ms
    with pytest.raises(TransientVenueError) as info, translating():
        await gate.fetch_balance()
    assert isinstance(info.value.__cause__, ccxt.RequestTimeout) and info.value.retryable
    sandbox.faults.latency_s = 0.0
    assert (await gate.fetch_balance())["total"]["USDT"] == 1000


async def test_injected_429_carries_gate_rate_limit_headers(sandbox: Sandbox, gate: ccxt_async.gate) -> None:
    await gate.load_markets()
    sandbox.faults.fraction_429 = 1.0
    with pytest.raises(ccxt.RateLimitExceeded):
        await gate.fetch_balance()
    headers = gate.last_response_headers
    assert headers["X-Gate-RateLimit-Limit"] == "200"
    assert int(headers["X-Gate-RateLimit-Requests-Remain"]) >= 0
    assert int(headers["X-Gate-RateLimit-Reset-Timestamp"]) >= int(sandbox.now_s())
    assert json.loads(gate.last_http_response)["label"] == "TOO_MANY_REQUESTS"


async def test_injected_5xx_is_exchange_not_available_and_transient(
    sandbox: Sandbox, gate: ccxt_async.gate
) -> None:
    await gate.load_markets()
    sandbox.faults.fraction_5xx = 1.0
    with pytest.raises(TransientVenueError) as info, translating():
        await gate.create_order(S, "limit", "buy", 1, 27.0)
    assert isinstance(info.value.__cause__, ccxt.ExchangeNotAvailable)
    assert sandbox.engine.orders == {}  # a clean 5xx: nothing was placed


async def test_fault_fractions_are_seeded_and_reproducible() -> None:
    async def outcomes() -> list[int]:
        async with Sandbox(make_config(seed=42)) as sb:
            sb.faults.fraction_429 = 0.3
            sb.faults.fraction_5xx = 0.3
            async with aiohttp.ClientSession() as session:
                codes = []
                for _ in range(30):
                    async with session.get(sb.rest_url + "/spot/time") as resp:
                        codes.append(resp.status)
                return codes

    first, second = await outcomes(), await outcomes()
    assert first == second
    assert {200, 429, 502} <= set(first)


async def test_dropped_order_response_is_ambiguous_but_the_order_exists(
    sandbox: Sandbox, gate: ccxt_async.gate
) -> None:
    await gate.load_markets()
    sandbox.faults.drop_order_responses = 1
    with pytest.raises(TransientVenueError) as info, translating():
        await gate.create_order(S, "limit", "buy", 1, 27.0, {"text": "t-ambiguous"})
    assert isinstance(info.value.__cause__, ccxt.NetworkError) and info.value.retryable
    found = await gate.fetch_order("t-ambiguous", S)  # look it up by client id before anything else
    assert (found["status"], found["amount"], found["price"]) == ("open", 1, 27.0)
    again = await gate.create_order(S, "limit", "buy", 1, 26.9, {"text": "t-next"})
    assert again["status"] == "open"  # only one response was dropped


async def test_closing_websockets_breaks_ccxt_watchers_which_then_reconnect(
    sandbox: Sandbox, gate_pro: ccxt_pro.gate
) -> None:
    await asyncio.wait_for(gate_pro.watch_order_book(S), TIMEOUT)
    pending = asyncio.create_task(gate_pro.watch_order_book(S))
    await asyncio.sleep(0)  # let the watcher register before the socket goes away
    await sandbox.close_websockets()
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(pending, TIMEOUT)
    book = await asyncio.wait_for(gate_pro.watch_order_book(S), TIMEOUT)
    assert book["bids"][0] == [27.095, 10.0]


async def test_skipped_update_id_is_a_gap_ccxt_reports(sandbox: Sandbox) -> None:
    # ccxt uses spot.order_book_update (which it gap-checks) on a "gateeu" URL; the sandbox serves any prefix.
    pro = ccxt_pro.gate({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False})
    point_at(pro, sandbox)
    pro.urls["api"]["spot"] = sandbox.base_url.replace("http", "ws") + "/gateeu/ws/v4/"
    pro.options["watchOrderBook"] = {"snapshotDelay": 0}
    try:
        await pro.load_markets()
        first = asyncio.create_task(pro.watch_order_book(S))
        await asyncio.wait_for(sandbox.hub.wait_for_book_subscriptions(1), TIMEOUT)
        # The first update makes ccxt fetch the REST snapshot, splice the update onto it and resolve.
        sandbox.push_book("LINK_USDT", [("27.094", "1")], [], kind="delta")
        assert (await asyncio.wait_for(first, TIMEOUT))["bids"][0] == [27.095, 10.0]
        id_before = sandbox.engine.books["LINK_USDT"].update_id
        sandbox.skip_update_id("LINK_USDT")
        sandbox.push_book("LINK_USDT", [("27.093", "1")], [], kind="delta")
        assert sandbox.engine.books["LINK_USDT"].update_id == id_before + 2
        with pytest.raises(ccxt.ChecksumError):
            await asyncio.wait_for(pro.watch_order_book(S), TIMEOUT)
    finally:
        await pro.close()


async def test_skipped_update_id_on_the_raw_stream(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(sandbox.ws_url) as ws:
        await ws.send_json(
            {
                "time": 0,
                "channel": "spot.order_book_update",
                "event": "subscribe",
                "payload": ["LINK_USDT", "100ms"],
            }
        )
        await ws.receive()  # ack
        sandbox.push_book("LINK_USDT", [("27.094", "1")], [], kind="delta")
        sandbox.skip_update_id("LINK_USDT")
        sandbox.push_book("LINK_USDT", [("27.093", "1")], [], kind="delta")
        a = json.loads((await asyncio.wait_for(ws.receive(), TIMEOUT)).data)["result"]
        b = json.loads((await asyncio.wait_for(ws.receive(), TIMEOUT)).data)["result"]
        assert b["U"] == a["u"] + 2


async def test_frozen_book_ignores_market_moves_but_fills_still_consume(
    sandbox: Sandbox, gate: ccxt_async.gate
) -> None:
    await gate.load_markets()
    before = await gate.fetch_order_book(S, params={"with_id": "true"})
    sandbox.faults.freeze_book = True
    sandbox.push_book("LINK_USDT", [("30", "1")], [("31", "1")])
    frozen = await gate.fetch_order_book(S, params={"with_id": "true"})
    assert (frozen["bids"], frozen["asks"], frozen["nonce"]) == (
        before["bids"],
        before["asks"],
        before["nonce"],
    )
    await gate.create_order(S, "limit", "buy", 1, 27.101, {"timeInForce": "IOC"})
    after_fill = await gate.fetch_order_book(S, params={"with_id": "true"})
    assert after_fill["asks"][0] == [27.101, 1.0] and after_fill["nonce"] == before["nonce"] + 1
    sandbox.faults.freeze_book = False
    sandbox.push_book("LINK_USDT", [("30", "1")], [("31", "1")])
    assert (await gate.fetch_order_book(S))["asks"] == [[31.0, 1.0]]


async def test_control_endpoint_sets_knobs_for_a_sandbox_in_another_process(
    sandbox: Sandbox, gate: ccxt_async.gate
) -> None:
    await gate.load_markets()
    async with aiohttp.ClientSession() as session:
        async with session.post(sandbox.base_url + "/_sandbox/faults", json={"fraction_5xx": 1}) as resp:
            assert resp.status == 200
        async with session.post(sandbox.base_url + "/_sandbox/faults", json={"no_such_knob": 1}) as resp:
            assert resp.status == 400
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await gate.fetch_balance()
        async with session.post(sandbox.base_url + "/_sandbox/faults", json={"fraction_5xx": 0}) as resp:
            assert resp.status == 200
        async with session.post(sandbox.base_url + "/_sandbox/clock", json={"shift_s": 90}) as resp:
            assert (await resp.json())["now_s"] == pytest.approx(sandbox.now_s(), abs=5)
        with pytest.raises(ccxt.AuthenticationError, match="REQUEST_EXPIRED"):
            await gate.fetch_balance()
        async with session.post(sandbox.base_url + "/_sandbox/clock", json={"shift_s": -90}) as resp:
            assert resp.status == 200
        async with session.post(
            sandbox.base_url + "/_sandbox/balance", json={"key": KEY, "currency": "USDT", "available": "5.5"}
        ) as resp:
            assert resp.status == 200
        assert (await gate.fetch_balance())["free"]["USDT"] == 5.5
        async with session.post(
            sandbox.base_url + "/_sandbox/book",
            json={"pair": "LINK_USDT", "bids": [["26", "1"]], "asks": [["28", "2"]]},
        ) as resp:
            assert (await resp.json())["id"] == sandbox.engine.books["LINK_USDT"].update_id
        assert (await gate.fetch_order_book(S))["asks"] == [[28.0, 2.0]]
