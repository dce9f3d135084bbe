"""LiveVenue (GateExchange over loopback HTTP to the sandbox): exact mapping of orders, fills, balances."""

import asyncio
import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from execution.sandbox_rig import KEY, SYMBOL, WireLog, live_gate, sandbox_config

from arb.domain.market import Side
from arb.domain.orders import OrderStatus
from arb.domain.venue import OrderRequest, Venue
from arb.errors import OrderNotFound, TransientVenueError
from arb.venues.gate.sandbox import Sandbox

D = Decimal
ORDERS = "/api/v4/spot/orders"


async def test_live_venue_maps_partial_ioc_lookup_after_close_fills_and_balances() -> None:
    async with Sandbox(sandbox_config()) as sb:
        sb.push_book("LINK_USDT", [("19.90", "5")], [("20.00", "1"), ("20.05", "1")])
        async with live_gate("gate", sb) as venue:
            assert isinstance(venue, Venue)
            rules = venue.market_rules(SYMBOL)
            assert (rules.price_step, rules.amount_step, rules.min_notional) == (D("0.01"), D("0.01"), D("1"))
            before = datetime.now(UTC) - timedelta(seconds=5)
            r = await venue.place(OrderRequest("t-live1", SYMBOL, Side.BUY, D("3"), D("20.05")))
            assert (r.filled, r.amount, r.status) == (D("2"), D("3"), OrderStatus.CANCELED)
            # Closed orders are not found by text on Gate: the venue searches finished orders.
            found = await venue.fetch_order("t-live1", SYMBOL)
            assert (found.client_order_id, found.filled, found.venue_order_id) == ("t-live1", D("2"), r.venue_order_id)
            fills = await venue.fetch_fills(SYMBOL, before)
            assert sorted((f.price, f.amount, f.client_order_id) for f in fills) == [
                (D("20.00"), D("1"), "t-live1"), (D("20.05"), D("1"), "t-live1")]
            assert {f.fee_currency for f in fills} == {"LINK"}
            with pytest.raises(OrderNotFound):
                await venue.fetch_order("t-nothere", SYMBOL)
            bal = await venue.balances()
            assert bal["LINK"].total == D("1000") + D("2") - sum(f.fee for f in fills)


async def test_prepare_writes_nothing_and_send_writes_exactly_the_prepared_order() -> None:
    wire = WireLog()
    async with Sandbox(sandbox_config()) as sb:
        sb.push_book("LINK_USDT", [("19.90", "5")], [("20.00", "5")])
        async with live_gate("gate", sb, wire) as venue:
            resting = await venue.place(OrderRequest("t-rest1", SYMBOL, Side.BUY, D("1"), D("19.00"), "gtc"))
            assert resting.status is OrderStatus.OPEN
            wire.events.clear()
            request = OrderRequest("t-prep1", SYMBOL, Side.BUY, D("1.5"), D("20.00"))
            # A cancel (a write) running concurrently on the same exchange is not captured by prepare.
            prepared, canceled = await asyncio.gather(venue.prepare(request),
                                                      venue.cancel("t-rest1", SYMBOL))
            assert canceled.status is OrderStatus.CANCELED
            assert [(e.method, e.path) for e in wire.events] == [("DELETE", f"{ORDERS}/t-rest1")]
            assert [o.client_id for o in sb.engine.orders.values()] == ["t-rest1"]
            assert prepared.request == request and KEY not in repr(prepared) and "SIGN" not in repr(prepared)

            wire.events.clear()
            report = await venue.send(prepared)
            assert [(e.method, e.path, e.status) for e in wire.events] == [("POST", ORDERS, 201)]
            assert (report.client_order_id, report.filled, report.status) == ("t-prep1", D("1.5"), OrderStatus.FILLED)
            assert [o.client_id for o in sb.engine.orders.values()] == ["t-rest1", "t-prep1"]
            assert report.venue_order_id == str(next(o.id for o in sb.engine.orders.values() if o.client_id == "t-prep1"))


