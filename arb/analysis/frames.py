"""One run's rows as pandas frames for the notebooks' figures, and a sweep's points.

Money is read as stored (exact ``Decimal``) and becomes a float only as a figure's coordinate; a derived
ratio (slippage in bps) is computed in ``Decimal`` and rounded to :data:`BPS_PLACES` first, so float noise
never reaches a plot. Venues are named as in the run's config (``gate``, ``htx``): the capture's own names
(``binance``, ``huobi``, the ``capture_venue`` of each) are translated when its books are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from arb.config import resolve_capture
from arb.marketdata.capture import read_capture
from arb.store import views
from arb.store.models import Balance, Opportunity, Order, Run, Sweep

BPS = Decimal(10_000)
BPS_PLACES = Decimal("0.01")
STAGES = ("decision_to_sent_ms", "sent_to_ack_ms", "ack_to_first_fill_ms", "first_to_last_fill_ms")
"""Latency stages of a leg, in order (``arb.store.views.LegRow``); each ends where the next starts."""


def to_bps(part: Decimal, whole: Decimal) -> float:
    """``part / whole`` in basis points, rounded to 0.01 bps before it becomes a float."""
    return float((part / whole * BPS).quantize(BPS_PLACES))


def venue_names(run: Run) -> dict[str, str]:
    """Capture venue -> the config's venue name (a venue with no ``capture_venue`` is its own name)."""
    venues = run.config_snapshot.get("venues") or {}
    return {(section.get("capture_venue") or name): name for name, section in venues.items()}


def config_venues(run: Run) -> list[str]:
    return list(run.config_snapshot.get("venues") or {})


def read_a_capture(run: Run) -> bool:
    """Whether the run's books came from a capture: a replay, or paper mode with venues fed from one
    (``capture_venue``); live books otherwise."""
    venues = (run.config_snapshot.get("venues") or {}).values()
    return run.mode == "replay" or (run.mode == "paper" and any(v.get("capture_venue") for v in venues))


def capture_of(run: Run, root: Path) -> Path | None:
    """The capture the run read (a relative path is taken from ``root``, where ``arb run`` ran); None when
    it read live books or its config names none."""
    capture = (run.config_snapshot.get("replay") or {}).get("capture")
    if not capture or not read_a_capture(run):
        return None
    return resolve_capture(str(capture), root / "config.toml")


def opportunities(session: Session, run_id: int) -> pd.DataFrame:
    """Every opportunity of the run: time, route, decision, reason, its gross cross at the walked prices
    (bps of the buy price, the same measure as :func:`top_of_book_cross`) and both fee rates (bps)."""
    rows = session.execute(
        select(Opportunity.id, Opportunity.detected_at, Opportunity.symbol, Opportunity.buy_venue,
               Opportunity.sell_venue, Opportunity.decision, Opportunity.reason, Opportunity.buy_price,
               Opportunity.sell_price, Opportunity.buy_fee_rate, Opportunity.sell_fee_rate)
        .where(Opportunity.run_id == run_id).order_by(Opportunity.detected_at, Opportunity.id)
    ).all()
    return pd.DataFrame(
        [{"opportunity_id": r.id, "detected_at": r.detected_at, "symbol": r.symbol, "buy_venue": r.buy_venue,
          "sell_venue": r.sell_venue, "decision": r.decision, "reason": r.reason or "",
          "gross_bps": to_bps(r.sell_price - r.buy_price, r.buy_price),
          "fees_bps": None if r.buy_fee_rate is None or r.sell_fee_rate is None
          else float((r.buy_fee_rate + r.sell_fee_rate) * BPS)}
         for r in rows],
        columns=["opportunity_id", "detected_at", "symbol", "buy_venue", "sell_venue", "decision", "reason",
                 "gross_bps", "fees_bps"],
    )


def top_of_book(path: Path, symbol: str, names: dict[str, str], start_ms: int, end_ms: int) -> pd.DataFrame:
    """Best bid and ask per config venue after every capture instant in [start_ms, end_ms] (books are
    rebuilt from the capture's start; events of one instant are applied together, as a replay does).
    Columns ``(bid|ask, venue)``, index market time; venues the config does not trade are left out."""
    rows: list[dict[Any, float | int]] = []
    for ts, books in _book_states(path, symbol, names, end_ms):
        if ts >= start_ms:
            row: dict[Any, float | int] = {(side, venue): price for venue, (bid, ask) in books.items()
                                           for side, price in (("bid", bid), ("ask", ask))}
            row["ts"] = ts
            rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame.index = pd.to_datetime(frame.pop("ts"), unit="ms", utc=True)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame


