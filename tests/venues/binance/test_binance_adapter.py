"""The Binance adapter as the registry resolves it, and its orders as ccxt's Binance classes send them: looked
up by client order id (``origClientOrderId``) on spot and USD-M, against a loopback stub answering in
Binance's format."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from execution.fakes import FakeTime

from arb.domain.ids import ClientIdFactory
from arb.marketdata.books import BookStore
from arb.marketdata.feed_setup import FeedSetup
from arb.venues.adapter import Endpoint
from arb.venues.binance.adapter import ADAPTER, BinanceAdapter
from arb.venues.binance.facts import CLIENT_IDS
from arb.venues.binance.markets import COINM, SPOT, USDM
from arb.venues.generic.adapter import guarded_venue
from arb.venues.registry import UnknownVenue, resolve


@pytest.mark.parametrize(("name", "adapter", "ccxt_id", "market"), [
    ("binance", None, None, SPOT),
    ("binanceusdm", None, None, USDM),
    ("binancecoinm", None, None, COINM),
    ("bn_perp", "binance", "binanceusdm", USDM),  # a name the user chose
    ("bn_spot", "binance", None, SPOT),  # the adapter's default ccxt id: spot
])
def test_the_registry_resolves_every_binance_market_to_the_binance_adapter(
        name: str, adapter: str | None, ccxt_id: str | None, market: Any) -> None:
    ref = resolve(name, adapter, ccxt_id)
    assert isinstance(ref.adapter, BinanceAdapter) and ref.name == name and ref.ccxt_id == market.ccxt_id
    assert ref.adapter.live_refusal(ref.ccxt_id) is None  # lookup by client id checked: may trade live
    assert ref.adapter.books_refusal(ref.ccxt_id) is None
    assert ref.adapter.client_ids(ref.ccxt_id) is CLIENT_IDS.format
    feed = ref.adapter.book_feed(ref, BookStore(), ["BTC/USDT"], FeedSetup(ref.name, clock_ms=lambda: 0),
                                 depth=20, endpoint=Endpoint("http://127.0.0.1:1", "ws://127.0.0.1:1"))
    assert feed.venue == name and feed.market is market  # books stored under the configured name


def test_the_binance_adapter_refuses_another_exchanges_id_and_has_no_sandbox() -> None:
    with pytest.raises(UnknownVenue, match="binance adapter speaks ccxt ids binance, binanceusdm, binancecoinm"):
        resolve("bn", "binance", "okx")
    assert not ADAPTER.has_sandbox
    with pytest.raises(ValueError, match="no sandbox"):
        ADAPTER.check_sandbox_step(Decimal("0.01"))


def _market(ccxt_id: str) -> dict[str, Any]:
    futures = ccxt_id == "binanceusdm"
    return {"id": "BTCUSDT", "symbol": "BTC/USDT:USDT" if futures else "BTC/USDT", "base": "BTC", "quote": "USDT",
            "baseId": "BTC", "quoteId": "USDT", "settle": "USDT" if futures else None, "settleId": None,
            "type": "swap" if futures else "spot", "spot": not futures, "margin": False, "swap": futures,
            "future": False, "option": False, "contract": futures, "active": True, "linear": True if futures else None,
            "inverse": False if futures else None, "contractSize": 1 if futures else None,
            "precision": {"price": 0.01, "amount": 0.00001},
            "limits": {"amount": {"min": 0.00001, "max": None}, "cost": {"min": None, "max": None},
                       "price": {"min": None, "max": None}}, "info": {"symbol": "BTCUSDT"}}


class BinanceStub:
    """``GET /api/v3/order`` (spot) and ``/fapi/v1/order`` (USD-M): an order found by ``origClientOrderId``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.query)))
        assert request.headers.get("X-MBX-APIKEY") == "key" and "signature" in request.query  # signed by ccxt
        if request.path in ("/api/v3/order", "/fapi/v1/order") and request.method == "GET":
            cid = request.query["origClientOrderId"]
            return web.json_response({
                "symbol": "BTCUSDT", "orderId": 777, "clientOrderId": cid, "price": "60000", "origQty": "0.002",
                "executedQty": "0.0015", "cummulativeQuoteQty": "90", "cumQuote": "90", "avgPrice": "60000",
                "status": "EXPIRED", "timeInForce": "IOC", "type": "LIMIT", "side": "BUY",
                "time": 1700000000000, "updateTime": 1700000000001})
        return web.json_response({"code": -1100, "msg": f"unexpected {request.path}"}, status=400)


@pytest.fixture
async def stub_url() -> AsyncIterator[tuple[str, BinanceStub]]:
    stub = BinanceStub()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stub.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), stub
    finally:
        await server.close()


@pytest.mark.parametrize(("ccxt_id", "symbol", "path"), [
    ("binance", "BTC/USDT", "/api/v3/order"),
    ("binanceusdm", "BTC/USDT:USDT", "/fapi/v1/order"),
])
async def test_orders_are_looked_up_by_client_id_in_binances_field_and_format(
        stub_url: Any, ccxt_id: str, symbol: str, path: str) -> None:
    url, stub = stub_url
    exchange = getattr(ccxt_async, ccxt_id)({"apiKey": "key", "secret": "secret"})
    exchange.urls["api"] = {k: url + v.split(".com", 1)[1] if ".com" in v else v
                            for k, v in exchange.urls["api"].items() if isinstance(v, str)}
    exchange.set_markets([_market(ccxt_id)])
    time = FakeTime()
    venue = guarded_venue("bn_main", exchange, ADAPTER.facts(ccxt_id), clock=time.clock, wall=time.clock,
                          sleep=time.sleep)
    try:
        cid = ClientIdFactory().next(venue.client_ids)
        assert CLIENT_IDS.format.is_valid(cid) and len(cid) <= 36
        report = await venue.fetch_order(cid, symbol)
    finally:
        await exchange.close()
    found, query = stub.requests[-1]
    assert found == path and query["origClientOrderId"] == cid and "orderId" not in query
    assert (report.client_order_id, report.filled, report.venue) == (cid, Decimal("0.0015"), "bn_main")
