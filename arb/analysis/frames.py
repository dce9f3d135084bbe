"""One run's rows as pandas frames for the notebooks' figures: its opportunities, its entry legs' slippage
and latency, its balance snapshots, its transfers between venues, the market time it covered and its funnel.

Money is read as stored (exact ``Decimal``) and becomes a float only as a figure's coordinate; a derived
ratio (slippage in bps) is computed in ``Decimal`` and rounded to :data:`BPS_PLACES` first, so float noise
never reaches a plot. Beside it: the capture's books (:mod:`arb.analysis.capture_frames`), what the run made
and how it traded (:mod:`arb.analysis.trading_frames`) and a sweep's points (:mod:`arb.analysis.sweep_frames`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from arb.store import views
from arb.store.maker_views import MakerRoute
from arb.store.models import Balance, Opportunity, Order, Run
from arb.store.transfers import transfers as stored_transfers

BPS = Decimal(10_000)
BPS_PLACES = Decimal("0.01")
STAGES = ("trigger_to_sent_ms", "sent_to_ack_ms", "ack_to_first_fill_ms", "first_to_last_fill_ms")
"""Latency stages of a leg, in order (``arb.store.views.LegRow``); each ends where the next starts."""


def to_bps(part: Decimal, whole: Decimal) -> float:
    """``part / whole`` in basis points, rounded to 0.01 bps before it becomes a float."""
    return float((part / whole * BPS).quantize(BPS_PLACES, rounding=ROUND_HALF_EVEN))


def config_venues(run: Run) -> list[str]:
    return list(run.config_snapshot.get("venues") or {})


def opportunities(session: Session, run_id: int) -> pd.DataFrame:
    """Every opportunity of the run: time, route, decision, reason, its gross cross at the walked prices
    (bps of the buy price, the same measure as
    :func:`~arb.analysis.capture_frames.top_of_book_cross`), both fee rates (bps) and its net
    edge as detection stored it (``edge_bps``: expected profit after both fees, bps of the buy cost; NaN for
    a rejection made before sizing)."""
    rows = session.execute(
        select(Opportunity.id, Opportunity.detected_at, Opportunity.symbol, Opportunity.buy_venue,
               Opportunity.sell_venue, Opportunity.decision, Opportunity.reason, Opportunity.buy_price,
               Opportunity.sell_price, Opportunity.buy_fee_rate, Opportunity.sell_fee_rate, Opportunity.edge_bps)
        .where(Opportunity.run_id == run_id).order_by(Opportunity.detected_at, Opportunity.id)
    ).all()
    return pd.DataFrame(
        [{"opportunity_id": r.id, "detected_at": r.detected_at, "symbol": r.symbol, "buy_venue": r.buy_venue,
          "sell_venue": r.sell_venue, "decision": r.decision, "reason": r.reason or "",
          "gross_bps": to_bps(r.sell_price - r.buy_price, r.buy_price),
          "fees_bps": None if r.buy_fee_rate is None or r.sell_fee_rate is None
          else float((r.buy_fee_rate + r.sell_fee_rate) * BPS),
          "net_bps": None if r.edge_bps is None else float(r.edge_bps)}
         for r in rows],
        columns=["opportunity_id", "detected_at", "symbol", "buy_venue", "sell_venue", "decision", "reason",
                 "gross_bps", "fees_bps", "net_bps"],
    )


def entry_slippage(session: Session, run_id: int) -> pd.DataFrame:
    """Per entry leg with fills: its VWAP against the price detection expected, in bps (+ = worse: paid
    more on a buy, received less on a sell), at the time of its last fill."""
    orders = session.scalars(
        select(Order).where(Order.run_id == run_id, Order.purpose == "entry", Order.opportunity_id.is_not(None))
        .options(selectinload(Order.fills), selectinload(Order.opportunity)).order_by(Order.id)
    )
    rows = []
    for order in orders:
        if not order.fills or order.opportunity is None:
            continue
        amount = sum((f.amount for f in order.fills), Decimal(0))
        vwap = sum((f.price * f.amount for f in order.fills), Decimal(0)) / amount
        expected = order.opportunity.buy_price if order.side == "buy" else order.opportunity.sell_price
        worse = vwap - expected if order.side == "buy" else expected - vwap
        stamps = [f.received_at or f.ts for f in order.fills]
        rows.append({"order_id": order.id, "venue": order.venue, "side": order.side, "ts": max(stamps),
                     "slippage_bps": to_bps(worse, expected)})
    return pd.DataFrame(rows, columns=["order_id", "venue", "side", "ts", "slippage_bps"])


def entry_latency(session: Session, run_id: int) -> pd.DataFrame:
    """Long form, one row per entry leg and stage it has both timestamps for: venue, stage, ms."""
    rows = [{"order_id": leg.order_id, "venue": leg.venue, "stage": stage, "ms": float(value)}
            for leg in views.legs(session, run_id) if leg.purpose == "entry"
            for stage in STAGES if (value := getattr(leg, stage)) is not None]
    return pd.DataFrame(rows, columns=["order_id", "venue", "stage", "ms"])


def balances(session: Session, run_id: int) -> pd.DataFrame:
    """Every balance snapshot of the run (start, after each executed pair, end): venue, asset, total, ts."""
    rows = session.execute(
        select(Balance.venue, Balance.asset, Balance.total, Balance.ts, Balance.kind)
        .where(Balance.run_id == run_id).order_by(Balance.ts, Balance.id)
    ).all()
    return pd.DataFrame([r._asdict() for r in rows], columns=["venue", "asset", "total", "ts", "kind"])


def market_span(run: Run, opps: pd.DataFrame) -> tuple[datetime | None, datetime | None]:
    """The market time the run covered: as recorded on the run, else its opportunities' first and last."""
    start = run.market_started_at or (opps.detected_at.min() if not opps.empty else None)
    end = run.market_ended_at or (opps.detected_at.max() if not opps.empty else None)
    return start, end


