"""The unified ccxt methods arb uses, through GateExchange, against a real HTTP peer on 127.0.0.1.

The peer (gate_stub.py) rejects any private request whose signature it cannot reproduce with
``sign_request`` from what it actually received, exactly like Gate (401 INVALID_SIGNATURE).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from aiohttp import web
from gate_stub import DATA, PAIRS, TEST_KEY, TEST_SECRET, GateStub

from arb.venues.gate import GateExchange

ORDER_RESPONSE: dict[str, Any] = {
    "id": "12332324", "text": "t-arb-0001", "create_time": "1700000000", "update_time": "1700000000",
    "create_time_ms": 1700000000123, "update_time_ms": 1700000000125, "currency_pair": "BTC_USDT",
    "status": "cancelled", "type": "limit", "account": "spot", "side": "buy", "iceberg": "0",
    "amount": "0.002", "price": "65000.1", "time_in_force": "ioc", "left": "0.0005",
    "filled_amount": "0.0015", "filled_total": "97.50015", "avg_deal_price": "65000.1", "fee": "0.000003",
    "fee_currency": "BTC", "point_fee": "0", "gt_fee": "0", "gt_discount": False, "rebated_fee": "0",
    "rebated_fee_currency": "USDT", "finish_as": "ioc",
}  # fmt: skip
TRADE = {
    "id": "1232893232", "create_time": "1700000000", "create_time_ms": "1700000000123.456",
    "currency_pair": "BTC_USDT", "side": "buy", "role": "taker", "amount": "0.0015", "price": "65000.1",
    "order_id": "12332324", "fee": "0.000003", "fee_currency": "BTC", "point_fee": "0", "gt_fee": "0",
    "text": "t-arb-0001",
}  # fmt: skip


async def test_fetch_time_is_public_and_unsigned(gate: GateExchange, gate_stub: GateStub) -> None:
    gate_stub.server_time_ms = lambda: 1_700_000_000_123
    assert await gate.fetch_time() == 1_700_000_000_123
    assert gate_stub.seen[-1].path == "/api/v4/spot/time" and "SIGN" not in gate_stub.seen[-1].headers


async def test_fetch_order_book_parses_a_recorded_gate_snapshot(gate: GateExchange, gate_stub: GateStub) -> None:
    snapshot = json.loads((DATA / "spot_order_book_BTC_USDC.json").read_text())
    # The 2021 recording predates Gate's "current"/"update" (ms) fields, which ccxt 4.5 requires.
    gate_stub.route("GET", "/spot/order_book", {**snapshot, "current": 1619093545407, "update": 1619093545400})
    book = await gate.fetch_order_book("BTC/USDC", limit=100)
    assert book["bids"][0] == [float(snapshot["bids"][0][0]), float(snapshot["bids"][0][1])]
    assert book["asks"][0] == [float(snapshot["asks"][0][0]), float(snapshot["asks"][0][1])]
    assert len(book["asks"]) == len(snapshot["asks"]) and book["nonce"] == snapshot["id"]
    assert book["timestamp"] == 1619093545407
    assert "currency_pair=BTC_USDC" in gate_stub.seen[-1].query


async def test_fetch_balance_is_signed_and_measures_the_clock_first(
    gate: GateExchange, gate_stub: GateStub
) -> None:
    gate_stub.route("GET", "/spot/accounts", [
        {"currency": "USDT", "available": "1000.5", "locked": "24.5"},
        {"currency": "BTC", "available": "0.01", "locked": "0"},
    ])  # fmt: skip
    balance = await gate.fetch_balance()
    assert balance["USDT"] == {"free": "1000.5", "used": "24.5", "total": "1025"}  # exact: arb/venues/live/exact_balances.py
    assert [s.path for s in gate_stub.seen] == ["/api/v4/spot/time", "/api/v4/spot/accounts"]
    signed = gate_stub.seen[-1].headers
    assert signed["KEY"] == TEST_KEY and signed["Timestamp"].isdigit()


async def test_create_ioc_limit_order_sends_exactly_the_signed_body(gate: GateExchange, gate_stub: GateStub) -> None:
    gate_stub.route("POST", "/spot/orders", ORDER_RESPONSE)
    order = await gate.create_order(
        "BTC/USDT", "limit", "buy", 0.002, 65000.1, {"timeInForce": "IOC", "text": "t-arb-0001"}
    )
    sent = json.loads(gate_stub.private("/spot/orders")[-1].body)
    assert sent["currency_pair"] == "BTC_USDT" and sent["side"] == "buy" and sent["type"] == "limit"
    assert sent["time_in_force"] == "ioc" and sent["text"] == "t-arb-0001"
    assert Decimal(sent["amount"]) == Decimal("0.002") and Decimal(sent["price"]) == Decimal("65000.1")
    assert order["id"] == "12332324" and order["clientOrderId"] == "t-arb-0001"
    assert order["filled"] == 0.0015  # gate-v4.md: a partly filled IOC reports canceled; read filled


async def test_cancel_fetch_and_list_orders(gate: GateExchange, gate_stub: GateStub) -> None:
    open_order = {**ORDER_RESPONSE, "status": "open", "finish_as": "open", "left": "0.002", "filled_amount": "0"}
    gate_stub.route("DELETE", "/spot/orders/12332324", {**ORDER_RESPONSE, "finish_as": "cancelled"})
    gate_stub.route("GET", "/spot/orders/12332324", open_order)
    gate_stub.route("GET", "/spot/orders", [open_order])
    gate_stub.route("GET", "/spot/open_orders", [{"currency_pair": "BTC_USDT", "total": 1, "orders": [open_order]}])

    cancelled = await gate.cancel_order("12332324", "BTC/USDT")
    assert cancelled["status"] == "canceled"
    assert "currency_pair=BTC_USDT" in gate_stub.private("/spot/orders/12332324")[-1].query

    fetched = await gate.fetch_order("12332324", "BTC/USDT")
    assert fetched["status"] == "open" and fetched["remaining"] == 0.002

    opened = await gate.fetch_open_orders("BTC/USDT")
    assert [o["id"] for o in opened] == ["12332324"]


async def test_fetch_my_trades(gate: GateExchange, gate_stub: GateStub) -> None:
    gate_stub.route("GET", "/spot/my_trades", [TRADE])
    trades = await gate.fetch_my_trades("BTC/USDT", params={"order_id": "12332324"})
    assert len(trades) == 1 and trades[0]["order"] == "12332324" and trades[0]["takerOrMaker"] == "taker"
    query = gate_stub.private("/spot/my_trades")[-1].query
    assert "currency_pair=BTC_USDT" in query and "order_id=12332324" in query


async def test_a_wrong_secret_is_rejected_by_the_peer(gate_stub: GateStub) -> None:
    # Proves the peer really checks: the same request with another secret fails as on Gate.
    gate_stub.route("GET", "/spot/time", {"server_time": 1})
    gate_stub.route("GET", "/spot/accounts", [])
    wrong = GateExchange.for_endpoint(gate_stub.rest_url, None, TEST_KEY, "not-the-secret", pairs=PAIRS)
    try:
        with pytest.raises(ccxt.AuthenticationError, match="INVALID_SIGNATURE"):
            await wrong.fetch_balance()
    finally:
        await wrong.close()


async def test_offline_markets_match_ccxt_parsing_the_same_pairs(gate_stub: GateStub) -> None:
    gate_stub.route("GET", "/spot/currency_pairs", PAIRS)
    online = GateExchange.for_endpoint(gate_stub.rest_url, None, TEST_KEY, TEST_SECRET)
    offline = GateExchange.for_endpoint(gate_stub.rest_url, None, TEST_KEY, TEST_SECRET, pairs=PAIRS)
    try:
        loaded = await online.load_markets()
        assert [s.path for s in gate_stub.seen] == ["/api/v4/spot/currency_pairs"]  # nothing else needed
        assert set(loaded) == set(offline.markets) == {"BTC/USDT", "BTC/USDC", "OLD/USDT"}
        for symbol, market in loaded.items():
            assert offline.markets[symbol] == market, symbol
    finally:
        await online.close()
        await offline.close()


def test_repr_and_str_show_no_credentials() -> None:
    exchange = GateExchange.for_endpoint("http://127.0.0.1:9/api/v4", None, TEST_KEY, TEST_SECRET)
    for text in (repr(exchange), str(exchange), repr(exchange.clock)):
        assert TEST_SECRET not in text and TEST_KEY not in text
    assert "127.0.0.1:9" in repr(exchange)


async def test_no_account_detail_call_with_unified_account_off(gate: GateExchange, gate_stub: GateStub) -> None:
    gate_stub.route("GET", "/spot/accounts", [])
    await gate.fetch_balance()
    assert not any(s.path.endswith("/account/detail") for s in gate_stub.seen)


async def test_unknown_route_still_reaches_the_peer_signed(gate: GateExchange, gate_stub: GateStub) -> None:
    # Implicit API methods go through the same sign(): the peer verified this one (got past auth).
    async def fee(request: web.Request) -> web.Response:
        return web.json_response({"user_id": 1, "taker_fee": "0.002", "maker_fee": "0.002"})

    gate_stub.route("GET", "/spot/fee", fee)
    result = await gate.private_spot_get_fee({"currency_pair": "BTC_USDT"})
    assert result["taker_fee"] == "0.002"
