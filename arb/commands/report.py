"""``arb report [--run ID|--last] [--db URL] [--format table|csv|json]``: review one run;
``arb report --since WHEN [--until WHEN] [--by day|...]``: every run's rows in a window of time, summed.

Prints the run's opportunity funnel, rejections by reason, expected vs realized PnL per executed
opportunity (with the difference split into slippage, fees, unfilled size and leg imbalance), fill ratio
and latency per venue and leg, and the inventory change per venue and asset. Every number comes from
:mod:`arb.store.views` (exact ``Decimal`` from the base tables), never from the SQL views, which compute in
floats on SQLite. PnL figures are the ones settlement stored (``arb.accounting`` defines them).

Table and csv show each number at its meaning (:mod:`arb.display`, places from the run's market rules);
json is exact. Formats and run selection: :mod:`arb.commands.tables`. Which rows a window holds (each by its
own time, never by run, so a day's figures survive restarts): :mod:`arb.store.grouped`.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from statistics import median
from typing import Any

from arb.commands import arguments
from arb.commands.tables import Cell, Section, add_run_arguments, figure, show_run, show_window, timestamp
from arb.display import MS_PLACES, ROUTE, Precision, held_what, money, route
from arb.domain.market import EXACT
from arb.errors import UsageError
from arb.inventory import InventoryRow
from arb.positions import OpenLot, equity, open_positions, unrealized_total
from arb.store import transfers, views
from arb.store.grouped import GROUPINGS, GroupRow, Loose, Window, grouped, grouped_window
from arb.store.maker_views import MakerRoute, maker_routes
from arb.store.models import Run
from arb.store.repo import inventory_check
from arb.store.runs import run_clock


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        description="Review one run from the trade-history database (exact decimal totals; table and csv "
        "rounded for reading, json exact); or, with --since/--until, every run in a window of time.",
    )
    add_run_arguments(parser)
    parser.add_argument("--by", choices=tuple(GROUPINGS), default=None,
                        help="instead: realized and unrealized PnL, fees and funding per currency and counts per "
                        "UTC day or hour of detection (on the run's clock: market time in a simulation), symbol, "
                        "route (buy venue -> sell venue, symbol) or run (the default over a window)")
    parser.add_argument("--since", type=arguments.utc_instant, metavar="WHEN", default=None,
                        help="instead of one run: every run's rows at or after WHEN, an ISO date or datetime in "
                        "UTC (2026-11-25, 2026-11-25T13:30), each row by its own time, summed over the runs")
    parser.add_argument("--until", type=arguments.utc_instant, metavar="WHEN", default=None,
                        help="... and before WHEN (not included: --since 2026-11-24 --until 2026-11-25 is the "
                        "24th)")
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    if args.since is not None or args.until is not None:
        if args.run is not None or args.last:
            raise UsageError("--since/--until report every run in the window: not with --run or --last")
        if args.since is not None and args.until is not None and args.until <= args.since:
            raise UsageError(f"--until {timestamp(args.until)} is not after --since {timestamp(args.since)}: "
                             "the window is empty")
        window = Window(args.since, args.until)
        return show_window(args, window, lambda session, runs: [window_section(session, runs, window,
                                                                               args.by or "run")])
    if args.by is None:
        return show_run(args, build_sections)
    return show_run(args, lambda session, run: [by_section(session, run, args.by)])


def build_sections(session: Any, run: Run) -> list[Section]:
    """Every report section for ``run``, in reading order."""
    precision = Precision.from_snapshot(run.config_snapshot)
    pnl = views.opportunity_pnl(session, run.id)
    realized = views.pnl_totals(pnl)["realized_pnl"]
    fees, unvalued = transfers.transfer_fees(session, run.id)
    positions = _positions(run, realized, precision, fees)
    makers = maker_routes(session, run.id)
    moved = transfers.transfers(session, run.id)
    return [
        *([_maker(makers, precision)] if makers else []),
        _funnel(views.funnel(session, run.id), precision),
        _rejections(views.rejections(session, run.id)),
        _pnl(pnl, precision),
        *([positions] if positions is not None else []),
        *_holdings(run, precision),
        *([_transfers(moved, run, realized, fees, unvalued, precision)] if moved else []),
        _legs(views.legs(session, run.id), precision),
        *_inventory(inventory_check(session, run.id), precision),
        *_incidents(run),
    ]


def _incidents(run: Run) -> list[Section]:
    """The run's incidents as its summary stored them (``runtime/incidents.py``'s rows, the dashboard's list):
    kill switch, halts, breakers, inventory depleted, the controls' actions, each with its start and its end
    (none: open at the end). None stored (a run without incidents, or still running): no section."""
    stored = (run.summary or {}).get("incidents") or []
    if not stored:
        return []
    rows: list[list[Cell]] = [[i["kind"], _at(i["started_at"]), _at(i["ended_at"]), i["detail"]] for i in stored]
    return [Section("incidents", "Incidents (market time; no end: open at the end of the run)",
                    ("incident", "started_at", "ended_at", "detail"), rows)]


def _at(stored: str | None) -> str | None:
    """A stored incident time (``isoformat``) as the report writes every time."""
    return None if stored is None else timestamp(datetime.fromisoformat(stored))


def _transfers(moved: Sequence[transfers.TransferRow], run: Run, realized: Decimal, fees: Mapping[str, Decimal],
               unvalued: Mapping[str, Decimal], precision: Precision) -> Section:
    """The transfers rebalancing planned, sent and saw arrive (``arb/rebalance.py``), with their fees: the
    fees of those that left their source are taken off the run's equity (``arb.positions.equity``)."""
    body: list[list[Cell]] = []
    for t in moved:
        places = precision.asset(t.asset)
        body.append([t.id, t.asset, figure(t.amount, places), f"{t.source} -> {t.dest}", t.network,
                     figure(t.fee, places), figure(t.fee_value, precision.pnl()), t.value_currency, t.status,
                     timestamp(t.planned_at), timestamp(t.expected_at),
                     None if t.arrived_at is None else timestamp(t.arrived_at)])
    stored = (run.summary or {}).get("unrealized_pnl") or {}
    per_quote = equity(realized, {q: None if v is None else Decimal(v) for q, v in stored.items()},
                       transfer_fees=fees)
    fee_text = ", ".join([f"{money(v, precision.pnl())} {q}" for q, v in fees.items()]
                         + [f"{money(v, precision.asset(a))} {a} (no mark to value it)" for a, v in unvalued.items()])
    equity_text = ", ".join("unknown (a position has no mark)" if v is None else f"{money(v, precision.pnl())} {q}"
                            for q, v in per_quote.items())
    title = (f"Transfers between venues: fees {fee_text or 'none'} (of those sent); "
             + ("taken off what closed and the equity change above (holdings)" if (run.summary or {}).get("holdings")
                else f"equity = realized + unrealized - transfer fees = {equity_text}"))
    totals: list[Cell] | None = None
    if len(fees) == 1:  # the fees of those sent, in the one currency they are valued in
        [(currency, total)] = fees.items()
        totals = ["TOTAL", "", None, "", "", None, figure(total, precision.pnl()), currency, "sent", "", "", ""]
    return Section("transfers", title, ("transfer", "asset", "amount", "from -> to", "network", "fee", "fee_value",
                                        "value_currency", "status", "planned_at", "expected_at", "arrived_at"), body,
                   totals)


