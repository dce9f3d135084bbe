"""Private WebSocket subscriptions (spot.orders, spot.usertrades) signed by ws_auth, through ccxt.pro.

A WebSocket peer on 127.0.0.1 checks each subscription's ``auth.SIGN`` against ``sign_ws_channel`` for
the frame's own ``time``, acknowledges, then pushes one update that ``watch_*`` must deliver.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer
from gate_stub import PAIRS, TEST_KEY, TEST_SECRET

from arb.venues.gate import GateExchange, ServerClock
from arb.venues.gate.signing import sign_ws_channel

SERVER_MS = 1_700_000_000_000

ORDER_PUSH = {
    "id": "1036717689726", "text": "t-ws-1", "create_time": "1700000000", "update_time": "1700000000",
    "currency_pair": "BTC_USDT", "type": "limit", "account": "spot", "side": "buy", "amount": "0.002",
    "price": "65000.1", "time_in_force": "ioc", "iceberg": "0", "left": "0", "filled_amount": "0.002",
    "filled_total": "130.0002", "avg_deal_price": "65000.1", "fee": "0.000004", "fee_currency": "BTC",
    "point_fee": "0", "gt_fee": "0", "rebated_fee": "0", "rebated_fee_currency": "USDT",
    "create_time_ms": "1700000000123", "update_time_ms": "1700000000125", "user": 123, "event": "finish",
    "finish_as": "filled",
}  # fmt: skip
TRADE_PUSH = {
    "id": 5736713, "user_id": 1000001, "order_id": "1036717689726", "currency_pair": "BTC_USDT",
    "create_time": 1700000000, "create_time_ms": "1700000000123.456", "side": "buy", "amount": "0.002",
    "role": "taker", "price": "65000.1", "fee": "0.000004", "fee_currency": "BTC", "point_fee": "0",
    "gt_fee": "0", "text": "t-ws-1", "amend_text": "-", "biz_info": "-",
}  # fmt: skip


class WsPeer:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.rejected = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            self.frames.append(frame)
            channel, event = frame["channel"], frame.get("event")
            auth = frame.get("auth") or {}
            expected = sign_ws_channel(channel, str(event), frame["time"], TEST_SECRET)
            if auth.get("KEY") != TEST_KEY or auth.get("SIGN") != expected or auth.get("method") != "api_key":
                self.rejected += 1
                await ws.send_json({"time": frame["time"], "id": frame.get("id"), "channel": channel,
                                    "event": event, "error": {"code": 2, "message": "invalid signature"}})  # fmt: skip
                continue
            await ws.send_json({"time": frame["time"], "id": frame.get("id"), "channel": channel, "event": event,
                                "result": {"status": "success"}})  # fmt: skip
            push = [ORDER_PUSH] if channel == "spot.orders" else [TRADE_PUSH]
            await ws.send_json({"time": frame["time"], "channel": channel, "event": "update", "result": push})
        return ws


@pytest.fixture
async def ws_gate() -> AsyncIterator[tuple[GateExchange, WsPeer]]:
    peer = WsPeer()
    app = web.Application()
    app.router.add_get("/ws/v4/", peer.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    clock = ServerClock(lambda: SERVER_MS + 42_000)
    clock.record(SERVER_MS + 42_000, SERVER_MS, SERVER_MS + 42_000)  # we run 42 s ahead of the server
    exchange = GateExchange.for_endpoint(
        str(server.make_url("/api/v4")), str(server.make_url("/ws/v4/")).replace("http", "ws", 1),
        TEST_KEY, TEST_SECRET, pairs=PAIRS, clock=clock,
    )  # fmt: skip
    try:
        yield exchange, peer
    finally:
        await exchange.close()
        await server.close()


async def test_watch_orders_subscribes_with_our_signature(ws_gate: tuple[GateExchange, WsPeer]) -> None:
    exchange, peer = ws_gate
    orders = await asyncio.wait_for(exchange.watch_orders("BTC/USDT"), timeout=5)
    assert peer.rejected == 0
    frame = peer.frames[0]
    assert frame["channel"] == "spot.orders" and frame["event"] == "subscribe"
    assert frame["payload"] == ["BTC_USDT"]
    assert frame["time"] == SERVER_MS // 1000  # the server clock, not our raw clock
    assert orders[0]["id"] == "1036717689726" and orders[0]["clientOrderId"] == "t-ws-1"
    assert orders[0]["filled"] == 0.002


async def test_watch_my_trades_subscribes_with_our_signature(ws_gate: tuple[GateExchange, WsPeer]) -> None:
    exchange, peer = ws_gate
    trades = await asyncio.wait_for(exchange.watch_my_trades("BTC/USDT"), timeout=5)
    assert peer.rejected == 0
    assert peer.frames[0]["channel"] == "spot.usertrades"
    assert trades[0]["order"] == "1036717689726" and trades[0]["side"] == "buy"
