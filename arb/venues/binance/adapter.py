"""The Binance adapter: spot (``binance``), USD-M (``binanceusdm``) and COIN-M (``binancecoinm``).

Orders go through ccxt's own Binance classes, throttled at ccxt's declared weights and guarded like any
ccxt venue (the generic adapter's machinery); what is Binance's own lives here: its client-order-id rule
(:mod:`.facts`) and its book feed, a REST snapshot plus the ``depthUpdate`` diff stream synced by Binance's
rules (:mod:`.feed`, :mod:`.sync`: ``U == u + 1`` on spot, ``pu`` on futures), so a gap is seen and the
book resynced rather than trusted; and on spot the account's fill stream, a maker venue's
(:mod:`.private_stream`, ccxt.pro's user data on Binance's WebSocket API). Binance has no arb sandbox:
``kind = "paper"`` or ``"live"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from arb.domain.venue import Venue
from arb.venues.adapter import Endpoint, FillStreaming, VenueRef
from arb.venues.binance.facts import CLIENT_IDS
from arb.venues.binance.markets import MARKETS, BinanceMarket
from arb.venues.generic.adapter import CcxtAdapter
from arb.venues.generic.client_ids import ClientIdFacts

if TYPE_CHECKING:
    from arb.marketdata.books import BookStore
    from arb.marketdata.feed_setup import FeedSetup
    from arb.venues.binance.feed import BinanceBookFeed

BY_CCXT_ID: dict[str, BinanceMarket] = {market.ccxt_id: market for market in MARKETS.values()}


class BinanceAdapter(CcxtAdapter):
    key = "binance"
    ccxt_ids = tuple(BY_CCXT_ID)  # spot first: the default
    field_names = frozenset(CLIENT_IDS.wire_fields)
    has_sandbox = False

    def facts(self, ccxt_id: str) -> ClientIdFacts | None:
        return CLIENT_IDS if ccxt_id in BY_CCXT_ID else None

    def books_refusal(self, ccxt_id: str) -> str | None:
        return None

    def market_kinds(self, ccxt_id: str) -> frozenset[str] | None:
        market = BY_CCXT_ID.get(ccxt_id)
        if market is None:
            return None
        if not market.futures:
            return frozenset(("spot",))
        return frozenset(("inverse_perpetual",)) if market.contract_quote is not None else frozenset(("linear_perpetual",))

    def fill_stream_refusal(self, ccxt_id: str) -> str | None:
        from arb.venues.binance.private_stream import STREAMED

        if ccxt_id in STREAMED:
            return None
        return (f"arb streams Binance fills on spot only (the WebSocket API's user data); {ccxt_id} takes them "
                "from a listen key's stream, which arb does not read yet")

    def fill_stream(self, venue: Venue, name: str, markets: Sequence[str]) -> FillStreaming:
        """``venue`` behind :class:`~arb.venues.live.streamed.StreamedVenue`: its account's trades from Binance's
        user data (ccxt.pro's ``watch_my_trades``), looked up by order id through ``venue`` after a reconnect."""
        from arb.venues.binance.private_stream import for_exchange
        from arb.venues.live.streamed import StreamedVenue
        from arb.venues.live.venue import LiveVenue

        inner: object = venue
        while not isinstance(inner, LiveVenue):  # under the throttle guard: the exchange holding the key
            inner = getattr(inner, "inner", None)
            if inner is None:
                raise ValueError(f"{name}: no Binance exchange under the venue to stream fills from")
        refusal = self.fill_stream_refusal(inner.exchange.id)
        if refusal is not None:
            raise ValueError(f"{name}: {refusal}")
        stream = for_exchange(inner.exchange, name, inner.quirks, venue.fetch_fills)
        return FillStreaming(StreamedVenue(venue, stream), stream.run, stream.counts)

    def add_convert_command(self, subparsers: Any) -> None:
        from arb.venues.binance.convert import add_convert_command

        add_convert_command(subparsers)

    def book_feed(self, ref: VenueRef, books: BookStore, symbols: Sequence[str], setup: FeedSetup, *,
                  depth: int, endpoint: Endpoint | None = None) -> BinanceBookFeed:
        from arb.venues.binance.feed import BinanceBookFeed

        market = BY_CCXT_ID[ref.ccxt_id]
        if endpoint is None:
            return BinanceBookFeed(books, symbols, setup, market=market)
        return BinanceBookFeed(books, symbols, setup, market=market, ws_url=endpoint.ws_url, rest_url=endpoint.rest_url)


ADAPTER = BinanceAdapter()