def _positions(run: Run, realized: Decimal, precision: Precision,
               transfer_fees: Mapping[str, Decimal] | None = None) -> Section | None:
    """The open positions the run left (``arb.positions``, valued at its end and kept in its summary): not in
    realized PnL. None when it left none."""
    rows = (run.summary or {}).get("open_positions") or []
    if not rows:
        return None
    body: list[list[Cell]] = []
    unrealized: Decimal | None = Decimal(0)
    for p in rows:
        base, _, _quote = p["symbol"].partition("/")
        value = None if p["unrealized"] is None else Decimal(p["unrealized"])
        unrealized = None if value is None or unrealized is None else unrealized + value
        body.append([p["venue"], p["symbol"], figure(Decimal(p["amount"]), precision.asset(base, p["venue"])),
                     figure(Decimal(p["cost"]), precision.price(p["symbol"])),
                     figure(None if p["mark"] is None else Decimal(p["mark"]), precision.price(p["symbol"])),
                     figure(value, precision.quote(p["symbol"]))])
    stored = (run.summary or {}).get("unrealized_pnl") or {}
    per_quote = equity(realized, {q: None if v is None else Decimal(v) for q, v in stored.items()},
                       transfer_fees=transfer_fees)
    equity_text = ", ".join("unknown (a position has no mark)" if v is None else f"{money(v, precision.pnl())} {q}"
                            for q, v in per_quote.items())
    less = " - transfer fees" if transfer_fees else ""
    title = (f"Open positions at the run's end (not in realized pnl; marked at the mid of each venue's book "
             f"then): equity = realized + unrealized{less} = {equity_text}")
    totals: list[Cell] = ["TOTAL", "", None, None, None, figure(unrealized, precision.pnl())]
    return Section("positions", title, ("venue", "symbol", "amount", "cost", "mark", "unrealized"), body, totals)


