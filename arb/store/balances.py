"""A run's balances as ``arb balances``, ``arb report`` and the dashboard show them: per venue and asset, the
start and end snapshots (read through the inventory check, ``repo.inventory_check``), or while a run has no
end yet, its latest snapshot standing in; and their totals per asset."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from arb.domain.market import EXACT
from arb.store.models import Balance
from arb.store.repo import inventory_check, latest_balances
from arb.store.views import ZERO


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """One asset on one venue (``venue`` None: summed over every venue): the totals of the run's ``start``
    and ``end`` balance snapshots (``arb.inventory``; None where that snapshot is missing)."""

    venue: str | None
    asset: str
    start: Decimal | None
    end: Decimal | None

    @property
    def change(self) -> Decimal | None:
        return None if self.start is None or self.end is None else EXACT.subtract(self.end, self.start)


def balances(session: Session, run_id: int) -> list[BalanceRow]:
    """Per venue and asset, sorted: start and end, read through the inventory check ``arb report`` uses."""
    return [BalanceRow(r.venue, r.asset, r.start, r.end) for r in inventory_check(session, run_id)]


def balances_now(session: Session, run_id: int) -> tuple[list[BalanceRow], datetime | None]:
    """What ``arb balances`` shows, ended or not: :func:`balances` once the run has its ``end`` snapshot
    (then None); while it has none (a run still going, or one that died), each (venue, asset)'s latest
    stored snapshot (the start, or the one after its venue's last pair) stands in for the end, and the time
    of the newest of them is returned."""
    ended = session.scalar(select(Balance.id).where(Balance.run_id == run_id, Balance.kind == "end").limit(1))
    if ended is not None:
        return balances(session, run_id), None
    Totals = dict[tuple[str | None, str], Decimal | None]  # (venue, asset) -> total
    start: Totals = {(r.venue, r.asset): r.start for r in balances(session, run_id)}  # and the fills' assets
    latest = latest_balances(session, run_id)
    now: Totals = {(b.venue, b.asset): b.total for b in latest}
    read = {venue for venue, _ in now}  # a venue read holds 0 of an asset its snapshots do not name
    rows = [BalanceRow(venue, asset, start.get((venue, asset)), now.get((venue, asset), ZERO if venue in read else None))
            for venue, asset in sorted(start.keys() | now.keys())]
    return rows, max((b.ts for b in latest), default=None)


def balance_totals(rows: Iterable[BalanceRow]) -> list[BalanceRow]:
    """Per asset, summed over venues; a venue with a missing snapshot makes that total missing too."""
    by_asset: dict[str, list[BalanceRow]] = defaultdict(list)
    for row in rows:
        by_asset[row.asset].append(row)
    return [
        BalanceRow(None, asset, _sum_or_none(r.start for r in group), _sum_or_none(r.end for r in group))
        for asset, group in sorted(by_asset.items())
    ]


def _sum_or_none(values: Iterable[Decimal | None]) -> Decimal | None:
    total = ZERO
    for value in values:
        if value is None:
            return None
        total = EXACT.add(total, value)  # a balance of 10^10 to 18 places is 29 digits
    return total
