"""The sandbox's USDT perpetuals through ccxt's own gate class with arb's signer: markets, an IOC order in
signed contracts, the position and margin it leaves, the futures account apart from the spot wallet,
lookups by text, trades with their fee in USDT, funding paid at the funding time with the right sign and
listed in the account book, reduce-only orders, and the futures book and tickers on the WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest

from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.sandbox import Account, PairSpec, SandboxConfig
from arb.venues.gate.sandbox.contracts import ContractSpec
from arb.venues.gate.sandbox.server import Sandbox

D = Decimal
PERP = "ETH/USDT:USDT"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    config = SandboxConfig(accounts=(Account("k", "s", {"USDT": D(1000)}, futures={"USDT": D(1000)}),),
                           pairs=(PairSpec("ETH_USDT", precision=2, amount_precision=4),),
                           contracts=(ContractSpec("ETH_USDT", leverage=D(5)),))
    async with Sandbox(config) as sb:
        sb.push_book("usdt:ETH_USDT", [("2600", "5")], [("2601", "5")])
        sb.push_book("ETH_USDT", [("2500", "5")], [("2501", "5")])  # the spot pair of the same name: apart
        yield sb


@pytest.fixture
async def perp(sandbox: Sandbox) -> AsyncIterator[GateExchange]:
    exchange = GateExchange.for_endpoint(sandbox.rest_url, None, "k", "s", enableRateLimit=False,
                                         options={"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"})
    await exchange.load_markets()
    yield exchange
    await exchange.close()


async def test_an_ioc_sell_opens_a_short_that_holds_margin_in_the_futures_wallet(
        sandbox: Sandbox, perp: GateExchange) -> None:
    market = perp.market(PERP)
    assert (market["type"], market["linear"], market["contractSize"]) == ("swap", True, 0.01)
    order = await perp.create_order(PERP, "limit", "sell", 3, 2600, {"text": "t-open", "timeInForce": "IOC"})
    assert (order["clientOrderId"], order["side"], order["filled"], order["status"]) == ("t-open", "sell", 3, "closed")
    assert (await perp.fetch_order("t-open", PERP))["filled"] == 3  # by text after it finished
    [position] = [p for p in await perp.fetch_positions([PERP]) if p["contracts"]]
    assert (position["side"], position["contracts"], position["entryPrice"]) == ("short", 3, 2600)
    balance = await perp.fetch_balance()
    # 3 contracts x 0.01 ETH x 2600 / leverage 5 held; 0.0005 x 78 USDT fee paid out of the wallet
    assert (D(str(balance["used"]["USDT"])), D(str(balance["free"]["USDT"]))) == (D("15.6"), D("984.361"))
    assert sandbox.engine.balance("k", "USDT").available == 1000  # the spot wallet did not move
    [trade] = await perp.fetch_my_trades(PERP, 0)
    assert (trade["side"], trade["amount"], trade["fee"]["currency"], trade["fee"]["cost"]) == ("sell", 3, "USDT", 0.039)


@pytest.mark.parametrize(("side", "received"), [("sell", D("0.0078015")), ("buy", D("-0.0078015"))])
async def test_funding_is_paid_at_the_funding_time_and_listed_in_the_account_book(
        sandbox: Sandbox, perp: GateExchange, side: str, received: Decimal) -> None:
    price = 2600 if side == "sell" else 2601
    await perp.create_order(PERP, "limit", side, 3, price, {"text": "t-pos", "timeInForce": "IOC"})
    due = sandbox.now_ms() + 1
    sandbox.push_funding("ETH_USDT", D("2600.5"), D("0.0001"), due)
    assert await perp.fetch_funding_history(PERP, 0) == []  # announced, not reached
    sandbox.shift_clock(1)
    sandbox.push_funding("ETH_USDT", D("2600.5"), D("0.0001"), due + 8 * 3600_000)
    [paid] = await perp.fetch_funding_history(PERP, 0)
    # a positive rate: the short receives 3 x 0.01 x 2600.5 x 0.0001, the long pays it
    assert D(paid["info"]["change"]) == received
    assert paid["timestamp"] == due


async def test_a_reduce_only_order_never_opens_or_grows_a_position(perp: GateExchange) -> None:
    opened = await perp.create_order(PERP, "limit", "buy", 2, 2601, {"text": "t-ro1", "reduceOnly": True,
                                                                      "timeInForce": "IOC"})
    assert opened["filled"] == 0 and opened["info"]["finish_as"] == "reduce_only"
    await perp.create_order(PERP, "limit", "buy", 2, 2601, {"text": "t-long", "timeInForce": "IOC"})
    cut = await perp.create_order(PERP, "limit", "sell", 5, 2600, {"text": "t-ro2", "reduceOnly": True,
                                                                   "timeInForce": "IOC"})
    assert cut["filled"] == 2  # cut to the position
    assert not [p for p in await perp.fetch_positions([PERP]) if p["contracts"]]


async def test_the_futures_book_streams_in_contracts(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(sandbox.base_url + "/v4/ws/usdt") as ws:
        await ws.send_str(json.dumps({"time": 0, "channel": "futures.order_book_update", "event": "subscribe",
                                      "payload": ["ETH_USDT", "100ms"]}))
        ack = json.loads((await ws.receive()).data)
        assert ack["result"] == {"status": "success"}
        sandbox.push_book("usdt:ETH_USDT", [("2600.5", "0.07")], [], kind="delta")
        update = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
        assert update["channel"] == "futures.order_book_update"
        assert update["result"]["s"] == "ETH_USDT" and update["result"]["b"] == [{"p": "2600.5", "s": "7"}]


async def test_tickers_carry_each_announced_mark_and_rate_and_the_contract_states_the_funding_time(
        sandbox: Sandbox) -> None:
    due = (sandbox.now_ms() // 1000 + 3600) * 1000
    async with aiohttp.ClientSession() as session, session.ws_connect(sandbox.base_url + "/v4/ws/usdt") as ws:
        await ws.send_str(json.dumps({"time": 0, "channel": "futures.tickers", "event": "subscribe",
                                      "payload": ["BTC_USDT"]}))
        refused = json.loads((await ws.receive()).data)
        assert refused["error"]["message"] == "unknown contract BTC_USDT"
        await ws.send_str(json.dumps({"time": 0, "channel": "futures.tickers", "event": "subscribe",
                                      "payload": ["ETH_USDT"]}))
        assert json.loads((await ws.receive()).data)["result"] == {"status": "success"}
        sandbox.push_funding("ETH_USDT", D("2600.5"), D("-0.00015"), due, index=D("2600.25"))
        update = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
        assert (update["channel"], update["event"]) == ("futures.tickers", "update") and update["time_ms"] < due
        [ticker] = update["result"]
        assert {k: ticker[k] for k in ("contract", "mark_price", "index_price", "funding_rate")} == {
            "contract": "ETH_USDT", "mark_price": "2600.5", "index_price": "2600.25", "funding_rate": "-0.00015"}
        async with session.get(sandbox.rest_url + "/futures/usdt/contracts/ETH_USDT") as resp:
            contract = await resp.json()
        assert (contract["funding_next_apply"], contract["funding_rate"], contract["mark_price"]) == (
            due // 1000, "-0.00015", "2600.5")
