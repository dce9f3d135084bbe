"""Reading the venues' balances during a run: the free amounts detection sizes on (a margin account's in
what its margin can buy: ``VenueSet.sizing_funds``), and the ``balances``
snapshots the inventory check reads back (run start, after each executed pair, run end).

Shared by the lifecycle (start and end snapshots) and the decision loop (after a pair, after a
reconciliation, and before trading on a venue whose last read failed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

from arb.domain.venue import BalanceReport, FundingReport
from arb.errors import VenueError
from arb.runtime.state import RunState
from arb.runtime.venues import VenueSet
from arb.runtime.writer import DecisionWriter
from arb.store import repo

# The engine's records keep the engine's logger name, which log filters and JSON log consumers key on.
log = logging.getLogger("arb.engine")


async def refresh_balances(venues: VenueSet, state: RunState, names: Iterable[str] | None = None, *,
                           strict: bool = True) -> dict[str, dict[str, BalanceReport]]:
    """Read balances into ``state``; what was read, by venue. ``strict=False`` (mid-run): a venue that cannot
    answer (a 5xx burst) does not end the run; it is marked stale and kept out of trading until a read
    succeeds."""
    read: dict[str, dict[str, BalanceReport]] = {}
    for name in names or venues.venues:
        account = venues.margin.get(name)
        try:
            reports = await venues.venues[name].balances()
            if account is not None and account.refresh is not None:  # a live margin account: its positions too
                await account.refresh()
        except VenueError as exc:
            if strict:
                raise
            log.warning("balances on %s unavailable (%s); no pairs there until they are read again", name,
                        exc.__class__.__name__)
            state.stale_balances.add(name)
            continue
        state.stale_balances.discard(name)
        state.free[name] = {asset: b.free for asset, b in reports.items()}
        state.balances[name] = venues.sizing_funds(name, state.free[name])
        _read_margin(venues, state, name, reports)
        read[name] = reports
    return read


async def snapshot_balances(venues: VenueSet, state: RunState, writer: DecisionWriter, now: Callable[[], datetime],
                            run_id: int, kind: str, names: Iterable[str] | None = None, *,
                            opportunity_id: int | None = None) -> None:
    """Read balances (as :func:`refresh_balances`) and queue them as one ``balances`` snapshot of ``kind``
    (start / after_pair / end), stamped ``now()`` once they are read (the run's clock).

    ``start`` is strict: nothing trades on balances that could not be read. After a pair and at the end,
    a venue whose read fails is missing from that snapshot: warned about and counted in the summary
    (``balance_snapshot_gaps``), never filled in with older numbers."""
    names = list(names or venues.venues)
    read = await refresh_balances(venues, state, names, strict=kind == "start")
    ts = now()
    for name in names:
        if name not in read:
            state.balance_snapshot_gaps += 1
            log.warning("the %s balance snapshot%s has no %s: its balance read failed", kind,
                        "" if opportunity_id is None else f" after opportunity {opportunity_id}", name)
    rows = [repo.BalanceSnapshot(name, asset, b.free, b.used, b.total)
            for name in names if name in read for asset, b in sorted(read[name].items())]
    writer.add_balances(run_id, ts, rows, kind=kind, opportunity_id=opportunity_id)


def _read_margin(venues: VenueSet, state: RunState, name: str, reports: dict[str, BalanceReport]) -> None:
    """A margin account's figures from the wallet just read and its positions at the books' mids, kept in
    ``state`` and told to ``state.on_margin``; nothing for a spot venue, or where positions are unknown."""
    account = venues.margin.get(name)
    if account is None:
        return
    settle = next(iter(sorted({settle for _, settle in account.markets.values()})))
    wallet = reports[settle].total if settle in reports else Decimal(0)
    reading = account.margin(name, wallet)
    if reading is None:
        return
    state.margin[name] = reading
    if state.on_margin is not None:
        state.on_margin(name, reading)


async def venue_funding(venues: VenueSet, last: Callable[[str, str], datetime | None],
                        since: datetime) -> list[FundingReport]:
    """The funding live margin accounts' venues paid (or charged) that is not stored yet: each venue's funding
    history after ``last(venue, symbol)`` (the latest funding time stored, by any run; ``since`` when none),
    oldest first. What a restart stores of what was paid while nothing ran, and a run's end of what was
    paid meanwhile. The venue states the amount alone (rate, mark and position left NULL). A venue that
    cannot answer is warned about and read again next time (nothing is lost: its history stays)."""
    out: list[FundingReport] = []
    for name, account in venues.margin.items():
        if account.funding is None:
            continue  # a simulated venue's funding is paid, and stored, as it happens
        for symbol, (_, settle) in account.markets.items():
            after = last(name, symbol)
            try:
                paid = await account.funding(symbol, after or since)
            except VenueError as exc:
                log.warning("funding history on %s unavailable (%s); read again at the next reconciliation", name,
                            exc.__class__.__name__)
                continue
            out += [FundingReport(name, symbol, ts, None, None, None, amount, settle)
                    for ts, amount in paid if after is None or ts > after]
    return out
