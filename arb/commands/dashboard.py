"""``arb dashboard [--db URL] [--run ID|--last] [--port N]``: the web dashboard of a stored run.

The same pages ``arb run`` serves while it trades (``[monitoring] dashboard_port``), read from the database
only: the run's PnL as settlement stored it, its PnL curve, trades, opportunities, balances and the funnel
its summary recorded. A run still running in another process is followed from its rows as they are
written. Loopback only, read-only; Ctrl-C stops it (exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from arb.commands import Subcommands, arguments
from arb.commands.tables import add_database_arguments, database_url
from arb.errors import StoreError
from arb.store.db import (
    display_url,
    make_reader_engine,
    read_failure,
    require_existing,
)
from arb.store.runs import get_run, latest_run_id

DEFAULT_PORT = 8050


def register(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "dashboard",
        description="Serve a run's dashboard (PnL curve, trades, opportunities, balances, funnel) from the "
        "database, on 127.0.0.1, until Ctrl-C.",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run", type=arguments.run_id, metavar="ID", help="the run to show")
    which.add_argument("--last", action="store_true", help="the most recently started run (the default)")
    add_database_arguments(parser)
    parser.add_argument("--port", type=arguments.port, default=DEFAULT_PORT,
                        help="loopback port (default: %(default)s; 0: any free port)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from arb.monitoring.dashboard.server import DashboardServer

    url = database_url(args)
    require_existing(url)  # reading never creates a database
    server = DashboardServer(url, _chosen_run(url, args.run), args.port)
    run_id = server.run_id

    def listening() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.request_stop)
        print(f"arb dashboard: run {run_id} of {display_url(url)} at {server.url} (Ctrl-C to stop)",
              file=sys.stderr, flush=True)

    asyncio.run(server.serve(listening))
    return 0


def _chosen_run(url: str, run_id: int | None) -> int:
    """``run_id`` if the database holds it, else the latest run; one line naming the problem otherwise (as
    ``arb report`` says it)."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    engine = make_reader_engine(url)
    try:
        with Session(engine) as session:
            chosen = run_id if run_id is not None else latest_run_id(session)
            if chosen is None:
                raise StoreError(f"{display_url(url)} holds no runs yet")
            return get_run(session, chosen).id
    except SQLAlchemyError as exc:
        raise read_failure(url, exc) from exc
    finally:
        engine.dispose()
