"""The write-ahead record of a pair: its opportunity and both orders in ``created``, with their client ids,
in one committed transaction **before** either leg is written to a venue.

It writes exactly the rows :func:`arb.store.orders.insert_opportunity` and :func:`~arb.store.orders.create_order`
write (a test compares them column by column), on the hot path's budget. Each order's first event
(``created``, at the record's time) is the one row left out: it is an account of the row, not the row, and the
leg writes it in its first transaction, before the order's first transition (``execution/order_runner.py``); an
order a crash left in ``created`` gets it from reconciliation. That statement cost ~30 µs of a cold pair.


- statements are compiled once per database by SQLAlchemy (as ``arb/store/prepared.py`` compiles them;
  the new ids from ``cursor.lastrowid`` on SQLite, from ``RETURNING`` on PostgreSQL) and run on the
  transaction's DB-API cursor through ``Connection._cursor_execute``: SQLAlchemy's own path for the
  statements a dialect runs itself (sequences, defaults). Each statement still passes the engine's ``before_cursor_execute``/``after_cursor_execute``
  listeners and its error wrapping (a driver error arrives as SQLAlchemy's), as every other statement does;
  what is skipped is the execution context and result object built per statement by ``exec_driver_sql``
  (~15 µs warm each, ~0.07 ms of a cold entry in ``bench/bench_executor.py``), and no unit of work,
  identity map or flush plan is built per pair. ``_cursor_execute`` is not public API: SQLAlchemy is pinned
  to the range tested (pyproject), and ``tests/store/test_write_ahead.py`` holds its contract (events seen,
  errors wrapped, nothing committed after a failure) on both databases;
- the transaction is the record's own, on that cursor too: ``BEGIN IMMEDIATE`` on SQLite (as every
  transaction of the engine begins, ``store/db.py``; PostgreSQL's driver begins at the first statement),
  then ``COMMIT``; on any failure the DB-API connection rolls back (unless SQLAlchemy found it lost and
  dropped it). SQLAlchemy's ``Transaction`` object and its begin/commit dispatch cost ~40 µs in a
  cold-cache A/B of the record;
- values go through each column's own type (``TypeEngine.bind_processor``): ``Decimal`` stays exact text on
  SQLite and ``NUMERIC`` on PostgreSQL, timestamps are UTC, a float is refused, as in the ORM
  (``store/prepared.py`` writes a finite ``Decimal``'s conversion in place, held equal by a test);
- the record runs on a connection kept open between pairs (``store/kept.py``: no pool checkout per pair,
  and on SQLite a page cache that the executor's other writes, on the same connection, leave valid).

Durability is the database's: on SQLite (WAL, ``synchronous=NORMAL``) the commit survives a crash of the
process; the last commits may be lost if the machine loses power (README, "Durability of the write-ahead
record"). On PostgreSQL it is durable once the commit returns, with the server's default
``synchronous_commit``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine.default import DefaultDialect

from arb.domain.opportunity import sized_columns
from arb.domain.orders import OrderStatus
from arb.store.db import SQLITE_BEGIN
from arb.store.kept import KeptConnection
from arb.store.models import Opportunity, Order
from arb.store.prepared import PreparedInsert

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
        # Where the driver's ``cursor.lastrowid`` is the new row's id (SQLite), each row is one INSERT and its
        # id is read from there: ``RETURNING`` cost SQLite ~12 µs a statement on a pair's cold path. Elsewhere
        # (PostgreSQL) one statement per table returns the ids: a statement is a round trip to the server.
        self._lastrowid = isinstance(dialect, DefaultDialect) and dialect.postfetch_lastrowid
        returning = () if self._lastrowid else ("id",)
        self._opportunity = PreparedInsert.compile(Opportunity.__table__, _OPPORTUNITY_COLUMNS, dialect,
                                                   returning=returning)
        if self._lastrowid:
            self._orders = PreparedInsert.compile(Order.__table__, _ORDER_COLUMNS, dialect)
        else:
            self._orders = PreparedInsert.compile(Order.__table__, _ORDER_COLUMNS, dialect, rows=2,
                                                  returning=("id", "client_order_id"))
        self._order = PreparedInsert.compile(Order.__table__, _ONE_ORDER_COLUMNS, dialect, returning=returning)
        # The transaction is the record's own, on its cursor (module doc): SQLite's as every transaction of
        # the engine begins (``store/db.py``); PostgreSQL's driver opens one at the first statement.
        self._begin = SQLITE_BEGIN if dialect.name == "sqlite" else None

    def order(self, new: NewOrder, now: datetime) -> int:
        """Commit one order in ``created`` (a maker route's quote, hedge or flatten, before it is sent; its
        pair is linked after); returns its id."""
        row = _order_row(new, now) | {"reference_price": new.reference_price}
        with self._transaction() as (cursor, run):
            run(cursor, self._order.sql, self._order.params((row,), {}))
            order_id = cursor.lastrowid if self._lastrowid else cursor.fetchall()[0][0]
        return int(order_id)

    def entry(self, run_id: int, opp: OpportunityLike, detected_at: datetime, orders: tuple[NewOrder, NewOrder],
              now: datetime, *, buy_limit: Any, sell_limit: Any) -> tuple[int, list[int]]:
        """Commit the executed opportunity and its orders; returns the opportunity's id and the orders' ids."""
        opportunity = {
            "run_id": run_id, "detected_at": detected_at, **sized_columns(opp), "buy_limit": buy_limit,
            "sell_limit": sell_limit, "decision": "executed", "reason": None, "detail": None,
        }
        orders_rows = [_order_row(new, now) for new in orders]
        instants: dict[datetime, Any] = {}  # ``now`` fills four columns: converted once
        with self._transaction() as (cursor, run):
            run(cursor, self._opportunity.sql, self._opportunity.params((opportunity,), instants))
            if self._lastrowid:
                opp_id = cursor.lastrowid
                order_ids = []
                for row in orders_rows:
                    row["opportunity_id"] = opp_id
                    run(cursor, self._orders.sql, self._orders.params((row,), instants))
                    order_ids.append(cursor.lastrowid)
            else:
                ((opp_id,),) = cursor.fetchall()  # exactly one row, one column
                for row in orders_rows:
                    row["opportunity_id"] = opp_id
                # RETURNING gives no row order: the client ids (unique) say which id is which order.
                run(cursor, self._orders.sql, self._orders.params(orders_rows, instants))
                by_client_id = {client_id: order_id for order_id, client_id in cursor.fetchall()}
                order_ids = [by_client_id[new.client_order_id] for new in orders]
        return opp_id, order_ids

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[tuple[Any, Callable[..., Any]]]:
        """The raw cursor and its statement runner inside the record's own transaction: begun, committed when
        the block ends, rolled back when it raises."""
        conn = self.kept.connection()
        if conn.in_transaction():  # on PostgreSQL the inserts would silently join it
            raise RuntimeError("the write-ahead record needs its connection outside any transaction")
        cursor = conn.connection.cursor()
        run = conn._cursor_execute  # events and error wrapping, no per-statement result (module doc)
        try:
            if self._begin is not None:
                run(cursor, self._begin, ())
            yield cursor, run
            run(cursor, "COMMIT", ())
        except BaseException:
            # a lost connection took its transaction with it
            if not conn.invalidated and (dbapi := conn.connection.dbapi_connection) is not None:
                dbapi.rollback()
            raise
        finally:
            cursor.close()


def _order_row(new: NewOrder, now: datetime) -> dict[str, Any]:
    """An order's row as sent: ``created``, nothing filled; a pair's orders are linked to it in the insert."""
    return {
        "run_id": new.run_id, "opportunity_id": new.opportunity_id, "venue": new.venue, "symbol": new.symbol,
        "side": new.side, "type": new.type, "time_in_force": new.time_in_force, "purpose": new.purpose,
        "client_order_id": new.client_order_id, "price": new.price, "amount": new.amount, "filled": 0,
        "status": _CREATED, "created_at": now, "updated_at": now,
    }
