"""End-of-run totals read back from the database, so the printed summary is what SQL will show."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arb.domain.market import Side, Symbol
from arb.execution.imbalance import realized_pnl
from arb.store.models import Fill, Opportunity, Order
from arb.venues.protocol import FillReport


def run_totals(session: Session, run_id: int) -> dict[str, Any]:
    decisions = dict(
        session.execute(
            select(Opportunity.decision, func.count()).where(Opportunity.run_id == run_id).group_by(Opportunity.decision)
        ).all()
    )
    executed = session.scalars(
        select(Opportunity).where(Opportunity.run_id == run_id, Opportunity.decision == "executed")
    ).all()
    expected = sum((o.expected_profit for o in executed), Decimal(0))
    realized = Decimal(0)
    for opp in executed:
        sym = Symbol.parse(opp.symbol)
        fills = [_report(f, o) for o in opp.orders for f in o.fills]
        realized += realized_pnl(fills, sym.base, sym.quote)
    orders = session.scalars(select(Order).where(Order.run_id == run_id)).all()
    by_status: dict[str, int] = defaultdict(int)
    latency: dict[str, list[Decimal]] = defaultdict(list)
    for order in orders:
        by_status[order.status] += 1
        if order.sent_at is not None and order.acked_at is not None:
            delta = order.acked_at - order.sent_at
            latency[order.venue].append(Decimal(delta // _US) / 1000)
    fills = session.scalar(
        select(func.count()).select_from(Fill).join(Order, Fill.order_id == Order.id).where(Order.run_id == run_id)
    )
    return {
        "opportunities": {"executed": decisions.get("executed", 0), "rejected": decisions.get("rejected", 0)},
        "orders": len(orders),
        "orders_by_status": dict(sorted(by_status.items())),
        "fills": int(fills or 0),
        "expected_profit": expected,
        "realized_pnl": realized,
        "venue_latency_ms": {
            venue: {"n": len(ms), "median": _ms(median(ms)), "max": _ms(max(ms))}
            for venue, ms in sorted(latency.items())
        },
    }


_US = __import__("datetime").timedelta(microseconds=1)


def _ms(value: Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def _report(fill: Fill, order: Order) -> FillReport:
    return FillReport(venue=fill.venue, trade_id=fill.trade_id, client_order_id=order.client_order_id,
                      venue_order_id=order.venue_order_id, symbol=order.symbol, side=Side(order.side),
                      price=fill.price, amount=fill.amount, fee=fill.fee, fee_currency=fill.fee_currency, ts=fill.ts)


def _plain(value: Decimal) -> str:
    """Exact, without trailing zeros from Decimal arithmetic (``-6.0280000`` -> ``-6.028``)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def render_summary(summary: dict[str, Any]) -> str:
    """Plain text, stable wording: tests and `arb report` compare against these lines."""
    f = summary["funnel"]
    lines = [
        "== arb run summary ==",
        f"book updates            {f['book_updates']}",
        f"evaluations             {f['evaluations']}",
        f"crossed                 {f['crossed']}",
        f"profitable after fees   {f['profitable_after_fees']}",
        f"approved by detection   {f['approved']}",
        f"executed                {f['executed']}",
        f"rejected                {f['rejected_total']}",
    ]
    lines += [f"  {reason:<25} {count}" for reason, count in f["rejected"].items()]
    lines += [
        f"expected profit         {_plain(summary['expected_profit'])}",
        f"realized pnl            {_plain(summary['realized_pnl'])}",
        f"orders                  {summary['orders']} {summary['orders_by_status']}",
        f"fills                   {summary['fills']}",
    ]
    for venue, lat in summary["venue_latency_ms"].items():
        lines.append(f"latency {venue:<16}median {lat['median']} ms, max {lat['max']} ms over {lat['n']} orders")
    hot = summary.get("hot_path_us") or {}
    if hot:
        lines.append(f"hot path (update->decision) p50 {hot['p50']} us, p99 {hot['p99']} us, max {hot['max']} us")
    if summary.get("stop_reason"):
        lines.append(f"stopped: {summary['stop_reason']}")
    return "\n".join(lines)
