"""Issue 32: every public market endpoint that ccxt's gate class calls in ``load_markets``,
``fetch_ticker(s)``, ``fetch_order_book``, ``fetch_trades`` and ``fetch_time`` answers as Gate does, without
authentication, to Gate's official SDK (``gate_api``) and to stock ccxt. Before, the SDK got 404 for tickers,
trades, a single pair and a single currency, and stock ccxt could not fetch a ticker or trades at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import ccxt.async_support as ccxt_async
import gate_api
import pytest

from arb.venues.gate.sandbox import Sandbox

from .conftest import ASKS, BIDS, KEY, FakeClock, make_config
from .hostile import assert_gate_error, raw_request

NOW = 1_700_000_000
S = "LINK/USDT"
API = "/api/v4"

# Each public endpoint, as Gate's SDK calls it (no key: the SDK signs nothing it need not).
SDK_CALLS: dict[str, Callable[[gate_api.ApiClient], Any]] = {
    "/spot/time": lambda c: gate_api.SpotApi(c).get_system_time(),
    "/spot/currency_pairs": lambda c: gate_api.SpotApi(c).list_currency_pairs(),
    "/spot/currency_pairs/LINK_USDT": lambda c: gate_api.SpotApi(c).get_currency_pair("LINK_USDT"),
    "/spot/currencies": lambda c: gate_api.SpotApi(c).list_currencies(),
    "/spot/currencies/LINK": lambda c: gate_api.SpotApi(c).get_currency("LINK"),
    "/spot/tickers": lambda c: gate_api.SpotApi(c).list_tickers(timezone="utc0"),
    "/spot/tickers?currency_pair": lambda c: gate_api.SpotApi(c).list_tickers(currency_pair="LINK_USDT"),
    "/spot/order_book": lambda c: gate_api.SpotApi(c).list_order_book("LINK_USDT", limit=2, with_id=True),
    "/spot/trades": lambda c: gate_api.SpotApi(c).list_trades("LINK_USDT", limit=10),
    "/futures/usdt/contracts": lambda c: gate_api.FuturesApi(c).list_futures_contracts("usdt"),
    "/futures/btc/contracts": lambda c: gate_api.FuturesApi(c).list_futures_contracts("btc"),
    "/delivery/usdt/contracts": lambda c: gate_api.DeliveryApi(c).list_delivery_contracts("usdt"),
    "/options/underlyings": lambda c: gate_api.OptionsApi(c).list_options_underlyings(),
}


class RecordingGate(ccxt_async.gate):  # type: ignore[misc]
    """Stock ccxt gate that notes the path of every request it sends."""

    paths: set[str]

    async def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        self.paths.add(urlsplit(url).path.removeprefix(API))
        return await super().fetch(url, method, headers, body)


@pytest.fixture
async def market() -> AsyncIterator[Sandbox]:
    """A sandbox whose LINK_USDT printed two trades: an IOC buy that took the ask (taker), and a resting
    buy that the market then traded through (maker)."""
    async with Sandbox(make_config(clock=FakeClock(NOW))) as sb:
        sb.push_book("LINK_USDT", BIDS, ASKS)
        sb.engine.place(
            KEY,
            {
                "currency_pair": "LINK_USDT",
                "side": "buy",
                "amount": "2",
                "price": "27.101",
                "time_in_force": "ioc",
                "text": "t-taker",
            },
            NOW * 1000,
        )
        sb.engine.place(
            KEY,
            {
                "currency_pair": "LINK_USDT",
                "side": "buy",
                "amount": "1",
                "price": "27.099",
                "text": "t-maker",
            },
            NOW * 1000,
        )
        sb.config.clock.now = NOW + 60  # type: ignore[attr-defined]
        sb.push_book("LINK_USDT", [("27.05", "5")], [("27.098", "4")])  # the market sells through 27.099
        yield sb


def sdk(sb: Sandbox, call: Callable[[gate_api.ApiClient], Any]) -> Any:
    with gate_api.ApiClient(gate_api.Configuration(host=sb.rest_url)) as client:
        return call(client)


@pytest.mark.parametrize("endpoint", list(SDK_CALLS))
async def test_the_official_sdk_reads_each_public_endpoint_without_a_key(
    market: Sandbox, endpoint: str
) -> None:
    answer = await asyncio.to_thread(sdk, market, SDK_CALLS[endpoint])  # gate_api.ApiException on any 4xx
    assert answer is not None


async def test_the_sdk_sees_the_sandbox_market_as_gate_shows_it(market: Sandbox) -> None:
    def read(client: gate_api.ApiClient) -> tuple[Any, ...]:
        spot = gate_api.SpotApi(client)
        return (
            spot.get_system_time(),
            spot.get_currency_pair("LINK_USDT"),
            spot.get_currency("USDT"),
            spot.list_tickers(currency_pair="LINK_USDT"),
            spot.list_tickers(),
            spot.list_trades("LINK_USDT"),
            spot.list_order_book("LINK_USDT", with_id=True),
        )

    clock, pair, usdt, (one,), (every,), trades, book = await asyncio.to_thread(sdk, market, read)
    assert clock.server_time == (NOW + 60) * 1000
    assert (pair.id, pair.base, pair.quote, pair.precision, pair.amount_precision) == (
        "LINK_USDT",
        "LINK",
        "USDT",
        3,
        2,
    )
    assert (usdt.currency, usdt.delisted, usdt.trade_disabled) == ("USDT", False, False)
    assert (
        one.currency_pair,
        one.last,
        one.lowest_ask,
        one.lowest_size,
        one.highest_bid,
        one.highest_size,
    ) == ("LINK_USDT", "27.099", "27.098", "3", "27.05", "5")  # the fill took 1 of the ask
    assert (one.high_24h, one.low_24h, one.base_volume, one.quote_volume) == (
        "27.101",
        "27.099",
        "3",
        "81.301",
    )
    assert one.change_percentage == "-0.01"  # 27.101 -> 27.099
    assert (every.last, every.lowest_size, every.highest_size) == (
        "27.099",
        None,
        None,
    )  # sizes: one pair only
    assert book.id == market.engine.books["LINK_USDT"].update_id and book.asks == [["27.098", "3"]]

    fills = sorted(market.engine.trades, key=lambda t: t.id, reverse=True)
    assert [t.id for t in trades] == [str(f.id) for f in fills]  # newest first
    assert [(t.side, t.amount, t.price, t.sequence_id) for t in trades] == [
        ("sell", "1", "27.099", "2"),  # the resting buy was the maker: the taker sold
        ("buy", "2", "27.101", "1"),  # the IOC buy took the ask
    ]
    assert [t.create_time_ms for t in trades] == [f"{(NOW + 60) * 1000}.000", f"{NOW * 1000}.000"]
    for t in trades:  # anonymized: nothing of the account's order
        assert (t.order_id, t.role, t.fee, t.fee_currency, t.text, t.amend_text) == (None,) * 6


async def test_public_trades_page_by_last_id_and_time_range(market: Sandbox) -> None:
    older, newer = sorted(t.id for t in market.engine.trades)

    def read(client: gate_api.ApiClient) -> list[list[str]]:
        spot = gate_api.SpotApi(client)
        return [
            [t.id for t in page]
            for page in (
                spot.list_trades("LINK_USDT", last_id=str(older)),
                spot.list_trades("LINK_USDT", last_id=str(newer), reverse=True),
                spot.list_trades("LINK_USDT", limit=1, page=2),
                spot.list_trades("LINK_USDT", _from=NOW + 1),
                spot.list_trades("LINK_USDT", to=NOW),
            )
        ]

    assert await asyncio.to_thread(sdk, market, read) == [
        [str(newer)],
        [str(older)],
        [str(older)],
        [str(newer)],
        [str(older)],
    ]


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("/spot/trades?currency_pair=LINK_USDT&last_id=abc", "INVALID_PARAM_VALUE"),
        ("/spot/trades?currency_pair=LINK_USDT&last_id=1&reverse=maybe", "INVALID_PARAM_VALUE"),
        ("/spot/trades?currency_pair=LINK_USDT&limit=1000&page=102", "INVALID_PARAM_VALUE"),
        ("/spot/trades?currency_pair=NOPE_USDT", "INVALID_CURRENCY_PAIR"),
        ("/spot/trades", "MISSING_REQUIRED_PARAM"),
        ("/spot/tickers?currency_pair=NOPE_USDT", "INVALID_CURRENCY_PAIR"),
        ("/spot/tickers?timezone=mars", "INVALID_PARAM_VALUE"),
        ("/spot/currency_pairs/NOPE_USDT", "INVALID_CURRENCY_PAIR"),
        ("/spot/currencies/NOPE", "INVALID_CURRENCY"),
        ("/spot/order_book?currency_pair=LINK_USDT&interval=0.1", "INVALID_PARAM_VALUE"),
        ("/spot/order_book?currency_pair=LINK_USDT&with_id=yes", "INVALID_PARAM_VALUE"),
    ],
)
async def test_bad_public_queries_are_refused_as_gate_refuses_them(
    market: Sandbox, query: str, label: str
) -> None:
    async with aiohttp.ClientSession() as session:
        path, _, raw_query = query.partition("?")
        status, body, headers = await raw_request(session, market, "GET", API + path, raw_query)
    assert (status, assert_gate_error(status, body, headers)) == (400, label)


async def test_stock_ccxt_reads_markets_tickers_books_trades_and_time(market: Sandbox) -> None:
    """Every request ccxt sends for these is answered (ccxt raises on any error), and each public spot path
    among them is one the SDK test above reads."""
    exchange = RecordingGate(
        {"enableRateLimit": False}
    )  # stock options: spot, swap, future and option markets
    exchange.paths = set()
    for access in ("public", "private"):
        for section in exchange.urls["api"][access]:
            exchange.urls["api"][access][section] = market.rest_url
    try:
        assert list(await exchange.load_markets()) == [S]
        assert await exchange.fetch_time() == (NOW + 60) * 1000
        ticker = await exchange.fetch_ticker(S)
        assert (ticker["last"], ticker["bid"], ticker["ask"], ticker["baseVolume"]) == (
            27.099,
            27.05,
            27.098,
            3,
        )
        assert (await exchange.fetch_tickers())[S]["last"] == 27.099
        book = await exchange.fetch_order_book(S)
        assert book["asks"] == [[27.098, 3.0]] and book["nonce"] == market.engine.books["LINK_USDT"].update_id
        trades = await exchange.fetch_trades(S)
        assert [(t["side"], t["amount"], t["price"]) for t in trades] == [
            ("buy", 2, 27.101),
            ("sell", 1, 27.099),
        ]
    finally:
        await exchange.close()
    assert exchange.paths == {
        "/spot/currencies",
        "/spot/currency_pairs",
        "/margin/currency_pairs",
        "/futures/usdt/contracts",
        "/futures/btc/contracts",
        "/delivery/usdt/contracts",
        "/options/underlyings",
        "/spot/time",
        "/spot/tickers",
        "/spot/order_book",
        "/spot/trades",
    }
    assert {p for p in exchange.paths if p.startswith("/spot/")} <= {p.split("?")[0] for p in SDK_CALLS}
