"""A venue's symbols and its names for them (``arb/domain/market_names.py``) and the venue seen under the
engine's names (``arb/venues/renamed.py``), on a real paper venue."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from arb.domain.market import MarketRules, Side
from arb.domain.market_names import MarketNameError, MarketNames
from arb.domain.venue import OrderRequest
from arb.errors import BadSymbol
from arb.marketdata.feed_setup import FeedSetup
from arb.venues.adapter import check_tradable
from arb.venues.paper.venue import PaperConfig, PaperVenue
from arb.venues.renamed import RenamedVenue

ENGINE = ("BTC/USDT", "ETH/USDT", "ETH/BTC")


def test_by_default_a_venue_trades_every_symbol_under_the_engines_names() -> None:
    names = MarketNames.build(ENGINE, None, {})
    assert names.symbols == ENGINE and not names.renames
    assert names.markets == {s: s for s in ENGINE}
    assert names.assets == {"BTC": "BTC", "USDT": "USDT", "ETH": "ETH"}


def test_a_renamed_market_renames_its_assets_and_keeps_the_engines_order() -> None:
    names = MarketNames.build(ENGINE, ["ETH/BTC", "BTC/USDT"], {"BTC/USDT": "XBT/USDT", "ETH/BTC": "ETH/XBT"})
    assert names.symbols == ("BTC/USDT", "ETH/BTC") and names.renames
    assert names.market("BTC/USDT") == "XBT/USDT" and names.market("ETH/BTC") == "ETH/XBT"
    assert names.assets == {"BTC": "XBT", "USDT": "USDT", "ETH": "ETH"}
    assert names.venue_amounts({"BTC": Decimal(1), "USDT": Decimal(2)}) == {"XBT": Decimal(1), "USDT": Decimal(2)}


# (traded, names, key the error names, words in it)
BAD = [
    (["BTC/USDT", "SOL/USDT"], {}, "symbols", "SOL/USDT is not one of [engine] symbols"),
    (["BTC/USDT", "BTC/USDT"], {}, "symbols", "listed twice"),
    (["BTC/USDT", "ETH/USDT"], {"ETH/BTC": "ETH/XBT"}, "market_names.ETH/BTC", "not one of this venue's symbols"),
    (None, {"SOL/USDT": "SOL/USD"}, "market_names.SOL/USDT", "not one of [engine] symbols"),
    (None, {"BTC/USDT": "xbt-usdt"}, "market_names.BTC/USDT", "malformed symbol"),
    (None, {"ETH/USDT": "BTC/USDT"}, "market_names.ETH/USDT", "market for both BTC/USDT and ETH/USDT"),
    # BTC is XBT in one market and BTC in another: an asset has one name on a venue.
    (None, {"BTC/USDT": "XBT/USDT"}, "market_names.BTC/USDT",
     "BTC/USDT makes BTC XBT on this venue, but ETH/BTC makes it BTC"),
    # The venue's BTC would be both the engine's ETH and its BTC.
    (["BTC/USDT", "ETH/USDT"], {"ETH/USDT": "BTC/USD"}, "market_names.ETH/USDT",
     "BTC is already this venue's name for ETH, so BTC/USDT cannot make it BTC too"),
]


@pytest.mark.parametrize(("traded", "names", "key", "words"), BAD, ids=[b[3] for b in BAD])
def test_names_that_do_not_hold_together_are_refused_naming_the_key(
        traded: list[str] | None, names: dict[str, str], key: str, words: str) -> None:
    with pytest.raises(MarketNameError) as err:
        MarketNames.build(ENGINE, traded, names)
    assert err.value.key.startswith(key) and words in str(err.value)


def _paper(names: MarketNames, book: object) -> PaperVenue:
    """A paper venue that speaks the venue's names, as ``arb/runtime/venues.py`` builds it."""
    market = names.market("BTC/USDT")
    return PaperVenue("kraken", {market: book},  # type: ignore[dict-item]
                      {market: MarketRules("kraken", market, Decimal("0.1"), Decimal("0.001"))},
                      names.venue_amounts({"BTC": Decimal(1), "USDT": Decimal(1000)}),
                      config=PaperConfig(fee_rate=Decimal("0.001")),
                      clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))


class Book:
    updates = 1

    def levels(self, side: str, n: int | None = None) -> list[tuple[Decimal, Decimal]]:
        return [(Decimal("100"), Decimal("5"))] if side == "asks" else [(Decimal("99"), Decimal("5"))]