def _book_states(path: Path, symbol: str, names: dict[str, str], end_ms: int
                 ) -> Iterator[tuple[int, dict[str, tuple[float, float]]]]:
    levels: dict[str, tuple[dict[Decimal, str], dict[Decimal, str]]] = {}
    pending: int | None = None
    for event in read_capture(path):
        if pending is not None and event.ts != pending:
            yield pending, _tops(levels)
            pending = None
        if event.ts > end_ms:
            break
        venue = names.get(event.venue)
        if event.symbol != symbol or venue is None:
            continue
        bids, asks = levels.setdefault(venue, ({}, {}))
        if event.type in ("snapshot", "reset", "gap"):
            bids.clear()
            asks.clear()
        for side, changes in ((bids, event.bids), (asks, event.asks)):
            for price, size in changes:
                if Decimal(size) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = size
        pending = event.ts
    if pending is not None:
        yield pending, _tops(levels)


def _tops(levels: dict[str, tuple[dict[Decimal, str], dict[Decimal, str]]]) -> dict[str, tuple[float, float]]:
    return {venue: (float(max(bids)), float(min(asks))) for venue, (bids, asks) in levels.items() if bids and asks}


def top_of_book_cross(tob: pd.DataFrame, buy: str, sell: str) -> pd.Series:
    """(best bid on ``sell`` - best ask on ``buy``) in bps of that ask, where both books are known."""
    if tob.empty or ("ask", buy) not in tob or ("bid", sell) not in tob:
        return pd.Series(dtype=float)
    ask, bid = tob[("ask", buy)].ffill(), tob[("bid", sell)].ffill()
    return ((bid - ask) / ask * 10_000).dropna()


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


@dataclass(frozen=True)
class SweepPoints:
    sweep_id: int
    keys: list[str]  # the grid keys the points vary, in the sweep's order
    points: pd.DataFrame  # one row per run: the keys' values (text), run_id, seen, executed, PnL (Decimal)


def sweep_points(session: Session, sweep_id: int | None = None) -> SweepPoints:
    """The runs of a sweep (the latest when None) with each grid point and its stored results."""
    if sweep_id is None:
        sweep_id = session.scalar(select(func.max(Sweep.id)))
        if sweep_id is None:
            raise LookupError("the database holds no sweep")
    sweep = session.get_one(Sweep, sweep_id)
    runs = session.scalars(select(Run).where(Run.sweep_id == sweep_id).order_by(Run.id)).all()
    seen = dict(session.execute(select(Opportunity.run_id, func.count()).where(
        Opportunity.run_id.in_([r.id for r in runs])).group_by(Opportunity.run_id)).tuples().all())
    rows = []
    for run in runs:
        pnl = views.run_pnl(session, run.id)
        rows.append({**(run.grid_point or {}), "run_id": run.id, "status": run.status,
                     "seen": seen.get(run.id, 0), "executed": pnl.executed, "unsettled": pnl.unsettled,
                     "expected_pnl": pnl.totals["expected_pnl"], "realized_pnl": pnl.totals["realized_pnl"]})
    varied = [k for k in sweep.grid if any(k in (run.grid_point or {}) for run in runs)]  # not its settings
    return SweepPoints(sweep_id, varied, pd.DataFrame(rows))


def market_span(run: Run, opps: pd.DataFrame) -> tuple[datetime | None, datetime | None]:
    """The market time the run covered: as recorded on the run, else its opportunities' first and last."""
    start = run.market_started_at or (opps.detected_at.min() if not opps.empty else None)
    end = run.market_ended_at or (opps.detected_at.max() if not opps.empty else None)
    return start, end


def capture_books(run: Run, root: Path, override: str | None, symbol: str,
                  span: tuple[datetime | None, datetime | None]) -> tuple[pd.DataFrame, str]:
    """The top of book over ``span`` from the run's capture (or ``override``), and a note when there is
    none to draw (a live run, a missing file, no books in the window): the spread figure says it."""
    path = Path(override) if override else capture_of(run, root)
    if path is None and not read_a_capture(run):
        return pd.DataFrame(), "the run read live books: no capture to draw the cross from"
    if path is None:
        return pd.DataFrame(), "the run's config names no capture: set CAPTURE to draw the cross"
    if not path.is_file():
        return pd.DataFrame(), f"capture {path} not found: set CAPTURE"
    start, end = span
    if start is None or end is None:
        return pd.DataFrame(), "the run has no market time span"
    margin = timedelta(seconds=30) if start == end else timedelta(0)
    tob = top_of_book(path, symbol, venue_names(run), _ms(start - margin), _ms(end + margin))
    return tob, "" if not tob.empty else f"{path.name} has no {symbol} books in the run's time span"


def _ms(at: datetime) -> int:
    return int(pd.Timestamp(at).timestamp() * 1000)


def funnel_stages(run: Run, opps: pd.DataFrame) -> tuple[dict[str, int], str]:
    """The run summary's funnel stages; without a summary (a crashed or running run) the two the
    opportunity rows give (crossed, executed), and a note saying so."""
    funnel = (run.summary or {}).get("funnel")
    if funnel:
        return {k: int(v) for k, v in funnel.items() if isinstance(v, int)}, ""
    stages = {"crossed": len(opps), "executed": int((opps.decision == "executed").sum())}
    return stages, f" (run {run.status}, no summary: from the recorded opportunities)"
