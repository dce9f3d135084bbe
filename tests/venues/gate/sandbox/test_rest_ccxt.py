"""Stock ccxt gate (async) against the sandbox over real HTTP on loopback."""

from __future__ import annotations

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from arb.venues.gate.sandbox import Sandbox

S = "LINK/USDT"


async def test_markets_come_from_the_sandbox_currency_pairs(gate: ccxt_async.gate) -> None:
    markets = await gate.load_markets()
    assert list(markets) == [S]
    m = markets[S]
    assert (m["id"], m["precision"]["price"], m["precision"]["amount"]) == ("LINK_USDT", 0.001, 0.01)
    assert (m["limits"]["amount"]["min"], m["limits"]["cost"]["min"], m["taker"], m["maker"]) == (
        0.1,
        1,
        0.002,
        0.001,
    )


async def test_balance_and_order_book(gate: ccxt_async.gate, sandbox: Sandbox) -> None:
    balance = await gate.fetch_balance()
    assert balance["total"] == {"LINK": 10.0, "USDT": 1000.0} and balance["used"] == {
        "LINK": 0.0,
        "USDT": 0.0,
    }
    book = await gate.fetch_order_book(S, params={"with_id": "true"})
    assert book["bids"] == [[27.095, 10.0], [27.09, 20.0], [27.08, 50.0]]
    assert book["asks"] == [[27.101, 2.0], [27.105, 3.0], [27.2, 40.0]]
    assert book["nonce"] == sandbox.engine.books["LINK_USDT"].update_id
    headers = gate.last_response_headers
    assert (
        headers["X-Gate-RateLimit-Limit"] == "200" and int(headers["X-Gate-RateLimit-Requests-Remain"]) < 200
    )


async def test_ioc_partial_fill_gtc_cancel_and_my_trades(gate: ccxt_async.gate) -> None:
    ioc = await gate.create_order(S, "limit", "buy", 6, 27.105, {"timeInForce": "IOC", "text": "t-ioc1"})
    assert (ioc["status"], ioc["filled"], ioc["remaining"], ioc["clientOrderId"]) == (
        "canceled",
        5,
        1,
        "t-ioc1",
    )
    assert ioc["cost"] == pytest.approx(135.517) and ioc["average"] == pytest.approx(27.1034)
    assert ioc["info"]["finish_as"] == "ioc" and ioc["info"]["fee"] == "0.01"
    assert gate.last_response_headers["X-Gate-RateLimit-Limit"] == "10"
    assert gate.last_response_headers["X-Gate-RateLimit-Requests-Remain"] == "9"

    gtc = await gate.create_order(S, "limit", "sell", 2, 27.5, {"text": "t-gtc1"})
    assert gtc["status"] == "open"
    assert [o["id"] for o in await gate.fetch_open_orders(S)] == [gtc["id"]]
    balance = await gate.fetch_balance()
    assert balance["LINK"] == {"free": pytest.approx(12.99), "used": 2.0, "total": pytest.approx(14.99)}
    cancelled = await gate.cancel_order(gtc["id"], S)
    assert (cancelled["status"], cancelled["filled"]) == ("canceled", 0)
    assert await gate.fetch_open_orders(S) == []
    closed = await gate.fetch_closed_orders(S)
    assert sorted(o["id"] for o in closed) == [ioc["id"], gtc["id"]]

    trades = await gate.fetch_my_trades(S, params={"order_id": ioc["id"]})
    got = sorted(
        (t["price"], t["amount"], t["fee"]["cost"], t["fee"]["currency"], t["takerOrMaker"]) for t in trades
    )
    assert got == [(27.101, 2, 0.004, "LINK", "taker"), (27.105, 3, 0.006, "LINK", "taker")]
    balance = await gate.fetch_balance()
    assert balance["total"]["USDT"] == pytest.approx(1000 - 135.517)
    assert balance["free"]["LINK"] == pytest.approx(14.99)


async def test_fetch_and_cancel_by_client_id_while_open(gate: ccxt_async.gate) -> None:
    placed = await gate.create_order(S, "limit", "buy", 1, 27.0, {"text": "t-lookup"})
    fetched = await gate.fetch_order("t-lookup", S)
    assert fetched["id"] == placed["id"]
    assert len(await gate.cancel_all_orders(S)) == 1
    with pytest.raises(ccxt.OrderNotFound):
        await gate.fetch_order("t-lookup", S)


@pytest.mark.parametrize(
    ("side", "amount", "price", "params", "error"),
    [
        ("buy", 100, 27.2, {}, ccxt.InsufficientFunds),
        ("buy", 1, 27.2, {"timeInForce": "PO"}, ccxt.OrderImmediatelyFillable),
        ("buy", 0.1, 1.0, {}, ccxt.InvalidOrder),  # below min_quote_amount
        ("buy", 1, 27.0, {"text": "no-prefix"}, ccxt.BadRequest),
    ],
)
async def test_order_errors_map_to_ccxt_classes(
    gate: ccxt_async.gate, side: str, amount: float, price: float, params: dict[str, str], error: type
) -> None:
    await gate.load_markets()
    with pytest.raises(error):
        await gate.create_order(S, "limit", side, amount, price, params)


async def test_unknown_order_and_pair(gate: ccxt_async.gate) -> None:
    with pytest.raises(ccxt.OrderNotFound):
        await gate.fetch_order("999", S)
    with pytest.raises(ccxt.BadSymbol):
        await gate.private_spot_get_orders({"currency_pair": "DOGE_USDT", "status": "open"})
