"""The Binance adapter: spot, USD-M futures and COIN-M futures, as three markets of one venue package.

- :mod:`.adapter`: what the registry holds (``adapter = "binance"``; ccxt ids ``binance``, ``binanceusdm``,
  ``binancecoinm``): orders through ccxt's Binance classes, guarded like any ccxt venue, with Binance's
  client-order-id rule (:mod:`.facts`);
- :mod:`.markets`: the three markets as data: ids, unified symbols, sync rule, contract sizes;
- :mod:`.sync`: book sync from a REST snapshot plus the ``depthUpdate`` diff stream, spot by
  ``U == u + 1``, futures by ``pu``; :mod:`.feed` runs it live, :mod:`.convert` over raw recordings
  (``arb convert binance``).

Sizes in the normalized book are the venue's own, as ccxt's unified order books have them: base units on
spot and USD-M (contract size 1 base unit), **contracts** on COIN-M (``BTCUSD_PERP``: 100 USD each; other
COIN-M contracts 10 USD). :func:`~arb.venues.binance.markets.base_amount` turns contracts into base units
at a price for whoever needs to compare across markets.
"""

from __future__ import annotations

from arb.venues.binance.markets import COINM, MARKETS, SPOT, USDM, BinanceMarket, base_amount, market_of

__all__ = ["COINM", "MARKETS", "SPOT", "USDM", "BinanceMarket", "base_amount", "market_of"]