async def test_two_legs_sent_in_one_loop_turn_reach_their_sockets_back_to_back() -> None:
    # A prepared order is bytes: each leg's send writes them in its task's first step, awaiting nothing
    # before, so both legs are on their sockets before the loop runs anything scheduled after the sends.
    events: list[str] = []
    loop = asyncio.get_running_loop()

    async with Sandbox(sandbox_config()) as sb:
        sb.push_book("LINK_USDT", [("19.90", "5")], [("20.00", "5")])
        async with live_gate("a", sb) as a, live_gate("b", sb) as b:
            buy = await a.prepare(OrderRequest("t-leg-a", SYMBOL, Side.BUY, D("1"), D("20.00")))
            sell = await b.prepare(OrderRequest("t-leg-b", SYMBOL, Side.SELL, D("1"), D("19.90")))
            assert buy.wire.direct and sell.wire.direct  # type: ignore[attr-defined]
            await a.ping()
            await b.ping()  # both lines hold an open connection, as keep_warm sees to in a run
            for venue in (a, b):
                for connection in venue.line._idle[buy.wire.raw.origin]:  # type: ignore[attr-defined]
                    write = connection.transport.write  # type: ignore[union-attr]

                    def tapped(data: bytes, name: str = venue.name, write: object = write) -> None:
                        if data.startswith(b"POST "):
                            events.append(f"written {name}")
                        write(data)  # type: ignore[operator]

                    connection.transport.write = tapped  # type: ignore[method-assign, union-attr]
            sends = [asyncio.ensure_future(a.send(buy)), asyncio.ensure_future(b.send(sell))]
            loop.call_soon(events.append, "next callback")
            reports = await asyncio.gather(*sends)
            assert [r.status for r in reports] == [OrderStatus.FILLED, OrderStatus.FILLED]
            assert events == ["written a", "written b", "next callback"]
            assert (a.line.connects, b.line.connects) == (1, 1)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"drop_order_responses": 1}, TransientVenueError),  # disconnect: ccxt's ExchangeNotAvailable
        ({"order_response_delay_s": 5.0}, TransientVenueError),  # client timeout: ccxt's RequestTimeout
        ({"fraction_5xx": 1.0}, TransientVenueError),  # ccxt's handle_http_status_code
    ],
)
async def test_direct_send_fails_as_ccxt_fetch_would(fault: dict[str, object], expected: type[Exception]) -> None:
    async with Sandbox(sandbox_config()) as sb:
        sb.push_book("LINK_USDT", [("19.90", "5")], [("20.00", "5")])
        async with live_gate("gate", sb) as venue:
            venue.exchange.timeout = 200  # ms; the held response (5 s) outlasts it
            prepared = await venue.prepare(OrderRequest("t-fail1", SYMBOL, Side.BUY, D("1"), D("20.00")))
            sb.faults.update(fault)
            with pytest.raises(expected) as caught:
                await venue.send(prepared)
            assert KEY not in str(caught.value) and "SIGN" not in str(caught.value)


async def test_a_cancel_is_written_on_the_order_line_and_answered_as_ccxt_would() -> None:
    """A cancel goes out as orders do (a kill switch's pull writes every quote's at once), ccxt building, signing
    and reading it: its answer mapped as before, a miss still OrderNotFound, a 5xx still transient, and reads
    (GETs) still ccxt's own."""
    wire = WireLog()
    async with Sandbox(sandbox_config()) as sb:
        sb.push_book("LINK_USDT", [("19.90", "5")], [("20.00", "5")])
        async with live_gate("gate", sb, wire) as venue:
            written: list[str] = []
            send = venue.line.send

            async def counted(request, timeout_s):  # type: ignore[no-untyped-def]
                written.append(f"{request.method} {request.target}")
                return await send(request, timeout_s)

            venue.line.send = counted  # type: ignore[method-assign]
            resting = await venue.place(OrderRequest("t-cx1", SYMBOL, Side.BUY, D("1"), D("19.00"), "gtc"))
            written.clear()
            wire.events.clear()
            canceled = await venue.cancel("t-cx1", SYMBOL)
            assert (canceled.client_order_id, canceled.status, canceled.venue_order_id) == (
                "t-cx1", OrderStatus.CANCELED, resting.venue_order_id)
            assert [w.split("?")[0] for w in written] == [f"DELETE {ORDERS}/t-cx1"]
            assert [(e.method, e.path, e.status) for e in wire.events] == [("DELETE", f"{ORDERS}/t-cx1", 200)]
            with pytest.raises(OrderNotFound):
                await venue.cancel("t-nothere", SYMBOL)
            await venue.place(OrderRequest("t-cx2", SYMBOL, Side.BUY, D("1"), D("19.00"), "gtc"))
            sb.faults.update({"fraction_5xx": 1.0})
            with pytest.raises(TransientVenueError) as caught:
                await venue.cancel("t-cx2", SYMBOL)
            assert KEY not in str(caught.value) and "SIGN" not in str(caught.value)
            sb.faults.update({"fraction_5xx": 0.0})
            written.clear()
            assert (await venue.fetch_order("t-cx2", SYMBOL)).status is OrderStatus.OPEN
            assert written == []  # a read: ccxt's session


