"""``arb replay CAPTURE``: ``arb run`` in replay mode on CAPTURE: a deterministic simulation into the database."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys

from arb.commands import Subcommands
from arb.commands.arguments import capture_argument
from arb.commands.run import HALTED_EXIT
from arb.config import DEFAULT_CONFIG, ReplaySection, load_config
from arb.display import Precision
from arb.errors import ConfigError
from arb.marketdata.timeline import capture_files, no_capture_there
from arb.runtime.logs import setup_logging
from arb.store.location import DB_URL_ENV


def register(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "replay",
        description="Replay CAPTURE (the arb capture format, .jsonl or .jsonl.gz) through the normalized "
        "books, detection and execution on the config's simulated venues (each venue as its config's kind: "
        "paper in-process, sandbox through the in-process sandbox; the same matcher behind both), "
        "writing the run, its opportunities (executed and rejected, with reasons), orders and fills to the "
        "database, and print the funnel summary. The same rows as `arb run` with mode = \"replay\" and "
        "[replay] capture = CAPTURE, and as a sweep point of that config.",
    )
    parser.add_argument("capture", type=capture_argument,
                        help="capture file, bundled:<name> (as in the config), or a directory or quoted glob of "
                        "capture files (a day per file) replayed in name order as one timeline")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="config file (default: %(default)s)")
    parser.add_argument("--db", default=None, help=f"database URL (default: ${DB_URL_ENV}, else [store] url of the config)")
    parser.add_argument("--speed", type=float, default=0.0, help="0 = as fast as possible, 1 = recorded speed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from arb.engine import Engine  # here, not at the top: see arb/commands/run.py
    from arb.runtime.summary import render_summary

    config = load_config(args.config)
    if not capture_files(args.capture):
        raise ConfigError(str(args.capture), "", no_capture_there(args.capture))
    if not (math.isfinite(args.speed) and args.speed >= 0):
        raise ConfigError("--speed", "", f"must be a finite number >= 0 (got {args.speed})")
    config = dataclasses.replace(
        config,
        engine=config.engine.model_copy(update={"mode": "replay"}),
        replay=ReplaySection(capture=str(args.capture.resolve()), speed=args.speed),
    )
    setup_logging(config.engine.log_level, config.engine.log_format)
    engine = Engine(config, db_url=args.db or os.environ.get(DB_URL_ENV), capture=args.capture, mode="replay")
    result = engine.main()
    print(render_summary(result.summary, Precision.from_snapshot(config.snapshot())), flush=True)
    print(f"run id {result.run_id}", flush=True)
    if result.halted:
        print(f"arb: halted: {result.halted}", file=sys.stderr, flush=True)
        return HALTED_EXIT
    return 0
