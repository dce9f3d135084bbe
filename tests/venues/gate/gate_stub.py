"""A tiny Gate-v4-shaped HTTP peer on 127.0.0.1 that checks every private request's signature.

It verifies with arb's own ``sign_request`` the way Gate does: the path as received, the query string
decoded in wire order, the SHA-512 of the exact body bytes received and the ``Timestamp`` header. Routes
are plain async functions registered per test; every request is recorded for assertions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from aiohttp.test_utils import TestServer

from arb.venues.gate.signing import sign_request

TEST_KEY = "gate-test-key-7a1c"
TEST_SECRET = "gate-test-SECRET-d41d8cd98f00b204"
DATA = Path(__file__).resolve().parents[2] / "data" / "gate"

PAIRS: list[dict[str, Any]] = [
    # Shape of GET /spot/currency_pairs entries as documented by Gate (hand-written, not recorded).
    {"id": "BTC_USDT", "base": "BTC", "quote": "USDT", "fee": "0.2", "min_base_amount": "0.00001",
     "min_quote_amount": "3", "amount_precision": 6, "precision": 1, "trade_status": "tradable",
     "sell_start": 1516378650, "buy_start": 1516378650},
    {"id": "BTC_USDC", "base": "BTC", "quote": "USDC", "fee": "0.2", "min_base_amount": "0.0001",
     "min_quote_amount": "1", "amount_precision": 4, "precision": 2, "trade_status": "tradable",
     "sell_start": 0, "buy_start": 0},
    {"id": "OLD_USDT", "base": "OLD", "quote": "USDT", "fee": "0.2", "min_base_amount": "1",
     "min_quote_amount": "1", "amount_precision": 0, "precision": 4, "trade_status": "untradable",
     "sell_start": 0, "buy_start": 0},
]  # fmt: skip

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path: str
    query: str  # decoded, wire order
    body: bytes
    headers: dict[str, str]


@dataclass
class GateStub:
    server: TestServer
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    server_time_ms: Callable[[], int] | None = None

    @property
    def rest_url(self) -> str:
        return str(self.server.make_url("/api/v4"))

    @property
    def ws_url(self) -> str:
        return str(self.server.make_url("/ws/v4/")).replace("http://", "ws://")

    def route(self, method: str, path: str, handler: Handler | Any) -> None:
        """Register a handler, or a JSON-able value to answer with (status 200)."""
        if not callable(handler):
            value = handler

            async def handler(request: web.Request) -> web.StreamResponse:
                return web.json_response(value)

        self.routes[(method, "/api/v4" + path)] = handler

    def private(self, path: str | None = None) -> list[Seen]:
        return [s for s in self.seen if "SIGN" in s.headers and (path is None or s.path.endswith(path))]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw_query = request.raw_path.partition("?")[2]
        body = await request.read()
        seen = Seen(request.method, request.path, unquote(raw_query), body, dict(request.headers))
        self.seen.append(seen)
        if "SIGN" in request.headers:
            expected = sign_request(
                request.method, request.path, seen.query, body or None,
                request.headers.get("Timestamp", ""), TEST_KEY, TEST_SECRET,
            )  # fmt: skip
            if request.headers.get("KEY") != TEST_KEY:
                return error(401, "INVALID_KEY", "Invalid key provided")
            if expected["SIGN"] != request.headers["SIGN"]:
                return error(401, "INVALID_SIGNATURE", "Signature mismatch")
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return error(404, "NOT_FOUND", f"no route {request.method} {request.path}")
        return await handler(request)


def error(status: int, label: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, text=json.dumps({"label": label, "message": message}),
        content_type="application/json", headers=headers,
    )  # fmt: skip


def time_handler(stub: GateStub) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        now = stub.server_time_ms() if stub.server_time_ms else time.time_ns() // 1_000_000
        return web.json_response({"server_time": now})

    return handler