def _holdings(run: Run, precision: Precision) -> list[Section]:
    """A run that traded a perpetual: every venue's change in holdings at the run's end, valued at mark and at
    unwind (``arb/valuation.py``, kept in its summary), with its funding; none for a spot-only run."""
    h = (run.summary or {}).get("holdings")
    if not h:
        return []
    body: list[list[Cell]] = []
    for p in h["held"]:
        base = p["symbol"].partition("/")[0]
        body.append([p["venue"], p["symbol"], held_what(p, precision.asset(base, p["venue"])),
                     figure(Decimal(p["amount"]), precision.asset(base, p["venue"])),
                     figure(None if p["entry"] is None else Decimal(p["entry"]), precision.price(p["symbol"])),
                     figure(None if p["mark"] is None else Decimal(p["mark"]), precision.price(p["symbol"])),
                     figure(None if p["at_mark"] is None else Decimal(p["at_mark"]), precision.pnl()),
                     figure(None if p["at_unwind"] is None else Decimal(p["at_unwind"]), precision.pnl())])
    for currency, value in (h.get("funding") or {}).items():
        body.append(["", "", f"funding {currency} ({h['funding_payments']} payments)", None, None, None,
                     figure(Decimal(value), precision.pnl()), figure(Decimal(value), precision.pnl())])
    for currency, value in h["cash"].items():
        body.append(["", "", f"cash {currency}", None, None, None, figure(Decimal(value), precision.pnl()),
                     figure(Decimal(value), precision.pnl())])
    for currency, value in (h.get("realized") or {}).items():
        closed = figure(None if value is None else Decimal(value), precision.pnl())
        body.append(["", "", f"realized (closed) {currency}", None, None, None, closed, closed])
    equity = [(q, h["equity_at_mark"][q], h["equity_at_unwind"][q]) for q in h["equity_at_mark"]]
    totals: list[Cell] | None = ["EQUITY CHANGE", ", ".join(q for q, _, _ in equity), "", None, None, None,
                          *[figure(None if v is None else Decimal(v), precision.pnl())
                            for v in (equity[0][1], equity[0][2])]] if equity else None
    title = ("Holdings at the run's end (it traded a perpetual): each venue's change, at the mid and closed into "
             "the end books (cash includes the funding row; realized (closed) is part of the equity, not added to it)")
    return [Section("holdings", title, ("venue", "symbol", "what", "amount", "entry", "mark", "at_mark",
                                        "at_unwind"), body, totals)]


def _maker(routes: Sequence[MakerRoute], precision: Precision) -> Section:
    """Each maker route's quoting (``arb/store/maker_views.py``): the run summary's maker lines, as a table."""
    body: list[list[Cell]] = []
    for r in routes:
        latency, unhedged = MakerRoute.spread(r.fill_to_hedge_ms), MakerRoute.spread(r.unhedged_ms)
        body.append([r.symbol, r.label, r.quotes, r.refused, r.quotes_filled,
                     r.maker_fills, r.hedges, r.flattens,
                     figure(latency[0] if latency else None, 2), figure(latency[1] if latency else None, 2),
                     figure(unhedged[0] if unhedged else None, 2), figure(unhedged[1] if unhedged else None, 2),
                     figure(r.unhedged_base, precision.asset(r.symbol.split("/")[0], r.maker_venue)),
                     figure(r.adverse, precision.pnl()), figure(r.hedge_slippage, precision.pnl())])
    columns = ("symbol", ROUTE, "quotes", "refused", "quotes_filled", "maker_fills", "hedges",
               "flattens", "fill_to_hedge_ms_median", "fill_to_hedge_ms_max", "unhedged_ms_median",
               "unhedged_ms_max", "unhedged_base", "pnl_adverse", "pnl_hedge_slippage")
    return Section("maker", "Maker quoting (quotes on the maker venue, fills hedged on the taker venue)", columns,
                   body)


