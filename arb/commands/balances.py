"""``arb balances [--run ID|--last] [--db URL] [--format table|csv|json]``: what each venue held.

Per venue and asset: the totals (free + used) of the run's ``start`` and ``end`` balance snapshots and the
change between them, then the same summed per asset over every venue. The snapshots are read through the
inventory check ``arb report`` uses (:func:`arb.store.balances.balances_now`); a venue whose start or end read
failed shows an empty cell, never a made-up zero. A run without its end snapshot (``running``, or one that
died) shows each asset's latest stored snapshot as its end, and says so. ``arb report`` sets the
change against what the fills explain.
"""

from __future__ import annotations

from typing import Any

from arb.commands.tables import Cell, Section, add_run_arguments, figure, show_run, timestamp
from arb.display import Precision
from arb.store.balances import BalanceRow, balance_totals, balances_now
from arb.store.models import Run
from arb.store.runs import run_clock

_COLUMNS = ("asset", "start", "end", "change")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "balances",
        description="Start, end and change of every asset on every venue of a run, from its balance "
        "snapshots (table and csv rounded for reading, json exact).",
    )
    add_run_arguments(parser)
    parser.set_defaults(func=lambda args: show_run(args, build_sections))


def build_sections(session: Any, run: Run) -> list[Section]:
    rows, latest = balances_now(session, run.id)
    precision = Precision.from_snapshot(run.config_snapshot)
    per_venue = [[r.venue, *_cells(r, precision.asset(r.asset, r.venue))] for r in rows]
    per_asset = [_cells(r, precision.asset(r.asset)) for r in balance_totals(rows)]
    title = "Balances per venue (start and end snapshots)"
    if latest is not None:  # no end snapshot yet: the run is going (or died before taking it)
        title = (f"Balances per venue, run {run.status}: 'end' is the latest stored snapshot "
                 f"(newest {timestamp(latest)}, on the run's {run_clock(run)} clock)")
    missing = sorted({r.venue for r in rows if r.venue is not None and (r.start is None or r.end is None)})
    if missing:
        title += f"; no start or end snapshot on {', '.join(missing)}"
    if not rows:
        title += ": none recorded for this run"
    return [
        Section("venues", title, ("venue", *_COLUMNS), per_venue),
        Section("assets", "Balances per asset, all venues", _COLUMNS, per_asset),
    ]


def _cells(row: BalanceRow, places: int) -> list[Cell]:
    return [row.asset, figure(row.start, places), figure(row.end, places), figure(row.change, places)]
