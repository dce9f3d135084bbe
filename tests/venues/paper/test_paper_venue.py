"""The paper venue against a real normalized book."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from arb.domain.market import MarketRules, Side
from arb.domain.orders import OrderStatus, VenueState
from arb.domain.venue import OrderRequest, Venue
from arb.errors import InsufficientFunds, InvalidOrder, OrderNotFound
from arb.marketdata.book import OrderBook
from arb.venues.latent import Latency, LatentVenue
from arb.venues.paper import PaperConfig, PaperVenue

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


def venue(b: OrderBook, fee: str = "0.001", buy_fee_in: str = "base", **balances: str) -> PaperVenue:
    start = balances or {"USDT": "1000", "LINK": "10"}
    return PaperVenue("paper", {SYMBOL: b}, {SYMBOL: RULES}, {k: D(v) for k, v in start.items()},
                      config=PaperConfig(fee_rate=D(fee), buy_fee_in=buy_fee_in))  # type: ignore[arg-type]


def req(cid: str, side: Side, amount: str, price: str, tif: str = "ioc") -> OrderRequest:
    return OrderRequest(cid, SYMBOL, side, D(amount), D(price), tif)


def test_paper_venue_implements_the_protocol() -> None:
    assert isinstance(venue(book()), Venue)


@pytest.mark.parametrize(
    ("buy_fee_in", "fees", "currency"),
    [
        # Real spot venues take a buy's fee from the base it receives: 0.1% of each level's amount.
        ("base", [D("0.001"), D("0.0015")], "LINK"),
        ("quote", [D("0.020110"), D("0.030180")], "USDT"),
    ],
)
async def test_ioc_buy_walks_levels_up_to_its_limit_with_fees(buy_fee_in, fees, currency) -> None:
    v = venue(book(), buy_fee_in=buy_fee_in)
    r = await v.place(req("t-1", Side.BUY, "2.5", "20.120"))
    assert [(f.price, f.amount) for f in r.fills] == [(D("20.110"), D("1")), (D("20.120"), D("1.5"))]
    assert r.filled == D("2.5") and r.status is OrderStatus.FILLED
    assert r.average == (D("20.110") + D("20.120") * D("1.5")) / D("2.5")
    assert [(f.fee, f.fee_currency) for f in r.fills] == [(fee, currency) for fee in fees]


@pytest.mark.parametrize("buy_fee_in", ["base", "quote"])
async def test_a_sell_always_pays_its_fee_in_quote(buy_fee_in) -> None:
    r = await venue(book(), buy_fee_in=buy_fee_in).place(req("t-1", Side.SELL, "2", "20.090"))
    # 1.5 @ 20.100 and 0.5 @ 20.090: 0.1% of each notional, in USDT
    assert [(f.fee, f.fee_currency) for f in r.fills] == [(D("0.03015"), "USDT"), (D("0.010045"), "USDT")]


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


@pytest.mark.parametrize(
    ("buy_fee_in", "link", "usdt"),
    [
        # +1 bought, -0.002 LINK buy fee, -1.5 sold; -20.110 paid, +30.150 received, -0.0603 sell fee
        ("base", D("9.498"), D("1009.9797")),
        # the buy fee is 0.04022 USDT instead
        ("quote", D("9.5"), D("1009.93948")),
    ],
)
async def test_balances_are_derived_from_fills_and_follow_the_fee_currency(buy_fee_in, link, usdt) -> None:
    v = venue(book(), fee="0.002", buy_fee_in=buy_fee_in)
    await v.place(req("t-1", Side.BUY, "1", "20.110"))
    await v.place(req("t-2", Side.SELL, "1.5", "20.100"))
    bal = await v.balances()
    assert (bal["LINK"].total, bal["USDT"].total) == (link, usdt)
    assert (bal["LINK"].used, bal["USDT"].used) == (0, 0)
    # The same totals from the fills alone: initial + traded - each fee in its own currency.
    fills = await v.fetch_fills(SYMBOL, datetime(2000, 1, 1, tzinfo=UTC))
    fee_in = {c: sum((f.fee for f in fills if f.fee_currency == c), D(0)) for c in ("LINK", "USDT")}
    # By order: each order's own trades, as a leg asks for them.
    for cid in ("t-1", "t-2"):
        order_id = (await v.fetch_order(cid, SYMBOL)).venue_order_id
        assert order_id is not None
        by_order = await v.fetch_fills(SYMBOL, datetime(2000, 1, 1, tzinfo=UTC), order_id)
        assert by_order and by_order == [f for f in fills if f.client_order_id == cid]
    assert link == D("10") + D("1") - D("1.5") - fee_in["LINK"]
    assert usdt == D("1000") - D("20.110") + D("1.5") * D("20.100") - fee_in["USDT"]


@pytest.mark.parametrize(("buy_fee_in", "accepted"), [("base", True), ("quote", False)])
async def test_a_buy_needs_its_fee_in_quote_only_when_the_fee_is_paid_in_quote(buy_fee_in, accepted) -> None:
    v = venue(book(), buy_fee_in=buy_fee_in, USDT="20.110", LINK="0")  # exactly the notional of 1 @ 20.110
    if accepted:
        r = await v.place(req("t-1", Side.BUY, "1", "20.110"))
        bal = await v.balances()
        assert r.filled == D("1") and (bal["LINK"].total, bal["USDT"].total) == (D("0.999"), D("0"))
    else:
        with pytest.raises(InsufficientFunds):
            await v.place(req("t-1", Side.BUY, "1", "20.110"))


def test_buy_fee_in_accepts_only_base_or_quote() -> None:
    with pytest.raises(ValueError, match="buy_fee_in"):
        PaperConfig(buy_fee_in="usdt")  # type: ignore[arg-type]


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


async def test_a_finished_order_is_forgotten_an_hour_after_its_end_and_an_open_one_never() -> None:
    """A paper run of days kept every order it placed (~700 B a quote). A finished order and its fills are
    known for an hour of the venue's clock after its end; an order still resting, and its fills, are kept."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = [start]
    v = PaperVenue("paper", {SYMBOL: book()}, {SYMBOL: RULES}, {"USDT": D("100000"), "LINK": D("1000")},
                   clock=lambda: now[0])
    rests = await v.place(req("rests", Side.BUY, "2", "20.110", "gtc"))  # takes the ask's 1, rests 1
    assert (rests.filled, rests.state) == (D("1"), VenueState.OPEN)
    assert (await v.place(req("old", Side.SELL, "1", "20.100"))).filled == D("1")  # finished at once
    for minute in range(1, 300):  # five hours of re-quoting, a quote a minute
        now[0] = start + timedelta(minutes=minute)
        await v.place(req(f"q-{minute}", Side.BUY, "1", "20.000", "poc"))
        await v.cancel(f"q-{minute}", SYMBOL)
    # The resting order and the last hour's quotes, plus those finished since the last look (one every 6 minutes).
    assert 1 + 60 <= len(v.matcher.orders) <= 1 + 66
    for forgotten in ("old", "q-1", "q-200"):
        with pytest.raises(OrderNotFound):
            await v.fetch_order(forgotten, SYMBOL)
    assert (await v.fetch_order("q-240", SYMBOL)).status is OrderStatus.CANCELED  # 59 minutes ago
    assert (await v.fetch_order("rests", SYMBOL)).filled == D("1")  # five hours resting, still there
    fills = await v.fetch_fills(SYMBOL, datetime(2000, 1, 1, tzinfo=UTC))
    assert [f.client_order_id for f in fills] == ["rests"]  # the finished order's fill went with it
    assert (await v.balances())["USDT"].used == D("20.110")  # what rests still holds its funds


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


