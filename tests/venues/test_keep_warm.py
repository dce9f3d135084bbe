"""A live venue keeps the connection its next order will use open through quiet spells
(``LiveVenue.keep_warm``): aiohttp closes a pooled connection idle for 15 s, and a leg sent after that pays a
new TCP (and TLS) handshake before its first byte."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from arb.domain.ids import ClientIdFactory
from arb.domain.market import Side
from arb.domain.venue import OrderRequest
from arb.venues.gate import GateExchange
from arb.venues.gate.adapter import live_venue
from arb.venues.gate.sandbox import Account, PairSpec, Sandbox, SandboxConfig
from arb.venues.live import LiveVenue

D = Decimal


class FakeExchange:
    """Only what keep_warm touches: ``has``, ``fetch`` (intercepted by LiveVenue), ``close`` (wrapped to close
    the order line too) and ``fetch_time``, which here answers without a request to capture."""

    id = "fake"
    has = {"fetchTime": True}

    def __init__(self, now: list[float], fail: bool = False) -> None:
        self.now = now
        self.fail = fail
        self.pinged: list[float] = []

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never called here
        raise AssertionError("no request but the ping")

    async def close(self) -> None:  # pragma: no cover - never called here
        pass

    async def fetch_time(self) -> int:
        self.pinged.append(self.now[0])
        if self.fail:
            raise ccxt.NetworkError("gate GET /spot/time")
        return 0


def _clocked(venue_now: list[float], sleeps: int, on_sleep: Any = None) -> Any:
    count = {"n": 0}

    async def sleep(seconds: float) -> None:
        count["n"] += 1
        if count["n"] > sleeps:
            raise asyncio.CancelledError
        before = venue_now[0]
        venue_now[0] += seconds
        if on_sleep is not None:
            on_sleep(count["n"], before)

    return sleep


async def test_it_pings_only_after_the_idle_time_without_a_request() -> None:
    now = [0.0]
    exchange = FakeExchange(now)
    venue = LiveVenue("gate", exchange, monotonic=lambda: now[0])

    def order_during(n: int, before: float) -> None:
        if n == 2:  # an order goes out 5 s into the second wait: the next ping moves 5 s later
            venue.last_request = before + 5

    with pytest.raises(asyncio.CancelledError):
        await venue.keep_warm(10.0, sleep=_clocked(now, 4, order_during))
    # At once (nothing has opened the line yet), then not at 20: the order at 15 was the last request then.
    assert exchange.pinged == [0.0, 10.0, 25.0, 35.0]


async def test_a_failing_ping_is_logged_once_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    exchange = FakeExchange(now, fail=True)
    venue = LiveVenue("gate", exchange, monotonic=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="arb.venues.live"), pytest.raises(asyncio.CancelledError):
        await venue.keep_warm(10.0, sleep=_clocked(now, 3))
    assert exchange.pinged == [0.0, 10.0, 20.0, 30.0]  # every idle spell tried again, never twice at once
    assert [r.getMessage() for r in caplog.records] == ["gate: keeping the connection warm failed: TransientVenueError"]


@asynccontextmanager
async def gate_on_sandbox() -> AsyncIterator[LiveVenue]:
    """A live Gate venue on arb's Gate sandbox over loopback, a LINK/USDT book to trade against."""
    pair = PairSpec("LINK_USDT", precision=2, amount_precision=2, min_base_amount=D("0.01"),
                    min_quote_amount=D("1"), taker_fee=D("0.001"), maker_fee=D("0.001"))
    config = SandboxConfig(accounts=(Account("k", "s", {"USDT": D("100000"), "LINK": D("1000")}),), pairs=(pair,))
    async with Sandbox(config) as sb:
        sb.push_book("LINK_USDT", [("20.20", "1000")], [("20.00", "1000")])
        ex = GateExchange.for_endpoint(sb.rest_url, sb.ws_url, "k", "s", enableRateLimit=False,
                                       pairs=[pair.to_json()])
        try:
            await ex.sync_clock(force=True)
            yield live_venue("gate", ex)
        finally:
            await ex.close()


async def test_the_ping_goes_over_the_connection_the_orders_use() -> None:
    """Against arb's Gate sandbox over loopback: order, ping, order open one TCP connection in all, so
    the ping is what keeps the orders' connection from going idle."""
    loop = asyncio.get_running_loop()
    connects: list[Any] = []
    create_connection = loop.create_connection

    async def counted(*args: Any, **kwargs: Any) -> Any:
        connects.append(args)
        return await create_connection(*args, **kwargs)

    loop.create_connection = counted  # type: ignore[method-assign]
    try:
        async with gate_on_sandbox() as venue:
            ids = ClientIdFactory()
            order = lambda: OrderRequest(ids.next(venue.client_ids), "LINK/USDT", Side.BUY, D("0.1"),  # noqa: E731
                                         D("20.20"))
            await venue.place(order())
            before = len(connects)
            assert before >= 1
            await venue.ping()  # what keep_warm sends after a quiet spell
            await venue.place(order())
            assert len(connects) == before  # the ping and the next order reused the open connection
            assert venue.line.connects == 1
    finally:
        loop.create_connection = create_connection  # type: ignore[method-assign]


async def test_the_line_is_opened_before_the_first_orders_one_connection_per_pair_in_flight() -> None:
    """Against arb's Gate sandbox: keep_warm opens the order line at once, with as many connections as pairs
    may be in flight, so neither of two orders sent together waits for a handshake."""
    async with gate_on_sandbox() as venue:
        slept = asyncio.Event()

        async def sleep(_seconds: float) -> None:
            slept.set()
            await asyncio.Event().wait()  # the next idle spell never ends in this test

        warm = asyncio.create_task(venue.keep_warm(10.0, connections=2, sleep=sleep))
        await slept.wait()  # the first pings are answered
        assert venue.line.connects == 2
        ids = ClientIdFactory()
        orders = [venue.place(OrderRequest(ids.next(venue.client_ids), "LINK/USDT", side, D("0.1"), D("20.10")))
                  for side in (Side.BUY, Side.SELL)]
        await asyncio.gather(*orders)
        assert venue.line.connects == 2  # both orders went out on connections already open
        warm.cancel()
        with pytest.raises(asyncio.CancelledError):
            await warm


def test_the_engine_finds_the_live_venue_under_the_adapters_wrappers() -> None:
    from arb.domain.market_names import MarketNames
    from arb.runtime.venues import _live_inside
    from arb.venues.guard import GuardedVenue
    from arb.venues.renamed import RenamedVenue
    from arb.venues.throttle import VenueLimits, VenueThrottle

    live = LiveVenue("gate", FakeExchange([0.0]))
    guarded = GuardedVenue(live, VenueThrottle("gate", VenueLimits(None)))
    renamed = RenamedVenue(guarded, MarketNames.build(["BTC/USDT"], None, {"BTC/USDT": "XBT/USDT"}))
    assert _live_inside(renamed) is live and _live_inside(guarded) is live
    assert _live_inside(object()) is None  # type: ignore[arg-type]  # a paper venue has no connection to keep
