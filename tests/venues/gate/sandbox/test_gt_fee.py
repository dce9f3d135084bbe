"""Gate's GT fee deduction, recorded and valued, over loopback: a sandbox account with deduction on pays its
fees in GT (``gt_fee``, ``fee`` 0, as Gate answers); arb records the fill with its fee in GT, as charged,
by push (the private stream) and by REST (``LiveVenue.fetch_fills`` through ccxt, which leaves the unified
fee empty for such a trade), both the same fill, carrying GT's price in USDT read from the venue's
``GT_USDT`` ticker (``venues/gate/fee_marks.py``); the accounting then counts the fee at that price.
A venue with no GT market keeps the fee in GT, unpriced, and says so once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from execution.maker_rig import ReconnectGate  # tests/execution/maker_rig.py

from arb.accounting import Plan, Trade, settle
from arb.domain.venue import FillReport
from arb.venues.gate.adapter import live_venue
from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.fee_marks import GtMarks
from arb.venues.gate.private_stream import ExchangeRest, GatePrivateStream
from arb.venues.gate.sandbox import Account, PairSpec, Sandbox

from .conftest import ASKS, BIDS, KEY, PAIR, SECRET, FakeClock, make_config
from .test_private_stream import MARKETS, Fills, rest_order, running

GT_PAIR = PairSpec("GT_USDT", precision=4, amount_precision=2, min_base_amount=D("0.1"))


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    account = Account(KEY, SECRET, {"USDT": D(1000), "LINK": D(10), "GT": D(5)}, gt_deduction=True)
    async with Sandbox(make_config(clock=FakeClock(), accounts=(account,), pairs=(PAIR, GT_PAIR))) as sandbox:
        sandbox.push_book("LINK_USDT", BIDS, ASKS)
        sandbox.push_book("GT_USDT", [("18.2", "40")], [("18.3", "40")])  # GT at 18.25 USDT
        yield sandbox


@pytest.fixture
async def exchange(sb: Sandbox) -> AsyncIterator[GateExchange]:
    ex = GateExchange.for_endpoint(sb.rest_url, sb.ws_url, KEY, SECRET, pairs=[PAIR.to_json(), GT_PAIR.to_json()],
                                   enableRateLimit=False)
    try:
        yield ex
    finally:
        await ex.close()


async def test_a_gt_paid_fill_is_recorded_in_gt_by_push_and_by_rest_and_valued_at_gts_mid(
        sb: Sandbox, exchange: GateExchange) -> None:
    venue = live_venue("gate", exchange, ["LINK/USDT"])
    assert venue.fee_marks is not None
    fills = Fills()
    stream = GatePrivateStream("gate", MARKETS, ws_url=sb.ws_url, key=KEY, secret=SECRET,
                               rest=ExchangeRest(exchange, "gate"), clock_s=sb.now_s, sleep=ReconnectGate(),
                               fee_marks=venue.fee_marks)
    stream.watch_fills(fills)
    async with running(stream):
        await asyncio.wait_for(stream.subscribed.wait(), 10)  # GT's price read on connecting
        order_id = await rest_order(exchange, "2", "27.094", "t-gtfee1", tif="gtc")
        stream.track(order_id, "LINK/USDT")
        sb.push_trade("LINK_USDT", D("27.094"), D("1.5"), "sell")
        [pushed] = await fills.count(1)

    # The sandbox charged the maker fee's value (0.1 % of 1.5 LINK, a buy's fee being in base) in GT at
    # 18.25, rounded up to 1e-8 GT, and gave the LINK back.
    gt = (D("0.0015") * D("27.094") / D("18.25")).quantize(D("1e-8"), rounding="ROUND_UP")
    assert sb.engine.balance(KEY, "GT").available == D(5) - gt
    assert pushed.fee == gt and pushed.fee_currency == "GT" and pushed.fee_price == D("18.25")

    # The same trade by REST, through ccxt (whose unified fee is empty for it): the same fill.
    [fetched] = await venue.fetch_fills("LINK/USDT", datetime(2023, 1, 1, tzinfo=UTC), order_id)
    assert fetched == pushed

    # Settled, the GT fee counts at its price: as the same fee charged in USDT, and as nothing unpriced.
    plan = Plan(base="LINK", quote="USDT", buy_amount=D("1.5"), sell_amount=D("1.5"), buy_price=D("27.094"),
                sell_price=D("27.2"), buy_fee_rate=D("0.001"), sell_fee_rate=D("0.002"),
                expected_profit=D("0.1"), mark_price=D("27.09"))
    sell = Trade("entry", "sell", D("27.2"), D("1.5"), D("0.0816"), "USDT")
    in_gt = settle(plan, [Trade("entry", "buy", fetched.price, fetched.amount, fetched.fee, fetched.fee_currency,
                                fee_price=fetched.fee_price), sell])
    in_usdt = settle(plan, [Trade("entry", "buy", fetched.price, fetched.amount, gt * D("18.25"), "USDT"), sell])
    assert (in_gt.realized_pnl, in_gt.fees_quote, in_gt.fees, in_gt.fees_unpriced) == (
        in_usdt.realized_pnl, in_usdt.fees_quote, in_usdt.fees, 0)
    assert in_gt.realized_pnl == D("1.5") * (D("27.2") - D("27.094")) - D("0.0816") - gt * D("18.25")
    unpriced = settle(plan, [Trade("entry", "buy", fetched.price, fetched.amount, fetched.fee, "GT"), sell])
    assert unpriced.fees_unpriced == 1 and unpriced.realized_pnl == in_gt.realized_pnl + gt * D("18.25")


async def test_gt_marks_read_the_venues_ticker_and_read_again_once_stale(sb: Sandbox,
                                                                         exchange: GateExchange) -> None:
    now = [0.0]
    marks = GtMarks(exchange, "gate", ["USDT"], max_age_s=300, clock=lambda: now[0])
    assert marks.stale and marks.price("GT", "USDT") is None
    await marks.refresh()
    assert not marks.stale and marks.price("GT", "USDT") == D("18.25")
    sb.push_book("GT_USDT", [("19", "40")], [("19.1", "40")])
    now[0] = 299.0
    assert not marks.stale  # a fee is ~0.1 % of a fill: a GT move within 5 minutes changes it by little
    now[0] = 301.0
    assert marks.stale
    await marks.refresh()
    assert marks.price("GT", "USDT") == D("19.05")
    assert marks.price("GATEPOINT", "USDT") is None  # points have no market: never priced


async def test_a_venue_with_no_gt_market_keeps_gt_fees_unpriced_and_says_so_once(
        caplog: pytest.LogCaptureFixture) -> None:
    async with Sandbox(make_config(clock=FakeClock())) as plain:  # lists LINK_USDT only
        ex = GateExchange.for_endpoint(plain.rest_url, plain.ws_url, KEY, SECRET, pairs=[PAIR.to_json()],
                                       enableRateLimit=False)
        try:
            marks = GtMarks(ex, "gate", ["USDT"])
            with caplog.at_level(logging.WARNING, logger="arb.venues.gate.fee_marks"):
                await marks.refresh()
                assert not marks.stale  # asked once: Gate lists no GT_USDT, not a failure to retry
                assert [marks.price("GT", "USDT") for _ in range(3)] == [None, None, None]
        finally:
            await ex.close()
    [line] = [r.getMessage() for r in caplog.records]
    assert line == "gate: a fee in GT of a USDT market is kept in GT, unpriced (Gate lists no GT market in it)"


def test_a_fill_whose_fee_is_in_its_own_currencies_is_never_priced() -> None:
    from arb.venues.fee_tokens import in_token

    base = FillReport("gate", "1", None, None, "LINK/USDT", "buy", D(1), D(1), D("0.001"), "LINK",  # type: ignore[arg-type]
                      datetime(2024, 1, 1, tzinfo=UTC))
    assert not in_token(base)
    assert in_token(FillReport(**{**{f: getattr(base, f) for f in base.__slots__}, "fee_currency": "GT"}))
    assert not in_token(FillReport(**{**{f: getattr(base, f) for f in base.__slots__}, "fee": D(0),
                                      "fee_currency": "GT"}))
