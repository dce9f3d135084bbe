"""Server clock offset: measured at start and periodically; REQUEST_EXPIRED re-measures and retries reads once.

Time is an injected counter advanced by the test; the peer's clock is another function of it. No sleeps.
"""

from __future__ import annotations

from typing import Any

import ccxt
import pytest
from aiohttp import web
from gate_stub import PAIRS, TEST_KEY, TEST_SECRET, GateStub, error, time_handler

from arb import errors as arb
from arb.venues.gate import GateExchange, ServerClock, translate


class FakeTime:
    def __init__(self, start_ms: int) -> None:
        self.ms = start_ms

    def __call__(self) -> int:
        return self.ms


def test_offset_uses_the_round_trip_midpoint() -> None:
    now = FakeTime(10_000)
    clock = ServerClock(now)
    assert clock.due() and clock.offset_ms is None
    assert clock.server_now_ms() == 10_000  # raw local clock before any measurement
    # sent at 10_000, received at 10_200: the server read its clock (4_100) at ~10_100
    assert clock.record(10_000, 4_100, 10_200) == 6_000
    now.ms = 10_200
    assert clock.server_now_ms() == 4_200
    assert clock.last_round_trip_ms == 200
    with pytest.raises(ValueError, match="backwards"):
        clock.record(10_000, 1, 9_999)


def test_resync_is_due_after_the_interval() -> None:
    now = FakeTime(0)
    clock = ServerClock(now, resync_interval_ms=60_000)
    clock.record(0, 0, 0)
    now.ms = 59_999
    assert not clock.due()
    now.ms = 60_000
    assert clock.due()
    clock.record(60_000, 60_000, 60_000)
    assert not clock.due()


async def test_sync_measures_with_the_given_fetch() -> None:
    now = FakeTime(1_000_000)

    async def server_time() -> int:
        now.ms += 50  # the request takes 50 ms each way
        server = now.ms - 30_000
        now.ms += 50
        return server

    clock = ServerClock(now)
    assert await clock.sync(server_time) == 30_000
    assert clock.server_now_ms() == now.ms - 30_000


@pytest.fixture
async def timed(gate_stub: GateStub) -> Any:
    """(exchange, fake local time, peer) where the peer's clock runs 90 s behind ours."""
    now = FakeTime(1_700_000_000_000)
    gate_stub.server_time_ms = lambda: now.ms - 90_000
    gate_stub.route("GET", "/spot/time", time_handler(gate_stub))
    exchange = GateExchange.for_endpoint(
        gate_stub.rest_url, None, TEST_KEY, TEST_SECRET, pairs=PAIRS,
        clock=ServerClock(now, resync_interval_ms=300_000),
    )  # fmt: skip
    try:
        yield exchange, now, gate_stub
    finally:
        await exchange.close()


def fresh(stub: GateStub, value: Any) -> Any:
    """A handler that, like Gate, rejects a Timestamp more than 60 s from the peer's clock."""

    async def handler(request: web.Request) -> web.StreamResponse:
        assert stub.server_time_ms is not None
        if abs(int(request.headers["Timestamp"]) * 1000 - stub.server_time_ms()) > 60_000:
            return error(401, "REQUEST_EXPIRED", "gap between request Timestamp and server time exceeds 60")
        return web.json_response(value)

    return handler


def time_calls(stub: GateStub) -> int:
    return sum(1 for s in stub.seen if s.path == "/api/v4/spot/time")


async def test_first_private_request_measures_and_corrects_the_timestamp(timed: Any) -> None:
    exchange, now, stub = timed
    stub.route("GET", "/spot/accounts", fresh(stub, []))
    await exchange.fetch_balance()
    assert time_calls(stub) == 1
    assert exchange.options["timeDifference"] == 90_000 == exchange.clock.offset_ms
    assert stub.private()[-1].headers["Timestamp"] == str((now.ms - 90_000) // 1000)


async def test_offset_is_remeasured_periodically(timed: Any) -> None:
    exchange, now, stub = timed
    stub.route("GET", "/spot/accounts", fresh(stub, []))
    await exchange.fetch_balance()
    now.ms += 299_999
    await exchange.fetch_balance()
    assert time_calls(stub) == 1
    now.ms += 1
    stub.server_time_ms = lambda: now.ms - 95_000  # drift since the last measurement
    await exchange.fetch_balance()
    assert time_calls(stub) == 2 and exchange.clock.offset_ms == 95_000


async def test_request_expired_on_a_read_resyncs_and_retries_once(timed: Any) -> None:
    exchange, now, stub = timed
    stub.route("GET", "/spot/accounts", fresh(stub, [{"currency": "USDT", "available": "5", "locked": "0"}]))
    await exchange.fetch_balance()
    stub.server_time_ms = lambda: now.ms + 30_000  # Gate's clock (or ours) jumped 2 minutes
    balance = await exchange.fetch_balance()
    assert balance["USDT"]["free"] == "5"  # the venue's string (arb/venues/live/exact_balances.py)
    accounts = stub.private("/spot/accounts")
    assert len(accounts) == 3 and time_calls(stub) == 2
    assert exchange.clock.offset_ms == -30_000


async def test_request_expired_twice_on_a_read_gives_up_with_clock_advice(timed: Any) -> None:
    exchange, _, stub = timed

    async def always_expired(request: web.Request) -> web.StreamResponse:
        return error(401, "REQUEST_EXPIRED", "expired")

    stub.route("GET", "/spot/accounts", always_expired)
    with pytest.raises(ccxt.AuthenticationError) as raised:
        await exchange.fetch_balance()
    assert len(stub.private("/spot/accounts")) == 2  # the original and exactly one retry
    err = translate(raised.value)
    assert isinstance(err, arb.AuthenticationError) and not err.retryable and "NTP" in str(err)


async def test_order_submission_is_never_retried_but_the_clock_is_resynced(timed: Any) -> None:
    exchange, now, stub = timed
    stub.route("GET", "/spot/accounts", fresh(stub, []))
    stub.route("POST", "/spot/orders", fresh(stub, {"id": "1"}))
    await exchange.fetch_balance()
    stub.server_time_ms = lambda: now.ms + 30_000
    with pytest.raises(ccxt.AuthenticationError):
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 60000, {"text": "t-once"})
    assert len(stub.private("/spot/orders")) == 1
    assert time_calls(stub) == 2 and exchange.clock.offset_ms == -30_000
