"""An INSERT compiled once per database and run through the DB-API driver, for the writes that happen once
per decision (the write-ahead record of a pair on PostgreSQL, the batched writer's rejected decisions).

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
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect

from arb.store.types import ExactDecimal, UTCDateTime, canonical, canonical_text


@dataclass(frozen=True, slots=True)
class PreparedInsert:
    """One (multi-row) INSERT as the driver takes it, with each parameter's value conversion."""

    sql: str
    # ``params``, written out for this statement: one expression per parameter (see ``_parameter_function``)
    _build: Callable[[Sequence[Any], dict[datetime, Any] | None], Sequence[Any] | dict[str, Any]]

    @classmethod
    def compile(cls, table: Table, columns: Sequence[str], dialect: Dialect, *, rows: int = 1,
                returning: tuple[str, ...] = (), positions: Mapping[str, int] | None = None) -> PreparedInsert:
        """The INSERT of ``columns`` (``rows`` rows of them). :meth:`params` takes each row as a mapping of
        column to value, or, with ``positions``, as a sequence holding each column's value at its position."""
        stmt = insert(table).values([{name: None for name in columns} for _ in range(rows)])
        if returning:
            stmt = stmt.returning(*(table.c[name] for name in returning))
        compiled = stmt.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.params)
        # SQLAlchemy names the parameters of a statement given a list of rows ``<column>_m<row>``.
        keys = tuple((int(row), column) for column, _, row in (name.rpartition("_m") for name in names))
        convert = tuple(table.c[column].type.dialect_impl(dialect).bind_processor(dialect) for _, column in keys)
        kinds = tuple(_kind(table.c[column].type, dialect) for _, column in keys)
        named = None if compiled.positional else names  # pyformat drivers (psycopg) take a dict
        return cls(compiled.string, _parameter_function(keys, convert, kinds, named, positions))

    def params(self, rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
               instants: dict[datetime, Any] | None = None) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for ``rows`` (one per row of the statement, every column in it: a mapping,
        or a sequence as ``compile``'s ``positions`` place them).

        ``instants``, if given, keeps each timestamp's converted value across the calls that share it (the
        statements of one transaction): an entry's ``now`` fills six columns, and a conversion (to UTC, then
        the driver's text or type) costs ~1.2 µs."""
        return self._build(rows, instants)


def _kind(column_type: Any, dialect: Dialect) -> str:
    """How ``_parameter_function`` writes out a column's conversion."""
    if isinstance(column_type, UTCDateTime):
        return "instant"
    if isinstance(column_type, ExactDecimal):
        return "decimal_text" if ExactDecimal.stores_text(dialect) else "decimal"
    return "other"


# A finite ``Decimal``, nearly every money value, takes ``ExactDecimal.process_bind_param``'s first branch
# written in place (``tests/store/test_prepared.py`` holds the two equal); so does None where the type keeps
# it None (a rejection's dozen unsized money columns: ~1 µs each through the type); anything else goes
# through the type's processor, which refuses a float as the ORM does.
_DECIMAL_FAST = {
    "decimal_text": "(_text(v) if type(v := {value}) is Decimal and v.is_finite() else {none}{convert}(v))",
    "decimal": "(_canonical(v) if type(v := {value}) is Decimal and v.is_finite() else {none}{convert}(v))",
}


def _parameter_function(keys: tuple[tuple[int, str], ...], convert: tuple[Callable[[Any], Any] | None, ...],
                        kinds: tuple[str, ...], names: tuple[str, ...] | None,
                        positions: Mapping[str, int] | None) -> Any:
    """``params`` for one statement as straight-line code: the tuple (or dict) of every parameter, each read
    from its row and converted in place. A loop over the parameters with a generic conversion step cost
    ~16 µs warm for an entry's two big statements; written out it is a third of that, and much less code
    to bring into the caches on a pair's cold path.

    Each conversion is the column type's own (``TypeEngine.bind_processor``). One that keeps None as None is
    not called for None (half a decision's columns are empty); one that does not (JSON's ``null``) always
    is. Only values and functions reach the generated code, by name: no value is ever part of its text."""
    scope: dict[str, Any] = {"_instant": _instant, "Decimal": Decimal, "_text": canonical_text,
                             "_canonical": canonical}
    expressions = []
    for i, ((row, column), fn, kind) in enumerate(zip(keys, convert, kinds, strict=True)):
        value = f"rows[{row}][{repr(column) if positions is None else positions[column]}]"
        if fn is None:
            expressions.append(value)
            continue
        scope[f"convert{i}"] = fn
        if kind == "instant":
            expressions.append(f"_instant(convert{i}, {value}, instants)")
        elif kind in _DECIMAL_FAST:
            none = "None if v is None else " if fn(None) is None else ""
            expressions.append(_DECIMAL_FAST[kind].format(value=value, none=none, convert=f"convert{i}"))
        elif fn(None) is None:
            expressions.append(f"(None if (v := {value}) is None else convert{i}(v))")
        else:
            expressions.append(f"convert{i}({value})")
    if names is None:
        body = "(" + "".join(f"{e}, " for e in expressions) + ")"
    else:
        body = "{" + ", ".join(f"{name!r}: {e}" for name, e in zip(names, expressions, strict=True)) + "}"
    exec(f"def params(rows, instants):\n    return {body}\n", scope)  # noqa: S102 - code from column names
    return scope["params"]


def _instant(convert: Callable[[Any], Any], value: datetime | None, instants: dict[datetime, Any] | None) -> Any:
    if value is None:
        return None
    if instants is None:
        return convert(value)
    known = instants.get(value)
    if known is None:
        known = instants[value] = convert(value)
    return known
