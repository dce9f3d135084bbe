"""The write-ahead record writes exactly the rows the repository's ORM functions write, on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from arb.store import orders as repo
from arb.store.kept import KeptConnection
from arb.store.models import Opportunity, Order, OrderEvent, Run
from arb.store.write_ahead import WriteAheadRecord, _SqliteRows

OPP = dict(
    symbol="LINK/USDT", buy_venue="gate", sell_venue="htx", size=Decimal("1.25"), buy_vwap=Decimal("20.0125"),
    sell_vwap=Decimal("20.2"), buy_limit=Decimal("20.02"), sell_limit=Decimal("20.19"),
    buy_fee_rate=Decimal("0.001"), sell_fee_rate=Decimal("0.002"), expected_profit=Decimal("0.123456789012"),
    edge_bps=Decimal("80.5"), mark_price=Decimal("19.98"), buy_book_seq=17, sell_book_seq=None,
    buy_book_age_ms=3, sell_book_age_ms=0,
)


class _Opp:
    def __init__(self) -> None:
        self.__dict__.update(OPP)


def _orders(run_id: int, suffix: str) -> tuple[repo.NewOrder, repo.NewOrder]:
    return (repo.NewOrder(run_id, None, "gate", "LINK/USDT", "buy", Decimal("20.02"), Decimal("1.25"), f"t-b{suffix}"),
            repo.NewOrder(run_id, None, "htx", "LINK/USDT", "sell", Decimal("20.19"), Decimal("1.25"), f"t-s{suffix}"))


def _run(session_factory: sessionmaker[Session], now: datetime) -> int:
    with session_factory.begin() as s:
        run = Run(started_at=now, mode="paper", config_snapshot={}, summary=None)
        s.add(run)
        s.flush()
        return run.id


def _columns(row: object, skip: set[str]) -> dict[str, object]:
    return {c.name: getattr(row, c.key) for c in row.__table__.columns if c.name not in skip}  # type: ignore[attr-defined]


def test_rows_equal_the_orm_path(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    detected = datetime(2024, 8, 8, 12, 0, 0, 123456, tzinfo=UTC)
    now = datetime(2024, 8, 8, 12, 0, 0, 234567, tzinfo=UTC)
    run_id = _run(session_factory, now)
    with session_factory.begin() as s:  # the ORM path, as the executor used to write an entry
        orm_opp = repo.insert_opportunity(s, run_id, _Opp(), detected, decision="executed",
                                          buy_limit=Decimal("20.02"), sell_limit=Decimal("20.19"))
        orm_orders = [repo.create_order(s, replace(o, opportunity_id=orm_opp), now) for o in _orders(run_id, "orm")]
    wa_opp, wa_orders = WriteAheadRecord(KeptConnection(engine)).entry(run_id, _Opp(), detected, _orders(run_id, "wa"), now,
                                                       buy_limit=Decimal("20.02"), sell_limit=Decimal("20.19"))
    assert len(set(wa_orders)) == 2 and wa_opp != orm_opp
    with session_factory() as s:  # the record leaves the first events to the legs
        assert s.scalars(select(OrderEvent).where(OrderEvent.order_id.in_(wa_orders))).all() == []
    with session_factory.begin() as s:  # as each leg's first transaction writes it
        for order_id in wa_orders:
            repo.add_first_event(s, order_id, now)
    with session_factory() as s:
        opps = {o.id: o for o in s.scalars(select(Opportunity))}
        assert _columns(opps[wa_opp], {"id"}) == _columns(opps[orm_opp], {"id"})
        for orm_id, wa_id in zip(orm_orders, wa_orders, strict=True):
            orm_row, wa_row = s.get_one(Order, orm_id), s.get_one(Order, wa_id)
            assert wa_row.opportunity_id == wa_opp
            assert wa_row.client_order_id == orm_row.client_order_id.replace("orm", "wa")
            skip = {"id", "opportunity_id", "client_order_id"}
            assert _columns(wa_row, skip) == _columns(orm_row, skip)
            (orm_event,), (wa_event,) = (s.scalars(select(OrderEvent).where(OrderEvent.order_id == i)).all()
                                         for i in (orm_id, wa_id))
            assert _columns(wa_event, {"id", "order_id"}) == _columns(orm_event, {"id", "order_id"})
    # Raw values as the database holds them (text on SQLite, NUMERIC on PostgreSQL), not only as read back.
    with engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT expected_profit, detected_at, detail FROM opportunities ORDER BY id").all()
        assert raw[0] == raw[1]


class _Money(Decimal):
    """Not the exact type the inline branch takes: ExactDecimal's own processor decides."""


@given(st.one_of(st.decimals(), st.integers(), st.none(), st.booleans(), st.floats(), st.text(max_size=3),
                 st.decimals(allow_nan=False, allow_infinity=False).map(_Money)))
