"""A prepared INSERT's parameters are exactly what each column's own type gives the driver.

``PreparedInsert`` writes ``ExactDecimal``'s finite-``Decimal`` branch in place (``store/prepared.py``); this
holds it to the type's ``bind_processor`` for every kind of value, on both dialects, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from arb.store.models import Opportunity
from arb.store.prepared import PreparedInsert

MONEY = ("size", "expected_profit")  # ExactDecimal columns
COLUMNS = ("run_id", "detected_at", "symbol", *MONEY, "reason")
DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}


class _Money(Decimal):
    """A Decimal subclass: not the fast path's exact type, so the type's own processor decides."""


money_values = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.builds(lambda digits, exponent: Decimal(digits).scaleb(exponent), st.integers(), st.integers(-30, 30)),
    st.decimals(allow_nan=False, allow_infinity=False).map(_Money),
    st.integers(), st.none(), st.booleans(), st.floats(), st.text(max_size=3),
)


def _expected(dialect: Dialect, column: str, value: Any) -> Any:
    impl = Opportunity.__table__.c[column].type.dialect_impl(dialect)
    processor = impl.bind_processor(dialect)
    return value if processor is None else processor(value)


def _outcome(fn: Any) -> Any:
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the refusal itself is what is compared
        return ("raised", type(exc), str(exc))


@pytest.mark.parametrize("name", DIALECTS)
@given(size=money_values, profit=money_values)
def test_money_parameters_are_the_type_s_own(name: str, size: Any, profit: Any) -> None:
    dialect = DIALECTS[name]
    prepared = PreparedInsert.compile(Opportunity.__table__, COLUMNS, dialect)
    at = datetime(2024, 8, 8, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    row = {"run_id": 7, "detected_at": at, "symbol": "LINK/USDT", "size": size, "expected_profit": profit,
           "reason": None}
    got = _outcome(lambda: prepared.params((row,)))
    expected = _outcome(lambda: {column: _expected(dialect, column, row[column]) for column in COLUMNS})
    if got[0] == "raised" or expected[0] == "raised":
        assert got == expected
        return
    params = got[1]
    values = dict(params) if isinstance(params, dict) else dict(zip(COLUMNS, params, strict=True))
    values = {name.removesuffix("_m0"): value for name, value in values.items()}
    assert values == expected[1]
    for column in MONEY:  # the same type too: text is not a Decimal that compares equal
        assert type(values[column]) is type(expected[1][column])


def test_a_timestamp_shared_by_statements_is_converted_once_to_the_same_value() -> None:
    dialect = DIALECTS["sqlite"]
    prepared = PreparedInsert.compile(Opportunity.__table__, COLUMNS, dialect)
    at = datetime(2024, 8, 8, 12, 0, 0, 123456, tzinfo=UTC)
    row = {"run_id": 7, "detected_at": at, "symbol": "X/Y", "size": Decimal(1), "expected_profit": None,
           "reason": None}
    instants: dict[datetime, Any] = {}
    first = prepared.params((row,), instants)
    assert instants == {at: _expected(dialect, "detected_at", at)}
    assert prepared.params((row,), instants) == first == prepared.params((row,))
