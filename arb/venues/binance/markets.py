"""Binance's three markets as data: ids, unified symbols, sync rule, contract sizes.

ccxt's unified symbols name them: ``BTC/USDT`` (spot), ``BTC/USDT:USDT`` (USD-M perpetual, settled in USDT),
``BTC/USD:BTC`` (COIN-M perpetual, settled in BTC), a delivery contract adds ``-YYMMDD``. Binance's ids:
``BTCUSDT``, ``BTCUSDT`` (``BTCUSDT_240927``), ``BTCUSD_PERP`` (``BTCUSD_240927``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arb.errors import UsageError


@dataclass(frozen=True, slots=True)
class BinanceMarket:
    """One Binance market: what its books and symbols mean."""

    key: str  # spot | usdm | coinm
    label: str
    ccxt_id: str
    futures: bool  # the depth stream chains diffs by ``pu``, the snapshot rule is ``U <= id <= u``
    contract_quote: Decimal | None  # COIN-M: quote value of one contract (book sizes are contracts)

    def contract_size(self, base: str) -> Decimal | None:
        """Quote value of one contract (COIN-M: 100 USD for BTC, 10 USD for the others); None elsewhere."""
        if self.contract_quote is None:
            return None
        return Decimal(100) if base == "BTC" else self.contract_quote

    def unified(self, symbol: str) -> str:
        """``symbol`` in this market's unified form (``BTC/USDT`` on USD-M is ``BTC/USDT:USDT``)."""
        base, quote, settle, expiry = split_symbol(symbol)
        if not self.futures:
            if settle:
                raise UsageError(f"{symbol!r} is a futures symbol; the recording is {self.label}")
            return f"{base}/{quote}"
        want = quote if self.key == "usdm" else base
        if settle and settle != want:
            raise UsageError(f"{symbol!r} does not settle in {want} as {self.label} contracts do")
        return f"{base}/{quote}:{want}" + (f"-{expiry}" if expiry else "")

    def venue_id(self, symbol: str) -> str:
        """Binance's id of a unified symbol of this market (``BTC/USD:BTC`` -> ``BTCUSD_PERP``)."""
        base, quote, _, expiry = split_symbol(self.unified(symbol))
        if self.key == "coinm":
            return f"{base}{quote}_{expiry or 'PERP'}"
        return f"{base}{quote}" + (f"_{expiry}" if expiry else "")


SPOT = BinanceMarket("spot", "spot", "binance", futures=False, contract_quote=None)
USDM = BinanceMarket("usdm", "USD-M futures", "binanceusdm", futures=True, contract_quote=None)
COINM = BinanceMarket("coinm", "COIN-M futures", "binancecoinm", futures=True, contract_quote=Decimal(10))
MARKETS = {m.key: m for m in (SPOT, USDM, COINM)}


def market_of(key: str) -> BinanceMarket:
    try:
        return MARKETS[key]
    except KeyError:
        raise UsageError(f"unknown Binance market {key!r} (one of {', '.join(MARKETS)})") from None


def split_symbol(symbol: str) -> tuple[str, str, str, str]:
    """``BASE/QUOTE[:SETTLE[-YYMMDD]]`` -> parts; a malformed symbol is a :class:`UsageError`."""
    pair, _, contract = symbol.partition(":")
    settle, _, expiry = contract.partition("-")
    parts = pair.split("/")
    ok = len(parts) == 2 and all(p and p.isalnum() and p.upper() == p for p in parts)
    ok = ok and (not contract or (settle.isalnum() and settle.upper() == settle))
    ok = ok and (not expiry or (expiry.isdigit() and len(expiry) == 6))
    if not ok:
        raise UsageError(f"malformed symbol {symbol!r}: expected BASE/QUOTE in upper case, e.g. BTC/USDT "
                         "(futures: BTC/USDT:USDT, BTC/USD:BTC)")
    return parts[0], parts[1], settle, expiry


def base_amount(market: BinanceMarket, base: str, size: Decimal, price: Decimal) -> Decimal:
    """A book size in base units: itself on spot and USD-M; COIN-M contracts x contract size / price."""
    contract = market.contract_size(base)
    return size if contract is None else size * contract / price
