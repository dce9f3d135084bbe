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
    return rejection_columns(decided)


# The columns a rejection's row sets (``rejection_columns``' keys, in order); every other column is NULL
# (settlement is an executed pair's) or its default (``strategy``: taker, detection's).
REJECTION_COLUMNS = (*BOOK_COLUMNS, "size", "buy_price", "sell_price", "expected_profit", "decision", "reason",
                     "detail")


def rejection_columns(r: Rejection) -> dict[str, Any]:
    """A ``Rejection``'s columns (``opportunity_columns``): :func:`rejection_values` by name."""
    return dict(zip(REJECTION_COLUMNS, rejection_values(r), strict=True))


def rejection_values(r: Rejection) -> tuple[Any, ...]:
    """A ``Rejection``'s column values in ``REJECTION_COLUMNS``' order: what the decision writer binds for each
    of the ~100 rejections of every instant on 100 symbols, with no dict between the two."""
    size, amount = r.size, r.buy_amount
    # ``_text``'s detail, written out (its keys in its order): every field here is a Decimal but the amount.
    detail: dict[str, Any] = {} if amount is None else {"buy_amount": str(amount)}
    detail["best_ask"], detail["best_bid"], detail["gross_edge_bps"] = (
        str(r.best_ask), str(r.best_bid), str(r.gross_edge_bps))
    detail["sized"] = size is not None
    return (
        r.symbol, r.buy_venue, r.sell_venue, r.buy_limit, r.sell_limit, r.edge_bps, r.buy_fee_rate, r.sell_fee_rate,
        r.buy_book_seq, r.sell_book_seq, r.buy_book_age_ms, r.sell_book_age_ms,
        size if size is not None else _ZERO,
        r.buy_vwap if r.buy_vwap is not None else r.best_ask,
        r.sell_vwap if r.sell_vwap is not None else r.best_bid,
        r.expected_profit if r.expected_profit is not None else _ZERO,
        REJECTED, r.reason.value, detail,
    )


_ZERO = Decimal(0)


def _text(**values: Any) -> dict[str, Any]:
    """JSON-safe detail: Decimals as exact strings, None dropped."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items() if v is not None}
