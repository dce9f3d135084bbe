"""The write-ahead record of a pair: its opportunity and both orders in ``created``, with their client ids,
in one committed transaction **before** either leg is written to a venue.

It writes exactly the rows :func:`arb.store.orders.insert_opportunity` and :func:`~arb.store.orders.create_order`
write (a test compares them column by column, raw values included, on both databases), on the hot path's
budget. Each order's first event (``created``, at the record's time) is the one row left out: it is an account
of the row, not the row, and the leg writes it in its first transaction, before the order's first transition
(``execution/order_runner.py``); an order a crash left in ``created`` gets it from reconciliation. That
statement cost ~30 µs of a cold pair.

On SQLite (the embedded default, and what ``bench/bench_executor.py`` times) the record is the least work the
driver allows, the same statements its floor runs:

- the DB-API ``sqlite3`` cursor of the connection kept open for the executor (``store/kept.py``), itself kept
  between entries; ``BEGIN IMMEDIATE`` (as every transaction of the engine begins, ``store/db.py``), one
  ``INSERT`` per row with ``?`` parameters (the driver keeps each statement prepared, by its text), each new
  id from ``cursor.lastrowid``, then ``COMMIT``: one transaction per pair. A maker route's order is one row:
  its ``INSERT`` alone, which the driver's autocommit (``store/db.py``) makes a transaction of its own, as
  atomic and durable, two statements fewer (its journal stage in ``bench/bench_maker.py``, 0.43 -> 0.35 ms);
- the parameters are one tuple per row built straight from the opportunity and the orders: no SQLAlchemy
  compile, execution context or result per statement, no unit of work. Values are converted as their column
  types convert them: a finite ``Decimal`` to its canonical text inline (``store/types.canonical_text``),
  anything else (None, an int, a float, which is refused) through ``ExactDecimal``'s own processor, a
  timestamp through ``UTCDateTime``'s, ``detail`` is the JSON type's null;
- SQLAlchemy still wraps a driver error (``Connection._handle_dbapi_exception``: the error is its
  ``OperationalError``, the transaction rolled back, a lost connection invalidated), the one private call left;
  ``tests/store/test_write_ahead.py`` holds that contract. While any listener watches the engine's cursor
  (``before_cursor_execute``/``after_cursor_execute``: instrumentation, the tests' store outages), or it
  echoes, the same statements go through SQLAlchemy's ``Connection._cursor_execute`` instead, so each is seen
  as every other statement is. Against ``_cursor_execute`` on a fresh cursor per entry and the statements'
  generic parameter code (``store/prepared.py``), this cut a cold pair's record from ~0.49 to ~0.3 ms in
  ``bench/bench_executor.py``.

On PostgreSQL each statement is compiled once by SQLAlchemy (``store/prepared.py``; the ids from
``RETURNING``, both orders in one statement: a statement is a round trip to the server) and run on the
connection's DB-API cursor through ``Connection._cursor_execute``, in the record's own transaction (the
driver opens it at the first statement), committed on that cursor; on any failure the DB-API connection rolls
back unless SQLAlchemy found it lost and dropped it. ``_cursor_execute`` is not public API: SQLAlchemy is
pinned to the range tested (pyproject).

Durability is the database's: on SQLite (WAL, ``synchronous=NORMAL``) the commit survives a crash of the
process; the last commits may be lost if the machine loses power (README, "Durability of the write-ahead
record"). On PostgreSQL it is durable once the commit returns, with the server's default
``synchronous_commit``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection, Dialect

from arb.domain.opportunity import sized_columns
from arb.domain.orders import OrderStatus
from arb.store.db import SQLITE_BEGIN
from arb.store.kept import KeptConnection
from arb.store.models import Opportunity, Order
from arb.store.prepared import PreparedInsert
from arb.store.types import canonical_text

if TYPE_CHECKING:
    from arb.domain.opportunity import OpportunityLike
    from arb.store.orders import NewOrder

_OPPORTUNITY_COLUMNS = (
    "run_id", "detected_at", "symbol", "buy_venue", "sell_venue", "size", "buy_price", "sell_price", "buy_limit",
    "sell_limit", "expected_profit", "mark_price", "edge_bps", "decision", "reason", "buy_fee_rate",
    "sell_fee_rate", "buy_book_seq", "sell_book_seq", "buy_book_age_ms", "sell_book_age_ms", "detail",
)
_CREATED = OrderStatus.CREATED.value  # an enum's .value is a Python-level property lookup in 3.11
_ORDER_COLUMNS = (
    "run_id", "opportunity_id", "venue", "symbol", "side", "type", "time_in_force", "purpose", "client_order_id",
    "price", "amount", "filled", "status", "created_at", "updated_at",
)
_ONE_ORDER_COLUMNS = (*_ORDER_COLUMNS, "reference_price")  # a maker route's order: a hedge's reference too


class WriteAheadRecord:
    """Writes a pair's entry (opportunity, two orders) in one transaction; see the module doc."""

    def __init__(self, kept: KeptConnection) -> None:
        self.kept = kept
        dialect = kept.engine.dialect
        self._sqlite = _SqliteRows(dialect) if dialect.name == "sqlite" else None
        self._cursor: Any = None  # SQLite: the DB-API cursor kept between entries, on the kept connection's
        if self._sqlite is None:
            self._opportunity = PreparedInsert.compile(Opportunity.__table__, _OPPORTUNITY_COLUMNS, dialect,
                                                       returning=("id",))
            self._orders = PreparedInsert.compile(Order.__table__, _ORDER_COLUMNS, dialect, rows=2,
                                                  returning=("id", "client_order_id"))
            self._order = PreparedInsert.compile(Order.__table__, _ONE_ORDER_COLUMNS, dialect, returning=("id",))

    def order(self, new: NewOrder, now: datetime) -> int:
        """Commit one order in ``created`` (a maker route's quote, hedge or flatten, before it is sent; its
        pair is linked after); returns its id."""
        rows = self._sqlite
        if rows is not None:
            params = (new.run_id, new.opportunity_id, *rows.order(new, rows.instant(now)),
                      rows.money(new.reference_price))
            with self._sqlite_transaction(lone=True) as (cursor, execute):
                execute(cursor, rows.one_order_sql, params)
                return int(cursor.lastrowid)
        row = _order_row(new, now) | {"reference_price": new.reference_price}
        with self._transaction() as (cursor, run):
            run(cursor, self._order.sql, self._order.params((row,), {}))
            return int(cursor.fetchall()[0][0])

    def entry(self, run_id: int, opp: OpportunityLike, detected_at: datetime, orders: tuple[NewOrder, NewOrder],
              now: datetime, *, buy_limit: Any, sell_limit: Any) -> tuple[int, list[int]]:
        """Commit the executed opportunity and its orders; returns the opportunity's id and the orders' ids."""
        rows = self._sqlite
        if rows is not None:
            # Every value converted before the transaction begins: a refused one (a float) begins nothing.
            opportunity = rows.opportunity(run_id, opp, detected_at, buy_limit, sell_limit)
            created = rows.instant(now)
            buy, sell = orders
            buy_row, sell_row = rows.order(buy, created), rows.order(sell, created)
            with self._sqlite_transaction() as (cursor, execute):
                execute(cursor, rows.opportunity_sql, opportunity)
                opp_id = cursor.lastrowid
                execute(cursor, rows.order_sql, (buy.run_id, opp_id, *buy_row))
                buy_id = cursor.lastrowid
                execute(cursor, rows.order_sql, (sell.run_id, opp_id, *sell_row))
                return opp_id, [buy_id, cursor.lastrowid]
        opportunity_row = {
            "run_id": run_id, "detected_at": detected_at, **sized_columns(opp), "buy_limit": buy_limit,
            "sell_limit": sell_limit, "decision": "executed", "reason": None, "detail": None,
        }
        orders_rows = [_order_row(new, now) for new in orders]
        instants: dict[datetime, Any] = {}  # ``now`` fills four columns: converted once
        with self._transaction() as (cursor, run):
            run(cursor, self._opportunity.sql, self._opportunity.params((opportunity_row,), instants))
            ((opp_id,),) = cursor.fetchall()  # exactly one row, one column
            for row in orders_rows:
                row["opportunity_id"] = opp_id
            # RETURNING gives no row order: the client ids (unique) say which id is which order.
            run(cursor, self._orders.sql, self._orders.params(orders_rows, instants))
            by_client_id = {client_id: order_id for order_id, client_id in cursor.fetchall()}
            return opp_id, [by_client_id[new.client_order_id] for new in orders]

    def _connection(self) -> Connection:
        conn = self.kept.connection()
        if conn.in_transaction():  # its statements would silently join it (PostgreSQL), or fail to begin
            raise RuntimeError("the write-ahead record needs its connection outside any transaction")
        return conn

    @contextlib.contextmanager
    def _sqlite_transaction(self, *, lone: bool = False) -> Iterator[tuple[Any, Callable[[Any, str, Any], None]]]:
        """The kept DB-API cursor and how to run a statement on it, inside ``BEGIN IMMEDIATE`` ... ``COMMIT``
        (``lone``: one statement, its own transaction in the driver's autocommit): the driver's own
        ``execute`` with SQLAlchemy's error handling, or, while the engine's cursor is watched, SQLAlchemy's
        cursor path (module doc)."""
        conn = self._connection()
        dbapi = conn.connection.dbapi_connection
        cursor = self._cursor
        if cursor is None or cursor.connection is not dbapi:  # first entry, or a new DB-API connection
            cursor = self._cursor = dbapi.cursor()  # type: ignore[union-attr]
        dispatch = conn.engine.dispatch
        if (conn._has_events or dispatch.before_cursor_execute or dispatch.after_cursor_execute or conn._echo
                or conn.dialect._has_events):
            execute: Callable[[Any, str, Any], None] = conn._cursor_execute
        else:
            def execute(cursor: Any, statement: str, parameters: Any) -> None:
                try:
                    cursor.execute(statement, parameters)
                except BaseException as exc:
                    conn._handle_dbapi_exception(exc, statement, parameters, cursor, None)  # raises it, wrapped
        try:
            if not lone:
                execute(cursor, SQLITE_BEGIN, ())
            yield cursor, execute
            if not lone:
                execute(cursor, "COMMIT", ())
        except BaseException:
            self._cursor = None  # SQLAlchemy closes a cursor a statement failed on
            if not conn.invalidated and (dbapi := conn.connection.dbapi_connection) is not None:
                dbapi.rollback()  # a no-op where SQLAlchemy already rolled back
            raise

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[tuple[Any, Callable[..., Any]]]:
        """PostgreSQL: the raw cursor and its statement runner inside the record's own transaction (the driver
        begins it at the first statement), committed when the block ends, rolled back when it raises."""
        conn = self._connection()
        cursor = conn.connection.cursor()
        run = conn._cursor_execute  # events and error wrapping, no per-statement result (module doc)
        try:
            yield cursor, run
            run(cursor, "COMMIT", ())
        except BaseException:
            # a lost connection took its transaction with it
            if not conn.invalidated and (dbapi := conn.connection.dbapi_connection) is not None:
                dbapi.rollback()
            raise
        finally:
            cursor.close()


