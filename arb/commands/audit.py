"""``arb audit [--run ID | --since TIME [--until TIME]] [--db URL] [--format text|json]``: the database
against each venue's own history.

For a run (the latest by default) or a window of time, every venue whose history outlives the run (a live
venue; a sandbox in another process, reached over HTTP as a live venue is) is asked for its orders and
trades, page by page (:meth:`arb.venues.live.venue.LiveVenue.order_history`, ``trade_history``, and the
orders open now), through its adapter as ``arb run`` opens it: how to reach it comes from the run's stored
config (a window's: the latest run started before its end), the keys from the environment as ``arb run`` reads
them. :mod:`arb.execution.audit` holds the two sides against each other; nothing is written.

Output: one line per finding (missing, extra, different, naming venue, symbol, ids and both values), then
one line of totals; a clean audit is one line, "audit: N orders and M fills on gate match the database" (then
"; K orders refused by gate, never on it" when the database holds orders the venue refused: no row there).
Exit status: 0 clean, 1 when anything differs (or a venue cannot be read: its error line instead), 2 for
bad input, a run or window with no venue to audit among it (a replay, paper venues, an in-process sandbox:
nothing outlived the run to compare with, so no audit passed, and a script must not read 0 as a pass).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from arb.commands import arguments
from arb.commands.tables import add_database_arguments, database_url, timestamp
from arb.errors import StoreError, UsageError

# Venue rows are read this far beyond the audited span on each side: the venue's clock and arb's differ, and
# a row there counts only if it matches a stored one (arb.execution.audit).
SKEW = timedelta(seconds=60)
IN_CHUNK = 500  # ids per IN (...) when looking venue rows up in the database


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        description="Hold the database against each live venue's own order and trade history, for a run or a "
        "window: one line per order or fill missing from the database, extra in it, or different (both "
        "values named); exit 1 when anything differs.",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run", type=arguments.run_id, metavar="ID", help="the run to audit (default: the latest)")
    which.add_argument("--since", type=iso_time, metavar="TIME",
                       help="audit a window from this ISO time (UTC unless it says; e.g. 2026-11-25T09:00:00Z)")
    parser.add_argument("--until", type=iso_time, metavar="TIME", help="the window's end (default: now)")
    add_database_arguments(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text (one line per finding) or json (exact)")
    parser.set_defaults(func=run_audit)


def iso_time(text: str) -> datetime:
    """An ISO 8601 time; one without a zone is UTC."""
    try:
        ts = datetime.fromisoformat(text.strip())
    except ValueError:
        shown = text if len(text) <= 40 else f"{text[:36]}..."
        raise argparse.ArgumentTypeError(f"not an ISO time: {shown!r} (e.g. 2026-11-25T09:00:00Z)") from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


@dataclass
class _Scope:
    """What is audited: its words for people, the span asked about, the snapshot that says how to reach
    the venues, and the database's rows of it per venue."""

    label: str
    since: datetime
    until: datetime
    snapshot: dict[str, Any]
    run_id: int | None