def funnel_stages(run: Run, opps: pd.DataFrame, maker: Sequence[MakerRoute] = ()) -> tuple[dict[str, int], str]:
    """The run summary's funnel stages; without a summary (a crashed or running run) the two the
    opportunity rows give (crossed, executed), and a note saying so. A run that only quoted (``maker``: its
    routes, ``store/maker_views.py``; detection evaluated nothing) has its quotes' stages instead, as its
    summary prints them: quotes sent, quotes filled, pairs executed."""
    funnel = (run.summary or {}).get("funnel")
    if maker and not (funnel or {}).get("evaluations"):
        return {"quotes": sum(r.quotes for r in maker), "quotes_filled": sum(r.quotes_filled for r in maker),
                "executed": int((opps.decision == "executed").sum())}, ""
    if funnel:
        return {k: int(v) for k, v in funnel.items() if isinstance(v, int)}, ""
    stages = {"crossed": len(opps), "executed": int((opps.decision == "executed").sum())}
    return stages, f" (run {run.status}, no summary: from the recorded opportunities)"


TRANSFER_COLUMNS = ["transfer_id", "asset", "amount", "source", "dest", "network", "fee", "minimum", "fee_value",
                    "value_currency", "status", "reason", "planned_at", "expected_at", "sent_at", "arrived_at"]


def transfers(session: Session, run_id: int) -> pd.DataFrame:
    """The run's transfers between venues (``store/transfers.py``), one row each in the order planned; money as
    stored (exact ``Decimal``). The fees of those sent or arrived are what the run's equity takes off."""
    return pd.DataFrame([[t.id, t.asset, t.amount, t.source, t.dest, t.network, t.fee, t.minimum, t.fee_value,
                          t.value_currency, t.status, t.reason, t.planned_at, t.expected_at, t.sent_at, t.arrived_at]
                         for t in stored_transfers(session, run_id)], columns=TRANSFER_COLUMNS)
