"""The sandbox's accounts trade with one another (``arb/venues/gate/sandbox/accounts.py``), as Gate's users do.

Over loopback, two API keys each through arb's own Gate venue: one rests a bid, the other sells into it; both
orders, both accounts' trades, fees and balances, and both private streams, as Gate would show them. On the
engine: price then time priority among the accounts and the market's displayed size, post-only and
fill-or-kill against another account's order, an account never trading with itself, both sides of a trade
under one id (each side's GT fee its own).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import aiohttp
import pytest

from arb.domain.market import Side
from arb.domain.orders import VenueState
from arb.domain.venue import OrderRequest
from arb.errors import InvalidOrder
from arb.venues.gate.adapter import live_venue
from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.sandbox import Account, PairSpec, Sandbox
from arb.venues.gate.sandbox.apierror import GateApiError
from arb.venues.gate.sandbox.matching import Engine, OrderEvent, TradeEvent
from arb.venues.gate.signing import sign_ws_channel
from arb.venues.gate.venue import GateVenue

from .conftest import ASKS, BIDS, KEY, PAIR, SECRET, FakeClock, make_config

OTHER, OTHER_SECRET = "other-key", "other-secret-not-real"
TIMEOUT = 60.0  # bounds a hang only (none is expected to fire): on a loaded CI machine 10 s ran out once
T0 = 1_700_000_000_000
SINCE = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    accounts = (Account(KEY, SECRET, {"USDT": D(1000), "LINK": D(10)}), Account(OTHER, OTHER_SECRET, {"LINK": D(5)}))
    async with Sandbox(make_config(clock=FakeClock(), accounts=accounts)) as sandbox:
        sandbox.push_book("LINK_USDT", BIDS, ASKS)  # bids 27.095 x10, 27.09 x20, 27.08 x50
        yield sandbox


async def open_venue(sb: Sandbox, key: str, secret: str) -> tuple[GateExchange, GateVenue]:
    exchange = GateExchange.for_endpoint(sb.rest_url, sb.ws_url, key, secret, pairs=[PAIR.to_json()],
                                         enableRateLimit=False)
    await exchange.sync_clock()
    return exchange, live_venue("gate", exchange, ["LINK/USDT"])


@pytest.fixture
async def venues(sb: Sandbox) -> AsyncIterator[tuple[GateVenue, GateVenue]]:
    (ours_ex, ours), (theirs_ex, theirs) = await open_venue(sb, KEY, SECRET), await open_venue(sb, OTHER, OTHER_SECRET)
    try:
        yield ours, theirs
    finally:
        await ours_ex.close()
        await theirs_ex.close()


async def private_channel(sb: Sandbox, session: aiohttp.ClientSession, channel: str, key: str,
                          secret: str) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(sb.ws_url)
    now = int(sb.now_s())
    await ws.send_json({"time": now, "channel": channel, "event": "subscribe", "payload": ["LINK_USDT"],
                        "auth": {"method": "api_key", "KEY": key, "SIGN": sign_ws_channel(channel, "subscribe", now,
                                                                                          secret)}})
    ack = json.loads((await asyncio.wait_for(ws.receive(), TIMEOUT)).data)
    assert ack["result"] == {"status": "success"}
    return ws


async def pushes(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while len(got) < n:
        got += json.loads((await asyncio.wait_for(ws.receive(), TIMEOUT)).data)["result"]
    return got


async def test_another_accounts_sell_fills_our_resting_bid_at_its_price_with_each_sides_fee(
        sb: Sandbox, venues: tuple[GateVenue, GateVenue]) -> None:
    ours, theirs = venues
    async with aiohttp.ClientSession() as session:
        our_trades = await private_channel(sb, session, "spot.usertrades", KEY, SECRET)
        our_orders = await private_channel(sb, session, "spot.orders", KEY, SECRET)
        their_trades = await private_channel(sb, session, "spot.usertrades", OTHER, OTHER_SECRET)
        rested = await ours.place(OrderRequest("t-bid", "LINK/USDT", Side.BUY, D(2), D("27.098"), "gtc"))
        assert rested.state is VenueState.OPEN
        assert (await pushes(our_orders, 1))[0]["event"] == "put"
        # 3 LINK at 27.09 or better: our 2 at 27.098 first (the better price), then 1 of the book's 27.095.
        sold = await theirs.place(OrderRequest("t-sell", "LINK/USDT", Side.SELL, D(3), D("27.09"), "ioc"))
        assert (sold.state, sold.filled, sold.average) == (VenueState.CLOSED, D(3), D("27.097"))

        ours_now = await ours.fetch_order("t-bid", "LINK/USDT")
        assert (ours_now.state, ours_now.filled, ours_now.average) == (VenueState.CLOSED, D(2), D("27.098"))
        [our_fill] = await ours.fetch_fills("LINK/USDT", SINCE, order_id=rested.venue_order_id)
        assert (our_fill.side, our_fill.price, our_fill.amount, our_fill.fee, our_fill.fee_currency) == (
            Side.BUY, D("27.098"), D(2), D("0.002"), "LINK")  # maker 0.1 %, a buy's fee in base
        their_fills = sorted(await theirs.fetch_fills("LINK/USDT", SINCE), key=lambda f: -f.price)
        assert [(f.price, f.amount, f.fee, f.fee_currency) for f in their_fills] == [
            (D("27.098"), D(2), D("0.108392"), "USDT"),  # taker 0.2 % of 54.196
            (D("27.095"), D(1), D("0.05419"), "USDT")]   # the book's level, as before
        assert their_fills[0].trade_id == our_fill.trade_id  # one trade, both sides

        [our_push] = await pushes(our_trades, 1)
        assert (our_push["id"], our_push["role"], our_push["price"], our_push["amount"], our_push["fee"]) == (
            int(our_fill.trade_id), "maker", "27.098", "2", "0.002")
        assert [(p["role"], p["price"]) for p in await pushes(their_trades, 2)] == [
            ("taker", "27.098"), ("taker", "27.095")]
        assert [(p["event"], p["status"]) for p in await pushes(our_orders, 2)] == [
            ("update", "open"), ("finish", "closed")]
        for ws in (our_trades, our_orders, their_trades):
            await ws.close()

    balances = await ours.balances()
    assert (balances["USDT"].free, balances["USDT"].used) == (D("945.804"), 0)  # 1000 - 2 * 27.098
    assert balances["LINK"].free == D("11.998")  # 10 + 2 - 0.002
    balances = await theirs.balances()
    assert (balances["LINK"].free, balances["USDT"].free) == (D(2), D("81.128418"))  # 54.196 + 27.095 less fees
    # The market's tape prints the trade once (newest first), the taker's side.
    tape = await ours.exchange.public_spot_get_trades({"currency_pair": "LINK_USDT"})
    assert [(t["id"], t["side"], t["price"], t["amount"]) for t in tape] == [
        (their_fills[1].trade_id, "sell", "27.095", "1"), (our_fill.trade_id, "sell", "27.098", "2")]


async def test_a_post_only_order_that_would_trade_with_another_account_is_refused_and_changes_nothing(
        sb: Sandbox, venues: tuple[GateVenue, GateVenue]) -> None:
    ours, theirs = venues
    await ours.place(OrderRequest("t-bid", "LINK/USDT", Side.BUY, D(2), D("27.098"), "gtc"))
    with pytest.raises(InvalidOrder) as refused:
        await theirs.place(OrderRequest("t-poc", "LINK/USDT", Side.SELL, D(1), D("27.098"), "poc"))
    assert refused.value.label == "POC_FILL_IMMEDIATELY"
    assert sb.engine.balance(OTHER, "LINK").available == 5 and not sb.engine.trades
    above = await theirs.place(OrderRequest("t-poc2", "LINK/USDT", Side.SELL, D(1), D("27.099"), "poc"))
    assert above.state is VenueState.OPEN  # one tick above our bid: it rests


# ---- the engine -------------------------------------------------------------------------------------------
A, B, C = "a", "b", "c"


def engine() -> Engine:
    eng = Engine([PAIR])
    for account in (A, B, C):
        eng.set_balance(account, "USDT", D(1000))
        eng.set_balance(account, "LINK", D(100))
    eng.on_book("LINK_USDT", "snapshot", [(D(p), D(s)) for p, s in BIDS], [(D(p), D(s)) for p, s in ASKS], T0)
    return eng


def order(side: str, amount: str, price: str, text: str, tif: str = "gtc") -> dict[str, object]:
    return {"currency_pair": "LINK_USDT", "side": side, "amount": amount, "price": price, "time_in_force": tif,
            "text": text}


def fills(eng: Engine, account: str) -> list[tuple[str, str, D, D]]:
    return [(t.client_id, t.role, t.price, t.amount) for t in eng.trades if t.account == account]


def test_better_prices_first_then_time_at_one_price() -> None:
    eng = engine()
    eng.place(A, order("buy", "1", "27.097", "t-a1"), T0)
    eng.place(C, order("buy", "1", "27.098", "t-c1"), T0 + 1)
    eng.place(A, order("buy", "1", "27.098", "t-a2"), T0 + 2)
    eng.place(B, order("sell", "2.5", "27.097", "t-b", "ioc"), T0 + 3)
    assert fills(eng, B) == [("t-b", "taker", D("27.098"), D(1)), ("t-b", "taker", D("27.098"), D(1)),
                             ("t-b", "taker", D("27.097"), D("0.5"))]
    assert fills(eng, C) == [("t-c1", "maker", D("27.098"), D(1))]  # C was first at 27.098
    assert fills(eng, A) == [("t-a2", "maker", D("27.098"), D(1)), ("t-a1", "maker", D("27.097"), D("0.5"))]


def test_the_markets_displayed_size_at_a_price_goes_before_an_accounts_order_there() -> None:
    eng = engine()
    resting, _ = eng.place(A, order("buy", "1", "27.095", "t-a"), T0)  # behind the 10 shown at 27.095
    assert resting.queue_ahead == 10
    eng.place(B, order("sell", "4", "27.095", "t-b1", "ioc"), T0 + 1)
    assert (resting.filled_amount, resting.queue_ahead) == (0, 6)  # what was taken there was ahead of it
    eng.place(B, order("sell", "7", "27.095", "t-b2", "ioc"), T0 + 2)
    assert [(p, a) for _, _, p, a in fills(eng, B)] == [(D("27.095"), D(4)), (D("27.095"), D(6)),
                                                        (D("27.095"), D(1))]
    assert (resting.status, resting.filled_amount) == ("closed", 1)


def test_an_account_never_trades_with_itself() -> None:
    eng = engine()
    eng.place(A, order("buy", "1", "27.098", "t-bid"), T0)
    eng.place(A, order("sell", "1", "27.095", "t-sell", "ioc"), T0 + 1)
    assert fills(eng, A) == [("t-sell", "taker", D("27.095"), D(1))]  # the book's bid, not its own
    assert eng.find(A, "LINK_USDT", "t-bid").is_open


def test_fill_or_kill_counts_other_accounts_orders_and_is_reported_as_fok() -> None:
    eng = engine()
    eng.place(A, order("buy", "2", "27.098", "t-a"), T0)
    killed, _ = eng.place(B, order("sell", "3", "27.098", "t-b1", "fok"), T0 + 1)  # only 2 reachable
    assert (killed.status, killed.finish_as, killed.filled_amount) == ("cancelled", "fok", 0)
    filled, events = eng.place(B, order("sell", "2", "27.098", "t-b2", "fok"), T0 + 2)
    assert (filled.status, filled.finish_as, filled.time_in_force, filled.filled_amount) == (
        "closed", "filled", "fok", 2)
    assert {e.order.time_in_force for e in events if isinstance(e, OrderEvent) and e.account == B} == {"fok"}


def test_a_post_only_amend_onto_another_accounts_order_is_refused() -> None:
    eng = engine()
    eng.place(A, order("buy", "1", "27.098", "t-a"), T0)
    post, _ = eng.place(B, order("sell", "1", "27.1", "t-b", "poc"), T0 + 1)
    with pytest.raises(GateApiError) as refused:
        eng.amend(B, "LINK_USDT", str(post.id), {"price": "27.098"}, T0 + 2)
    assert refused.value.label == "POC_FILL_IMMEDIATELY"
    assert (post.price, post.status, eng.trades) == (D("27.1"), "open", [])


def test_each_side_of_one_trade_pays_its_own_fee_in_gt() -> None:
    gt = PairSpec("GT_USDT", precision=2, amount_precision=2, min_base_amount=D("0.1"))
    eng = Engine([PAIR, gt])
    eng.gt_accounts = {A, B}
    for account in (A, B):
        for currency, amount in (("USDT", 1000), ("LINK", 100), ("GT", 5)):
            eng.set_balance(account, currency, D(amount))
    eng.on_book("GT_USDT", "snapshot", [(D("9.99"), D(50))], [(D("10.01"), D(50))], T0)  # GT at 10 USDT
    eng.place(A, order("buy", "2", "27.098", "t-a"), T0)
    _, events = eng.place(B, order("sell", "2", "27.098", "t-b", "ioc"), T0 + 1)
    maker, taker = ([e.trade for e in events if isinstance(e, TradeEvent) and e.account == k][0] for k in (A, B))
    assert maker.id == taker.id
    assert (eng.gt_fee(maker), eng.gt_fee(taker)) == (D("0.0054196"), D("0.0108392"))  # 0.002 LINK, 0.108392 USDT
    assert (eng.balance(A, "GT").available, eng.balance(B, "GT").available) == (D("4.9945804"), D("4.9891608"))
