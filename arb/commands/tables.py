"""What ``arb report``, ``arb trades`` and ``arb balances`` share: choosing a stored run (``--run ID`` or
``--last``, ``--db URL``), reading it in one session, and printing sections of rows in three formats.

Formats: ``table`` (rich, for people) and ``csv`` (one block per section: a ``# section`` line, a header,
rows, a ``TOTAL`` row when the section has totals, a blank line) show every number at its meaning
(:mod:`arb.display`: amounts at the asset's places, ratios at 4 significant digits); ``json`` (one object)
keeps every number exact, money as decimal strings.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO, TypedDict, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

from arb.commands import arguments
from arb.config.files import DEFAULT_CONFIG
from arb.display import Figure, printable
from arb.errors import StoreError
from arb.store.db import display_url, make_reader_engine, make_session_factory, read_failure, require_existing
from arb.store.grouped import Window, runs_in_window
from arb.store.location import DB_URL_ENV, DEFAULT_DB_URL, resolve_url
from arb.store.models import Run
from arb.store.runs import get_run, latest_run_id, run_clock

Cell = str | int | Figure | None
UNBOUNDED = 100_000  # columns: a table measured at this width is measured at its natural width
TABLE_ROW_LIMIT = 50  # per section in table format; csv and json always hold every row


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[list[Cell]]
    totals: list[Cell] | None = None


Build = Callable[[Any, Run], list[Section]]
WindowBuild = Callable[[Any, Sequence[Run]], list[Section]]
_T = TypeVar("_T")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--run ID | --last``, ``--db URL``, ``--format table|csv|json``."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run", type=arguments.run_id, metavar="ID", help="the run to show")
    which.add_argument("--last", action="store_true", help="the most recently started run (the default)")
    add_database_arguments(parser)
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="output format (table and csv rounded for reading, json exact)")
    rows = parser.add_mutually_exclusive_group()
    rows.add_argument("--limit", type=arguments.count, default=TABLE_ROW_LIMIT, metavar="N",
                      help=f"rows per table in table format (default {TABLE_ROW_LIMIT}; csv and json list all)")
    rows.add_argument("--all", action="store_const", const=None, dest="limit", help="every row in table format too")


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--db URL`` and ``--config FILE``: the database, chosen as ``arb run`` chooses it."""
    parser.add_argument("--db", metavar="URL", default=None,
                        help=f"database URL (default: ${DB_URL_ENV}, else the config's [store] url)")
    parser.add_argument("--config", metavar="FILE", default=None,
                        help=f"the config whose [store] url to read (default: {DEFAULT_CONFIG} where it exists, "
                        f"else {DEFAULT_DB_URL})")


def database_url(args: argparse.Namespace) -> str:
    """The database a read command reads, as ``arb run`` chooses the one it writes: ``--db``, else
    ``$ARB_DB_URL``, else the config's ``[store] url`` (``--config``, or ``config.toml`` here when there is
    one), else ``arb.db``. So ``arb run --config paper.toml`` then ``arb report --config paper.toml`` read
    the same database."""
    if args.db or os.environ.get(DB_URL_ENV):
        return resolve_url(args.db)
    path = Path(args.config) if args.config else DEFAULT_CONFIG
    if args.config or path.is_file():
        from arb.config import load_config  # here: the schema costs ~0.2 s a reader with --db never needs

        return load_config(path).store.url
    return DEFAULT_DB_URL


def show_run(args: argparse.Namespace, build: Build) -> int:
    """Read the chosen run's sections with ``build(session, run)`` and print them in ``args.format``."""
    url = database_url(args)

    def read(session: Any) -> tuple[Run, list[Section]]:
        run_id = args.run if args.run is not None else latest_run_id(session)
        if run_id is None:
            raise StoreError(f"{display_url(url)} holds no runs yet")
        run = get_run(session, run_id)
        return run, build(session, run)

    run, sections = read_database(url, read)
    if args.format == "table":
        render_table(run, sections, sys.stdout, limit=args.limit)
    else:
        RENDERERS[args.format](run, sections, sys.stdout)
    return 0