def _funnel(rows: Sequence[views.FunnelRow], precision: Precision) -> Section:
    body: list[list[Cell]] = [
        [r.symbol, route(r.buy_venue, r.sell_venue), r.seen, r.rejected, r.executed,
         figure(r.expected_profit, precision.quote(r.symbol))]
        for r in rows
    ]
    totals: list[Cell] = [
        "TOTAL",
        "",
        sum(r.seen for r in rows),
        sum(r.rejected for r in rows),
        sum(r.executed for r in rows),
        figure(sum((r.expected_profit for r in rows), views.ZERO), precision.pnl()),
    ]
    columns = ("symbol", ROUTE, "seen", "rejected", "executed", "expected_profit")
    return Section("funnel", "Opportunity funnel", columns, body, totals)


def _rejections(rows: Sequence[views.RejectionRow]) -> Section:
    by_reason: defaultdict[str, int] = defaultdict(int)
    for r in rows:
        by_reason[r.reason] += r.rejected
    body: list[list[Cell]] = [
        [reason, count] for reason, count in sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    totals: list[Cell] = ["TOTAL", sum(by_reason.values())]
    return Section("rejections", "Rejected, by reason", ("reason", "rejected"), body, totals)


_PNL_MONEY = views.PNL_TOTAL_COLUMNS  # the money columns, each with its TOTAL as pnl_totals sums it
_PNL_COLUMNS = ("size", "mark_price", *_PNL_MONEY, "residual_base")


def _pnl(rows: Sequence[views.PnlRow], precision: Precision) -> Section:
    """The stored settlement of every executed opportunity (realized - expected = the four pnl_ terms)."""
    body: list[list[Cell]] = []
    for r in rows:
        base = precision.base(r.symbol, r.buy_venue, r.sell_venue)
        quote = precision.quote(r.symbol)
        body.append([
            r.opportunity_id, timestamp(r.detected_at), route(r.buy_venue, r.sell_venue),
            figure(r.size, base), figure(r.mark_price, precision.price(r.symbol)),
            *(figure(getattr(r, c), quote) for c in _PNL_MONEY),
            figure(r.residual_base, base),
        ])
    sums = views.pnl_totals(rows)
    residual = sum((r.residual_base or views.ZERO for r in rows), views.ZERO)
    # Sizes and residuals of several symbols add up to nothing meaningful; money is summed as v_run_pnl does.
    base_places = max((precision.base(r.symbol, r.buy_venue, r.sell_venue) for r in rows), default=0)
    totals: list[Cell] = ["TOTAL", "", "", figure(sum((r.size for r in rows), views.ZERO), base_places), None]
    totals += [figure(sums[c], precision.pnl()) for c in _PNL_MONEY] + [figure(residual, base_places)]
    columns = ("opportunity", "detected_at", ROUTE, *_PNL_COLUMNS)
    unsettled = sum(1 for r in rows if r.settled_at is None)
    title = "Expected vs realized PnL (quote; realized - expected = slippage + fees + unfilled + imbalance)"
    if unsettled:
        title += f"; {unsettled} unsettled (an order not final), not in the totals"
    return Section("pnl", title, columns, body, totals)


def _legs(rows: Sequence[views.LegRow], precision: Precision) -> Section:
    groups: defaultdict[tuple[str, str, str], list[views.LegRow]] = defaultdict(list)
    for r in rows:
        groups[(r.venue, r.side, r.purpose)].append(r)
    body = [[*key, *_leg_stats(legs, _leg_places(legs, precision))] for key, legs in sorted(groups.items())]
    totals: list[Cell] = ["TOTAL", "", "", *_leg_stats(rows, _leg_places(rows, precision))]
    columns = (
        "venue", "side", "purpose", "orders", "amount", "filled", "fill_ratio",
        "median trigger->sent ms", "median sent->ack ms",
        "median trigger->filled ms", "max trigger->filled ms",
    )  # fmt: skip
    title = ("Fill ratio and latency per leg (trigger: the decision; for a hedge or flatten, the quote fill it "
             "answered, as received)")
    return Section("legs", title, columns, body, totals)


def _leg_places(legs: Sequence[views.LegRow], precision: Precision) -> int:
    return max((precision.base(leg.symbol, leg.venue) for leg in legs), default=0)


def _leg_stats(legs: Sequence[views.LegRow], places: int) -> list[Cell]:
    amount = sum((leg.amount for leg in legs), views.ZERO)
    filled = sum((leg.filled for leg in legs), views.ZERO)

    def stat(fn: Callable[[list[Decimal]], Decimal], column: str) -> Cell:
        values = [v for v in (getattr(leg, column) for leg in legs) if v is not None]
        return figure(fn(values), MS_PLACES) if values else None

    return [
        len(legs),
        figure(amount, places),
        figure(filled, places),
        figure(filled / amount if amount else None, None),
        stat(median, "trigger_to_sent_ms"),
        stat(median, "sent_to_ack_ms"),
        stat(median, "trigger_to_filled_ms"),
        stat(max, "trigger_to_filled_ms"),
    ]


def _inventory(rows: Sequence[InventoryRow], precision: Precision) -> list[Section]:
    """Per venue and asset: balances at start and end, the change the fills imply, and what they don't
    explain (external_flow: zero on paper and sandbox venues; a deposit, withdrawal or outside fee live);
    then the change from fills per asset over every venue, the run's net result in each asset (a section of
    its own: amounts of different assets have no total)."""
    body: list[list[Cell]] = []
    per_asset: defaultdict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        places = precision.asset(r.asset, r.venue)
        body.append([r.venue, r.asset, *(figure(v, places) for v in (r.start, r.end, r.implied, r.external_flow))])
        per_asset[r.asset] = EXACT.add(per_asset[r.asset], r.implied)
    columns = ("venue", "asset", "start", "end", "from_fills", "external_flow")
    net: list[list[Cell]] = [[asset, figure(v, precision.asset(asset))] for asset, v in sorted(per_asset.items())]
    return [Section("inventory", "Inventory: balances and the change the fills imply", columns, body),
            Section("inventory_assets", "Net change from fills per asset, all venues", ("asset", "from_fills"), net)]


_BY_COUNTS = ("seen", "rejected", "executed", "orders", "fills")
_BY_QUOTES = ("quotes", "quotes_filled", "hedges")  # a run with maker quotes: its maker rows' own counts


def by_section(session: Any, run: Run, by: str) -> Section:
    """``--by day|hour|symbol|route|run``: per group, the counts, the stored realized PnL of its executed
    opportunities, the unrealized PnL of the open positions they opened (:mod:`arb.positions`, at the marks
    the run stored at its end; unknown without them), its fills' fees and its funding per currency. Groups
    and their figures: :func:`arb.store.grouped.grouped`."""
    rows, loose = grouped(session, run.id, by)
    when = (f"the UTC {by} of each opportunity's detection, on the run's {run_clock(run)} clock; "
            if by in ("day", "hour") else "")
    return _group_section(by, rows, loose, Precision.from_snapshot(run.config_snapshot),
                          {run.id: _end_marks(run)}, when)


def window_section(session: Any, runs: Sequence[Run], window: Window, by: str) -> Section:
    """``--since/--until [--by ...]``: the rows of every run in ``window``, each by its own time
    (:mod:`arb.store.grouped`), grouped ``by`` (run, unless asked), with the same figures as a run's own
    ``--by`` section; an open position is valued at the marks its own run stored at its end."""
    rows, loose = grouped_window(session, [r.id for r in runs], by, window)
    when = ("each opportunity by its detection with its orders, fills and settled figures, anything of no "
            "opportunity and funding by its own time, on its run's clock (market time in a simulation); ")
    return _group_section(by, rows, loose, _finest([Precision.from_snapshot(r.config_snapshot) for r in runs]),
                          {r.id: _end_marks(r) for r in runs}, when)


def _finest(precisions: Sequence[Precision]) -> Precision:
    """The places of several runs' rules at once: for each asset and price any run names, the finest any run
    shows it at (a run without rules shows everything at the default places)."""
    return Precision({a: max(p.asset(a) for p in precisions) for p in precisions for a in p.assets},
                     {(v, a): max(p.asset(a, v) for p in precisions) for p in precisions for v, a in p.venue_assets},
                     {s: max(p.price(s) for p in precisions) for p in precisions for s in p.prices})


def _group_section(by: str, rows: Sequence[GroupRow], loose: Loose, precision: Precision,
                   marks: Mapping[int, Mapping[tuple[str, str], Decimal | None]], when: str) -> Section:
    counts = _BY_COUNTS + (_BY_QUOTES if any(r.quotes is not None for r in rows) else ())
    currencies = sorted({c for r in rows for c in r.fees})
    paid = sorted({c for r in rows for c in r.funding} | set(loose.funding))
    body: list[list[Cell]] = []
    unrealized: list[Decimal | None] = []
    for r in rows:
        unrealized.append(_unrealized(r.lots, marks))
        body.append([*r.key, *(getattr(r, c) for c in counts), figure(r.realized_pnl, precision.pnl()),
                     figure(unrealized[-1], precision.pnl()),
                     *(figure(r.fees.get(c, views.ZERO), precision.asset(c)) for c in currencies),
                     *(figure(r.funding.get(c, views.ZERO), precision.asset(c)) for c in paid)])
    keys = GROUPINGS[by]
    total_unrealized = None if None in unrealized else sum((u or views.ZERO for u in unrealized), views.ZERO)
    totals: list[Cell] = [
        "TOTAL", *([""] * (len(keys) - 1)), *(_count_total(rows, c) for c in counts),
        figure(sum((r.realized_pnl for r in rows), views.ZERO), precision.pnl()),
        figure(total_unrealized, precision.pnl()),
        *(figure(sum((r.fees.get(c, views.ZERO) for r in rows), views.ZERO), precision.asset(c)) for c in currencies),
        *(figure(sum((r.funding.get(c, views.ZERO) for r in rows), loose.funding.get(c, views.ZERO)),
                 precision.asset(c)) for c in paid),
    ]
    columns = (*keys, *counts, "realized_pnl", "unrealized_pnl", *(f"fees_{c}" for c in currencies),
               *(f"funding_{c}" for c in paid))
    title = (f"By {by} ({when}realized: settled pairs; unrealized: the open positions a group's pairs opened, "
             "at the marks of their run's end; fees: its fills', per currency")
    title += "; funding: received (< 0 paid), per currency, by its payment time)" if paid else ")"
    unsettled = sum(r.unsettled for r in rows)
    if unsettled:
        title += f"; {unsettled} unsettled (an order not final), not in realized"
    if None in unrealized:
        title += "; unrealized unknown where a position has no stored mark (a run not ended has none)"
    if counts != _BY_COUNTS:
        title += ("; quotes: maker quotes placed (a bid buys on the maker venue, an ask sells there), quotes_filled: "
                  "those that filled, hedges: their pairs' hedges; seen and rejected are detection's, blank for a "
                  "group of maker pairs alone")
    if loose.quotes:
        title += f"; {loose.quotes} maker quotes that never filled (so opened no pair), in no group"
    if loose.orders > loose.quotes:
        title += f"; {loose.orders - loose.quotes} orders ({loose.fills} fills) of no opportunity, in no group"
    if loose.funding:
        title += "; funding is a venue's and symbol's, of no route: in the TOTAL only"
    return Section(f"by_{by}", title, columns, body, totals)


def _count_total(rows: Sequence[GroupRow], column: str) -> int | None:
    """A count column's total over the rows that have it (None: no row has it, a maker-only run's seen)."""
    values = [v for v in (getattr(r, column) for r in rows) if v is not None]
    return sum(values) if values else None


def _end_marks(run: Run) -> dict[tuple[str, str], Decimal | None]:
    """The marks the run stored with its open positions at its end (``arb.positions``' valuation rule)."""
    return {(p["venue"], p["symbol"]): None if p["mark"] is None else Decimal(p["mark"])
            for p in (run.summary or {}).get("open_positions") or ()}


def _unrealized(lots: Sequence[tuple[int, OpenLot]],
                marks: Mapping[int, Mapping[tuple[str, str], Decimal | None]]) -> Decimal | None:
    """The unrealized PnL of ``lots`` (arb.positions), each (run id, lot) at its own run's marks, summed over
    quote currencies as realized is; None when one has no mark."""
    runs: defaultdict[int, list[OpenLot]] = defaultdict(list)
    for run_id, lot in lots:
        runs[run_id].append(lot)
    total = views.ZERO
    for run_id, run_lots in runs.items():
        per_quote = unrealized_total(open_positions(run_lots, marks.get(run_id, {})))
        if None in per_quote.values():
            return None
        total += sum((v or views.ZERO for v in per_quote.values()), views.ZERO)
    return total
