"""What the executor and the store read of an opportunity: the fields of ``arb.detection.types.Opportunity``,
as a protocol in ``domain/`` so the store can record one (and the executor act on one) without importing
detection."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol


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
