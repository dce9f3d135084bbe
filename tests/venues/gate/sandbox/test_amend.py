"""Gate's amend, ``PATCH /spot/orders/{order_id}``, on the one matcher, and trades looked up by order.

Gate's documentation (SpotApi ``amend_order``): only ``amount`` or ``price`` can change; changing only the
amount keeps the order's priority, a new price puts it last at that price; an amount below what has filled
cancels the order. Amends share the order placement rate limit. The answer is the order; ``spot.orders``
pushes an ``update`` carrying ``amend_text``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import aiohttp
import pytest

from arb.venues.gate.adapter import live_venue
from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.sandbox import Sandbox
from arb.venues.gate.sandbox.apierror import GateApiError
from arb.venues.gate.sandbox.matching import Engine, OrderEvent, TradeEvent
from arb.venues.gate.signing import sign_ws_channel

from .conftest import ASKS, BIDS, KEY, PAIR, SECRET

K = "k1"
T0 = 1_700_000_000_000
TIMEOUT = 60.0  # bounds a hang only (none is expected to fire): on a loaded CI machine 10 s ran out once


def engine() -> Engine:
    eng = Engine([PAIR])
    eng.set_balance(K, "USDT", D(1000))
    eng.set_balance(K, "LINK", D(10))
    eng.on_book("LINK_USDT", "snapshot", [(D(p), D(s)) for p, s in BIDS], [(D(p), D(s)) for p, s in ASKS], T0)
    return eng


def gtc(side: str, amount: str, price: str, text: str, tif: str = "gtc") -> dict[str, object]:
    return {"currency_pair": "LINK_USDT", "side": side, "amount": amount, "price": price, "time_in_force": tif,
            "text": text}


def test_an_amount_alone_keeps_the_queue_place_and_a_new_price_goes_last() -> None:
    eng = engine()
    first, _ = eng.place(K, gtc("buy", "2", "27.09", "t-a"), T0)  # behind the 20 shown at 27.09
    second, _ = eng.place(K, gtc("buy", "1", "27.09", "t-b"), T0)
    _, events = eng.amend(K, "LINK_USDT", str(first.id), {"amount": "3"}, T0 + 1)
    assert (first.amount, first.queue_ahead) == (D(3), D(20))
    assert [(type(e), e.event) for e in events if isinstance(e, OrderEvent)] == [(OrderEvent, "update")]
    assert eng.balance(K, "USDT").locked == D("27.09") * 4  # both orders' remainders, no more
    eng.amend(K, "LINK_USDT", str(first.id), {"amount": "1"}, T0 + 2)  # smaller: still first of ours
    assert (first.amount, first.queue_ahead) == (D(1), D(20))
    eng.on_trade("LINK_USDT", D("27.09"), D("21"), "sell", T0 + 3)  # 20 ahead, then ours in time order
    assert (first.filled_amount, second.filled_amount) == (D(1), D(0))
    # A new price: last there, behind what is shown and behind our own order at that price.
    third, _ = eng.place(K, gtc("buy", "1", "27.08", "t-c"), T0 + 4)
    eng.amend(K, "LINK_USDT", str(second.id), {"price": "27.08", "amend_text": "t-down"}, T0 + 5)
    assert (second.price, second.queue_ahead, eng.amend_text(second.id)) == (D("27.08"), D(50), "t-down")
    eng.on_trade("LINK_USDT", D("27.08"), D("51"), "sell", T0 + 6)
    assert (third.filled_amount, second.filled_amount) == (D(1), D(0))


def test_a_new_price_that_crosses_takes_as_taker_and_a_post_only_one_is_refused() -> None:
    eng = engine()
    order, _ = eng.place(K, gtc("buy", "3", "27.09", "t-x"), T0)
    _, events = eng.amend(K, "LINK_USDT", str(order.id), {"price": "27.101"}, T0 + 1)
    trades = [e.trade for e in events if isinstance(e, TradeEvent)]
    assert [(t.role, t.price, t.amount) for t in trades] == [("taker", D("27.101"), D(2))]
    assert (order.status, order.left, order.queue_ahead) == ("open", D(1), D(0))
    post, _ = eng.place(K, gtc("buy", "1", "27.09", "t-p", tif="poc"), T0 + 2)
    with pytest.raises(GateApiError) as refused:
        eng.amend(K, "LINK_USDT", str(post.id), {"price": "27.2"}, T0 + 3)
    assert refused.value.label == "POC_FILL_IMMEDIATELY"
    assert (post.price, post.status) == (D("27.09"), "open")


@pytest.mark.parametrize(("req", "label"), [
    ({}, "INVALID_PARAM_VALUE"),
    ({"amount": "0.001"}, "INVALID_PRECISION"),
    ({"price": "27.0001"}, "INVALID_PRECISION"),
    ({"amount": "1000"}, "BALANCE_NOT_ENOUGH"),
    ({"amount": "3", "amend_text": "no spaces"}, "INVALID_PARAM_VALUE"),
])  # fmt: skip
def test_refused_amends_change_nothing(req: dict[str, object], label: str) -> None:
    eng = engine()
    order, _ = eng.place(K, gtc("buy", "2", "27.09", "t-r"), T0)
    locked = eng.balance(K, "USDT").locked
    with pytest.raises(GateApiError) as refused:
        eng.amend(K, "LINK_USDT", str(order.id), req, T0 + 1)
    assert refused.value.label == label
    assert (order.amount, order.price, eng.balance(K, "USDT").locked) == (D(2), D("27.09"), locked)


def test_an_amount_at_or_below_the_filled_cancels_and_a_finished_order_cannot_be_amended() -> None:
    eng = engine()
    order, _ = eng.place(K, gtc("buy", "2", "27.094", "t-f"), T0)
    eng.on_trade("LINK_USDT", D("27.094"), D("1"), "sell", T0 + 1)
    _, events = eng.amend(K, "LINK_USDT", str(order.id), {"amount": "1"}, T0 + 2)
    assert (order.status, order.finish_as, order.filled_amount) == ("cancelled", "cancelled", D(1))
    assert [e.event for e in events if isinstance(e, OrderEvent)] == ["finish"]
    assert eng.balance(K, "USDT").locked == 0
    with pytest.raises(GateApiError) as refused:
        eng.amend(K, "LINK_USDT", str(order.id), {"price": "27.09"}, T0 + 3)
    assert refused.value.label == "ORDER_CLOSED"


# ---- over loopback -------------------------------------------------------------------------------------


async def orders_channel(sb: Sandbox, session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(sb.ws_url)
    now = int(sb.now_s())
    await ws.send_json({"time": now, "channel": "spot.orders", "event": "subscribe", "payload": ["LINK_USDT"],
                        "auth": {"method": "api_key", "KEY": KEY,
                                 "SIGN": sign_ws_channel("spot.orders", "subscribe", now, SECRET)}})
    ack = json.loads((await asyncio.wait_for(ws.receive(), TIMEOUT)).data)
    assert ack["result"] == {"status": "success"}
    return ws


async def next_push(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    frame = json.loads((await asyncio.wait_for(ws.receive(), TIMEOUT)).data)
    assert (frame["channel"], frame["event"]) == ("spot.orders", "update")
    result: dict[str, Any] = frame["result"][0]
    return result


async def test_amend_over_rest_is_answered_and_pushed_as_gate_does(sb: Sandbox, exchange: GateExchange) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await orders_channel(sb, session)
        placed = await exchange.private_spot_post_orders(gtc("buy", "2", "27.09", "t-am1", tif="poc"))
        assert (await next_push(ws))["event"] == "put"
        answer = await exchange.private_spot_patch_orders_order_id(
            {"order_id": placed["id"], "currency_pair": "LINK_USDT", "price": "27.085", "amend_text": "t-reprice"})
        assert (answer["id"], answer["price"], answer["amount"], answer["amend_text"], answer["status"]) == (
            placed["id"], "27.085", "2", "t-reprice", "open")
        push = await next_push(ws)
        assert (push["event"], push["id"], push["price"], push["amend_text"]) == (
            "update", placed["id"], "27.085", "t-reprice")
        # By text while open, amount only (ccxt's unified edit_order: params in the query and the body).
        edited = await exchange.edit_order("t-am1", "LINK/USDT", "limit", "buy", 3, None)
        assert (edited["id"], edited["amount"], edited["price"]) == (placed["id"], 3.0, 27.085)
        push = await next_push(ws)
        assert (push["amount"], push["left"], push["amend_text"]) == ("3", "3", "t-reprice")
        order = sb.engine.orders[int(placed["id"])]
        assert order.queue_ahead == 0  # nothing was shown at 27.085
        await ws.close()


async def test_my_trades_by_order_id_returns_that_orders_trades_only(sb: Sandbox,
                                                                   exchange: GateExchange) -> None:
    first = await exchange.private_spot_post_orders(gtc("buy", "1", "27.094", "t-one"))
    second = await exchange.private_spot_post_orders(gtc("buy", "1", "27.093", "t-two"))
    sb.push_trade("LINK_USDT", D("27.093"), D("2"), "sell")  # fills both, the better price first
    assert len(sb.engine.trades) == 2
    for placed in (first, second):
        rows = await exchange.private_spot_get_my_trades({"currency_pair": "LINK_USDT", "order_id": placed["id"]})
        assert [(r["order_id"], r["text"]) for r in rows] == [(placed["id"], placed["text"])]
    # The venue's fetch_fills(order_id=...) asks Gate by order (GET /spot/my_trades?order_id=), as the
    # stream's reconciliation does.
    venue = live_venue("gate", exchange)
    fills = await venue.fetch_fills("LINK/USDT", datetime(2000, 1, 1, tzinfo=UTC), order_id=second["id"])
    assert "/spot/my_trades?" in exchange.last_request_url and f"order_id={second['id']}" in exchange.last_request_url
    assert [(f.venue_order_id, f.client_order_id, f.price) for f in fills] == [(second["id"], "t-two", D("27.093"))]
