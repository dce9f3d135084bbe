"""``arb sweep [GRID.toml]``: replay a grid of parameters on a dask cluster into one database.

The grid comes from a TOML file and/or command-line lists (a list given on the command line replaces the
file's list for that key); every value is checked before anything runs. Progress goes to stderr (a rich
bar on a terminal, plain lines otherwise); the table at the end reads each run's stored settlement.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from arb.commands import Subcommands
from arb.commands.tables import print_in_full, table_console
from arb.config import DEFAULT_CONFIG, Config, load_config
from arb.display import money, printable
from arb.errors import ConfigError, UsageError
from arb.runtime.logs import setup_logging
from arb.store.location import DB_URL_ENV, resolve_url
from arb.sweep.bracket import Bracket, brackets, varied_assumptions
from arb.sweep.cluster import CONNECT_TIMEOUT_S
from arb.sweep.grid import (
    CAPTURES_AS,
    KEYS,
    MAX_POINTS,
    build_grid,
    parse_list,
    read_grid_file,
    value_label,
)
from arb.sweep.results import PointTotals, point_totals
from arb.sweep.run import SweepResult, run_sweep
from arb.sweep.worker_server import start_worker_server

SCHEDULER_SCHEMES = ("tcp://", "tls://", "inproc://", "ucx://")


def register(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "sweep",
        description="Replay every combination of the grid's values as its own deterministic replay, in "
        "parallel on dask.distributed (a local cluster of one worker process per core, or --scheduler), and "
        "merge every run into --db, linked to one `sweeps` row. Lists are comma-separated.",
    )
    parser.add_argument("grid", nargs="?", type=Path, help="grid file: TOML, `key = [values]` per key")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="base config (default: %(default)s)")
    parser.add_argument("--db", default=None, help=f"database URL (default: ${DB_URL_ENV}, else [store] url of the config)")
    parser.add_argument("--capture", help="captures: files, directories or globs (quoted), in name order")
    parser.add_argument("--captures-as", choices=CAPTURES_AS, default=None,
                        help="a directory or glob of captures (a day per file) as a run per file (runs, the "
                        "default) or as one run replaying its files in order as one market timeline (timeline)")
    parser.add_argument("--fee", help="every venue's taker_fee, e.g. 0.0001,0.0003")
    parser.add_argument("--latency-ms", help="every venue's latency_ms, e.g. 0,50")
    parser.add_argument("--feed-latency-ms", help="every venue's feed_latency_ms, e.g. 0,20,100")
    parser.add_argument("--latency-profile", help="every venue's latency_profile: profile files (`arb latency` "
                        "writes them), e.g. profiles/fast.json,profiles/slow.json")
    parser.add_argument("--queue-model", help="every simulated venue's queue_model: conservative, power, log")
    parser.add_argument("--min-edge-bps", help="[detection] min_edge_bps, e.g. 0,0.5")
    parser.add_argument("--leg-policy", help="[execution] leg_policy: unwind, complete, halt")
    parser.add_argument("--min-profit-bps", help="every maker symbol's min_profit_bps, e.g. 0.5,1,2")
    parser.add_argument("--quote-size", help="every maker symbol's quote_size (base units), e.g. 0.001,0.01")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="the results: a table (rounded for reading), csv or json (exact)")
    parser.add_argument("--allow-large-grid", action="store_true",
                        help=f"run a grid of more than {MAX_POINTS:,} points (each one is a whole replay)")
    add_cluster_arguments(parser)
    parser.set_defaults(func=run)


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the replays run: ``--scheduler``, ``--scheduler-timeout``, ``--workers``, ``--workdir`` (``arb sweep``
    and ``arb optimize`` alike; :func:`check_cluster_arguments` checks them)."""
    parser.add_argument("--scheduler", help="a running dask scheduler, tcp://host:8786 (default: a local cluster)")
    parser.add_argument("--scheduler-timeout", type=float, default=CONNECT_TIMEOUT_S, metavar="SECONDS",
                        help="how long --scheduler has to answer before the command stops, having created "
                        "nothing (default: %(default)g)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes of the local cluster (default: one per core)")
    parser.add_argument("--workdir", default=None,
                        help="where workers write their SQLite files (default: a temporary directory; with "
                        "--scheduler, a directory every worker and this machine see at the same path)")


