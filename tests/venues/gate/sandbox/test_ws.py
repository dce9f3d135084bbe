"""WebSocket /ws/v4/: book streams splice onto the REST snapshot id; private pushes need Gate's auth."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import ccxt.pro as ccxt_pro
import pytest

from arb.venues.gate.sandbox import Sandbox
from arb.venues.gate.signing import sign_ws_channel

from .conftest import KEY, SECRET

# Bounds a hang only (no test here checks how fast an answer comes): ccxt's watchers load markets and
# fetch a REST snapshot before resolving, several loopback round trips that a loaded CI machine stretches.
TIMEOUT = 60


async def recv(ws: aiohttp.ClientWebSocketResponse, channel: str) -> dict[str, Any]:
    """Next frame on ``channel`` (skipping others), or fail after TIMEOUT."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame = json.loads(msg.data)
        if frame["channel"] == channel:
            return frame


async def collect(
    ws: aiohttp.ClientWebSocketResponse, counts: dict[str, int]
) -> dict[str, list[dict[str, Any]]]:
    """Frames per channel until each channel in ``counts`` has that many."""
    got: dict[str, list[dict[str, Any]]] = {c: [] for c in counts}
    while any(len(got[c]) < n for c, n in counts.items()):
        msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
        frame = json.loads(msg.data)
        got.setdefault(frame["channel"], []).append(frame)
    return got


async def rest_book_id(sb: Sandbox) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            sb.rest_url + "/spot/order_book",
            params={"currency_pair": "LINK_USDT", "limit": "100", "with_id": "true"},
        ) as r,
    ):
        return int((await r.json())["id"])


async def test_order_book_update_ids_are_consecutive_and_splice_onto_rest(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(sandbox.ws_url) as ws:
        await ws.send_json(
            {
                "time": int(time.time()),
                "channel": "spot.order_book_update",
                "event": "subscribe",
                "payload": ["LINK_USDT", "100ms"],
                "id": 7,
            }
        )
        ack = await recv(ws, "spot.order_book_update")
        assert (ack["event"], ack["result"], ack["id"]) == ("subscribe", {"status": "success"}, 7)
        snapshot_id = await rest_book_id(sandbox)
        sandbox.push_book("LINK_USDT", [], [("27.101", "0"), ("27.102", "4.5")], kind="delta")
        first = (await recv(ws, "spot.order_book_update"))["result"]
        assert (first["s"], first["U"], first["u"]) == ("LINK_USDT", snapshot_id + 1, snapshot_id + 1)
        assert (first["b"], first["a"]) == ([], [["27.101", "0"], ["27.102", "4.5"]])
        sandbox.push_book("LINK_USDT", [("27.095", "3")], [], kind="delta")
        second = (await recv(ws, "spot.order_book_update"))["result"]
        assert second["U"] == first["u"] + 1 and second["b"] == [["27.095", "3"]]
        assert await rest_book_id(sandbox) == second["u"]


async def test_ping_pong(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(sandbox.ws_url) as ws:
        await ws.send_json({"time": int(time.time()), "channel": "spot.ping"})
        pong = await recv(ws, "spot.pong")
        assert pong["event"] == "" and pong["result"] is None


@pytest.mark.parametrize(
    ("key", "secret", "label"), [("nobody", SECRET, "INVALID_KEY"), (KEY, "wrong", "INVALID_SIGNATURE")]
)
async def test_private_subscription_with_bad_auth_is_refused(
    sandbox: Sandbox, key: str, secret: str, label: str
) -> None:
    now = int(time.time())
    async with aiohttp.ClientSession() as session, session.ws_connect(sandbox.ws_url) as ws:
        await ws.send_json(
            {
                "time": now,
                "channel": "spot.orders",
                "event": "subscribe",
                "payload": ["!all"],
                "auth": {
                    "method": "api_key",
                    "KEY": key,
                    "SIGN": sign_ws_channel("spot.orders", "subscribe", now, secret),
                },
            }
        )
        frame = await recv(ws, "spot.orders")
        assert frame["error"]["code"] == 4 and json.loads(frame["error"]["message"])["label"] == label


async def test_private_pushes_follow_an_order(sandbox: Sandbox, gate_pro: ccxt_pro.gate) -> None:
    now = int(time.time())
    async with aiohttp.ClientSession() as session, session.ws_connect(sandbox.ws_url) as ws:
        for channel in ("spot.orders", "spot.usertrades"):
            await ws.send_json(
                {
                    "time": now,
                    "channel": channel,
                    "event": "subscribe",
                    "payload": ["LINK_USDT"],
                    "auth": {
                        "method": "api_key",
                        "KEY": KEY,
                        "SIGN": sign_ws_channel(channel, "subscribe", now, SECRET),
                    },
                }
            )
            assert (await recv(ws, channel))["result"] == {"status": "success"}
        await gate_pro.create_order(
            "LINK/USDT", "limit", "buy", 3, 27.105, {"timeInForce": "IOC", "text": "t-ws1"}
        )
        frames = await collect(ws, {"spot.orders": 4, "spot.usertrades": 2})
        events = [f["result"][0] for f in frames["spot.orders"]]
        assert [e["event"] for e in events] == ["put", "update", "update", "finish"]
        assert [e["filled_amount"] for e in events] == ["0", "2", "3", "3"]
        assert events[-1]["finish_as"] == "filled" and events[-1]["text"] == "t-ws1"
        trades = [f["result"][0] for f in frames["spot.usertrades"]]
        assert [(t["amount"], t["price"], t["fee"], t["role"]) for t in trades] == [
            ("2", "27.101", "0.004", "taker"),
            ("1", "27.105", "0.002", "taker"),
        ]


async def test_ccxt_pro_watch_order_book_follows_pushes(sandbox: Sandbox, gate_pro: ccxt_pro.gate) -> None:
    book = await asyncio.wait_for(gate_pro.watch_order_book("LINK/USDT"), TIMEOUT)
    assert book["asks"][0] == [27.101, 2.0] and book["nonce"] == sandbox.engine.books["LINK_USDT"].update_id
    sandbox.push_book("LINK_USDT", [("27.099", "1.5")], [], kind="delta")
    book = await asyncio.wait_for(gate_pro.watch_order_book("LINK/USDT"), TIMEOUT)
    assert book["bids"][0] == [27.099, 1.5]


async def test_ccxt_pro_watch_orders_and_my_trades(sandbox: Sandbox, gate_pro: ccxt_pro.gate) -> None:
    await gate_pro.load_markets()
    orders_task = asyncio.create_task(gate_pro.watch_orders("LINK/USDT"))
    trades_task = asyncio.create_task(gate_pro.watch_my_trades("LINK/USDT"))
    await asyncio.wait_for(sandbox.hub.wait_for_private_subscriptions(2), TIMEOUT)
    await gate_pro.create_order("LINK/USDT", "limit", "sell", 4, 27.09, {"timeInForce": "IOC"})
    orders = await asyncio.wait_for(orders_task, TIMEOUT)
    trades = await asyncio.wait_for(trades_task, TIMEOUT)
    assert orders[-1]["side"] == "sell" and orders[-1]["amount"] == 4
    assert (
        trades[0]["price"] == 27.095 and trades[0]["amount"] == 4 and trades[0]["fee"]["currency"] == "USDT"
    )
