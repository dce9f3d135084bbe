"""What the executor and the store read of an opportunity: the fields of ``arb.detection.types.Opportunity``,
as a protocol in ``domain/`` so the store can record one (and the executor act on one) without importing
detection."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

# The ``opportunities`` row's columns that copy a field of the same name: what every decision records of
# the pair and its two books, sized or not (a rejection records them too).
BOOK_COLUMNS = (
    "symbol", "buy_venue", "sell_venue", "buy_limit", "sell_limit", "edge_bps", "buy_fee_rate", "sell_fee_rate",
    "buy_book_seq", "sell_book_seq", "buy_book_age_ms", "sell_book_age_ms",
)


class OpportunityLike(Protocol):
    """The fields of ``arb.detection.types.Opportunity`` the executor reads (read-only: it is frozen)."""

    @property
    def symbol(self) -> str: ...

    @property
    def buy_venue(self) -> str: ...

    @property
    def sell_venue(self) -> str: ...

    @property
    def size(self) -> Decimal: ...

    @property
    def buy_amount(self) -> Decimal: ...

    @property
    def sell_amount(self) -> Decimal: ...

    @property
    def buy_vwap(self) -> Decimal: ...

    @property
    def sell_vwap(self) -> Decimal: ...

    @property
    def buy_limit(self) -> Decimal: ...

    @property
    def sell_limit(self) -> Decimal: ...

    @property
    def buy_fee_rate(self) -> Decimal: ...

    @property
    def sell_fee_rate(self) -> Decimal: ...

    @property
    def expected_profit(self) -> Decimal: ...

    @property
    def edge_bps(self) -> Decimal: ...

    @property
    def mark_price(self) -> Decimal: ...

    @property
    def buy_book_seq(self) -> int | None: ...

    @property
    def sell_book_seq(self) -> int | None: ...

    @property
    def buy_book_age_ms(self) -> int: ...

    @property
    def sell_book_age_ms(self) -> int: ...


def sized_columns(opp: OpportunityLike) -> dict[str, Any]:
    """The ``opportunities`` row's columns a sized opportunity fills, all but the run, time, decision, reason
    and detail: the one mapping of an opportunity to its row, for detection's record, the executor's row and
    the write-ahead entry alike."""
    columns = {name: getattr(opp, name) for name in BOOK_COLUMNS}
    columns.update(size=opp.size, buy_price=opp.buy_vwap, sell_price=opp.sell_vwap,
                   expected_profit=opp.expected_profit, mark_price=opp.mark_price)
    return columns