async def test_the_engine_asks_in_its_names_and_reads_its_names_back() -> None:
    names = MarketNames.build(ENGINE, ["BTC/USDT"], {"BTC/USDT": "XBT/USDT"})
    inner = _paper(names, Book())
    venue = RenamedVenue(inner, names)
    assert venue.market_rules("BTC/USDT").symbol == "BTC/USDT"
    request = OrderRequest("c-1", "BTC/USDT", Side.BUY, Decimal("2"), Decimal("100"))
    prepared = await venue.prepare(request)
    assert prepared.request == request  # what the executor stores: the engine's symbol
    report = await venue.send(prepared)
    assert report.symbol == "BTC/USDT" and report.filled == Decimal("2")
    assert [(f.symbol, f.fee_currency) for f in report.fills] == [("BTC/USDT", "BTC")]
    inside = await inner.fetch_fills("XBT/USDT", datetime(2000, 1, 1, tzinfo=UTC))
    assert [(f.symbol, f.fee_currency) for f in inside] == [("XBT/USDT", "XBT")]  # the venue's own names
    assert (await venue.fetch_order("c-1", "BTC/USDT")).symbol == "BTC/USDT"
    fills = await venue.fetch_fills("BTC/USDT", datetime(2000, 1, 1, tzinfo=UTC))
    assert [(f.symbol, f.fee_currency) for f in fills] == [("BTC/USDT", "BTC")]
    balances = await venue.balances()
    assert set(balances) == {"BTC", "USDT"} and balances["BTC"].asset == "BTC"
    assert balances["BTC"].total == Decimal("3") - Decimal("0.002")  # the buy's fee, in base
    # A symbol this venue does not trade: nothing of arb's there, and the venue is not asked.
    assert await venue.fetch_fills("ETH/USDT", datetime(2000, 1, 1, tzinfo=UTC)) == []
    assert await venue.fetch_open_orders("ETH/USDT") == []


async def test_a_venue_asset_under_a_name_arb_reads_another_asset_as_is_kept_apart() -> None:
    names = MarketNames.build(ENGINE, ["BTC/USDT"], {"BTC/USDT": "XBT/USDT"})
    inner = _paper(names, Book())
    inner.matcher.set_balance("paper", "BTC", Decimal(7))  # the venue also holds an asset it calls BTC
    balances = await RenamedVenue(inner, names).balances()
    assert balances["BTC"].total == Decimal(1)  # the venue's XBT
    assert balances["BTC@kraken"].total == Decimal(7)


def test_a_live_venue_without_the_renamed_market_is_refused_naming_the_key() -> None:
    names = MarketNames.build(ENGINE, ["BTC/USDT"], {"BTC/USDT": "XBT/USDT"})
    with pytest.raises(BadSymbol) as err:
        check_tradable("kraken", {"BTC/USDT"}, names, _paper(names, Book()))
    assert 'kraken does not list XBT/USDT (venues.kraken.market_names."BTC/USDT")' in str(err.value)
    check_tradable("kraken", {"XBT/USDT"}, names, _paper(names, Book()))  # listed: accepted


class _PollingExchange:
    """A REST-only ccxt-like exchange that lists XBT/USDT and records what it was asked for."""

    id = "fakex"
    has = {"watchOrderBook": False}

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def fetch_order_book(self, symbol: str, limit: int) -> dict[str, object]:
        self.asked.append(symbol)
        if symbol != "XBT/USDT":
            raise AssertionError(f"asked for {symbol}")
        return {"bids": [[99.0, 1.0]], "asks": [[100.0, 1.0]]}


async def test_a_ccxt_feed_polls_the_venues_market_and_stores_the_engines_book() -> None:
    import asyncio

    from arb.marketdata.books import BookStore
    from arb.marketdata.ccxt_feed import CcxtBookFeed

    store, exchange = BookStore(), _PollingExchange()
    polled = asyncio.Event()

    async def sleep(_: float) -> None:
        polled.set()
        await asyncio.Event().wait()  # one poll is enough: park until cancelled

    feed = CcxtBookFeed(store, exchange, ["BTC/USDT"], FeedSetup("fakex", clock_ms=lambda: 1_000, sleep=sleep,
                                                                 market_names={"BTC/USDT": "XBT/USDT"}))
    task = asyncio.create_task(feed.run())
    await asyncio.wait_for(polled.wait(), 5)
    assert exchange.asked == ["XBT/USDT"]
    assert store.book("fakex", "BTC/USDT").best_ask() is not None
    assert ("fakex", "XBT/USDT") not in store.books
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
