"""Balances from ccxt exact: the venue's own decimal strings, not ccxt's floats.

ccxt reads a venue's balance strings and adds their parts exactly (``Precise``), then hands each figure out
as its ``number``, a float: ~16 significant digits. A desk's 12,345,678,901.123456789012 USDT came back
12,345,678,901.123457, and the run's inventory check (end - start = fills) showed an external flow of
0.00005 USDT that never happened. Orders' and trades' figures are short enough for a float to round-trip
(:mod:`arb.venues.live.normalize`); a balance is a running total of every one of them.

:class:`ExactBalances` is mixed into every ccxt class arb opens (``GateExchange``;
``arb.venues.generic.adapter.ccxt_class``): ccxt's ``safe_balance``, through which every ``fetch_balance``
and ``watch_balance`` of every venue returns, with ``number`` set to ``str`` for its own (synchronous) call
only. Everything else ccxt parses stays a float: ccxt.pro's books sort their prices as numbers.
"""

from __future__ import annotations

from typing import Any


class ExactBalances:
    number: Any  # ccxt's: what ``parse_number`` turns a figure into

    def safe_balance(self, balance: dict[str, Any]) -> dict[str, Any]:
        number, self.number = self.number, str
        try:
            return super().safe_balance(balance)  # type: ignore[misc]
        finally:
            self.number = number