def test_sqlite_money_values_are_the_column_type_s_own(value: object) -> None:
    # SQLite's record converts a finite Decimal inline and everything else through ExactDecimal's processor
    # (module doc): the same value, or the same refusal, as the column type gives the driver.
    dialect = sqlite.dialect()
    processor = Order.__table__.c["price"].type.dialect_impl(dialect).bind_processor(dialect)

    def outcome(fn: object) -> object:
        try:
            return "ok", fn()  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 - the refusal itself is what is compared
            return "raised", type(exc), str(exc)

    assert outcome(lambda: _SqliteRows(dialect).money(value)) == outcome(lambda: processor(value))


def _driver_in_transaction(kept: KeptConnection) -> bool:
    """Whether the DB-API connection itself has a transaction open (SQLAlchemy may not know of it)."""
    dbapi = kept.connection().connection.dbapi_connection
    if hasattr(dbapi, "in_transaction"):  # sqlite3
        return bool(dbapi.in_transaction)
    return dbapi.info.transaction_status != dbapi.info.transaction_status.IDLE  # psycopg


def test_a_float_is_refused_as_in_the_orm(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    run_id = _run(session_factory, now)
    opp = _Opp()
    opp.size = 1.25  # type: ignore[attr-defined]
    record = WriteAheadRecord(KeptConnection(engine))
    record.entry(run_id, _Opp(), now, _orders(run_id, "1"), now, buy_limit=Decimal("20.02"),
                 sell_limit=Decimal("20.19"))
    with pytest.raises(Exception, match="money columns take Decimal or int"):
        record.entry(run_id, opp, now, _orders(run_id, "x"), now, buy_limit=Decimal("20.02"),
                     sell_limit=Decimal("20.19"))
    # Refused after the record began its transaction: rolled back, the connection left as it was.
    assert not _driver_in_transaction(record.kept)
    record.kept.close()
    with session_factory() as s:  # nothing of the refused entry was committed
        assert len(s.scalars(select(Opportunity)).all()) == 1
        assert [o.client_order_id for o in s.scalars(select(Order))] == ["t-b1", "t-s1"]


def test_every_statement_passes_the_engine_s_cursor_events_and_a_driver_error_is_sqlalchemy_s(
        engine: Engine, session_factory: sessionmaker[Session]) -> None:
    # The record runs its inserts through SQLAlchemy's own cursor path (``Connection._cursor_execute``), not
    # ``exec_driver_sql``: listeners (instrumentation, the store-outage tests) still see each statement, and
    # a driver error still arrives as SQLAlchemy's, with the transaction rolled back.
    now = datetime.now(UTC)
    run_id = _run(session_factory, now)
    seen: list[str] = []
    failing = {"on": False}

    def before(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement.split("(")[0].strip())
        if failing["on"] and statement.startswith("INSERT INTO orders"):
            raise engine.dialect.loaded_dbapi.OperationalError("database is locked")

    def after(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append("after " + statement.split("(")[0].strip())

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    record = WriteAheadRecord(KeptConnection(engine))  # one connection: a failure must leave it clean
    try:
        record.entry(run_id, _Opp(), now, _orders(run_id, "ev"), now, buy_limit=Decimal("20.02"),
                     sell_limit=Decimal("20.19"))
        inserts = [s for s in seen if "INSERT" in s]
        # One INSERT per order where the driver gives each new id (SQLite's lastrowid), one for both elsewhere.
        order_inserts = 2 if engine.dialect.postfetch_lastrowid else 1
        assert inserts == ["INSERT INTO opportunities", "after INSERT INTO opportunities",
                           *["INSERT INTO orders", "after INSERT INTO orders"] * order_inserts]
        assert seen[-2:] == ["COMMIT", "after COMMIT"]  # the record's own transaction, through the same path
        failing["on"] = True
        with pytest.raises(OperationalError, match="database is locked"):
            record.entry(run_id, _Opp(), now, _orders(run_id, "lost"), now, buy_limit=Decimal("20.02"),
                         sell_limit=Decimal("20.19"))
        failing["on"] = False
        # Rolled back: the next entry begins a transaction of its own on the same connection.
        assert not _driver_in_transaction(record.kept)
        record.entry(run_id, _Opp(), now, _orders(run_id, "next"), now, buy_limit=Decimal("20.02"),
                     sell_limit=Decimal("20.19"))
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        record.kept.close()
    with session_factory() as s:  # the first entry is whole; nothing of the failed one was committed
        assert [o.client_order_id for o in s.scalars(select(Order).order_by(Order.id))] == [
            "t-bev", "t-sev", "t-bnext", "t-snext"]
        assert len(s.scalars(select(Opportunity)).all()) == 2


def test_a_driver_error_on_an_unwatched_engine_is_sqlalchemy_s_and_rolled_back(
        engine: Engine, session_factory: sessionmaker[Session]) -> None:
    # With no listener on the engine's cursor, SQLite's record runs its statements on the driver's own cursor
    # (module doc); a driver error still arrives as SQLAlchemy's and leaves nothing of the entry committed.
    # A client order id already used is one no listener has to manufacture: the unique index refuses it.
    now = datetime.now(UTC)
    run_id = _run(session_factory, now)
    record = WriteAheadRecord(KeptConnection(engine))
    try:
        record.entry(run_id, _Opp(), now, _orders(run_id, "1"), now, buy_limit=Decimal("20.02"),
                     sell_limit=Decimal("20.19"))
        buy, _ = _orders(run_id, "1")
        _, sell = _orders(run_id, "2")
        with pytest.raises(IntegrityError):
            record.entry(run_id, _Opp(), now, (replace(buy, client_order_id="t-b2"), replace(sell, client_order_id="t-b1")),
                         now, buy_limit=Decimal("20.02"), sell_limit=Decimal("20.19"))
        assert not _driver_in_transaction(record.kept)
        record.entry(run_id, _Opp(), now, _orders(run_id, "3"), now, buy_limit=Decimal("20.02"),
                     sell_limit=Decimal("20.19"))
    finally:
        record.kept.close()
    with session_factory() as s:  # the failed entry's opportunity and first order were rolled back with it
        assert [o.client_order_id for o in s.scalars(select(Order).order_by(Order.id))] == [
            "t-b1", "t-s1", "t-b3", "t-s3"]
        assert len(s.scalars(select(Opportunity)).all()) == 2


def test_a_kept_connection_that_died_idle_costs_one_entry_and_commits_nothing_of_it(
        engine: Engine, session_factory: sessionmaker[Session]) -> None:
    # The record runs on a connection kept between pairs (store/kept.py: no pool checkout or liveness ping
    # per pair). One the server dropped while idle (PostgreSQL: its backend terminated, as in a restart)
    # fails the next entry before anything is committed; the entry after runs on a new DB-API connection.
    now = datetime.now(UTC)
    run_id = _run(session_factory, now)
    kept = KeptConnection(engine)
    record = WriteAheadRecord(kept)
    record.entry(run_id, _Opp(), now, _orders(run_id, "1"), now, buy_limit=Decimal("20.02"),
                 sell_limit=Decimal("20.19"))
    first = kept.connection().connection.dbapi_connection
    if engine.dialect.name == "postgresql":
        pid = kept.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        kept.connection().rollback()
        with engine.begin() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        with pytest.raises(OperationalError):
            record.entry(run_id, _Opp(), now, _orders(run_id, "2"), now, buy_limit=Decimal("20.02"),
                         sell_limit=Decimal("20.19"))
    else:  # SQLite has no server to lose; the pool is told the connection is gone, as after a disconnect
        kept.connection().invalidate()
    record.entry(run_id, _Opp(), now, _orders(run_id, "3"), now, buy_limit=Decimal("20.02"),
                 sell_limit=Decimal("20.19"))
    assert kept.connection().connection.dbapi_connection is not first
    kept.close()
    with session_factory() as s:
        assert [o.client_order_id for o in s.scalars(select(Order).order_by(Order.id))] == [
            "t-b1", "t-s1", "t-b3", "t-s3"]


def test_one_maker_order_is_committed_alone_and_a_refused_one_leaves_the_connection_clean(
        engine: Engine, session_factory: sessionmaker[Session]) -> None:
    # A maker route's order is one row: on SQLite its INSERT alone, its own transaction in the driver's
    # autocommit. Committed when ``order`` returns (another connection reads it), and a refused one (a client
    # order id already used) commits nothing and leaves no transaction open for the next.
    now = datetime.now(UTC)
    run_id = _run(session_factory, now)
    record = WriteAheadRecord(KeptConnection(engine))
    buy, sell = _orders(run_id, "m")
    seen: list[str] = []

    def before(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement.split("(")[0].strip())

    event.listen(engine, "before_cursor_execute", before)
    try:
        first = record.order(replace(buy, purpose="quote"), now)
        event.remove(engine, "before_cursor_execute", before)
        # SQLite: the INSERT and nothing else; PostgreSQL commits the driver's own transaction
        assert seen == (["INSERT INTO orders"] if engine.dialect.name == "sqlite" else ["INSERT INTO orders", "COMMIT"])
        with session_factory() as s:
            assert [(o.id, o.client_order_id, o.status) for o in s.scalars(select(Order))] == [
                (first, "t-bm", "created")]
        with pytest.raises(IntegrityError):
            record.order(replace(sell, client_order_id="t-bm", purpose="hedge"), now)
        assert not _driver_in_transaction(record.kept)
        record.order(replace(sell, purpose="hedge"), now)
    finally:
        record.kept.close()
    with session_factory() as s:
        assert [(o.client_order_id, o.purpose) for o in s.scalars(select(Order).order_by(Order.id))] == [
            ("t-bm", "quote"), ("t-sm", "hedge")]
