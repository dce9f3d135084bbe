"""Gate's own order builder (``arb.venues.gate.orders``, ``GateExchange.build_limit_order``) against ccxt's
``create_order``, byte for byte, and how ``LiveVenue`` hands orders to it only after the two agreed."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.domain.market import Side
from arb.domain.venue import OrderRequest
from arb.venues.gate import GateExchange
from arb.venues.gate.adapter import live_venue
from arb.venues.gate.orders import on_tick
from arb.venues.live import LiveVenue

D = Decimal
DIGITS = range(0, 9)


def _pairs() -> list[dict[str, Any]]:
    return [{"id": f"P{a}{p}_USDT", "base": f"P{a}{p}", "quote": "USDT", "fee": "0.2", "min_base_amount": "0",
             "min_quote_amount": "0", "amount_precision": a, "precision": p, "trade_status": "tradable",
             "sell_start": 0, "buy_start": 0, "type": "normal"} for a in DIGITS for p in DIGITS]


def _exchange() -> GateExchange:
    ex = GateExchange.for_endpoint("https://gate.invalid/api/v4", None, "a-key", "a-secret-not-real",
                                   enableRateLimit=False, pairs=_pairs())
    ex.clock.record(0, -1_000, 0)  # measured once (no network): the clock is not due for minutes
    ex.clock.resync_interval_ms = 10**15
    return ex


LOOP = asyncio.new_event_loop()  # the property test's examples run on it (hypothesis drives sync tests)
EXCHANGE = _exchange()
VENUE = live_venue("gate", EXCHANGE)


@pytest.fixture(scope="module", autouse=True)
def _close_loop() -> Any:
    yield
    LOOP.close()


async def _both(request: OrderRequest) -> tuple[Any, Any]:
    """ccxt's capture and arb's build of one order, signed at one pinned instant."""
    nonce = EXCHANGE.nonce()
    EXCHANGE.nonce = lambda: nonce
    try:
        wire = await VENUE._capture(request)
    finally:
        del EXCHANGE.nonce
    built = await EXCHANGE.build_limit_order(request.symbol, request.side.value, request.amount, request.price,
                                             request.time_in_force, request.client_order_id, nonce_ms=nonce)
    return wire, built


client_ids = st.text(st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_.-"),
                     min_size=1, max_size=26).map(lambda body: "t-" + body)


@settings(max_examples=300, deadline=None)
@given(amount_digits=st.sampled_from(DIGITS), price_digits=st.sampled_from(DIGITS),
       amount_units=st.integers(1, 10**12), price_units=st.integers(1, 10**12),
       side=st.sampled_from(list(Side)), tif=st.sampled_from(["ioc", "gtc"]), client_id=client_ids,
       trailing_zeros=st.integers(0, 3))
def test_the_builder_writes_what_ccxt_writes_byte_for_byte(amount_digits: int, price_digits: int,
                                                           amount_units: int, price_units: int, side: Side,
                                                           tif: str, client_id: str, trailing_zeros: int) -> None:
    # Values on the market's tick, as the planner makes them, written with or without trailing zeros.
    amount = D(amount_units).scaleb(-amount_digits).quantize(D(1).scaleb(-amount_digits - trailing_zeros))
    price = D(price_units).scaleb(-price_digits)
    request = OrderRequest(client_id, f"P{amount_digits}{price_digits}/USDT", side, amount, price, tif)
    wire, built = LOOP.run_until_complete(_both(request))
    assert built is not None
    assert (built.url, built.method, built.body) == (wire.url, wire.method, wire.body)
    assert built.headers == wire.headers  # KEY, Timestamp, SIGN, Content-Type: same signature


@pytest.mark.parametrize(("value", "tick", "text"), [
    (D("0.10"), D("0.01"), "0.1"), (D("20.00"), D("0.01"), "20"), (D("1E+3"), D("1"), "1000"),
    (D("0.00000001"), D("1E-8"), "0.00000001"), (D("0.015"), D("0.01"), None), (D("0"), D("0.01"), None),
])
def test_values_off_the_tick_are_left_to_ccxt(value: Decimal, tick: Decimal, text: str | None) -> None:
    assert on_tick(value, tick) == text


def test_shapes_the_builder_does_not_cover_go_to_ccxt() -> None:
    build = EXCHANGE.build_limit_order
    base = ("P22/USDT", "buy", D("1"), D("1"))
    assert LOOP.run_until_complete(build(*base, "ioc", "t-ok")) is not None
    assert LOOP.run_until_complete(build("P22/USDT", "buy", D("1.001"), D("1"), "ioc", "t-ok")) is None  # truncated
    assert LOOP.run_until_complete(build(*base, "poc", "t-ok")) is None  # post-only: ccxt's flags
    assert LOOP.run_until_complete(build(*base, "ioc", "noprefix")) is None  # ccxt would add "t-"
    assert LOOP.run_until_complete(build(*base, "ioc", "t-" + "x" * 27)) is None  # ccxt refuses > 28


class _Counting:
    def __init__(self, venue: LiveVenue) -> None:
        self.calls = 0
        create_order = venue.exchange.create_order

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return await create_order(*args, **kwargs)

        venue.exchange.create_order = counted


async def test_the_venue_uses_the_builder_only_after_it_agreed_with_ccxt(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="arb.venues.live")
    ex = _exchange()
    venue = live_venue("gate", ex)
    ccxt_builds = _Counting(venue)
    try:
        orders = [OrderRequest(f"t-agree{i}", "P22/USDT", Side.BUY, D("1.5"), D("20.25")) for i in range(3)]
        first = await venue.prepare(orders[0])
        assert ccxt_builds.calls == 1 and venue.builder.agrees == {("P22/USDT", Side.BUY, "ioc"): True}
        assert [r.getMessage() for r in caplog.records] == [
            "gate: P22/USDT buy ioc orders are built by arb's own builder from now on (it matched ccxt's build)"]
        second, third = [await venue.prepare(o) for o in orders[1:]]
        assert ccxt_builds.calls == 1  # built by the builder
        for prepared, request in zip((first, second, third), orders, strict=True):
            assert f'"text":"{request.client_order_id}"' in prepared.wire.body  # type: ignore[attr-defined]
            assert prepared.wire.direct  # type: ignore[attr-defined]
        sell = await venue.prepare(OrderRequest("t-agree9", "P22/USDT", Side.SELL, D("1.5"), D("20.25")))
        assert ccxt_builds.calls == 2 and sell.wire.body.count('"side":"sell"') == 1  # type: ignore[attr-defined]
        off_tick = OrderRequest("t-agree10", "P22/USDT", Side.BUY, D("1.505"), D("20.25"))
        assert '"amount":"1.5"' in (await venue.prepare(off_tick)).wire.body  # type: ignore[attr-defined]
        assert ccxt_builds.calls == 3  # ccxt truncated it, as it always has
    finally:
        await ex.close()


async def test_a_builder_that_disagrees_is_never_used(caplog: pytest.LogCaptureFixture) -> None:
    ex = _exchange()
    venue = live_venue("gate", ex)
    build = ex.build_limit_order

    async def wrong_account(*args: Any, **kwargs: Any) -> Any:  # as if ccxt chose a unified account
        built = await build(*args, **kwargs)
        return built and type(built)(built.url, built.method, built.headers, built.body.replace("spot", "unified"))

    ex.build_limit_order = wrong_account
    ccxt_builds = _Counting(venue)
    try:
        with caplog.at_level(logging.WARNING, logger="arb.venues.live"):
            for i in range(3):
                prepared = await venue.prepare(OrderRequest(f"t-dis{i}", "P22/USDT", Side.BUY, D("1"), D("2")))
                assert '"account":"spot"' in prepared.wire.body  # type: ignore[attr-defined]
        assert ccxt_builds.calls == 3
        assert [r.getMessage() for r in caplog.records] == [
            "gate: arb's order builder and ccxt's differ for P22/USDT buy ioc; those orders are built by ccxt"]
    finally:
        await ex.close()


async def test_market_rules_follow_a_reload_of_the_markets() -> None:
    ex = _exchange()
    venue = live_venue("gate", ex)
    try:
        first = venue.market_rules("P22/USDT")
        assert venue.market_rules("P22/USDT") is first and first.amount_step == D("0.01")
        ex.set_spot_markets([{**pair, "amount_precision": 3} if pair["id"] == "P22_USDT" else pair
                             for pair in _pairs()])
        assert venue.market_rules("P22/USDT").amount_step == D("0.001")
    finally:
        await ex.close()


def test_the_builder_refuses_an_order_whenever_a_required_credential_is_missing() -> None:
    # ccxt's credential check runs again whenever the key or secret changed since it last passed.
    ex = _exchange()
    args = ("P22/USDT", "buy", D("1.25"), D("3.5"), "ioc", "t-cred")
    assert LOOP.run_until_complete(ex.build_limit_order(*args)) is not None
    ex.secret = ""
    with pytest.raises(ccxt.AuthenticationError, match="secret"):
        LOOP.run_until_complete(ex.build_limit_order(*args))
    ex.secret = "another-secret-not-real"
    built = LOOP.run_until_complete(ex.build_limit_order(*args))
    assert built is not None and built.headers["KEY"] == "a-key"
    ex.apiKey = None
    with pytest.raises(ccxt.AuthenticationError, match="apiKey"):
        LOOP.run_until_complete(ex.build_limit_order(*args))
