"""End to end: arb's GateExchange against the sandbox over real HTTP and WebSocket on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal as D

import ccxt
import pytest

from arb.errors import AuthenticationError
from arb.venues.gate import GateExchange
from arb.venues.gate.errors import translating
from arb.venues.gate.sandbox import Sandbox

from .conftest import KEY, SECRET

S = "LINK/USDT"
# Bounds a hang only (no test here checks how fast an answer comes): ccxt's watchers load markets and
# fetch a REST snapshot before resolving, several loopback round trips that a loaded CI machine stretches.
TIMEOUT = 60


@pytest.fixture
async def exchange(sandbox: Sandbox) -> AsyncIterator[GateExchange]:
    ex = GateExchange.for_endpoint(sandbox.rest_url, sandbox.ws_url, KEY, SECRET, enableRateLimit=False)
    try:
        yield ex
    finally:
        await ex.close()


def balances(raw: dict[str, object]) -> dict[str, tuple[D, D]]:
    return {b["currency"]: (D(b["available"]), D(b["locked"])) for b in raw["info"]}  # type: ignore[index, union-attr]


async def test_gate_exchange_trades_end_to_end(sandbox: Sandbox, exchange: GateExchange) -> None:
    await exchange.load_markets()
    assert balances(await exchange.fetch_balance()) == {"LINK": (D(10), D(0)), "USDT": (D(1000), D(0))}

    book = await exchange.fetch_order_book(S, limit=10)
    assert book["bids"] == [[27.095, 10.0], [27.09, 20.0], [27.08, 50.0]]
    assert book["asks"] == [[27.101, 2.0], [27.105, 3.0], [27.2, 40.0]]
    streamed = await asyncio.wait_for(exchange.watch_order_book(S), TIMEOUT)
    assert streamed["asks"][:2] == [[27.101, 2.0], [27.105, 3.0]]

    orders_task = asyncio.create_task(exchange.watch_orders(S))
    trades_task = asyncio.create_task(exchange.watch_my_trades(S))
    await asyncio.wait_for(sandbox.hub.wait_for_private_subscriptions(2), TIMEOUT)

    # IOC buy 6 up to 27.105: takes 2 @ 27.101 and 3 @ 27.105, the last 1 is cancelled.
    ioc = await exchange.create_order(
        S, "limit", "buy", 6, 27.105, {"timeInForce": "IOC", "text": "t-e2e-ioc"}
    )
    info = ioc["info"]
    assert (info["status"], info["finish_as"], info["text"]) == ("cancelled", "ioc", "t-e2e-ioc")
    assert (D(info["amount"]), D(info["filled_amount"]), D(info["left"])) == (D(6), D(5), D(1))
    assert D(info["filled_total"]) == D("135.517") and D(info["avg_deal_price"]) == D("27.1034")
    assert (D(info["fee"]), info["fee_currency"]) == (D("0.01"), "LINK")
    assert (ioc["status"], ioc["filled"], ioc["remaining"]) == ("canceled", 5, 1)

    pushed_orders = await asyncio.wait_for(orders_task, TIMEOUT)
    pushed_trades = await asyncio.wait_for(trades_task, TIMEOUT)
    assert pushed_orders[-1]["id"] == ioc["id"] and pushed_orders[-1]["clientOrderId"] == "t-e2e-ioc"
    while len(pushed_trades) < 2:  # both fills, possibly over two pushes
        pushed_trades = await asyncio.wait_for(exchange.watch_my_trades(S), TIMEOUT)
    assert sorted(
        (D(t["info"]["price"]), D(t["info"]["amount"]), D(t["info"]["fee"])) for t in pushed_trades
    ) == [(D("27.101"), D(2), D("0.004")), (D("27.105"), D(3), D("0.006"))]
    assert {t["order"] for t in pushed_trades} == {ioc["id"]}
    final_push = pushed_orders[-1]["info"]
    while final_push.get("event") != "finish":
        final_push = (await asyncio.wait_for(exchange.watch_orders(S), TIMEOUT))[-1]["info"]
    assert (final_push["filled_amount"], final_push["left"], final_push["finish_as"]) == ("5", "1", "ioc")

    assert balances(await exchange.fetch_balance()) == {
        "LINK": (D("14.99"), D(0)),  # 10 + 5 - 0.01 fee in LINK
        "USDT": (D("864.483"), D(0)),  # 1000 - 135.517
    }

    gtc = await exchange.create_order(S, "limit", "sell", 2, 27.5, {"text": "t-e2e-gtc"})
    assert (gtc["info"]["status"], gtc["info"]["left"]) == ("open", "2")
    assert balances(await exchange.fetch_balance())["LINK"] == (D("12.99"), D(2))
    assert [o["id"] for o in await exchange.fetch_open_orders(S)] == [gtc["id"]]
    cancelled = await exchange.cancel_order(gtc["id"], S)
    assert (
        cancelled["info"]["status"],
        cancelled["info"]["finish_as"],
        cancelled["info"]["filled_amount"],
    ) == ("cancelled", "cancelled", "0")
    assert balances(await exchange.fetch_balance())["LINK"] == (D("14.99"), D(0))
    assert await exchange.fetch_open_orders(S) == []

    trades = await exchange.fetch_my_trades(S)
    got = sorted(
        (
            t["order"],
            D(t["info"]["price"]),
            D(t["info"]["amount"]),
            D(t["info"]["fee"]),
            t["info"]["fee_currency"],
            t["info"]["role"],
            t["info"]["text"],
        )
        for t in trades
    )
    assert got == [
        (ioc["id"], D("27.101"), D(2), D("0.004"), "LINK", "taker", "t-e2e-ioc"),
        (ioc["id"], D("27.105"), D(3), D("0.006"), "LINK", "taker", "t-e2e-ioc"),
    ]
    assert int(trades[0]["id"]) + 1 == int(trades[1]["id"]) or int(trades[1]["id"]) + 1 == int(
        trades[0]["id"]
    )


async def test_clock_skew_90s_is_corrected_without_user_action(
    sandbox: Sandbox, exchange: GateExchange
) -> None:
    assert balances(await exchange.fetch_balance())["USDT"] == (D(1000), D(0))  # synced while clocks agree
    sandbox.shift_clock(90)
    # The next read is REQUEST_EXPIRED at the sandbox; GateExchange re-measures and retries by itself.
    assert balances(await exchange.fetch_balance())["USDT"] == (D(1000), D(0))
    assert -91_000 <= (exchange.clock.offset_ms or 0) <= -89_000
    order = await exchange.create_order(S, "limit", "buy", 1, 27.0, {"text": "t-skew"})
    assert order["info"]["status"] == "open"


async def test_a_client_that_cannot_correct_its_clock_gets_request_expired(sandbox: Sandbox) -> None:
    stock = ccxt.async_support.gate({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False})
    from .conftest import point_at

    point_at(stock, sandbox)
    sandbox.shift_clock(90)
    try:
        with pytest.raises(AuthenticationError) as info, translating():
            await stock.fetch_balance()
        assert "REQUEST_EXPIRED" in str(info.value.__cause__)
    finally:
        await stock.close()
