"""Which stored value a read could not convert: a timestamp column holding ``yesterday``, an amount holding
``abc`` (a hand-edited or damaged SQLite file; PostgreSQL's typed columns cannot hold them). The conversion
fails inside SQLAlchemy's result processing, which knows neither the table nor the row; this finds them
afterwards, on the failure path only, by reading each arb column's stored text and converting it the way a
read does (the column type's own result processor), one row at a time (memory bounded on any file)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from arb.display import shorten
from arb.errors import StoreError
from arb.store.models import Base

VALUE_SHOWN = 40  # characters of a bad value a line shows


def unreadable_value(engine: Engine, url: str | URL) -> StoreError | None:
    """One line naming the table, column and row holding a value arb cannot read, after a read failed
    converting one; None when none is found (not SQLite, or the failure was not a stored value's)."""
    from arb.store.db import display_url  # here: db.py's engine settings are not needed to import this

    if engine.dialect.name != "sqlite":
        return None
    try:
        found = _first_unreadable(engine)
    except SQLAlchemyError:  # a table of another schema version missing: nothing to name
        return None
    if found is None:
        return None
    table, column, row, value = found
    return StoreError(f"cannot read {display_url(url)}: {table}.{column} of row {row} holds "
                      f"{shorten(repr(value), VALUE_SHOWN)}, not a value of its type (a damaged or hand-edited "
                      "database)")


def _first_unreadable(engine: Engine) -> tuple[str, str, object, object] | None:
    dialect = engine.dialect
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                convert = column.type.dialect_impl(dialect).result_processor(dialect, None)
                if convert is None:
                    continue
                rows = conn.exec_driver_sql(f'SELECT rowid, "{column.name}" FROM "{table.name}"')
                for row, value in rows:
                    if value is None:
                        continue
                    try:
                        convert(value)
                    except (ValueError, ArithmeticError, TypeError):
                        rows.close()
                        return table.name, column.name, row, value
    return None
