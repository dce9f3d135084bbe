"""``arb report [--run ID|--last] [--db URL] [--format table|csv|json]``: review one run.

Prints the run's opportunity funnel, rejections by reason, expected vs realized PnL per executed
opportunity (with the difference split into slippage, fees, unfilled size and leg imbalance), fill ratio
and latency per venue and leg, and the inventory change per venue and asset. Every number comes from
:mod:`arb.store.views` (exact ``Decimal`` from the base tables), never from the SQL views, which compute in
floats on SQLite. PnL figures are the ones settlement stored (``arb.accounting`` defines them).

Formats: ``table`` (rich, for people), ``csv`` (one block per section: a ``# section`` line, a header,
rows, a ``TOTAL`` row, a blank line), ``json`` (one object; money as exact decimal strings).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from statistics import median
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from arb.display import money, printable
from arb.errors import StoreError
from arb.inventory import InventoryRow
from arb.store import views
from arb.store.db import (
    DB_URL_ENV,
    DEFAULT_DB_URL,
    display_url,
    make_engine,
    make_session_factory,
    require_existing,
    resolve_url,
)
from arb.store.models import Run
from arb.store.repo import inventory_check

Cell = str | int | Decimal | None
TABLE_ROW_LIMIT = 50  # per section in table format; csv and json always hold every row
_DISPLAY_PLACES = 8  # table format only; csv and json are exact


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[list[Cell]]
    totals: list[Cell] | None = None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="print a run's funnel, PnL, fill ratios, latency and inventory",
        description="Review one run from the trade-history database (exact decimal totals).",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run", type=int, metavar="ID", help="the run to report")
    which.add_argument("--last", action="store_true", help="the most recently started run (the default)")
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help=f"database URL (default: ${DB_URL_ENV}, else {DEFAULT_DB_URL})",
    )
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    url = resolve_url(args.db)
    require_existing(url)  # reading never creates a database (an empty arb.db from a typo)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            run_id = args.run if args.run is not None else views.latest_run_id(session)
            if run_id is None:
                raise StoreError(f"{display_url(url)} holds no runs yet")
            run = views.get_run(session, run_id)
            sections = build_sections(session, run)
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if getattr(exc, "statement", None) is None:  # no statement ran: the database could not be reached
            raise StoreError(f"cannot reach database {display_url(url)}: {first}") from exc
        raise StoreError(f"cannot read {display_url(url)}: {first} (is it an arb database? "
                         "`arb db current` shows its schema)") from exc
    finally:
        engine.dispose()
    RENDERERS[args.format](run, sections, sys.stdout)
    return 0


def build_sections(session: Any, run: Run) -> list[Section]:
    """Every report section for ``run``, in reading order."""
    return [
        _funnel(views.funnel(session, run.id)),
        _rejections(views.rejections(session, run.id)),
        _pnl(views.opportunity_pnl(session, run.id)),
        _legs(views.legs(session, run.id)),
        _inventory(inventory_check(session, run.id)),
    ]


def _funnel(rows: Sequence[views.FunnelRow]) -> Section:
    body: list[list[Cell]] = [
        [r.symbol, f"{r.buy_venue} -> {r.sell_venue}", r.seen, r.rejected, r.executed, r.expected_profit]
        for r in rows
    ]
    totals: list[Cell] = [
        "TOTAL",
        "",
        sum(r.seen for r in rows),
        sum(r.rejected for r in rows),
        sum(r.executed for r in rows),
        sum((r.expected_profit for r in rows), views.ZERO),
    ]
    columns = ("symbol", "buy -> sell", "seen", "rejected", "executed", "expected_profit")
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


_PNL_COLUMNS = (
    "size",
    "mark_price",
    "expected_pnl",
    "realized_pnl",
    "pnl_slippage",
    "pnl_fees",
    "pnl_unfilled",
    "pnl_imbalance",
    "fees_quote",
    "residual_base",
)


def _pnl(rows: Sequence[views.PnlRow]) -> Section:
    """The stored settlement of every executed opportunity (realized - expected = the four pnl_ terms)."""
    body: list[list[Cell]] = []
    for r in rows:
        cells: list[Cell] = [r.opportunity_id, _time(r.detected_at), f"{r.buy_venue} -> {r.sell_venue}"]
        body.append(cells + [getattr(r, c) for c in _PNL_COLUMNS])
    sums = views.pnl_totals(rows)
    residual = sum((r.residual_base or views.ZERO for r in rows), views.ZERO)
    totals: list[Cell] = ["TOTAL", "", "", sum((r.size for r in rows), views.ZERO), None]
    totals += [sums[c] for c in _PNL_COLUMNS[2:-1]] + [residual]
    columns = ("opportunity", "detected_at", "buy -> sell", *_PNL_COLUMNS)
    unsettled = sum(1 for r in rows if r.settled_at is None)
    title = "Expected vs realized PnL (quote; realized - expected = slippage + fees + unfilled + imbalance)"
    if unsettled:
        title += f"; {unsettled} unsettled (an order not final), not in the totals"
    return Section("pnl", title, columns, body, totals)


def _legs(rows: Sequence[views.LegRow]) -> Section:
    groups: defaultdict[tuple[str, str, str], list[views.LegRow]] = defaultdict(list)
    for r in rows:
        groups[(r.venue, r.side, r.purpose)].append(r)
    body = [[*key, *_leg_stats(legs)] for key, legs in sorted(groups.items())]
    totals: list[Cell] = ["TOTAL", "", "", *_leg_stats(rows)]
    columns = (
        "venue", "side", "purpose", "orders", "amount", "filled", "fill_ratio",
        "median decision->sent ms", "median sent->ack ms",
        "median decision->filled ms", "max decision->filled ms",
    )  # fmt: skip
    return Section("legs", "Fill ratio and latency per leg", columns, body, totals)


def _leg_stats(legs: Sequence[views.LegRow]) -> list[Cell]:
    amount = sum((leg.amount for leg in legs), views.ZERO)
    filled = sum((leg.filled for leg in legs), views.ZERO)

    def stat(fn: Callable[[list[Decimal]], Decimal], column: str) -> Decimal | None:
        values = [v for v in (getattr(leg, column) for leg in legs) if v is not None]
        return fn(values) if values else None

    return [
        len(legs),
        amount,
        filled,
        filled / amount if amount else None,
        stat(median, "decision_to_sent_ms"),
        stat(median, "sent_to_ack_ms"),
        stat(median, "decision_to_filled_ms"),
        stat(max, "decision_to_filled_ms"),
    ]


def _inventory(rows: Sequence[InventoryRow]) -> Section:
    """Per venue and asset: balances at start and end, the change the fills imply, and what they don't
    explain (external_flow: zero on paper and sandbox venues; a deposit, withdrawal or outside fee live)."""
    body: list[list[Cell]] = [[r.venue, r.asset, r.start, r.end, r.implied, r.external_flow] for r in rows]
    per_asset: defaultdict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        per_asset[r.asset] += r.implied
    # Totals per asset across venues: the run's net result in each asset.
    totals: list[Cell] = ["TOTAL", "", "", "", ", ".join(f"{a} {_plain(v)}" for a, v in sorted(per_asset.items())),
                          None]
    columns = ("venue", "asset", "start", "end", "from_fills", "external_flow")
    return Section("inventory", "Inventory: balances and the change the fills imply", columns, body, totals)


def _time(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plain(value: Decimal) -> str:
    """For reading: rounded to 8 decimal places (prices, amounts and quote money alike), no exponent."""
    return money(value, _DISPLAY_PLACES)


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Decimal):
        return _plain(cell)
    return str(cell)


def _exact(cell: Cell) -> str | int | None:
    """JSON/CSV value: Decimals as full exact strings (no rounding), ints as ints."""
    if isinstance(cell, Decimal):
        return format(cell, "f")
    return cell


def _run_header(run: Run) -> dict[str, str | None]:
    return {
        "id": str(run.id),
        "mode": run.mode,
        "started_at": _time(run.started_at),
        "ended_at": _time(run.ended_at) if run.ended_at else None,
        "status": run.status,
        "status_reason": run.status_reason,
    }


def render_table(run: Run, sections: Sequence[Section], out: TextIO) -> None:
    console = Console(file=out, width=200 if not out.isatty() else None, highlight=False)
    head = _run_header(run)
    ended = head["ended_at"] or "(not ended)"
    # The reason is text from outside (an error line): neither rich markup nor terminal control codes.
    why = f": {escape(printable(head['status_reason']))}" if head["status_reason"] else ""
    console.print(f"[bold]Run {head['id']}[/bold] ({head['mode']}) {head['started_at']} -> {ended}, "
                  f"{head['status']}{why}")
    for section in sections:
        table = Table(title=section.title, title_justify="left", show_footer=section.totals is not None)
        for i, column in enumerate(section.columns):
            footer = _text(section.totals[i]) if section.totals else ""
            table.add_column(column, footer=footer, justify="left" if i == 0 else "right", no_wrap=True)
        for row in section.rows[:TABLE_ROW_LIMIT]:
            table.add_row(*(_text(c) for c in row))
        if len(section.rows) > TABLE_ROW_LIMIT:
            more = len(section.rows) - TABLE_ROW_LIMIT
            table.add_row(f"... {more} more (totals include them; --format csv lists all)")
        console.print(table)


def render_csv(run: Run, sections: Sequence[Section], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    out.write(f"# run {run.id} ({run.mode}, {run.status})\n\n")
    for section in sections:
        out.write(f"# {section.name}\n")
        writer.writerow(section.columns)
        writer.writerows([_exact(c) for c in row] for row in section.rows)
        if section.totals is not None:
            writer.writerow([_exact(c) for c in section.totals])
        out.write("\n")


def render_json(run: Run, sections: Sequence[Section], out: TextIO) -> None:
    doc: dict[str, Any] = {"run": {**_run_header(run), "summary": run.summary}}
    for section in sections:
        doc[section.name] = {
            "rows": [dict(zip(section.columns, map(_exact, row), strict=True)) for row in section.rows],
            "totals": dict(zip(section.columns, map(_exact, section.totals), strict=True))
            if section.totals
            else None,
        }
    json.dump(doc, out, indent=2)
    out.write("\n")


RENDERERS: dict[str, Callable[[Run, Sequence[Section], TextIO], None]] = {
    "table": render_table,
    "csv": render_csv,
    "json": render_json,
}
