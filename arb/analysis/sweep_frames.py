"""A sweep's points as a pandas frame (one row per run: its grid point and stored results), and how its
heatmaps (:mod:`arb.analysis.sweep_plots`) lay them out on rows, columns and panels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arb.analysis.locate import NotebookStop
from arb.store import views
from arb.store.models import Opportunity, Run, Sweep


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