@pytest.mark.parametrize(("setting", "value", "direct"), [
    (None, None, True),
    ("httpProxy", "http://127.0.0.1:9", False),  # never reached: prepare writes nothing
    ("aiohttp_trust_env", True, False),  # proxies from the environment: only aiohttp reads them
])
async def test_prepare_leaves_a_proxied_exchange_to_ccxt_fetch(setting: str | None, value: object,
                                                               direct: bool) -> None:
    async with Sandbox(sandbox_config()) as sb, live_gate("gate", sb) as venue:
        await venue.exchange.load_markets()  # the reads a first order needs, done before the proxy is set
        await venue.exchange.sync_clock(force=True)
        if setting is not None:
            setattr(venue.exchange, setting, value)  # as configured when arb opens the exchange
        for n in range(2):  # the first request reads the exchange's proxy settings; later ones keep them
            prepared = await venue.prepare(OrderRequest(f"t-proxy{n}", SYMBOL, Side.BUY, D("1"), D("20.00")))
            assert prepared.wire.direct is direct  # type: ignore[attr-defined]
        assert not sb.engine.orders


async def test_a_direct_request_carries_the_headers_ccxt_fetch_would_add() -> None:
    async with Sandbox(sandbox_config()) as sb, live_gate("gate", sb) as venue:
        for n in range(2):  # the first read of the session's headers, then the kept one
            prepared = await venue.prepare(OrderRequest(f"t-hdr{n}", SYMBOL, Side.BUY, D("1"), D("20.00")))
            wire = prepared.wire
            expected = venue.exchange.prepare_request_headers(dict(wire.headers))  # type: ignore[attr-defined]
            assert wire.request_headers == expected  # type: ignore[attr-defined]
            assert list(wire.request_headers) == list(expected)  # type: ignore[attr-defined]
            assert wire.timeout_s == venue.exchange.timeout / 1000  # type: ignore[attr-defined]
        assert not sb.engine.orders


def test_no_ccxt_exchange_rewrites_a_request_s_headers() -> None:
    # A request's headers are the signed ones plus the session's, read once per exchange (``live.wire.SessionFacts``):
    # right as long as ccxt's per-request ``set_headers`` hook is its identity for every exchange.
    import ccxt.async_support as ccxt_async

    base = ccxt_async.Exchange.set_headers
    overriding = [name for name in ccxt_async.exchanges if getattr(ccxt_async, name).set_headers is not base]
    assert overriding == []


async def test_a_full_page_of_trades_is_said_not_silently_cut(caplog: pytest.LogCaptureFixture) -> None:
    # fetch_fills reads one page (the venue's quirks say how big); a full page may hide more trades, so it
    # is one WARNING line naming venue, symbol and window, and fewer trades than a page say nothing.
    async with Sandbox(sandbox_config()) as sb:
        sb.push_book("LINK_USDT", [("19.90", "5")], [("20.00", "1"), ("20.05", "1"), ("20.10", "1")])
        async with live_gate("gate", sb) as venue:
            before = datetime.now(UTC) - timedelta(seconds=5)
            await venue.place(OrderRequest("t-page1", SYMBOL, Side.BUY, D("3"), D("20.10")))  # three trades
            venue.quirks = dataclasses.replace(venue.quirks, fills_page=5)
            # Only what fetch_fills says counts: the placement may log at INFO (its builder check) when an
            # earlier test in the session left the arb logger at INFO (an in-process ``arb run``).
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="arb.venues.live"):
                assert len(await venue.fetch_fills(SYMBOL, before)) == 3
            assert caplog.records == []
            venue.quirks = dataclasses.replace(venue.quirks, fills_page=2)
            with caplog.at_level(logging.WARNING, logger="arb.venues.live"):
                assert len(await venue.fetch_fills(SYMBOL, before)) == 2
            (line,) = [r.getMessage() for r in caplog.records]
            assert line.startswith(f"gate {SYMBOL}: a full page of 2 trades since ") and "not read" in line