def run(args: argparse.Namespace) -> int:
    try:
        import distributed  # noqa: F401 - an optional extra: say how to get it before reading anything
    except ImportError:
        raise UsageError("arb sweep needs dask.distributed, an optional extra: "
                         ".venv/bin/pip install -e \".[sweep]\"") from None
    if args.scheduler is None:
        start_worker_server()  # the local cluster's: it imports arb while this reads the config and grid
    config = base_config(args.config)
    raw: dict[str, list[str]] = read_grid_file(args.grid) if args.grid else {}
    for key in KEYS:
        given = getattr(args, key)
        if given is not None:
            raw[key] = parse_list(given)
    if args.captures_as is not None:
        raw["captures_as"] = [args.captures_as]
    source = str(args.grid) if args.grid else "arb sweep"
    grid = build_grid(config, raw, source=source, max_points=None if args.allow_large_grid else MAX_POINTS)
    check_cluster_arguments(args)
    db_url = resolve_url(args.db or os.environ.get(DB_URL_ENV) or config.store.url)
    setup_logging("WARNING", config.engine.log_format)
    bar = _Progress(sys.stderr)
    try:
        result = run_sweep(config, grid, db_url, scheduler=args.scheduler, workers=args.workers,
                           workdir=args.workdir, progress=bar.update, connect_timeout_s=args.scheduler_timeout)
    finally:
        bar.close()
    totals = point_totals(db_url, [p.run_id for p in result.points if p.run_id is not None])
    if args.format == "table":
        console = table_console(sys.stdout)
        print_table(result, totals, console)
        print_brackets(result, totals, console)
    else:
        print_rows(result, totals, args.format, sys.stdout)
    failed = result.failed
    if failed:
        print(f"arb: error: sweep {result.sweep_id}: {len(failed)} of {len(result.points)} replays failed",
              file=sys.stderr)
        return 1
    return 0


def base_config(path: str) -> Config:
    """The config every replay of a sweep (or an optimisation) starts from, refused as ``arb run`` would refuse
    it, before a cluster starts (each replay's engine checks its own again; its ports are forced to any free
    one, so the base config's are not asked for)."""
    from arb.runtime.preflight import preflight

    config = load_config(path)
    preflight(config, ports=False)
    if config.sandbox.url is not None:
        # Every point runs the config as written, its sandbox venues on an in-process sandbox of its own; points
        # sharing one external sandbox would trade against each other's balances and orders.
        raise ConfigError(str(config.path), "sandbox.url", "a sweep runs each point on its own in-process "
                          "sandbox; remove [sandbox] url to sweep this config")
    return config


def check_cluster_arguments(args: argparse.Namespace) -> None:
    """:func:`add_cluster_arguments`' values, each refused in one line (exit 2) before anything starts."""
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise UsageError(f"--workers: must be from 1 to 1024 (got {args.workers})")
    if not 0.1 <= args.scheduler_timeout <= 600:  # also refuses nan
        raise UsageError(f"--scheduler-timeout: must be from 0.1 to 600 seconds (got {args.scheduler_timeout:g})")
    if args.scheduler is not None and not args.scheduler.startswith(SCHEDULER_SCHEMES):
        raise UsageError(f"--scheduler: not a dask scheduler address (got {args.scheduler!r}; e.g. tcp://host:8786)")
    if args.workdir is not None:
        problem = workdir_problem(Path(args.workdir))
        if problem is not None:
            raise UsageError(f"--workdir: {problem}")


def workdir_problem(path: Path) -> str | None:
    """Why ``path`` cannot be the directory workers write in (it or a directory above it is a file, or the
    nearest that exists is not writable), or None; checked before anything is created (``makedirs`` would say
    "File exists" as an OSError, exit 1, after the cluster had started)."""
    for existing in (path, *path.absolute().parents):
        try:
            if not existing.exists():
                continue
            if not existing.is_dir():
                return f"{printable(str(existing))} exists and is not a directory"
        except OSError as exc:  # a name too long, a loop of links
            return f"cannot use {printable(str(path))}: {exc.strerror or exc}"
        if not os.access(existing, os.W_OK | os.X_OK):
            return f"{printable(str(existing))} is not writable"
        return None
    return None


MAKER_COLUMNS = ("quotes", "filled", "hedges", "adverse")


def print_table(result: SweepResult, totals: dict[int, PointTotals], console: Console) -> None:
    """One row per grid point: its values, its run in the database, executed, expected and realized PnL; for a
    maker config also its quotes sent and filled, its hedges and the adverse selection its pairs met. Every
    figure in full at any width, as ``arb report`` prints them (``tables.print_in_full``)."""
    keys = list(result.points[0].point) if result.points else []
    quoted = any(t.maker is not None for t in totals.values())
    table = Table(title=f"sweep {result.sweep_id}", title_justify="left")
    for key in keys:
        table.add_column(key, no_wrap=True)
    for name in ("run", *(MAKER_COLUMNS if quoted else ()), "executed", "expected", "realized"):
        table.add_column(name, justify="right", no_wrap=True)
    for p in result.points:
        cells = [escape(printable(value_label(k, v))) for k, v in p.point.items()]
        t = totals.get(p.run_id) if p.run_id is not None else None
        if t is None:
            cells += ["-", *(["-"] * len(MAKER_COLUMNS) if quoted else []), "failed", "-",
                      escape(printable(p.error or ""))]
        else:
            m = t.maker
            maker = ([str(m.quotes), str(m.quotes_filled), str(m.hedges), money(m.adverse)] if m is not None
                     else ["0", "0", "0", "0"]) if quoted else []
            cells += [str(p.run_id), *maker, str(t.executed), money(t.expected), money(t.realized)]
        table.add_row(*cells)
    print_in_full(console, table)