class _SqliteRows:
    """The record's statements as SQLite's driver takes them, and each row's parameters in their columns'
    order, converted as the columns' types convert them (module doc)."""

    def __init__(self, dialect: Dialect) -> None:
        def processor(table: Any, column: str) -> Callable[[Any], Any]:
            process = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
            assert process is not None, column
            return process

        exact = processor(Order.__table__, "price")  # ExactDecimal: every money and amount column's type

        def money(value: Any) -> Any:
            return canonical_text(value) if type(value) is Decimal and value.is_finite() else exact(value)

        self.money = money
        self.instant = processor(Order.__table__, "created_at")  # UTCDateTime, every timestamp's type
        self._json_null = processor(Opportunity.__table__, "detail")(None)
        self._filled = money(0)
        self.opportunity_sql = _insert("opportunities", _OPPORTUNITY_COLUMNS)
        self.order_sql = _insert("orders", _ORDER_COLUMNS)
        self.one_order_sql = _insert("orders", _ONE_ORDER_COLUMNS)

    def opportunity(self, run_id: int, opp: OpportunityLike, detected_at: datetime, buy_limit: Any,
                    sell_limit: Any) -> tuple[Any, ...]:
        """An executed opportunity's row, in ``_OPPORTUNITY_COLUMNS``' order."""
        money, c = self.money, sized_columns(opp)
        return (run_id, self.instant(detected_at), c["symbol"], c["buy_venue"], c["sell_venue"], money(c["size"]),
                money(c["buy_price"]), money(c["sell_price"]), money(buy_limit), money(sell_limit),
                money(c["expected_profit"]), money(c["mark_price"]), money(c["edge_bps"]), "executed", None,
                money(c["buy_fee_rate"]), money(c["sell_fee_rate"]), c["buy_book_seq"], c["sell_book_seq"],
                c["buy_book_age_ms"], c["sell_book_age_ms"], self._json_null)

    def order(self, new: NewOrder, created: Any) -> tuple[Any, ...]:
        """An order's row as sent (``created``, nothing filled), in ``_ORDER_COLUMNS``' order from ``venue`` on:
        its run and opportunity come first, the opportunity's id known only inside the transaction."""
        money = self.money
        return (new.venue, new.symbol, new.side, new.type, new.time_in_force, new.purpose, new.client_order_id,
                money(new.price), money(new.amount), self._filled, _CREATED, created, created)


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _order_row(new: NewOrder, now: datetime) -> dict[str, Any]:
    """An order's row as sent: ``created``, nothing filled; a pair's orders are linked to it in the insert."""
    return {
        "run_id": new.run_id, "opportunity_id": new.opportunity_id, "venue": new.venue, "symbol": new.symbol,
        "side": new.side, "type": new.type, "time_in_force": new.time_in_force, "purpose": new.purpose,
        "client_order_id": new.client_order_id, "price": new.price, "amount": new.amount, "filled": 0,
        "status": _CREATED, "created_at": now, "updated_at": now,
    }
