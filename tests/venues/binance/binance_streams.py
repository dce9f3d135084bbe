"""A loopback Binance market for feed tests, in Binance's own formats: combined streams on any path a feed asks
(``/stream`` for the depth connection, ``/market/stream`` for USD-M's market streams), and the market's REST
depth snapshot.

- Every connection is kept under its path with the ``streams`` it asked for; :meth:`MarketStub.send` wraps an
  event as Binance does (``{"stream": "<id>@<kind>", "data": {...}}``) and sends it to every connection on a
  path; :meth:`MarketStub.close` drops them (the feed reconnects).
- The book is constant (``bids``/``asks``): each :meth:`MarketStub.depth` is a ``depthUpdate`` restating it
  with the next update id (spot ``U == u``; futures ``pu`` the previous ``u``), and the snapshot answers it at
  the last id sent, so a feed syncs on its first diff by either market's rule.
- :func:`mark_price` and :func:`trade` build the ``markPriceUpdate`` and ``trade`` events.

:func:`serving_in_thread` runs stubs on a loop of their own, for a test that drives ``arb`` through its
command line (whose ``asyncio.run`` holds the test's thread).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from arb.venues.binance.feed import HOSTS
from arb.venues.binance.markets import BinanceMarket


def mark_price(venue_id: str, mark: str, rate: str, funding_ts: int, event_ts: int,
               index: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"e": "markPriceUpdate", "E": event_ts, "s": venue_id, "p": mark, "P": mark, "r": rate,
                             "T": funding_ts}
    if index is not None:
        event["i"] = index
    return event


def trade(venue_id: str, trade_id: int, price: str, qty: str, buyer_made: bool, event_ts: int) -> dict[str, Any]:
    return {"e": "trade", "E": event_ts, "T": event_ts, "s": venue_id, "t": trade_id, "p": price, "q": qty,
            "m": buyer_made}


@dataclass
class MarketStub:
    market: BinanceMarket
    venue_id: str
    bids: list[list[str]]
    asks: list[list[str]]
    server: TestServer | None = None
    sockets: dict[str, list[web.WebSocketResponse]] = field(default_factory=dict)  # path -> open connections
    streams: dict[str, list[str]] = field(default_factory=dict)  # path -> ``streams`` each connection asked for
    on_connect: Callable[[str], None] | None = None  # hears the path of each new connection
    last_u: int = 1000
    last_ts: int = 0  # the last depth update's event time: the snapshot's
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/stream", self._stream)
        app.router.add_get("/{path:[a-z]+}/stream", self._stream)
        app.router.add_get(HOSTS[self.market.key].depth, self._depth)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        for path in list(self.sockets):
            await self.close(path)
        if self.server is not None:
            await self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1)

    async def connected(self, path: str, count: int = 1) -> None:
        """Until ``count`` connections have been made on ``path`` (``/stream``, ``/market/stream``)."""
        async with asyncio.timeout(10):
            while len(self.streams.get(path, [])) < count:
                self.changed.clear()
                await self.changed.wait()

    async def send(self, path: str, kind: str, event: dict[str, Any]) -> None:
        frame = orjson.dumps({"stream": f"{self.venue_id.lower()}@{kind}", "data": event}).decode()
        await self.send_raw(path, frame)

    async def send_raw(self, path: str, frame: str) -> None:
        for ws in list(self.sockets.get(path, [])):
            if not ws.closed:
                await ws.send_str(frame)

    async def depth(self, event_ts: int) -> None:
        """One ``depthUpdate`` of the constant book on ``/stream``, with the next update id."""
        u = self.last_u + 1
        event: dict[str, Any] = {"e": "depthUpdate", "E": event_ts, "s": self.venue_id, "U": u, "u": u,
                                 "b": self.bids, "a": self.asks}
        if self.market.futures:
            event |= {"T": event_ts, "pu": self.last_u}
        self.last_u, self.last_ts = u, event_ts
        await self.send("/stream", "depth@100ms", event)

    async def close(self, path: str) -> None:
        for ws in self.sockets.pop(path, []):
            await ws.close()

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        path = request.path
        self.sockets.setdefault(path, []).append(ws)
        self.streams.setdefault(path, []).append(request.query.get("streams", ""))
        self.changed.set()
        if self.on_connect is not None:
            self.on_connect(path)
        async for _ in ws:  # open until the client or the stub closes it
            pass
        return ws

    async def _depth(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {"lastUpdateId": self.last_u, "bids": self.bids, "asks": self.asks}
        if self.market.futures:
            body |= {"E": self.last_ts, "T": self.last_ts}
        return web.json_response(body)


@contextmanager
def serving_in_thread(stubs: list[MarketStub],
                      pump: Callable[[], Awaitable[None]]) -> Iterator[None]:
    """``stubs`` started on an event loop in a thread of their own, and ``pump`` run there until the block
    ends (it loops: sends what the stubs' connections should hear, and waits)."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        holder["stop"] = lambda: loop.call_soon_threadsafe(stop.set)
        for stub in stubs:
            stub.changed = asyncio.Event()  # made on this loop
            await stub.start()
        task = asyncio.create_task(pump())
        ready.set()
        try:
            await stop.wait()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            for stub in stubs:
                await stub.stop()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the Binance stubs did not start")
    try:
        yield
    finally:
        holder["stop"]()
        thread.join(10)