def show_window(args: argparse.Namespace, window: Window, build: WindowBuild) -> int:
    """Read the sections of every run in ``window`` (:func:`arb.store.grouped.runs_in_window`) with
    ``build(session, runs)`` and print them in ``args.format`` under the window's header."""
    url = database_url(args)

    def read(session: Any) -> tuple[list[Run], list[Section]]:
        runs = runs_in_window(session, window)
        if not runs:
            held = session.scalar(select(func.count()).select_from(Run))
            raise StoreError(f"no run in the window {window_text(window)}: {display_url(url)} holds {held} runs, "
                             "none with a row or a span in it")
        return runs, build(session, runs)

    runs, sections = read_database(url, read)
    head = window_header(window, runs)
    if args.format == "table":
        console = table_console(sys.stdout)
        console.print(f"[bold]Window[/bold] {window_text(window)}: runs "
                      + ", ".join(f"{r['id']} ({r['mode']}, {r['clock']} clock)" for r in head["runs"])
                      + "; each row by its own time on its run's clock")
        print_sections(console, sections, args.limit)
    elif args.format == "csv":
        sys.stdout.write(f"# window {window_text(window)}; runs {' '.join(str(r.id) for r in runs)}; "
                         "numbers rounded for reading (--format json is exact)\n\n")
        write_csv_sections(sections, sys.stdout)
    else:
        json_document({"window": head}, sections, sys.stdout)
    return 0


def read_database(url: str, read: Callable[[Any], _T]) -> _T:
    """``read(session)`` on the database at ``url``, opened read-only; a failure is one line naming it."""
    from sqlalchemy.exc import SQLAlchemyError

    require_existing(url)  # reading never creates a database (an empty arb.db from a typo)
    engine = make_reader_engine(url)  # nor changes one: no byte of any file (store/db.py)
    try:
        with make_session_factory(engine)() as session:
            return read(session)
    except SQLAlchemyError as exc:
        raise read_failure(url, exc) from exc
    except (ValueError, ArithmeticError) as exc:  # a stored value that does not convert (``yesterday``)
        from arb.store.unreadable import unreadable_value

        named = unreadable_value(engine, url)
        if named is None:
            raise
        raise named from exc
    finally:
        engine.dispose()


def window_text(window: Window) -> str:
    """``since -> until`` in UTC, an open end said so."""
    since = timestamp(window.since) if window.since else "(the first row)"
    until = timestamp(window.until) if window.until else "(the last row)"
    return f"{since} -> {until} (UTC; since included, until not)"


class WindowHeader(TypedDict):
    """A window's header: the JSON document's ``window``."""

    since: str | None
    until: str | None
    runs: list[RunHeader]


def window_header(window: Window, runs: Sequence[Run]) -> WindowHeader:
    return {"since": timestamp(window.since) if window.since else None,
            "until": timestamp(window.until) if window.until else None,
            "runs": [run_header(r) for r in runs]}


