"""``arb optimize RANGES.toml``: Optuna's seeded TPE sampler over declared ranges, walked forward over a timeline
of captures, each trial a replay on the sweep's dask cluster, the studies kept in the run's database.

Checked before anything runs, as ``arb sweep`` checks its grid (one line, exit 2); progress on stderr as the
sweep's; the table at the end is the best trial of each fold with its in-sample and out-of-sample figures as
stored, every figure whole at any width; Ctrl-C stops at once and prints what was finished.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from arb.commands import Subcommands, arguments
from arb.commands.sweep import (
    _Progress,
    add_cluster_arguments,
    base_config,
    check_cluster_arguments,
)
from arb.commands.tables import print_in_full, table_console
from arb.config import DEFAULT_CONFIG
from arb.display import money, printable
from arb.errors import UsageError
from arb.optimize.ranges import build_space, read_ranges_file
from arb.optimize.run import DEFAULT_BATCH, OBJECTIVES, OptimizeResult, Replay, Stopped, run_optimize
from arb.runtime.logs import setup_logging
from arb.store.db import display_url
from arb.store.location import DB_URL_ENV, resolve_url
from arb.sweep.grid import parse_list, value_label
from arb.sweep.worker_server import start_worker_server

MAX_TRIALS = 10_000  # per fold: each trial is a whole replay
MAX_SEED = 2**32 - 1  # numpy's RandomState (the sampler's) takes seeds below 2**32


def register(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "optimize",
        description="Search the ranges of RANGES.toml with Optuna's TPE sampler (seeded), walking forward over "
        "a timeline of capture files: each fold fits on one file (--trials replays) and replays the best "
        "trial's parameters on the next. Replays run on dask.distributed as arb sweep's do; every run and "
        "the studies (Optuna's storage) go to --db.",
    )
    parser.add_argument("ranges", type=Path, help="ranges file: TOML, the sweep's keys, each `key = { low, high, "
                        "step }`, a list of values or one value; `capture` names the timeline")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="base config (default: %(default)s)")
    parser.add_argument("--db", default=None, help=f"database URL (default: ${DB_URL_ENV}, else [store] url of the config)")
    parser.add_argument("--capture", help="the timeline: files, directories or globs (quoted), in name order "
                        "(replaces the ranges file's capture)")
    parser.add_argument("--trials", type=arguments.bounded("trials", 1, MAX_TRIALS), default=20,
                        help="trials per fold, each a replay (default: %(default)s)")
    parser.add_argument("--seed", type=arguments.bounded("seed", 0, MAX_SEED), default=0,
                        help="the sampler's seed: the same seed, ranges, config, captures and --batch give the "
                        "same trials (default: %(default)s)")
    parser.add_argument("--batch", type=arguments.bounded("batch", 1, 1024), default=DEFAULT_BATCH,
                        help="trials asked of the sampler at once and replayed side by side; the sampler sees "
                        "a batch's results only after it, so the trials a seed gives depend on it, not on the "
                        "cluster (default: %(default)s)")
    parser.add_argument("--objective", choices=tuple(OBJECTIVES), default="realized",
                        help="the sweep table's figure each trial maximises (default: %(default)s)")
    add_cluster_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import distributed  # noqa: F401 - optional extras: say how to get them before reading anything
        import optuna  # noqa: F401
    except ImportError:
        raise UsageError("arb optimize needs optuna and dask.distributed, an optional extra: "
                         ".venv/bin/pip install -e \".[optimize]\"") from None
    check_cluster_arguments(args)
    if args.scheduler is None:
        start_worker_server()  # the local cluster's: it imports arb while this reads the config and ranges
    config = base_config(args.config)
    raw = read_ranges_file(args.ranges)
    if args.capture is not None:
        raw["capture"] = parse_list(args.capture)
    space = build_space(config, raw, source=str(args.ranges))
    db_url = resolve_url(args.db or os.environ.get(DB_URL_ENV) or config.store.url)
    setup_logging("WARNING", config.engine.log_format)
    bar = _Progress(sys.stderr, "optimize")
    try:
        result = run_optimize(config, space, db_url, trials=args.trials, seed=args.seed, batch=args.batch,
                              objective=args.objective, scheduler=args.scheduler, workers=args.workers,
                              workdir=args.workdir, progress=bar.update, connect_timeout_s=args.scheduler_timeout)
    except Stopped as stopped:
        bar.close()
        print_table(stopped.result, [p.key for p in space.params], db_url, table_console(sys.stdout),
                    stopped=True)
        raise
    bar.close()
    print_table(result, [p.key for p in space.params], db_url, table_console(sys.stdout))
    failed = result.failed
    if failed:
        print(f"arb: error: optimize {result.sweep_id}: {len(failed)} replays failed; first: {failed[0].error}",
              file=sys.stderr)
        return 1
    return 0


def print_table(result: OptimizeResult, keys: list[str], db_url: str, console: Console, *,
                stopped: bool = False) -> None:
    """One row per fold: the files it fitted on and scored on, its study, its trials, the best trial's
    parameters, and that trial's run and figures in-sample, then out-of-sample (the same parameters replayed on
    the next file): the objective, and realized PnL beside it when the objective is another figure. Every
    figure as the sweep's table shows it, in full at any width (``tables.print_in_full``)."""
    objective = result.objective
    figures = [objective] if objective == "realized" else [objective, "realized"]
    title = (f"optimize {result.sweep_id}: the best of {result.trials} trials per fold by {objective} (TPE, seed "
             f"{result.seed}){'; stopped: what was finished' if stopped else ''}")
    table = Table(title=escape(title), title_justify="left")
    for name in ("fold", "in-sample", "out-of-sample", "study", "trials", "best"):
        table.add_column(name, no_wrap=True, justify="right" if name in ("fold", "trials", "best") else "left")
    for key in keys:
        table.add_column(key, no_wrap=True)
    for sample in ("in", "out"):
        table.add_column(f"{sample} run", justify="right", no_wrap=True)
        for figure in figures:
            table.add_column(f"{sample} {figure}", justify="right", no_wrap=True)
    for fold in result.folds:
        best = fold.best
        failed = sum(1 for t in fold.trials if t.value is None)
        done = f"{len(fold.trials)}" + (f" ({failed} failed)" if failed else "")
        cells = [str(fold.number), _label(fold.train), _label(fold.test), fold.study, done,
                 f"#{best.number}" if best else "-"]
        cells += [escape(printable(value_label(k, best.replay.point[k]))) if best else "-" for k in keys]
        cells += _figures(best.replay if best else None, figures)
        cells += _figures(fold.out_of_sample, figures)
        table.add_row(*cells)
    print_in_full(console, table)
    console.print("in-sample: the best of the fold's trials on the file they were chosen on, which flatters it; "
                  "out-of-sample: its parameters replayed once on the next file, which the search never saw.",
                  soft_wrap=True)
    if result.folds:
        first = result.folds[0].study
        console.print(escape(f"studies: {', '.join(f.study for f in result.folds)}; open one with "
                             f"optuna.load_study(study_name=\"{first}\", storage=\"{display_url(db_url)}\")"),
                      soft_wrap=True)


def _label(capture: str) -> str:
    return escape(printable(value_label("capture", capture)))


def _figures(replay: Replay | None, figures: list[str]) -> list[str]:
    """A replay's run and figures as the sweep's table shows them; ``-`` where there is none."""
    if replay is None:
        return ["-"] * (1 + len(figures))
    if replay.totals is None:
        return ["failed", *(["-"] * (len(figures) - 1)), escape(printable(replay.error or ""))]
    return [str(replay.run_id), *(_figure(replay, f) for f in figures)]


def _figure(replay: Replay, figure: str) -> str:
    assert replay.totals is not None
    value = OBJECTIVES[figure](replay.totals)
    return money(value) if figure in ("realized", "expected") else str(value)
