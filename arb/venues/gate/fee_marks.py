"""What a GT fee is worth: the GT price in each quote currency the venue trades, for valuing Gate's fee
deduction (a trade's ``gt_fee``, paid in GT when GT deduction is on; ``usertrades.py``).

A GT fee is recorded in GT, as Gate charged it, and valued at the mid of Gate's own ``GT_<quote>`` market
(``GET /spot/tickers?currency_pair=GT_USDT``: ``(highest_bid + lowest_ask) / 2``, its last price when one
side is empty) as last read: the fill carries that price (``FillReport.fee_price``) and the accounting
counts the fee at it, in quote, in realized PnL (``arb/accounting.py``). The price is read when the private
stream connects and again when a fill needs it and it is older than ``max_age_s`` (5 minutes: a fee is
about 0.1 % of a fill, so a GT move of a few percent in that time is a millionth of the notional).

A quote currency Gate lists no GT market for, a ticker that cannot be read, or a fill before the first
read: no price, the fee is kept in GT and counted as unpriced (never as free). Gate's point fees
(``point_fee``, paid in points) have no market: they are always unpriced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from arb.venues.gate.usertrades import GT

log = logging.getLogger(__name__)

MAX_AGE_S = 300.0


class GtMarks:
    """The GT price per quote currency of ``exchange`` (a ccxt gate), read by :meth:`refresh`."""

    def __init__(self, exchange: Any, venue: str, quotes: Iterable[str], *, max_age_s: float = MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.exchange = exchange
        self.venue = venue
        self.quotes = tuple(sorted({q for q in quotes if q != GT}))
        self.max_age_s = max_age_s
        self.clock = clock
        self._prices: dict[str, Decimal] = {}
        self._read_at: float | None = None
        self._unlisted: set[str] = set()  # quotes Gate has no GT market for: not asked again
        self._said: set[tuple[str, str]] = set()  # fee currency and quote found unpriced, said once

    @property
    def stale(self) -> bool:
        return self._read_at is None or self.clock() - self._read_at > self.max_age_s

    def price(self, currency: str, quote: str) -> Decimal | None:
        """The price of ``currency`` in ``quote`` for valuing a fee: GT's mid as last read; None for any
        other currency (points), a quote with no GT market, or before the first read (said once per
        currency and quote: the fee is kept as charged, unpriced)."""
        price = self._prices.get(quote) if currency == GT else None
        if price is None and (currency, quote) not in self._said:
            self._said.add((currency, quote))
            why = ("Gate lists no GT market in it" if quote in self._unlisted else "no price read yet"
                   if currency == GT else "it has no market")
            log.warning("%s: a fee in %s of a %s market is kept in %s, unpriced (%s)", self.venue, currency,
                        quote, currency, why)
        return price

    async def refresh(self) -> None:
        """Read every quote's GT ticker. Never raises: a failure keeps the last prices and says so once per
        read (a fee valued later is better than a stream that stops); after a failure, the next fill that
        needs a price reads again."""
        failed = False
        for quote in self.quotes:
            if quote in self._unlisted:
                continue
            pair = f"{GT}_{quote}"
            try:
                rows = await self.exchange.public_spot_get_tickers({"currency_pair": pair})
                mid = _mid(rows[0]) if isinstance(rows, list) and rows else None
            except Exception as exc:  # noqa: BLE001 - any failure: the fee stays in GT, unpriced, said here
                if "INVALID_CURRENCY_PAIR" in str(exc) or type(exc).__name__ == "BadSymbol":
                    self._unlisted.add(quote)  # a sandbox lists no GT: said when a fee needs it, if one does
                else:
                    failed = True
                    log.warning("%s: the %s ticker could not be read (%s): GT fees are valued at the last "
                                "price read, if any", self.venue, pair, type(exc).__name__)
                continue
            if mid is None:
                failed = True
                log.warning("%s: the %s ticker has no price: GT fees are valued at the last price read, if any",
                            self.venue, pair)
                continue
            self._prices[quote] = mid
        if not failed:
            self._read_at = self.clock()


def _mid(row: object) -> Decimal | None:
    if not isinstance(row, dict):
        return None
    try:
        bid, ask = (Decimal(str(row.get(k) or "0")) for k in ("highest_bid", "lowest_ask"))
        last = Decimal(str(row.get("last") or "0"))
    except InvalidOperation:
        return None
    if bid > 0 and ask > 0:
        return (bid + ask) / 2
    return last if last > 0 else None
