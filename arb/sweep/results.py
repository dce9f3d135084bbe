"""A finished point merged into the sweep's database (``arb/store/merge.py``: its run and every row it wrote,
under new ids, linked to the sweep), or recorded as failed; and the merged runs' figures read back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from arb.errors import ArbError
from arb.store.db import make_engine
from arb.store.maker_views import maker_routes
from arb.store.merge import merge_run
from arb.store.repo import one_line
from arb.store.views import run_pnl
from arb.sweep.grid import Point, describe
from arb.sweep.point import remove_sqlite

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class PointResult:
    """One grid point's replay as stored in the sweep's database (``run_id``), or why it failed."""

    index: int
    point: Point
    run_id: int | None = None
    error: str | None = None


def merge_point(future: Any, index: int, point: Point, sessions: Any, sweep_id: int) -> PointResult:
    """The point's replay (``future``) merged into the sweep's database (``sessions``) and its file removed;
    a replay that failed on its worker, or a merge refused, is the point's error: the sweep goes on."""
    try:
        source_url, run_id = future.result()
    except Exception as exc:  # the replay failed on its worker: recorded, the sweep goes on
        message = str(exc) if isinstance(exc, ArbError) else f"{type(exc).__name__}: {exc}"
        log.warning("sweep %d: %s failed: %s", sweep_id, describe(point), message)
        return PointResult(index, point, error=one_line(message))
    source = make_engine(source_url, poolclass=NullPool)
    try:
        with Session(source) as src, sessions.begin() as dst:
            new_id = merge_run(src, dst, run_id, sweep_id=sweep_id, grid_point={"index": index, **point})
    except ArbError as exc:
        return PointResult(index, point, error=one_line(str(exc)))
    finally:
        source.dispose()
    remove_sqlite(source_url)
    return PointResult(index, point, run_id=new_id)


@dataclass(frozen=True, slots=True)
class MakerTotals:
    """A maker run's quoting over its routes (``store/maker_views.py``, the summary's maker lines, summed)."""

    quotes: int
    quotes_filled: int
    hedges: int
    adverse: Decimal  # adverse selection: the taker book's move between quote and hedge


@dataclass(frozen=True, slots=True)
class PointTotals:
    """A merged run's figures as stored: executed count and the sums of its stored settlement; a maker
    config's quoting too."""

    executed: int
    expected: Decimal
    realized: Decimal
    unsettled: int
    maker: MakerTotals | None = None  # None: the run quoted nothing


def point_totals(db_url: str, run_ids: Sequence[int]) -> dict[int, PointTotals]:
    """Per run, read from the sweep's database through ``arb.store.views.run_pnl`` (never recomputed)."""
    engine = make_engine(db_url, poolclass=NullPool)
    try:
        with Session(engine) as s:
            out = {}
            for run_id in run_ids:
                pnl = run_pnl(s, run_id)
                routes = maker_routes(s, run_id)
                maker = MakerTotals(sum(r.quotes for r in routes), sum(r.quotes_filled for r in routes),
                                    sum(r.hedges for r in routes), sum((r.adverse for r in routes), Decimal(0))
                                    ) if routes else None
                out[run_id] = PointTotals(pnl.executed, pnl.totals["expected_pnl"], pnl.totals["realized_pnl"],
                                          pnl.unsettled, maker)
            return out
    finally:
        engine.dispose()
