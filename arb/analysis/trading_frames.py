"""What a run made and how it traded, as pandas frames: equity over the run (open positions apart from
realized), realized PnL per hour, fill rate per venue and time bucket, and latency percentiles per venue.

Positions, unrealized PnL and equity come from :mod:`arb.positions` with the end marks the run stored;
intermediate marks from the capture (:func:`arb.analysis.capture_frames.capture_mids`). Drawn by
:mod:`arb.analysis.trading_plots`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from arb.analysis.capture_frames import capture_mids, epoch_ms, venue_names
from arb.analysis.frames import BPS_PLACES
from arb.positions import OpenLot, Position, open_positions, unrealized_total
from arb.runtime.latency import LatencyRecorder
from arb.store import views
from arb.store.models import Opportunity, Run
from arb.store.runs import run_clock


@dataclass(frozen=True)
class Equity:
    """The run's equity over its clock (:mod:`arb.positions`: equity = realized + unrealized).

    ``curve`` has one row per instant: the run's start, each settled pair (when its figures became final),
    and the run's end: ``ts``, ``event``, cumulative ``realized`` (the stored per-pair ``realized_pnl``),
    ``unrealized`` of the open lots settled by then at that instant's marks and ``equity`` (both Decimal,
    None where a lot has no mark), and ``open``, the open position in words."""

    curve: pd.DataFrame
    positions: list[Position]  # open at the run's end, valued at the end marks
    unrealized: Decimal | None  # at the end, in the run's quote currency (0 with nothing open)
    rule: str  # the valuation rule applied, in words


def timed_lots(session: Session, run_id: int) -> list[tuple[datetime, OpenLot]]:
    """Each open lot (``arb.store.views.open_lots``) with the instant its pair settled and left it open."""
    rows = session.execute(
        select(Opportunity.settled_at, Opportunity.buy_venue, Opportunity.sell_venue, Opportunity.symbol,
               Opportunity.open_base, Opportunity.open_price)
        .where(Opportunity.run_id == run_id, Opportunity.open_base.is_not(None)).order_by(Opportunity.id)
    ).all()
    timed = [(r.settled_at, OpenLot(r.buy_venue, r.sell_venue, r.symbol, r.open_base, r.open_price or Decimal(0)))
             for r in rows if r.open_base]
    if [lot for _, lot in timed] != views.open_lots(session, run_id):
        raise AssertionError("open lots read here disagree with arb.store.views.open_lots")
    return timed


def stored_marks(run: Run) -> dict[tuple[str, str], Decimal | None] | None:
    """The marks the run stored at its end (its summary's open positions); None without a summary."""
    if run.summary is None or "open_positions" not in run.summary:
        return None
    return {(p["venue"], p["symbol"]): None if p["mark"] is None else Decimal(str(p["mark"]))
            for p in run.summary["open_positions"]}


def equity_curve(session: Session, run: Run, pnl_rows: list[views.PnlRow], quote: str,
                 capture: Path | None) -> Equity:
    """The run's equity at its start, at each settled pair and at its end.

    The valuation rule (:mod:`arb.positions`): an open lot is marked at the mid of its venue's book. At the
    run's end that is the mark the run stored (its summary: every surface shows the same unrealized PnL).
    Before the end, only a capture holds the books at each instant: with one (a simulation, or ``capture``
    given) lots are marked at its mid at that instant; without one (a live run) no intermediate mark exists,
    and equity there is unknown while a lot is open (not drawn), never valued at cost."""
    lots = timed_lots(session, run.id)
    settled = sorted((r for r in pnl_rows if r.settled_at is not None and r.realized_pnl is not None),
                     key=lambda r: (r.settled_at, r.opportunity_id))
    end = run.market_ended_at or (settled[-1].settled_at if settled else None)
    end_marks = stored_marks(run)
    instants = [r.settled_at for r in settled if r.settled_at is not None]
    symbols = sorted({lot.symbol for _, lot in lots})
    mids: dict[str, dict[int, dict[str, Decimal | None]]] = {}
    if capture is not None and capture.is_file() and lots:
        wanted = [epoch_ms(t) for t in instants] + ([epoch_ms(end)] if end is not None else [])
        mids = {symbol: capture_mids(capture, symbol, venue_names(run), wanted) for symbol in symbols}

    def marks_at(at: datetime) -> dict[tuple[str, str], Decimal | None]:
        return {(venue, symbol): value for symbol in symbols
                for venue, value in mids.get(symbol, {}).get(epoch_ms(at), {}).items()}

    def row(at: datetime, event: str, realized: Decimal, marks: dict[tuple[str, str], Decimal | None]
            ) -> dict[str, Any]:
        held = open_positions([lot for t, lot in lots if t <= at], marks)
        unrealized = unrealized_total(held).get(quote, Decimal(0)) if held else Decimal(0)
        return {"ts": at, "event": event, "realized": realized, "unrealized": unrealized,
                "equity": None if unrealized is None else realized + unrealized,
                "open": ", ".join(f"{p.venue} {p.amount:+f} {p.base}" for p in held)}

    out = []
    if run.market_started_at is not None and (not instants or run.market_started_at <= instants[0]):
        out.append(row(run.market_started_at, "start", Decimal(0), {}))
    realized = Decimal(0)
    for r in settled:
        assert r.settled_at is not None and r.realized_pnl is not None
        realized += r.realized_pnl
        out.append(row(r.settled_at, f"pair {r.opportunity_id} settled", realized, marks_at(r.settled_at)))
    if end_marks is not None:
        rule = "at the run's end, the marks it stored (the venue's mid then)"
    elif mids:
        rule = "at the run's end, the capture's mid then (the run stored no marks: it has no summary)"
    else:
        rule = "at the run's end, none: the run stored no marks (it has no summary)"
    rule += ("; before it, the capture's mid at each instant" if mids else
             "; before it, none (no capture holds the books then): equity is unknown while a lot is open")
    if end is not None:
        out.append(row(end, "end", realized, end_marks if end_marks is not None else marks_at(end)))
    final = end_marks if end_marks is not None else (marks_at(end) if end is not None else {})
    positions = open_positions([lot for _, lot in lots], final)
    unrealized = unrealized_total(positions).get(quote, Decimal(0)) if positions else Decimal(0)
    curve = pd.DataFrame(out, columns=["ts", "event", "realized", "unrealized", "equity", "open"])
    return Equity(curve, positions, unrealized, rule)


def pnl_per_hour(pnl_rows: list[views.PnlRow], span: tuple[datetime | None, datetime | None]) -> pd.DataFrame:
    """Realized PnL (the stored per-pair figures, exact) of the settled pairs summed per UTC hour of their
    detection on the run's clock (as ``arb report --by hour`` groups them), and how many; every hour of
    ``span`` is a row, an hour without a settled pair at 0."""
    settled = [(pd.Timestamp(r.detected_at), r.realized_pnl) for r in pnl_rows
               if r.settled_at is not None and r.realized_pnl is not None]
    stamps = [detected for detected, _ in settled] + [pd.Timestamp(t) for t in span if t is not None]
    if not stamps:
        return pd.DataFrame(columns=["hour", "realized", "trades"])
    hours = pd.date_range(min(stamps).floor("h"), max(stamps).floor("h"), freq="h")
    realized = dict.fromkeys(hours, Decimal(0))
    trades = dict.fromkeys(hours, 0)
    for detected, pnl in settled:
        hour = detected.floor("h")
        realized[hour] += pnl
        trades[hour] += 1
    return pd.DataFrame([{"hour": h, "realized": realized[h], "trades": trades[h]} for h in hours],
                        columns=["hour", "realized", "trades"])


BUCKETS = (("1 min", 60), ("5 min", 300), ("15 min", 900), ("1 hour", 3600), ("6 hours", 21600), ("1 day", 86400))


def bucket_for(span: tuple[datetime | None, datetime | None], at_most: int = 24) -> tuple[str, int]:
    """The smallest of :data:`BUCKETS` that cuts ``span`` into at most ``at_most`` buckets: (label, seconds)."""
    start, end = span
    seconds = (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds() if start and end else 0
    return next(((label, s) for label, s in BUCKETS if seconds / s <= at_most), BUCKETS[-1])


def fill_rate(session: Session, run_id: int, bucket_s: int) -> pd.DataFrame:
    """Entry legs per venue and time bucket (by the decision that sent them): base ordered, base filled
    (the sum of the fills, as ``arb report``'s fill ratio), legs, and the fill rate filled / ordered (%)."""
    acc: dict[tuple[str, pd.Timestamp], list[Any]] = {}
    for leg in views.legs(session, run_id):
        if leg.purpose != "entry" or leg.triggered_at is None:  # an entry leg's trigger: its decision
            continue
        at = pd.Timestamp(leg.triggered_at).floor(f"{bucket_s}s")
        entry = acc.setdefault((leg.venue, at), [Decimal(0), Decimal(0), 0])
        entry[0] += leg.amount
        entry[1] += leg.filled
        entry[2] += 1
    rows = [{"venue": venue, "bucket": at, "ordered": o, "filled": f, "legs": n,
             "rate_pct": float((f / o * 100).quantize(BPS_PLACES, rounding=ROUND_HALF_EVEN)) if o else None}
            for (venue, at), (o, f, n) in sorted(acc.items())]
    return pd.DataFrame(rows, columns=["venue", "bucket", "ordered", "filled", "legs", "rate_pct"])


NS_PER_MS = 1_000_000


def latency_percentiles(session: Session, run: Run) -> pd.DataFrame:
    """p50/p90/p99/max in ms of each venue's order latency, sent -> acknowledged over every order with both
    (the figure the run summary's ``venue_latency_ms`` takes), on the run's clock (``market`` in a
    simulation: the simulated latency; ``wall`` live), and the hot path (book update -> decision) from the
    summary, on the host's clock. Percentiles by :class:`arb.runtime.latency.LatencyRecorder`'s rule."""
    clock = run_clock(run)
    per_venue: dict[str, LatencyRecorder] = {}
    for leg in views.legs(session, run.id):
        if (ms := leg.sent_to_ack_ms) is not None:
            per_venue.setdefault(leg.venue, LatencyRecorder()).add(int(ms * NS_PER_MS))
    rows = [{"venue": venue, "measure": "sent -> acknowledged", "clock": clock,
             **_in_ms(recorder.summary_us())} for venue, recorder in sorted(per_venue.items())]
    hot = (run.summary or {}).get("hot_path_us")
    if hot:
        rows.append({"venue": "all venues", "measure": "book update -> decision", "clock": "host",
                     **_in_ms({k: (v if k == "count" else Decimal(str(v))) for k, v in hot.items()})})
    return pd.DataFrame(rows, columns=["venue", "measure", "clock", "count", "p50", "p90", "p99", "max"])


def _in_ms(summary_us: dict[str, Decimal | int]) -> dict[str, Decimal | int]:
    return {k: v if k == "count" else Decimal(v) / 1000 for k, v in summary_us.items()}
