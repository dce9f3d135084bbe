"""``arb latency --run ID --out FILE [--venue NAME] [--db URL]``: a run's order latency as a profile file.

The profile (``arb/venues/latency_profile.py``) is what ``[venues.<name>] latency_profile`` names: a replay, a
paper run or a sweep then draws that venue's order latency from what the run measured. Its figure is the one
every surface shows: each order's ``acked_at - sent_at`` on the run's clock (``arb.store.views.LegRow
.sent_to_ack_ms``, the run summary's and ``arb report``'s latency), over every order of the venue that has both.

The split: a run stores when a request left and when its answer came, not when the venue handled it (Gate's
answer carries the venue's own time, on a clock whose offset from ours is unknown), so each round trip is
taken as half out, half back. The profile says so in its ``source``. Cancels are not in it: a run stores a
cancel's answer, not when the cancel left, so a replay's cancels travel as its orders do. Nor is feed
latency: that is the capture's (its exchange times), not the orders'.

A command rather than a section of ``arb report``: it writes a file for a config to name, and a report is a
read path that prints. Bad input is one line, exit 2: a run the database does not hold, a run without a timed
order (on the venue), an ``--out`` that is the database itself or cannot be written. The database is opened
read-only (``store/db.make_reader_engine``); one that is not there is exit 1, as for ``arb report``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from arb.commands import Subcommands, arguments
from arb.commands.tables import add_database_arguments, database_url
from arb.display import printable, shorten
from arb.errors import UsageError


def register(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "latency",
        description="Write a run's order latency (sent -> acknowledged, each round trip split half out, half "
        "back) as a latency profile for one venue, for [venues.<name>] latency_profile to name.",
    )
    parser.add_argument("--run", type=arguments.run_id, required=True, metavar="ID", help="the run to measure")
    parser.add_argument("--venue", default=None,
                        help="the venue whose orders to measure (default: the one venue of the run with timed orders)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="the profile to write (JSON; replaced if it exists)")
    add_database_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from arb.store.db import require_existing, sqlite_file
    from arb.venues.latency_profile import from_round_trips, quantile, write_profile

    url = database_url(args)
    out: Path = args.out
    _check_out(out, sqlite_file(url))
    require_existing(url)  # reading never creates a database
    run_id, mode, clock, timed = _timed_orders(url, args.run)
    venue = _chosen_venue(run_id, timed, args.venue)
    round_trips = sorted(timed[venue])
    summary = {name: float(quantile(round_trips, Decimal(p))) for name, p in
               (("p50", "0.5"), ("p90", "0.9"), ("p99", "0.99"), ("max", "1"))}
    source: dict[str, Any] = {
        "run": run_id, "mode": mode, "clock": clock, "venue": venue, "orders": len(round_trips),
        "measure": "acked_at - sent_at of each order (the run summary's order latency), in ms",
        "split": "each round trip half out, half back (the run stores no venue-side time)",
        "cancel": "not stored by a run: cancels travel as orders do",
        "round_trip_ms": summary,
    }
    profile = from_round_trips(round_trips, source)
    try:
        write_profile(profile, out)
    except OSError as exc:
        written = exc.filename or str(out)  # the partial file it goes through, when that is what was refused
        raise UsageError(f"--out: cannot write {shorten(str(written))!r}: {exc.strerror or exc}") from None
    print(printable(f"run {run_id} {venue}: {len(round_trips)} orders, round trip median {summary['p50']:g} ms, "
                    f"p90 {summary['p90']:g} ms, max {summary['max']:g} ms ({clock} clock) -> {out} "
                    "(half out, half back)"), file=sys.stdout)
    return 0


def _check_out(out: Path, database: Path | None) -> None:
    """``--out`` names a file in a directory that exists, and not the database it reads (by any name: a link,
    another path to it), nor the partial file it is written through."""
    try:
        if not out.parent.is_dir():
            raise UsageError(f"--out: directory {str(out.parent)!r} does not exist")
        if out.is_dir():
            raise UsageError(f"--out: {str(out)!r} is a directory")
    except OSError as exc:  # a name the system cannot look up (too long)
        raise UsageError(f"--out: cannot write {str(out)[:80]!r}: {exc.strerror or exc}") from None
    if database is None:
        return
    for path in (out, out.with_name(out.name + ".partial")):
        if _same_file(path, database) or path.absolute() == database.absolute():
            raise UsageError(f"--out: {str(out)!r} is the database it reads ({database}): choose another file")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them is not there: not one existing file
        return False


def _timed_orders(url: str, run_id: int) -> tuple[int, str, str, dict[str, list[Decimal]]]:
    """(run id, mode, clock, venue -> the round trip in ms of each of its orders that has both times)."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from arb.store import views
    from arb.store.db import display_url, make_reader_engine, read_failure
    from arb.store.models import Run
    from arb.store.runs import run_clock

    engine = make_reader_engine(url)  # changes no byte of the database
    try:
        with Session(engine) as session:
            found = session.get(Run, run_id)
            if found is None:
                known = session.scalar(select(func.count()).select_from(Run))
                raise UsageError(f"--run {run_id}: no such run in {display_url(url)} ({known} runs)")
            timed: dict[str, list[Decimal]] = defaultdict(list)
            for leg in views.legs(session, run_id):
                if (ms := leg.sent_to_ack_ms) is not None:
                    timed[leg.venue].append(ms)
            return found.id, found.mode, run_clock(found), dict(timed)
    except SQLAlchemyError as exc:
        raise read_failure(url, exc) from exc
    finally:
        engine.dispose()


def _chosen_venue(run_id: int, timed: dict[str, list[Decimal]], venue: str | None) -> str:
    counts = ", ".join(f"{name} ({len(ms)})" for name, ms in sorted(timed.items()))
    if not timed:
        raise UsageError(f"run {run_id} has no order with both a sent and an acknowledged time: nothing to build "
                         "a latency profile from")
    if venue is None:
        if len(timed) > 1:
            raise UsageError(f"run {run_id} has timed orders on {counts}: name one with --venue")
        return next(iter(timed))
    if venue not in timed:
        raise UsageError(f"--venue {venue}: run {run_id} has no order there with both a sent and an acknowledged "
                         f"time (it has on {counts})")
    return venue
