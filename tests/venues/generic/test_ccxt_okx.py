"""The generic ccxt adapter on a venue without a package: ccxt's own okx class, pointed at a local stub that
answers in OKX's format, throttled at ccxt's declared rate and backing off on 429, in virtual time."""

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
from arb.domain.market import Side
from arb.domain.venue import OrderRequest
from arb.errors import RateLimited
from arb.venues.generic.adapter import guarded_venue
from arb.venues.generic.client_ids import KNOWN
from arb.venues.guard import GuardedVenue

SYMBOL = "LINK/USDT"
TOO_MANY = {"code": "50011", "msg": "Too Many Requests", "data": []}  # OKX's rate-limit answer
BALANCE = {"code": "0", "msg": "", "data": [{"uTime": "1700000000000", "totalEq": "100", "details": [
    {"ccy": "USDT", "availBal": "90", "frozenBal": "10", "eq": "100", "cashBal": "100", "uTime": "1700000000000"}]}]}


def okx_market() -> dict[str, Any]:
    return {"id": "LINK-USDT", "symbol": SYMBOL, "base": "LINK", "quote": "USDT", "baseId": "LINK",
            "quoteId": "USDT", "settle": None, "type": "spot", "spot": True, "margin": False, "swap": False,
            "future": False, "option": False, "contract": False, "active": True, "linear": None, "inverse": None,
            "contractSize": None, "precision": {"price": 0.001, "amount": 0.01},
            "limits": {"amount": {"min": 0.01, "max": None}, "cost": {"min": None, "max": None},
                       "price": {"min": None, "max": None}}, "info": {"instType": "SPOT", "instId": "LINK-USDT"}}


class OkxStub:
    """OKX v5 REST, just enough: balance and order lookup; answers 429 while ``refusals`` last."""

    def __init__(self, time: FakeTime) -> None:
        self.time = time
        self.refusals: list[dict[str, str]] = []  # headers of each 429 still to answer
        self.requests: list[tuple[float, str, dict[str, str]]] = []  # (virtual time, path, query)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((self.time.now, request.path, dict(request.query)))
        assert request.headers.get("OK-ACCESS-KEY") == "key"  # signed by ccxt's okx
        if self.refusals:
            return web.json_response(TOO_MANY, status=429, headers=self.refusals.pop(0))
        if request.path == "/api/v5/account/balance":
            return web.json_response(BALANCE)
        if request.path == "/api/v5/trade/order" and request.method == "GET":
            cid = request.query["clOrdId"]
            return web.json_response({"code": "0", "msg": "", "data": [{
                "instId": "LINK-USDT", "ordId": "777", "clOrdId": cid, "side": "buy", "ordType": "ioc",
                "px": "20", "sz": "1.5", "accFillSz": "1.5", "avgPx": "19.99", "state": "filled",
                "fee": "-0.0015", "feeCcy": "LINK", "cTime": "1700000000000", "uTime": "1700000000001"}]})
        return web.json_response({"code": "51000", "msg": f"unexpected {request.path}", "data": []}, status=400)


@pytest.fixture
async def okx() -> AsyncIterator[tuple[GuardedVenue, OkxStub, FakeTime]]:
    time = FakeTime()
    stub = OkxStub(time)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stub.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    exchange = ccxt_async.okx({"apiKey": "key", "secret": "secret", "password": "pass"})
    exchange.urls["api"] = {"rest": str(server.make_url("")).rstrip("/")}
    exchange.set_markets([okx_market()])
    venue = guarded_venue("okx_main", exchange, KNOWN["okx"], clock=time.clock, wall=time.clock, sleep=time.sleep,
                          rng=lambda: 0.5)
    try:
        yield venue, stub, time
    finally:
        await exchange.close()
        await server.close()


async def test_requests_are_spaced_at_ccxts_declared_rate_and_endpoint_cost(okx: Any) -> None:
    venue, stub, time = okx
    ex = venue.inner.exchange
    balance_cost = ex.api["private"]["get"]["account/balance"]["cost"]  # ccxt's okx declares 2
    order_cost = ex.api["private"]["get"]["trade/order"]["cost"]  # and 1/3
    per_unit = ex.rateLimit / 1000  # 110 ms per cost unit
    for _ in range(4):
        assert (await venue.balances())["USDT"].free == Decimal("90")
    for _ in range(3):
        await venue.fetch_order("abc", SYMBOL)
    times = [t for t, _, _ in stub.requests]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[:3] == pytest.approx([balance_cost * per_unit] * 3)  # each balance waits for the one before
    assert gaps[4:] == pytest.approx([order_cost * per_unit] * 2)
    # Every request went through the bucket: each after the first was held for the debt before it.
    assert venue.throttle.held() == {"reset": 0, "budget": len(stub.requests) - 1}


async def test_the_config_rate_overrides_ccxts(okx: Any) -> None:
    venue, stub, time = okx
    slow = guarded_venue("okx_slow", venue.inner.exchange, KNOWN["okx"], rate_limit_per_s=1.0, clock=time.clock,
                         wall=time.clock, sleep=time.sleep)
    for _ in range(3):
        await slow.balances()
    times = [t for t, _, _ in stub.requests]
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == pytest.approx([2.0, 2.0])  # cost 2 at 1/s


async def test_429_backs_off_and_honours_retry_after(okx: Any) -> None:
    venue, stub, time = okx
    stub.refusals = [{"Retry-After": "3"}, {}]  # OKX's 429 body both times; the first announces a window
    start = time.now
    assert (await venue.balances())["USDT"].used == Decimal("10")
    times = [t - start for t, _, _ in stub.requests]
    assert len(times) == 3
    assert times[1] - times[0] == pytest.approx(3.0)  # nothing sent inside the announced window
    # then the backoff (equal jitter, rng 0.5: 0.075 s) or the declared rate (0.22 s), whichever is longer
    assert times[2] - times[1] == pytest.approx(max(0.075, 2 * venue.inner.exchange.rateLimit / 1000))
    assert 0.075 in [pytest.approx(s) for s in time.sleeps]


async def test_rate_limited_placement_is_not_retried_and_reads_give_up_after_the_policy(okx: Any) -> None:
    venue, stub, _ = okx
    stub.refusals = [{}] * 10
    with pytest.raises(RateLimited):
        await venue.balances()
    assert len(stub.requests) == 5  # BackoffPolicy.max_attempts


async def test_orders_are_looked_up_by_client_id_in_okxs_field_and_format(okx: Any) -> None:
    venue, stub, _ = okx
    cid = ClientIdFactory().next(venue.client_ids)
    assert venue.client_ids.is_valid(cid) and cid.isalnum() and len(cid) <= 32
    report = await venue.fetch_order(cid, SYMBOL)
    _, path, query = stub.requests[-1]
    assert path == "/api/v5/trade/order" and query["clOrdId"] == cid and "ordId" not in query
    assert (report.client_order_id, report.filled, report.venue) == (cid, Decimal("1.5"), "okx_main")
    # A placement carries it in ccxt's unified clientOrderId, which ccxt's okx sends as clOrdId.
    prepared = await venue.prepare(OrderRequest(cid, SYMBOL, Side.BUY, Decimal("1.5"), Decimal("20")))
    assert f'"clOrdId":"{cid}"' in prepared.wire.body
