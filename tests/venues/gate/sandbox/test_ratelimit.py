"""Gate's order-placement limit (per key per market) and the global budget, with Gate's headers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from arb.errors import RateLimited
from arb.venues.gate.errors import translating
from arb.venues.gate.sandbox import PairSpec, Sandbox
from arb.venues.gate.sandbox.ratelimit import WindowLimiter

from .conftest import ASKS, BIDS, KEY, PAIR, SECRET, FakeClock, make_config, point_at


@pytest.mark.parametrize(
    ("now", "expected"),
    [(100.0, (True, 1, 101)), (100.4, (True, 0, 101)), (100.9, (False, 0, 101)), (101.0, (True, 1, 102))],
)
def test_window_limiter_table(now: float, expected: tuple[bool, int, int]) -> None:
    limiter = WindowLimiter(2, 1.0)
    times = [t for t in (100.0, 100.4, 100.9, 101.0) if t <= now]
    verdict = None
    for t in times:
        verdict = limiter.hit("k", t)
    assert verdict is not None and (verdict.allowed, verdict.remain, verdict.reset_at_s) == expected


@pytest.fixture
async def clocked() -> AsyncIterator[tuple[Sandbox, FakeClock, ccxt_async.gate]]:
    clock = FakeClock(float(int(time.time())) + 0.25)  # mid-window, and stopped: nothing rolls over by itself
    btc = PairSpec("BTC_USDT", precision=1, amount_precision=4, min_base_amount=Decimal("0.0001"))
    config = make_config(clock=clock, pairs=(PAIR, btc), global_limit=40, global_window_s=10.0)
    async with Sandbox(config) as sb:
        sb.push_book("LINK_USDT", BIDS, ASKS)
        sb.set_balance(KEY, "BTC", Decimal(1))
        ex = ccxt_async.gate({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False})
        point_at(ex, sb)
        try:
            await ex.load_markets()
            yield sb, clock, ex
        finally:
            await ex.close()


async def test_eleventh_order_in_a_second_is_429_with_headers_until_the_window_reopens(
    clocked: tuple[Sandbox, FakeClock, ccxt_async.gate],
) -> None:
    sb, clock, ex = clocked
    for i in range(10):
        await ex.create_order("LINK/USDT", "limit", "buy", 1, 26.0)
        assert ex.last_response_headers["X-Gate-RateLimit-Requests-Remain"] == str(9 - i)
    with pytest.raises(RateLimited) as info, translating():
        await ex.create_order("LINK/USDT", "limit", "buy", 1, 26.0)
    assert isinstance(info.value.__cause__, ccxt.RateLimitExceeded)
    headers = ex.last_response_headers
    reset = int(clock.now) + 1
    assert (headers["X-Gate-RateLimit-Limit"], headers["X-Gate-RateLimit-Requests-Remain"]) == ("10", "0")
    assert headers["X-Gate-RateLimit-Reset-Timestamp"] == str(reset)
    assert len(sb.engine.open_orders(KEY)) == 10
    # Another market has its own budget; other endpoints are not affected.
    await ex.create_order("BTC/USDT", "limit", "sell", 0.001, 90000.0)
    assert (await ex.fetch_balance())["used"]["BTC"] == 0.001
    clock.now = reset + 0.01
    await ex.create_order("LINK/USDT", "limit", "buy", 1, 26.0)
    assert ex.last_response_headers["X-Gate-RateLimit-Requests-Remain"] == "9"


async def test_global_budget_covers_every_endpoint(
    clocked: tuple[Sandbox, FakeClock, ccxt_async.gate],
) -> None:
    _, clock, ex = clocked
    await ex.fetch_time()
    remain = int(ex.last_response_headers["X-Gate-RateLimit-Requests-Remain"])
    assert remain < 40  # load_markets and this call were counted
    for _ in range(remain):
        await ex.fetch_time()
    with pytest.raises(ccxt.RateLimitExceeded):
        await ex.fetch_time()
    assert ex.last_response_headers["X-Gate-RateLimit-Limit"] == "40"
    clock.now += 10
    assert await ex.fetch_time() > 0