def run_audit(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from arb.execution.audit import history_venues
    from arb.store.db import make_reader_engine, make_session_factory, read_failure, require_existing

    if args.until is not None and args.since is None:
        raise UsageError("arb audit: --until needs --since (a window), or give --run")
    if args.since is not None and args.until is not None and args.since >= args.until:
        raise UsageError(f"arb audit: --since {timestamp(args.since)} is not before --until {timestamp(args.until)}")
    url = database_url(args)
    require_existing(url)
    engine = make_reader_engine(url)
    try:
        sessions = make_session_factory(engine)
        with sessions() as s:
            scope = _scope(s, args)
            audited, skipped = history_venues(scope.snapshot)
            if not audited:
                reasons = "; ".join(f"{v}: {why}" for v, why in skipped.items()) or "it has no venues"
                raise UsageError(f"audit: {scope.label} has no venue whose history outlives it ({reasons}); "
                                 "nothing to audit")
            stored = {venue: _stored(s, venue, scope) for venue in audited}
        config = _config(scope)
        read = asyncio.run(_read_venues(config, audited, {v: rows.span for v, rows in stored.items()}))
        with sessions() as s:
            known = {venue: _known(s, venue, stored[venue], *read[venue]) for venue in audited}
    except SQLAlchemyError as exc:
        raise read_failure(url, exc) from exc
    finally:
        engine.dispose()
    results = [_audit(venue, stored[venue], read[venue], known[venue], scope) for venue in audited]
    _print(args.format, scope, results, skipped)
    return 1 if any(r.findings for r in results) else 0


def _scope(s: Any, args: argparse.Namespace) -> _Scope:
    from sqlalchemy import select

    from arb.store.models import Run
    from arb.store.runs import get_run, latest_run_id

    if args.since is not None:
        since, until = args.since, args.until or datetime.now(UTC)
        # The venues a window is asked about are those of the latest run started before its end: a day's
        # audit after a restart, or of the hours since the last run stopped, is of that run's accounts.
        run = s.execute(select(Run).where(Run.started_at <= until).order_by(Run.started_at.desc(), Run.id.desc())
                        .limit(1)).scalar_one_or_none()
        if run is None:
            raise UsageError(f"audit: no run in the database started before {timestamp(until)}: no stored config "
                             "says which venues to ask")
        return _Scope(f"the window {timestamp(since)} -> {timestamp(until)}", since, until, run.config_snapshot, None)
    run_id = args.run if args.run is not None else latest_run_id(s)
    if run_id is None:
        raise StoreError("the database holds no runs yet")
    run = get_run(s, run_id)
    until = run.ended_at or datetime.now(UTC)
    return _Scope(f"run {run.id}", run.started_at, until, run.config_snapshot, run.id)


@dataclass
class _Stored:
    orders: list[Any]  # StoredOrder
    fills: list[Any]  # StoredFill
    span: tuple[datetime, datetime]  # what to read of the venue: the scope and every stored row, with skew


def _stored(s: Any, venue: str, scope: _Scope) -> _Stored:
    """The venue's rows of the scope: a run's orders (and their fills); a window's orders made in it, and
    every fill made in it (an older order's too)."""
    from sqlalchemy import or_, select

    from arb.execution.audit import StoredFill, StoredOrder
    from arb.store.models import Fill, Order

    if scope.run_id is not None:
        orders = s.execute(select(Order).where(Order.venue == venue, Order.run_id == scope.run_id)).scalars().all()
    else:
        orders = s.execute(select(Order).where(Order.venue == venue, Order.created_at >= scope.since,
                                               Order.created_at <= scope.until)).scalars().all()
    held = [Fill.order_id.in_(chunk) for chunk in _chunks([o.id for o in orders])]
    if scope.run_id is None:
        held.append(Fill.ts.between(scope.since, scope.until))
    fills = s.execute(select(Fill).where(Fill.venue == venue, or_(*held))).scalars().all() if held else []
    times = [scope.since, scope.until, *(o.created_at for o in orders), *(o.updated_at for o in orders),
             *(f.ts for f in fills)]
    return _Stored(
        [StoredOrder(o.client_order_id, o.venue_order_id, o.symbol, o.side, o.amount, o.price, o.filled, o.status)
         for o in orders],
        [StoredFill(f.trade_id, f.order.client_order_id, f.order.venue_order_id, f.order.symbol, f.order.side,
                    f.amount, f.price, f.fee, f.fee_currency) for f in fills],
        (min(times) - SKEW, max(times) + SKEW))


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    return (values[i:i + IN_CHUNK] for i in range(0, len(values), IN_CHUNK))


def _config(scope: _Scope) -> Any:
    from arb.config.load import config_from_snapshot

    shown = f"{scope.label}'s stored config" if scope.run_id is not None else f"the stored config of {scope.label}"
    return config_from_snapshot(scope.snapshot, shown)


async def _read_venues(config: Any, venues: Sequence[str],
                       spans: dict[str, tuple[datetime, datetime]]) -> dict[str, tuple[list[Any], list[Any]]]:
    """Each venue's orders (finished in its span, and open now) and trades, under the engine's symbols."""
    from arb.venues.live import LiveVenue
    from arb.venues.live.errors import translating
    from arb.venues.registry import ref_for
    from arb.venues.throttle import FETCH_FILLS, FETCH_OPEN

    closers: list[Any] = []
    out: dict[str, tuple[list[Any], list[Any]]] = {}
    try:
        for name in venues:
            ref = ref_for(config, name)
            with translating(name):
                guarded: Any = await ref.adapter.open_history(config, ref, closers)
                venue = guarded
                while not isinstance(venue, LiveVenue):  # the ccxt venue under its throttle guard
                    venue = venue.inner
                throttle = getattr(guarded, "throttle", None)  # each page waits for the venue's budget
                names = config.venue_markets(name)
                since, until = spans[name]
                orders: list[Any] = []
                fills: list[Any] = []
                for symbol in names.symbols:
                    market = names.market(symbol)
                    found = [*await venue.order_history(market, since, until, _pace(throttle, FETCH_OPEN, market)),
                             *await guarded.fetch_open_orders(market)]
                    orders += [dataclasses.replace(o, symbol=symbol) for o in found]
                    fills += [dataclasses.replace(f, symbol=symbol, fee_currency=names.engine_asset(f.fee_currency))
                              for f in await venue.trade_history(market, since, until,
                                                                  _pace(throttle, FETCH_FILLS, market))]
                out[name] = (orders, fills)
    finally:
        for close in reversed(closers):
            await close()
    return out


def _pace(throttle: Any, endpoint: str, market: str) -> Any:
    """What a page of history waits for: its endpoint's slot in the venue's throttle (None: not throttled)."""
    return None if throttle is None else lambda: throttle.acquire(endpoint, market)


def _known(s: Any, venue: str, stored: _Stored, orders: list[Any], fills: list[Any]) -> Any:
    """The ids of the venue's rows that the database holds beyond the audited selection."""
    from sqlalchemy import select

    from arb.execution.audit import Known
    from arb.store.models import Fill, Order

    selected_orders = {o.client_order_id for o in stored.orders} | {o.venue_order_id for o in stored.orders}
    client_ids = [o.client_order_id for o in orders if o.client_order_id and o.client_order_id not in selected_orders]
    venue_ids = [o.venue_order_id for o in orders if o.venue_order_id and o.venue_order_id not in selected_orders]
    selected_fills = {f.trade_id for f in stored.fills}
    trade_ids = [f.trade_id for f in fills if f.trade_id not in selected_fills]
    found_clients: set[str] = set()
    found_venue: set[str] = set()
    found_trades: set[str] = set()
    for chunk in _chunks(client_ids):
        found_clients |= set(s.scalars(select(Order.client_order_id).where(Order.client_order_id.in_(chunk))))
    for chunk in _chunks(venue_ids):
        found_venue |= set(s.scalars(select(Order.venue_order_id).where(Order.venue == venue,
                                                                       Order.venue_order_id.in_(chunk))))
    for chunk in _chunks(trade_ids):
        found_trades |= set(s.scalars(select(Fill.trade_id).where(Fill.venue == venue, Fill.trade_id.in_(chunk))))
    return Known(frozenset(found_clients), frozenset(v for v in found_venue if v), frozenset(found_trades))


def _audit(venue: str, stored: _Stored, read: tuple[list[Any], list[Any]], known: Any, scope: _Scope) -> Any:
    from arb.execution.audit import audit_venue

    orders, fills = read
    return audit_venue(venue, stored.orders, stored.fills, orders, fills, known=known, since=scope.since,
                       until=scope.until)


def _print(fmt: str, scope: _Scope, results: Sequence[Any], skipped: dict[str, str]) -> None:
    findings = [f for r in results for f in r.findings]
    if fmt == "json":
        doc = {"scope": {"run": scope.run_id, "since": timestamp(scope.since), "until": timestamp(scope.until)},
               "venues": {r.venue: {"orders": r.orders, "fills": r.fills, "refused": r.refused,
                                    "findings": len(r.findings)} for r in results},
               "skipped": skipped, "findings": [f.as_dict() for f in findings]}
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    from arb.display import printable

    for finding in findings:
        print(printable(finding.line()))
    venues = " and ".join(f"{r.orders} orders and {r.fills} fills on {r.venue}" for r in results)
    # The stored orders a venue refused, said beside the totals so that they add up to the database's.
    refused = "".join(f"; {r.refused} order{'' if r.refused == 1 else 's'} refused by {r.venue}, never on it"
                      for r in results if r.refused)
    aside = refused + "".join(f"; {v} not audited: {why}" for v, why in skipped.items())
    if findings:
        print(printable(f"audit: {len(findings)} findings in {scope.label} ({venues} compared){aside}"))
    else:
        print(printable(f"audit: {venues} match the database ({scope.label}){aside}"))
