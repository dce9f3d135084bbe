"""Writing an executed opportunity's settlement (``arb.accounting``) onto its row, once its orders are final.

The executor settles a pair when it finishes; reconciliation settles what it brought to a final state (a
leg that was unknown when the pair finished, fills that arrived after a settlement). Every surface reads
the stored columns; nothing recomputes them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, selectinload

from arb.accounting import Plan, Settlement, Trade, settle
from arb.domain.market import Symbol
from arb.domain.orders import TERMINAL
from arb.store.models import Fill, Opportunity, Order

_FINAL = frozenset(s.value for s in TERMINAL)


# What each order purpose is to the accounting: a maker pair's quote and hedges are its two legs, a flatten
# corrects what a failed hedge left, as an unwind does.
_ACCOUNTING_PURPOSE = {"quote": "entry", "hedge": "entry", "flatten": "unwind"}


def plan_of(opp: Opportunity) -> Plan | None:
    """The plan as stored: the row's expectations and its entry orders' amounts (None: not settleable). A
    maker pair's plan is what its quote filled (``size``), bought on one venue and sold on the other."""
    if opp.decision != "executed" or opp.mark_price is None:
        return None
    if opp.strategy == "maker":
        entry = {"buy": opp.size, "sell": opp.size}
    else:
        entry = {o.side: o.amount for o in opp.orders if o.purpose == "entry"}
    if "buy" not in entry or "sell" not in entry:
        return None
    sym = Symbol.parse(opp.symbol)
    return Plan(
        base=sym.base, quote=sym.quote, buy_amount=entry["buy"], sell_amount=entry["sell"],
        buy_price=opp.buy_price, sell_price=opp.sell_price,
        buy_fee_rate=opp.buy_fee_rate or 0, sell_fee_rate=opp.sell_fee_rate or 0,  # type: ignore[arg-type]
        expected_profit=opp.expected_profit, mark_price=opp.mark_price,
    )


def trades_of(opp: Opportunity) -> list[Trade]:
    return [Trade(_ACCOUNTING_PURPOSE.get(o.purpose, o.purpose), o.side, f.price, f.amount, f.fee, f.fee_currency,
                  o.reference_price if o.purpose == "hedge" else None, f.fee_price)
            for o in opp.orders for f in o.fills]


def settle_opportunity(session: Session, opportunity_id: int, now: datetime) -> Settlement | None:
    """Settle one opportunity if every one of its orders is final; None (and nothing written) otherwise."""
    opp = session.get_one(Opportunity, opportunity_id)
    session.refresh(opp, attribute_names=["orders"])
    for order in opp.orders:
        session.refresh(order, attribute_names=["fills"])
    return _write(opp, now)


def settle_pending(session: Session, now: datetime) -> list[int]:
    """Settle every executed opportunity that is unsettled, or got a fill after it was settled, and whose
    orders are all final. Returns the ids settled."""
    late_fill = exists().where(
        Fill.order_id == Order.id, Order.opportunity_id == Opportunity.id, Fill.received_at > Opportunity.settled_at
    )
    stmt = (
        select(Opportunity)
        .where(Opportunity.decision == "executed", or_(Opportunity.settled_at.is_(None), late_fill))
        .options(selectinload(Opportunity.orders).selectinload(Order.fills))
        .order_by(Opportunity.id)
    )
    return [opp.id for opp in session.scalars(stmt) if _write(opp, now) is not None]


def _write(opp: Opportunity, now: datetime) -> Settlement | None:
    plan = plan_of(opp)
    if plan is None or any(o.status not in _FINAL for o in opp.orders):
        return None
    result = settle(plan, trades_of(opp))
    opp.realized_pnl = result.realized_pnl
    opp.pnl_slippage = result.slippage
    opp.pnl_fees = result.fees
    opp.pnl_unfilled = result.unfilled
    opp.pnl_imbalance = result.imbalance
    opp.pnl_adverse = result.adverse if opp.strategy == "maker" else None
    opp.fees_quote = result.fees_quote
    opp.residual_base = result.residual_base
    opp.open_base = result.open_base
    opp.open_price = result.open_price
    opp.settled_at = now
    return result