def _brackets(result: SweepResult, totals: dict[int, PointTotals]) -> list[Bracket]:
    realized = [None if p.run_id is None or p.run_id not in totals else totals[p.run_id].realized
                for p in result.points]
    return brackets([p.point for p in result.points], realized)


def print_brackets(result: SweepResult, totals: dict[int, PointTotals], console: Console) -> None:
    """Where the grid varied latency or the queue model: each strategy setting's realized PnL across those
    assumptions, central (median) beside low and high (``arb/sweep/bracket.py``)."""
    found = _brackets(result, totals)
    if not found:
        return
    varied = varied_assumptions([p.point for p in result.points])
    table = Table(title=f"realized across {', '.join(varied)}", title_justify="left")
    for key, _ in found[0].setting:
        table.add_column(key, no_wrap=True)
    for name in ("points", "low", "central", "high"):
        table.add_column(name, justify="right", no_wrap=True)
    for b in found:
        points = f"{b.points}" + (f" ({b.failed} failed)" if b.failed else "")
        table.add_row(*(escape(printable(value_label(k, v))) for k, v in b.setting), points,
                      money(b.low) if b.low is not None else "-", money(b.central) if b.central is not None else "-",
                      money(b.high) if b.high is not None else "-")
    print_in_full(console, table)


def point_rows(result: SweepResult, totals: dict[int, PointTotals]) -> list[dict[str, Any]]:
    """One row per grid point, exact: its values, its run, executed, expected and realized PnL as stored; for a
    maker config its quotes sent and filled, its hedges and its adverse selection too."""
    quoted = any(t.maker is not None for t in totals.values())
    rows = []
    for p in result.points:
        t = totals.get(p.run_id) if p.run_id is not None else None
        m = t.maker if t else None
        # The same keys in every row (a csv's header is the first row's): None where a point failed.
        maker = ({"quotes": m.quotes, "quotes_filled": m.quotes_filled, "hedges": m.hedges,
                  "adverse": format(m.adverse, "f")} if m is not None
                 else dict.fromkeys(("quotes", "quotes_filled", "hedges", "adverse"),
                                    None if t is None else 0)) if quoted else {}
        rows.append({**{k: value_label(k, v) for k, v in p.point.items()},
                     "run_id": p.run_id, **maker, "executed": t.executed if t else None,
                     "expected": format(t.expected, "f") if t else None,
                     "realized": format(t.realized, "f") if t else None, "error": None if t else p.error})
    return rows


def print_rows(result: SweepResult, totals: dict[int, PointTotals], fmt: str, out: Any) -> None:
    """csv or json: every figure exact, nothing cut, for a script or a spreadsheet."""
    rows = point_rows(result, totals)
    if fmt == "json":
        bracketed = [{**{k: value_label(k, v) for k, v in b.setting}, "points": b.points, "failed": b.failed,
                      **{name: None if x is None else format(x, "f")
                         for name, x in (("low", b.low), ("central", b.central), ("high", b.high))}}
                     for b in _brackets(result, totals)]
        out.write(json.dumps({"sweep_id": result.sweep_id, "points": rows, "brackets": bracketed}, indent=2) + "\n")
        return
    writer = csv.writer(out, lineterminator="\n")
    if rows:
        writer.writerow(rows[0])
        writer.writerows([("" if v is None else v) for v in row.values()] for row in rows)


class _Progress:
    """Replays done / running: a rich bar on a terminal, a plain line per change otherwise, each line starting
    with the command's ``name``."""

    def __init__(self, stream: Any, name: str = "sweep") -> None:
        self._stream = stream
        self._name = name
        self._rich: Any = None
        self._task: Any = None
        self._last: tuple[int, int, int] | None = None
        if stream.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._rich = Progress(TextColumn("replays"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[running]} running"), TimeElapsedColumn(),
                                  console=Console(file=stream))

    def update(self, done: int, running: int, total: int) -> None:
        if (done, running, total) == self._last:
            return
        self._last = (done, running, total)
        if self._rich is None:
            # One write, newline included: print() writes the text and its newline apart, and a Ctrl-C
            # between the two left the line open, so "arb: interrupted" was printed on the end of it.
            self._stream.write(f"{self._name}: {done}/{total} replays done, {running} running\n")
            self._stream.flush()
            return
        if self._task is None:
            self._rich.start()
            self._task = self._rich.add_task(self._name, total=total, running=running)
        self._rich.update(self._task, completed=done, running=running)

    def close(self) -> None:
        if self._rich is not None and self._task is not None:
            self._rich.stop()
