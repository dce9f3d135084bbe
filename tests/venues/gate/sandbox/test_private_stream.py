"""Gate's private fill stream against the sandbox over loopback: resting orders filled by market trades reach
the listener once, by push; a fill made while the socket was down arrives after the reconnect by REST, once; a
repeated push is left out; what the stream cannot work with ends ``run`` with the error.

Timing is the tests': the sandbox runs on a fake clock, and the stream's reconnect waits on a :class:`~execution.maker_rig.ReconnectGate`
(opened by the test) instead of a backoff delay. Every wait is on a condition.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from decimal import Decimal as D
from typing import Any

import pytest
from execution.maker_rig import ReconnectGate  # tests/execution/maker_rig.py

from arb.domain.market import Side
from arb.domain.venue import FillReport
from arb.errors import VenueError
from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.private_stream import ExchangeRest, GatePrivateStream, for_exchange
from arb.venues.gate.sandbox import Sandbox

from .conftest import KEY, SECRET

TIMEOUT = 60.0  # bounds a hang only (none is expected to fire): on a loaded CI machine 10 s ran out once
MARKETS = {"LINK/USDT": "LINK_USDT"}


class Fills:
    def __init__(self) -> None:
        self.got: list[FillReport] = []
        self._changed = asyncio.Condition()

    def __call__(self, fill: FillReport) -> None:
        self.got.append(fill)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def count(self, n: int) -> list[FillReport]:
        async with asyncio.timeout(TIMEOUT), self._changed:
            await self._changed.wait_for(lambda: len(self.got) >= n)
        return self.got


async def until(stream: GatePrivateStream, condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            stream.state_changed.clear()
            await stream.state_changed.wait()


def make_stream(sb: Sandbox, exchange: GateExchange, gate: ReconnectGate, secret: str = SECRET) -> GatePrivateStream:
    return GatePrivateStream("gate", MARKETS, ws_url=sb.ws_url, key=KEY, secret=secret,
                             rest=ExchangeRest(exchange, "gate"), clock_s=sb.now_s, sleep=gate)


@contextlib.asynccontextmanager
async def running(stream: GatePrivateStream) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(stream.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def rest_order(exchange: GateExchange, amount: str, price: str, text: str, tif: str = "poc") -> str:
    answer: dict[str, Any] = await exchange.private_spot_post_orders(
        {"currency_pair": "LINK_USDT", "type": "limit", "account": "spot", "side": "buy", "amount": amount,
         "price": price, "time_in_force": tif, "text": text})
    assert answer["status"] == "open"
    return str(answer["id"])


async def test_a_resting_order_filled_by_a_market_trade_is_delivered_once(sb: Sandbox,
                                                                           exchange: GateExchange) -> None:
    gate, fills = ReconnectGate(), Fills()
    stream = make_stream(sb, exchange, gate)
    stream.watch_fills(fills)
    async with running(stream):
        await asyncio.wait_for(stream.subscribed.wait(), TIMEOUT)
        order_id = await rest_order(exchange, "2", "27.094", "t-maker1")
        stream.track(order_id, "LINK/USDT")
        sb.push_trade("LINK_USDT", D("27.094"), D("1.5"), "sell")  # nothing shown at 27.094: nobody ahead
        [fill] = await fills.count(1)
        trade = sb.engine.trades[-1]
        assert fill == FillReport(venue="gate", trade_id=str(trade.id), client_order_id="t-maker1",
                                  venue_order_id=order_id, symbol="LINK/USDT", side=Side.BUY,
                                  price=D("27.094"), amount=D("1.5"), fee=D("0.0015"), fee_currency="LINK",
                                  ts=fill.ts)
        assert fill.ts.timestamp() == pytest.approx(trade.create_ms / 1000)
        # A reconnect reconciles the order (still open): the trade is not delivered again.
        await stream.disconnect()
        await asyncio.wait_for(gate.waiting.wait(), TIMEOUT)
        gate.open()
        await until(stream, lambda: stream.reconciliations == 2 and stream.subscribed.is_set())
    assert (len(fills.got), stream.pushed, stream.recovered, stream.duplicates) == (1, 1, 0, 0)
    assert stream.unsettled == [order_id]


async def test_a_fill_missed_while_disconnected_is_delivered_by_rest_once(sb: Sandbox,
                                                                          exchange: GateExchange) -> None:
    gate, fills = ReconnectGate(), Fills()
    stream = make_stream(sb, exchange, gate)
    stream.watch_fills(fills)
    async with running(stream):
        await asyncio.wait_for(stream.subscribed.wait(), TIMEOUT)
        order_id = await rest_order(exchange, "2", "27.094", "t-maker2", tif="gtc")
        stream.track(order_id, "LINK/USDT")
        sb.push_trade("LINK_USDT", D("27.094"), D("0.5"), "sell")
        await fills.count(1)
        await sb.close_websockets()
        await asyncio.wait_for(gate.waiting.wait(), TIMEOUT)  # down, and waiting to reconnect
        sb.push_trade("LINK_USDT", D("27.094"), D("1.5"), "sell")  # fills the rest: nobody hears the push
        assert sb.engine.orders[int(order_id)].status == "closed"
        gate.open()
        got = await fills.count(2)
        await until(stream, lambda: stream.subscribed.is_set())
        # Once more: the order is settled now, and nothing is looked up or delivered again.
        await stream.disconnect()
        await asyncio.wait_for(gate.waiting.wait(), TIMEOUT)
        gate.open()
        await until(stream, lambda: stream.reconciliations == 3 and stream.subscribed.is_set())
    trades = [t for t in sb.engine.trades if str(t.order_id) == order_id]
    assert [(f.trade_id, f.amount) for f in got] == [(str(t.id), t.amount) for t in trades]
    assert [f.amount for f in got] == [D("0.5"), D("1.5")]
    assert (len(fills.got), stream.pushed, stream.recovered, stream.duplicates) == (2, 1, 1, 0)
    assert stream.unsettled == []


async def test_a_repeated_push_is_delivered_once(sb: Sandbox, exchange: GateExchange) -> None:
    gate, fills = ReconnectGate(), Fills()
    stream = make_stream(sb, exchange, gate)
    stream.watch_fills(fills)
    async with running(stream):
        await asyncio.wait_for(stream.subscribed.wait(), TIMEOUT)
        order_id = await rest_order(exchange, "2", "27.094", "t-maker3")
        events = sb.push_trade("LINK_USDT", D("27.094"), D("1"), "sell")
        sb.publish(events)  # the same trade pushed again
        sb.push_trade("LINK_USDT", D("27.094"), D("1"), "sell")  # heard after the repeat, on one socket
        got = await fills.count(2)
    assert [f.venue_order_id for f in got] == [order_id, order_id]
    assert len({f.trade_id for f in got}) == 2
    assert (stream.pushed, stream.duplicates) == (2, 1)


async def test_a_fill_before_the_stream_connects_is_reconciled_for_a_tracked_order(
        sb: Sandbox, exchange: GateExchange) -> None:
    gate, fills = ReconnectGate(), Fills()
    order_id = await rest_order(exchange, "1", "27.094", "t-maker4")  # the exchange measures Gate's clock
    # Built from the exchange as a run would: its key, its measured server clock, its (sandbox's) WebSocket.
    stream = for_exchange(exchange, "gate", MARKETS, sleep=gate)
    assert stream.ws_url == sb.ws_url
    stream.watch_fills(fills)
    stream.track(order_id, "LINK/USDT")
    sb.push_trade("LINK_USDT", D("27.094"), D("1"), "sell")
    async with running(stream):
        [fill] = await fills.count(1)
        await until(stream, lambda: stream.subscribed.is_set())
    assert (fill.venue_order_id, fill.amount, stream.recovered) == (order_id, D(1), 1)


async def test_a_refused_subscription_ends_run(sb: Sandbox, exchange: GateExchange) -> None:
    stream = make_stream(sb, exchange, ReconnectGate(), secret="not-the-secret")
    with pytest.raises(VenueError, match="subscription refused"):
        await asyncio.wait_for(stream.run(), TIMEOUT)


async def test_a_failing_listener_ends_run_with_its_error(sb: Sandbox, exchange: GateExchange) -> None:
    stream = make_stream(sb, exchange, ReconnectGate())

    def broken(fill: FillReport) -> None:
        raise RuntimeError("listener bug")

    stream.watch_fills(broken)
    task = asyncio.create_task(stream.run())
    await asyncio.wait_for(stream.subscribed.wait(), TIMEOUT)
    await rest_order(exchange, "1", "27.094", "t-maker5")
    sb.push_trade("LINK_USDT", D("27.094"), D("1"), "sell")
    with pytest.raises(RuntimeError, match="listener bug"):
        await asyncio.wait_for(task, TIMEOUT)
