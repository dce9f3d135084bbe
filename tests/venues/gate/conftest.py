"""Fixtures for the Gate adapter tests: a signature-checking HTTP peer on 127.0.0.1 (see gate_stub.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from gate_stub import PAIRS, TEST_KEY, TEST_SECRET, GateStub, time_handler

from arb.venues.gate import GateExchange


@pytest.fixture
async def gate_stub() -> AsyncIterator[GateStub]:
    app = web.Application()
    server = TestServer(app, host="127.0.0.1")
    stub = GateStub(server)
    app.router.add_route("*", "/api/v4/{tail:.*}", stub.handle)
    await server.start_server()
    try:
        yield stub
    finally:
        await server.close()


@pytest.fixture
async def gate(gate_stub: GateStub) -> AsyncIterator[GateExchange]:
    """A GateExchange pointed at the stub, markets installed offline, server time served."""
    gate_stub.route("GET", "/spot/time", time_handler(gate_stub))
    exchange = GateExchange.for_endpoint(
        gate_stub.rest_url, gate_stub.ws_url, TEST_KEY, TEST_SECRET, pairs=PAIRS
    )
    try:
        yield exchange
    finally:
        await exchange.close()
