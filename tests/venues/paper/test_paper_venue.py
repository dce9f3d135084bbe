"""The paper venue against a real normalized book."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from arb.domain.market import MarketRules, Side
from arb.domain.orders import OrderStatus, VenueState
from arb.errors import InsufficientFunds, InvalidOrder, OrderNotFound
from arb.marketdata.book import OrderBook
from arb.venues.paper import PaperConfig, PaperVenue
from arb.venues.protocol import OrderRequest, Venue

D = Decimal
SYMBOL = "LINK/USDT"
RULES = MarketRules("paper", SYMBOL, price_step=D("0.001"), amount_step=D("0.01"), min_notional=D("1"))


def book() -> OrderBook:
    b = OrderBook("paper", SYMBOL, depth=10)
    b.apply_snapshot(
        bids=[("20.100", "1.5"), ("20.090", "2"), ("20.000", "10")],
        asks=[("20.110", "1"), ("20.120", "2"), ("20.200", "10")],
        seq=1,
        received_ts=0,
    )
    return b


def venue(b: OrderBook, fee: str = "0.001", **balances: str) -> PaperVenue:
    start = balances or {"USDT": "1000", "LINK": "10"}
    return PaperVenue("paper", {SYMBOL: b}, {SYMBOL: RULES}, {k: D(v) for k, v in start.items()},
                      config=PaperConfig(fee_rate=D(fee)))


def req(cid: str, side: Side, amount: str, price: str, tif: str = "ioc") -> OrderRequest:
    return OrderRequest(cid, SYMBOL, side, D(amount), D(price), tif)


def test_paper_venue_implements_the_protocol() -> None:
    assert isinstance(venue(book()), Venue)


async def test_ioc_buy_walks_levels_up_to_its_limit_with_fees() -> None:
    v = venue(book())
    r = await v.place(req("t-1", Side.BUY, "2.5", "20.120"))
    assert [(f.price, f.amount) for f in r.fills] == [(D("20.110"), D("1")), (D("20.120"), D("1.5"))]
    assert r.filled == D("2.5") and r.status is OrderStatus.FILLED
    assert r.average == (D("20.110") + D("20.120") * D("1.5")) / D("2.5")
    assert sum(f.fee for f in r.fills) == (D("20.110") + D("30.180")) * D("0.001")


async def test_partial_ioc_is_closed_with_filled_below_amount() -> None:
    v = venue(book())
    r = await v.place(req("t-1", Side.SELL, "5", "20.090"))
    assert r.filled == D("3.5") and r.state is VenueState.CLOSED and r.status is OrderStatus.CANCELED
    assert (await v.fetch_open_orders()) == []


async def test_two_quick_orders_cannot_take_the_same_liquidity_until_the_book_changes() -> None:
    b = book()
    v = venue(b)
    first = await v.place(req("t-1", Side.BUY, "1", "20.110"))
    second = await v.place(req("t-2", Side.BUY, "1", "20.110"))
    assert (first.filled, second.filled) == (D("1"), D("0"))
    b.apply_snapshot(bids=[("20.100", "1")], asks=[("20.110", "1")], seq=2, received_ts=1)
    third = await v.place(req("t-3", Side.BUY, "1", "20.110"))
    assert third.filled == D("1")


async def test_balances_are_derived_from_fills() -> None:
    v = venue(book(), fee="0.002")
    await v.place(req("t-1", Side.BUY, "1", "20.110"))
    await v.place(req("t-2", Side.SELL, "1.5", "20.100"))
    bal = await v.balances()
    fills = await v.fetch_fills(SYMBOL, datetime(2000, 1, 1, tzinfo=UTC))
    assert bal["LINK"].total == D("10") + D("1") - D("1.5")
    fees = sum(f.fee for f in fills)
    assert bal["USDT"].total == D("1000") - D("20.110") + D("1.5") * D("20.100") - fees
    assert fees == (D("20.110") + D("30.150")) * D("0.002")


async def test_gtc_remainder_rests_reserves_funds_and_can_be_canceled() -> None:
    v = venue(book())
    r = await v.place(req("t-1", Side.BUY, "3", "20.110", tif="gtc"))
    assert r.status is OrderStatus.PARTIALLY_FILLED
    assert (await v.balances())["USDT"].used == D("2") * D("20.110")
    assert [o.client_order_id for o in await v.fetch_open_orders(SYMBOL)] == ["t-1"]
    c = await v.cancel("t-1", SYMBOL)
    assert c.status is OrderStatus.CANCELED and c.filled == D("1")
    assert (await v.balances())["USDT"].used == 0


async def test_lookup_by_client_id_and_not_found() -> None:
    v = venue(book())
    await v.place(req("t-1", Side.BUY, "1", "20.110"))
    assert (await v.fetch_order("t-1", SYMBOL)).filled == D("1")
    with pytest.raises(OrderNotFound):
        await v.fetch_order("t-404", SYMBOL)


async def test_duplicate_client_id_is_refused_so_a_resend_cannot_double_fill() -> None:
    v = venue(book())
    await v.place(req("t-1", Side.BUY, "1", "20.120"))
    with pytest.raises(InvalidOrder):
        await v.place(req("t-1", Side.BUY, "1", "20.120"))
    assert len(await v.fetch_fills(SYMBOL, datetime(2000, 1, 1, tzinfo=UTC))) == 1


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (req("t-1", Side.BUY, "100", "20.2"), InsufficientFunds),
        (req("t-1", Side.SELL, "11", "20.0"), InsufficientFunds),
        (req("t-1", Side.BUY, "1.005", "20.2"), InvalidOrder),
        (req("t-1", Side.BUY, "0.01", "20.2"), InvalidOrder),
    ],
)
async def test_refusals(request_: OrderRequest, error: type[Exception]) -> None:
    with pytest.raises(error):
        await venue(book()).place(request_)


async def test_latency_is_injected() -> None:
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    v = PaperVenue("paper", {SYMBOL: book()}, {SYMBOL: RULES}, {"USDT": D("100")},
                   config=PaperConfig(latency=0.25), sleep=sleep)
    await v.place(req("t-1", Side.BUY, "1", "20.110"))
    assert slept == [0.25]
