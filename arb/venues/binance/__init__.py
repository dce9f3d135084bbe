"""The Binance adapter: spot, USD-M futures and COIN-M futures, as three markets of one venue package.

What a registry needs, as data (:mod:`arb.venues.binance.markets`): the three markets, each with its ccxt
id (``binance``, ``binanceusdm``, ``binancecoinm``), its order-book sync rule and its contract sizes.
Book sync (:mod:`.sync`): a REST snapshot plus the ``depthUpdate`` diff stream, spot by ``U == u + 1``,
futures by ``pu``; the raw-recording converter behind ``arb convert binance`` is :mod:`.convert`.

Sizes in the normalized book are the venue's own, as ccxt's unified order books have them: base units on
spot and USD-M (contract size 1 base unit), **contracts** on COIN-M (``BTCUSD_PERP``: 100 USD each; other
COIN-M contracts 10 USD). :func:`~arb.venues.binance.markets.base_amount` turns contracts into base units
at a price for whoever needs to compare across markets.
"""

from __future__ import annotations

from arb.venues.binance.markets import COINM, MARKETS, SPOT, USDM, BinanceMarket, base_amount, market_of

ADAPTER = "binance"
CCXT_IDS = {market.ccxt_id: market for market in MARKETS.values()}
"""ccxt id -> market: the ids a config's ``[venues.<name>]`` may name for this adapter."""

__all__ = ["ADAPTER", "CCXT_IDS", "COINM", "MARKETS", "SPOT", "USDM", "BinanceMarket", "base_amount", "market_of"]
