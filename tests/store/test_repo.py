"""Repository functions and report queries, against the populated database on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arb.errors import StoreError
from arb.store import repo
from arb.store.models import Balance, Fill, Opportunity, Run
from arb.store.runs import get_run, latest_run_id

if TYPE_CHECKING:
    from conftest import Populated

NOW = datetime(2026, 2, 1, tzinfo=UTC)


def test_runs(populated: Populated) -> None:
    with populated.factory() as s:
        assert latest_run_id(s) == populated.run_id != populated.old_run_id
        latest = get_run(s, populated.run_id)
        assert latest.mode == "paper" and latest.ended_at is not None
        assert latest.summary == {"detected": 8, "executed": 2}
        with pytest.raises(StoreError, match="no run with id 999"):
            get_run(s, 999)


def test_latest_run_of_an_empty_database(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s:
        assert latest_run_id(s) is None


def test_end_run_summary_keeps_decimals_exact(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        run = repo.start_run(s, mode="replay", config_snapshot={"fee": Decimal("0.001")}, started_at=NOW)
        repo.end_run(s, run.id, ended_at=NOW, summary={"pnl": Decimal("0.1"), "at": NOW, "n": 3})
        run_id = run.id
    with session_factory() as s:
        run = get_run(s, run_id)
        assert run.summary == {"pnl": "0.1", "at": "2026-02-01T00:00:00+00:00", "n": 3}
        assert Decimal(run.summary["pnl"]) == Decimal("0.1")
        assert run.config_snapshot == {"fee": "0.001"}


def test_every_run_ends_completed_failed_or_crashed(session_factory: sessionmaker[Session]) -> None:
    market = datetime(2021, 8, 20, tzinfo=UTC)
    with session_factory.begin() as s:
        done = repo.start_run(s, mode="replay", config_snapshot={}, started_at=NOW, pid=11, host="a")
        assert (done.status, done.pid, done.host, done.ended_at) == ("running", 11, "a", None)
        repo.end_run(s, done.id, ended_at=NOW, summary={}, market_started_at=market, market_ended_at=market)
        failed = repo.start_run(s, mode="live", config_snapshot={}, started_at=NOW, pid=12, host="a",
                                market_started_at=NOW)
        repo.fail_run(s, failed.id, reason="gate: Invalid key\n  [INVALID_KEY]", ended_at=NOW, market_ended_at=NOW)
        dead = repo.start_run(s, mode="paper", config_snapshot={}, started_at=NOW, pid=13, host="b").id
        finder = repo.start_run(s, mode="paper", config_snapshot={}, started_at=NOW, pid=14, host="a").id
        assert [r.id for r in repo.mark_crashed(s, found_by=finder)] == [dead]
        assert repo.mark_crashed(s, found_by=finder) == []
    with session_factory() as s:
        rows = {r.id: r for r in s.scalars(select(Run))}
    assert (rows[done.id].status, rows[done.id].ended_at, rows[done.id].market_started_at,
            rows[done.id].market_ended_at) == ("completed", NOW, market, market)
    assert (rows[failed.id].status, rows[failed.id].status_reason, rows[failed.id].ended_at,
            rows[failed.id].market_started_at) == ("failed", "gate: Invalid key [INVALID_KEY]", NOW, NOW)
    assert (rows[dead].status, rows[dead].status_reason, rows[dead].ended_at) == (
        "crashed", f"process 13 on host b died; found by run {finder}", None)
    assert rows[finder].status == "running"


def test_a_forced_exit_marks_its_own_run_crashed_and_only_while_it_runs(
        session_factory: sessionmaker[Session]) -> None:
    """A second Ctrl-C: the run's own process marks it ``crashed`` with why and when; a run that has ended (the
    signal came as its summary printed) keeps its end, and a later start finds nothing left ``running``."""
    later = datetime(2026, 2, 1, 0, 5, tzinfo=UTC)
    with session_factory.begin() as s:
        forced = repo.start_run(s, mode="live", config_snapshot={}, started_at=NOW, pid=21, host="a").id
        ended = repo.start_run(s, mode="replay", config_snapshot={}, started_at=NOW, pid=22, host="a").id
        repo.end_run(s, ended, ended_at=NOW, summary={})
        reason = "forced to exit by a second SIGINT: 3 queued decision rows not written;\norders in flight ..."
        assert repo.mark_forced(s, forced, reason=reason, ended_at=later) is True
        assert repo.mark_forced(s, ended, reason=reason, ended_at=later) is False
        assert repo.mark_forced(s, forced, reason="again", ended_at=NOW) is False  # crashed already: kept
        finder = repo.start_run(s, mode="live", config_snapshot={}, started_at=later, pid=23, host="a").id
        assert repo.mark_crashed(s, found_by=finder) == []
    with session_factory() as s:
        rows = {r.id: r for r in s.scalars(select(Run))}
    assert (rows[forced].status, rows[forced].status_reason, rows[forced].ended_at) == (
        "crashed", "forced to exit by a second SIGINT: 3 queued decision rows not written; orders in flight ...", later)
    assert (rows[ended].status, rows[ended].status_reason, rows[ended].ended_at) == ("completed", None, NOW)


@pytest.mark.parametrize(
    "snapshot",
    [
        {"venues": {"gate": {"api_secret": "hunter2"}}},
        {"venues": [{"apiKey": "abc123"}]},
        {"store": {"url": "postgresql://arb:hunter2@db/arb"}},
    ],
)
def test_start_run_refuses_unmasked_secrets(session_factory: sessionmaker[Session], snapshot: dict) -> None:
    with pytest.raises(StoreError, match="refusing") as info, session_factory.begin() as s:
        repo.start_run(s, mode="live", config_snapshot=snapshot, started_at=NOW)
    assert "hunter2" not in str(info.value) and "abc123" not in str(info.value)
    with session_factory() as s:
        assert latest_run_id(s) is None


def test_start_run_accepts_masked_secrets(session_factory: sessionmaker[Session]) -> None:
    snapshot = {"venues": {"gate": {"credentials": "*** (from environment)", "api_secret": "***"}},
                "store": {"url": "postgresql://arb:***@db/arb"}}
    with session_factory.begin() as s:
        assert repo.start_run(s, mode="live", config_snapshot=snapshot, started_at=NOW).config_snapshot == snapshot


def test_floats_are_refused_in_json_too() -> None:
    with pytest.raises(TypeError, match="floats"):
        repo.jsonable({"pnl": 0.1})


def test_record_opportunities_in_bulk_returns_ids_in_order(populated: Populated) -> None:
    rows = [
        {"run_id": populated.run_id, "detected_at": NOW, "symbol": "BTC/USDT", "buy_venue": "gate",
         "sell_venue": "okx", "size": Decimal(i + 1), "buy_price": Decimal("100"), "sell_price": Decimal("100.5"),
         "expected_profit": Decimal("-0.1"), "decision": "rejected", "reason": "below_min_profit",
         **({"detail": {"levels": [Decimal("100.1"), Decimal("100.2")]}} if i == 1 else {})}
        for i in range(50)
    ]
    with populated.factory.begin() as s:
        ids = repo.record_opportunities(s, rows)
    assert len(ids) == 50 and len(set(ids)) == 50
    with populated.factory() as s:
        got = {o.id: o for o in s.scalars(select(Opportunity).where(Opportunity.id.in_(ids)))}
    assert [got[i].size for i in ids] == [Decimal(i + 1) for i in range(50)]
    assert got[ids[1]].detail == {"levels": ["100.1", "100.2"]} and got[ids[0]].detail is None


def test_the_writers_prepared_rows_equal_record_opportunities(populated: Populated) -> None:
    """``OpportunityRows`` (the batched writer's path) stores what ``record_opportunities`` stores, as the
    database holds it: exact decimal text or NUMERIC, UTC timestamps, JSON detail, NULL for what is left out."""
    from enum import Enum

    class Why(Enum):
        LOW = "below_min_profit"

    rows = [
        {"run_id": populated.run_id, "detected_at": datetime(2026, 2, 1, 12, 0, 0, 123456, tzinfo=UTC),
         "symbol": f"S{i}/USDT", "buy_venue": "gate", "sell_venue": "okx", "size": Decimal("1.25") * (i + 1),
         "buy_price": Decimal("100.000000000001"), "sell_price": Decimal("100.5"),
         "expected_profit": Decimal("-0.123456789012"), "decision": "rejected", "reason": Why.LOW,
         "buy_fee_rate": Decimal("0.001"), "buy_book_seq": 17 if i else None, "buy_book_age_ms": i,
         **({"detail": {"levels": [Decimal("100.1"), Decimal("100.2")]}} if i == 1 else {})}
        for i in range(3)
    ]
    prepared = repo.OpportunityRows(populated.factory.kw["bind"].dialect)
    with populated.factory.begin() as s:
        orm_ids = repo.record_opportunities(s, rows)
    with populated.factory.begin() as s:
        prepared.write(s.connection(), [prepared.params(row) for row in rows])
    columns = ", ".join(c.name for c in Opportunity.__table__.columns if c.name != "id")
    with populated.factory() as s:
        raw = s.connection().exec_driver_sql(f"SELECT {columns} FROM opportunities WHERE id >= {min(orm_ids)} "
                                             "ORDER BY id").all()
    assert len(raw) == 6 and raw[:3] == raw[3:]
    with pytest.raises(ValueError, match="buy_vwap"):  # a bad row is refused where it is queued
        prepared.params({"run_id": populated.run_id, "buy_vwap": Decimal(1)})
    with pytest.raises(TypeError):  # a float would lose exactness: refused, as by the ORM
        prepared.params({**rows[0], "size": 1.25})


def test_a_rejection_queued_as_itself_is_stored_as_its_columns_are(populated: Populated) -> None:
    """``write_rejected`` (the writer's row of a detection's ``Rejection``, in a statement of the columns it sets)
    stores what ``record_opportunities`` stores of ``opportunity_columns``: sized and unsized, a sequence or
    none, an exponent-notation Decimal; the settlement columns NULL and the strategy detection's."""
    from arb.detection.record import REJECTION_COLUMNS, opportunity_columns, rejection_columns
    from arb.detection.types import Reason, Rejection

    at = datetime(2026, 2, 1, 12, 0, 0, 123456, tzinfo=UTC)
    unsized = Rejection(Reason.UNPROFITABLE_AFTER_FEES, "BTC/USDT", "gate", "okx", Decimal("100.12"),
                        Decimal("1E+2"), Decimal("0.001"), Decimal("0.0015"), Decimal("-6.99"), True, 17, None, 3, 0)
    sized = Rejection(Reason.BOOK_STALE, "ETH/USDT", "okx", "gate", Decimal("2000.5"), Decimal("2001.25"),
                      Decimal("0.002"), Decimal("0.001"), Decimal("3.7485"), True, 5, 6, 5000, 12,
                      size=Decimal("0.250"), buy_amount=Decimal("0.2506"), buy_vwap=Decimal("2000.55"),
                      sell_vwap=Decimal("2001.2"), buy_limit=Decimal("2000.6"), sell_limit=Decimal("2001.1"),
                      expected_profit=Decimal("-0.8375"), edge_bps=Decimal("3.25"))
    assert tuple(rejection_columns(unsized)) == REJECTION_COLUMNS
    prepared = repo.OpportunityRows(populated.factory.kw["bind"].dialect)
    with populated.factory.begin() as s:
        orm_ids = repo.record_opportunities(s, [{"run_id": populated.run_id, "detected_at": at,
                                                 **opportunity_columns(r)} for r in (unsized, sized)])
    with populated.factory.begin() as s:
        prepared.write_rejected(s.connection(), [(populated.run_id, at, r) for r in (unsized, sized)])
    columns = ", ".join(c.name for c in Opportunity.__table__.columns if c.name != "id")
    with populated.factory() as s:
        raw = s.connection().exec_driver_sql(f"SELECT {columns} FROM opportunities WHERE id >= {min(orm_ids)} "
                                             "ORDER BY id").all()
        stored = s.scalars(select(Opportunity).where(Opportunity.id > orm_ids[1]).order_by(Opportunity.id)).all()
    assert len(raw) == 4 and raw[:2] == raw[2:]
    assert [(o.strategy, o.realized_pnl, o.settled_at, o.buy_price, o.detail["best_bid"]) for o in stored] == [
        ("taker", None, None, Decimal("100.12"), "1E+2"), ("taker", None, None, Decimal("2000.55"), "2001.25")]


def test_record_opportunities_rejects_unknown_columns(populated: Populated) -> None:
    with populated.factory() as s, pytest.raises(ValueError, match="buy_vwap"):
        repo.record_opportunities(s, [{"run_id": populated.run_id, "buy_vwap": Decimal(1)}])


def test_record_opportunities_of_nothing(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        assert repo.record_opportunities(s, []) == []
        assert repo.record_balances(s, 1, NOW, [], kind="start") == 0


def test_latest_balances(populated: Populated) -> None:
    with populated.factory() as s:
        latest = repo.latest_balances(s, populated.run_id)
        assert s.scalar(select(func.count()).select_from(Balance)) == 12
    assert [(b.venue, b.asset, b.total) for b in latest] == [
        ("gate", "BTC", Decimal("0.4995")), ("gate", "ETH", Decimal("0.5")), ("gate", "USDT", Decimal("3951.4895")),
        ("okx", "BTC", Decimal("0.5")), ("okx", "ETH", Decimal("1.5")), ("okx", "USDT", Decimal("2044.95")),
    ]


def test_asset_flows_explain_the_balance_change(populated: Populated) -> None:
    """Fills alone reproduce end-minus-start balances on every venue, to the last digit.

    Checks the populated fixture's numbers are consistent, and the inventory check ``arb report`` reads with it.
    """
    with populated.factory() as s:
        checked = repo.inventory_check(s, populated.run_id)
        rows = s.scalars(select(Balance).where(Balance.run_id == populated.run_id).order_by(Balance.ts)).all()
    start = {(b.venue, b.asset): b.total for b in rows if b.ts == rows[0].ts}
    end = {(b.venue, b.asset): b.total for b in rows if b.ts == rows[-1].ts}
    implied = {(r.venue, r.asset): r.implied for r in checked}
    assert set(implied) == set(start) == set(end) and all(implied.values())  # every asset was traded
    assert {key: end[key] - start[key] for key in start} == implied
    assert all(r.external_flow == 0 for r in checked)


def test_fill_count(populated: Populated) -> None:
    with populated.factory() as s:
        assert s.scalar(select(func.count()).select_from(Fill)) == 6
