"""``arb run``: the engine process, on the shipped config by default."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from arb.commands import Subcommands
from arb.config import DEFAULT_CONFIG, load_config
from arb.display import Precision
from arb.runtime.logs import setup_logging
from arb.store.location import DB_URL_ENV

# The run halted (the leg policy stopped it with a position it could not hedge): not 0, so a supervisor or
# script notices, and not 1 or 2 (a failure, bad input): the run itself ended in order, and says what is open.
HALTED_EXIT = 3


def register(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "run",
        description="Run the engine: books -> detection -> risk -> executor -> store. With the shipped "
        "config.toml it replays the bundled capture through the local sandbox and a paper venue, "
        "offline, and ends when the capture ends (or on Ctrl-C; twice to force).",
    )
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="config file (default: %(default)s)")
    parser.add_argument("--db", default=None, help=f"database URL (default: ${DB_URL_ENV}, else [store] url of the config)")
    parser.add_argument("--dry-run", action="store_true", help="live books, but orders go to paper venues")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: building the parser imports every command, and the engine (ccxt,
    # alembic, the venues) is most of a second that ``arb --help`` or ``arb report`` has no use for.
    from arb.engine import Engine
    from arb.runtime.summary import render_summary

    config = load_config(args.config)
    if args.dry_run:
        config = dataclasses.replace(config, engine=config.engine.model_copy(update={"dry_run": True}))
    setup_logging(config.engine.log_level, config.engine.log_format)
    result = Engine(config, db_url=args.db or os.environ.get(DB_URL_ENV)).main()
    print(render_summary(result.summary, Precision.from_snapshot(config.snapshot())), flush=True)
    print(f"run id {result.run_id}", flush=True)
    if result.halted:  # one line, and an exit status a supervisor or script can act on
        print(f"arb: halted: {result.halted}", file=sys.stderr, flush=True)
        return HALTED_EXIT
    return 0
