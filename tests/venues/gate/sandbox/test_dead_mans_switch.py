"""Gate's dead man's switch, ``POST /spot/countdown_cancel_all``, in the sandbox and through arb's Gate venue.

Gate's documentation (SpotApi ``countdown_cancel_all_spot``): when ``timeout`` seconds pass without the call
being made again, the account's open spot orders (of ``currency_pair`` when one is named) are cancelled;
each call sets a new countdown, 0 ends it, otherwise at least 5 seconds; answered ``{"triggerTime": ms}``.

Time is the sandbox's clock: a fake one the tests move (every request first fires what has run out by
then), and for the sandbox's own timer, market time on a simulated loop, where the countdown must fire at its
trigger time with no request made at all (the case of an arb process killed while it quotes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal as D

import aiohttp
import pytest

from arb.domain.market import Side
from arb.domain.market_names import MarketNames
from arb.domain.orders import VenueState
from arb.domain.venue import DeadMansSwitch, OrderRequest
from arb.errors import InvalidOrder, VenueError
from arb.eventloop.clock import from_ms
from arb.eventloop.simloop import run_simulation, time_held
from arb.venues.gate.adapter import live_venue
from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.facts import GATE_SPOT_LIMITS
from arb.venues.gate.sandbox import PairSpec, Sandbox
from arb.venues.gate.sandbox.apierror import GateApiError
from arb.venues.gate.sandbox.matching import Engine
from arb.venues.gate.venue import GateVenue
from arb.venues.guard import GuardedVenue
from arb.venues.latent import Latency, LatentVenue
from arb.venues.paper import PaperVenue
from arb.venues.renamed import RenamedVenue
from arb.venues.throttle import VenueThrottle

from .conftest import ASKS, BIDS, KEY, PAIR, SECRET, FakeClock, make_config
from .test_amend import next_push, orders_channel

BTC = PairSpec("BTC_USDT", precision=1, amount_precision=4, min_base_amount=D("0.0001"), min_quote_amount=D(1))
T0_S = 1_700_000_000
T0_MS = T0_S * 1000


def bid(cid: str, symbol: str = "LINK/USDT", price: str = "27.09", amount: str = "1") -> OrderRequest:
    return OrderRequest(cid, symbol, Side.BUY, D(amount), D(price), "gtc")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(float(T0_S))


@pytest.fixture
async def sb(clock: FakeClock) -> AsyncIterator[Sandbox]:
    async with Sandbox(make_config(clock=clock, pairs=(PAIR, BTC))) as sandbox:
        sandbox.push_book("LINK_USDT", BIDS, ASKS)
        sandbox.push_book("BTC_USDT", [("60000", "1")], [("60010", "1")])
        yield sandbox


@pytest.fixture
async def venue(sb: Sandbox) -> AsyncIterator[GateVenue]:
    exchange = GateExchange.for_endpoint(sb.rest_url, sb.ws_url, KEY, SECRET, pairs=[PAIR.to_json(), BTC.to_json()],
                                         enableRateLimit=False)
    try:
        await exchange.sync_clock()  # as the adapter opens a sandbox venue: orders are signed on its clock
        yield live_venue("gate", exchange, ["LINK/USDT", "BTC/USDT"])
    finally:
        await exchange.close()


async def test_left_to_run_out_it_cancels_the_resting_order_as_a_cancel_would(
        sb: Sandbox, clock: FakeClock, venue: GateVenue) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await orders_channel(sb, session)
        await venue.place(bid("t-dms1"))
        assert (await next_push(ws))["event"] == "put"
        assert await venue.arm_cancel_all(10) == from_ms(T0_MS + 10_000)
        clock.now += 9
        assert await venue.arm_cancel_all(10) == from_ms(T0_MS + 19_000)  # set afresh: 10 s from now
        clock.now += 9  # 18 s in: the first countdown's time has passed, the second's has not
        assert (await venue.fetch_order("t-dms1", "LINK/USDT")).state is VenueState.OPEN
        clock.now += 2
        report = await venue.fetch_order("t-dms1", "LINK/USDT")
        assert (report.state, report.filled, report.venue_status) == (VenueState.CLOSED, 0, "cancelled/cancelled")
        push = await next_push(ws)  # pushed as the account's own cancel is, at the countdown's time
        assert (push["event"], push["status"], push["finish_as"], push["update_time_ms"]) == (
            "finish", "cancelled", "cancelled", str(T0_MS + 19_000))
        await ws.close()
    assert (await venue.balances())["USDT"].used == 0  # what the bid locked is free again
    assert sb.engine.countdowns.next_trigger_ms() is None  # it fired once and is gone


async def test_ended_with_0_it_leaves_the_orders_resting(clock: FakeClock, venue: GateVenue) -> None:
    await venue.place(bid("t-dms2"))
    await venue.arm_cancel_all(5)
    assert await venue.arm_cancel_all(0) is None
    clock.now += 30
    assert (await venue.fetch_order("t-dms2", "LINK/USDT")).state is VenueState.OPEN


async def test_shifting_the_sandbox_clock_fires_what_has_run_out_with_no_request(
        sb: Sandbox, venue: GateVenue) -> None:
    """``arb sandbox``'s ``POST /_sandbox/clock`` (``Sandbox.shift_clock``): the push goes out at once."""
    async with aiohttp.ClientSession() as session:
        ws = await orders_channel(sb, session)
        placed = await venue.place(bid("t-dms3"))
        assert (await next_push(ws))["event"] == "put"
        await venue.arm_cancel_all(5)
        sb.shift_clock(4)
        assert sb.engine.orders[int(placed.venue_order_id or 0)].is_open
        sb.shift_clock(1)
        push = await next_push(ws)
        assert (push["id"], push["event"], push["finish_as"]) == (placed.venue_order_id, "finish", "cancelled")
        await ws.close()


