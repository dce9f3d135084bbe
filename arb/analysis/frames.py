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
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from arb.analysis.locate import NotebookStop
from arb.config.files import resolve_capture
from arb.marketdata.capture import read_capture
from arb.positions import OpenLot, Position, mid, open_positions, unrealized_total
from arb.runtime.latency import LatencyRecorder
from arb.store import views
from arb.store.models import Balance, Opportunity, Order, Run, Sweep
from arb.store.runs import run_clock

BPS = Decimal(10_000)
BPS_PLACES = Decimal("0.01")
STAGES = ("decision_to_sent_ms", "sent_to_ack_ms", "ack_to_first_fill_ms", "first_to_last_fill_ms")
"""Latency stages of a leg, in order (``arb.store.views.LegRow``); each ends where the next starts."""


def to_bps(part: Decimal, whole: Decimal) -> float:
    """``part / whole`` in basis points, rounded to 0.01 bps before it becomes a float."""
    return float((part / whole * BPS).quantize(BPS_PLACES, rounding=ROUND_HALF_EVEN))


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
    (bps of the buy price, the same measure as :func:`top_of_book_cross`), both fee rates (bps) and its net
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


def top_of_book(path: Path, symbol: str, names: dict[str, str], start_ms: int, end_ms: int) -> pd.DataFrame:
    """Best bid and ask per config venue after every capture instant in [start_ms, end_ms] (books are
    rebuilt from the capture's start; events of one instant are applied together, as a replay does).
    Columns ``(bid|ask, venue)``, index market time; venues the config does not trade are left out."""
    rows: list[dict[Any, float | int]] = []
    for ts, books in _book_states(path, symbol, names, end_ms):
        if ts >= start_ms:
            row: dict[Any, float | int] = {(side, venue): float(price) for venue, (bid, ask) in books.items()
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
                 ) -> Iterator[tuple[int, dict[str, tuple[Decimal, Decimal]]]]:
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


def _tops(levels: dict[str, tuple[dict[Decimal, str], dict[Decimal, str]]]) -> dict[str, tuple[Decimal, Decimal]]:
    return {venue: (max(bids), min(asks)) for venue, (bids, asks) in levels.items() if bids and asks}


def capture_mids(path: Path, symbol: str, names: dict[str, str], instants_ms: list[int]
                 ) -> dict[int, dict[str, Decimal | None]]:
    """Each config venue's mid (:func:`arb.positions.mid`, exact) as the capture's books stood at each
    instant: after every event at or before it. A venue whose book is not known yet has no entry."""
    wanted = sorted(set(instants_ms))
    out: dict[int, dict[str, Decimal | None]] = {}
    if not wanted:
        return out
    last: dict[str, Decimal | None] = {}
    i = 0
    for ts, tops in _book_states(path, symbol, names, wanted[-1]):
        while i < len(wanted) and wanted[i] < ts:
            out[wanted[i]] = last
            i += 1
        last = {venue: mid(bid, ask) for venue, (bid, ask) in tops.items()}
    for instant in wanted[i:]:
        out[instant] = last
    return out


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
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise LookupError(f"the database holds no sweep {sweep_id}")
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


HEATMAP_KEYS = ("fee", "latency_ms", "min_edge_bps", "leg_policy", "capture")
"""A sweep's keys in the order its heatmaps take them: rows, columns, panels."""
ONE_POINT = "grid"


def heatmap_axes(study: SweepPoints) -> tuple[pd.DataFrame, str, str, str | None]:
    """The sweep's points and which keys its heatmaps put on rows, columns and panels: its varied keys in
    :data:`HEATMAP_KEYS` order (a key the grid held at one value still counts, as the sweep's own); fewer than
    two, a constant ``grid`` column stands in. More than three varied keys do not fit one set of heatmaps."""
    keys = [k for k in HEATMAP_KEYS if k in study.keys and (k != "capture" or study.points[k].nunique() > 1)]
    keys += [k for k in study.keys if k not in HEATMAP_KEYS]
    points = study.points
    if len(keys) < 2:
        points = points.assign(**{ONE_POINT: "all"})
        keys.append(ONE_POINT)
    if len(keys) < 2:
        keys.insert(0, ONE_POINT)
    if len(keys) > 3:
        raise NotebookStop(f"sweep {study.sweep_id} varies {', '.join(keys)}: more than three keys do not fit "
                           "rows, columns and panels; read study.points instead")
    panel = keys[2] if len(keys) > 2 and points[keys[2]].nunique() > 1 else None
    return points, keys[0], keys[1], panel


def sweep_snapshot(session: Session, study: SweepPoints) -> dict[str, Any]:
    """The config snapshot of the sweep's first run (its symbols and market rules: the sweep's own, which
    may not be the project's config.toml)."""
    if study.points.empty:
        raise NotebookStop(f"sweep {study.sweep_id} has no runs")
    return session.get_one(Run, int(study.points.run_id.iloc[0])).config_snapshot


def market_span(run: Run, opps: pd.DataFrame) -> tuple[datetime | None, datetime | None]:
    """The market time the run covered: as recorded on the run, else its opportunities' first and last."""
    start = run.market_started_at or (opps.detected_at.min() if not opps.empty else None)
    end = run.market_ended_at or (opps.detected_at.max() if not opps.empty else None)
    return start, end


def capture_path(run: Run, root: Path, override: str | None) -> Path | None:
    """The capture a notebook reads the run's books from: ``override`` (its ``CAPTURE`` parameter), else
    the one the run read (:func:`capture_of`)."""
    return Path(override) if override else capture_of(run, root)


def capture_books(run: Run, root: Path, override: str | None, symbol: str,
                  span: tuple[datetime | None, datetime | None]) -> tuple[pd.DataFrame, str]:
    """The top of book over ``span`` from the run's capture (or ``override``), and a note when there is
    none to draw (a live run, a missing file, no books in the window): the spread figure says it."""
    path = capture_path(run, root, override)
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


# --- equity, PnL per hour, fill rate, latency percentiles -------------------------------------------

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
        wanted = [_ms(t) for t in instants] + ([_ms(end)] if end is not None else [])
        mids = {symbol: capture_mids(capture, symbol, venue_names(run), wanted) for symbol in symbols}

    def marks_at(at: datetime) -> dict[tuple[str, str], Decimal | None]:
        return {(venue, symbol): value for symbol in symbols
                for venue, value in mids.get(symbol, {}).get(_ms(at), {}).items()}

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
    settled = [r for r in pnl_rows if r.settled_at is not None and r.realized_pnl is not None]
    stamps = [pd.Timestamp(r.detected_at) for r in settled] + [pd.Timestamp(t) for t in span if t is not None]
    if not stamps:
        return pd.DataFrame(columns=["hour", "realized", "trades"])
    hours = pd.date_range(min(stamps).floor("h"), max(stamps).floor("h"), freq="h")
    sums = {h: [Decimal(0), 0] for h in hours}
    for r in settled:
        acc = sums[pd.Timestamp(r.detected_at).floor("h")]
        acc[0] += r.realized_pnl  # type: ignore[operator]
        acc[1] += 1
    return pd.DataFrame([{"hour": h, "realized": v[0], "trades": v[1]} for h, v in sums.items()],
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
        if leg.purpose != "entry" or leg.decided_at is None:
            continue
        at = pd.Timestamp(leg.decided_at).floor(f"{bucket_s}s")
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
