"""A loopback Binance spot account, as much of it as arb's fill stream and its REST lookups use, in Binance's
own formats (developers.binance.com, spot API):

- the WebSocket API (``/ws-api/v3``): ``userDataStream.subscribe.signature``, checked as Binance checks it
  (``apiKey`` and an HMAC-SHA256 hex ``signature`` of the other parameters sorted by name, ``k=v`` joined by
  ``&``), answered ``{"id", "status": 200, "result": {"subscriptionId": 0}}``; then the account's events,
  ``{"subscriptionId": 0, "event": {"e": "executionReport", ...}}``;
- ``GET /api/v3/myTrades`` (signed, ``X-MBX-APIKEY``): the account's trades of a symbol, of one ``orderId``;
- ``POST /api/v3/order`` (signed): an order accepted as ``NEW`` (its parameters kept for the test to read).

A trade (:meth:`BinanceAccount.trade`) is kept for REST and, unless the socket is to miss it, pushed as the
``executionReport`` Binance sends for it: both describe the same trade.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

KEY, SECRET = "bn-key", "bn-secret"
SYMBOL, MARKET_ID = "BTC/USDT", "BTCUSDT"


def signature(params: dict[str, Any], secret: str = SECRET) -> str:
    payload = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


@dataclass
class Trade:
    trade_id: int
    order_id: int
    client_order_id: str
    side: str  # BUY | SELL
    price: str
    qty: str
    commission: str
    commission_asset: str
    time_ms: int
    maker: bool
    order_qty: str
    cumulative: str  # the order's filled amount after this trade
    status: str  # the order's status after it: PARTIALLY_FILLED | FILLED

    def rest_row(self) -> dict[str, Any]:
        quote = Decimal(self.price) * Decimal(self.qty)
        return {"symbol": MARKET_ID, "id": self.trade_id, "orderId": self.order_id, "orderListId": -1,
                "price": self.price, "qty": self.qty, "quoteQty": f"{quote:f}", "commission": self.commission,
                "commissionAsset": self.commission_asset, "time": self.time_ms, "isBuyer": self.side == "BUY",
                "isMaker": self.maker, "isBestMatch": True}

    def execution_report(self) -> dict[str, Any]:
        quote = Decimal(self.price) * Decimal(self.qty)
        return {"e": "executionReport", "E": self.time_ms, "s": MARKET_ID, "c": self.client_order_id,
                "S": self.side, "o": "LIMIT", "f": "GTC", "q": self.order_qty, "p": self.price, "P": "0.00000000",
                "F": "0.00000000", "g": -1, "C": "", "x": "TRADE", "X": self.status, "r": "NONE",
                "i": self.order_id, "l": self.qty, "z": self.cumulative, "L": self.price, "n": self.commission,
                "N": self.commission_asset, "T": self.time_ms, "t": self.trade_id, "I": self.trade_id * 10,
                "w": False, "m": self.maker, "M": True, "O": self.time_ms - 1000, "Z": f"{quote:f}",
                "Y": f"{quote:f}", "Q": "0.00000000", "W": self.time_ms - 1000, "V": "EXPIRE_MAKER"}


@dataclass
class BinanceAccount:
    trades: list[Trade] = field(default_factory=list)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    subscribed: list[web.WebSocketResponse] = field(default_factory=list)
    subscriptions: int = 0  # acknowledged subscriptions, over the account's life
    refused: int = 0
    rest_requests: list[dict[str, str]] = field(default_factory=list)
    orders: list[dict[str, str]] = field(default_factory=list)  # POST /api/v3/order parameters, as sent
    subscribed_event: asyncio.Event = field(default_factory=asyncio.Event)

    async def push(self, event: dict[str, Any]) -> None:
        for ws in list(self.subscribed):
            if not ws.closed:
                await ws.send_str(json.dumps({"subscriptionId": 0, "event": event}))

    async def trade(self, trade: Trade, *, push: bool = True) -> None:
        self.trades.append(trade)
        if push:
            await self.push(trade.execution_report())

    async def drop(self) -> None:
        """Every socket closed by the server, as Binance does on a restart or a network fault."""
        self.subscribed.clear()
        self.subscribed_event.clear()
        for ws in list(self.sockets):
            await ws.close()

    async def ws_api(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            params = frame.get("params") or {}
            if frame.get("method") != "userDataStream.subscribe.signature":
                await ws.send_str(json.dumps({"id": frame.get("id"), "status": 400,
                                              "error": {"code": -1100, "msg": "unexpected method"}}))
            elif params.get("apiKey") != KEY or params.get("signature") != signature(params):
                self.refused += 1
                await ws.send_str(json.dumps({"id": frame.get("id"), "status": 401, "error": {
                    "code": -1022, "msg": "Signature for this request is not valid."}}))
            else:
                self.subscriptions += 1
                self.subscribed.append(ws)
                await ws.send_str(json.dumps({"id": frame["id"], "status": 200, "result": {"subscriptionId": 0}}))
                self.subscribed_event.set()
        return ws

    async def my_trades(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.rest_requests.append(query)
        # REST signs the query string as sent (its own order), the signature appended last.
        payload, _, sent = request.query_string.rpartition("&signature=")
        expected = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if request.headers.get("X-MBX-APIKEY") != KEY or sent != expected:
            return web.json_response({"code": -1022, "msg": "Signature for this request is not valid."}, status=400)
        rows = [t.rest_row() for t in self.trades if query.get("symbol") == MARKET_ID
                and ("orderId" not in query or str(t.order_id) == query["orderId"])]
        return web.json_response(rows)


    async def new_order(self, request: web.Request) -> web.Response:
        body = await request.text()
        payload, _, sent = (body or request.query_string).rpartition("&signature=")
        expected = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if request.headers.get("X-MBX-APIKEY") != KEY or sent != expected:
            return web.json_response({"code": -1022, "msg": "Signature for this request is not valid."}, status=400)
        params = {**dict(request.query), **dict(await request.post())}
        self.orders.append(params)
        return web.json_response({
            "symbol": MARKET_ID, "orderId": 777, "orderListId": -1, "clientOrderId": params["newClientOrderId"],
            "transactTime": 1_700_000_000_000, "price": params["price"], "origQty": params["quantity"],
            "executedQty": "0", "cummulativeQuoteQty": "0", "status": "NEW",
            "timeInForce": params.get("timeInForce", "GTC"), "type": params["type"], "side": params["side"],
            "workingTime": 1_700_000_000_000, "fills": [], "selfTradePreventionMode": "EXPIRE_MAKER"})


@asynccontextmanager
async def serving() -> AsyncIterator[tuple[BinanceAccount, str]]:
    """The account and its base URL (``http://127.0.0.1:port``)."""
    account = BinanceAccount()
    app = web.Application()
    app.router.add_get("/ws-api/v3", account.ws_api)
    app.router.add_get("/api/v3/myTrades", account.my_trades)
    app.router.add_post("/api/v3/order", account.new_order)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield account, str(server.make_url("")).rstrip("/")
    finally:
        for ws in list(account.sockets):
            await ws.close()
        await server.close()
