"""What detection takes in and hands out.

Inputs carry float64 numpy arrays (the books) plus exact ``Decimal`` money (fees, balances, rules); outputs
are exact ``Decimal`` only: floats never leave the detection package. Field names of ``Opportunity`` and
``Rejection`` follow the ``opportunities`` table so persisting one is a flat copy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from arb.domain.market import MarketRules

FloatArray = npt.NDArray[np.float64]

LIVE = "live"  # the one book health detection accepts (equal to marketdata's ``Health.LIVE``)


class FeeMode(enum.StrEnum):
    """Which asset a taker *buy* pays its fee in. Sells always pay in the quote they receive.

    ``BASE``: the fee is taken from the base received (Gate and Binance spot without a fee token): buying
    ``q`` yields ``q * (1 - fee)``, so the hedge can only sell that much. ``QUOTE``: the fee is added to the
    quote paid (``q * price * (1 + fee)``) and the full ``q`` arrives.
    """

    BASE = "base"
    QUOTE = "quote"


class Reason(enum.StrEnum):
    """Why a crossed pair was not traded. Checked in the order listed, first failing check wins."""

    NO_CROSS = "no_cross"
    BOOK_NOT_LIVE = "book_not_live"
    BOOK_STALE = "book_stale"
    ABNORMAL_EDGE = "abnormal_edge"
    UNPROFITABLE_AFTER_FEES = "unprofitable_after_fees"
    # Inventory: the balances (quote on the buy venue, base on the sell venue) fund nothing, or only legs below
    # a venue's minimum amount or notional that the books and max_size alone would have met (finalize.py).
    BALANCE_INSUFFICIENT = "balance_insufficient"
    PRICE_OFF_TICK = "price_off_tick"
    BELOW_MIN_AMOUNT = "below_min_amount"
    BELOW_MIN_NOTIONAL = "below_min_notional"
    PRECISION_KILLS_EDGE = "precision_kills_edge"
    BELOW_MIN_EDGE = "below_min_edge"
    BELOW_MIN_PROFIT = "below_min_profit"


@dataclass(frozen=True, slots=True, eq=False)
class VenueBook:
    """One venue's view of one symbol at detection time.

    The arrays are the top levels best first (asks ascending, bids descending, sizes > 0), e.g. straight
    from ``OrderBook.top_arrays(n)``; they may be views the book refreshes later, so a ``VenueBook`` is only
    valid for the detection call it is built for (nothing detection returns keeps a reference to them).
    ``quote_balance``/``base_balance`` are what may be spent on this venue right now.
    """

    venue: str
    bid_px: FloatArray
    bid_sz: FloatArray
    ask_px: FloatArray
    ask_sz: FloatArray
    taker_fee: Decimal
    fee_mode: FeeMode
    quote_balance: Decimal
    base_balance: Decimal
    rules: MarketRules
    health: str
    age_ms: int
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class DetectionParams:
    """Thresholds. ``max_size`` (base) caps each leg's order amount; edges are in basis points of cost."""

    max_size: Decimal
    min_edge_bps: Decimal = Decimal(0)
    min_profit: Decimal = Decimal(0)
    max_edge_bps: Decimal = Decimal(100)  # abnormal-edge ceiling on the top-of-book gross cross
    max_book_age_ms: int = 1_000
    # The executor widens each IOC limit by this much (``[execution] slippage_bps``), and a venue reserves a
    # buy's amount x its limit: the buy venue's quote balance must cover that, not just the walked notional.
    limit_allowance_bps: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if self.max_size <= 0:
            raise ValueError(f"max_size must be positive, got {self.max_size}")
        if self.max_edge_bps <= 0 or self.max_book_age_ms < 0:
            raise ValueError("max_edge_bps must be positive and max_book_age_ms non-negative")


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A cross that passed every check, sized and rounded for both venues.

    ``buy_amount`` is the buy order's amount; ``sell_amount`` (== ``size``) the sell order's. In ``BASE`` fee
    mode the buy is grossed up so what arrives covers the sell; the leftover (less than one buy amount step)
    stays long on the buy venue and is valued at ``mark_price`` in ``expected_profit`` (the buy venue's best
    bid net of its taker fee: ``arb.accounting.mark_price``, the same price realized PnL values it at).
    ``buy_cost`` is quote paid including any quote fee, ``sell_proceeds`` quote received after the fee.
    """

    symbol: str
    buy_venue: str
    sell_venue: str
    size: Decimal
    buy_amount: Decimal
    sell_amount: Decimal
    buy_vwap: Decimal
    sell_vwap: Decimal
    buy_limit: Decimal
    sell_limit: Decimal
    buy_fee_rate: Decimal
    sell_fee_rate: Decimal
    buy_fee_mode: FeeMode
    buy_cost: Decimal
    sell_proceeds: Decimal
    expected_profit: Decimal
    edge_bps: Decimal
    gross_edge_bps: Decimal
    crossed: bool
    mark_price: Decimal
    buy_book_seq: int | None
    sell_book_seq: int | None
    buy_book_age_ms: int
    sell_book_age_ms: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why the most attractive crossed pair of a symbol was not traded, with what was known when it failed.

    Sizing fields hold the rounded legs and their exact expected profit when the pair could be sized and
    rounded (also for pairs screened out on book health, age or abnormal edge: what it would have been), and
    are ``None`` when there was nothing to size (unprofitable after fees, no balance).
    """

    reason: Reason
    symbol: str
    buy_venue: str
    sell_venue: str
    best_ask: Decimal  # top of the buy venue's asks
    best_bid: Decimal  # top of the sell venue's bids
    buy_fee_rate: Decimal
    sell_fee_rate: Decimal
    gross_edge_bps: Decimal
    crossed: bool
    buy_book_seq: int | None
    sell_book_seq: int | None
    buy_book_age_ms: int
    sell_book_age_ms: int
    size: Decimal | None = None
    buy_amount: Decimal | None = None
    buy_vwap: Decimal | None = None
    sell_vwap: Decimal | None = None
    buy_limit: Decimal | None = None
    sell_limit: Decimal | None = None
    expected_profit: Decimal | None = None
    edge_bps: Decimal | None = None


Decision = Opportunity | Rejection | None
