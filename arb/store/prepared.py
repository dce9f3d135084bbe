"""An INSERT compiled once per database and run through the DB-API driver, for the writes that happen once
per decision (the write-ahead record of a pair, the batched writer's rejected decisions).

SQLAlchemy compiles the statement; each value still goes through its column's own type
(``TypeEngine.bind_processor``), so ``Decimal`` stays exact text on SQLite and ``NUMERIC`` on PostgreSQL,
timestamps are UTC, and a float is refused, exactly as through the ORM. What is skipped is the per-call
work around it (unit of work, statement cache lookup, ``insertmanyvalues`` batching, result processing),
which on a busy engine is also Python that a worker thread would run while holding the GIL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect

from arb.store.types import UTCDateTime


@dataclass(frozen=True, slots=True)
class PreparedInsert:
    """One (multi-row) INSERT as the driver takes it, with each parameter's value conversion."""

    sql: str
    keys: tuple[tuple[int, str], ...]  # per driver parameter: (row, column)
    convert: tuple[Callable[[Any], Any] | None, ...]
    keeps_none: tuple[bool, ...]  # per parameter: its conversion turns None into None (or there is none)
    names: tuple[str, ...] | None  # the driver's parameter names (pyformat), None when positional
    # per parameter: a timestamp, whose conversion (~1.2 µs: to UTC, then the driver's text or type) is worth
    # remembering when one instant fills several columns and rows (an entry's ``now``: six of them)
    timestamps: tuple[bool, ...]

    @classmethod
    def compile(cls, table: Table, columns: Sequence[str], dialect: Dialect, *, rows: int = 1,
                returning: tuple[str, ...] = ()) -> PreparedInsert:
        stmt = insert(table).values([{name: None for name in columns} for _ in range(rows)])
        if returning:
            stmt = stmt.returning(*(table.c[name] for name in returning))
        compiled = stmt.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.params)
        # SQLAlchemy names the parameters of a statement given a list of rows ``<column>_m<row>``.
        keys = tuple((int(row), column) for column, _, row in (name.rpartition("_m") for name in names))
        convert = tuple(table.c[column].type.dialect_impl(dialect).bind_processor(dialect) for _, column in keys)
        # A conversion that keeps None as None is not called for None (half a decision's columns are empty);
        # one that does not (JSON's ``null``) always is.
        keeps_none = tuple(fn is None or fn(None) is None for fn in convert)
        timestamps = tuple(isinstance(table.c[column].type, UTCDateTime) for _, column in keys)
        return cls(compiled.string, keys, convert, keeps_none, None if compiled.positional else names, timestamps)

    def params(self, rows: Sequence[Mapping[str, Any]],
               instants: dict[datetime, Any] | None = None) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for ``rows`` (one mapping per row of the statement, every column in it).

        ``instants``, if given, keeps each timestamp's converted value across the calls that share it (the
        statements of one transaction), so an instant is converted once."""
        converted = []
        for fn, keeps, stamp, value in zip(self.convert, self.keeps_none, self.timestamps,
                                           (rows[row][col] for row, col in self.keys), strict=True):
            if fn is None or (value is None and keeps):
                converted.append(value)
            elif stamp and instants is not None:
                known = instants.get(value, _MISSING)
                if known is _MISSING:
                    known = instants[value] = fn(value)
                converted.append(known)
            else:
                converted.append(fn(value))
        return tuple(converted) if self.names is None else dict(zip(self.names, converted, strict=True))


_MISSING = object()
