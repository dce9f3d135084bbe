"""Flatten a detection decision into the columns of the ``opportunities`` table.

Pure: returns a dict the caller completes with ``run_id`` and ``detected_at`` (detection has no clock)
and passes to the model, e.g. ``Opportunity(run_id=run.id, detected_at=now, **opportunity_columns(d))``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from arb.detection.types import Opportunity, Rejection
from arb.domain.opportunity import BOOK_COLUMNS, sized_columns

EXECUTED = "executed"
REJECTED = "rejected"


def opportunity_columns(
    decided: Opportunity | Rejection, *, reject_reason: str | None = None
) -> dict[str, Any]:
    """Columns for one decision. An ``Opportunity`` is ``executed`` unless ``reject_reason`` says a later
    stage (risk, executor) turned it down; a ``Rejection`` is ``rejected`` with its reason code.

    A rejection that was never sized records size and expected profit 0 at the top-of-book prices.
    """
    if isinstance(decided, Opportunity):
        return sized_columns(decided) | {
            "decision": REJECTED if reject_reason else EXECUTED,
            "reason": reject_reason,
            "detail": _text(
                buy_amount=decided.buy_amount,
                sell_amount=decided.sell_amount,
                buy_fee_mode=decided.buy_fee_mode.value,
                buy_cost=decided.buy_cost,
                sell_proceeds=decided.sell_proceeds,
                gross_edge_bps=decided.gross_edge_bps,
            ),
        }
    return {name: getattr(decided, name) for name in BOOK_COLUMNS} | {
        "size": decided.size if decided.size is not None else Decimal(0),
        "buy_price": decided.buy_vwap if decided.buy_vwap is not None else decided.best_ask,
        "sell_price": decided.sell_vwap if decided.sell_vwap is not None else decided.best_bid,
        "expected_profit": decided.expected_profit if decided.expected_profit is not None else Decimal(0),
        "decision": REJECTED,
        "reason": decided.reason.value,
        "detail": _text(
            buy_amount=decided.buy_amount,
            best_ask=decided.best_ask,
            best_bid=decided.best_bid,
            gross_edge_bps=decided.gross_edge_bps,
            sized=decided.size is not None,
        ),
    }


def _text(**values: Any) -> dict[str, Any]:
    """JSON-safe detail: Decimals as exact strings, None dropped."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items() if v is not None}
