"""Balances recorded by a real run: the shipped config (sandbox gate + paper htx, replaying the bundled capture).

Snapshots at run start (stamped with the capture's first event: market time), after each executed pair
(both of its venues, tagged with the opportunity) and at run end; the inventory check reads back
``end - start == implied by the fills`` exactly for every venue and asset; and the README's inventory
query, run unchanged, returns those snapshots.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from arb.config import load_config
from arb.domain.venue import BalanceReport
from arb.engine import Engine
from arb.errors import TransientVenueError
from arb.eventloop.clock import WallClock
from arb.marketdata.capture import read_capture
from arb.runtime.balances import snapshot_balances
from arb.runtime.state import RunState
from arb.runtime.venues import VenueSet
from arb.store import repo
from arb.store.db import make_engine, make_session_factory
from arb.store.models import Balance, Opportunity

from .helpers import BUNDLED, ROOT, config_with


def readme_inventory_query() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    queries = [q for q in re.findall(r"^```sql\s*\n(.*?)^```", readme, re.M | re.S) if "FROM balances" in q]
    assert len(queries) == 1, queries
    return queries[0]


async def test_shipped_run_snapshots_balances_and_they_agree_with_its_fills(db_url: str, tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, extra={'status = "auto"': 'status = "off"'}))
    result = await Engine(config, db_url=db_url, install_signal_handlers=False).run()
    assert result.summary["balance_snapshot_gaps"] == 0
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as s:
            rows = s.scalars(select(Balance).where(Balance.run_id == result.run_id).order_by(Balance.id)).all()
            executed = set(s.scalars(select(Opportunity.id).where(Opportunity.run_id == result.run_id,
                                                                  Opportunity.decision == "executed")))
            check = repo.inventory_check(s, result.run_id)
            readme = s.execute(text(readme_inventory_query())).all()
    finally:
        engine.dispose()
    assert executed, "the shipped config trades the capture's best moments"
    by_kind: dict[str, list[Balance]] = defaultdict(list)
    for row in rows:
        by_kind[row.kind].append(row)
    venues_assets = {(v, a) for v in ("gate", "htx") for a in ("LINK", "USDT")}
    assert {(b.venue, b.asset) for b in by_kind["start"]} == venues_assets
    assert {(b.venue, b.asset) for b in by_kind["end"]} == venues_assets
    assert all(b.opportunity_id is None for b in by_kind["start"] + by_kind["end"])
    # After every executed pair, both of its venues; nothing else.
    after = {(b.opportunity_id, b.venue, b.asset) for b in by_kind["after_pair"]}
    assert after == {(o, v, a) for o in executed for v, a in venues_assets}
    assert len(by_kind["after_pair"]) == len(after)
    assert all(b.total == b.free + b.used for b in rows)
    # The engine's clock: market time. The start is the capture's first event, the end its last moments.
    first = next(read_capture(BUNDLED)).ts
    assert {b.ts for b in by_kind["start"]} == {datetime.fromtimestamp(first / 1000, UTC)}
    start_ts, end_ts = by_kind["start"][0].ts, by_kind["end"][0].ts
    assert all(start_ts < b.ts < end_ts for b in by_kind["after_pair"]) and end_ts.year == 2021

    # The identity, exactly: every change of every balance is explained by the run's fills.
    assert {(r.venue, r.asset) for r in check} == venues_assets
    for r in check:
        assert r.start is not None and r.end is not None
        assert r.end - r.start == r.implied != 0 and r.external_flow == 0, r

    # The README's inventory query: per asset, the start and end totals summed over venues.
    assert readme, "the README's inventory query returns no rows after a real run"
    start_totals = {a: sum((b.total for b in by_kind["start"] if b.asset == a), Decimal(0)) for a in ("LINK", "USDT")}
    end_totals = {a: sum((b.total for b in by_kind["end"] if b.asset == a), Decimal(0)) for a in ("LINK", "USDT")}
    assert [r.asset for r in readme] == ["LINK", "USDT"]
    for r in readme:  # SQLite sums decimal text in floating point; PostgreSQL is exact
        assert abs(Decimal(str(r.at_start)) - start_totals[r.asset]) < Decimal("1e-6")
        assert abs(Decimal(str(r.at_end)) - end_totals[r.asset]) < Decimal("1e-6")


class Up:
    async def balances(self) -> dict[str, BalanceReport]:
        return {"LINK": BalanceReport("LINK", Decimal("1"), Decimal("0.5"))}


class Down:
    async def balances(self) -> dict[str, BalanceReport]:
        raise TransientVenueError("htx", "502 Bad Gateway")


class Queue:
    """Stands in for the decision writer: records what would be queued."""

    def __init__(self) -> None:
        self.snapshots: list[tuple[str, int | None, list[repo.BalanceSnapshot]]] = []

    def add_balances(self, run_id: int, ts: datetime, rows: Any, *, kind: str, opportunity_id: int | None = None,
                     ) -> None:
        self.snapshots.append((kind, opportunity_id, list(rows)))


async def test_a_failed_balance_read_after_a_pair_is_a_counted_gap_not_the_end_of_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = RunState()
    venues = VenueSet(venues={"gate": Up(), "htx": Down()})  # two spot venues: no margin account
    queue: Any = Queue()
    with caplog.at_level(logging.WARNING, logger="arb.engine"):
        await snapshot_balances(venues, state, queue, WallClock().now, 1, "after_pair", ("gate", "htx"),
                                opportunity_id=7)
    assert queue.snapshots == [("after_pair", 7, [repo.BalanceSnapshot("gate", "LINK", Decimal(1), Decimal("0.5"),
                                                                      Decimal("1.5"))])]
    assert state.balance_snapshot_gaps == 1 and state.stale_balances == {"htx"}
    assert "the after_pair balance snapshot after opportunity 7 has no htx" in caplog.text
    # At the start it is an error: nothing trades on balances that could not be read.
    with pytest.raises(TransientVenueError):
        await snapshot_balances(venues, state, queue, WallClock().now, 1, "start")