async def test_latency_is_injected_out_and_back_around_the_match() -> None:
    events: list[str] = []

    async def sleep(s: float) -> None:
        events.append(f"sleep {s}")

    inner = PaperVenue("paper", {SYMBOL: book()}, {SYMBOL: RULES}, {"USDT": D("100")})
    v = LatentVenue(inner, Latency(out_s=0.25, back_s=0.1), sleep=sleep)
    report = await v.place(req("t-1", Side.BUY, "1", "20.110"))
    assert events == ["sleep 0.25", "sleep 0.1"] and report.filled == D("1")
    with pytest.raises(InvalidOrder):  # an error answer travels back too
        await v.place(req("t-1", Side.BUY, "1", "20.110"))
    assert events[2:] == ["sleep 0.25", "sleep 0.1"]


async def test_latency_jitter_is_seeded_per_venue() -> None:
    draws: list[list[float]] = []
    for _ in range(2):
        slept: list[float] = []

        async def sleep(s: float, slept: list[float] = slept) -> None:
            slept.append(s)

        v = LatentVenue(PaperVenue("paper", {SYMBOL: book()}, {SYMBOL: RULES}, {"USDT": D("1000")}),
                        Latency(out_s=0.01, back_s=0.01, jitter_s=0.005), sleep=sleep)
        for i in range(5):
            await v.place(req(f"t-{i}", Side.BUY, "0.1", "20.110"))
        draws.append(slept)
    assert draws[0] == draws[1]  # the same seed: the same latencies
    assert all(0.01 <= s <= 0.015 for s in draws[0]) and len(set(draws[0])) > 1


async def test_order_and_trade_ids_are_unique_across_venue_instances() -> None:
    # Two runs of the same paper venue into one database: fills are unique on (venue, trade_id).
    reports = [await venue(book()).place(req("t-1", Side.BUY, "2.5", "20.120")) for _ in range(2)]
    trade_ids = [f.trade_id for r in reports for f in r.fills]
    order_ids = [r.venue_order_id for r in reports]
    assert len(set(trade_ids)) == len(trade_ids) == 4 and len(set(order_ids)) == 2
    assert all(re.fullmatch(r"paper-\d+", t) for t in trade_ids)
