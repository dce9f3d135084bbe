"""Writing an executed opportunity's settlement (``arb.accounting``) onto its row, once its orders are final.

The executor settles a pair when it finishes; reconciliation settles what it brought to a final state (a
leg that was unknown when the pair finished, fills that arrived after a settlement). Every surface reads
the stored columns; nothing recomputes them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.orm import Session, object_session, selectinload

from arb.accounting import Plan, Settlement, Trade, settle
from arb.domain.market import Symbol
from arb.domain.orders import TERMINAL
from arb.store.core_rows import update_row
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
        buy_fee_rate=opp.buy_fee_rate or Decimal(0), sell_fee_rate=opp.sell_fee_rate or Decimal(0),
        expected_profit=opp.expected_profit, mark_price=opp.mark_price,
    )


def trades_of(opp: Opportunity) -> list[Trade]:
    """The pair's fills as the accounting takes them. A maker pair whose hedge also answered an older quote's
    dust (``maker_pairs.carry``) gives that part of the hedge's fills, with its share of their fees, to the
    older pair, which counts it as its own: each pair settles the base it quoted, and the two add up to the
    fills."""
    detail = opp.detail or {}
    lent: dict[int, list[tuple[Decimal, Decimal]]] = {}  # own order -> the parts (start, base) other pairs took
    for part in detail.get("answered_for", []):
        parts = lent.setdefault(part["order_id"], [])
        parts.append((sum((a for _, a in parts), Decimal(0)), Decimal(part["amount"])))
    trades = []
    for order in opp.orders:
        kept = {f.id: (f.amount, f.fee) for f in order.fills}
        for start, amount in lent.get(order.id, []):
            for fill, part, fee in _slice(order.fills, start, amount):
                kept[fill.id] = (kept[fill.id][0] - part, kept[fill.id][1] - fee)
        trades += [_trade(order, f, *kept[f.id]) for f in order.fills if kept[f.id][0] > 0]
    session = object_session(opp)
    for carried in detail.get("answered_by", []):
        assert session is not None  # a stored row
        order = session.get_one(Order, carried["order_id"])
        trades += [_trade(order, f, part, fee)
                   for f, part, fee in _slice(order.fills, Decimal(carried["start"]), Decimal(carried["amount"]))]
    return trades


def _trade(order: Order, fill: Fill, amount: Decimal, fee: Decimal) -> Trade:
    return Trade(_ACCOUNTING_PURPOSE.get(order.purpose, order.purpose), order.side, fill.price, amount, fee,
                 fill.fee_currency, order.reference_price if order.purpose == "hedge" else None, fill.fee_price)


def _slice(fills: list[Fill], start: Decimal, amount: Decimal) -> list[tuple[Fill, Decimal, Decimal]]:
    """The base ``[start, start + amount)`` of an order's fills in the order they came (by id): each fill's
    part and its share of the fill's fee (pro rata; the fill keeps the rest exactly)."""
    out = []
    position = Decimal(0)
    for fill in sorted(fills, key=lambda f: f.id):
        low, high = max(start, position), min(start + amount, position + fill.amount)
        if high > low:
            part = high - low
            out.append((fill, part, fill.fee if part == fill.amount else fill.fee * part / fill.amount))
        position += fill.amount
    return out


# The row, its orders and their fills in one SELECT each (not one per order: a maker pair is settled at each
# answer that can finish it), read again where the session already holds them (they may have moved since).
_SETTLING = (select(Opportunity).where(Opportunity.id == bindparam("opportunity_id"))
             .options(selectinload(Opportunity.orders).selectinload(Order.fills))
             .execution_options(populate_existing=True))


def settle_opportunity(session: Session, opportunity_id: int, now: datetime) -> Settlement | None:
    """Settle one opportunity if every one of its orders is final; None (and nothing written) otherwise."""
    return _write(session.execute(_SETTLING, {"opportunity_id": opportunity_id}).scalar_one(), now)


def settled_again(session: Session, opportunity_id: int, now: datetime) -> None:
    """An opportunity settled since its rows last changed, settled again: the same figures, so only
    ``settled_at`` is written (what :func:`settle_opportunity` would write, without reading the rows)."""
    update_row(session, Opportunity, opportunity_id, {"settled_at": now})


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
