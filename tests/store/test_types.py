"""Exact money and UTC time survive store -> load on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from arb.store.models import Balance
from arb.store.repo import start_run
from arb.store.types import canonical_text

EXACT_VALUES = [
    "0.1",
    "123456789.123456789",
    "1e-12",
    "-0.000000000001",
    "-98765.4321",
    "0",
    "1E+30",
    "99999999999999999999999999.999999999999999999",  # 26 + 18 digits: beyond float and int64
    "0.30000000000000000000000000000001",
]


def _round_trip(factory: sessionmaker[Session], value: Decimal) -> Decimal:
    with factory.begin() as s:
        run = start_run(s, mode="paper", config_snapshot={}, started_at=datetime.now(UTC))
        row = Balance(run_id=run.id, venue="gate", asset="BTC", free=value, used=-value, total=Decimal(0),
                      ts=datetime.now(UTC), kind="start")
        s.add(row)
        s.flush()
        row_id = row.id
    with factory() as s:  # a new session: nothing cached from the write
        loaded = s.scalars(select(Balance).where(Balance.id == row_id)).one()
        assert loaded.used == -value
        return loaded.free


@pytest.mark.parametrize("literal", EXACT_VALUES)
def test_decimal_round_trip_is_exact(session_factory: sessionmaker[Session], literal: str) -> None:
    value = Decimal(literal)
    loaded = _round_trip(session_factory, value)
    assert isinstance(loaded, Decimal)
    # Decimal equality is exact (no context rounding): through a float, 0.1 would come back as
    # 0.1000000000000000055511151231257827... and the 44-digit value would lose its tail.
    assert loaded == value


def test_sqlite_stores_plain_text(db_url: str, session_factory: sessionmaker[Session]) -> None:
    """On SQLite the column holds the canonical string, never a REAL; on PostgreSQL a NUMERIC."""
    _round_trip(session_factory, Decimal("1e-12"))
    with session_factory() as s:
        stored, kind = s.execute(text("SELECT free, " + (
            "typeof(free)" if db_url.startswith("sqlite") else "pg_typeof(free)::text") + " FROM balances")).one()
    if db_url.startswith("sqlite"):
        assert (stored, kind) == ("0.000000000001", "text")
    else:
        assert (Decimal(stored), kind) == (Decimal("1e-12"), "numeric")


@pytest.mark.parametrize(("written", "stored"), [
    (["20", "20.0", "20.00", "2E+1", "20.000000"], "20"),
    (["0", "0.000", "-0", "0E-8"], "0"),
    (["0.5", "0.50", "5E-1"], "0.5"),
])
def test_one_value_is_stored_one_way_whatever_its_scale(session_factory: sessionmaker[Session], written: list[str],
                                                        stored: str) -> None:
    """The ORM's path and the prepared inserts' inline conversion (the write-ahead record) store the same
    canonical text (SQLite) or NUMERIC without a trailing scale (PostgreSQL)."""
    from arb.store.prepared import _parameter_function
    from arb.store.types import ExactDecimal

    for literal in written:
        _round_trip(session_factory, Decimal(literal))
    with session_factory() as s:
        dialect = s.get_bind().dialect
        rows = s.execute(text("SELECT CAST(free AS TEXT) FROM balances")).scalars().all()
    assert rows == [stored] * len(written)
    kind = "decimal_text" if ExactDecimal.stores_text(dialect) else "decimal"
    convert = ExactDecimal().bind_processor(dialect) or (lambda v: v)
    params = _parameter_function(((0, "x"),), (convert,), (kind,), None, None)
    for literal in written:
        inline, = params([{"x": Decimal(literal)}], None)
        assert str(inline) == str(convert(Decimal(literal))) == stored


@pytest.mark.parametrize("bad", [0.1, 1.0, float("nan"), "0.1", True])
def test_non_decimals_are_refused(session_factory: sessionmaker[Session], bad: object) -> None:
    with pytest.raises(StatementError, match="money columns take Decimal or int"), session_factory.begin() as s:
        run = start_run(s, mode="paper", config_snapshot={}, started_at=datetime.now(UTC))
        s.add(Balance(run_id=run.id, venue="gate", asset="BTC", free=bad, used=Decimal(0), total=Decimal(0),
                      ts=datetime.now(UTC), kind="start"))
        s.flush()


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_decimals_are_refused(session_factory: sessionmaker[Session], bad: str) -> None:
    with pytest.raises(StatementError, match="finite"), session_factory.begin() as s:
        run = start_run(s, mode="paper", config_snapshot={}, started_at=datetime.now(UTC))
        s.add(Balance(run_id=run.id, venue="gate", asset="BTC", free=Decimal(bad), used=Decimal(0),
                      total=Decimal(0), ts=datetime.now(UTC), kind="start"))
        s.flush()


@pytest.mark.parametrize(
    "ts",
    [
        datetime(2026, 1, 5, 12, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 1, 5, 21, 0, 0, 1, tzinfo=timezone(timedelta(hours=9))),  # Tokyo 21:00 = 12:00 UTC
        datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_timestamps_round_trip_as_aware_utc(session_factory: sessionmaker[Session], ts: datetime) -> None:
    with session_factory.begin() as s:
        run_id = start_run(s, mode="live", config_snapshot={}, started_at=ts).id
    with session_factory() as s:
        from arb.store.runs import get_run

        loaded = get_run(s, run_id).started_at
    assert loaded == ts
    assert loaded.tzinfo is not None and loaded.utcoffset() == timedelta(0)
    assert loaded.microsecond == ts.microsecond


def test_naive_timestamps_are_refused(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(StatementError, match="timezone-aware"), session_factory.begin() as s:
        start_run(s, mode="live", config_snapshot={}, started_at=datetime(2026, 1, 5, 12, 0))


@given(st.one_of(st.decimals(allow_nan=False, allow_infinity=False),
                 st.builds(lambda digits, exponent: Decimal(digits).scaleb(exponent), st.integers(), st.integers(-40, 40))))
def test_canonical_text_is_the_plain_notation_without_trailing_zeros(value: Decimal) -> None:
    # canonical_text starts from ``str`` where that prints plain notation; the reference is ``format(.., "f")``.
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    assert canonical_text(value) == ("0" if text in ("-0", "") else text)
    assert Decimal(canonical_text(value)) == value
