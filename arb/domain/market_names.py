"""Which of the engine's symbols a venue trades, and what the venue calls them.

Inside arb a market has one name, the engine's symbol (``[engine] symbols``): books, detection, the store's
rows and reports all use it. A venue may trade only some of those symbols (``[venues.<name>] symbols``) and
may list a market under another name (``market_names``: ``XBT/USDT`` for the engine's ``BTC/USDT``). The
venue's names are used at its edge and nowhere else: its book feed subscribes by them and stores books
under the engine's symbol, and :class:`~arb.venues.renamed.RenamedVenue` translates orders, reports,
fills and balances.

Assets follow from the markets: ``BTC/USDT`` listed as ``XBT/USDT`` makes the venue's ``XBT`` the engine's
``BTC`` (balances, fee currencies). The names are one-to-one, for markets and for assets, or two of the
engine's markets (or assets) would be one on the venue and its fills could not be told apart.

Pure: config validation (``arb/config.py``) and the runtime build the same :class:`MarketNames`, so a
mapping ``config check`` accepts is the one the run uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from arb.domain.market import Symbol

T = TypeVar("T")


class MarketNameError(ValueError):
    """A venue's symbols or names do not hold together; ``key`` is the config key under the venue's
    section (``symbols``, ``market_names.BTC/USDT``)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key


@dataclass(frozen=True, slots=True)
class MarketNames:
    """One venue's markets: the engine symbols it trades and the venue's name for each, and the assets."""

    symbols: tuple[str, ...]  # the engine symbols this venue trades, in the engine's order
    markets: Mapping[str, str]  # engine symbol -> the venue's market, for every traded symbol
    assets: Mapping[str, str]  # engine asset -> the venue's asset, for every asset of a traded symbol

    @property
    def renames(self) -> bool:
        """Whether any market or asset has another name on the venue."""
        return any(k != v for k, v in self.markets.items()) or any(k != v for k, v in self.assets.items())

    def market(self, symbol: str) -> str:
        """The venue's name for an engine symbol (unchanged for one this venue does not rename)."""
        return self.markets.get(symbol, symbol)

    def engine_symbol(self, market: str) -> str:
        """The engine symbol of a venue's market name (unchanged for a market arb does not trade)."""
        return next((s for s, m in self.markets.items() if m == market), market)

    def engine_asset(self, asset: str) -> str:
        """The engine's name for one of the venue's assets (unchanged where it is not renamed)."""
        return next((ours for ours, theirs in self.assets.items() if theirs == asset), asset)

    def venue_amounts(self, amounts: Mapping[str, T]) -> dict[str, T]:
        """Amounts per engine asset (a venue's configured starting balances) under the venue's asset names."""
        return {self.assets.get(asset, asset): amount for asset, amount in amounts.items()}

    @classmethod
    def build(cls, engine_symbols: Sequence[str], traded: Sequence[str] | None,
              names: Mapping[str, str]) -> MarketNames:
        """Check ``traded`` (None: every engine symbol) and ``names`` (engine symbol -> venue market) against
        the engine's symbols; :class:`MarketNameError` naming the key at the first problem."""
        symbols = tuple(engine_symbols) if traded is None else tuple(traded)
        for symbol in symbols:
            if symbol not in engine_symbols:
                raise MarketNameError("symbols", f"{symbol} is not one of [engine] symbols "
                                      f"({', '.join(engine_symbols)})")
        if len(set(symbols)) != len(symbols):
            raise MarketNameError("symbols", "a symbol is listed twice")
        ordered = tuple(s for s in engine_symbols if s in symbols)
        markets: dict[str, str] = {}
        owner: dict[str, str] = {}  # venue market -> engine symbol
        for symbol in ordered:
            market = names.get(symbol, symbol)
            if market in owner:
                raise MarketNameError(_key(symbol if symbol in names else owner[market]),
                                      f"{market} would be this venue's market for both {owner[market]} and "
                                      f"{symbol}: two symbols cannot trade on one market")
            owner[market] = symbol
            markets[symbol] = market
        for symbol, market in names.items():
            if symbol not in symbols:
                where = "[engine] symbols" if symbol not in engine_symbols else "this venue's symbols"
                raise MarketNameError(_key(symbol), f"{symbol} is not one of {where}")
            try:
                Symbol.parse_market(market)
            except ValueError as exc:
                raise MarketNameError(_key(symbol), str(exc)) from None
        return cls(ordered, markets, _assets(markets, names))


def _key(symbol: str) -> str:
    return f"market_names.{symbol}"


def _assets(markets: Mapping[str, str], names: Mapping[str, str]) -> dict[str, str]:
    """engine asset -> venue asset, one-to-one, from the market pairs; renamed markets are checked first so
    a conflict is blamed on the mapping that introduced it."""
    assets: dict[str, str] = {}
    named_by: dict[str, str] = {}  # engine asset -> the symbol that fixed its name
    owner: dict[str, str] = {}  # venue asset -> engine asset
    order = sorted(markets, key=lambda s: s not in names)
    for symbol in order:
        ours, theirs = Symbol.parse(symbol), Symbol.parse_market(markets[symbol])
        for asset, venue_asset in ((ours.base, theirs.base), (ours.quote, theirs.quote)):
            known = assets.get(asset)
            if known is not None and known != venue_asset:
                raise MarketNameError(_key(symbol if symbol in names else named_by[asset]),
                                      f"{named_by[asset]} makes {asset} {known} on this venue, but {symbol} "
                                      f"makes it {venue_asset}: an asset has one name on a venue")
            if owner.get(venue_asset, asset) != asset:
                raise MarketNameError(_key(symbol if symbol in names else named_by[owner[venue_asset]]),
                                      f"{venue_asset} is already this venue's name for {owner[venue_asset]}, "
                                      f"so {symbol} cannot make it {asset} too")
            assets[asset] = venue_asset
            owner[venue_asset] = asset
            named_by.setdefault(asset, symbol)
    return assets
