"""The order line's requests against what ccxt's own aiohttp session puts on the wire for the same request.

``LiveVenue`` sends an order as bytes it serialized at prepare time (``arb/venues/live/wire.py``,
``arb/venues/order_line.py``) instead of through ccxt's ``fetch``. Here the same Gate request, signed at one
pinned instant by two identically configured ``GateExchange``s, is sent once through ccxt's ``fetch``
(aiohttp) and once through the venue's order line, to one loopback server that records each request as it
arrived on the socket (read by h11 as a server reads it). Method, target (path and query), every header and
the body must be what aiohttp sent, with one named exception: aiohttp's own default ``Accept: */*``, which
the line leaves out (a request without ``Accept`` accepts any media type, RFC 9110 section 12.5.1).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import h11
import pytest

from arb.domain.market import Side
from arb.domain.venue import OrderRequest
from arb.venues.gate import GateExchange
from arb.venues.gate.adapter import live_venue
from arb.venues.live import LiveVenue
from arb.venues.live.capture import captured
from arb.venues.live.line import write

D = Decimal
KEY, SECRET = "wire-key", "wire-secret-not-real"
NONCE_MS = 1_700_000_000_123  # both builds of a request are signed at this instant
SYMBOL = "LINK/USDT"
PAIR = {"id": "LINK_USDT", "base": "LINK", "quote": "USDT", "fee": "0.1", "min_base_amount": "0.01",
        "min_quote_amount": "1", "amount_precision": 2, "precision": 2, "trade_status": "tradable",
        "sell_start": 0, "buy_start": 0, "type": "normal"}
ORDER = {"id": "1", "text": "t-wire1", "create_time": "1700000000", "update_time": "1700000000",
         "create_time_ms": 1700000000000, "update_time_ms": 1700000000000, "status": "closed",
         "currency_pair": "LINK_USDT", "type": "limit", "account": "spot", "side": "buy", "amount": "1.5",
         "price": "20", "time_in_force": "ioc", "left": "0", "filled_amount": "1.5", "filled_total": "30",
         "fee": "0.0015", "fee_currency": "LINK", "finish_as": "filled"}
AIOHTTP_ONLY = [("accept", "*/*")]  # aiohttp's default header; the order line sends none (see the docstring)
GATE_AUTH = {"key", "timestamp", "sign"}


@dataclass(frozen=True)
class Seen:
    """A request as the server read it off the socket."""

    method: str
    target: str
    http_version: str
    headers: list[tuple[str, str]]  # names lowercased (h11), in the order sent
    body: bytes


class Recorder:
    """A loopback HTTP/1.1 server that records every request and answers as Gate does (an order, the time)."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while (seen := await self._read(conn, reader)) is not None:
                self.seen.append(seen)
                answer = json.dumps({"server_time": NONCE_MS} if seen.target.endswith("/spot/time") else ORDER)
                writer.write(conn.send(h11.Response(status_code=200, headers=[
                    ("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])))
                writer.write(conn.send(h11.Data(data=answer.encode())))
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                conn.start_next_cycle()
        finally:
            writer.close()

    @staticmethod
    async def _read(conn: h11.Connection, reader: asyncio.StreamReader) -> Seen | None:
        request: h11.Request | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.ConnectionClosed):
                return None
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                return Seen(request.method.decode(), request.target.decode(), request.http_version.decode(),
                            [(n.decode(), v.decode()) for n, v in request.headers], body)


@asynccontextmanager
async def two_gates() -> AsyncIterator[tuple[Recorder, GateExchange, LiveVenue]]:
    """The recorder, a plain ccxt-path GateExchange, and a venue over an identical one, all on loopback."""
    recorder = Recorder()
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/api/v4"
    exchanges = [GateExchange.for_endpoint(url, None, KEY, SECRET, enableRateLimit=False, pairs=[PAIR])
                 for _ in range(2)]
    for exchange in exchanges:
        exchange.clock.record(0, -1_000, 0)  # measured (no network): not due again during the test
        exchange.clock.resync_interval_ms = 10**15
    try:
        yield recorder, exchanges[0], live_venue("gate", exchanges[1])
    finally:
        for exchange in exchanges:
            await exchange.close()
        server.close()
        await server.wait_closed()


def pin(*exchanges: Any) -> None:
    for exchange in exchanges:
        exchange.nonce = lambda: NONCE_MS


def order(client_id: str = "t-wire1") -> OrderRequest:
    return OrderRequest(client_id, SYMBOL, Side.BUY, D("1.5"), D("20.00"))


async def ccxt_order(ccxt_path: GateExchange, request: OrderRequest) -> None:
    """The order as ``LiveVenue.prepare`` asks ccxt for it (``create_order`` with Gate's client-id param)."""
    await ccxt_path.create_order(request.symbol, "limit", request.side.value, str(request.amount),
                                 str(request.price), {"timeInForce": request.time_in_force.upper(),
                                                      "text": request.client_order_id})


async def order_built_by_ccxt(ccxt_path: GateExchange, venue: LiveVenue) -> None:
    pin(ccxt_path, venue.exchange)
    await ccxt_order(ccxt_path, order())
    prepared = await venue.prepare(order())  # the first order of its shape: ccxt's build, captured
    assert prepared.wire.direct  # type: ignore[attr-defined]
    await venue.send(prepared)


async def order_built_by_gate_s_builder(ccxt_path: GateExchange, venue: LiveVenue) -> None:
    pin(venue.exchange)
    await venue.prepare(order("t-wire0"))  # the builder check: both builds agreed, nothing sent
    assert venue.builder.verdict(order()) is True
    pin(ccxt_path, venue.exchange)
    await ccxt_order(ccxt_path, order())
    await venue.send(await venue.prepare(order()))  # built by arb's own Gate builder


async def ping(ccxt_path: GateExchange, venue: LiveVenue) -> None:
    await ccxt_path.fetch_time()
    await venue.ping()  # ccxt's fetch_time request, captured, written on the order line


async def signed_read_with_a_query(ccxt_path: GateExchange, venue: LiveVenue) -> None:
    # The line carries orders and pings; a signed request with a query holds the serializer to ccxt's too.
    pin(ccxt_path, venue.exchange)
    await ccxt_path.fetch_order("t-wire1", SYMBOL)
    cap = await captured("any", venue.exchange.fetch_order("t-wire1", SYMBOL))
    assert cap is not None
    wire = venue._wire(cap.url, cap.method, cap.headers, cap.body, {})
    assert wire.direct and "?" in wire.url
    await write(venue.exchange, venue.line, wire)


@pytest.mark.parametrize("send_both", [order_built_by_ccxt, order_built_by_gate_s_builder, ping,
                                       signed_read_with_a_query])
async def test_the_order_line_writes_what_ccxt_s_aiohttp_session_writes(
        send_both: Callable[[GateExchange, LiveVenue], Awaitable[None]]) -> None:
    async with two_gates() as (recorder, ccxt_path, venue):
        await send_both(ccxt_path, venue)
        assert venue.line.connects == 1  # the venue's request went on its order line, not through aiohttp
        by_aiohttp, by_line = recorder.seen
    assert (by_line.method, by_line.target, by_line.http_version, by_line.body) == (
        by_aiohttp.method, by_aiohttp.target, by_aiohttp.http_version, by_aiohttp.body)
    assert sorted(by_line.headers) == sorted(h for h in by_aiohttp.headers if h not in AIOHTTP_ONLY)
    assert set(AIOHTTP_ONLY) <= set(by_aiohttp.headers)  # the named difference is still a difference


async def test_an_order_carries_gate_s_signature_and_its_json_body() -> None:
    # What the comparison above must cover for an order: Gate's auth headers, the content type, the body.
    async with two_gates() as (recorder, ccxt_path, venue):
        await order_built_by_ccxt(ccxt_path, venue)
        by_line = recorder.seen[-1]
    headers = dict(by_line.headers)
    assert GATE_AUTH <= set(headers) and headers["timestamp"] == str(NONCE_MS // 1000)
    assert headers["content-type"] == "application/json"
    assert (by_line.method, by_line.target) == ("POST", "/api/v4/spot/orders")
    assert json.loads(by_line.body)["text"] == "t-wire1"
    assert headers["content-length"] == str(len(by_line.body))
