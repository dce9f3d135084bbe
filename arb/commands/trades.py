"""``arb trades [--run ID|--last] [--db URL] [--format table|csv|json]``: one line per executed opportunity.

Each line: when it was detected (on the run's clock, which the time column names: ``market time`` for a
simulation, ``wall time`` otherwise), the route (buy venue -> sell venue, symbol), the planned size and what
each entry leg filled, expected and realized PnL as settlement stored them (the same
:class:`~arb.store.views.PnlRow` ``arb report`` reads; nothing is recomputed here), and the outcome
(:func:`arb.domain.outcomes.pair_outcome`, through :func:`arb.store.views.trades`). The TOTAL row sums
expected and realized as ``arb report`` does.
"""

from __future__ import annotations

from typing import Any

from arb.commands.tables import Cell, Section, add_run_arguments, figure, show_run, timestamp
from arb.display import ROUTE, Precision, route
from arb.store import views
from arb.store.models import Run
from arb.store.runs import run_clock


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "trades",
        description="One line per executed opportunity of a run, with the PnL settlement stored "
        "(table and csv rounded for reading, json exact).",
    )
    add_run_arguments(parser)
    parser.set_defaults(func=lambda args: show_run(args, build_sections))


def build_sections(session: Any, run: Run) -> list[Section]:
    return [trades_section(views.trades(session, run.id), run_clock(run),
                           Precision.from_snapshot(run.config_snapshot))]


def trades_section(rows: list[views.TradeRow], clock: str, precision: Precision) -> Section:
    body: list[list[Cell]] = []
    for row in rows:
        r = row.pnl
        quote = precision.quote(r.symbol)
        body.append([
            r.opportunity_id, timestamp(r.detected_at), r.symbol, route(r.buy_venue, r.sell_venue),
            figure(r.size, precision.base(r.symbol, r.buy_venue, r.sell_venue)),
            figure(row.bought, precision.base(r.symbol, r.buy_venue)),
            figure(row.sold, precision.base(r.symbol, r.sell_venue)),
            figure(r.expected_pnl, quote), figure(r.realized_pnl, quote), row.outcome,
        ])
    sums = views.pnl_totals(row.pnl for row in rows)
    totals: list[Cell] = ["TOTAL", "", "", "", None, None, None,
                          figure(sums["expected_pnl"], precision.pnl()), figure(sums["realized_pnl"], precision.pnl()),
                          None]
    columns = ("opportunity", f"{clock} time", "symbol", ROUTE, "size", "bought", "sold",
               "expected_pnl", "realized_pnl", "outcome")
    unsettled = sum(1 for row in rows if row.pnl.settled_at is None)
    title = f"{len(rows)} executed opportunities (times on the {clock} clock; PnL in quote, as settled)"
    if unsettled:
        title += f"; {unsettled} unsettled (an order not final): realized not known, not in the totals"
    return Section("trades", title, columns, body, totals)