async def test_a_countdown_for_one_pair_cancels_that_pairs_orders_only_and_apart_from_the_one_for_all(
        sb: Sandbox, clock: FakeClock, venue: GateVenue) -> None:
    await venue.place(bid("t-link"))
    await venue.place(bid("t-btc", "BTC/USDT", "59000", "0.001"))
    assert await venue.arm_cancel_all(20) == from_ms(T0_MS + 20_000)  # every pair
    assert await venue.arm_cancel_all(10, "LINK/USDT") == from_ms(T0_MS + 10_000)
    clock.now += 11
    assert (await venue.fetch_order("t-link", "LINK/USDT")).state is VenueState.CLOSED
    assert (await venue.fetch_order("t-btc", "BTC/USDT")).state is VenueState.OPEN
    await venue.arm_cancel_all(0, "LINK/USDT")  # ends the pair's (gone already), not the one for every pair
    clock.now += 10
    assert (await venue.fetch_order("t-btc", "BTC/USDT")).state is VenueState.CLOSED


@pytest.mark.parametrize("timeout_s", [1, 4, -5])
async def test_a_timeout_under_5_seconds_is_refused_as_gate_refuses_it_and_sets_nothing(
        sb: Sandbox, venue: GateVenue, timeout_s: int) -> None:
    with pytest.raises(InvalidOrder) as refused:
        await venue.arm_cancel_all(timeout_s)
    assert refused.value.label == "INVALID_PARAM_VALUE"
    assert sb.engine.countdowns.next_trigger_ms() is None


@pytest.mark.parametrize(("req", "label"), [
    ({}, "MISSING_REQUIRED_PARAM"),
    ({"timeout": "30"}, "INVALID_PARAM_VALUE"),
    ({"timeout": D("5.5")}, "INVALID_PARAM_VALUE"),  # a JSON number with a fraction, as the body is read
    ({"timeout": True}, "INVALID_PARAM_VALUE"),
    ({"timeout": 366 * 86_400}, "INVALID_PARAM_VALUE"),
    ({"timeout": 10, "currency_pair": "DOGE_USDT"}, "INVALID_CURRENCY_PAIR"),
    ({"timeout": 10, "currency_pair": 7}, "INVALID_PARAM_VALUE"),
])  # fmt: skip
def test_bodies_gate_would_refuse_are_refused_with_its_label(req: dict[str, object], label: str) -> None:
    engine = Engine([PAIR])
    with pytest.raises(GateApiError) as refused:
        engine.countdown_cancel_all("k", req, T0_MS)
    assert (refused.value.status, refused.value.label) == (400, label)
    assert engine.countdowns.next_trigger_ms() is None


def test_the_sandbox_fires_a_countdown_at_its_time_with_nobody_asking() -> None:
    """The sandbox's own timer, on market time: no request reaches the sandbox after the countdown is set."""

    async def main() -> tuple[str, int, int]:
        loop = asyncio.get_running_loop()
        async with Sandbox(make_config(clock=lambda: T0_S + loop.time())) as sb:
            sb.push_book("LINK_USDT", BIDS, ASKS)
            exchange = GateExchange.for_endpoint(sb.rest_url, sb.ws_url, KEY, SECRET, pairs=[PAIR.to_json()],
                                                 enableRateLimit=False)
            try:
                venue = live_venue("gate", exchange, ["LINK/USDT"])
                with time_held():  # requests take no market time
                    await exchange.sync_clock()
                    placed = await venue.place(bid("t-dead"))
                    trigger = await venue.arm_cancel_all(5)
                order = sb.engine.orders[int(placed.venue_order_id or 0)]
                await asyncio.sleep(4.999)  # market time, to 1 ms before the trigger
                before = order.status
                await asyncio.sleep(0.002)
                assert trigger is not None and trigger - from_ms(T0_MS) == timedelta(seconds=5)
                return before, order.update_ms, int(trigger.timestamp() * 1000)
            finally:
                with time_held():
                    await exchange.close()

    before, cancelled_ms, trigger_ms = run_simulation(main(), speed=0)
    assert before == "open"
    assert cancelled_ms == trigger_ms  # cancelled by the timer, at the trigger time


async def test_wrappers_forward_the_switch_and_say_when_the_venue_inside_has_none(
        sb: Sandbox, clock: FakeClock, venue: GateVenue) -> None:
    guarded = GuardedVenue(venue, VenueThrottle("gate", GATE_SPOT_LIMITS))
    latent = LatentVenue(guarded, Latency())
    assert isinstance(latent, DeadMansSwitch) and latent.cancels_on_silence
    assert await latent.arm_cancel_all(10, "LINK/USDT") == from_ms(T0_MS + 10_000)
    paper = PaperVenue("paper", None, {}, {})
    renamed = RenamedVenue(paper, MarketNames.build(["LINK/USDT"], None, {}))
    for wrapper in (GuardedVenue(paper, VenueThrottle("paper", GATE_SPOT_LIMITS)), LatentVenue(paper, Latency()),
                    renamed):
        assert not wrapper.cancels_on_silence
        with pytest.raises(VenueError, match="no dead man's switch"):
            await wrapper.arm_cancel_all(10)
    assert not isinstance(paper, DeadMansSwitch)
