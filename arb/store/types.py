"""Column types that keep money exact and time in UTC on every database.

PostgreSQL stores ``Decimal`` as ``NUMERIC`` (arbitrary precision). SQLite has no exact decimal type, so
it stores the canonical plain-notation string (``format(d, "f")``): exact, and never a float. Floats are
refused at the boundary: a float reaching the store is a bug upstream.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class ExactDecimal(TypeDecorator[Decimal]):
    impl = String(64)
    cache_ok = True

    @staticmethod
    def stores_text(dialect: Dialect) -> bool:
        """Whether ``dialect`` stores the plain-notation string (every database but PostgreSQL's NUMERIC).
        ``store/prepared.py`` inlines the finite-``Decimal`` path below on this answer."""
        return dialect.name != "postgresql"

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if not self.stores_text(dialect):
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if type(value) is Decimal and value.is_finite():  # nearly every value: no copy, no other checks
            return format(value, "f") if self.stores_text(dialect) else value
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
            raise TypeError(f"money columns take Decimal or int, got {type(value).__name__}")
        value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"money columns take finite values, got {value}")
        return format(value, "f") if self.stores_text(dialect) else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in, timezone-aware UTC datetimes out; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