def timestamp(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(cell: Cell) -> str:
    return "" if cell is None else str(cell)


def _exact(cell: Cell) -> str | int | None:
    """JSON value: figures as full exact decimal strings (no rounding), ints as ints."""
    return cell.exact if isinstance(cell, Figure) else cell


class RunHeader(TypedDict):
    """A run's header: the table's first line, the JSON document's ``run``."""

    id: int
    mode: str
    clock: str
    started_at: str
    ended_at: str | None
    market_started_at: str | None
    market_ended_at: str | None
    status: str
    status_reason: str | None


def run_header(run: Run) -> RunHeader:
    return {
        "id": run.id,  # an integer, as in the database
        "mode": run.mode,
        "clock": run_clock(run),
        "started_at": timestamp(run.started_at),
        "ended_at": timestamp(run.ended_at) if run.ended_at else None,
        "market_started_at": timestamp(run.market_started_at) if run.market_started_at else None,
        "market_ended_at": timestamp(run.market_ended_at) if run.market_ended_at else None,
        "status": run.status,
        "status_reason": run.status_reason,
    }


def render_table(run: Run, sections: Sequence[Section], out: TextIO, *, limit: int | None = TABLE_ROW_LIMIT) -> None:
    """Every number in full, whatever the width: a table wider than the terminal is printed at its own
    width (the terminal wraps its lines) rather than squeezed into ``7.200…``; the rows a ``limit`` leaves
    out are said under the table, not inside a column that would widen it. Off a terminal the width is
    ``$COLUMNS`` (200 when unset)."""
    console = table_console(out)
    head = run_header(run)
    ended = head["ended_at"] or "(not ended)"
    # The reason is text from outside (an error line): neither rich markup nor terminal control codes.
    why = f": {escape(printable(head['status_reason']))}" if head["status_reason"] else ""
    # Two spans: when the process ran (wall clock), and the market time it traded in; the tables below
    # are on the run's clock (a simulation's market clock), so both are said.
    market = (f"; market {head['market_started_at']} -> {head['market_ended_at'] or '(not ended)'}"
              if head["market_started_at"] and head["clock"] == "market" else "")
    console.print(f"[bold]Run {head['id']}[/bold] ({head['mode']}) ran {head['started_at']} -> {ended}, "
                  f"{head['status']}{why}{market}; times below on the {head['clock']} clock")
    print_sections(console, sections, limit)


def print_sections(console: Console, sections: Sequence[Section], limit: int | None) -> None:
    """Each section's title and table, at most ``limit`` rows each (None: all)."""
    for section in sections:
        console.print(section.title)  # above the table, not its title: a table narrower than it would wrap it
        table = Table(show_footer=section.totals is not None)
        for i, column in enumerate(section.columns):
            footer = _text(section.totals[i]) if section.totals else ""
            table.add_column(column, footer=footer, justify="left" if i == 0 else "right", no_wrap=True)
        shown = section.rows if limit is None else section.rows[:limit]
        for row in shown:
            table.add_row(*(_text(c) for c in row))
        print_in_full(console, table)
        if len(section.rows) > len(shown):
            console.print(f"... and {len(section.rows) - len(shown)} more rows (the totals include them; "
                          "--all or --limit N shows more, --format csv or json lists all)")


def table_console(out: TextIO) -> Console:
    """The console a command prints its tables on: the terminal's width, or off a terminal ``$COLUMNS`` (200
    when unset)."""
    width = None if out.isatty() else int(os.environ.get("COLUMNS", "") or 200)
    return Console(file=out, width=width, highlight=False)


def print_in_full(console: Console, table: Table) -> None:
    """``table`` at its natural width when that is wider than ``console`` (the terminal wraps its lines), so
    no cell is squeezed into ``7.200…``; its columns should be ``no_wrap``, or rich folds a cell instead."""
    natural = console.measure(table, options=console.options.update(max_width=UNBOUNDED)).maximum
    screen, console.width = console.width, max(console.width, natural)  # print caps its width at this
    console.print(table, crop=False)
    console.width = screen


def render_csv(run: Run, sections: Sequence[Section], out: TextIO) -> None:
    out.write(f"# run {run.id} ({run.mode}, {run.status}); times on the {run_clock(run)} clock; "
              "numbers rounded for reading (--format json is exact)\n\n")
    write_csv_sections(sections, out)


def write_csv_sections(sections: Sequence[Section], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    for section in sections:
        out.write(f"# {section.name}\n")
        writer.writerow(section.columns)
        writer.writerows([_text(c) for c in row] for row in section.rows)
        if section.totals is not None:
            writer.writerow([_text(c) for c in section.totals])
        out.write("\n")


def render_json(run: Run, sections: Sequence[Section], out: TextIO) -> None:
    json_document({"run": {**run_header(run), "summary": run.summary}}, sections, out)


def json_document(doc: dict[str, Any], sections: Sequence[Section], out: TextIO) -> None:
    """``doc`` (the header) with each section's exact rows and totals, as one JSON object."""
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


def figure(value: Decimal | None, places: int | None) -> Figure | None:
    """A cell for ``value`` shown at ``places`` (None: a ratio); an absent value stays an empty cell."""
    return None if value is None else Figure(value, places)
