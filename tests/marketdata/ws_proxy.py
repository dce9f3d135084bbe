"""A loopback WebSocket proxy between a feed and the sandbox that can slip raw frames into the stream.

Every frame is forwarded both ways unchanged; :meth:`WsProxy.inject` sends any text or bytes (malformed
JSON included, which the sandbox itself never sends) to every connected client, in order with the rest.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from aiohttp import web


class WsProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.clients: set[web.WebSocketResponse] = set()
        self.connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    async def start(self) -> WsProxy:
        app = web.Application()
        app.add_routes([web.get("/ws/v4/", self._handle)])
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession()
        return self

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/v4/"

    async def inject(self, data: str | bytes) -> None:
        for ws in list(self.clients):
            await (ws.send_bytes(data) if isinstance(data, bytes) else ws.send_str(data))

    async def close(self) -> None:
        for ws in list(self.clients):
            await ws.close()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        down = web.WebSocketResponse()
        await down.prepare(request)
        assert self._session is not None
        async with self._session.ws_connect(self.upstream) as up:
            self.clients.add(down)
            self.connected.set()

            async def pump(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                           sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> None:
                async for msg in source:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        await sink.send_str(msg.data)
                    elif msg.type == aiohttp.WSMsgType.BINARY:
                        await sink.send_bytes(msg.data)

            pumps = [asyncio.create_task(pump(down, up)), asyncio.create_task(pump(up, down))]
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.clients.discard(down)
                for task in pumps:
                    task.cancel()
                for task in pumps:
                    with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                        await task
                await down.close()
        return down
